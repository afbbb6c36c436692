//! Pretrained BERT-family encoders in Hugging Face's layout: `config.json`,
//! `model.safetensors` and `tokenizer.json` (or `vocab.txt`) in one directory.
//!
//! [`BertCheckpoint::load`] reads the configuration, refusing what the engine cannot compute
//! with a message naming the field, and renames the tensors to the engine's names:
//!
//! | Hugging Face | thresh |
//! | --- | --- |
//! | `embeddings.word_embeddings` | `embeddings.tokens` |
//! | `embeddings.position_embeddings` + row 0 of `embeddings.token_type_embeddings` | `embeddings.positions` |
//! | `embeddings.LayerNorm` | `embeddings.norm` |
//! | `encoder.layer.{i}.attention.self.{query,key,value}` (stacked in that order) | `layers.{i}.attention.qkv` |
//! | `encoder.layer.{i}.attention.output.dense` | `layers.{i}.attention.out` |
//! | `encoder.layer.{i}.attention.output.LayerNorm` | `layers.{i}.norm1` |
//! | `encoder.layer.{i}.intermediate.dense` | `layers.{i}.ffn.up` |
//! | `encoder.layer.{i}.output.dense` | `layers.{i}.ffn.down` |
//! | `encoder.layer.{i}.output.LayerNorm` | `layers.{i}.norm2` |
//! | `pooler.dense` | `pooler` |
//!
//! Texts are classified as one segment, so every position has token type 0; adding that
//! type's row to every position row once gives the same sums BERT computes. A `bert.` prefix
//! (as task checkpoints have) is dropped, and old `gamma`/`beta` layer-norm names are read as
//! `weight`/`bias`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thresh_core::layers::{ActivationKind, PoolingKind};
use thresh_core::models::{TransformerClassifier, TransformerConfig};
use thresh_core::{Module, Tensor};

/// File name of the checkpoint's configuration.
pub const HF_CONFIG_FILE: &str = "config.json";
/// File name of the checkpoint's weights.
pub const HF_WEIGHTS_FILE: &str = "model.safetensors";

/// What can go wrong reading a pretrained checkpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PretrainedError {
    /// A file of the checkpoint is absent.
    #[error("{}: missing (a Hugging Face checkpoint directory holds config.json, \
             model.safetensors and tokenizer.json or vocab.txt)", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// A file cannot be read or parsed.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The configuration asks for something the engine does not compute.
    #[error("{}: field `{field}` is {value}, but thresh supports {expected}", path.display())]
    Unsupported {
        /// The configuration file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// Tensors the encoder needs are not in the weights file, or have the wrong shape.
    #[error("{}: missing tensors: {}", path.display(), names.join(", "))]
    MissingTensors {
        /// The weights file.
        path: PathBuf,
        /// Their Hugging Face names (or a name with the shape found and expected).
        names: Vec<String>,
    },
}

/// The fields of a BERT `config.json` that thresh reads.
#[derive(Clone, Debug, Deserialize)]
pub struct BertConfig {
    /// `bert`; other model types are refused.
    #[serde(default)]
    pub model_type: String,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width.
    pub hidden_size: usize,
    /// Encoder blocks.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Feed-forward activation.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Dropout after sub-layers.
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f32,
    /// Dropout on attention probabilities.
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f32,
    /// Rows of the position table.
    pub max_position_embeddings: usize,
    /// Token types (segments).
    #[serde(default = "default_types")]
    pub type_vocab_size: usize,
    /// Layer-norm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f32,
    /// Position encoding; only `absolute` is supported.
    #[serde(default = "default_positions")]
    pub position_embedding_type: String,
    /// Decoder checkpoints are refused.
    #[serde(default)]
    pub is_decoder: bool,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_dropout() -> f32 {
    0.1
}
fn default_types() -> usize {
    2
}
fn default_eps() -> f32 {
    1e-12
}
fn default_positions() -> String {
    "absolute".into()
}

/// A checkpoint read and renamed, ready to initialise a [`TransformerClassifier`].
#[derive(Clone, Debug)]
pub struct BertCheckpoint {
    /// The checkpoint directory.
    pub dir: PathBuf,
    /// Its configuration.
    pub config: BertConfig,
    /// The encoder's tensors under thresh's names (see the module documentation).
    pub tensors: BTreeMap<String, Tensor>,
}

fn invalid(path: &Path, message: impl Into<String>) -> PretrainedError {
    PretrainedError::Invalid { path: path.to_path_buf(), message: message.into() }
}

/// Reads and checks `dir/config.json`.
pub fn read_config(dir: &Path) -> Result<BertConfig, PretrainedError> {
    let path = dir.join(HF_CONFIG_FILE);
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => PretrainedError::Missing { path: path.clone() },
        _ => invalid(&path, e.to_string()),
    })?;
    let config: BertConfig = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(&path, format!("not a BERT configuration: {e}")))?;
    let unsupported = |field, value: String, expected| {
        Err(PretrainedError::Unsupported { path: path.clone(), field, value, expected })
    };
    if !config.model_type.is_empty() && config.model_type != "bert" {
        return unsupported("model_type", format!("{:?}", config.model_type), "\"bert\"");
    }
    if config.hidden_act != "gelu" {
        return unsupported(
            "hidden_act",
            format!("{:?}", config.hidden_act),
            "\"gelu\" (the erf form)",
        );
    }
    if config.position_embedding_type != "absolute" {
        return unsupported(
            "position_embedding_type",
            format!("{:?}", config.position_embedding_type),
            "\"absolute\"",
        );
    }
    if config.is_decoder {
        return unsupported("is_decoder", "true".into(), "encoders only (false)");
    }
    if config.num_attention_heads == 0
        || !config.hidden_size.is_multiple_of(config.num_attention_heads)
    {
        return unsupported(
            "num_attention_heads",
            config.num_attention_heads.to_string(),
            "a number of heads that divides hidden_size",
        );
    }
    if config.type_vocab_size == 0 {
        return unsupported("type_vocab_size", "0".into(), "at least one token type");
    }
    Ok(config)
}

/// The Hugging Face name a thresh parameter comes from, when it maps one to one.
fn source_name(name: &str) -> Option<String> {
    let direct = [
        ("embeddings.tokens.weight", "embeddings.word_embeddings.weight"),
        ("embeddings.norm.weight", "embeddings.LayerNorm.weight"),
        ("embeddings.norm.bias", "embeddings.LayerNorm.bias"),
        ("pooler.weight", "pooler.dense.weight"),
        ("pooler.bias", "pooler.dense.bias"),
    ];
    if let Some((_, hf)) = direct.iter().find(|(t, _)| *t == name) {
        return Some(hf.to_string());
    }
    let rest = name.strip_prefix("layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let part = match rest {
        "attention.out.weight" => "attention.output.dense.weight",
        "attention.out.bias" => "attention.output.dense.bias",
        "norm1.weight" => "attention.output.LayerNorm.weight",
        "norm1.bias" => "attention.output.LayerNorm.bias",
        "ffn.up.weight" => "intermediate.dense.weight",
        "ffn.up.bias" => "intermediate.dense.bias",
        "ffn.down.weight" => "output.dense.weight",
        "ffn.down.bias" => "output.dense.bias",
        "norm2.weight" => "output.LayerNorm.weight",
        "norm2.bias" => "output.LayerNorm.bias",
        _ => return None,
    };
    Some(format!("encoder.layer.{layer}.{part}"))
}

/// Hugging Face names with the task prefix and old layer-norm names normalised.
fn normalise_names(tensors: BTreeMap<String, Tensor>) -> BTreeMap<String, Tensor> {
    tensors
        .into_iter()
        .map(|(name, t)| {
            let name = name.strip_prefix("bert.").map(str::to_string).unwrap_or(name);
            let name = match name.strip_suffix("LayerNorm.gamma") {
                Some(stem) => format!("{stem}LayerNorm.weight"),
                None => match name.strip_suffix("LayerNorm.beta") {
                    Some(stem) => format!("{stem}LayerNorm.bias"),
                    None => name,
                },
            };
            (name, t)
        })
        .collect()
}

impl BertConfig {
    /// The engine's architecture for this encoder with a head of `classes` outputs:
    /// post-LN blocks, a layer norm on the embedding sum, erf GELU, the checkpoint's dropout
    /// (also before the head, as Hugging Face's classifiers do), positions up to `max_len`.
    pub fn architecture(
        &self,
        classes: usize,
        pooling: PoolingKind,
        pooler: bool,
        max_len: usize,
    ) -> TransformerConfig {
        TransformerConfig {
            vocab_size: self.vocab_size,
            max_len: max_len.min(self.max_position_embeddings).max(1),
            d_model: self.hidden_size,
            layers: self.num_hidden_layers,
            heads: self.num_attention_heads,
            d_ff: self.intermediate_size,
            classes,
            dropout: self.hidden_dropout_prob,
            attention_dropout: self.attention_probs_dropout_prob,
            embedding_dropout: self.hidden_dropout_prob,
            head_dropout: self.hidden_dropout_prob,
            activation: ActivationKind::Gelu,
            norm_first: false,
            embedding_norm: true,
            final_norm: false,
            pooling,
            layer_norm_eps: self.layer_norm_eps,
            embedding_init_std: 0.02,
            pooler,
            head_dim: None,
        }
    }
}

impl BertCheckpoint {
    /// Reads the configuration and weights in `dir`.
    pub fn load(dir: &Path) -> Result<Self, PretrainedError> {
        let config = read_config(dir)?;
        let path = dir.join(HF_WEIGHTS_FILE);
        if !path.exists() {
            return Err(PretrainedError::Missing { path });
        }
        let (raw, skipped) = thresh_core::io::load_checkpoint_tensors(&path)
            .map_err(|e| invalid(&path, e.to_string()))?;
        if !skipped.is_empty() {
            tracing::debug!(tensors = %skipped.join(", "), "integer tensors (buffers) left out");
        }
        Ok(BertCheckpoint { dir: dir.to_path_buf(), config, tensors: normalise_names(raw) })
    }

    /// Whether the checkpoint has a pooler (`pooler.dense`).
    pub fn has_pooler(&self) -> bool {
        self.tensors.contains_key("pooler.dense.weight")
    }

    /// Sets every parameter of `model` but the head from the checkpoint (the pooler too, when
    /// the model has one). Tensors the model needs and the file lacks, or that have another
    /// shape, are an error listing them; tensors the model does not use are listed in a
    /// warning.
    pub fn assign(&self, model: &mut TransformerClassifier) -> Result<(), PretrainedError> {
        let path = self.dir.join(HF_WEIGHTS_FILE);
        let mut used: Vec<String> = Vec::new();
        let mut problems: Vec<String> = Vec::new();
        let fetch = |name: &str, used: &mut Vec<String>, problems: &mut Vec<String>| {
            used.push(name.to_string());
            let t = self.tensors.get(name);
            if t.is_none() {
                problems.push(name.to_string());
            }
            t
        };
        let layers = model.config().layers;
        let mut values: BTreeMap<String, Tensor> = BTreeMap::new();
        let mut names = Vec::new();
        model.visit(&mut |p| names.push((p.name.clone(), p.value.shape().to_vec())));
        for (name, shape) in &names {
            if name.starts_with("head.") {
                continue;
            }
            let value = if name == "embeddings.positions.weight" {
                let pos = fetch("embeddings.position_embeddings.weight", &mut used, &mut problems);
                let types =
                    fetch("embeddings.token_type_embeddings.weight", &mut used, &mut problems);
                match (pos, types) {
                    (Some(pos), Some(types)) if pos.cols() == types.cols() => {
                        let (rows, d) = (shape[0], shape[1]);
                        if pos.rows() < rows || d != pos.cols() {
                            problems.push(format!(
                                "embeddings.position_embeddings.weight (shape {:?}, need at \
                                 least [{rows}, {d}])",
                                pos.shape()
                            ));
                            continue;
                        }
                        let mut data = pos.data()[..rows * d].to_vec();
                        for row in data.chunks_exact_mut(d) {
                            row.iter_mut().zip(&types.data()[..d]).for_each(|(p, t)| *p += t);
                        }
                        Tensor::from_vec(data, &[rows, d]).expect("shape checked")
                    }
                    _ => continue,
                }
            } else if let Some((layer, kind)) =
                name.strip_prefix("layers.").and_then(|r| r.split_once(".attention.qkv."))
            {
                let parts: Vec<Option<&Tensor>> = ["query", "key", "value"]
                    .iter()
                    .map(|q| {
                        let hf = format!("encoder.layer.{layer}.attention.self.{q}.{kind}");
                        fetch(&hf, &mut used, &mut problems)
                    })
                    .collect();
                if parts.iter().any(Option::is_none) {
                    continue;
                }
                let data: Vec<f32> =
                    parts.iter().flatten().flat_map(|t| t.data()).copied().collect();
                match Tensor::from_vec(data, shape) {
                    Ok(t) => t,
                    Err(_) => {
                        problems.push(format!("encoder.layer.{layer}.attention.self.* ({kind})"));
                        continue;
                    }
                }
            } else {
                let Some(hf) = source_name(name) else {
                    problems.push(format!("{name} (no Hugging Face counterpart)"));
                    continue;
                };
                match fetch(&hf, &mut used, &mut problems) {
                    Some(t) if t.shape() == &shape[..] => t.clone(),
                    Some(t) => {
                        problems.push(format!("{hf} (shape {:?}, expected {shape:?})", t.shape()));
                        continue;
                    }
                    None => continue,
                }
            };
            values.insert(name.clone(), value);
        }
        if !problems.is_empty() {
            return Err(PretrainedError::MissingTensors { path, names: problems });
        }
        let unused: Vec<&String> = self
            .tensors
            .keys()
            // A pooler the model does not use (mean pooling) is expected to stay unused.
            .filter(|k| !used.contains(k) && !k.starts_with("pooler."))
            .collect();
        if !unused.is_empty() {
            tracing::warn!(
                file = %path.display(),
                tensors = %unused.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                "tensors of the checkpoint that the encoder does not use"
            );
        }
        tracing::debug!(layers, tensors = values.len(), "encoder weights loaded");
        model.visit_mut(&mut |p| {
            if let Some(v) = values.get(&p.name) {
                p.value.copy_from(v);
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"model_type": "bert", "vocab_size": 11, "hidden_size": 4,
        "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 6,
        "hidden_act": "gelu", "max_position_embeddings": 8, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12}"#;

    /// A one-block checkpoint in Hugging Face's names, with distinct values everywhere.
    fn write_checkpoint(dir: &Path, drop: Option<&str>) {
        std::fs::write(dir.join(HF_CONFIG_FILE), CONFIG).unwrap();
        let mut shapes: Vec<(String, Vec<usize>)> = vec![
            ("bert.embeddings.word_embeddings.weight".into(), vec![11, 4]),
            ("bert.embeddings.position_embeddings.weight".into(), vec![8, 4]),
            ("bert.embeddings.token_type_embeddings.weight".into(), vec![2, 4]),
            ("bert.embeddings.LayerNorm.gamma".into(), vec![4]),
            ("bert.embeddings.LayerNorm.beta".into(), vec![4]),
            ("bert.pooler.dense.weight".into(), vec![4, 4]),
            ("bert.pooler.dense.bias".into(), vec![4]),
            ("cls.predictions.bias".into(), vec![11]),
        ];
        for part in ["query", "key", "value"] {
            shapes.push((format!("bert.encoder.layer.0.attention.self.{part}.weight"), vec![4, 4]));
            shapes.push((format!("bert.encoder.layer.0.attention.self.{part}.bias"), vec![4]));
        }
        for (part, shape) in [
            ("attention.output.dense.weight", vec![4, 4]),
            ("attention.output.dense.bias", vec![4]),
            ("attention.output.LayerNorm.weight", vec![4]),
            ("attention.output.LayerNorm.bias", vec![4]),
            ("intermediate.dense.weight", vec![6, 4]),
            ("intermediate.dense.bias", vec![6]),
            ("output.dense.weight", vec![4, 6]),
            ("output.dense.bias", vec![4]),
            ("output.LayerNorm.weight", vec![4]),
            ("output.LayerNorm.bias", vec![4]),
        ] {
            shapes.push((format!("bert.encoder.layer.0.{part}"), shape));
        }
        let mut next = 0.0f32;
        let tensors: Vec<(String, Tensor)> = shapes
            .into_iter()
            .filter(|(n, _)| Some(n.as_str()) != drop)
            .map(|(n, shape)| {
                let len: usize = shape.iter().product();
                let data = (0..len)
                    .map(|_| {
                        next += 0.001;
                        next
                    })
                    .collect();
                (n, Tensor::from_vec(data, &shape).unwrap())
            })
            .collect();
        let refs: Vec<(String, &Tensor)> = tensors.iter().map(|(n, t)| (n.clone(), t)).collect();
        thresh_core::io::save_tensors(&dir.join(HF_WEIGHTS_FILE), &refs, None).unwrap();
    }

    #[test]
    fn renames_stacks_and_folds_the_checkpoint_tensors() {
        let dir = tempfile::tempdir().unwrap();
        write_checkpoint(dir.path(), None);
        let ckpt = BertCheckpoint::load(dir.path()).unwrap();
        assert!(ckpt.has_pooler());
        let arch = ckpt.config.architecture(3, PoolingKind::First, true, 6);
        assert_eq!((arch.max_len, arch.d_model, arch.layer_norm_eps), (6, 4, 1e-12));
        let mut model = TransformerClassifier::new(arch, 0).unwrap();
        ckpt.assign(&mut model).unwrap();
        let t = |n: &str| ckpt.tensors[n].data().to_vec();
        let mut got = BTreeMap::new();
        model.visit(&mut |p| {
            got.insert(p.name.clone(), p.value.data().to_vec());
        });
        assert_eq!(got["embeddings.tokens.weight"], t("embeddings.word_embeddings.weight"));
        assert_eq!(got["embeddings.norm.weight"], t("embeddings.LayerNorm.weight"));
        let (pos, types) = (
            t("embeddings.position_embeddings.weight"),
            t("embeddings.token_type_embeddings.weight"),
        );
        for (i, v) in got["embeddings.positions.weight"].iter().enumerate() {
            assert_eq!(*v, pos[i] + types[i % 4], "position value {i}");
        }
        assert_eq!(got["embeddings.positions.weight"].len(), 6 * 4);
        let qkv: Vec<f32> = ["query", "key", "value"]
            .iter()
            .flat_map(|p| t(&format!("encoder.layer.0.attention.self.{p}.weight")))
            .collect();
        assert_eq!(got["layers.0.attention.qkv.weight"], qkv);
        assert_eq!(got["layers.0.ffn.down.weight"], t("encoder.layer.0.output.dense.weight"));
        assert_eq!(got["pooler.weight"], t("pooler.dense.weight"));
    }

    #[test]
    fn missing_tensors_and_unsupported_fields_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write_checkpoint(dir.path(), Some("bert.encoder.layer.0.attention.self.key.bias"));
        let ckpt = BertCheckpoint::load(dir.path()).unwrap();
        let arch = ckpt.config.architecture(2, PoolingKind::Mean, false, 8);
        let mut model = TransformerClassifier::new(arch, 0).unwrap();
        let err = ckpt.assign(&mut model).unwrap_err().to_string();
        assert!(err.contains("encoder.layer.0.attention.self.key.bias"), "{err}");

        let config = CONFIG.replace("\"gelu\"", "\"gelu_new\"");
        std::fs::write(dir.path().join(HF_CONFIG_FILE), config).unwrap();
        let err = BertCheckpoint::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("hidden_act") && err.contains("gelu_new"), "{err}");
        let config = CONFIG.replace("\"bert\"", "\"roberta\"");
        std::fs::write(dir.path().join(HF_CONFIG_FILE), config).unwrap();
        let err = BertCheckpoint::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("model_type"), "{err}");
        std::fs::remove_file(dir.path().join(HF_WEIGHTS_FILE)).unwrap();
        std::fs::write(dir.path().join(HF_CONFIG_FILE), CONFIG).unwrap();
        let err = BertCheckpoint::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("model.safetensors") && err.contains("missing"), "{err}");
    }
}
