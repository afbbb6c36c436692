//! Column specs, header recognition and resolving the text and label columns of CSV and TSV
//! files to field indexes.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::dataset::ReadOptions;
use super::error::DataError;

/// Header names recognised as the text column when none is given (compared trimmed and
/// ignoring case), in the order they are tried for JSONL keys.
pub const TEXT_COLUMN_NAMES: &[&str] = &["text", "sentence", "content", "review", "text_a", "sms"];

/// Header names recognised as the label column when none is given (compared trimmed and
/// ignoring case).
pub const LABEL_COLUMN_NAMES: &[&str] = &["label", "class"];

/// How a column is chosen: by header name (or JSONL key), or by zero-based field index.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ColumnSpec {
    /// A header name, matched trimmed and ignoring case; for JSONL, a key.
    Name(String),
    /// A zero-based field index; works with or without a header row.
    Index(usize),
}

impl fmt::Display for ColumnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnSpec::Name(name) => f.write_str(name),
            ColumnSpec::Index(index) => write!(f, "{index}"),
        }
    }
}

impl FromStr for ColumnSpec {
    type Err = DataError;

    /// All ASCII digits parse as a zero-based [`ColumnSpec::Index`]; anything else non-empty is a
    /// [`ColumnSpec::Name`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(DataError::InvalidColumn(s.to_string()));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map(ColumnSpec::Index).map_err(|_| DataError::InvalidColumn(s.to_string()))
        } else {
            Ok(ColumnSpec::Name(s.to_string()))
        }
    }
}

/// What a column is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Text,
    Label,
}

impl Role {
    /// `text` or `label`, as used in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Text => "text",
            Role::Label => "label",
        }
    }

    /// The flag that chooses this column.
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Role::Text => "--text-column",
            Role::Label => "--label-column",
        }
    }
}

/// A resolved column of a delimited file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    /// The zero-based field index.
    pub index: usize,
    /// The header name, when the file has a header with a field at `index`.
    pub name: Option<String>,
    /// What the column is used for.
    pub role: Role,
}

impl Column {
    /// The column as named in messages: `"sentence"` when a header name is known, else
    /// `index 1`.
    pub(crate) fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("\"{name}\""),
            None => format!("index {}", self.index),
        }
    }
}

/// Where the text and label of each row are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The text columns, joined with a single space when there are several.
    pub text: Vec<Column>,
    /// The label column; `None` when labels are not required and the file has none.
    pub label: Option<Column>,
}

impl Layout {
    /// The column with the highest index: a row needs more than that many fields.
    pub(crate) fn widest(&self) -> Option<&Column> {
        self.text.iter().chain(self.label.as_ref()).max_by_key(|c| c.index)
    }
}

/// Whether `a` and `b` are the same header name: trimmed, ignoring case.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// Whether `first`, the fields of the first row, is a header: some field equals a column name
/// asked for or one of the recognised text or label names.
pub(crate) fn is_header(first: &[String], options: &ReadOptions) -> bool {
    let asked = options.text_columns.iter().chain(options.label_column.as_ref());
    let asked_names = asked.filter_map(|spec| match spec {
        ColumnSpec::Name(name) => Some(name.as_str()),
        ColumnSpec::Index(_) => None,
    });
    let mut names = asked_names
        .chain(TEXT_COLUMN_NAMES.iter().copied())
        .chain(LABEL_COLUMN_NAMES.iter().copied());
    names.any(|name| first.iter().any(|field| same_name(field, name)))
}

/// Shortens the fields of a row for display in a message.
fn preview(fields: &[String]) -> Vec<String> {
    const MAX_FIELDS: usize = 8;
    const MAX_CHARS: usize = 30;
    let mut out: Vec<String> = fields
        .iter()
        .take(MAX_FIELDS)
        .map(|f| {
            let f = f.trim();
            if f.chars().count() > MAX_CHARS {
                format!("{}...", f.chars().take(MAX_CHARS).collect::<String>())
            } else {
                f.to_string()
            }
        })
        .collect();
    if fields.len() > MAX_FIELDS {
        out.push(format!("... ({} fields)", fields.len()));
    }
    out
}

/// The first row of a delimited file, as needed to resolve the columns.
pub(crate) struct FirstRow<'a> {
    /// The decoded fields.
    pub fields: &'a [String],
    /// Whether the row is a header.
    pub is_header: bool,
    /// The physical line it starts on.
    pub line: usize,
}

/// Resolves the text and label columns against the first row of a delimited file.
pub(crate) fn resolve(
    path: &Path,
    first: &FirstRow<'_>,
    options: &ReadOptions,
) -> Result<Layout, DataError> {
    let header = first.is_header.then_some(first.fields);
    let have = || first.fields.iter().map(|f| f.trim().to_string()).collect::<Vec<_>>();
    let no_header = || DataError::NoHeader {
        path: path.to_path_buf(),
        line: first.line,
        first_row: preview(first.fields),
    };
    let column = |index: usize, role: Role| Column {
        index,
        name: header.and_then(|h| h.get(index)).map(|n| n.trim().to_string()),
        role,
    };
    let by_spec = |spec: &ColumnSpec, role: Role| -> Result<Column, DataError> {
        match spec {
            ColumnSpec::Index(index) => Ok(column(*index, role)),
            ColumnSpec::Name(name) => {
                let header = header.ok_or_else(no_header)?;
                let index = header.iter().position(|f| same_name(f, name)).ok_or_else(|| {
                    DataError::MissingColumn {
                        path: path.to_path_buf(),
                        role: role.name(),
                        name: name.clone(),
                        have: have(),
                    }
                })?;
                Ok(column(index, role))
            }
        }
    };
    let recognised = |names: &[&str]| {
        header.and_then(|h| h.iter().position(|f| names.iter().any(|n| same_name(f, n))))
    };

    let text = if options.text_columns.is_empty() {
        if header.is_none() {
            return Err(no_header());
        }
        let index = recognised(TEXT_COLUMN_NAMES).ok_or_else(|| {
            DataError::ColumnNotRecognised { path: path.to_path_buf(), role: "text", have: have() }
        })?;
        vec![column(index, Role::Text)]
    } else {
        let specs = options.text_columns.iter();
        specs.map(|spec| by_spec(spec, Role::Text)).collect::<Result<Vec<_>, _>>()?
    };

    let label = match &options.label_column {
        Some(spec) => Some(by_spec(spec, Role::Label)?),
        None => match recognised(LABEL_COLUMN_NAMES) {
            Some(index) => Some(column(index, Role::Label)),
            None if !options.labels_required => None,
            None if header.is_none() => return Err(no_header()),
            None => {
                return Err(DataError::ColumnNotRecognised {
                    path: path.to_path_buf(),
                    role: "label",
                    have: have(),
                })
            }
        },
    };
    Ok(Layout { text, label })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn required() -> ReadOptions {
        ReadOptions { labels_required: true, ..ReadOptions::default() }
    }

    fn first(fields: &[String], options: &ReadOptions) -> Layout {
        let row = FirstRow { fields, is_header: is_header(fields, options), line: 1 };
        resolve(Path::new("t.tsv"), &row, options).unwrap()
    }

    #[test]
    fn parses_specs() {
        assert_eq!("2".parse::<ColumnSpec>().unwrap(), ColumnSpec::Index(2));
        assert_eq!("text".parse::<ColumnSpec>().unwrap(), ColumnSpec::Name("text".into()));
        assert_eq!("2a".parse::<ColumnSpec>().unwrap(), ColumnSpec::Name("2a".into()));
        assert_eq!("-1".parse::<ColumnSpec>().unwrap(), ColumnSpec::Name("-1".into()));
        assert!("".parse::<ColumnSpec>().is_err());
        let err = "99999999999999999999999999".parse::<ColumnSpec>().unwrap_err().to_string();
        assert!(err.contains("zero-based index"), "{err}");
        assert_eq!(ColumnSpec::Index(3).to_string(), "3");
        assert_eq!(ColumnSpec::Name("body".into()).to_string(), "body");
    }

    #[test]
    fn recognises_known_headers() {
        let o = required();
        let l = first(&strings(&["label", "content"]), &o);
        assert_eq!((l.text[0].index, l.label.as_ref().map(|c| c.index)), (1, Some(0)));
        let l = first(&strings(&["Label", "SMS"]), &o);
        assert_eq!(l.text[0].name.as_deref(), Some("SMS"));
        assert_eq!(l.label.unwrap().describe(), "\"Label\"");
        let l = first(&strings(&[" sentence ", "label\r"]), &o);
        assert_eq!(l.text[0].index, 0);
    }

    #[test]
    fn flags_win_and_names_are_checked() {
        let mut o = required();
        o.text_columns = vec![ColumnSpec::Name("Subject".into()), ColumnSpec::Index(2)];
        o.label_column = Some(ColumnSpec::Name("topic".into()));
        let l = first(&strings(&["topic", "subject", "body"]), &o);
        let idx: Vec<usize> = l.text.iter().map(|c| c.index).collect();
        assert_eq!(idx, vec![1, 2]);
        assert_eq!(l.label.unwrap().index, 0);

        o.label_column = Some(ColumnSpec::Name("category".into()));
        let fields = strings(&["text", "label"]);
        let row = FirstRow { fields: &fields, is_header: true, line: 1 };
        o.text_columns.clear();
        let err = resolve(Path::new("train.csv"), &row, &o).unwrap_err().to_string();
        assert_eq!(err, "train.csv: label column \"category\" not found (have: text, label)");
    }

    #[test]
    fn without_header_needs_indexes() {
        let o = required();
        let fields = strings(&["0", "a good film"]);
        let row = FirstRow { fields: &fields, is_header: is_header(&fields, &o), line: 3 };
        assert!(!row.is_header);
        let err = resolve(Path::new("x.tsv"), &row, &o).unwrap_err().to_string();
        assert!(err.contains("x.tsv: no header row"), "{err}");
        assert!(err.contains("--text-column") && err.contains("--label-column"), "{err}");
        assert!(err.contains("line 3") && err.contains("a good film"), "{err}");

        let mut o = required();
        o.text_columns = vec![ColumnSpec::Index(1)];
        o.label_column = Some(ColumnSpec::Index(0));
        let l = resolve(Path::new("x.tsv"), &row, &o).unwrap();
        assert_eq!(l.text[0].describe(), "index 1");
        assert_eq!(l.widest().unwrap().index, 1);
    }

    #[test]
    fn unrecognised_header_names_the_flag() {
        let o = required();
        let fields = strings(&["label", "body"]);
        let row = FirstRow { fields: &fields, is_header: true, line: 1 };
        let err = resolve(Path::new("x.csv"), &row, &o).unwrap_err().to_string();
        assert!(err.contains("no text column recognised") && err.contains("label, body"), "{err}");
        assert!(err.contains("--text-column"), "{err}");

        let fields = strings(&["text", "topic"]);
        let row = FirstRow { fields: &fields, is_header: true, line: 1 };
        let err = resolve(Path::new("x.csv"), &row, &o).unwrap_err().to_string();
        assert!(err.contains("no label column recognised") && err.contains("--label-column"));
        // Reading texts to predict: no label column is fine.
        let l = resolve(Path::new("x.csv"), &row, &ReadOptions::default()).unwrap();
        assert!(l.label.is_none());
    }
}
