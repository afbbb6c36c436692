//! Structured pruning of a [`TransformerClassifier`]: whole feed-forward neurons and whole
//! attention heads are cut out, so the pruned model is a smaller model of the same kind (a
//! narrower `d_ff`, fewer heads of the same width) that runs faster with the same kernels.
//!
//! A neuron `j` of a block's feed-forward network is row `j` of `ffn.up` (and its bias) and
//! column `j` of `ffn.down`; its importance is `‖up_j‖₂ · ‖down_{:,j}‖₂`, the largest gain with
//! which it can pass a unit-norm input to the block's output. A head `h` owns rows
//! `h·dh..(h+1)·dh` of each of the query, key and value parts of `qkv` and the same columns
//! of `out`; its importance is `‖V_h‖_F · ‖out_{:,h}‖_F`, the same bound for its value path.
//! Blocks keep the same count each (the architecture has one `d_ff` and one head count).

use crate::error::CoreError;
use crate::models::{TransformerClassifier, TransformerConfig};
use crate::param::Module;
use crate::tensor::Tensor;
use std::collections::HashMap;

fn norm(xs: impl Iterator<Item = f32>) -> f32 {
    xs.map(|x| x * x).sum::<f32>().sqrt()
}

/// Importance of every feed-forward neuron, per block.
pub fn ffn_importance(model: &TransformerClassifier) -> Vec<Vec<f32>> {
    model
        .blocks
        .iter()
        .map(|b| {
            let (up, down) = (&b.up.weight.value, &b.down.weight.value);
            let (d_ff, d) = (up.shape()[0], up.shape()[1]);
            (0..d_ff)
                .map(|j| {
                    let u = norm(up.row(j).iter().copied());
                    let v = norm((0..d).map(|i| down.data()[i * d_ff + j]));
                    u * v
                })
                .collect()
        })
        .collect()
}

/// Importance of every attention head, per block.
pub fn head_importance(model: &TransformerClassifier) -> Vec<Vec<f32>> {
    let (heads, dh) = (model.config().heads, model.config().head_width());
    let inner = heads * dh;
    model
        .blocks
        .iter()
        .map(|b| {
            let (qkv, out) = (&b.attention.qkv.weight.value, &b.attention.out.weight.value);
            let d = out.shape()[0];
            (0..heads)
                .map(|h| {
                    let v = norm((0..dh).flat_map(|r| qkv.row(2 * inner + h * dh + r).to_vec()));
                    let o = norm(
                        (0..d)
                            .flat_map(|i| (0..dh).map(move |c| (i, h * dh + c)))
                            .map(|(i, c)| out.data()[i * inner + c]),
                    );
                    v * o
                })
                .collect()
        })
        .collect()
}

/// Indices of the `keep` largest scores, in increasing index order (ties to the lower index).
pub fn top_indices(scores: &[f32], keep: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut kept: Vec<usize> = order.into_iter().take(keep).collect();
    kept.sort_unstable();
    kept
}

fn select_rows(t: &Tensor, rows: &[usize]) -> Tensor {
    let cols = t.cols();
    let mut data = Vec::with_capacity(rows.len() * cols);
    for &r in rows {
        data.extend_from_slice(t.row(r));
    }
    let mut shape = t.shape().to_vec();
    shape[0] = rows.len();
    Tensor::from_vec(data, &shape).expect("rows selected")
}

fn select_cols(t: &Tensor, cols: &[usize]) -> Tensor {
    let rows = t.shape()[0];
    let mut data = Vec::with_capacity(rows * cols.len());
    for r in 0..rows {
        let row = t.row(r);
        data.extend(cols.iter().map(|&c| row[c]));
    }
    Tensor::from_vec(data, &[rows, cols.len()]).expect("columns selected")
}

fn select_vec(t: &Tensor, idx: &[usize]) -> Tensor {
    let d = t.data();
    Tensor::from_vec(idx.iter().map(|&i| d[i]).collect(), &[idx.len()]).expect("entries")
}

/// A copy of `model` keeping, in block `i`, the feed-forward neurons `ffn[i]` and the heads
/// `heads[i]` (every block the same number of each).
pub fn prune_structured(
    model: &TransformerClassifier,
    ffn: &[Vec<usize>],
    heads: &[Vec<usize>],
) -> Result<TransformerClassifier, CoreError> {
    let config = model.config();
    let layers = config.layers;
    let bad = |m: String| Err(CoreError::InvalidConfig(m));
    if ffn.len() != layers || heads.len() != layers {
        return bad(format!(
            "pruning lists for {} and {} of {layers} blocks",
            ffn.len(),
            heads.len()
        ));
    }
    let (keep_ffn, keep_heads) = (ffn[0].len(), heads[0].len());
    if keep_ffn == 0 || keep_heads == 0 {
        return bad("pruning must keep at least one neuron and one head per block".into());
    }
    for (f, h) in ffn.iter().zip(heads) {
        if f.len() != keep_ffn || h.len() != keep_heads {
            return bad("every block must keep the same number of neurons and heads".into());
        }
        if f.iter().any(|&j| j >= config.d_ff) || h.iter().any(|&j| j >= config.heads) {
            return bad("a kept neuron or head is out of range".into());
        }
    }
    let dh = config.head_width();
    let inner = config.heads * dh;
    let new_config = TransformerConfig {
        d_ff: keep_ffn,
        heads: keep_heads,
        head_dim: (keep_heads * dh != config.d_model || config.head_dim.is_some()).then_some(dh),
        ..config.clone()
    };
    let mut values: HashMap<String, Tensor> = HashMap::new();
    model.visit(&mut |p| {
        values.insert(p.name.clone(), p.value.clone());
    });
    for i in 0..layers {
        let at = |s: &str| format!("layers.{i}.{s}");
        let f = &ffn[i];
        let up_w = select_rows(&values[&at("ffn.up.weight")], f);
        values.insert(at("ffn.up.weight"), up_w);
        if let Some(b) = values.get(&at("ffn.up.bias")) {
            let b = select_vec(b, f);
            values.insert(at("ffn.up.bias"), b);
        }
        let down_w = select_cols(&values[&at("ffn.down.weight")], f);
        values.insert(at("ffn.down.weight"), down_w);
        // Rows of qkv: queries, keys, values, each `inner` rows of heads `dh` apart.
        let rows: Vec<usize> = (0..3)
            .flat_map(|part| heads[i].iter().flat_map(move |&h| (0..dh).map(move |r| (part, h, r))))
            .map(|(part, h, r)| part * inner + h * dh + r)
            .collect();
        let qkv_w = select_rows(&values[&at("attention.qkv.weight")], &rows);
        values.insert(at("attention.qkv.weight"), qkv_w);
        if let Some(b) = values.get(&at("attention.qkv.bias")) {
            let b = select_vec(b, &rows);
            values.insert(at("attention.qkv.bias"), b);
        }
        let cols: Vec<usize> =
            heads[i].iter().flat_map(|&h| (0..dh).map(move |c| h * dh + c)).collect();
        let out_w = select_cols(&values[&at("attention.out.weight")], &cols);
        values.insert(at("attention.out.weight"), out_w);
    }
    let mut pruned = TransformerClassifier::new(new_config, 0)?;
    let mut missing = Vec::new();
    pruned.visit_mut(&mut |p| match values.remove(&p.name) {
        Some(v) if v.shape() == p.value.shape() => p.value = v,
        _ => missing.push(p.name.clone()),
    });
    if !missing.is_empty() {
        return bad(format!("pruning left parameters unset: {}", missing.join(", ")));
    }
    Ok(pruned)
}

/// Sets to zero the `fraction` of the entries of the selected matrices with the smallest
/// magnitude, taken over all of them together (global magnitude pruning). Returns how many
/// entries are zero afterwards.
pub fn prune_magnitude(
    model: &mut dyn Module,
    fraction: f64,
    select: &dyn Fn(&str) -> bool,
) -> Result<usize, CoreError> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(CoreError::InvalidConfig(format!(
            "pruning fraction {fraction} is outside [0, 1)"
        )));
    }
    let mut mags = Vec::new();
    model.visit(&mut |p| {
        if select(&p.name) && p.value.shape().len() == 2 {
            mags.extend(p.value.data().iter().map(|v| v.abs()));
        }
    });
    let cut = (mags.len() as f64 * fraction).floor() as usize;
    if cut == 0 {
        return Ok(0);
    }
    let (_, &mut threshold, _) = mags.select_nth_unstable_by(cut - 1, f32::total_cmp);
    // Entries at the threshold are cut in visiting order until `cut` are zero.
    let mut left = cut;
    model.visit_mut(&mut |p| {
        if select(&p.name) && p.value.shape().len() == 2 {
            p.value_changed();
            for v in p.value.data_mut() {
                if left > 0 && v.abs() <= threshold {
                    *v = 0.0;
                    left -= 1;
                }
            }
        }
    });
    Ok(cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::PaddingMask;
    use crate::models::TokenBatch;

    fn model() -> TransformerClassifier {
        let config = TransformerConfig {
            vocab_size: 20,
            max_len: 6,
            d_model: 8,
            layers: 2,
            heads: 4,
            d_ff: 12,
            classes: 3,
            ..TransformerConfig::reference()
        };
        let mut m = TransformerClassifier::new(config, 3).unwrap();
        let mut rng = crate::rng::Rng::new(5);
        m.visit_mut(&mut |p| p.value.data_mut().iter_mut().for_each(|v| *v += 0.2 * rng.normal()));
        m
    }

    fn batch() -> TokenBatch {
        TokenBatch::new(
            vec![1, 4, 9, 2, 0, 0, 3, 7, 7, 5, 6, 11],
            PaddingMask::from_lengths(6, vec![4, 6]).unwrap(),
        )
        .unwrap()
    }

    /// Keeping every neuron and head (in any order of scoring) gives the same logits; zeroing
    /// the up-projection rows of the cut neurons and the value rows of the cut heads in the
    /// full model gives the pruned model's logits.
    #[test]
    fn pruned_model_equals_the_full_model_with_the_cut_parts_silenced() {
        let mut full = model();
        let want = full.forward(&batch(), false).unwrap().clone();
        let all = |n: usize| vec![(0..n).collect::<Vec<_>>(); 2];
        let mut same = prune_structured(&full, &all(12), &all(4)).unwrap();
        assert_eq!(same.forward(&batch(), false).unwrap(), &want);

        let ffn = vec![top_indices(&ffn_importance(&full)[0], 6), vec![0, 2, 4, 6, 8, 10]];
        let heads = vec![vec![1, 3], vec![0, 1]];
        let mut pruned = prune_structured(&full, &ffn, &heads).unwrap();
        assert_eq!(pruned.config().d_ff, 6);
        assert_eq!((pruned.config().heads, pruned.config().head_width()), (2, 2));
        let got = pruned.forward(&batch(), false).unwrap().clone();
        for (i, block) in full.blocks.iter_mut().enumerate() {
            let d = 8;
            for j in (0..12).filter(|j| !ffn[i].contains(j)) {
                block.up.weight.value.data_mut()[j * d..(j + 1) * d].fill(0.0);
                block.up.bias.as_mut().unwrap().value.data_mut()[j] = 0.0;
            }
            for h in (0..4).filter(|h| !heads[i].contains(h)) {
                // A cut head's output column block of `out` is zeroed.
                let w = block.attention.out.weight.value.data_mut();
                for r in 0..d {
                    w[r * d + h * 2..r * d + h * 2 + 2].fill(0.0);
                }
            }
        }
        let silenced = full.forward(&batch(), false).unwrap().clone();
        for (a, b) in got.data().iter().zip(silenced.data()) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert!(prune_structured(&full, &[vec![1], vec![1, 2]], &heads).is_err());
    }

    #[test]
    fn magnitude_pruning_zeroes_the_smallest_entries_globally() {
        let mut m = model();
        let select = |n: &str| n.starts_with("layers.") && n.ends_with(".weight");
        let mut total = 0;
        m.visit(&mut |p| {
            if select(&p.name) && p.value.shape().len() == 2 {
                total += p.len();
            }
        });
        let zeroed = prune_magnitude(&mut m, 0.5, &select).unwrap();
        assert_eq!(zeroed, total / 2);
        let (mut zeros, mut kept_min, mut cut_max) = (0, f32::MAX, 0.0f32);
        let orig = model();
        let mut before = Vec::new();
        orig.visit(&mut |p| before.push(p.value.clone()));
        let mut i = 0;
        m.visit(&mut |p| {
            if select(&p.name) && p.value.shape().len() == 2 {
                for (a, b) in p.value.data().iter().zip(before[i].data()) {
                    if *a == 0.0 {
                        zeros += 1;
                        cut_max = cut_max.max(b.abs());
                    } else {
                        kept_min = kept_min.min(a.abs());
                    }
                }
            }
            i += 1;
        });
        assert_eq!(zeros, total / 2);
        assert!(cut_max <= kept_min);
        assert!(prune_magnitude(&mut m, 1.0, &select).is_err());
    }
}
