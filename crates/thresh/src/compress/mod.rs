//! Compression of a trained text model: pruning, optional fine-tuning, quantisation, and a
//! measured comparison of the model before and after.
//!
//! - `quantize`: int8 storage of every linear layer and embedding table (run through the integer
//!   kernels of [`thresh_core::qgemm`]) and product quantisation of a bag model's table.
//! - `prune`: structured pruning (feed-forward neurons, attention heads) and global magnitude
//!   pruning.
//! - `measure`: size, accuracy, batch-1 latency and throughput of a model directory.
//! - `run`: the whole command, [`compress`], and its [`CompressReport`].
//!
//! The result is an ordinary model directory: `thresh eval`, `predict` and `bench` load it as
//! they load any other; `config.json` records what was done in its `compression` entry.

mod measure;
mod prune;
mod quantize;
mod run;

pub use measure::{measure, Measurement};
pub use prune::{prune_network, PruneOptions};
pub use quantize::{quantize_network, QuantizeKind};
pub use run::{compress, CompressOptions, CompressReport, COMPRESSION_FILE};
