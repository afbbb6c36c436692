//! Global gradient-norm clipping, as PyTorch's `clip_grad_norm_`.

use crate::param::Module;

/// Scales all trainable gradients so their joint L2 norm is at most `max_norm`; returns the norm
/// before clipping. The norm is summed in `f64` in parameter order, so it is deterministic.
pub fn clip_grad_norm(model: &mut dyn Module, max_norm: f32) -> f32 {
    let mut sq = 0.0f64;
    model.visit(&mut |p| {
        if p.trainable {
            sq += p.grad.data().iter().map(|&g| g as f64 * g as f64).sum::<f64>();
        }
    });
    let norm = sq.sqrt() as f32;
    let scale = max_norm / (norm + 1e-6);
    if scale < 1.0 {
        model.visit_mut(&mut |p| {
            if p.trainable {
                p.grad.data_mut().iter_mut().for_each(|g| *g *= scale);
            }
        });
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::Param;
    use crate::tensor::Tensor;

    struct Two(Param, Param);
    impl Module for Two {
        fn visit(&self, f: &mut dyn FnMut(&Param)) {
            f(&self.0);
            f(&self.1);
        }
        fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
            f(&mut self.0);
            f(&mut self.1);
        }
    }

    #[test]
    fn clips_to_the_global_norm() {
        let mut m = Two(Param::new("a", Tensor::zeros(&[1])), Param::new("b", Tensor::zeros(&[1])));
        m.0.grad.data_mut()[0] = 3.0;
        m.1.grad.data_mut()[0] = 4.0;
        assert_eq!(clip_grad_norm(&mut m, 10.0), 5.0);
        assert_eq!(m.0.grad.data()[0], 3.0);
        clip_grad_norm(&mut m, 1.0);
        assert!((m.0.grad.data()[0] - 0.6).abs() < 1e-5 && (m.1.grad.data()[0] - 0.8).abs() < 1e-5);
    }
}
