//! Labeled images: IDX files (the MNIST format) and folder trees of PNG or JPEG files.
//!
//! [`read_image_dir`] reads a directory either way. A directory holding `train-images*`,
//! `train-labels*`, `t10k-images*` and `t10k-labels*` IDX files (gzipped or not) is a train
//! split and a test split; [`ImageSplit::Test`] picks the test one. Any other directory is a
//! folder tree: one subfolder per class, named after it, holding that class's images, which
//! are decoded with the `image` crate and resized to a square of the requested side. A file
//! that cannot be decoded is an error naming it, or with `skip_bad` is left out and counted.
//!
//! Pixels are kept as bytes in NCHW order; [`ImageSet::batch`] turns a selection into a
//! normalised `f32` tensor.

mod error;
mod folder;
mod idx;

pub use error::ImageError;
pub use folder::{decode_image, read_folder_tree};
pub use idx::{read_idx_images, read_idx_labels};

use std::path::{Path, PathBuf};
use thresh_core::Tensor;

/// Images with their labels, all of one size.
#[derive(Clone, Debug, Default)]
pub struct ImageSet {
    /// Where they were read from.
    pub source: PathBuf,
    /// Channels per image (1 grey, 3 colour).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// Pixel bytes, image after image, each as channel planes (NCHW).
    pub pixels: Vec<u8>,
    /// One label per image.
    pub labels: Vec<String>,
    /// Files left out because they could not be read (with `skip_bad`), and the first few
    /// with the reason.
    pub skipped: (usize, Vec<(PathBuf, String)>),
}

/// Which split of an IDX directory to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageSplit {
    /// The `train-*` files.
    Train,
    /// The `t10k-*` files.
    Test,
}

impl ImageSet {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The sorted distinct labels.
    pub fn label_set(&self) -> Vec<String> {
        let mut l = self.labels.clone();
        l.sort();
        l.dedup();
        // Numeric labels (IDX digits) sort as numbers.
        if l.iter().all(|s| s.parse::<u64>().is_ok()) {
            l.sort_by_key(|s| s.parse::<u64>().unwrap_or(0));
        }
        l
    }

    /// The images at `indices` as a tensor `[indices.len(), c, h, w]`, each byte mapped to
    /// `(v / 255 − mean) / std`.
    pub fn batch(&self, indices: &[usize], mean: f32, std: f32) -> Tensor {
        let len = self.image_len();
        let mut data = Vec::with_capacity(indices.len() * len);
        for &i in indices {
            data.extend(
                self.pixels[i * len..(i + 1) * len]
                    .iter()
                    .map(|&v| (f32::from(v) / 255.0 - mean) / std),
            );
        }
        Tensor::from_vec(data, &[indices.len(), self.channels, self.height, self.width])
            .expect("sizes agree")
    }

    /// Mean and standard deviation of all pixel values scaled to `[0, 1]`.
    pub fn pixel_stats(&self) -> (f32, f32) {
        let n = self.pixels.len().max(1) as f64;
        let sum: f64 = self.pixels.iter().map(|&v| f64::from(v) / 255.0).sum();
        let mean = sum / n;
        let var: f64 =
            self.pixels.iter().map(|&v| (f64::from(v) / 255.0 - mean).powi(2)).sum::<f64>() / n;
        (mean as f32, var.sqrt().max(1e-6) as f32)
    }
}

/// The IDX files of `split` in `dir`, if it holds them: (images, labels).
fn idx_files(dir: &Path, split: ImageSplit) -> Result<Option<(PathBuf, PathBuf)>, ImageError> {
    let prefix = match split {
        ImageSplit::Train => "train",
        ImageSplit::Test => "t10k",
    };
    let entries = std::fs::read_dir(dir).map_err(|e| ImageError::io(dir, e))?;
    let (mut images, mut labels) = (None, None);
    for entry in entries {
        let path = entry.map_err(|e| ImageError::io(dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if name.starts_with(&format!("{prefix}-images")) {
            images = Some(path);
        } else if name.starts_with(&format!("{prefix}-labels")) {
            labels = Some(path);
        }
    }
    Ok(images.zip(labels))
}

/// Whether `dir` holds IDX files (a `train-images*` or `t10k-images*` file).
pub fn is_idx_dir(dir: &Path) -> bool {
    [ImageSplit::Train, ImageSplit::Test].iter().any(|&s| matches!(idx_files(dir, s), Ok(Some(_))))
}

/// Reads the labeled images in `dir`: the `split` of an IDX directory, or a folder tree
/// resized to `size × size` (`None`: 32) with `skip_bad` deciding what a bad file does.
pub fn read_image_dir(
    dir: &Path,
    split: ImageSplit,
    size: Option<usize>,
    skip_bad: bool,
) -> Result<ImageSet, ImageError> {
    if !dir.is_dir() {
        return Err(ImageError::NotADirectory { path: dir.to_path_buf() });
    }
    if is_idx_dir(dir) {
        let (images, labels) = idx_files(dir, split)?.ok_or_else(|| ImageError::MissingSplit {
            path: dir.to_path_buf(),
            split: match split {
                ImageSplit::Train => "train-images-* and train-labels-*",
                ImageSplit::Test => "t10k-images-* and t10k-labels-*",
            },
        })?;
        let mut set = read_idx_images(&images)?;
        let labels = read_idx_labels(&labels)?;
        let count = set.pixels.len() / set.image_len().max(1);
        if labels.len() != count {
            return Err(ImageError::Invalid {
                path: dir.to_path_buf(),
                message: format!("{count} images but {} labels", labels.len()),
            });
        }
        set.labels = labels;
        set.source = dir.to_path_buf();
        return Ok(set);
    }
    read_folder_tree(dir, size.unwrap_or(32), skip_bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::idx::tests::write_idx;

    #[test]
    fn an_idx_directory_has_a_train_and_a_test_split() {
        let dir = tempfile::tempdir().unwrap();
        write_idx(&dir.path().join("train-images-idx3-ubyte.gz"), &[3, 2, 2], &[9; 12], true);
        write_idx(&dir.path().join("train-labels-idx1-ubyte.gz"), &[3], &[0, 1, 1], true);
        assert!(is_idx_dir(dir.path()));
        let train = read_image_dir(dir.path(), ImageSplit::Train, None, false).unwrap();
        assert_eq!((train.len(), train.label_set()), (3, vec!["0".into(), "1".into()]));
        let err = read_image_dir(dir.path(), ImageSplit::Test, None, false).unwrap_err();
        assert!(err.to_string().contains("t10k-images"), "{err}");
        write_idx(&dir.path().join("t10k-images-idx3-ubyte"), &[2, 2, 2], &[1; 8], false);
        write_idx(&dir.path().join("t10k-labels-idx1-ubyte"), &[3], &[0, 1, 0], false);
        let err = read_image_dir(dir.path(), ImageSplit::Test, None, false).unwrap_err();
        assert!(err.to_string().contains("2 images but 3 labels"), "{err}");
        let x = train.batch(&[0, 2], 0.5, 0.25);
        assert_eq!(x.shape(), &[2, 1, 2, 2]);
        assert!((x.data()[0] - (9.0 / 255.0 - 0.5) / 0.25).abs() < 1e-6);
    }

    /// Debian's `dataset-fashion-mnist` package, when installed.
    #[test]
    fn reads_fashion_mnist_when_installed() {
        let dir = Path::new("/usr/share/datasets/fashion-mnist");
        if !dir.is_dir() {
            println!(
                "skipped: {} not found (apt-get install dataset-fashion-mnist)",
                dir.display()
            );
            return;
        }
        let train = read_image_dir(dir, ImageSplit::Train, None, false).unwrap();
        let test = read_image_dir(dir, ImageSplit::Test, None, false).unwrap();
        assert_eq!((train.len(), test.len()), (60_000, 10_000));
        assert_eq!((train.channels, train.height, train.width), (1, 28, 28));
        assert_eq!(train.label_set().len(), 10);
        // Ten balanced classes.
        let zeros = test.labels.iter().filter(|l| *l == "0").count();
        assert_eq!(zeros, 1000);
    }
}
