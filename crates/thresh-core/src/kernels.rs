//! Element-wise and row kernels, compiled for several x86-64 instruction sets and chosen at run
//! time.
//!
//! Each kernel is written once as plain Rust in a form the compiler vectorises (fixed-width
//! lane accumulators instead of serial sums, branch-free arithmetic from [`crate::math`]), then
//! instantiated for AVX-512, AVX2+FMA and the baseline. Floating-point contraction is never
//! applied, and sums always use the same 16-lane order, so all three produce bit-identical
//! results; the choice only changes speed.
//!
//! This module holds the only `unsafe` calls outside [`crate::gemm`]: calling a function
//! compiled with `#[target_feature]` requires the caller to guarantee the CPU supports it.
#![allow(unsafe_code)]

use crate::math;
use crate::rng::mix64;
use std::sync::OnceLock;

/// The instruction set the kernels run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdLevel {
    /// AVX-512 F/VL/DQ with AVX2 and FMA.
    Avx512,
    /// AVX2 with FMA.
    Avx2,
    /// The compiler's baseline for the target.
    Baseline,
}

impl std::fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SimdLevel::Avx512 => "avx512",
            SimdLevel::Avx2 => "avx2+fma",
            SimdLevel::Baseline => "baseline",
        })
    }
}

/// The best level this CPU supports; detected once. `THRESH_SIMD=baseline|avx2` lowers it.
pub fn simd_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let detected = detect();
        match std::env::var("THRESH_SIMD").as_deref() {
            Ok("baseline") => SimdLevel::Baseline,
            Ok("avx2") if detected != SimdLevel::Baseline => SimdLevel::Avx2,
            _ => detected,
        }
    })
}

#[cfg(target_arch = "x86_64")]
fn detect() -> SimdLevel {
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
    {
        SimdLevel::Avx512
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        SimdLevel::Avx2
    } else {
        SimdLevel::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> SimdLevel {
    SimdLevel::Baseline
}

/// Defines a public kernel that dispatches to copies of `$body` compiled per [`SimdLevel`].
macro_rules! kernel {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn generic($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? { generic($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? { generic($($arg),*) }
                match simd_level() {
                    // SAFETY: `simd_level` returns Avx512 only when the CPU reports every
                    // feature `avx512` is compiled with.
                    SimdLevel::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above, for AVX2 and FMA.
                    SimdLevel::Avx2 => return unsafe { avx2($($arg),*) },
                    SimdLevel::Baseline => {}
                }
            }
            generic($($arg),*)
        }
    };
}

/// Lanes of the kernels' vectors (one AVX-512 register of f32).
pub(crate) const LANES: usize = 16;

/// Sum with 16 independent lanes, combined in a fixed order.
#[inline(always)]
fn lane_sum(xs: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += c[i];
        }
    }
    for (a, &r) in acc.iter_mut().zip(rest) {
        *a += r;
    }
    combine(acc)
}

/// Dot product with 16 independent lanes.
#[inline(always)]
fn lane_dot(xs: &[f32], ys: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let n = xs.len().min(ys.len());
    let (xs, ys) = (&xs[..n], &ys[..n]);
    let full = n / LANES * LANES;
    for (cx, cy) in xs[..full].chunks_exact(LANES).zip(ys[..full].chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] += cx[i] * cy[i];
        }
    }
    for (a, (&x, &y)) in acc.iter_mut().zip(xs[full..].iter().zip(&ys[full..])) {
        *a += x * y;
    }
    combine(acc)
}

#[inline(always)]
fn combine(acc: [f32; LANES]) -> f32 {
    let mut half = [0.0f32; 8];
    for i in 0..8 {
        half[i] = acc[i] + acc[i + 8];
    }
    let q = [half[0] + half[4], half[1] + half[5], half[2] + half[6], half[3] + half[7]];
    (q[0] + q[2]) + (q[1] + q[3])
}

/// The largest of 16 lanes (NaN lanes ignored, as by `f32::max`), folded in halves so that
/// it vectorises: a chain of sixteen dependent maxima cost as much as the rest of a short
/// row's softmax or quantisation. The maximum does not depend on the order.
#[inline(always)]
fn fold_max(mut acc: [f32; LANES]) -> f32 {
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] = acc[i].max(acc[i + width]);
        }
    }
    acc[0]
}

#[inline(always)]
fn lane_max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] = acc[i].max(c[i]);
        }
    }
    for (a, &r) in acc.iter_mut().zip(rest) {
        *a = a.max(r);
    }
    fold_max(acc)
}

kernel! {
    /// Sum of a slice (16-lane order).
    pub fn sum(xs: &[f32]) -> f32 {
        lane_sum(xs)
    }
}

kernel! {
    /// Dot product of two equally long slices (16-lane order).
    pub fn dot(xs: &[f32], ys: &[f32]) -> f32 {
        lane_dot(xs, ys)
    }
}

/// `n` rounded up to whole 16-lane vectors: the row stride that lets [`softmax_padded`] run
/// vectorised over every entry.
pub fn lane_padded(n: usize) -> usize {
    n.next_multiple_of(LANES)
}

/// Softmax of the first `len` entries of one row whose length is a multiple of 16 (see
/// [`lane_padded`]); the rest of the row is set to 0. The padding is −∞ for the maximum and 0
/// for the sum, which leaves both exactly as over the entries alone (same lanes, same order),
/// so the result equals [`softmax`] of `row[..len]` bit for bit while `exp` runs on whole
/// vectors.
#[inline(always)]
pub(crate) fn softmax_padded_row(row: &mut [f32], len: usize) {
    // The padding is applied in registers (a select on the entry index): writing it to
    // memory first would stall the whole-vector loads that follow.
    let mut acc = [f32::NEG_INFINITY; LANES];
    for (ci, c) in row.chunks_exact(LANES).enumerate() {
        for i in 0..LANES {
            let v = if ci * LANES + i < len { c[i] } else { f32::NEG_INFINITY };
            acc[i] = acc[i].max(v);
        }
    }
    let max = fold_max(acc);
    // The sum is taken as the exponentials are made, in the lanes and order of `lane_sum`.
    let mut sum = [0.0f32; LANES];
    for (ci, c) in row.chunks_exact_mut(LANES).enumerate() {
        for i in 0..LANES {
            let e = math::exp(c[i] - max);
            let e = if ci * LANES + i < len { e } else { 0.0 };
            c[i] = e;
            sum[i] += e;
        }
    }
    let inv = 1.0 / combine(sum);
    for v in row[..len].iter_mut() {
        *v *= inv;
    }
}

kernel! {
    /// [`softmax_padded_row`] on the first `rows` rows of `plane`, each `stride` long (a
    /// multiple of 16), over their first `len` entries.
    pub fn softmax_padded(plane: &mut [f32], stride: usize, rows: usize, len: usize) {
        for row in plane.chunks_exact_mut(stride).take(rows) {
            softmax_padded_row(row, len);
        }
    }
}

kernel! {
    /// Running maximum over the rows of `rows` (each `max.len()` wide, numbered from 1): where
    /// a row's value is greater than `max`'s, `max` takes it and `arg` the row's number. Ties
    /// keep the earlier row. Branch-free, so it runs on whole vectors.
    pub fn max_rows(rows: &[f32], max: &mut [f32], arg: &mut [u32]) {
        let d = max.len();
        for (t, row) in rows.chunks_exact(d).enumerate() {
            let t = t as u32 + 1;
            for ((m, a), &v) in max.iter_mut().zip(arg.iter_mut()).zip(row) {
                let greater = v > *m;
                *m = if greater { v } else { *m };
                *a = if greater { t } else { *a };
            }
        }
    }
}

kernel! {
    /// Replaces `row` by its softmax.
    pub fn softmax(row: &mut [f32]) {
        let max = lane_max(row);
        for v in row.iter_mut() {
            *v = math::exp(*v - max);
        }
        let inv = 1.0 / lane_sum(row);
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

kernel! {
    /// Softmax backward in place: `g ← p ⊙ (g − Σ g⊙p)`.
    pub fn softmax_backward(g: &mut [f32], p: &[f32]) {
        let dot = lane_dot(g, p);
        for (g, &p) in g.iter_mut().zip(p) {
            *g = p * (*g - dot);
        }
    }
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π)
const INV_SQRT_2PI: f32 = 0.398_942_3;

/// GELU at one point, erf form.
#[inline(always)]
pub fn gelu_value(x: f32) -> f32 {
    0.5 * x * (1.0 + math::erf(x * FRAC_1_SQRT_2))
}

/// GELU's derivative at one point.
#[inline(always)]
pub fn gelu_derivative(x: f32) -> f32 {
    let cdf = 0.5 * (1.0 + math::erf(x * FRAC_1_SQRT_2));
    cdf + x * INV_SQRT_2PI * math::exp(-0.5 * x * x)
}

kernel! {
    /// `y = gelu(x)` element-wise.
    pub fn gelu(x: &[f32], y: &mut [f32]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = gelu_value(x);
        }
    }
}

kernel! {
    /// `dx = dy ⊙ gelu'(x)` element-wise.
    pub fn gelu_backward(x: &[f32], dy: &[f32], dx: &mut [f32]) {
        for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
            *dx = dy * gelu_derivative(x);
        }
    }
}

kernel! {
    /// `out = a + b` element-wise.
    pub fn add(a: &[f32], b: &[f32], out: &mut [f32]) {
        for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
            *o = a + b;
        }
    }
}

kernel! {
    /// Normalises one row: `y = (x − mean)·rstd·γ + β`; returns `(mean, rstd)`.
    pub fn layer_norm_row(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, y: &mut [f32]) -> (f32, f32) {
        layer_norm_row_inline(x, gamma, beta, eps, y)
    }
}

kernel! {
    /// Residual sums and their layer norm in one pass over rows of the norm's width:
    /// `sum = r + (y + bias)` (`r + y` without a bias), then `out` and `stats` (mean, rstd per
    /// row) as [`layer_norm_row`] gives them for `sum` with `norm = (γ, β, eps)`. The same bits as [`residual_bias`]
    /// followed by [`layer_norm_row`].
    pub fn residual_layer_norm(
        r: &[f32],
        y: &[f32],
        bias: Option<&[f32]>,
        norm: (&[f32], &[f32], f32),
        sum: &mut [f32],
        out: &mut [f32],
        stats: &mut [f32],
    ) {
        let (gamma, beta, eps) = norm;
        let w = gamma.len();
        let rows = sum
            .chunks_exact_mut(w)
            .zip(out.chunks_exact_mut(w))
            .zip(stats.chunks_exact_mut(2))
            .zip(r.chunks_exact(w).zip(y.chunks_exact(w)));
        for (((s, o), st), (r, y)) in rows {
            match bias {
                Some(b) => {
                    for i in 0..w {
                        s[i] = r[i] + (y[i] + b[i]);
                    }
                }
                None => {
                    for i in 0..w {
                        s[i] = r[i] + y[i];
                    }
                }
            }
            let (mean, rstd) = layer_norm_row_inline(s, gamma, beta, eps, o);
            st[0] = mean;
            st[1] = rstd;
        }
    }
}

#[inline(always)]
fn layer_norm_row_inline(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    y: &mut [f32],
) -> (f32, f32) {
    {
        let d = x.len() as f32;
        let mean = lane_sum(x) / d;
        let mut acc = [0.0f32; LANES];
        let chunks = x.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..LANES {
                let t = c[i] - mean;
                acc[i] += t * t;
            }
        }
        for (a, &r) in acc.iter_mut().zip(rest) {
            *a += (r - mean) * (r - mean);
        }
        let rstd = 1.0 / (combine(acc) / d + eps).sqrt();
        for (((y, &x), &g), &b) in y.iter_mut().zip(x).zip(gamma).zip(beta) {
            *y = (x - mean) * rstd * g + b;
        }
        (mean, rstd)
    }
}

kernel! {
    /// Input gradient of one normalised row:
    /// `dx = rstd · (γ⊙dy − mean(γ⊙dy) − x̂ · mean(γ⊙dy⊙x̂))`, with `x̂ = (x − mean)·rstd`.
    pub fn layer_norm_row_backward(
        x: &[f32],
        dy: &[f32],
        gamma: &[f32],
        mean: f32,
        rstd: f32,
        dx: &mut [f32],
    ) {
        let d = x.len() as f32;
        // dx temporarily holds γ⊙dy.
        for ((o, &g), &dy) in dx.iter_mut().zip(gamma).zip(dy) {
            *o = g * dy;
        }
        let m1 = lane_sum(dx) / d;
        let mut acc = [0.0f32; LANES];
        let n = x.len() / LANES * LANES;
        for (cx, cg) in x[..n].chunks_exact(LANES).zip(dx[..n].chunks_exact(LANES)) {
            for i in 0..LANES {
                acc[i] += cg[i] * ((cx[i] - mean) * rstd);
            }
        }
        for (a, (&x, &g)) in acc.iter_mut().zip(x[n..].iter().zip(&dx[n..])) {
            *a += g * ((x - mean) * rstd);
        }
        let m2 = combine(acc) / d;
        for (o, &x) in dx.iter_mut().zip(x) {
            *o = rstd * (*o - m1 - (x - mean) * rstd * m2);
        }
    }
}

kernel! {
    /// Adds one row's contribution to the γ and β gradients: `gγ += dy ⊙ x̂`, `gβ += dy`.
    pub fn layer_norm_param_grads(
        x: &[f32],
        dy: &[f32],
        mean: f32,
        rstd: f32,
        g_gamma: &mut [f32],
        g_beta: &mut [f32],
    ) {
        for (((gg, gb), &x), &dy) in g_gamma.iter_mut().zip(g_beta.iter_mut()).zip(x).zip(dy) {
            *gg += dy * ((x - mean) * rstd);
            *gb += dy;
        }
    }
}

/// The random decisions of one dropout mask: which elements survive and how survivors are
/// scaled. Element `i`'s decision depends only on the key and `i`, never on thread layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropoutDraw {
    /// Mask key, from a layer's seed and the pass's stream number.
    pub key: u64,
    /// An element is kept when its 16-bit draw is at least this.
    pub threshold: u32,
    /// Bits of the survivors' scale `1/(1−p)`.
    scale_bits: u32,
}

impl DropoutDraw {
    /// The mask of drop probability `p` for stream `stream` of a layer seeded with `seed`.
    pub fn new(seed: u64, stream: u64, p: f32) -> Self {
        DropoutDraw {
            key: mix64(seed ^ mix64(stream.wrapping_add(0x5851_F42D_4C95_7F2D))),
            threshold: (p * 65_536.0).round().clamp(0.0, 65_536.0) as u32,
            scale_bits: (1.0 / (1.0 - p)).to_bits(),
        }
    }

    /// The factor survivors are multiplied by.
    #[inline(always)]
    pub fn scale(&self) -> f32 {
        f32::from_bits(self.scale_bits)
    }

    /// Whether element `index` is kept. Each 64-bit hash gives four 16-bit draws, for elements
    /// `4k..4k+4`.
    #[inline(always)]
    pub fn keep(&self, index: u64) -> bool {
        let h = mix64(self.key ^ (index >> 2));
        ((h >> ((index & 3) * 16)) & 0xFFFF) as u32 >= self.threshold
    }
}

kernel! {
    /// Inverted dropout of a slice that starts at element `start` of its mask:
    /// `y = keep ? x·scale : 0`, with the decisions written to `mask`.
    pub fn dropout_forward(
        x: &[f32],
        y: &mut [f32],
        mask: &mut [u8],
        draw: DropoutDraw,
        start: u64,
    ) {
        let scale = draw.scale();
        for (i, ((y, m), &x)) in y.iter_mut().zip(mask.iter_mut()).zip(x).enumerate() {
            let keep = draw.keep(start + i as u64);
            *m = keep as u8;
            *y = if keep { x * scale } else { 0.0 };
        }
    }
}

kernel! {
    /// `dx = mask ? dy·scale : 0`.
    pub fn dropout_backward(dy: &[f32], mask: &[u8], scale: f32, dx: &mut [f32]) {
        for ((dx, &m), &dy) in dx.iter_mut().zip(mask).zip(dy) {
            *dx = if m != 0 { dy * scale } else { 0.0 };
        }
    }
}

kernel! {
    /// Adds `bias` to every row of `x` (rows are `bias.len()` wide).
    pub fn add_bias_rows(x: &mut [f32], bias: &[f32]) {
        for row in x.chunks_exact_mut(bias.len()) {
            for (v, &b) in row.iter_mut().zip(bias) {
                *v += b;
            }
        }
    }
}

kernel! {
    /// `u ← u + bias` (per row), then `y = gelu(u)`.
    pub fn bias_gelu(u: &mut [f32], bias: &[f32], y: &mut [f32]) {
        for (urow, yrow) in u.chunks_exact_mut(bias.len()).zip(y.chunks_exact_mut(bias.len())) {
            for ((u, y), &b) in urow.iter_mut().zip(yrow.iter_mut()).zip(bias) {
                *u += b;
                *y = gelu_value(*u);
            }
        }
    }
}

kernel! {
    /// `out = r + (y + bias)` per row.
    pub fn residual_bias(r: &[f32], y: &[f32], bias: &[f32], out: &mut [f32]) {
        let w = bias.len();
        for ((o, r), y) in out.chunks_exact_mut(w).zip(r.chunks_exact(w)).zip(y.chunks_exact(w)) {
            for i in 0..w {
                o[i] = r[i] + (y[i] + bias[i]);
            }
        }
    }
}

kernel! {
    /// `out = r + dropout(y + bias)` per row, for a slice starting at element `start` of the
    /// mask of `draw`; decisions are written to `mask`.
    pub fn residual_bias_dropout(
        r: &[f32],
        y: &[f32],
        bias: &[f32],
        out: &mut [f32],
        mask: &mut [u8],
        draw: DropoutDraw,
        start: u64,
    ) {
        let (w, scale) = (bias.len(), draw.scale());
        for (row, (((o, r), y), m)) in out
            .chunks_exact_mut(w)
            .zip(r.chunks_exact(w))
            .zip(y.chunks_exact(w))
            .zip(mask.chunks_exact_mut(w))
            .enumerate()
        {
            let base = start + (row * w) as u64;
            for i in 0..w {
                let keep = draw.keep(base + i as u64);
                m[i] = keep as u8;
                o[i] = r[i] + if keep { (y[i] + bias[i]) * scale } else { 0.0 };
            }
        }
    }
}

kernel! {
    /// `out = acc · (sa · ws) (+ bias)` element-wise: integer sums of one row scaled back.
    pub fn dequantize_row(acc: &[i32], sa: f32, ws: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
        match bias {
            Some(b) => {
                for (((y, &s), &q), &b) in out.iter_mut().zip(ws).zip(acc).zip(b) {
                    *y = q as f32 * (sa * s) + b;
                }
            }
            None => {
                for ((y, &s), &q) in out.iter_mut().zip(ws).zip(acc) {
                    *y = q as f32 * (sa * s);
                }
            }
        }
    }
}

kernel! {
    /// Symmetric int8 codes of `x` into `codes` (as long as `x`); returns the scale
    /// `max|x| / 127` (0 for a zero row, whose codes are all 0).
    pub fn quantize_row(x: &[f32], codes: &mut [i8]) -> f32 {
        // A comparison rather than `f32::max`, whose NaN rule costs extra instructions per
        // vector (a NaN input yields code 0 either way).
        let mut acc = [0.0f32; LANES];
        let chunks = x.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..LANES {
                let v = c[i].abs();
                acc[i] = if v > acc[i] { v } else { acc[i] };
            }
        }
        for (a, &r) in acc.iter_mut().zip(rest) {
            let v = r.abs();
            *a = if v > *a { v } else { *a };
        }
        let amax = fold_max(acc);
        if amax == 0.0 || !amax.is_finite() {
            codes.fill(0);
            return if amax == 0.0 { 0.0 } else { f32::NAN };
        }
        let inv = 127.0 / amax;
        for (c, &v) in codes.iter_mut().zip(x) {
            // |v · inv| ≤ 127 (plus rounding); adding 1.5 · 2²³ rounds it to the nearest
            // integer, ties to even, which then sits in the low mantissa bits.
            let shifted = (v * inv).clamp(-127.0, 127.0) + math::ROUND_MAGIC;
            *c = (shifted.to_bits() as i32 - math::ROUND_MAGIC.to_bits() as i32) as i8;
        }
        amax / 127.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Padding rows to whole lanes changes no bit of the result.
    #[test]
    fn padded_softmax_equals_softmax_of_the_entries() {
        let mut rng = crate::rng::Rng::new(11);
        for n in 1..80 {
            let row: Vec<f32> = (0..n).map(|_| rng.normal() * 3.0).collect();
            let mut want = row.clone();
            softmax(&mut want);
            let mut got = row.clone();
            got.resize(lane_padded(n), 7.0);
            let stride = got.len();
            softmax_padded(&mut got, stride, 1, n);
            assert_eq!(&got[..n], &want[..], "row of {n}");
            assert!(got[n..].iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn sums_and_softmax_are_correct() {
        let xs: Vec<f32> = (0..37).map(|i| i as f32 * 0.5 - 3.0).collect();
        let naive: f32 = xs.iter().sum();
        assert!((sum(&xs) - naive).abs() < 1e-4);
        assert!((dot(&xs, &xs) - xs.iter().map(|x| x * x).sum::<f32>()).abs() < 1e-2);
        let mut row = xs.clone();
        softmax(&mut row);
        let z: f64 = xs.iter().map(|&x| (x as f64).exp()).sum();
        for (p, &x) in row.iter().zip(&xs) {
            assert!((*p as f64 - (x as f64).exp() / z).abs() < 1e-7);
        }
    }

    #[test]
    fn dropout_draws_have_the_right_rate() {
        let draw = DropoutDraw::new(3, 0, 0.1);
        let kept = (0..100_000u64).filter(|&i| draw.keep(i)).count();
        assert!((kept as f64 / 1e5 - 0.9).abs() < 0.005, "{kept}");
        assert_ne!(draw.key, DropoutDraw::new(3, 1, 0.1).key);
        assert_eq!(draw.scale(), 1.0 / 0.9);
    }

    #[test]
    fn running_maximum_keeps_the_first_of_equal_values() {
        let rows = [1.0, 5.0, -2.0, 5.0, 7.0, -2.0, f32::NAN, 9.0, -2.0];
        let mut max = vec![2.0, 5.0, -3.0];
        let mut arg = vec![0u32; 3];
        max_rows(&rows, &mut max, &mut arg);
        assert_eq!(max, [5.0, 9.0, -2.0]);
        assert_eq!(arg, [2, 3, 1]);
    }
}
