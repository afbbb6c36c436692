//! Two-dimensional convolution by im2col and one matrix product per batch.
//!
//! Shapes: input `[n, c, h, w]` (NCHW), weight `[out, c, k, k]` (PyTorch's layout), bias
//! `[out]`, output `[n, out, oh, ow]` with `oh = (h + 2·pad − k) / stride + 1` (likewise `ow`).
//!
//! The forward pass unfolds every `k × k` patch of the whole batch into the columns of one
//! matrix `[c·k·k, n·oh·ow]` and multiplies it by the weight viewed as `[out, c·k·k]`; the
//! backward pass reuses the unfolded input for the weight gradient and folds the gradient of
//! the columns back onto the input. One large product per step keeps the GEMM kernel busy on
//! small images, where a product per image would be too small to split across threads.
//!
//! Initialisation follows PyTorch's `nn.Conv2d`: weight and bias uniform in `±1/√(c·k·k)`.

use rayon::prelude::*;

use crate::gemm::{matmul, View};
use crate::param::{Module, Param};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// Geometry of a convolution over one input size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    pad: usize,
    oh: usize,
    ow: usize,
}

impl Geometry {
    /// Output positions per image.
    fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// The input pixel under kernel offset `(ki, kj)` at output position `(oy, ox)`, or
    /// `None` in the padding.
    #[inline]
    #[cfg(test)]
    fn source(&self, oy: usize, ox: usize, ki: usize, kj: usize) -> Option<(usize, usize)> {
        let y = (oy * self.stride + ki).checked_sub(self.pad)?;
        let x = (ox * self.stride + kj).checked_sub(self.pad)?;
        (y < self.h && x < self.w).then_some((y, x))
    }

    /// The input row under kernel row `ki` at output row `oy`, or `None` in the padding.
    #[inline]
    fn source_row(&self, oy: usize, ki: usize) -> Option<usize> {
        let y = (oy * self.stride + ki).checked_sub(self.pad)?;
        (y < self.h).then_some(y)
    }

    /// For kernel column `kj`: the output columns `lo..hi` that fall inside the input, and the
    /// input column of `lo` (later ones follow every `stride` columns).
    #[inline]
    fn column_span(&self, kj: usize) -> (usize, usize, usize) {
        let s = self.stride;
        // x = ox·s + kj − pad must be in 0..w.
        let lo = self.pad.saturating_sub(kj).div_ceil(s);
        let hi = (self.w + self.pad).saturating_sub(kj).div_ceil(s).min(self.ow);
        let lo = lo.min(hi);
        (lo, hi, (lo * s + kj).saturating_sub(self.pad))
    }
}

/// The shape of a convolution: channels in and out, and a square `kernel × kernel` window
/// moving by `stride` over an input padded with `pad` zeros on every side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dShape {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Window side.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zeros added on each side.
    pub pad: usize,
}

impl Conv2dShape {
    /// A `kernel × kernel` convolution with stride 1 and the padding that keeps the image
    /// size (for odd kernels).
    pub fn same(in_channels: usize, out_channels: usize, kernel: usize) -> Self {
        Conv2dShape { in_channels, out_channels, kernel, stride: 1, pad: kernel / 2 }
    }
}

/// A 2-D convolution with square kernels.
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// `[out, in, k, k]`.
    pub weight: Param,
    /// `[out]`.
    pub bias: Option<Param>,
    kernel: usize,
    stride: usize,
    pad: usize,
    geometry: Option<Geometry>,
    /// The unfolded input of the last forward pass, `[c·k·k, n·oh·ow]`.
    columns: Vec<f32>,
    /// The product `[out, n·oh·ow]` (forward) and the output gradient in that layout
    /// (backward).
    product: Vec<f32>,
    dcolumns: Vec<f32>,
    out: Tensor,
    dx: Tensor,
}

impl Conv2d {
    /// A convolution named `name` of the given shape, with or without a bias.
    pub fn new(name: &str, shape: Conv2dShape, bias: bool, rng: &mut Rng) -> Self {
        let Conv2dShape { in_channels, out_channels, kernel, stride, pad } = shape;
        assert!(kernel > 0 && stride > 0, "kernel and stride must be positive");
        let fan_in = in_channels * kernel * kernel;
        let bound = 1.0 / (fan_in as f32).sqrt();
        let w = rng.uniform_values(out_channels * fan_in, -bound, bound);
        let shape = [out_channels, in_channels, kernel, kernel];
        let weight = Param::new(format!("{name}.weight"), Tensor::from_vec(w, &shape).unwrap());
        let bias = bias.then(|| {
            let b = rng.uniform_values(out_channels, -bound, bound);
            Param::new(format!("{name}.bias"), Tensor::from_vec(b, &[out_channels]).unwrap())
        });
        Conv2d {
            weight,
            bias,
            kernel,
            stride,
            pad,
            geometry: None,
            columns: Vec::new(),
            product: Vec::new(),
            dcolumns: Vec::new(),
            out: Tensor::default(),
            dx: Tensor::default(),
        }
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.value.shape()[0]
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.weight.value.shape()[1]
    }

    /// The output height and width for an input of `h × w`.
    pub fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
        let span = |s: usize| (s + 2 * self.pad).saturating_sub(self.kernel) / self.stride + 1;
        (span(h), span(w))
    }

    fn geometry(&self, shape: &[usize]) -> Geometry {
        assert_eq!(shape.len(), 4, "conv2d input must be [n, c, h, w], got {shape:?}");
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
        assert_eq!(c, self.in_channels(), "conv2d input has {c} channels");
        assert!(h + 2 * self.pad >= self.kernel && w + 2 * self.pad >= self.kernel);
        let (oh, ow) = self.output_size(h, w);
        Geometry { n, c, h, w, k: self.kernel, stride: self.stride, pad: self.pad, oh, ow }
    }

    /// The convolution of `x`, `[n, c, h, w]`, into `[n, out, oh, ow]`.
    pub fn forward(&mut self, x: &Tensor) -> &Tensor {
        let g = self.geometry(x.shape());
        self.geometry = Some(g);
        let (kk, p, np) = (g.c * g.k * g.k, g.positions(), g.n * g.positions());
        let o = self.out_channels();
        self.columns.resize(kk * np, 0.0);
        im2col(x.data(), &g, &mut self.columns);
        self.product.resize(o * np, 0.0);
        let w = View::new(self.weight.value.data(), o, kk);
        matmul(&mut self.product, np, w, View::new(&self.columns, kk, np), 1.0, false, true);
        self.out.resize(&[g.n, o, g.oh, g.ow]);
        let bias = self.bias.as_ref().map(|b| b.value.data());
        let product = &self.product;
        // [out, n·p] → [n, out, p], adding the bias.
        self.out.data_mut().par_chunks_mut(o * p).enumerate().for_each(|(img, dst)| {
            for (ch, row) in dst.chunks_mut(p).enumerate() {
                let src = &product[ch * np + img * p..ch * np + (img + 1) * p];
                let b = bias.map_or(0.0, |b| b[ch]);
                row.iter_mut().zip(src).for_each(|(d, &s)| *d = s + b);
            }
        });
        &self.out
    }

    /// The output of the last forward pass.
    pub fn output(&self) -> &Tensor {
        &self.out
    }

    /// Accumulates the weight and bias gradients of the last forward pass for output gradient
    /// `dy`, and returns the gradient with respect to its input.
    pub fn backward(&mut self, dy: &Tensor) -> &Tensor {
        self.backward_params(dy);
        let g = self.geometry.expect("backward called before forward");
        let (kk, np) = (g.c * g.k * g.k, g.n * g.positions());
        let o = self.out_channels();
        // dcols [kk, np] = Wᵀ [kk, out] × dY [out, np].
        self.dcolumns.resize(kk * np, 0.0);
        let w_t = View::new(self.weight.value.data(), o, kk).t();
        let dy_view = View::new(&self.product, o, np);
        matmul(&mut self.dcolumns, np, w_t, dy_view, 1.0, false, true);
        self.dx.resize(&[g.n, g.c, g.h, g.w]);
        col2im(&self.dcolumns, &g, self.dx.data_mut());
        &self.dx
    }

    /// Accumulates the weight and bias gradients only, for a first layer whose input needs
    /// no gradient.
    pub fn backward_params(&mut self, dy: &Tensor) {
        let g = self.geometry.expect("backward called before forward");
        let (kk, p, np) = (g.c * g.k * g.k, g.positions(), g.n * g.positions());
        let o = self.out_channels();
        assert_eq!(dy.shape(), &[g.n, o, g.oh, g.ow], "conv2d output gradient shape");
        // [n, out, p] → [out, n·p].
        let dyd = dy.data();
        self.product.par_chunks_mut(np).enumerate().for_each(|(ch, row)| {
            for img in 0..g.n {
                let src = &dyd[img * o * p + ch * p..img * o * p + (ch + 1) * p];
                row[img * p..(img + 1) * p].copy_from_slice(src);
            }
        });
        if let Some(b) = &mut self.bias {
            let product = &self.product;
            b.grad
                .data_mut()
                .par_iter_mut()
                .enumerate()
                .for_each(|(ch, gb)| *gb += product[ch * np..(ch + 1) * np].iter().sum::<f32>());
        }
        // dW [out, kk] += dY [out, np] × colsᵀ [np, kk].
        let dy_view = View::new(&self.product, o, np);
        let cols_t = View::new(&self.columns, kk, np).t();
        matmul(self.weight.grad.data_mut(), kk, dy_view, cols_t, 1.0, true, true);
    }
}

/// Unfolds `x` (`[n, c, h, w]`) into `columns` (`[c·k·k, n·oh·ow]`): row `(ch, ki, kj)`,
/// column `(img, oy, ox)` holds the input under that kernel offset, or 0 in the padding.
fn im2col(x: &[f32], g: &Geometry, columns: &mut [f32]) {
    let (p, np) = (g.positions(), g.n * g.positions());
    columns.par_chunks_mut(np).enumerate().for_each(|(r, row)| {
        let (ch, ki, kj) = (r / (g.k * g.k), (r / g.k) % g.k, r % g.k);
        let (lo, hi, x0) = g.column_span(kj);
        for img in 0..g.n {
            let plane = &x[(img * g.c + ch) * g.h * g.w..(img * g.c + ch + 1) * g.h * g.w];
            let dst = &mut row[img * p..(img + 1) * p];
            for oy in 0..g.oh {
                let out = &mut dst[oy * g.ow..(oy + 1) * g.ow];
                let Some(y) = g.source_row(oy, ki) else {
                    out.fill(0.0);
                    continue;
                };
                let src = &plane[y * g.w..(y + 1) * g.w];
                out[..lo].fill(0.0);
                out[hi..].fill(0.0);
                if g.stride == 1 {
                    out[lo..hi].copy_from_slice(&src[x0..x0 + hi - lo]);
                } else {
                    for (i, o) in out[lo..hi].iter_mut().enumerate() {
                        *o = src[x0 + i * g.stride];
                    }
                }
            }
        }
    });
}

/// Folds `dcolumns` (`[c·k·k, n·oh·ow]`) back onto `dx` (`[n, c, h, w]`), summing the
/// contributions of overlapping patches. Each task owns one input plane.
fn col2im(dcolumns: &[f32], g: &Geometry, dx: &mut [f32]) {
    let (p, np) = (g.positions(), g.n * g.positions());
    dx.par_chunks_mut(g.h * g.w).enumerate().for_each(|(plane_index, plane)| {
        let (img, ch) = (plane_index / g.c, plane_index % g.c);
        plane.fill(0.0);
        for ki in 0..g.k {
            for kj in 0..g.k {
                let r = (ch * g.k + ki) * g.k + kj;
                let src = &dcolumns[r * np + img * p..r * np + (img + 1) * p];
                let (lo, hi, x0) = g.column_span(kj);
                for oy in 0..g.oh {
                    let Some(y) = g.source_row(oy, ki) else { continue };
                    let from = &src[oy * g.ow + lo..oy * g.ow + hi];
                    let to = &mut plane[y * g.w..(y + 1) * g.w];
                    if g.stride == 1 {
                        to[x0..x0 + hi - lo].iter_mut().zip(from).for_each(|(t, &f)| *t += f);
                    } else {
                        for (i, &f) in from.iter().enumerate() {
                            to[x0 + i * g.stride] += f;
                        }
                    }
                }
            }
        }
    });
}

impl Module for Conv2d {
    fn visit(&self, f: &mut dyn FnMut(&Param)) {
        f(&self.weight);
        if let Some(b) = &self.bias {
            f(b);
        }
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
        f(&mut self.weight);
        if let Some(b) = &mut self.bias {
            f(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, check_param_grads, random_tensor};

    /// A direct (seven-loop) convolution to compare against.
    fn direct(conv: &Conv2d, x: &Tensor) -> Vec<f32> {
        let g = conv.geometry(x.shape());
        let o = conv.out_channels();
        let (w, xd) = (conv.weight.value.data(), x.data());
        let mut out = vec![0.0f32; g.n * o * g.oh * g.ow];
        for img in 0..g.n {
            for oc in 0..o {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let mut s = conv.bias.as_ref().map_or(0.0, |b| b.value.data()[oc]);
                        for ch in 0..g.c {
                            for ki in 0..g.k {
                                for kj in 0..g.k {
                                    if let Some((y, xx)) = g.source(oy, ox, ki, kj) {
                                        let wi = ((oc * g.c + ch) * g.k + ki) * g.k + kj;
                                        s += w[wi] * xd[((img * g.c + ch) * g.h + y) * g.w + xx];
                                    }
                                }
                            }
                        }
                        out[((img * o + oc) * g.oh + oy) * g.ow + ox] = s;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_a_direct_convolution() {
        let mut rng = Rng::new(3);
        for (k, stride, pad) in [(3, 1, 1), (3, 2, 0), (1, 1, 0), (5, 2, 2)] {
            let shape = Conv2dShape { in_channels: 3, out_channels: 4, kernel: k, stride, pad };
            let mut conv = Conv2d::new("c", shape, true, &mut rng);
            let x = random_tensor(&[2, 3, 7, 6], &mut rng);
            let want = direct(&conv, &x);
            let got = conv.forward(&x).data().to_vec();
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "k {k} stride {stride} pad {pad}: {a} vs {b}");
            }
        }
    }

    /// Central differences, step 1e-2, relative tolerance 1e-2, with padding and stride 2.
    #[test]
    fn conv2d_gradient_check() {
        let mut rng = Rng::new(7);
        for (k, stride, pad) in [(3, 1, 1), (3, 2, 1)] {
            let shape = Conv2dShape { in_channels: 2, out_channels: 3, kernel: k, stride, pad };
            let mut conv = Conv2d::new("c", shape, true, &mut rng);
            let x = random_tensor(&[2, 2, 5, 4], &mut rng);
            let fwd = |l: &mut Conv2d, x: &Tensor| l.forward(x).clone();
            check_input_grad(&mut conv, &x, 1e-2, 1e-2, fwd, |l, _, dy| l.backward(dy).clone());
            check_param_grads(&mut conv, &x, 1e-2, 1e-2, fwd, |l, _, dy| {
                l.backward(dy);
            });
        }
    }
}
