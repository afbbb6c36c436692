//! Saving and loading named parameters as safetensors.
//!
//! Files are written atomically: to a temporary name in the target directory, then renamed.

use crate::error::CoreError;
use crate::param::Module;
use crate::param::Storage;
use crate::quant::{Int8Rows, PqTable, ProductQuantizer};
use crate::tensor::Tensor;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

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

/// Suffix of the tensor holding the per-row scales of an int8 parameter.
pub const SCALES_SUFFIX: &str = ".scales";

/// Suffix of the codes of a product-quantised parameter.
pub const PQ_CODES_SUFFIX: &str = ".pq_codes";
/// Suffix of the codebooks of a product-quantised parameter.
pub const PQ_CENTROIDS_SUFFIX: &str = ".pq_centroids";
/// Suffix of the metadata key holding a product-quantised parameter's subspace width.
pub const PQ_DSUB_SUFFIX: &str = ".pq_dsub";

/// One tensor as written: dtype, shape and little-endian bytes.
struct Stored {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn f32_bytes(xs: &[f32]) -> Vec<u8> {
    bytemuck::cast_slice(xs).to_vec()
}

/// The tensors a parameter is written as: its value in `f32`, or for an int8 parameter the
/// codes (`I8`, under its own name) and the scales (`F32`, name + [`SCALES_SUFFIX`]).
fn stored_form(
    p: &crate::param::Param,
    out: &mut Vec<Stored>,
    metadata: &mut HashMap<String, String>,
) {
    match &p.storage {
        Storage::Dense => out.push(Stored {
            name: p.name.clone(),
            dtype: Dtype::F32,
            shape: p.value.shape().to_vec(),
            bytes: f32_bytes(p.value.data()),
        }),
        Storage::Int8(q) => {
            out.push(Stored {
                name: p.name.clone(),
                dtype: Dtype::I8,
                shape: vec![q.rows(), q.cols()],
                bytes: bytemuck::cast_slice(q.codes()).to_vec(),
            });
            out.push(Stored {
                name: format!("{}{SCALES_SUFFIX}", p.name),
                dtype: Dtype::F32,
                shape: vec![q.rows()],
                bytes: f32_bytes(q.scales()),
            });
        }
        Storage::Pq(q) => {
            let pq = q.quantizer();
            out.push(Stored {
                name: format!("{}{PQ_CODES_SUFFIX}", p.name),
                dtype: Dtype::U8,
                shape: vec![q.rows(), pq.subspaces()],
                bytes: q.codes().to_vec(),
            });
            out.push(Stored {
                name: format!("{}{PQ_CENTROIDS_SUFFIX}", p.name),
                dtype: Dtype::F32,
                shape: vec![pq.ksub(), pq.dim()],
                bytes: f32_bytes(pq.centroids()),
            });
            metadata.insert(format!("{}{PQ_DSUB_SUFFIX}", p.name), pq.dsub().to_string());
        }
    }
}

/// Saves every parameter of `module` under its name, each in its [`crate::param::Storage`].
pub fn save_module(path: &Path, module: &dyn Module) -> Result<(), CoreError> {
    let (mut stored, mut metadata) = (Vec::new(), HashMap::new());
    module.visit(&mut |p| stored_form(p, &mut stored, &mut metadata));
    let err = |e: safetensors::SafeTensorError| CoreError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let views = stored
        .iter()
        .map(|t| TensorView::new(t.dtype, t.shape.clone(), &t.bytes).map(|v| (t.name.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let metadata = (!metadata.is_empty()).then_some(metadata);
    let bytes = safetensors::serialize(views, metadata).map_err(err)?;
    write_atomic(path, &bytes)
}

/// Sets the parameters of `module` from named tensors, which must match names and shapes
/// exactly; `path` names the source in the error.
pub fn assign_params(
    path: &Path,
    module: &mut dyn Module,
    mut tensors: BTreeMap<String, Tensor>,
) -> Result<(), CoreError> {
    check_names_and_shapes(
        path,
        module,
        tensors.iter().map(|(n, t)| (n.as_str(), t.shape().to_vec())),
    )?;
    module.visit_mut(&mut |p| {
        if let Some(t) = tensors.remove(&p.name) {
            p.value = t;
            p.value_changed();
        }
    });
    Ok(())
}

/// Checks that a file's tensors (name and shape) are exactly the module's parameters.
fn check_names_and_shapes<'a>(
    path: &Path,
    module: &dyn Module,
    tensors: impl Iterator<Item = (&'a str, Vec<usize>)>,
) -> Result<(), CoreError> {
    let tensors: BTreeMap<&str, Vec<usize>> = tensors.collect();
    let (mut missing, mut wrong_shape) = (Vec::new(), Vec::new());
    let mut known = std::collections::HashSet::new();
    module.visit(&mut |p| {
        known.insert(p.name.clone());
        match tensors.get(p.name.as_str()) {
            None => missing.push(p.name.clone()),
            Some(shape) if shape[..] != *p.value.shape() => wrong_shape.push(format!(
                "{}: file {:?} vs model {:?}",
                p.name,
                shape,
                p.value.shape()
            )),
            Some(_) => {}
        }
    });
    let unexpected: Vec<String> =
        tensors.keys().filter(|k| !known.contains(**k)).map(|k| k.to_string()).collect();
    if !missing.is_empty() || !unexpected.is_empty() || !wrong_shape.is_empty() {
        return Err(CoreError::WeightsMismatch {
            path: path.into(),
            missing,
            unexpected,
            wrong_shape,
        });
    }
    Ok(())
}

/// The string metadata of a safetensors file (empty when it has none or cannot be read).
fn st_metadata(bytes: &[u8]) -> HashMap<String, String> {
    SafeTensors::read_metadata(bytes)
        .ok()
        .and_then(|(_, m)| m.metadata().clone())
        .unwrap_or_default()
}

/// One parameter's entry in a weight file, not yet decoded.
enum Entry<'a> {
    /// `f32` values.
    Dense(TensorView<'a>),
    /// int8 codes with their row scales.
    Int8(Arc<Int8Rows>),
    /// Product-quantised rows.
    Pq(Arc<PqTable>),
}

impl Entry<'_> {
    fn shape(&self) -> Vec<usize> {
        match self {
            Entry::Dense(view) => view.shape().to_vec(),
            Entry::Int8(q) => vec![q.rows(), q.cols()],
            Entry::Pq(t) => vec![t.rows(), t.quantizer().dim()],
        }
    }
}

fn f32_values(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Loads a safetensors file written by [`save_module`] into `module`: `f32` tensors, int8
/// parameters (codes and scales) and product-quantised ones (codes, codebooks and the
/// subspace width in the metadata), which keep their storage. Names and shapes must match
/// exactly, as in [`assign_params`]; they are checked before any parameter changes.
///
/// Values are decoded one parameter at a time, each replacing the module's value as soon as
/// it is made, so loading holds the file, the module and one decoded parameter at once rather
/// than every decoded value besides (for the MiniLM fine-tune, 90 MB less at the peak).
pub fn load_module(path: &Path, module: &mut dyn Module) -> Result<(), CoreError> {
    let bytes =
        std::fs::read(path).map_err(|source| CoreError::Io { path: path.into(), source })?;
    let bad = |message: String| CoreError::Safetensors { path: path.into(), message };
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut stored: BTreeMap<String, Entry> = BTreeMap::new();
    let mut scales = BTreeMap::new();
    let mut int8 = BTreeMap::new();
    let mut pq_codes = BTreeMap::new();
    let mut pq_centroids = BTreeMap::new();
    for (name, view) in st.tensors() {
        match view.dtype() {
            Dtype::F32 => {
                match (name.strip_suffix(SCALES_SUFFIX), name.strip_suffix(PQ_CENTROIDS_SUFFIX)) {
                    (Some(base), _) if st.tensor(base).is_ok_and(|v| v.dtype() == Dtype::I8) => {
                        scales.insert(base.to_string(), f32_values(view.data()));
                    }
                    (_, Some(base)) => {
                        let data = f32_values(view.data());
                        let t =
                            Tensor::from_vec(data, view.shape()).map_err(|e| bad(e.to_string()))?;
                        pq_centroids.insert(base.to_string(), t);
                    }
                    _ => {
                        if view.data().len() != 4 * view.shape().iter().product::<usize>() {
                            return Err(bad(format!("{name}: data does not fill its shape")));
                        }
                        stored.insert(name, Entry::Dense(view));
                    }
                }
            }
            Dtype::I8 => {
                let codes: Vec<i8> = view.data().iter().map(|&b| b as i8).collect();
                int8.insert(name, (view.shape().to_vec(), codes));
            }
            Dtype::U8 => match name.strip_suffix(PQ_CODES_SUFFIX) {
                Some(base) => {
                    pq_codes
                        .insert(base.to_string(), (view.shape().to_vec(), view.data().to_vec()));
                }
                None => return Err(bad(format!("byte tensor {name} is not a set of codes"))),
            },
            other => {
                return Err(CoreError::UnsupportedDtype {
                    path: path.into(),
                    name,
                    dtype: format!("{other:?}"),
                })
            }
        }
    }
    for (name, (shape, codes)) in int8 {
        let [rows, cols] = shape[..] else {
            return Err(bad(format!("int8 tensor {name} has shape {shape:?}, not a matrix")));
        };
        let s = scales
            .remove(&name)
            .ok_or_else(|| bad(format!("int8 tensor {name} has no {name}{SCALES_SUFFIX}")))?;
        let q =
            Int8Rows::from_parts(rows, cols, codes, s).map_err(|e| bad(format!("{name}: {e}")))?;
        stored.insert(name, Entry::Int8(Arc::new(q)));
    }
    let file_metadata = st_metadata(&bytes);
    for (name, (shape, codes)) in pq_codes {
        let centroids = pq_centroids
            .remove(&name)
            .ok_or_else(|| bad(format!("{name}{PQ_CODES_SUFFIX} has no codebooks")))?;
        let dsub = file_metadata
            .get(&format!("{name}{PQ_DSUB_SUFFIX}"))
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or_else(|| bad(format!("{name}: no subspace width {name}{PQ_DSUB_SUFFIX}")))?;
        let (&[rows, _], &[ksub, dim]) = (&shape[..], centroids.shape()) else {
            return Err(bad(format!("{name}: codes or codebooks are not matrices")));
        };
        let table = ProductQuantizer::from_parts(dim, dsub, ksub, centroids.into_vec())
            .and_then(|pq| PqTable::from_parts(rows, pq, codes))
            .map_err(|e| bad(format!("{name}: {e}")))?;
        stored.insert(name, Entry::Pq(Arc::new(table)));
    }
    if let Some(name) = pq_centroids.keys().next() {
        return Err(bad(format!("{name}{PQ_CENTROIDS_SUFFIX} has no codes")));
    }
    check_names_and_shapes(path, module, stored.iter().map(|(n, s)| (n.as_str(), s.shape())))?;
    module.visit_mut(&mut |p| {
        let Some(entry) = stored.remove(&p.name) else { return };
        let shape = p.value.shape().to_vec();
        // Free the old value before the new one is made.
        p.value = Tensor::default();
        p.value = match &entry {
            Entry::Dense(view) => {
                Tensor::from_vec(f32_values(view.data()), &shape).expect("length checked above")
            }
            Entry::Int8(q) => q.dequantize(),
            Entry::Pq(t) => t.dequantize(),
        };
        p.value_changed();
        match entry {
            Entry::Dense(_) => {}
            Entry::Int8(q) => p.storage = Storage::Int8(q),
            Entry::Pq(t) => p.storage = Storage::Pq(t),
        }
    });
    Ok(())
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

    /// An int8 parameter is written as codes and scales and read back with its storage; the
    /// file is about a quarter of the float one.
    #[test]
    fn int8_parameters_round_trip() {
        let dir = std::env::temp_dir().join(format!("thresh-io8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (f, q) = (dir.join("f.safetensors"), dir.join("q.safetensors"));
        let mut a = Linear::new("l", 64, 32, true, &mut Rng::new(1));
        save_module(&f, &a).unwrap();
        a.weight.quantize_int8().unwrap();
        save_module(&q, &a).unwrap();
        let mut b = Linear::new("l", 64, 32, true, &mut Rng::new(2));
        load_module(&q, &mut b).unwrap();
        assert_eq!(a.weight.value, b.weight.value);
        assert_eq!(a.weight.storage, b.weight.storage);
        assert_eq!(a.bias.as_ref().unwrap().value, b.bias.as_ref().unwrap().value);
        assert!(b.bias.as_ref().unwrap().storage == crate::param::Storage::Dense);
        let (fs, qs) = (std::fs::metadata(&f).unwrap().len(), std::fs::metadata(&q).unwrap().len());
        assert!(qs * 3 < fs, "int8 file {qs} bytes vs float {fs}");
        let x = crate::gradcheck::random_tensor(&[5, 64], &mut Rng::new(3));
        let (ya, yb) = (a.forward(&x).clone(), b.forward(&x).clone());
        assert_eq!(ya, yb);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
