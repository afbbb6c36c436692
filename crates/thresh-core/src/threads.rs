//! The engine's one thread pool, and helpers for deterministic parallel loops.
//!
//! Work is split into chunks whose size depends on the data, never on the thread count, and
//! reductions combine per-chunk partial results in chunk order. The same inputs therefore give
//! bit-identical outputs with any number of threads.

use crate::error::CoreError;
use rayon::prelude::*;

/// A pool of worker threads that every kernel inside [`Threads::install`] runs on.
pub struct Threads {
    pool: rayon::ThreadPool,
}

impl Threads {
    /// A pool of `n` threads; `0` means one per available core.
    pub fn new(n: usize) -> Result<Self, CoreError> {
        let n = if n == 0 { available_cores() } else { n };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("thresh-{i}"))
            .build()
            .map_err(|e| CoreError::ThreadPool { threads: n, message: e.to_string() })?;
        Ok(Threads { pool })
    }

    /// Number of worker threads.
    pub fn count(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Runs `f` with this pool as the current one.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }
}

/// Cores this process may use.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Rows per parallel task so that each task has at least ~16k elements of work.
pub fn rows_per_task(cols: usize) -> usize {
    (16_384 / cols.max(1)).max(1)
}

/// Runs `f(row_index, row)` over the rows of `data` (`cols` wide) in parallel.
pub fn par_rows(data: &mut [f32], cols: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    if cols == 0 {
        return;
    }
    let per = rows_per_task(cols);
    data.par_chunks_mut(per * cols).enumerate().for_each(|(c, chunk)| {
        for (r, row) in chunk.chunks_mut(cols).enumerate() {
            f(c * per + r, row);
        }
    });
}

/// Applies `f(index, value) -> value` to every element in parallel.
pub fn par_map_inplace(data: &mut [f32], f: impl Fn(usize, f32) -> f32 + Sync + Send) {
    const CHUNK: usize = 16_384;
    data.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
        for (i, v) in chunk.iter_mut().enumerate() {
            *v = f(c * CHUNK + i, *v);
        }
    });
}

/// Sums per-column quantities over rows deterministically: `f(row, acc)` adds row `row`'s
/// contribution into `acc` (`width` long); partial sums over fixed row blocks are combined in
/// block order and added into `out`.
pub fn par_column_reduce(
    rows: usize,
    width: usize,
    out: &mut [f32],
    f: impl Fn(usize, &mut [f32]) + Sync + Send,
) {
    const BLOCK: usize = 64;
    let blocks = rows.div_ceil(BLOCK);
    let partials: Vec<Vec<f32>> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let mut acc = vec![0.0f32; width];
            for r in b * BLOCK..((b + 1) * BLOCK).min(rows) {
                f(r, &mut acc);
            }
            acc
        })
        .collect();
    for p in &partials {
        for (o, v) in out.iter_mut().zip(p) {
            *o += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_reduce_is_identical_across_thread_counts() {
        let rows = 1000;
        let x: Vec<f32> = (0..rows * 3).map(|i| ((i * 7919) % 1000) as f32 * 1e-3).collect();
        let run = |threads: usize| {
            let pool = Threads::new(threads).unwrap();
            pool.install(|| {
                let mut out = vec![0.0; 3];
                par_column_reduce(rows, 3, &mut out, |r, acc| {
                    for c in 0..3 {
                        acc[c] += x[r * 3 + c];
                    }
                });
                out
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
        let direct: f32 = (0..rows).map(|r| x[r * 3]).sum();
        assert!((one[0] - direct).abs() < 1e-3);
    }

    #[test]
    fn par_rows_visits_every_row_once() {
        let mut data = vec![0.0; 5000 * 4];
        par_rows(&mut data, 4, |r, row| row.iter_mut().for_each(|v| *v += r as f32));
        assert!(data.chunks(4).enumerate().all(|(r, row)| row.iter().all(|&v| v == r as f32)));
    }
}
