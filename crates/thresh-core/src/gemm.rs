//! Safe matrix products over the `gemm` crate.
//!
//! This is the only module of the engine that uses `unsafe`: `gemm::gemm` takes raw pointers and
//! strides. [`matmul`] checks every index the product can touch against the slices' lengths
//! before it calls into the kernel, so callers stay in safe code.
#![allow(unsafe_code)]

/// A matrix stored in a slice with a row stride (`ld`), possibly read transposed.
///
/// Logical element `(i, j)` is `data[i * ld + j]`, or `data[j * ld + i]` when `trans` is set.
/// `rows` and `cols` are the logical (post-transpose) dimensions.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    /// Backing storage.
    pub data: &'a [f32],
    /// Logical row count.
    pub rows: usize,
    /// Logical column count.
    pub cols: usize,
    /// Distance between consecutive stored rows.
    pub ld: usize,
    /// Read the stored matrix transposed.
    pub trans: bool,
}

impl<'a> View<'a> {
    /// A contiguous row-major `rows × cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        View { data, rows, cols, ld: cols, trans: false }
    }

    /// A row-major matrix whose rows are `ld` apart.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, ld: usize) -> Self {
        View { data, rows, cols, ld, trans: false }
    }

    /// The same storage read as its transpose.
    pub fn t(self) -> Self {
        View { data: self.data, rows: self.cols, cols: self.rows, ld: self.ld, trans: !self.trans }
    }

    /// (row stride, column stride) of the logical matrix.
    fn strides(&self) -> (isize, isize) {
        if self.trans {
            (1, self.ld as isize)
        } else {
            (self.ld as isize, 1)
        }
    }

    /// Largest stored index touched, or `None` for an empty matrix.
    fn last_index(&self) -> Option<usize> {
        if self.rows == 0 || self.cols == 0 {
            return None;
        }
        let (stored_rows, stored_cols) =
            if self.trans { (self.cols, self.rows) } else { (self.rows, self.cols) };
        Some((stored_rows - 1) * self.ld + stored_cols - 1)
    }

    fn check(&self, what: &str) {
        let (stored_rows, stored_cols) =
            if self.trans { (self.cols, self.rows) } else { (self.rows, self.cols) };
        assert!(
            stored_rows <= 1 || self.ld >= stored_cols,
            "{what}: row stride {} shorter than a row of {stored_cols}",
            self.ld
        );
        if let Some(last) = self.last_index() {
            assert!(
                last < self.data.len(),
                "{what}: view reaches index {last} of {}",
                self.data.len()
            );
        }
    }
}

/// Products of fewer multiply-adds than this run on the calling thread even when asked to run
/// in parallel. Handing half of a small product to a sleeping worker costs more than the half
/// takes: one sentence through the default TREC-6 model (products of 0.5-1.4 M multiply-adds)
/// ran 1.2x faster on 2 threads with this bound than with the `gemm` crate's own (0.6 M), the
/// SST-2 model (up to 2.6 M) 1.35x, while MiniLM (10-13 M) was unchanged. Splitting a product
/// over threads does not change its bits, so neither does this bound.
const PARALLEL_MIN_WORK: usize = 4_000_000;

/// `dst = (accumulate ? dst : 0) + scale * a × b`, where `dst` is row-major `m × n` with row
/// stride `ld_dst`, `m = a.rows`, `n = b.cols` and `a.cols == b.rows`.
///
/// `parallel` lets the kernel split the product over the current rayon pool (products of at
/// least four million multiply-adds); pass `false` from code that already runs inside
/// a parallel loop.
///
/// # Panics
/// When the dimensions disagree or a view reaches past its slice. These are programming errors
/// in the caller, never consequences of user input.
pub fn matmul(
    dst: &mut [f32],
    ld_dst: usize,
    a: View<'_>,
    b: View<'_>,
    scale: f32,
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "matmul: inner dimensions {k} and {} differ", b.rows);
    if m == 0 || n == 0 {
        return;
    }
    assert!(ld_dst >= n || m == 1, "matmul: destination stride {ld_dst} below {n} columns");
    assert!((m - 1) * ld_dst + n <= dst.len(), "matmul: destination too short");
    if k == 0 {
        if !accumulate {
            for row in 0..m {
                dst[row * ld_dst..row * ld_dst + n].fill(0.0);
            }
        }
        return;
    }
    a.check("matmul lhs");
    b.check("matmul rhs");
    let (a_rs, a_cs) = a.strides();
    let (b_rs, b_cs) = b.strides();
    let parallel = parallel && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN_WORK;
    let parallelism = if parallel { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: `View::check` and the destination assertions above prove that every element the
    // product reads (`a`: m×k, `b`: k×n at the given strides) and writes (`dst`: m×n at stride
    // `ld_dst`) lies inside the corresponding slice. `dst` is borrowed mutably, so it cannot
    // alias `a` or `b`, which are shared borrows.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            ld_dst as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        out
    }

    fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut out = vec![0.0; x.len()];
        for i in 0..rows {
            for j in 0..cols {
                out[j * rows + i] = x[i * cols + j];
            }
        }
        out
    }

    #[test]
    fn matches_naive_product_in_every_layout() {
        let (m, k, n) = (7, 5, 9);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let at = transpose(&a, m, k);
        let bt = transpose(&b, k, n);
        for (av, bv) in [
            (View::new(&a, m, k), View::new(&b, k, n)),
            (View::new(&at, k, m).t(), View::new(&b, k, n)),
            (View::new(&a, m, k), View::new(&bt, n, k).t()),
            (View::new(&at, k, m).t(), View::new(&bt, n, k).t()),
        ] {
            let mut out = vec![1.0; m * n];
            matmul(&mut out, n, av, bv, 1.0, false, false);
            for (x, y) in out.iter().zip(&want) {
                assert!((x - y).abs() < 1e-5, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn accumulates_with_scale_into_strided_destination() {
        let (m, k, n, ld) = (3, 4, 2, 5);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|i| 1.0 - i as f32).collect();
        let want = naive(&a, &b, m, k, n);
        let mut out = vec![1.0; m * ld];
        matmul(&mut out, ld, View::new(&a, m, k), View::new(&b, k, n), 0.5, true, true);
        for i in 0..m {
            for j in 0..n {
                assert!((out[i * ld + j] - (1.0 + 0.5 * want[i * n + j])).abs() < 1e-4);
            }
            assert_eq!(out[i * ld + 2..i * ld + ld], [1.0, 1.0, 1.0]);
        }
    }

    #[test]
    fn splitting_over_threads_keeps_the_bits() {
        // Large enough to be split, with ragged edges; the weight read transposed as layers do.
        let (m, k, n) = (301, 131, 257);
        assert!(m * k * n >= PARALLEL_MIN_WORK);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let w: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.11).cos()).collect();
        let product = |parallel: bool| {
            let mut out = vec![0.0; m * n];
            let (a, w) = (View::new(&a, m, k), View::new(&w, n, k).t());
            matmul(&mut out, n, a, w, 1.0, false, parallel);
            out
        };
        let pool = crate::threads::Threads::new(2).unwrap();
        let split = pool.install(|| product(true));
        let single = product(false);
        assert!(split.iter().zip(&single).all(|(x, y)| x.to_bits() == y.to_bits()));
        let want = naive(&a, &transpose(&w, n, k), m, k, n);
        assert!(split.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-3));
    }

    #[test]
    #[should_panic(expected = "view reaches")]
    fn rejects_short_slices() {
        let a = vec![0.0; 5];
        let b = vec![0.0; 6];
        let mut out = vec![0.0; 4];
        matmul(&mut out, 2, View::new(&a, 2, 3), View::new(&b, 3, 2), 1.0, false, false);
    }
}
