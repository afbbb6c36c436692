//! A Transformer-encoder text classifier: token and position embeddings, a stack of encoder
//! blocks, pooling over real tokens, and a linear head to class logits.
//!
//! Shapes: token ids `[batch · seq]` with a [`PaddingMask`], logits `[batch, classes]`.
//! Parameter names: `embeddings.tokens.weight`, `embeddings.positions.weight`,
//! `embeddings.norm.*` (when enabled), `layers.{i}.*` (see [`EncoderBlock`]), `final_norm.*`
//! (when enabled), `pooler.*` (when enabled), `head.*`.

use crate::error::CoreError;
use crate::layers::{
    ActivationKind, Dropout, Embedding, EncoderBlock, EncoderBlockConfig, LayerNorm, Linear,
    PaddingMask, Pooler, Pooling, PoolingKind, PositionalEmbedding,
};
use crate::param::{Module, Param};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// Architecture of a [`TransformerClassifier`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TransformerConfig {
    /// Rows of the token embedding table.
    pub vocab_size: usize,
    /// Longest sequence (rows of the position table).
    pub max_len: usize,
    /// Model width.
    pub d_model: usize,
    /// Encoder blocks.
    pub layers: usize,
    /// Attention heads per block.
    pub heads: usize,
    /// Feed-forward hidden width.
    pub d_ff: usize,
    /// Output classes.
    pub classes: usize,
    /// Dropout after sub-layers and inside the feed-forward network.
    pub dropout: f32,
    /// Dropout on attention probabilities.
    pub attention_dropout: f32,
    /// Dropout on the embedding sum.
    pub embedding_dropout: f32,
    /// Dropout on the pooled vector, before the head.
    #[serde(default)]
    pub head_dropout: f32,
    /// Feed-forward activation.
    pub activation: ActivationKind,
    /// Pre-LN blocks when true, post-LN otherwise.
    pub norm_first: bool,
    /// Layer norm on the embedding sum (as BERT has).
    pub embedding_norm: bool,
    /// Layer norm after the last block (usual with pre-LN).
    pub final_norm: bool,
    /// How sequences are pooled.
    pub pooling: PoolingKind,
    /// Layer-norm epsilon.
    pub layer_norm_eps: f32,
    /// Standard deviation of the initial embedding tables.
    pub embedding_init_std: f32,
    /// A square linear map and `tanh` on the pooled vector before the head (BERT's pooler).
    #[serde(default)]
    pub pooler: bool,
    /// Width of one attention head; `None` means `d_model / heads`. A model whose heads were
    /// pruned keeps the original head width with fewer heads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
}

impl TransformerConfig {
    /// The reference model of the design notes: vocabulary 20,000, width 128, 128 learned
    /// positions, 2 pre-LN blocks of 4 heads with FFN 512 and GELU, dropout 0.1, mean pooling,
    /// 4 classes. Its layers and initialisation mirror PyTorch's `TransformerEncoderLayer`.
    pub fn reference() -> Self {
        TransformerConfig {
            vocab_size: 20_000,
            max_len: 128,
            d_model: 128,
            layers: 2,
            heads: 4,
            d_ff: 512,
            classes: 4,
            dropout: 0.1,
            attention_dropout: 0.1,
            embedding_dropout: 0.0,
            head_dropout: 0.0,
            activation: ActivationKind::Gelu,
            norm_first: true,
            embedding_norm: false,
            final_norm: false,
            pooling: PoolingKind::Mean,
            layer_norm_eps: 1e-5,
            embedding_init_std: 1.0,
            pooler: false,
            head_dim: None,
        }
    }

    /// Checks that the dimensions fit together.
    pub fn validate(&self) -> Result<(), CoreError> {
        let bad = |m: String| Err(CoreError::InvalidConfig(m));
        if self.vocab_size == 0 || self.max_len == 0 || self.d_model == 0 || self.d_ff == 0 {
            return bad("vocabulary, max length, width and FFN width must be positive".into());
        }
        match self.head_dim {
            Some(0) => return bad("head width must be positive".into()),
            Some(_) if self.heads == 0 => return bad("a model needs at least one head".into()),
            Some(_) => {}
            None if self.heads == 0 || !self.d_model.is_multiple_of(self.heads) => {
                return bad(format!(
                    "width {} is not divisible by {} heads",
                    self.d_model, self.heads
                ));
            }
            None => {}
        }
        if self.classes < 2 {
            return bad(format!("{} classes; a classifier needs at least 2", self.classes));
        }
        for (name, p) in [
            ("dropout", self.dropout),
            ("attention dropout", self.attention_dropout),
            ("embedding dropout", self.embedding_dropout),
            ("head dropout", self.head_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return bad(format!("{name} {p} is outside [0, 1)"));
            }
        }
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_width(&self) -> usize {
        self.head_dim.unwrap_or(self.d_model / self.heads.max(1))
    }

    fn block(&self) -> EncoderBlockConfig {
        EncoderBlockConfig {
            d_model: self.d_model,
            heads: self.heads,
            head_dim: self.head_width(),
            d_ff: self.d_ff,
            dropout: self.dropout,
            attention_dropout: self.attention_dropout,
            activation: self.activation,
            norm_first: self.norm_first,
            layer_norm_eps: self.layer_norm_eps,
        }
    }
}

/// A batch of padded token sequences.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBatch {
    /// Token ids, `[batch · seq]`, sequence after sequence; padding positions hold any valid id.
    pub ids: Vec<u32>,
    /// Real lengths.
    pub mask: PaddingMask,
}

impl TokenBatch {
    /// Checks that `ids` has `batch · seq` entries.
    pub fn new(ids: Vec<u32>, mask: PaddingMask) -> Result<Self, CoreError> {
        if ids.len() != mask.batch() * mask.seq() {
            return Err(CoreError::ShapeMismatch {
                what: "token batch".into(),
                expected: vec![mask.batch(), mask.seq()],
                found: vec![ids.len()],
            });
        }
        Ok(TokenBatch { ids, mask })
    }
}

/// Embeddings → encoder blocks → pooling → linear head.
#[derive(Clone, Debug)]
pub struct TransformerClassifier {
    config: TransformerConfig,
    /// Token embedding table.
    pub tokens: Embedding,
    /// Learned position table.
    pub positions: PositionalEmbedding,
    /// Optional layer norm on the embedding sum.
    pub embedding_norm: Option<LayerNorm>,
    embedding_dropout: Dropout,
    head_dropout: Dropout,
    /// Encoder blocks, input side first.
    pub blocks: Vec<EncoderBlock>,
    /// Optional layer norm after the last block.
    pub final_norm: Option<LayerNorm>,
    pool: Pooling,
    /// Optional pooler between pooling and the head.
    pub pooler: Option<Pooler>,
    /// Classification head, pooled width → classes.
    pub head: Linear,
    /// Whether backward stops at the head (and pooler), leaving the encoder untouched.
    encoder_frozen: bool,
    embedded: Tensor,
    grad: Tensor,
    batch: Option<TokenBatch>,
}

impl TransformerClassifier {
    /// A freshly initialised model; the same seed gives the same weights.
    pub fn new(config: TransformerConfig, seed: u64) -> Result<Self, CoreError> {
        Self::with_rng(config, Rng::new(seed))
    }

    /// A model whose initial weights come from `rng`; with [`Rng::placeholder`], zero
    /// weights in untouched memory, for weights about to be loaded.
    pub fn with_rng(config: TransformerConfig, mut rng: Rng) -> Result<Self, CoreError> {
        config.validate()?;
        let (d, std) = (config.d_model, config.embedding_init_std);
        let tokens = Embedding::new("embeddings.tokens", config.vocab_size, d, std, &mut rng);
        let positions =
            PositionalEmbedding::new("embeddings.positions", config.max_len, d, std, &mut rng);
        let embedding_norm = config
            .embedding_norm
            .then(|| LayerNorm::new("embeddings.norm", d, config.layer_norm_eps));
        let block_cfg = config.block();
        let blocks = (0..config.layers)
            .map(|i| EncoderBlock::new(&format!("layers.{i}"), &block_cfg, &mut rng))
            .collect();
        let final_norm =
            config.final_norm.then(|| LayerNorm::new("final_norm", d, config.layer_norm_eps));
        let head_in = config.pooling.output_width(d);
        let pooler = config.pooler.then(|| Pooler::new("pooler", head_in, &mut rng));
        let head = Linear::new("head", head_in, config.classes, true, &mut rng);
        Ok(TransformerClassifier {
            embedding_dropout: Dropout::new(config.embedding_dropout, rng.next_u64()),
            head_dropout: Dropout::new(config.head_dropout, rng.next_u64()),
            pool: Pooling::new(config.pooling),
            config,
            tokens,
            positions,
            embedding_norm,
            blocks,
            final_norm,
            pooler,
            head,
            encoder_frozen: false,
            embedded: Tensor::default(),
            grad: Tensor::default(),
            batch: None,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &TransformerConfig {
        &self.config
    }

    /// Sets the dropout stream of every layer for the next forward pass, so a pass can be
    /// replayed with the same masks.
    pub fn set_stream(&mut self, stream: u64) {
        self.embedding_dropout.set_stream(stream);
        self.head_dropout.set_stream(stream);
        for block in &mut self.blocks {
            block.set_stream(stream);
        }
    }

    /// Freezes (or thaws) everything below the pooler and head: their parameters stop being
    /// trainable and [`TransformerClassifier::backward`] no longer reaches them, which makes a
    /// training step little more than a forward pass (a linear probe).
    pub fn set_encoder_frozen(&mut self, frozen: bool) {
        self.encoder_frozen = frozen;
        self.visit_mut(&mut |p| {
            let top = p.name.starts_with("head.") || p.name.starts_with("pooler.");
            p.trainable = top || !frozen;
        });
    }

    /// Keeps transposed copies of every float projection weight, so that inference on few
    /// rows (single sentences) reads them directly rather than repacking each weight on
    /// every call; outputs keep their bits. Costs the projections' size again in memory; an
    /// optimiser step drops the copies.
    pub fn keep_transposed_weights(&mut self) {
        for block in &mut self.blocks {
            block.keep_transposed_weights();
        }
        if let Some(p) = &mut self.pooler {
            p.dense.keep_transposed_weight();
        }
        self.head.keep_transposed_weight();
    }

    /// Drops the float copies of the int8 token table and linear weights (see
    /// [`crate::param::Param::release_dense`]), which inference does not read: an int8 model
    /// then holds a quarter of the float model's weight memory. The position table, read as
    /// floats, stays. The model can no longer be trained or saved; load it again for that.
    pub fn release_dense_copies(&mut self) {
        self.tokens.release_dense_table();
        for block in &mut self.blocks {
            block.release_dense_weights();
        }
        if let Some(p) = &mut self.pooler {
            p.dense.release_dense_weight();
        }
        self.head.release_dense_weight();
    }

    /// The pooled encoder output for `batch`, `[batch, pooled width]`, before any pooler and
    /// the head, in inference mode: the sentence embedding of a pretrained encoder.
    pub fn features(&mut self, batch: &TokenBatch) -> Result<&Tensor, CoreError> {
        self.encode(batch, false)?;
        Ok(self.pool.output())
    }

    /// Class logits for `batch`, `[batch, classes]`. With `train`, dropout is active and the
    /// activations are kept for [`TransformerClassifier::backward`].
    pub fn forward(&mut self, batch: &TokenBatch, train: bool) -> Result<&Tensor, CoreError> {
        self.encode(batch, train)?;
        let _span = tracing::trace_span!("pool_head.forward").entered();
        let mut pooled = self.pool.output();
        if let Some(p) = &mut self.pooler {
            pooled = p.forward(pooled);
        }
        let pooled = self.head_dropout.forward(pooled, train);
        Ok(self.head.forward(pooled))
    }

    /// Embeddings, blocks, final norm and pooling; the result is in `self.pool`.
    fn encode(&mut self, batch: &TokenBatch, train: bool) -> Result<(), CoreError> {
        let (seq, d) = (batch.mask.seq(), self.config.d_model);
        if seq > self.config.max_len {
            return Err(CoreError::InvalidConfig(format!(
                "batch of length {seq} exceeds the model's maximum length {}",
                self.config.max_len
            )));
        }
        {
            let _span = tracing::trace_span!("embeddings.forward").entered();
            let positions = self.positions.weight.value.data();
            self.tokens.forward_offset_into(&batch.ids, positions, seq, &mut self.embedded)?;
        }
        match &mut self.batch {
            Some(b) => b.clone_from(batch),
            None => self.batch = Some(batch.clone()),
        }
        let mask = &batch.mask;
        let e = match &mut self.embedding_norm {
            Some(n) => n.forward(&self.embedded),
            None => &self.embedded,
        };
        let mut x = self.embedding_dropout.forward(e, train);
        for (i, block) in self.blocks.iter_mut().enumerate() {
            let _span = tracing::trace_span!("block.forward", layer = i).entered();
            x = block.forward(x, mask, train);
        }
        if let Some(n) = &mut self.final_norm {
            x = n.forward(x);
        }
        debug_assert_eq!(x.cols(), d);
        self.pool.forward(x, mask);
        Ok(())
    }

    /// Back-propagates the gradient of the loss with respect to the logits of the last
    /// training forward pass, accumulating every parameter gradient.
    pub fn backward(&mut self, dlogits: &Tensor) {
        let TransformerClassifier {
            tokens,
            positions,
            embedding_norm,
            embedding_dropout,
            head_dropout,
            blocks,
            final_norm,
            pool,
            pooler,
            head,
            encoder_frozen,
            embedded,
            grad,
            batch,
            ..
        } = self;
        let batch = batch.as_ref().expect("backward called before forward");
        {
            let _span = tracing::trace_span!("pool_head.backward").entered();
            let head_in = match pooler {
                Some(p) => p.output(),
                None => pool.output(),
            };
            let dpooled = head.backward(head_dropout.output(head_in), dlogits);
            let mut dpooled = head_dropout.backward(dpooled);
            if let Some(p) = pooler {
                dpooled = p.backward(pool.output(), dpooled);
            }
            if *encoder_frozen {
                return;
            }
            grad.copy_from(pool.backward(dpooled));
        }
        if let Some(n) = final_norm {
            let last = blocks.last().map(|b| b.output()).expect("at least one block");
            let g = n.backward(last, grad);
            grad.copy_from(g);
        }
        let e_in = match embedding_norm {
            Some(n) => n.output(),
            None => &*embedded,
        };
        let e_out = embedding_dropout.output(e_in);
        for i in (0..blocks.len()).rev() {
            let _span = tracing::trace_span!("block.backward", layer = i).entered();
            let (before, rest) = blocks.split_at_mut(i);
            let input = if i == 0 { e_out } else { before[i - 1].output() };
            let g = rest[0].backward(input, grad);
            grad.copy_from(g);
        }
        let _span = tracing::trace_span!("embeddings.backward").entered();
        let g = embedding_dropout.backward(grad);
        let g = match embedding_norm {
            Some(n) => n.backward(embedded, g),
            None => g,
        };
        tokens.backward(&batch.ids, g);
        positions.backward(g, batch.mask.seq());
    }
}

impl Module for TransformerClassifier {
    fn visit(&self, f: &mut dyn FnMut(&Param)) {
        self.tokens.visit(f);
        self.positions.visit(f);
        if let Some(n) = &self.embedding_norm {
            n.visit(f);
        }
        for b in &self.blocks {
            b.visit(f);
        }
        if let Some(n) = &self.final_norm {
            n.visit(f);
        }
        if let Some(p) = &self.pooler {
            p.visit(f);
        }
        self.head.visit(f);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
        self.tokens.visit_mut(f);
        self.positions.visit_mut(f);
        if let Some(n) = &mut self.embedding_norm {
            n.visit_mut(f);
        }
        for b in &mut self.blocks {
            b.visit_mut(f);
        }
        if let Some(n) = &mut self.final_norm {
            n.visit_mut(f);
        }
        if let Some(p) = &mut self.pooler {
            p.visit_mut(f);
        }
        self.head.visit_mut(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_param_grads;

    fn small(norm_first: bool, pooling: PoolingKind) -> TransformerConfig {
        TransformerConfig {
            vocab_size: 12,
            max_len: 6,
            d_model: 8,
            layers: 2,
            heads: 2,
            d_ff: 12,
            classes: 3,
            dropout: 0.1,
            attention_dropout: 0.1,
            embedding_dropout: 0.1,
            head_dropout: 0.2,
            norm_first,
            embedding_norm: !norm_first,
            final_norm: norm_first,
            pooling,
            embedding_init_std: 0.5,
            ..TransformerConfig::reference()
        }
    }

    /// Every parameter of the whole classifier, pre-LN and post-LN, every pooling, with dropout
    /// active everywhere (masks replayed): central differences with step 1e-2, relative
    /// tolerance 3e-2 plus 1e-3 absolute. Mean-max pooling uses step 1e-3: at 1e-2 one
    /// embedding perturbation moves a max to another position, where the function has a kink.
    #[test]
    fn transformer_classifier_gradient_check() {
        let ids = vec![1, 5, 7, 2, 0, 0, 3, 3, 9, 11, 4, 6, 8, 0, 0, 0, 0, 0];
        let batch =
            TokenBatch::new(ids, PaddingMask::from_lengths(6, vec![4, 6, 1]).unwrap()).unwrap();
        let unused = Tensor::zeros(&[1]);
        let cases = [
            (true, PoolingKind::Mean, false),
            (false, PoolingKind::First, true),
            (true, PoolingKind::Max, false),
            (true, PoolingKind::MeanMax, false),
        ];
        for (norm_first, pooling, pooler) in cases {
            let config = TransformerConfig { pooler, ..small(norm_first, pooling) };
            let mut model = TransformerClassifier::new(config, 3).unwrap();
            let fwd = |m: &mut TransformerClassifier, _: &Tensor| {
                m.set_stream(0);
                m.forward(&batch, true).unwrap().clone()
            };
            let step = if pooling == PoolingKind::MeanMax { 1e-3 } else { 1e-2 };
            check_param_grads(&mut model, &unused, step, 3e-2, fwd, |m, _, dy| m.backward(dy));
        }
    }

    /// A batch of two sequences (4 and 6 tokens) and a small pre-LN model with a pooler.
    fn two_sequences_with_pooler() -> (TokenBatch, TransformerConfig) {
        let ids = vec![1, 5, 7, 2, 0, 0, 3, 3, 9, 11, 4, 6];
        let batch =
            TokenBatch::new(ids, PaddingMask::from_lengths(6, vec![4, 6]).unwrap()).unwrap();
        (batch, TransformerConfig { pooler: true, ..small(true, PoolingKind::Mean) })
    }

    /// A placeholder model holds zeros; given the same weights it is the model `new` makes,
    /// down to the dropout masks of a training pass.
    #[test]
    fn placeholder_with_loaded_weights_equals_the_seeded_model() {
        let (batch, config) = two_sequences_with_pooler();
        let mut seeded = TransformerClassifier::new(config.clone(), 9).unwrap();
        let mut placeholder = TransformerClassifier::with_rng(config, Rng::placeholder(9)).unwrap();
        let mut values = Vec::new();
        seeded.visit(&mut |p| values.push(p.value.clone()));
        let mut zero = true;
        let mut i = 0;
        placeholder.visit_mut(&mut |p| {
            zero &= p.value.data().iter().all(|&v| v == 0.0) || p.name.contains("norm");
            p.value = values[i].clone();
            i += 1;
        });
        assert!(zero && i == values.len());
        let a = seeded.forward(&batch, true).unwrap().clone();
        let b = placeholder.forward(&batch, true).unwrap().clone();
        assert_eq!(a, b);
    }

    /// An int8 model that drops its float copies gives the same logits, keeps its parameter
    /// count, and refuses to be trained.
    #[test]
    fn int8_model_without_float_copies_gives_the_same_logits() {
        let (batch, config) = two_sequences_with_pooler();
        let mut model = TransformerClassifier::new(config, 4).unwrap();
        model.visit_mut(&mut |p| {
            if p.value.shape().len() == 2 {
                p.quantize_int8().unwrap();
            }
        });
        let params = model.num_params();
        let want = model.forward(&batch, false).unwrap().clone();
        model.release_dense_copies();
        let mut released = 0;
        model.visit(&mut |p| released += usize::from(p.is_dense_released()));
        // Token table, 2 x (qkv, out, up, down), pooler, head; not the position table.
        assert_eq!(released, 11);
        assert_eq!(model.num_params(), params);
        assert_eq!(model.forward(&batch, false).unwrap(), &want);
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            model.visit_mut(&mut |p| p.value_changed());
        }));
        assert!(step.is_err(), "a released parameter must refuse to change");
    }

    /// With the encoder frozen only the pooler and head get gradients, and they are the ones
    /// the full backward gives them.
    #[test]
    fn frozen_encoder_trains_only_the_top() {
        let ids = vec![1, 5, 7, 2, 3, 3, 9, 0];
        let batch =
            TokenBatch::new(ids, PaddingMask::from_lengths(4, vec![4, 3]).unwrap()).unwrap();
        let config = TransformerConfig {
            pooler: true,
            dropout: 0.0,
            attention_dropout: 0.0,
            embedding_dropout: 0.0,
            head_dropout: 0.0,
            ..small(false, PoolingKind::First)
        };
        let mut full = TransformerClassifier::new(config.clone(), 1).unwrap();
        let mut frozen = TransformerClassifier::new(config, 1).unwrap();
        frozen.set_encoder_frozen(true);
        let dy = Tensor::from_vec(vec![0.5, -0.25, 0.1, 0.3, 0.2, -0.6], &[2, 3]).unwrap();
        for m in [&mut full, &mut frozen] {
            m.zero_grad();
            m.forward(&batch, true).unwrap();
            m.backward(&dy);
        }
        let mut grads = Vec::new();
        full.visit(&mut |p| grads.push(p.grad.data().to_vec()));
        let mut i = 0;
        frozen.visit(&mut |p| {
            let top = p.name.starts_with("head.") || p.name.starts_with("pooler.");
            assert_eq!(p.trainable, top, "{}", p.name);
            if top {
                assert_eq!(p.grad.data(), &grads[i][..], "{}", p.name);
            } else {
                assert!(p.grad.data().iter().all(|&g| g == 0.0), "{}", p.name);
            }
            i += 1;
        });
        let pooled = full.features(&batch).unwrap();
        assert_eq!(pooled.shape(), &[2, 8]);
    }

    #[test]
    fn rejects_inconsistent_configurations() {
        let bad = TransformerConfig { heads: 3, ..TransformerConfig::reference() };
        assert!(TransformerClassifier::new(bad, 0).is_err());
        let bad = TransformerConfig { classes: 1, ..TransformerConfig::reference() };
        assert!(TransformerClassifier::new(bad, 0).is_err());
        let bad = TransformerConfig { dropout: 1.0, ..TransformerConfig::reference() };
        assert!(TransformerClassifier::new(bad, 0).is_err());
    }
}
