//! Stochastic gradient descent with momentum and L2 weight decay, as PyTorch's `SGD`:
//! `g ← g + λθ`, `b ← μb + g` (`b = g` on the first step), `θ ← θ − lr·b`
//! (Nesterov: `θ ← θ − lr·(g + μb)`).

use crate::param::Module;

/// SGD state and hyperparameters.
#[derive(Clone, Debug)]
pub struct Sgd {
    /// Momentum factor `μ` (0 disables momentum).
    pub momentum: f32,
    /// L2 penalty `λ`, added to the gradient.
    pub weight_decay: f32,
    /// Use Nesterov momentum.
    pub nesterov: bool,
    buffers: Vec<Option<Vec<f32>>>,
}

impl Sgd {
    /// SGD with the given momentum and weight decay.
    pub fn new(momentum: f32, weight_decay: f32) -> Self {
        Sgd { momentum, weight_decay, nesterov: false, buffers: Vec::new() }
    }

    /// Updates every trainable parameter of `model` with learning rate `lr`.
    pub fn step(&mut self, model: &mut dyn Module, lr: f32) {
        let (mu, wd, nesterov) = (self.momentum, self.weight_decay, self.nesterov);
        let buffers = &mut self.buffers;
        let mut index = 0;
        model.visit_mut(&mut |p| {
            if buffers.len() <= index {
                buffers.push(None);
            }
            let slot = &mut buffers[index];
            index += 1;
            if !p.trainable {
                return;
            }
            // The update leaves any compressed form behind.
            p.value_changed();
            p.silence_zero_entries();
            let wd = if p.decay { wd } else { 0.0 };
            let grad = p.grad.data();
            let w = p.value.data_mut();
            if mu == 0.0 {
                for i in 0..w.len() {
                    w[i] -= lr * (grad[i] + wd * w[i]);
                }
                return;
            }
            let first = slot.is_none();
            let buf = slot.get_or_insert_with(|| vec![0.0; w.len()]);
            for i in 0..w.len() {
                let g = grad[i] + wd * w[i];
                buf[i] = if first { g } else { mu * buf[i] + g };
                let d = if nesterov { g + mu * buf[i] } else { buf[i] };
                w[i] -= lr * d;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::Param;
    use crate::tensor::Tensor;

    struct One(Param);
    impl Module for One {
        fn visit(&self, f: &mut dyn FnMut(&Param)) {
            f(&self.0)
        }
        fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
            f(&mut self.0)
        }
    }

    #[test]
    fn momentum_accumulates_like_pytorch() {
        // torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), p = [1.0],
        // grads 1.0 then 1.0: p = 0.89 after step 1, then 0.89 - 0.1*(0.9*1.1 + 1.089) = 0.6821
        let mut m = One(Param::new("p", Tensor::from_vec(vec![1.0], &[1]).unwrap()));
        let mut opt = Sgd::new(0.9, 0.1);
        for _ in 0..2 {
            m.0.grad.data_mut()[0] = 1.0;
            opt.step(&mut m, 0.1);
        }
        assert!((m.0.value.data()[0] - 0.6821).abs() < 1e-5, "{}", m.0.value.data()[0]);
    }
}
