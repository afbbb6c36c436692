//! Saving and loading a model directory.

use super::config::{ModelConfig, CONFIG_FILE, MODEL_FORMAT, WEIGHTS_FILE};
use super::error::ModelError;
use super::network::Network;
use crate::fsutil::write_atomic;
use crate::text::TextTokenizer;
use std::path::Path;
use thresh_core::io;

/// A trained model: architecture and labels, tokenizer, network.
#[derive(Clone, Debug)]
pub struct Model {
    /// What `config.json` holds.
    pub config: ModelConfig,
    /// The tokenizer the network's ids come from.
    pub tokenizer: TextTokenizer,
    /// The network.
    pub network: Network,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io { path: path.to_path_buf(), source }
}

/// Writes the weights, `config.json` and the tokenizer into `dir` (created if needed). A
/// compressed model (one whose configuration records a compression) keeps a word vocabulary
/// gzip-compressed.
pub fn save(dir: &Path, model: &Model) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    model.tokenizer.save_as(dir, model.config.compression.is_some())?;
    let config_path = dir.join(CONFIG_FILE);
    let mut json = serde_json::to_string_pretty(&model.config)
        .map_err(|e| ModelError::Corrupt { path: config_path.clone(), message: e.to_string() })?;
    json.push('\n');
    write_atomic(&config_path, json.as_bytes()).map_err(io_err(&config_path))?;
    io::save_module(&dir.join(WEIGHTS_FILE), &model.network)?;
    Ok(())
}

/// Reads `config.json` of the model in `dir`.
pub fn load_config(dir: &Path) -> Result<ModelConfig, ModelError> {
    if !dir.is_dir() {
        return Err(ModelError::NotFound { path: dir.to_path_buf() });
    }
    let path = dir.join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelError::MissingFile { path })
        }
        Err(e) => return Err(ModelError::Io { path, source: e }),
    };
    let config: ModelConfig = serde_json::from_str(&text).map_err(|e| ModelError::Corrupt {
        path: path.clone(),
        message: format!("not a valid thresh model configuration: {e}"),
    })?;
    if config.format != MODEL_FORMAT {
        return Err(ModelError::Corrupt {
            path,
            message: format!("format is {:?}, expected {MODEL_FORMAT:?}", config.format),
        });
    }
    if config.labels.len() < 2 {
        return Err(ModelError::Corrupt {
            path,
            message: format!("{} labels; a classifier has at least 2", config.labels.len()),
        });
    }
    Ok(config)
}

/// Loads the model in `dir`, ready for inference ([`Network::prepare_inference`]). A missing,
/// truncated or corrupt file is an error naming it.
pub fn load(dir: &Path) -> Result<Model, ModelError> {
    let config = load_config(dir)?;
    let tokenizer = TextTokenizer::load(dir)?;
    let mut network = Network::placeholder(&config, 0)?;
    let weights = dir.join(WEIGHTS_FILE);
    if !weights.is_file() {
        return Err(ModelError::MissingFile { path: weights });
    }
    io::load_module(&weights, &mut network)?;
    network.prepare_inference();
    Ok(Model { config, tokenizer, network })
}
