//! Tokenisers: turning text into token ids for classifiers.
//!
//! [`TextTokenizer`] is the one type the rest of the crate uses. It is built in one of three
//! ways:
//!
//! - [`TextTokenizer::train`] with [`TokenizerKind::Word`]: whole words and single
//!   punctuation marks, each CJK character plus (optionally) CJK bigrams, optional stop-word
//!   removal and number folding, and a vocabulary of the most frequent tokens. Saved as
//!   `word_tokenizer.json`, a format of this crate (gzip-compressed in compressed models).
//! - [`TextTokenizer::train`] with [`TokenizerKind::WordPiece`] or [`TokenizerKind::Bpe`]:
//!   a subword model in the style of BERT, learnt deterministically. Saved as a Hugging Face
//!   `tokenizer.json`.
//! - [`TextTokenizer::from_pretrained`]: a pretrained model's `tokenizer.json` or BERT
//!   `vocab.txt`.
//!
//! Trained tokenizers give id 0 to `[PAD]` and id 1 to `[UNK]`.
//!
//! Files: `config` (settings), `split` (splitting rules of the word tokenizer), `cjk` (CJK
//! script detection and bigrams), `stopwords`, `vocab` (counting, word vocabulary), `word`
//! (the word tokenizer and its file), `merges` (subword training), `subword` (Hugging Face
//! tokenizers), `tokenizer` (the unified type), `error`.

mod cjk;
mod config;
mod error;
mod merges;
mod split;
mod stopwords;
mod subword;
#[cfg(test)]
mod testdata;
mod tokenizer;
mod vocab;
mod word;

pub use config::{TokenizerConfig, TokenizerKind, DEFAULT_MIN_COUNT};
pub use error::TextError;
pub use tokenizer::TextTokenizer;
