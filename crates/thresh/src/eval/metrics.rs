//! Computing classification metrics from true labels and predicted class indices.
//!
//! Every ratio with a zero denominator is defined as 0, so empty inputs, classes that are never
//! predicted and classes without examples all give finite numbers.

use std::collections::{BTreeMap, HashMap};

use super::report::Report;

/// Precision, recall, F1 and support of one class.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassMetrics {
    /// Of the examples predicted as this class, the fraction that truly belong to it:
    /// `tp / (tp + fp)`; 0 when the class was never predicted.
    pub precision: f64,
    /// Of the examples that truly belong to this class, the fraction predicted as it:
    /// `tp / (tp + fn)`; 0 when the class has no examples.
    pub recall: f64,
    /// The harmonic mean of precision and recall, computed as `2tp / (2tp + fp + fn)`; 0 when
    /// that denominator is 0.
    pub f1: f64,
    /// The number of examples whose true label is this class.
    pub support: u64,
}

/// Why [`evaluate`] could not score a set of predictions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The number of true labels and of predictions differ.
    #[error("cannot evaluate: {truth} true labels but {predicted} predictions")]
    LengthMismatch {
        /// How many true labels were given.
        truth: usize,
        /// How many predictions were given.
        predicted: usize,
    },
    /// A prediction names a class index the model does not have.
    #[error(
        "cannot evaluate: the prediction for example {example} is class {index}, \
         but the model has only {classes} classes"
    )]
    PredictionOutOfRange {
        /// The position of the offending example (0-based).
        example: usize,
        /// The predicted class index.
        index: usize,
        /// How many classes the model has.
        classes: usize,
    },
    /// The model's label list names the same label twice, so a true label cannot be mapped to
    /// one class.
    #[error("cannot evaluate: the model's label {0:?} appears more than once")]
    DuplicateLabel(String),
}

/// `num / den`, or 0 when `den` is 0.
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Sums without overflow (a deserialised report may hold arbitrary counts).
fn saturating_sum(values: impl Iterator<Item = u64>) -> u64 {
    values.fold(0, u64::saturating_add)
}

/// Metrics of class `index` from a confusion matrix (rows true, columns predicted). Cells
/// missing from ragged rows count as 0.
fn class_metrics(confusion: &[Vec<u64>], index: usize) -> ClassMetrics {
    let row = confusion.get(index).map(Vec::as_slice).unwrap_or(&[]);
    let tp = row.get(index).copied().unwrap_or(0);
    let support = saturating_sum(row.iter().copied());
    let predicted = predicted_count(confusion, index);
    let false_pos = predicted.saturating_sub(tp);
    let false_neg = support.saturating_sub(tp);
    let f1_den = tp.saturating_mul(2).saturating_add(false_pos).saturating_add(false_neg);
    ClassMetrics {
        precision: ratio(tp, predicted),
        recall: ratio(tp, support),
        f1: ratio(tp.saturating_mul(2), f1_den),
        support,
    }
}

/// How many examples were predicted as class `index` (the column sum).
fn predicted_count(confusion: &[Vec<u64>], index: usize) -> u64 {
    saturating_sum(confusion.iter().map(|row| row.get(index).copied().unwrap_or(0)))
}

/// The macro and weighted averages of the per-class metrics, as computed by [`averages`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Averages {
    /// Unweighted means over the classes with support > 0 or at least one prediction.
    pub macro_avg: ClassMetrics,
    /// Means over all classes weighted by support.
    pub weighted_avg: ClassMetrics,
}

/// The metrics of a class without examples or predictions.
pub(crate) const EMPTY: ClassMetrics =
    ClassMetrics { precision: 0.0, recall: 0.0, f1: 0.0, support: 0 };

/// Averages the metrics of the classes in `labels` (looked up in `per_class`; a missing entry
/// counts as an empty class). A class takes part in the macro average when it has support or
/// appears in its column of `confusion` at least once. The `support` of both averages is the
/// total support.
pub(crate) fn averages(
    labels: &[String],
    per_class: &BTreeMap<String, ClassMetrics>,
    confusion: &[Vec<u64>],
) -> Averages {
    let mut active = 0u64;
    let mut total = 0u64;
    let (mut mp, mut mr, mut mf) = (0.0, 0.0, 0.0);
    let (mut wp, mut wr, mut wf) = (0.0, 0.0, 0.0);
    for (j, label) in labels.iter().enumerate() {
        let m = per_class.get(label).unwrap_or(&EMPTY);
        if m.support > 0 || predicted_count(confusion, j) > 0 {
            active += 1;
            mp += m.precision;
            mr += m.recall;
            mf += m.f1;
        }
        let w = m.support as f64;
        wp += m.precision * w;
        wr += m.recall * w;
        wf += m.f1 * w;
        total = total.saturating_add(m.support);
    }
    let mean = |sum: f64, count: u64| if count == 0 { 0.0 } else { sum / count as f64 };
    Averages {
        macro_avg: ClassMetrics {
            precision: mean(mp, active),
            recall: mean(mr, active),
            f1: mean(mf, active),
            support: total,
        },
        weighted_avg: ClassMetrics {
            precision: mean(wp, total),
            recall: mean(wr, total),
            f1: mean(wf, total),
            support: total,
        },
    }
}

/// Scores predictions against true labels.
///
/// `model_labels` is the label of each class index of the model, `truth` the true label of
/// each example and `predicted` the class index the model predicted for each example (an index
/// into `model_labels`).
///
/// True labels that are not in `model_labels` become extra classes, sorted, after the model's
/// labels; they are counted in [`Report::unknown_labels`] and, since the model can never
/// predict them, every such example is an error. Accuracy is correct predictions over all
/// examples; macro-F1 is the unweighted mean of F1 over the classes in [`Report::labels`] that
/// have support > 0 or were predicted at least once (the union of true and predicted labels,
/// as scikit-learn does); weighted-F1 weights each class's F1 by its support. A zero
/// denominator gives 0, so an empty input gives a report with zero examples and all rates 0.
///
/// # Errors
///
/// [`EvalError::LengthMismatch`] when `truth` and `predicted` differ in length,
/// [`EvalError::PredictionOutOfRange`] for a predicted index `>= model_labels.len()`, and
/// [`EvalError::DuplicateLabel`] when `model_labels` repeats a label.
pub fn evaluate(
    model_labels: &[String],
    truth: &[String],
    predicted: &[usize],
) -> Result<Report, EvalError> {
    if truth.len() != predicted.len() {
        return Err(EvalError::LengthMismatch { truth: truth.len(), predicted: predicted.len() });
    }
    let classes = model_labels.len();
    if let Some((example, &index)) = predicted.iter().enumerate().find(|(_, &p)| p >= classes) {
        return Err(EvalError::PredictionOutOfRange { example, index, classes });
    }

    let mut index: HashMap<&str, usize> = HashMap::with_capacity(classes);
    for (i, label) in model_labels.iter().enumerate() {
        if index.insert(label.as_str(), i).is_some() {
            return Err(EvalError::DuplicateLabel(label.clone()));
        }
    }
    let mut unknown_labels: BTreeMap<String, u64> = BTreeMap::new();
    for label in truth {
        if !index.contains_key(label.as_str()) {
            *unknown_labels.entry(label.clone()).or_insert(0) += 1;
        }
    }
    let mut labels = model_labels.to_vec();
    for label in unknown_labels.keys() {
        index.insert(label.as_str(), labels.len());
        labels.push(label.clone());
    }

    let n = labels.len();
    let mut confusion_matrix = vec![vec![0u64; n]; n];
    for (label, &p) in truth.iter().zip(predicted) {
        // Every true label was given an index above, and `p < classes <= n` was checked.
        if let Some(cell) =
            index.get(label.as_str()).and_then(|&t| confusion_matrix.get_mut(t)?.get_mut(p))
        {
            *cell += 1;
        }
    }

    let per_class: BTreeMap<String, ClassMetrics> = labels
        .iter()
        .enumerate()
        .map(|(i, label)| (label.clone(), class_metrics(&confusion_matrix, i)))
        .collect();
    let examples = truth.len() as u64;
    let correct = saturating_sum((0..n).map(|i| confusion_matrix[i][i]));
    let avg = averages(&labels, &per_class, &confusion_matrix);
    let report = Report {
        examples,
        accuracy: ratio(correct, examples),
        macro_f1: avg.macro_avg.f1,
        weighted_f1: avg.weighted_avg.f1,
        loss: None,
        labels,
        per_class,
        confusion_matrix,
        unknown_labels,
        multi_label: None,
    };
    tracing::debug!(
        examples,
        accuracy = report.accuracy,
        macro_f1 = report.macro_f1,
        unknown = report.unknown_labels.len(),
        "evaluated predictions"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn assert_metrics(m: &ClassMetrics, precision: f64, recall: f64, f1: f64, support: u64) {
        assert!(close(m.precision, precision), "precision {} != {precision}", m.precision);
        assert!(close(m.recall, recall), "recall {} != {recall}", m.recall);
        assert!(close(m.f1, f1), "f1 {} != {f1}", m.f1);
        assert_eq!(m.support, support);
    }

    fn all_finite(r: &Report) -> bool {
        let rates = [r.accuracy, r.macro_f1, r.weighted_f1];
        rates.iter().all(|x| x.is_finite())
            && r.per_class
                .values()
                .all(|m| m.precision.is_finite() && m.recall.is_finite() && m.f1.is_finite())
    }

    /// The shared three-class example.
    fn three_class() -> Report {
        let labels = strings(&["a", "b", "c"]);
        let truth = strings(&["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"]);
        let predicted = [0, 0, 0, 1, 1, 1, 0, 2, 0, 1];
        evaluate(&labels, &truth, &predicted).unwrap()
    }

    #[test]
    fn three_classes_by_hand() {
        // Confusion matrix (rows true, columns predicted):
        //        a  b  c   support
        //   a    3  1  0   4
        //   b    1  2  0   3
        //   c    1  1  1   3
        //   predicted: a 5, b 4, c 1
        // a: P = 3/5 = 0.6,  R = 3/4 = 0.75, F1 = 2*3 / (6 + 2 + 1) = 2/3
        // b: P = 2/4 = 0.5,  R = 2/3,        F1 = 2*2 / (4 + 2 + 1) = 4/7
        // c: P = 1/1 = 1,    R = 1/3,        F1 = 2*1 / (2 + 0 + 2) = 1/2
        // accuracy = (3 + 2 + 1) / 10 = 0.6
        // macro F1 = (2/3 + 4/7 + 1/2) / 3 = 73/126
        // weighted F1 = (4 * 2/3 + 3 * 4/7 + 3 * 1/2) / 10 = 247/420
        // macro P = (0.6 + 0.5 + 1) / 3 = 0.7, macro R = (3/4 + 2/3 + 1/3) / 3 = 7/12
        let r = three_class();
        assert_eq!(r.examples, 10);
        assert_eq!(r.labels, strings(&["a", "b", "c"]));
        assert_eq!(r.confusion_matrix, vec![vec![3, 1, 0], vec![1, 2, 0], vec![1, 1, 1]]);
        assert!(close(r.accuracy, 0.6));
        assert_metrics(&r.per_class["a"], 0.6, 0.75, 2.0 / 3.0, 4);
        assert_metrics(&r.per_class["b"], 0.5, 2.0 / 3.0, 4.0 / 7.0, 3);
        assert_metrics(&r.per_class["c"], 1.0, 1.0 / 3.0, 0.5, 3);
        assert!(close(r.macro_f1, 73.0 / 126.0));
        assert!(close(r.weighted_f1, 247.0 / 420.0));
        let avg = averages(&r.labels, &r.per_class, &r.confusion_matrix);
        assert_metrics(&avg.macro_avg, 0.7, 7.0 / 12.0, 73.0 / 126.0, 10);
        assert!(r.unknown_labels.is_empty());
        assert_eq!(r.loss, None);
    }

    #[test]
    fn macro_f1_matches_scikit_learn() {
        // from sklearn.metrics import f1_score
        // f1_score(["x", "x", "y", "q"], ["x", "y", "y", "x"], average="macro")
        // scikit-learn averages over the union of true and predicted labels {q, x, y}; the
        // model's "z" is in neither and does not count. By its definition:
        //   x: tp 1, fp 1, fn 1 -> F1 = 2/4 = 1/2
        //   y: tp 1, fp 1, fn 0 -> F1 = 2/3
        //   q: tp 0, fp 0, fn 1 -> F1 = 0
        //   macro = (1/2 + 2/3 + 0) / 3 = 7/18 = 0.3888888888888889
        let labels = strings(&["x", "y", "z"]);
        let truth = strings(&["x", "x", "y", "q"]);
        let r = evaluate(&labels, &truth, &[0, 1, 1, 0]).unwrap();
        assert!(close(r.macro_f1, 0.388_888_888_888_888_9));
        assert!(close(r.macro_f1, 7.0 / 18.0));
        // z is listed and reported, but empty.
        assert_metrics(&r.per_class["z"], 0.0, 0.0, 0.0, 0);
    }

    #[test]
    fn perfect_predictions() {
        let labels = strings(&["neg", "pos"]);
        let truth = strings(&["pos", "neg", "pos", "pos"]);
        let r = evaluate(&labels, &truth, &[1, 0, 1, 1]).unwrap();
        assert!(close(r.accuracy, 1.0));
        assert!(close(r.macro_f1, 1.0));
        assert!(close(r.weighted_f1, 1.0));
        assert_metrics(&r.per_class["neg"], 1.0, 1.0, 1.0, 1);
        assert_metrics(&r.per_class["pos"], 1.0, 1.0, 1.0, 3);
        assert_eq!(r.confusion_matrix, vec![vec![1, 0], vec![0, 3]]);
    }

    #[test]
    fn all_wrong() {
        let labels = strings(&["neg", "pos"]);
        let truth = strings(&["pos", "neg", "pos"]);
        let r = evaluate(&labels, &truth, &[0, 1, 0]).unwrap();
        assert_eq!(r.accuracy, 0.0);
        assert_eq!(r.macro_f1, 0.0);
        assert_eq!(r.weighted_f1, 0.0);
        assert_metrics(&r.per_class["neg"], 0.0, 0.0, 0.0, 1);
        assert_metrics(&r.per_class["pos"], 0.0, 0.0, 0.0, 2);
        assert_eq!(r.confusion_matrix, vec![vec![0, 1], vec![2, 0]]);
        assert!(all_finite(&r));
    }

    #[test]
    fn class_never_predicted_has_zero_precision() {
        // c has two examples but is never predicted: P = 0/0 := 0, R = 0, F1 = 0.
        // a: tp 2, fp 1 -> P 2/3, R 1, F1 4/5; b: tp 1, fp 1 -> P 1/2, R 1, F1 2/3.
        let labels = strings(&["a", "b", "c"]);
        let truth = strings(&["a", "a", "b", "c", "c"]);
        let r = evaluate(&labels, &truth, &[0, 0, 1, 0, 1]).unwrap();
        assert_metrics(&r.per_class["c"], 0.0, 0.0, 0.0, 2);
        assert_metrics(&r.per_class["a"], 2.0 / 3.0, 1.0, 0.8, 2);
        assert_metrics(&r.per_class["b"], 0.5, 1.0, 2.0 / 3.0, 1);
        // c has support, so it counts in the macro mean.
        assert!(close(r.macro_f1, (0.8 + 2.0 / 3.0) / 3.0));
        assert!(all_finite(&r));
    }

    #[test]
    fn class_predicted_without_support_counts_in_macro() {
        // b is predicted once but has no examples: P 0, R 0/0 := 0, F1 0, and it is part of
        // the union of true and predicted labels. a: tp 1, fn 1 -> F1 2/3.
        let labels = strings(&["a", "b", "c"]);
        let truth = strings(&["a", "a"]);
        let r = evaluate(&labels, &truth, &[0, 1]).unwrap();
        assert_metrics(&r.per_class["b"], 0.0, 0.0, 0.0, 0);
        assert!(close(r.macro_f1, (2.0 / 3.0) / 2.0));
        assert!(close(r.weighted_f1, 2.0 / 3.0));
    }

    #[test]
    fn unseen_true_labels_become_error_rows() {
        let labels = strings(&["a", "b"]);
        let truth = strings(&["a", "zeta", "b", "alpha", "zeta", "zeta", "a"]);
        let r = evaluate(&labels, &truth, &[0, 0, 1, 1, 1, 0, 0]).unwrap();
        // Model labels first, then the unseen ones sorted.
        assert_eq!(r.labels, strings(&["a", "b", "alpha", "zeta"]));
        assert_eq!(r.unknown_labels, BTreeMap::from([("alpha".into(), 1), ("zeta".into(), 3)]));
        assert_eq!(
            r.confusion_matrix,
            vec![vec![2, 0, 0, 0], vec![0, 1, 0, 0], vec![0, 1, 0, 0], vec![2, 1, 0, 0]]
        );
        // 3 correct out of 7: the unseen examples count as errors.
        assert!(close(r.accuracy, 3.0 / 7.0));
        assert_metrics(&r.per_class["zeta"], 0.0, 0.0, 0.0, 3);
        assert_metrics(&r.per_class["alpha"], 0.0, 0.0, 0.0, 1);
        // a: tp 2, fp 2, fn 0 -> F1 4/6; b: tp 1, fp 2, fn 0 -> F1 2/4.
        assert_metrics(&r.per_class["a"], 0.5, 1.0, 2.0 / 3.0, 2);
        assert_metrics(&r.per_class["b"], 1.0 / 3.0, 1.0, 0.5, 1);
        assert!(close(r.macro_f1, (2.0 / 3.0 + 0.5) / 4.0));
        assert!(close(r.weighted_f1, (2.0 * 2.0 / 3.0 + 0.5) / 7.0));
    }

    #[test]
    fn empty_input_gives_zero_report() {
        let labels = strings(&["a", "b"]);
        let r = evaluate(&labels, &[], &[]).unwrap();
        assert_eq!(r.examples, 0);
        assert_eq!((r.accuracy, r.macro_f1, r.weighted_f1), (0.0, 0.0, 0.0));
        assert_eq!(r.confusion_matrix, vec![vec![0, 0], vec![0, 0]]);
        assert!(all_finite(&r));

        let r = evaluate(&[], &[], &[]).unwrap();
        assert_eq!(r.examples, 0);
        assert!(r.labels.is_empty() && r.per_class.is_empty() && r.confusion_matrix.is_empty());
        assert!(all_finite(&r));
    }

    #[test]
    fn only_unknown_labels_with_no_model_classes_is_out_of_range() {
        // A model with no classes cannot have predicted anything.
        let truth = strings(&["a"]);
        let err = evaluate(&[], &truth, &[0]).unwrap_err();
        assert!(matches!(
            err,
            EvalError::PredictionOutOfRange { example: 0, index: 0, classes: 0 }
        ));
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let labels = strings(&["a", "b"]);
        let truth = strings(&["a", "b", "a"]);
        let err = evaluate(&labels, &truth, &[0, 1]).unwrap_err();
        assert!(matches!(err, EvalError::LengthMismatch { truth: 3, predicted: 2 }));
        assert!(err.to_string().contains("3 true labels but 2 predictions"), "{err}");
    }

    #[test]
    fn prediction_out_of_range_is_an_error() {
        let labels = strings(&["a", "b"]);
        let truth = strings(&["a", "b", "a"]);
        let err = evaluate(&labels, &truth, &[0, 2, 7]).unwrap_err();
        assert!(matches!(
            err,
            EvalError::PredictionOutOfRange { example: 1, index: 2, classes: 2 }
        ));
    }

    #[test]
    fn duplicate_model_label_is_an_error() {
        let labels = strings(&["a", "b", "a"]);
        let err = evaluate(&labels, &strings(&["a"]), &[0]).unwrap_err();
        assert!(matches!(err, EvalError::DuplicateLabel(ref l) if l == "a"));
    }

    #[test]
    fn averages_tolerate_inconsistent_reports() {
        // A hand-edited report: ragged confusion matrix, a label without metrics.
        let labels = strings(&["a", "b", "c"]);
        let mut per_class = BTreeMap::new();
        per_class.insert(
            "a".to_string(),
            ClassMetrics { precision: 1.0, recall: 0.5, f1: 2.0 / 3.0, support: 2 },
        );
        let confusion = vec![vec![1], vec![u64::MAX, u64::MAX]];
        let avg = averages(&labels, &per_class, &confusion);
        // a (F1 2/3) and b (no metrics, but predicted) take part; c does not.
        assert!(close(avg.macro_avg.f1, 1.0 / 3.0));
        assert_eq!(avg.macro_avg.support, 2);
        assert_eq!(class_metrics(&confusion, 0).support, 1);
        assert_eq!(class_metrics(&confusion, 1).support, u64::MAX);
        assert_eq!(class_metrics(&confusion, 5).support, 0);
    }
}
