//! The reference-model benchmark.
//!
//! Runs the reference Transformer ([`TransformerConfig::reference`]) on synthetic batches made
//! by the same xorshift64* generator as the PyTorch benchmark script, so both sides see
//! identical data: seed 42; `next()` is `x ^= x >> 12; x ^= x << 25; x ^= x >> 27`, returning
//! `(x · 0x2545F4914F6CDD1D mod 2⁶⁴) >> 33`. Token 0 of each sequence is `next() % 64`, the
//! others `next() % 20000`, and the label is token 0 modulo 4, a rule the model can learn.
//! With a pretrained checkpoint the other tokens are `next() % vocab` of its vocabulary.

use crate::error::Error;
use std::time::Instant;
use thresh_core::layers::{CrossEntropy, PaddingMask, PoolingKind};
use thresh_core::models::{
    CnnClassifier, CnnConfig, TokenBatch, TransformerClassifier, TransformerConfig,
};
use thresh_core::optim::AdamW;
use thresh_core::Tensor;
use thresh_core::{Module, Threads};

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchMode {
    /// Full training steps: forward, loss, backward, AdamW update.
    Train,
    /// Forward passes without dropout or gradients.
    Infer,
}

/// Benchmark settings.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Train or infer.
    pub mode: BenchMode,
    /// Timed steps.
    pub steps: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Worker threads (0: all cores).
    pub threads: usize,
    /// Sequences per batch; default 32 for training, 64 for inference.
    pub batch: Option<usize>,
    /// Tokens per sequence.
    pub seq: usize,
    /// Seed of the model's initial weights.
    pub seed: u64,
    /// A Hugging Face BERT checkpoint to run instead of the reference model: its encoder
    /// with a 4-class head on mean pooling, as `--model bert` fine-tunes it.
    pub pretrained: Option<std::path::PathBuf>,
    /// Run the default image network ([`CnnConfig::small`]) on 28 × 28 grey images with 10
    /// classes instead of a text model.
    pub cnn: bool,
    /// Run a trained model directory on synthetic batches of its own shape (its vocabulary
    /// and at most its maximum length, or its image size).
    pub model: Option<std::path::PathBuf>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            mode: BenchMode::Train,
            steps: 30,
            warmup: 5,
            threads: 2,
            batch: None,
            seq: 128,
            seed: 0,
            pretrained: None,
            cnn: false,
            model: None,
        }
    }
}

/// Measured figures.
#[derive(Clone, Debug)]
pub struct BenchReport {
    /// Train or infer.
    pub mode: BenchMode,
    /// Sequences per batch.
    pub batch: usize,
    /// Seconds of each timed step.
    pub step_seconds: Vec<f64>,
    /// Training loss of every step, warmup included (empty for inference).
    pub losses: Vec<f32>,
}

impl BenchReport {
    /// Median seconds per timed step.
    pub fn median_step_s(&self) -> f64 {
        let mut t = self.step_seconds.clone();
        t.sort_by(f64::total_cmp);
        let n = t.len();
        if n == 0 {
            0.0
        } else if n % 2 == 1 {
            t[n / 2]
        } else {
            (t[n / 2 - 1] + t[n / 2]) / 2.0
        }
    }

    /// Sequences per second over the timed steps.
    pub fn seq_per_s(&self) -> f64 {
        let total: f64 = self.step_seconds.iter().sum();
        self.batch as f64 * self.step_seconds.len() as f64 / total.max(f64::MIN_POSITIVE)
    }

    /// The one-line summary, in the same format as the PyTorch script's.
    pub fn result_line(&self) -> String {
        match self.mode {
            BenchMode::Train => {
                let min = self.step_seconds.iter().copied().fold(f64::INFINITY, f64::min);
                let max = self.step_seconds.iter().copied().fold(0.0, f64::max);
                format!(
                    "RESULT mode=train median_step_s={:.4} min_s={:.4} max_s={:.4} \
                     first_loss={:.4} last_loss={:.4}",
                    self.median_step_s(),
                    min,
                    max,
                    self.losses.first().copied().unwrap_or(f32::NAN),
                    self.losses.last().copied().unwrap_or(f32::NAN),
                )
            }
            BenchMode::Infer => format!("RESULT mode=infer seq_per_s={:.1}", self.seq_per_s()),
        }
    }
}

/// The xorshift64* generator of the benchmark's batches.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator with the given state.
    pub fn new(seed: u64) -> Self {
        XorShift(seed)
    }

    /// The next value, 31 bits wide.
    pub fn next_value(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33
    }
}

/// One synthetic batch of `batch` full-length sequences and its labels.
pub fn synthetic_batch(
    rng: &mut XorShift,
    batch: usize,
    seq: usize,
    vocab: usize,
    classes: usize,
) -> (TokenBatch, Vec<usize>) {
    let mut ids = Vec::with_capacity(batch * seq);
    let mut labels = Vec::with_capacity(batch);
    for _ in 0..batch {
        let first = rng.next_value() % 64;
        ids.push(first as u32);
        labels.push(first as usize % classes);
        for _ in 1..seq {
            ids.push((rng.next_value() % vocab as u64) as u32);
        }
    }
    let tokens = TokenBatch::new(ids, PaddingMask::full(batch, seq)).expect("sizes agree");
    (tokens, labels)
}

/// Synthetic image batches of `[channels, height, width]` from the generator: every pixel
/// `next() % 256` scaled to `[0, 1]`, the label the first pixel modulo `classes`.
pub fn synthetic_images(
    rng: &mut XorShift,
    batch: usize,
    [c, h, w]: [usize; 3],
    classes: usize,
) -> (Tensor, Vec<usize>) {
    let len = c * h * w;
    let mut data = Vec::with_capacity(batch * len);
    let mut labels = Vec::with_capacity(batch);
    for _ in 0..batch {
        let first = rng.next_value() % 256;
        labels.push(first as usize % classes);
        data.push(first as f32 / 255.0);
        for _ in 1..len {
            data.push((rng.next_value() % 256) as f32 / 255.0);
        }
    }
    (Tensor::from_vec(data, &[batch, c, h, w]).expect("sizes agree"), labels)
}

/// Runs a trained text model's network on synthetic batches of its vocabulary.
fn run_text_model(options: &BenchOptions, dir: &std::path::Path) -> Result<BenchReport, Error> {
    let mut model = crate::model::load(dir)?;
    if options.mode == BenchMode::Infer {
        model.network.release_dense_copies();
    }
    let seq = options.seq.min(model.config.max_length.max(1));
    let batch = options.batch.unwrap_or(match options.mode {
        BenchMode::Train => 32,
        BenchMode::Infer => 64,
    });
    let (vocab, classes) = (model.tokenizer.vocab_size(), model.config.labels.len());
    let mut rng = XorShift::new(42);
    let batches: Vec<_> = (0..options.warmup + options.steps)
        .map(|_| synthetic_batch(&mut rng, batch, seq, vocab, classes))
        .collect();
    time_steps(&mut model.network, &batches, options, batch, 1e-4)
}

fn run_cnn(
    options: &BenchOptions,
    batch: usize,
    trained: Option<CnnClassifier>,
) -> Result<BenchReport, Error> {
    let mut rng = XorShift::new(42);
    let mut model = match trained {
        Some(m) => m,
        None => CnnClassifier::new(CnnConfig::small(1, 28, 28, 10), options.seed)?,
    };
    let (c, h, w, classes) = {
        let a = model.config();
        (a.channels, a.height, a.width, a.classes)
    };
    let batches: Vec<_> = (0..options.warmup + options.steps)
        .map(|_| synthetic_images(&mut rng, batch, [c, h, w], classes))
        .collect();
    time_steps(&mut model, &batches, options, batch, 1e-3)
}

/// A network the benchmark can step: logits for an input, and a backward pass.
trait Steppable: Module + Send {
    /// What a batch is.
    type Input: Sync;
    fn logits(&mut self, x: &Self::Input, train: bool) -> Result<&Tensor, thresh_core::CoreError>;
    fn back(&mut self, dlogits: &Tensor);
}

impl Steppable for TransformerClassifier {
    type Input = TokenBatch;
    fn logits(&mut self, x: &TokenBatch, train: bool) -> Result<&Tensor, thresh_core::CoreError> {
        self.forward(x, train)
    }
    fn back(&mut self, dlogits: &Tensor) {
        self.backward(dlogits);
    }
}

impl Steppable for crate::model::Network {
    type Input = TokenBatch;
    fn logits(&mut self, x: &TokenBatch, train: bool) -> Result<&Tensor, thresh_core::CoreError> {
        self.forward(x, train)
    }
    fn back(&mut self, dlogits: &Tensor) {
        self.backward(dlogits);
    }
}

impl Steppable for CnnClassifier {
    type Input = Tensor;
    fn logits(&mut self, x: &Tensor, train: bool) -> Result<&Tensor, thresh_core::CoreError> {
        self.forward(x, train)
    }
    fn back(&mut self, dlogits: &Tensor) {
        self.backward(dlogits);
    }
}

/// Times every batch through `model` (a training step with AdamW at `lr`, or a forward pass)
/// on a pool of `options.threads`; the first `options.warmup` steps are not reported.
fn time_steps<M: Steppable>(
    model: &mut M,
    batches: &[(M::Input, Vec<usize>)],
    options: &BenchOptions,
    batch: usize,
    lr: f32,
) -> Result<BenchReport, Error> {
    let threads = Threads::new(options.threads)?;
    let mut loss_fn = CrossEntropy::new();
    let mut optimizer = AdamW::new(0.01);
    let mut times = Vec::with_capacity(batches.len());
    let mut losses = Vec::new();
    threads.install(|| -> Result<(), Error> {
        for (x, labels) in batches {
            let start = Instant::now();
            match options.mode {
                BenchMode::Train => {
                    model.zero_grad();
                    let logits = model.logits(x, true)?;
                    let loss = {
                        let _span = tracing::trace_span!("loss").entered();
                        loss_fn.forward(logits, labels)?
                    };
                    model.back(loss_fn.grad());
                    let _span = tracing::trace_span!("optimizer").entered();
                    optimizer.step(model, lr);
                    losses.push(loss);
                }
                BenchMode::Infer => {
                    model.logits(x, false)?;
                }
            }
            times.push(start.elapsed().as_secs_f64());
        }
        Ok(())
    })?;
    tracing::debug!(threads = threads.count(), batch, "benchmark finished");
    Ok(BenchReport {
        mode: options.mode,
        batch,
        step_seconds: times[options.warmup.min(times.len())..].to_vec(),
        losses,
    })
}

/// Runs the benchmark.
pub fn run(options: &BenchOptions) -> Result<BenchReport, Error> {
    if options.steps == 0 {
        return Err(Error::InvalidOption { flag: "--steps", message: "must be at least 1".into() });
    }
    let image_batch = options.batch.unwrap_or(match options.mode {
        BenchMode::Train => 32,
        BenchMode::Infer => 256,
    });
    if let Some(dir) = &options.model {
        if crate::model::load_config(dir)?.model == crate::model::ModelKind::Cnn {
            let trained = crate::model::load_image_model(dir)?.network;
            return run_cnn(options, image_batch, Some(trained));
        }
        return run_text_model(options, dir);
    }
    if options.cnn {
        return run_cnn(options, image_batch, None);
    }
    let checkpoint =
        options.pretrained.as_deref().map(crate::pretrained::BertCheckpoint::load).transpose()?;
    let mut config = match &checkpoint {
        Some(c) => c.config.architecture(4, PoolingKind::Mean, false, usize::MAX),
        None => TransformerConfig::reference(),
    };
    if options.seq == 0 || options.seq > config.max_len {
        return Err(Error::InvalidOption {
            flag: "--seq",
            message: format!("{} is outside 1..={}", options.seq, config.max_len),
        });
    }
    config.max_len = config.max_len.max(options.seq);
    let batch = options.batch.unwrap_or(match options.mode {
        BenchMode::Train => 32,
        BenchMode::Infer => 64,
    });
    let mut rng = XorShift::new(42);
    let batches: Vec<_> = (0..options.warmup + options.steps)
        .map(|_| synthetic_batch(&mut rng, batch, options.seq, config.vocab_size, config.classes))
        .collect();
    let mut model = TransformerClassifier::new(config, options.seed)?;
    if let Some(c) = &checkpoint {
        c.assign(&mut model)?;
    }
    time_steps(&mut model, &batches, options, batch, 1e-3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_matches_the_python_script() {
        // XorShift(42).next() three times in the PyTorch benchmark script.
        let mut rng = XorShift::new(42);
        let first: Vec<u64> = (0..3).map(|_| rng.next_value()).collect();
        assert_eq!(first, [728_180_059, 1_679_881_641, 1_696_806_384]);
    }

    /// The benchmark's label rule is learnable: a small model of the reference's shape, on
    /// batches from the same generator (shorter sequences, smaller vocabulary), gets the
    /// training loss below 0.1 within 300 AdamW steps.
    #[test]
    fn synthetic_rule_is_learned_within_300_steps() {
        let config = TransformerConfig {
            vocab_size: 500,
            max_len: 16,
            d_model: 32,
            heads: 2,
            d_ff: 64,
            ..TransformerConfig::reference()
        };
        let mut rng = XorShift::new(42);
        let mut model = TransformerClassifier::new(config, 0).unwrap();
        let (mut loss_fn, mut optimizer) = (CrossEntropy::new(), AdamW::new(0.01));
        let threads = Threads::new(1).unwrap();
        let first_below = threads.install(|| {
            (1..=300).find(|_| {
                let (tokens, labels) = synthetic_batch(&mut rng, 32, 16, 500, 4);
                model.zero_grad();
                let loss = loss_fn.forward(model.forward(&tokens, true).unwrap(), &labels).unwrap();
                model.backward(loss_fn.grad());
                optimizer.step(&mut model, 3e-3);
                loss < 0.1
            })
        });
        assert!(first_below.is_some(), "loss stayed at or above 0.1 for 300 steps");
    }

    #[test]
    fn labels_follow_the_first_token() {
        let (tokens, labels) = synthetic_batch(&mut XorShift::new(42), 8, 16, 20_000, 4);
        for (b, &y) in labels.iter().enumerate() {
            assert_eq!(tokens.ids[b * 16] as usize % 4, y);
            assert!(tokens.ids[b * 16] < 64);
        }
    }
}
