//! The word tokenizer: normalisation, splitting, stop words, number folding and a vocabulary
//! of the most frequent tokens; and its file, `word_tokenizer.json`.
//!
//! A text goes through these steps:
//!
//! 1. Unicode NFC composition (so that `é` typed as `e` + accent and `é` typed as one
//!    character give the same token), skipped for ASCII text;
//! 2. lower-casing (`str::to_lowercase`) when configured;
//! 3. splitting by the rules of [`super::split`], with CJK bigrams when configured;
//! 4. removal of stop words and replacement of numbers by `<num>` when configured.
//!
//! Hugging Face's `tokenizer.json` cannot express these rules, so the word tokenizer has a
//! file format of its own, pretty-printed JSON:
//!
//! ```json
//! {
//!   "format": "thresh-word-tokenizer",
//!   "version": 1,
//!   "config": { "kind": "word", "lowercase": true, "...": "..." },
//!   "vocab": ["[PAD]", "[UNK]", "the", ","]
//! }
//! ```
//!
//! `config` is a [`TokenizerConfig`] and `vocab` lists the token strings in id order.

use std::borrow::Cow;
use std::path::Path;
use std::time::Instant;

use unicode_normalization_alignments::UnicodeNormalization;

use super::cjk::is_cjk;
use super::split::{is_number, split};
use super::stopwords::is_stopword;
use super::vocab::{count_tokens, Vocab, UNK_ID};
use super::{TextError, TokenizerConfig, TokenizerKind};

/// The file name of a saved word tokenizer.
pub(crate) const WORD_FILE: &str = "word_tokenizer.json";
/// The `format` field of a word tokenizer file.
const FORMAT: &str = "thresh-word-tokenizer";
/// The `version` field this code writes and reads.
const VERSION: u32 = 1;
/// The token numbers are replaced by.
pub(crate) const NUM: &str = "<num>";

/// The contents of `word_tokenizer.json`.
#[derive(serde::Serialize, serde::Deserialize)]
struct WordFile {
    format: String,
    version: u32,
    config: TokenizerConfig,
    vocab: Vec<String>,
}

/// A word tokenizer with its vocabulary.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct WordTokenizer {
    config: TokenizerConfig,
    vocab: Vocab,
}

/// Normalises `text` for splitting: NFC composition and, when `lowercase`, lower-casing.
fn normalize(text: &str, lowercase: bool) -> Cow<'_, str> {
    if text.is_ascii() {
        if lowercase && text.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        }
    } else {
        let composed: String = text.nfc().map(|(c, _)| c).collect();
        Cow::Owned(if lowercase { composed.to_lowercase() } else { composed })
    }
}

/// Calls `emit(token, is_ngram)` with each token of `text` under `config`, in order. With
/// `word_ngrams` n > 1, each word token is followed by the n-grams (2..=n words, joined by a
/// space) that end at it; CJK characters take no part in them (they have their own bigrams).
pub(crate) fn word_tokens(config: &TokenizerConfig, text: &str, emit: &mut impl FnMut(&str, bool)) {
    let text = normalize(text, config.lowercase);
    let n = config.word_ngrams.max(1);
    let mut window: Vec<String> = Vec::with_capacity(n);
    let mut gram = String::new();
    let abbreviations = config.abbreviations.unwrap_or(false);
    split(&text, config.cjk_bigrams, abbreviations, &mut |token| {
        if config.remove_stopwords && is_stopword(token) {
            return;
        }
        let token = if config.normalize_numbers && is_number(token) { NUM } else { token };
        emit(token, false);
        if n < 2 {
            return;
        }
        if token.chars().next().is_some_and(is_cjk) {
            window.clear();
            return;
        }
        if window.len() == n {
            window.remove(0);
        }
        window.push(token.to_string());
        for start in (0..window.len().saturating_sub(1)).rev() {
            gram.clear();
            for (i, w) in window[start..].iter().enumerate() {
                if i > 0 {
                    gram.push(' ');
                }
                gram.push_str(w);
            }
            emit(&gram, true);
        }
    });
}

impl WordTokenizer {
    /// Counts the tokens of `texts` and keeps the vocabulary `config` asks for.
    pub(crate) fn train(config: &TokenizerConfig, texts: &[&str]) -> Result<Self, TextError> {
        if config.max_vocab < 2 {
            return Err(TextError::InvalidConfig(format!(
                "max_vocab must be at least 2 (room for [PAD] and [UNK]), got {}",
                config.max_vocab
            )));
        }
        let start = Instant::now();
        let mut counts =
            count_tokens(texts, |text, emit| word_tokens(config, text, &mut |t, _| emit(t)));
        // Only n-grams hold a space: split tokens never do.
        let ngram_min = config.ngram_min_count.max(config.min_count()) as u64;
        counts.retain(|token, n| *n >= ngram_min || !token.contains(' '));
        if counts.is_empty() {
            return Err(TextError::EmptyCorpus(texts.len()));
        }
        let distinct = counts.len();
        let vocab = match config.max_ngrams {
            None => Vocab::build(counts, config.min_count(), config.max_vocab),
            Some(n) => Vocab::build_two(counts, config.min_count(), config.max_vocab, n, |t| {
                t.contains(' ')
            }),
        };
        tracing::debug!(
            texts = texts.len(),
            distinct_tokens = distinct,
            vocab_size = vocab.len(),
            seconds = start.elapsed().as_secs_f64(),
            "built word vocabulary"
        );
        let config = TokenizerConfig { kind: TokenizerKind::Word, ..config.clone() };
        Ok(WordTokenizer { config, vocab })
    }

    /// The settings the tokenizer was built with.
    pub(crate) fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// The vocabulary.
    pub(crate) fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The ids of the tokens of `text`; unknown tokens get the `[UNK]` id.
    pub(crate) fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        // An n-gram the vocabulary lacks is left out rather than mapped to [UNK]: most
        // n-grams of a new text are unseen, and a run of [UNK]s would drown its words.
        word_tokens(&self.config, text, &mut |token, ngram| match self.vocab.id(token) {
            Some(id) => ids.push(id),
            None if !ngram => ids.push(UNK_ID),
            None => {}
        });
        ids
    }

    /// The token strings of `text`, one per id of [`WordTokenizer::encode`]: words whether
    /// known or not, n-grams only when known.
    pub(crate) fn tokens(&self, text: &str) -> Vec<String> {
        let mut tokens = Vec::new();
        word_tokens(&self.config, text, &mut |token, ngram| {
            if !ngram || self.vocab.id(token).is_some() {
                tokens.push(token.to_string());
            }
        });
        tokens
    }

    /// The contents of `word_tokenizer.json`: pretty-printed JSON ending in a newline.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let file = WordFile {
            format: FORMAT.to_string(),
            version: VERSION,
            config: self.config.clone(),
            vocab: self.vocab.tokens().to_vec(),
        };
        // Serialising plain strings, numbers and booleans cannot fail.
        let mut bytes = serde_json::to_vec_pretty(&file).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Reads the contents of a `word_tokenizer.json`; `path` names the file in errors.
    pub(crate) fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, TextError> {
        let file: WordFile =
            serde_json::from_slice(bytes).map_err(|e| TextError::invalid(path, e.to_string()))?;
        if file.format != FORMAT {
            return Err(TextError::invalid(
                path,
                format!("expected format \"{FORMAT}\", found {:?}", file.format),
            ));
        }
        if file.version != VERSION {
            return Err(TextError::invalid(
                path,
                format!("expected version {VERSION}, found {}", file.version),
            ));
        }
        if file.config.kind != TokenizerKind::Word {
            return Err(TextError::invalid(
                path,
                format!("expected kind \"word\", found \"{}\"", file.config.kind),
            ));
        }
        let vocab =
            Vocab::from_tokens(file.vocab).map_err(|reason| TextError::invalid(path, reason))?;
        Ok(WordTokenizer { config: file.config, vocab })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lower-cased words without n-grams, every word kept: the settings these tests were
    /// written for.
    fn lowercased_words() -> TokenizerConfig {
        TokenizerConfig {
            lowercase: true,
            word_ngrams: 1,
            min_count: Some(1),
            ..TokenizerConfig::default()
        }
    }

    fn tokens_with(config: &TokenizerConfig, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        word_tokens(config, text, &mut |t, _| out.push(t.to_string()));
        out
    }

    fn tokens(text: &str) -> Vec<String> {
        tokens_with(&lowercased_words(), text)
    }

    #[test]
    fn lower_cases_unicode_and_composes_accents() {
        assert_eq!(tokens("ÉCOLE Straße ΣΟΦΟΣ"), ["école", "straße", "σοφος"]);
        // Decomposed É (E + combining acute) gives the same token as the composed one.
        assert_eq!(tokens("E\u{301}COLE"), ["école"]);
        let cased = TokenizerConfig { lowercase: false, ..lowercased_words() };
        assert_eq!(tokens_with(&cased, "ÉCOLE iPhone"), ["ÉCOLE", "iPhone"]);
        // Turkish dotted capital I lower-cases to i + combining dot, kept in one word.
        assert_eq!(tokens("İSTANBUL"), ["i\u{307}stanbul"]);
    }

    #[test]
    fn mixed_scripts() {
        assert_eq!(tokens("iPhone很好用"), ["iphone", "很", "很好", "好", "好用", "用"]);
        let no_bigrams = TokenizerConfig { cjk_bigrams: false, ..lowercased_words() };
        assert_eq!(tokens_with(&no_bigrams, "iPhone很好用"), ["iphone", "很", "好", "用"]);
    }

    #[test]
    fn stop_words_and_numbers() {
        let config = TokenizerConfig {
            remove_stopwords: true,
            normalize_numbers: true,
            ..lowercased_words()
        };
        assert_eq!(
            tokens_with(&config, "The film is NOT worth 3.50 dollars, it's 1,000 times worse"),
            ["film", "not", "worth", "<num>", "dollars", ",", "'", "<num>", "times", "worse"]
        );
        assert_eq!(tokens_with(&config, "v2 2nd 42"), ["v2", "2nd", "<num>"]);
        assert_eq!(tokens("the 42"), ["the", "42"]);
        let cased = TokenizerConfig { lowercase: false, ..config };
        assert_eq!(tokens_with(&cased, "The Film"), ["Film"]);
    }

    #[test]
    fn word_ngrams_follow_their_last_word_and_skip_cjk() {
        let config = TokenizerConfig { word_ngrams: 3, ..TokenizerConfig::default() };
        assert_eq!(
            tokens_with(&config, "How many dogs?"),
            [
                "How",
                "many",
                "How many",
                "dogs",
                "many dogs",
                "How many dogs",
                "?",
                "dogs ?",
                "many dogs ?"
            ]
        );
        // CJK characters break the window; they have their own bigrams.
        assert_eq!(tokens_with(&config, "a 好 b"), ["a", "好", "b"]);
        // Unseen n-grams are dropped at encoding, unseen words become [UNK]; n-grams met
        // fewer than ngram_min_count times stay out of the vocabulary.
        let config = TokenizerConfig { word_ngrams: 2, ..TokenizerConfig::default() };
        let t = WordTokenizer::train(&config, &["red fox", "red fox", "blue fox"]).unwrap();
        assert!(t.vocab().id("red fox").is_some() && t.vocab().id("blue fox").is_none());
        assert_eq!(t.tokens("red fox jumps"), ["red", "fox", "red fox", "jumps"]);
        assert_eq!(t.encode("red fox jumps").len(), 4);
        assert_eq!(*t.encode("red fox jumps").last().unwrap(), UNK_ID);
    }

    #[test]
    fn train_encode_and_unknown_tokens() {
        let texts = ["a b c", "a b", "a", "d!"];
        let t = WordTokenizer::train(&lowercased_words(), &texts).unwrap();
        assert_eq!(t.vocab().tokens(), ["[PAD]", "[UNK]", "a", "b", "!", "c", "d"]);
        assert_eq!(t.encode("A b zzz"), [2, 3, 1]);
        assert_eq!(t.tokens("A b zzz"), ["a", "b", "zzz"]);
        assert!(t.encode("   ").is_empty());
        assert!(t.encode("").is_empty());
        let min2 = TokenizerConfig { min_count: Some(2), ..lowercased_words() };
        let t = WordTokenizer::train(&min2, &texts).unwrap();
        assert_eq!(t.vocab().tokens(), ["[PAD]", "[UNK]", "a", "b"]);
        let small = TokenizerConfig { max_vocab: 3, ..lowercased_words() };
        let t = WordTokenizer::train(&small, &texts).unwrap();
        assert_eq!(t.vocab().tokens(), ["[PAD]", "[UNK]", "a"]);
        assert_eq!(t.encode("b a"), [1, 2]);
    }

    #[test]
    fn training_rejects_empty_corpora_and_tiny_vocabularies() {
        let err = WordTokenizer::train(&lowercased_words(), &["", "  "]).unwrap_err();
        assert!(matches!(err, TextError::EmptyCorpus(2)), "{err}");
        let tiny = TokenizerConfig { max_vocab: 1, ..lowercased_words() };
        let err = WordTokenizer::train(&tiny, &["a"]).unwrap_err();
        assert!(err.to_string().contains("max_vocab must be at least 2"), "{err}");
    }

    #[test]
    fn vocabulary_order_is_deterministic() {
        let texts: Vec<String> = (0..3000)
            .map(|i| format!("w{} x{} y{} 中文{}", i % 13, i % 17, i % 5, i % 3))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let a = WordTokenizer::train(&lowercased_words(), &refs).unwrap();
        let b = WordTokenizer::train(&lowercased_words(), &refs).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_bytes(), b.to_bytes());
        let mut reversed = refs.clone();
        reversed.reverse();
        let c = WordTokenizer::train(&lowercased_words(), &reversed).unwrap();
        assert_eq!(a.vocab().tokens(), c.vocab().tokens());
    }

    #[test]
    fn file_round_trip_and_validation() {
        let config = TokenizerConfig { remove_stopwords: true, ..lowercased_words() };
        let t = WordTokenizer::train(&config, &["the cat sat", "a dog"]).unwrap();
        let bytes = t.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"format\": \"thresh-word-tokenizer\""), "{text}");
        assert!(text.contains("\"version\": 1"), "{text}");
        let path = Path::new("model/word_tokenizer.json");
        let back = WordTokenizer::from_bytes(&bytes, path).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.to_bytes(), bytes);

        let err = WordTokenizer::from_bytes(b"", path).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("model/word_tokenizer.json: not a valid tokenizer file:"));
        let err = WordTokenizer::from_bytes(&bytes[..bytes.len() / 2], path).unwrap_err();
        assert!(err.to_string().contains("EOF"), "{err}");
        let other = text.replace("thresh-word-tokenizer", "something-else");
        let err = WordTokenizer::from_bytes(other.as_bytes(), path).unwrap_err();
        assert!(err.to_string().contains("expected format"), "{err}");
        let newer = text.replace("\"version\": 1", "\"version\": 2");
        let err = WordTokenizer::from_bytes(newer.as_bytes(), path).unwrap_err();
        assert!(err.to_string().contains("expected version 1, found 2"), "{err}");
        let bpe = text.replace("\"kind\": \"word\"", "\"kind\": \"bpe\"");
        let err = WordTokenizer::from_bytes(bpe.as_bytes(), path).unwrap_err();
        assert!(err.to_string().contains("expected kind \"word\""), "{err}");
        let no_pad = text.replace("\"[PAD]\"", "\"[XXX]\"");
        let err = WordTokenizer::from_bytes(no_pad.as_bytes(), path).unwrap_err();
        assert!(err.to_string().contains("[PAD]"), "{err}");
    }
}
