//! What a training run reports as it goes, for a front end to render (Keras-style bars, JSON
//! lines, or nothing).

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Metrics of one finished epoch, as `history.json` records them. Timings are left out so
/// that the same seed and thread count give a byte-identical history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub loss: f64,
    /// Training accuracy over the epoch (with dropout on, as Keras reports it).
    pub accuracy: f64,
    /// Validation loss, when there is validation data.
    pub val_loss: Option<f64>,
    /// Validation accuracy, when there is validation data.
    pub val_accuracy: Option<f64>,
    /// Learning rate at the epoch's last step.
    pub lr: f64,
}

/// A summary of the data and model, reported before the first epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Training examples.
    pub train: usize,
    /// Validation examples.
    pub valid: usize,
    /// Test examples (0 without a test file).
    pub test: usize,
    /// Classes.
    pub classes: usize,
    /// Tokenizer description.
    pub tokenizer: String,
    /// Vocabulary size.
    pub vocab: usize,
    /// Tokens per text at most.
    pub max_length: usize,
    /// Trainable parameters.
    pub params: usize,
    /// Worker threads.
    pub threads: usize,
}

/// One report from a running training.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainEvent<'a> {
    /// Data read, tokenizer and model built.
    Ready(&'a RunSummary),
    /// Rows skipped in a data file (with `skip_bad_rows`).
    Skipped {
        /// The file.
        file: &'a str,
        /// How many rows.
        count: usize,
        /// Line numbers of the first ones.
        first_lines: Vec<usize>,
    },
    /// A resumed run continues after this many finished epochs.
    Resumed {
        /// Epochs already done.
        epochs_done: usize,
    },
    /// An epoch begins.
    EpochStart {
        /// Epoch number, from 1.
        epoch: usize,
        /// Epochs planned.
        epochs: usize,
        /// Steps in this epoch.
        steps: usize,
    },
    /// A training step finished; the metrics are running means over the epoch so far.
    Step {
        /// Steps done in this epoch.
        step: usize,
        /// Steps in this epoch.
        steps: usize,
        /// Mean loss so far.
        loss: f64,
        /// Accuracy so far.
        accuracy: f64,
        /// Time since the epoch began.
        elapsed: Duration,
    },
    /// An epoch finished, validation included.
    EpochEnd {
        /// Its metrics.
        record: &'a EpochRecord,
        /// Steps it took.
        steps: usize,
        /// Its wall time, validation included.
        elapsed: Duration,
    },
    /// Training stopped early; the best epoch's weights are kept.
    EarlyStop {
        /// The last epoch run.
        epoch: usize,
        /// The epoch with the lowest val_loss.
        best_epoch: usize,
    },
    /// A search's trial reached the end of a rung (or finished); its own epochs are not
    /// reported.
    Trial {
        /// Trial number.
        trial: usize,
        /// Epochs trained so far.
        epochs: usize,
        /// Best validation accuracy so far.
        val_accuracy: f64,
        /// Whether it has finished (all epochs, early stopping or the budget).
        finished: bool,
        /// Its training time so far.
        elapsed: Duration,
    },
}

/// Receives training events (from the training thread; hence `Send`).
pub trait Observer: Send {
    /// Called for every event, in order.
    fn on_event(&mut self, event: &TrainEvent<'_>);
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Observer for Silent {
    fn on_event(&mut self, _event: &TrainEvent<'_>) {}
}
