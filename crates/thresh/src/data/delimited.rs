//! CSV and TSV files.
//!
//! CSV follows RFC 4180 through the `csv` crate: quoted fields, doubled quotes, newlines inside
//! quotes and CRLF line ends. TSV is simpler, as in GLUE's files: one row per line, fields split
//! at tabs, quotes are ordinary characters, and a trailing `\r` is dropped. Both are read as
//! bytes, so invalid UTF-8 is reported here with its line and column.
//!
//! The first non-blank row is a header when one of its fields is a column name asked for or a
//! recognised name (see [`super::columns`]). Rows whose fields are all blank are ignored.

use std::path::Path;

use super::columns::{self, Column, FirstRow, Layout};
use super::dataset::ReadOptions;
use super::encoding::LATIN1_HINT;
use super::error::DataError;
use super::format::Format;
use super::rows::{RowResult, Rows};

/// Reads the rows of a CSV or TSV file whose contents (without a byte-order mark) are `bytes`.
pub(crate) fn read(
    path: &Path,
    bytes: &[u8],
    format: Format,
    options: &ReadOptions,
    rows: &mut Rows<'_>,
) -> Result<(), DataError> {
    let mut reader = Delimited { path, options, layout: None, header: false, data_rows: 0, rows };
    if format == Format::Csv {
        read_csv(path, bytes, &mut reader)?;
    } else {
        read_tsv(bytes, &mut reader)?;
    }
    reader.finish()
}

/// Splits TSV bytes into lines and fields.
fn read_tsv(bytes: &[u8], reader: &mut Delimited<'_, '_>) -> Result<(), DataError> {
    let mut fields: Vec<&[u8]> = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        fields.clear();
        fields.extend(line.split(|&b| b == b'\t'));
        reader.record(i + 1, &fields)?;
    }
    Ok(())
}

/// Parses CSV bytes into records with the `csv` crate.
///
/// The crate's own line count skips blank lines and counts CRLF oddly, so the line of each
/// record is counted here from its byte offset. That offset is where the previous record ended;
/// the record itself starts after any line ends that follow.
fn read_csv(path: &Path, bytes: &[u8], reader: &mut Delimited<'_, '_>) -> Result<(), DataError> {
    let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut lines = LineCounter::default();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(err) => {
                // Reading from memory, the parser reports no errors for byte records; should one
                // occur, the parser state is unknown, so it ends the read.
                let offset = err.position().map_or(0, |p| p.byte());
                return Err(DataError::BadRow {
                    path: path.to_path_buf(),
                    line: lines.line_at(bytes, offset),
                    reason: format!("malformed CSV: {err}"),
                });
            }
        }
        let offset = record.position().map_or(0, |p| p.byte());
        let line = lines.line_at(bytes, offset);
        let fields: Vec<&[u8]> = record.iter().collect();
        reader.record(line, &fields)?;
    }
}

/// Turns increasing byte offsets into 1-based line numbers, counting newlines once.
#[derive(Default)]
struct LineCounter {
    /// Bytes before this offset have been counted.
    counted: usize,
    /// Newlines before `counted`.
    newlines: usize,
}

impl LineCounter {
    /// The line of the first byte at or after `offset` that is not a line end.
    fn line_at(&mut self, bytes: &[u8], offset: u64) -> usize {
        let mut start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
        while bytes.get(start).is_some_and(|&b| b == b'\r' || b == b'\n') {
            start += 1;
        }
        if let Some(between) = bytes.get(self.counted..start) {
            self.newlines += between.iter().filter(|&&b| b == b'\n').count();
            self.counted = start;
        }
        self.newlines + 1
    }
}

/// The state of reading one delimited file.
struct Delimited<'p, 'r> {
    path: &'p Path,
    options: &'p ReadOptions,
    /// The columns, once the first row has been seen.
    layout: Option<Layout>,
    /// Whether the first row was a header.
    header: bool,
    /// Rows after the header, good or bad.
    data_rows: usize,
    rows: &'p mut Rows<'r>,
}

impl Delimited<'_, '_> {
    /// Handles the row of `fields` starting on `line`.
    fn record(&mut self, line: usize, fields: &[&[u8]]) -> Result<(), DataError> {
        if fields.iter().all(|f| f.trim_ascii().is_empty()) {
            return Ok(());
        }
        let Some(layout) = &self.layout else {
            let decoded: Vec<String> =
                fields.iter().map(|f| self.options.encoding.decode_lossy(f)).collect();
            let is_header = columns::is_header(&decoded, self.options);
            let first = FirstRow { fields: &decoded, is_header, line };
            let layout = columns::resolve(self.path, &first, self.options)?;
            tracing::debug!(
                file = %self.path.display(),
                header = is_header,
                text = ?layout.text.iter().map(|c| c.index).collect::<Vec<_>>(),
                label = ?layout.label.as_ref().map(|c| c.index),
                "resolved columns"
            );
            self.layout = Some(layout);
            self.header = is_header;
            return if is_header { Ok(()) } else { self.record(line, fields) };
        };
        self.data_rows += 1;
        let row = parse_row(fields, layout, self.options);
        self.rows.add(line, row)
    }

    /// Checks that the file held rows.
    fn finish(&self) -> Result<(), DataError> {
        match self.layout {
            None => Err(DataError::Empty { path: self.path.to_path_buf() }),
            Some(_) if self.header && self.data_rows == 0 => {
                Err(DataError::HeaderOnly { path: self.path.to_path_buf() })
            }
            Some(_) => Ok(()),
        }
    }
}

/// The text and labels of one data row.
fn parse_row(fields: &[&[u8]], layout: &Layout, options: &ReadOptions) -> RowResult {
    if let Some(widest) = layout.widest() {
        if fields.len() <= widest.index {
            let n = fields.len();
            let name = widest.name.as_ref().map(|n| format!(" \"{n}\"")).unwrap_or_default();
            return Err(format!(
                "{n} field{}, but the {} column{name} (index {}) needs at least {}",
                if n == 1 { "" } else { "s" },
                widest.role.name(),
                widest.index,
                widest.index.saturating_add(1)
            ));
        }
    }
    let decode = |column: &Column| -> Result<String, String> {
        let bytes = fields.get(column.index).copied().unwrap_or_default();
        match options.encoding.decode(bytes) {
            Ok(s) => Ok(s.into_owned()),
            Err(_) => Err(format!("invalid UTF-8 in column {} {LATIN1_HINT}", column.describe())),
        }
    };
    let mut text = String::new();
    for (i, column) in layout.text.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(&decode(column)?);
    }
    let mut labels = Vec::new();
    if let Some(column) = &layout.label {
        let label = decode(column)?;
        let label = label.trim();
        if !label.is_empty() {
            labels.push(label.to_string());
        } else if options.labels_required {
            return Err(format!("empty label in column {}", column.describe()));
        }
    }
    Ok((text, labels))
}

#[cfg(test)]
mod tests {
    use crate::data::testutil::{err, train, write};
    use crate::data::{read_dataset, ColumnSpec, DataError, Encoding, ReadOptions};

    #[test]
    fn tsv_with_header_keeps_quotes_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a.tsv", b"sentence\tlabel\n\"quoted\" text \t1\n\nplain\t 0 \n");
        let d = read_dataset(&p, &train()).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.examples[0].text, "\"quoted\" text ");
        assert_eq!(d.examples[0].labels, vec!["1"]);
        assert_eq!(d.examples[0].line, 2);
        assert_eq!(d.examples[1].labels, vec!["0"]);
        assert_eq!(d.examples[1].line, 4);
        assert_eq!(d.labels(), vec!["0", "1"]);
    }

    #[test]
    fn crlf_and_bom() {
        let dir = tempfile::tempdir().unwrap();
        let p =
            write(dir.path(), "a.tsv", b"\xEF\xBB\xBFlabel\ttext\r\npos\tnice \r\nneg\tbad\r\n");
        let d = read_dataset(&p, &train()).unwrap();
        assert_eq!(d.examples[0].text, "nice ");
        assert_eq!(d.examples[1].text, "bad");
        assert_eq!(d.examples[1].line, 3);
        let p = write(dir.path(), "a.csv", b"\xEF\xBB\xBFtext,label\r\n\"a, b\",x\r\nc,y\r\n");
        let d = read_dataset(&p, &train()).unwrap();
        assert_eq!(d.examples[0].text, "a, b");
        assert_eq!(d.examples[1].text, "c");
        assert_eq!(d.examples[1].labels, vec!["y"]);
        assert_eq!(d.examples[1].line, 3);
    }

    #[test]
    fn csv_quoted_newline_keeps_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"text,label\n\"two\nlines, \"\"quoted\"\"\",a\nnext,b\n\n\"x\",\n";
        let p = write(dir.path(), "a.csv", body);
        let e = err(&p, &train());
        // The row after the two-line record starts on line 4; the bad row on line 6.
        assert_eq!(e, "a.csv:6: empty label in column \"label\"");
        let mut o = train();
        o.skip_bad_rows = true;
        let d = read_dataset(&p, &o).unwrap();
        assert_eq!(d.examples[0].text, "two\nlines, \"quoted\"");
        assert_eq!(d.examples[0].line, 2);
        assert_eq!(d.examples[1].line, 4);
        assert_eq!(d.skipped.first, vec![(6, "empty label in column \"label\"".to_string())]);
    }

    #[test]
    fn csv_line_numbers_with_crlf_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"\r\ntext,label\r\n\r\n\"a\r\nb\",x\r\n\r\n\r\nc,y\r\nd\r\n";
        let p = write(dir.path(), "c.csv", body);
        assert_eq!(
            err(&p, &train()),
            "c.csv:9: 1 field, but the label column \"label\" (index 1) needs at least 2"
        );
        let d = read_dataset(&p, &ReadOptions { skip_bad_rows: true, ..train() }).unwrap();
        let lines: Vec<usize> = d.examples.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![4, 8]);
        assert_eq!(d.examples[0].text, "a\r\nb");
    }

    #[test]
    fn too_few_fields() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "train.tsv", b"text\tlabel\na\tb\nonly text\n");
        assert_eq!(
            err(&p, &train()),
            "train.tsv:3: 1 field, but the label column \"label\" (index 1) needs at least 2"
        );
        let p = write(dir.path(), "n.tsv", b"0\ta\tz\n1\n");
        let o = ReadOptions {
            text_columns: vec![ColumnSpec::Index(1)],
            label_column: Some(ColumnSpec::Index(0)),
            ..train()
        };
        assert_eq!(err(&p, &o), "n.tsv:2: 1 field, but the text column (index 1) needs at least 2");
    }

    #[test]
    fn huge_index_is_a_bad_row() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "n.tsv", b"a\tb\n");
        let o = ReadOptions {
            text_columns: vec![ColumnSpec::Index(usize::MAX)],
            label_column: Some(ColumnSpec::Index(0)),
            ..train()
        };
        let e = err(&p, &o);
        assert!(e.starts_with("n.tsv:1: 2 fields, but the text column (index "), "{e}");
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "train.tsv", b"sentence\tlabel\nok\t1\ncaf\xe9\t0\n");
        let e = err(&p, &train());
        assert_eq!(
            e,
            "train.tsv:3: invalid UTF-8 in column \"sentence\" \
             (pass --encoding latin1 if the file is Latin-1)"
        );
        let d = read_dataset(&p, &ReadOptions { encoding: Encoding::Latin1, ..train() }).unwrap();
        assert_eq!(d.examples[1].text, "café");
        // Invalid bytes in a column that is not used do not matter.
        let p = write(dir.path(), "b.tsv", b"text\tlabel\tnote\nx\t1\t\xff\n");
        assert_eq!(read_dataset(&p, &train()).unwrap().len(), 1);
        let p = write(dir.path(), "c.csv", b"1,caf\xe9\n");
        let o = ReadOptions {
            text_columns: vec![ColumnSpec::Index(1)],
            label_column: Some(ColumnSpec::Index(0)),
            ..train()
        };
        assert!(err(&p, &o).starts_with("c.csv:1: invalid UTF-8 in column index 1"));
    }

    #[test]
    fn empty_label_and_skipping() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"text,label\na,x\nb,\nc, \nd\ne,y\nf,\ng,\nh,\ni,\n";
        let p = write(dir.path(), "train.csv", body);
        assert_eq!(err(&p, &train()), "train.csv:3: empty label in column \"label\"");
        let d = read_dataset(&p, &ReadOptions { skip_bad_rows: true, ..train() }).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.skipped.count, 7);
        let lines: Vec<usize> = d.skipped.first.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![3, 4, 5, 7, 8]);
        assert!(d.skipped.first[2].1.contains("1 field"), "{:?}", d.skipped.first);
        // Empty text is fine; without required labels an empty label is no label.
        let p = write(dir.path(), "p.csv", b"text,label\n,x\nq,\n");
        let d = read_dataset(&p, &ReadOptions::default()).unwrap();
        assert_eq!(d.examples[0].text, "");
        assert!(d.examples[1].labels.is_empty());
    }

    #[test]
    fn all_rows_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.tsv", b"text\tlabel\na\t\nb\t\n");
        let e = err(&p, &ReadOptions { skip_bad_rows: true, ..train() });
        assert!(e.starts_with("t.tsv: no usable rows: all 2 rows were skipped"), "{e}");
        assert!(e.contains("line 2: empty label"), "{e}");
    }

    #[test]
    fn header_only_and_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "h.tsv", b"text\tlabel\n\n  \n");
        let e = read_dataset(&p, &train()).unwrap_err();
        assert!(matches!(e, DataError::HeaderOnly { .. }));
        assert_eq!(err(&p, &train()), "h.tsv: has a header but no data rows");
        let p = write(dir.path(), "h.csv", b"text,label\r\n");
        assert_eq!(err(&p, &train()), "h.csv: has a header but no data rows");
        let p = write(dir.path(), "e.csv", b",,\n\n");
        assert_eq!(err(&p, &train()), "e.csv: contains no rows");
    }

    #[test]
    fn missing_named_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "train.csv", b"text,label\na,b\n");
        let o = ReadOptions { label_column: Some(ColumnSpec::Name("topic".into())), ..train() };
        let e = read_dataset(&p, &o).unwrap_err();
        assert!(matches!(e, DataError::MissingColumn { .. }));
        assert_eq!(err(&p, &o), "train.csv: label column \"topic\" not found (have: text, label)");
    }

    #[test]
    fn index_columns_without_header_and_joined_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "n.tsv", b"spam\tWin\tmoney now\nham\tHi\tsee you\n");
        let e = err(&p, &train());
        assert!(e.starts_with("n.tsv: no header row") && e.contains("--text-column"), "{e}");
        let o = ReadOptions {
            text_columns: vec![ColumnSpec::Index(1), ColumnSpec::Index(2)],
            label_column: Some(ColumnSpec::Index(0)),
            ..train()
        };
        let d = read_dataset(&p, &o).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.examples[0].text, "Win money now");
        assert_eq!(d.examples[1].labels, vec!["ham"]);
        assert_eq!(d.examples[0].line, 1);

        let p = write(dir.path(), "h.csv", b"Subject,Body,Topic\nHello,\"a, b\",t1\n");
        let o = ReadOptions {
            text_columns: vec![ColumnSpec::Name("subject".into()), ColumnSpec::Name("BODY".into())],
            label_column: Some(ColumnSpec::Name("topic".into())),
            ..train()
        };
        let d = read_dataset(&p, &o).unwrap();
        assert_eq!(d.examples[0].text, "Hello a, b");
        assert_eq!(d.examples[0].labels, vec!["t1"]);
        // An index also works when there is a header.
        let o = ReadOptions {
            text_columns: vec![ColumnSpec::Index(1)],
            label_column: Some(ColumnSpec::Name("topic".into())),
            ..train()
        };
        assert_eq!(read_dataset(&p, &o).unwrap().examples[0].text, "a, b");
    }

    #[test]
    fn predicting_without_label_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "p.tsv", b"text\nfirst\nsecond\n");
        let d = read_dataset(&p, &ReadOptions::default()).unwrap();
        assert_eq!(d.len(), 2);
        assert!(d.examples.iter().all(|e| e.labels.is_empty()));
        let e = err(&p, &train());
        assert!(e.contains("no label column recognised"), "{e}");
    }
}
