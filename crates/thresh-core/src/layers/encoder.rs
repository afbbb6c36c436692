//! Transformer encoder block: self-attention and a position-wise feed-forward network, each
//! with a residual connection and layer normalisation, placed before (pre-LN, Xiong et al.
//! 2020) or after (post-LN, as in the original Transformer and BERT) each sub-layer.
//!
//! Pre-LN:  `h = x + drop(attn(ln1(x)))`, `y = h + drop(ffn(ln2(h)))`
//! Post-LN: `h = ln1(x + drop(attn(x)))`, `y = ln2(h + drop(ffn(h)))`
//! with `ffn(z) = down(drop(act(up(z))))`. Shapes: input and output `[batch · seq, d]`.
//! Parameter names follow `name.attention.*`, `name.norm1.*`, `name.ffn.up.*`,
//! `name.ffn.down.*`, `name.norm2.*`.

use super::activation::{Activation, ActivationKind};
use super::attention::MultiHeadAttention;
use super::dropout::Dropout;
use super::layer_norm::LayerNorm;
use super::linear::Linear;
use super::mask::PaddingMask;
use crate::param::{Module, Param};
use crate::rng::Rng;
use crate::tensor::Tensor;
use rayon::prelude::*;

/// Hyperparameters of one encoder block.
#[derive(Clone, Debug, PartialEq)]
pub struct EncoderBlockConfig {
    /// Model width.
    pub d_model: usize,
    /// Attention heads.
    pub heads: usize,
    /// Width of one head (usually `d_model / heads`).
    pub head_dim: usize,
    /// Hidden width of the feed-forward network.
    pub d_ff: usize,
    /// Dropout after each sub-layer and inside the feed-forward network.
    pub dropout: f32,
    /// Dropout on attention probabilities.
    pub attention_dropout: f32,
    /// Feed-forward activation.
    pub activation: ActivationKind,
    /// Pre-LN when true, post-LN otherwise.
    pub norm_first: bool,
    /// Layer-norm epsilon.
    pub layer_norm_eps: f32,
}

/// One Transformer encoder block.
#[derive(Clone, Debug)]
pub struct EncoderBlock {
    norm_first: bool,
    /// Self-attention sub-layer.
    pub attention: MultiHeadAttention,
    /// Normalisation around the attention sub-layer.
    pub norm1: LayerNorm,
    /// Feed-forward expansion, `d → d_ff`.
    pub up: Linear,
    /// Feed-forward projection, `d_ff → d`.
    pub down: Linear,
    /// Normalisation around the feed-forward sub-layer.
    pub norm2: LayerNorm,
    act: Activation,
    drop_attn: Dropout,
    drop_ffn: Dropout,
    drop_out: Dropout,
    /// First residual sum: `h` (pre-LN) or `x + drop(attn(x))` (post-LN).
    res1: Tensor,
    /// Second residual sum: the output (pre-LN) or `h + drop(ffn(h))` (post-LN).
    res2: Tensor,
    grad: Tensor,
    dx: Tensor,
}

/// `out = a + b`.
fn add_into(out: &mut Tensor, a: &Tensor, b: &Tensor) {
    out.resize(a.shape());
    out.data_mut()
        .par_chunks_mut(8192)
        .zip(a.data().par_chunks(8192))
        .zip(b.data().par_chunks(8192))
        .for_each(|((o, a), b)| crate::kernels::add(a, b, o));
}

impl EncoderBlock {
    /// A block with parameters under `name`.
    pub fn new(name: &str, cfg: &EncoderBlockConfig, rng: &mut Rng) -> Self {
        let d = cfg.d_model;
        EncoderBlock {
            norm_first: cfg.norm_first,
            attention: MultiHeadAttention::with_head_dim(
                &format!("{name}.attention"),
                d,
                cfg.heads,
                cfg.head_dim,
                cfg.attention_dropout,
                rng,
            ),
            norm1: LayerNorm::new(&format!("{name}.norm1"), d, cfg.layer_norm_eps),
            up: Linear::new(&format!("{name}.ffn.up"), d, cfg.d_ff, true, rng),
            down: Linear::new(&format!("{name}.ffn.down"), cfg.d_ff, d, true, rng),
            norm2: LayerNorm::new(&format!("{name}.norm2"), d, cfg.layer_norm_eps),
            act: Activation::new(cfg.activation),
            drop_attn: Dropout::new(cfg.dropout, rng.next_u64()),
            drop_ffn: Dropout::new(cfg.dropout, rng.next_u64()),
            drop_out: Dropout::new(cfg.dropout, rng.next_u64()),
            res1: Tensor::default(),
            res2: Tensor::default(),
            grad: Tensor::default(),
            dx: Tensor::default(),
        }
    }

    /// Keeps transposed copies of the block's float weights for inference (see
    /// [`Linear::keep_transposed_weight`]).
    pub fn keep_transposed_weights(&mut self) {
        self.attention.keep_transposed_weights();
        self.up.keep_transposed_weight();
        self.down.keep_transposed_weight();
    }

    /// Drops the float copies of the block's int8 weights (see [`Param::release_dense`]).
    pub fn release_dense_weights(&mut self) {
        self.attention.release_dense_weights();
        self.up.release_dense_weight();
        self.down.release_dense_weight();
    }

    /// Sets the dropout streams of the next forward pass (for replaying a pass exactly).
    pub fn set_stream(&mut self, stream: u64) {
        self.attention.set_stream(stream);
        self.drop_attn.set_stream(stream);
        self.drop_ffn.set_stream(stream);
        self.drop_out.set_stream(stream);
    }

    /// The block's output after [`EncoderBlock::forward`].
    pub fn output(&self) -> &Tensor {
        if self.norm_first {
            &self.res2
        } else {
            self.norm2.output()
        }
    }

    /// Runs the block on `x` (`[batch · seq, d]`).
    ///
    /// Biases of the projections are fused into the element-wise step that follows each
    /// product (attention heads, GELU, residual sums), saving a pass over each output.
    pub fn forward(&mut self, x: &Tensor, mask: &PaddingMask, train: bool) -> &Tensor {
        use tracing::trace_span;
        if self.norm_first {
            let a = trace_span!("norm.forward").in_scope(|| self.norm1.forward(x));
            let span = trace_span!("attention.forward").entered();
            let (s, bias) = self.attention.forward_unbiased(a, mask, train);
            // At inference the residual sum and the norm after it are one pass.
            let b = if train {
                self.drop_attn.forward_residual(x, s, bias, &mut self.res1, train);
                drop(span);
                trace_span!("norm.forward").in_scope(|| self.norm2.forward(&self.res1))
            } else {
                drop(span);
                self.norm2.forward_sum(x, s, bias, &mut self.res1)
            };
            let _span = trace_span!("ffn.forward").entered();
            let (u, bias) = self.up.forward_unbiased(b);
            let g = self.act.forward_bias(u, bias);
            let g = self.drop_ffn.forward(g, train);
            let (v, bias) = self.down.forward_unbiased(g);
            self.drop_out.forward_residual(&self.res1, v, bias, &mut self.res2, train);
            &self.res2
        } else {
            let span = trace_span!("attention.forward").entered();
            let (s, bias) = self.attention.forward_unbiased(x, mask, train);
            let h = if train {
                self.drop_attn.forward_residual(x, s, bias, &mut self.res1, train);
                drop(span);
                trace_span!("norm.forward").in_scope(|| self.norm1.forward(&self.res1))
            } else {
                drop(span);
                self.norm1.forward_sum(x, s, bias, &mut self.res1)
            };
            let span = trace_span!("ffn.forward").entered();
            let (u, bias) = self.up.forward_unbiased(h);
            let g = self.act.forward_bias(u, bias);
            let g = self.drop_ffn.forward(g, train);
            let (v, bias) = self.down.forward_unbiased(g);
            if !train {
                drop(span);
                return self.norm2.forward_sum(h, v, bias, &mut self.res2);
            }
            self.drop_out.forward_residual(h, v, bias, &mut self.res2, train);
            drop(span);
            trace_span!("norm.forward").in_scope(|| self.norm2.forward(&self.res2))
        }
    }

    /// Accumulates parameter gradients and returns the input gradient; `x` is the forward input.
    pub fn backward(&mut self, x: &Tensor, dy: &Tensor) -> &Tensor {
        let EncoderBlock {
            norm_first,
            attention,
            norm1,
            up,
            down,
            norm2,
            act,
            drop_attn,
            drop_ffn,
            drop_out,
            res1,
            res2,
            grad,
            dx,
        } = self;
        use tracing::trace_span;
        if *norm_first {
            // y = h + drop(ffn(ln2(h))): the gradient at h is dy plus the ffn path's.
            let span = trace_span!("ffn.backward").entered();
            let dv = drop_out.backward(dy);
            let dg = down.backward(drop_ffn.output(act.output()), dv);
            let dg = drop_ffn.backward(dg);
            let du = act.backward(up.output(), dg);
            let db = up.backward(norm2.output(), du);
            drop(span);
            let dh = trace_span!("norm.backward").in_scope(|| norm2.backward(res1, db));
            add_into(grad, dy, dh);
            // h = x + drop(attn(ln1(x)))
            let span = trace_span!("attention.backward").entered();
            let ds = drop_attn.backward(grad);
            let da = attention.backward(norm1.output(), ds);
            drop(span);
            let dxn = trace_span!("norm.backward").in_scope(|| norm1.backward(x, da));
            add_into(dx, grad, dxn);
        } else {
            // y = ln2(r2), r2 = h + drop(ffn(h))
            let dr2 = trace_span!("norm.backward").in_scope(|| norm2.backward(res2, dy));
            let span = trace_span!("ffn.backward").entered();
            let dv = drop_out.backward(dr2);
            let dg = down.backward(drop_ffn.output(act.output()), dv);
            let dg = drop_ffn.backward(dg);
            let du = act.backward(up.output(), dg);
            let dh = up.backward(norm1.output(), du);
            drop(span);
            add_into(grad, dr2, dh);
            // h = ln1(r1), r1 = x + drop(attn(x))
            let dr1 = trace_span!("norm.backward").in_scope(|| norm1.backward(res1, grad));
            let span = trace_span!("attention.backward").entered();
            let ds = drop_attn.backward(dr1);
            let dxa = attention.backward(x, ds);
            drop(span);
            add_into(dx, dr1, dxa);
        }
        dx
    }
}

impl Module for EncoderBlock {
    fn visit(&self, f: &mut dyn FnMut(&Param)) {
        self.attention.visit(f);
        self.norm1.visit(f);
        self.up.visit(f);
        self.down.visit(f);
        self.norm2.visit(f);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
        self.attention.visit_mut(f);
        self.norm1.visit_mut(f);
        self.up.visit_mut(f);
        self.down.visit_mut(f);
        self.norm2.visit_mut(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, check_param_grads, random_tensor};

    fn block(norm_first: bool, dropout: f32, activation: ActivationKind) -> EncoderBlock {
        let cfg = EncoderBlockConfig {
            d_model: 8,
            heads: 2,
            head_dim: 4,
            d_ff: 12,
            dropout,
            attention_dropout: dropout,
            activation,
            norm_first,
            layer_norm_eps: 1e-5,
        };
        let mut rng = Rng::new(8);
        let mut b = EncoderBlock::new("b", &cfg, &mut rng);
        b.visit_mut(&mut |p| p.value.data_mut().iter_mut().for_each(|v| *v += 0.1 * rng.normal()));
        b
    }

    /// Central differences with step 1e-2 for pre-LN and post-LN blocks, with and without
    /// dropout (masks replayed); relative tolerance 3e-2 plus 1e-3 absolute.
    #[test]
    fn encoder_block_gradient_check() {
        let mask = PaddingMask::from_lengths(4, vec![4, 2]).unwrap();
        let x = random_tensor(&[8, 8], &mut Rng::new(9));
        for norm_first in [true, false] {
            for dropout in [0.0, 0.15] {
                let mut b = block(norm_first, dropout, ActivationKind::Gelu);
                let fwd = |b: &mut EncoderBlock, x: &Tensor| {
                    b.set_stream(0);
                    b.forward(x, &mask, true).clone()
                };
                check_input_grad(&mut b, &x, 1e-2, 3e-2, fwd, |b, x, dy| b.backward(x, dy).clone());
                check_param_grads(&mut b, &x, 1e-2, 3e-2, fwd, |b, x, dy| {
                    b.backward(x, dy);
                });
            }
        }
    }

    /// At inference a residual sum and the norm after it are one pass; the output has the
    /// same bits as a training pass without dropout, for pre-LN and post-LN blocks.
    #[test]
    fn inference_pass_equals_a_pass_without_dropout() {
        let mask = PaddingMask::from_lengths(4, vec![4, 2]).unwrap();
        let x = random_tensor(&[8, 8], &mut Rng::new(11));
        for norm_first in [true, false] {
            let mut b = block(norm_first, 0.0, ActivationKind::Gelu);
            let trained = b.forward(&x, &mask, true).clone();
            let inferred = b.forward(&x, &mask, false).clone();
            let bits = |t: &Tensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&trained), bits(&inferred), "norm_first {norm_first}");
        }
    }
}
