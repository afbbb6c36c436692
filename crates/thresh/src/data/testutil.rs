//! Helpers shared by the readers' tests: files in a temporary directory and their errors.

use super::{read_dataset, ReadOptions};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Reading options of training data: labels required.
pub(crate) fn train() -> ReadOptions {
    ReadOptions { labels_required: true, ..ReadOptions::default() }
}

/// The error message of reading `path`, with the temporary directory left out.
pub(crate) fn err(path: &Path, options: &ReadOptions) -> String {
    let dir = format!("{}/", path.parent().unwrap().display());
    read_dataset(path, options).unwrap_err().to_string().replace(&dir, "")
}
