//! Batch normalisation over the channels of NCHW images.
//!
//! In training, each channel is normalised by the mean and (biased) variance of the batch over
//! `n`, `h` and `w`, then scaled and shifted by learned `weight` and `bias`; the running mean
//! and the running unbiased variance move towards the batch's by `momentum`, as in PyTorch.
//! In inference the running statistics are used instead. The running statistics are stored as
//! parameters that the optimiser does not train (`name.running_mean`, `name.running_var`), so
//! they are saved and loaded with the weights.

use rayon::prelude::*;

use crate::param::{Module, Param};
use crate::tensor::Tensor;

/// Batch normalisation of `channels` channels.
#[derive(Clone, Debug)]
pub struct BatchNorm2d {
    /// Scale, `[channels]`, starting at 1.
    pub weight: Param,
    /// Shift, `[channels]`, starting at 0.
    pub bias: Param,
    /// Running mean, `[channels]` (not trained).
    pub running_mean: Param,
    /// Running variance, `[channels]` (not trained).
    pub running_var: Param,
    momentum: f32,
    eps: f32,
    /// Whether the last forward pass used batch statistics.
    training: bool,
    /// Per channel: the mean and 1/√(var + eps) used by the last forward pass.
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    /// The normalised input of the last forward pass.
    xhat: Tensor,
    out: Tensor,
    dx: Tensor,
}

impl BatchNorm2d {
    /// A layer named `name` over `channels` channels, with PyTorch's defaults (momentum 0.1,
    /// epsilon 1e-5).
    pub fn new(name: &str, channels: usize) -> Self {
        let param = |suffix: &str, value: f32, trainable: bool| {
            let mut p = Param::new(format!("{name}.{suffix}"), Tensor::zeros(&[channels]));
            p.value.fill(value);
            p.trainable = trainable;
            p.decay = false;
            p
        };
        BatchNorm2d {
            weight: param("weight", 1.0, true),
            bias: param("bias", 0.0, true),
            running_mean: param("running_mean", 0.0, false),
            running_var: param("running_var", 1.0, false),
            momentum: 0.1,
            eps: 1e-5,
            training: false,
            mean: Vec::new(),
            inv_std: Vec::new(),
            xhat: Tensor::default(),
            out: Tensor::default(),
            dx: Tensor::default(),
        }
    }

    /// Channels.
    pub fn channels(&self) -> usize {
        self.weight.value.len()
    }

    /// Normalises `x`, `[n, c, h, w]`: with batch statistics (updating the running ones) when
    /// `train`, with the running statistics otherwise.
    pub fn forward(&mut self, x: &Tensor, train: bool) -> &Tensor {
        let s = x.shape();
        assert!(s.len() == 4 && s[1] == self.channels(), "batch-norm input {s:?}");
        let (n, c, hw) = (s[0], s[1], s[2] * s[3]);
        let xd = x.data();
        self.training = train;
        if train {
            let count = (n * hw) as f64;
            let stats: Vec<(f32, f32, f32)> = (0..c)
                .into_par_iter()
                .map(|ch| {
                    let planes =
                        (0..n).map(|img| &xd[(img * c + ch) * hw..(img * c + ch + 1) * hw]);
                    let sum: f64 = planes.clone().flatten().map(|&v| f64::from(v)).sum();
                    let mean = sum / count;
                    let sq: f64 = planes.flatten().map(|&v| (f64::from(v) - mean).powi(2)).sum();
                    let var = sq / count;
                    let unbiased = if count > 1.0 { sq / (count - 1.0) } else { var };
                    (
                        mean as f32,
                        (1.0 / (var + f64::from(self.eps)).sqrt()) as f32,
                        unbiased as f32,
                    )
                })
                .collect();
            self.mean = stats.iter().map(|s| s.0).collect();
            self.inv_std = stats.iter().map(|s| s.1).collect();
            let m = self.momentum;
            let rm = self.running_mean.value.data_mut();
            for (r, s) in rm.iter_mut().zip(&stats) {
                *r = (1.0 - m) * *r + m * s.0;
            }
            let rv = self.running_var.value.data_mut();
            for (r, s) in rv.iter_mut().zip(&stats) {
                *r = (1.0 - m) * *r + m * s.2;
            }
        } else {
            self.mean = self.running_mean.value.data().to_vec();
            let eps = self.eps;
            self.inv_std =
                self.running_var.value.data().iter().map(|&v| 1.0 / (v + eps).sqrt()).collect();
        }
        self.xhat.resize(s);
        self.out.resize(s);
        let (mean, inv_std) = (&self.mean, &self.inv_std);
        let (gamma, beta) = (self.weight.value.data(), self.bias.value.data());
        self.out
            .data_mut()
            .par_chunks_mut(hw)
            .zip(self.xhat.data_mut().par_chunks_mut(hw))
            .enumerate()
            .for_each(|(plane, (out, xhat))| {
                let ch = plane % c;
                let src = &xd[plane * hw..(plane + 1) * hw];
                for ((o, h), &v) in out.iter_mut().zip(xhat.iter_mut()).zip(src) {
                    *h = (v - mean[ch]) * inv_std[ch];
                    *o = gamma[ch] * *h + beta[ch];
                }
            });
        &self.out
    }

    /// The output of the last forward pass.
    pub fn output(&self) -> &Tensor {
        &self.out
    }

    /// Accumulates the scale and shift gradients and returns the gradient with respect to the
    /// last input, for output gradient `dy`; in the mode the last forward pass ran in.
    pub fn backward(&mut self, dy: &Tensor) -> &Tensor {
        let s = self.xhat.shape().to_vec();
        assert_eq!(dy.shape(), &s[..], "batch-norm output gradient shape");
        let (n, c, hw) = (s[0], s[1], s[2] * s[3]);
        let (dyd, xh) = (dy.data(), self.xhat.data());
        let sums: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mut sum_dy, mut sum_dy_xhat) = (0.0f64, 0.0f64);
                for img in 0..n {
                    let r = (img * c + ch) * hw..(img * c + ch + 1) * hw;
                    for (&g, &h) in dyd[r.clone()].iter().zip(&xh[r]) {
                        sum_dy += f64::from(g);
                        sum_dy_xhat += f64::from(g) * f64::from(h);
                    }
                }
                (sum_dy, sum_dy_xhat)
            })
            .collect();
        for (ch, &(sum_dy, sum_dy_xhat)) in sums.iter().enumerate() {
            self.bias.grad.data_mut()[ch] += sum_dy as f32;
            self.weight.grad.data_mut()[ch] += sum_dy_xhat as f32;
        }
        self.dx.resize(&s);
        let (gamma, inv_std, training) = (self.weight.value.data(), &self.inv_std, self.training);
        let count = (n * hw) as f32;
        self.dx.data_mut().par_chunks_mut(hw).enumerate().for_each(|(plane, dst)| {
            let ch = plane % c;
            let scale = gamma[ch] * inv_std[ch];
            let r = plane * hw..(plane + 1) * hw;
            if training {
                // dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy · x̂)).
                let (mean_dy, mean_dy_xhat) =
                    (sums[ch].0 as f32 / count, sums[ch].1 as f32 / count);
                for ((d, &g), &h) in dst.iter_mut().zip(&dyd[r.clone()]).zip(&xh[r]) {
                    *d = scale * (g - mean_dy - h * mean_dy_xhat);
                }
            } else {
                for (d, &g) in dst.iter_mut().zip(&dyd[r]) {
                    *d = scale * g;
                }
            }
        });
        &self.dx
    }
}

impl Module for BatchNorm2d {
    fn visit(&self, f: &mut dyn FnMut(&Param)) {
        f(&self.weight);
        f(&self.bias);
        f(&self.running_mean);
        f(&self.running_var);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
        f(&mut self.weight);
        f(&mut self.bias);
        f(&mut self.running_mean);
        f(&mut self.running_var);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, check_param_grads, random_tensor};
    use crate::rng::Rng;

    /// Training and inference modes, central differences with step 1e-2, relative tolerance
    /// 1e-2.
    #[test]
    fn batch_norm2d_gradient_check() {
        let mut rng = Rng::new(8);
        for train in [true, false] {
            let mut bn = BatchNorm2d::new("bn", 3);
            bn.weight.value.data_mut().copy_from_slice(&[1.5, -0.5, 0.8]);
            bn.running_var.value.data_mut().copy_from_slice(&[0.5, 2.0, 1.0]);
            let x = random_tensor(&[2, 3, 3, 2], &mut rng);
            let fwd = move |l: &mut BatchNorm2d, x: &Tensor| l.forward(x, train).clone();
            check_input_grad(&mut bn, &x, 1e-2, 1e-2, fwd, |l, _, dy| l.backward(dy).clone());
            check_param_grads(&mut bn, &x, 1e-2, 1e-2, fwd, |l, _, dy| {
                l.backward(dy);
            });
        }
    }

    /// PyTorch's definitions, worked by hand for x = arange(16).reshape(2, 2, 2, 2) / 4:
    /// normalisation by the biased batch variance, running mean and unbiased running variance
    /// moved by momentum 0.1 from 0 and 1.
    #[test]
    fn statistics_follow_pytorch() {
        let x = Tensor::from_vec((0..16).map(|v| v as f32 / 4.0).collect(), &[2, 2, 2, 2]).unwrap();
        let mut bn = BatchNorm2d::new("bn", 2);
        let y = bn.forward(&x, true).data().to_vec();
        // Channel 0 holds 0, .25, .5, .75, 2, 2.25, 2.5, 2.75: mean 1.375, biased var 1.078125.
        let (mean, var) = (1.375f32, 1.078_125f32);
        let want0 = (0.0 - mean) / (var + 1e-5).sqrt();
        assert!((y[0] - want0).abs() < 1e-5, "{} vs {want0}", y[0]);
        let rm = bn.running_mean.value.data().to_vec();
        assert!((rm[0] - 0.1375).abs() < 1e-6 && (rm[1] - 0.2375).abs() < 1e-6, "{rm:?}");
        // Unbiased variance 1.078125 · 8/7.
        let rv = bn.running_var.value.data().to_vec();
        assert!((rv[0] - (0.9 + 0.1 * var * 8.0 / 7.0)).abs() < 1e-6, "{rv:?}");
        // Inference uses the running statistics.
        let y = bn.forward(&x, false).data().to_vec();
        let want = (0.0 - rm[0]) / (rv[0] + 1e-5).sqrt();
        assert!((y[0] - want).abs() < 1e-5);
    }
}
