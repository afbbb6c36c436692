//! Everything a training run can be told, with the defaults that work without flags.
//!
//! The same struct is read from a TOML file (`--config run.toml`, keys as the field names
//! below, tokenizer settings under `[tokenizer]`), overridden by command-line flags, and
//! written into `run.json`, so a run can be repeated or resumed from its record.

use crate::data::{ColumnSpec, Encoding, Format, ReadOptions};
use crate::error::Error;
use crate::model::ModelKind;
use crate::text::TokenizerConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use thresh_core::layers::PoolingKind;
use thresh_core::optim::Schedule;

/// How the learning rate moves after warmup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// Constant after warmup.
    Constant,
    /// Linear decay to zero at the last step.
    Linear,
    /// Half-cosine decay to zero at the last step.
    Cosine,
}

/// How examples are weighted in the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeights {
    /// Every example counts the same.
    None,
    /// Each class weighs `n / (classes · n_class)`, so rare classes count as much as common
    /// ones in total.
    Balanced,
}

/// The training loss of the classifier's outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Softmax over the classes with cross-entropy: one label per text.
    Softmax,
    /// One-vs-all: a sigmoid and a binary cross-entropy per class, so a text may carry several
    /// labels (bag model).
    Ova,
}

impl std::fmt::Display for LossKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LossKind::Softmax => "softmax",
            LossKind::Ova => "ova",
        })
    }
}

/// Options of `thresh train`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainOptions {
    /// Training data file.
    pub train: PathBuf,
    /// Validation file; without one, a stratified `valid_fraction` of `train` is held out.
    pub valid: Option<PathBuf>,
    /// Test file, scored after training into `metrics.json`.
    pub test: Option<PathBuf>,
    /// Output model directory.
    pub out: PathBuf,
    /// File format (`tsv`, `csv`, `jsonl`, `fasttext`); detected when absent.
    pub format: Option<String>,
    /// Text columns, by header name or zero-based index; several are joined with a space.
    pub text_column: Vec<String>,
    /// Label column, by header name or zero-based index.
    pub label_column: Option<String>,
    /// Text encoding of the data files (`utf8` or `latin1`).
    pub encoding: String,
    /// Skip malformed rows (reported) instead of failing.
    pub skip_bad_rows: bool,
    /// Share of the training data held out for validation when no `valid` file is given.
    pub valid_fraction: f64,
    /// Tokenizer settings.
    pub tokenizer: TokenizerConfig,
    /// A Hugging Face `tokenizer.json` or BERT `vocab.txt` to use instead of training one.
    pub pretrained_tokenizer: Option<PathBuf>,
    /// A trained model directory to continue training from: its tokenizer, labels, length and
    /// weights are kept, and the architecture options are ignored.
    pub init: Option<PathBuf>,
    /// Word vectors (`.vec` text format) to start the embedding rows of the words they hold.
    pub pretrained_vectors: Option<PathBuf>,
    /// The Hugging Face checkpoint directory (`config.json`, `model.safetensors`,
    /// `tokenizer.json` or `vocab.txt`) a `bert` model starts from.
    pub pretrained: Option<PathBuf>,
    /// Train only the head (and pooler) of a `bert` model: a linear probe of the encoder.
    pub freeze_encoder: bool,
    /// Learning rate of the head (and pooler) of a `bert` model; default: `lr`.
    pub head_lr: Option<f32>,
    /// Side of the square images of a folder tree are resized to (`cnn`); default 32. IDX
    /// images keep their size.
    pub image_size: Option<usize>,
    /// Random crops of training images padded by this many pixels (`cnn`; 0: off).
    pub crop_padding: usize,
    /// Random horizontal flips of training images (`cnn`).
    pub flip: bool,
    /// Tokens per text at most; default: the 95th percentile of training lengths, at most 256.
    pub max_length: Option<usize>,
    /// Model family.
    pub model: ModelKind,
    /// Width of the bag model's vectors.
    pub dim: usize,
    /// Transformer width.
    pub d_model: usize,
    /// Transformer encoder blocks.
    pub layers: usize,
    /// Attention heads per block.
    pub heads: usize,
    /// Feed-forward hidden width.
    pub d_ff: usize,
    /// Dropout after sub-layers and in the feed-forward network.
    pub dropout: f32,
    /// Dropout on attention probabilities.
    pub attention_dropout: f32,
    /// Dropout on the embeddings.
    pub embedding_dropout: f32,
    /// Dropout on the pooled vector before the classification head.
    pub head_dropout: f32,
    /// Share of training tokens replaced by `[UNK]` at each step, so the model learns to cope
    /// with words it has not seen.
    pub token_dropout: f32,
    /// Pooling of the encoder output (`mean`, `max`, `first` or `mean-max`); default max
    /// (Transformer) or mean (bert; `first` uses the checkpoint's pooler on [CLS]).
    pub pooling: Option<PoolingKind>,
    /// Pre-LN blocks (true) or post-LN (false).
    pub norm_first: bool,
    /// Passes over the training data; default 10, or 3 for bert.
    pub epochs: Option<usize>,
    /// Examples per step.
    pub batch_size: usize,
    /// Peak learning rate; default 1e-3 (AdamW, Transformer) or 0.1 (SGD, bag, as fastText).
    pub lr: Option<f32>,
    /// Decoupled weight decay of AdamW (not applied to biases and norms).
    pub weight_decay: f32,
    /// Share of all steps spent warming the learning rate up linearly.
    pub warmup: f64,
    /// Learning-rate decay after warmup.
    pub schedule: ScheduleKind,
    /// Global gradient-norm clipping threshold; 0 turns clipping off.
    pub clip_norm: f32,
    /// Label smoothing of the cross-entropy.
    pub label_smoothing: f32,
    /// Softmax (one label per text) or one-vs-all (several labels per text; bag model only).
    pub loss: LossKind,
    /// Loss weighting of classes.
    pub class_weights: ClassWeights,
    /// Epochs without a better val_loss before stopping; 0 turns early stopping off.
    pub patience: usize,
    /// Decay of the exponential moving average of the weights that validation scores and the
    /// model keeps (Polyak averaging); 0 keeps the raw weights.
    pub weight_average: f32,
    /// Weights of the encoder that are exactly zero stay zero (fine-tuning after magnitude
    /// pruning).
    #[serde(default)]
    pub keep_zero_weights: bool,
    /// Seed of initialisation, split, shuffling and dropout.
    pub seed: u64,
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// Stop after this many epochs, keeping the checkpoint, to be resumed later (a search's
    /// rung); not recorded.
    #[serde(skip)]
    pub pause_after: Option<usize>,
    /// Finish the run, as early stopping does, at the end of the first epoch that ends after
    /// this instant (a search's budget); not recorded.
    #[serde(skip)]
    pub deadline: Option<std::time::Instant>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            train: PathBuf::new(),
            valid: None,
            test: None,
            out: PathBuf::new(),
            format: None,
            text_column: Vec::new(),
            label_column: None,
            encoding: "utf8".into(),
            skip_bad_rows: false,
            valid_fraction: 0.1,
            tokenizer: TokenizerConfig::default(),
            pretrained_tokenizer: None,
            pretrained_vectors: None,
            pretrained: None,
            freeze_encoder: false,
            head_lr: None,
            image_size: None,
            crop_padding: 0,
            flip: false,
            init: None,
            max_length: None,
            model: ModelKind::Transformer,
            dim: 100,
            d_model: 128,
            layers: 2,
            heads: 4,
            d_ff: 256,
            dropout: 0.3,
            attention_dropout: 0.3,
            embedding_dropout: 0.3,
            head_dropout: 0.0,
            token_dropout: 0.0,
            pooling: None,
            norm_first: true,
            epochs: None,
            batch_size: 32,
            lr: None,
            weight_decay: 0.01,
            warmup: 0.1,
            schedule: ScheduleKind::Linear,
            clip_norm: 1.0,
            label_smoothing: 0.1,
            loss: LossKind::Softmax,
            class_weights: ClassWeights::None,
            patience: 3,
            weight_average: 0.0,
            keep_zero_weights: false,
            seed: 42,
            threads: 0,
            pause_after: None,
            deadline: None,
        }
    }
}

/// Longest sequence the default `max_length` picks.
pub const MAX_DEFAULT_LENGTH: usize = 256;

fn invalid(flag: &'static str, message: impl Into<String>) -> Error {
    Error::InvalidOption { flag, message: message.into() }
}

impl TrainOptions {
    /// Checks every value, naming the flag of the first bad one.
    pub fn validate(&self) -> Result<(), Error> {
        if self.train.as_os_str().is_empty() {
            return Err(invalid("--train", "a training file is required"));
        }
        if self.out.as_os_str().is_empty() {
            return Err(invalid("--out", "an output directory is required"));
        }
        self.read_options(true)?;
        let positive = [
            ("--epochs", self.epochs()),
            ("--batch-size", self.batch_size),
            ("--d-model", self.d_model),
            ("--dim", self.dim),
            ("--layers", self.layers),
            ("--heads", self.heads),
            ("--d-ff", self.d_ff),
        ];
        for (flag, v) in positive {
            if v == 0 {
                return Err(invalid(flag, "must be at least 1"));
            }
        }
        if !self.d_model.is_multiple_of(self.heads) {
            return Err(invalid(
                "--heads",
                format!("{} heads do not divide the width {}", self.heads, self.d_model),
            ));
        }
        if self.max_length == Some(0) {
            return Err(invalid("--max-length", "must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.valid_fraction) {
            return Err(invalid(
                "--valid-fraction",
                format!("{} is outside [0, 1)", self.valid_fraction),
            ));
        }
        if !(0.0..=1.0).contains(&self.warmup) {
            return Err(invalid("--warmup", format!("{} is outside [0, 1]", self.warmup)));
        }
        let lr = self.learning_rate();
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(invalid("--lr", format!("{lr} is not a positive number")));
        }
        for (flag, p) in [
            ("--dropout", self.dropout),
            ("--attention-dropout", self.attention_dropout),
            ("--embedding-dropout", self.embedding_dropout),
            ("--head-dropout", self.head_dropout),
            ("--token-dropout", self.token_dropout),
            ("--label-smoothing", self.label_smoothing),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(invalid(flag, format!("{p} is outside [0, 1)")));
            }
        }
        let bert = self.model == ModelKind::Bert;
        if bert != self.pretrained.is_some() {
            return Err(if bert {
                invalid("--pretrained", "--model bert needs a checkpoint directory")
            } else {
                invalid("--pretrained", format!("applies to --model bert, not {}", self.model))
            });
        }
        if !bert && (self.freeze_encoder || self.head_lr.is_some()) {
            let flag = if self.freeze_encoder { "--freeze-encoder" } else { "--head-lr" };
            return Err(invalid(flag, "applies to --model bert only"));
        }
        if let Some(h) = self.head_lr {
            if !(h > 0.0 && h.is_finite()) {
                return Err(invalid("--head-lr", format!("{h} is not a positive number")));
            }
        }
        if bert && (self.pretrained_tokenizer.is_some() || self.pretrained_vectors.is_some()) {
            let flag = if self.pretrained_vectors.is_some() {
                "--pretrained-vectors"
            } else {
                "--tokenizer"
            };
            return Err(invalid(flag, "a bert model uses its checkpoint's tokenizer and table"));
        }
        if self.model == ModelKind::Bag && self.token_dropout > 0.0 {
            return Err(invalid("--token-dropout", "applies to the Transformer model only"));
        }
        if self.loss == LossKind::Ova {
            if self.model != ModelKind::Bag {
                return Err(invalid(
                    "--loss",
                    format!(
                        "ova is built for the bag model; pass --model bag (not {})",
                        self.model
                    ),
                ));
            }
            if self.class_weights != ClassWeights::None {
                return Err(invalid(
                    "--class-weights",
                    "with --loss ova each class is its own binary problem; class weights apply \
                     to --loss softmax only",
                ));
            }
        }
        if !(0.0..1.0).contains(&self.weight_average) {
            return Err(invalid(
                "--weight-average",
                format!("{} is outside [0, 1)", self.weight_average),
            ));
        }
        if !(self.weight_decay >= 0.0 && self.clip_norm >= 0.0) {
            return Err(invalid(
                "--weight-decay",
                "weight decay and clip norm must not be negative",
            ));
        }
        Ok(())
    }

    /// How to read this run's data files.
    pub fn read_options(&self, labels_required: bool) -> Result<ReadOptions, Error> {
        let format = match &self.format {
            None => None,
            Some(f) => Some(f.parse::<Format>().map_err(|e| invalid("--format", e.to_string()))?),
        };
        let encoding =
            self.encoding.parse::<Encoding>().map_err(|e| invalid("--encoding", e.to_string()))?;
        let text_columns = self
            .text_column
            .iter()
            .map(|c| c.parse::<ColumnSpec>().map_err(|e| invalid("--text-column", e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let label_column = match &self.label_column {
            None => None,
            Some(c) => Some(
                c.parse::<ColumnSpec>().map_err(|e| invalid("--label-column", e.to_string()))?,
            ),
        };
        Ok(ReadOptions {
            format,
            text_columns,
            label_column,
            encoding,
            skip_bad_rows: self.skip_bad_rows,
            labels_required,
        })
    }

    /// The tokenizer settings with the model family's defaults filled in: words seen once
    /// stay in a bag model's vocabulary, as in fastText, and its abbreviations keep their dots.
    pub fn tokenizer_config(&self) -> TokenizerConfig {
        let mut config = self.tokenizer.clone();
        if self.model == ModelKind::Bag {
            config.min_count.get_or_insert(1);
            config.abbreviations.get_or_insert(true);
        }
        config
    }

    /// The peak learning rate: the one given, or the model family's default.
    pub fn learning_rate(&self) -> f32 {
        self.lr.unwrap_or(match self.model {
            ModelKind::Transformer => 1e-3,
            ModelKind::Bag => 0.1,
            ModelKind::Bert => 1e-4,
            ModelKind::Cnn => 1e-3,
        })
    }

    /// The number of epochs: the one given, or the model family's default.
    pub fn epochs(&self) -> usize {
        self.epochs.unwrap_or(match self.model {
            ModelKind::Bert => 3,
            ModelKind::Transformer | ModelKind::Bag | ModelKind::Cnn => 10,
        })
    }

    /// The pooling: the one given, or the model family's default.
    pub fn pooling(&self) -> PoolingKind {
        self.pooling.unwrap_or(match self.model {
            ModelKind::Bert => PoolingKind::Mean,
            ModelKind::Transformer | ModelKind::Bag | ModelKind::Cnn => PoolingKind::Max,
        })
    }

    /// The learning-rate schedule over `total` steps.
    pub fn lr_schedule(&self, total: u64) -> Schedule {
        let warmup = (self.warmup * total as f64).round() as u64;
        match self.schedule {
            ScheduleKind::Constant if warmup == 0 => Schedule::Constant,
            // Constant after warmup: a linear "decay" over an unreachable horizon.
            ScheduleKind::Constant => Schedule::Linear { warmup, total: u64::MAX },
            ScheduleKind::Linear => Schedule::Linear { warmup, total },
            ScheduleKind::Cosine => Schedule::Cosine { warmup, total },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> TrainOptions {
        TrainOptions { train: "t.tsv".into(), out: "m".into(), ..TrainOptions::default() }
    }

    #[test]
    fn defaults_validate_and_bad_values_name_their_flag() {
        valid().validate().unwrap();
        let err = TrainOptions { heads: 3, ..valid() }.validate().unwrap_err().to_string();
        assert!(err.contains("--heads"), "{err}");
        let err = TrainOptions { valid_fraction: 1.0, ..valid() }.validate().unwrap_err();
        assert!(err.to_string().contains("--valid-fraction"), "{err}");
        let err = TrainOptions { encoding: "ebcdic".into(), ..valid() }.validate().unwrap_err();
        assert!(err.to_string().contains("--encoding"), "{err}");
        let bag = TrainOptions { model: ModelKind::Bag, token_dropout: 0.1, ..valid() };
        assert!(bag.validate().unwrap_err().to_string().contains("--token-dropout"));
        assert_eq!(TrainOptions { model: ModelKind::Bag, ..valid() }.learning_rate(), 0.1);
        assert_eq!(valid().learning_rate(), 1e-3);
        let ova = TrainOptions { loss: LossKind::Ova, ..valid() };
        assert!(ova.validate().unwrap_err().to_string().contains("--loss"));
        let ova = TrainOptions { model: ModelKind::Bag, ..ova };
        ova.validate().unwrap();
        let weighted = TrainOptions { class_weights: ClassWeights::Balanced, ..ova };
        assert!(weighted.validate().unwrap_err().to_string().contains("--class-weights"));
        let bert = TrainOptions { model: ModelKind::Bert, ..valid() };
        assert!(bert.validate().unwrap_err().to_string().contains("--pretrained"));
        let bert = TrainOptions { pretrained: Some("minilm".into()), ..bert };
        bert.validate().unwrap();
        assert_eq!((bert.epochs(), bert.pooling()), (3, PoolingKind::Mean));
        let frozen = TrainOptions { freeze_encoder: true, ..valid() };
        assert!(frozen.validate().unwrap_err().to_string().contains("--freeze-encoder"));
        let err = TrainOptions { train: PathBuf::new(), ..valid() }.validate().unwrap_err();
        assert!(err.to_string().contains("--train"), "{err}");
    }

    #[test]
    fn toml_round_trip_and_unknown_keys() {
        let opts = TrainOptions { epochs: Some(3), lr: Some(5e-4), ..valid() };
        let text = toml::to_string(&opts).unwrap();
        let back: TrainOptions = toml::from_str(&text).unwrap();
        assert_eq!(back, opts);
        let partial: TrainOptions =
            toml::from_str("epochs = 7\n[tokenizer]\nlowercase = false\n").unwrap();
        assert_eq!(partial.epochs(), 7);
        assert!(!partial.tokenizer.lowercase);
        assert_eq!(partial.batch_size, TrainOptions::default().batch_size);
        let err = toml::from_str::<TrainOptions>("epoch = 7\n").unwrap_err().to_string();
        assert!(err.contains("epoch"), "{err}");
    }

    #[test]
    fn constant_schedule_with_warmup_stays_flat_after_it() {
        let opts = TrainOptions { schedule: ScheduleKind::Constant, warmup: 0.1, ..valid() };
        let s = opts.lr_schedule(100);
        assert!(s.factor(0) < 1.0);
        assert!((s.factor(50) - 1.0).abs() < 1e-6 && (s.factor(99) - 1.0).abs() < 1e-6);
    }
}
