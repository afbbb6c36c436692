//! Dense row-major `f32` tensors: one contiguous buffer and a shape.
//!
//! Tensors are deliberately plain. Layers own the tensors they write and resize them in place
//! with [`Tensor::resize`], so a training loop that sees the same shapes step after step
//! allocates nothing after its first step.

use crate::error::CoreError;

/// A dense, contiguous, row-major `f32` tensor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tensor {
    data: Vec<f32>,
    shape: Vec<usize>,
}

impl Tensor {
    /// A tensor of zeros with the given shape.
    pub fn zeros(shape: &[usize]) -> Self {
        let len = shape.iter().product();
        Tensor { data: vec![0.0; len], shape: shape.to_vec() }
    }

    /// Wraps `data` with `shape`, checking that the element counts agree.
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Result<Self, CoreError> {
        let want: usize = shape.iter().product();
        if want != data.len() {
            return Err(CoreError::ShapeMismatch {
                what: "tensor data".into(),
                expected: shape.to_vec(),
                found: vec![data.len()],
            });
        }
        Ok(Tensor { data, shape: shape.to_vec() })
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor holds no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The elements in row-major order, mutably.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the tensor and returns its buffer.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Size of the last dimension (1 for a scalar).
    pub fn cols(&self) -> usize {
        self.shape.last().copied().unwrap_or(1)
    }

    /// Product of all dimensions but the last.
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.cols()).unwrap_or(0)
    }

    /// Changes the shape, reusing the buffer's capacity. Contents are unspecified afterwards
    /// (old values are kept where they fit, new elements are zero); callers overwrite them.
    pub fn resize(&mut self, shape: &[usize]) {
        let len = shape.iter().product();
        self.data.resize(len, 0.0);
        if self.shape != shape {
            self.shape.clear();
            self.shape.extend_from_slice(shape);
        }
    }

    /// Changes the shape and sets every element to zero.
    pub fn resize_zeroed(&mut self, shape: &[usize]) {
        self.resize(shape);
        self.fill(0.0);
    }

    /// Sets every element to `value`.
    pub fn fill(&mut self, value: f32) {
        self.data.fill(value);
    }

    /// Copies shape and contents from `other`, reusing this tensor's buffer.
    pub fn copy_from(&mut self, other: &Tensor) {
        self.resize(other.shape());
        self.data.copy_from_slice(other.data());
    }

    /// Reinterprets the buffer with a new shape of the same element count.
    pub fn reshape(&mut self, shape: &[usize]) -> Result<(), CoreError> {
        let want: usize = shape.iter().product();
        if want != self.data.len() {
            return Err(CoreError::ShapeMismatch {
                what: "reshape".into(),
                expected: shape.to_vec(),
                found: self.shape.clone(),
            });
        }
        self.shape = shape.to_vec();
        Ok(())
    }

    /// Row `i` of a tensor viewed as `[rows, cols]`.
    pub fn row(&self, i: usize) -> &[f32] {
        let c = self.cols();
        &self.data[i * c..(i + 1) * c]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_reuses_and_reshapes() {
        let mut t = Tensor::zeros(&[2, 3]);
        t.data_mut()[5] = 1.0;
        t.resize(&[3, 2]);
        assert_eq!(t.shape(), &[3, 2]);
        assert_eq!(t.rows(), 3);
        assert_eq!(t.row(2), &[0.0, 1.0]);
        t.resize_zeroed(&[4]);
        assert!(t.data().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn from_vec_checks_length() {
        assert!(Tensor::from_vec(vec![0.0; 5], &[2, 3]).is_err());
        assert!(Tensor::from_vec(vec![0.0; 6], &[2, 3]).is_ok());
    }
}
