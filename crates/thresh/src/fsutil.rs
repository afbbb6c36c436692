//! File-system helpers shared by everything that writes artifacts.

/// Writes bytes to a path atomically (temporary file in the same directory, flushed, renamed);
/// see [`thresh_core::io::write_file_atomic`].
pub use thresh_core::io::write_file_atomic as write_atomic;

/// `bytes` gzip-compressed (best compression).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// The contents of a gzip stream; an error when `bytes` are not a complete one.
pub fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn gzip_round_trips_and_a_cut_stream_is_an_error() {
        let text = b"to be or not to be, that is the question; to be or not to be".repeat(20);
        let packed = gzip(&text);
        assert!(packed.len() < text.len() / 4);
        assert_eq!(gunzip(&packed).unwrap(), text);
        assert!(gunzip(&packed[..packed.len() / 2]).is_err());
    }
}
