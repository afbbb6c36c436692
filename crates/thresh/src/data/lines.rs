//! Plain texts to predict on, one per line, from a file or standard input.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::dataset::read_file;
use super::encoding::{strip_bom, Encoding, LATIN1_HINT};
use super::error::DataError;

/// The name standard input goes by in messages.
pub const STDIN_NAME: &str = "<stdin>";

/// Texts to predict on, one per line, from a file or stdin (None): blank lines are kept as empty
/// texts so output lines match input lines; invalid UTF-8 is an error naming the line (or decoded
/// as Latin-1 with Encoding::Latin1); a trailing "\r" is stripped.
///
/// A final line end does not start another (empty) text, and a leading byte-order mark is
/// ignored.
pub fn read_lines(path: Option<&Path>, encoding: Encoding) -> Result<Vec<String>, DataError> {
    let (name, bytes) = match path {
        Some(path) => (path.to_path_buf(), read_file(path)?),
        None => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|source| DataError::Io { path: PathBuf::from(STDIN_NAME), source })?;
            (PathBuf::from(STDIN_NAME), bytes)
        }
    };
    split_lines(&name, &bytes, encoding)
}

/// Splits `bytes`, the contents of `name`, into decoded lines as [`read_lines`] does.
pub fn split_lines(
    name: &Path,
    bytes: &[u8],
    encoding: Encoding,
) -> Result<Vec<String>, DataError> {
    let bytes = strip_bom(bytes);
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            encoding.decode(line).map(|s| s.into_owned()).map_err(|e| DataError::BadRow {
                path: name.to_path_buf(),
                line: i + 1,
                reason: format!("invalid UTF-8 at column {} {LATIN1_HINT}", e.valid_up_to() + 1),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_blank_lines_and_strips_cr() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.txt");
        std::fs::write(&p, b"\xEF\xBB\xBFfirst\r\n\n  \nlast").unwrap();
        let lines = read_lines(Some(&p), Encoding::Utf8).unwrap();
        assert_eq!(lines, vec!["first", "", "  ", "last"]);
        std::fs::write(&p, b"a\nb\n").unwrap();
        assert_eq!(read_lines(Some(&p), Encoding::Utf8).unwrap(), vec!["a", "b"]);
        std::fs::write(&p, b"a\n\n").unwrap();
        assert_eq!(read_lines(Some(&p), Encoding::Utf8).unwrap(), vec!["a", ""]);
        std::fs::write(&p, b"").unwrap();
        assert!(read_lines(Some(&p), Encoding::Utf8).unwrap().is_empty());
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let name = Path::new("in.txt");
        let err = split_lines(name, b"ok\ncaf\xe9\n", Encoding::Utf8).unwrap_err().to_string();
        assert!(err.starts_with("in.txt:2: invalid UTF-8 at column 4"), "{err}");
        assert!(err.contains("--encoding latin1"), "{err}");
        let lines = split_lines(name, b"ok\ncaf\xe9\n", Encoding::Latin1).unwrap();
        assert_eq!(lines, vec!["ok", "café"]);
    }

    #[test]
    fn missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("absent.txt");
        let err = read_lines(Some(&p), Encoding::Utf8).unwrap_err();
        assert!(matches!(err, DataError::NotFound { .. }));
        assert!(err.to_string().contains("absent.txt: file not found"));
    }
}
