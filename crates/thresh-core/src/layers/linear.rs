//! Fully connected layer: `y = x Wᵀ + b`.
//!
//! Shapes: input `[.., d_in]`, weight `[d_out, d_in]` (PyTorch's layout, so Hugging Face weights
//! load by name), bias `[d_out]`, output `[.., d_out]`.
//!
//! Initialisation follows PyTorch's `nn.Linear`: weight and bias uniform in `±1/√d_in`.

use crate::gemm::{matmul, View};
use crate::param::{Module, Param};
use crate::qgemm::{quantize_and_multiply, QuantizedRows};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::threads::{par_column_reduce, par_rows};

/// A fully connected layer.
#[derive(Clone, Debug)]
pub struct Linear {
    /// `[d_out, d_in]`.
    pub weight: Param,
    /// `[d_out]`, when the layer has a bias.
    pub bias: Option<Param>,
    out: Tensor,
    dx: Tensor,
    /// Int8 codes of the last input, when the weight is stored as int8.
    qx: QuantizedRows,
}

impl Linear {
    /// A layer named `name` (parameters `name.weight`, `name.bias`), initialised as PyTorch does.
    pub fn new(name: &str, d_in: usize, d_out: usize, bias: bool, rng: &mut Rng) -> Self {
        let bound = 1.0 / (d_in as f32).sqrt();
        let w = rng.uniform_values(d_in * d_out, -bound, bound);
        let weight =
            Param::new(format!("{name}.weight"), Tensor::from_vec(w, &[d_out, d_in]).unwrap());
        let bias = bias.then(|| {
            let b = rng.uniform_values(d_out, -bound, bound);
            Param::new(format!("{name}.bias"), Tensor::from_vec(b, &[d_out]).unwrap())
                .with_decay(true)
        });
        Linear {
            weight,
            bias,
            out: Tensor::default(),
            dx: Tensor::default(),
            qx: QuantizedRows::default(),
        }
    }

    /// Input width.
    pub fn d_in(&self) -> usize {
        match self.weight.int8() {
            Some(q) => q.cols(),
            None => self.weight.value.shape()[1],
        }
    }

    /// Output width.
    pub fn d_out(&self) -> usize {
        match self.weight.int8() {
            Some(q) => q.rows(),
            None => self.weight.value.shape()[0],
        }
    }

    /// Keeps a transposed copy of a float weight for inference (see [`Param::keep_transposed`]):
    /// products with few rows then read it directly instead of repacking the weight on every
    /// call. The outputs keep their bits; an optimiser step drops the copy.
    pub fn keep_transposed_weight(&mut self) {
        if !self.weight.is_compressed() {
            self.weight.keep_transposed();
        }
    }

    /// Drops the float copy of an int8 weight (see [`Param::release_dense`]); inference reads
    /// the codes, so its outputs do not change.
    pub fn release_dense_weight(&mut self) {
        self.weight.release_dense();
    }

    /// The weight as the right operand `Wᵀ` of a product with `rows` input rows: the kept
    /// transposed copy where the `gemm` crate multiplies both layouts with the same blocked
    /// kernels (so the bits agree), else the weight read transposed. Products of one row or
    /// column, of depth two or less, or of at most 256 outputs go to other kernels in the
    /// crate, whose order of summation depends on the layout.
    fn weight_operand(weight: &Param, rows: usize) -> View<'_> {
        let (d_out, d_in) = (weight.value.shape()[0], weight.value.shape()[1]);
        match weight.transposed() {
            Some(t) if rows > 1 && d_out > 1 && d_in > 2 && rows * d_out > 256 => {
                View::new(t, d_in, d_out)
            }
            _ => View::new(weight.value.data(), d_out, d_in).t(),
        }
    }

    /// Computes `x Wᵀ + b` for `x` of shape `[.., d_in]`.
    pub fn forward(&mut self, x: &Tensor) -> &Tensor {
        let mut shape = x.shape().to_vec();
        *shape.last_mut().expect("linear input needs a last dimension") = self.d_out();
        self.out.resize(&shape);
        Self::apply(&self.weight, self.bias.as_ref(), x, &mut self.out, &mut self.qx);
        &self.out
    }

    /// `x Wᵀ` without the bias, which the caller adds (typically fused into the next
    /// element-wise step, saving a pass over the output). Returns the product and the bias
    /// still to add: `None` when there is none, or when an int8 weight's kernel added it.
    /// Backward is unchanged: `dy` is the gradient of the biased output.
    pub fn forward_unbiased(&mut self, x: &Tensor) -> (&mut Tensor, Option<&[f32]>) {
        let (d_out, d_in) = (self.d_out(), self.d_in());
        assert_eq!(x.cols(), d_in, "{}: input width", self.weight.name);
        let mut shape = x.shape().to_vec();
        *shape.last_mut().expect("linear input needs a last dimension") = d_out;
        self.out.resize(&shape);
        if let Some(q) = self.weight.int8() {
            // The integer kernel's epilogue adds the bias at no cost.
            let bias = self.bias.as_ref().map(|b| b.value.data());
            Self::apply_int8(q, bias, x, &mut self.out, &mut self.qx);
            return (&mut self.out, None);
        }
        matmul(
            self.out.data_mut(),
            d_out,
            View::new(x.data(), x.rows(), d_in),
            Self::weight_operand(&self.weight, x.rows()),
            1.0,
            false,
            true,
        );
        (&mut self.out, self.bias.as_ref().map(|b| b.value.data()))
    }

    /// For an int8 weight: `dst = x Wᵀ + b` for the rows of `x` (a slice of whole rows), in
    /// integers on the calling thread, with `scratch` for the quantised rows; the layer's own
    /// buffers are untouched. Returns false, doing nothing, for a float weight.
    pub fn int8_rows_into(&self, x: &[f32], dst: &mut [f32], scratch: &mut QuantizedRows) -> bool {
        let Some(q) = self.weight.int8() else {
            return false;
        };
        let bias = self.bias.as_ref().map(|b| b.value.data());
        quantize_and_multiply(dst, x, scratch, q.packed(), q.scales(), bias, false);
        true
    }

    /// The output of the last [`Linear::forward`].
    pub fn output(&self) -> &Tensor {
        &self.out
    }

    /// The int8 product: `x` quantised per row at run time, integer sums, scaled back.
    fn apply_int8(
        q: &crate::quant::Int8Rows,
        bias: Option<&[f32]>,
        x: &Tensor,
        out: &mut Tensor,
        qx: &mut QuantizedRows,
    ) {
        quantize_and_multiply(out.data_mut(), x.data(), qx, q.packed(), q.scales(), bias, true);
    }

    /// `out = x Wᵀ + b` into a caller-owned buffer already shaped `[rows, d_out]`.
    fn apply(
        weight: &Param,
        bias: Option<&Param>,
        x: &Tensor,
        out: &mut Tensor,
        qx: &mut QuantizedRows,
    ) {
        if let Some(q) = weight.int8() {
            assert_eq!(x.cols(), q.cols(), "{}: input width", weight.name);
            Self::apply_int8(q, bias.map(|b| b.value.data()), x, out, qx);
            return;
        }
        let (d_out, d_in) = (weight.value.shape()[0], weight.value.shape()[1]);
        assert_eq!(x.cols(), d_in, "{}: input width", weight.name);
        let rows = x.rows();
        if let Some(b) = bias {
            let b = b.value.data();
            par_rows(out.data_mut(), d_out, |_, row| row.copy_from_slice(b));
        }
        matmul(
            out.data_mut(),
            d_out,
            View::new(x.data(), rows, d_in),
            Self::weight_operand(weight, rows),
            1.0,
            bias.is_some(),
            true,
        );
    }

    /// Accumulates parameter gradients for output gradient `dy` given the forward input `x`.
    pub fn backward_params(&mut self, x: &Tensor, dy: &Tensor) {
        let (d_out, d_in) = (self.d_out(), self.d_in());
        let rows = x.rows();
        assert_eq!(dy.rows(), rows, "{}: gradient rows", self.weight.name);
        // dW += dyᵀ x
        matmul(
            self.weight.grad.data_mut(),
            d_in,
            View::new(dy.data(), rows, d_out).t(),
            View::new(x.data(), rows, d_in),
            1.0,
            true,
            true,
        );
        if let Some(b) = &mut self.bias {
            let dyd = dy.data();
            par_column_reduce(rows, d_out, b.grad.data_mut(), |r, acc| {
                for (a, g) in acc.iter_mut().zip(&dyd[r * d_out..(r + 1) * d_out]) {
                    *a += g;
                }
            });
        }
    }

    /// Accumulates parameter gradients and returns the input gradient `dy W`.
    pub fn backward(&mut self, x: &Tensor, dy: &Tensor) -> &Tensor {
        self.backward_params(x, dy);
        let (d_out, d_in) = (self.d_out(), self.d_in());
        self.dx.resize(x.shape());
        matmul(
            self.dx.data_mut(),
            d_in,
            View::new(dy.data(), dy.rows(), d_out),
            View::new(self.weight.value.data(), d_out, d_in),
            1.0,
            false,
            true,
        );
        &self.dx
    }
}

impl Module for Linear {
    fn visit(&self, f: &mut dyn FnMut(&Param)) {
        f(&self.weight);
        if let Some(b) = &self.bias {
            f(b);
        }
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
        f(&mut self.weight);
        if let Some(b) = &mut self.bias {
            f(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_input_grad, check_param_grads, random_tensor};
    use crate::qgemm::qmatmul;

    #[test]
    fn forward_matches_hand_computation() {
        let mut rng = Rng::new(1);
        let mut lin = Linear::new("l", 2, 3, true, &mut rng);
        lin.weight.value = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[3, 2]).unwrap();
        lin.bias.as_mut().unwrap().value = Tensor::from_vec(vec![0.5, -1., 0.], &[3]).unwrap();
        let x = Tensor::from_vec(vec![1., -1., 2., 0.5], &[2, 2]).unwrap();
        let y = lin.forward(&x);
        assert_eq!(y.shape(), &[2, 3]);
        assert_eq!(y.data(), &[-0.5, -2., -1., 3.5, 7., 13.]);
    }

    /// With an int8 weight the layer multiplies in integers: its output is the integer
    /// product of the quantised input (not the float product with the dequantised weight,
    /// which it approximates), and the unbiased form carries the bias already.
    #[test]
    fn int8_weights_run_through_the_integer_kernel() {
        let mut rng = Rng::new(3);
        let mut lin = Linear::new("l", 24, 20, true, &mut rng);
        lin.weight.quantize_int8().unwrap();
        let x = random_tensor(&[7, 24], &mut rng);
        let y = lin.forward(&x).clone();
        let q = lin.weight.int8().unwrap();
        let mut qx = QuantizedRows::default();
        qx.quantize(x.data(), 24, q.packed().padded_k());
        let mut want = vec![0.0; 7 * 20];
        let bias = lin.bias.as_ref().unwrap().value.data().to_vec();
        qmatmul(&mut want, &qx, q.packed(), q.scales(), Some(&bias), false);
        assert_eq!(y.data(), &want[..]);
        let mut float = lin.clone();
        float.weight.storage = crate::param::Storage::Dense;
        let yf = float.forward(&x).clone();
        assert_ne!(y, yf);
        for (a, b) in y.data().iter().zip(yf.data()) {
            assert!((a - b).abs() < 0.05, "{a} vs {b}");
        }
        let (u, rest) = lin.forward_unbiased(&x);
        assert!(rest.is_none());
        assert_eq!(u.data(), y.data());
    }

    /// Central differences with step 1e-2; relative tolerance 1e-2 plus 1e-3 absolute.
    #[test]
    fn linear_gradient_check() {
        let mut rng = Rng::new(2);
        let mut lin = Linear::new("l", 5, 4, true, &mut rng);
        let x = random_tensor(&[3, 2, 5], &mut rng);
        let fwd = |l: &mut Linear, x: &Tensor| l.forward(x).clone();
        check_input_grad(&mut lin, &x, 1e-2, 1e-2, fwd, |l, x, dy| l.backward(x, dy).clone());
        check_param_grads(&mut lin, &x, 1e-2, 1e-2, fwd, |l, x, dy| l.backward_params(x, dy));
    }

    /// A kept transposed weight gives the same bits as the weight read transposed, over
    /// shapes on both sides of the layout rule, and an optimiser step drops it.
    #[test]
    fn transposed_weight_copy_keeps_the_bits() {
        let mut rng = Rng::new(5);
        for (d_in, d_out) in [(3, 6), (24, 20), (128, 384), (256, 128), (64, 2)] {
            let mut lin = Linear::new("l", d_in, d_out, true, &mut rng);
            let mut kept = lin.clone();
            kept.keep_transposed_weight();
            assert!(kept.weight.transposed().is_some());
            for rows in [1, 2, 5, 13, 28, 300] {
                let x = random_tensor(&[rows, d_in], &mut rng);
                let want = lin.forward(&x).clone();
                assert_eq!(kept.forward(&x), &want, "{rows} x {d_in} -> {d_out}");
                let (u, _) = lin.forward_unbiased(&x);
                let u = u.clone();
                assert_eq!(kept.forward_unbiased(&x).0, &u, "unbiased {rows} x {d_in} -> {d_out}");
            }
        }
        let mut lin = Linear::new("l", 4, 3, true, &mut rng);
        lin.keep_transposed_weight();
        let x = random_tensor(&[2, 4], &mut rng);
        let dy = random_tensor(&[2, 3], &mut rng);
        lin.forward(&x);
        lin.backward(&x, &dy);
        crate::optim::Sgd::new(0.0, 0.0).step(&mut lin, 0.1);
        assert!(lin.weight.transposed().is_none());
    }
}
