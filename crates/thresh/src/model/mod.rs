//! Trained models and the directory they live in.
//!
//! A model directory holds `model.safetensors` (the weights), `config.json` ([`ModelConfig`]:
//! architecture, labels, sequence length, tokenizer file), the tokenizer (`tokenizer.json` in
//! Hugging Face's format, or `word_tokenizer.json` for the word tokenizer, gzip-compressed as
//! `word_tokenizer.json.gz` in compressed models), and the records of
//! the run that made it: `history.json`, `metrics.json`, `run.json` (and, for a fine-tuned
//! checkpoint, its configuration as `pretrained_config.json`). Every file is written
//! atomically, so a directory is never left half-written.

mod config;
mod dir;
mod error;
mod image;
mod network;

pub use config::{
    Compression, ModelConfig, ModelKind, PixelScale, CONFIG_FILE, MODEL_FORMAT, WEIGHTS_FILE,
};
pub use dir::{load, load_config, save, Model};
pub use error::ModelError;
pub use image::{load_image_model, save_image_model, ImageModel};
pub use network::Network;
