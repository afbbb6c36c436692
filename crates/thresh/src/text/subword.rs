//! Subword tokenizers in Hugging Face's format: training WordPiece and BPE models, reading
//! `tokenizer.json` and BERT `vocab.txt` files, writing `tokenizer.json`.
//!
//! A trained tokenizer is a `tokenizers::Tokenizer` with
//!
//! - the BERT normaliser (control characters removed, spaces around CJK characters, and,
//!   when lower-casing, accents stripped) and the BERT pre-tokeniser (split on whitespace and
//!   punctuation);
//! - the special tokens `[PAD]` (id 0), `[UNK]` (1), `[CLS]` (2), `[SEP]` (3), `[MASK]` (4);
//! - a WordPiece model (`##` continuation prefix, WordPiece decoder) or a BPE model
//!   (`</w>` end-of-word suffix, BPE decoder), both with `[UNK]` as unknown token;
//! - the BERT post-processor, which frames a text as `[CLS] ... [SEP]`.
//!
//! Training runs through `Tokenizer::train`, so the text goes through exactly the
//! normalisation and pre-tokenisation used when encoding, but the merges are learnt by
//! [`super::merges`], which, unlike the library's own trainers, gives the same vocabulary on
//! every run: training twice on the same texts writes byte-identical `tokenizer.json` files.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use tokenizers::decoders::bpe::BPEDecoder;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::bpe::{Vocab as ModelVocab, BPE};
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{AddedToken, ModelWrapper, NormalizerWrapper, PostProcessor, Tokenizer, Trainer};

use super::merges::{learn, Marking, MergeParams, CONTINUATION, END_OF_WORD};
use super::vocab::{merge_counts, Counts, PAD, UNK};
use super::{TextError, TokenizerConfig, TokenizerKind};

/// The file name of a saved subword tokenizer.
pub(crate) const TOKENIZER_FILE: &str = "tokenizer.json";
/// The classification token BERT puts first.
const CLS: &str = "[CLS]";
/// The separator token BERT puts last.
const SEP: &str = "[SEP]";
/// The masking token of BERT's pre-training.
const MASK: &str = "[MASK]";
/// The special tokens of trained tokenizers, in id order.
const SPECIALS: [&str; 5] = [PAD, UNK, CLS, SEP, MASK];
/// WordPiece gives up on (and emits `[UNK]` for) longer words, as BERT does.
const MAX_WORD_CHARS: usize = 100;

/// A Hugging Face tokenizer and the facts about it the rest of the crate needs.
#[derive(Clone, Debug)]
pub(crate) struct SubwordTokenizer {
    inner: Tokenizer,
    config: TokenizerConfig,
    /// The model type: `wordpiece`, `bpe`, `wordlevel` or `unigram`.
    model: &'static str,
    /// Read with `from_pretrained` rather than trained.
    pretrained: bool,
    pad_id: u32,
    unk_id: Option<u32>,
}

/// Feeds pre-tokenised words to [`learn`] from inside `Tokenizer::train`.
struct MergeTrainer {
    kind: TokenizerKind,
    vocab_size: usize,
    min_frequency: u64,
    words: Counts,
}

fn special_tokens() -> Vec<AddedToken> {
    SPECIALS.iter().map(|s| AddedToken::from(*s, true)).collect()
}

impl Trainer for MergeTrainer {
    type Model = ModelWrapper;

    fn should_show_progress(&self) -> bool {
        false
    }

    fn train(&self, model: &mut ModelWrapper) -> tokenizers::Result<Vec<AddedToken>> {
        let words: Vec<(String, u64)> = self.words.iter().map(|(w, n)| (w.clone(), *n)).collect();
        let marking = match self.kind {
            TokenizerKind::Bpe => Marking::EndOfWord,
            _ => Marking::Continuation,
        };
        let params = MergeParams {
            specials: &SPECIALS,
            marking,
            vocab_size: self.vocab_size,
            min_frequency: self.min_frequency,
        };
        let learned = learn(&words, &params);
        let vocab: ModelVocab = learned.vocab.iter().cloned().zip(0u32..).collect();
        *model = match self.kind {
            TokenizerKind::Bpe => BPE::builder()
                .vocab_and_merges(vocab, learned.merges)
                .unk_token(UNK.to_string())
                .end_of_word_suffix(END_OF_WORD.to_string())
                .build()?
                .into(),
            _ => WordPiece::builder()
                .vocab(vocab)
                .unk_token(UNK.to_string())
                .continuing_subword_prefix(CONTINUATION.to_string())
                .max_input_chars_per_word(MAX_WORD_CHARS)
                .build()?
                .into(),
        };
        Ok(special_tokens())
    }

    fn feed<I, S, F>(&mut self, iterator: I, process: F) -> tokenizers::Result<()>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
        F: Fn(&str) -> tokenizers::Result<Vec<String>> + Sync,
    {
        let counts = iterator
            .par_bridge()
            .map(|text| process(text.as_ref()))
            .try_fold(Counts::default, |mut counts, words| -> tokenizers::Result<Counts> {
                for word in words? {
                    *counts.entry(word).or_insert(0) += 1;
                }
                Ok(counts)
            })
            .try_reduce(Counts::default, |a, b| Ok(merge_counts(a, b)))?;
        self.words = merge_counts(std::mem::take(&mut self.words), counts);
        Ok(())
    }
}

/// A tokenizer with the BERT normaliser and pre-tokeniser around `model`.
fn bert_pipeline(model: impl Into<ModelWrapper>, lowercase: bool) -> Tokenizer {
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)));
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    tokenizer
}

/// Adds the BERT post-processor when the vocabulary has `[CLS]` and `[SEP]`.
fn add_bert_framing(tokenizer: &mut Tokenizer) {
    if let (Some(cls), Some(sep)) = (tokenizer.token_to_id(CLS), tokenizer.token_to_id(SEP)) {
        tokenizer
            .with_post_processor(Some(BertProcessing::new((SEP.into(), sep), (CLS.into(), cls))));
    }
}

/// Whether `normalizer` lower-cases.
fn lowercases(normalizer: &NormalizerWrapper) -> bool {
    match normalizer {
        NormalizerWrapper::BertNormalizer(n) => n.lowercase,
        NormalizerWrapper::Lowercase(_) => true,
        NormalizerWrapper::Sequence(s) => s.as_ref().iter().any(lowercases),
        _ => false,
    }
}

impl SubwordTokenizer {
    /// Trains a WordPiece or BPE tokenizer on `texts` (see the module documentation).
    pub(crate) fn train(config: &TokenizerConfig, texts: &[&str]) -> Result<Self, TextError> {
        if config.subword_vocab <= SPECIALS.len() {
            return Err(TextError::InvalidConfig(format!(
                "subword_vocab must be more than {} (room for the special tokens), got {}",
                SPECIALS.len(),
                config.subword_vocab
            )));
        }
        let start = Instant::now();
        let kind = config.kind;
        let mut tokenizer = bert_pipeline(WordPiece::default(), config.lowercase);
        let mut trainer = MergeTrainer {
            kind,
            vocab_size: config.subword_vocab,
            min_frequency: u64::try_from(config.min_count()).unwrap_or(u64::MAX),
            words: Counts::default(),
        };
        tokenizer
            .train(&mut trainer, texts.iter().copied())
            .map_err(|e| TextError::Training { kind: kind.to_string(), reason: e.to_string() })?;
        if trainer.words.is_empty() {
            return Err(TextError::EmptyCorpus(texts.len()));
        }
        match kind {
            TokenizerKind::Bpe => {
                tokenizer.with_decoder(Some(BPEDecoder::new(END_OF_WORD.to_string())));
            }
            _ => {
                tokenizer.with_decoder(Some(WordPieceDecoder::new(CONTINUATION.to_string(), true)));
            }
        }
        add_bert_framing(&mut tokenizer);
        let trained = SubwordTokenizer::wrap(tokenizer, false);
        tracing::debug!(
            kind = %kind,
            texts = texts.len(),
            distinct_words = trainer.words.len(),
            vocab_size = trained.vocab_size(),
            seconds = start.elapsed().as_secs_f64(),
            "trained subword tokenizer"
        );
        Ok(SubwordTokenizer { config: TokenizerConfig { kind, ..config.clone() }, ..trained })
    }

    /// Reads the contents of a Hugging Face `tokenizer.json`; `path` names the file in errors.
    /// Padding and truncation are switched off.
    pub(crate) fn from_json(
        bytes: &[u8],
        path: &Path,
        pretrained: bool,
    ) -> Result<Self, TextError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| TextError::invalid(path, format!("expected UTF-8 JSON: {e}")))?;
        let mut tokenizer: Tokenizer =
            text.parse().map_err(|e: tokenizers::Error| TextError::invalid(path, e.to_string()))?;
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| TextError::invalid(path, e.to_string()))?;
        if tokenizer.get_vocab_size(true) == 0 {
            return Err(TextError::invalid(path, "expected a non-empty vocabulary"));
        }
        Ok(SubwordTokenizer::wrap(tokenizer, pretrained))
    }

    /// Reads a BERT `vocab.txt` (one token per line, the line number is the id) into an
    /// uncased BERT WordPiece tokenizer; `path` names the file in errors.
    pub(crate) fn from_vocab_txt(bytes: &[u8], path: &Path) -> Result<Self, TextError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| TextError::invalid(path, format!("expected UTF-8 text: {e}")))?;
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let mut lines: Vec<&str> = text.lines().collect();
        while lines.last().is_some_and(|l| l.trim_end().is_empty()) {
            lines.pop();
        }
        let mut vocab = ModelVocab::default();
        let mut seen = HashMap::new();
        for (line, id) in lines.into_iter().zip(0u32..) {
            let token = line.trim_end();
            if token.is_empty() {
                return Err(TextError::invalid(
                    path,
                    format!("expected one token per line, found an empty line {}", id + 1),
                ));
            }
            if let Some(first) = seen.insert(token.to_string(), id + 1) {
                return Err(TextError::invalid(
                    path,
                    format!(
                        "expected distinct tokens, found {token:?} on lines {first} and {}",
                        id + 1
                    ),
                ));
            }
            vocab.insert(token.to_string(), id);
        }
        if vocab.is_empty() {
            return Err(TextError::invalid(path, "expected one token per line, found none"));
        }
        if !vocab.contains_key(UNK) {
            return Err(TextError::invalid(path, format!("expected a {UNK} token")));
        }
        let model = WordPiece::builder()
            .vocab(vocab)
            .unk_token(UNK.to_string())
            .continuing_subword_prefix(CONTINUATION.to_string())
            .max_input_chars_per_word(MAX_WORD_CHARS)
            .build()
            .map_err(|e| TextError::invalid(path, e.to_string()))?;
        let mut tokenizer = bert_pipeline(model, true);
        tokenizer.with_decoder(Some(WordPieceDecoder::new(CONTINUATION.to_string(), true)));
        let present: Vec<AddedToken> = SPECIALS
            .iter()
            .filter(|s| tokenizer.token_to_id(s).is_some())
            .map(|s| AddedToken::from(*s, true))
            .collect();
        tokenizer.add_special_tokens(&present);
        add_bert_framing(&mut tokenizer);
        Ok(SubwordTokenizer::wrap(tokenizer, true))
    }

    /// Collects what the crate needs to know about `tokenizer`.
    fn wrap(tokenizer: Tokenizer, pretrained: bool) -> Self {
        let (model, kind, unk_token) = match tokenizer.get_model() {
            ModelWrapper::WordPiece(m) => {
                ("wordpiece", TokenizerKind::WordPiece, Some(m.unk_token.clone()))
            }
            ModelWrapper::BPE(m) => ("bpe", TokenizerKind::Bpe, m.unk_token.clone()),
            ModelWrapper::WordLevel(m) => {
                ("wordlevel", TokenizerKind::WordPiece, Some(m.unk_token.clone()))
            }
            ModelWrapper::Unigram(_) => ("unigram", TokenizerKind::WordPiece, None),
        };
        let find = |names: &[&str]| names.iter().find_map(|n| tokenizer.token_to_id(n));
        let unk_id = unk_token.and_then(|t| tokenizer.token_to_id(&t)).or_else(|| {
            if model == "unigram" {
                find(&["<unk>", UNK, "<UNK>"])
            } else {
                None
            }
        });
        let pad_id = find(&[PAD, "<pad>"]).unwrap_or(0);
        let config = TokenizerConfig {
            kind,
            lowercase: tokenizer.get_normalizer().is_some_and(lowercases),
            subword_vocab: tokenizer.get_vocab_size(true),
            ..TokenizerConfig::default()
        };
        SubwordTokenizer { inner: tokenizer, config, model, pretrained, pad_id, unk_id }
    }

    /// The contents of `tokenizer.json`, pretty-printed as Hugging Face writes it.
    pub(crate) fn to_bytes(&self, path: &Path) -> Result<Vec<u8>, TextError> {
        self.inner
            .to_string(true)
            .map(String::into_bytes)
            .map_err(|e| TextError::invalid(path, format!("cannot serialise: {e}")))
    }

    /// The settings: as trained, or as far as they can be read from a file (kind, lower-casing
    /// and vocabulary size; the rest at their defaults).
    pub(crate) fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// A short description, e.g. `wordpiece, 8000 tokens` or `pretrained wordpiece, 30522
    /// tokens`.
    pub(crate) fn describe(&self) -> String {
        let origin = if self.pretrained { "pretrained " } else { "" };
        format!("{origin}{}, {} tokens", self.model, self.vocab_size())
    }

    /// The ids of `text`, framed by the special tokens when `special` is set. A text with no
    /// tokens gives an empty vector either way.
    pub(crate) fn encode(&self, text: &str, special: bool) -> Vec<u32> {
        match self.inner.encode(text, special) {
            Ok(encoding) => {
                let framing = match self.inner.get_post_processor() {
                    Some(p) if special => p.added_tokens(false),
                    _ => 0,
                };
                if encoding.len() <= framing {
                    Vec::new()
                } else {
                    encoding.get_ids().to_vec()
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "text could not be encoded");
                Vec::new()
            }
        }
    }

    /// The token strings of `text`, without special tokens.
    pub(crate) fn tokens(&self, text: &str) -> Vec<String> {
        self.inner.encode(text, false).map(|e| e.get_tokens().to_vec()).unwrap_or_default()
    }

    /// The number of tokens, special tokens included.
    pub(crate) fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The padding id: that of `[PAD]` or `<pad>`, else 0.
    pub(crate) fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The id unknown text maps to, if the model has one.
    pub(crate) fn unk_id(&self) -> Option<u32> {
        self.unk_id
    }

    /// The token with id `id`.
    pub(crate) fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The id of `token`.
    pub(crate) fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{chinese, english, refs};
    use super::*;

    /// Lower-cased words without n-grams: the settings these tests were written for.
    fn lowercased_words() -> TokenizerConfig {
        TokenizerConfig { lowercase: true, word_ngrams: 1, ..TokenizerConfig::default() }
    }

    fn config(kind: TokenizerKind, subword_vocab: usize) -> TokenizerConfig {
        TokenizerConfig { kind, subword_vocab, ..lowercased_words() }
    }

    fn bert_vocab() -> String {
        let tokens = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "play", "##ing", "##s",
            "un", "##believ", "##able", "!", ".", "a",
        ];
        tokens.join("\n") + "\n"
    }

    #[test]
    fn wordpiece_training_specials_pieces_and_framing() {
        let texts = english(400);
        // A vocabulary too small for the corpus is filled exactly.
        let small =
            SubwordTokenizer::train(&config(TokenizerKind::WordPiece, 80), &refs(&texts)).unwrap();
        assert_eq!(small.vocab_size(), 80);
        assert_eq!(small.describe(), "wordpiece, 80 tokens");
        // A large one stops when every word is a single token.
        let t = SubwordTokenizer::train(&config(TokenizerKind::WordPiece, 2000), &refs(&texts))
            .unwrap();
        assert!(t.vocab_size() < 2000);
        for (id, token) in SPECIALS.iter().enumerate() {
            assert_eq!(t.token_to_id(token), Some(id as u32), "{token}");
        }
        assert_eq!((t.pad_id(), t.unk_id()), (0, Some(1)));
        // Frequent words are whole; an unseen word is built from pieces.
        assert_eq!(t.tokens("The film"), ["the", "film"]);
        let pieces = t.tokens("filmable");
        assert!(pieces.len() > 1 && pieces[1..].iter().all(|p| p.starts_with("##")), "{pieces:?}");
        // Lower-casing and accent stripping come from the BERT normaliser.
        assert_eq!(t.tokens("THE FÍLM"), ["the", "film"]);
        let plain = t.encode("the film", false);
        let framed = t.encode("the film", true);
        assert_eq!(framed, [vec![2], plain.clone(), vec![3]].concat());
        // A character never seen in training is unknown.
        assert_eq!(t.encode("the ☃", false), [plain[0], 1]);
        for empty in ["", "   ", "\t\n"] {
            assert!(t.encode(empty, false).is_empty());
            assert!(t.encode(empty, true).is_empty());
            assert!(t.tokens(empty).is_empty());
        }
    }

    #[test]
    fn bpe_training_marks_word_ends() {
        let texts = english(400);
        let small =
            SubwordTokenizer::train(&config(TokenizerKind::Bpe, 90), &refs(&texts)).unwrap();
        assert_eq!(small.vocab_size(), 90);
        assert_eq!(small.describe(), "bpe, 90 tokens");
        let t = SubwordTokenizer::train(&config(TokenizerKind::Bpe, 2000), &refs(&texts)).unwrap();
        assert!(t.vocab_size() < 2000);
        assert_eq!(t.config().kind, TokenizerKind::Bpe);
        assert_eq!(t.tokens("the film"), ["the</w>", "film</w>"]);
        let pieces = t.tokens("filmable");
        assert!(pieces.len() > 1 && pieces.last().unwrap().ends_with("</w>"), "{pieces:?}");
        assert_eq!(t.encode("the", true).len(), 3);
        assert_eq!(t.encode("☃", false), [1]);
    }

    #[test]
    fn training_is_deterministic_and_independent_of_text_order() {
        let texts = english(600);
        for kind in [TokenizerKind::WordPiece, TokenizerKind::Bpe] {
            let c = config(kind, 400);
            let path = Path::new("tokenizer.json");
            let a = SubwordTokenizer::train(&c, &refs(&texts)).unwrap().to_bytes(path).unwrap();
            let b = SubwordTokenizer::train(&c, &refs(&texts)).unwrap().to_bytes(path).unwrap();
            assert!(a == b, "{kind}: two trainings differ");
            let mut reversed = refs(&texts);
            reversed.reverse();
            let r = SubwordTokenizer::train(&c, &reversed).unwrap().to_bytes(path).unwrap();
            assert!(a == r, "{kind}: text order changed the tokenizer");
        }
    }

    #[test]
    fn chinese_text_is_split_into_characters() {
        let texts = chinese(200);
        let t =
            SubwordTokenizer::train(&config(TokenizerKind::WordPiece, 200), &refs(&texts)).unwrap();
        assert_eq!(t.tokens("酒店很好"), ["酒", "店", "很", "好"]);
        assert_eq!(t.encode("酒店很好", false).iter().filter(|&&id| id == 1).count(), 0);
    }

    #[test]
    fn training_errors() {
        let err =
            SubwordTokenizer::train(&config(TokenizerKind::WordPiece, 5), &["a b"]).unwrap_err();
        assert!(err.to_string().contains("subword_vocab must be more than 5"), "{err}");
        let err =
            SubwordTokenizer::train(&config(TokenizerKind::Bpe, 100), &["", " "]).unwrap_err();
        assert!(matches!(err, TextError::EmptyCorpus(2)), "{err}");
    }

    #[test]
    fn json_round_trip_keeps_ids_and_bytes() {
        let texts = english(300);
        let path = Path::new("model/tokenizer.json");
        for kind in [TokenizerKind::WordPiece, TokenizerKind::Bpe] {
            let t = SubwordTokenizer::train(&config(kind, 200), &refs(&texts)).unwrap();
            let bytes = t.to_bytes(path).unwrap();
            let back = SubwordTokenizer::from_json(&bytes, path, false).unwrap();
            assert_eq!(back.to_bytes(path).unwrap(), bytes);
            assert_eq!(back.config().kind, kind);
            assert!(back.config().lowercase);
            assert_eq!(back.config().subword_vocab, 200);
            for text in texts.iter().take(50) {
                assert_eq!(back.encode(text, true), t.encode(text, true));
            }
            let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(json["post_processor"]["type"], "BertProcessing");
            assert_eq!(json["padding"], serde_json::Value::Null);
        }
    }

    #[test]
    fn corrupt_json_is_an_error_naming_the_file() {
        let path = Path::new("model/tokenizer.json");
        let err = SubwordTokenizer::from_json(b"garbage", path, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "model/tokenizer.json: not a valid tokenizer file: expected value at line 1 column 1"
        );
        let texts = english(100);
        let t =
            SubwordTokenizer::train(&config(TokenizerKind::WordPiece, 100), &refs(&texts)).unwrap();
        let bytes = t.to_bytes(path).unwrap();
        let err = SubwordTokenizer::from_json(&bytes[..bytes.len() / 2], path, true).unwrap_err();
        assert!(err.to_string().starts_with("model/tokenizer.json: not a valid tokenizer file: "));
        let err = SubwordTokenizer::from_json(b"{}", path, true).unwrap_err();
        assert!(err.to_string().starts_with("model/tokenizer.json: "), "{err}");
        let err = SubwordTokenizer::from_json(&[0xff, 0xfe], path, true).unwrap_err();
        assert!(err.to_string().contains("expected UTF-8"), "{err}");
    }

    #[test]
    fn padding_and_truncation_in_a_file_are_switched_off() {
        let texts = english(100);
        let path = Path::new("tokenizer.json");
        let t =
            SubwordTokenizer::train(&config(TokenizerKind::WordPiece, 100), &refs(&texts)).unwrap();
        let mut json: serde_json::Value =
            serde_json::from_slice(&t.to_bytes(path).unwrap()).unwrap();
        json["truncation"] = serde_json::json!({
            "direction": "Right", "max_length": 2, "strategy": "LongestFirst", "stride": 0
        });
        json["padding"] = serde_json::json!({
            "strategy": {"Fixed": 64}, "direction": "Right", "pad_to_multiple_of": null,
            "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"
        });
        let bytes = serde_json::to_vec(&json).unwrap();
        let back = SubwordTokenizer::from_json(&bytes, path, true).unwrap();
        let text = "the film was boring";
        assert!(t.encode(text, false).len() > 2);
        assert_eq!(back.encode(text, false), t.encode(text, false));
        assert_eq!(back.encode(text, true), t.encode(text, true));
        assert_eq!(back.describe(), "pretrained wordpiece, 100 tokens");
    }

    #[test]
    fn bert_vocab_txt() {
        let path = Path::new("bert/vocab.txt");
        let t = SubwordTokenizer::from_vocab_txt(bert_vocab().as_bytes(), path).unwrap();
        assert_eq!(t.vocab_size(), 16);
        assert_eq!((t.pad_id(), t.unk_id()), (0, Some(1)));
        assert_eq!(t.describe(), "pretrained wordpiece, 16 tokens");
        assert_eq!(t.tokens("The cats playing!"), ["the", "cat", "##s", "play", "##ing", "!"]);
        assert_eq!(t.tokens("UNBELIEVABLE zebra"), ["un", "##believ", "##able", "[UNK]"]);
        assert_eq!(t.encode("the cats", true), [2, 5, 6, 9, 3]);
        assert_eq!(t.encode("the cats", false), [5, 6, 9]);
        // Special tokens written in the text are kept whole.
        assert_eq!(t.encode("a [MASK] cat", false), [15, 4, 6]);
        assert_eq!(t.encode("[MASK]", false), [4]);
        assert_eq!(t.encode("[MASK]", true), [2, 4, 3]);
        assert_eq!(t.id_to_token(8).as_deref(), Some("##ing"));
        assert!(t.config().lowercase);
        // Windows line ends are accepted.
        let crlf = format!("\u{FEFF}{}\n\n", bert_vocab().replace('\n', "\r\n"));
        let t2 = SubwordTokenizer::from_vocab_txt(crlf.as_bytes(), path).unwrap();
        assert_eq!(t2.encode("the cats", true), [2, 5, 6, 9, 3]);
    }

    #[test]
    fn bad_vocab_txt_files() {
        let path = Path::new("bert/vocab.txt");
        let cases = [
            ("", "found none"),
            ("[PAD]\nthe\n", "expected a [UNK] token"),
            ("[UNK]\nthe\nthe\n", "\"the\" on lines 2 and 3"),
            ("[UNK]\n\nthe\n", "empty line 2"),
        ];
        for (text, expected) in cases {
            let err = SubwordTokenizer::from_vocab_txt(text.as_bytes(), path).unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with("bert/vocab.txt: not a valid tokenizer file: "),
                "{message}"
            );
            assert!(message.contains(expected), "{message}");
        }
        // Without [CLS] and [SEP] there is no framing.
        let t = SubwordTokenizer::from_vocab_txt(b"[UNK]\nthe\n", path).unwrap();
        assert_eq!(t.encode("the", true), [1]);
        assert_eq!(t.pad_id(), 0);
    }
}
