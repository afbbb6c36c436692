//! Training text classifiers.
//!
//! 1. Read the training file (and a validation file, or hold out a stratified share), and
//!    the test file if one is given, so bad input fails before any work.
//! 2. Build the tokenizer on the training texts, encode every set, cut to the maximum length.
//! 3. Train with AdamW, warmup and decay, dropout, gradient clipping; batches of similar
//!    length, reshuffled each epoch from the seed.
//! 4. After each epoch: validation loss and accuracy, early stopping on val_loss, a
//!    checkpoint from which [`resume`] continues exactly.
//! 5. Keep the best epoch's weights, score the test file, write the model directory.
//!
//! Progress is reported as [`TrainEvent`]s to an [`Observer`].

pub mod batching;
pub mod checkpoint;
mod events;
mod image_trainer;
mod options;
mod trainer;

pub use events::{EpochRecord, Observer, RunSummary, Silent, TrainEvent};
pub use image_trainer::{evaluate_images, image_probabilities, predict_image_files};
pub use options::{ClassWeights, LossKind, ScheduleKind, TrainOptions, MAX_DEFAULT_LENGTH};
pub use trainer::{
    evaluate_encoded, resume, resume_with, train, TrainOutcome, DEFAULT_THRESHOLD, HISTORY_FILE,
    METRICS_FILE, PRETRAINED_CONFIG_FILE,
};
