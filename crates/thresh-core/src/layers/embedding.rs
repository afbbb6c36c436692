//! Token embedding table with row-sparse gradients.
//!
//! Shapes: ids `[n]` (any batch layout, flattened), table `[vocab, d]`, output `[n, d]`.
//! Backward adds each output-gradient row into the table row of its id and records which rows
//! it touched, so zeroing the gradient costs as much as the batch, not the vocabulary.
//! Initialisation follows PyTorch's `nn.Embedding`: standard normal.

use crate::error::CoreError;
use crate::param::{Module, Param};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::threads::par_rows;

/// A lookup table from token ids to vectors.
#[derive(Clone, Debug)]
pub struct Embedding {
    /// `[vocab, d]`.
    pub weight: Param,
}

impl Embedding {
    /// A table of `vocab` rows of width `d`, named `name.weight`, values `N(0, std²)`.
    pub fn new(name: &str, vocab: usize, d: usize, std: f32, rng: &mut Rng) -> Self {
        let w = rng.normal_values(vocab * d, std);
        Embedding {
            weight: Param::row_sparse(
                format!("{name}.weight"),
                Tensor::from_vec(w, &[vocab, d]).unwrap(),
            ),
        }
    }

    /// Number of rows.
    pub fn vocab(&self) -> usize {
        match self.weight.int8() {
            Some(q) => q.rows(),
            None => self.weight.value.shape()[0],
        }
    }

    /// Row width.
    pub fn dim(&self) -> usize {
        match self.weight.int8() {
            Some(q) => q.cols(),
            None => self.weight.value.shape()[1],
        }
    }

    /// Drops the float copy of an int8 table (see [`Param::release_dense`]); lookups read the
    /// codes, with the same results.
    pub fn release_dense_table(&mut self) {
        self.weight.release_dense();
    }

    /// Row `id` of the table into `row`: the value, or for an int8 table `code · scale`, the
    /// value's own formula, computed from the codes.
    #[inline]
    fn row_into(&self, id: usize, row: &mut [f32]) {
        let d = row.len();
        match self.weight.int8() {
            Some(q) => {
                let s = q.scales()[id];
                for (o, &c) in row.iter_mut().zip(&q.codes()[id * d..(id + 1) * d]) {
                    *o = c as f32 * s;
                }
            }
            None => row.copy_from_slice(&self.weight.value.data()[id * d..(id + 1) * d]),
        }
    }

    /// Checks that every id indexes a row.
    pub fn check_ids(&self, ids: &[u32]) -> Result<(), CoreError> {
        let vocab = self.vocab();
        match ids.iter().find(|&&id| id as usize >= vocab) {
            Some(&id) => Err(CoreError::TokenOutOfRange { id, vocab }),
            None => Ok(()),
        }
    }

    /// Writes the rows of `ids` into `out`, shaped `[ids.len(), d]`.
    pub fn forward_into(&self, ids: &[u32], out: &mut Tensor) -> Result<(), CoreError> {
        self.check_ids(ids)?;
        let d = self.dim();
        out.resize(&[ids.len(), d]);
        par_rows(out.data_mut(), d, |r, row| self.row_into(ids[r] as usize, row));
        Ok(())
    }

    /// Like [`Embedding::forward_into`], with row `t` of `offsets` (`[seq, d]`) added to every
    /// `t`-th row of each sequence of `seq` ids, in the same pass (the sum is the one
    /// [`super::PositionalEmbedding::add_into`] makes afterwards).
    pub fn forward_offset_into(
        &self,
        ids: &[u32],
        offsets: &[f32],
        seq: usize,
        out: &mut Tensor,
    ) -> Result<(), CoreError> {
        self.check_ids(ids)?;
        let d = self.dim();
        assert!(offsets.len() >= seq * d, "{}: offsets for {seq} positions", self.weight.name);
        out.resize(&[ids.len(), d]);
        par_rows(out.data_mut(), d, |r, row| {
            self.row_into(ids[r] as usize, row);
            let t = r % seq;
            for (o, &p) in row.iter_mut().zip(&offsets[t * d..(t + 1) * d]) {
                *o += p;
            }
        });
        Ok(())
    }

    /// Adds `dy` (`[ids.len(), d]`) into the gradient rows of `ids`.
    pub fn backward(&mut self, ids: &[u32], dy: &Tensor) {
        let d = self.dim();
        assert_eq!(dy.rows(), ids.len(), "{}: gradient rows", self.weight.name);
        let dyd = dy.data();
        for (r, &id) in ids.iter().enumerate() {
            let g = &mut self.weight.grad.data_mut()[id as usize * d..(id as usize + 1) * d];
            for (a, b) in g.iter_mut().zip(&dyd[r * d..(r + 1) * d]) {
                *a += b;
            }
        }
        let mut ids_sorted: Vec<u32> = ids.to_vec();
        ids_sorted.sort_unstable();
        ids_sorted.dedup();
        for id in ids_sorted {
            self.weight.touch_row(id);
        }
    }
}

impl Module for Embedding {
    fn visit(&self, f: &mut dyn FnMut(&Param)) {
        f(&self.weight);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
        f(&mut self.weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_param_grads;

    #[test]
    fn rejects_out_of_range_ids() {
        let emb = Embedding::new("e", 4, 2, 1.0, &mut Rng::new(1));
        let mut out = Tensor::default();
        assert!(matches!(
            emb.forward_into(&[1, 4], &mut out),
            Err(CoreError::TokenOutOfRange { id: 4, vocab: 4 })
        ));
    }

    /// Central differences with step 1e-2; the table is linear in its rows, tolerance 1e-3.
    #[test]
    fn embedding_gradient_check_and_sparse_zeroing() {
        let mut emb = Embedding::new("e", 7, 3, 1.0, &mut Rng::new(2));
        let ids = [3u32, 1, 3, 6];
        let x = Tensor::zeros(&[1]);
        check_param_grads(
            &mut emb,
            &x,
            1e-2,
            1e-3,
            |e, _| {
                let mut out = Tensor::default();
                e.forward_into(&ids, &mut out).unwrap();
                out
            },
            |e, _, dy| e.backward(&ids, dy),
        );
        assert_eq!(emb.weight.touched_rows(), Some(&[1, 3, 6][..]));
        emb.zero_grad();
        assert!(emb.weight.grad.data().iter().all(|&g| g == 0.0));
    }

    #[test]
    fn lookup_with_offsets_equals_lookup_then_positions() {
        let mut rng = Rng::new(13);
        let emb = Embedding::new("e", 10, 6, 1.0, &mut rng);
        let pos = crate::layers::positional::PositionalEmbedding::new("p", 5, 6, 1.0, &mut rng);
        let ids = vec![3, 1, 4, 1, 5, 9, 2, 6];
        let mut want = Tensor::default();
        emb.forward_into(&ids, &mut want).unwrap();
        pos.add_into(&mut want, 4);
        let mut got = Tensor::default();
        emb.forward_offset_into(&ids, pos.weight.value.data(), 4, &mut got).unwrap();
        assert_eq!(got.data(), want.data());
    }
}
