//! Which positions of a padded batch hold real tokens.

use crate::error::CoreError;

/// A batch of `batch` sequences padded on the right to `seq` positions; sequence `b` has
/// `lengths[b]` real tokens (at least one), the rest is padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaddingMask {
    seq: usize,
    lengths: Vec<usize>,
}

impl PaddingMask {
    /// Every sequence fills all `seq` positions.
    pub fn full(batch: usize, seq: usize) -> Self {
        PaddingMask { seq, lengths: vec![seq; batch] }
    }

    /// Sequences of the given lengths, each in `1..=seq`.
    pub fn from_lengths(seq: usize, lengths: Vec<usize>) -> Result<Self, CoreError> {
        if let Some(&bad) = lengths.iter().find(|&&l| l == 0 || l > seq) {
            return Err(CoreError::InvalidConfig(format!(
                "sequence length {bad} is outside 1..={seq}"
            )));
        }
        Ok(PaddingMask { seq, lengths })
    }

    /// Number of sequences.
    pub fn batch(&self) -> usize {
        self.lengths.len()
    }

    /// Padded length.
    pub fn seq(&self) -> usize {
        self.seq
    }

    /// Real tokens in sequence `b`.
    pub fn len(&self, b: usize) -> usize {
        self.lengths[b]
    }

    /// All lengths.
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// Whether the batch has no sequences.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }
}
