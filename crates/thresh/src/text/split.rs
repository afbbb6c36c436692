//! The splitting rules of the word tokenizer.
//!
//! Text is cut into tokens as follows:
//!
//! - A run of alphanumeric characters is a word. Combining marks (and the zero-width joiner
//!   and non-joiner) that follow a letter stay in the word, so decomposed accents and
//!   Indic vowel signs do not cut a word apart.
//! - A number keeps its inner `.` and `,` when a digit follows them: `3.14` and `1,000` are
//!   single tokens.
//! - Optionally, abbreviations keep their dots: a `.` between two letters stays in the word (`U.S`,
//!   `e.g`), and so does a `.` after the one-letter last part of such a word (`U.S.`, `e.g.`)
//!   or after a lone capital letter (the initial in `John F. Kennedy`). Other dots are
//!   tokens: `end.` gives `end`, `.`.
//! - Every other visible character (punctuation, symbols, emoji) is a token of its own:
//!   `don't?` gives `don`, `'`, `t`, `?`. Marks that modify a symbol (emoji variation
//!   selectors and skin tones) stay with it, emoji joined by a zero-width joiner form one
//!   token, and so do the two regional indicators of a flag.
//! - Each CJK character is a token even inside a run of letters (`iphone很好` gives `iphone`,
//!   `很`, `好`), optionally with bigrams of adjacent CJK characters (see [`super::cjk`]).
//! - Whitespace separates tokens and is dropped, as are control characters, the soft
//!   hyphen, the word joiner and the byte-order mark; the zero-width space separates tokens.
//!
//! Splitting never fails and never allocates per token: tokens are handed to a callback as
//! string slices.

use unicode_normalization_alignments::char::is_combining_mark;

use super::cjk::{is_cjk, CjkRun};

/// Zero-width joiner: glues emoji sequences and shapes some scripts.
const ZWJ: char = '\u{200D}';
/// Zero-width non-joiner: part of the spelling of words in Persian and some Indic scripts.
const ZWNJ: char = '\u{200C}';

/// What kind of token is being built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    /// Nothing.
    Nothing,
    /// A word; `numeric` while every character so far is a digit (or an inner `.` / `,`).
    Word { numeric: bool },
    /// A symbol, with the marks and joined characters that belong to it.
    Symbol,
}

/// The state of splitting one text.
struct Splitter<'e, F: FnMut(&str)> {
    buffer: String,
    open: Open,
    /// A zero-width joiner ended the current symbol: the next visible character joins it.
    joining: bool,
    cjk: CjkRun,
    bigrams: bool,
    emit: &'e mut F,
}

impl<F: FnMut(&str)> Splitter<'_, F> {
    fn flush(&mut self) {
        if !self.buffer.is_empty() {
            (self.emit)(&self.buffer);
            self.buffer.clear();
        }
        self.open = Open::Nothing;
        self.joining = false;
    }

    fn start(&mut self, c: char, open: Open) {
        self.flush();
        self.buffer.push(c);
        self.open = open;
    }

    /// Whether a `.` followed by `next` belongs to the open word as an abbreviation's dot
    /// (see the module documentation).
    fn abbreviation_dot(&self, next: Option<char>) -> bool {
        if self.open != (Open::Word { numeric: false }) {
            return false;
        }
        let last_part = self.buffer.rsplit('.').next().unwrap_or("");
        let mut letters = last_part.chars();
        let Some(first) = letters.next() else { return false };
        if !last_part.chars().all(char::is_alphabetic) {
            return false;
        }
        if next.is_some_and(|n| n.is_alphabetic() && !is_cjk(n)) {
            return true;
        }
        letters.next().is_none() && (self.buffer.contains('.') || first.is_uppercase())
    }

    /// Whether the open symbol is a single regional indicator (the first half of a flag).
    fn half_flag(&self) -> bool {
        let mut chars = self.buffer.chars();
        matches!((chars.next(), chars.next()), (Some(c), None) if is_regional_indicator(c))
    }
}

/// Whether `c` is dropped without separating tokens.
fn is_ignorable(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{2060}' | '\u{FEFF}') || (c.is_control() && !c.is_whitespace())
}

/// Whether `c` attaches to the token before it: a combining mark, a joiner, an emoji skin-tone
/// modifier or an emoji tag character.
fn is_attaching(c: char) -> bool {
    c == ZWJ
        || c == ZWNJ
        || matches!(u32::from(c), 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F)
        || is_combining_mark(c)
}

/// Whether `c` is a regional indicator letter (two of them spell a flag).
fn is_regional_indicator(c: char) -> bool {
    matches!(u32::from(c), 0x1F1E6..=0x1F1FF)
}

/// Whether `c` counts as a digit of a number.
fn is_digit(c: char) -> bool {
    c.is_numeric() && !is_cjk(c)
}

/// Splits `text` by the rules of the module documentation and calls `emit` with each token in
/// order. With `bigrams`, each pair of adjacent CJK characters is also emitted, right after
/// the first character of the pair; with `abbreviations`, abbreviations keep their dots. The text is split as is: lower-casing and Unicode
/// normalisation happen before.
pub(crate) fn split(text: &str, bigrams: bool, abbreviations: bool, emit: &mut impl FnMut(&str)) {
    let mut s = Splitter {
        buffer: String::new(),
        open: Open::Nothing,
        joining: false,
        cjk: CjkRun::default(),
        bigrams,
        emit,
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() || c == '\u{200B}' {
            s.flush();
            s.cjk.end();
            continue;
        }
        if is_ignorable(c) {
            continue;
        }
        if is_cjk(c) {
            s.flush();
            s.cjk.push(c, s.bigrams, &mut *s.emit);
            continue;
        }
        if is_attaching(c) {
            match s.open {
                Open::Word { .. } => {
                    s.buffer.push(c);
                    s.open = Open::Word { numeric: false };
                }
                Open::Symbol => {
                    s.buffer.push(c);
                    s.joining = c == ZWJ;
                }
                // A mark on a CJK character has nothing to join; a joiner on its own
                // means nothing.
                Open::Nothing if s.cjk.is_open() || c == ZWJ || c == ZWNJ => {}
                Open::Nothing => s.start(c, Open::Symbol),
            }
            continue;
        }
        s.cjk.end();
        if c.is_alphanumeric() {
            match s.open {
                Open::Word { numeric } => {
                    s.buffer.push(c);
                    s.open = Open::Word { numeric: numeric && is_digit(c) };
                }
                Open::Symbol if s.joining => {
                    s.buffer.push(c);
                    s.joining = false;
                }
                _ => s.start(c, Open::Word { numeric: is_digit(c) }),
            }
            continue;
        }
        let inner_separator = (c == '.' || c == ',')
            && s.open == (Open::Word { numeric: true })
            && chars.peek().is_some_and(|&n| is_digit(n));
        let abbreviation = abbreviations && c == '.' && s.abbreviation_dot(chars.peek().copied());
        if inner_separator || abbreviation {
            s.buffer.push(c);
        } else if s.open == Open::Symbol
            && (s.joining || (is_regional_indicator(c) && s.half_flag()))
        {
            s.buffer.push(c);
            s.joining = false;
        } else {
            s.start(c, Open::Symbol);
        }
    }
    s.flush();
}

/// Whether `token` is a number: digits, optionally with `.` or `,` between them.
pub(crate) fn is_number(token: &str) -> bool {
    let (Some(first), Some(last)) = (token.chars().next(), token.chars().next_back()) else {
        return false;
    };
    is_digit(first) && is_digit(last) && token.chars().all(|c| is_digit(c) || c == '.' || c == ',')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        split(text, true, false, &mut |t| out.push(t.to_string()));
        out
    }

    fn toks_no_bigrams(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        split(text, false, false, &mut |t| out.push(t.to_string()));
        out
    }

    #[test]
    fn punctuation_and_apostrophes_are_tokens_of_their_own() {
        assert_eq!(toks("don't?"), ["don", "'", "t", "?"]);
        assert_eq!(toks("Hello, world!!"), ["Hello", ",", "world", "!", "!"]);
        assert_eq!(toks("e-mail (draft)"), ["e", "-", "mail", "(", "draft", ")"]);
        assert_eq!(toks("a+b=c"), ["a", "+", "b", "=", "c"]);
        assert_eq!(toks("$5 100%"), ["$", "5", "100", "%"]);
    }

    #[test]
    fn whitespace_only_and_empty_texts_have_no_tokens() {
        assert!(toks("").is_empty());
        assert!(toks("  \t\n \u{3000} ").is_empty());
        assert!(toks("\u{0000}\u{00AD}\u{FEFF}").is_empty());
    }

    #[test]
    fn accented_and_non_latin_words_stay_whole() {
        assert_eq!(toks("café naïve"), ["café", "naïve"]);
        // Decomposed: e followed by a combining acute accent.
        assert_eq!(toks("cafe\u{301} ok"), ["cafe\u{301}", "ok"]);
        assert_eq!(toks("Привет, мир"), ["Привет", ",", "мир"]);
        assert_eq!(toks("हिन्दी भाषा"), ["हिन्दी", "भाषा"]);
        assert_eq!(toks("می‌خواهم"), ["می‌خواهم"]);
        assert_eq!(toks("straße"), ["straße"]);
    }

    #[test]
    fn numbers_keep_inner_separators() {
        assert_eq!(toks("pi is 3.14, not 3."), ["pi", "is", "3.14", ",", "not", "3", "."]);
        assert_eq!(toks("1,000,000 people"), ["1,000,000", "people"]);
        assert_eq!(toks("v1.2"), ["v1", ".", "2"]);
        assert_eq!(toks("1..2"), ["1", ".", ".", "2"]);
        assert!(is_number("3.14") && is_number("1,000") && is_number("42") && is_number("１２"));
        assert!(!is_number("3a") && !is_number(".5") && !is_number("5.") && !is_number(""));
        assert!(!is_number("v1") && !is_number("."));
    }

    fn toks_abbreviations(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        split(text, true, true, &mut |t| out.push(t.to_string()));
        out
    }

    #[test]
    fn abbreviations_keep_their_dots() {
        assert_eq!(toks("the U.S. economy"), ["the", "U", ".", "S", ".", "economy"]);
        let toks = toks_abbreviations;
        assert_eq!(toks("the U.S. economy"), ["the", "U.S.", "economy"]);
        assert_eq!(toks("John F. Kennedy"), ["John", "F.", "Kennedy"]);
        assert_eq!(toks("e.g., at 5 p.m."), ["e.g.", ",", "at", "5", "p.m."]);
        assert_eq!(toks("U.S.A. and D.C."), ["U.S.A.", "and", "D.C."]);
        assert_eq!(toks("the end. Then"), ["the", "end", ".", "Then"]);
        assert_eq!(toks("wait... a."), ["wait", ".", ".", ".", "a", "."]);
        assert_eq!(toks("Answers.com"), ["Answers.com"]);
        assert_eq!(toks("v1.2 x2."), ["v1", ".", "2", "x2", "."]);
        assert_eq!(toks("St. Louis"), ["St", ".", "Louis"]);
    }

    #[test]
    fn emoji_and_symbols() {
        assert_eq!(toks("great😀😀!"), ["great", "😀", "😀", "!"]);
        // Heart with a variation selector stays one token.
        assert_eq!(toks("love ❤️ it"), ["love", "❤\u{FE0F}", "it"]);
        // Thumbs up with a skin tone.
        assert_eq!(toks("👍🏽ok"), ["👍🏽", "ok"]);
        // A family joined by zero-width joiners.
        assert_eq!(toks("👨\u{200D}👩\u{200D}👧 x"), ["👨\u{200D}👩\u{200D}👧", "x"]);
        // Two flags.
        assert_eq!(toks("🇫🇷🇩🇪"), ["🇫🇷", "🇩🇪"]);
        // A lone combining mark is a token; a lone joiner is dropped.
        assert_eq!(toks("\u{301} \u{200D}"), ["\u{301}"]);
    }

    #[test]
    fn cjk_characters_and_bigrams() {
        assert_eq!(toks("中国人"), ["中", "中国", "国", "国人", "人"]);
        assert_eq!(toks_no_bigrams("中国人"), ["中", "国", "人"]);
        assert_eq!(toks("iPhone很好用"), ["iPhone", "很", "很好", "好", "好用", "用"]);
        assert_eq!(toks("很好。不错"), ["很", "很好", "好", "。", "不", "不错", "错"]);
        assert_eq!(toks("中 国"), ["中", "国"]);
        assert_eq!(toks("中a国"), ["中", "a", "国"]);
        assert_eq!(toks("ひらがな"), ["ひ", "ひら", "ら", "らが", "が", "がな", "な"]);
        assert_eq!(toks("カタカナ"), ["カ", "カタ", "タ", "タカ", "カ", "カナ", "ナ"]);
        assert_eq!(toks("한국어"), ["한", "한국", "국", "국어", "어"]);
        assert_eq!(
            toks("日本語のテスト"),
            [
                "日", "日本", "本", "本語", "語", "語の", "の", "のテ", "テ", "テス", "ス", "スト",
                "ト"
            ]
        );
        assert_eq!(toks("价格100元"), ["价", "价格", "格", "100", "元"]);
    }
}
