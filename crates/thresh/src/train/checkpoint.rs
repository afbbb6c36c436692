//! The per-epoch checkpoint that lets an interrupted run continue.
//!
//! One file, `checkpoint.safetensors` in the output directory, holds the network's weights
//! (`model.*`), AdamW's moments (`adam.m.*`, `adam.v.*`), the best epoch's weights so far
//! (`best.*`, when there is validation), the moving average of the weights (`average.*`, when
//! one is kept) and, in the safetensors metadata, the loop state as
//! JSON. Being one file written atomically, it is always consistent: a run killed at any
//! moment, even by SIGKILL, leaves the previous epoch's checkpoint or the new one.

use super::events::EpochRecord;
use crate::model::ModelError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use thresh_core::optim::AdamW;
use thresh_core::{io, Module, Tensor};

/// File name of the checkpoint in the output directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// The training loop's state after an epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Epochs finished.
    pub epochs_done: usize,
    /// Optimiser steps taken.
    pub global_step: u64,
    /// Per-epoch metrics so far.
    pub history: Vec<EpochRecord>,
    /// Epoch with the lowest val_loss so far.
    pub best_epoch: Option<usize>,
    /// That val_loss.
    pub best_val_loss: Option<f64>,
    /// Epochs since the best one.
    pub since_best: usize,
    /// Whether early stopping ended the run.
    pub stopped: bool,
}

impl LoopState {
    /// Records the validation loss of `epoch`: whether it is the best so far (the caller
    /// keeps that epoch's weights), counting epochs without improvement towards early
    /// stopping after `patience` of them (0: never).
    pub fn note_validation(
        &mut self,
        epoch: usize,
        val_loss: Option<f64>,
        patience: usize,
    ) -> bool {
        let Some(v) = val_loss else { return false };
        if self.best_val_loss.is_none_or(|b| v < b) {
            self.best_val_loss = Some(v);
            self.best_epoch = Some(epoch);
            self.since_best = 0;
            true
        } else {
            self.since_best += 1;
            if patience > 0 && self.since_best >= patience {
                self.stopped = true;
            }
            false
        }
    }

    /// Ends the run, as early stopping does, when `deadline` has passed.
    pub fn check_deadline(&mut self, deadline: Option<std::time::Instant>) {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            self.stopped = true;
        }
    }

    /// Whether the run should stop here to be continued later: `pause_after` epochs are done
    /// and the run is neither finished nor stopped.
    pub fn at_pause(&self, pause_after: Option<usize>, epochs: usize) -> bool {
        pause_after.is_some_and(|p| self.epochs_done >= p)
            && !self.stopped
            && self.epochs_done < epochs
    }
}

/// AdamW's step count and first and second moments, in parameter order.
pub type AdamState = (u64, Vec<(Vec<f32>, Vec<f32>)>);

/// Everything a checkpoint restores.
pub struct Checkpoint {
    /// Loop state.
    pub state: LoopState,
    /// Network weights by parameter name.
    pub model: BTreeMap<String, Tensor>,
    /// Best weights by parameter name, if any.
    pub best: Option<BTreeMap<String, Tensor>>,
    /// Moving average of the weights by parameter name, if one is kept.
    pub average: Option<BTreeMap<String, Tensor>>,
    /// AdamW's step count and moments, in parameter order.
    pub adam: AdamState,
}

/// Sets the parameters of `network` that `weights` names (a checkpoint's `model`).
pub fn apply_weights(network: &mut dyn Module, weights: &BTreeMap<String, Tensor>) {
    network.visit_mut(&mut |p| {
        if let Some(t) = weights.get(&p.name) {
            p.value.copy_from(t);
        }
    });
}

/// The tensors of `weights` in `network`'s parameter order (a checkpoint's `best` or
/// `average`, as the training loop keeps them).
pub fn in_order(network: &dyn Module, weights: &BTreeMap<String, Tensor>) -> Vec<Tensor> {
    let mut out = Vec::new();
    network.visit(&mut |p| {
        if let Some(t) = weights.get(&p.name) {
            out.push(t.clone());
        }
    });
    out
}

fn corrupt(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Corrupt { path: path.to_path_buf(), message: message.into() }
}

/// Writes the checkpoint atomically.
pub fn save(
    path: &Path,
    state: &LoopState,
    network: &dyn Module,
    best: Option<&[Tensor]>,
    average: Option<&[Tensor]>,
    adam: &AdamW,
) -> Result<(), ModelError> {
    let mut names = Vec::new();
    let mut owned: Vec<(String, Tensor)> = Vec::new();
    network.visit(&mut |p| {
        names.push(p.name.clone());
        owned.push((format!("model.{}", p.name), p.value.clone()));
    });
    let shapes: Vec<Vec<usize>> = owned.iter().map(|(_, t)| t.shape().to_vec()).collect();
    for (prefix, set) in [("best", best), ("average", average)] {
        for (name, value) in names.iter().zip(set.unwrap_or_default()) {
            owned.push((format!("{prefix}.{name}"), value.clone()));
        }
    }
    for (i, (name, shape)) in names.iter().zip(&shapes).enumerate() {
        let (m, v) = adam.moments().get(i).cloned().unwrap_or_default();
        if m.len() == shape.iter().product::<usize>() && !m.is_empty() {
            owned.push((format!("adam.m.{name}"), Tensor::from_vec(m, shape)?));
            owned.push((format!("adam.v.{name}"), Tensor::from_vec(v, shape)?));
        }
    }
    let refs: Vec<(String, &Tensor)> = owned.iter().map(|(n, t)| (n.clone(), t)).collect();
    let mut meta = HashMap::new();
    let mut state_json = serde_json::to_value(state).map_err(|e| corrupt(path, e.to_string()))?;
    state_json["adam_step"] = adam.steps().into();
    meta.insert("state".to_string(), state_json.to_string());
    io::save_tensors(path, &refs, Some(meta))?;
    Ok(())
}

/// Reads a checkpoint written by [`save`] for `network`'s parameters.
pub fn load(path: &Path, network: &dyn Module) -> Result<Checkpoint, ModelError> {
    let bytes =
        std::fs::read(path).map_err(|source| ModelError::Io { path: path.into(), source })?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| corrupt(path, format!("not a valid checkpoint: {e}")))?;
    let state_text = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("state"))
        .ok_or_else(|| corrupt(path, "checkpoint has no loop state"))?;
    let state_json: serde_json::Value =
        serde_json::from_str(state_text).map_err(|e| corrupt(path, e.to_string()))?;
    let adam_step = state_json["adam_step"].as_u64().unwrap_or(0);
    let state: LoopState =
        serde_json::from_value(state_json).map_err(|e| corrupt(path, e.to_string()))?;
    let mut tensors = io::parse_tensors(path, &bytes)?;
    let mut names = Vec::new();
    network.visit(&mut |p| names.push(p.name.clone()));
    let mut take = |prefix: &str, name: &str| tensors.remove(&format!("{prefix}.{name}"));
    let mut model = BTreeMap::new();
    let mut best = BTreeMap::new();
    let mut average = BTreeMap::new();
    let mut moments = Vec::new();
    for name in &names {
        let w = take("model", name)
            .ok_or_else(|| corrupt(path, format!("checkpoint lacks weights of {name}")))?;
        model.insert(name.clone(), w);
        if let Some(b) = take("best", name) {
            best.insert(name.clone(), b);
        }
        if let Some(a) = take("average", name) {
            average.insert(name.clone(), a);
        }
        if let (Some(m), Some(v)) = (take("adam.m", name), take("adam.v", name)) {
            moments.push((m.into_vec(), v.into_vec()));
        }
    }
    if !moments.is_empty() && moments.len() != names.len() {
        return Err(corrupt(path, "checkpoint has optimiser state for only some parameters"));
    }
    let best = (best.len() == names.len()).then_some(best);
    let average = (average.len() == names.len()).then_some(average);
    Ok(Checkpoint { state, model, best, average, adam: (adam_step, moments) })
}
