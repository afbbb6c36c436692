//! Saving and loading named parameters as safetensors.
//!
//! Files are written atomically: to a temporary name in the target directory, then renamed.

use crate::error::CoreError;
use crate::param::Module;
use crate::tensor::Tensor;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory, flushed
/// to disk, then renamed over `path`. A reader, or a run killed halfway, sees either the old
/// file or the new one, never a torn mix.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// [`write_file_atomic`] with the error naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    write_file_atomic(path, bytes)
        .map_err(|source| CoreError::Io { path: path.to_path_buf(), source })
}

/// Serialises named tensors (and optional string metadata) to safetensors bytes.
pub fn to_safetensors_bytes(
    tensors: &[(String, &Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, CoreError> {
    let views = tensors
        .iter()
        .map(|(name, t)| {
            let bytes: &[u8] = bytemuck::cast_slice(t.data());
            TensorView::new(Dtype::F32, t.shape().to_vec(), bytes).map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CoreError::Safetensors { path: "<memory>".into(), message: e.to_string() })?;
    safetensors::serialize(views, metadata)
        .map_err(|e| CoreError::Safetensors { path: "<memory>".into(), message: e.to_string() })
}

/// Writes named tensors to a safetensors file.
pub fn save_tensors(
    path: &Path,
    tensors: &[(String, &Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<(), CoreError> {
    let bytes = to_safetensors_bytes(tensors, metadata).map_err(|e| match e {
        CoreError::Safetensors { message, .. } => {
            CoreError::Safetensors { path: path.to_path_buf(), message }
        }
        other => other,
    })?;
    write_atomic(path, &bytes)
}

/// Reads every tensor of a safetensors file as `f32`, in name order.
pub fn load_tensors(path: &Path) -> Result<BTreeMap<String, Tensor>, CoreError> {
    let bytes =
        std::fs::read(path).map_err(|source| CoreError::Io { path: path.into(), source })?;
    parse_tensors(path, &bytes)
}

/// Reads a checkpoint written by another framework: floating-point tensors of any width
/// (F16, BF16, F32, F64) as `f32`, in name order, and the names of the integer and boolean
/// tensors left out (buffers such as BERT's `position_ids`, not weights).
pub fn load_checkpoint_tensors(
    path: &Path,
) -> Result<(BTreeMap<String, Tensor>, Vec<String>), CoreError> {
    let bytes =
        std::fs::read(path).map_err(|source| CoreError::Io { path: path.into(), source })?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| CoreError::Safetensors { path: path.into(), message: e.to_string() })?;
    let (mut out, mut skipped) = (BTreeMap::new(), Vec::new());
    for (name, view) in st.tensors() {
        let raw = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => {
                raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
            }
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::F64 => raw
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            _ => {
                skipped.push(name);
                continue;
            }
        };
        let t = Tensor::from_vec(data, view.shape())
            .map_err(|e| CoreError::Safetensors { path: path.into(), message: e.to_string() })?;
        out.insert(name, t);
    }
    Ok((out, skipped))
}

/// Parses safetensors bytes; `path` is only used in error messages.
pub fn parse_tensors(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, CoreError> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| CoreError::Safetensors { path: path.into(), message: e.to_string() })?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(CoreError::UnsupportedDtype {
                path: path.into(),
                name,
                dtype: format!("{:?}", view.dtype()),
            });
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let t = Tensor::from_vec(data, view.shape())
            .map_err(|e| CoreError::Safetensors { path: path.into(), message: e.to_string() })?;
        out.insert(name, t);
    }
    Ok(out)
}

/// Saves every parameter of `module` under its name.
pub fn save_module(path: &Path, module: &dyn Module) -> Result<(), CoreError> {
    let mut owned: Vec<(String, Tensor)> = Vec::new();
    module.visit(&mut |p| owned.push((p.name.clone(), p.value.clone())));
    let refs: Vec<(String, &Tensor)> = owned.iter().map(|(n, t)| (n.clone(), t)).collect();
    save_tensors(path, &refs, None)
}

/// Sets the parameters of `module` from named tensors, which must match names and shapes
/// exactly; `path` names the source in the error.
pub fn assign_params(
    path: &Path,
    module: &mut dyn Module,
    mut tensors: BTreeMap<String, Tensor>,
) -> Result<(), CoreError> {
    let (mut missing, mut wrong_shape) = (Vec::new(), Vec::new());
    module.visit(&mut |p| match tensors.get(&p.name) {
        None => missing.push(p.name.clone()),
        Some(t) if t.shape() != p.value.shape() => wrong_shape.push(format!(
            "{}: file {:?} vs model {:?}",
            p.name,
            t.shape(),
            p.value.shape()
        )),
        Some(_) => {}
    });
    let mut known = std::collections::HashSet::new();
    module.visit(&mut |p| {
        known.insert(p.name.clone());
    });
    let unexpected: Vec<String> = tensors.keys().filter(|k| !known.contains(*k)).cloned().collect();
    if !missing.is_empty() || !unexpected.is_empty() || !wrong_shape.is_empty() {
        return Err(CoreError::WeightsMismatch {
            path: path.into(),
            missing,
            unexpected,
            wrong_shape,
        });
    }
    module.visit_mut(&mut |p| {
        if let Some(t) = tensors.remove(&p.name) {
            p.value = t;
        }
    });
    Ok(())
}

/// Loads a safetensors file into `module`; see [`assign_params`].
pub fn load_module(path: &Path, module: &mut dyn Module) -> Result<(), CoreError> {
    let tensors = load_tensors(path)?;
    assign_params(path, module, tensors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Linear;
    use crate::rng::Rng;

    #[test]
    fn round_trip_and_mismatch_reporting() {
        let dir = std::env::temp_dir().join(format!("thresh-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.safetensors");
        let a = Linear::new("l", 3, 2, true, &mut Rng::new(1));
        save_module(&path, &a).unwrap();
        let mut b = Linear::new("l", 3, 2, true, &mut Rng::new(2));
        load_module(&path, &mut b).unwrap();
        assert_eq!(a.weight.value, b.weight.value);
        let mut c = Linear::new("other", 3, 4, false, &mut Rng::new(2));
        let err = load_module(&path, &mut c).unwrap_err().to_string();
        assert!(err.contains("other.weight") && err.contains("l.bias"), "{err}");
        std::fs::write(&path, b"not a tensor file").unwrap();
        let err = load_module(&path, &mut b).unwrap_err().to_string();
        assert!(err.contains("w.safetensors"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
