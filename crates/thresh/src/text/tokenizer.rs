//! [`TextTokenizer`]: one type over the word tokenizer and Hugging Face subword tokenizers,
//! with training, saving into and loading from a model directory.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::subword::{SubwordTokenizer, TOKENIZER_FILE};
use super::vocab::{PAD_ID, UNK_ID};
use super::word::{WordTokenizer, WORD_FILE};
use super::{TextError, TokenizerConfig, TokenizerKind};
use crate::fsutil::write_atomic;

/// The file name of a BERT vocabulary, looked for by [`TextTokenizer::from_pretrained`].
const VOCAB_TXT: &str = "vocab.txt";

/// The word tokenizer's file, gzip-compressed, as compressed model directories keep it.
const WORD_FILE_GZ: &str = "word_tokenizer.json.gz";

/// The names a saved tokenizer may have; a model directory holds exactly one.
const SAVED_NAMES: [&str; 3] = [WORD_FILE, WORD_FILE_GZ, TOKENIZER_FILE];

/// Inflates a gzip file's bytes, naming the file when they are not gzip.
fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>, TextError> {
    crate::fsutil::gunzip(bytes).map_err(|e| TextError::InvalidFile {
        path: path.to_path_buf(),
        reason: format!("not a complete gzip stream: {e}"),
    })
}

/// A tokenizer: turns text into token ids.
///
/// Either a word tokenizer (see [`TokenizerKind::Word`]) or a Hugging Face tokenizer, trained
/// ([`TokenizerKind::WordPiece`], [`TokenizerKind::Bpe`]) or read from a pretrained model's
/// files. All methods that take text accept any string and never fail; a text with no tokens
/// (empty, or only spaces) encodes to an empty vector.
#[derive(Clone, Debug)]
pub struct TextTokenizer {
    inner: Inner,
}

#[derive(Clone, Debug)]
enum Inner {
    Word(WordTokenizer),
    Subword(Box<SubwordTokenizer>),
}

/// Reads `path`, naming it in the error.
fn read(path: &Path) -> Result<Vec<u8>, TextError> {
    std::fs::read(path).map_err(|e| TextError::io(path, e))
}

/// Whether `path` exists, naming it in the error when that cannot be told.
fn exists(path: &Path) -> Result<bool, TextError> {
    path.try_exists().map_err(|e| TextError::io(path, e))
}

/// Whether `bytes` look like JSON (an object) rather than a list of tokens.
fn looks_like_json(bytes: &[u8]) -> bool {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

impl TextTokenizer {
    /// Builds the vocabulary (word) or trains the subword model on `texts`. Deterministic:
    /// the same texts and config give an identical tokenizer and identical saved bytes.
    pub fn train(config: &TokenizerConfig, texts: &[&str]) -> Result<Self, TextError> {
        let inner = match config.kind {
            TokenizerKind::Word => Inner::Word(WordTokenizer::train(config, texts)?),
            TokenizerKind::WordPiece | TokenizerKind::Bpe => {
                Inner::Subword(Box::new(SubwordTokenizer::train(config, texts)?))
            }
        };
        Ok(TextTokenizer { inner })
    }

    /// Any Hugging Face `tokenizer.json` (e.g. a BERT checkpoint's), or a BERT `vocab.txt`
    /// (WordPiece, lower-cased, BERT normaliser and pre-tokeniser, `[CLS]`/`[SEP]`/`[PAD]`/
    /// `[UNK]`). `path` may also be a directory holding one of the two (`tokenizer.json` is
    /// preferred). A `.txt` file, or a file that does not start with `{`, is read as a
    /// vocabulary. Padding and truncation settings in the file are switched off.
    pub fn from_pretrained(path: &Path) -> Result<Self, TextError> {
        let file = if path.is_dir() {
            let json = path.join(TOKENIZER_FILE);
            let vocab = path.join(VOCAB_TXT);
            if exists(&json)? {
                json
            } else if exists(&vocab)? {
                vocab
            } else {
                return Err(TextError::NoTokenizer {
                    path: path.to_path_buf(),
                    reason: format!("no tokenizer found: expected {TOKENIZER_FILE} or {VOCAB_TXT}"),
                });
            }
        } else {
            path.to_path_buf()
        };
        let bytes = read(&file)?;
        let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        let vocab_txt = extension.eq_ignore_ascii_case("txt")
            || (!extension.eq_ignore_ascii_case("json") && !looks_like_json(&bytes));
        let subword = if vocab_txt {
            SubwordTokenizer::from_vocab_txt(&bytes, &file)?
        } else {
            SubwordTokenizer::from_json(&bytes, &file, true)?
        };
        tracing::debug!(
            file = %file.display(),
            tokenizer = %subword.describe(),
            "read pretrained tokenizer"
        );
        Ok(TextTokenizer { inner: Inner::Subword(Box::new(subword)) })
    }

    /// Writes the tokenizer into model directory `dir` (created if missing) and returns the
    /// file names written.
    ///
    /// Subword and pretrained tokenizers write `tokenizer.json` in Hugging Face's format
    /// (loadable by Python `tokenizers.Tokenizer.from_file`). The word tokenizer, whose CJK
    /// bigrams, stop words and number folding that format cannot express, writes
    /// `word_tokenizer.json`, pretty-printed JSON of the form `{"format":
    /// "thresh-word-tokenizer", "version": 1, "config": {...}, "vocab": [...]}` where `config`
    /// is the [`TokenizerConfig`] and `vocab` the token strings in id order. A tokenizer file
    /// of another name left in `dir` by an earlier save is removed, so that
    /// [`TextTokenizer::load`] finds exactly one.
    pub fn save(&self, dir: &Path) -> Result<Vec<String>, TextError> {
        self.save_as(dir, false)
    }

    /// [`TextTokenizer::save`], with the word tokenizer's file gzip-compressed
    /// (`word_tokenizer.json.gz`) when `gzip` is set: compressed models ship their vocabulary
    /// that way, since a bag model's word and n-gram strings can outweigh its quantised
    /// table. Subword tokenizers keep Hugging Face's plain `tokenizer.json` either way.
    pub fn save_as(&self, dir: &Path, gzip: bool) -> Result<Vec<String>, TextError> {
        std::fs::create_dir_all(dir).map_err(|e| TextError::io(dir, e))?;
        let name = match (&self.inner, gzip) {
            (Inner::Word(_), false) => WORD_FILE,
            (Inner::Word(_), true) => WORD_FILE_GZ,
            (Inner::Subword(_), _) => TOKENIZER_FILE,
        };
        let path = dir.join(name);
        let bytes = match &self.inner {
            Inner::Word(w) if gzip => crate::fsutil::gzip(&w.to_bytes()),
            Inner::Word(w) => w.to_bytes(),
            Inner::Subword(s) => s.to_bytes(&path)?,
        };
        write_atomic(&path, &bytes).map_err(|e| TextError::io(&path, e))?;
        for stale in SAVED_NAMES.iter().filter(|&&n| n != name) {
            let stale = dir.join(stale);
            match std::fs::remove_file(&stale) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(TextError::io(stale, e)),
            }
        }
        Ok(vec![name.to_string()])
    }

    /// Loads what [`TextTokenizer::save`] or [`TextTokenizer::save_as`] wrote into `dir`
    /// (whichever of `tokenizer.json`, `word_tokenizer.json` and `word_tokenizer.json.gz` is
    /// there). A missing, truncated or corrupt file gives an error naming the file (or the
    /// directory, when no file or more than one is there).
    pub fn load(dir: &Path) -> Result<Self, TextError> {
        let mut found = Vec::new();
        for name in SAVED_NAMES {
            if exists(&dir.join(name))? {
                found.push(name);
            }
        }
        let name = match found.as_slice() {
            [name] => *name,
            [] => {
                return Err(TextError::NoTokenizer {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "no tokenizer found: expected {TOKENIZER_FILE} or {WORD_FILE} \
                         (or {WORD_FILE_GZ})"
                    ),
                })
            }
            several => {
                return Err(TextError::NoTokenizer {
                    path: dir.to_path_buf(),
                    reason: format!("{} present: expected exactly one", several.join(" and ")),
                })
            }
        };
        let path: PathBuf = dir.join(name);
        let bytes = read(&path)?;
        let inner = match name {
            WORD_FILE => Inner::Word(WordTokenizer::from_bytes(&bytes, &path)?),
            WORD_FILE_GZ => Inner::Word(WordTokenizer::from_bytes(&gunzip(&bytes, &path)?, &path)?),
            _ => Inner::Subword(Box::new(SubwordTokenizer::from_json(&bytes, &path, false)?)),
        };
        let tokenizer = TextTokenizer { inner };
        tracing::debug!(
            dir = %dir.display(),
            tokenizer = %tokenizer.describe(),
            "loaded tokenizer"
        );
        Ok(tokenizer)
    }

    /// A short description: the kind and vocabulary size, e.g. `word, 12034 tokens`,
    /// `wordpiece, 8000 tokens` or `pretrained wordpiece, 30522 tokens`.
    pub fn describe(&self) -> String {
        match &self.inner {
            Inner::Word(w) => format!("word, {} tokens", w.vocab().len()),
            Inner::Subword(s) => s.describe(),
        }
    }

    /// The settings. For a tokenizer read from a Hugging Face file they are reconstructed from
    /// the file: kind (`wordpiece` for any model that is not BPE), lower-casing and vocabulary
    /// size, other fields at their defaults.
    pub fn config(&self) -> &TokenizerConfig {
        match &self.inner {
            Inner::Word(w) => w.config(),
            Inner::Subword(s) => s.config(),
        }
    }

    /// Token ids without special tokens (for models trained from scratch). Unknown tokens get
    /// the unknown id.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match &self.inner {
            Inner::Word(w) => w.encode(text),
            Inner::Subword(s) => s.encode(text, false),
        }
    }

    /// Token ids with the tokenizer's special tokens (`[CLS] ... [SEP]` for BERT) when it has
    /// them; the same as [`TextTokenizer::encode`] otherwise. A text with no tokens still
    /// gives an empty vector.
    pub fn encode_with_special(&self, text: &str) -> Vec<u32> {
        match &self.inner {
            Inner::Word(w) => w.encode(text),
            Inner::Subword(s) => s.encode(text, true),
        }
    }

    /// Encodes `texts` in parallel, keeping their order; `special` picks
    /// [`TextTokenizer::encode_with_special`] over [`TextTokenizer::encode`].
    pub fn encode_batch(&self, texts: &[&str], special: bool) -> Vec<Vec<u32>> {
        texts
            .par_iter()
            .map(|text| if special { self.encode_with_special(text) } else { self.encode(text) })
            .collect()
    }

    /// The token strings of a text, what [`TextTokenizer::encode`] maps to ids (for display and
    /// tests). Word tokens missing from the vocabulary are shown as they are, not as `[UNK]`.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        match &self.inner {
            Inner::Word(w) => w.tokens(text),
            Inner::Subword(s) => s.tokens(text),
        }
    }

    /// The number of token ids, special tokens included.
    pub fn vocab_size(&self) -> usize {
        match &self.inner {
            Inner::Word(w) => w.vocab().len(),
            Inner::Subword(s) => s.vocab_size(),
        }
    }

    /// The padding id: 0 for trained tokenizers (`[PAD]` comes first); for pretrained ones the
    /// id of `[PAD]` or `<pad>`, else 0.
    pub fn pad_id(&self) -> u32 {
        match &self.inner {
            Inner::Word(_) => PAD_ID,
            Inner::Subword(s) => s.pad_id(),
        }
    }

    /// The id unknown text maps to, if the tokenizer has one.
    pub fn unk_id(&self) -> Option<u32> {
        match &self.inner {
            Inner::Word(_) => Some(UNK_ID),
            Inner::Subword(s) => s.unk_id(),
        }
    }

    /// The token string with id `id`.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        match &self.inner {
            Inner::Word(w) => w.vocab().token(id).map(str::to_string),
            Inner::Subword(s) => s.id_to_token(id),
        }
    }

    /// The id of token string `token`.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        match &self.inner {
            Inner::Word(w) => w.vocab().id(token),
            Inner::Subword(s) => s.token_to_id(token),
        }
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
    use std::time::Instant;

    fn config(kind: TokenizerKind) -> TokenizerConfig {
        TokenizerConfig { kind, subword_vocab: 300, ..lowercased_words() }
    }

    fn all_kinds() -> [TokenizerKind; 3] {
        [TokenizerKind::Word, TokenizerKind::WordPiece, TokenizerKind::Bpe]
    }

    #[test]
    fn save_load_round_trip_for_every_kind() {
        let texts = english(400);
        let probe: Vec<&str> =
            vec!["The film was wonderful!", "unseen wordz ☃", "", "  ", "中文 mixed 3.5"];
        for kind in all_kinds() {
            let t = TextTokenizer::train(&config(kind), &refs(&texts)).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let names = t.save(dir.path()).unwrap();
            let expected = if kind == TokenizerKind::Word { WORD_FILE } else { TOKENIZER_FILE };
            assert_eq!(names, [expected]);
            let first = std::fs::read(dir.path().join(expected)).unwrap();
            let back = TextTokenizer::load(dir.path()).unwrap();
            assert_eq!(back.vocab_size(), t.vocab_size(), "{kind}");
            assert_eq!(back.describe(), t.describe());
            assert_eq!(back.config().kind, kind);
            assert_eq!((back.pad_id(), back.unk_id()), (0, Some(1)));
            for text in refs(&texts).iter().take(100).chain(&probe) {
                assert_eq!(back.encode(text), t.encode(text), "{kind}: {text}");
                assert_eq!(back.encode_with_special(text), t.encode_with_special(text));
                assert_eq!(back.tokens(text), t.tokens(text));
            }
            // Saving the loaded tokenizer again writes the same bytes.
            let again = tempfile::tempdir().unwrap();
            back.save(again.path()).unwrap();
            assert_eq!(std::fs::read(again.path().join(expected)).unwrap(), first, "{kind}");
            // Texts without tokens give empty vectors.
            for empty in ["", "   "] {
                assert!(t.encode(empty).is_empty() && t.encode_with_special(empty).is_empty());
            }
        }
    }

    #[test]
    fn training_twice_gives_identical_files() {
        let texts = english(500);
        for kind in all_kinds() {
            let a = tempfile::tempdir().unwrap();
            let b = tempfile::tempdir().unwrap();
            let name = TextTokenizer::train(&config(kind), &refs(&texts)).unwrap().save(a.path());
            TextTokenizer::train(&config(kind), &refs(&texts)).unwrap().save(b.path()).unwrap();
            let name = &name.unwrap()[0];
            let (x, y) = (a.path().join(name), b.path().join(name));
            assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap(), "{kind}");
        }
    }

    #[test]
    fn word_and_subword_apis_agree_on_ids_and_tokens() {
        let texts = english(300);
        for kind in all_kinds() {
            let t = TextTokenizer::train(&config(kind), &refs(&texts)).unwrap();
            assert_eq!(t.id_to_token(0).as_deref(), Some("[PAD]"));
            assert_eq!(t.id_to_token(1).as_deref(), Some("[UNK]"));
            assert_eq!(t.token_to_id("[UNK]"), Some(1));
            assert_eq!(t.id_to_token(u32::MAX), None);
            let text = "The film was boring.";
            let ids = t.encode(text);
            let tokens = t.tokens(text);
            assert_eq!(ids.len(), tokens.len());
            for (id, token) in ids.iter().zip(&tokens) {
                assert_eq!(t.token_to_id(token), Some(*id), "{kind}: {token}");
            }
            let batch = t.encode_batch(&refs(&texts), false);
            let framed = t.encode_batch(&refs(&texts), true);
            for (i, text) in texts.iter().enumerate() {
                assert_eq!(batch[i], t.encode(text));
                assert_eq!(framed[i], t.encode_with_special(text));
            }
        }
        let word = TextTokenizer::train(&config(TokenizerKind::Word), &refs(&texts)).unwrap();
        assert_eq!(word.encode_with_special("the film"), word.encode("the film"));
        assert_eq!(word.encode("the zzzz"), [word.token_to_id("the").unwrap(), 1]);
        assert!(word.describe().starts_with("word, "));
        let wp = TextTokenizer::train(&config(TokenizerKind::WordPiece), &refs(&texts)).unwrap();
        let framed = wp.encode_with_special("the film");
        assert_eq!((framed[0], *framed.last().unwrap()), (2, 3));
    }

    #[test]
    fn cjk_corpus_with_the_word_tokenizer() {
        let texts = chinese(300);
        let t = TextTokenizer::train(&lowercased_words(), &refs(&texts)).unwrap();
        assert_eq!(t.tokens("酒店很好"), ["酒", "酒店", "店", "店很", "很", "很好", "好"]);
        assert!(t.token_to_id("酒店").is_some());
        let ids = t.encode("酒店很好");
        assert_eq!(ids.len(), 7);
    }

    #[test]
    fn save_replaces_a_tokenizer_of_the_other_kind() {
        let texts = english(200);
        let dir = tempfile::tempdir().unwrap();
        let word = TextTokenizer::train(&config(TokenizerKind::Word), &refs(&texts)).unwrap();
        let wp = TextTokenizer::train(&config(TokenizerKind::WordPiece), &refs(&texts)).unwrap();
        word.save(dir.path()).unwrap();
        wp.save(dir.path()).unwrap();
        assert!(!dir.path().join(WORD_FILE).exists());
        assert_eq!(
            TextTokenizer::load(dir.path()).unwrap().config().kind,
            TokenizerKind::WordPiece
        );
        word.save(dir.path()).unwrap();
        assert!(!dir.path().join(TOKENIZER_FILE).exists());
        assert_eq!(TextTokenizer::load(dir.path()).unwrap().config().kind, TokenizerKind::Word);
        // A directory that does not exist yet is created.
        let nested = dir.path().join("a/b");
        assert_eq!(word.save(&nested).unwrap(), [WORD_FILE]);
    }

    #[test]
    fn missing_truncated_and_corrupt_files_are_errors_naming_the_file() {
        let texts = english(200);
        let dir = tempfile::tempdir().unwrap();
        let err = TextTokenizer::load(dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with(&dir.path().display().to_string()), "{message}");
        assert!(message.contains("expected tokenizer.json or word_tokenizer.json"), "{message}");
        let err = TextTokenizer::load(&dir.path().join("nowhere")).unwrap_err();
        assert!(err.to_string().contains("no tokenizer found"), "{err}");

        for kind in all_kinds() {
            let t = TextTokenizer::train(&config(kind), &refs(&texts)).unwrap();
            let name = &t.save(dir.path()).unwrap()[0];
            let path = dir.path().join(name);
            let bytes = std::fs::read(&path).unwrap();
            let damaged: [&[u8]; 3] = [&bytes[..bytes.len() / 2], b"", b"not json at all"];
            for contents in damaged {
                std::fs::write(&path, contents).unwrap();
                let message = TextTokenizer::load(dir.path()).unwrap_err().to_string();
                let prefix = format!("{}: not a valid tokenizer file: ", path.display());
                assert!(message.starts_with(&prefix), "{kind}: {message}");
            }
        }
        std::fs::write(dir.path().join(WORD_FILE), b"{}").unwrap();
        std::fs::write(dir.path().join(TOKENIZER_FILE), b"{}").unwrap();
        let message = TextTokenizer::load(dir.path()).unwrap_err().to_string();
        assert!(message.contains("expected exactly one"), "{message}");
        // A gzip file cut short names the file.
        std::fs::remove_file(dir.path().join(TOKENIZER_FILE)).unwrap();
        let t = TextTokenizer::train(&config(TokenizerKind::Word), &refs(&texts)).unwrap();
        t.save_as(dir.path(), true).unwrap();
        let path = dir.path().join(WORD_FILE_GZ);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let message = TextTokenizer::load(dir.path()).unwrap_err().to_string();
        let prefix = format!("{}: not a valid tokenizer file: not a complete gzip", path.display());
        assert!(message.starts_with(&prefix), "{message}");
    }

    #[test]
    fn gzipped_word_tokenizer_loads_the_same_and_replaces_the_plain_file() {
        let texts = english(300);
        let t = TextTokenizer::train(&config(TokenizerKind::Word), &refs(&texts)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        t.save(dir.path()).unwrap();
        let plain = std::fs::read(dir.path().join(WORD_FILE)).unwrap();
        assert_eq!(t.save_as(dir.path(), true).unwrap(), [WORD_FILE_GZ]);
        assert!(!dir.path().join(WORD_FILE).exists());
        let packed = std::fs::read(dir.path().join(WORD_FILE_GZ)).unwrap();
        assert!(packed.len() < plain.len() / 2, "{} vs {} bytes", packed.len(), plain.len());
        let loaded = TextTokenizer::load(dir.path()).unwrap();
        for text in ["The film was wonderful!", "unseen wordz", "中文 mixed 3.5"] {
            assert_eq!(loaded.encode(text), t.encode(text), "{text}");
        }
        // Saving it plainly again leaves one file, byte for byte the first.
        loaded.save(dir.path()).unwrap();
        assert!(!dir.path().join(WORD_FILE_GZ).exists());
        assert_eq!(std::fs::read(dir.path().join(WORD_FILE)).unwrap(), plain);
    }

    #[test]
    fn from_pretrained_reads_vocab_txt_and_tokenizer_json() {
        let dir = tempfile::tempdir().unwrap();
        let vocab = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "film", "was", "good", "##s",
            "bor", "##ing", ".",
        ]
        .join("\n");
        let vocab_path = dir.path().join("vocab.txt");
        std::fs::write(&vocab_path, &vocab).unwrap();
        for source in [vocab_path.clone(), dir.path().to_path_buf()] {
            let t = TextTokenizer::from_pretrained(&source).unwrap();
            assert_eq!(t.describe(), "pretrained wordpiece, 13 tokens");
            assert_eq!(
                t.tokens("The films was BORING."),
                ["the", "film", "##s", "was", "bor", "##ing", "."]
            );
            assert_eq!(t.encode_with_special("the film"), [2, 5, 6, 3]);
            assert_eq!(t.encode("the film"), [5, 6]);
            assert_eq!(t.encode("the zebra"), [5, 1]);
            assert_eq!((t.pad_id(), t.unk_id()), (0, Some(1)));
        }
        // A vocabulary under another name is recognised by its contents.
        let other = dir.path().join("bert-vocab");
        std::fs::write(&other, &vocab).unwrap();
        assert_eq!(TextTokenizer::from_pretrained(&other).unwrap().vocab_size(), 13);

        // A pretrained tokenizer saves as tokenizer.json and loads back.
        let t = TextTokenizer::from_pretrained(&vocab_path).unwrap();
        let model = tempfile::tempdir().unwrap();
        assert_eq!(t.save(model.path()).unwrap(), [TOKENIZER_FILE]);
        let back = TextTokenizer::load(model.path()).unwrap();
        assert_eq!(back.encode_with_special("the films"), [2, 5, 6, 9, 3]);
        // ... and as a pretrained file of its own; the directory now prefers tokenizer.json.
        let again = TextTokenizer::from_pretrained(&model.path().join(TOKENIZER_FILE)).unwrap();
        assert_eq!(again.encode_with_special("the films"), [2, 5, 6, 9, 3]);

        // A tokenizer.json from training, read as pretrained.
        let texts = english(300);
        for kind in [TokenizerKind::WordPiece, TokenizerKind::Bpe] {
            let trained = TextTokenizer::train(&config(kind), &refs(&texts)).unwrap();
            let out = tempfile::tempdir().unwrap();
            trained.save(out.path()).unwrap();
            let read = TextTokenizer::from_pretrained(&out.path().join(TOKENIZER_FILE)).unwrap();
            assert!(read.describe().starts_with(&format!("pretrained {kind}, ")));
            for text in refs(&texts).iter().take(50) {
                assert_eq!(read.encode_with_special(text), trained.encode_with_special(text));
            }
        }

        let missing = dir.path().join("missing.json");
        let message = TextTokenizer::from_pretrained(&missing).unwrap_err().to_string();
        assert!(message.starts_with(&missing.display().to_string()), "{message}");
        let empty = tempfile::tempdir().unwrap();
        let message = TextTokenizer::from_pretrained(empty.path()).unwrap_err().to_string();
        assert!(message.contains("expected tokenizer.json or vocab.txt"), "{message}");
    }

    #[test]
    fn arbitrary_text_never_panics_and_gives_valid_ids() {
        // Characters from many corners of Unicode: controls, marks, joiners, CJK, emoji,
        // private use, noncharacters, the replacement character.
        let pool: Vec<char> =
            "a Z 9 . ' \u{0} \u{7} \t\n\r\u{85}\u{301}\u{308}\u{200B}\u{200C}\u{200D}\
            \u{FE0F}\u{1F3FD}\u{1F1EB}\u{1F1F7}\u{E0067}中国の한ｱ﹏，。😀👍\u{E000}\u{FFFF}\u{FFFD}\
            \u{10FFFF}İßΣſ١٢\u{0663}\u{093F}\u{094D}क\u{202E}\u{00AD}\u{FEFF}"
                .chars()
                .collect();
        let mut state: u64 = 7;
        let texts: Vec<String> = (0..2000)
            .map(|i| {
                (0..(i % 40))
                    .map(|_| {
                        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        pool[(state >> 33) as usize % pool.len()]
                    })
                    .collect()
            })
            .collect();
        for kind in all_kinds() {
            for lowercase in [true, false] {
                let config = TokenizerConfig {
                    kind,
                    lowercase,
                    remove_stopwords: true,
                    normalize_numbers: true,
                    subword_vocab: 200,
                    ..lowercased_words()
                };
                let t = TextTokenizer::train(&config, &refs(&texts)).unwrap();
                let size = t.vocab_size() as u32;
                for special in [false, true] {
                    for ids in t.encode_batch(&refs(&texts), special) {
                        assert!(ids.iter().all(|&id| id < size), "{kind}");
                    }
                }
                for text in &texts {
                    assert_eq!(t.tokens(text).len(), t.encode(text).len(), "{kind}: {text:?}");
                }
            }
        }
    }

    /// The texts of a TSV file's column `column` (by header name), or `None` when the file is
    /// missing.
    fn read_tsv(path: &str, column: &str) -> Option<Vec<String>> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines();
        let index = lines.next()?.split('\t').position(|h| h.trim() == column)?;
        Some(lines.filter_map(|l| l.split('\t').nth(index)).map(str::to_string).collect())
    }

    #[test]
    fn real_datasets_have_few_unknown_tokens() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets");
        let sets = [("sst2", "sentence"), ("chnsenticorp", "text_a")];
        let mut found = false;
        for (name, column) in sets {
            let (Some(train), Some(dev)) = (
                read_tsv(&format!("{root}/{name}/train.tsv"), column),
                read_tsv(&format!("{root}/{name}/dev.tsv"), column),
            ) else {
                continue;
            };
            found = true;
            for kind in [TokenizerKind::Word, TokenizerKind::WordPiece] {
                let config = TokenizerConfig { kind, ..lowercased_words() };
                let start = Instant::now();
                let t = TextTokenizer::train(&config, &refs(&train)).unwrap();
                let trained = start.elapsed();
                let start = Instant::now();
                let ids = t.encode_batch(&refs(&dev), false);
                let encoded = start.elapsed();
                let total: usize = ids.iter().map(Vec::len).sum();
                let unknown = ids.iter().flatten().filter(|&&id| Some(id) == t.unk_id()).count();
                let share = unknown as f64 / total.max(1) as f64;
                println!(
                    "{name} {kind}: {} train texts, {}; trained in {:.2} s; dev {} texts, {} \
                     tokens, {:.2}% unknown, encoded in {:.3} s",
                    train.len(),
                    t.describe(),
                    trained.as_secs_f64(),
                    dev.len(),
                    total,
                    100.0 * share,
                    encoded.as_secs_f64()
                );
                let limit = if kind == TokenizerKind::Word { 0.15 } else { 0.01 };
                assert!(share < limit, "{name} {kind}: {:.2}% unknown", 100.0 * share);
            }
        }
        if !found {
            println!("skipping: ../shared/datasets not found");
        }
    }
}
