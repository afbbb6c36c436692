//! The figures compared before and after compression.

use crate::bench::{self, BenchMode, BenchOptions};
use crate::data::ReadOptions;
use crate::error::Error;
use crate::model::WEIGHTS_FILE;
use crate::predict::Predictor;
use std::path::Path;
use thresh_core::Module;

/// Size, accuracy and speed of one model directory.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Measurement {
    /// Bytes of `model.safetensors`.
    pub weights_bytes: u64,
    /// Bytes of every file in the directory.
    pub dir_bytes: u64,
    /// Parameters (scalar values) of the network.
    pub params: usize,
    /// Accuracy on the evaluation file, when one was given.
    pub accuracy: Option<f64>,
    /// Macro-F1 on the evaluation file, when one was given.
    pub macro_f1: Option<f64>,
    /// Median milliseconds of one forward pass on a single full-length sequence, unless the
    /// speed was not measured.
    pub latency_ms: Option<f64>,
    /// Sequences per second in batches of 64 full-length sequences, unless the speed was not
    /// measured.
    pub seq_per_s: Option<f64>,
}

fn dir_size(dir: &Path) -> Result<u64, Error> {
    let io = |source| Error::Io { path: dir.to_path_buf(), source };
    let mut total = 0;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let meta = entry.map_err(io)?.metadata().map_err(io)?;
        if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

/// Measures the model in `dir` with `threads` workers: sizes on disk, accuracy on `eval`
/// (read with `read`), and speed on synthetic batches of the model's own shape (as
/// `thresh bench --model DIR --mode infer` runs it) unless `speed` is false.
pub fn measure(
    dir: &Path,
    eval: Option<&Path>,
    read: &ReadOptions,
    threads: usize,
    speed: bool,
) -> Result<Measurement, Error> {
    let weights = dir.join(WEIGHTS_FILE);
    let weights_bytes = std::fs::metadata(&weights)
        .map_err(|source| Error::Io { path: weights.clone(), source })?
        .len();
    let mut predictor = Predictor::load(dir, threads)?;
    let params = predictor.model().network.num_params();
    let (accuracy, macro_f1) = match eval {
        Some(path) => {
            let report = predictor.evaluate_file(path, read, None)?;
            (Some(report.accuracy), Some(report.macro_f1))
        }
        None => (None, None),
    };
    drop(predictor);
    let mut m = Measurement {
        weights_bytes,
        dir_bytes: dir_size(dir)?,
        params,
        accuracy,
        macro_f1,
        latency_ms: None,
        seq_per_s: None,
    };
    if !speed {
        return Ok(m);
    }
    let base = BenchOptions {
        mode: BenchMode::Infer,
        threads,
        model: Some(dir.to_path_buf()),
        ..BenchOptions::default()
    };
    let single =
        bench::run(&BenchOptions { batch: Some(1), steps: 300, warmup: 30, ..base.clone() })?;
    let batched = bench::run(&BenchOptions { batch: Some(64), steps: 40, warmup: 5, ..base })?;
    m.latency_ms = Some(single.median_step_s() * 1e3);
    m.seq_per_s = Some(batched.seq_per_s());
    Ok(m)
}
