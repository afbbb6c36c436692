//! Models assembled from the layers.

pub mod transformer;

pub use transformer::{TokenBatch, TransformerClassifier, TransformerConfig};
