//! Using a trained model: predictions for texts and evaluation on labeled files.

use crate::data::{read_dataset, Dataset, ReadOptions};
use crate::error::Error;
use crate::eval::Report;
use crate::infer::class_probabilities;
use crate::model::{self, Model};
use crate::train::batching::{fit_length, EncodedSet};
use crate::train::evaluate_encoded;
use serde::Serialize;
use std::path::Path;
use thresh_core::Threads;

/// The prediction for one text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// The most probable label.
    pub label: String,
    /// Its probability.
    pub score: f32,
    /// The `k` most probable labels with their probabilities, best first.
    pub top: Vec<(String, f32)>,
}

/// A loaded model with its thread pool.
pub struct Predictor {
    model: Model,
    threads: Threads,
}

impl Predictor {
    /// Loads the model in `dir`; `threads` 0 uses every core.
    pub fn load(dir: &Path, threads: usize) -> Result<Self, Error> {
        let model = model::load(dir)?;
        Ok(Predictor { model, threads: Threads::new(threads)? })
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    fn encode(&self, texts: &[&str], labels: Vec<Option<usize>>) -> EncodedSet {
        let tok = &self.model.tokenizer;
        let filler = tok.unk_id().unwrap_or(tok.pad_id());
        let max = self.model.config.max_length;
        let ids = tok
            .encode_batch(texts, self.model.config.special_tokens)
            .into_iter()
            .map(|ids| fit_length(ids, max, filler))
            .collect();
        EncodedSet { ids, labels }
    }

    /// Predictions for `texts`, with the `top_k` best labels each (at least 1).
    pub fn predict(&mut self, texts: &[&str], top_k: usize) -> Result<Vec<Prediction>, Error> {
        let set = self.encode(texts, vec![None; texts.len()]);
        let Predictor { model, threads } = self;
        let classes = model.config.labels.len();
        let pad = model.tokenizer.pad_id();
        let probs =
            threads.install(|| class_probabilities(&mut model.network, &set.ids, pad, classes))?;
        let k = top_k.clamp(1, classes);
        Ok(probs
            .chunks_exact(classes)
            .map(|row| {
                let mut order: Vec<usize> = (0..classes).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
                let top: Vec<(String, f32)> =
                    order[..k].iter().map(|&c| (model.config.labels[c].clone(), row[c])).collect();
                Prediction { label: top[0].0.clone(), score: top[0].1, top }
            })
            .collect())
    }

    /// Scores a labeled dataset.
    pub fn evaluate(&mut self, dataset: &Dataset) -> Result<Report, Error> {
        let texts: Vec<&str> = dataset.examples.iter().map(|e| e.text.as_str()).collect();
        let labels = dataset
            .examples
            .iter()
            .map(|e| {
                e.labels.first().and_then(|l| self.model.config.labels.iter().position(|m| m == l))
            })
            .collect();
        let set = self.encode(&texts, labels);
        let Predictor { model, threads } = self;
        threads.install(|| evaluate_encoded(model, dataset, &set))
    }

    /// Reads and scores a labeled file.
    pub fn evaluate_file(&mut self, path: &Path, read: &ReadOptions) -> Result<Report, Error> {
        let dataset = read_dataset(path, read)?;
        self.evaluate(&dataset)
    }
}
