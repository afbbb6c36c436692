//! Small corpora for the tests of this module, generated from templates.

/// Subjects, verbs, objects and endings the sentences are made of.
const SUBJECTS: &[&str] = &[
    "The film",
    "This movie",
    "Our director",
    "The actors",
    "Every scene",
    "The soundtrack",
    "A young writer",
    "The ending",
    "Her performance",
    "The new sequel",
    "My brother",
];
const VERBS: &[&str] =
    &["was", "seemed", "felt", "became", "remained", "looked", "is", "isn't", "wasn't"];
const ADJECTIVES: &[&str] = &[
    "wonderful",
    "boring",
    "unbelievable",
    "charming",
    "predictable",
    "heartbreaking",
    "overlong",
    "delightful",
    "unwatchable",
    "refreshing",
    "disappointing",
    "extraordinary",
];
const ENDINGS: &[&str] = &[
    ".",
    "!",
    "...",
    " and I loved it.",
    " but nobody cared.",
    ", honestly.",
    " in 2024.",
    " for 3.5 hours!",
    " (really).",
    " — truly.",
];

/// `n` English sentences, the same on every call.
pub(crate) fn english(n: usize) -> Vec<String> {
    // A linear congruential generator: deterministic and good enough to mix templates.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move |len: usize| {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % len
    };
    (0..n)
        .map(|_| {
            format!(
                "{} {} {}{}",
                SUBJECTS[next(SUBJECTS.len())],
                VERBS[next(VERBS.len())],
                ADJECTIVES[next(ADJECTIVES.len())],
                ENDINGS[next(ENDINGS.len())]
            )
        })
        .collect()
}

/// `n` Chinese sentences, the same on every call.
pub(crate) fn chinese(n: usize) -> Vec<String> {
    const PARTS: &[&str] =
        &["这部电影", "酒店", "服务", "非常", "很好", "不错", "一般", "太差了", "值得", "推荐"];
    (0..n)
        .map(|i| {
            let a = PARTS[i % PARTS.len()];
            let b = PARTS[(i / 3 + 4) % PARTS.len()];
            let c = PARTS[(i * 7 + 1) % PARTS.len()];
            format!("{a}{b}，{c}。")
        })
        .collect()
}

/// Borrows each string.
pub(crate) fn refs(texts: &[String]) -> Vec<&str> {
    texts.iter().map(String::as_str).collect()
}
