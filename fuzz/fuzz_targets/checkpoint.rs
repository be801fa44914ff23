//! Fuzzes the network readers on arbitrary bytes: loading must end in Ok or Err, never a
//! panic, a hang or a huge allocation, and a network that loads must evaluate.
//!
//! Zip members carry CRCs, so raw mutations of an archive rarely reach the pickle or npy
//! parsers behind it; the first byte picks what the rest is (`harness/checkpoint_input.rs`).

#![no_main]

#[path = "../harness/checkpoint_input.rs"]
mod checkpoint_input;

use checkpoint_input::{Loaded, exercise_network, load};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Loaded::Network(f) = load(data) {
        exercise_network(&f);
    }
});
