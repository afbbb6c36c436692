//! Max pooling over non-overlapping (or strided) square windows of NCHW images.
//!
//! Shapes: input `[n, c, h, w]`, output `[n, c, oh, ow]` with `oh = (h − k) / stride + 1`.
//! The backward pass routes each output gradient to the input that was the window's maximum
//! (the first one on ties), as PyTorch does.

use rayon::prelude::*;

use crate::tensor::Tensor;

/// Max pooling with a `kernel × kernel` window.
#[derive(Clone, Debug)]
pub struct MaxPool2d {
    kernel: usize,
    stride: usize,
    input_shape: Vec<usize>,
    /// For each output, the index of its maximum within its input plane.
    argmax: Vec<u32>,
    out: Tensor,
    dx: Tensor,
}

impl MaxPool2d {
    /// Pooling with a square window of `kernel` moving by `stride`.
    pub fn new(kernel: usize, stride: usize) -> Self {
        assert!(kernel > 0 && stride > 0, "kernel and stride must be positive");
        MaxPool2d {
            kernel,
            stride,
            input_shape: Vec::new(),
            argmax: Vec::new(),
            out: Tensor::default(),
            dx: Tensor::default(),
        }
    }

    /// The output height and width for an input of `h × w`.
    pub fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
        ((h - self.kernel) / self.stride + 1, (w - self.kernel) / self.stride + 1)
    }

    /// The pooled `x`.
    pub fn forward(&mut self, x: &Tensor) -> &Tensor {
        let s = x.shape();
        assert!(s.len() == 4 && s[2] >= self.kernel && s[3] >= self.kernel, "input {s:?}");
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        let (oh, ow) = self.output_size(h, w);
        self.input_shape = s.to_vec();
        self.out.resize(&[n, c, oh, ow]);
        self.argmax.resize(n * c * oh * ow, 0);
        let (k, stride) = (self.kernel, self.stride);
        let xd = x.data();
        self.out
            .data_mut()
            .par_chunks_mut(oh * ow)
            .zip(self.argmax.par_chunks_mut(oh * ow))
            .enumerate()
            .for_each(|(plane, (out, arg))| {
                let src = &xd[plane * h * w..(plane + 1) * h * w];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (mut best, mut at) = (f32::NEG_INFINITY, 0usize);
                        for ki in 0..k {
                            for kj in 0..k {
                                let i = (oy * stride + ki) * w + ox * stride + kj;
                                if src[i] > best {
                                    best = src[i];
                                    at = i;
                                }
                            }
                        }
                        out[oy * ow + ox] = best;
                        arg[oy * ow + ox] = at as u32;
                    }
                }
            });
        &self.out
    }

    /// The output of the last forward pass.
    pub fn output(&self) -> &Tensor {
        &self.out
    }

    /// The gradient with respect to the last input, for output gradient `dy`.
    pub fn backward(&mut self, dy: &Tensor) -> &Tensor {
        let s = &self.input_shape;
        let (h, w) = (s[2], s[3]);
        let per = self.out.shape()[2] * self.out.shape()[3];
        assert_eq!(dy.shape(), self.out.shape(), "max-pool output gradient shape");
        self.dx.resize(s);
        let (dyd, arg) = (dy.data(), &self.argmax);
        self.dx.data_mut().par_chunks_mut(h * w).enumerate().for_each(|(plane, dst)| {
            dst.fill(0.0);
            for j in plane * per..(plane + 1) * per {
                dst[arg[j] as usize] += dyd[j];
            }
        });
        &self.dx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, random_tensor};
    use crate::rng::Rng;

    #[test]
    fn takes_the_window_maximum() {
        let x = Tensor::from_vec((0..16).map(|v| ((v * 7) % 16) as f32).collect(), &[1, 1, 4, 4])
            .unwrap();
        let mut pool = MaxPool2d::new(2, 2);
        // Rows: 0 7 14 5 / 12 3 10 1 / 8 15 6 13 / 4 11 2 9.
        assert_eq!(pool.forward(&x).data(), &[12.0, 14.0, 15.0, 13.0]);
    }

    /// Central differences with step 1e-3 on inputs whose window maxima are well separated,
    /// relative tolerance 1e-2.
    #[test]
    fn max_pool2d_gradient_check() {
        let mut rng = Rng::new(4);
        let mut x = random_tensor(&[2, 3, 4, 6], &mut rng);
        // Distinct values far apart, so a small step never changes which input is largest.
        let mut order: Vec<usize> = (0..x.len()).collect();
        rng.shuffle(&mut order);
        for (v, &i) in x.data_mut().iter_mut().zip(&order) {
            *v = i as f32 * 0.1;
        }
        let mut pool = MaxPool2d::new(2, 2);
        let fwd = |l: &mut MaxPool2d, x: &Tensor| l.forward(x).clone();
        check_input_grad(&mut pool, &x, 1e-3, 1e-2, fwd, |l, _, dy| l.backward(dy).clone());
    }
}
