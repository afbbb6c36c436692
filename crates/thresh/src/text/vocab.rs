//! Counting tokens over a corpus and building a word vocabulary from the counts.
//!
//! A vocabulary maps token strings to ids. Id 0 is `[PAD]`, id 1 is `[UNK]`, and the tokens
//! follow from the most frequent down, ties in byte order of the token, so that the same
//! counts always give the same vocabulary.

use rayon::prelude::*;

/// Hash maps of tokens: foldhash with a fixed seed, several times faster than the standard
/// SipHash on short strings, and the same hashing in every run.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// The padding token, id 0.
pub(crate) const PAD: &str = "[PAD]";
/// The unknown token, id 1.
pub(crate) const UNK: &str = "[UNK]";
/// The id of [`PAD`].
pub(crate) const PAD_ID: u32 = 0;
/// The id of [`UNK`].
pub(crate) const UNK_ID: u32 = 1;

/// How often each token occurs.
pub(crate) type Counts = HashMap<String, u64>;

/// Texts per parallel counting job.
const CHUNK: usize = 512;

/// Adds one occurrence of `token`, allocating only for a token not seen before.
fn add(counts: &mut Counts, token: &str) {
    if let Some(n) = counts.get_mut(token) {
        *n += 1;
    } else {
        counts.insert(token.to_owned(), 1);
    }
}

/// Adds the counts of `b` to `a`, iterating over the smaller of the two.
pub(crate) fn merge_counts(mut a: Counts, mut b: Counts) -> Counts {
    if a.len() < b.len() {
        std::mem::swap(&mut a, &mut b);
    }
    for (token, n) in b {
        *a.entry(token).or_insert(0) += n;
    }
    a
}

/// Counts the tokens of `texts`, in parallel. `tokenize` calls its second argument with each
/// token of a text. The result does not depend on how the work was split up.
pub(crate) fn count_tokens<T>(texts: &[&str], tokenize: T) -> Counts
where
    T: Fn(&str, &mut dyn FnMut(&str)) + Sync,
{
    texts
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut counts = Counts::default();
            for text in chunk {
                tokenize(text, &mut |token| add(&mut counts, token));
            }
            counts
        })
        .reduce(Counts::default, merge_counts)
}

/// The tokens seen at least `min_count` times (0 counts as 1), without the special tokens,
/// most frequent first with ties in byte order, at most `room` of them.
fn ranked(counts: Counts, min_count: usize, room: usize) -> Vec<String> {
    let min_count = u64::try_from(min_count.max(1)).unwrap_or(u64::MAX);
    let mut kept: Vec<(String, u64)> = counts
        .into_iter()
        .filter(|(token, n)| *n >= min_count && token != PAD && token != UNK)
        .collect();
    kept.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    kept.truncate(room);
    kept.into_iter().map(|(token, _)| token).collect()
}

/// A word vocabulary: token strings in id order and the reverse index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Vocab {
    tokens: Vec<String>,
    index: HashMap<String, u32>,
}

impl Vocab {
    /// Keeps the tokens seen at least `min_count` times (a `min_count` of 0 counts as 1),
    /// most frequent first with ties in byte order, and cuts the list so that it holds at most
    /// `max_size` entries counting `[PAD]` and `[UNK]`.
    pub(crate) fn build(counts: Counts, min_count: usize, max_size: usize) -> Vocab {
        let room = max_size.min(u32::MAX as usize).saturating_sub(2);
        let kept = ranked(counts, min_count, room);
        let tokens = [PAD.to_string(), UNK.to_string()].into_iter().chain(kept).collect();
        Vocab::index(tokens)
    }

    /// As [`Vocab::build`] for the tokens `is_second` rejects (at most `max_size` entries with
    /// `[PAD]` and `[UNK]`), followed by the at most `max_second` most frequent of the others:
    /// words and word n-grams capped apart.
    pub(crate) fn build_two(
        counts: Counts,
        min_count: usize,
        max_size: usize,
        max_second: usize,
        is_second: impl Fn(&str) -> bool,
    ) -> Vocab {
        let (second, first): (Counts, Counts) =
            counts.into_iter().partition(|(token, _)| is_second(token));
        let room = max_size.min(u32::MAX as usize).saturating_sub(2);
        let first = ranked(first, min_count, room);
        let room = (u32::MAX as usize).saturating_sub(first.len() + 2).min(max_second);
        let second = ranked(second, min_count, room);
        let tokens =
            [PAD.to_string(), UNK.to_string()].into_iter().chain(first).chain(second).collect();
        Vocab::index(tokens)
    }

    /// A vocabulary from token strings in id order, as stored in a file. The first two must
    /// be `[PAD]` and `[UNK]`; tokens must be non-empty and distinct.
    pub(crate) fn from_tokens(tokens: Vec<String>) -> Result<Vocab, String> {
        if tokens.first().map(String::as_str) != Some(PAD)
            || tokens.get(1).map(String::as_str) != Some(UNK)
        {
            return Err(format!("expected the vocabulary to start with \"{PAD}\", \"{UNK}\""));
        }
        if tokens.len() > u32::MAX as usize {
            return Err(format!("expected at most {} tokens, found {}", u32::MAX, tokens.len()));
        }
        if let Some(i) = tokens.iter().position(String::is_empty) {
            return Err(format!("expected non-empty tokens, found an empty one at id {i}"));
        }
        let vocab = Vocab::index(tokens);
        if vocab.index.len() != vocab.tokens.len() {
            let mut seen = HashMap::default();
            for (i, token) in vocab.tokens.iter().enumerate() {
                if let Some(first) = seen.insert(token.as_str(), i) {
                    return Err(format!(
                        "expected distinct tokens, found {token:?} at ids {first} and {i}"
                    ));
                }
            }
        }
        Ok(vocab)
    }

    fn index(tokens: Vec<String>) -> Vocab {
        let index = tokens.iter().zip(0u32..).map(|(token, id)| (token.clone(), id)).collect();
        Vocab { tokens, index }
    }

    /// The id of `token`.
    pub(crate) fn id(&self, token: &str) -> Option<u32> {
        self.index.get(token).copied()
    }

    /// The token with id `id`.
    pub(crate) fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The number of tokens, `[PAD]` and `[UNK]` included.
    pub(crate) fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The token strings in id order.
    pub(crate) fn tokens(&self) -> &[String] {
        &self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whitespace(text: &str, emit: &mut dyn FnMut(&str)) {
        text.split_whitespace().for_each(emit);
    }

    #[test]
    fn counting_is_independent_of_chunking() {
        let texts: Vec<String> =
            (0..5000).map(|i| format!("w{} w{} common", i % 7, i % 3)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let counts = count_tokens(&refs, whitespace);
        assert_eq!(counts["common"], 5000);
        assert_eq!(counts.values().sum::<u64>(), 15000);
        let sequential = count_tokens(&refs[..1], whitespace);
        assert_eq!(sequential["common"], 1);
    }

    #[test]
    fn build_two_caps_words_and_ngrams_apart() {
        let counts: Counts = [("a", 5), ("b", 4), ("c", 3), ("a b", 9), ("b c", 2), ("x y", 1)]
            .map(|(t, n)| (t.to_string(), n))
            .into_iter()
            .collect();
        let v = Vocab::build_two(counts, 2, 4, 1, |t| t.contains(' '));
        assert_eq!(v.tokens(), ["[PAD]", "[UNK]", "a", "b", "a b"]);
    }

    #[test]
    fn build_orders_by_count_then_token_and_applies_limits() {
        let counts: Counts = [("b", 3), ("a", 3), ("c", 5), ("d", 1), ("e", 2)]
            .map(|(t, n)| (t.to_string(), n))
            .into_iter()
            .collect();
        let v = Vocab::build(counts.clone(), 1, 100);
        assert_eq!(v.tokens(), ["[PAD]", "[UNK]", "c", "a", "b", "e", "d"]);
        assert_eq!(v.id("a"), Some(3));
        assert_eq!(v.token(2), Some("c"));
        assert_eq!(v.token(99), None);
        let v = Vocab::build(counts.clone(), 2, 100);
        assert_eq!(v.tokens(), ["[PAD]", "[UNK]", "c", "a", "b", "e"]);
        let v = Vocab::build(counts.clone(), 1, 4);
        assert_eq!(v.tokens(), ["[PAD]", "[UNK]", "c", "a"]);
        let v = Vocab::build(counts, 0, 0);
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn from_tokens_validates() {
        let ok = Vocab::from_tokens(vec!["[PAD]".into(), "[UNK]".into(), "x".into()]).unwrap();
        assert_eq!(ok.id("x"), Some(2));
        let err = Vocab::from_tokens(vec!["[UNK]".into(), "[PAD]".into()]).unwrap_err();
        assert!(err.contains("start with"), "{err}");
        let err = Vocab::from_tokens(vec!["[PAD]".into(), "[UNK]".into(), "x".into(), "x".into()])
            .unwrap_err();
        assert!(err.contains("\"x\" at ids 2 and 3"), "{err}");
        let err =
            Vocab::from_tokens(vec!["[PAD]".into(), "[UNK]".into(), String::new()]).unwrap_err();
        assert!(err.contains("empty"), "{err}");
    }
}
