//! JSON Lines files: one JSON object per non-blank line.
//!
//! Text columns and the label column are keys, matched exactly or else ignoring case; without
//! flags the first recognised name present is used (in the order of
//! [`TEXT_COLUMN_NAMES`] and [`LABEL_COLUMN_NAMES`]). A text value is a string (numbers and
//! booleans are taken as their text). A label value is a string, number or boolean, or an array
//! of those for several labels.

use std::path::Path;

use serde_json::{Map, Value};

use super::columns::{same_name, ColumnSpec, Role, LABEL_COLUMN_NAMES, TEXT_COLUMN_NAMES};
use super::dataset::ReadOptions;
use super::encoding::LATIN1_HINT;
use super::error::DataError;
use super::rows::{RowResult, Rows};

/// Reads the rows of a JSONL file whose contents (without a byte-order mark) are `bytes`.
pub(crate) fn read(
    path: &Path,
    bytes: &[u8],
    options: &ReadOptions,
    rows: &mut Rows<'_>,
) -> Result<(), DataError> {
    let text_keys = key_names(path, &options.text_columns, Role::Text)?;
    let label_key = key_names(path, options.label_column.as_slice(), Role::Label)?;
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.trim_ascii().is_empty() {
            continue;
        }
        let row = parse_line(line, &text_keys, label_key.first().copied(), options);
        rows.add(i + 1, row)?;
    }
    Ok(())
}

/// The key names of `specs`; an index is an error, as objects have no field order to use.
fn key_names<'a>(
    path: &Path,
    specs: &'a [ColumnSpec],
    role: Role,
) -> Result<Vec<&'a str>, DataError> {
    specs
        .iter()
        .map(|spec| match spec {
            ColumnSpec::Name(name) => Ok(name.as_str()),
            ColumnSpec::Index(index) => Err(DataError::IndexNotSupported {
                path: path.to_path_buf(),
                flag: role.flag(),
                index: *index,
                format: "JSONL",
            }),
        })
        .collect()
}

/// The key of `object` named `name`: exactly, else ignoring case.
fn find_key<'m>(object: &'m Map<String, Value>, name: &str) -> Option<(&'m str, &'m Value)> {
    object
        .get_key_value(name)
        .or_else(|| object.iter().find(|(k, _)| same_name(k, name)))
        .map(|(k, v)| (k.as_str(), v))
}

/// The first key of `object` with one of the recognised `names`, in the order of `names`.
fn find_recognised<'m>(
    object: &'m Map<String, Value>,
    names: &[&str],
) -> Option<(&'m str, &'m Value)> {
    names.iter().find_map(|name| find_key(object, name))
}

/// The keys of `object` for a message.
fn have(object: &Map<String, Value>) -> String {
    if object.is_empty() {
        "none".to_string()
    } else {
        object.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
    }
}

/// What kind of JSON value `value` is, for a message.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A scalar as text: strings as they are, numbers and booleans as written.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// serde_json's message without its ` at line L column C` suffix.
fn json_message(err: &serde_json::Error) -> String {
    let full = err.to_string();
    match full.rfind(" at line ") {
        Some(pos) => full[..pos].to_string(),
        None => full,
    }
}

/// The text and labels of one line.
fn parse_line(
    line: &[u8],
    text_keys: &[&str],
    label_key: Option<&str>,
    options: &ReadOptions,
) -> RowResult {
    let decoded = options
        .encoding
        .decode(line)
        .map_err(|e| format!("invalid UTF-8 at column {} {LATIN1_HINT}", e.valid_up_to() + 1))?;
    let value: Value = serde_json::from_str(&decoded)
        .map_err(|e| format!("invalid JSON at column {}: {}", e.column(), json_message(&e)))?;
    let object = match value {
        Value::Object(object) => object,
        other => return Err(format!("expected a JSON object, found {}", kind(&other))),
    };

    let mut text = String::new();
    if text_keys.is_empty() {
        let (key, value) = find_recognised(&object, TEXT_COLUMN_NAMES).ok_or_else(|| {
            format!(
                "no text key recognised (have: {}); pass --text-column with the key name",
                have(&object)
            )
        })?;
        text = text_value(key, value)?;
    } else {
        for (i, name) in text_keys.iter().enumerate() {
            let (key, value) = find_key(&object, name)
                .ok_or_else(|| format!("missing key \"{name}\" (have: {})", have(&object)))?;
            if i > 0 {
                text.push(' ');
            }
            text.push_str(&text_value(key, value)?);
        }
    }

    let found = match label_key {
        Some(name) => find_key(&object, name)
            .ok_or_else(|| format!("missing key \"{name}\" (have: {})", have(&object))),
        None => find_recognised(&object, LABEL_COLUMN_NAMES).ok_or_else(|| {
            format!(
                "no label key recognised (have: {}); pass --label-column with the key name",
                have(&object)
            )
        }),
    };
    let labels = match found {
        Ok((key, value)) => label_values(key, value, options.labels_required)?,
        Err(reason) if options.labels_required => return Err(reason),
        Err(_) => Vec::new(),
    };
    Ok((text, labels))
}

/// The text in `value` under `key`.
fn text_value(key: &str, value: &Value) -> Result<String, String> {
    scalar(value)
        .ok_or_else(|| format!("expected a string in key \"{key}\", found {}", kind(value)))
}

/// The labels in `value` under `key`: trimmed, without duplicates, in order. Empty labels are
/// an error when labels are required and are dropped otherwise.
fn label_values(key: &str, value: &Value, required: bool) -> Result<Vec<String>, String> {
    let bad = |v: &Value| {
        format!(
            "label in key \"{key}\" must be a string, number or boolean, or an array of those; \
             found {}",
            kind(v)
        )
    };
    let items: Vec<String> = match value {
        Value::Array(items) => {
            items.iter().map(|v| scalar(v).ok_or_else(|| bad(v))).collect::<Result<_, _>>()?
        }
        Value::Null if !required => Vec::new(),
        other => vec![scalar(other).ok_or_else(|| bad(other))?],
    };
    let mut labels: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let label = item.trim();
        if label.is_empty() {
            if required {
                return Err(format!("empty label in key \"{key}\""));
            }
        } else if !labels.iter().any(|l| l == label) {
            labels.push(label.to_string());
        }
    }
    if labels.is_empty() && required {
        return Err(format!("empty label list in key \"{key}\""));
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use crate::data::testutil::{err, train, write};
    use crate::data::{read_dataset, ColumnSpec, Encoding, Format, ReadOptions};

    #[test]
    fn reads_objects_and_label_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let body = "{\"text\": \"good\", \"label\": \"pos\"}\n\n\
                    {\"Text\": \"one\", \"label\": 1}\r\n\
                    {\"text\": \"t\", \"label\": true, \"x\": null}\n\
                    {\"sentence\": \"multi\", \"class\": [\"a\", \" b \", 3, \"a\"]}\n";
        let p = write(dir.path(), "d.jsonl", body.as_bytes());
        let d = read_dataset(&p, &train()).unwrap();
        assert_eq!(d.format, Format::Jsonl);
        let labels: Vec<Vec<String>> = d.examples.iter().map(|e| e.labels.clone()).collect();
        assert_eq!(labels, vec![vec!["pos"], vec!["1"], vec!["true"], vec!["a", "b", "3"]]);
        assert_eq!(d.examples[1].text, "one");
        assert_eq!(d.examples[1].line, 3);
        assert_eq!(d.examples[3].line, 5);
    }

    #[test]
    fn keys_from_flags_joined() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"{\"subject\": \"Hi\", \"body\": \"there\", \"topic\": \"greet\"}\n";
        let p = write(dir.path(), "d.ndjson", body);
        let o = ReadOptions {
            text_columns: vec![ColumnSpec::Name("subject".into()), ColumnSpec::Name("body".into())],
            label_column: Some(ColumnSpec::Name("topic".into())),
            ..train()
        };
        let d = read_dataset(&p, &o).unwrap();
        assert_eq!(d.examples[0].text, "Hi there");
        assert_eq!(d.examples[0].labels, vec!["greet"]);
        let o = ReadOptions { text_columns: vec![ColumnSpec::Index(0)], ..train() };
        let e = err(&p, &o);
        assert!(e.starts_with("d.ndjson: --text-column 0 is a column index"), "{e}");
        assert!(e.contains("key name"), "{e}");
    }

    #[test]
    fn invalid_json_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p =
            write(dir.path(), "d.jsonl", b"{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": }\n");
        let e = err(&p, &train());
        assert!(e.starts_with("d.jsonl:2: invalid JSON at column 10: "), "{e}");
        let p = write(dir.path(), "e.jsonl", b"[1, 2]\n");
        assert_eq!(err(&p, &train()), "e.jsonl:1: expected a JSON object, found an array");
    }

    #[test]
    fn missing_key_lists_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "d.jsonl",
            b"{\"text\": \"a\", \"label\": \"x\"}\n{\"body\": \"b\"}\n",
        );
        let o = ReadOptions { text_columns: vec![ColumnSpec::Name("text".into())], ..train() };
        assert_eq!(err(&p, &o), "d.jsonl:2: missing key \"text\" (have: body)");
        let e = err(&p, &train());
        assert!(e.starts_with("d.jsonl:2: no text key recognised (have: body)"), "{e}");
        let p = write(dir.path(), "l.jsonl", b"{\"text\": \"a\"}\n");
        let o = ReadOptions { label_column: Some(ColumnSpec::Name("topic".into())), ..train() };
        assert_eq!(err(&p, &o), "l.jsonl:1: missing key \"topic\" (have: text)");
        // Texts to predict need no label.
        let d = read_dataset(&p, &ReadOptions::default()).unwrap();
        assert!(d.examples[0].labels.is_empty());
    }

    #[test]
    fn bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "d.jsonl", b"{\"text\": \"a\", \"label\": \"  \"}\n");
        assert_eq!(err(&p, &train()), "d.jsonl:1: empty label in key \"label\"");
        let p = write(dir.path(), "d.jsonl", b"{\"text\": \"a\", \"label\": {\"x\": 1}}\n");
        assert!(err(&p, &train()).contains("found an object"));
        let p = write(dir.path(), "d.jsonl", b"{\"text\": null, \"label\": \"x\"}\n");
        assert_eq!(err(&p, &train()), "d.jsonl:1: expected a string in key \"text\", found null");
        let p = write(dir.path(), "d.jsonl", b"{\"text\": \"a\", \"label\": []}\n");
        assert_eq!(err(&p, &train()), "d.jsonl:1: empty label list in key \"label\"");
    }

    #[test]
    fn encodings_and_skipping() {
        let dir = tempfile::tempdir().unwrap();
        let p =
            write(dir.path(), "d.jsonl", b"{\"text\": \"caf\xe9\", \"label\": \"x\"}\nnot json\n");
        let e = err(&p, &train());
        assert!(e.starts_with("d.jsonl:1: invalid UTF-8 at column 14"), "{e}");
        assert!(e.contains("--encoding latin1"), "{e}");
        let o = ReadOptions { encoding: Encoding::Latin1, skip_bad_rows: true, ..train() };
        let d = read_dataset(&p, &o).unwrap();
        assert_eq!(d.examples[0].text, "café");
        assert_eq!(d.skipped.count, 1);
        assert_eq!(d.skipped.first[0].0, 2);
        assert!(d.skipped.first[0].1.starts_with("invalid JSON at column "));
    }
}
