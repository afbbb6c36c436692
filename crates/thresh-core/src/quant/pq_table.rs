//! A product-quantised embedding table: one byte per subspace per row and the codebooks
//! ([`ProductQuantizer`]), about `dsub · 4` times smaller than the `f32` table.

use super::pq::ProductQuantizer;
use crate::error::CoreError;
use crate::tensor::Tensor;

/// Codes of every row of a `rows × dim` table and the quantiser that decodes them.
#[derive(Clone, Debug, PartialEq)]
pub struct PqTable {
    rows: usize,
    quantizer: ProductQuantizer,
    codes: Vec<u8>,
}

impl PqTable {
    /// Learns codebooks for the rows of a 2-D tensor (`dsub` columns per subspace, `ksub`
    /// centroids each, at most 256) and encodes every row. Training reads at most
    /// `max_train_rows` rows.
    pub fn quantize(
        t: &Tensor,
        dsub: usize,
        ksub: usize,
        iterations: usize,
        max_train_rows: usize,
        seed: u64,
    ) -> Result<Self, CoreError> {
        let (rows, dim) = super::int8::matrix_shape(t)?;
        let quantizer = ProductQuantizer::train(
            t.data(),
            rows,
            dim,
            dsub,
            ksub,
            iterations,
            max_train_rows,
            seed,
        )?;
        let codes = quantizer.encode(t.data(), rows);
        Ok(PqTable { rows, quantizer, codes })
    }

    /// Rebuilds from stored codes (`rows × subspaces`) and a quantiser, checking every code.
    pub fn from_parts(
        rows: usize,
        quantizer: ProductQuantizer,
        codes: Vec<u8>,
    ) -> Result<Self, CoreError> {
        if codes.len() != rows * quantizer.subspaces() {
            return Err(CoreError::InvalidConfig(format!(
                "{} product-quantisation codes for {rows} rows of {} subspaces",
                codes.len(),
                quantizer.subspaces()
            )));
        }
        if let Some(c) = codes.iter().find(|&&c| c as usize >= quantizer.ksub()) {
            return Err(CoreError::InvalidConfig(format!(
                "code {c} of a codebook with {} centroids",
                quantizer.ksub()
            )));
        }
        Ok(PqTable { rows, quantizer, codes })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The codebooks.
    pub fn quantizer(&self) -> &ProductQuantizer {
        &self.quantizer
    }

    /// Row-major codes, `rows × subspaces`.
    pub fn codes(&self) -> &[u8] {
        &self.codes
    }

    /// The decoded table.
    pub fn dequantize(&self) -> Tensor {
        let data = self.quantizer.decode(&self.codes, self.rows);
        Tensor::from_vec(data, &[self.rows, self.quantizer.dim()]).expect("shape matches")
    }

    /// Bytes the stored form takes: the codes and the `f32` codebooks.
    pub fn stored_bytes(&self) -> usize {
        self.codes.len() + 4 * self.quantizer.centroids().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn a_table_round_trips_through_its_parts() {
        let mut rng = Rng::new(4);
        let data: Vec<f32> = (0..300 * 8).map(|_| rng.normal()).collect();
        let t = Tensor::from_vec(data, &[300, 8]).unwrap();
        let q = PqTable::quantize(&t, 2, 256, 10, 1000, 1).unwrap();
        assert_eq!(q.codes().len(), 300 * 4);
        assert!(q.stored_bytes() < 300 * 8 * 4);
        let back = PqTable::from_parts(300, q.quantizer().clone(), q.codes().to_vec()).unwrap();
        assert_eq!(back.dequantize(), q.dequantize());
        let err = (t.data().iter().zip(q.dequantize().data()))
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            / t.len() as f32;
        assert!(err < 0.3, "mean squared error {err} on unit-variance data");
        assert!(PqTable::from_parts(301, q.quantizer().clone(), q.codes().to_vec()).is_err());
    }
}
