//! Reading labeled data files.
//!
//! [`read_dataset`] reads a file of labeled texts into a [`Dataset`] of [`Example`]s. Four
//! formats are understood ([`Format`]), detected from the extension or the first line when not
//! given:
//!
//! - TSV: tab-separated, one row per line, quotes are ordinary characters (as in GLUE's files);
//! - CSV: RFC 4180, with quoted fields that may hold commas, doubled quotes and newlines;
//! - JSONL: one JSON object per line, columns being keys; a label may be an array of labels;
//! - fastText: `__label__A [__label__B ...] text` per line.
//!
//! For CSV and TSV the first row is a header when it names a column asked for or a recognised
//! column ([`TEXT_COLUMN_NAMES`], [`LABEL_COLUMN_NAMES`]); columns are chosen by header name or by
//! zero-based index ([`ColumnSpec`]), so files such as GLUE's SST-2 (`sentence<TAB>label`), TREC
//! (`label<TAB>text`) or ChnSentiCorp (`label<TAB>text_a`) read without options.
//!
//! Files are read as bytes: UTF-8 by default, with invalid UTF-8 reported by line and column,
//! or Latin-1 ([`Encoding`]). A leading byte-order mark is ignored. A bad row is an error naming
//! the file and the line it starts on, or, with [`ReadOptions::skip_bad_rows`], is left out and
//! counted in [`Skipped`]. Errors are [`DataError`]s.
//!
//! Also here: [`read_lines`] for plain texts to predict on, and [`stratified_split`] for a
//! seeded train/validation split that keeps class proportions.

mod columns;
mod dataset;
mod delimited;
mod encoding;
mod error;
mod fasttext;
mod format;
mod jsonl;
mod lines;
mod rows;
mod split;
#[cfg(test)]
mod testutil;

pub use columns::{ColumnSpec, LABEL_COLUMN_NAMES, TEXT_COLUMN_NAMES};
pub use dataset::{read_bytes, read_dataset, Dataset, Example, ReadOptions};
pub use encoding::{strip_bom, Encoding};
pub use error::DataError;
pub use fasttext::{split_labels, LABEL_PREFIX};
pub use format::Format;
pub use lines::{read_lines, split_lines, STDIN_NAME};
pub use rows::{Skipped, SKIPPED_KEPT};
pub use split::stratified_split;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    const DATASETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets");

    fn datasets() -> Option<PathBuf> {
        let dir = PathBuf::from(DATASETS);
        if dir.is_dir() {
            Some(dir)
        } else {
            println!("skipping: ../shared/datasets not found");
            None
        }
    }

    fn train() -> ReadOptions {
        ReadOptions { labels_required: true, ..ReadOptions::default() }
    }

    fn check(dir: &Path, file: &str, count: usize, labels: &[&str]) -> Dataset {
        let path = dir.join(file);
        let d = read_dataset(&path, &train()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.format, Format::Tsv, "{file}");
        assert_eq!(d.len(), count, "{file}");
        assert_eq!(d.skipped.count, 0, "{file}");
        assert_eq!(d.labels(), labels, "{file}");
        assert!(d.examples.iter().all(|e| e.labels.len() == 1), "{file}");
        d.require_classes(2).unwrap();
        d
    }

    #[test]
    fn reads_the_real_datasets() {
        let Some(dir) = datasets() else { return };
        let binary = ["0", "1"];
        let d = check(&dir, "sst2/train.tsv", 67_349, &binary);
        assert_eq!(d.examples[0].text, "hide new secretions from the parental units ");
        assert_eq!(d.examples[0].line, 2);
        check(&dir, "sst2/dev.tsv", 872, &binary);
        let d = check(&dir, "sst2/test.tsv", 1_821, &binary);
        assert_eq!(d.examples[0].text, "no movement , no yuks , not much of anything .");

        let trec = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"];
        let d = check(&dir, "trec/train.tsv", 5_452, &trec);
        assert_eq!(d.examples[0].labels, vec!["DESC"]);
        check(&dir, "trec/test.tsv", 500, &trec);

        for (file, n) in [("train", 9_600), ("dev", 1_200), ("test", 1_200)] {
            check(&dir, &format!("chnsenticorp/{file}.tsv"), n, &binary);
        }

        let d = check(&dir, "sms-spam/SMSSpamCollection.tsv", 5_574, &["ham", "spam"]);
        let spam = d.examples.iter().filter(|e| e.labels[0] == "spam").count();
        assert!((700..800).contains(&spam), "{spam} spam messages");

        // A stratified split of a real set keeps the class balance.
        let classes: Vec<usize> =
            d.examples.iter().map(|e| usize::from(e.labels[0] == "spam")).collect();
        let (train, valid) = stratified_split(&classes, 0.1, 1).unwrap();
        assert_eq!(train.len() + valid.len(), d.len());
        let valid_spam = valid.iter().filter(|&&i| classes[i] == 1).count();
        assert_eq!(valid_spam, (spam as f64 * 0.1).round() as usize);
    }

    #[test]
    fn reads_raw_trec_as_latin1_lines() {
        let Some(dir) = datasets() else { return };
        let raw = dir.join("trec/raw");
        for (file, n) in [("TREC.train", 5_452), ("TREC.test", 500)] {
            let path = raw.join(file);
            let lines = read_lines(Some(&path), Encoding::Latin1).unwrap();
            assert_eq!(lines.len(), n, "{file}");
            let mut coarse: Vec<&str> =
                lines.iter().map(|l| l.split_once(':').map_or("", |(c, _)| c)).collect();
            coarse.sort_unstable();
            coarse.dedup();
            assert_eq!(coarse, ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"], "{file}");
        }
        // The training file is not valid UTF-8: the error names the file and the line.
        let err = read_lines(Some(&raw.join("TREC.train")), Encoding::Utf8).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("TREC.train:") && msg.contains("invalid UTF-8"), "{msg}");
    }
}
