//! Word vectors learned from raw text: word2vec's skip-gram and CBOW with negative sampling,
//! with fastText's character n-grams, so a rare word shares what its spelling shares.
//!
//! A word's input vector is the mean of its own row and the rows of its character n-grams
//! (`<` and `>` mark the word's ends; n from `minn` to `maxn`; n-grams hashed with 32-bit
//! FNV-1a into `buckets` rows). Skip-gram predicts each context word from the centre word's
//! vector; CBOW predicts the centre word from the mean of the context words' vectors. Each
//! prediction is a logistic regression against the true word and `negatives` words drawn
//! from the unigram distribution raised to the power 0.5; frequent words are subsampled
//! (kept with probability `√(t/f) + t/f`, `t = 1e-4`); the learning rate falls linearly to
//! zero over the run. Training is one sequential pass per epoch from a seeded generator, so
//! the same seed gives the same vectors.
//!
//! Besides the words' vectors, training gives [`Subwords`], the n-gram table, from which a word
//! never seen in training gets a vector too: the mean of its n-grams' rows, as in fastText.

use crate::error::Error;
use crate::text::{TextTokenizer, TokenizerConfig};
use crate::vectors::WordVectors;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thresh_core::layers::one_vs_all::sigmoid;
use thresh_core::rng::Rng;
use thresh_core::Tensor;

/// Skip-gram or CBOW.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedModel {
    /// Predict the context from the centre word.
    Skipgram,
    /// Predict the centre word from its context.
    Cbow,
}

/// Settings of [`train_vectors`], with fastText's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbedOptions {
    /// Skip-gram or CBOW.
    pub model: EmbedModel,
    /// Vector width.
    pub dim: usize,
    /// Passes over the corpus.
    pub epochs: usize,
    /// Starting learning rate.
    pub lr: f32,
    /// Largest distance of a context word (the window is drawn from 1 to this per word).
    pub window: usize,
    /// Negative samples per prediction.
    pub negatives: usize,
    /// Words seen fewer times are left out.
    pub min_count: usize,
    /// Shortest and longest character n-gram (0 for `maxn` turns them off).
    pub minn: usize,
    /// See `minn`.
    pub maxn: usize,
    /// Rows shared by the hashed character n-grams.
    pub buckets: usize,
    /// Lower-case the text first.
    pub lowercase: bool,
    /// Seed of initialisation, subsampling, windows and negatives.
    pub seed: u64,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            model: EmbedModel::Skipgram,
            dim: 100,
            epochs: 5,
            lr: 0.05,
            window: 5,
            negatives: 5,
            min_count: 5,
            minn: 3,
            maxn: 6,
            buckets: 200_000,
            lowercase: true,
            seed: 42,
        }
    }
}

/// 32-bit FNV-1a of `bytes`, the hash fastText gives character n-grams.
fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(16_777_619);
    }
    h
}

/// Rows of the character n-grams of `word` (offset by `words`, the rows before them).
fn ngram_rows(word: &str, options: &EmbedOptions, words: usize, out: &mut Vec<u32>) {
    ngram_buckets(word, options.minn, options.maxn, options.buckets, words, out);
}

fn ngram_buckets(
    word: &str,
    minn: usize,
    maxn: usize,
    buckets: usize,
    offset: usize,
    out: &mut Vec<u32>,
) {
    if maxn == 0 || buckets == 0 {
        return;
    }
    let marked: Vec<char> = format!("<{word}>").chars().collect();
    let mut piece = String::new();
    for start in 0..marked.len() {
        for n in minn.max(1)..=maxn {
            if start + n > marked.len() {
                break;
            }
            // The whole marked word is the word's own row already.
            if start == 0 && start + n == marked.len() {
                continue;
            }
            piece.clear();
            piece.extend(&marked[start..start + n]);
            out.push((offset + fnv1a(piece.as_bytes()) as usize % buckets) as u32);
        }
    }
}

/// The trainable state: input rows (words, then n-gram buckets) and output rows (words).
struct Tables {
    dim: usize,
    input: Vec<f32>,
    output: Vec<f32>,
}

impl Tables {
    /// Logistic updates of the output rows of `targets` (the first is the true word) for the
    /// hidden vector `h`; returns the gradient for the input rows in `grad`.
    fn predict(&mut self, h: &[f32], targets: &[u32], lr: f32, grad: &mut [f32]) {
        let d = self.dim;
        grad.fill(0.0);
        for (i, &t) in targets.iter().enumerate() {
            let row = &mut self.output[t as usize * d..(t as usize + 1) * d];
            let score = sigmoid(row.iter().zip(h).map(|(a, b)| a * b).sum());
            let alpha = lr * (f32::from(u8::from(i == 0)) - score);
            for ((g, o), &x) in grad.iter_mut().zip(row.iter_mut()).zip(h) {
                *g += alpha * *o;
                *o += alpha * x;
            }
        }
    }

    fn mean_into(&self, rows: &[u32], out: &mut [f32]) {
        let d = self.dim;
        out.fill(0.0);
        for &r in rows {
            let row = &self.input[r as usize * d..(r as usize + 1) * d];
            out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
        }
        if !rows.is_empty() {
            let inv = 1.0 / rows.len() as f32;
            out.iter_mut().for_each(|o| *o *= inv);
        }
    }

    fn add_to_rows(&mut self, rows: &[u32], grad: &[f32]) {
        let d = self.dim;
        for &r in rows {
            let row = &mut self.input[r as usize * d..(r as usize + 1) * d];
            row.iter_mut().zip(grad).for_each(|(v, g)| *v += g);
        }
    }
}

/// The character n-gram table of trained vectors: what a word never seen in training is
/// made of.
#[derive(Clone, Debug, PartialEq)]
pub struct Subwords {
    /// Shortest n-gram.
    pub minn: usize,
    /// Longest n-gram.
    pub maxn: usize,
    /// Rows of the table, `buckets × dim`.
    pub table: Tensor,
}

impl Subwords {
    /// The vector of `word` from its n-grams alone; `None` when it has none.
    pub fn vector(&self, word: &str) -> Option<Vec<f32>> {
        let (buckets, d) = (self.table.rows(), self.table.cols());
        let mut rows = Vec::new();
        ngram_buckets(word, self.minn, self.maxn, buckets, 0, &mut rows);
        if rows.is_empty() {
            return None;
        }
        let mut out = vec![0.0f32; d];
        for &r in &rows {
            out.iter_mut().zip(self.table.row(r as usize)).for_each(|(o, v)| *o += v);
        }
        out.iter_mut().for_each(|o| *o /= rows.len() as f32);
        Some(out)
    }

    /// Where the table of the vectors file `vec` is kept: `NAME.subwords.safetensors` beside
    /// `NAME.vec`.
    pub fn path_for(vec: &Path) -> PathBuf {
        vec.with_extension("subwords.safetensors")
    }

    /// Writes the table (safetensors; the n-gram lengths in its metadata).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let meta = HashMap::from([
            ("minn".to_string(), self.minn.to_string()),
            ("maxn".to_string(), self.maxn.to_string()),
        ]);
        thresh_core::io::save_tensors(path, &[("ngrams".into(), &self.table)], Some(meta))?;
        Ok(())
    }

    /// Reads a table written by [`Subwords::save`].
    pub fn load(path: &Path) -> Result<Subwords, Error> {
        let bytes =
            std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let bad =
            |message: String| Error::InvalidData { path: path.to_path_buf(), line: 1, message };
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let number = |key: &str| {
            meta.get(key)
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or_else(|| bad(format!("metadata lacks the n-gram length {key:?}")))
        };
        let (minn, maxn) = (number("minn")?, number("maxn")?);
        let table = thresh_core::io::parse_tensors(path, &bytes)?
            .remove("ngrams")
            .ok_or_else(|| bad("no tensor named \"ngrams\"".into()))?;
        Ok(Subwords { minn, maxn, table })
    }
}

/// Learns vectors for the words of `lines` (one text per line), and the n-gram table when
/// n-grams are on. `file` names the corpus in errors.
pub fn train_vectors(
    lines: &[&str],
    file: &Path,
    options: &EmbedOptions,
) -> Result<(WordVectors, Option<Subwords>), Error> {
    if options.dim == 0 || options.epochs == 0 || options.window == 0 {
        return Err(Error::InvalidOption {
            flag: "--dim",
            message: "dimension, epochs and window must be at least 1".into(),
        });
    }
    let config = TokenizerConfig {
        lowercase: options.lowercase,
        word_ngrams: 1,
        min_count: Some(options.min_count.max(1)),
        max_vocab: usize::MAX,
        cjk_bigrams: false,
        ..TokenizerConfig::default()
    };
    let tokenizer = TextTokenizer::train(&config, lines)?;
    // Ids 0 and 1 are [PAD] and [UNK]; words are 2.. in the tokenizer, 0.. here.
    let corpus: Vec<Vec<u32>> = lines
        .iter()
        .map(|l| tokenizer.encode(l).into_iter().filter(|&id| id >= 2).map(|id| id - 2).collect())
        .collect();
    let words: Vec<String> =
        (2..tokenizer.vocab_size() as u32).filter_map(|id| tokenizer.id_to_token(id)).collect();
    let n = words.len();
    let mut counts = vec![0u64; n];
    corpus.iter().flatten().for_each(|&w| counts[w as usize] += 1);
    let total: u64 = counts.iter().sum();
    if n == 0 || total < 2 {
        return Err(Error::InvalidData {
            path: file.to_path_buf(),
            line: 1,
            message: format!(
                "no word occurs {} times or more; lower --min-count or give more text",
                options.min_count
            ),
        });
    }
    let subwords: Vec<Vec<u32>> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut rows = vec![i as u32];
            ngram_rows(w, options, n, &mut rows);
            rows
        })
        .collect();
    // Negatives: a table of word ids in proportion to count^0.5.
    let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).sqrt()).collect();
    let weight_sum: f64 = weights.iter().sum();
    let table_size = 10_000_000.min((total as usize).max(1000) * 10);
    let mut negatives_table = Vec::with_capacity(table_size);
    for (w, &wt) in weights.iter().enumerate() {
        let k = ((wt / weight_sum) * table_size as f64).ceil() as usize;
        negatives_table.extend(std::iter::repeat_n(w as u32, k));
    }
    let keep: Vec<f32> = counts
        .iter()
        .map(|&c| {
            let f = c as f64 / total as f64;
            let t = 1e-4 / f;
            (t.sqrt() + t) as f32
        })
        .collect();

    let d = options.dim;
    let mut rng = Rng::new(options.seed);
    let rows = n + if options.maxn > 0 { options.buckets } else { 0 };
    let bound = 1.0 / d as f32;
    let mut tables = Tables {
        dim: d,
        input: (0..rows * d).map(|_| rng.uniform_range(-bound, bound)).collect(),
        output: vec![0.0; n * d],
    };
    let (mut hidden, mut grad) = (vec![0.0f32; d], vec![0.0f32; d]);
    let mut targets = Vec::with_capacity(options.negatives + 1);
    let mut context_rows: Vec<u32> = Vec::new();
    let steps = (total * options.epochs as u64).max(1) as f64;
    let mut done = 0u64;
    let started = std::time::Instant::now();
    for epoch in 0..options.epochs {
        for line in &corpus {
            let kept: Vec<u32> =
                line.iter().copied().filter(|&w| rng.uniform() <= keep[w as usize]).collect();
            for (i, &centre) in kept.iter().enumerate() {
                let lr = options.lr * (1.0 - done as f64 / steps).max(1e-4) as f32;
                let b = 1 + rng.below(options.window);
                let lo = i.saturating_sub(b);
                let hi = (i + b + 1).min(kept.len());
                let mut draw = |targets: &mut Vec<u32>, truth: u32| {
                    targets.clear();
                    targets.push(truth);
                    while targets.len() <= options.negatives {
                        let w = negatives_table[rng.below(negatives_table.len())];
                        if w != truth {
                            targets.push(w);
                        }
                    }
                };
                match options.model {
                    EmbedModel::Skipgram => {
                        let rows = &subwords[centre as usize];
                        for (j, &ctx) in kept.iter().enumerate().take(hi).skip(lo) {
                            if j == i {
                                continue;
                            }
                            tables.mean_into(rows, &mut hidden);
                            draw(&mut targets, ctx);
                            tables.predict(&hidden, &targets, lr, &mut grad);
                            tables.add_to_rows(rows, &grad);
                        }
                    }
                    EmbedModel::Cbow => {
                        context_rows.clear();
                        for (j, &ctx) in kept.iter().enumerate().take(hi).skip(lo) {
                            if j != i {
                                context_rows.extend_from_slice(&subwords[ctx as usize]);
                            }
                        }
                        if context_rows.is_empty() {
                            continue;
                        }
                        tables.mean_into(&context_rows, &mut hidden);
                        draw(&mut targets, centre);
                        tables.predict(&hidden, &targets, lr, &mut grad);
                        tables.add_to_rows(&context_rows, &grad);
                    }
                }
            }
            done += line.len() as u64;
        }
        tracing::debug!(
            epoch = epoch + 1,
            seconds = started.elapsed().as_secs_f64(),
            "word vectors: epoch done"
        );
    }
    let mut values = Vec::with_capacity(n * d);
    for rows in &subwords {
        tables.mean_into(rows, &mut hidden);
        values.extend_from_slice(&hidden);
    }
    let ngrams = (rows > n).then(|| Subwords {
        minn: options.minn,
        maxn: options.maxn,
        table: Tensor::from_vec(tables.input.split_off(n * d), &[rows - n, d])
            .expect("the table holds buckets × dim values"),
    });
    Ok((WordVectors { path: file.to_path_buf(), dim: d, words, values }, ngrams))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors::nearest;

    /// Two topics whose words only ever meet their own kind: each word's nearest neighbour
    /// must come from its own topic.
    fn topic_corpus() -> Vec<String> {
        let sport = ["goal", "match", "team", "striker", "referee", "league"];
        let food = ["pasta", "bread", "soup", "butter", "garlic", "cheese"];
        let mut rng = Rng::new(5);
        (0..600)
            .map(|i| {
                let words = if i % 2 == 0 { &sport } else { &food };
                (0..8).map(|_| words[rng.below(6)]).collect::<Vec<_>>().join(" ")
            })
            .collect()
    }

    #[test]
    fn related_words_are_nearer_than_unrelated_ones_for_both_models() {
        let corpus = topic_corpus();
        let lines: Vec<&str> = corpus.iter().map(String::as_str).collect();
        for model in [EmbedModel::Skipgram, EmbedModel::Cbow] {
            let options =
                EmbedOptions { model, dim: 20, epochs: 5, min_count: 1, ..Default::default() };
            let (v, _) = train_vectors(&lines, Path::new("corpus.txt"), &options).unwrap();
            assert_eq!(v.words.len(), 12);
            for (word, kin) in [("goal", "team"), ("soup", "bread")] {
                let near = nearest(&v, word, 5).unwrap();
                let names: Vec<&str> = near.iter().map(|(w, _)| w.as_str()).collect();
                assert!(names.contains(&kin), "{model:?}: {word} → {names:?}");
                let other = if word == "goal" { "pasta" } else { "match" };
                assert!(!names.contains(&other), "{model:?}: {word} → {names:?}");
            }
            let (again, _) = train_vectors(&lines, Path::new("corpus.txt"), &options).unwrap();
            assert_eq!(again, v, "the same seed gives the same vectors");
        }
    }

    fn cosine(v: &WordVectors, a: &str, b: &str) -> f32 {
        let row = |w: &str| {
            let i = v.words.iter().position(|x| x == w).unwrap_or_else(|| panic!("{w} missing"));
            &v.values[i * v.dim..(i + 1) * v.dim]
        };
        let (x, y) = (row(a), row(b));
        let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
        let norm = |z: &[f32]| z.iter().map(|p| p * p).sum::<f32>().sqrt();
        dot / (norm(x) * norm(y))
    }

    /// On real text (SST-2's training sentences and the SMS Spam messages), words that mean
    /// alike or meet in the same messages end up nearer than words from the other corpus.
    #[test]
    fn vectors_from_sst2_and_sms_put_related_words_together() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets"));
        if !root.is_dir() {
            println!("skipping: ../shared/datasets not found");
            return;
        }
        let read = |file: &str, column: usize| -> Vec<String> {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            text.lines()
                .skip(1)
                .filter_map(|l| l.split('\t').nth(column).map(String::from))
                .collect()
        };
        let mut corpus = read("sst2/train.tsv", 0);
        corpus.extend(read("sms-spam/SMSSpamCollection.tsv", 1));
        let lines: Vec<&str> = corpus.iter().map(String::as_str).collect();
        let options = EmbedOptions { dim: 50, epochs: 3, maxn: 0, ..Default::default() };
        let (v, _) = train_vectors(&lines, Path::new("corpus"), &options).unwrap();
        for (word, kin, stranger) in [
            ("movie", "film", "nokia"),
            ("free", "nokia", "film"),
            ("funny", "hilarious", "reply"),
            ("boring", "dull", "txt"),
        ] {
            let (near, far) = (cosine(&v, word, kin), cosine(&v, word, stranger));
            assert!(near > far, "{word}: {kin} {near:.3} vs {stranger} {far:.3}");
        }
    }

    /// A word absent from training gets a vector from its n-grams, near the words that share
    /// them; the table survives a save and load.
    #[test]
    fn unseen_words_get_vectors_from_their_ngrams() {
        let corpus = topic_corpus();
        let lines: Vec<&str> = corpus.iter().map(String::as_str).collect();
        let options =
            EmbedOptions { dim: 20, epochs: 5, min_count: 1, buckets: 5000, ..Default::default() };
        let (v, ngrams) = train_vectors(&lines, Path::new("corpus.txt"), &options).unwrap();
        let ngrams = ngrams.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = Subwords::path_for(&dir.path().join("v.vec"));
        assert!(path.to_str().unwrap().ends_with("v.subwords.safetensors"));
        ngrams.save(&path).unwrap();
        let back = Subwords::load(&path).unwrap();
        assert_eq!(back, ngrams);
        let query = back.vector("strikers").unwrap();
        let near = crate::vectors::nearest_to(&v, &query, None, 1);
        assert_eq!(near[0].0, "striker", "{near:?}");
    }

    #[test]
    fn character_ngrams_mark_the_word_ends() {
        let options = EmbedOptions { minn: 3, maxn: 3, buckets: 1000, ..Default::default() };
        let mut rows = Vec::new();
        ngram_rows("ab", &options, 10, &mut rows);
        // "<ab>" has the 3-grams "<ab" and "ab>".
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|&r| (10..1010).contains(&r)));
        assert_eq!(fnv1a(b""), 2_166_136_261);
    }
}
