//! Errors of reading images.

use std::path::{Path, PathBuf};

/// What can go wrong reading labeled images.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Reading failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The path is not a directory of images.
    #[error("{}: not a directory (expected IDX files or one subfolder of images per class)", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// An IDX directory lacks the files of a split.
    #[error("{}: no {split} files", path.display())]
    MissingSplit {
        /// The directory.
        path: PathBuf,
        /// The files looked for.
        split: &'static str,
    },
    /// A file's contents are not what they should be.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A folder tree has no images, or fewer than two classes.
    #[error("{}: {message}", path.display())]
    NoImages {
        /// The directory.
        path: PathBuf,
        /// What was found.
        message: String,
    },
}

impl ImageError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ImageError::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        ImageError::Invalid { path: path.to_path_buf(), message: message.into() }
    }
}
