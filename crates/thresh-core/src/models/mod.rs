//! Models assembled from the layers.

pub mod bag;
pub mod transformer;

pub use bag::{BagClassifier, BagConfig, SgdExample, SgdTotals};
pub use transformer::{TokenBatch, TransformerClassifier, TransformerConfig};
