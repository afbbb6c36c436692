//! Sentence embeddings from a pretrained encoder: the mean of the last hidden states over a
//! text's tokens, as sentence-transformers computes them for mean-pooling models.

use std::path::Path;

use crate::error::Error;
use crate::infer::INFER_BATCH;
use crate::model::{self, Network};
use crate::pretrained::BertCheckpoint;
use crate::text::TextTokenizer;
use crate::train::batching::{eval_batches, fit_length, make_batch};
use thresh_core::layers::PoolingKind;
use thresh_core::models::TransformerClassifier;

/// An encoder and its tokenizer, turning texts into fixed-width vectors.
pub struct SentenceEncoder {
    model: TransformerClassifier,
    tokenizer: TextTokenizer,
    max_length: usize,
    special: bool,
}

/// The longest text, in tokens, a checkpoint's encoder is given (longer texts are cut, the
/// last token kept), unless its position table is shorter.
pub const MAX_EMBED_LENGTH: usize = 256;

impl SentenceEncoder {
    /// Loads a Hugging Face BERT checkpoint directory, or a thresh model directory whose
    /// network is a Transformer (a fine-tuned `bert` model, say); in both cases the
    /// embedding is the mean of the encoder's output over the tokens.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        if dir.join(model::WEIGHTS_FILE).exists() && model::load_config(dir).is_ok() {
            let loaded = model::load(dir)?;
            let Network::Transformer(m) = loaded.network else {
                return Err(Error::InvalidOption {
                    flag: "DIR",
                    message: format!(
                        "{} is a {} model; sentence embeddings need an encoder",
                        dir.display(),
                        loaded.config.model
                    ),
                });
            };
            let mut arch = m.config().clone();
            arch.pooling = PoolingKind::Mean;
            arch.pooler = false;
            let mut encoder = TransformerClassifier::new(arch, 0)?;
            let mut values = std::collections::BTreeMap::new();
            thresh_core::Module::visit(m.as_ref(), &mut |p| {
                values.insert(p.name.clone(), p.value.clone());
            });
            thresh_core::Module::visit_mut(&mut encoder, &mut |p| {
                if let Some(v) = values.get(&p.name).filter(|v| v.shape() == p.value.shape()) {
                    p.value.copy_from(v);
                }
            });
            return Ok(SentenceEncoder {
                model: encoder,
                tokenizer: loaded.tokenizer,
                max_length: loaded.config.max_length,
                special: loaded.config.special_tokens,
            });
        }
        let checkpoint = BertCheckpoint::load(dir)?;
        let max_length = MAX_EMBED_LENGTH.min(checkpoint.config.max_position_embeddings);
        let arch = checkpoint.config.architecture(2, PoolingKind::Mean, false, max_length);
        let mut model = TransformerClassifier::new(arch, 0)?;
        checkpoint.assign(&mut model)?;
        let tokenizer = TextTokenizer::from_pretrained(dir)?;
        Ok(SentenceEncoder { model, tokenizer, max_length, special: true })
    }

    /// The width of the embeddings.
    pub fn dim(&self) -> usize {
        self.model.config().d_model
    }

    /// One embedding per text, in order; with `normalize`, each has unit L2 norm.
    pub fn embed(&mut self, texts: &[&str], normalize: bool) -> Result<Vec<Vec<f32>>, Error> {
        let filler = self.tokenizer.unk_id().unwrap_or(self.tokenizer.pad_id());
        let ids: Vec<Vec<u32>> = self
            .tokenizer
            .encode_batch(texts, self.special)
            .into_iter()
            .map(|ids| fit_length(ids, self.max_length, filler, self.special))
            .collect();
        let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
        let mut out = vec![Vec::new(); texts.len()];
        for batch in eval_batches(&lengths, INFER_BATCH) {
            let tokens = make_batch(&ids, &batch, self.tokenizer.pad_id());
            let features = self.model.features(&tokens)?;
            for (row, &i) in batch.iter().enumerate() {
                let mut v = features.row(row).to_vec();
                if normalize {
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                    v.iter_mut().for_each(|x| *x /= norm);
                }
                out[i] = v;
            }
        }
        Ok(out)
    }
}
