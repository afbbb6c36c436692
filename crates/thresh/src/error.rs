//! The library's error type.

use thresh_core::CoreError;

/// Everything the thresh library can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the compute engine.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A flag or option has a value that cannot be used.
    #[error("invalid value for {flag}: {message}")]
    InvalidOption {
        /// The flag, e.g. `--steps`.
        flag: &'static str,
        /// What is wrong and what was expected.
        message: String,
    },
}
