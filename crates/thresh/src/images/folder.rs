//! Folder trees of images, one subfolder per class, decoded with the `image` crate.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use super::error::ImageError;
use super::ImageSet;

/// How many skipped files are listed by name.
const SKIPPED_LISTED: usize = 5;

/// File extensions read as images.
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Decodes the image file at `path`, resizes it to `size × size` and returns its bytes as
/// `channels` planes (1: luma, 3: RGB).
pub fn decode_image(path: &Path, size: usize, channels: usize) -> Result<Vec<u8>, ImageError> {
    let img = image::open(path).map_err(|e| ImageError::invalid(path, e.to_string()))?;
    let side = u32::try_from(size).unwrap_or(u32::MAX);
    let img = img.resize_exact(side, side, FilterType::Triangle);
    let plane = size * size;
    let mut out = vec![0u8; channels * plane];
    if channels == 1 {
        out.copy_from_slice(img.to_luma8().as_raw());
    } else {
        for (i, px) in img.to_rgb8().pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = px.0[c];
            }
        }
    }
    Ok(out)
}

/// Reads a folder tree: each subfolder of `dir` is a class named after it, holding `.png`,
/// `.jpg` or `.jpeg` files. Images are RGB, resized to `size × size`. A file that cannot be
/// decoded is an error naming it, or with `skip_bad` is left out and counted.
pub fn read_folder_tree(dir: &Path, size: usize, skip_bad: bool) -> Result<ImageSet, ImageError> {
    let mut classes: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| ImageError::io(dir, e))? {
        let path = entry.map_err(|e| ImageError::io(dir, e))?.path();
        if path.is_dir() {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            classes.push((name.unwrap_or_default(), path));
        }
    }
    classes.sort();
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for (label, path) in &classes {
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| ImageError::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        found.sort();
        files.extend(found.into_iter().map(|p| (p, label.clone())));
    }
    let with_images: std::collections::BTreeSet<&String> = files.iter().map(|(_, l)| l).collect();
    if with_images.len() < 2 {
        return Err(ImageError::NoImages {
            path: dir.to_path_buf(),
            message: format!(
                "{} images in {} class folders; expected subfolders for at least 2 classes \
                 holding .png or .jpg files",
                files.len(),
                with_images.len()
            ),
        });
    }
    use rayon::prelude::*;
    let decoded: Vec<Result<Vec<u8>, ImageError>> =
        files.par_iter().map(|(p, _)| decode_image(p, size, 3)).collect();
    let mut set = ImageSet {
        source: dir.to_path_buf(),
        channels: 3,
        height: size,
        width: size,
        ..ImageSet::default()
    };
    for ((path, label), pixels) in files.into_iter().zip(decoded) {
        match pixels {
            Ok(p) => {
                set.pixels.extend_from_slice(&p);
                set.labels.push(label);
            }
            Err(e) if skip_bad => {
                set.skipped.0 += 1;
                if set.skipped.1.len() < SKIPPED_LISTED {
                    set.skipped.1.push((path, e.to_string()));
                }
            }
            Err(e) => return Err(e),
        }
    }
    if set.skipped.0 > 0 {
        tracing::warn!(
            dir = %dir.display(),
            skipped = set.skipped.0,
            first = %set.skipped.1.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>().join(", "),
            "images that could not be read were left out"
        );
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, colour: [u8; 3]) {
        let img = image::RgbImage::from_pixel(6, 4, image::Rgb(colour));
        img.save(path).unwrap();
    }

    #[test]
    fn reads_classes_resizes_and_skips_or_names_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        for (class, colour) in [("cats", [200, 10, 10]), ("dogs", [10, 10, 200])] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            for i in 0..3 {
                write_png(&dir.path().join(class).join(format!("{i}.png")), colour);
            }
        }
        std::fs::write(dir.path().join("dogs").join("broken.jpg"), b"not a jpeg").unwrap();
        std::fs::write(dir.path().join("dogs").join("notes.txt"), b"ignored").unwrap();
        let err = read_folder_tree(dir.path(), 8, false).unwrap_err().to_string();
        assert!(err.contains("broken.jpg"), "{err}");
        let set = read_folder_tree(dir.path(), 8, true).unwrap();
        assert_eq!(set.len(), 6);
        assert_eq!(set.skipped.0, 1);
        assert_eq!((set.channels, set.height, set.width), (3, 8, 8));
        assert_eq!(set.label_set(), ["cats", "dogs"]);
        // A red cat: the red plane is bright, the blue one dark.
        assert!(set.pixels[0] > 150 && set.pixels[2 * 64] < 50);
        let one = tempfile::tempdir().unwrap();
        std::fs::create_dir(one.path().join("only")).unwrap();
        write_png(&one.path().join("only").join("a.png"), [1, 2, 3]);
        let err = read_folder_tree(one.path(), 8, false).unwrap_err().to_string();
        assert!(err.contains("at least 2 classes"), "{err}");
    }
}
