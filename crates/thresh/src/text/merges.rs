//! Learning subword merges from word counts, deterministically.
//!
//! This is the training algorithm behind both subword kinds. Every word starts as a sequence
//! of characters, each marked by its position: for WordPiece every character but the first
//! carries the continuation prefix `##`, for BPE the last character carries the end-of-word
//! suffix `</w>`. Then, until the vocabulary is full, the most frequent pair of adjacent
//! symbols (weighted by word counts) is merged into a new symbol. A WordPiece vocabulary is
//! the set of symbols; a BPE model also keeps the merges in the order they were learnt.
//!
//! The Hugging Face trainer implements the same algorithm but assigns symbol ids in hash-map
//! order, which changes from run to run, and breaks ties between equally frequent pairs by
//! those ids; its WordPiece vocabularies therefore differ between runs. Here symbol ids follow
//! a fixed order (special tokens, then the initial symbols sorted, then merged symbols in the
//! order they are made), words are processed in sorted order, and ties go to the pair with the
//! smaller ids, so the same word counts always give the same vocabulary and merges.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

/// The WordPiece continuation prefix.
pub(crate) const CONTINUATION: &str = "##";
/// The BPE end-of-word suffix.
pub(crate) const END_OF_WORD: &str = "</w>";

/// How symbols are marked by their position in a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marking {
    /// WordPiece: every symbol after the first starts with `##`.
    Continuation,
    /// BPE: the last symbol ends with `</w>`.
    EndOfWord,
}

impl Marking {
    /// The symbol for character `c` at a position of a word.
    fn symbol(self, c: char, first: bool, last: bool) -> String {
        match self {
            Marking::Continuation if !first => format!("{CONTINUATION}{c}"),
            Marking::EndOfWord if last => format!("{c}{END_OF_WORD}"),
            _ => c.to_string(),
        }
    }

    /// The symbol made by merging `left` and `right`.
    fn join(self, left: &str, right: &str) -> String {
        let right = match self {
            Marking::Continuation => right.strip_prefix(CONTINUATION).unwrap_or(right),
            Marking::EndOfWord => right,
        };
        format!("{left}{right}")
    }
}

/// What training learnt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Learned {
    /// The vocabulary in id order: the special tokens, the initial symbols, the merged ones.
    pub(crate) vocab: Vec<String>,
    /// The merges in the order they were learnt (BPE applies them in this order).
    pub(crate) merges: Vec<(String, String)>,
}

/// Training settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MergeParams<'a> {
    /// Tokens placed first in the vocabulary, in this order.
    pub(crate) specials: &'a [&'a str],
    /// How symbols are marked.
    pub(crate) marking: Marking,
    /// The vocabulary size to reach, special tokens included.
    pub(crate) vocab_size: usize,
    /// Pairs seen fewer times than this are never merged (0 counts as 1).
    pub(crate) min_frequency: u64,
}

/// A symbol that did not fit into the vocabulary; pairs with it are never merged.
const DROPPED: u32 = u32::MAX;

type Pair = (u32, u32);

/// Whether `word` holds `pair` at some position.
fn contains(word: &[u32], pair: Pair) -> bool {
    word.windows(2).any(|w| (w[0], w[1]) == pair)
}

/// Replaces each occurrence of `pair` in `word`, left to right, by `merged`.
fn merge_in(word: &mut Vec<u32>, pair: Pair, merged: u32) {
    let mut out = Vec::with_capacity(word.len());
    let mut i = 0;
    while i < word.len() {
        if i + 1 < word.len() && (word[i], word[i + 1]) == pair {
            out.push(merged);
            i += 2;
        } else {
            out.push(word[i]);
            i += 1;
        }
    }
    *word = out;
}

/// The pairs of adjacent symbols of `word` that may be merged.
fn pairs(word: &[u32]) -> impl Iterator<Item = Pair> + '_ {
    word.windows(2).map(|w| (w[0], w[1])).filter(|&(a, b)| a != DROPPED && b != DROPPED)
}

/// Learns a vocabulary (and merges) from `words`, distinct words with their counts. The order
/// of `words` does not matter.
pub(crate) fn learn(words: &[(String, u64)], params: &MergeParams<'_>) -> Learned {
    let mut words: Vec<&(String, u64)> =
        words.iter().filter(|(w, n)| !w.is_empty() && *n > 0).collect();
    words.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let specials: HashSet<&str> = params.specials.iter().copied().collect();

    // The initial symbols: every character (unmarked) and every marked character seen.
    let mut frequency: HashMap<String, u64> = HashMap::new();
    for (word, count) in &words {
        let n = word.chars().count();
        for (i, c) in word.chars().enumerate() {
            *frequency.entry(params.marking.symbol(c, i == 0, i + 1 == n)).or_insert(0) += count;
            frequency.entry(c.to_string()).or_insert(0);
        }
    }
    let mut initial: Vec<(String, u64)> =
        frequency.into_iter().filter(|(s, _)| !specials.contains(s.as_str())).collect();
    // Marked symbols are longer than one character.
    let marked = |s: &str| s.chars().nth(1).is_some();
    let room = params.vocab_size.saturating_sub(params.specials.len());
    if initial.len() > room {
        // Not all fit: keep the most frequent, plain characters first among equals.
        initial.sort_unstable_by(|a, b| {
            (Reverse(a.1), marked(&a.0), &a.0).cmp(&(Reverse(b.1), marked(&b.0), &b.0))
        });
        initial.truncate(room);
    }
    // Plain characters first, in code-point order, then the marked ones.
    initial.sort_unstable_by(|a, b| (marked(&a.0), &a.0).cmp(&(marked(&b.0), &b.0)));

    let mut vocab: Vec<String> = Vec::with_capacity(params.vocab_size);
    let mut ids: HashMap<String, u32> = HashMap::with_capacity(params.vocab_size);
    for token in
        params.specials.iter().map(|s| s.to_string()).chain(initial.into_iter().map(|s| s.0))
    {
        if !ids.contains_key(&token) {
            ids.insert(token.clone(), vocab.len() as u32);
            vocab.push(token);
        }
    }

    // Words as symbol ids.
    let counts: Vec<i64> =
        words.iter().map(|(_, n)| i64::try_from(*n).unwrap_or(i64::MAX)).collect();
    let mut symbols: Vec<Vec<u32>> = words
        .iter()
        .map(|(word, _)| {
            let n = word.chars().count();
            word.chars()
                .enumerate()
                .map(|(i, c)| {
                    ids.get(&params.marking.symbol(c, i == 0, i + 1 == n))
                        .copied()
                        .unwrap_or(DROPPED)
                })
                .collect()
        })
        .collect();

    // Pair counts and, for each pair, the words that may hold it.
    let mut pair_counts: HashMap<Pair, i64> = HashMap::new();
    let mut holders: HashMap<Pair, Vec<u32>> = HashMap::new();
    for (w, word) in symbols.iter().enumerate() {
        for pair in pairs(word) {
            *pair_counts.entry(pair).or_insert(0) += counts[w];
            let list = holders.entry(pair).or_default();
            if list.last() != Some(&(w as u32)) {
                list.push(w as u32);
            }
        }
    }
    let mut queue: BinaryHeap<(i64, Reverse<Pair>)> =
        pair_counts.iter().map(|(&pair, &n)| (n, Reverse(pair))).collect();

    let min_frequency = i64::try_from(params.min_frequency.max(1)).unwrap_or(i64::MAX);
    let mut merges = Vec::new();
    while vocab.len() < params.vocab_size {
        let Some((count, Reverse(pair))) = queue.pop() else { break };
        let current = pair_counts.get(&pair).copied().unwrap_or(0);
        if count != current {
            // Stale entry: the pair became rarer since it was queued.
            if current > 0 {
                queue.push((current, Reverse(pair)));
            }
            continue;
        }
        if current < min_frequency {
            break;
        }
        let joined = params.marking.join(&vocab[pair.0 as usize], &vocab[pair.1 as usize]);
        if specials.contains(joined.as_str()) {
            // Never let a piece of text turn into a special token.
            pair_counts.remove(&pair);
            holders.remove(&pair);
            continue;
        }
        let merged = match ids.get(&joined) {
            Some(&id) => id,
            None => {
                let id = vocab.len() as u32;
                ids.insert(joined.clone(), id);
                vocab.push(joined);
                id
            }
        };
        merges.push((vocab[pair.0 as usize].clone(), vocab[pair.1 as usize].clone()));

        let mut positions = holders.remove(&pair).unwrap_or_default();
        positions.sort_unstable();
        positions.dedup();
        let mut touched: Vec<Pair> = Vec::new();
        for w in positions {
            let word = &mut symbols[w as usize];
            if !contains(word, pair) {
                continue;
            }
            let n = counts[w as usize];
            for p in pairs(word) {
                *pair_counts.entry(p).or_insert(0) -= n;
            }
            merge_in(word, pair, merged);
            for p in pairs(word) {
                *pair_counts.entry(p).or_insert(0) += n;
                if p.0 == merged || p.1 == merged {
                    let list = holders.entry(p).or_default();
                    if list.last() != Some(&w) {
                        list.push(w);
                    }
                    touched.push(p);
                }
            }
        }
        pair_counts.remove(&pair);
        touched.sort_unstable();
        touched.dedup();
        for p in touched {
            if let Some(&n) = pair_counts.get(&p) {
                if n > 0 {
                    queue.push((n, Reverse(p)));
                }
            }
        }
    }
    Learned { vocab, merges }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECIALS: &[&str] = &["[PAD]", "[UNK]"];

    fn words(list: &[(&str, u64)]) -> Vec<(String, u64)> {
        list.iter().map(|(w, n)| (w.to_string(), *n)).collect()
    }

    fn params(marking: Marking, vocab_size: usize) -> MergeParams<'static> {
        MergeParams { specials: SPECIALS, marking, vocab_size, min_frequency: 1 }
    }

    #[test]
    fn wordpiece_symbols_and_merges() {
        let w = words(&[("hug", 10), ("pug", 5), ("hugs", 5)]);
        let learned = learn(&w, &params(Marking::Continuation, 100));
        let v = &learned.vocab;
        assert_eq!(&v[..2], SPECIALS);
        // Plain characters, then marked ones, each sorted.
        assert_eq!(&v[2..9], ["g", "h", "p", "s", "u", "##g", "##s"].map(String::from));
        assert!(v.contains(&"##u".to_string()));
        // The most frequent pair (u, g) = 20 is merged first.
        assert_eq!(learned.merges[0], ("##u".to_string(), "##g".to_string()));
        assert!(v.contains(&"hug".to_string()) && v.contains(&"hugs".to_string()));
    }

    #[test]
    fn bpe_marks_word_ends() {
        let w = words(&[("low", 5), ("lower", 2), ("newest", 6), ("widest", 3)]);
        let learned = learn(&w, &params(Marking::EndOfWord, 30));
        assert!(learned.vocab.contains(&"t</w>".to_string()));
        assert!(learned.vocab.contains(&"w</w>".to_string()));
        assert!(learned.vocab.contains(&"est</w>".to_string()));
        assert!(learned.vocab.len() <= 30);
        // Every merge joins two known symbols into a known symbol.
        for (a, b) in &learned.merges {
            assert!(learned.vocab.contains(a) && learned.vocab.contains(b));
            assert!(learned.vocab.contains(&format!("{a}{b}")));
        }
    }

    #[test]
    fn limits_min_frequency_and_tiny_vocabularies() {
        let w = words(&[("ab", 1), ("cd", 3)]);
        let p = MergeParams { min_frequency: 2, ..params(Marking::Continuation, 100) };
        let learned = learn(&w, &p);
        assert_eq!(learned.merges, [("c".to_string(), "##d".to_string())]);
        // Only room for three symbols: the most frequent are kept.
        let learned = learn(&w, &params(Marking::Continuation, 5));
        assert_eq!(learned.vocab, ["[PAD]", "[UNK]", "a", "c", "##d"]);
        assert!(learned.merges.is_empty());
        assert_eq!(learn(&[], &params(Marking::EndOfWord, 10)).vocab, SPECIALS);
    }

    #[test]
    fn repeated_symbols_merge_left_to_right() {
        let mut word = vec![1, 1, 1, 2, 1, 1];
        merge_in(&mut word, (1, 1), 9);
        assert_eq!(word, [9, 1, 2, 9]);
        let learned = learn(&words(&[("aaaa", 4)]), &params(Marking::EndOfWord, 100));
        assert!(learned.vocab.contains(&"aa".to_string()), "{:?}", learned.vocab);
    }

    #[test]
    fn result_does_not_depend_on_input_order() {
        let mut w: Vec<(String, u64)> =
            (0..400).map(|i| (format!("w{}x{}", i % 37, i % 11), 1 + (i % 5) as u64)).collect();
        let a = learn(&w, &params(Marking::Continuation, 200));
        w.reverse();
        let b = learn(&w, &params(Marking::Continuation, 200));
        assert_eq!(a, b);
        assert_eq!(a.vocab.len(), 200);
    }
}
