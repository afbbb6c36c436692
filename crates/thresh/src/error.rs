//! The library's error type.

use std::path::PathBuf;
use thresh_core::CoreError;

/// Everything the thresh library can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the compute engine.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An error reading a data file.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// An error saving or loading a model directory.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// An error building, loading or running a tokenizer.
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
    /// Images could not be read.
    #[error(transparent)]
    Images(#[from] crate::images::ImageError),
    /// A pretrained checkpoint could not be read.
    #[error(transparent)]
    Pretrained(#[from] crate::pretrained::PretrainedError),
    /// An evaluation could not be computed.
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    /// Data that was read correctly but cannot be used as asked.
    #[error("{}:{line}: {message}", path.display())]
    InvalidData {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A run cannot be resumed.
    #[error("cannot resume {}: {message}", path.display())]
    Resume {
        /// The run's output directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A flag or option has a value that cannot be used.
    #[error("invalid value for {flag}: {message}")]
    InvalidOption {
        /// The flag, e.g. `--steps`.
        flag: &'static str,
        /// What is wrong and what was expected.
        message: String,
    },
}

impl Error {
    /// Whether the error is the user's input or usage (exit code 2) rather than a failure of
    /// the run (exit code 1).
    pub fn is_usage(&self) -> bool {
        match self {
            Error::Data(_)
            | Error::InvalidData { .. }
            | Error::InvalidOption { .. }
            | Error::Resume { .. }
            | Error::Pretrained(_)
            | Error::Images(_)
            | Error::Text(_) => true,
            Error::Model(e) => !matches!(e, crate::model::ModelError::Io { .. }),
            Error::Core(CoreError::TokenOutOfRange { .. } | CoreError::InvalidConfig(_)) => true,
            _ => false,
        }
    }
}
