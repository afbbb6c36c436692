//! AdamW (Loshchilov and Hutter 2019): Adam with decoupled weight decay and bias correction.
//!
//! Per step `t`, for a parameter `θ` with gradient `g`:
//! `θ ← θ (1 − lr·λ)` (only where decay applies), `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
//! `θ ← θ − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)`, the same update as PyTorch's `AdamW`.

use crate::param::Module;
use rayon::prelude::*;

const CHUNK: usize = 16_384;

/// AdamW state and hyperparameters.
#[derive(Clone, Debug)]
pub struct AdamW {
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator guard.
    pub eps: f32,
    /// Decoupled weight-decay factor.
    pub weight_decay: f32,
    step: u64,
    moments: Vec<(Vec<f32>, Vec<f32>)>,
}

impl AdamW {
    /// AdamW with PyTorch's defaults for the betas and epsilon.
    pub fn new(weight_decay: f32) -> Self {
        AdamW { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay, step: 0, moments: Vec::new() }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// The moment buffers, in parameter order (for checkpoints).
    pub fn moments(&self) -> &[(Vec<f32>, Vec<f32>)] {
        &self.moments
    }

    /// Restores state saved from [`AdamW::moments`] and [`AdamW::steps`].
    pub fn restore(&mut self, step: u64, moments: Vec<(Vec<f32>, Vec<f32>)>) {
        self.step = step;
        self.moments = moments;
    }

    /// Updates every trainable parameter of `model` with learning rate `lr` times the
    /// parameter's [`Param::lr_scale`](crate::Param::lr_scale).
    pub fn step(&mut self, model: &mut dyn Module, lr: f32) {
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        let (b1, b2, eps, wd) = (self.beta1, self.beta2, self.eps, self.weight_decay);
        let inv_sqrt_bc2 = 1.0 / bc2.sqrt();
        let moments = &mut self.moments;
        let mut index = 0;
        model.visit_mut(&mut |p| {
            if moments.len() <= index {
                moments.push((vec![0.0; p.len()], vec![0.0; p.len()]));
            }
            let (m, v) = &mut moments[index];
            index += 1;
            if !p.trainable {
                return;
            }
            // The update leaves any compressed form behind.
            p.value_changed();
            p.silence_zero_entries();
            let lr = lr * p.lr_scale;
            let step_size = lr / bc1;
            let decay = if p.decay { 1.0 - lr * wd } else { 1.0 };
            let grad = p.grad.data();
            p.value
                .data_mut()
                .par_chunks_mut(CHUNK)
                .zip(grad.par_chunks(CHUNK))
                .zip(m.par_chunks_mut(CHUNK))
                .zip(v.par_chunks_mut(CHUNK))
                .for_each(|(((w, g), m), v)| {
                    for i in 0..w.len() {
                        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                        let denom = v[i].sqrt() * inv_sqrt_bc2 + eps;
                        w[i] = w[i] * decay - step_size * m[i] / denom;
                    }
                });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::Param;
    use crate::tensor::Tensor;

    struct One(Param);
    impl Module for One {
        fn visit(&self, f: &mut dyn FnMut(&Param)) {
            f(&self.0)
        }
        fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
            f(&mut self.0)
        }
    }

    /// Zero entries of a `keep_zeros` parameter stay zero through steps and decay; the others
    /// move as usual.
    #[test]
    fn kept_zeros_stay_zero() {
        let mut m = One(Param::new("p", Tensor::from_vec(vec![0.0, 1.0, 0.0], &[3]).unwrap()));
        m.0.keep_zeros = true;
        let mut opt = AdamW::new(0.1);
        for _ in 0..3 {
            m.0.grad.data_mut().copy_from_slice(&[0.5, 0.5, -1.0]);
            opt.step(&mut m, 0.1);
        }
        let w = m.0.value.data();
        assert_eq!((w[0], w[2]), (0.0, 0.0));
        assert!(w[1] < 0.8, "{w:?}");
    }

    #[test]
    fn matches_pytorch_trajectory() {
        // p = torch.tensor([1.0, -2.0], requires_grad=True)
        // opt = torch.optim.AdamW([p], lr=0.1, weight_decay=0.01)
        // three steps with grad [0.5, -1.0], [0.1, 0.2], [-0.3, 0.0]
        // -> tensor([0.7959, -1.8037])
        let mut m = One(Param::new("p", Tensor::from_vec(vec![1.0, -2.0], &[2]).unwrap()));
        let mut opt = AdamW::new(0.01);
        for g in [[0.5, -1.0], [0.1, 0.2], [-0.3, 0.0]] {
            m.0.grad.data_mut().copy_from_slice(&g);
            opt.step(&mut m, 0.1);
        }
        let got = m.0.value.data();
        assert!((got[0] - 0.7959).abs() < 1e-4 && (got[1] + 1.8037).abs() < 1e-4, "{got:?}");
    }

    /// A parameter's learning-rate scale acts as that factor on the rate, decay included.
    #[test]
    fn lr_scale_is_a_factor_on_the_rate() {
        let start = || Param::new("p", Tensor::from_vec(vec![1.0, -2.0], &[2]).unwrap());
        let mut scaled = One(start());
        scaled.0.lr_scale = 4.0;
        let mut plain = One(start());
        let (mut a, mut b) = (AdamW::new(0.01), AdamW::new(0.01));
        for g in [[0.5, -1.0], [0.1, 0.2]] {
            scaled.0.grad.data_mut().copy_from_slice(&g);
            plain.0.grad.data_mut().copy_from_slice(&g);
            a.step(&mut scaled, 0.025);
            b.step(&mut plain, 0.1);
        }
        assert_eq!(scaled.0.value.data(), plain.0.value.data());
    }
}
