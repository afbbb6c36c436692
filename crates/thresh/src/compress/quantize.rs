//! Quantisation of a text network's parameters.

use crate::error::Error;
use crate::model::Network;
use thresh_core::Module;

/// How parameters are quantised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuantizeKind {
    /// Row-wise symmetric int8: linear weights per output channel, embedding tables per row.
    Int8,
    /// Product quantisation of a bag model's embedding table (one byte per `dsub` columns).
    Pq,
}

impl std::fmt::Display for QuantizeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QuantizeKind::Int8 => "int8",
            QuantizeKind::Pq => "pq",
        })
    }
}

impl std::str::FromStr for QuantizeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "int8" => Ok(QuantizeKind::Int8),
            "pq" => Ok(QuantizeKind::Pq),
            other => Err(format!("unknown quantisation {other:?} (expected int8 or pq)")),
        }
    }
}

/// Quantises `network` in place; returns the names of the parameters now stored compressed.
///
/// int8 applies to every matrix (linear weights, the pooler and head, token and position
/// tables); vectors (biases, layer norms) stay `f32`. pq applies to a bag model's embedding
/// table, `dsub` columns per subspace, `ksub` centroids each, `seed` for k-means.
pub fn quantize_network(
    network: &mut Network,
    kind: QuantizeKind,
    dsub: usize,
    ksub: usize,
    seed: u64,
) -> Result<Vec<String>, Error> {
    let mut done = Vec::new();
    let mut result = Ok(());
    match (kind, &mut *network) {
        (QuantizeKind::Int8, _) => network.visit_mut(&mut |p| {
            if result.is_ok() && p.value.shape().len() == 2 {
                result = p.quantize_int8();
                done.push(p.name.clone());
            }
        }),
        (QuantizeKind::Pq, Network::Bag(m)) => {
            if dsub == 0 || dsub > m.config().dim {
                return Err(Error::InvalidOption {
                    flag: "--pq-dsub",
                    message: format!("{dsub} is outside 1..={}", m.config().dim),
                });
            }
            if !(2..=256).contains(&ksub) {
                return Err(Error::InvalidOption {
                    flag: "--pq-centroids",
                    message: format!("{ksub} is outside 2..=256"),
                });
            }
            m.embeddings.quantize_pq(dsub, ksub, 15, seed)?;
            done.push(m.embeddings.name.clone());
        }
        (QuantizeKind::Pq, Network::Transformer(_)) => {
            return Err(Error::InvalidOption {
                flag: "--quantize",
                message: "pq applies to bag models; use int8 for a transformer".into(),
            })
        }
    }
    result?;
    tracing::info!(kind = %kind, parameters = done.len(), "parameters quantised");
    Ok(done)
}
