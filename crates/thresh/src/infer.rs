//! Running a network over many texts: class probabilities, losses, predictions.

use crate::model::Network;
use crate::train::batching::{eval_batches, make_batch};
use thresh_core::CoreError;

/// Examples per inference batch.
pub const INFER_BATCH: usize = 64;

/// Class logits for every sequence of `ids`, row-major `[n, classes]`, in input order.
/// Batches group similar lengths, so padding costs little.
pub fn class_logits(
    network: &mut Network,
    ids: &[Vec<u32>],
    pad: u32,
    classes: usize,
) -> Result<Vec<f32>, CoreError> {
    let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
    let mut out = vec![0.0f32; ids.len() * classes];
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
            out[i * classes..(i + 1) * classes].copy_from_slice(logits.row(row));
        }
    }
    Ok(out)
}

/// Class probabilities for every sequence of `ids`, row-major `[n, classes]`, in input order:
/// a softmax over each row, or for a one-vs-all network a sigmoid of each logit (so a row
/// need not sum to 1).
pub fn class_probabilities(
    network: &mut Network,
    ids: &[Vec<u32>],
    pad: u32,
    classes: usize,
) -> Result<Vec<f32>, CoreError> {
    let mut values = class_logits(network, ids, pad, classes)?;
    probabilities_in_place(&mut values, classes, network.one_vs_all());
    Ok(values)
}

/// Turns rows of logits into probabilities: softmax per row, or sigmoid per value.
pub fn probabilities_in_place(values: &mut [f32], classes: usize, one_vs_all: bool) {
    if one_vs_all {
        values.iter_mut().for_each(|v| *v = thresh_core::layers::one_vs_all::sigmoid(*v));
    } else {
        let mut row = vec![0.0f32; classes];
        for chunk in values.chunks_exact_mut(classes) {
            row.copy_from_slice(chunk);
            softmax_into(&row, chunk);
        }
    }
}

/// One-vs-all scores of rows of logits against label sets: the mean over examples with a
/// known label of the summed binary cross-entropy of every class (the training loss), and
/// precision at one (the share whose top class is one of its labels). `first[i]` is example
/// `i`'s first known class, `also[i]` its other ones.
pub fn one_vs_all_loss_and_precision(
    logits: &[f32],
    first: &[Option<usize>],
    also: &[Vec<usize>],
    classes: usize,
) -> (f64, f64) {
    let (mut loss, mut correct, mut n) = (0.0f64, 0usize, 0usize);
    for ((row, first), also) in logits.chunks_exact(classes).zip(first).zip(also) {
        let Some(y) = *first else { continue };
        let truth = |k: usize| k == y || also.contains(&k);
        for (k, &l) in row.iter().enumerate() {
            let l = f64::from(l);
            // softplus(l) - y·l, computed without overflow.
            let softplus = l.max(0.0) + (-l.abs()).exp().ln_1p();
            loss += softplus - if truth(k) { l } else { 0.0 };
        }
        correct += usize::from(truth(argmax(row)));
        n += 1;
    }
    if n == 0 {
        (0.0, 0.0)
    } else {
        (loss / n as f64, correct as f64 / n as f64)
    }
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

    /// The one-vs-all loss is the summed binary cross-entropy of the sigmoids; precision at
    /// one counts a top class that is any of the example's labels.
    #[test]
    fn one_vs_all_loss_is_summed_binary_cross_entropy() {
        let logits = [2.0f32, -1.0, 0.5, 0.0, 3.0, -2.0, 1.0, 1.0, 1.0];
        let first = [Some(0), Some(2), None];
        let also = [vec![2], vec![], vec![]];
        let (loss, p1) = one_vs_all_loss_and_precision(&logits, &first, &also, 3);
        let s = |x: f64| 1.0 / (1.0 + (-x).exp());
        let bce = |x: f64, y: bool| if y { -s(x).ln() } else { -(1.0 - s(x)).ln() };
        let want = (bce(2.0, true) + bce(-1.0, false) + bce(0.5, true))
            + (bce(0.0, false) + bce(3.0, false) + bce(-2.0, true));
        assert!((loss - want / 2.0).abs() < 1e-9, "{loss} vs {}", want / 2.0);
        // Example 0's top class (0) is a label; example 1's (1) is not.
        assert_eq!(p1, 0.5);
        let mut probs = logits;
        probabilities_in_place(&mut probs, 3, true);
        assert!((probs[0] as f64 - s(2.0)).abs() < 1e-6);
        let mut soft = [0.0f32, 0.0, 2.0f32.ln()];
        probabilities_in_place(&mut soft, 3, false);
        assert!((soft[2] - 0.5).abs() < 1e-6 && (soft[0] - 0.25).abs() < 1e-6);
    }
}
