//! Forward parity of [`TransformerClassifier`] with PyTorch.
//!
//! `fixtures/transformer_parity.json` holds small classifiers with fixed weights, a padded
//! batch and the logits PyTorch computes for it (`nn.TransformerEncoderLayer`, eval mode).
//! `fixtures/make_transformer_parity.py` wrote it; see that script to regenerate.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use thresh_core::layers::{ActivationKind, PaddingMask, PoolingKind};
use thresh_core::models::{TokenBatch, TransformerClassifier, TransformerConfig};
use thresh_core::{Tensor, Threads};

const FIXTURE: &str = include_str!("fixtures/transformer_parity.json");

/// Largest accepted absolute difference between a thresh logit and PyTorch's.
const TOLERANCE: f32 = 1e-4;

fn usize_field(v: &Value, key: &str) -> usize {
    v[key].as_u64().unwrap_or_else(|| panic!("`{key}` is not an unsigned integer")) as usize
}

fn bool_field(v: &Value, key: &str) -> bool {
    v[key].as_bool().unwrap_or_else(|| panic!("`{key}` is not a boolean"))
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("`{key}` is not a string"))
}

fn floats(v: &Value) -> Vec<f32> {
    let items = v.as_array().expect("expected an array of numbers");
    items.iter().map(|x| x.as_f64().expect("expected a number") as f32).collect()
}

fn config(c: &Value) -> TransformerConfig {
    let activation = match str_field(c, "activation") {
        "gelu" => ActivationKind::Gelu,
        "relu" => ActivationKind::Relu,
        other => panic!("unknown activation {other:?}"),
    };
    let pooling = match str_field(c, "pooling") {
        "mean" => PoolingKind::Mean,
        "first" => PoolingKind::First,
        other => panic!("unknown pooling {other:?}"),
    };
    TransformerConfig {
        vocab_size: usize_field(c, "vocab_size"),
        max_len: usize_field(c, "max_len"),
        d_model: usize_field(c, "d_model"),
        layers: usize_field(c, "layers"),
        heads: usize_field(c, "heads"),
        d_ff: usize_field(c, "d_ff"),
        classes: usize_field(c, "classes"),
        dropout: 0.0,
        attention_dropout: 0.0,
        embedding_dropout: 0.0,
        head_dropout: 0.0,
        activation,
        norm_first: bool_field(c, "norm_first"),
        embedding_norm: false,
        final_norm: bool_field(c, "final_norm"),
        pooling,
        layer_norm_eps: 1e-5,
        embedding_init_std: 1.0,
        pooler: false,
        head_dim: None,
    }
}

fn weights(w: &Value) -> BTreeMap<String, Tensor> {
    let w = w.as_object().expect("`weights` is not an object");
    w.iter()
        .map(|(name, t)| {
            let shape: Vec<usize> = t["shape"]
                .as_array()
                .expect("`shape` is not an array")
                .iter()
                .map(|s| s.as_u64().expect("bad dimension") as usize)
                .collect();
            let tensor = Tensor::from_vec(floats(&t["data"]), &shape)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            (name.clone(), tensor)
        })
        .collect()
}

/// One fixture case: the model with PyTorch's weights, its batch and the expected logits.
struct Case {
    name: String,
    model: TransformerClassifier,
    batch: TokenBatch,
    expected: Vec<f32>,
}

fn cases() -> Vec<Case> {
    let doc: Value = serde_json::from_str(FIXTURE).expect("fixture is not valid JSON");
    let cases = doc["cases"].as_array().expect("`cases` is not an array");
    cases
        .iter()
        .map(|c| {
            let name = str_field(c, "name").to_string();
            // The seed only fills weights that are all overwritten below.
            let mut model = TransformerClassifier::new(config(&c["config"]), 0).unwrap();
            let source = Path::new("fixtures/transformer_parity.json");
            thresh_core::io::assign_params(source, &mut model, weights(&c["weights"]))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let lengths: Vec<usize> = c["lengths"]
                .as_array()
                .expect("`lengths` is not an array")
                .iter()
                .map(|l| l.as_u64().expect("bad length") as usize)
                .collect();
            let ids: Vec<u32> = c["ids"]
                .as_array()
                .expect("`ids` is not an array")
                .iter()
                .map(|i| i.as_u64().expect("bad id") as u32)
                .collect();
            let mask = PaddingMask::from_lengths(usize_field(c, "seq"), lengths).unwrap();
            let batch = TokenBatch::new(ids, mask).unwrap();
            Case { name, model, batch, expected: floats(&c["logits"]) }
        })
        .collect()
}

/// Logits of every case, computed on a pool of `threads` threads.
fn run_all(threads: usize) -> Vec<(String, Vec<f32>, Vec<f32>)> {
    let pool = Threads::new(threads).unwrap();
    pool.install(|| {
        cases()
            .into_iter()
            .map(|mut case| {
                let classes = case.model.config().classes;
                let logits = case.model.forward(&case.batch, false).unwrap();
                assert_eq!(logits.shape(), &[case.batch.mask.batch(), classes], "{}", case.name);
                (case.name, logits.data().to_vec(), case.expected)
            })
            .collect()
    })
}

/// Every logit of every fixture case is within 1e-4 absolute of PyTorch's (the fixture's own
/// float32-versus-float64 discrepancy is below 1e-6, so the margin is for thresh's rounding:
/// fused kernels and a different summation order). Cases: pre-LN/GELU/mean pooling,
/// post-LN/ReLU/first-token pooling, and pre-LN with a final layer norm; each on a batch with
/// lengths 7, 4 and 1 padded to 7. The pass runs on 2 threads and again on 1, and the two must
/// agree bit for bit.
#[test]
fn classifier_forward_matches_pytorch() {
    let two = run_all(2);
    assert_eq!(two.len(), 3, "expected three fixture cases");
    for (name, got, want) in &two {
        assert_eq!(got.len(), want.len(), "{name}: logit count");
        let max_diff = got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
        println!("{name}: max |thresh - torch| = {max_diff:.3e}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= TOLERANCE,
                "{name}: logit {i} is {g}, PyTorch gives {w} (|diff| {:.3e} > {TOLERANCE:e})",
                (g - w).abs()
            );
        }
    }
    let one = run_all(1);
    for ((name, got2, _), (_, got1, _)) in two.iter().zip(&one) {
        let (bits2, bits1): (Vec<u32>, Vec<u32>) = (
            got2.iter().map(|v| v.to_bits()).collect(),
            got1.iter().map(|v| v.to_bits()).collect(),
        );
        assert_eq!(bits2, bits1, "{name}: logits differ between 2 threads and 1");
    }
}
