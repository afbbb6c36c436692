//! Turning encoded texts into padded batches.
//!
//! Training batches group texts of similar length, so little of each batch is padding, while
//! staying random: each epoch shuffles all examples with a generator seeded from the run's
//! seed and the epoch number, sorts them by length within pools of [`POOL_BATCHES`] batches,
//! cuts the pools into batches and shuffles the batch order. The order depends only on the
//! seed and the epoch, so a resumed run sees exactly the batches an uninterrupted one does.

use thresh_core::layers::PaddingMask;
use thresh_core::models::TokenBatch;
use thresh_core::rng::mix64;
use thresh_core::Rng;

/// Batches per length-sorting pool.
pub const POOL_BATCHES: usize = 50;

/// Texts as token ids, each cut to the model's maximum length and at least one token long,
/// with their class ids (`None` for a label the model does not know).
#[derive(Clone, Debug, Default)]
pub struct EncodedSet {
    /// Token ids per example.
    pub ids: Vec<Vec<u32>>,
    /// Class id per example (its first label the model knows).
    pub labels: Vec<Option<usize>>,
    /// Further known classes per example (multi-label data); empty for one-label texts.
    pub also: Vec<Vec<usize>>,
}

/// The classes of each example's labels that are among `labels`: the first such class (`None`
/// when the example has none), and the others in file order without repeats.
pub fn class_ids<'a>(
    examples: impl IntoIterator<Item = &'a [String]>,
    labels: &[String],
) -> (Vec<Option<usize>>, Vec<Vec<usize>>) {
    let index: std::collections::BTreeMap<&str, usize> =
        labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    examples
        .into_iter()
        .map(|names| {
            let mut known: Vec<usize> = Vec::new();
            for c in names.iter().filter_map(|l| index.get(l.as_str()).copied()) {
                if !known.contains(&c) {
                    known.push(c);
                }
            }
            match known.split_first() {
                Some((&first, rest)) => (Some(first), rest.to_vec()),
                None => (None, Vec::new()),
            }
        })
        .unzip()
}

impl EncodedSet {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Token count of each example.
    pub fn lengths(&self) -> Vec<usize> {
        self.ids.iter().map(Vec::len).collect()
    }
}

/// Cuts `ids` to `max_length` tokens; an empty sequence becomes the single token `filler`
/// (every sequence needs a position to pool over). With `special` (texts framed as
/// `[CLS] … [SEP]`) the last token stays last, so a cut text still ends with `[SEP]`.
pub fn fit_length(mut ids: Vec<u32>, max_length: usize, filler: u32, special: bool) -> Vec<u32> {
    if special && ids.len() > max_length && max_length >= 2 {
        let last = ids[ids.len() - 1];
        ids.truncate(max_length - 1);
        ids.push(last);
    }
    ids.truncate(max_length);
    if ids.is_empty() {
        ids.push(filler);
    }
    ids
}

/// The training batches of `epoch`: indices into the set, every example exactly once.
pub fn epoch_batches(
    lengths: &[usize],
    batch_size: usize,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut rng = Rng::new(mix64(seed ^ mix64(0xBA7C_0000 + epoch as u64)));
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    rng.shuffle(&mut order);
    let mut batches = Vec::with_capacity(lengths.len().div_ceil(batch_size));
    for pool in order.chunks_mut(batch_size * POOL_BATCHES) {
        pool.sort_by_key(|&i| lengths[i]);
        batches.extend(pool.chunks(batch_size).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    batches
}

/// Batches for inference: examples sorted by length (stable), then cut in order.
pub fn eval_batches(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
}

/// A padded batch of the given examples: length of the longest, padded with `pad`.
pub fn make_batch(ids: &[Vec<u32>], indices: &[usize], pad: u32) -> TokenBatch {
    let seq = indices.iter().map(|&i| ids[i].len()).max().unwrap_or(1).max(1);
    let mut flat = Vec::with_capacity(indices.len() * seq);
    let mut lengths = Vec::with_capacity(indices.len());
    for &i in indices {
        let row = &ids[i];
        flat.extend_from_slice(row);
        flat.extend(std::iter::repeat_n(pad, seq - row.len()));
        lengths.push(row.len().max(1));
    }
    let mask = PaddingMask::from_lengths(seq, lengths).expect("every sequence has 1..=seq tokens");
    TokenBatch::new(flat, mask).expect("ids fill batch × seq")
}

/// The `q`-quantile (0..=1) of `lengths`, by the nearest-rank rule; 1 for no lengths.
pub fn length_quantile(lengths: &[usize], q: f64) -> usize {
    if lengths.is_empty() {
        return 1;
    }
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_batches_cover_every_example_once_and_depend_on_seed_and_epoch() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 37) % 91 + 1).collect();
        let b = epoch_batches(&lengths, 16, 7, 0);
        let mut seen: Vec<usize> = b.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert_eq!(b, epoch_batches(&lengths, 16, 7, 0));
        assert_ne!(b, epoch_batches(&lengths, 16, 7, 1));
        assert_ne!(b, epoch_batches(&lengths, 16, 8, 0));
        // Length grouping: padding is a small share of the padded tokens.
        let (mut real, mut padded) = (0, 0);
        for batch in &b {
            let max = batch.iter().map(|&i| lengths[i]).max().unwrap();
            real += batch.iter().map(|&i| lengths[i]).sum::<usize>();
            padded += max * batch.len();
        }
        assert!((padded - real) as f64 / (padded as f64) < 0.1, "{real} of {padded}");
    }

    #[test]
    fn batches_pad_to_the_longest_and_keep_lengths() {
        let ids = vec![vec![5, 6, 7], vec![8], vec![9, 10]];
        let batch = make_batch(&ids, &[1, 0], 0);
        assert_eq!(batch.ids, vec![8, 0, 0, 5, 6, 7]);
        assert_eq!(batch.mask.lengths(), &[1, 3]);
        assert_eq!(eval_batches(&[3, 1, 2], 2), vec![vec![1, 2], vec![0]]);
    }

    #[test]
    fn lengths_are_fitted_and_quantiles_computed() {
        assert_eq!(fit_length(vec![1, 2, 3], 2, 9, false), vec![1, 2]);
        assert_eq!(fit_length(vec![], 2, 9, false), vec![9]);
        assert_eq!(fit_length(vec![101, 5, 6, 7, 102], 4, 0, true), vec![101, 5, 6, 102]);
        assert_eq!(fit_length(vec![101, 5, 102], 4, 0, true), vec![101, 5, 102]);
        let lengths: Vec<usize> = (1..=100).collect();
        assert_eq!(length_quantile(&lengths, 0.95), 95);
        assert_eq!(length_quantile(&[], 0.95), 1);
        assert_eq!(length_quantile(&[0, 0], 0.5), 1);
    }
}
