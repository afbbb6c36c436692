//! `config.json`: everything needed to rebuild a trained model besides its weights.

use serde::{Deserialize, Serialize};
use thresh_core::models::{BagConfig, CnnConfig, TransformerConfig};

/// Name of the architecture file in a model directory.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the weights file in a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The `format` value that marks a thresh model's `config.json`.
pub const MODEL_FORMAT: &str = "thresh-model";

/// The model families thresh trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Token embeddings, a Transformer encoder trained from scratch, pooling, a linear head.
    Transformer,
    /// Embeddings of words and word n-grams averaged, then a linear map (fastText's model),
    /// trained by sparse SGD.
    Bag,
    /// A pretrained BERT-family encoder (a Hugging Face checkpoint) with a new head,
    /// fine-tuned; its network is a [`ModelKind::Transformer`] network with BERT's layout.
    Bert,
    /// A convolutional network for images.
    Cnn,
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelKind::Transformer => "transformer",
            ModelKind::Bag => "bag",
            ModelKind::Bert => "bert",
            ModelKind::Cnn => "cnn",
        })
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "transformer" => Ok(ModelKind::Transformer),
            "bag" => Ok(ModelKind::Bag),
            "bert" => Ok(ModelKind::Bert),
            "cnn" => Ok(ModelKind::Cnn),
            other => {
                Err(format!("unknown model {other:?} (expected: transformer, bag, bert or cnn)"))
            }
        }
    }
}

/// The contents of `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// Version of this layout.
    pub version: u32,
    /// Version of thresh that wrote the model.
    pub thresh_version: String,
    /// Architecture family.
    pub model: ModelKind,
    /// Class labels; class `i` of the network's output is `labels[i]`.
    pub labels: Vec<String>,
    /// Sequences are truncated to this many tokens.
    pub max_length: usize,
    /// Whether texts are encoded with the tokenizer's special tokens ([CLS] ... [SEP]).
    pub special_tokens: bool,
    /// The tokenizer file in the directory.
    pub tokenizer_file: String,
    /// Architecture of a [`ModelKind::Transformer`] model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformer: Option<TransformerConfig>,
    /// Architecture of a [`ModelKind::Bag`] model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bag: Option<BagConfig>,
    /// Architecture of a [`ModelKind::Cnn`] model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnn: Option<CnnConfig>,
    /// How a [`ModelKind::Cnn`] model's pixels are scaled: `(v / 255 − mean) / std`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixels: Option<PixelScale>,
    /// What `thresh compress` did to make this model from another, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<Compression>,
}

/// The `compression` entry of a compressed model's `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compression {
    /// The model directory it was made from.
    pub source: String,
    /// `int8` or `pq`, when quantised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantize: Option<String>,
    /// What pruning removed, when pruned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<String>,
    /// Epochs of fine-tuning after pruning.
    #[serde(default)]
    pub finetune_epochs: usize,
}

/// The normalisation of image pixels, measured on the training images.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PixelScale {
    /// Mean of the training pixels scaled to `[0, 1]`.
    pub mean: f32,
    /// Their standard deviation.
    pub std: f32,
}

impl ModelConfig {
    /// A configuration for a Transformer with the given labels.
    pub fn transformer(
        architecture: TransformerConfig,
        labels: Vec<String>,
        max_length: usize,
        tokenizer_file: String,
    ) -> Self {
        ModelConfig {
            format: MODEL_FORMAT.into(),
            version: 1,
            thresh_version: env!("CARGO_PKG_VERSION").into(),
            model: ModelKind::Transformer,
            labels,
            max_length,
            special_tokens: false,
            tokenizer_file,
            transformer: Some(architecture),
            bag: None,
            cnn: None,
            pixels: None,
            compression: None,
        }
    }

    /// A configuration for a fine-tuned pretrained encoder: a Transformer architecture whose
    /// texts are encoded with the checkpoint tokenizer's special tokens.
    pub fn bert(
        architecture: TransformerConfig,
        labels: Vec<String>,
        max_length: usize,
        tokenizer_file: String,
    ) -> Self {
        ModelConfig {
            model: ModelKind::Bert,
            special_tokens: true,
            ..ModelConfig::transformer(architecture, labels, max_length, tokenizer_file)
        }
    }

    /// A configuration for a convolutional image classifier; it has no tokenizer.
    pub fn cnn(architecture: CnnConfig, labels: Vec<String>, pixels: PixelScale) -> Self {
        ModelConfig {
            model: ModelKind::Cnn,
            transformer: None,
            cnn: Some(architecture),
            pixels: Some(pixels),
            max_length: 0,
            ..ModelConfig::transformer(TransformerConfig::reference(), labels, 0, String::new())
        }
    }

    /// A configuration for a bag-of-embeddings model with the given labels.
    pub fn bag(
        architecture: BagConfig,
        labels: Vec<String>,
        max_length: usize,
        tokenizer_file: String,
    ) -> Self {
        ModelConfig {
            model: ModelKind::Bag,
            transformer: None,
            bag: Some(architecture),
            ..ModelConfig::transformer(
                TransformerConfig::reference(),
                labels,
                max_length,
                tokenizer_file,
            )
        }
    }
}
