//! Multi-head self-attention (Vaswani et al. 2017) with a key padding mask.
//!
//! Shapes: input and output `[batch · seq, d]`; `d = heads · d_head`. One fused input projection
//! `qkv` (`[3d, d]`, rows ordered query, key, value as in PyTorch's `in_proj_weight`) and an
//! output projection `out` (`[d, d]`).
//!
//! Per sequence `b` with `L` real tokens and per head: `S = Q Kᵀ / √d_head` over the `L × L`
//! block, a row softmax (scale, mask and softmax are one pass; padded keys are never computed),
//! dropout on the probabilities, then `P V`. Rows of padded queries are zero. Pooling ignores
//! padded positions, so skipping them changes no result and saves their work.

use super::linear::Linear;
use super::mask::PaddingMask;
use crate::gemm::{matmul, View};
use crate::head_kernels;
use crate::kernels;
use crate::param::{Module, Param};
use crate::qgemm::QuantizedRows;
use crate::rng::Rng;
use crate::tensor::Tensor;
use rayon::prelude::*;

/// Multi-head self-attention.
#[derive(Clone, Debug)]
pub struct MultiHeadAttention {
    /// Fused query, key and value projection, `d → 3d`.
    pub qkv: Linear,
    /// Output projection, `d → d`.
    pub out: Linear,
    heads: usize,
    dropout: f32,
    seed: u64,
    stream: u64,
    active: bool,
    mask: PaddingMask,
    /// Softmax probabilities, `[batch, heads, seq, stride]` with rows padded to whole vectors
    /// (`stride = kernels::lane_padded(seq)`, padding 0).
    probs: Vec<f32>,
    /// Probabilities after dropout (used only when dropout was active).
    dropped: Vec<f32>,
    ctx: Tensor,
    dqkv: Tensor,
    scratch: Vec<f32>,
    /// Projections made sequence by sequence (int8 inference), `[batch · seq, 3 · inner]`.
    seq_qkv: Tensor,
    /// Output projection made sequence by sequence (int8 inference), `[batch · seq, d]`.
    seq_out: Tensor,
}

impl MultiHeadAttention {
    /// Attention of width `d` split into `heads` heads, with dropout `dropout` on the attention
    /// probabilities. Parameters are named `name.qkv.*` and `name.out.*`.
    ///
    /// Initialisation follows PyTorch: Xavier-uniform `qkv` weight, zero biases.
    pub fn new(name: &str, d: usize, heads: usize, dropout: f32, rng: &mut Rng) -> Self {
        assert!(
            heads > 0 && d.is_multiple_of(heads),
            "width {d} is not divisible by {heads} heads"
        );
        Self::with_head_dim(name, d, heads, d / heads, dropout, rng)
    }

    /// Attention on width `d` with `heads` heads of width `head_dim` each (their total may
    /// differ from `d`, as after pruning heads): `qkv` is `d → 3·heads·head_dim` and `out`
    /// `heads·head_dim → d`.
    pub fn with_head_dim(
        name: &str,
        d: usize,
        heads: usize,
        head_dim: usize,
        dropout: f32,
        rng: &mut Rng,
    ) -> Self {
        assert!(heads > 0 && head_dim > 0, "attention needs heads of positive width");
        let inner = heads * head_dim;
        let mut qkv = Linear::new(&format!("{name}.qkv"), d, 3 * inner, true, rng);
        let bound = (6.0 / (d + 3 * inner) as f32).sqrt();
        let w = rng.uniform_values(d * 3 * inner, -bound, bound);
        qkv.weight.value = Tensor::from_vec(w, &[3 * inner, d]).expect("sizes agree");
        let mut out = Linear::new(&format!("{name}.out"), inner, d, true, rng);
        for b in [&mut qkv.bias, &mut out.bias].into_iter().flatten() {
            b.value.fill(0.0);
        }
        MultiHeadAttention {
            qkv,
            out,
            heads,
            dropout,
            seed: rng.next_u64(),
            stream: 0,
            active: false,
            mask: PaddingMask::full(0, 0),
            probs: Vec::new(),
            dropped: Vec::new(),
            ctx: Tensor::default(),
            dqkv: Tensor::default(),
            scratch: Vec::new(),
            seq_qkv: Tensor::default(),
            seq_out: Tensor::default(),
        }
    }

    /// Drops the float copies of int8 projection weights (see
    /// [`crate::param::Param::release_dense`]).
    pub fn release_dense_weights(&mut self) {
        self.qkv.release_dense_weight();
        self.out.release_dense_weight();
    }

    /// Keeps transposed copies of the projections' float weights for inference (see
    /// [`Linear::keep_transposed_weight`]).
    pub fn keep_transposed_weights(&mut self) {
        self.qkv.keep_transposed_weight();
        self.out.keep_transposed_weight();
    }

    /// Number of heads.
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// Sets the dropout stream of the next forward pass.
    pub fn set_stream(&mut self, stream: u64) {
        self.stream = stream;
    }

    /// The attention probabilities of the last forward pass, `[batch, heads, seq, stride]`,
    /// each row padded with zeros to `stride = kernels::lane_padded(seq)` entries.
    pub fn probabilities(&self) -> &[f32] {
        &self.probs
    }

    /// Self-attention over `x` (`[batch · seq, d]`) with the given padding.
    pub fn forward(&mut self, x: &Tensor, mask: &PaddingMask, train: bool) -> &Tensor {
        if self.attend(x, mask, train) {
            return &self.seq_out;
        }
        let (y, bias) = self.out.forward_unbiased(&self.ctx);
        if let Some(b) = bias {
            crate::threads::par_rows(y.data_mut(), b.len(), |_, row| {
                row.iter_mut().zip(b).for_each(|(v, b)| *v += b)
            });
        }
        y
    }

    /// Like [`MultiHeadAttention::forward`], but leaves the output projection's bias to the
    /// caller (to be fused into the residual step): returns the unbiased output and the bias.
    pub fn forward_unbiased(
        &mut self,
        x: &Tensor,
        mask: &PaddingMask,
        train: bool,
    ) -> (&Tensor, Option<&[f32]>) {
        if self.attend(x, mask, train) {
            return (&self.seq_out, None);
        }
        let (y, bias) = self.out.forward_unbiased(&self.ctx);
        (y, bias)
    }

    /// Everything up to the output projection: fills `ctx`. For an int8 model at inference it
    /// also applies the output projection, with its bias, into `seq_out` and returns true.
    fn attend(&mut self, x: &Tensor, mask: &PaddingMask, train: bool) -> bool {
        let d = self.out.d_in();
        let (batch, seq, heads) = (mask.batch(), mask.seq(), self.heads);
        assert_eq!(x.rows(), batch * seq, "attention input rows");
        let dh = d / heads;
        let scale = 1.0 / (dh as f32).sqrt();
        self.active = train && self.dropout > 0.0;
        let active = self.active;
        let draw = kernels::DropoutDraw::new(self.seed, self.stream, self.dropout);
        if active {
            self.stream += 1;
        }
        self.mask.clone_from(mask);
        // An int8 model at inference projects each sequence's real tokens inside the loop
        // below, so its projections are still in cache for the heads (and padding costs
        // nothing), when there are sequences enough to keep every thread busy; otherwise one
        // product over the whole batch. Both give the same bits (exact integer sums).
        let per_sequence =
            !train && self.qkv.weight.int8().is_some() && batch >= 2 * rayon::current_num_threads();
        let (qkv, qkv_bias, projection) = if per_sequence {
            self.seq_qkv.resize(&[batch * seq, 3 * d]);
            (&mut self.seq_qkv, None, Some(&self.qkv))
        } else {
            let (t, bias) = self.qkv.forward_unbiased(x);
            (t, bias, None)
        };
        let (xd, dm) = (x.data(), x.cols());
        let out_projection = per_sequence.then_some(&self.out);
        // Without the per-sequence output projection, a one-element placeholder chunk.
        let out_chunk = if per_sequence { seq * dm } else { 1 };
        self.seq_out.resize(&[batch, out_chunk]);
        // Probability rows are padded to whole vectors, so the softmax runs vectorised.
        let sp = kernels::lane_padded(seq);
        let plane = heads * seq * sp;
        self.probs.resize(batch * plane, 0.0);
        // Without dropout, each sequence gets a one-element placeholder chunk.
        let dropped_chunk = if active { plane } else { 1 };
        self.dropped.resize(batch * dropped_chunk, 0.0);
        self.ctx.resize(&[batch * seq, d]);
        self.probs
            .par_chunks_mut(plane)
            .zip(self.dropped.par_chunks_mut(dropped_chunk))
            .zip(self.ctx.data_mut().par_chunks_mut(seq * d))
            .zip(qkv.data_mut().par_chunks_mut(seq * 3 * d))
            .zip(self.seq_out.data_mut().par_chunks_mut(out_chunk))
            .enumerate()
            .for_each_init(
                <(QuantizedRows, Vec<f32>)>::default,
                |(scratch, kt), (b, ((((probs, dropped), ctx), qkv_b), y))| {
                    let len = mask.len(b);
                    let fused = head_kernels::applies(len, dh);
                    if fused {
                        kt.resize(head_kernels::scratch_len(len, dh), 0.0);
                    }
                    if let Some(projection) = projection {
                        let rows = &xd[b * seq * dm..(b * seq + len) * dm];
                        projection.int8_rows_into(rows, &mut qkv_b[..len * 3 * d], scratch);
                    }
                    // The projection's bias is added here, per sequence, while its rows are in cache.
                    if let Some(bias) = qkv_bias {
                        kernels::add_bias_rows(qkv_b, bias);
                    }
                    let qkv_b = &*qkv_b;
                    ctx[len * d..].fill(0.0);
                    if len < seq {
                        probs.fill(0.0);
                    }
                    for h in 0..heads {
                        let ph = &mut probs[h * seq * sp..(h + 1) * seq * sp];
                        let q = View::strided(&qkv_b[h * dh..], len, dh, 3 * d);
                        let k = View::strided(&qkv_b[d + h * dh..], len, dh, 3 * d);
                        let v = View::strided(&qkv_b[2 * d + h * dh..], len, dh, 3 * d);
                        let head = head_kernels::Head {
                            q: q.data,
                            k: k.data,
                            v: v.data,
                            ld: 3 * d,
                            len,
                            dh,
                        };
                        if fused {
                            head_kernels::head_probabilities(&head, scale, kt, ph, sp);
                        } else {
                            matmul(ph, sp, q, k.t(), scale, false, false);
                            kernels::softmax_padded(ph, sp, len, len);
                        }
                        let pv = if active {
                            let dh_plane = &mut dropped[h * seq * sp..(h + 1) * seq * sp];
                            // Mask positions count the logical seq × seq plane.
                            let base = ((b * heads + h) * seq * seq) as u64;
                            for i in 0..len {
                                let row = i * sp..i * sp + len;
                                apply_dropout_row(
                                    &ph[row.clone()],
                                    &mut dh_plane[row],
                                    draw,
                                    base + (i * seq) as u64,
                                );
                            }
                            &*dh_plane
                        } else {
                            &*ph
                        };
                        if fused {
                            head_kernels::head_context(&head, pv, sp, &mut ctx[h * dh..], d);
                        } else {
                            matmul(
                                &mut ctx[h * dh..],
                                d,
                                View::strided(pv, len, len, sp),
                                v,
                                1.0,
                                false,
                                false,
                            );
                        }
                    }
                    if let Some(out) = out_projection {
                        out.int8_rows_into(&ctx[..len * d], &mut y[..len * dm], scratch);
                        // Padding rows get what the product of their zero context gives.
                        for row in y[len * dm..].chunks_mut(dm) {
                            match &out.bias {
                                Some(bias) => row.copy_from_slice(bias.value.data()),
                                None => row.fill(0.0),
                            }
                        }
                    }
                },
            );
        if per_sequence {
            self.seq_out.reshape(&[batch * seq, dm]).expect("whole rows of width d");
        }
        per_sequence
    }

    /// Accumulates parameter gradients and returns the input gradient.
    pub fn backward(&mut self, x: &Tensor, dy: &Tensor) -> &Tensor {
        let d = self.out.d_in();
        let (batch, seq, heads) = (self.mask.batch(), self.mask.seq(), self.heads);
        let dh = d / heads;
        let scale = 1.0 / (dh as f32).sqrt();
        let keep_scale = 1.0 / (1.0 - self.dropout);
        let active = self.active;
        let dctx = self.out.backward(&self.ctx, dy);
        let dctx = dctx.data();
        let qkv = self.qkv.output().data();
        let (probs, dropped, mask) = (&self.probs, &self.dropped, &self.mask);
        let sp = kernels::lane_padded(seq);
        let plane = heads * seq * sp;
        self.dqkv.resize(&[batch * seq, 3 * d]);
        self.scratch.resize(batch * seq * sp, 0.0);
        self.dqkv
            .data_mut()
            .par_chunks_mut(seq * 3 * d)
            .zip(self.scratch.par_chunks_mut(seq * sp))
            .enumerate()
            .for_each(|(b, (dqkv, ds))| {
                let len = mask.len(b);
                let qkv_b = &qkv[b * seq * 3 * d..(b + 1) * seq * 3 * d];
                let dctx_b = &dctx[b * seq * d..(b + 1) * seq * d];
                dqkv[len * 3 * d..].fill(0.0);
                for h in 0..heads {
                    let off = b * plane + h * seq * sp;
                    let ph = &probs[off..off + seq * sp];
                    let pv = if active { &dropped[off..off + seq * sp] } else { ph };
                    let q = View::strided(&qkv_b[h * dh..], len, dh, 3 * d);
                    let k = View::strided(&qkv_b[d + h * dh..], len, dh, 3 * d);
                    let v = View::strided(&qkv_b[2 * d + h * dh..], len, dh, 3 * d);
                    let dc = View::strided(&dctx_b[h * dh..], len, dh, d);
                    // dV = P'ᵀ dC
                    matmul(
                        &mut dqkv[2 * d + h * dh..],
                        3 * d,
                        View::strided(pv, len, len, sp).t(),
                        dc,
                        1.0,
                        false,
                        false,
                    );
                    // dP' = dC Vᵀ, then back through dropout and softmax into dS.
                    matmul(ds, sp, dc, v.t(), 1.0, false, false);
                    for i in 0..len {
                        let row = &mut ds[i * sp..i * sp + len];
                        let p_row = &ph[i * sp..i * sp + len];
                        if active {
                            // A kept probability is non-zero after dropout; a dropped one passes
                            // no gradient. (A kept probability that underflowed to zero has a
                            // zero softmax gradient anyway.)
                            let pv_row = &pv[i * sp..i * sp + len];
                            for (g, &kept) in row.iter_mut().zip(pv_row) {
                                *g = if kept != 0.0 { *g * keep_scale } else { 0.0 };
                            }
                        }
                        kernels::softmax_backward(row, p_row);
                    }
                    let dsv = View::strided(ds, len, len, sp);
                    // dQ = dS K · scale, dK = dSᵀ Q · scale
                    matmul(&mut dqkv[h * dh..], 3 * d, dsv, k, scale, false, false);
                    matmul(&mut dqkv[d + h * dh..], 3 * d, dsv.t(), q, scale, false, false);
                }
            });
        self.qkv.backward(x, &self.dqkv)
    }
}

/// Dropout on one row of probabilities; the mask is not stored, since a kept probability is
/// recognisable after dropout by being non-zero.
fn apply_dropout_row(p: &[f32], out: &mut [f32], draw: kernels::DropoutDraw, start: u64) {
    let scale = draw.scale();
    for (j, (o, &p)) in out.iter_mut().zip(p).enumerate() {
        *o = if draw.keep(start + j as u64) { p * scale } else { 0.0 };
    }
}

impl Module for MultiHeadAttention {
    fn visit(&self, f: &mut dyn FnMut(&Param)) {
        self.qkv.visit(f);
        self.out.visit(f);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
        self.qkv.visit_mut(f);
        self.out.visit_mut(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, check_param_grads, random_tensor};

    fn setup(dropout: f32) -> (MultiHeadAttention, Tensor, PaddingMask) {
        let mut rng = Rng::new(7);
        let mut attn = MultiHeadAttention::new("a", 8, 2, dropout, &mut rng);
        attn.visit_mut(&mut |p| {
            for v in p.value.data_mut() {
                *v = rng.normal() * 0.5;
            }
        });
        let x = random_tensor(&[3 * 5, 8], &mut rng);
        let mask = PaddingMask::from_lengths(5, vec![5, 3, 1]).unwrap();
        (attn, x, mask)
    }

    /// A direct, loop-by-loop computation of masked attention to compare against.
    #[test]
    fn matches_naive_attention_on_real_positions() {
        let (mut attn, x, mask) = setup(0.0);
        let y = attn.forward(&x, &mask, false).clone();
        let (d, heads, seq) = (8, 2, 5);
        let dh = d / heads;
        let qkv = attn.qkv.output().clone();
        let mut ctx = vec![0.0f32; 3 * seq * d];
        for b in 0..3 {
            let len = mask.len(b);
            for h in 0..heads {
                for i in 0..len {
                    let at = |t: usize, part: usize, c: usize| {
                        qkv.data()[(b * seq + t) * 3 * d + part * d + h * dh + c]
                    };
                    let scores: Vec<f32> = (0..len)
                        .map(|j| (0..dh).map(|c| at(i, 0, c) * at(j, 1, c)).sum::<f32>() / 2.0)
                        .collect();
                    let m = scores.iter().cloned().fold(f32::MIN, f32::max);
                    let z: f32 = scores.iter().map(|s| (s - m).exp()).sum();
                    for c in 0..dh {
                        ctx[(b * seq + i) * d + h * dh + c] =
                            (0..len).map(|j| (scores[j] - m).exp() / z * at(j, 2, c)).sum();
                    }
                }
            }
        }
        let mut out = attn.out.clone();
        let want = out.forward(&Tensor::from_vec(ctx, &[15, 8]).unwrap()).clone();
        for b in 0..3 {
            for i in 0..mask.len(b) {
                for c in 0..d {
                    let (a, w) = (y.row(b * seq + i)[c], want.row(b * seq + i)[c]);
                    assert!((a - w).abs() < 1e-5, "b{b} i{i} c{c}: {a} vs {w}");
                }
            }
        }
    }

    /// An int8 model at inference projects sequence by sequence; the result equals the
    /// whole-batch products (the training path) bit for bit, padding rows included.
    #[test]
    fn per_sequence_int8_projections_equal_the_batch_products() {
        let (mut attn, x, mask) = setup(0.0);
        attn.qkv.weight.quantize_int8().unwrap();
        attn.out.weight.quantize_int8().unwrap();
        // One thread, so that the three sequences take the per-sequence path.
        crate::threads::Threads::new(1).unwrap().install(|| {
            let batch = attn.forward(&x, &mask, true).clone();
            let per_sequence = attn.forward(&x, &mask, false).clone();
            assert_eq!(per_sequence, batch);
            assert_eq!(attn.seq_out, per_sequence, "the per-sequence path ran");
            let (y, bias) = attn.forward_unbiased(&x, &mask, false);
            assert!(bias.is_none());
            assert_eq!(y, &batch);
        });
    }

    /// Central differences with step 1e-2, with and without dropout (mask replayed);
    /// relative tolerance 2e-2 plus 1e-3 absolute.
    #[test]
    fn attention_gradient_check() {
        for dropout in [0.0, 0.2] {
            let (mut attn, x, mask) = setup(dropout);
            let fwd = |a: &mut MultiHeadAttention, x: &Tensor| {
                a.set_stream(0);
                a.forward(x, &mask, true).clone()
            };
            check_input_grad(&mut attn, &x, 1e-2, 2e-2, fwd, |a, x, dy| a.backward(x, dy).clone());
            check_param_grads(&mut attn, &x, 1e-2, 2e-2, fwd, |a, x, dy| {
                a.backward(x, dy);
            });
        }
    }
}
