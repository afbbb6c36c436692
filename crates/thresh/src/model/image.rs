//! Image models: a convolutional network with its configuration, in the same directory
//! layout as text models but without a tokenizer.

use super::config::{ModelConfig, ModelKind, CONFIG_FILE, WEIGHTS_FILE};
use super::dir::load_config;
use super::error::ModelError;
use crate::fsutil::write_atomic;
use std::path::Path;
use thresh_core::io;
use thresh_core::models::CnnClassifier;
use thresh_core::rng::Rng;

/// A trained image classifier.
#[derive(Clone, Debug)]
pub struct ImageModel {
    /// What `config.json` holds (`model` is `cnn`, with `cnn` and `pixels` set).
    pub config: ModelConfig,
    /// The network.
    pub network: CnnClassifier,
}

/// Writes the weights and `config.json` into `dir` (created if needed).
pub fn save_image_model(dir: &Path, model: &ImageModel) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io { path: dir.into(), source })?;
    let path = dir.join(CONFIG_FILE);
    let mut json = serde_json::to_string_pretty(&model.config)
        .map_err(|e| ModelError::Corrupt { path: path.clone(), message: e.to_string() })?;
    json.push('\n');
    write_atomic(&path, json.as_bytes()).map_err(|source| ModelError::Io { path, source })?;
    io::save_module(&dir.join(WEIGHTS_FILE), &model.network)?;
    Ok(())
}

/// Loads the image model in `dir`; a text model, or a missing or corrupt file, is an error
/// naming the file.
pub fn load_image_model(dir: &Path) -> Result<ImageModel, ModelError> {
    let config = load_config(dir)?;
    let path = dir.join(CONFIG_FILE);
    let arch = match (config.model, &config.cnn, config.pixels) {
        (ModelKind::Cnn, Some(arch), Some(_)) => arch.clone(),
        _ => {
            return Err(ModelError::Corrupt {
                path,
                message: format!("a {} model, not an image (cnn) model", config.model),
            })
        }
    };
    let mut network = CnnClassifier::with_rng(arch, Rng::placeholder(0))?;
    let weights = dir.join(WEIGHTS_FILE);
    if !weights.is_file() {
        return Err(ModelError::MissingFile { path: weights });
    }
    io::load_module(&weights, &mut network)?;
    Ok(ImageModel { config, network })
}
