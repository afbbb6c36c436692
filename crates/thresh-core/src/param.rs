//! Named parameters with their gradients, and the [`Module`] trait that walks them.

use crate::error::CoreError;
use crate::quant::{Int8Rows, PqTable};
use crate::tensor::Tensor;
use std::sync::Arc;

/// How a parameter is kept in weight files, and what the integer kernels may read.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Storage {
    /// Plain `f32`.
    #[default]
    Dense,
    /// Row-wise int8 codes and scales; the value is their dequantised matrix.
    Int8(Arc<Int8Rows>),
    /// Product-quantised rows; the value is the decoded table.
    Pq(Arc<PqTable>),
}

/// A trainable tensor, its accumulated gradient, and how the optimiser should treat it.
#[derive(Clone, Debug)]
pub struct Param {
    /// Full dotted name, e.g. `layers.0.attention.qkv.weight`; the key in weight files.
    pub name: String,
    /// Current value.
    pub value: Tensor,
    /// Gradient accumulated since the last [`Param::zero_grad`].
    pub grad: Tensor,
    /// Whether decoupled weight decay applies to this parameter.
    pub decay: bool,
    /// Whether the optimiser updates it (false freezes it).
    pub trainable: bool,
    /// Factor on the optimiser's learning rate for this parameter (1 by default), e.g. a
    /// larger rate for a new head on a pretrained encoder.
    pub lr_scale: f32,
    /// For row-sparse gradients (embedding tables): rows written since the last zeroing.
    touched_rows: Option<Vec<u32>>,
    /// The stored form; anything but [`Storage::Dense`] is dropped when the value changes
    /// through an optimiser or an assignment.
    pub storage: Storage,
    /// Entries that are exactly zero stay zero under the optimisers (fine-tuning a model
    /// whose weights were pruned by magnitude).
    pub keep_zeros: bool,
    /// A row-major copy of the (2-D) value's transpose, kept for inference (see
    /// [`Param::keep_transposed`]); dropped with the stored form when the value changes.
    transposed: Option<Arc<[f32]>>,
    /// The float value and gradient were dropped for inference (see
    /// [`Param::release_dense`]).
    dense_released: bool,
}

impl Param {
    /// A parameter with a dense gradient.
    pub fn new(name: impl Into<String>, value: Tensor) -> Self {
        let grad = Tensor::zeros(value.shape());
        Param {
            name: name.into(),
            value,
            grad,
            decay: true,
            trainable: true,
            lr_scale: 1.0,
            touched_rows: None,
            storage: Storage::Dense,
            keep_zeros: false,
            transposed: None,
            dense_released: false,
        }
    }

    /// A parameter whose gradient is written a row at a time, so zeroing it only clears the
    /// rows that were touched.
    pub fn row_sparse(name: impl Into<String>, value: Tensor) -> Self {
        let mut p = Param::new(name, value);
        p.touched_rows = Some(Vec::new());
        p
    }

    /// Builder-style switch for weight decay.
    #[must_use]
    pub fn with_decay(mut self, decay: bool) -> Self {
        self.decay = decay;
        self
    }

    /// Records that gradient row `row` may be non-zero (row-sparse parameters only).
    pub fn touch_row(&mut self, row: u32) {
        if let Some(rows) = &mut self.touched_rows {
            rows.push(row);
        }
    }

    /// Rows touched since the last zeroing, if the gradient is row-sparse.
    pub fn touched_rows(&self) -> Option<&[u32]> {
        self.touched_rows.as_deref()
    }

    /// Sets the gradient to zero.
    pub fn zero_grad(&mut self) {
        match &mut self.touched_rows {
            Some(rows) => {
                let cols = self.grad.cols();
                let g = self.grad.data_mut();
                for &r in rows.iter() {
                    let r = r as usize;
                    g[r * cols..(r + 1) * cols].fill(0.0);
                }
                rows.clear();
            }
            None => self.grad.fill(0.0),
        }
    }

    /// With [`Param::keep_zeros`], clears the gradient of every entry whose value is exactly
    /// zero: AdamW and SGD then leave it at zero (its moments, momentum and decay stay zero).
    pub fn silence_zero_entries(&mut self) {
        if !self.keep_zeros {
            return;
        }
        for (g, &w) in self.grad.data_mut().iter_mut().zip(self.value.data()) {
            if w == 0.0 {
                *g = 0.0;
            }
        }
    }

    /// Forgets everything derived from the value (a compressed stored form, the transposed
    /// copy): to be called whenever the value changes, as the optimisers and weight loading do.
    ///
    /// # Panics
    /// On a parameter whose float value was released for inference.
    pub fn value_changed(&mut self) {
        assert!(
            !self.dense_released,
            "{}: its float value was released for inference; load the model again to change it",
            self.name
        );
        self.storage = Storage::Dense;
        self.transposed = None;
    }

    /// Keeps a row-major copy of the (2-D) value's transpose, `[cols, rows]`, which
    /// [`Param::transposed`] returns until the value changes. A weight read transposed in
    /// products with few rows (inference on short inputs) is faster to multiply from it than
    /// from the value, which the matrix product would otherwise repack on every call.
    pub fn keep_transposed(&mut self) {
        let (rows, cols) = (self.value.rows(), self.value.cols());
        let v = self.value.data();
        let mut t = vec![0.0f32; rows * cols];
        for (r, row) in v.chunks_exact(cols).enumerate() {
            for (c, &x) in row.iter().enumerate() {
                t[c * rows + r] = x;
            }
        }
        self.transposed = Some(t.into());
    }

    /// The copy made by [`Param::keep_transposed`], if the value has not changed since.
    pub fn transposed(&self) -> Option<&[f32]> {
        self.transposed.as_deref()
    }

    /// Stores the (2-D) value as row-wise int8 and replaces it by its dequantised matrix, so
    /// float and integer paths see the same weights.
    pub fn quantize_int8(&mut self) -> Result<(), CoreError> {
        let q = Int8Rows::quantize(&self.value)?;
        self.value = q.dequantize();
        self.value_changed();
        self.storage = Storage::Int8(Arc::new(q));
        Ok(())
    }

    /// Stores the (2-D) value product-quantised with `dsub` columns per subspace and `ksub`
    /// centroids each, and replaces it by the decoded table.
    pub fn quantize_pq(
        &mut self,
        dsub: usize,
        ksub: usize,
        iterations: usize,
        seed: u64,
    ) -> Result<(), CoreError> {
        let q = PqTable::quantize(&self.value, dsub, ksub, iterations, 65_536, seed)?;
        self.value = q.dequantize();
        self.value_changed();
        self.storage = Storage::Pq(Arc::new(q));
        Ok(())
    }

    /// The int8 form, when the parameter is stored so.
    pub fn int8(&self) -> Option<&Int8Rows> {
        match &self.storage {
            Storage::Int8(q) => Some(q),
            _ => None,
        }
    }

    /// Whether the parameter is stored in a compressed form.
    pub fn is_compressed(&self) -> bool {
        self.storage != Storage::Dense
    }

    /// For an int8 parameter whose layer reads only the codes at inference: drops the
    /// dequantised float value and the gradient, so the parameter takes the memory of its
    /// codes, a quarter of the float size. It can no longer be read as floats or trained
    /// ([`Param::value_changed`] panics). Returns whether it was released (false, doing
    /// nothing, for a parameter not stored as int8).
    pub fn release_dense(&mut self) -> bool {
        if self.int8().is_none() {
            return false;
        }
        self.value = Tensor::default();
        self.grad = Tensor::default();
        self.transposed = None;
        self.dense_released = true;
        true
    }

    /// Whether [`Param::release_dense`] dropped the float value.
    pub fn is_dense_released(&self) -> bool {
        self.dense_released
    }

    /// Number of scalar values.
    pub fn len(&self) -> usize {
        match (&self.storage, self.dense_released) {
            (Storage::Int8(q), true) => q.rows() * q.cols(),
            _ => self.value.len(),
        }
    }

    /// Whether the parameter is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Anything that owns parameters.
pub trait Module {
    /// Calls `f` on every parameter, always in the same order.
    fn visit(&self, f: &mut dyn FnMut(&Param));
    /// Calls `f` on every parameter mutably, in the same order as [`Module::visit`].
    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param));

    /// Sets every gradient to zero.
    fn zero_grad(&mut self) {
        self.visit_mut(&mut |p| p.zero_grad());
    }

    /// Total number of scalar parameters.
    fn num_params(&self) -> usize {
        let mut n = 0;
        self.visit(&mut |p| n += p.len());
        n
    }

    /// Parameter names in visiting order.
    fn param_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.visit(&mut |p| names.push(p.name.clone()));
        names
    }
}
