//! Layers. Each has a `forward` that keeps what its backward needs and a `backward` that
//! accumulates parameter gradients and returns the input gradient. Layers own their output and
//! gradient buffers and reuse them from step to step.

pub mod activation;
pub mod attention;
pub mod batch_norm2d;
pub mod conv2d;
pub mod dropout;
pub mod embedding;
pub mod encoder;
pub mod global_avg_pool;
pub mod layer_norm;
pub mod linear;
pub mod loss;
pub mod mask;
pub mod max_pool2d;
pub mod one_vs_all;
pub mod pooler;
pub mod pooling;
pub mod positional;

pub use activation::{Activation, ActivationKind};
pub use attention::MultiHeadAttention;
pub use batch_norm2d::BatchNorm2d;
pub use conv2d::{Conv2d, Conv2dShape};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use encoder::{EncoderBlock, EncoderBlockConfig};
pub use global_avg_pool::{Flatten, GlobalAvgPool};
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use loss::CrossEntropy;
pub use mask::PaddingMask;
pub use max_pool2d::MaxPool2d;
pub use one_vs_all::OneVsAll;
pub use pooler::Pooler;
pub use pooling::{Pooling, PoolingKind};
pub use positional::PositionalEmbedding;
