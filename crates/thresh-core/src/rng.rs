//! Seeded random numbers: a sequential generator for initialisation and shuffling, and a
//! counter-based hash for dropout masks.
//!
//! Dropout draws come from [`uniform_at`], a pure function of `(seed, stream, index)`. Any
//! element can be drawn by any thread in any order, so masks are the same whatever the thread
//! count.

/// SplitMix64 finaliser: a bijective 64-bit mixer with good avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in `[0, 1)` that depends only on its arguments.
#[inline]
pub fn uniform_at(seed: u64, stream: u64, index: u64) -> f32 {
    let h = mix64(mix64(seed ^ mix64(stream)) ^ index);
    (h >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
}

/// SplitMix64's increment: each draw adds it to the state.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A small, fast, seeded generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    /// Initial values are not drawn (see [`Rng::placeholder`]).
    placeholder: bool,
}

impl Rng {
    /// A generator from a seed; equal seeds give equal sequences.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed, placeholder: false }
    }

    /// A generator for building a network whose weights are about to be loaded: the
    /// `*_values` draws give zeros without computing or writing them (the memory stays
    /// untouched until the loaded values replace it) and advance the state exactly as real
    /// draws would, so every later draw (dropout seeds, say) equals [`Rng::new`]'s.
    pub fn placeholder(seed: u64) -> Self {
        Rng { state: seed, placeholder: true }
    }

    /// Advances the state past `calls` draws of [`Rng::next_u64`].
    fn skip(&mut self, calls: usize) {
        self.state = self.state.wrapping_add((calls as u64).wrapping_mul(GAMMA));
    }

    /// `n` values `std · normal()`, in order (zeros from a placeholder).
    pub fn normal_values(&mut self, n: usize, std: f32) -> Vec<f32> {
        if self.placeholder {
            self.skip(2 * n);
            return vec![0.0; n];
        }
        (0..n).map(|_| self.normal() * std).collect()
    }

    /// `n` values `uniform_range(lo, hi)`, in order (zeros from a placeholder).
    pub fn uniform_values(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        if self.placeholder {
            self.skip(n);
            return vec![0.0; n];
        }
        (0..n).map(|_| self.uniform_range(lo, hi)).collect()
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform_range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }

    /// Uniform integer in `[0, n)`; `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 11) as u128 * n as u128) >> 53) as usize
    }

    /// A child generator for an independent stream (e.g. one per layer); a placeholder's
    /// children are placeholders.
    pub fn fork(&mut self) -> Rng {
        Rng { state: mix64(self.next_u64()), placeholder: self.placeholder }
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_draws_are_in_range_and_roughly_uniform() {
        let mut rng = Rng::new(7);
        let draws: Vec<f32> = (0..20_000).map(|_| rng.uniform()).collect();
        assert!(draws.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mean = draws.iter().sum::<f32>() / draws.len() as f32;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let hashed: f32 = (0..20_000).map(|i| uniform_at(3, 1, i)).sum::<f32>() / 20_000.0;
        assert!((hashed - 0.5).abs() < 0.01, "mean {hashed}");
    }

    /// Value draws equal the single draws they stand for; a placeholder gives zeros and ends
    /// in the same state, so what is drawn after (and from forks) is the same.
    #[test]
    fn placeholder_skips_value_draws_but_not_the_state() {
        let (mut real, mut single, mut fake) = (Rng::new(5), Rng::new(5), Rng::placeholder(5));
        let normals = real.normal_values(37, 0.5);
        let want: Vec<f32> = (0..37).map(|_| single.normal() * 0.5).collect();
        assert_eq!(normals, want);
        let uniforms = real.uniform_values(11, -2.0, 3.0);
        let want: Vec<f32> = (0..11).map(|_| single.uniform_range(-2.0, 3.0)).collect();
        assert_eq!(uniforms, want);
        assert_eq!(fake.normal_values(37, 0.5), vec![0.0; 37]);
        assert_eq!(fake.uniform_values(11, -2.0, 3.0), vec![0.0; 11]);
        let (mut real_child, mut fake_child) = (real.fork(), fake.fork());
        assert_eq!(real.next_u64(), fake.next_u64());
        assert_eq!(real_child.next_u64(), fake_child.next_u64());
        assert_eq!(fake_child.uniform_values(3, 0.0, 1.0), vec![0.0; 3]);
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut rng = Rng::new(11);
        let xs: Vec<f32> = (0..50_000).map(|_| rng.normal()).collect();
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / xs.len() as f32;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.03, "mean {mean} var {var}");
    }

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Rng::new(5), Rng::new(5));
        assert!((0..10).all(|_| a.next_u64() == b.next_u64()));
        assert_ne!(uniform_at(1, 2, 3), uniform_at(1, 2, 4));
    }
}
