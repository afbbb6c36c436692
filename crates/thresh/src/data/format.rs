//! File formats and their detection from the file name or the first line.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::error::DataError;

/// The layout of a labeled data file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Format {
    /// Tab-separated fields, one row per line, no quoting.
    Tsv,
    /// Comma-separated fields as in RFC 4180 (quoted fields may hold commas and newlines).
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// fastText: `__label__A [__label__B ...] text` per line.
    FastText,
}

impl Format {
    /// The name used on the command line: `tsv`, `csv`, `jsonl` or `fasttext`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Tsv => "tsv",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::FastText => "fasttext",
        }
    }

    /// The format implied by the file extension (case-insensitive): `.tsv`, `.csv`, and
    /// `.jsonl`, `.ndjson` or `.json` for JSONL. `None` for any other extension.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "tsv" => Some(Format::Tsv),
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// The format suggested by the first non-blank line of `bytes`: a line starting with
    /// `__label__` is fastText, one starting with `{` JSONL, one holding a tab TSV and one holding
    /// a comma CSV. `None` when no line is non-blank or the line fits none of these.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        let line = bytes
            .split(|&b| b == b'\n')
            .map(|l| l.trim_ascii_start())
            .find(|l| !l.trim_ascii().is_empty())?;
        if line.starts_with(b"__label__") {
            Some(Format::FastText)
        } else if line.starts_with(b"{") {
            Some(Format::Jsonl)
        } else if line.contains(&b'\t') {
            Some(Format::Tsv)
        } else if line.contains(&b',') {
            Some(Format::Csv)
        } else {
            None
        }
    }

    /// The format of `path` with contents `bytes`: from the extension when it names one, else
    /// sniffed from the contents; [`DataError::UnknownFormat`] when neither tells.
    pub fn detect(path: &Path, bytes: &[u8]) -> Result<Format, DataError> {
        Format::from_extension(path)
            .or_else(|| Format::sniff(bytes))
            .ok_or_else(|| DataError::UnknownFormat { path: path.to_path_buf() })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = DataError;

    /// Parses `tsv`, `csv`, `jsonl` or `fasttext`, ignoring case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tsv" => Ok(Format::Tsv),
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            "fasttext" => Ok(Format::FastText),
            _ => Err(DataError::UnknownFormatName(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in [Format::Tsv, Format::Csv, Format::Jsonl, Format::FastText] {
            assert_eq!(f.to_string().parse::<Format>().unwrap(), f);
        }
        assert_eq!("TSV".parse::<Format>().unwrap(), Format::Tsv);
        let err = "xml".parse::<Format>().unwrap_err().to_string();
        assert!(err.contains("\"xml\"") && err.contains("fasttext"), "{err}");
    }

    #[test]
    fn extension_wins() {
        let d = |p: &str, b: &[u8]| Format::detect(Path::new(p), b).unwrap();
        assert_eq!(d("a.tsv", b"a,b\n"), Format::Tsv);
        assert_eq!(d("a.CSV", b"a\tb\n"), Format::Csv);
        assert_eq!(d("a.jsonl", b"x"), Format::Jsonl);
        assert_eq!(d("a.ndjson", b"x"), Format::Jsonl);
        assert_eq!(d("a.json", b"x"), Format::Jsonl);
    }

    #[test]
    fn sniffs_other_extensions() {
        let d = |p: &str, b: &[u8]| Format::detect(Path::new(p), b).unwrap();
        assert_eq!(d("a.txt", b"__label__x hello, world\tyes\n"), Format::FastText);
        assert_eq!(d("a.ft", b"\n\n  __label__x hi\n"), Format::FastText);
        assert_eq!(d("data", b"{\"text\": \"a\tb, c\"}\n"), Format::Jsonl);
        assert_eq!(d("a.txt", b"text\tlabel\n"), Format::Tsv);
        assert_eq!(d("a.txt", b"text,label\n"), Format::Csv);
        assert_eq!(d("a.dat", b"   \r\n a,b\n"), Format::Csv);
    }

    #[test]
    fn unrecognised_names_the_flag() {
        let err = Format::detect(Path::new("notes.txt"), b"just words\n").unwrap_err().to_string();
        assert!(err.starts_with("notes.txt: could not recognise the format"), "{err}");
        assert!(err.contains("--format"), "{err}");
        assert!(Format::detect(Path::new("x"), b"").is_err());
    }
}
