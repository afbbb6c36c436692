//! Inverted dropout (Srivastava et al. 2014): in training, each element is zeroed with
//! probability `p` and the survivors scaled by `1/(1−p)`; at inference it is the identity.
//!
//! Masks come from a counter-based hash of `(seed, stream, index)`, so they do not depend on the
//! thread count, and each forward call advances the stream.

use crate::kernels;
use crate::tensor::Tensor;
use rayon::prelude::*;

const CHUNK: usize = 8192;

/// A dropout layer.
#[derive(Clone, Debug)]
pub struct Dropout {
    p: f32,
    seed: u64,
    stream: u64,
    active: bool,
    mask: Vec<u8>,
    out: Tensor,
    dx: Tensor,
}

impl Dropout {
    /// Dropout with probability `p` and its own seed.
    pub fn new(p: f32, seed: u64) -> Self {
        Dropout {
            p,
            seed,
            stream: 0,
            active: false,
            mask: Vec::new(),
            out: Tensor::default(),
            dx: Tensor::default(),
        }
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// Sets the stream used by the next forward pass (it advances by one per pass).
    pub fn set_stream(&mut self, stream: u64) {
        self.stream = stream;
    }

    /// Applies dropout when `train` is set and `p > 0`; otherwise returns `x` itself.
    pub fn forward<'a>(&'a mut self, x: &'a Tensor, train: bool) -> &'a Tensor {
        self.active = train && self.p > 0.0;
        if !self.active {
            return x;
        }
        let draw = kernels::DropoutDraw::new(self.seed, self.stream, self.p);
        self.stream += 1;
        self.out.resize(x.shape());
        self.mask.resize(x.len(), 0);
        self.out
            .data_mut()
            .par_chunks_mut(CHUNK)
            .zip(self.mask.par_chunks_mut(CHUNK))
            .zip(x.data().par_chunks(CHUNK))
            .enumerate()
            .for_each(|(c, ((y, m), x))| {
                kernels::dropout_forward(x, y, m, draw, (c * CHUNK) as u64);
            });
        &self.out
    }

    /// `out = residual + dropout(y + bias)` in one pass (bias per row of width `y.cols()`).
    /// Backward is [`Dropout::backward`], giving the gradient at `y + bias`; the residual's
    /// gradient is the output gradient itself.
    pub fn forward_residual(
        &mut self,
        residual: &Tensor,
        y: &Tensor,
        bias: Option<&[f32]>,
        out: &mut Tensor,
        train: bool,
    ) {
        assert_eq!(residual.shape(), y.shape(), "residual and branch shapes");
        let cols = y.cols();
        out.resize(y.shape());
        self.active = train && self.p > 0.0;
        let chunk = crate::threads::rows_per_task(cols) * cols;
        let (r, yd) = (residual.data(), y.data());
        if let (false, None) = (self.active, bias) {
            // A branch whose bias is already in `y` (an int8 layer's) is a plain sum.
            out.data_mut()
                .par_chunks_mut(chunk)
                .zip(r.par_chunks(chunk))
                .zip(yd.par_chunks(chunk))
                .for_each(|((o, r), y)| kernels::add(r, y, o));
            return;
        }
        let zeros;
        let bias = match bias {
            Some(b) => b,
            None => {
                zeros = vec![0.0; cols];
                &zeros
            }
        };
        if !self.active {
            out.data_mut()
                .par_chunks_mut(chunk)
                .zip(r.par_chunks(chunk))
                .zip(yd.par_chunks(chunk))
                .for_each(|((o, r), y)| kernels::residual_bias(r, y, bias, o));
            return;
        }
        let draw = kernels::DropoutDraw::new(self.seed, self.stream, self.p);
        self.stream += 1;
        self.mask.resize(y.len(), 0);
        out.data_mut()
            .par_chunks_mut(chunk)
            .zip(self.mask.par_chunks_mut(chunk))
            .zip(r.par_chunks(chunk))
            .zip(yd.par_chunks(chunk))
            .enumerate()
            .for_each(|(c, (((o, m), r), y))| {
                let start = (c * chunk) as u64;
                kernels::residual_bias_dropout(r, y, bias, o, m, draw, start);
            });
    }

    /// The output of the last forward pass, given the input it was called with.
    pub fn output<'a>(&'a self, input: &'a Tensor) -> &'a Tensor {
        if self.active {
            &self.out
        } else {
            input
        }
    }

    /// The input gradient for output gradient `dy`: `dy` itself when the last pass was inactive.
    pub fn backward<'a>(&'a mut self, dy: &'a Tensor) -> &'a Tensor {
        if !self.active {
            return dy;
        }
        let scale = 1.0 / (1.0 - self.p);
        self.dx.resize(dy.shape());
        self.dx
            .data_mut()
            .par_chunks_mut(CHUNK)
            .zip(self.mask.par_chunks(CHUNK))
            .zip(dy.data().par_chunks(CHUNK))
            .for_each(|((dx, m), dy)| kernels::dropout_backward(dy, m, scale, dx));
        &self.dx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, random_tensor};
    use crate::rng::Rng;

    #[test]
    fn drops_about_p_and_keeps_expectation() {
        let mut d = Dropout::new(0.25, 9);
        let mut x = Tensor::zeros(&[100_000]);
        x.fill(1.0);
        let y = d.forward(&x, true);
        let zeros = y.data().iter().filter(|&&v| v == 0.0).count() as f32 / 100_000.0;
        let mean = y.data().iter().sum::<f32>() / 100_000.0;
        assert!((zeros - 0.25).abs() < 0.01, "dropped {zeros}");
        assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
        assert_eq!(d.forward(&x, false).data(), x.data());
    }

    /// The same mask is replayed for every evaluation; step 1e-2, relative tolerance 1e-3.
    #[test]
    fn dropout_gradient_check() {
        let mut rng = Rng::new(5);
        let x = random_tensor(&[6, 5], &mut rng);
        let mut d = Dropout::new(0.3, 1);
        check_input_grad(
            &mut d,
            &x,
            1e-2,
            1e-3,
            |d, x| {
                d.set_stream(0);
                d.forward(x, true).clone()
            },
            |d, _, dy| d.backward(dy).clone(),
        );
    }
}
