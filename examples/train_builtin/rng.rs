//! Seeded draws for training: one xoshiro256++ stream per (seed, purpose), so initial weights,
//! batches, the Fourier matrix and the test points never share draws and each can be rebuilt.

use pruningamr::random::mix;
use rand_core::{Rng as _, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub struct Rng(Xoshiro256PlusPlus);

impl Rng {
    pub fn new(seed: u64, purpose: u64) -> Rng {
        Rng(Xoshiro256PlusPlus::seed_from_u64(mix(mix(seed) ^ purpose)))
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Standard normal by Box–Muller (one of the pair; simple and reproducible).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]: ln is finite
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}
