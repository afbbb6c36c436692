//! The IDX format of MNIST and Fashion-MNIST: a big-endian magic number (two zero bytes, a
//! type code, the number of dimensions), one 32-bit big-endian size per dimension, then the
//! values. Images are unsigned bytes of three dimensions `[n, rows, cols]`, labels unsigned
//! bytes of one. Files may be gzipped (recognised by their first two bytes).

use std::path::Path;

use super::error::ImageError;
use super::ImageSet;

/// Type code of unsigned bytes.
const UBYTE: u8 = 0x08;

/// The file's bytes, gunzipped when they start with the gzip magic number.
fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, ImageError> {
    let bytes = std::fs::read(path).map_err(|e| ImageError::io(path, e))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        crate::fsutil::gunzip(&bytes)
            .map_err(|e| ImageError::invalid(path, format!("corrupt gzip data: {e}")))
    } else {
        Ok(bytes)
    }
}

/// The dimensions and the values of an unsigned-byte IDX file of `rank` dimensions.
fn parse(path: &Path, bytes: &[u8], rank: usize) -> Result<(Vec<usize>, usize), ImageError> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(ImageError::invalid(path, "not an IDX file (bad magic number)"));
    }
    if bytes[2] != UBYTE {
        return Err(ImageError::invalid(
            path,
            format!("IDX type code {:#04x}; expected unsigned bytes (0x08)", bytes[2]),
        ));
    }
    if usize::from(bytes[3]) != rank {
        return Err(ImageError::invalid(path, format!("{} dimensions; expected {rank}", bytes[3])));
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(ImageError::invalid(path, "truncated IDX header"));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            let b = &bytes[4 + 4 * i..8 + 4 * i];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let values: usize = dims.iter().product();
    if bytes.len() != header + values {
        return Err(ImageError::invalid(
            path,
            format!(
                "{} bytes of values for dimensions {dims:?}; expected {values}",
                bytes.len() - header
            ),
        ));
    }
    Ok((dims, header))
}

/// Reads an IDX file of grey images `[n, rows, cols]`; labels are left empty.
pub fn read_idx_images(path: &Path) -> Result<ImageSet, ImageError> {
    let bytes = read_maybe_gzip(path)?;
    let (dims, header) = parse(path, &bytes, 3)?;
    Ok(ImageSet {
        source: path.to_path_buf(),
        channels: 1,
        height: dims[1],
        width: dims[2],
        pixels: bytes[header..].to_vec(),
        labels: Vec::new(),
        skipped: (0, Vec::new()),
    })
}

/// Reads an IDX file of byte labels, as decimal strings.
pub fn read_idx_labels(path: &Path) -> Result<Vec<String>, ImageError> {
    let bytes = read_maybe_gzip(path)?;
    let (_, header) = parse(path, &bytes, 1)?;
    Ok(bytes[header..].iter().map(|b| b.to_string()).collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// Writes an IDX file of `dims` with `values`, gzipped or not.
    pub(crate) fn write_idx(path: &Path, dims: &[u32], values: &[u8], gzip: bool) {
        let mut bytes = vec![0, 0, UBYTE, dims.len() as u8];
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(values);
        if gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&bytes).unwrap();
            bytes = enc.finish().unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn reads_plain_and_gzipped_files_and_names_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..2 * 3 * 4).map(|v| v as u8).collect();
        for gzip in [false, true] {
            let p = dir.path().join(format!("train-images-{gzip}"));
            write_idx(&p, &[2, 3, 4], &pixels, gzip);
            let set = read_idx_images(&p).unwrap();
            assert_eq!((set.channels, set.height, set.width), (1, 3, 4));
            assert_eq!(set.pixels, pixels);
            let l = dir.path().join(format!("train-labels-{gzip}"));
            write_idx(&l, &[2], &[7, 1], gzip);
            assert_eq!(read_idx_labels(&l).unwrap(), ["7", "1"]);
        }
        let truncated = dir.path().join("short");
        write_idx(&truncated, &[2, 3, 4], &pixels[..20], false);
        let err = read_idx_images(&truncated).unwrap_err().to_string();
        assert!(err.contains("short") && err.contains("expected 24"), "{err}");
        let labels_as_images = dir.path().join("train-labels-false");
        let err = read_idx_images(&labels_as_images).unwrap_err().to_string();
        assert!(err.contains("1 dimensions; expected 3"), "{err}");
        std::fs::write(dir.path().join("junk"), b"hello world").unwrap();
        let err = read_idx_labels(&dir.path().join("junk")).unwrap_err().to_string();
        assert!(err.contains("magic"), "{err}");
    }
}
