//! A bag-of-embeddings text classifier, the model of fastText: the table rows of a text's
//! tokens (words and word n-grams alike) are averaged into one vector, and one linear map
//! without bias turns it into class logits.
//!
//! Shapes: token ids `[batch · seq]` with a [`PaddingMask`], logits `[batch, classes]`.
//! Parameters: `embeddings.weight` `[vocab, dim]` (row-sparse gradient) and `head.weight`
//! `[classes, dim]`. Initialisation follows fastText: table rows uniform in `±1/dim`, head
//! zero. Every text's average also takes in row [`END_ROW`], an end-of-text row like the
//! `</s>` token fastText appends to each line: it gives the model a learned offset, and an
//! empty text a vector of its own.
//!
//! Two ways to train it: the layer interface ([`BagClassifier::forward`] and
//! [`BagClassifier::backward`], for any optimiser and for the gradient check), and
//! [`BagClassifier::sgd_round`], fastText's per-example SGD made deterministic (see there).

use crate::error::CoreError;
use crate::layers::one_vs_all::{sigmoid, softplus};
use crate::models::TokenBatch;
use crate::param::{Module, Param};
use crate::rng::Rng;
use crate::tensor::Tensor;
use rayon::prelude::*;

/// The table row every text's average includes (thresh's vocabularies keep `[PAD]` there,
/// which a bag otherwise never reads).
pub const END_ROW: u32 = 0;

/// The ids a text's average is taken over: the end-of-text row, then the text's own.
fn with_end(ids: &[u32]) -> impl Iterator<Item = u32> + '_ {
    std::iter::once(END_ROW).chain(ids.iter().copied())
}

/// Architecture of a [`BagClassifier`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BagConfig {
    /// Rows of the token table (words and n-grams).
    pub vocab_size: usize,
    /// Width of the averaged vector.
    pub dim: usize,
    /// Output classes.
    pub classes: usize,
    /// Train each class as its own yes/no question (sigmoid, for several labels per text)
    /// instead of one softmax over the classes.
    #[serde(default)]
    pub one_vs_all: bool,
}

impl BagConfig {
    /// Checks that the dimensions are usable.
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.vocab_size == 0 || self.dim == 0 {
            return Err(CoreError::InvalidConfig("vocabulary and width must be positive".into()));
        }
        if self.classes < 2 {
            return Err(CoreError::InvalidConfig(format!(
                "{} classes; a classifier needs at least 2",
                self.classes
            )));
        }
        Ok(())
    }
}

/// One training example for [`BagClassifier::sgd_round`]: its token ids, class and weight.
#[derive(Clone, Copy, Debug)]
pub struct SgdExample<'a> {
    /// Token ids (words and n-grams).
    pub ids: &'a [u32],
    /// Class index.
    pub label: usize,
    /// Further true classes, for one-vs-all training (ignored by softmax training).
    pub also: &'a [usize],
    /// Weight of the example's loss (1 for plain training; class weights scale it).
    pub weight: f32,
}

/// Sums over a round of [`BagClassifier::sgd_round`]: loss and correct predictions, each
/// measured before the example's own update.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SgdTotals {
    /// Sum of the examples' cross-entropy losses, each times its weight.
    pub loss: f64,
    /// Examples whose highest logit was their class.
    pub correct: usize,
    /// Examples seen.
    pub examples: usize,
}

/// Mean of embeddings, then a linear map.
#[derive(Clone, Debug)]
pub struct BagClassifier {
    config: BagConfig,
    /// Token table, `[vocab, dim]`.
    pub embeddings: Param,
    /// Output map, `[classes, dim]`.
    pub head: Param,
    hidden: Tensor,
    logits: Tensor,
    batch: Option<TokenBatch>,
    shards: Vec<ShardDelta>,
}

impl BagClassifier {
    /// A freshly initialised model; the same seed gives the same weights.
    pub fn new(config: BagConfig, seed: u64) -> Result<Self, CoreError> {
        Self::with_rng(config, Rng::new(seed))
    }

    /// A model whose initial weights come from `rng`; with [`Rng::placeholder`], zero
    /// weights in untouched memory, for weights about to be loaded.
    pub fn with_rng(config: BagConfig, mut rng: Rng) -> Result<Self, CoreError> {
        config.validate()?;
        let bound = 1.0 / config.dim as f32;
        let table = rng.uniform_values(config.vocab_size * config.dim, -bound, bound);
        let embeddings = Param::row_sparse(
            "embeddings.weight",
            Tensor::from_vec(table, &[config.vocab_size, config.dim])?,
        );
        let head = Param::new("head.weight", Tensor::zeros(&[config.classes, config.dim]));
        Ok(BagClassifier {
            config,
            embeddings,
            head,
            hidden: Tensor::default(),
            logits: Tensor::default(),
            batch: None,
            shards: Vec::new(),
        })
    }

    /// The architecture.
    pub fn config(&self) -> &BagConfig {
        &self.config
    }

    fn check_ids(&self, ids: &[u32]) -> Result<(), CoreError> {
        let vocab = self.config.vocab_size;
        match ids.iter().find(|&&id| id as usize >= vocab) {
            Some(&id) => Err(CoreError::TokenOutOfRange { id, vocab }),
            None => Ok(()),
        }
    }

    /// Class logits for `batch`, `[batch, classes]`. The model has no dropout, so `train`
    /// only decides whether the batch is kept for [`BagClassifier::backward`].
    pub fn forward(&mut self, batch: &TokenBatch, train: bool) -> Result<&Tensor, CoreError> {
        self.check_ids(&batch.ids)?;
        let (d, classes) = (self.config.dim, self.config.classes);
        let (rows, seq) = (batch.mask.batch(), batch.mask.seq());
        self.hidden.resize(&[rows, d]);
        self.logits.resize(&[rows, classes]);
        let (table, head) = (self.embeddings.value.data(), self.head.value.data());
        self.hidden
            .data_mut()
            .par_chunks_mut(d)
            .zip(self.logits.data_mut().par_chunks_mut(classes))
            .enumerate()
            .for_each(|(b, (h, out))| {
                let ids = &batch.ids[b * seq..b * seq + batch.mask.len(b)];
                mean_rows(table, d, ids, h);
                scores(head, d, h, out);
            });
        if train {
            match &mut self.batch {
                Some(b) => b.clone_from(batch),
                None => self.batch = Some(batch.clone()),
            }
        }
        Ok(&self.logits)
    }

    /// Accumulates the parameter gradients for the loss gradient `dlogits` of the last
    /// training forward pass.
    pub fn backward(&mut self, dlogits: &Tensor) {
        let batch = self.batch.as_ref().expect("backward called before a training forward");
        let (d, classes, seq) = (self.config.dim, self.config.classes, batch.mask.seq());
        let (hidden, head) = (self.hidden.data(), self.head.value.data());
        let dhead = self.head.grad.data_mut();
        let mut dh = vec![0.0f32; d];
        for (b, g) in dlogits.data().chunks(classes).enumerate() {
            let h = &hidden[b * d..(b + 1) * d];
            dh.fill(0.0);
            for (k, &gk) in g.iter().enumerate() {
                let w = &head[k * d..(k + 1) * d];
                for ((acc, dw), (&wi, &hi)) in
                    dh.iter_mut().zip(&mut dhead[k * d..(k + 1) * d]).zip(w.iter().zip(h))
                {
                    *acc += gk * wi;
                    *dw += gk * hi;
                }
            }
            let ids = &batch.ids[b * seq..b * seq + batch.mask.len(b)];
            let inv = 1.0 / (ids.len() + 1) as f32;
            for id in with_end(ids) {
                let row =
                    &mut self.embeddings.grad.data_mut()[id as usize * d..(id as usize + 1) * d];
                for (r, &g) in row.iter_mut().zip(&dh) {
                    *r += g * inv;
                }
                self.embeddings.touch_row(id);
            }
        }
    }

    /// One round of fastText's SGD, deterministic with any number of threads.
    ///
    /// fastText updates the weights after every example from several threads at once, with
    /// no locks: fast, but the result depends on how the threads interleave. Here the
    /// examples of a round are dealt into `shards` contiguous slices. Each shard runs the
    /// per-example updates in order, exactly as fastText does, except that it writes into its
    /// own sparse copy of the changes instead of the shared weights (it reads the shared
    /// weights plus its own changes). When every shard is done, the changes are added to the
    /// weights in shard order. A shard thus sees its own updates at once and other shards'
    /// updates from the next round: the staleness of an asynchronous run, but fixed. The
    /// shard count, not the thread count, fixes the result.
    ///
    /// Per example (fastText's supervised softmax update): `h` = mean of the `n` rows of the
    /// tokens and the end-of-text row, `p = softmax(W h)` (one-vs-all: `pₖ = σ(Wₖ h)`),
    /// `αₖ = lr·w·(yₖ − pₖ)` for the example's weight `w`;
    /// `W[k] += αₖ h`; each of the `n` rows `+= (Σₖ αₖ W[k]) / n`, with `W` before the
    /// example's update.
    pub fn sgd_round(
        &mut self,
        examples: &[SgdExample<'_>],
        shards: usize,
        lr: f32,
    ) -> Result<SgdTotals, CoreError> {
        let shards = shards.max(1);
        self.embeddings.value_changed();
        self.head.value_changed();
        for ex in examples {
            self.check_ids(ex.ids)?;
            if let Some(&c) =
                std::iter::once(&ex.label).chain(ex.also).find(|&&c| c >= self.config.classes)
            {
                return Err(CoreError::InvalidConfig(format!(
                    "class {c} of a model with {} classes",
                    self.config.classes
                )));
            }
        }
        let (d, classes, one_vs_all) =
            (self.config.dim, self.config.classes, self.config.one_vs_all);
        self.shards.resize_with(shards, || ShardDelta::new(classes * d));
        let per = examples.len().div_ceil(shards);
        let chunks: Vec<&[SgdExample<'_>]> = (0..shards)
            .map(|s| &examples[(s * per).min(examples.len())..((s + 1) * per).min(examples.len())])
            .collect();
        let (table, head) = (self.embeddings.value.data(), self.head.value.data());
        let totals: Vec<SgdTotals> = self
            .shards
            .par_iter_mut()
            .zip(chunks)
            .map(|(delta, chunk)| {
                delta.clear();
                let mut t = SgdTotals::default();
                for ex in chunk {
                    delta.example(table, head, d, classes, ex, lr, one_vs_all, &mut t);
                }
                t
            })
            .collect();
        let table = self.embeddings.value.data_mut();
        let head = self.head.value.data_mut();
        for delta in &self.shards {
            delta.apply(table, head, d);
        }
        Ok(totals.iter().fold(SgdTotals::default(), |a, t| SgdTotals {
            loss: a.loss + t.loss,
            correct: a.correct + t.correct,
            examples: a.examples + t.examples,
        }))
    }
}

/// `out` = mean of the table rows of `ids` and of [`END_ROW`].
fn mean_rows(table: &[f32], d: usize, ids: &[u32], out: &mut [f32]) {
    out.fill(0.0);
    for id in with_end(ids) {
        let row = &table[id as usize * d..(id as usize + 1) * d];
        out.iter_mut().zip(row).for_each(|(o, r)| *o += r);
    }
    let inv = 1.0 / (ids.len() + 1) as f32;
    out.iter_mut().for_each(|o| *o *= inv);
}

/// `out[k] = head[k] · h`.
fn scores(head: &[f32], d: usize, h: &[f32], out: &mut [f32]) {
    for (k, o) in out.iter_mut().enumerate() {
        *o = head[k * d..(k + 1) * d].iter().zip(h).map(|(w, x)| w * x).sum();
    }
}

/// A shard's changes to the weights within a round: the head's in full (it is small), the
/// table's for the rows it touched, found through a small open-addressing map.
#[derive(Clone, Debug)]
struct ShardDelta {
    head: Vec<f32>,
    /// Touched rows in first-touch order; their changes are `rows_delta[i·d..]`.
    rows: Vec<u32>,
    rows_delta: Vec<f32>,
    /// Open addressing: slot → index into `rows` plus one (0 = empty).
    slots: Vec<u32>,
    // Scratch of one example.
    hidden: Vec<f32>,
    grad: Vec<f32>,
    logits: Vec<f32>,
    row: Vec<f32>,
}

impl ShardDelta {
    fn new(head_len: usize) -> Self {
        ShardDelta {
            head: vec![0.0; head_len],
            rows: Vec::new(),
            rows_delta: Vec::new(),
            slots: vec![0; 1024],
            hidden: Vec::new(),
            grad: Vec::new(),
            logits: Vec::new(),
            row: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.head.fill(0.0);
        self.rows.clear();
        self.rows_delta.clear();
        self.slots.fill(0);
    }

    fn slot_of(&self, row: u32) -> (usize, Option<usize>) {
        let mask = self.slots.len() - 1;
        let mut s = (row.wrapping_mul(0x9E37_79B1) as usize) & mask;
        loop {
            match self.slots[s] {
                0 => return (s, None),
                i if self.rows[i as usize - 1] == row => return (s, Some(i as usize - 1)),
                _ => s = (s + 1) & mask,
            }
        }
    }

    /// The index of `row`'s change, adding a zero change on first touch.
    fn index(&mut self, row: u32, d: usize) -> usize {
        if (self.rows.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        match self.slot_of(row) {
            (_, Some(i)) => i,
            (s, None) => {
                self.rows.push(row);
                self.rows_delta.resize(self.rows.len() * d, 0.0);
                self.slots[s] = self.rows.len() as u32;
                self.rows.len() - 1
            }
        }
    }

    fn grow(&mut self) {
        self.slots = vec![0; self.slots.len() * 2];
        for i in 0..self.rows.len() {
            let (s, _) = self.slot_of(self.rows[i]);
            self.slots[s] = i as u32 + 1;
        }
    }

    /// Row `id` of the table as this shard sees it: shared value plus its change.
    fn read_row(&self, table: &[f32], d: usize, id: u32, out: &mut [f32]) {
        out.copy_from_slice(&table[id as usize * d..(id as usize + 1) * d]);
        if let (_, Some(i)) = self.slot_of(id) {
            out.iter_mut().zip(&self.rows_delta[i * d..(i + 1) * d]).for_each(|(o, c)| *o += c);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn example(
        &mut self,
        table: &[f32],
        head: &[f32],
        d: usize,
        classes: usize,
        ex: &SgdExample<'_>,
        lr: f32,
        one_vs_all: bool,
        totals: &mut SgdTotals,
    ) {
        let mut hidden = std::mem::take(&mut self.hidden);
        let mut row = std::mem::take(&mut self.row);
        let mut grad = std::mem::take(&mut self.grad);
        let mut logits = std::mem::take(&mut self.logits);
        hidden.clear();
        hidden.resize(d, 0.0);
        row.resize(d, 0.0);
        for id in with_end(ex.ids) {
            self.read_row(table, d, id, &mut row);
            hidden.iter_mut().zip(&row).for_each(|(h, r)| *h += r);
        }
        let inv = 1.0 / (ex.ids.len() + 1) as f32;
        hidden.iter_mut().for_each(|h| *h *= inv);
        logits.clear();
        for k in 0..classes {
            let w = head[k * d..(k + 1) * d].iter().zip(&self.head[k * d..(k + 1) * d]);
            logits.push(w.zip(&hidden).map(|((w, c), h)| (w + c) * h).sum());
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let predicted = logits.iter().position(|&l| l == max).unwrap_or(0);
        let sum: f32 = logits.iter().map(|&l| crate::math::exp(l - max)).sum();
        let truth = |k: usize| k == ex.label || (one_vs_all && ex.also.contains(&k));
        totals.loss += f64::from(
            ex.weight
                * if one_vs_all {
                    (0..classes)
                        .map(|k| softplus(logits[k]) - f32::from(u8::from(truth(k))) * logits[k])
                        .sum::<f32>()
                } else {
                    max + sum.ln() - logits[ex.label]
                },
        );
        // With one-vs-all, a prediction is right when the top class is any true one (P@1).
        totals.correct += usize::from(truth(predicted));
        totals.examples += 1;
        grad.clear();
        grad.resize(d, 0.0);
        for k in 0..classes {
            let p = if one_vs_all {
                sigmoid(logits[k])
            } else {
                crate::math::exp(logits[k] - max) / sum
            };
            let alpha = lr * ex.weight * (f32::from(u8::from(truth(k))) - p);
            let w = &head[k * d..(k + 1) * d];
            let c = &mut self.head[k * d..(k + 1) * d];
            for ((g, (w, c)), h) in grad.iter_mut().zip(w.iter().zip(c.iter_mut())).zip(&hidden) {
                *g += alpha * (w + *c);
                *c += alpha * h;
            }
        }
        grad.iter_mut().for_each(|g| *g *= inv);
        for id in with_end(ex.ids) {
            let i = self.index(id, d);
            let change = &mut self.rows_delta[i * d..(i + 1) * d];
            change.iter_mut().zip(&grad).for_each(|(c, g)| *c += g);
        }
        self.hidden = hidden;
        self.row = row;
        self.grad = grad;
        self.logits = logits;
    }

    fn apply(&self, table: &mut [f32], head: &mut [f32], d: usize) {
        head.iter_mut().zip(&self.head).for_each(|(w, c)| *w += c);
        for (i, &id) in self.rows.iter().enumerate() {
            let row = &mut table[id as usize * d..(id as usize + 1) * d];
            row.iter_mut().zip(&self.rows_delta[i * d..(i + 1) * d]).for_each(|(w, c)| *w += c);
        }
    }
}

impl Module for BagClassifier {
    fn visit(&self, f: &mut dyn FnMut(&Param)) {
        f(&self.embeddings);
        f(&self.head);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Param)) {
        f(&mut self.embeddings);
        f(&mut self.head);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_param_grads;
    use crate::layers::{CrossEntropy, PaddingMask};
    use crate::threads::Threads;

    fn model(seed: u64) -> BagClassifier {
        let mut m = BagClassifier::new(
            BagConfig { vocab_size: 9, dim: 4, classes: 3, one_vs_all: false },
            seed,
        )
        .unwrap();
        // A non-zero head, so the table's gradient is not zero too.
        let mut rng = Rng::new(seed + 1);
        m.head.value.data_mut().iter_mut().for_each(|w| *w = rng.normal());
        m
    }

    fn batch() -> TokenBatch {
        let ids = vec![1, 5, 5, 2, 3, 0, 0, 0, 8, 0, 0, 0];
        TokenBatch::new(ids, PaddingMask::from_lengths(4, vec![4, 1, 2]).unwrap()).unwrap()
    }

    /// The model is linear in the table and in the head: central differences with step 1e-2,
    /// tolerance 1e-3. The batch has a repeated token and padding.
    #[test]
    fn bag_gradient_check() {
        let mut m = model(3);
        let b = batch();
        let unused = Tensor::zeros(&[1]);
        check_param_grads(
            &mut m,
            &unused,
            1e-2,
            1e-3,
            |m, _| m.forward(&b, true).unwrap().clone(),
            |m, _, dy| m.backward(dy),
        );
    }

    /// One example in one shard is one step of plain SGD on the cross-entropy: the update
    /// equals `−lr ·` the gradient the layer interface computes, within 1e-6.
    #[test]
    fn sgd_step_is_the_cross_entropy_gradient_step() {
        let (lr, label) = (0.3, 2);
        let ids = [1u32, 5, 5, 2];
        let mut reference = model(5);
        let b =
            TokenBatch::new(ids.to_vec(), PaddingMask::from_lengths(4, vec![4]).unwrap()).unwrap();
        let logits = reference.forward(&b, true).unwrap().clone();
        let mut ce = CrossEntropy::new();
        ce.forward(&logits, &[label]).unwrap();
        reference.backward(ce.grad());
        let mut m = model(5);
        let totals =
            m.sgd_round(&[SgdExample { ids: &ids, label, also: &[], weight: 1.0 }], 1, lr).unwrap();
        assert_eq!(totals.examples, 1);
        let mut i = 0;
        let mut after = Vec::new();
        m.visit(&mut |p| after.push(p.value.clone()));
        reference.visit(&mut |p| {
            for ((&w, &g), &new) in p.value.data().iter().zip(p.grad.data()).zip(after[i].data()) {
                assert!((w - lr * g - new).abs() < 1e-6, "{}: {w} - {lr}·{g} vs {new}", p.name);
            }
            i += 1;
        });
    }

    /// With one-vs-all, one example in one shard is one step of plain SGD on the one-vs-all
    /// loss of its true classes: the update equals `−lr ·` the layer's gradient, within 1e-6.
    #[test]
    fn one_vs_all_sgd_step_is_the_gradient_step() {
        let (lr, ids) = (0.3, [1u32, 5, 2]);
        let ova = |seed| {
            let mut m = model(seed);
            m.config.one_vs_all = true;
            m
        };
        let mut reference = ova(6);
        let b =
            TokenBatch::new(ids.to_vec(), PaddingMask::from_lengths(3, vec![3]).unwrap()).unwrap();
        let logits = reference.forward(&b, true).unwrap().clone();
        let mut loss = crate::layers::OneVsAll::new();
        loss.forward(&logits, &[&[2, 0]]).unwrap();
        reference.backward(loss.grad());
        let mut m = ova(6);
        m.sgd_round(&[SgdExample { ids: &ids, label: 2, also: &[0], weight: 1.0 }], 1, lr).unwrap();
        let mut after = Vec::new();
        m.visit(&mut |p| after.push(p.value.clone()));
        let mut i = 0;
        reference.visit(&mut |p| {
            for ((&w, &g), &new) in p.value.data().iter().zip(p.grad.data()).zip(after[i].data()) {
                assert!((w - lr * g - new).abs() < 1e-6, "{}: {w} - {lr}·{g} vs {new}", p.name);
            }
            i += 1;
        });
    }

    /// An example's weight scales its step: weight 2 moves every parameter twice as far as
    /// weight 1 from the same start (within 1e-6).
    #[test]
    fn example_weight_scales_the_step() {
        let ids = [3u32, 4, 4];
        let step = |weight: f32| {
            let mut m = model(8);
            let before: Vec<f32> = m.head.value.data().to_vec();
            m.sgd_round(&[SgdExample { ids: &ids, label: 1, also: &[], weight }], 1, 0.2).unwrap();
            let moved: Vec<f32> =
                m.head.value.data().iter().zip(&before).map(|(a, b)| a - b).collect();
            moved
        };
        for (one, two) in step(1.0).iter().zip(step(2.0)) {
            assert!((2.0 * one - two).abs() < 1e-6, "{one} {two}");
        }
    }

    fn toy(n: usize) -> Vec<(Vec<u32>, usize)> {
        let mut rng = Rng::new(11);
        (0..n)
            .map(|i| {
                let label = i % 3;
                let mut ids: Vec<u32> = (0..4).map(|_| 6 + rng.below(3) as u32).collect();
                ids.insert(rng.below(5), label as u32 * 2);
                (ids, label)
            })
            .collect()
    }

    /// Rounds give the same weights on one thread and on three, and learn a toy task whose
    /// class is marked by one token among noise.
    #[test]
    fn sgd_rounds_are_deterministic_across_threads_and_learn() {
        let data = toy(300);
        let examples: Vec<SgdExample<'_>> = data
            .iter()
            .map(|(ids, label)| SgdExample { ids, label: *label, also: &[], weight: 1.0 })
            .collect();
        let train = |threads: usize| {
            Threads::new(threads).unwrap().install(|| {
                let mut m = BagClassifier::new(
                    BagConfig { vocab_size: 9, dim: 8, classes: 3, one_vs_all: false },
                    1,
                )
                .unwrap();
                let mut last = SgdTotals::default();
                for _epoch in 0..5 {
                    last = SgdTotals::default();
                    for round in examples.chunks(32) {
                        let t = m.sgd_round(round, 4, 0.5).unwrap();
                        last.correct += t.correct;
                        last.examples += t.examples;
                    }
                }
                (m.embeddings.value.clone(), m.head.value.clone(), last)
            })
        };
        let (e1, h1, t1) = train(1);
        let (e3, h3, _) = train(3);
        assert_eq!(e1.data(), e3.data());
        assert_eq!(h1.data(), h3.data());
        assert!(t1.correct as f64 / t1.examples as f64 > 0.95, "{t1:?}");
    }

    #[test]
    fn rejects_bad_ids_and_labels() {
        let mut m = model(1);
        assert!(m
            .sgd_round(&[SgdExample { ids: &[9], label: 0, also: &[], weight: 1.0 }], 1, 0.1)
            .is_err());
        assert!(m
            .sgd_round(&[SgdExample { ids: &[1], label: 3, also: &[], weight: 1.0 }], 1, 0.1)
            .is_err());
        let b = TokenBatch::new(vec![9], PaddingMask::from_lengths(1, vec![1]).unwrap()).unwrap();
        assert!(m.forward(&b, false).is_err());
    }
}
