//! The error type of tokenisation: training, saving and loading tokenizers.
//!
//! Every message is lower-case, names the file or setting at fault and says what was expected,
//! e.g. `model/tokenizer.json: not a valid tokenizer file: expected value at line 1 column 1`.

use std::path::PathBuf;

/// Errors of building, saving and loading tokenizers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// A tokenizer file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file was read but does not hold a usable tokenizer.
    #[error("{}: not a valid tokenizer file: {reason}", path.display())]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A model directory holds no tokenizer file, or more than one.
    #[error("{}: {reason}", path.display())]
    NoTokenizer {
        /// The directory.
        path: PathBuf,
        /// What was found and what was expected.
        reason: String,
    },
    /// A tokenizer setting has a value that cannot be used.
    #[error("invalid tokenizer config: {0}")]
    InvalidConfig(String),
    /// A tokenizer kind was not one of the known names.
    #[error("unknown tokenizer kind `{0}`: expected word, wordpiece or bpe")]
    UnknownKind(String),
    /// The training texts contain nothing to build a vocabulary from.
    #[error("cannot train a tokenizer: the {0} training texts contain no tokens")]
    EmptyCorpus(usize),
    /// Training a subword model failed inside the `tokenizers` library.
    #[error("training the {kind} tokenizer failed: {reason}")]
    Training {
        /// The tokenizer kind being trained.
        kind: String,
        /// The library's message.
        reason: String,
    },
}

impl TextError {
    /// An [`TextError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TextError::Io { path: path.into(), source }
    }

    /// An [`TextError::InvalidFile`] for `path`.
    pub(crate) fn invalid(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        TextError::InvalidFile { path: path.into(), reason: reason.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_start_lower_case() {
        let e = TextError::invalid("model/tokenizer.json", "expected value at line 1 column 1");
        assert_eq!(
            e.to_string(),
            "model/tokenizer.json: not a valid tokenizer file: expected value at line 1 column 1"
        );
        let e = TextError::io(
            "model/word_tokenizer.json",
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        );
        assert_eq!(e.to_string(), "model/word_tokenizer.json: no such file");
        let e = TextError::UnknownKind("sentencepiece".into());
        assert!(e.to_string().starts_with("unknown tokenizer kind `sentencepiece`"));
    }
}
