//! BERT's pooler: a square linear map of the pooled vector followed by `tanh`.
//!
//! Shapes: input `[batch, d]`, output `[batch, d]`. Parameters `name.weight` `[d, d]` and
//! `name.bias` `[d]`, in the layout of Hugging Face's `pooler.dense`.

use crate::layers::Linear;
use crate::param::{Module, Param};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// `tanh(x Wᵀ + b)`.
#[derive(Clone, Debug)]
pub struct Pooler {
    /// The square map.
    pub dense: Linear,
    out: Tensor,
    grad: Tensor,
}

impl Pooler {
    /// A pooler of width `d` with parameters under `name`.
    pub fn new(name: &str, d: usize, rng: &mut Rng) -> Self {
        Pooler {
            dense: Linear::new(name, d, d, true, rng),
            out: Tensor::default(),
            grad: Tensor::default(),
        }
    }

    /// `tanh(x Wᵀ + b)` for `x` of shape `[batch, d]`.
    pub fn forward(&mut self, x: &Tensor) -> &Tensor {
        let y = self.dense.forward(x);
        self.out.resize(y.shape());
        for (o, &v) in self.out.data_mut().iter_mut().zip(y.data()) {
            *o = v.tanh();
        }
        &self.out
    }

    /// The output of the last forward pass.
    pub fn output(&self) -> &Tensor {
        &self.out
    }

    /// Accumulates the parameter gradients for input `x` and output gradient `dy`, and
    /// returns the gradient with respect to `x`.
    pub fn backward(&mut self, x: &Tensor, dy: &Tensor) -> &Tensor {
        self.grad.resize(dy.shape());
        for ((g, &d), &y) in self.grad.data_mut().iter_mut().zip(dy.data()).zip(self.out.data()) {
            *g = d * (1.0 - y * y);
        }
        self.dense.backward(x, &self.grad)
    }
}

impl Module for Pooler {
    fn visit(&self, f: &mut dyn FnMut(&Param)) {
        self.dense.visit(f);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
        self.dense.visit_mut(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, check_param_grads, random_tensor};

    /// Central differences with step 1e-2, relative tolerance 1e-2.
    #[test]
    fn pooler_gradient_check() {
        let mut rng = Rng::new(5);
        let mut pooler = Pooler::new("pooler", 6, &mut rng);
        let x = random_tensor(&[3, 6], &mut rng);
        let fwd = |p: &mut Pooler, x: &Tensor| p.forward(x).clone();
        check_input_grad(&mut pooler, &x, 1e-2, 1e-2, fwd, |p, x, dy| p.backward(x, dy).clone());
        check_param_grads(&mut pooler, &x, 1e-2, 1e-2, fwd, |p, x, dy| {
            p.backward(x, dy);
        });
    }

    #[test]
    fn output_is_tanh_of_the_linear_map() {
        let mut rng = Rng::new(1);
        let mut pooler = Pooler::new("pooler", 2, &mut rng);
        pooler.dense.weight.value.data_mut().copy_from_slice(&[1.0, 0.0, 0.5, 2.0]);
        pooler.dense.bias.as_mut().unwrap().value.data_mut().copy_from_slice(&[0.0, -1.0]);
        let x = Tensor::from_vec(vec![0.5, 1.0], &[1, 2]).unwrap();
        let y = pooler.forward(&x).data().to_vec();
        assert!((y[0] - 0.5f32.tanh()).abs() < 1e-6);
        assert!((y[1] - (0.25f32 + 2.0 - 1.0).tanh()).abs() < 1e-6);
    }
}
