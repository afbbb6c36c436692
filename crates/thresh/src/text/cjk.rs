//! Detection of CJK characters and their bigrams.
//!
//! Chinese and Japanese are written without spaces between words, and Korean syllables carry
//! much of a word's meaning on their own, so the word tokenizer treats each character of these
//! scripts as a token and, optionally, each pair of adjacent characters as one more: a cheap
//! stand-in for word segmentation that captures most two-character words.

/// The CJK script a character belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CjkScript {
    /// Chinese characters (also used in Japanese and, rarely, Korean).
    Han,
    /// Japanese Hiragana and Katakana, full and half width.
    Kana,
    /// Korean Hangul syllables and jamo.
    Hangul,
}

/// The CJK script of `c`, or `None` for characters of other scripts, punctuation and symbols.
///
/// Han covers the CJK Unified Ideographs with extensions A to I and the compatibility
/// ideographs; Kana covers Hiragana, Katakana, the Katakana phonetic extensions and
/// half-width Katakana; Hangul covers syllables, jamo (with extensions A and B), compatibility
/// jamo and half-width jamo. CJK punctuation (`、`, `。`, `「`) is not included.
pub(crate) fn cjk_script(c: char) -> Option<CjkScript> {
    match u32::from(c) {
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0xF900..=0xFAFF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2EE5F
        | 0x2F800..=0x2FA1F
        | 0x30000..=0x323AF => Some(CjkScript::Han),
        0x3041..=0x309F | 0x30A0..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => {
            Some(CjkScript::Kana)
        }
        0xAC00..=0xD7A3
        | 0x1100..=0x11FF
        | 0x3131..=0x318E
        | 0xA960..=0xA97F
        | 0xD7B0..=0xD7FF
        | 0xFFA0..=0xFFDC => Some(CjkScript::Hangul),
        _ => None,
    }
}

/// Whether `c` is a character of a CJK script (see [`cjk_script`]).
pub(crate) fn is_cjk(c: char) -> bool {
    cjk_script(c).is_some()
}

/// Emits the tokens of a run of adjacent CJK characters, one character at a time: each
/// character, preceded (when `bigrams` is on) by the bigram it forms with the previous one.
#[derive(Debug, Default)]
pub(crate) struct CjkRun {
    previous: Option<char>,
    buffer: String,
}

impl CjkRun {
    /// Adds `c` to the run and emits its tokens: for `中国人` the calls emit `中`, then `中国`
    /// and `国`, then `国人` and `人`.
    pub(crate) fn push(&mut self, c: char, bigrams: bool, emit: &mut impl FnMut(&str)) {
        if bigrams {
            if let Some(p) = self.previous {
                self.buffer.clear();
                self.buffer.push(p);
                self.buffer.push(c);
                emit(&self.buffer);
            }
        }
        let mut one = [0u8; 4];
        emit(c.encode_utf8(&mut one));
        self.previous = Some(c);
    }

    /// Ends the run: the next character starts a new one.
    pub(crate) fn end(&mut self) {
        self.previous = None;
    }

    /// Whether a run is in progress.
    pub(crate) fn is_open(&self) -> bool {
        self.previous.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, bigrams: bool) -> Vec<String> {
        let mut out = Vec::new();
        let mut r = CjkRun::default();
        for c in text.chars() {
            r.push(c, bigrams, &mut |t| out.push(t.to_string()));
        }
        out
    }

    #[test]
    fn scripts_are_detected() {
        for c in ['中', '国', '㐀', '𠀀', '豈', '𪜀'] {
            assert_eq!(cjk_script(c), Some(CjkScript::Han), "{c}");
        }
        for c in ['の', 'ア', 'ｱ', 'ー', 'ㇰ'] {
            assert_eq!(cjk_script(c), Some(CjkScript::Kana), "{c}");
        }
        for c in ['한', '국', 'ᄀ', 'ㄱ', 'ﾡ'] {
            assert_eq!(cjk_script(c), Some(CjkScript::Hangul), "{c}");
        }
        for c in ['a', 'é', '1', '、', '。', '「', '，', 'Ж', ' ', '😀'] {
            assert!(!is_cjk(c), "{c}");
        }
    }

    #[test]
    fn runs_emit_characters_and_bigrams_in_order() {
        assert_eq!(run("中国人", true), ["中", "中国", "国", "国人", "人"]);
        assert_eq!(run("中国人", false), ["中", "国", "人"]);
        assert_eq!(run("中", true), ["中"]);
        let mut r = CjkRun::default();
        let mut out = Vec::new();
        r.push('中', true, &mut |t| out.push(t.to_string()));
        assert!(r.is_open());
        r.end();
        assert!(!r.is_open());
        r.push('国', true, &mut |t| out.push(t.to_string()));
        assert_eq!(out, ["中", "国"]);
    }
}
