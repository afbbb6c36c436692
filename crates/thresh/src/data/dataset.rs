//! Data sets: the options for reading one, its examples, and [`read_dataset`].

use std::path::{Path, PathBuf};

use super::columns::ColumnSpec;
use super::encoding::{strip_bom, Encoding};
use super::error::DataError;
use super::format::Format;
use super::rows::{Rows, Skipped};
use super::{delimited, fasttext, jsonl};

/// How to read a data file.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// The format; `None` detects it from the extension or the first line.
    pub format: Option<Format>,
    /// The text columns; empty recognises one by header name. With several, their fields are
    /// joined with a single space (e.g. subject and body).
    pub text_columns: Vec<ColumnSpec>,
    /// The label column; `None` recognises it by header name.
    pub label_column: Option<ColumnSpec>,
    /// The character encoding of the file.
    pub encoding: Encoding,
    /// Skip bad rows (counted in [`Dataset::skipped`]) instead of failing on the first.
    pub skip_bad_rows: bool,
    /// When false (reading texts to predict), a file without a label column is fine and labels
    /// may be empty; when true every row needs a non-empty label.
    pub labels_required: bool,
}

/// One labeled text.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The text, as in the file apart from a trailing `\r`.
    pub text: String,
    /// The labels, trimmed; one for most formats, several for multi-label fastText or JSONL,
    /// none when labels are not required and the row has none.
    pub labels: Vec<String>,
    /// The physical line (1-based) where the row starts.
    pub line: usize,
}

/// The examples of one data file.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The file read.
    pub path: PathBuf,
    /// Its format, given or detected.
    pub format: Format,
    /// The usable rows, in file order.
    pub examples: Vec<Example>,
    /// The bad rows left out (only with `skip_bad_rows`).
    pub skipped: Skipped,
}

impl Dataset {
    /// The sorted unique labels over all examples.
    pub fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> =
            self.examples.iter().flat_map(|e| e.labels.iter().cloned()).collect();
        labels.sort_unstable();
        labels.dedup();
        labels
    }

    /// Errors with [`DataError::TooFewClasses`], naming the file and the labels found, when the
    /// data set has fewer than `min` distinct labels.
    pub fn require_classes(&self, min: usize) -> Result<(), DataError> {
        let found = self.labels();
        if found.len() < min {
            return Err(DataError::TooFewClasses { path: self.path.clone(), min, found });
        }
        Ok(())
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    /// Whether there are no examples (never so for a data set [`read_dataset`] returned).
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }
}

/// Reads the whole file at `path`, telling a missing file from other I/O errors.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DataError::NotFound { path: path.to_path_buf() },
        _ => DataError::Io { path: path.to_path_buf(), source },
    })
}

/// Reads the labeled data file at `path`.
///
/// The format is `options.format` or detected ([`Format::detect`]); a leading UTF-8
/// byte-order mark is ignored. Bad rows are an error naming the file and line, or with
/// `skip_bad_rows` are counted in [`Dataset::skipped`] and reported with one warning. Whole-file
/// problems (missing, unreadable, empty, header only, no usable rows, columns not found) are
/// always errors.
pub fn read_dataset(path: &Path, options: &ReadOptions) -> Result<Dataset, DataError> {
    let bytes = read_file(path)?;
    read_bytes(path, &bytes, options)
}

/// Reads labeled data from `bytes`, the contents of the file `path` (used for messages and for
/// detecting the format), as [`read_dataset`] does.
pub fn read_bytes(path: &Path, bytes: &[u8], options: &ReadOptions) -> Result<Dataset, DataError> {
    let bytes = strip_bom(bytes);
    if bytes.trim_ascii().is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    let format = match options.format {
        Some(format) => format,
        None => Format::detect(path, bytes)?,
    };
    let mut rows = Rows::new(path, options.skip_bad_rows);
    match format {
        Format::Tsv | Format::Csv => delimited::read(path, bytes, format, options, &mut rows)?,
        Format::Jsonl => jsonl::read(path, bytes, options, &mut rows)?,
        Format::FastText => fasttext::read(path, bytes, options, &mut rows)?,
    }
    let (examples, skipped) = rows.finish()?;
    tracing::debug!(
        file = %path.display(),
        %format,
        examples = examples.len(),
        skipped = skipped.count,
        "read data set"
    );
    Ok(Dataset { path: path.to_path_buf(), format, examples, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::{train, write};

    #[test]
    fn missing_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope.tsv");
        let err = read_dataset(&p, &train()).unwrap_err();
        assert!(matches!(err, DataError::NotFound { .. }));
        assert_eq!(err.to_string(), format!("{}: file not found", p.display()));
        let err = read_dataset(dir.path(), &train()).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("cannot read"));
    }

    #[test]
    fn empty_files() {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in [
            ("a.tsv", &b""[..]),
            ("b.csv", b"\n\n  \r\n"),
            ("c.txt", b"\xEF\xBB\xBF\n"),
            ("d.jsonl", b"\n \n"),
        ] {
            let p = write(dir.path(), name, body);
            let err = read_dataset(&p, &train()).unwrap_err();
            assert!(matches!(err, DataError::Empty { .. }), "{name}: {err:?}");
            assert_eq!(err.to_string(), format!("{}: contains no rows", p.display()));
        }
    }

    #[test]
    fn format_detection_from_contents() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[u8], Format); 4] = [
            ("a.txt", b"text\tlabel\nhi\tx\n", Format::Tsv),
            ("b.txt", b"text,label\nhi,x\n", Format::Csv),
            ("c", b"{\"text\": \"hi\", \"label\": \"x\"}\n", Format::Jsonl),
            ("d.ft", b"\n__label__x hi, there\n", Format::FastText),
        ];
        for (name, body, format) in cases {
            let p = write(dir.path(), name, body);
            let d = read_dataset(&p, &train()).unwrap();
            assert_eq!(d.format, format, "{name}");
            assert_eq!(d.examples[0].labels, vec!["x"], "{name}");
        }
        let p = write(dir.path(), "e.txt", b"just words\n");
        let err = read_dataset(&p, &train()).unwrap_err().to_string();
        assert!(err.contains("could not recognise the format") && err.contains("--format"));
        // An explicit format wins over the extension.
        let p = write(dir.path(), "f.csv", b"text\tlabel\na,b\tx\n");
        let o = ReadOptions { format: Some(Format::Tsv), ..train() };
        assert_eq!(read_dataset(&p, &o).unwrap().examples[0].text, "a,b");
    }

    #[test]
    fn classes() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "one.tsv", b"text\tlabel\na\tspam\nb\tspam\n");
        let d = read_dataset(&p, &train()).unwrap();
        assert_eq!(d.labels(), vec!["spam"]);
        assert!(d.require_classes(1).is_ok());
        let err = d.require_classes(2).unwrap_err().to_string();
        assert_eq!(err, format!("{}: needs at least 2 classes, found 1 (spam)", p.display()));
        assert!(!d.is_empty());
    }

    #[test]
    fn odd_bytes_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = thresh_core::Rng::new(5);
        let mut inputs: Vec<Vec<u8>> = vec![
            b"\"".to_vec(),
            b"\"\"\"\n\"".to_vec(),
            b"text,label\n\"unterminated,x\n".to_vec(),
            b"\t\t\t\n\t\n".to_vec(),
            b",,,,\n,\n".to_vec(),
            b"\0\0\0\n\0\t\0\n".to_vec(),
            b"\r\r\r".to_vec(),
            b"\xEF\xBB".to_vec(),
            b"__label__".to_vec(),
            b"{".to_vec(),
            b"{}\n".to_vec(),
            b"text\tlabel\n\xff\xfe\t\xc3\n".to_vec(),
            vec![b'a'; 1 << 20],
            [b"text\tlabel\n".to_vec(), vec![b'x'; 1 << 20], b"\t1\n".to_vec()].concat(),
        ];
        for _ in 0..20 {
            let n = rng.below(2000);
            inputs.push((0..n).map(|_| rng.below(256) as u8).collect());
            let alphabet = b"\t,\n\r\" {}_:label";
            inputs.push((0..n).map(|_| alphabet[rng.below(alphabet.len())]).collect());
        }
        let formats = [None, Some(Format::Tsv), Some(Format::Csv), Some(Format::Jsonl)];
        let formats = formats.into_iter().chain([Some(Format::FastText)]);
        for format in formats {
            for (i, bytes) in inputs.iter().enumerate() {
                for name in ["x.txt", "x.tsv", "x.csv"] {
                    let p = write(dir.path(), name, bytes);
                    for (skip, required, encoding) in [
                        (false, true, Encoding::Utf8),
                        (true, false, Encoding::Latin1),
                        (true, true, Encoding::Utf8),
                    ] {
                        let o = ReadOptions {
                            format,
                            skip_bad_rows: skip,
                            labels_required: required,
                            encoding,
                            text_columns: if i % 2 == 0 {
                                vec![]
                            } else {
                                vec![ColumnSpec::Index(3)]
                            },
                            ..ReadOptions::default()
                        };
                        if let Ok(d) = read_dataset(&p, &o) {
                            assert!(!d.is_empty());
                        }
                    }
                }
            }
        }
        let long = write(dir.path(), "long.txt", &vec![b'a'; 1 << 20]);
        assert!(super::super::read_lines(Some(&long), Encoding::Utf8).unwrap()[0].len() == 1 << 20);
    }
}
