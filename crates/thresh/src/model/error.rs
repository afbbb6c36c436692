//! Errors of saving and loading models.

use std::path::PathBuf;
use thresh_core::CoreError;

/// What can go wrong with a model directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The directory does not exist.
    #[error("{}: model directory not found", path.display())]
    NotFound {
        /// The directory.
        path: PathBuf,
    },
    /// A file the model needs is absent.
    #[error("{}: missing (not a complete thresh model directory)", path.display())]
    MissingFile {
        /// The file.
        path: PathBuf,
    },
    /// A file exists but cannot be used.
    #[error("{}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The weights do not fit the architecture, or another engine error.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The tokenizer could not be saved or loaded.
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
}
