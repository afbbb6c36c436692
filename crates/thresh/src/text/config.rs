//! Tokenizer settings: which kind of tokenizer to build and how it treats text.
//!
//! [`TokenizerConfig`] is serialised into model files and run configurations, so every field
//! has a default and a missing field reads as that default.

use std::fmt;
use std::str::FromStr;

use super::TextError;

/// The kind of tokenizer to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerKind {
    /// Whole words and single punctuation marks, with CJK characters and bigrams; a vocabulary
    /// of the most frequent tokens.
    Word,
    /// WordPiece subwords (`##` marks a piece that continues a word), as used by BERT.
    WordPiece,
    /// Byte-pair-encoding subwords (`</w>` marks a piece that ends a word).
    Bpe,
}

impl TokenizerKind {
    /// The lower-case name, as accepted by [`FromStr`]: `word`, `wordpiece` or `bpe`.
    pub fn name(self) -> &'static str {
        match self {
            TokenizerKind::Word => "word",
            TokenizerKind::WordPiece => "wordpiece",
            TokenizerKind::Bpe => "bpe",
        }
    }
}

impl fmt::Display for TokenizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TokenizerKind {
    type Err = TextError;

    /// Parses `word`, `wordpiece` or `bpe` (ignoring case and surrounding spaces).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "word" => Ok(TokenizerKind::Word),
            "wordpiece" => Ok(TokenizerKind::WordPiece),
            "bpe" => Ok(TokenizerKind::Bpe),
            _ => Err(TextError::UnknownKind(s.to_string())),
        }
    }
}

/// The least count when none is set: 2, so a word met once in training becomes `[UNK]` and
/// the model learns what to make of `[UNK]`, which unseen words at prediction time map to.
pub const DEFAULT_MIN_COUNT: usize = 2;

/// How to build a tokenizer. Fields other than `kind`, `lowercase`, `min_count` and
/// `subword_vocab` apply to the word tokenizer only.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TokenizerConfig {
    /// The kind of tokenizer. Default [`TokenizerKind::Word`].
    pub kind: TokenizerKind,
    /// Lower-case text before splitting (Unicode-aware). Default false: capitals carry
    /// meaning (names, places, sentence starts) that small training sets need. For subword
    /// kinds the BERT normaliser also strips accents when lower-casing, as uncased BERT
    /// models do.
    pub lowercase: bool,
    /// Drop common English function words (a built-in list). Default false.
    pub remove_stopwords: bool,
    /// Replace every number (digits, optionally with inner `.` or `,`) by `<num>`.
    /// Default false.
    pub normalize_numbers: bool,
    /// Besides each CJK character, emit each pair of adjacent CJK characters. Default true.
    pub cjk_bigrams: bool,
    /// Besides each word, emit the word n-grams up to this length that end at it (1: words
    /// only). Default 2, which gives small-data models the local word order that fastText's
    /// bigrams give it.
    pub word_ngrams: usize,
    /// Word n-grams seen fewer times than this (or than `min_count`) are left out of the
    /// vocabulary: an n-gram met once teaches a model little but to memorise. Default 2.
    pub ngram_min_count: usize,
    /// Tokens (word kind) or merges (subword kinds) seen fewer times than this are left out of
    /// the vocabulary. Unset, [`DEFAULT_MIN_COUNT`] applies (training sets it per model).
    pub min_count: Option<usize>,
    /// Largest word vocabulary, special tokens included. Default 50 000.
    pub max_vocab: usize,
    /// Most word n-grams kept, apart from `max_vocab` (the bag model's `--buckets`); unset,
    /// n-grams and words share `max_vocab`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ngrams: Option<usize>,
    /// Vocabulary size of WordPiece and BPE training, special tokens included. Default 8 000.
    pub subword_vocab: usize,
    /// Keep the dots of abbreviations in the word (`U.S.`, `e.g.`, the initial `F.`) instead
    /// of splitting them off. Unset it is off (as in tokenizers saved before it existed);
    /// training turns it on for the bag model, where it helps (TREC-6: 0.913 vs 0.909 mean
    /// test accuracy over 7 seeds), and leaves the Transformer as it was (0.891 vs 0.893 over
    /// 9 seeds, within noise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abbreviations: Option<bool>,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        TokenizerConfig {
            kind: TokenizerKind::Word,
            lowercase: false,
            remove_stopwords: false,
            normalize_numbers: false,
            cjk_bigrams: true,
            word_ngrams: 2,
            ngram_min_count: 2,
            min_count: None,
            max_vocab: 50_000,
            max_ngrams: None,
            subword_vocab: 8_000,
            abbreviations: None,
        }
    }
}

impl TokenizerConfig {
    /// The least count in effect: the one set, or [`DEFAULT_MIN_COUNT`].
    pub fn min_count(&self) -> usize {
        self.min_count.unwrap_or(DEFAULT_MIN_COUNT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_parses_and_displays_the_same_names() {
        for kind in [TokenizerKind::Word, TokenizerKind::WordPiece, TokenizerKind::Bpe] {
            assert_eq!(kind.to_string().parse::<TokenizerKind>().unwrap(), kind);
        }
        assert_eq!(" WordPiece ".parse::<TokenizerKind>().unwrap(), TokenizerKind::WordPiece);
        let err = "unigram".parse::<TokenizerKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown tokenizer kind `unigram`: expected word, wordpiece or bpe"
        );
    }

    #[test]
    fn config_serialises_with_lowercase_kind_and_fills_defaults() {
        let json = serde_json::to_string(&TokenizerConfig::default()).unwrap();
        assert!(json.contains("\"kind\":\"word\""), "{json}");
        let partial: TokenizerConfig =
            serde_json::from_str(r#"{"kind": "bpe", "lowercase": false}"#).unwrap();
        assert_eq!(partial.kind, TokenizerKind::Bpe);
        assert!(!partial.lowercase);
        assert_eq!(partial.subword_vocab, 8_000);
        assert_eq!(partial.max_vocab, 50_000);
        assert!(partial.cjk_bigrams);
    }
}
