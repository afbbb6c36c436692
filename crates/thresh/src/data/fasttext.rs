//! fastText files: `__label__A [__label__B ...] text` per line.
//!
//! Every leading whitespace-separated token starting with [`LABEL_PREFIX`] is a label (without
//! the prefix); the rest of the line after the labels and the whitespace that follows them is
//! the text, kept as it is apart from a trailing `\r`. Blank lines are ignored. Column options do
//! not apply to this format.

use std::path::Path;

use super::dataset::ReadOptions;
use super::encoding::LATIN1_HINT;
use super::error::DataError;
use super::rows::{RowResult, Rows};

/// The prefix that marks a label token.
pub const LABEL_PREFIX: &str = "__label__";

/// Reads the rows of a fastText file whose contents (without a byte-order mark) are `bytes`.
pub(crate) fn read(
    path: &Path,
    bytes: &[u8],
    options: &ReadOptions,
    rows: &mut Rows<'_>,
) -> Result<(), DataError> {
    if !options.text_columns.is_empty() || options.label_column.is_some() {
        tracing::warn!(
            file = %path.display(),
            "{}: --text-column and --label-column do not apply to fastText files and are ignored",
            path.display()
        );
    }
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.trim_ascii().is_empty() {
            continue;
        }
        rows.add(i + 1, parse_line(line, options))?;
    }
    Ok(())
}

/// Splits a decoded line into its labels and its text. Labels keep their order and appear
/// once; an empty label (a bare prefix) is returned as `""` for the caller to judge.
pub fn split_labels(line: &str) -> (Vec<&str>, &str) {
    let mut labels: Vec<&str> = Vec::new();
    let mut rest = line.trim_start_matches(|c: char| c.is_ascii_whitespace());
    while rest.starts_with(LABEL_PREFIX) {
        let end = rest.find(|c: char| c.is_ascii_whitespace()).unwrap_or(rest.len());
        let label = &rest[LABEL_PREFIX.len()..end];
        if !labels.contains(&label) {
            labels.push(label);
        }
        rest = rest[end..].trim_start_matches(|c: char| c.is_ascii_whitespace());
    }
    (labels, rest)
}

/// The text and labels of one non-blank line.
fn parse_line(line: &[u8], options: &ReadOptions) -> RowResult {
    let decoded = options
        .encoding
        .decode(line)
        .map_err(|e| format!("invalid UTF-8 at column {} {LATIN1_HINT}", e.valid_up_to() + 1))?;
    let (labels, text) = split_labels(&decoded);
    if labels.is_empty() {
        if options.labels_required {
            return Err(format!(
                "no {LABEL_PREFIX} prefix (expected a line like \"{LABEL_PREFIX}spam some text\")"
            ));
        }
        return Ok((decoded.into_owned(), Vec::new()));
    }
    if options.labels_required && labels.contains(&"") {
        return Err(format!("empty label (a bare \"{LABEL_PREFIX}\" with no name after it)"));
    }
    let labels = labels.into_iter().filter(|l| !l.is_empty()).map(str::to_string).collect();
    Ok((text.to_string(), labels))
}

#[cfg(test)]
mod tests {
    use super::split_labels;
    use crate::data::testutil::{err, train, write};
    use crate::data::{read_dataset, Encoding, Format, ReadOptions};

    #[test]
    fn splits_labels_and_text() {
        assert_eq!(
            split_labels("__label__a __label__b  hello world "),
            (vec!["a", "b"], "hello world ")
        );
        assert_eq!(split_labels("__label__a\thi __label__b"), (vec!["a"], "hi __label__b"));
        assert_eq!(split_labels("__label__a __label__a"), (vec!["a"], ""));
        assert_eq!(split_labels("no labels"), (vec![], "no labels"));
        assert_eq!(split_labels("__label__ x"), (vec![""], "x"));
    }

    #[test]
    fn reads_multi_label_file() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"__label__sports __label__news Match report\r\n\n__label__tech  new phone\n";
        let p = write(dir.path(), "train.txt", body);
        let d = read_dataset(&p, &train()).unwrap();
        assert_eq!(d.format, Format::FastText);
        assert_eq!(d.examples[0].labels, vec!["sports", "news"]);
        assert_eq!(d.examples[0].text, "Match report");
        assert_eq!(d.examples[1].labels, vec!["tech"]);
        assert_eq!(d.examples[1].text, "new phone");
        assert_eq!(d.examples[1].line, 3);
        assert_eq!(d.labels(), vec!["news", "sports", "tech"]);
    }

    #[test]
    fn txt_with_commas_and_tabs_is_still_fasttext() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a.txt", b"__label__x one, two\tthree\n");
        let d = read_dataset(&p, &train()).unwrap();
        assert_eq!(d.format, Format::FastText);
        assert_eq!(d.examples[0].text, "one, two\tthree");
    }

    #[test]
    fn line_without_label() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a.ft", b"__label__x one\nforgot the label\n__label__ y\n");
        let e = err(&p, &train());
        assert!(e.starts_with("a.ft:2: no __label__ prefix"), "{e}");
        let d = read_dataset(&p, &ReadOptions { skip_bad_rows: true, ..train() }).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d.skipped.count, 2);
        assert_eq!(d.skipped.first[1].0, 3);
        assert!(d.skipped.first[1].1.starts_with("empty label"));
        let d = read_dataset(&p, &ReadOptions::default()).unwrap();
        assert_eq!(d.examples[1].text, "forgot the label");
        assert!(d.examples[1].labels.is_empty());
        assert_eq!(d.examples[2].text, "y");
    }

    #[test]
    fn encodings() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a.ft", b"__label__x caf\xe9\n");
        let o = ReadOptions { format: Some(Format::FastText), ..train() };
        let e = err(&p, &o);
        assert!(e.starts_with("a.ft:1: invalid UTF-8 at column 15"), "{e}");
        let d = read_dataset(&p, &ReadOptions { encoding: Encoding::Latin1, ..o }).unwrap();
        assert_eq!(d.examples[0].text, "café");
    }
}
