//! Softmax cross-entropy with optional class weights and label smoothing.
//!
//! For logits `z` (`[batch, classes]`), `p = softmax(z)`, label `y`, smoothing `ε` and `C`
//! classes, each example's loss is `ℓ = (1−ε)(−log p_y) + (ε/C) Σ_c (−log p_c)`. With class
//! weights `w`, the batch loss is `Σ w_y ℓ / Σ w_y`; without, the mean. This is PyTorch's
//! `cross_entropy` when at most one of the two options is used. The gradient with respect to
//! the logits is `w_y (p − q) / Σ w_y` with `q = (1−ε) onehot(y) + ε/C`.

use crate::error::CoreError;
use crate::math;
use crate::tensor::Tensor;

/// Checks that there are `found == n` examples' labels and that every class index in
/// `labels` is below `classes`; shared by the losses.
pub(crate) fn check_labels(
    n: usize,
    classes: usize,
    found: usize,
    mut labels: impl Iterator<Item = usize>,
) -> Result<(), CoreError> {
    if found != n {
        return Err(CoreError::ShapeMismatch {
            what: "labels".into(),
            expected: vec![n],
            found: vec![found],
        });
    }
    match labels.find(|&l| l >= classes) {
        Some(label) => Err(CoreError::LabelOutOfRange { label, classes }),
        None => Ok(()),
    }
}

/// Cross-entropy loss over logits.
#[derive(Clone, Debug, Default)]
pub struct CrossEntropy {
    class_weights: Option<Vec<f32>>,
    label_smoothing: f32,
    probs: Tensor,
    dlogits: Tensor,
}

impl CrossEntropy {
    /// Plain cross-entropy.
    pub fn new() -> Self {
        CrossEntropy::default()
    }

    /// Weights each example by the weight of its true class.
    #[must_use]
    pub fn with_class_weights(mut self, weights: Option<Vec<f32>>) -> Self {
        self.class_weights = weights;
        self
    }

    /// Mixes the target with the uniform distribution by `epsilon`.
    #[must_use]
    pub fn with_label_smoothing(mut self, epsilon: f32) -> Self {
        self.label_smoothing = epsilon;
        self
    }

    /// The batch loss; also computes the gradient returned by [`CrossEntropy::grad`].
    pub fn forward(&mut self, logits: &Tensor, labels: &[usize]) -> Result<f32, CoreError> {
        let (n, c) = (logits.rows(), logits.cols());
        check_labels(n, c, labels.len(), labels.iter().copied())?;
        if let Some(w) = &self.class_weights {
            if w.len() != c {
                return Err(CoreError::InvalidConfig(format!(
                    "{} class weights for {c} classes",
                    w.len()
                )));
            }
        }
        self.probs.copy_from(logits);
        self.dlogits.resize(&[n, c]);
        let eps = self.label_smoothing;
        let weight = |y: usize| self.class_weights.as_ref().map_or(1.0, |w| w[y]);
        let total_w: f64 = labels.iter().map(|&y| weight(y) as f64).sum();
        let mut loss = 0.0f64;
        for (i, &y) in labels.iter().enumerate() {
            let z = logits.row(i);
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let lse = max as f64 + z.iter().map(|&v| ((v - max) as f64).exp()).sum::<f64>().ln();
            let nll = lse - z[y] as f64;
            let smooth = lse - z.iter().map(|&v| v as f64).sum::<f64>() / c as f64;
            let w = weight(y) as f64;
            loss += w * ((1.0 - eps as f64) * nll + eps as f64 * smooth);
            let scale = (w / total_w.max(f64::MIN_POSITIVE)) as f32;
            let p_row = &mut self.probs.data_mut()[i * c..(i + 1) * c];
            for v in p_row.iter_mut() {
                *v = math::exp(*v - lse as f32);
            }
            let g_row = &mut self.dlogits.data_mut()[i * c..(i + 1) * c];
            for k in 0..c {
                let q = eps / c as f32 + if k == y { 1.0 - eps } else { 0.0 };
                g_row[k] = scale * (p_row[k] - q);
            }
        }
        Ok((loss / total_w.max(f64::MIN_POSITIVE)) as f32)
    }

    /// Softmax probabilities of the last forward pass.
    pub fn probs(&self) -> &Tensor {
        &self.probs
    }

    /// Gradient of the last loss with respect to the logits.
    pub fn grad(&self) -> &Tensor {
        &self.dlogits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::random_tensor;
    use crate::rng::Rng;

    #[test]
    fn matches_reference_values() {
        // torch.nn.functional.cross_entropy(torch.tensor([[1., 2., 0.5], [0., -1., 3.]]),
        //     torch.tensor([1, 0])) == 1.7651
        let z = Tensor::from_vec(vec![1., 2., 0.5, 0., -1., 3.], &[2, 3]).unwrap();
        let loss = CrossEntropy::new().forward(&z, &[1, 0]).unwrap();
        assert!((loss - 1.765_1).abs() < 1e-4, "{loss}");
        // ... weight=torch.tensor([1., 3., 1.]) gives 1.1147; label_smoothing=0.1 gives 1.7735
        let mut w = CrossEntropy::new().with_class_weights(Some(vec![1., 3., 1.]));
        assert!((w.forward(&z, &[1, 0]).unwrap() - 1.114_7).abs() < 1e-4);
        let mut s = CrossEntropy::new().with_label_smoothing(0.1);
        assert!((s.forward(&z, &[1, 0]).unwrap() - 1.773_5).abs() < 1e-4);
    }

    #[test]
    fn rejects_bad_labels() {
        let z = Tensor::zeros(&[2, 3]);
        let mut ce = CrossEntropy::new();
        assert!(matches!(ce.forward(&z, &[0, 3]), Err(CoreError::LabelOutOfRange { .. })));
        assert!(ce.forward(&z, &[0]).is_err());
    }

    /// Central differences with step 1e-2 on the logits, all option combinations;
    /// tolerance 1e-2 relative plus 1e-3 absolute.
    #[test]
    fn cross_entropy_gradient_check() {
        let mut rng = Rng::new(12);
        let z = random_tensor(&[5, 4], &mut rng);
        let labels = [0, 3, 1, 1, 2];
        for (weights, eps) in [
            (None, 0.0),
            (Some(vec![0.5, 2.0, 1.0, 3.0]), 0.0),
            (None, 0.2),
            (Some(vec![0.5, 2.0, 1.0, 3.0]), 0.1),
        ] {
            let mut ce = CrossEntropy::new().with_class_weights(weights).with_label_smoothing(eps);
            ce.forward(&z, &labels).unwrap();
            let g = ce.grad().clone();
            for i in 0..z.len() {
                let mut zp = z.clone();
                zp.data_mut()[i] += 1e-2;
                let plus = ce.forward(&zp, &labels).unwrap() as f64;
                zp.data_mut()[i] -= 2e-2;
                let minus = ce.forward(&zp, &labels).unwrap() as f64;
                let num = (plus - minus) / 2e-2;
                let a = g.data()[i] as f64;
                assert!(
                    (a - num).abs() <= 1e-2 * a.abs().max(num.abs()) + 1e-3,
                    "{i}: {a} vs {num}"
                );
            }
        }
    }
}
