//! One-vs-all loss for multi-label classification: each class is its own yes/no question.
//!
//! For logits `z` (`[batch, classes]`) and the set `Y` of an example's true classes, the
//! example's loss is `Σ_c softplus(z_c) − [c ∈ Y] z_c`, the binary cross-entropy of
//! `σ(z_c)` against `[c ∈ Y]`, computed without overflow; the batch loss is the mean over
//! examples (PyTorch's `BCEWithLogitsLoss` summed over classes). The gradient with respect
//! to the logits is `(σ(z) − [c ∈ Y]) / batch`.

use crate::error::CoreError;
use crate::math;
use crate::tensor::Tensor;

/// `log(1 + eˣ)` without overflow.
pub fn softplus(x: f32) -> f32 {
    x.max(0.0) + math::exp(-x.abs()).ln_1p()
}

/// The logistic function.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + math::exp(-x))
    } else {
        let e = math::exp(x);
        e / (1.0 + e)
    }
}

/// One-vs-all (sigmoid) loss over logits.
#[derive(Clone, Debug, Default)]
pub struct OneVsAll {
    dlogits: Tensor,
}

impl OneVsAll {
    /// A loss with no state yet.
    pub fn new() -> Self {
        OneVsAll::default()
    }

    /// The batch loss for the true classes `labels[i]` of each example; also computes the
    /// gradient returned by [`OneVsAll::grad`].
    pub fn forward(&mut self, logits: &Tensor, labels: &[&[usize]]) -> Result<f32, CoreError> {
        let (n, c) = (logits.rows(), logits.cols());
        super::loss::check_labels(
            n,
            c,
            labels.len(),
            labels.iter().flat_map(|l| l.iter().copied()),
        )?;
        self.dlogits.resize(&[n, c]);
        let inv = 1.0 / n.max(1) as f32;
        let mut total = 0.0f64;
        let rows = logits.data().chunks(c).zip(self.dlogits.data_mut().chunks_mut(c));
        for ((z, g), truth) in rows.zip(labels) {
            for (k, (&zk, gk)) in z.iter().zip(g.iter_mut()).enumerate() {
                let y = f32::from(u8::from(truth.contains(&k)));
                total += f64::from(softplus(zk) - y * zk);
                *gk = (sigmoid(zk) - y) * inv;
            }
        }
        Ok((total / n.max(1) as f64) as f32)
    }

    /// Gradient of the last batch loss with respect to the logits.
    pub fn grad(&self) -> &Tensor {
        &self.dlogits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, random_tensor};
    use crate::rng::Rng;

    #[test]
    fn matches_the_binary_cross_entropy_and_stays_finite() {
        let logits = Tensor::from_vec(vec![0.0, 2.0, -1.0, 100.0, -100.0, 0.5], &[2, 3]).unwrap();
        let labels: [&[usize]; 2] = [&[1], &[0, 2]];
        let loss = OneVsAll::new().forward(&logits, &labels).unwrap();
        let bce = |z: f32, y: f32| -(y * sigmoid(z).ln() + (1.0 - y) * (1.0 - sigmoid(z)).ln());
        let first = bce(0.0, 0.0) + bce(2.0, 1.0) + bce(-1.0, 0.0);
        // 100 labelled true and -100 labelled false cost nothing; 0.5 labelled true does.
        let second = bce(0.5, 1.0);
        assert!((loss - (first + second) / 2.0).abs() < 1e-5, "{loss}");
        assert!(OneVsAll::new().forward(&logits, &[&[3], &[]]).is_err());
        assert!(softplus(1000.0).is_finite() && softplus(-1000.0) < 1e-6);
    }

    /// Central differences with step 1e-2, tolerance 1e-2.
    #[test]
    fn one_vs_all_gradient_check() {
        let logits = random_tensor(&[4, 5], &mut Rng::new(3));
        let labels: [&[usize]; 4] = [&[0], &[1, 4], &[], &[2, 3, 4]];
        let mut loss = OneVsAll::new();
        check_input_grad(
            &mut loss,
            &logits,
            1e-2,
            1e-2,
            |l, z| {
                let v = l.forward(z, &labels).unwrap();
                Tensor::from_vec(vec![v], &[1]).unwrap()
            },
            |l, z, dy| {
                l.forward(z, &labels).unwrap();
                let mut g = l.grad().clone();
                g.data_mut().iter_mut().for_each(|x| *x *= dy.data()[0]);
                g
            },
        );
    }
}
