//! File-system helpers shared by everything that writes artifacts.

/// Writes bytes to a path atomically (temporary file in the same directory, flushed, renamed);
/// see [`thresh_core::io::write_file_atomic`].
pub use thresh_core::io::write_file_atomic as write_atomic;

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
}
