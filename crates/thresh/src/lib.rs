//! thresh: train, evaluate, compress and serve classifiers on the CPU.
//!
//! This crate holds everything the `thresh` command does, callable as a library. The compute
//! engine (tensors, layers, optimisers) is the `thresh-core` crate, re-exported as [`core`].
//!
//! - [`bench`]: the reference-model benchmark, run on the same synthetic batches as the
//!   PyTorch script it is compared with.
//! - [`system`]: facts about the running process (peak memory).

pub mod bench;
pub mod compress;
pub mod data;
pub mod doctor;
pub mod embed;
pub mod error;
pub mod eval;
pub mod fsutil;
pub mod images;
pub mod infer;
pub mod model;
pub mod predict;
pub mod pretrained;
pub mod run_record;
pub mod sentence;
pub mod system;
pub mod text;
pub mod train;
pub mod tune;
pub mod vectors;

pub use error::Error;
pub use thresh_core as core;
