//! Search spaces: for each option to tune, the values a trial may draw.
//!
//! A space file is TOML with one table per option (named as in `--config` files):
//!
//! ```toml
//! [lr]
//! log_uniform = [1e-4, 3e-3]   # drawn uniformly in log space
//! [dropout]
//! uniform = [0.0, 0.4]
//! [batch_size]
//! choice = [16, 32, 64]        # one of these, equally likely
//! ```
//!
//! Options a trial does not draw keep the value of the base options.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thresh_core::rng::Rng;

use crate::error::Error;
use crate::model::ModelKind;

/// How one option's value is drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Uniform in `[low, high]`.
    Uniform([f64; 2]),
    /// `exp` of a uniform draw in `[ln low, ln high]`.
    LogUniform([f64; 2]),
    /// One of the values, equally likely.
    Choice(Vec<toml::Value>),
}

/// Options to tune and their distributions, by option name.
pub type Space = BTreeMap<String, Distribution>;

fn choice(values: &[i64]) -> Distribution {
    Distribution::Choice(values.iter().map(|&v| toml::Value::Integer(v)).collect())
}

/// The default space of a model family.
pub fn default_space(model: ModelKind) -> Space {
    let mut s = Space::new();
    match model {
        ModelKind::Transformer => {
            s.insert("lr".into(), Distribution::LogUniform([3e-4, 3e-3]));
            s.insert("batch_size".into(), choice(&[16, 32, 64]));
            s.insert("dropout".into(), Distribution::Uniform([0.1, 0.4]));
            s.insert("weight_decay".into(), Distribution::LogUniform([1e-3, 0.1]));
            s.insert("layers".into(), choice(&[1, 2, 3]));
            s.insert("d_model".into(), choice(&[64, 128, 192]));
            s.insert("heads".into(), choice(&[2, 4]));
            s.insert("max_length".into(), choice(&[32, 64, 128]));
        }
        ModelKind::Bag => {
            s.insert("lr".into(), Distribution::LogUniform([0.05, 1.0]));
            s.insert("dim".into(), choice(&[25, 50, 100, 200]));
            s.insert("tokenizer.word_ngrams".into(), choice(&[1, 2, 3]));
        }
        ModelKind::Bert => {
            s.insert("lr".into(), Distribution::LogUniform([2e-5, 2e-4]));
            s.insert("batch_size".into(), choice(&[16, 32]));
            s.insert("weight_decay".into(), Distribution::LogUniform([1e-3, 0.1]));
        }
        ModelKind::Cnn => {
            s.insert("lr".into(), Distribution::LogUniform([3e-4, 3e-3]));
            s.insert("batch_size".into(), choice(&[32, 64, 128]));
            s.insert("weight_decay".into(), Distribution::LogUniform([1e-3, 0.1]));
        }
    }
    s
}

/// Reads a space file; `path` names it in errors.
pub fn parse_space(path: &std::path::Path, text: &str) -> Result<Space, Error> {
    let space: Space = toml::from_str(text).map_err(|e| Error::InvalidOption {
        flag: "--space",
        message: format!("{}: {e}", path.display()),
    })?;
    for (name, d) in &space {
        let bad = match d {
            Distribution::Uniform([lo, hi]) => !(lo.is_finite() && hi.is_finite() && lo <= hi),
            Distribution::LogUniform([lo, hi]) => !(*lo > 0.0 && lo <= hi),
            Distribution::Choice(v) => v.is_empty(),
        };
        if bad {
            return Err(Error::InvalidOption {
                flag: "--space",
                message: format!(
                    "{}: `{name}` needs low <= high (and low > 0 for log_uniform) or a \
                     non-empty choice",
                    path.display()
                ),
            });
        }
    }
    Ok(space)
}

/// One draw from every distribution of `space`, as TOML values by option name.
pub fn sample(space: &Space, rng: &mut Rng) -> BTreeMap<String, toml::Value> {
    space
        .iter()
        .map(|(name, d)| {
            let u = f64::from(rng.uniform());
            let value = match d {
                Distribution::Uniform([lo, hi]) => toml::Value::Float(lo + u * (hi - lo)),
                Distribution::LogUniform([lo, hi]) => {
                    toml::Value::Float((lo.ln() + u * (hi.ln() - lo.ln())).exp())
                }
                Distribution::Choice(values) => {
                    values[((u * values.len() as f64) as usize).min(values.len() - 1)].clone()
                }
            };
            (name.clone(), value)
        })
        .collect()
}
