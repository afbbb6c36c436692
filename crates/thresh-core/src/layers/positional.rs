//! Learned absolute position embeddings, added to token embeddings.
//!
//! Shapes: activations `[batch · seq, d]` laid out sequence by sequence; table `[max_len, d]`.

use crate::param::{Module, Param};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::threads::{par_column_reduce, par_rows};

/// A table of one learned vector per position.
#[derive(Clone, Debug)]
pub struct PositionalEmbedding {
    /// `[max_len, d]`.
    pub weight: Param,
}

impl PositionalEmbedding {
    /// A table for positions `0..max_len`, values `N(0, std²)`, named `name.weight`.
    pub fn new(name: &str, max_len: usize, d: usize, std: f32, rng: &mut Rng) -> Self {
        let w = rng.normal_values(max_len * d, std);
        PositionalEmbedding {
            weight: Param::new(
                format!("{name}.weight"),
                Tensor::from_vec(w, &[max_len, d]).unwrap(),
            ),
        }
    }

    /// Longest sequence the table covers.
    pub fn max_len(&self) -> usize {
        self.weight.value.shape()[0]
    }

    /// Adds position `t`'s vector to row `b · seq + t` of `x`, for sequences of length `seq`.
    pub fn add_into(&self, x: &mut Tensor, seq: usize) {
        assert!(seq <= self.max_len(), "{}: sequence of {seq} exceeds the table", self.weight.name);
        let d = x.cols();
        let table = self.weight.value.data();
        par_rows(x.data_mut(), d, |r, row| {
            let t = r % seq;
            for (a, b) in row.iter_mut().zip(&table[t * d..(t + 1) * d]) {
                *a += b;
            }
        });
    }

    /// Accumulates the table's gradient from the gradient of the sum it was added to.
    pub fn backward(&mut self, dy: &Tensor, seq: usize) {
        let d = dy.cols();
        let batch = dy.rows() / seq;
        let dyd = dy.data();
        // Rows of the reduction are positions; each sums its column of the batch.
        par_column_reduce(1, seq * d, self.weight.grad.data_mut(), |_, acc| {
            for b in 0..batch {
                for (a, g) in acc.iter_mut().zip(&dyd[b * seq * d..(b + 1) * seq * d]) {
                    *a += g;
                }
            }
        });
    }
}

impl Module for PositionalEmbedding {
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
    use crate::gradcheck::{check_param_grads, random_tensor};

    /// Central differences with step 1e-2; linear in the table, tolerance 1e-3.
    #[test]
    fn positional_gradient_check() {
        let mut rng = Rng::new(6);
        let mut pos = PositionalEmbedding::new("p", 5, 3, 1.0, &mut rng);
        let x = random_tensor(&[2 * 4, 3], &mut rng);
        check_param_grads(
            &mut pos,
            &x,
            1e-2,
            1e-3,
            |p, x| {
                let mut y = x.clone();
                p.add_into(&mut y, 4);
                y
            },
            |p, _, dy| p.backward(dy, 4),
        );
    }
}
