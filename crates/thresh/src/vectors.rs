//! Word vectors in the `.vec` text format of word2vec and fastText: a header line
//! `WORDS DIM`, then one line per word, the word and its `DIM` values separated by spaces.
//!
//! [`read_vec`] reads such a file, naming the line of anything malformed;
//! [`WordVectors::fill_rows`] copies the vectors of the words a vocabulary has into the rows of
//! an embedding table, so training starts from them.

use crate::error::Error;
use crate::text::TextTokenizer;
use std::path::{Path, PathBuf};
use thresh_core::Tensor;

/// Vectors read from a `.vec` file.
#[derive(Clone, Debug, PartialEq)]
pub struct WordVectors {
    /// The file they came from.
    pub path: PathBuf,
    /// Width of each vector.
    pub dim: usize,
    /// The words, in file order.
    pub words: Vec<String>,
    /// The values, `words.len() × dim`, row-major.
    pub values: Vec<f32>,
}

fn bad(path: &Path, line: usize, message: String) -> Error {
    Error::InvalidData { path: path.to_path_buf(), line, message }
}

/// Reads a `.vec` file.
pub fn read_vec(path: &Path) -> Result<WordVectors, Error> {
    let bytes =
        std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        bad(path, line, "invalid UTF-8; word vectors must be UTF-8 text".into())
    })?;
    let mut lines = text.lines().enumerate();
    let (count, dim) = match lines.next().map(|(_, l)| l.split_whitespace().collect::<Vec<_>>()) {
        Some(h) if h.len() == 2 => match (h[0].parse::<usize>(), h[1].parse::<usize>()) {
            (Ok(n), Ok(d)) if d > 0 => (n, d),
            _ => return Err(bad(path, 1, format!("header {h:?}: expected `WORDS DIM`"))),
        },
        _ => return Err(bad(path, 1, "expected a header line `WORDS DIM`".into())),
    };
    let mut words = Vec::with_capacity(count);
    let mut values = Vec::with_capacity(count * dim);
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split(' ').filter(|f| !f.is_empty());
        let word = fields.next().unwrap_or_default();
        let start = values.len();
        for field in fields {
            let v: f32 = field.parse().map_err(|_| {
                bad(path, i + 1, format!("value {field:?} of {word:?} is not a number"))
            })?;
            values.push(v);
        }
        let found = values.len() - start;
        if found != dim {
            return Err(bad(path, i + 1, format!("{word:?} has {found} values, expected {dim}")));
        }
        words.push(word.to_string());
    }
    if words.len() != count {
        tracing::warn!(
            file = %path.display(),
            header = count,
            found = words.len(),
            "the header's word count differs from the lines in the file"
        );
    }
    Ok(WordVectors { path: path.to_path_buf(), dim, words, values })
}

impl WordVectors {
    /// Copies the vector of every word `tokenizer` knows into its row of `table`
    /// (`[vocab, dim]`) and returns how many rows it set. The widths must agree.
    pub fn fill_rows(
        &self,
        tokenizer: &TextTokenizer,
        table: &mut Tensor,
        flag: &'static str,
    ) -> Result<usize, Error> {
        let width = table.cols();
        if width != self.dim {
            return Err(Error::InvalidOption {
                flag,
                message: format!(
                    "{} holds {}-dimensional vectors, but the model's are {width} wide \
                     (set --dim or --d-model to {})",
                    self.path.display(),
                    self.dim,
                    self.dim
                ),
            });
        }
        let rows = table.rows();
        let data = table.data_mut();
        let mut set = 0;
        for (word, v) in self.words.iter().zip(self.values.chunks(self.dim)) {
            if let Some(id) = tokenizer.token_to_id(word).map(|id| id as usize) {
                if id < rows {
                    data[id * width..(id + 1) * width].copy_from_slice(v);
                    set += 1;
                }
            }
        }
        Ok(set)
    }
}

/// Writes `vectors` to `path` in the `.vec` text format (atomically).
pub fn write_vec(path: &Path, vectors: &WordVectors) -> Result<(), Error> {
    use std::fmt::Write as _;
    let mut text = format!("{} {}\n", vectors.words.len(), vectors.dim);
    for (word, v) in vectors.words.iter().zip(vectors.values.chunks(vectors.dim)) {
        text.push_str(word);
        for x in v {
            let _ = write!(text, " {x:.5}");
        }
        text.push('\n');
    }
    crate::fsutil::write_atomic(path, text.as_bytes())
        .map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// The `k` words nearest to `word` by cosine similarity, most similar first (ties in file
/// order), without `word` itself; `None` when the file does not hold `word`.
pub fn nearest(vectors: &WordVectors, word: &str, k: usize) -> Option<Vec<(String, f32)>> {
    let d = vectors.dim;
    let index = vectors.words.iter().position(|w| w == word)?;
    Some(nearest_to(vectors, &vectors.values[index * d..(index + 1) * d], Some(index), k))
}

/// The `k` words nearest to the vector `query` by cosine similarity, most similar first (ties
/// in file order), leaving out the word at `skip`.
pub fn nearest_to(
    vectors: &WordVectors,
    query: &[f32],
    skip: Option<usize>,
    k: usize,
) -> Vec<(String, f32)> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let qn = norm(query);
    let mut scored: Vec<(usize, f32)> = vectors
        .values
        .chunks(vectors.dim)
        .enumerate()
        .filter(|&(i, _)| Some(i) != skip)
        .map(|(i, v)| (i, v.iter().zip(query).map(|(a, b)| a * b).sum::<f32>() / (norm(v) * qn)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.into_iter().take(k).map(|(i, s)| (vectors.words[i].clone(), s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::TokenizerConfig;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("v.vec");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_vectors_and_fills_known_words() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "3 2\ngood 1 2\nbad -1 0.5 \nunseen 9 9\n");
        let v = read_vec(&path).unwrap();
        assert_eq!((v.dim, v.words.len()), (2, 3));
        let config =
            TokenizerConfig { min_count: Some(1), word_ngrams: 1, ..TokenizerConfig::default() };
        let tokenizer = TextTokenizer::train(&config, &["good bad", "bad"]).unwrap();
        let mut table = Tensor::zeros(&[tokenizer.vocab_size(), 2]);
        assert_eq!(v.fill_rows(&tokenizer, &mut table, "--pretrained-vectors").unwrap(), 2);
        let good = tokenizer.token_to_id("good").unwrap() as usize;
        assert_eq!(table.row(good), &[1.0, 2.0]);
        let bad_id = tokenizer.token_to_id("bad").unwrap() as usize;
        assert_eq!(table.row(bad_id), &[-1.0, 0.5]);
        let mut narrow = Tensor::zeros(&[tokenizer.vocab_size(), 3]);
        let err = v.fill_rows(&tokenizer, &mut narrow, "--pretrained-vectors").unwrap_err();
        assert!(err.to_string().contains("--pretrained-vectors"), "{err}");
    }

    #[test]
    fn written_vectors_read_back_and_neighbours_rank_by_cosine() {
        let dir = tempfile::tempdir().unwrap();
        let v = WordVectors {
            path: PathBuf::new(),
            dim: 2,
            words: vec!["a".into(), "b".into(), "c".into()],
            values: vec![1.0, 0.0, 0.9, 0.1, -1.0, 0.0],
        };
        let path = dir.path().join("out.vec");
        write_vec(&path, &v).unwrap();
        let back = read_vec(&path).unwrap();
        assert_eq!((back.words.clone(), back.values.clone()), (v.words.clone(), v.values.clone()));
        let near = nearest(&back, "a", 2).unwrap();
        assert_eq!(near[0].0, "b");
        assert_eq!(near[1].0, "c");
        assert!(near[0].1 > 0.99 && (near[1].1 + 1.0).abs() < 1e-6);
        assert!(nearest(&back, "zzz", 2).is_none());
    }

    #[test]
    fn malformed_files_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        for (text, needle) in [
            ("", ":1: expected a header"),
            ("2 x\n", ":1: header"),
            ("1 2\nword 1\n", ":2: \"word\" has 1 values, expected 2"),
            ("1 2\nword 1 zz\n", ":2: value \"zz\""),
        ] {
            let err = read_vec(&write(dir.path(), text)).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
        let err = read_vec(&dir.path().join("missing.vec")).unwrap_err().to_string();
        assert!(err.contains("missing.vec"), "{err}");
    }
}
