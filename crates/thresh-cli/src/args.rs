//! Command-line flags, and their conversion into library options.
//!
//! Training flags are all optional here: a value comes from the flag if given, else from the
//! `--config` TOML file, else from [`TrainOptions::default`].

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use thresh::data::ReadOptions;
use thresh::model::ModelKind;
use thresh::text::TokenizerKind;
use thresh::train::{ClassWeights, LossKind, ScheduleKind, TrainOptions};
use thresh_core::layers::PoolingKind;

#[derive(Parser)]
#[command(name = "thresh", version, about = "Train, evaluate, compress and serve classifiers")]
pub struct Cli {
    /// More output: debug events from the library (-vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less output: no progress, errors only.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Train a classifier on a labeled file and write a model directory.
    Train(Box<TrainArgs>),
    /// Score a model on a labeled file: accuracy, macro-F1, per-class table, confusion matrix.
    Eval(EvalArgs),
    /// Predict labels for texts, one per line, from a file or standard input; JSON lines out.
    Predict(PredictArgs),
    /// Show threads, SIMD level, measured GEMM rate and compiled-in backends.
    Doctor(DoctorArgs),
    /// Learn word vectors from raw text (skip-gram or CBOW, character n-grams); .vec out.
    Embed(EmbedArgs),
    /// List the words nearest to a word in a .vec file, by cosine similarity.
    Neighbors(NeighborsArgs),
    /// Sentence embeddings of texts, one per line, from a pretrained encoder; JSON lines out.
    EmbedText(EmbedTextArgs),
    /// Search hyperparameters: random trials with successive halving under a time budget.
    Tune(TuneArgs),
    /// Time the reference Transformer on synthetic batches (training steps or inference).
    Bench(BenchArgs),
    /// Make a smaller, faster model: prune, fine-tune, quantise; prints a before/after table.
    Compress(CompressArgs),
}

/// Flags that say how to read a data file.
#[derive(Args, Clone, Default)]
pub struct ReadArgs {
    /// Text column by header name or zero-based index; repeat (or separate with commas) to
    /// join several columns.
    #[arg(long, value_delimiter = ',')]
    pub text_column: Vec<String>,
    /// Label column by header name or zero-based index.
    #[arg(long)]
    pub label_column: Option<String>,
    /// File format: tsv, csv, jsonl or fasttext [default: detected].
    #[arg(long)]
    pub format: Option<String>,
    /// Text encoding of the files: utf8 or latin1 [default: utf8].
    #[arg(long)]
    pub encoding: Option<String>,
    /// Skip malformed rows (they are counted and reported) instead of stopping.
    #[arg(long)]
    pub skip_bad_rows: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ModelArg {
    /// A Transformer encoder trained from scratch.
    Transformer,
    /// Averaged embeddings of words and word n-grams, then a linear map (fastText's model).
    Bag,
    /// A pretrained BERT-family encoder (--pretrained DIR), fine-tuned with a new head.
    Bert,
    /// A convolutional network for images (--train DIR: IDX files or class folders).
    Cnn,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PoolingArg {
    Mean,
    Max,
    First,
    /// Mean and max side by side.
    MeanMax,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ScheduleArg {
    Constant,
    Linear,
    Cosine,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LossArg {
    /// One label per text: softmax and cross-entropy.
    Softmax,
    /// One-vs-all: a sigmoid per class, for texts with several labels (bag model).
    Ova,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ClassWeightsArg {
    None,
    Balanced,
}

#[derive(Args)]
pub struct TrainArgs {
    /// Training data file (TSV, CSV, JSONL or fastText format).
    #[arg(long, required_unless_present_any = ["resume", "config"])]
    pub train: Option<PathBuf>,
    /// Validation file [default: a stratified --valid-fraction of --train].
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// Test file, scored after training (report printed and saved as metrics.json).
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Output model directory.
    #[arg(long, required_unless_present_any = ["resume", "config"])]
    pub out: Option<PathBuf>,
    /// Continue the interrupted run in this directory, with its recorded options.
    #[arg(long, conflicts_with_all = ["train", "out", "config"])]
    pub resume: Option<PathBuf>,
    /// TOML file of options (keys as the long flags with underscores); flags win.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Share of --train held out for validation without --valid (0: none) [default: 0.1].
    #[arg(long)]
    pub valid_fraction: Option<f64>,
    /// Model family [default: transformer].
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// Tokenizer: word, wordpiece or bpe (trained on the training texts), or the path of a
    /// Hugging Face tokenizer.json or BERT vocab.txt to use as it is [default: word].
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// Lower-case texts before tokenizing (Unicode-aware); case is kept by default.
    #[arg(long)]
    pub lowercase: bool,
    /// Drop English stop words (word tokenizer).
    #[arg(long)]
    pub remove_stopwords: bool,
    /// Replace numbers by one token (word tokenizer).
    #[arg(long)]
    pub normalize_numbers: bool,
    /// No bigrams of adjacent Chinese, Japanese or Korean characters (word tokenizer).
    #[arg(long)]
    pub no_cjk_bigrams: bool,
    /// Keep the dots of abbreviations (U.S., e.g., initials) in their words (word tokenizer)
    /// [default: true for bag, false for the Transformer].
    #[arg(long)]
    pub abbreviations: Option<bool>,
    /// Word n-grams up to this length as extra tokens (word tokenizer; 1: none) [default: 2].
    #[arg(long, alias = "ngrams")]
    pub word_ngrams: Option<usize>,
    /// Least count of a word n-gram to enter the vocabulary [default: 2].
    #[arg(long)]
    pub ngram_min_count: Option<usize>,
    /// Least count of a token to enter the vocabulary [default: 2 for the Transformer, 1 for
    /// bag, as fastText].
    #[arg(long)]
    pub min_count: Option<usize>,
    /// Most word n-grams kept, apart from --max-vocab [default: n-grams share --max-vocab]
    /// (on SST-2 a bag model scored 0.834 with the shared 50,000, 0.830 with --buckets 2000000).
    #[arg(long)]
    pub buckets: Option<usize>,
    /// Largest vocabulary (word tokenizer) [default: 50000].
    #[arg(long)]
    pub max_vocab: Option<usize>,
    /// Vocabulary size of a trained WordPiece or BPE tokenizer [default: 8000].
    #[arg(long)]
    pub subword_vocab: Option<usize>,
    /// Tokens per text at most [default: 95th percentile of training lengths, at most 256].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Continue training the model in this directory on the new data (its tokenizer, labels
    /// and architecture are kept).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Word vectors in the .vec text format to start the embeddings of the words they hold
    /// (their width must be the model's).
    #[arg(long)]
    pub pretrained_vectors: Option<PathBuf>,
    /// Hugging Face BERT checkpoint directory (config.json, model.safetensors, tokenizer.json
    /// or vocab.txt) for --model bert.
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    /// Train only the head of a bert model (a linear probe of the frozen encoder).
    #[arg(long)]
    pub freeze_encoder: bool,
    /// Learning rate of a bert model's head [default: --lr].
    #[arg(long)]
    pub head_lr: Option<f32>,
    /// Side images of a class-folder tree are resized to (cnn) [default: 32].
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Random crops of training images padded by this many pixels (cnn) [default: 0, off].
    #[arg(long)]
    pub crop_padding: Option<usize>,
    /// Random horizontal flips of training images (cnn).
    #[arg(long)]
    pub flip: bool,
    /// Width of the bag model's vectors [default: 100].
    #[arg(long)]
    pub dim: Option<usize>,
    /// Transformer width [default: 128].
    #[arg(long)]
    pub d_model: Option<usize>,
    /// Encoder blocks [default: 2].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Attention heads [default: 4].
    #[arg(long)]
    pub heads: Option<usize>,
    /// Feed-forward width [default: 256].
    #[arg(long)]
    pub d_ff: Option<usize>,
    /// Dropout [default: 0.3].
    #[arg(long)]
    pub dropout: Option<f32>,
    /// Dropout on attention probabilities [default: 0.3].
    #[arg(long)]
    pub attention_dropout: Option<f32>,
    /// Dropout on embeddings [default: 0.3].
    #[arg(long)]
    pub embedding_dropout: Option<f32>,
    /// Dropout on the pooled vector before the head [default: 0].
    #[arg(long)]
    pub head_dropout: Option<f32>,
    /// Share of training tokens replaced by [UNK] each step [default: 0].
    #[arg(long)]
    pub token_dropout: Option<f32>,
    /// Pooling of the encoder output [default: max; mean for bert, where first uses the pooler].
    #[arg(long, value_enum)]
    pub pooling: Option<PoolingArg>,
    /// Post-LN blocks (as BERT) instead of pre-LN.
    #[arg(long)]
    pub post_ln: bool,
    /// Passes over the training data [default: 10; 3 for bert].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per step [default: 32].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Peak learning rate [default: 0.001 Transformer, 1e-4 bert (AdamW); 0.1 bag (SGD)].
    #[arg(long)]
    pub lr: Option<f32>,
    /// AdamW weight decay [default: 0.01].
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Share of steps for linear warmup [default: 0.1].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Learning-rate decay after warmup [default: linear].
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleArg>,
    /// Clip the global gradient norm to this (0: off) [default: 1].
    #[arg(long)]
    pub clip_norm: Option<f32>,
    /// Label smoothing [default: 0.1].
    #[arg(long)]
    pub label_smoothing: Option<f32>,
    /// Class weights in the loss [default: none].
    #[arg(long, value_enum)]
    pub class_weights: Option<ClassWeightsArg>,
    /// Loss: softmax, or ova (one-vs-all) for texts with several labels [default: softmax].
    #[arg(long, value_enum)]
    pub loss: Option<LossArg>,
    /// Epochs without val_loss improvement before stopping (0: never) [default: 3].
    #[arg(long)]
    pub patience: Option<usize>,
    /// Keep and validate an exponential moving average of the weights with this decay per
    /// step, e.g. 0.999 (0: the raw weights) [default: 0].
    #[arg(long)]
    pub weight_average: Option<f32>,
    /// Random seed [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (0: one per core) [default: 0].
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args)]
pub struct EvalArgs {
    /// Model directory.
    pub model: PathBuf,
    /// Labeled file to score.
    pub file: PathBuf,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Probability from which a label counts as predicted in label-set scores (one-vs-all
    /// models, texts with several labels) [default: 0.5].
    #[arg(long)]
    pub threshold: Option<f32>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

#[derive(Args)]
pub struct PredictArgs {
    /// Model directory.
    pub model: PathBuf,
    /// File of texts, one per line; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Labels per text in `top`.
    #[arg(long, default_value_t = 1)]
    pub top_k: usize,
    /// Also list in `labels` every label with at least this probability [default: 0.5 for a
    /// one-vs-all model, none otherwise].
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Text encoding of the input: utf8 or latin1.
    #[arg(long, default_value = "utf8")]
    pub encoding: String,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

#[derive(Args)]
pub struct DoctorArgs {
    /// Worker threads to measure with (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum EmbedModelArg {
    Skipgram,
    Cbow,
}

#[derive(Args)]
pub struct EmbedArgs {
    /// Text to learn from, one text per line (UTF-8).
    #[arg(long)]
    pub input: PathBuf,
    /// Output file, .vec text format.
    #[arg(long)]
    pub out: PathBuf,
    /// Skip-gram (context from word) or CBOW (word from context).
    #[arg(long, value_enum, default_value = "skipgram")]
    pub model: EmbedModelArg,
    /// Vector width.
    #[arg(long, default_value_t = 100)]
    pub dim: usize,
    /// Passes over the text.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Starting learning rate.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f32,
    /// Largest context distance.
    #[arg(long, default_value_t = 5)]
    pub window: usize,
    /// Negative samples per prediction.
    #[arg(long, default_value_t = 5)]
    pub negatives: usize,
    /// Least count of a word to get a vector.
    #[arg(long, default_value_t = 5)]
    pub min_count: usize,
    /// Shortest character n-gram.
    #[arg(long, default_value_t = 3)]
    pub minn: usize,
    /// Longest character n-gram (0: none).
    #[arg(long, default_value_t = 6)]
    pub maxn: usize,
    /// Rows the hashed character n-grams share.
    #[arg(long, default_value_t = 200_000)]
    pub buckets: usize,
    /// Keep case (text is lower-cased by default).
    #[arg(long)]
    pub keep_case: bool,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Args)]
pub struct TuneArgs {
    /// Training data (file, or image directory for cnn).
    #[arg(long)]
    pub train: PathBuf,
    /// Validation data [default: a stratified --valid-fraction of --train].
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// Test data, scored with the winner only (into best/metrics.json).
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// The search directory: trials.jsonl, trials/NNN/, and best/ (the winner's model).
    #[arg(long)]
    pub out: PathBuf,
    /// Model family [default: transformer].
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// Checkpoint for --model bert.
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    /// Trials to draw.
    #[arg(long, default_value_t = 12)]
    pub trials: usize,
    /// Seconds the whole search may take (it overruns by at most one epoch).
    #[arg(long, default_value_t = 900.0)]
    pub budget: f64,
    /// TOML file of the search space (one table per option; see docs) [default: the model's].
    #[arg(long)]
    pub space: Option<PathBuf>,
    /// TOML file of base options, as for train --config.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Epochs of a trial that reaches the last rung [default: the model's].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Seed of the draws and of every trial [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Share of --train held out for validation without --valid [default: 0.1].
    #[arg(long)]
    pub valid_fraction: Option<f64>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Worker threads (0: one per core) [default: 0].
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args)]
pub struct EmbedTextArgs {
    /// A Hugging Face BERT checkpoint directory, or a thresh bert model directory.
    pub model: PathBuf,
    /// File of texts, one per line; `-` reads standard input.
    pub file: PathBuf,
    /// Output file of JSON lines, `{"embedding": [...]}` per input line [default: stdout].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Scale each embedding to unit length (as sentence-transformers does by default).
    #[arg(long)]
    pub normalize: bool,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

#[derive(Args)]
pub struct NeighborsArgs {
    /// A .vec file.
    pub vectors: PathBuf,
    /// The word to look up.
    pub word: String,
    /// How many neighbours.
    #[arg(long, short = 'k', default_value_t = 10)]
    pub k: usize,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Mode {
    Train,
    Infer,
}

#[derive(Args)]
pub struct BenchArgs {
    /// What to time.
    #[arg(long, value_enum, default_value = "train")]
    pub mode: Mode,
    /// Timed steps.
    #[arg(long, default_value_t = 30)]
    pub steps: usize,
    /// Untimed steps before timing.
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Sequences per batch [default: 32 for train, 64 for infer].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    /// Print where the time goes, per layer, forward and backward.
    #[arg(long)]
    pub profile: bool,
    /// Print the training loss of every step.
    #[arg(long)]
    pub losses: bool,
    /// Run a Hugging Face BERT checkpoint directory (encoder, mean pooling, 4-class head)
    /// instead of the reference model.
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    /// Run the default image network (--model cnn) on 28×28 grey images instead.
    #[arg(long, conflicts_with = "pretrained")]
    pub cnn: bool,
    /// Run a trained model directory on synthetic batches of its own shape (--seq is capped
    /// at its maximum length).
    #[arg(long, conflicts_with_all = ["pretrained", "cnn"])]
    pub model: Option<PathBuf>,
}

#[derive(Args)]
pub struct CompressArgs {
    /// The trained model directory.
    pub model: PathBuf,
    /// Directory of the compressed model.
    #[arg(long)]
    pub out: PathBuf,
    /// int8: every linear layer and embedding table as int8 with per-row scales, run with
    /// integer kernels; pq: product quantisation of a bag model's embedding table.
    #[arg(long)]
    pub quantize: Option<String>,
    /// Share to prune: of all encoder weights (magnitude), or with --structured of every
    /// block's feed-forward neurons.
    #[arg(long, value_name = "FRACTION")]
    pub prune: Option<f64>,
    /// Remove whole feed-forward neurons (and heads, --prune-heads) so the model gets smaller
    /// and faster.
    #[arg(long)]
    pub structured: bool,
    /// Share of every block's attention heads to remove (with --structured).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    pub prune_heads: f64,
    /// Epochs of fine-tuning after structured pruning (needs --train).
    #[arg(long, default_value_t = 0)]
    pub finetune_epochs: usize,
    /// Training data for fine-tuning.
    #[arg(long)]
    pub train: Option<PathBuf>,
    /// Validation data for fine-tuning [default: the split the model was trained with].
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// Labeled data to score the model on before and after.
    #[arg(long)]
    pub eval: Option<PathBuf>,
    /// Columns per byte of product quantisation.
    #[arg(long, default_value_t = 4)]
    pub pq_dsub: usize,
    /// Centroids per product-quantisation subspace (2 to 256).
    #[arg(long, default_value_t = 256)]
    pub pq_centroids: usize,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Seed of fine-tuning and k-means [default: the model's training seed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Skip the latency and throughput measurements.
    #[arg(long)]
    pub no_speed: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl ReadArgs {
    /// Library read options; `labels_required` for files that must carry labels.
    pub fn to_options(&self, labels_required: bool) -> Result<ReadOptions> {
        let opts = TrainOptions {
            train: "-".into(),
            out: "-".into(),
            format: self.format.clone(),
            text_column: self.text_column.clone(),
            label_column: self.label_column.clone(),
            encoding: self.encoding.clone().unwrap_or_else(|| "utf8".into()),
            skip_bad_rows: self.skip_bad_rows,
            ..TrainOptions::default()
        };
        Ok(opts.read_options(labels_required)?)
    }
}

/// The options of a `--config` TOML file, or the defaults without one.
fn base_config(path: Option<&std::path::Path>) -> Result<TrainOptions> {
    let Some(path) = path else { return Ok(TrainOptions::default()) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the config file", path.display()))?;
    Ok(toml::from_str::<TrainOptions>(&text).map_err(|e| thresh::Error::InvalidOption {
        flag: "--config",
        message: format!("{}: {e}", path.display()),
    })?)
}

impl From<ModelArg> for ModelKind {
    fn from(m: ModelArg) -> Self {
        match m {
            ModelArg::Transformer => ModelKind::Transformer,
            ModelArg::Bag => ModelKind::Bag,
            ModelArg::Bert => ModelKind::Bert,
            ModelArg::Cnn => ModelKind::Cnn,
        }
    }
}

macro_rules! set_if {
    ($target:expr, $value:expr) => {
        if let Some(v) = $value {
            $target = v;
        }
    };
}

impl TrainArgs {
    /// The run's options: defaults, then the config file, then the flags.
    pub fn to_options(&self) -> Result<TrainOptions> {
        let mut o = base_config(self.config.as_deref())?;
        set_if!(o.train, self.train.clone());
        set_if!(o.out, self.out.clone());
        if self.valid.is_some() {
            o.valid = self.valid.clone();
        }
        if self.test.is_some() {
            o.test = self.test.clone();
        }
        if !self.read.text_column.is_empty() {
            o.text_column = self.read.text_column.clone();
        }
        if self.read.label_column.is_some() {
            o.label_column = self.read.label_column.clone();
        }
        if self.read.format.is_some() {
            o.format = self.read.format.clone();
        }
        set_if!(o.encoding, self.read.encoding.clone());
        o.skip_bad_rows |= self.read.skip_bad_rows;
        set_if!(o.valid_fraction, self.valid_fraction);
        set_if!(o.model, self.model.map(ModelKind::from));
        if let Some(t) = &self.tokenizer {
            match t.parse::<TokenizerKind>() {
                Ok(kind) => o.tokenizer.kind = kind,
                Err(_) if std::path::Path::new(t).is_file() => {
                    o.pretrained_tokenizer = Some(PathBuf::from(t))
                }
                Err(_) => {
                    return Err(thresh::Error::InvalidOption {
                        flag: "--tokenizer",
                        message: format!(
                            "{t:?} is neither word, wordpiece, bpe nor an existing tokenizer file"
                        ),
                    }
                    .into())
                }
            }
        }
        o.tokenizer.lowercase |= self.lowercase;
        o.tokenizer.remove_stopwords |= self.remove_stopwords;
        o.tokenizer.normalize_numbers |= self.normalize_numbers;
        o.tokenizer.cjk_bigrams &= !self.no_cjk_bigrams;
        set_if!(o.tokenizer.word_ngrams, self.word_ngrams);
        o.tokenizer.min_count = self.min_count.or(o.tokenizer.min_count);
        o.tokenizer.max_ngrams = self.buckets.or(o.tokenizer.max_ngrams);
        set_if!(o.tokenizer.ngram_min_count, self.ngram_min_count);
        o.tokenizer.abbreviations = self.abbreviations.or(o.tokenizer.abbreviations);
        set_if!(o.tokenizer.max_vocab, self.max_vocab);
        set_if!(o.tokenizer.subword_vocab, self.subword_vocab);
        if self.max_length.is_some() {
            o.max_length = self.max_length;
        }
        set_if!(o.d_model, self.d_model);
        set_if!(o.layers, self.layers);
        set_if!(o.heads, self.heads);
        set_if!(o.d_ff, self.d_ff);
        set_if!(o.dim, self.dim);
        o.pretrained_vectors = self.pretrained_vectors.clone().or(o.pretrained_vectors.take());
        o.init = self.init.clone().or(o.init.take());
        o.pretrained = self.pretrained.clone().or(o.pretrained.take());
        o.freeze_encoder |= self.freeze_encoder;
        o.head_lr = self.head_lr.or(o.head_lr);
        o.image_size = self.image_size.or(o.image_size);
        set_if!(o.crop_padding, self.crop_padding);
        o.flip |= self.flip;
        set_if!(o.dropout, self.dropout);
        set_if!(o.attention_dropout, self.attention_dropout);
        set_if!(o.embedding_dropout, self.embedding_dropout);
        set_if!(o.head_dropout, self.head_dropout);
        set_if!(o.token_dropout, self.token_dropout);
        let pooling = self.pooling.map(|p| match p {
            PoolingArg::Mean => PoolingKind::Mean,
            PoolingArg::Max => PoolingKind::Max,
            PoolingArg::First => PoolingKind::First,
            PoolingArg::MeanMax => PoolingKind::MeanMax,
        });
        o.pooling = pooling.or(o.pooling);
        o.norm_first &= !self.post_ln;
        o.epochs = self.epochs.or(o.epochs);
        set_if!(o.batch_size, self.batch_size);
        o.lr = self.lr.or(o.lr);
        set_if!(o.weight_decay, self.weight_decay);
        set_if!(o.warmup, self.warmup);
        set_if!(
            o.schedule,
            self.schedule.map(|s| match s {
                ScheduleArg::Constant => ScheduleKind::Constant,
                ScheduleArg::Linear => ScheduleKind::Linear,
                ScheduleArg::Cosine => ScheduleKind::Cosine,
            })
        );
        set_if!(o.clip_norm, self.clip_norm);
        set_if!(o.label_smoothing, self.label_smoothing);
        set_if!(
            o.class_weights,
            self.class_weights.map(|c| match c {
                ClassWeightsArg::None => ClassWeights::None,
                ClassWeightsArg::Balanced => ClassWeights::Balanced,
            })
        );
        set_if!(
            o.loss,
            self.loss.map(|l| match l {
                LossArg::Softmax => LossKind::Softmax,
                LossArg::Ova => LossKind::Ova,
            })
        );
        set_if!(o.patience, self.patience);
        set_if!(o.weight_average, self.weight_average);
        set_if!(o.seed, self.seed);
        set_if!(o.threads, self.threads);
        Ok(o)
    }
}

impl TuneArgs {
    /// The options every trial starts from: defaults, the config file, then the flags.
    pub fn base_options(&self) -> Result<TrainOptions> {
        let mut o = base_config(self.config.as_deref())?;
        o.train = self.train.clone();
        o.valid = self.valid.clone().or(o.valid.take());
        o.test = None;
        o.out = self.out.clone();
        set_if!(o.model, self.model.map(ModelKind::from));
        o.pretrained = self.pretrained.clone().or(o.pretrained.take());
        o.epochs = self.epochs.or(o.epochs);
        set_if!(o.seed, self.seed);
        set_if!(o.valid_fraction, self.valid_fraction);
        set_if!(o.threads, self.threads);
        o.format = self.read.format.clone().or(o.format.take());
        if !self.read.text_column.is_empty() {
            o.text_column = self.read.text_column.clone();
        }
        o.label_column = self.read.label_column.clone().or(o.label_column.take());
        set_if!(o.encoding, self.read.encoding.clone());
        o.skip_bad_rows |= self.read.skip_bad_rows;
        o.validate()?;
        Ok(o)
    }
}
