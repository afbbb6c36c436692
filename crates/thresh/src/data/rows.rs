//! Collecting the rows of a file: good rows become examples, bad rows are either an error or,
//! with `skip_bad_rows`, counted and reported once at the end.

use std::path::Path;

use super::dataset::Example;
use super::error::DataError;

/// How many skipped rows are remembered with their reasons.
pub const SKIPPED_KEPT: usize = 5;

/// Rows left out of a data set because they were bad.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Skipped {
    /// How many rows were skipped.
    pub count: usize,
    /// The first few (up to [`SKIPPED_KEPT`]) skipped rows: their line and why they were bad.
    pub first: Vec<(usize, String)>,
}

impl Skipped {
    /// Records one skipped row.
    pub fn add(&mut self, line: usize, reason: String) {
        self.count += 1;
        if self.first.len() < SKIPPED_KEPT {
            self.first.push((line, reason));
        }
    }

    /// A one-line summary such as `3 bad rows skipped (lines 4, 9, 12; first: empty label ...)`,
    /// or `None` when nothing was skipped.
    pub fn summary(&self) -> Option<String> {
        let (first_line, first_reason) = self.first.first()?;
        let lines: Vec<String> = self.first.iter().map(|(l, _)| l.to_string()).collect();
        let more = if self.count > self.first.len() { ", ..." } else { "" };
        let s = if self.count == 1 { "" } else { "s" };
        Some(format!(
            "{} bad row{s} skipped (line{s} {}{more}; first, line {first_line}: {first_reason})",
            self.count,
            lines.join(", ")
        ))
    }
}

/// The result of parsing one row: the text and labels, or why the row is bad.
pub(crate) type RowResult = Result<(String, Vec<String>), String>;

/// Gathers the examples of one file.
pub(crate) struct Rows<'a> {
    path: &'a Path,
    skip_bad_rows: bool,
    examples: Vec<Example>,
    skipped: Skipped,
}

impl<'a> Rows<'a> {
    /// An empty collector for `path`.
    pub(crate) fn new(path: &'a Path, skip_bad_rows: bool) -> Self {
        Rows { path, skip_bad_rows, examples: Vec::new(), skipped: Skipped::default() }
    }

    /// Adds the row starting on `line`: an example when it parsed, else a bad row.
    pub(crate) fn add(&mut self, line: usize, row: RowResult) -> Result<(), DataError> {
        match row {
            Ok((text, labels)) => {
                self.examples.push(Example { text, labels, line });
                Ok(())
            }
            Err(reason) => self.bad(line, reason),
        }
    }

    /// A bad row starting on `line`: an error, or skipped and remembered with `skip_bad_rows`.
    pub(crate) fn bad(&mut self, line: usize, reason: String) -> Result<(), DataError> {
        if self.skip_bad_rows {
            tracing::debug!(file = %self.path.display(), line, %reason, "skipping bad row");
            self.skipped.add(line, reason);
            Ok(())
        } else {
            Err(DataError::BadRow { path: self.path.to_path_buf(), line, reason })
        }
    }

    /// The examples and the skipped rows. Warns once when rows were skipped; errors when no row
    /// was usable ([`DataError::NoUsableRows`] after skipping, else [`DataError::Empty`]).
    pub(crate) fn finish(self) -> Result<(Vec<Example>, Skipped), DataError> {
        if let Some(summary) = self.skipped.summary() {
            tracing::warn!(
                file = %self.path.display(),
                skipped = self.skipped.count,
                "{}: {summary}",
                self.path.display()
            );
        }
        if self.examples.is_empty() {
            return Err(match self.skipped.first.first() {
                Some((line, reason)) => DataError::NoUsableRows {
                    path: self.path.to_path_buf(),
                    count: self.skipped.count,
                    first_line: *line,
                    first_reason: reason.clone(),
                },
                None => DataError::Empty { path: self.path.to_path_buf() },
            });
        }
        Ok((self.examples, self.skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_first_five_and_counts_all() {
        let mut rows = Rows::new(Path::new("a.tsv"), true);
        for line in 1..=8 {
            rows.bad(line, format!("reason {line}")).unwrap();
        }
        rows.add(9, Ok(("t".into(), vec!["x".into()]))).unwrap();
        let (examples, skipped) = rows.finish().unwrap();
        assert_eq!(examples.len(), 1);
        assert_eq!(skipped.count, 8);
        let lines: Vec<usize> = skipped.first.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5]);
        let summary = skipped.summary().unwrap();
        assert!(summary.starts_with("8 bad rows skipped (lines 1, 2, 3, 4, 5, ...;"), "{summary}");
    }

    #[test]
    fn bad_row_is_an_error_without_skipping() {
        let mut rows = Rows::new(Path::new("a.tsv"), false);
        let err = rows.add(4, Err("empty label".into())).unwrap_err().to_string();
        assert_eq!(err, "a.tsv:4: empty label");
    }

    #[test]
    fn nothing_usable() {
        let mut rows = Rows::new(Path::new("a.tsv"), true);
        rows.bad(2, "empty label".into()).unwrap();
        rows.bad(3, "empty label".into()).unwrap();
        let err = rows.finish().unwrap_err().to_string();
        assert_eq!(
            err,
            "a.tsv: no usable rows: all 2 rows were skipped (first, line 2: empty label)"
        );
        let err = Rows::new(Path::new("a.tsv"), true).finish().unwrap_err().to_string();
        assert_eq!(err, "a.tsv: contains no rows");
    }
}
