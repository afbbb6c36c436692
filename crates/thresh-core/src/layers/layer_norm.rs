//! Layer normalisation over the last dimension (Ba et al. 2016).
//!
//! `y = (x − mean) / √(var + eps) · γ + β`, with the biased variance as PyTorch computes it.
//! Shapes: input and output `[.., d]`, `γ` and `β` `[d]`.

use crate::kernels;
use crate::param::{Module, Param};
use crate::tensor::Tensor;
use crate::threads::{par_column_reduce, par_rows};
use rayon::prelude::*;

/// Layer normalisation with learned scale `γ` (`name.weight`) and shift `β` (`name.bias`).
#[derive(Clone, Debug)]
pub struct LayerNorm {
    /// Scale `γ`, `[d]`, initialised to one.
    pub gamma: Param,
    /// Shift `β`, `[d]`, initialised to zero.
    pub beta: Param,
    eps: f32,
    out: Tensor,
    /// Per-row mean and reciprocal standard deviation, interleaved.
    stats: Vec<f32>,
    dx: Tensor,
}

impl LayerNorm {
    /// A layer over vectors of width `d`.
    pub fn new(name: &str, d: usize, eps: f32) -> Self {
        let mut g = Tensor::zeros(&[d]);
        g.fill(1.0);
        LayerNorm {
            gamma: Param::new(format!("{name}.weight"), g),
            beta: Param::new(format!("{name}.bias"), Tensor::zeros(&[d])),
            eps,
            out: Tensor::default(),
            stats: Vec::new(),
            dx: Tensor::default(),
        }
    }

    /// Normalises each row of `x`.
    pub fn forward(&mut self, x: &Tensor) -> &Tensor {
        let d = x.cols();
        assert_eq!(d, self.gamma.len(), "{}: input width", self.gamma.name);
        self.out.resize(x.shape());
        self.stats.resize(2 * x.rows(), 0.0);
        let (g, b, eps) = (self.gamma.value.data(), self.beta.value.data(), self.eps);
        let xd = x.data();
        self.out
            .data_mut()
            .par_chunks_mut(d)
            .zip(self.stats.par_chunks_mut(2))
            .zip(xd.par_chunks(d))
            .with_min_len(64)
            .for_each(|((y, st), x)| {
                let (mean, rstd) = kernels::layer_norm_row(x, g, b, eps, y);
                st[0] = mean;
                st[1] = rstd;
            });
        &self.out
    }

    /// Normalises the residual sum `r + y (+ bias)`, which it writes to `sum`, in the same pass:
    /// the bits of summing first and then calling [`LayerNorm::forward`] on `sum`.
    pub fn forward_sum(
        &mut self,
        r: &Tensor,
        y: &Tensor,
        bias: Option<&[f32]>,
        sum: &mut Tensor,
    ) -> &Tensor {
        let d = r.cols();
        assert_eq!(r.shape(), y.shape(), "residual and branch shapes");
        assert_eq!(d, self.gamma.len(), "{}: input width", self.gamma.name);
        sum.resize(r.shape());
        self.out.resize(r.shape());
        self.stats.resize(2 * r.rows(), 0.0);
        let (g, b, eps) = (self.gamma.value.data(), self.beta.value.data(), self.eps);
        let rows = crate::threads::rows_per_task(d);
        self.out
            .data_mut()
            .par_chunks_mut(rows * d)
            .zip(sum.data_mut().par_chunks_mut(rows * d))
            .zip(self.stats.par_chunks_mut(rows * 2))
            .zip(r.data().par_chunks(rows * d).zip(y.data().par_chunks(rows * d)))
            .for_each(|(((o, s), st), (r, y))| {
                kernels::residual_layer_norm(r, y, bias, (g, b, eps), s, o, st)
            });
        &self.out
    }

    /// The output of the last forward pass.
    pub fn output(&self) -> &Tensor {
        &self.out
    }

    /// Accumulates `γ`, `β` gradients and returns the input gradient; `x` is the forward input.
    pub fn backward(&mut self, x: &Tensor, dy: &Tensor) -> &Tensor {
        let d = x.cols();
        let rows = x.rows();
        let (xd, dyd, stats) = (x.data(), dy.data(), &self.stats);
        let g = self.gamma.value.data();
        // γ and β gradients: Σ dy·x̂ and Σ dy, per column.
        let mut gb = vec![0.0f32; 2 * d];
        par_column_reduce(rows, 2 * d, &mut gb, |r, acc| {
            let (mean, rstd) = (stats[2 * r], stats[2 * r + 1]);
            let (xr, dr) = (&xd[r * d..(r + 1) * d], &dyd[r * d..(r + 1) * d]);
            let (gg, gbeta) = acc.split_at_mut(d);
            kernels::layer_norm_param_grads(xr, dr, mean, rstd, gg, gbeta);
        });
        for (a, v) in self.gamma.grad.data_mut().iter_mut().zip(&gb[..d]) {
            *a += v;
        }
        for (a, v) in self.beta.grad.data_mut().iter_mut().zip(&gb[d..]) {
            *a += v;
        }
        // dx = rstd · (g·dy − mean(g·dy) − x̂ · mean(g·dy·x̂))
        self.dx.resize(x.shape());
        par_rows(self.dx.data_mut(), d, |r, out| {
            let (mean, rstd) = (stats[2 * r], stats[2 * r + 1]);
            let (xr, dr) = (&xd[r * d..(r + 1) * d], &dyd[r * d..(r + 1) * d]);
            kernels::layer_norm_row_backward(xr, dr, g, mean, rstd, out);
        });
        &self.dx
    }
}

impl Module for LayerNorm {
    fn visit(&self, f: &mut dyn FnMut(&Param)) {
        f(&self.gamma);
        f(&self.beta);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
        f(&mut self.gamma);
        f(&mut self.beta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, check_param_grads, random_tensor};
    use crate::rng::Rng;

    #[test]
    fn output_rows_are_normalised() {
        let mut ln = LayerNorm::new("n", 4, 1e-5);
        let x = Tensor::from_vec(vec![1., 2., 3., 4., -2., 0., 2., 4.], &[2, 4]).unwrap();
        let y = ln.forward(&x).clone();
        for row in y.data().chunks(4) {
            let mean: f32 = row.iter().sum::<f32>() / 4.0;
            let var: f32 = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 4.0;
            assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-4);
        }
    }

    /// Central differences with step 1e-2; relative tolerance 2e-2 plus 1e-3 absolute.
    #[test]
    fn layer_norm_gradient_check() {
        let mut rng = Rng::new(3);
        let mut ln = LayerNorm::new("n", 6, 1e-5);
        for p in [&mut ln.gamma, &mut ln.beta] {
            p.value = random_tensor(&[6], &mut rng);
        }
        let x = random_tensor(&[4, 6], &mut rng);
        let fwd = |l: &mut LayerNorm, x: &Tensor| l.forward(x).clone();
        check_input_grad(&mut ln, &x, 1e-2, 2e-2, fwd, |l, x, dy| l.backward(x, dy).clone());
        check_param_grads(&mut ln, &x, 1e-2, 2e-2, fwd, |l, x, dy| {
            l.backward(x, dy);
        });
    }

    #[test]
    fn fused_residual_sum_and_norm_equal_the_two_steps() {
        let mut rng = Rng::new(12);
        let (r, y) = (random_tensor(&[37, 20], &mut rng), random_tensor(&[37, 20], &mut rng));
        let bias: Vec<f32> = (0..20).map(|_| rng.normal()).collect();
        for b in [Some(&bias[..]), None] {
            let mut want_sum = Tensor::zeros(&[37, 20]);
            match b {
                Some(b) => kernels::residual_bias(r.data(), y.data(), b, want_sum.data_mut()),
                None => kernels::add(r.data(), y.data(), want_sum.data_mut()),
            }
            let mut ln = LayerNorm::new("n", 20, 1e-5);
            ln.gamma.value.data_mut().iter_mut().for_each(|g| *g += 0.3 * rng.normal());
            let want = ln.forward(&want_sum).clone();
            let mut sum = Tensor::default();
            let got = ln.forward_sum(&r, &y, b, &mut sum).clone();
            assert_eq!(sum.data(), want_sum.data());
            assert_eq!(got.data(), want.data());
        }
    }
}
