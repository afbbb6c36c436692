//! Errors of the compute engine.

use std::path::PathBuf;

/// Everything that can go wrong inside the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// Two shapes that must agree do not.
    #[error("shape mismatch in {what}: expected {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// Which tensor or operation.
        what: String,
        /// The shape that was required.
        expected: Vec<usize>,
        /// The shape that was given.
        found: Vec<usize>,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A token id is outside the embedding table.
    #[error("token id {id} is out of range for a vocabulary of {vocab}")]
    TokenOutOfRange {
        /// The offending id.
        id: u32,
        /// The table's row count.
        vocab: usize,
    },
    /// A label is outside the class range.
    #[error("label {label} is out of range for {classes} classes")]
    LabelOutOfRange {
        /// The offending label.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A safetensors file could not be parsed or written.
    #[error("{}: not a valid safetensors file: {message}", path.display())]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A tensor in a weights file has a type the engine cannot load.
    #[error("{}: tensor {name} has dtype {dtype}, expected F32", path.display())]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// Its dtype as the file states it.
        dtype: String,
    },
    /// Weights on file do not match the model's parameters.
    #[error("{}: weights do not match the model (missing: {missing:?}; unexpected: {unexpected:?}; wrong shape: {wrong_shape:?})", path.display())]
    WeightsMismatch {
        /// The file.
        path: PathBuf,
        /// Parameters the model has that the file lacks.
        missing: Vec<String>,
        /// Tensors in the file the model has no parameter for.
        unexpected: Vec<String>,
        /// Parameters whose shapes differ, as "name: file [..] vs model [..]".
        wrong_shape: Vec<String>,
    },
    /// The thread pool could not be created.
    #[error("could not start a pool of {threads} threads: {message}")]
    ThreadPool {
        /// Requested thread count.
        threads: usize,
        /// What rayon said.
        message: String,
    },
}
