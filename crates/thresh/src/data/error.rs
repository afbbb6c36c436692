//! The error type of the data readers.
//!
//! Every message names the file it is about and, for a problem in one row, the physical line
//! (1-based) where that row starts. Messages are lowercase without a trailing period, and say
//! what was expected, mentioning the command-line flag that fixes the problem where there is one.

use std::path::PathBuf;

/// Everything that can go wrong reading a data file or splitting a data set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file does not exist.
    #[error("{}: file not found", path.display())]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// The file exists but could not be read (permissions, a directory, a device error).
    #[error("{}: cannot read", path.display())]
    Io {
        /// The path as given (`<stdin>` for standard input).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty or holds only blank lines.
    #[error("{}: contains no rows", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file has a header row and nothing after it.
    #[error("{}: has a header but no data rows", path.display())]
    HeaderOnly {
        /// The file.
        path: PathBuf,
    },
    /// The format was not given and could not be recognised from the name or the contents.
    #[error(
        "{}: could not recognise the format from the file name or the first line \
         (pass --format tsv, csv, jsonl or fasttext)",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A column asked for by name is not in the header.
    #[error("{}: {role} column \"{name}\" not found (have: {})", path.display(), have.join(", "))]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// `text` or `label`.
        role: &'static str,
        /// The name asked for.
        name: String,
        /// The header fields of the file.
        have: Vec<String>,
    },
    /// Columns were not given and the header has none of the recognised names for a role.
    #[error(
        "{}: no {role} column recognised in the header (have: {}); pass --{role}-column \
         with a header name or a zero-based index",
        path.display(),
        have.join(", ")
    )]
    ColumnNotRecognised {
        /// The file.
        path: PathBuf,
        /// `text` or `label`.
        role: &'static str,
        /// The header fields of the file.
        have: Vec<String>,
    },
    /// The file has no header row, and a column needed was not given as an index.
    #[error(
        "{}: no header row (the first row, line {line}, has no recognised column name), so \
         columns cannot be found by name; pass --text-column and --label-column as zero-based \
         indexes, e.g. --text-column 1 --label-column 0 (first row: {})",
        path.display(),
        first_row.join(", ")
    )]
    NoHeader {
        /// The file.
        path: PathBuf,
        /// The line of the first row.
        line: usize,
        /// The first row's fields, shortened for display.
        first_row: Vec<String>,
    },
    /// A column was given as an index for a format whose rows have named fields only.
    #[error(
        "{}: {flag} {index} is a column index, but {format} rows are objects with named keys; \
         give the key name instead",
        path.display()
    )]
    IndexNotSupported {
        /// The file.
        path: PathBuf,
        /// The flag, `--text-column` or `--label-column`.
        flag: &'static str,
        /// The index given.
        index: usize,
        /// The format name.
        format: &'static str,
    },
    /// One row cannot be used (too few fields, invalid UTF-8, empty label, bad JSON, ...).
    #[error("{}:{line}: {reason}", path.display())]
    BadRow {
        /// The file.
        path: PathBuf,
        /// The physical line (1-based) where the row starts.
        line: usize,
        /// What is wrong with the row and what was expected.
        reason: String,
    },
    /// Every row was bad and was skipped.
    #[error(
        "{}: no usable rows: all {count} rows were skipped (first, line {first_line}: {first_reason})",
        path.display()
    )]
    NoUsableRows {
        /// The file.
        path: PathBuf,
        /// How many rows were skipped.
        count: usize,
        /// The line of the first skipped row.
        first_line: usize,
        /// Why the first skipped row was bad.
        first_reason: String,
    },
    /// The data set has fewer distinct labels than a classifier needs.
    #[error(
        "{}: needs at least {min} classes, found {} ({})",
        path.display(),
        found.len(),
        if found.is_empty() { "no labels".to_string() } else { found.join(", ") }
    )]
    TooFewClasses {
        /// The file.
        path: PathBuf,
        /// The number of classes needed.
        min: usize,
        /// The distinct labels found, sorted.
        found: Vec<String>,
    },
    /// A validation fraction outside `[0, 1)`.
    #[error("invalid validation fraction {fraction}: expected a number in [0, 1)")]
    InvalidFraction {
        /// The fraction given.
        fraction: f64,
    },
    /// An unknown format name.
    #[error("unknown format \"{0}\" (expected tsv, csv, jsonl or fasttext)")]
    UnknownFormatName(String),
    /// An unknown encoding name.
    #[error("unknown encoding \"{0}\" (expected utf8 or latin1)")]
    UnknownEncoding(String),
    /// A column spec that is neither a name nor a zero-based index.
    #[error("invalid column \"{0}\": expected a header name or a zero-based index")]
    InvalidColumn(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_and_line() {
        let e = DataError::BadRow {
            path: "train.csv".into(),
            line: 7,
            reason: "empty label in column \"label\"".into(),
        };
        assert_eq!(e.to_string(), "train.csv:7: empty label in column \"label\"");
        let e = DataError::MissingColumn {
            path: "train.csv".into(),
            role: "label",
            name: "topic".into(),
            have: vec!["text".into(), "label".into()],
        };
        assert_eq!(
            e.to_string(),
            "train.csv: label column \"topic\" not found (have: text, label)"
        );
    }

    #[test]
    fn too_few_classes_lists_labels() {
        let e = DataError::TooFewClasses { path: "a.tsv".into(), min: 2, found: vec!["x".into()] };
        assert_eq!(e.to_string(), "a.tsv: needs at least 2 classes, found 1 (x)");
        let e = DataError::TooFewClasses { path: "a.tsv".into(), min: 2, found: vec![] };
        assert_eq!(e.to_string(), "a.tsv: needs at least 2 classes, found 0 (no labels)");
    }
}
