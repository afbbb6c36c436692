//! Integer matrix products for int8-quantised layers.
//!
//! A quantised layer multiplies activations `A` (`rows × k`, int8, one scale per row, made at
//! run time) by weights `W` (`n × k`, int8, one scale per output channel, made once) with
//! 32-bit integer accumulation, then scales each sum back to `f32`:
//! `y[r][o] = (Σ_c A[r][c]·W[o][c]) · a_scale[r] · w_scale[o] + bias[o]`.
//!
//! Weights are packed once into blocks of 16 output channels by 4 inputs (64 bytes), the shape
//! of one AVX-512 register, so a kernel broadcasts four activation bytes and multiplies them
//! with 16 channels at a time; no horizontal sums are needed. Three kernels share that layout
//! and are chosen at run time:
//!
//! - **AVX-512 VNNI** (`vpdpbusd`): unsigned-by-signed byte products summed in fours straight
//!   into 32-bit lanes. Activations are shifted to unsigned by adding 128; the extra
//!   `128 · Σ_c W[o][c]` is precomputed per channel and subtracted.
//! - **AVX2** (`vpmaddubsw` + `vpmaddwd`): `vpmaddubsw` multiplies unsigned by signed bytes and
//!   adds pairs into saturating 16-bit lanes. Feeding it `|a|` and `sign(a)·w` keeps both
//!   factors within ±127, so a pair sum is at most 2·127² = 32,258 and never saturates.
//! - **Portable**: the same sums in plain integer loops.
//!
//! Codes are symmetric in `[-127, 127]` on both sides. Integer sums are exact, so every kernel
//! gives the same 32-bit sums and, through one shared epilogue, bit-identical outputs; the
//! choice only changes speed.
//!
//! Like [`crate::gemm`] and [`crate::kernels`], this module holds `unsafe` code: SIMD loads
//! through raw pointers (each bounded by the slice checks at the entry points) and calls to
//! functions compiled with `#[target_feature]` (guarded by run-time detection).
#![allow(unsafe_code)]

use rayon::prelude::*;
use std::sync::OnceLock;

/// Output channels per packed block.
pub const BLOCK: usize = 16;
/// Inputs per packed group (the depth of one `vpdpbusd`).
const KSTEP: usize = 4;
/// Largest code magnitude.
pub const QMAX: f32 = 127.0;
/// Inputs per AMX tile row: the AMX kernel takes depths that are a multiple of it.
const AMX_TILE_K: usize = 64;

#[cfg(target_arch = "x86_64")]
mod amx;

/// Which integer kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Kernel {
    /// Intel AMX tiles (with the VNNI kernel for depths that are not a multiple of 64).
    Amx,
    /// AVX-512 with VNNI.
    Vnni,
    /// AVX2.
    Avx2,
    /// Plain Rust.
    Portable,
}

impl std::fmt::Display for Int8Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Int8Kernel::Amx => "amx-int8",
            Int8Kernel::Vnni => "avx512-vnni",
            Int8Kernel::Avx2 => "avx2",
            Int8Kernel::Portable => "portable",
        })
    }
}

impl Int8Kernel {
    /// Every kernel this CPU can run, fastest first.
    pub fn available() -> Vec<Int8Kernel> {
        let mut out = Vec::new();
        if detect_amx() {
            out.push(Int8Kernel::Amx);
        }
        if detect_vnni() {
            out.push(Int8Kernel::Vnni);
        }
        if detect_avx2() {
            out.push(Int8Kernel::Avx2);
        }
        out.push(Int8Kernel::Portable);
        out
    }
}

#[cfg(target_arch = "x86_64")]
fn detect_vnni() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
}

#[cfg(target_arch = "x86_64")]
fn detect_avx2() -> bool {
    is_x86_feature_detected!("avx2")
}

#[cfg(target_arch = "x86_64")]
fn detect_amx() -> bool {
    amx::detect()
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_amx() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_vnni() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_avx2() -> bool {
    false
}

/// The kernel [`qmatmul`] uses: the fastest available, detected once. `THRESH_SIMD=avx512`
/// (no AMX), `THRESH_SIMD=avx2` or `THRESH_SIMD=baseline` lowers it, as for the
/// floating-point kernels.
pub fn int8_kernel() -> Int8Kernel {
    static KERNEL: OnceLock<Int8Kernel> = OnceLock::new();
    *KERNEL.get_or_init(|| {
        let best = Int8Kernel::available()[0];
        match std::env::var("THRESH_SIMD").as_deref() {
            Ok("baseline") => Int8Kernel::Portable,
            Ok("avx2") if matches!(best, Int8Kernel::Amx | Int8Kernel::Vnni) => Int8Kernel::Avx2,
            Ok("avx512") if best == Int8Kernel::Amx => Int8Kernel::Vnni,
            _ => best,
        }
    })
}

/// Symmetric int8 codes of one row and its scale: `code = round(x / scale)` with
/// `scale = max|x| / 127`, so the largest value maps to ±127. A zero row has scale 0.
pub fn quantize_row(x: &[f32], codes: &mut [i8]) -> f32 {
    crate::kernels::quantize_row(x, codes)
}

/// Weights packed for [`qmatmul`]: `n` output channels of `k` inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedWeights {
    n: usize,
    k: usize,
    /// `k` rounded up to a multiple of 4.
    kp: usize,
    /// `[n/16][kp/4][16][4]` codes, zero-padded.
    data: Vec<i8>,
    /// Per padded channel, `128 · Σ_c W[o][c]` (the VNNI kernel's offset correction).
    offsets: Vec<i32>,
}

impl PackedWeights {
    /// Packs row-major codes `[n, k]`.
    ///
    /// # Panics
    /// When `codes` is not `n · k` long or holds -128 (codes are symmetric).
    pub fn pack(codes: &[i8], n: usize, k: usize) -> Self {
        assert_eq!(codes.len(), n * k, "packed weights: {n} x {k} codes expected");
        assert!(codes.iter().all(|&c| c != i8::MIN), "int8 weight codes must lie in [-127, 127]");
        let kp = k.div_ceil(KSTEP) * KSTEP;
        let blocks = n.div_ceil(BLOCK);
        let groups = kp / KSTEP;
        let mut data = vec![0i8; blocks * groups * BLOCK * KSTEP];
        let mut offsets = vec![0i32; blocks * BLOCK];
        for o in 0..n {
            let (b, j) = (o / BLOCK, o % BLOCK);
            let row = &codes[o * k..(o + 1) * k];
            for (c, &w) in row.iter().enumerate() {
                data[((b * groups + c / KSTEP) * BLOCK + j) * KSTEP + c % KSTEP] = w;
            }
            offsets[o] = 128 * row.iter().map(|&w| w as i32).sum::<i32>();
        }
        PackedWeights { n, k, kp, data, offsets }
    }

    /// Output channels.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Inputs per channel.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Row stride of the activation codes [`qmatmul`] expects (`k` rounded up to 4).
    pub fn padded_k(&self) -> usize {
        self.kp
    }

    fn blocks(&self) -> usize {
        self.n.div_ceil(BLOCK)
    }
}

/// Int8 activations: `rows` rows of codes at stride [`PackedWeights::padded_k`], zero-padded,
/// and one scale per row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuantizedRows {
    /// Codes, `rows × stride`.
    pub codes: Vec<i8>,
    /// Scale of each row.
    pub scales: Vec<f32>,
    /// Row stride of `codes`.
    pub stride: usize,
}

impl QuantizedRows {
    /// Quantises the `k`-wide rows of `x` into this buffer with row stride `stride ≥ k`.
    pub fn quantize(&mut self, x: &[f32], k: usize, stride: usize) {
        assert!(stride >= k && k > 0, "quantized rows: stride {stride} below width {k}");
        let rows = x.len() / k;
        assert_eq!(rows * k, x.len(), "quantized rows: input is not whole rows of {k}");
        self.stride = stride;
        self.codes.clear();
        self.codes.resize(rows * stride, 0);
        self.scales.resize(rows, 0.0);
        let per = crate::threads::rows_per_task(k);
        self.codes
            .par_chunks_mut(per * stride)
            .zip(self.scales.par_chunks_mut(per))
            .zip(x.par_chunks(per * k))
            .for_each(|((codes, scales), x)| {
                for ((c, s), x) in codes.chunks_mut(stride).zip(scales).zip(x.chunks(k)) {
                    *s = quantize_row(x, &mut c[..k]);
                }
            });
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.scales.len()
    }
}

/// `dst[r·n + o] = (Σ_c a[r][c]·w[o][c]) · a.scales[r] · w_scales[o] (+ bias[o])`, for
/// `dst` row-major `rows × n`. `parallel` splits the rows over the current rayon pool.
///
/// # Panics
/// When the shapes disagree (programming errors, never consequences of user input).
pub fn qmatmul(
    dst: &mut [f32],
    a: &QuantizedRows,
    w: &PackedWeights,
    w_scales: &[f32],
    bias: Option<&[f32]>,
    parallel: bool,
) {
    qmatmul_with(int8_kernel(), dst, a, w, w_scales, bias, parallel)
}

/// [`qmatmul`] with a chosen kernel.
///
/// # Panics
/// As [`qmatmul`], and when `kernel` is not in [`Int8Kernel::available`].
pub fn qmatmul_with(
    kernel: Int8Kernel,
    dst: &mut [f32],
    a: &QuantizedRows,
    w: &PackedWeights,
    w_scales: &[f32],
    bias: Option<&[f32]>,
    parallel: bool,
) {
    let (rows, n) = (a.rows(), w.n);
    assert_eq!(a.stride, w.kp, "qmatmul: activation stride {} vs padded width {}", a.stride, w.kp);
    assert_eq!(a.codes.len(), rows * w.kp, "qmatmul: activation codes");
    check_output("qmatmul", dst, rows, w, w_scales, bias);
    let supported = match kernel {
        Int8Kernel::Amx => detect_amx(),
        Int8Kernel::Vnni => detect_vnni(),
        Int8Kernel::Avx2 => detect_avx2(),
        Int8Kernel::Portable => true,
    };
    assert!(supported, "qmatmul: {kernel} unavailable");
    if rows == 0 || n == 0 {
        return;
    }
    let job = |codes, scales, dst: &mut [f32]| {
        let job = Job { codes, scales, w, w_scales, bias, kernel };
        job.panel(dst);
    };
    let per = rows_per_panel(rows);
    let kp = w.kp;
    if parallel && rows > per {
        dst.par_chunks_mut(per * n)
            .zip(a.codes.par_chunks(per * kp))
            .zip(a.scales.par_chunks(per))
            .for_each(|((d, c), s)| job(c, s, d));
    } else {
        job(&a.codes, &a.scales, dst);
    }
}

/// The shape checks both entry points share: `dst` is `rows × n`, one scale (and bias) per
/// output channel.
fn check_output(
    what: &str,
    dst: &[f32],
    rows: usize,
    w: &PackedWeights,
    w_scales: &[f32],
    bias: Option<&[f32]>,
) {
    let n = w.n;
    assert_eq!(dst.len(), rows * n, "{what}: destination is not {rows} x {n}");
    assert_eq!(w_scales.len(), n, "{what}: weight scales");
    if let Some(b) = bias {
        assert_eq!(b.len(), n, "{what}: bias");
    }
}

/// Rows per parallel panel: a few panels per thread, whole row blocks, and at least 128 rows
/// (a smaller product is faster on one thread than split). Every output element is one exact
/// integer sum and one scaling, so the split (unlike a float reduction's) cannot change any
/// result.
fn rows_per_panel(rows: usize) -> usize {
    let tasks = 4 * rayon::current_num_threads();
    rows.div_ceil(tasks).max(128).div_ceil(4) * 4
}

/// Quantises the `w.k()`-wide rows of `x` into `a` and multiplies them as [`qmatmul`] does,
/// in one pass (parallel with `parallel`): each task quantises the rows it then multiplies,
/// while they are in cache.
pub fn quantize_and_multiply(
    dst: &mut [f32],
    x: &[f32],
    a: &mut QuantizedRows,
    w: &PackedWeights,
    w_scales: &[f32],
    bias: Option<&[f32]>,
    parallel: bool,
) {
    let (k, kp, n) = (w.k, w.kp, w.n);
    assert!(k > 0, "quantize_and_multiply: empty rows");
    let rows = x.len() / k;
    assert_eq!(rows * k, x.len(), "quantize_and_multiply: input is not whole rows of {k}");
    check_output("quantize_and_multiply", dst, rows, w, w_scales, bias);
    a.stride = kp;
    // Every code is written below (the padding columns too), so the buffer is only resized.
    a.codes.resize(rows * kp, 0);
    a.scales.resize(rows, 0.0);
    if rows == 0 || n == 0 {
        return;
    }
    let kernel = int8_kernel();
    let task = |codes: &mut [i8], scales: &mut [f32], x: &[f32], dst: &mut [f32]| {
        for ((c, s), x) in codes.chunks_mut(kp).zip(scales.iter_mut()).zip(x.chunks(k)) {
            *s = quantize_row(x, &mut c[..k]);
            c[k..].fill(0);
        }
        let job = Job { codes: &*codes, scales: &*scales, w, w_scales, bias, kernel };
        job.panel(dst);
    };
    let per = rows_per_panel(rows);
    if parallel && rows > per {
        a.codes
            .par_chunks_mut(per * kp)
            .zip(a.scales.par_chunks_mut(per))
            .zip(x.par_chunks(per * k))
            .zip(dst.par_chunks_mut(per * n))
            .for_each(|(((c, s), x), d)| task(c, s, x, d));
    } else {
        task(&mut a.codes, &mut a.scales, x, dst);
    }
}

/// One panel's product: activation rows (codes at the weights' padded stride, scales) by the
/// packed weights.
struct Job<'a> {
    codes: &'a [i8],
    scales: &'a [f32],
    w: &'a PackedWeights,
    w_scales: &'a [f32],
    bias: Option<&'a [f32]>,
    kernel: Int8Kernel,
}

/// Accumulators of one micro-tile: up to 4 rows by up to 4 blocks of 16 channels.
type Tile = [[i32; 4 * BLOCK]; 4];

impl Job<'_> {
    /// The panel's output rows, `dst` holding whole rows.
    fn panel(&self, dst: &mut [f32]) {
        let n = self.w.n;
        let rows = dst.len() / n;
        let blocks = self.w.blocks();
        let (max_rows, max_blocks) = match self.kernel {
            // AMX takes every block in one call (it loads its tile configuration once per
            // call), but hands depths that are not a multiple of 64 to the VNNI kernel.
            Int8Kernel::Amx if self.w.kp.is_multiple_of(AMX_TILE_K) => (4, blocks),
            Int8Kernel::Amx | Int8Kernel::Vnni => (4, 4),
            Int8Kernel::Avx2 => (2, 2),
            Int8Kernel::Portable => (4, 4),
        };
        let mut tile: Tile = [[0; 4 * BLOCK]; 4];
        let mut b0 = 0;
        while b0 < blocks {
            let nb = (blocks - b0).min(max_blocks);
            if self.fused(0, rows, b0, nb, dst) {
                b0 += nb;
                continue;
            }
            let mut r = 0;
            while r < rows {
                let nr = (rows - r).min(max_rows);
                let out = &mut dst[r * n..(r + nr) * n];
                self.micro(r, nr, b0, nb, &mut tile);
                self.epilogue(&tile, r, nr, b0, nb, out);
                r += nr;
            }
            b0 += nb;
        }
    }

    /// The AMX or VNNI kernel with its own epilogue over `nr` rows (any number) and `nb`
    /// blocks: writes `out` directly. Returns false (doing nothing) for the other kernels.
    fn fused(&self, r: usize, nr: usize, b0: usize, nb: usize, out: &mut [f32]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if matches!(self.kernel, Int8Kernel::Amx | Int8Kernel::Vnni) {
            let kp = self.w.kp;
            let groups = kp / KSTEP;
            let (o0, o1) = (b0 * BLOCK, ((b0 + nb) * BLOCK).min(self.w.n));
            let ctx = x86::Epilogue {
                a_scales: &self.scales[r..r + nr],
                w_scales: &self.w_scales[o0..o1],
                bias: self.bias.map(|b| &b[o0..o1]),
                ld: self.w.n,
                col: o0,
            };
            let a = &self.codes[r * kp..(r + nr) * kp];
            let w = &self.w.data[b0 * groups * BLOCK * KSTEP..(b0 + nb) * groups * BLOCK * KSTEP];
            let off = &self.w.offsets[b0 * BLOCK..(b0 + nb) * BLOCK];
            // SAFETY: `qmatmul_with` checked that this CPU runs the chosen kernel (AMX implies
            // VNNI); the slices hold exactly `nr` rows and `nb` blocks, and `out` holds `nr`
            // rows of `ld`.
            unsafe {
                if self.kernel == Int8Kernel::Amx && kp.is_multiple_of(AMX_TILE_K) {
                    amx::amx_panel(a, w, kp, nr, nb, &ctx, out);
                } else {
                    x86::vnni_panel(a, w, off, kp, nr, nb, &ctx, out);
                }
            }
            return true;
        }
        let _ = (r, nr, b0, nb, out);
        false
    }

    fn micro(&self, r: usize, nr: usize, b0: usize, nb: usize, tile: &mut Tile) {
        let kp = self.w.kp;
        let a = &self.codes[r * kp..(r + nr) * kp];
        let groups = kp / KSTEP;
        let w = &self.w.data[b0 * groups * BLOCK * KSTEP..(b0 + nb) * groups * BLOCK * KSTEP];
        match self.kernel {
            Int8Kernel::Amx | Int8Kernel::Vnni => {
                unreachable!("the AMX and VNNI kernels write their outputs themselves")
            }
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `qmatmul_with` checked that this CPU runs AVX2; the slices hold exactly
            // `nr` rows and `nb` blocks, which is what it reads.
            Int8Kernel::Avx2 => unsafe { x86::avx2(a, w, kp, nr, nb, tile) },
            _ => portable(a, w, kp, nr, nb, tile),
        }
    }

    /// Scales a tile back to `f32` into `dst` (`nr` whole output rows).
    fn epilogue(&self, tile: &Tile, r: usize, nr: usize, b0: usize, nb: usize, dst: &mut [f32]) {
        let n = self.w.n;
        let o0 = b0 * BLOCK;
        let o1 = ((b0 + nb) * BLOCK).min(n);
        let ws = &self.w_scales[o0..o1];
        for i in 0..nr {
            let sa = self.scales[r + i];
            let out = &mut dst[i * n + o0..i * n + o1];
            let acc = &tile[i][..o1 - o0];
            let bias = self.bias.map(|b| &b[o0..o1]);
            crate::kernels::dequantize_row(acc, sa, ws, bias, out);
        }
    }
}

/// Integer sums in plain loops over the packed layout.
fn portable(a: &[i8], w: &[i8], kp: usize, nr: usize, nb: usize, tile: &mut Tile) {
    let groups = kp / KSTEP;
    for (i, acc_row) in tile.iter_mut().enumerate().take(nr) {
        let a_row = &a[i * kp..(i + 1) * kp];
        for b in 0..nb {
            let acc = &mut acc_row[b * BLOCK..(b + 1) * BLOCK];
            acc.fill(0);
            for g in 0..groups {
                let wg = &w[(b * groups + g) * BLOCK * KSTEP..(b * groups + g + 1) * BLOCK * KSTEP];
                let ag = &a_row[g * KSTEP..(g + 1) * KSTEP];
                for (j, acc) in acc.iter_mut().enumerate() {
                    let wj = &wg[j * KSTEP..(j + 1) * KSTEP];
                    *acc += ag.iter().zip(wj).map(|(&x, &y)| x as i32 * y as i32).sum::<i32>();
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Tile, BLOCK, KSTEP};
    use std::arch::x86_64::*;

    /// Four activation bytes of row `i`, group `g`, as one 32-bit lane.
    #[inline(always)]
    fn quad(a: &[i8], kp: usize, i: usize, g: usize) -> i32 {
        let s = &a[i * kp + g * KSTEP..i * kp + g * KSTEP + KSTEP];
        i32::from_le_bytes([s[0] as u8, s[1] as u8, s[2] as u8, s[3] as u8])
    }

    /// What the fused AVX-512 kernels need to scale their sums: row and channel scales, the
    /// bias of their channels, the output row stride and the first output column.
    #[derive(Clone, Copy)]
    pub(super) struct Epilogue<'a> {
        pub a_scales: &'a [f32],
        pub w_scales: &'a [f32],
        pub bias: Option<&'a [f32]>,
        pub ld: usize,
        pub col: usize,
    }

    /// Block `b`'s channels as vectors: the mask of those that exist, their scales and bias.
    pub(super) struct BlockScales {
        mask: __mmask16,
        scales: __m512,
        bias: Option<__m512>,
    }

    impl Epilogue<'_> {
        /// Checks that the scales, bias and `out` cover `rows` rows (at least one) and `blocks`
        /// blocks, the last possibly partial: what [`Epilogue::store_row`] relies on.
        pub(super) fn check(&self, rows: usize, blocks: usize, out: &[f32]) {
            let valid = self.w_scales.len();
            assert!(rows > 0 && self.a_scales.len() >= rows, "epilogue: row scales");
            assert!(valid > (blocks - 1) * BLOCK && valid <= blocks * BLOCK, "epilogue: blocks");
            assert!(self.bias.is_none_or(|b| b.len() == valid), "epilogue: bias");
            assert!(out.len() >= (rows - 1) * self.ld + self.col + valid, "epilogue: output");
        }

        /// The scales and bias of block `b` (16 channels from `b · 16`, the last possibly
        /// partial); masked loads touch only the channels that exist.
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub(super) fn block(&self, b: usize) -> BlockScales {
            let lanes = (self.w_scales.len() - b * BLOCK).min(BLOCK);
            let mask: __mmask16 = if lanes == BLOCK { !0 } else { (1u16 << lanes) - 1 };
            // SAFETY: the mask reads only the `lanes` channels from `b · 16` that exist.
            unsafe {
                BlockScales {
                    mask,
                    scales: _mm512_maskz_loadu_ps(mask, self.w_scales.as_ptr().add(b * BLOCK)),
                    bias: self.bias.map(|p| _mm512_maskz_loadu_ps(mask, p.as_ptr().add(b * BLOCK))),
                }
            }
        }

        /// Writes `sums · (scale of row r · channel scales) + bias` into row `r`, block `b` of
        /// the output: the one epilogue of the AVX-512 kernels, so their bits agree.
        ///
        /// # Safety
        /// `out` must hold row `r` of `ld` up to the block's last existing channel.
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn store_row(
            &self,
            sums: __m512i,
            r: usize,
            b: usize,
            block: &BlockScales,
            out: &mut [f32],
        ) {
            let q = _mm512_cvtepi32_ps(sums);
            let mut y =
                _mm512_mul_ps(q, _mm512_mul_ps(_mm512_set1_ps(self.a_scales[r]), block.scales));
            if let Some(bias) = block.bias {
                y = _mm512_add_ps(y, bias);
            }
            let at = r * self.ld + self.col + b * BLOCK;
            // SAFETY: the caller's guarantee; the mask writes only existing channels.
            unsafe { _mm512_mask_storeu_ps(out.as_mut_ptr().add(at), block.mask, y) };
        }
    }

    /// Sums for `nr` rows (any number, four at a time) and `nb` blocks (at most 4) with
    /// `vpdpbusd`, then the epilogue in registers, storing `f32` outputs into `out`.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW and VNNI. `a` holds `nr` rows of `kp` codes, `w`
    /// `nb` packed blocks of `kp / 4` groups and `off` their `nb · 16` offsets; `out` holds
    /// `nr` rows of `ctx.ld` and `ctx` the channels of the `nb` blocks (the last may be
    /// partial).
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn vnni_panel(
        a: &[i8],
        w: &[i8],
        off: &[i32],
        kp: usize,
        nr: usize,
        nb: usize,
        ctx: &Epilogue<'_>,
        out: &mut [f32],
    ) {
        let mut r = 0;
        while r < nr {
            let rows = (nr - r).min(4);
            let ctx = Epilogue { a_scales: &ctx.a_scales[r..r + rows], ..*ctx };
            let a = &a[r * kp..(r + rows) * kp];
            let out = &mut out[r * ctx.ld..(r + rows) * ctx.ld];
            macro_rules! go {
                ($r:literal, $b:literal) => {
                    vnni_fused_tile::<$r, $b>(a, w, off, kp, &ctx, out)
                };
            }
            match (rows, nb) {
                (4, 4) => go!(4, 4),
                (4, 3) => go!(4, 3),
                (4, 2) => go!(4, 2),
                (4, 1) => go!(4, 1),
                (3, 4) => go!(3, 4),
                (3, 3) => go!(3, 3),
                (3, 2) => go!(3, 2),
                (3, 1) => go!(3, 1),
                (2, 4) => go!(2, 4),
                (2, 3) => go!(2, 3),
                (2, 2) => go!(2, 2),
                (2, 1) => go!(2, 1),
                (1, 4) => go!(1, 4),
                (1, 3) => go!(1, 3),
                (1, 2) => go!(1, 2),
                (1, 1) => go!(1, 1),
                _ => unreachable!("micro-tile of {rows} rows by {nb} blocks"),
            }
            r += rows;
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn vnni_fused_tile<const R: usize, const B: usize>(
        a: &[i8],
        w: &[i8],
        off: &[i32],
        kp: usize,
        ctx: &Epilogue<'_>,
        out: &mut [f32],
    ) {
        let groups = kp / KSTEP;
        assert!(a.len() >= R * kp && w.len() >= B * groups * 64 && off.len() >= B * BLOCK);
        ctx.check(R, B, out);
        let mut acc = [[_mm512_setzero_si512(); B]; R];
        let flip = 0x8080_8080u32 as i32;
        // Raw pointers in the loop: with slice indexing, the bounds checks and the reloads
        // they need took more issue slots than the multiply-adds.
        let (a, w) = (a.as_ptr(), w.as_ptr());
        for g in 0..groups {
            let mut wv = [_mm512_setzero_si512(); B];
            for (b, v) in wv.iter_mut().enumerate() {
                // SAFETY: the assertion above bounds block `b`, group `g` (64 bytes) inside `w`.
                *v = unsafe { _mm512_loadu_si512(w.add((b * groups + g) * 64).cast()) };
            }
            for (i, acc_row) in acc.iter_mut().enumerate() {
                // SAFETY: row `i < R`, bytes `4g..4g + 4 <= kp` of it, inside `a` (asserted).
                let quad = unsafe { a.add(i * kp + g * KSTEP).cast::<i32>().read_unaligned() };
                let av = _mm512_set1_epi32(quad ^ flip);
                for (acc, &wv) in acc_row.iter_mut().zip(&wv) {
                    *acc = _mm512_dpbusd_epi32(*acc, av, wv);
                }
            }
        }
        for b in 0..B {
            let block = ctx.block(b);
            // SAFETY: `off` holds the 16 offsets of every block, and `out` rows `0..R` up to
            // the last existing channel (both asserted above).
            unsafe {
                let o = _mm512_loadu_si512(off.as_ptr().add(b * BLOCK).cast());
                for (i, acc_row) in acc.iter().enumerate() {
                    ctx.store_row(_mm512_sub_epi32(acc_row[b], o), i, b, &block, out);
                }
            }
        }
    }

    /// Sums for `nr` and `nb` (both at most 2) with `vpmaddubsw` and the sign trick.
    ///
    /// # Safety
    /// The CPU must support AVX2. `a` holds `nr` rows of `kp` codes and `w` `nb` packed blocks.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2(
        a: &[i8],
        w: &[i8],
        kp: usize,
        nr: usize,
        nb: usize,
        tile: &mut Tile,
    ) {
        match (nr, nb) {
            (2, 2) => avx2_tile::<2, 2>(a, w, kp, tile),
            (2, 1) => avx2_tile::<2, 1>(a, w, kp, tile),
            (1, 2) => avx2_tile::<1, 2>(a, w, kp, tile),
            (1, 1) => avx2_tile::<1, 1>(a, w, kp, tile),
            _ => unreachable!("micro-tile of {nr} rows by {nb} blocks"),
        }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn avx2_tile<const R: usize, const B: usize>(a: &[i8], w: &[i8], kp: usize, tile: &mut Tile) {
        let groups = kp / KSTEP;
        assert!(a.len() >= R * kp && w.len() >= B * groups * 64);
        let ones = _mm256_set1_epi16(1);
        // Two 256-bit halves (8 channels each) per block.
        let mut acc = [[[_mm256_setzero_si256(); 2]; B]; R];
        for g in 0..groups {
            let mut wv = [[_mm256_setzero_si256(); 2]; B];
            for (b, v) in wv.iter_mut().enumerate() {
                for (h, v) in v.iter_mut().enumerate() {
                    let at = (b * groups + g) * 64 + h * 32;
                    // SAFETY: the assertion above bounds these 32 bytes inside `w`.
                    *v = unsafe { _mm256_loadu_si256(w.as_ptr().add(at).cast()) };
                }
            }
            for (i, acc_row) in acc.iter_mut().enumerate() {
                let av = _mm256_set1_epi32(quad(a, kp, i, g));
                let abs = _mm256_abs_epi8(av);
                for (acc, wv) in acc_row.iter_mut().zip(&wv) {
                    for (acc, &wv) in acc.iter_mut().zip(wv) {
                        let signed = _mm256_sign_epi8(wv, av);
                        let pairs = _mm256_maddubs_epi16(abs, signed);
                        *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, ones));
                    }
                }
            }
        }
        for (i, acc_row) in acc.iter().enumerate() {
            for (b, acc) in acc_row.iter().enumerate() {
                for (h, &v) in acc.iter().enumerate() {
                    // SAFETY: block `b` < 2, half `h` < 2: 8 lanes inside the 64-lane tile row.
                    unsafe {
                        _mm256_storeu_si256(tile[i].as_mut_ptr().add(b * BLOCK + h * 8).cast(), v)
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn random_codes(n: usize, rng: &mut Rng) -> Vec<i8> {
        (0..n).map(|_| ((rng.next_u64() % 255) as i32 - 127) as i8).collect()
    }

    fn naive(a: &QuantizedRows, k: usize, w: &[i8], n: usize, ws: &[f32], b: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; a.rows() * n];
        for r in 0..a.rows() {
            for o in 0..n {
                let s: i32 =
                    (0..k).map(|c| a.codes[r * a.stride + c] as i32 * w[o * k + c] as i32).sum();
                out[r * n + o] = s as f32 * (a.scales[r] * ws[o]) + b[o];
            }
        }
        out
    }

    /// Every kernel equals a naive triple loop exactly, on shapes with ragged rows, inputs and
    /// channels, including the extreme codes ±127.
    #[test]
    fn kernels_match_naive_sums_exactly() {
        let mut rng = Rng::new(3);
        // Depths that are multiples of 64 take the AMX tiles where the CPU has them: whole
        // and partial 16-row tiles, odd block counts, a last block of few channels.
        for &(rows, k, n) in &[
            (1, 1, 1),
            (5, 7, 17),
            (9, 128, 384),
            (3, 33, 70),
            (70, 20, 48),
            (300, 20, 48),
            (1, 64, 16),
            (16, 64, 16),
            (33, 192, 40),
            (48, 256, 100),
            (300, 128, 48),
        ] {
            let mut w = random_codes(n * k, &mut rng);
            w[0] = 127;
            if w.len() > 1 {
                w[1] = -127;
            }
            let x: Vec<f32> = (0..rows * k).map(|_| rng.normal()).collect();
            let packed = PackedWeights::pack(&w, n, k);
            let mut a = QuantizedRows::default();
            a.quantize(&x, k, packed.padded_k());
            let ws: Vec<f32> = (0..n).map(|_| rng.uniform() + 0.01).collect();
            let bias: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
            let want = naive(&a, k, &w, n, &ws, &bias);
            for kernel in Int8Kernel::available() {
                for parallel in [false, true] {
                    let mut got = vec![f32::NAN; rows * n];
                    qmatmul_with(kernel, &mut got, &a, &packed, &ws, Some(&bias), parallel);
                    assert_eq!(got, want, "{kernel} rows {rows} k {k} n {n}");
                }
            }
            let (mut got, mut b) = (vec![f32::NAN; rows * n], QuantizedRows::default());
            quantize_and_multiply(&mut got, &x, &mut b, &packed, &ws, Some(&bias), true);
            assert_eq!((got, b), (want, a), "quantise and multiply, rows {rows} k {k} n {n}");
        }
    }

    /// Row codes reach ±127 at the largest magnitude and dequantise to within half a step.
    #[test]
    fn row_quantisation_is_symmetric_and_within_half_a_step() {
        let x = [0.5f32, -2.0, 1.0, 0.0, 1.99, -0.013];
        let mut codes = [0i8; 6];
        let s = quantize_row(&x, &mut codes);
        assert_eq!(s, 2.0 / 127.0);
        assert_eq!(codes[1], -127);
        for (&v, &c) in x.iter().zip(&codes) {
            assert!((c as f32 * s - v).abs() <= s / 2.0 + 1e-7, "{v} -> {c}");
        }
        let mut zero = [5i8; 3];
        assert_eq!(quantize_row(&[0.0; 3], &mut zero), 0.0);
        assert_eq!(zero, [0; 3]);
    }

    /// A float product and its int8 counterpart agree to the quantisation error.
    #[test]
    fn int8_product_is_close_to_the_float_product() {
        let mut rng = Rng::new(5);
        let (rows, k, n) = (16, 64, 40);
        let x: Vec<f32> = (0..rows * k).map(|_| rng.normal()).collect();
        let wf: Vec<f32> = (0..n * k).map(|_| rng.normal() * 0.1).collect();
        let mut codes = vec![0i8; n * k];
        let ws: Vec<f32> = (0..n)
            .map(|o| quantize_row(&wf[o * k..(o + 1) * k], &mut codes[o * k..(o + 1) * k]))
            .collect();
        let packed = PackedWeights::pack(&codes, n, k);
        let mut a = QuantizedRows::default();
        a.quantize(&x, k, packed.padded_k());
        let mut got = vec![0.0; rows * n];
        qmatmul(&mut got, &a, &packed, &ws, None, true);
        let mut worst = 0.0f32;
        let mut norm = 0.0f32;
        for r in 0..rows {
            for o in 0..n {
                let f: f32 = (0..k).map(|c| x[r * k + c] * wf[o * k + c]).sum();
                worst = worst.max((f - got[r * n + o]).abs());
                norm = norm.max(f.abs());
            }
        }
        assert!(worst < 0.02 * norm, "largest error {worst} against largest output {norm}");
    }
}
