//! Scores for texts that may carry several labels: precision and recall at one, and per-class
//! precision, recall and F1 of the labels whose probability reaches a threshold.

use std::collections::{BTreeMap, HashMap};

use super::metrics::{ClassMetrics, EvalError};

/// How well label sets were predicted, built by [`evaluate_multilabel`].
///
/// All rates are in `[0, 1]`; a ratio with a zero denominator is 0.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MultiLabelReport {
    /// A label is predicted for a text when its probability is at least this.
    pub threshold: f64,
    /// The share of examples whose most probable label is one of their labels (fastText's
    /// P@1).
    pub precision_at_1: f64,
    /// Examples whose most probable label is one of theirs, over all true labels of all
    /// examples (fastText's R@1).
    pub recall_at_1: f64,
    /// Over all (example, label) pairs at the threshold: true positives over predicted pairs.
    pub micro_precision: f64,
    /// True positives over true pairs.
    pub micro_recall: f64,
    /// `2tp / (2tp + fp + fn)` over all pairs.
    pub micro_f1: f64,
    /// The unweighted mean of per-class F1 over classes with support or predictions.
    pub macro_f1: f64,
    /// Mean number of true labels per example.
    pub labels_per_example: f64,
    /// Mean number of labels predicted per example at the threshold.
    pub predicted_per_example: f64,
    /// Per class, by label: precision, recall and F1 at the threshold; support is the number
    /// of examples carrying the label. True labels the model has no class for are included
    /// (never predicted).
    pub per_class: BTreeMap<String, ClassMetrics>,
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn metrics(tp: u64, fp: u64, fn_: u64) -> ClassMetrics {
    ClassMetrics {
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
        f1: ratio(2 * tp, 2 * tp + fp + fn_),
        support: tp + fn_,
    }
}

/// Scores `probs` (row-major `[truth.len(), model_labels.len()]`) against the label sets
/// `truth`, predicting every label whose probability is at least `threshold`.
///
/// A repeated label in one example's set counts once. An example with no labels counts in
/// the number of examples (its top prediction is then a miss).
///
/// # Errors
///
/// [`EvalError::LengthMismatch`] when `probs` does not hold one row per example and
/// [`EvalError::DuplicateLabel`] when `model_labels` repeats a label.
pub fn evaluate_multilabel(
    model_labels: &[String],
    truth: &[Vec<String>],
    probs: &[f32],
    threshold: f32,
) -> Result<MultiLabelReport, EvalError> {
    let classes = model_labels.len();
    if classes == 0 || probs.len() != truth.len() * classes {
        return Err(EvalError::LengthMismatch {
            truth: truth.len(),
            predicted: probs.len().checked_div(classes).unwrap_or(0),
        });
    }
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(classes);
    for (i, label) in model_labels.iter().enumerate() {
        if index.insert(label.as_str(), i).is_some() {
            return Err(EvalError::DuplicateLabel(label.clone()));
        }
    }
    let (mut tp, mut fp, mut fn_) = (vec![0u64; classes], vec![0u64; classes], vec![0u64; classes]);
    let mut unknown: BTreeMap<String, u64> = BTreeMap::new();
    let (mut top_hits, mut true_pairs, mut predicted_pairs) = (0u64, 0u64, 0u64);
    let mut set = vec![false; classes];
    for (row, labels) in probs.chunks_exact(classes).zip(truth) {
        set.iter_mut().for_each(|s| *s = false);
        let mut seen_unknown: Vec<&str> = Vec::new();
        for label in labels {
            match index.get(label.as_str()) {
                Some(&c) => set[c] = true,
                None if !seen_unknown.contains(&label.as_str()) => {
                    seen_unknown.push(label);
                    *unknown.entry(label.clone()).or_insert(0) += 1;
                }
                None => {}
            }
        }
        true_pairs += (set.iter().filter(|&&s| s).count() + seen_unknown.len()) as u64;
        top_hits += u64::from(set[crate::infer::argmax(row)]);
        for (c, (&p, &t)) in row.iter().zip(&set).enumerate() {
            let predicted = p >= threshold;
            predicted_pairs += u64::from(predicted);
            match (predicted, t) {
                (true, true) => tp[c] += 1,
                (true, false) => fp[c] += 1,
                (false, true) => fn_[c] += 1,
                (false, false) => {}
            }
        }
    }
    let mut per_class: BTreeMap<String, ClassMetrics> = model_labels
        .iter()
        .enumerate()
        .map(|(c, label)| (label.clone(), metrics(tp[c], fp[c], fn_[c])))
        .collect();
    for (label, &count) in &unknown {
        per_class.insert(label.clone(), metrics(0, 0, count));
    }
    let all_tp: u64 = tp.iter().sum();
    let all_fp: u64 = fp.iter().sum();
    let all_fn: u64 = fn_.iter().sum::<u64>() + unknown.values().sum::<u64>();
    // Classes that occur among the true labels or the predictions, as for one-label reports.
    let occurring: Vec<f64> = (0..classes)
        .filter(|&c| tp[c] + fp[c] + fn_[c] > 0)
        .map(|c| per_class[&model_labels[c]].f1)
        .chain(unknown.keys().map(|_| 0.0))
        .collect();
    let n = truth.len() as u64;
    Ok(MultiLabelReport {
        threshold: f64::from(threshold),
        precision_at_1: ratio(top_hits, n),
        recall_at_1: ratio(top_hits, true_pairs),
        micro_precision: ratio(all_tp, all_tp + all_fp),
        micro_recall: ratio(all_tp, all_tp + all_fn),
        micro_f1: ratio(2 * all_tp, 2 * all_tp + all_fp + all_fn),
        macro_f1: if occurring.is_empty() {
            0.0
        } else {
            occurring.iter().sum::<f64>() / occurring.len() as f64
        },
        labels_per_example: ratio(true_pairs, n),
        predicted_per_example: ratio(predicted_pairs, n),
        per_class,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Figures worked out by hand for three examples and three classes.
    #[test]
    fn hand_computed_scores() {
        let model = labels(&["a", "b", "c"]);
        let truth = vec![labels(&["a", "b"]), labels(&["c"]), labels(&["b", "z"])];
        #[rustfmt::skip]
        let probs = [
            0.9, 0.6, 0.1, // top a (hit); predicts a, b: 2 tp
            0.7, 0.2, 0.4, // top a (miss); predicts a: fp a, fn c
            0.1, 0.3, 0.2, // top b (hit); predicts nothing: fn b, fn z
        ];
        let r = evaluate_multilabel(&model, &truth, &probs, 0.5).unwrap();
        assert!((r.precision_at_1 - 2.0 / 3.0).abs() < 1e-12);
        // Five true labels in all (a, b, c, b, z).
        assert!((r.recall_at_1 - 2.0 / 5.0).abs() < 1e-12);
        // tp 2 (a, b), fp 1 (a), fn 3 (c, b, z).
        assert!((r.micro_precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.micro_recall - 2.0 / 5.0).abs() < 1e-12);
        assert!((r.micro_f1 - 4.0 / 8.0).abs() < 1e-12);
        let a = &r.per_class["a"];
        assert_eq!((a.precision, a.recall, a.support), (0.5, 1.0, 1));
        let b = &r.per_class["b"];
        assert_eq!((b.precision, b.recall, b.support), (1.0, 0.5, 2));
        assert_eq!(r.per_class["c"].f1, 0.0);
        assert_eq!(r.per_class["z"].support, 1);
        // F1: a 2/3, b 2/3, c 0, z 0.
        assert!((r.macro_f1 - (4.0 / 3.0) / 4.0).abs() < 1e-12, "{}", r.macro_f1);
        assert!((r.labels_per_example - 5.0 / 3.0).abs() < 1e-12);
        assert!((r.predicted_per_example - 1.0).abs() < 1e-12);
        // A lower threshold predicts more.
        let low = evaluate_multilabel(&model, &truth, &probs, 0.25).unwrap();
        assert!(low.micro_recall > r.micro_recall);
    }

    #[test]
    fn shapes_and_duplicates_are_errors() {
        let model = labels(&["a", "b"]);
        let truth = vec![labels(&["a"])];
        assert!(matches!(
            evaluate_multilabel(&model, &truth, &[0.5], 0.5),
            Err(EvalError::LengthMismatch { .. })
        ));
        assert!(matches!(
            evaluate_multilabel(&labels(&["a", "a"]), &truth, &[0.5, 0.5], 0.5),
            Err(EvalError::DuplicateLabel(_))
        ));
        let empty = evaluate_multilabel(&model, &[], &[], 0.5).unwrap();
        assert_eq!(empty.precision_at_1, 0.0);
    }
}
