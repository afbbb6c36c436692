//! The evaluation report and its JSON form.
//!
//! A [`Report`] is plain data: it serialises with serde, and [`Report::to_json_string`] writes
//! it with a fixed key order (the field order below; per-class entries sorted by label) so that
//! reports of the same predictions are byte-identical.

use std::collections::BTreeMap;

use super::metrics::{averages, ClassMetrics};
use super::multilabel::MultiLabelReport;

/// The result of scoring a classifier's predictions, built by [`evaluate`](super::evaluate).
///
/// All rates are in `[0, 1]` and never NaN: a ratio with a zero denominator is 0.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The number of examples scored.
    pub examples: u64,
    /// Correct predictions over all examples (examples with a label the model does not know
    /// count as wrong).
    pub accuracy: f64,
    /// The unweighted mean of F1 over the classes in [`labels`](Self::labels) that have
    /// support > 0 or were predicted at least once.
    pub macro_f1: f64,
    /// The mean of per-class F1 weighted by support.
    pub weighted_f1: f64,
    /// The mean cross-entropy of the predictions, when the caller knows it
    /// (see [`with_loss`](Self::with_loss)).
    pub loss: Option<f64>,
    /// Every class: the model's labels in the model's order, then the true labels the model
    /// has no class for, sorted.
    pub labels: Vec<String>,
    /// The metrics of each class in [`labels`](Self::labels), by label.
    pub per_class: BTreeMap<String, ClassMetrics>,
    /// Counts of (true, predicted) pairs: row `i` is true label `labels[i]`, column `j` is
    /// predicted label `labels[j]`.
    pub confusion_matrix: Vec<Vec<u64>>,
    /// The true labels the model has no class for, with how many examples carry each. These
    /// examples are scored as errors.
    pub unknown_labels: BTreeMap<String, u64>,
    /// For a one-vs-all model or texts with several labels: the label-set scores. The fields
    /// above then score the top prediction, counted right when it is any of the text's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_label: Option<MultiLabelReport>,
}

impl Report {
    /// Records the mean cross-entropy loss of the evaluated predictions.
    ///
    /// A non-finite loss is kept as given but is written as `null` in JSON.
    #[must_use]
    pub fn with_loss(mut self, loss: f64) -> Self {
        self.loss = Some(loss);
        self
    }

    /// Adds the label-set scores of a multi-label evaluation.
    #[must_use]
    pub fn with_multi_label(mut self, scores: MultiLabelReport) -> Self {
        self.multi_label = Some(scores);
        self
    }

    /// The macro average: precision, recall and F1 each averaged without weights over the
    /// classes with support > 0 or at least one prediction. `support` is the total number of
    /// examples.
    pub fn macro_average(&self) -> ClassMetrics {
        averages(&self.labels, &self.per_class, &self.confusion_matrix).macro_avg
    }

    /// The weighted average: precision, recall and F1 averaged over all classes, weighted by
    /// support. `support` is the total number of examples.
    pub fn weighted_average(&self) -> ClassMetrics {
        averages(&self.labels, &self.per_class, &self.confusion_matrix).weighted_avg
    }

    /// The report as a JSON value with the keys `examples`, `accuracy`, `macro_f1`,
    /// `weighted_f1`, `loss` (`null` when unknown), `labels`, `per_class` (an object from
    /// label to `{precision, recall, f1, support}`), `confusion_matrix` (rows true, columns
    /// predicted, in `labels` order) and `unknown_labels` (an object from label to count).
    pub fn to_json(&self) -> serde_json::Value {
        // Serialising plain numbers, strings and string-keyed maps cannot fail.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The report as pretty-printed JSON ending with a newline. Keys come in a fixed order:
    /// the fields in declaration order, map entries sorted by label.
    pub fn to_json_string(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|_| "null".to_string());
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::super::evaluate;
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn sample() -> Report {
        let labels = strings(&["a", "b", "c"]);
        let truth = strings(&["a", "a", "a", "a", "b", "b", "b", "c", "c", "c", "new"]);
        evaluate(&labels, &truth, &[0, 0, 0, 1, 1, 1, 0, 2, 0, 1, 2]).unwrap()
    }

    #[test]
    fn json_has_the_documented_shape() {
        let r = sample().with_loss(0.25);
        let v = r.to_json();
        let obj = v.as_object().unwrap();
        for key in [
            "examples",
            "accuracy",
            "macro_f1",
            "weighted_f1",
            "loss",
            "labels",
            "per_class",
            "confusion_matrix",
            "unknown_labels",
        ] {
            assert!(obj.contains_key(key), "missing key {key}");
        }
        assert_eq!(obj.len(), 9);
        assert_eq!(v["examples"], 11);
        assert_eq!(v["loss"], 0.25);
        assert_eq!(v["labels"], serde_json::json!(["a", "b", "c", "new"]));
        // Rows are true labels, columns predicted: the "new" example was predicted as c.
        assert_eq!(
            v["confusion_matrix"],
            serde_json::json!([[3, 1, 0, 0], [1, 2, 0, 0], [1, 1, 1, 0], [0, 0, 1, 0]])
        );
        let a = v["per_class"]["a"].as_object().unwrap();
        let mut keys: Vec<&str> = a.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["f1", "precision", "recall", "support"]);
        assert_eq!(a["support"], 4);
        assert_eq!(a["precision"], 0.6);
        assert_eq!(v["per_class"]["new"]["support"], 1);
        assert_eq!(v["unknown_labels"], serde_json::json!({"new": 1}));
        assert!(v["accuracy"].is_f64() && v["macro_f1"].is_f64());
    }

    #[test]
    fn unknown_loss_is_null() {
        let v = sample().to_json();
        assert!(v["loss"].is_null());
    }

    #[test]
    fn json_round_trips_through_serde() {
        for r in [sample(), sample().with_loss(0.301_2), evaluate(&[], &[], &[]).unwrap()] {
            let text = r.to_json_string();
            let back: Report = serde_json::from_str(&text).unwrap();
            assert_eq!(back, r);
            assert_eq!(back.to_json_string(), text);
            let from_value: Report = serde_json::from_value(r.to_json()).unwrap();
            assert_eq!(from_value, r);
        }
    }

    #[test]
    fn json_string_is_pretty_stable_and_newline_terminated() {
        let text = sample().to_json_string();
        assert!(text.ends_with("}\n"));
        assert!(text.starts_with("{\n  \"examples\": 11,\n  \"accuracy\": "), "{text}");
        let order = ["\"examples\"", "\"accuracy\"", "\"macro_f1\"", "\"labels\"", "\"per_class\""];
        let positions: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        assert_eq!(text, sample().to_json_string());
    }

    #[test]
    fn averages_agree_with_the_stored_f1() {
        let r = sample();
        assert_eq!(r.macro_average().f1, r.macro_f1);
        assert_eq!(r.weighted_average().f1, r.weighted_f1);
        assert_eq!(r.macro_average().support, 11);
        assert_eq!(r.weighted_average().support, 11);
    }
}
