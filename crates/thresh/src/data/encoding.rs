//! Text encodings of input files and decoding bytes into strings.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use super::error::DataError;

/// The hint appended to every invalid UTF-8 message.
pub(crate) const LATIN1_HINT: &str = "(pass --encoding latin1 if the file is Latin-1)";

/// The character encoding of an input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Encoding {
    /// UTF-8; invalid byte sequences are errors.
    #[default]
    Utf8,
    /// ISO-8859-1: every byte is the character with the same code point, so decoding never
    /// fails.
    Latin1,
}

impl Encoding {
    /// The name used on the command line: `utf8` or `latin1`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf8",
            Encoding::Latin1 => "latin1",
        }
    }

    /// Decodes `bytes`. UTF-8 input is borrowed when valid; Latin-1 input is always decoded.
    pub fn decode(self, bytes: &[u8]) -> Result<Cow<'_, str>, std::str::Utf8Error> {
        match self {
            Encoding::Utf8 => std::str::from_utf8(bytes).map(Cow::Borrowed),
            Encoding::Latin1 => {
                if bytes.is_ascii() {
                    // ASCII is the same in both encodings, and is valid UTF-8.
                    Ok(std::str::from_utf8(bytes).map(Cow::Borrowed).unwrap_or_default())
                } else {
                    Ok(Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()))
                }
            }
        }
    }

    /// Decodes `bytes`, replacing invalid UTF-8 with U+FFFD; for headers and messages, where a
    /// bad byte must not stop the reader.
    pub fn decode_lossy(self, bytes: &[u8]) -> String {
        match self.decode(bytes) {
            Ok(s) => s.into_owned(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

/// `bytes` without a leading UTF-8 byte-order mark.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = DataError;

    /// Parses `utf8`/`utf-8` or `latin1`/`latin-1`/`iso-8859-1`, ignoring case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Ok(Encoding::Utf8),
            "latin1" | "latin-1" | "iso-8859-1" => Ok(Encoding::Latin1),
            _ => Err(DataError::UnknownEncoding(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        for s in ["utf8", "UTF-8", "Utf8"] {
            assert_eq!(s.parse::<Encoding>().unwrap(), Encoding::Utf8);
        }
        for s in ["latin1", "LATIN-1", "iso-8859-1", "ISO-8859-1"] {
            assert_eq!(s.parse::<Encoding>().unwrap(), Encoding::Latin1);
        }
        let err = "cp1252".parse::<Encoding>().unwrap_err().to_string();
        assert!(err.contains("cp1252") && err.contains("latin1"), "{err}");
        assert_eq!(Encoding::Latin1.to_string(), "latin1");
        assert_eq!(Encoding::default(), Encoding::Utf8);
    }

    #[test]
    fn decodes_latin1_and_rejects_bad_utf8() {
        assert_eq!(Encoding::Latin1.decode(b"caf\xe9").unwrap(), "café");
        assert_eq!(Encoding::Latin1.decode(b"plain").unwrap(), "plain");
        assert!(Encoding::Utf8.decode(b"caf\xe9").is_err());
        assert_eq!(Encoding::Utf8.decode("café".as_bytes()).unwrap(), "café");
        assert_eq!(Encoding::Utf8.decode_lossy(b"caf\xe9"), "caf\u{FFFD}");
    }

    #[test]
    fn strips_bom_only_at_start() {
        assert_eq!(strip_bom(b"\xEF\xBB\xBFabc"), b"abc");
        assert_eq!(strip_bom(b"abc\xEF\xBB\xBF"), b"abc\xEF\xBB\xBF");
        assert_eq!(strip_bom(b""), b"");
    }
}
