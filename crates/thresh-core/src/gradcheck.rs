//! Finite-difference gradient checks, used by every layer's tests.
//!
//! The scalar being differentiated is `L = Σ y ⊙ r` for a fixed random tensor `r`, so the
//! output gradient handed to `backward` is `r`. Each checked element `i` gets the central
//! difference `(L(θ + ε eᵢ) − L(θ − ε eᵢ)) / 2ε`, computed with the loss summed in `f64`, and the
//! analytic gradient must satisfy `|a − n| ≤ tol · max(|a|, |n|) + 1e-3`.

use crate::param::Module;
use crate::rng::Rng;
use crate::tensor::Tensor;

/// Elements checked per tensor; spread over the tensor by a seeded generator.
const SAMPLES: usize = 40;
/// Absolute slack for gradients near zero, where `f32` rounding dominates.
const ATOL: f64 = 1e-3;

/// A tensor of standard-normal values.
pub fn random_tensor(shape: &[usize], rng: &mut Rng) -> Tensor {
    let len = shape.iter().product();
    Tensor::from_vec((0..len).map(|_| rng.normal()).collect(), shape).unwrap()
}

fn weighted_sum(y: &Tensor, r: &Tensor) -> f64 {
    assert_eq!(y.shape(), r.shape(), "gradient check: output and weights differ in shape");
    y.data().iter().zip(r.data()).map(|(&a, &b)| a as f64 * b as f64).sum()
}

fn sample_indices(len: usize, seed: u64) -> Vec<usize> {
    if len <= SAMPLES {
        return (0..len).collect();
    }
    let mut rng = Rng::new(seed);
    (0..SAMPLES).map(|_| rng.below(len)).collect()
}

fn compare(what: &str, index: usize, analytic: f32, numeric: f64, tol: f64) {
    let a = analytic as f64;
    let bound = tol * a.abs().max(numeric.abs()) + ATOL;
    assert!(
        (a - numeric).abs() <= bound,
        "{what}[{index}]: analytic {a:.6} vs numeric {numeric:.6} (bound {bound:.2e})"
    );
}

/// Checks the input gradient of `layer` at `x`.
///
/// `forward(layer, x)` returns the output; `backward(layer, x, dy)` returns the input gradient.
pub fn check_input_grad<L>(
    layer: &mut L,
    x: &Tensor,
    eps: f32,
    tol: f64,
    mut forward: impl FnMut(&mut L, &Tensor) -> Tensor,
    mut backward: impl FnMut(&mut L, &Tensor, &Tensor) -> Tensor,
) {
    let y = forward(layer, x);
    let r = random_tensor(y.shape(), &mut Rng::new(99));
    let dx = backward(layer, x, &r);
    assert_eq!(dx.shape(), x.shape(), "input gradient shape");
    let mut xp = x.clone();
    for i in sample_indices(x.len(), 1) {
        let orig = xp.data()[i];
        xp.data_mut()[i] = orig + eps;
        let plus = weighted_sum(&forward(layer, &xp), &r);
        xp.data_mut()[i] = orig - eps;
        let minus = weighted_sum(&forward(layer, &xp), &r);
        xp.data_mut()[i] = orig;
        compare("input", i, dx.data()[i], (plus - minus) / (2.0 * eps as f64), tol);
    }
}

/// Checks the gradient of every trainable parameter of `layer` at input `x`.
///
/// `forward(layer, x)` returns the output; `backward(layer, x, dy)` accumulates parameter
/// gradients (gradients are zeroed before it runs).
pub fn check_param_grads<L: Module>(
    layer: &mut L,
    x: &Tensor,
    eps: f32,
    tol: f64,
    mut forward: impl FnMut(&mut L, &Tensor) -> Tensor,
    mut backward: impl FnMut(&mut L, &Tensor, &Tensor),
) {
    let y = forward(layer, x);
    let r = random_tensor(y.shape(), &mut Rng::new(98));
    layer.zero_grad();
    backward(layer, x, &r);
    let mut grads = Vec::new();
    layer.visit(&mut |p| grads.push((p.name.clone(), p.grad.clone(), p.trainable)));
    for (k, (name, grad, trainable)) in grads.iter().enumerate() {
        if !trainable {
            continue;
        }
        for i in sample_indices(grad.len(), k as u64 + 2) {
            let mut loss_at = |delta: f32, layer: &mut L| {
                let mut n = 0;
                layer.visit_mut(&mut |p| {
                    if n == k {
                        p.value.data_mut()[i] += delta;
                    }
                    n += 1;
                });
                let l = weighted_sum(&forward(layer, x), &r);
                let mut n = 0;
                layer.visit_mut(&mut |p| {
                    if n == k {
                        p.value.data_mut()[i] -= delta;
                    }
                    n += 1;
                });
                l
            };
            let plus = loss_at(eps, layer);
            let minus = loss_at(-eps, layer);
            compare(name, i, grad.data()[i], (plus - minus) / (2.0 * eps as f64), tol);
        }
    }
}
