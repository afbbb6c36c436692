//! The training loop of text classifiers: data to batches, epochs with validation, early
//! stopping, checkpoints, and the finished model directory.

use super::batching::{
    class_ids, epoch_batches, fit_length, length_quantile, make_batch, EncodedSet,
};
use super::checkpoint::{self, LoopState, CHECKPOINT_FILE};
use super::events::{EpochRecord, Observer, RunSummary, TrainEvent};
use super::options::{ClassWeights, LossKind, TrainOptions, MAX_DEFAULT_LENGTH};
use crate::data::{read_dataset, stratified_split, Dataset};
use crate::error::Error;
use crate::eval::Report;
use crate::fsutil::write_atomic;
use crate::infer::{
    argmax, class_logits, class_probabilities, loss_and_accuracy, one_vs_all_loss_and_precision,
    probabilities_in_place,
};
use crate::model::{self, Model, ModelConfig, ModelKind, Network};
use crate::pretrained::BertCheckpoint;
use crate::run_record::{sha256_file, DataFile, RunRecord, RUN_FILE};
use crate::text::TextTokenizer;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use thresh_core::layers::{CrossEntropy, PoolingKind};
use thresh_core::models::{BagConfig, SgdExample, TokenBatch, TransformerConfig};
use thresh_core::optim::{clip_grad_norm, AdamW};
use thresh_core::{Module, Tensor, Threads};

/// File name of the per-epoch metrics in a model directory.
pub const HISTORY_FILE: &str = "history.json";
/// File name of the pretrained checkpoint's `config.json`, copied into a `bert` model
/// directory.
pub const PRETRAINED_CONFIG_FILE: &str = "pretrained_config.json";
/// File name of the test report in a model directory.
pub const METRICS_FILE: &str = "metrics.json";

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// The model directory.
    pub out: PathBuf,
    /// Data and model summary.
    pub summary: RunSummary,
    /// Per-epoch metrics.
    pub history: Vec<EpochRecord>,
    /// The epoch whose weights were kept (lowest val_loss), when there was validation.
    pub best_epoch: Option<usize>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// The test report, when a test file was given.
    pub test: Option<Report>,
    /// Whether the run stopped at [`TrainOptions::pause_after`] with its checkpoint kept and
    /// no model written, to be continued with [`resume_with`].
    pub paused: bool,
}

/// Trains a model as `options` say and writes it to `options.out`. `command` is recorded in
/// `run.json`.
pub fn train(
    options: &TrainOptions,
    command: &[String],
    observer: &mut dyn Observer,
) -> Result<TrainOutcome, Error> {
    options.validate()?;
    run(options, command, None, observer)
}

/// Continues the run whose output directory is `dir` from its last checkpoint, with the
/// options recorded in its `run.json` (and `threads`, when given). The result is the model an
/// uninterrupted run would have written.
pub fn resume(
    dir: &Path,
    threads: Option<usize>,
    observer: &mut dyn Observer,
) -> Result<TrainOutcome, Error> {
    resume_with(dir, observer, |options| {
        if let Some(t) = threads {
            options.threads = t;
        }
    })
}

/// [`resume`] with the recorded options changed by `adjust` first (a new pause point or
/// deadline, say).
pub fn resume_with(
    dir: &Path,
    observer: &mut dyn Observer,
    adjust: impl FnOnce(&mut TrainOptions),
) -> Result<TrainOutcome, Error> {
    let record = RunRecord::load(dir)?;
    let mut options = record.options.clone();
    options.out = dir.to_path_buf();
    adjust(&mut options);
    options.validate()?;
    if dir.join(model::WEIGHTS_FILE).exists() && !dir.join(CHECKPOINT_FILE).exists() {
        return Err(Error::Resume {
            path: dir.to_path_buf(),
            message: "the run already finished (model.safetensors is written)".into(),
        });
    }
    for (role, file) in &record.data {
        let now = sha256_file(&file.path)?;
        if now != file.sha256 {
            return Err(Error::Resume {
                path: dir.to_path_buf(),
                message: format!(
                    "{} data {} changed since the run started (sha256 differs)",
                    role,
                    file.path.display()
                ),
            });
        }
    }
    run(&options, &record.command, Some(dir), observer)
}

/// Data of a run, read and encoded.
struct Prepared {
    labels: Vec<String>,
    tokenizer: TextTokenizer,
    max_length: usize,
    train: EncodedSet,
    valid: EncodedSet,
    test: Option<(Dataset, EncodedSet)>,
    files: BTreeMap<String, DataFile>,
}

fn single_labels(data: &Dataset) -> Result<(), Error> {
    if let Some(ex) = data.examples.iter().find(|e| e.labels.len() > 1) {
        return Err(Error::InvalidData {
            path: data.path.clone(),
            line: ex.line,
            message: format!(
                "{} labels on one line, but the softmax loss gives one label per text; for \
                 several labels per text train with --model bag --loss ova",
                ex.labels.len(),
            ),
        });
    }
    Ok(())
}

fn label_ids(data: &Dataset, labels: &[String]) -> (Vec<Option<usize>>, Vec<Vec<usize>>) {
    class_ids(data.examples.iter().map(|e| e.labels.as_slice()), labels)
}

fn report_skips(data: &Dataset, observer: &mut dyn Observer) {
    if data.skipped.count > 0 {
        let file = data.path.display().to_string();
        observer.on_event(&TrainEvent::Skipped {
            file: &file,
            count: data.skipped.count,
            first_lines: data.skipped.first.iter().map(|(l, _)| *l).collect(),
        });
    }
}

fn encode(
    tokenizer: &TextTokenizer,
    texts: &[&str],
    (labels, also): (Vec<Option<usize>>, Vec<Vec<usize>>),
    max_length: usize,
    special: bool,
) -> EncodedSet {
    let filler = tokenizer.unk_id().unwrap_or(tokenizer.pad_id());
    let ids = tokenizer
        .encode_batch(texts, special)
        .into_iter()
        .map(|ids| fit_length(ids, max_length, filler, special))
        .collect();
    EncodedSet { ids, labels, also }
}

fn prepare(
    options: &TrainOptions,
    resume_dir: Option<&Path>,
    observer: &mut dyn Observer,
) -> Result<Prepared, Error> {
    let read = options.read_options(true)?;
    let mut files = BTreeMap::new();
    let train_data = read_dataset(&options.train, &read)?;
    report_skips(&train_data, observer);
    let softmax = options.loss == LossKind::Softmax;
    if softmax {
        single_labels(&train_data)?;
    }
    train_data.require_classes(2)?;
    files.insert(
        "train".to_string(),
        DataFile { path: options.train.clone(), sha256: sha256_file(&options.train)? },
    );
    let init = options.init.as_deref().map(model::load_config).transpose()?;
    let labels = match &init {
        Some(config) => {
            let unknown: Vec<String> =
                train_data.labels().into_iter().filter(|l| !config.labels.contains(l)).collect();
            if !unknown.is_empty() {
                return Err(Error::InvalidOption {
                    flag: "--init",
                    message: format!(
                        "the training data has labels the model does not know: {} (it knows: {})",
                        unknown.join(", "),
                        config.labels.join(", ")
                    ),
                });
            }
            let ova = config.bag.as_ref().is_some_and(|b| b.one_vs_all);
            if ova != (options.loss == LossKind::Ova) {
                return Err(Error::InvalidOption {
                    flag: "--init",
                    message: format!(
                        "the model to continue was trained with --loss {}",
                        if ova { LossKind::Ova } else { LossKind::Softmax }
                    ),
                });
            }
            if config.model != options.model {
                return Err(Error::InvalidOption {
                    flag: "--init",
                    message: format!(
                        "the model to continue is a {} model; pass --model {}",
                        config.model, config.model
                    ),
                });
            }
            config.labels.clone()
        }
        None => train_data.labels(),
    };
    let (all_ids, all_also) = label_ids(&train_data, &labels);

    // Validation: a file, or a stratified share of the training data.
    type Held = (String, Option<usize>, Vec<usize>);
    let (train_idx, valid_examples): (Vec<usize>, Vec<Held>) = match &options.valid {
        Some(path) => {
            let data = read_dataset(path, &read)?;
            report_skips(&data, observer);
            if softmax {
                single_labels(&data)?;
            }
            files.insert(
                "valid".to_string(),
                DataFile { path: path.clone(), sha256: sha256_file(path)? },
            );
            let (ids, also) = label_ids(&data, &labels);
            let unknown = ids.iter().filter(|c| c.is_none()).count();
            if unknown > 0 {
                tracing::warn!(
                    file = %path.display(),
                    unknown,
                    "validation examples with labels absent from the training data are \
                     left out of val_loss and val_accuracy"
                );
            }
            let examples = data
                .examples
                .into_iter()
                .zip(ids.into_iter().zip(also))
                .map(|(e, (c, also))| (e.text, c, also))
                .collect();
            ((0..train_data.len()).collect(), examples)
        }
        None => {
            let classes: Vec<usize> = all_ids.iter().map(|c| c.unwrap_or(0)).collect();
            let (train_idx, valid_idx) =
                stratified_split(&classes, options.valid_fraction, options.seed)?;
            let examples = valid_idx
                .iter()
                .map(|&i| (train_data.examples[i].text.clone(), all_ids[i], all_also[i].clone()))
                .collect();
            (train_idx, examples)
        }
    };
    let test = match &options.test {
        Some(path) => {
            let data = read_dataset(path, &read)?;
            report_skips(&data, observer);
            files.insert(
                "test".to_string(),
                DataFile { path: path.clone(), sha256: sha256_file(path)? },
            );
            Some(data)
        }
        None => None,
    };

    let train_texts: Vec<&str> =
        train_idx.iter().map(|&i| train_data.examples[i].text.as_str()).collect();
    let started = Instant::now();
    let tokenizer = match (resume_dir, &options.pretrained_tokenizer) {
        (Some(dir), _) => TextTokenizer::load(dir)?,
        (None, _) if options.init.is_some() => {
            TextTokenizer::load(options.init.as_deref().unwrap_or(Path::new("")))?
        }
        (None, _) if options.model == ModelKind::Bert => {
            TextTokenizer::from_pretrained(options.pretrained.as_deref().unwrap_or(Path::new("")))?
        }
        (None, Some(path)) => TextTokenizer::from_pretrained(path)?,
        (None, None) => TextTokenizer::train(&options.tokenizer_config(), &train_texts)?,
    };
    tracing::debug!(
        tokenizer = %tokenizer.describe(),
        seconds = started.elapsed().as_secs_f64(),
        "tokenizer ready"
    );
    // A pretrained encoder reads texts as it was trained to: [CLS] text [SEP].
    let special = match &init {
        Some(config) => config.special_tokens,
        None => options.model == ModelKind::Bert,
    };
    let train_ids = tokenizer.encode_batch(&train_texts, special);
    let max_length = match (options.max_length, &init) {
        (_, Some(config)) => config.max_length,
        (Some(n), None) => n,
        (None, None) => {
            let lengths: Vec<usize> = train_ids.iter().map(Vec::len).collect();
            match options.model {
                // A bag has no positions to pay for: it keeps whole texts, as fastText does.
                ModelKind::Bag => lengths.iter().copied().max().unwrap_or(1).max(1),
                ModelKind::Transformer | ModelKind::Cnn => {
                    length_quantile(&lengths, 0.95).min(MAX_DEFAULT_LENGTH)
                }
                ModelKind::Bert => {
                    let dir = options.pretrained.as_deref().unwrap_or(Path::new(""));
                    let positions = crate::pretrained::read_config(dir)?.max_position_embeddings;
                    length_quantile(&lengths, 0.95).min(MAX_DEFAULT_LENGTH).min(positions)
                }
            }
        }
    };
    let filler = tokenizer.unk_id().unwrap_or(tokenizer.pad_id());
    let train = EncodedSet {
        ids: train_ids
            .into_iter()
            .map(|ids| fit_length(ids, max_length, filler, special))
            .collect(),
        labels: train_idx.iter().map(|&i| all_ids[i]).collect(),
        also: train_idx.iter().map(|&i| all_also[i].clone()).collect(),
    };
    let valid_texts: Vec<&str> = valid_examples.iter().map(|(t, _, _)| t.as_str()).collect();
    let valid_labels = valid_examples.iter().map(|(_, c, also)| (*c, also.clone())).unzip();
    let valid = encode(&tokenizer, &valid_texts, valid_labels, max_length, special);
    let test = test.map(|data| {
        let texts: Vec<&str> = data.examples.iter().map(|e| e.text.as_str()).collect();
        let ids = label_ids(&data, &labels);
        let set = encode(&tokenizer, &texts, ids, max_length, special);
        (data, set)
    });
    Ok(Prepared { labels, tokenizer, max_length, train, valid, test, files })
}

fn architecture(
    options: &TrainOptions,
    vocab: usize,
    max_length: usize,
    classes: usize,
) -> TransformerConfig {
    TransformerConfig {
        vocab_size: vocab,
        max_len: max_length,
        d_model: options.d_model,
        layers: options.layers,
        heads: options.heads,
        d_ff: options.d_ff,
        classes,
        dropout: options.dropout,
        attention_dropout: options.attention_dropout,
        embedding_dropout: options.embedding_dropout,
        head_dropout: options.head_dropout,
        pooling: options.pooling(),
        norm_first: options.norm_first,
        final_norm: options.norm_first,
        embedding_norm: !options.norm_first,
        embedding_init_std: 0.02 * (options.d_model as f32).sqrt(),
        ..TransformerConfig::reference()
    }
}

/// Replaces each real token of `batch` by `unk` with probability `p`, drawn from a hash of
/// the seed, the step and the position, so a resumed run drops the same tokens.
fn drop_tokens(batch: &mut TokenBatch, unk: u32, p: f32, seed: u64, step: u64) {
    let seq = batch.mask.seq();
    let stream = thresh_core::rng::mix64(seed ^ 0x70CE_0000_0000_0000);
    for b in 0..batch.mask.batch() {
        for t in 0..batch.mask.len(b) {
            let i = b * seq + t;
            if thresh_core::rng::uniform_at(stream, step, i as u64) < p {
                batch.ids[i] = unk;
            }
        }
    }
}

/// Decoupled weight decay applies to weight matrices and embeddings, not to biases and
/// normalisation gains, as is usual for Transformers.
fn set_decay(network: &mut Network) {
    network.visit_mut(&mut |p| {
        p.decay = !(p.name.ends_with(".bias") || p.name.contains("norm"));
    });
}

pub(super) fn balanced_weights(labels: &[Option<usize>], classes: usize) -> Vec<f32> {
    let mut counts = vec![0usize; classes];
    for &c in labels.iter().flatten() {
        counts[c] += 1;
    }
    let n: usize = counts.iter().sum();
    counts.iter().map(|&c| if c == 0 { 0.0 } else { n as f32 / (classes * c) as f32 }).collect()
}

pub(super) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Error> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Io { path: path.to_path_buf(), source: std::io::Error::other(e) })?;
    text.push('\n');
    write_atomic(path, text.as_bytes()).map_err(|source| Error::Io { path: path.into(), source })
}

pub(super) fn snapshot(network: &dyn Module) -> Vec<Tensor> {
    let mut out = Vec::new();
    network.visit(&mut |p| out.push(p.value.clone()));
    out
}

pub(super) fn restore(network: &mut dyn Module, values: &[Tensor]) {
    let mut i = 0;
    network.visit_mut(&mut |p| {
        p.value.copy_from(&values[i]);
        i += 1;
    });
}

/// Examples per round of the bag model's SGD, and the shards a round is dealt into: fixed
/// numbers, so the result does not depend on the thread count. A shard sees the other shards'
/// updates of a round only from the next one; eight shards of eight examples keep that
/// staleness at 56 examples.
const BAG_ROUND: usize = 16;
const BAG_SHARDS: usize = 4;

/// The bag model's rounds of an epoch: every example once, in an order drawn from the seed
/// and the epoch.
fn sgd_rounds(n: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    thresh_core::rng::Rng::new(thresh_core::rng::mix64(seed ^ (0x5CD0_0000 + epoch as u64)))
        .shuffle(&mut order);
    order.chunks(BAG_ROUND).map(<[usize]>::to_vec).collect()
}

/// Moves the running average `average` of the weights towards the network's current weights:
/// `a ← d·a + (1 − d)·w`, with `d` ramped up over the first steps as `min(decay, (1+t)/(10+t))`
/// so the average forgets its random start quickly.
fn update_average(average: &mut [Tensor], network: &dyn Module, decay: f32, step: u64) {
    use rayon::prelude::*;
    let d = decay.min((1.0 + step as f32) / (10.0 + step as f32));
    let mut i = 0;
    network.visit(&mut |p| {
        let avg = average[i].data_mut();
        avg.par_chunks_mut(1 << 14).zip(p.value.data().par_chunks(1 << 14)).for_each(|(a, w)| {
            for (a, &w) in a.iter_mut().zip(w) {
                *a = d * *a + (1.0 - d) * w;
            }
        });
        i += 1;
    });
}

fn run(
    options: &TrainOptions,
    command: &[String],
    resume_dir: Option<&Path>,
    observer: &mut dyn Observer,
) -> Result<TrainOutcome, Error> {
    let threads = Threads::new(options.threads)?;
    let thread_count = threads.count();
    if options.model == ModelKind::Cnn {
        return threads.install(|| {
            super::image_trainer::run_images(options, command, resume_dir, thread_count, observer)
        });
    }
    threads.install(|| run_in_pool(options, command, resume_dir, thread_count, observer))
}

fn run_in_pool(
    options: &TrainOptions,
    command: &[String],
    resume_dir: Option<&Path>,
    thread_count: usize,
    observer: &mut dyn Observer,
) -> Result<TrainOutcome, Error> {
    let out = options.out.clone();
    let data = prepare(options, resume_dir, observer)?;
    let classes = data.labels.len();
    let arch = architecture(options, data.tokenizer.vocab_size(), data.max_length, classes);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    // The directory gets its tokenizer, configuration and run record first; the weights come
    // at the end, so an unfinished run is never mistaken for a model.
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    let tokenizer_file = match resume_dir {
        Some(dir) => model::load_config(dir)?.tokenizer_file,
        None => {
            remove_stale(&out)?;
            data.tokenizer.save(&out)?.into_iter().next().unwrap_or_default()
        }
    };
    let checkpoint = match (options.model, &options.pretrained, &options.init) {
        (ModelKind::Bert, Some(dir), None) => Some(BertCheckpoint::load(dir)?),
        _ => None,
    };
    let config = match options.model {
        // Image models train in `image_trainer`; `run` never brings them here.
        ModelKind::Transformer | ModelKind::Cnn => {
            ModelConfig::transformer(arch, data.labels.clone(), data.max_length, tokenizer_file)
        }
        ModelKind::Bert => {
            let dir = options.pretrained.as_deref().unwrap_or(Path::new(""));
            let bert = crate::pretrained::read_config(dir)?;
            let pooling = options.pooling();
            // BERT's own classifiers put the pooler on [CLS]; mean pooling goes straight to
            // the head, as sentence embeddings do.
            let pooler = pooling == PoolingKind::First
                && checkpoint.as_ref().is_none_or(BertCheckpoint::has_pooler);
            let arch = bert.architecture(classes, pooling, pooler, data.max_length);
            ModelConfig::bert(arch, data.labels.clone(), data.max_length, tokenizer_file)
        }
        ModelKind::Bag => {
            let bag = BagConfig {
                vocab_size: data.tokenizer.vocab_size(),
                dim: options.dim,
                classes,
                one_vs_all: options.loss == LossKind::Ova,
            };
            ModelConfig::bag(bag, data.labels.clone(), data.max_length, tokenizer_file)
        }
    };
    let (config, mut network) = match &options.init {
        Some(dir) => {
            let loaded = model::load(dir)?;
            let config = ModelConfig {
                thresh_version: config.thresh_version,
                compression: None,
                ..loaded.config
            };
            (config, loaded.network)
        }
        None => {
            let network = Network::new(&config, options.seed)?;
            (config, network)
        }
    };
    if let (Some(ckpt), Network::Transformer(m)) = (&checkpoint, &mut network) {
        ckpt.assign(m)?;
        tracing::info!(checkpoint = %ckpt.dir.display(), "encoder started from the checkpoint");
    }
    set_decay(&mut network);
    if options.keep_zero_weights {
        network.visit_mut(&mut |p| {
            p.keep_zeros = p.name.starts_with("layers.") && p.value.shape().len() == 2;
        });
    }
    if let Network::Transformer(m) = &mut network {
        if options.freeze_encoder {
            m.set_encoder_frozen(true);
        }
    }
    if let Some(head_lr) = options.head_lr {
        let scale = head_lr / options.learning_rate();
        network.visit_mut(&mut |p| {
            if p.name.starts_with("head.") || p.name.starts_with("pooler.") {
                p.lr_scale = scale;
            }
        });
    }
    if let (Some(path), None) = (&options.pretrained_vectors, resume_dir) {
        let vectors = crate::vectors::read_vec(path)?;
        let mut result = Ok(0);
        network.visit_mut(&mut |p| {
            if p.name == "embeddings.weight" || p.name == "embeddings.tokens.weight" {
                result = vectors.fill_rows(&data.tokenizer, &mut p.value, "--pretrained-vectors");
            }
        });
        tracing::info!(
            file = %path.display(),
            words = vectors.words.len(),
            rows_set = result?,
            "embeddings started from word vectors"
        );
    }
    let summary = RunSummary {
        train: data.train.len(),
        valid: data.valid.len(),
        test: data.test.as_ref().map_or(0, |(_, s)| s.len()),
        classes,
        tokenizer: data.tokenizer.describe(),
        vocab: data.tokenizer.vocab_size(),
        max_length: data.max_length,
        params: network.num_params(),
        threads: thread_count,
    };
    observer.on_event(&TrainEvent::Ready(&summary));

    if resume_dir.is_none() {
        write_json(&out.join(model::CONFIG_FILE), &config)?;
        if let Some(ckpt) = &checkpoint {
            // The checkpoint's own configuration, kept beside the model for reference.
            let from = ckpt.dir.join(crate::pretrained::HF_CONFIG_FILE);
            let to = out.join(PRETRAINED_CONFIG_FILE);
            let bytes = std::fs::read(&from).map_err(io(&from))?;
            write_atomic(&to, &bytes).map_err(io(&to))?;
        }
        write_run_record(&out, options, command, thread_count, &data.files)?;
    }

    let class_weights = match options.class_weights {
        ClassWeights::None => None,
        ClassWeights::Balanced => Some(balanced_weights(&data.train.labels, classes)),
    };
    let mut loss_fn = CrossEntropy::new()
        .with_class_weights(class_weights.clone())
        .with_label_smoothing(options.label_smoothing);
    let mut optimizer = AdamW::new(options.weight_decay);
    let steps_per_epoch = data.train.len().div_ceil(options.batch_size);
    let schedule = options.lr_schedule((steps_per_epoch * options.epochs()) as u64);
    let lengths = data.train.lengths();
    let has_valid = !data.valid.is_empty();

    let mut state = LoopState {
        epochs_done: 0,
        global_step: 0,
        history: Vec::new(),
        best_epoch: None,
        best_val_loss: None,
        since_best: 0,
        stopped: false,
    };
    let mut best: Option<Vec<Tensor>> = None;
    let mut average = (options.weight_average > 0.0).then(|| snapshot(&network));
    let checkpoint_path = out.join(CHECKPOINT_FILE);
    if resume_dir.is_some() && checkpoint_path.exists() {
        let ckpt = checkpoint::load(&checkpoint_path, &network)?;
        checkpoint::apply_weights(&mut network, &ckpt.model);
        best = ckpt.best.map(|m| checkpoint::in_order(&network, &m));
        if average.is_some() {
            average = Some(ckpt.average.map(|m| checkpoint::in_order(&network, &m)).ok_or_else(
                || {
                    Error::Resume {
                        path: checkpoint_path.clone(),
                        message:
                            "the checkpoint holds no moving average of the weights, but the run \
                          keeps one (--weight-average)"
                                .into(),
                    }
                },
            )?);
        }
        optimizer.restore(ckpt.adam.0, ckpt.adam.1);
        state = ckpt.state;
        observer.on_event(&TrainEvent::Resumed { epochs_done: state.epochs_done });
    }

    let mut labels_buf = Vec::with_capacity(options.batch_size);
    let epochs = options.epochs();
    while state.epochs_done < epochs && !state.stopped {
        let epoch = state.epochs_done + 1;
        let started = Instant::now();
        let batches = match options.model {
            ModelKind::Transformer | ModelKind::Bert | ModelKind::Cnn => {
                epoch_batches(&lengths, options.batch_size, options.seed, epoch)
            }
            ModelKind::Bag => sgd_rounds(data.train.len(), options.seed, epoch),
        };
        observer.on_event(&TrainEvent::EpochStart { epoch, epochs, steps: batches.len() });
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut lr = 0.0f32;
        if let Network::Bag(bag) = &mut network {
            // fastText's schedule: the rate falls linearly to zero over all examples of all
            // epochs, updated once per round.
            let total = (data.train.len() * epochs).max(1) as f64;
            for (step, round) in batches.iter().enumerate() {
                let done = ((epoch - 1) * data.train.len() + step * BAG_ROUND) as f64;
                lr = options.learning_rate() * (1.0 - done / total).max(0.0) as f32;
                let examples: Vec<SgdExample<'_>> = round
                    .iter()
                    .map(|&i| {
                        let label = data.train.labels[i].unwrap_or(0);
                        let weight = class_weights.as_ref().map_or(1.0, |w| w[label]);
                        let also = data.train.also[i].as_slice();
                        SgdExample { ids: &data.train.ids[i], label, also, weight }
                    })
                    .collect();
                let totals = bag.sgd_round(&examples, BAG_SHARDS, lr)?;
                state.global_step += 1;
                if let Some(avg) = &mut average {
                    update_average(avg, bag.as_ref(), options.weight_average, state.global_step);
                }
                loss_sum += totals.loss;
                correct += totals.correct;
                seen += totals.examples;
                observer.on_event(&TrainEvent::Step {
                    step: step + 1,
                    steps: batches.len(),
                    loss: loss_sum / seen.max(1) as f64,
                    accuracy: correct as f64 / seen.max(1) as f64,
                    elapsed: started.elapsed(),
                });
            }
        } else {
            for (step, batch) in batches.iter().enumerate() {
                let mut tokens = make_batch(&data.train.ids, batch, data.tokenizer.pad_id());
                if options.token_dropout > 0.0 {
                    if let Some(unk) = data.tokenizer.unk_id() {
                        drop_tokens(
                            &mut tokens,
                            unk,
                            options.token_dropout,
                            options.seed,
                            state.global_step,
                        );
                    }
                }
                labels_buf.clear();
                labels_buf.extend(batch.iter().map(|&i| data.train.labels[i].unwrap_or(0)));
                network.zero_grad();
                network.set_stream(state.global_step);
                let logits = network.forward(&tokens, true)?;
                for (r, &y) in labels_buf.iter().enumerate() {
                    correct += usize::from(argmax(logits.row(r)) == y);
                }
                let loss = loss_fn.forward(logits, &labels_buf)?;
                network.backward(loss_fn.grad());
                if options.clip_norm > 0.0 {
                    clip_grad_norm(&mut network, options.clip_norm);
                }
                lr = options.learning_rate() * schedule.factor(state.global_step);
                optimizer.step(&mut network, lr);
                state.global_step += 1;
                if let Some(avg) = &mut average {
                    update_average(avg, &network, options.weight_average, state.global_step);
                }
                loss_sum += loss as f64 * batch.len() as f64;
                seen += batch.len();
                observer.on_event(&TrainEvent::Step {
                    step: step + 1,
                    steps: batches.len(),
                    loss: loss_sum / seen as f64,
                    accuracy: correct as f64 / seen as f64,
                    elapsed: started.elapsed(),
                });
            }
        }
        // With a moving average, validation scores the averaged weights, and those are what
        // the best epoch keeps; training goes on from the raw weights.
        let raw = average.as_ref().map(|avg| {
            let raw = snapshot(&network);
            restore(&mut network, avg);
            raw
        });
        let (val_loss, val_accuracy) = if has_valid && network.one_vs_all() {
            let pad = data.tokenizer.pad_id();
            let logits = class_logits(&mut network, &data.valid.ids, pad, classes)?;
            let (l, a) = one_vs_all_loss_and_precision(
                &logits,
                &data.valid.labels,
                &data.valid.also,
                classes,
            );
            (Some(l), Some(a))
        } else if has_valid {
            let probs = class_probabilities(
                &mut network,
                &data.valid.ids,
                data.tokenizer.pad_id(),
                classes,
            )?;
            let (l, a) = loss_and_accuracy(&probs, &data.valid.labels, classes);
            (Some(l), Some(a))
        } else {
            (None, None)
        };
        let record = EpochRecord {
            epoch,
            loss: loss_sum / seen.max(1) as f64,
            accuracy: correct as f64 / seen.max(1) as f64,
            val_loss,
            val_accuracy,
            lr: lr as f64,
        };
        if state.note_validation(epoch, val_loss, options.patience) {
            best = Some(snapshot(&network));
        }
        if let Some(raw) = &raw {
            restore(&mut network, raw);
        }
        state.epochs_done = epoch;
        state.history.push(record.clone());
        observer.on_event(&TrainEvent::EpochEnd {
            record: &record,
            steps: batches.len(),
            elapsed: started.elapsed(),
        });
        if state.stopped {
            observer.on_event(&TrainEvent::EarlyStop {
                epoch,
                best_epoch: state.best_epoch.unwrap_or(epoch),
            });
        }
        state.check_deadline(options.deadline);
        checkpoint::save(
            &checkpoint_path,
            &state,
            &network,
            best.as_deref(),
            average.as_deref(),
            &optimizer,
        )?;
        if state.at_pause(options.pause_after, epochs) {
            return Ok(paused_outcome(out, summary, state));
        }
    }

    if let Some(values) = best.as_ref().or(average.as_ref()) {
        restore(&mut network, values);
    }
    let mut model = Model { config, tokenizer: data.tokenizer, network };
    let test = match &data.test {
        Some((dataset, set)) => {
            Some(evaluate_encoded(&mut model, dataset, set, DEFAULT_THRESHOLD)?)
        }
        None => None,
    };
    finish_run(out, summary, state, test, |dir| Ok(model::save(dir, &model)?))
}

/// Removes what an earlier run left in `out` that a new run would otherwise be mistaken for
/// or resume from.
pub(super) fn remove_stale(out: &Path) -> Result<(), Error> {
    for stale in [model::WEIGHTS_FILE, CHECKPOINT_FILE, HISTORY_FILE, METRICS_FILE] {
        let path = out.join(stale);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
        }
    }
    Ok(())
}

/// Writes `run.json`: what a resumed run needs to continue.
pub(super) fn write_run_record(
    out: &Path,
    options: &TrainOptions,
    command: &[String],
    threads: usize,
    files: &BTreeMap<String, DataFile>,
) -> Result<(), Error> {
    let record = RunRecord {
        command: command.to_vec(),
        seed: options.seed,
        threads,
        thresh_version: env!("CARGO_PKG_VERSION").into(),
        data: files.clone(),
        options: options.clone(),
    };
    write_json(&out.join(RUN_FILE), &record)
}

/// Ends a finished run: the test report, the history, the model (written by `save`, last, so
/// a directory with weights is always complete), and the checkpoint removed.
pub(super) fn finish_run(
    out: PathBuf,
    summary: RunSummary,
    state: LoopState,
    test: Option<Report>,
    save: impl FnOnce(&Path) -> Result<(), Error>,
) -> Result<TrainOutcome, Error> {
    if let Some(report) = &test {
        write_json(&out.join(METRICS_FILE), &report.to_json())?;
    }
    write_json(&out.join(HISTORY_FILE), &state.history)?;
    save(&out)?;
    let checkpoint = out.join(CHECKPOINT_FILE);
    if checkpoint.exists() {
        std::fs::remove_file(&checkpoint)
            .map_err(|source| Error::Io { path: checkpoint, source })?;
    }
    Ok(TrainOutcome {
        out,
        summary,
        history: state.history,
        best_epoch: state.best_epoch,
        stopped_early: state.stopped,
        test,
        paused: false,
    })
}

/// The outcome of a run stopped at its pause point.
pub(super) fn paused_outcome(out: PathBuf, summary: RunSummary, state: LoopState) -> TrainOutcome {
    TrainOutcome {
        out,
        summary,
        history: state.history,
        best_epoch: state.best_epoch,
        stopped_early: false,
        test: None,
        paused: true,
    }
}

/// The probability at or above which a label is predicted for a text when texts may have
/// several (one-vs-all models, multi-label data).
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// Scores `dataset` (already encoded as `set`) with `model`: the full report, with the mean
/// loss over examples whose label the model knows (cross-entropy, or for a one-vs-all model the
/// summed binary cross-entropy it trains on).
///
/// For a one-vs-all model, or when some text has several labels, the report also holds the
/// label-set scores at `threshold`, and its accuracy and confusion matrix count the top
/// prediction as right when it is any of the text's labels.
pub fn evaluate_encoded(
    model: &mut Model,
    dataset: &Dataset,
    set: &EncodedSet,
    threshold: f32,
) -> Result<Report, Error> {
    let classes = model.config.labels.len();
    let ova = model.network.one_vs_all();
    let mut probs = class_logits(&mut model.network, &set.ids, model.tokenizer.pad_id(), classes)?;
    let ova_loss =
        ova.then(|| one_vs_all_loss_and_precision(&probs, &set.labels, &set.also, classes).0);
    probabilities_in_place(&mut probs, classes, ova);
    let predicted: Vec<usize> = probs.chunks_exact(classes).map(argmax).collect();
    let multi = ova || dataset.examples.iter().any(|e| e.labels.len() > 1);
    let labels = &model.config.labels;
    let truth: Vec<String> = dataset
        .examples
        .iter()
        .zip(&predicted)
        .map(|(e, &p)| match e.labels.iter().find(|l| multi && **l == labels[p]) {
            Some(hit) => hit.clone(),
            None => e.labels.first().cloned().unwrap_or_default(),
        })
        .collect();
    let loss = match ova_loss {
        Some(loss) => loss,
        None => loss_and_accuracy(&probs, &set.labels, classes).0,
    };
    let mut report = crate::eval::evaluate(labels, &truth, &predicted)?.with_loss(loss);
    if multi {
        let sets: Vec<Vec<String>> = dataset.examples.iter().map(|e| e.labels.clone()).collect();
        report = report
            .with_multi_label(crate::eval::evaluate_multilabel(labels, &sets, &probs, threshold)?);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use thresh_core::layers::Linear;
    use thresh_core::rng::Rng;

    /// The average follows `a ← d·a + (1 − d)·w` with the ramped decay, element by element.
    #[test]
    fn moving_average_of_the_weights() {
        let mut layer = Linear::new("l", 3, 2, true, &mut Rng::new(4));
        let mut average = Vec::new();
        layer.visit(&mut |p| average.push(p.value.clone()));
        let start: Vec<Vec<f32>> = average.iter().map(|t| t.data().to_vec()).collect();
        layer.visit_mut(&mut |p| p.value.data_mut().iter_mut().for_each(|v| *v += 1.0));
        // Step 2: the ramp gives d = 3/12, below the requested 0.9.
        update_average(&mut average, &layer, 0.9, 2);
        let mut i = 0;
        layer.visit(&mut |p| {
            for ((a, s), w) in average[i].data().iter().zip(&start[i]).zip(p.value.data()) {
                assert!((a - (0.25 * s + 0.75 * w)).abs() < 1e-6);
                assert!((w - s - 1.0).abs() < 1e-6);
            }
            i += 1;
        });
        // Late in training the requested decay applies.
        let before: Vec<f32> = average[0].data().to_vec();
        update_average(&mut average, &layer, 0.9, 1_000_000);
        let w = layer.weight.value.data();
        for ((a, b), w) in average[0].data().iter().zip(&before).zip(w) {
            assert!((a - (0.9 * b + 0.1 * w)).abs() < 1e-6);
        }
    }
}
