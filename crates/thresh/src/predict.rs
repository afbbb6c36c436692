//! Using a trained model: predictions for texts and evaluation on labeled files.

use crate::data::{read_dataset, Dataset, ReadOptions};
use crate::error::Error;
use crate::eval::Report;
use crate::infer::class_probabilities;
use crate::model::{self, Model};
use crate::train::batching::{class_ids, fit_length, EncodedSet};
use crate::train::{evaluate_encoded, DEFAULT_THRESHOLD};
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
    /// With a threshold: every label whose probability reaches it, best first (possibly none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<(String, f32)>>,
}

impl Prediction {
    /// The prediction for one row of class probabilities over `labels`: the `top_k` best (at
    /// least 1) and, with a `threshold`, every label that reaches it.
    pub fn from_probabilities(
        row: &[f32],
        labels: &[String],
        top_k: usize,
        threshold: Option<f32>,
    ) -> Self {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        let named = |&c: &usize| (labels[c].clone(), row[c]);
        let k = top_k.clamp(1, row.len());
        let top: Vec<(String, f32)> = order[..k].iter().map(named).collect();
        let labels =
            threshold.map(|t| order.iter().take_while(|&&c| row[c] >= t).map(named).collect());
        Prediction { label: top[0].0.clone(), score: top[0].1, top, labels }
    }
}

/// A loaded model with its thread pool.
pub struct Predictor {
    model: Model,
    threads: Threads,
}

impl Predictor {
    /// Loads the model in `dir`; `threads` 0 uses every core.
    pub fn load(dir: &Path, threads: usize) -> Result<Self, Error> {
        let mut model = model::load(dir)?;
        // A predictor only runs the network forward, so an int8 model needs no float copies.
        model.network.release_dense_copies();
        Ok(Predictor { model, threads: Threads::new(threads)? })
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    fn encode(
        &self,
        texts: &[&str],
        labels: Vec<Option<usize>>,
        also: Vec<Vec<usize>>,
    ) -> EncodedSet {
        let tok = &self.model.tokenizer;
        let filler = tok.unk_id().unwrap_or(tok.pad_id());
        let max = self.model.config.max_length;
        let ids = tok
            .encode_batch(texts, self.model.config.special_tokens)
            .into_iter()
            .map(|ids| fit_length(ids, max, filler, self.model.config.special_tokens))
            .collect();
        EncodedSet { ids, labels, also }
    }

    /// The threshold predictions use when none is given: [`DEFAULT_THRESHOLD`] for a
    /// one-vs-all model, whose texts may have several labels; none for a softmax model.
    pub fn default_threshold(&self) -> Option<f32> {
        self.model.network.one_vs_all().then_some(DEFAULT_THRESHOLD)
    }

    /// Predictions for `texts`, with the `top_k` best labels each (at least 1) and, with a
    /// `threshold`, all labels whose probability is at least that.
    pub fn predict(
        &mut self,
        texts: &[&str],
        top_k: usize,
        threshold: Option<f32>,
    ) -> Result<Vec<Prediction>, Error> {
        let set = self.encode(texts, vec![None; texts.len()], vec![Vec::new(); texts.len()]);
        let Predictor { model, threads } = self;
        let classes = model.config.labels.len();
        let pad = model.tokenizer.pad_id();
        let probs =
            threads.install(|| class_probabilities(&mut model.network, &set.ids, pad, classes))?;
        Ok(probs
            .chunks_exact(classes)
            .map(|row| Prediction::from_probabilities(row, &model.config.labels, top_k, threshold))
            .collect())
    }

    /// Scores a labeled dataset; `threshold` applies to label-set scores (see
    /// [`evaluate_encoded`]), [`DEFAULT_THRESHOLD`] when `None`.
    pub fn evaluate(&mut self, dataset: &Dataset, threshold: Option<f32>) -> Result<Report, Error> {
        let texts: Vec<&str> = dataset.examples.iter().map(|e| e.text.as_str()).collect();
        let (labels, also) = class_ids(
            dataset.examples.iter().map(|e| e.labels.as_slice()),
            &self.model.config.labels,
        );
        let set = self.encode(&texts, labels, also);
        let Predictor { model, threads } = self;
        let threshold = threshold.unwrap_or(DEFAULT_THRESHOLD);
        threads.install(|| evaluate_encoded(model, dataset, &set, threshold))
    }

    /// Reads and scores a labeled file.
    pub fn evaluate_file(
        &mut self,
        path: &Path,
        read: &ReadOptions,
        threshold: Option<f32>,
    ) -> Result<Report, Error> {
        let dataset = read_dataset(path, read)?;
        self.evaluate(&dataset, threshold)
    }
}
