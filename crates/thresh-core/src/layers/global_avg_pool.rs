//! Global average pooling and flattening of NCHW images.
//!
//! [`GlobalAvgPool`] maps `[n, c, h, w]` to `[n, c]`, the mean of each plane; [`Flatten`]
//! maps `[n, c, h, w]` to `[n, c·h·w]` without moving data.

use rayon::prelude::*;

use crate::tensor::Tensor;

/// The mean of each channel plane.
#[derive(Clone, Debug, Default)]
pub struct GlobalAvgPool {
    input_shape: Vec<usize>,
    out: Tensor,
    dx: Tensor,
}

impl GlobalAvgPool {
    /// A pooling layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// `[n, c]` plane means of `x`.
    pub fn forward(&mut self, x: &Tensor) -> &Tensor {
        let s = x.shape();
        assert_eq!(s.len(), 4, "global average pooling input {s:?}");
        let hw = s[2] * s[3];
        self.input_shape = s.to_vec();
        self.out.resize(&[s[0], s[1]]);
        let xd = x.data();
        self.out.data_mut().par_iter_mut().enumerate().for_each(|(plane, o)| {
            *o = xd[plane * hw..(plane + 1) * hw].iter().sum::<f32>() / hw as f32;
        });
        &self.out
    }

    /// The output of the last forward pass.
    pub fn output(&self) -> &Tensor {
        &self.out
    }

    /// The gradient with respect to the last input: each plane gets its output gradient
    /// spread evenly.
    pub fn backward(&mut self, dy: &Tensor) -> &Tensor {
        let s = self.input_shape.clone();
        let hw = s[2] * s[3];
        assert_eq!(dy.shape(), &[s[0], s[1]], "global average pooling gradient shape");
        self.dx.resize(&s);
        let dyd = dy.data();
        self.dx.data_mut().par_chunks_mut(hw).enumerate().for_each(|(plane, dst)| {
            dst.fill(dyd[plane] / hw as f32);
        });
        &self.dx
    }
}

/// `[n, c, h, w]` viewed as `[n, c·h·w]`.
#[derive(Clone, Debug, Default)]
pub struct Flatten {
    input_shape: Vec<usize>,
    out: Tensor,
    dx: Tensor,
}

impl Flatten {
    /// A flattening layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// `x` with every dimension after the first merged.
    pub fn forward(&mut self, x: &Tensor) -> &Tensor {
        let s = x.shape();
        self.input_shape = s.to_vec();
        self.out.resize(&[s[0], s[1..].iter().product()]);
        self.out.data_mut().copy_from_slice(x.data());
        &self.out
    }

    /// The output of the last forward pass.
    pub fn output(&self) -> &Tensor {
        &self.out
    }

    /// `dy` in the shape of the last input.
    pub fn backward(&mut self, dy: &Tensor) -> &Tensor {
        self.dx.resize(&self.input_shape);
        self.dx.data_mut().copy_from_slice(dy.data());
        &self.dx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, random_tensor};
    use crate::rng::Rng;

    /// Central differences, step 1e-2, relative tolerance 1e-2.
    #[test]
    fn global_avg_pool_and_flatten_gradient_check() {
        let mut rng = Rng::new(6);
        let x = random_tensor(&[2, 3, 4, 5], &mut rng);
        let mut gap = GlobalAvgPool::new();
        let y = gap.forward(&x).data().to_vec();
        let first: f32 = x.data()[..20].iter().sum::<f32>() / 20.0;
        assert!((y[0] - first).abs() < 1e-6);
        let fwd = |l: &mut GlobalAvgPool, x: &Tensor| l.forward(x).clone();
        check_input_grad(&mut gap, &x, 1e-2, 1e-2, fwd, |l, _, dy| l.backward(dy).clone());
        let mut flat = Flatten::new();
        assert_eq!(flat.forward(&x).shape(), &[2, 60]);
        let fwd = |l: &mut Flatten, x: &Tensor| l.forward(x).clone();
        check_input_grad(&mut flat, &x, 1e-2, 1e-2, fwd, |l, _, dy| l.backward(dy).clone());
    }
}
