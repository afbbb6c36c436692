//! Pooling a padded batch of sequences to one vector per sequence, over real tokens only.
//!
//! Shapes: input `[batch · seq, d]`, output `[batch, d]` (`[batch, 2d]` for mean-max).
//! Mean pooling averages the first `len` rows of each sequence; max pooling takes, per
//! dimension, the largest value over those rows (its gradient goes to the row that held it,
//! the first on ties); first-token pooling takes row 0 (the `[CLS]` position); mean-max
//! pooling puts the mean and the max side by side, as ULMFiT's concat pooling does.

use super::mask::PaddingMask;
use crate::kernels;
use crate::tensor::Tensor;
use crate::threads::par_rows;
use rayon::prelude::*;

/// How a sequence becomes one vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolingKind {
    /// Average over real tokens.
    Mean,
    /// Per dimension, the largest value over real tokens.
    Max,
    /// The first token's vector.
    First,
    /// The mean and the max, concatenated: twice the width.
    #[serde(rename = "mean-max")]
    MeanMax,
}

impl PoolingKind {
    /// Width of the pooled vector for inputs of width `d`.
    pub fn output_width(self, d: usize) -> usize {
        match self {
            PoolingKind::MeanMax => 2 * d,
            _ => d,
        }
    }
}

/// A pooling layer.
#[derive(Clone, Debug)]
pub struct Pooling {
    kind: PoolingKind,
    mask: PaddingMask,
    /// For max pooling: the position that gave each output value, `[batch, d]`.
    argmax: Vec<u32>,
    out: Tensor,
    dx: Tensor,
}

impl Pooling {
    /// A pooling layer of the given kind.
    pub fn new(kind: PoolingKind) -> Self {
        Pooling {
            kind,
            mask: PaddingMask::full(0, 0),
            argmax: Vec::new(),
            out: Tensor::default(),
            dx: Tensor::default(),
        }
    }

    /// Which pooling this is.
    pub fn kind(&self) -> PoolingKind {
        self.kind
    }

    /// Pools each sequence of `x`.
    pub fn forward(&mut self, x: &Tensor, mask: &PaddingMask) -> &Tensor {
        let (batch, seq, d) = (mask.batch(), mask.seq(), x.cols());
        assert_eq!(x.rows(), batch * seq, "pooling input rows");
        self.mask.clone_from(mask);
        let width = self.kind.output_width(d);
        self.out.resize(&[batch, width]);
        let (xd, kind) = (x.data(), self.kind);
        // Every kind walks the argmax rows alongside the output rows; only max fills them.
        self.argmax.resize(batch * d, 0);
        let rows = self.out.data_mut().par_chunks_mut(width).zip(self.argmax.par_chunks_mut(d));
        rows.enumerate().with_min_len(8).for_each(|(b, (out, arg))| {
            let seq_rows = &xd[b * seq * d..(b + 1) * seq * d];
            let real = &seq_rows[..mask.len(b) * d];
            let (mean_part, max_part) = match kind {
                PoolingKind::First => {
                    out.copy_from_slice(&seq_rows[..d]);
                    return;
                }
                PoolingKind::Mean => (Some(&mut out[..]), None),
                PoolingKind::Max => (None, Some(&mut out[..])),
                PoolingKind::MeanMax => {
                    let (m, x) = out.split_at_mut(d);
                    (Some(m), Some(x))
                }
            };
            if let Some(out) = mean_part {
                out.fill(0.0);
                for row in real.chunks(d) {
                    for (o, v) in out.iter_mut().zip(row) {
                        *o += v;
                    }
                }
                let inv = 1.0 / mask.len(b) as f32;
                out.iter_mut().for_each(|o| *o *= inv);
            }
            if let Some(out) = max_part {
                out.copy_from_slice(&seq_rows[..d]);
                arg.fill(0);
                kernels::max_rows(&real[real.len().min(d)..], out, arg);
            }
        });
        &self.out
    }

    /// The output of the last forward pass, `[batch, d]`.
    pub fn output(&self) -> &Tensor {
        &self.out
    }

    /// The input gradient for output gradient `dy` (`[batch, width]`); padded rows get zero.
    pub fn backward(&mut self, dy: &Tensor) -> &Tensor {
        let seq = self.mask.seq();
        let (width, kind) = (dy.cols(), self.kind);
        let d = if kind == PoolingKind::MeanMax { width / 2 } else { width };
        self.dx.resize(&[self.mask.batch() * seq, d]);
        let (dyd, mask, argmax) = (dy.data(), &self.mask, &self.argmax);
        par_rows(self.dx.data_mut(), d, |r, out| {
            let (b, t) = (r / seq, r % seq);
            let g = &dyd[b * width..(b + 1) * width];
            let real = t < mask.len(b);
            let (g_mean, g_max) = match kind {
                PoolingKind::First => {
                    match t {
                        0 => out.copy_from_slice(g),
                        _ => out.fill(0.0),
                    }
                    return;
                }
                PoolingKind::Mean => (Some(g), None),
                PoolingKind::Max => (None, Some(g)),
                PoolingKind::MeanMax => (Some(&g[..d]), Some(&g[d..])),
            };
            match g_mean {
                Some(g) if real => {
                    let inv = 1.0 / mask.len(b) as f32;
                    for (o, v) in out.iter_mut().zip(g) {
                        *o = v * inv;
                    }
                }
                _ => out.fill(0.0),
            }
            if let Some(g) = g_max {
                let arg = &argmax[b * d..(b + 1) * d];
                for ((o, &v), &a) in out.iter_mut().zip(g).zip(arg) {
                    if a as usize == t {
                        *o += v;
                    }
                }
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
    fn mean_ignores_padding() {
        let x = Tensor::from_vec(vec![1., 2., 3., 4., 100., 100.], &[3 * 2 / 2, 2]).unwrap();
        let mask = PaddingMask::from_lengths(3, vec![2]).unwrap();
        let mut p = Pooling::new(PoolingKind::Mean);
        assert_eq!(p.forward(&x, &mask).data(), &[2., 3.]);
        let mut f = Pooling::new(PoolingKind::First);
        assert_eq!(f.forward(&x, &mask).data(), &[1., 2.]);
        let x = Tensor::from_vec(vec![1., 5., 3., 4., 100., 100.], &[3, 2]).unwrap();
        let mut m = Pooling::new(PoolingKind::Max);
        assert_eq!(m.forward(&x, &mask).data(), &[3., 5.]);
        let dy = Tensor::from_vec(vec![1., 2.], &[1, 2]).unwrap();
        assert_eq!(m.backward(&dy).data(), &[0., 2., 1., 0., 0., 0.]);
    }

    /// Mean and first pooling are linear, max pooling piecewise linear (random inputs keep
    /// values apart by far more than the step): central differences with step 1e-2,
    /// tolerance 1e-3.
    #[test]
    fn pooling_gradient_check() {
        let mask = PaddingMask::from_lengths(4, vec![4, 2, 1]).unwrap();
        let x = random_tensor(&[12, 3], &mut Rng::new(10));
        for kind in [PoolingKind::Mean, PoolingKind::Max, PoolingKind::First, PoolingKind::MeanMax]
        {
            let mut p = Pooling::new(kind);
            check_input_grad(
                &mut p,
                &x,
                1e-2,
                1e-3,
                |p, x| p.forward(x, &mask).clone(),
                |p, _, dy| p.backward(dy).clone(),
            );
        }
    }
}
