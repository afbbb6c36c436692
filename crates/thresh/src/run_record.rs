//! `run.json`: how a model was made — command line, seed, threads, version, the options in
//! full and a SHA-256 of every data file — so a run can be repeated, checked or resumed.

use crate::error::Error;
use crate::train::TrainOptions;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// File name of the run record in a model directory.
pub const RUN_FILE: &str = "run.json";

/// One data file and its digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    /// The path as given.
    pub path: PathBuf,
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
}

/// The contents of `run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The command line that started the run.
    pub command: Vec<String>,
    /// The seed.
    pub seed: u64,
    /// Worker threads used.
    pub threads: usize,
    /// thresh version.
    pub thresh_version: String,
    /// Data files by role (`train`, `valid`, `test`).
    pub data: std::collections::BTreeMap<String, DataFile>,
    /// The full options.
    pub options: TrainOptions,
}

/// Lower-case hex SHA-256 of a file's bytes.
pub fn sha256_file(path: &Path) -> Result<String, Error> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl RunRecord {
    /// Reads `run.json` from a model directory.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(RUN_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|source| Error::Io { path: path.clone(), source })?;
        serde_json::from_str(&text).map_err(|e| Error::Resume {
            path: dir.to_path_buf(),
            message: format!("{}: not a valid run record: {e}", path.display()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_a_known_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc.txt");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
