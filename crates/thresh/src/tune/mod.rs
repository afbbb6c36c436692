//! Hyperparameter search: `thresh tune`.
//!
//! - `space`: search spaces, their defaults per model family and the TOML file format.
//! - `search`: random search with successive halving under a budget, the trial records and
//!   the winner's model directory.

mod search;
mod space;

pub use search::{
    render_table, rungs, tune, TrialRecord, TuneOptions, TuneOutcome, BEST_DIR, TRIALS_FILE,
};
pub use space::{default_space, parse_space, sample, Distribution, Space};
