//! Running a network over many texts: class probabilities, losses, predictions.

use crate::model::Network;
use crate::train::batching::{eval_batches, make_batch};
use thresh_core::CoreError;

/// Examples per inference batch.
pub const INFER_BATCH: usize = 64;

/// Class probabilities for every sequence of `ids`, row-major `[n, classes]`, in input order.
/// Batches group similar lengths, so padding costs little.
pub fn class_probabilities(
    network: &mut Network,
    ids: &[Vec<u32>],
    pad: u32,
    classes: usize,
) -> Result<Vec<f32>, CoreError> {
    let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
    let mut probs = vec![0.0f32; ids.len() * classes];
    for batch in eval_batches(&lengths, INFER_BATCH) {
        let tokens = make_batch(ids, &batch, pad);
        let logits = network.forward(&tokens, false)?;
        if logits.cols() != classes {
            return Err(CoreError::ShapeMismatch {
                what: "logits".into(),
                expected: vec![batch.len(), classes],
                found: logits.shape().to_vec(),
            });
        }
        for (row, &i) in batch.iter().enumerate() {
            let out = &mut probs[i * classes..(i + 1) * classes];
            softmax_into(logits.row(row), out);
        }
    }
    Ok(probs)
}

/// Softmax of `logits` into `out`, computed in f64 for stable small probabilities.
fn softmax_into(logits: &[f32], out: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let z: f64 = logits.iter().map(|&v| ((v - max) as f64).exp()).sum();
    for (o, &v) in out.iter_mut().zip(logits) {
        *o = (((v - max) as f64).exp() / z) as f32;
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Mean cross-entropy and accuracy over the examples whose label is known.
pub fn loss_and_accuracy(probs: &[f32], labels: &[Option<usize>], classes: usize) -> (f64, f64) {
    let (mut loss, mut correct, mut n) = (0.0f64, 0usize, 0usize);
    for (row, label) in probs.chunks_exact(classes).zip(labels) {
        let Some(y) = *label else { continue };
        loss -= (row[y] as f64).max(1e-12).ln();
        correct += usize::from(argmax(row) == y);
        n += 1;
    }
    if n == 0 {
        (0.0, 0.0)
    } else {
        (loss / n as f64, correct as f64 / n as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_and_accuracy_skip_unknown_labels() {
        let probs = [0.9, 0.1, 0.2, 0.8, 0.5, 0.5];
        let (loss, acc) = loss_and_accuracy(&probs, &[Some(0), Some(0), None], 2);
        assert!((loss - (-(0.9f64.ln()) - 0.2f64.ln()) / 2.0).abs() < 1e-6);
        assert_eq!(acc, 0.5);
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        let mut out = [0.0; 2];
        softmax_into(&[0.0, 0.0], &mut out);
        assert_eq!(out, [0.5, 0.5]);
    }
}
