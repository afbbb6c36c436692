//! Row-wise symmetric int8 storage of a 2-D parameter: one `f32` scale per row (per output
//! channel of a linear layer's `[d_out, d_in]` weight, per token of an embedding table), codes
//! in `[-127, 127]`, `value ≈ code · scale`.

use crate::error::CoreError;
use crate::qgemm::{quantize_row, PackedWeights};
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::sync::OnceLock;

/// Int8 codes and per-row scales of a `rows × cols` matrix, with the packed form the integer
/// kernels read, made on first use.
#[derive(Debug)]
pub struct Int8Rows {
    rows: usize,
    cols: usize,
    codes: Vec<i8>,
    scales: Vec<f32>,
    packed: OnceLock<PackedWeights>,
}

impl Clone for Int8Rows {
    fn clone(&self) -> Self {
        Int8Rows {
            rows: self.rows,
            cols: self.cols,
            codes: self.codes.clone(),
            scales: self.scales.clone(),
            packed: OnceLock::new(),
        }
    }
}

impl PartialEq for Int8Rows {
    fn eq(&self, other: &Self) -> bool {
        (self.rows, self.cols) == (other.rows, other.cols)
            && self.codes == other.codes
            && self.scales == other.scales
    }
}

impl Int8Rows {
    /// Quantises the rows of a 2-D tensor.
    pub fn quantize(t: &Tensor) -> Result<Self, CoreError> {
        let (rows, cols) = matrix_shape(t)?;
        let mut codes = vec![0i8; rows * cols];
        let mut scales = vec![0.0f32; rows];
        codes
            .par_chunks_mut(cols.max(1))
            .zip(scales.par_iter_mut())
            .zip(t.data().par_chunks(cols.max(1)))
            .for_each(|((c, s), x)| *s = quantize_row(x, c));
        Ok(Int8Rows { rows, cols, codes, scales, packed: OnceLock::new() })
    }

    /// Rebuilds from stored codes (`rows × cols`) and scales (`rows`).
    pub fn from_parts(
        rows: usize,
        cols: usize,
        codes: Vec<i8>,
        scales: Vec<f32>,
    ) -> Result<Self, CoreError> {
        if codes.len() != rows * cols || scales.len() != rows {
            return Err(CoreError::InvalidConfig(format!(
                "int8 matrix {rows} x {cols}: {} codes and {} scales",
                codes.len(),
                scales.len()
            )));
        }
        if codes.contains(&i8::MIN) {
            return Err(CoreError::InvalidConfig("int8 codes must lie in [-127, 127]".into()));
        }
        if scales.iter().any(|s| !s.is_finite() || *s < 0.0) {
            return Err(CoreError::InvalidConfig("int8 scales must be finite and >= 0".into()));
        }
        Ok(Int8Rows { rows, cols, codes, scales, packed: OnceLock::new() })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row-major codes.
    pub fn codes(&self) -> &[i8] {
        &self.codes
    }

    /// One scale per row.
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// `code · scale`, as a tensor of the original shape.
    pub fn dequantize(&self) -> Tensor {
        let mut out = vec![0.0f32; self.rows * self.cols];
        out.par_chunks_mut(self.cols.max(1))
            .zip(self.codes.par_chunks(self.cols.max(1)))
            .zip(self.scales.par_iter())
            .for_each(|((o, c), &s)| {
                for (o, &c) in o.iter_mut().zip(c) {
                    *o = c as f32 * s;
                }
            });
        Tensor::from_vec(out, &[self.rows, self.cols]).expect("shape matches")
    }

    /// The codes packed for [`crate::qgemm::qmatmul`] (rows as output channels).
    pub fn packed(&self) -> &PackedWeights {
        self.packed.get_or_init(|| PackedWeights::pack(&self.codes, self.rows, self.cols))
    }

    /// Bytes the stored form takes: one per code, four per scale.
    pub fn stored_bytes(&self) -> usize {
        self.codes.len() + 4 * self.scales.len()
    }
}

/// `(rows, cols)` of a 2-D tensor.
pub(crate) fn matrix_shape(t: &Tensor) -> Result<(usize, usize), CoreError> {
    match *t.shape() {
        [rows, cols] => Ok((rows, cols)),
        ref s => Err(CoreError::InvalidConfig(format!(
            "row-wise quantisation needs a matrix, not shape {s:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn dequantised_rows_are_within_half_a_step() {
        let mut rng = Rng::new(1);
        let data: Vec<f32> = (0..6 * 9).map(|_| rng.normal()).collect();
        let t = Tensor::from_vec(data, &[6, 9]).unwrap();
        let q = Int8Rows::quantize(&t).unwrap();
        let back = q.dequantize();
        for r in 0..6 {
            let s = q.scales()[r];
            let amax = t.row(r).iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!((s - amax / 127.0).abs() < 1e-7);
            for (a, b) in t.row(r).iter().zip(back.row(r)) {
                assert!((a - b).abs() <= s / 2.0 + 1e-6);
            }
        }
        let again = Int8Rows::from_parts(6, 9, q.codes().to_vec(), q.scales().to_vec()).unwrap();
        assert_eq!(again, q);
        assert!(Int8Rows::from_parts(6, 9, vec![0; 53], vec![0.0; 6]).is_err());
        assert!(Int8Rows::from_parts(1, 1, vec![i8::MIN], vec![1.0]).is_err());
        assert!(Int8Rows::quantize(&Tensor::zeros(&[4])).is_err());
    }
}
