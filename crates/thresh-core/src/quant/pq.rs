//! Product quantisation of a row-major `f32` table.
//!
//! A bag-of-n-grams classifier spends nearly all of its size on the embedding table: one row of
//! `dim` floats for every word and n-gram bucket. Product quantisation shrinks that table by
//! cutting every row into short consecutive pieces and replacing each piece with the index of
//! the closest entry of a small learned list of pieces.
//!
//! # Layout
//!
//! The columns `0..dim` are cut into `subspaces = ceil(dim / dsub)` groups of `dsub` adjacent
//! columns; when `dsub` does not divide `dim`, the last group keeps the remaining columns and
//! is narrower. Every group has its own codebook of `ksub <= 256` centroids, each as wide as
//! the group, so a row is stored as one byte per group and rebuilt by concatenating the chosen
//! centroids. The codebooks are kept in one flat array: group after group, `ksub` centroids
//! each. Because every group before the last is exactly `dsub` wide, group `s` starts at
//! `s * ksub * dsub` and the whole array holds `ksub * dim` floats.
//!
//! # Learning the codebooks
//!
//! The groups are independent, so each one is clustered on its own (in parallel) with k-means
//! over the sub-vectors of the training rows:
//!
//! 1. Starting centroids are sub-vectors of training rows, visited in a seeded random order
//!    and skipped when equal to one already taken, so no two start at the same place. If a
//!    group has fewer distinct sub-vectors than centroids, the leftover slots repeat taken ones
//!    and are treated as empty clusters.
//! 2. Lloyd iterations alternate two steps: give every sub-vector to its nearest centroid by
//!    squared Euclidean distance (ties go to the lower index), then move every centroid to the
//!    mean of what it was given. Means are summed in `f64`, so a cluster of identical points
//!    lands exactly on them.
//! 3. A centroid that was given nothing would be a wasted code. It is re-seeded by splitting
//!    the most populated cluster whose points are not all identical: it becomes a copy of that
//!    cluster's centroid moved by a small seeded step (a hundredth of the cluster's radius, in
//!    a random direction along each axis), and the next assignment shares the points between
//!    the two.
//! 4. The loop stops after `iterations` rounds, or earlier once an assignment repeats the
//!    previous one and nothing was split, since the centroids can no longer move.
//!
//! Training may use a seeded random subset of the rows to bound its cost; encoding always
//! covers every row. When the training rows hold fewer distinct rows than the requested
//! `ksub`, `ksub` shrinks to that count: more codes could not be told apart.
//!
//! # Determinism
//!
//! Group `s` draws from its own generator seeded with a mix of the seed and `s`, and the row
//! subset comes from a separate stream of the same seed. No result depends on which thread ran
//! which group, so codebooks are bit-identical for a seed whatever the thread count.

use crate::error::CoreError;
use crate::rng::{mix64, Rng};
use rayon::prelude::*;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

/// Most centroids per subspace: a code has to fit in one byte.
const MAX_KSUB: usize = 256;
/// Rows handled by one parallel task when encoding or decoding.
const ROWS_PER_TASK: usize = 256;
/// Size of the step that separates a split centroid from its parent, relative to the parent
/// cluster's root-mean-square radius per coordinate.
const SPLIT_STEP: f32 = 1e-2;
/// Stream that picks the training subset; subspace streams use their index, which never
/// reaches this value.
const SUBSET_STREAM: u64 = u64::MAX;

/// Product quantiser codebooks: the row width `dim` is split into `dim / dsub` subspaces of
/// width `dsub` (the last one may be narrower when dsub does not divide dim), each with up to 256
/// centroids, so one row is stored as one byte per subspace.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductQuantizer {
    /// Row width.
    dim: usize,
    /// Width of every subspace but possibly the last.
    dsub: usize,
    /// Centroids per subspace, `1..=256`.
    ksub: usize,
    /// `[subspace][centroid][column of the subspace]`, flattened; `ksub * dim` floats.
    centroids: Vec<f32>,
}

impl ProductQuantizer {
    /// Learns codebooks for `rows` rows of width `dim` in `data` (row-major), `dsub` wide
    /// subspaces, `ksub` (2..=256) centroids each, `iterations` Lloyd iterations, seeded.
    /// When there are fewer distinct training rows than ksub, ksub is reduced to the row count.
    /// Training may subsample at most `max_train_rows` rows (chosen by the seeded rng) for speed.
    ///
    /// `iterations == 0` keeps the starting centroids (distinct training sub-vectors). Errors
    /// with [`CoreError::InvalidConfig`] when `dim`, `rows` or `max_train_rows` is zero, `dsub`
    /// is not in `1..=dim`, `ksub` is not in `2..=256`, `data.len() != rows * dim`, or `data`
    /// holds a NaN or an infinity.
    #[allow(clippy::too_many_arguments)] // the argument list is the agreed interface
    pub fn train(
        data: &[f32],
        rows: usize,
        dim: usize,
        dsub: usize,
        ksub: usize,
        iterations: usize,
        max_train_rows: usize,
        seed: u64,
    ) -> Result<Self, CoreError> {
        check_layout(dim, dsub)?;
        if !(2..=MAX_KSUB).contains(&ksub) {
            return Err(invalid(format!("ksub must be in 2..={MAX_KSUB}, got {ksub}")));
        }
        if rows == 0 {
            return Err(invalid("cannot train a product quantiser on zero rows".into()));
        }
        if max_train_rows == 0 {
            return Err(invalid("max_train_rows must be positive".into()));
        }
        match rows.checked_mul(dim) {
            Some(len) if len == data.len() => {}
            _ => {
                return Err(invalid(format!(
                    "data holds {} floats, expected rows * dim = {rows} * {dim}",
                    data.len()
                )))
            }
        }
        if let Some(i) = data.iter().position(|x| !x.is_finite()) {
            return Err(invalid(format!("data[{i}] = {} is not finite", data[i])));
        }

        let train_rows = pick_training_rows(rows, max_train_rows, seed);
        let ksub = ksub.min(count_distinct_rows(data, dim, &train_rows, ksub));
        let codebooks: Vec<Vec<f32>> = (0..dim.div_ceil(dsub))
            .into_par_iter()
            .map(|s| {
                let start = s * dsub;
                let width = subspace_width(dim, dsub, s);
                let mut points = Vec::with_capacity(train_rows.len() * width);
                for &r in &train_rows {
                    points.extend_from_slice(&data[r * dim + start..][..width]);
                }
                let mut rng = Rng::new(mix64(seed ^ mix64(s as u64)));
                let init = initial_centroids(&points, width, ksub, &mut rng);
                kmeans(&points, width, init, iterations, &mut rng)
            })
            .collect();
        Ok(ProductQuantizer { dim, dsub, ksub, centroids: codebooks.concat() })
    }

    /// Rebuilds from stored parts: dim, dsub, ksub and the flat centroid array (as returned by
    /// centroids()). Validates lengths.
    ///
    /// Errors with [`CoreError::InvalidConfig`] when `dim` is zero, `dsub` is not in `1..=dim`,
    /// `ksub` is not in `1..=256` (training may shrink it below 2),
    /// `centroids.len() != ksub * dim`, or a centroid value is not finite.
    pub fn from_parts(
        dim: usize,
        dsub: usize,
        ksub: usize,
        centroids: Vec<f32>,
    ) -> Result<Self, CoreError> {
        check_layout(dim, dsub)?;
        if !(1..=MAX_KSUB).contains(&ksub) {
            return Err(invalid(format!("ksub must be in 1..={MAX_KSUB}, got {ksub}")));
        }
        if centroids.len() != ksub * dim {
            return Err(invalid(format!(
                "centroid array holds {} floats, expected ksub * dim = {ksub} * {dim}",
                centroids.len()
            )));
        }
        if let Some(i) = centroids.iter().position(|x| !x.is_finite()) {
            return Err(invalid(format!("centroid value {i} = {} is not finite", centroids[i])));
        }
        Ok(ProductQuantizer { dim, dsub, ksub, centroids })
    }

    /// Row width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Width of every subspace except possibly the last, which may be narrower.
    pub fn dsub(&self) -> usize {
        self.dsub
    }

    /// Centroids per subspace (`1..=256`); codes are below this.
    pub fn ksub(&self) -> usize {
        self.ksub
    }

    /// Number of subspaces = bytes per encoded row.
    pub fn subspaces(&self) -> usize {
        self.dim.div_ceil(self.dsub)
    }

    /// The flat centroid array: subspace after subspace, ksub centroids each, each centroid as
    /// wide as its subspace.
    pub fn centroids(&self) -> &[f32] {
        &self.centroids
    }

    /// Nearest-centroid codes for every row: `rows * subspaces()` bytes.
    ///
    /// Row `r`'s code for subspace `s` is at `r * subspaces() + s`. Rows are encoded in
    /// parallel; the codes do not depend on the thread count.
    ///
    /// # Panics
    ///
    /// If `data.len() != rows * dim()`.
    pub fn encode(&self, data: &[f32], rows: usize) -> Vec<u8> {
        assert_eq!(
            Some(data.len()),
            rows.checked_mul(self.dim),
            "encode: data must hold rows * dim = {rows} * {} floats",
            self.dim
        );
        let (dim, nsub, ksub) = (self.dim, self.subspaces(), self.ksub);
        // Column-major copies of the codebooks, so distances to all centroids vectorise.
        let tables: Vec<Vec<f32>> =
            (0..nsub).map(|s| transpose(self.codebook(s), self.width(s))).collect();
        let mut codes = vec![0u8; rows * nsub];
        codes
            .par_chunks_mut(ROWS_PER_TASK * nsub)
            .zip(data.par_chunks(ROWS_PER_TASK * dim))
            .for_each(|(codes, data)| {
                let mut dist = vec![0.0f32; ksub];
                for (codes, row) in codes.chunks_exact_mut(nsub).zip(data.chunks_exact(dim)) {
                    for (s, (code, table)) in codes.iter_mut().zip(&tables).enumerate() {
                        let sub = &row[s * self.dsub..][..self.width(s)];
                        // Below ksub <= 256, so it fits in a byte.
                        *code = nearest(table, sub, &mut dist).0 as u8;
                    }
                }
            });
        codes
    }

    /// Writes the reconstruction of one encoded row into `out` (len dim).
    ///
    /// # Panics
    ///
    /// If `codes.len() != subspaces()`, `out.len() != dim()`, or a code is not below `ksub()`
    /// (check codes read from outside before decoding them).
    pub fn decode_row(&self, codes: &[u8], out: &mut [f32]) {
        assert_eq!(codes.len(), self.subspaces(), "decode_row: one code per subspace");
        assert_eq!(out.len(), self.dim, "decode_row: output must be dim wide");
        for (s, &code) in codes.iter().enumerate() {
            let code = usize::from(code);
            assert!(code < self.ksub, "decode_row: code {code} is not below ksub {}", self.ksub);
            let width = self.width(s);
            out[s * self.dsub..][..width]
                .copy_from_slice(&self.codebook(s)[code * width..][..width]);
        }
    }

    /// Decodes many rows: returns rows*dim floats.
    ///
    /// # Panics
    ///
    /// If `codes.len() != rows * subspaces()` or a code is not below `ksub()`.
    pub fn decode(&self, codes: &[u8], rows: usize) -> Vec<f32> {
        let nsub = self.subspaces();
        assert_eq!(
            Some(codes.len()),
            rows.checked_mul(nsub),
            "decode: codes must hold rows * subspaces = {rows} * {nsub} bytes"
        );
        let mut out = vec![0.0f32; rows * self.dim];
        out.par_chunks_mut(ROWS_PER_TASK * self.dim)
            .zip(codes.par_chunks(ROWS_PER_TASK * nsub))
            .for_each(|(out, codes)| {
                for (row, codes) in out.chunks_exact_mut(self.dim).zip(codes.chunks_exact(nsub)) {
                    self.decode_row(codes, row);
                }
            });
        out
    }

    /// Width of subspace `s`.
    fn width(&self, s: usize) -> usize {
        subspace_width(self.dim, self.dsub, s)
    }

    /// The `ksub` centroids of subspace `s`, row-major.
    fn codebook(&self, s: usize) -> &[f32] {
        &self.centroids[s * self.ksub * self.dsub..][..self.ksub * self.width(s)]
    }
}

/// An argument error.
fn invalid(message: String) -> CoreError {
    CoreError::InvalidConfig(message)
}

/// Checks that `dim` and `dsub` describe at least one non-empty subspace.
fn check_layout(dim: usize, dsub: usize) -> Result<(), CoreError> {
    if dim == 0 {
        return Err(invalid("product quantiser rows must be at least one column wide".into()));
    }
    if !(1..=dim).contains(&dsub) {
        return Err(invalid(format!("dsub must be in 1..=dim = 1..={dim}, got {dsub}")));
    }
    Ok(())
}

/// Width of subspace `s`: `dsub`, except for a narrower last one.
fn subspace_width(dim: usize, dsub: usize, s: usize) -> usize {
    dsub.min(dim - s * dsub)
}

/// All rows when they fit in `max`, else `max` distinct rows drawn by a partial Fisher–Yates
/// shuffle; sorted either way so training reads the table front to back.
fn pick_training_rows(rows: usize, max: usize, seed: u64) -> Vec<usize> {
    let mut picked: Vec<usize> = (0..rows).collect();
    if rows > max {
        let mut rng = Rng::new(mix64(seed ^ mix64(SUBSET_STREAM)));
        for i in 0..max {
            let j = i + rng.below(rows - i);
            picked.swap(i, j);
        }
        picked.truncate(max);
        picked.sort_unstable();
    }
    picked
}

/// Distinct rows among `picked`, counting no further than `cap`.
fn count_distinct_rows(data: &[f32], dim: usize, picked: &[usize], cap: usize) -> usize {
    let mut seen = HashSet::with_capacity(cap);
    for &r in picked {
        seen.insert(Exact(&data[r * dim..][..dim]));
        if seen.len() >= cap {
            break;
        }
    }
    seen.len()
}

/// A vector of finite floats compared by value, so it can key a hash set: `-0.0` and `0.0`
/// are one key, every other value is its own bit pattern.
struct Exact<'a>(&'a [f32]);

impl PartialEq for Exact<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

// Sound because only finite values (never NaN) are stored.
impl Eq for Exact<'_> {}

impl Hash for Exact<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for &x in self.0 {
            // Adding +0.0 turns -0.0 into +0.0 and leaves everything else unchanged.
            (x + 0.0).to_bits().hash(state);
        }
    }
}

/// `k` starting centroids for the `width`-wide `points`: distinct points in a seeded random
/// order, then repeats of those when there are fewer than `k` distinct ones.
fn initial_centroids(points: &[f32], width: usize, k: usize, rng: &mut Rng) -> Vec<f32> {
    let n = points.len() / width;
    let mut order: Vec<usize> = (0..n).collect();
    let mut seen = HashSet::with_capacity(k);
    let mut centroids = Vec::with_capacity(k * width);
    for i in 0..n {
        if seen.len() == k {
            break;
        }
        // One step of a lazy Fisher–Yates shuffle: only the visited prefix is drawn.
        let j = i + rng.below(n - i);
        order.swap(i, j);
        let point = &points[order[i] * width..][..width];
        if seen.insert(Exact(point)) {
            centroids.extend_from_slice(point);
        }
    }
    let found = centroids.len();
    for i in found..k * width {
        centroids.push(centroids[i % found]);
    }
    centroids
}

/// `centroids` (`k` rows of `width`) laid out column by column: `k` values per column.
fn transpose(centroids: &[f32], width: usize) -> Vec<f32> {
    let k = centroids.len() / width;
    let mut table = vec![0.0f32; centroids.len()];
    for (c, centroid) in centroids.chunks_exact(width).enumerate() {
        for (j, &x) in centroid.iter().enumerate() {
            table[j * k + c] = x;
        }
    }
    table
}

/// The centroid of the column-major `table` nearest to `point` and its squared distance; ties
/// go to the lower index. `dist` is scratch space with one slot per centroid.
fn nearest(table: &[f32], point: &[f32], dist: &mut [f32]) -> (usize, f32) {
    let k = dist.len();
    dist.fill(0.0);
    for (&x, column) in point.iter().zip(table.chunks_exact(k)) {
        for (d, &c) in dist.iter_mut().zip(column) {
            let diff = c - x;
            *d += diff * diff;
        }
    }
    let (mut best, mut best_dist) = (0, dist[0]);
    for (c, &d) in dist.iter().enumerate().skip(1) {
        if d < best_dist {
            best = c;
            best_dist = d;
        }
    }
    (best, best_dist)
}

/// Lloyd's k-means on the `width`-wide `points`, starting from `centroids`; empty clusters are
/// re-seeded by splitting a populated one. Returns the final centroids.
fn kmeans(
    points: &[f32],
    width: usize,
    mut centroids: Vec<f32>,
    iterations: usize,
    rng: &mut Rng,
) -> Vec<f32> {
    let k = centroids.len() / width;
    let mut assignment = vec![usize::MAX; points.len() / width];
    let mut dist = vec![0.0f32; k];
    let mut sums = vec![0.0f64; k * width];
    let mut counts = vec![0usize; k];
    let mut distortion = vec![0.0f64; k];
    let mut split_last_round = false;
    for _ in 0..iterations {
        let table = transpose(&centroids, width);
        sums.fill(0.0);
        counts.fill(0);
        distortion.fill(0.0);
        let mut changed = false;
        for (point, assigned) in points.chunks_exact(width).zip(assignment.iter_mut()) {
            let (c, d) = nearest(&table, point, &mut dist);
            changed |= *assigned != c;
            *assigned = c;
            counts[c] += 1;
            distortion[c] += f64::from(d);
            for (sum, &x) in sums[c * width..][..width].iter_mut().zip(point) {
                *sum += f64::from(x);
            }
        }
        if !changed && !split_last_round {
            // Same clusters as last round, whose means the centroids already are.
            break;
        }
        for ((centroid, sum), &count) in
            centroids.chunks_exact_mut(width).zip(sums.chunks_exact(width)).zip(&counts)
        {
            if count > 0 {
                for (c, &s) in centroid.iter_mut().zip(sum) {
                    *c = (s / count as f64) as f32;
                }
            }
        }
        split_last_round =
            split_empty_clusters(&mut centroids, width, &mut counts, &mut distortion, rng);
    }
    centroids
}

/// Moves every empty cluster's centroid next to the centroid of the most populated cluster
/// whose points are not all on it, so the next assignment splits that cluster in two. The
/// parent's count and distortion are shared with the new cluster, so further empty clusters
/// pick other parents. Returns whether any centroid moved.
fn split_empty_clusters(
    centroids: &mut [f32],
    width: usize,
    counts: &mut [usize],
    distortion: &mut [f64],
    rng: &mut Rng,
) -> bool {
    let mut moved = false;
    for empty in 0..counts.len() {
        if counts[empty] != 0 {
            continue;
        }
        let mut parent: Option<usize> = None;
        for (c, (&count, &error)) in counts.iter().zip(distortion.iter()).enumerate() {
            if count >= 2 && error > 0.0 && parent.is_none_or(|p| count > counts[p]) {
                parent = Some(c);
            }
        }
        let Some(parent) = parent else {
            // Every cluster is a single point or a pile of identical ones: nothing to split.
            break;
        };
        let radius = (distortion[parent] / (counts[parent] * width) as f64).sqrt() as f32;
        centroids.copy_within(parent * width..(parent + 1) * width, empty * width);
        for c in &mut centroids[empty * width..][..width] {
            let step = if rng.next_u64() >> 63 == 0 { SPLIT_STEP } else { -SPLIT_STEP };
            let moved_to = *c + step * radius;
            if moved_to.is_finite() {
                *c = moved_to;
            }
        }
        let half = counts[parent] / 2;
        counts[empty] = counts[parent] - half;
        counts[parent] = half;
        distortion[parent] /= 2.0;
        distortion[empty] = distortion[parent];
        moved = true;
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rows * dim` values uniform in `[-1, 1)`.
    fn random_table(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..rows * dim).map(|_| rng.uniform_range(-1.0, 1.0)).collect()
    }

    fn mean_squared_error(a: &[f32], b: &[f32]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(&x, &y)| f64::from(x - y).powi(2)).sum::<f64>() / a.len() as f64
    }

    /// Mean over columns of each column's variance.
    fn column_variance(data: &[f32], dim: usize) -> f64 {
        let rows = (data.len() / dim) as f64;
        (0..dim)
            .map(|j| {
                let col = || data.iter().skip(j).step_by(dim).map(|&x| f64::from(x));
                let mean = col().sum::<f64>() / rows;
                col().map(|x| (x - mean).powi(2)).sum::<f64>() / rows
            })
            .sum::<f64>()
            / dim as f64
    }

    fn reconstruction_error(q: &ProductQuantizer, data: &[f32], rows: usize) -> f64 {
        mean_squared_error(&q.decode(&q.encode(data, rows), rows), data)
    }

    fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
    }

    #[test]
    fn round_trip_is_exact_when_the_codebook_covers_every_sub_vector() {
        let (rows, dim) = (8, 6);
        let data = random_table(rows, dim, 3);
        let q = ProductQuantizer::train(&data, rows, dim, 2, 16, 10, 1000, 7).unwrap();
        assert_eq!((q.dim(), q.dsub(), q.ksub(), q.subspaces()), (6, 2, 8, 3));
        assert_eq!(q.centroids().len(), 8 * 6);
        let codes = q.encode(&data, rows);
        assert_eq!(codes.len(), rows * 3);
        assert_eq!(q.decode(&codes, rows), data);

        // Repeated rows count once: 12 rows with 5 distinct ones give 5 centroids, still exact.
        let repeated: Vec<f32> =
            (0..12).flat_map(|r| data[(r % 5) * dim..][..dim].to_vec()).collect();
        let q = ProductQuantizer::train(&repeated, 12, dim, 3, 64, 10, 1000, 1).unwrap();
        assert_eq!(q.ksub(), 5);
        assert_eq!(q.decode(&q.encode(&repeated, 12), 12), repeated);

        // A table of one repeated row (with both signs of zero) needs a single centroid.
        let same: Vec<f32> = [0.5, -0.0, 2.0, 0.0, 0.5, 0.0, 2.0, -0.0].to_vec();
        let q = ProductQuantizer::train(&same, 2, 4, 2, 4, 5, 10, 0).unwrap();
        assert_eq!(q.ksub(), 1);
        assert_eq!(q.decode(&q.encode(&same, 2), 2), [0.5, 0.0, 2.0, 0.0, 0.5, 0.0, 2.0, 0.0]);
    }

    #[test]
    fn training_beats_random_codebooks_and_finer_subspaces_beat_coarser() {
        let (rows, dim) = (2000, 12);
        let data = random_table(rows, dim, 11);
        let variance = column_variance(&data, dim);
        let fine = ProductQuantizer::train(&data, rows, dim, 2, 256, 15, rows, 5).unwrap();
        let coarse = ProductQuantizer::train(&data, rows, dim, 4, 256, 15, rows, 5).unwrap();
        let start = ProductQuantizer::train(&data, rows, dim, 2, 256, 0, rows, 5).unwrap();
        let mut rng = Rng::new(99);
        let random_centroids = (0..256 * dim).map(|_| rng.uniform_range(-1.0, 1.0)).collect();
        let random = ProductQuantizer::from_parts(dim, 2, 256, random_centroids).unwrap();

        let fine_error = reconstruction_error(&fine, &data, rows);
        let coarse_error = reconstruction_error(&coarse, &data, rows);
        let start_error = reconstruction_error(&start, &data, rows);
        let random_error = reconstruction_error(&random, &data, rows);
        eprintln!(
            "variance {variance:.5} fine {fine_error:.6} coarse {coarse_error:.6} \
             start {start_error:.6} random {random_error:.6}"
        );
        assert!(fine_error < 0.05 * variance, "{fine_error} vs variance {variance}");
        assert!(fine_error < coarse_error, "{fine_error} vs coarser {coarse_error}");
        assert!(fine_error < 0.6 * start_error, "{fine_error} vs untrained {start_error}");
        assert!(fine_error < 0.5 * random_error, "{fine_error} vs random {random_error}");

        // No code is wasted: every centroid of every subspace is some row's nearest.
        let codes = fine.encode(&data, rows);
        for s in 0..fine.subspaces() {
            let used: HashSet<u8> =
                codes.iter().skip(s).step_by(fine.subspaces()).copied().collect();
            assert_eq!(used.len(), 256, "subspace {s}");
        }
    }

    #[test]
    fn training_is_deterministic_for_a_seed_and_any_thread_count() {
        let (rows, dim) = (600, 8);
        let data = random_table(rows, dim, 21);
        // 400 of the 600 rows are used for training, so the subsampling is covered too.
        let train = |seed| ProductQuantizer::train(&data, rows, dim, 2, 32, 8, 400, seed).unwrap();
        let one = in_pool(1, || train(4));
        let two = in_pool(2, || train(4));
        assert_eq!(one.centroids(), two.centroids());
        assert_eq!(one, train(4));
        assert_ne!(one.centroids(), train(5).centroids());
        assert_eq!(in_pool(1, || one.encode(&data, rows)), in_pool(2, || one.encode(&data, rows)));

        let picked = pick_training_rows(rows, 400, 4);
        assert_eq!(picked.len(), 400);
        assert!(picked.windows(2).all(|w| w[0] < w[1]) && picked[399] < rows);
        assert_eq!(picked, pick_training_rows(rows, 400, 4));
    }

    #[test]
    fn a_narrower_last_subspace_keeps_every_shape_right() {
        let (rows, dim) = (6, 10);
        let data = random_table(rows, dim, 8);
        let q = ProductQuantizer::train(&data, rows, dim, 4, 8, 10, 100, 2).unwrap();
        assert_eq!((q.subspaces(), q.ksub()), (3, 6));
        assert_eq!(q.centroids().len(), 6 * (4 + 4 + 2));
        let codes = q.encode(&data, rows);
        assert_eq!(codes.len(), rows * 3);
        let decoded = q.decode(&codes, rows);
        assert_eq!(decoded, data);
        let mut row = vec![0.0; dim];
        q.decode_row(&codes[3..6], &mut row);
        assert_eq!(row, data[dim..2 * dim]);

        // With fewer centroids than rows the reconstruction is approximate but well shaped.
        let (rows, data) = (300, random_table(300, dim, 9));
        let q = ProductQuantizer::train(&data, rows, dim, 4, 16, 10, 1000, 2).unwrap();
        assert_eq!(q.centroids().len(), 16 * dim);
        let decoded = q.decode(&q.encode(&data, rows), rows);
        assert_eq!(decoded.len(), rows * dim);
        let error = mean_squared_error(&decoded, &data);
        assert!(error < 0.5 * column_variance(&data, dim), "{error}");
    }

    #[test]
    fn from_parts_checks_lengths_and_rebuilds_an_equal_quantizer() {
        let data = random_table(50, 10, 13);
        let q = ProductQuantizer::train(&data, 50, 10, 4, 16, 5, 100, 3).unwrap();
        let parts = q.centroids().to_vec();
        let rebuilt = ProductQuantizer::from_parts(q.dim(), q.dsub(), q.ksub(), parts.clone());
        assert_eq!(rebuilt.unwrap(), q);

        let bad = |dim, dsub, ksub, centroids: Vec<f32>| {
            matches!(
                ProductQuantizer::from_parts(dim, dsub, ksub, centroids),
                Err(CoreError::InvalidConfig(_))
            )
        };
        assert!(bad(10, 4, 16, parts[1..].to_vec()));
        assert!(bad(10, 4, 16, [parts.as_slice(), &[0.0]].concat()));
        assert!(bad(10, 4, 8, parts.clone()));
        assert!(bad(10, 0, 16, parts.clone()));
        assert!(bad(10, 11, 16, parts.clone()));
        assert!(bad(0, 4, 16, Vec::new()));
        assert!(bad(10, 4, 0, Vec::new()));
        assert!(bad(10, 4, 257, vec![0.0; 2570]));
        let mut with_nan = parts;
        with_nan[7] = f32::NAN;
        assert!(bad(10, 4, 16, with_nan));
        assert!(ProductQuantizer::from_parts(3, 3, 1, vec![1.0, 2.0, 3.0]).is_ok());
    }

    #[test]
    fn bad_training_arguments_are_errors() {
        let data = random_table(20, 4, 1);
        let train = |data: &[f32], rows, dim, dsub, ksub, max_rows| {
            matches!(
                ProductQuantizer::train(data, rows, dim, dsub, ksub, 5, max_rows, 0),
                Err(CoreError::InvalidConfig(_))
            )
        };
        assert!(!train(&data, 20, 4, 2, 8, 20));
        assert!(train(&data, 20, 4, 0, 8, 20));
        assert!(train(&data, 20, 4, 5, 8, 20));
        assert!(train(&data, 20, 4, 2, 1, 20));
        assert!(train(&data, 20, 4, 2, 300, 20));
        assert!(train(&data, 19, 4, 2, 8, 20));
        assert!(train(&data, 20, 5, 2, 8, 20));
        assert!(train(&data, usize::MAX, 2, 1, 8, 20));
        assert!(train(&data, 20, 0, 1, 8, 20));
        assert!(train(&[], 0, 4, 2, 8, 20));
        assert!(train(&data, 20, 4, 2, 8, 0));
        let mut with_inf = data;
        with_inf[5] = f32::INFINITY;
        assert!(train(&with_inf, 20, 4, 2, 8, 20));
    }

    #[test]
    fn empty_clusters_are_reseeded_by_splitting_the_largest() {
        // Two groups of 1-D points; two of the four starting centroids are nearest to nothing.
        let points: Vec<f32> = (0..40)
            .map(|i| if i < 30 { i as f32 * 0.01 } else { 10.0 + i as f32 * 0.01 })
            .collect();
        let centroids = kmeans(&points, 1, vec![0.0, 10.0, 100.0, 200.0], 20, &mut Rng::new(1));
        let table = transpose(&centroids, 1);
        let mut dist = [0.0; 4];
        let used: HashSet<usize> =
            points.iter().map(|p| nearest(&table, &[*p], &mut dist).0).collect();
        assert_eq!(used.len(), 4, "centroids {centroids:?}");
        // The larger group is split first: it ends up with three of the four centroids.
        assert_eq!(centroids.iter().filter(|&&c| c < 5.0).count(), 3, "{centroids:?}");
    }
}
