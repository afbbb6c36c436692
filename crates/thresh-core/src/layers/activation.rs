//! Element-wise activations: GELU (the exact erf form BERT uses) and ReLU.
//!
//! `gelu(x) = x · Φ(x) = ½ x (1 + erf(x/√2))`, `gelu'(x) = Φ(x) + x · φ(x)`.
//! Shapes: output and gradients have the input's shape.

use crate::tensor::Tensor;
use rayon::prelude::*;

use crate::kernels;

const CHUNK: usize = 8192;

/// Which element-wise non-linearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActivationKind {
    /// Gaussian error linear unit, erf form.
    Gelu,
    /// Rectified linear unit.
    Relu,
}

impl ActivationKind {
    /// The activation's value at `x`.
    #[inline]
    pub fn value(self, x: f32) -> f32 {
        match self {
            ActivationKind::Gelu => kernels::gelu_value(x),
            ActivationKind::Relu => x.max(0.0),
        }
    }

    /// The derivative at `x`.
    #[inline]
    pub fn derivative(self, x: f32) -> f32 {
        match self {
            ActivationKind::Gelu => kernels::gelu_derivative(x),
            ActivationKind::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// An activation layer.
#[derive(Clone, Debug)]
pub struct Activation {
    kind: ActivationKind,
    out: Tensor,
    dx: Tensor,
}

impl Activation {
    /// A layer applying `kind`.
    pub fn new(kind: ActivationKind) -> Self {
        Activation { kind, out: Tensor::default(), dx: Tensor::default() }
    }

    /// Which activation this is.
    pub fn kind(&self) -> ActivationKind {
        self.kind
    }

    /// Applies the activation element-wise.
    pub fn forward(&mut self, x: &Tensor) -> &Tensor {
        self.out.resize(x.shape());
        let kind = self.kind;
        self.out.data_mut().par_chunks_mut(CHUNK).zip(x.data().par_chunks(CHUNK)).for_each(
            |(y, x)| match kind {
                ActivationKind::Gelu => kernels::gelu(x, y),
                ActivationKind::Relu => y.iter_mut().zip(x).for_each(|(y, &x)| *y = x.max(0.0)),
            },
        );
        &self.out
    }

    /// Adds `bias` to every row of `x` in place (so `x` is what backward needs), then applies
    /// the activation; one pass instead of two.
    pub fn forward_bias(&mut self, x: &mut Tensor, bias: Option<&[f32]>) -> &Tensor {
        let Some(bias) = bias else {
            return self.forward(x);
        };
        let cols = bias.len();
        assert_eq!(x.cols(), cols, "activation bias width");
        self.out.resize(x.shape());
        let kind = self.kind;
        let chunk = crate::threads::rows_per_task(cols) * cols;
        self.out.data_mut().par_chunks_mut(chunk).zip(x.data_mut().par_chunks_mut(chunk)).for_each(
            |(y, u)| match kind {
                ActivationKind::Gelu => kernels::bias_gelu(u, bias, y),
                ActivationKind::Relu => {
                    kernels::add_bias_rows(u, bias);
                    y.iter_mut().zip(u.iter()).for_each(|(y, &x)| *y = x.max(0.0));
                }
            },
        );
        &self.out
    }

    /// The output of the last forward pass.
    pub fn output(&self) -> &Tensor {
        &self.out
    }

    /// Returns `dy ⊙ f'(x)` for the forward input `x`.
    pub fn backward(&mut self, x: &Tensor, dy: &Tensor) -> &Tensor {
        self.dx.resize(x.shape());
        let kind = self.kind;
        self.dx
            .data_mut()
            .par_chunks_mut(CHUNK)
            .zip(x.data().par_chunks(CHUNK))
            .zip(dy.data().par_chunks(CHUNK))
            .for_each(|((dx, x), dy)| match kind {
                ActivationKind::Gelu => kernels::gelu_backward(x, dy, dx),
                ActivationKind::Relu => {
                    for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                        *dx = if x > 0.0 { dy } else { 0.0 };
                    }
                }
            });
        &self.dx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, random_tensor};
    use crate::rng::Rng;

    #[test]
    fn gelu_matches_reference_values() {
        // torch.nn.functional.gelu(torch.tensor([-2., -0.5, 0., 1., 3.]))
        let want = [-0.045_500_26, -0.154_268_54, 0.0, 0.841_344_7, 2.995_950_4];
        for (x, w) in [-2.0f32, -0.5, 0.0, 1.0, 3.0].iter().zip(want) {
            assert!((ActivationKind::Gelu.value(*x) - w).abs() < 1e-6);
        }
    }

    /// Central differences with step 1e-3 away from ReLU's kink; relative tolerance 1e-2.
    #[test]
    fn activation_gradient_check() {
        let mut rng = Rng::new(4);
        let mut x = random_tensor(&[5, 7], &mut rng);
        x.data_mut().iter_mut().for_each(|v| {
            if v.abs() < 0.05 {
                *v += 0.2
            }
        });
        for kind in [ActivationKind::Gelu, ActivationKind::Relu] {
            let mut act = Activation::new(kind);
            check_input_grad(
                &mut act,
                &x,
                1e-3,
                1e-2,
                |a, x| a.forward(x).clone(),
                |a, x, dy| a.backward(x, dy).clone(),
            );
        }
    }
}
