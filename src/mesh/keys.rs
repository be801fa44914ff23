//! Keys and hashing: a small fast hasher for the vertex maps (keys are small integers, no
//! adversarial input), sorted keys for edges and sides, and tree identities.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-rotate hasher in the style of rustc's FxHasher.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub(crate) type FxSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// Key of an edge: its two end ids, smaller first.
#[inline]
pub(crate) fn edge_key(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    (u64::from(lo) << 32) | u64::from(hi)
}

/// Key of a quad face: its corner ids sorted.
#[inline]
pub(crate) fn face_key(mut c: [u32; 4]) -> [u32; 4] {
    c.sort_unstable();
    c
}

/// Sorted corner ids of one side of an element.
pub(crate) fn sorted_side(ids: &[u32; 8], side: &[usize]) -> Vec<u32> {
    let mut key: Vec<u32> = side.iter().map(|&c| ids[c]).collect();
    key.sort_unstable();
    key
}

/// SplitMix64 finaliser: a bijective, well-mixed map of u64.
#[inline]
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Tree identity of start element `r`.
pub(crate) fn root_tree_id(r: usize) -> u64 {
    splitmix64(0x5052_554e_494e_4741 ^ splitmix64(r as u64))
}

/// Tree identity of child `i` of the element with identity `parent`.
pub(crate) fn child_tree_id(parent: u64, i: usize) -> u64 {
    splitmix64(parent.rotate_left(17) ^ splitmix64(i as u64 + 1))
}
