//! The trainable network of a model, whatever its family, behind one interface.

use super::config::{ModelConfig, ModelKind};
use super::error::ModelError;
use thresh_core::models::{BagClassifier, TokenBatch, TransformerClassifier};
use thresh_core::rng::Rng;
use thresh_core::{CoreError, Module, Param, Tensor};

/// A network mapping token batches to class logits.
#[derive(Clone, Debug)]
pub enum Network {
    /// A Transformer encoder classifier.
    Transformer(Box<TransformerClassifier>),
    /// A bag-of-embeddings classifier.
    Bag(Box<BagClassifier>),
}

impl Network {
    /// A freshly initialised network for `config`; the same seed gives the same weights.
    pub fn new(config: &ModelConfig, seed: u64) -> Result<Self, ModelError> {
        Self::build(config, Rng::new(seed))
    }

    /// The network [`Network::new`] makes, with zero weights in untouched memory, for weights
    /// about to be loaded: no time spent drawing values that are replaced at once.
    pub fn placeholder(config: &ModelConfig, seed: u64) -> Result<Self, ModelError> {
        Self::build(config, Rng::placeholder(seed))
    }

    fn build(config: &ModelConfig, rng: Rng) -> Result<Self, ModelError> {
        match config.model {
            ModelKind::Transformer | ModelKind::Bert => {
                let arch = config.transformer.clone().ok_or_else(|| {
                    CoreError::InvalidConfig("transformer model without its architecture".into())
                })?;
                Ok(Network::Transformer(Box::new(TransformerClassifier::with_rng(arch, rng)?)))
            }
            ModelKind::Bag => {
                let arch = config.bag.clone().ok_or_else(|| {
                    CoreError::InvalidConfig("bag model without its architecture".into())
                })?;
                Ok(Network::Bag(Box::new(BagClassifier::with_rng(arch, rng)?)))
            }
            ModelKind::Cnn => Err(CoreError::InvalidConfig(
                "an image model has no text network (see model::ImageModel)".into(),
            )
            .into()),
        }
    }

    /// Class logits `[batch, classes]`; with `train`, dropout is on and activations are kept
    /// for [`Network::backward`].
    pub fn forward(&mut self, batch: &TokenBatch, train: bool) -> Result<&Tensor, CoreError> {
        match self {
            Network::Transformer(m) => m.forward(batch, train),
            Network::Bag(m) => m.forward(batch, train),
        }
    }

    /// Back-propagates the gradient of the loss with respect to the last training logits.
    pub fn backward(&mut self, dlogits: &Tensor) {
        match self {
            Network::Transformer(m) => m.backward(dlogits),
            Network::Bag(m) => m.backward(dlogits),
        }
    }

    /// Drops the float copies of an int8 Transformer's weights, which inference does not read
    /// (see `TransformerClassifier::release_dense_copies`); for inference only: the network can
    /// no longer be trained or saved.
    pub fn release_dense_copies(&mut self) {
        if let Network::Transformer(m) = self {
            m.release_dense_copies();
        }
    }

    /// Readies a loaded network for inference: a Transformer keeps transposed copies of its
    /// float projection weights (see `TransformerClassifier::keep_transposed_weights`).
    pub fn prepare_inference(&mut self) {
        if let Network::Transformer(m) = self {
            m.keep_transposed_weights();
        }
    }

    /// Whether the outputs are one-vs-all scores (a sigmoid per class) rather than a softmax.
    pub fn one_vs_all(&self) -> bool {
        match self {
            Network::Transformer(_) => false,
            Network::Bag(m) => m.config().one_vs_all,
        }
    }

    /// Sets the dropout streams of the next forward pass (training uses the global step, so a
    /// resumed run draws the same masks as an uninterrupted one).
    pub fn set_stream(&mut self, stream: u64) {
        match self {
            Network::Transformer(m) => m.set_stream(stream),
            // No dropout.
            Network::Bag(_) => {}
        }
    }
}

impl Module for Network {
    fn visit(&self, f: &mut dyn FnMut(&Param)) {
        match self {
            Network::Transformer(m) => m.visit(f),
            Network::Bag(m) => m.visit(f),
        }
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
        match self {
            Network::Transformer(m) => m.visit_mut(f),
            Network::Bag(m) => m.visit_mut(f),
        }
    }
}
