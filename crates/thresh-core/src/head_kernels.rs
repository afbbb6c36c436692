//! One attention head over one sequence, without the general matrix product: the scaled scores
//! `Q Kᵀ · scale` with their row softmax, and the context `P V`.
//!
//! For short sequences the general product spends more time packing its operands and choosing
//! tiles than multiplying. These kernels keep a whole head in registers and L1 instead: `Kᵀ` is
//! copied once to rows of whole vectors, then four query rows at a time accumulate their scores
//! in registers, and four probability rows at a time their context. (Four rows share each
//! vector load, so a length that is not a multiple of four ends with a block that overlaps
//! the one before.) Both products are written in explicit AVX-512 and AVX2 vectors: left to
//! the auto-vectoriser, the same loops once compiled to scalars on the stack after a change
//! elsewhere in the crate.
//!
//! Every output element is the same chain of fused multiply-adds, from zero and in the same
//! order, that the `gemm` crate's blocked kernels compute, followed by the same final scaling,
//! so the results are bit-identical to the [`crate::gemm::matmul`] path where that path uses
//! those kernels: on CPUs with FMA, for 17 to 64 real tokens (below that the crate switches to
//! dot-product kernels, which sum in another order) and heads of 16, 32, 48 or 64. A test
//! checks the equality over every length; [`applies`] says when the kernels may be used.
#![allow(unsafe_code)]

use crate::kernels::{lane_padded, simd_level, softmax_padded, SimdLevel, LANES};

/// Query or probability rows handled together.
const BLOCK: usize = 4;

/// Whether the fused kernels run a head of `len` real tokens and width `dh` (and give the
/// bits of the general product there).
pub fn applies(len: usize, dh: usize) -> bool {
    simd_level() != SimdLevel::Baseline
        && (17..=64).contains(&len)
        && dh.is_multiple_of(LANES)
        && (LANES..=4 * LANES).contains(&dh)
}

/// Scratch the score kernel needs for `Kᵀ`: `dh` rows of `len` rounded up to whole vectors.
pub fn scratch_len(len: usize, dh: usize) -> usize {
    dh * lane_padded(len)
}

/// One head of one sequence in a fused projection's output: row `i` of the queries is
/// `q[i·ld..][..dh]`, and likewise for keys and values, for `len` real tokens.
#[derive(Clone, Copy, Debug)]
pub struct Head<'a> {
    /// Queries, from the head's first column.
    pub q: &'a [f32],
    /// Keys, from the head's first column.
    pub k: &'a [f32],
    /// Values, from the head's first column.
    pub v: &'a [f32],
    /// Distance between rows.
    pub ld: usize,
    /// Real tokens.
    pub len: usize,
    /// Head width.
    pub dh: usize,
}

/// Writes the softmax of `Q Kᵀ · scale` for `head` into its first `len` rows of `probs`
/// (rows `stride` apart, `stride` a multiple of 16 and at least `len`; entries past `len`
/// set to 0); `kt` holds at least [`scratch_len`] values. Requires [`applies`].
pub fn head_probabilities(
    head: &Head,
    scale: f32,
    kt: &mut [f32],
    probs: &mut [f32],
    stride: usize,
) {
    head_probabilities_at(simd_level(), head, scale, kt, probs, stride);
}

/// [`head_probabilities`] at a given level, which the CPU must support (tests run each one).
/// Like the context kernel, written in explicit vectors rather than left to the
/// auto-vectoriser.
fn head_probabilities_at(
    level: SimdLevel,
    head: &Head,
    scale: f32,
    kt: &mut [f32],
    probs: &mut [f32],
    stride: usize,
) {
    let (len, dh) = (head.len, head.dh);
    assert!(applies(len, dh) && stride >= len && stride.is_multiple_of(LANES));
    let width = lane_padded(len);
    // Everything the loops below read and write through pointers.
    assert!(kt.len() >= scratch_len(len, dh), "head scores: scratch");
    assert!(probs.len() >= (len - 1) * stride + width.max(stride), "head scores: rows");
    assert!(head.q.len() >= (len - 1) * head.ld + dh, "head scores: query rows");
    assert!(head.k.len() >= (len - 1) * head.ld + dh, "head scores: key rows");
    // `Kᵀ`, `width` wide: columns past the real keys keep whatever they held; the softmax
    // masks them.
    for j in 0..len {
        for (c, &v) in head.k[j * head.ld..j * head.ld + dh].iter().enumerate() {
            kt[c * width + j] = v;
        }
    }
    assert_runs(level);
    // SAFETY: the CPU runs the level's instructions and the slices hold every row the kernel
    // touches (both checked above).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        if level == SimdLevel::Avx512 {
            x86::scores_avx512(head, scale, kt, probs, stride);
        } else {
            x86::scores_avx2(head, scale, kt, probs, stride);
        }
    }
    softmax_padded(probs, stride, len, len);
}

/// Writes `P V` for `head` into `ctx` (row `i` at `ctx[i·ld..][..dh]`): `P` is the first
/// `len` rows of `p`, `stride` apart, over their first `len` entries. Requires [`applies`].
pub fn head_context(head: &Head, p: &[f32], stride: usize, ctx: &mut [f32], ld: usize) {
    head_context_at(simd_level(), head, p, stride, ctx, ld);
}

/// [`head_context`] at a given level, which the CPU must support (tests run each one).
fn head_context_at(
    level: SimdLevel,
    head: &Head,
    p: &[f32],
    stride: usize,
    ctx: &mut [f32],
    ld: usize,
) {
    let (len, dh) = (head.len, head.dh);
    assert!(applies(len, dh) && stride >= len && ld >= dh);
    // Everything the loops below read and write through pointers.
    assert!(p.len() >= (len - 1) * stride + len, "head context: probability rows");
    assert!(head.v.len() >= (len - 1) * head.ld + dh, "head context: value rows");
    assert!(ctx.len() >= (len - 1) * ld + dh, "head context: output rows");
    assert_runs(level);
    // SAFETY: the CPU runs the level's instructions and the slices hold every row the kernel
    // touches (both checked above).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        if level == SimdLevel::Avx512 {
            x86::context_avx512(head, p, stride, ctx, ld);
        } else {
            x86::context_avx2(head, p, stride, ctx, ld);
        }
    }
}

/// Panics unless this CPU runs the kernels of `level` (AVX-512, or AVX2 with FMA).
fn assert_runs(level: SimdLevel) {
    #[cfg(target_arch = "x86_64")]
    let runs = match level {
        SimdLevel::Avx512 => is_x86_feature_detected!("avx512f"),
        SimdLevel::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        SimdLevel::Baseline => false,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let runs = false;
    assert!(runs, "the fused head kernels do not run at {level} (see `applies`)");
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Head, BLOCK};
    use std::arch::x86_64::*;

    /// `C = P V` four probability rows at a time (the last block ending at the last row),
    /// `NV` vectors of head width in registers per row: for each value row `j`, every
    /// accumulator takes one fused multiply-add `p[i][j] · v[j] + acc`. `$entry` dispatches
    /// on the head width to the listed vector counts.
    macro_rules! context_kernel {
        ($entry:ident, $name:ident, $feature:literal, $lanes:literal, [$($nv:literal),+],
         $zero:ident, $load:ident, $set1:ident, $fma:ident, $store:ident) => {
            /// # Safety
            /// The CPU must support the kernel's features; `p`, `head.v` and `ctx` must hold
            /// `head.len` rows at their strides and `head.dh` must be a listed width
            /// (`head_context_at` asserts both).
            #[target_feature(enable = $feature)]
            pub(super) unsafe fn $entry(
                head: &Head,
                p: &[f32],
                stride: usize,
                ctx: &mut [f32],
                ld: usize,
            ) {
                match head.dh / $lanes {
                    // SAFETY: passed on from the caller.
                    $($nv => unsafe { $name::<$nv>(head, p, stride, ctx, ld) },)+
                    _ => unreachable!("head width {} (see `applies`)", head.dh),
                }
            }

            /// # Safety
            /// As the entry point above.
            #[target_feature(enable = $feature)]
            unsafe fn $name<const NV: usize>(
                head: &Head,
                p: &[f32],
                stride: usize,
                ctx: &mut [f32],
                ld: usize,
            ) {
                let len = head.len;
                let (pp, vp, cp) = (p.as_ptr(), head.v.as_ptr(), ctx.as_mut_ptr());
                for i in (0..len).step_by(BLOCK).map(|i| i.min(len - BLOCK)) {
                    let mut acc = [[$zero(); NV]; BLOCK];
                    for j in 0..len {
                        // SAFETY: row `j < len` of V, `NV · lanes = dh` values, and entry
                        // `j` of probability rows `i..i + 4 <= len` are inside the slices.
                        unsafe {
                            let vr = vp.add(j * head.ld);
                            let v: [_; NV] = std::array::from_fn(|d| $load(vr.add(d * $lanes)));
                            for (r, acc) in acc.iter_mut().enumerate() {
                                let pv = $set1(*pp.add((i + r) * stride + j));
                                for (a, &v) in acc.iter_mut().zip(&v) {
                                    *a = $fma(pv, v, *a);
                                }
                            }
                        }
                    }
                    for (r, acc) in acc.iter().enumerate() {
                        for (d, &a) in acc.iter().enumerate() {
                            // SAFETY: row `i + r < len` of `ctx`, its first `dh` values.
                            unsafe { $store(cp.add((i + r) * ld + d * $lanes), a) };
                        }
                    }
                }
            }
        };
    }

    /// `S = Q Kᵀ · scale` four query rows at a time (the last block ending at the last row),
    /// `NV` vectors of keys in registers per row: for each head column `c`, every accumulator
    /// takes one fused multiply-add `q[i][c] · Kᵀ[c] + acc`; the sums are then scaled. `$entry`
    /// dispatches on the padded key count to the listed vector counts.
    macro_rules! scores_kernel {
        ($entry:ident, $name:ident, $feature:literal, $lanes:literal, [$($nv:literal),+],
         $zero:ident, $load:ident, $set1:ident, $fma:ident, $mul:ident, $store:ident) => {
            /// # Safety
            /// The CPU must support the kernel's features; `kt` must hold `dh` rows of the
            /// padded key count, `probs` `len` rows of `stride` (at least that count) and
            /// `head.q` `len` rows (`head_probabilities_at` asserts all three).
            #[target_feature(enable = $feature)]
            pub(super) unsafe fn $entry(
                head: &Head,
                scale: f32,
                kt: &[f32],
                probs: &mut [f32],
                stride: usize,
            ) {
                match crate::kernels::lane_padded(head.len) / $lanes {
                    // SAFETY: passed on from the caller.
                    $($nv => unsafe { $name::<$nv>(head, scale, kt, probs, stride) },)+
                    _ => unreachable!("{} keys (see `applies`)", head.len),
                }
            }

            /// # Safety
            /// As the entry point above.
            #[target_feature(enable = $feature)]
            unsafe fn $name<const NV: usize>(
                head: &Head,
                scale: f32,
                kt: &[f32],
                probs: &mut [f32],
                stride: usize,
            ) {
                let (len, dh, width) = (head.len, head.dh, NV * $lanes);
                let (qp, kp, op) = (head.q.as_ptr(), kt.as_ptr(), probs.as_mut_ptr());
                let scale = $set1(scale);
                for i in (0..len).step_by(BLOCK).map(|i| i.min(len - BLOCK)) {
                    let mut acc = [[$zero(); NV]; BLOCK];
                    for c in 0..dh {
                        // SAFETY: row `c < dh` of `Kᵀ` (`width` values) and column `c` of
                        // query rows `i..i + 4 <= len` are inside the slices.
                        unsafe {
                            let kr = kp.add(c * width);
                            let k: [_; NV] = std::array::from_fn(|v| $load(kr.add(v * $lanes)));
                            for (r, acc) in acc.iter_mut().enumerate() {
                                let qv = $set1(*qp.add((i + r) * head.ld + c));
                                for (a, &k) in acc.iter_mut().zip(&k) {
                                    *a = $fma(qv, k, *a);
                                }
                            }
                        }
                    }
                    for (r, acc) in acc.iter().enumerate() {
                        for (v, &a) in acc.iter().enumerate() {
                            // SAFETY: row `i + r < len` of `probs`, `width <= stride` values.
                            unsafe { $store(op.add((i + r) * stride + v * $lanes), $mul(scale, a)) };
                        }
                    }
                }
            }
        };
    }

    scores_kernel!(
        scores_avx512,
        scores_512,
        "avx512f",
        16,
        [2, 3, 4],
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_mul_ps,
        _mm512_storeu_ps
    );
    scores_kernel!(
        scores_avx2,
        scores_256,
        "avx2,fma",
        8,
        [4, 6, 8],
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_mul_ps,
        _mm256_storeu_ps
    );

    context_kernel!(
        context_avx512,
        context_512,
        "avx512f",
        16,
        [1, 2, 3, 4],
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_storeu_ps
    );
    context_kernel!(
        context_avx2,
        context_256,
        "avx2,fma",
        8,
        [2, 4, 6, 8],
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_storeu_ps
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::{matmul, View};
    use crate::rng::Rng;

    /// The vector levels this CPU runs.
    fn levels() -> Vec<SimdLevel> {
        let mut out = vec![SimdLevel::Avx2];
        if simd_level() == SimdLevel::Avx512 {
            out.push(SimdLevel::Avx512);
        }
        out
    }

    /// Both kernels against the general product and softmax, bit for bit, for every length
    /// they take and every head width, on strided rows as the attention layer lays them out.
    #[test]
    fn fused_head_equals_the_general_product_bit_for_bit() {
        if simd_level() == SimdLevel::Baseline {
            eprintln!("skipped: the fused head kernels need FMA");
            return;
        }
        let mut rng = Rng::new(9);
        for dh in [16, 32, 48, 64] {
            let heads = 3;
            let d = heads * dh;
            let ld = 3 * d;
            for len in 17..=64 {
                assert!(applies(len, dh));
                let seq = len + 3;
                let stride = lane_padded(seq);
                let qkv: Vec<f32> = (0..seq * ld).map(|_| rng.normal() * 2.0).collect();
                let scale = 1.0 / (dh as f32).sqrt();
                let h = 1;
                let (q, k, v) = (&qkv[h * dh..], &qkv[d + h * dh..], &qkv[2 * d + h * dh..]);
                let mut want = vec![0.0f32; seq * stride];
                matmul(
                    &mut want,
                    stride,
                    View::strided(q, len, dh, ld),
                    View::strided(k, len, dh, ld).t(),
                    scale,
                    false,
                    false,
                );
                softmax_padded(&mut want, stride, len, len);
                let head = Head { q, k, v, ld, len, dh };
                for level in levels() {
                    let mut got = vec![f32::NAN; seq * stride];
                    let mut kt = vec![0.0f32; scratch_len(len, dh)];
                    head_probabilities_at(level, &head, scale, &mut kt, &mut got, stride);
                    assert_eq!(
                        got[..len * stride].iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        want[..len * stride].iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        "probabilities at {level}, len {len}, dh {dh}"
                    );
                }
                let mut want_ctx = vec![0.0f32; seq * d];
                matmul(
                    &mut want_ctx[h * dh..],
                    d,
                    View::strided(&want, len, len, stride),
                    View::strided(v, len, dh, ld),
                    1.0,
                    false,
                    false,
                );
                for level in levels() {
                    let mut got_ctx = vec![0.0f32; seq * d];
                    head_context_at(level, &head, &want, stride, &mut got_ctx[h * dh..], d);
                    assert_eq!(
                        got_ctx.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        want_ctx.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        "context at {level}, len {len}, dh {dh}"
                    );
                }
            }
        }
        assert!(!applies(16, 32) && !applies(65, 32) && !applies(20, 24) && !applies(20, 80));
    }
}
