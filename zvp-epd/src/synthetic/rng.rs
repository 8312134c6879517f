//! The synthetic hospital's random numbers: one small generator per patient and section,
//! seeded from the hospital's seed, so that the same seed always makes the same hospital.

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }

    /// A value around `mean` (a triangular spread of ±`spread`).
    pub(super) fn around(&mut self, mean: f64, spread: f64) -> f64 {
        let a = self.below(1_000) as f64 / 1_000.0;
        let b = self.below(1_000) as f64 / 1_000.0;
        mean + (a + b - 1.0) * spread
    }
}
