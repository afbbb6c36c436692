//! all-MiniLM-L6-v2 loaded from its Hugging Face files gives the token ids of Hugging Face's
//! tokenizer and the sentence embeddings of sentence-transformers (mean pooling, before its
//! L2 normalisation) to cosine similarity 0.9999 or better.
//!
//! `fixtures/minilm_parity.json` was written by `fixtures/make_minilm_parity.py` with PyTorch
//! and transformers. The checkpoint is fetched by `scripts/fetch-minilm.sh` into
//! `target/minilm` (or the directory in `THRESH_MINILM`); without it the test says so and
//! passes without checking.

use std::path::PathBuf;

use serde_json::Value;
use thresh::pretrained::BertCheckpoint;
use thresh::text::TextTokenizer;
use thresh_core::layers::{PaddingMask, PoolingKind};
use thresh_core::models::{TokenBatch, TransformerClassifier};

const FIXTURE: &str = include_str!("fixtures/minilm_parity.json");

/// Least accepted cosine similarity between thresh's embedding and the reference.
const MIN_COSINE: f64 = 0.9999;

fn checkpoint_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("THRESH_MINILM") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/minilm"),
    };
    dir.join("model.safetensors").exists().then_some(dir)
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y).sum();
    let na: f64 = a.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn minilm_matches_hugging_face_ids_and_sentence_embeddings() {
    let Some(dir) = checkpoint_dir() else {
        println!(
            "skipped: no all-MiniLM-L6-v2 checkpoint in target/minilm or $THRESH_MINILM \
             (scripts/fetch-minilm.sh fetches it)"
        );
        return;
    };
    let doc: Value = serde_json::from_str(FIXTURE).unwrap();
    let sentences: Vec<&str> =
        doc["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let tokenizer = TextTokenizer::from_pretrained(&dir).unwrap();
    let ids = tokenizer.encode_batch(&sentences, true);
    for (i, (got, want)) in ids.iter().zip(doc["ids"].as_array().unwrap()).enumerate() {
        let want: Vec<u32> =
            want.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(got, &want, "token ids of sentence {i}: {:?}", sentences[i]);
    }

    let checkpoint = BertCheckpoint::load(&dir).unwrap();
    let arch = checkpoint.config.architecture(2, PoolingKind::Mean, false, 512);
    let mut model = TransformerClassifier::new(arch, 0).unwrap();
    checkpoint.assign(&mut model).unwrap();
    let seq = ids.iter().map(Vec::len).max().unwrap();
    let mut flat = Vec::new();
    for s in &ids {
        flat.extend_from_slice(s);
        flat.resize(flat.len() + seq - s.len(), 0);
    }
    let mask = PaddingMask::from_lengths(seq, ids.iter().map(Vec::len).collect()).unwrap();
    let features = model.features(&TokenBatch::new(flat, mask).unwrap()).unwrap();
    let (mut worst, mut max_diff) = (1.0f64, 0.0f64);
    for (i, want) in doc["embeddings"].as_array().unwrap().iter().enumerate() {
        let want: Vec<f64> = want.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let c = cosine(features.row(i), &want);
        for (&a, &b) in features.row(i).iter().zip(&want) {
            max_diff = max_diff.max((a as f64 - b).abs());
        }
        worst = worst.min(c);
        assert!(c >= MIN_COSINE, "sentence {i} {:?}: cosine {c}", sentences[i]);
    }
    println!(
        "lowest cosine similarity over {} sentences: {worst:.7}; largest difference {max_diff:.2e}",
        sentences.len()
    );
}
