//! Stratified, seeded train/validation splits.

use std::collections::BTreeMap;

use thresh_core::Rng;

use super::error::DataError;

/// Stratified seeded split: indices into `classes` (one class id per example), returns (train,
/// valid), each sorted ascending. From each class, round(fraction * n_class) examples go to
/// valid, chosen by a seeded shuffle (thresh_core::Rng); fraction 0 -> everything in train. A
/// class with >= 2 examples and fraction > 0 gives at least 1 to valid and keeps at least 1 in
/// train. Same seed, same split. Errors (DataError::InvalidFraction) if fraction is not in
/// [0, 1).
///
/// A class with a single example always stays in train, so that every class is trained on.
/// Classes are shuffled in ascending order of their ids with one generator.
pub fn stratified_split(
    classes: &[usize],
    fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(DataError::InvalidFraction { fraction });
    }
    if fraction == 0.0 {
        return Ok(((0..classes.len()).collect(), Vec::new()));
    }
    let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &class) in classes.iter().enumerate() {
        by_class.entry(class).or_default().push(i);
    }
    let mut rng = Rng::new(seed);
    let mut train = Vec::with_capacity(classes.len());
    let mut valid = Vec::new();
    for members in by_class.values_mut() {
        let n = members.len();
        rng.shuffle(members);
        let wanted = (fraction * n as f64).round() as usize;
        let n_valid = if n >= 2 { wanted.clamp(1, n - 1) } else { 0 };
        valid.extend_from_slice(&members[..n_valid]);
        train.extend_from_slice(&members[n_valid..]);
    }
    train.sort_unstable();
    valid.sort_unstable();
    Ok((train, valid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes() -> Vec<usize> {
        // 100 of class 0, 30 of class 1, 5 of class 7, 2 of class 3, 1 of class 9, interleaved.
        let mut c = Vec::new();
        c.extend(std::iter::repeat_n(0, 100));
        c.extend(std::iter::repeat_n(1, 30));
        c.extend(std::iter::repeat_n(7, 5));
        c.extend(std::iter::repeat_n(3, 2));
        c.push(9);
        let mut rng = Rng::new(1);
        rng.shuffle(&mut c);
        c
    }

    fn count(classes: &[usize], idx: &[usize], class: usize) -> usize {
        idx.iter().filter(|&&i| classes[i] == class).count()
    }

    #[test]
    fn proportions_per_class() {
        let c = classes();
        let (train, valid) = stratified_split(&c, 0.1, 42).unwrap();
        assert_eq!(count(&c, &valid, 0), 10);
        assert_eq!(count(&c, &valid, 1), 3);
        assert_eq!(count(&c, &valid, 7), 1); // round(0.5) = 1
        assert_eq!(count(&c, &valid, 3), 1); // at least one
        assert_eq!(count(&c, &train, 3), 1); // and one kept
        assert_eq!(count(&c, &valid, 9), 0);
        assert_eq!(train.len() + valid.len(), c.len());
        assert!(train.windows(2).all(|w| w[0] < w[1]));
        assert!(valid.windows(2).all(|w| w[0] < w[1]));
        let mut all: Vec<usize> = train.iter().chain(&valid).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..c.len()).collect::<Vec<_>>());

        let (train, valid) = stratified_split(&c, 0.9, 42).unwrap();
        assert_eq!(count(&c, &valid, 0), 90);
        assert_eq!(count(&c, &train, 3), 1);
        assert_eq!(count(&c, &train, 9), 1);
    }

    #[test]
    fn same_seed_same_split() {
        let c = classes();
        let a = stratified_split(&c, 0.2, 7).unwrap();
        assert_eq!(a, stratified_split(&c, 0.2, 7).unwrap());
        assert_ne!(a, stratified_split(&c, 0.2, 8).unwrap());
    }

    #[test]
    fn fraction_zero_keeps_everything() {
        let c = classes();
        let (train, valid) = stratified_split(&c, 0.0, 3).unwrap();
        assert_eq!(train, (0..c.len()).collect::<Vec<_>>());
        assert!(valid.is_empty());
        assert_eq!(stratified_split(&[], 0.5, 3).unwrap(), (vec![], vec![]));
        let huge = [usize::MAX, 0, usize::MAX];
        assert_eq!(stratified_split(&huge, 0.5, 3).unwrap().1.len(), 1);
    }

    #[test]
    fn bad_fraction() {
        for f in [1.0, 1.5, -0.1, f64::NAN, f64::INFINITY] {
            let err = stratified_split(&[0, 1], f, 0).unwrap_err();
            assert!(matches!(err, DataError::InvalidFraction { .. }));
            assert!(err.to_string().contains("[0, 1)"), "{err}");
        }
    }
}
