//! Rendering a [`Report`] as an aligned plain-text report.
//!
//! The text has four parts: a summary (examples, accuracy, macro-F1 and, when known, loss), a
//! per-class table with macro and weighted averages, the confusion matrix, and, when there are
//! any, the true labels the model does not know. Columns are padded by character count, so
//! labels in any script line up as long as their characters are of one width. Labels longer
//! than [`MAX_LABEL_CHARS`] characters are shortened with "…" in the tables.

use std::fmt::Write as _;

use super::metrics::{ClassMetrics, EMPTY};
use super::report::Report;

/// The longest label shown in full in the tables; longer ones are cut and end with "…".
const MAX_LABEL_CHARS: usize = 24;

/// Spaces between table columns.
const GAP: &str = "  ";

/// `label` as shown in a table: cut to [`MAX_LABEL_CHARS`] characters, the last being "…",
/// when it is longer.
fn table_label(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_string()
    } else {
        let mut short: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
        short.push('…');
        short
    }
}

/// The width of `text` in characters.
fn width(text: &str) -> usize {
    text.chars().count()
}

impl Report {
    /// The report as aligned plain text, ending with a newline.
    ///
    /// Rates have four decimals and numbers are right-aligned. The confusion matrix is always
    /// printed in full (rows true, columns predicted), however many classes there are.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_summary(&mut out);
        out.push('\n');
        self.render_classes(&mut out);
        out.push('\n');
        self.render_confusion(&mut out);
        self.render_unknown(&mut out);
        self.render_multi_label(&mut out);
        out
    }

    /// The key-value lines at the top.
    fn render_summary(&self, out: &mut String) {
        let mut rows = vec![
            ("examples", self.examples.to_string()),
            ("accuracy", format!("{:.4}", self.accuracy)),
            ("macro_f1", format!("{:.4}", self.macro_f1)),
            ("weighted_f1", format!("{:.4}", self.weighted_f1)),
        ];
        if let Some(loss) = self.loss {
            rows.push(("loss", format!("{loss:.4}")));
        }
        let key_width = rows.iter().map(|(k, _)| width(k)).max().unwrap_or(0) + 2;
        for (key, value) in rows {
            // `{:<w$}` pads by character count.
            let _ = writeln!(out, "{key:<key_width$}{value}");
        }
    }

    /// The per-class table followed by the macro and weighted averages.
    fn render_classes(&self, out: &mut String) {
        const MACRO: &str = "macro avg";
        const WEIGHTED: &str = "weighted avg";
        let mut rows: Vec<(String, ClassMetrics)> = self
            .labels
            .iter()
            .map(|l| (table_label(l), self.per_class.get(l).cloned().unwrap_or(EMPTY)))
            .collect();
        rows.push((MACRO.to_string(), self.macro_average()));
        rows.push((WEIGHTED.to_string(), self.weighted_average()));
        write_class_table(out, &rows);
    }

    /// The label-set scores of a multi-label evaluation: a summary and a per-class table.
    fn render_multi_label(&self, out: &mut String) {
        let Some(m) = &self.multi_label else { return };
        let _ =
            writeln!(out, "\nlabel sets (a label is predicted at probability >= {})", m.threshold);
        let rows = [
            ("precision@1", format!("{:.4}", m.precision_at_1)),
            ("recall@1", format!("{:.4}", m.recall_at_1)),
            ("micro_precision", format!("{:.4}", m.micro_precision)),
            ("micro_recall", format!("{:.4}", m.micro_recall)),
            ("micro_f1", format!("{:.4}", m.micro_f1)),
            ("macro_f1", format!("{:.4}", m.macro_f1)),
            ("labels_per_example", format!("{:.2}", m.labels_per_example)),
            ("predicted_per_example", format!("{:.2}", m.predicted_per_example)),
        ];
        let key_width = rows.iter().map(|(k, _)| width(k)).max().unwrap_or(0) + 2;
        for (key, value) in rows {
            let _ = writeln!(out, "{key:<key_width$}{value}");
        }
        out.push('\n');
        // Model labels first, in the model's order, then labels it does not know.
        let mut order: Vec<&String> =
            self.labels.iter().filter(|l| m.per_class.contains_key(*l)).collect();
        order.extend(m.per_class.keys().filter(|l| !self.labels.contains(l)));
        let rows: Vec<(String, ClassMetrics)> =
            order.iter().map(|l| (table_label(l), m.per_class[*l].clone())).collect();
        write_class_table(out, &rows);
    }
}

/// An aligned table of precision, recall, F1 and support, one row per entry.
fn write_class_table(out: &mut String, rows: &[(String, ClassMetrics)]) {
    {
        let label_w = rows.iter().map(|(l, _)| width(l)).chain([width("label")]).max().unwrap_or(0);
        let support_w =
            rows.iter().map(|(_, m)| m.support.to_string().len()).chain([width("support")]).max();
        let support_w = support_w.unwrap_or(0);
        let (pw, rw, fw) = (width("precision"), width("recall"), width("0.0000"));
        let _ = writeln!(
            out,
            "{:<label_w$}{GAP}{:>pw$}{GAP}{:>rw$}{GAP}{:>fw$}{GAP}{:>support_w$}",
            "label", "precision", "recall", "f1", "support"
        );
        for (label, m) in rows {
            let _ = writeln!(
                out,
                "{label:<label_w$}{GAP}{:>pw$.4}{GAP}{:>rw$.4}{GAP}{:>fw$.4}{GAP}{:>support_w$}",
                m.precision, m.recall, m.f1, m.support
            );
        }
    }
}

impl Report {
    /// The confusion matrix with labels along both axes.
    fn render_confusion(&self, out: &mut String) {
        out.push_str("confusion matrix (rows: true, columns: predicted)\n");
        if self.labels.is_empty() {
            return;
        }
        let names: Vec<String> = self.labels.iter().map(|l| table_label(l)).collect();
        let cell = |i: usize, j: usize| -> u64 {
            self.confusion_matrix.get(i).and_then(|row| row.get(j)).copied().unwrap_or(0)
        };
        let row_w = names.iter().map(|n| width(n)).max().unwrap_or(0);
        let col_w: Vec<usize> = names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let widest = (0..names.len()).map(|i| cell(i, j).to_string().len()).max();
                width(name).max(widest.unwrap_or(0))
            })
            .collect();

        let mut line = " ".repeat(row_w);
        for (name, w) in names.iter().zip(&col_w) {
            let _ = write!(line, "{GAP}{name:>w$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
        for (i, name) in names.iter().enumerate() {
            let _ = write!(out, "{name:<row_w$}");
            for (j, w) in col_w.iter().enumerate() {
                let _ = write!(out, "{GAP}{:>w$}", cell(i, j));
            }
            out.push('\n');
        }
    }

    /// The line naming the true labels the model does not know, most frequent first.
    fn render_unknown(&self, out: &mut String) {
        if self.unknown_labels.is_empty() {
            return;
        }
        let mut unknown: Vec<(&String, &u64)> = self.unknown_labels.iter().collect();
        unknown.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let list: Vec<String> = unknown.iter().map(|(l, n)| format!("{l} {n}")).collect();
        let _ = writeln!(
            out,
            "\nunknown labels (not in the model, scored as errors): {}",
            list.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::evaluate;
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn renders_aligned_tables() {
        // The three-class example worked out in the metrics tests, plus two examples with a
        // label the model does not know.
        let labels = strings(&["a", "b", "c"]);
        let truth = strings(&["a", "a", "a", "a", "b", "b", "b", "c", "c", "c", "new", "new"]);
        let predicted = [0, 0, 0, 1, 1, 1, 0, 2, 0, 1, 2, 0];
        let text = evaluate(&labels, &truth, &predicted).unwrap().with_loss(0.30119).render();
        let l = lines(&text);
        assert_eq!(l[0], "examples     12");
        assert_eq!(l[1], "accuracy     0.5000");
        assert_eq!(l[4], "loss         0.3012");
        assert_eq!(l[5], "");
        assert_eq!(l[6], "label         precision  recall      f1  support");
        assert_eq!(l[7], "a                0.5000  0.7500  0.6000        4");
        assert_eq!(l[9], "c                0.5000  0.3333  0.4000        3");
        assert_eq!(l[10], "new              0.0000  0.0000  0.0000        2");
        assert!(l[11].starts_with("macro avg    "), "{}", l[11]);
        assert!(l[12].starts_with("weighted avg "), "{}", l[12]);
        assert!(l[12].ends_with("       12"), "{}", l[12]);
        assert_eq!(l[14], "confusion matrix (rows: true, columns: predicted)");
        assert_eq!(l[15], "     a  b  c  new");
        assert_eq!(l[16], "a    3  1  0    0");
        assert_eq!(l[19], "new  1  0  1    0");
        assert_eq!(l[21], "unknown labels (not in the model, scored as errors): new 2");
        assert!(text.ends_with("new 2\n"));
        // Every row of the class table has the same width.
        let widths: Vec<usize> = l[6..=12].iter().map(|s| s.chars().count()).collect();
        assert!(widths.iter().all(|&w| w == widths[0]), "{widths:?}");
    }

    #[test]
    fn loss_and_unknown_lines_only_when_present() {
        let labels = strings(&["x", "y"]);
        let text = evaluate(&labels, &strings(&["x", "y"]), &[0, 1]).unwrap().render();
        assert!(!text.contains("loss"));
        assert!(!text.contains("unknown labels"));
    }

    #[test]
    fn unknown_labels_most_frequent_first() {
        let labels = strings(&["x"]);
        let truth = strings(&["BAR", "FOO", "FOO", "FOO", "x"]);
        let text = evaluate(&labels, &truth, &[0; 5]).unwrap().render();
        assert!(text.contains("scored as errors): FOO 3, BAR 1\n"), "{text}");
    }

    #[test]
    fn unicode_labels_align_by_characters() {
        let labels = strings(&["描述", "实体", "x"]);
        let truth = strings(&["描述", "实体", "实体", "x"]);
        let r = evaluate(&labels, &truth, &[0, 1, 0, 2]).unwrap();
        assert!(r.per_class.contains_key("描述"));
        let text = r.render();
        let l = lines(&text);
        let table: Vec<&str> = l.iter().copied().skip_while(|s| !s.starts_with("label")).collect();
        assert!(table[1].starts_with("描述          "), "{}", table[1]);
        let widths: Vec<usize> = table[..6].iter().map(|s| s.chars().count()).collect();
        assert!(widths.iter().all(|&w| w == widths[0]), "{widths:?}\n{text}");
        assert!(text.contains("\n    描述  实体  x\n"), "{text}");
        assert!(text.contains("\n描述   1   0  0\n"), "{text}");
        assert!(text.contains("\n实体   1   1  0\n"), "{text}");
    }

    #[test]
    fn long_labels_are_cut_in_tables_only() {
        let long = "a-label-that-is-much-too-long-to-show".to_string();
        let labels = vec![long.clone(), "b".to_string()];
        let truth =
            vec![long.clone(), "b".to_string(), "another-label-longer-than-the-limit".into()];
        let text = evaluate(&labels, &truth, &[0, 0, 1]).unwrap().render();
        let cut = "a-label-that-is-much-to…";
        assert_eq!(cut.chars().count(), MAX_LABEL_CHARS);
        assert!(!text.contains(&format!("{long}  ")), "{text}");
        assert!(text.lines().any(|l| l.starts_with(&format!("{cut}  "))), "{text}");
        // The unknown-label line names the label in full.
        assert!(text.contains(": another-label-longer-than-the-limit 1\n"), "{text}");
        assert_eq!(table_label("short"), "short");
        assert_eq!(table_label(&"é".repeat(24)), "é".repeat(24));
        assert_eq!(table_label(&"é".repeat(25)), format!("{}…", "é".repeat(23)));
    }

    #[test]
    fn empty_reports_render() {
        let text = evaluate(&[], &[], &[]).unwrap().render();
        assert!(text.starts_with("examples     0\naccuracy     0.0000\n"), "{text}");
        assert!(text.contains("\nmacro avg"));
        assert!(text.ends_with("confusion matrix (rows: true, columns: predicted)\n"), "{text}");
        let text = evaluate(&strings(&["a"]), &[], &[]).unwrap().render();
        assert!(text.ends_with("\n   a\na  0\n"), "{text}");
        assert!(!text.contains("NaN"));
    }

    #[test]
    fn many_classes_print_the_full_matrix() {
        let labels: Vec<String> = (0..30).map(|i| format!("class{i:02}")).collect();
        let truth = labels.clone();
        let predicted: Vec<usize> = (0..30).collect();
        let text = evaluate(&labels, &truth, &predicted).unwrap().render();
        let matrix: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("confusion")).collect();
        assert_eq!(matrix.len(), 32);
        assert!(matrix[1].ends_with("class28  class29"));
        assert!(matrix[31].starts_with("class29        0"));
        assert!(matrix[31].ends_with("        1"));
    }

    #[test]
    fn inconsistent_reports_render_without_panicking() {
        let mut r = evaluate(&strings(&["a", "b"]), &strings(&["a", "b"]), &[0, 1]).unwrap();
        r.confusion_matrix = vec![vec![5]];
        r.per_class.clear();
        r.labels.push("ghost".into());
        let text = r.render();
        assert!(text.contains("ghost"));
    }
}
