//! A built-in list of English stop words.
//!
//! The list holds common function words: articles, pronouns, prepositions, conjunctions,
//! auxiliary verbs and the pieces the word tokenizer leaves of contractions (`'s`, `'ll`, `'re`,
//! `'ve`, `'d`, `'m`). Negations (`no`, `not`, `nor`, `never` and the `don` / `t` pieces of
//! `don't`) are deliberately absent: they change what a sentence says, which matters for
//! classification.

/// The stop words, sorted so that membership is a binary search.
#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
    "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "could", "d", "did", "do", "does", "doing", "down", "during", "each", "few",
    "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers",
    "herself", "him", "himself", "his", "how", "however", "i", "if", "in", "into", "is", "it",
    "its", "itself", "just", "ll", "m", "may", "me", "might", "more", "most", "must", "my",
    "myself", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out",
    "over", "own", "re", "s", "same", "shall", "she", "should", "so", "some", "such", "than",
    "that", "the", "their", "theirs", "them", "themselves", "then", "there", "therefore", "these",
    "they", "this", "those", "through", "thus", "to", "too", "under", "until", "up", "upon", "ve",
    "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
    "whose", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves",
];

/// Whether `token` is a stop word. Comparison ignores ASCII case, so it also works when the
/// tokenizer does not lower-case.
pub(crate) fn is_stopword(token: &str) -> bool {
    if token.len() > 10 || !token.is_ascii() {
        return false;
    }
    if token.bytes().any(|b| b.is_ascii_uppercase()) {
        STOP_WORDS.binary_search(&token.to_ascii_lowercase().as_str()).is_ok()
    } else {
        STOP_WORDS.binary_search(&token).is_ok()
    }
}

/// The number of built-in stop words.
#[cfg(test)]
pub(crate) fn stopword_count() -> usize {
    STOP_WORDS.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_without_duplicates_and_short() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(STOP_WORDS.iter().all(|w| w.len() <= 10 && w.is_ascii()));
        assert!((100..=150).contains(&stopword_count()));
    }

    #[test]
    fn membership() {
        for w in ["the", "The", "AND", "of", "s", "ll", "yourselves"] {
            assert!(is_stopword(w), "{w}");
        }
        for w in ["not", "no", "never", "don", "t", "good", "movie", "", "thé", "theirselves"] {
            assert!(!is_stopword(w), "{w}");
        }
    }
}
