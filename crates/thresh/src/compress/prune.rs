//! Pruning of a text network.

use crate::error::Error;
use crate::model::Network;
use thresh_core::models::prune::{
    ffn_importance, head_importance, prune_magnitude, prune_structured, top_indices,
};

/// What to prune.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PruneOptions {
    /// Share of weights (magnitude pruning) or of feed-forward neurons (structured) to remove.
    pub fraction: f64,
    /// Remove whole feed-forward neurons (and heads) instead of single weights.
    pub structured: bool,
    /// Share of attention heads to remove in every block (structured only).
    pub heads: f64,
}

fn check_fraction(flag: &'static str, f: f64) -> Result<(), Error> {
    if (0.0..1.0).contains(&f) {
        Ok(())
    } else {
        Err(Error::InvalidOption { flag, message: format!("{f} is outside [0, 1)") })
    }
}

/// Checks the fractions and flags of `options`.
pub(super) fn validate(options: &PruneOptions) -> Result<(), Error> {
    check_fraction("--prune", options.fraction)?;
    check_fraction("--prune-heads", options.heads)?;
    if options.heads > 0.0 && !options.structured {
        return Err(Error::InvalidOption {
            flag: "--prune-heads",
            message: "head pruning is structured; add --structured".into(),
        });
    }
    Ok(())
}

/// Prunes `network`; returns a one-line description of what was removed.
///
/// Structured pruning keeps in every block the `1 − fraction` most important feed-forward
/// neurons and `1 − heads` of the heads (at least one of each), scored by weight norms (see
/// [`thresh_core::models::prune`]); the model becomes a narrower one. Magnitude pruning zeroes
/// the smallest `fraction` of the entries of all linear weights of the encoder taken together
/// (a bag model: of its embedding table); the shapes stay.
pub fn prune_network(network: &mut Network, options: &PruneOptions) -> Result<String, Error> {
    validate(options)?;
    if options.structured {
        let Network::Transformer(m) = network else {
            return Err(Error::InvalidOption {
                flag: "--structured",
                message: "structured pruning applies to transformer and bert models".into(),
            });
        };
        let config = m.config().clone();
        let keep_ffn = ((config.d_ff as f64 * (1.0 - options.fraction)).round() as usize).max(1);
        let keep_heads = ((config.heads as f64 * (1.0 - options.heads)).round() as usize).max(1);
        let ffn: Vec<Vec<usize>> =
            ffn_importance(m).iter().map(|s| top_indices(s, keep_ffn)).collect();
        let heads: Vec<Vec<usize>> =
            head_importance(m).iter().map(|s| top_indices(s, keep_heads)).collect();
        let pruned = prune_structured(m, &ffn, &heads)?;
        **m = pruned;
        let what = format!(
            "feed-forward neurons {} -> {keep_ffn}, heads {} -> {keep_heads} per block",
            config.d_ff, config.heads
        );
        tracing::info!(%what, "structured pruning");
        return Ok(what);
    }
    let (select, what): (&dyn Fn(&str) -> bool, &str) = match network {
        Network::Transformer(_) => {
            (&|n: &str| n.starts_with("layers.") && n.ends_with(".weight"), "encoder weights")
        }
        Network::Bag(_) => (&|n: &str| n == "embeddings.weight", "embedding entries"),
    };
    let zeroed = prune_magnitude(network, options.fraction, select)?;
    let what = format!("{zeroed} {what} set to zero ({:.0} %)", options.fraction * 100.0);
    tracing::info!(%what, "magnitude pruning");
    Ok(what)
}
