//! Layers. Each has a `forward` that keeps what its backward needs and a `backward` that
//! accumulates parameter gradients and returns the input gradient. Layers own their output and
//! gradient buffers and reuse them from step to step.

pub mod activation;
pub mod attention;
pub mod dropout;
pub mod embedding;
pub mod encoder;
pub mod layer_norm;
pub mod linear;
pub mod loss;
pub mod mask;
pub mod one_vs_all;
pub mod pooler;
pub mod pooling;
pub mod positional;

pub use activation::{Activation, ActivationKind};
pub use attention::MultiHeadAttention;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use encoder::{EncoderBlock, EncoderBlockConfig};
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use loss::CrossEntropy;
pub use mask::PaddingMask;
pub use one_vs_all::OneVsAll;
pub use pooler::Pooler;
pub use pooling::{Pooling, PoolingKind};
pub use positional::PositionalEmbedding;
