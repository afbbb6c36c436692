//! Evaluation of a classifier's predictions: metrics and the evaluation report.
//!
//! [`evaluate`] compares the true label of each example with the class a model predicted and
//! returns a [`Report`]: accuracy, per-class precision / recall / F1, macro and weighted F1, the
//! confusion matrix and the true labels the model does not know. The report serialises to JSON
//! ([`Report::to_json`], [`Report::to_json_string`]) and renders as an aligned text table
//! ([`Report::render`]).
//!
//! Conventions, chosen so that no input ever produces NaN:
//!
//! - every ratio whose denominator is zero is 0 (precision of a class never predicted, recall of
//!   a class with no examples, accuracy of an empty input, …);
//! - a true label the model has no class for becomes an extra class at the end of
//!   [`Report::labels`]; the model never predicts it, so each of its examples is an error;
//! - macro-F1 is the unweighted mean of F1 over the classes that occur among the true labels or
//!   the predictions (the union scikit-learn uses); weighted-F1 weights each class's F1 by its
//!   support.
//!
//! - `metrics`: the computation ([`evaluate`], [`ClassMetrics`], [`EvalError`]).
//! - `multilabel`: scores of label sets ([`evaluate_multilabel`], [`MultiLabelReport`]): P@1,
//!   R@1 and per-class and micro precision / recall / F1 at a probability threshold.
//! - `report`: the [`Report`] type and its JSON form.
//! - `table`: the text rendering.

mod metrics;
mod multilabel;
mod report;
mod table;

pub use metrics::{evaluate, ClassMetrics, EvalError};
pub use multilabel::{evaluate_multilabel, MultiLabelReport};
pub use report::Report;
