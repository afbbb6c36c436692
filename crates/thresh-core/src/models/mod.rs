//! Models assembled from the layers.

pub mod bag;
pub mod cnn;
pub mod prune;
pub mod transformer;

pub use bag::{BagClassifier, BagConfig, SgdExample, SgdTotals};
pub use cnn::{CnnClassifier, CnnConfig};
pub use transformer::{TokenBatch, TransformerClassifier, TransformerConfig};
