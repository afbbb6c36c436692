//! The training loop of image classifiers (`--model cnn`): the same epochs, Keras lines,
//! validation, early stopping, checkpoints and model directory as for texts, over image
//! batches.

use super::checkpoint::{self, LoopState, CHECKPOINT_FILE};
use super::events::{EpochRecord, Observer, RunSummary, TrainEvent};
use super::options::{ClassWeights, TrainOptions};
use super::trainer::{
    balanced_weights, finish_run, remove_stale, restore, snapshot, write_json, write_run_record,
    TrainOutcome,
};
use crate::data::stratified_split;
use crate::error::Error;
use crate::eval::Report;
use crate::images::{is_idx_dir, read_image_dir, ImageSet, ImageSplit};
use crate::infer::{argmax, loss_and_accuracy};
use crate::model::{self, ImageModel, ModelConfig, PixelScale};
use crate::run_record::{sha256_file, DataFile};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use thresh_core::layers::CrossEntropy;
use thresh_core::models::{CnnClassifier, CnnConfig};
use thresh_core::optim::{clip_grad_norm, AdamW};
use thresh_core::rng::{mix64, Rng};
use thresh_core::{Module, Tensor};

/// Images per inference batch.
const IMAGE_INFER_BATCH: usize = 256;

/// Class probabilities of the images of `set` at `indices`, row-major `[len, classes]`.
pub fn image_probabilities(
    network: &mut CnnClassifier,
    set: &ImageSet,
    indices: &[usize],
    scale: PixelScale,
) -> Result<Vec<f32>, Error> {
    let classes = network.config().classes;
    let mut probs = Vec::with_capacity(indices.len() * classes);
    for chunk in indices.chunks(IMAGE_INFER_BATCH) {
        let x = set.batch(chunk, scale.mean, scale.std);
        let logits = network.forward(&x, false)?;
        for r in 0..chunk.len() {
            let row = logits.row(r);
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let z: f64 = row.iter().map(|&v| f64::from(v - max).exp()).sum();
            probs.extend(row.iter().map(|&v| (f64::from(v - max).exp() / z) as f32));
        }
    }
    Ok(probs)
}

/// Scores the images of `set` with `model`: the full report with the mean cross-entropy.
pub fn evaluate_images(model: &mut ImageModel, set: &ImageSet) -> Result<Report, Error> {
    let scale = model.config.pixels.unwrap_or(PixelScale { mean: 0.0, std: 1.0 });
    let all: Vec<usize> = (0..set.len()).collect();
    let probs = image_probabilities(&mut model.network, set, &all, scale)?;
    let classes = model.config.labels.len();
    let predicted: Vec<usize> = probs.chunks_exact(classes).map(argmax).collect();
    let ids = class_ids(set, &model.config.labels);
    let (loss, _) = loss_and_accuracy(&probs, &ids, classes);
    Ok(crate::eval::evaluate(&model.config.labels, &set.labels, &predicted)?.with_loss(loss))
}

/// Predictions for the image files at `paths` (decoded and resized to the model's input),
/// with the `top_k` best labels each. A file that cannot be decoded is an error naming it.
pub fn predict_image_files(
    model: &mut ImageModel,
    paths: &[std::path::PathBuf],
    top_k: usize,
) -> Result<Vec<crate::predict::Prediction>, Error> {
    let arch = model.network.config().clone();
    if arch.height != arch.width {
        return Err(Error::InvalidOption {
            flag: "MODEL",
            message: format!(
                "the model takes {}×{} images; files are resized to squares",
                arch.height, arch.width
            ),
        });
    }
    let mut set = ImageSet {
        channels: arch.channels,
        height: arch.height,
        width: arch.width,
        ..ImageSet::default()
    };
    for path in paths {
        set.pixels.extend(crate::images::decode_image(path, arch.height, arch.channels)?);
        set.labels.push(String::new());
    }
    let scale = model.config.pixels.unwrap_or(PixelScale { mean: 0.0, std: 1.0 });
    let all: Vec<usize> = (0..set.len()).collect();
    let probs = image_probabilities(&mut model.network, &set, &all, scale)?;
    let classes = model.config.labels.len();
    Ok(probs
        .chunks_exact(classes)
        .map(|row| {
            crate::predict::Prediction::from_probabilities(row, &model.config.labels, top_k, None)
        })
        .collect())
}

fn class_ids(set: &ImageSet, labels: &[String]) -> Vec<Option<usize>> {
    let index: BTreeMap<&str, usize> =
        labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    set.labels.iter().map(|l| index.get(l.as_str()).copied()).collect()
}

/// Shifts each image of `x` by a random offset within `pad` pixels (filling with `fill`, the
/// value of a black pixel) and mirrors it left to right with probability one half when
/// `flip`; draws come from the seed and the step, so a resumed run repeats them.
fn augment(x: &mut Tensor, pad: usize, flip: bool, fill: f32, seed: u64, step: u64) {
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let mut rng = Rng::new(mix64(seed ^ 0xA06_0000_0000 ^ step));
    let mut plane = vec![0.0f32; h * w];
    for img in 0..n {
        let span = 2 * pad as u64 + 1;
        let dy = (rng.next_u64() % span) as isize - pad as isize;
        let dx = (rng.next_u64() % span) as isize - pad as isize;
        let mirror = flip && rng.next_u64() & 1 == 1;
        for ch in 0..c {
            let start = (img * c + ch) * h * w;
            let src = &mut x.data_mut()[start..start + h * w];
            plane.copy_from_slice(src);
            for y in 0..h {
                for xx in 0..w {
                    let sy = y as isize + dy;
                    let sx0 = if mirror { w - 1 - xx } else { xx };
                    let sx = sx0 as isize + dx;
                    src[y * w + xx] =
                        if (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx) {
                            plane[sy as usize * w + sx as usize]
                        } else {
                            fill
                        };
                }
            }
        }
    }
}

/// The training images, their validation share, the test images and the files read.
struct ImageData {
    train: ImageSet,
    train_idx: Vec<usize>,
    valid: ImageSet,
    valid_idx: Vec<usize>,
    test: Option<ImageSet>,
    labels: Vec<String>,
    files: BTreeMap<String, DataFile>,
}

/// Records the IDX files of a directory (folder trees are not fingerprinted).
fn record_files(
    dir: &Path,
    role: &str,
    files: &mut BTreeMap<String, DataFile>,
) -> Result<(), Error> {
    if !is_idx_dir(dir) {
        return Ok(());
    }
    let prefix = if role == "test" { "t10k-" } else { "train-" };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|source| Error::Io { path: dir.to_path_buf(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix)))
        .collect();
    entries.sort();
    for (i, path) in entries.into_iter().enumerate() {
        let sha256 = sha256_file(&path)?;
        files.insert(format!("{role}.{i}"), DataFile { path, sha256 });
    }
    Ok(())
}

fn report_skips(set: &ImageSet, observer: &mut dyn Observer) {
    if set.skipped.0 > 0 {
        let file = set.source.display().to_string();
        observer.on_event(&TrainEvent::Skipped {
            file: &file,
            count: set.skipped.0,
            first_lines: vec![],
        });
    }
}

fn read_data(options: &TrainOptions, observer: &mut dyn Observer) -> Result<ImageData, Error> {
    let (size, skip) = (options.image_size, options.skip_bad_rows);
    let train = read_image_dir(&options.train, ImageSplit::Train, size, skip)?;
    report_skips(&train, observer);
    let mut files = BTreeMap::new();
    record_files(&options.train, "train", &mut files)?;
    let labels = match &options.init {
        Some(dir) => model::load_config(dir)?.labels,
        None => train.label_set(),
    };
    if labels.len() < 2 {
        return Err(Error::InvalidData {
            path: options.train.clone(),
            line: 0,
            message: format!(
                "{} class among the images; a classifier needs at least 2",
                labels.len()
            ),
        });
    }
    let same_size = |set: &ImageSet, what: &Path| -> Result<(), Error> {
        if (set.channels, set.height, set.width) != (train.channels, train.height, train.width) {
            return Err(Error::InvalidData {
                path: what.to_path_buf(),
                line: 0,
                message: format!(
                    "images of {}×{}×{}, but the training images are {}×{}×{}",
                    set.channels, set.height, set.width, train.channels, train.height, train.width
                ),
            });
        }
        Ok(())
    };
    let (train_idx, valid, valid_idx) = match &options.valid {
        Some(dir) => {
            let valid = read_image_dir(dir, ImageSplit::Train, size, skip)?;
            report_skips(&valid, observer);
            same_size(&valid, dir)?;
            record_files(dir, "valid", &mut files)?;
            let idx = (0..valid.len()).collect();
            ((0..train.len()).collect(), valid, idx)
        }
        None => {
            let ids: Vec<usize> =
                class_ids(&train, &labels).into_iter().map(|c| c.unwrap_or(0)).collect();
            let (t, v) = stratified_split(&ids, options.valid_fraction, options.seed)?;
            (t, ImageSet::default(), v)
        }
    };
    // An IDX directory carries its own test split.
    let test_dir = match &options.test {
        Some(dir) => Some(dir.clone()),
        None if is_idx_dir(&options.train) => Some(options.train.clone()),
        None => None,
    };
    let test = match test_dir {
        Some(dir) => {
            let set = read_image_dir(&dir, ImageSplit::Test, size, skip)?;
            report_skips(&set, observer);
            same_size(&set, &dir)?;
            record_files(&dir, "test", &mut files)?;
            Some(set)
        }
        None => None,
    };
    Ok(ImageData { train, train_idx, valid, valid_idx, test, labels, files })
}

pub(super) fn run_images(
    options: &TrainOptions,
    command: &[String],
    resume_dir: Option<&Path>,
    thread_count: usize,
    observer: &mut dyn Observer,
) -> Result<TrainOutcome, Error> {
    let out = options.out.clone();
    let data = read_data(options, observer)?;
    let classes = data.labels.len();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    if resume_dir.is_none() {
        remove_stale(&out)?;
    }
    let (mut network, config) = match &options.init {
        Some(dir) => {
            let loaded = model::load_image_model(dir)?;
            (loaded.network, loaded.config)
        }
        None => {
            let (c, h, w) = (data.train.channels, data.train.height, data.train.width);
            let arch = CnnConfig::small(c, h, w, classes);
            let (mean, std) = data.train.pixel_stats();
            let config =
                ModelConfig::cnn(arch.clone(), data.labels.clone(), PixelScale { mean, std });
            (CnnClassifier::new(arch, options.seed)?, config)
        }
    };
    let scale = config.pixels.unwrap_or(PixelScale { mean: 0.0, std: 1.0 });
    let (valid_set, valid_idx) = if options.valid.is_some() {
        (&data.valid, &data.valid_idx)
    } else {
        (&data.train, &data.valid_idx)
    };
    let summary = RunSummary {
        train: data.train_idx.len(),
        valid: valid_idx.len(),
        test: data.test.as_ref().map_or(0, ImageSet::len),
        classes,
        tokenizer: format!(
            "images {}×{}×{}",
            data.train.channels, data.train.height, data.train.width
        ),
        vocab: 0,
        max_length: 0,
        params: network.num_params(),
        threads: thread_count,
    };
    observer.on_event(&TrainEvent::Ready(&summary));
    if resume_dir.is_none() {
        write_json(&out.join(model::CONFIG_FILE), &config)?;
        write_run_record(&out, options, command, thread_count, &data.files)?;
    }

    let train_ids: Vec<Option<usize>> = class_ids(&data.train, &data.labels);
    let valid_ids: Vec<Option<usize>> = {
        let all = class_ids(valid_set, &data.labels);
        valid_idx.iter().map(|&i| all[i]).collect()
    };
    let class_weights = match options.class_weights {
        ClassWeights::None => None,
        ClassWeights::Balanced => {
            let picked: Vec<Option<usize>> = data.train_idx.iter().map(|&i| train_ids[i]).collect();
            Some(balanced_weights(&picked, classes))
        }
    };
    let mut loss_fn = CrossEntropy::new()
        .with_class_weights(class_weights)
        .with_label_smoothing(options.label_smoothing);
    let mut optimizer = AdamW::new(options.weight_decay);
    // Batch-norm gains and shifts are not decayed, as usual.
    network.visit_mut(&mut |p| p.decay = !(p.name.ends_with(".bias") || p.name.contains("norm")));
    let epochs = options.epochs();
    let steps_per_epoch = data.train_idx.len().div_ceil(options.batch_size);
    let schedule = options.lr_schedule((steps_per_epoch * epochs) as u64);
    let mut state = LoopState {
        epochs_done: 0,
        global_step: 0,
        history: Vec::new(),
        best_epoch: None,
        best_val_loss: None,
        since_best: 0,
        stopped: false,
    };
    let mut best: Option<Vec<Tensor>> = None;
    let checkpoint_path = out.join(CHECKPOINT_FILE);
    if resume_dir.is_some() && checkpoint_path.exists() {
        let ckpt = checkpoint::load(&checkpoint_path, &network)?;
        checkpoint::apply_weights(&mut network, &ckpt.model);
        best = ckpt.best.map(|m| checkpoint::in_order(&network, &m));
        optimizer.restore(ckpt.adam.0, ckpt.adam.1);
        state = ckpt.state;
        observer.on_event(&TrainEvent::Resumed { epochs_done: state.epochs_done });
    }
    let fill = (0.0 - scale.mean) / scale.std;
    let mut labels_buf = Vec::with_capacity(options.batch_size);
    while state.epochs_done < epochs && !state.stopped {
        let epoch = state.epochs_done + 1;
        let started = Instant::now();
        let mut order = data.train_idx.clone();
        Rng::new(mix64(options.seed ^ (0x1A6E_0000 + epoch as u64))).shuffle(&mut order);
        let batches: Vec<&[usize]> = order.chunks(options.batch_size).collect();
        observer.on_event(&TrainEvent::EpochStart { epoch, epochs, steps: batches.len() });
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut lr = 0.0f32;
        for (step, batch) in batches.iter().enumerate() {
            let mut x = data.train.batch(batch, scale.mean, scale.std);
            if options.crop_padding > 0 || options.flip {
                augment(
                    &mut x,
                    options.crop_padding,
                    options.flip,
                    fill,
                    options.seed,
                    state.global_step,
                );
            }
            labels_buf.clear();
            labels_buf.extend(batch.iter().map(|&i| train_ids[i].unwrap_or(0)));
            network.zero_grad();
            network.set_stream(state.global_step);
            let logits = network.forward(&x, true)?;
            for (r, &y) in labels_buf.iter().enumerate() {
                correct += usize::from(argmax(logits.row(r)) == y);
            }
            let loss = loss_fn.forward(logits, &labels_buf)?;
            network.backward(loss_fn.grad());
            if options.clip_norm > 0.0 {
                clip_grad_norm(&mut network, options.clip_norm);
            }
            lr = options.learning_rate() * schedule.factor(state.global_step);
            optimizer.step(&mut network, lr);
            state.global_step += 1;
            loss_sum += f64::from(loss) * batch.len() as f64;
            seen += batch.len();
            observer.on_event(&TrainEvent::Step {
                step: step + 1,
                steps: batches.len(),
                loss: loss_sum / seen as f64,
                accuracy: correct as f64 / seen as f64,
                elapsed: started.elapsed(),
            });
        }
        let (val_loss, val_accuracy) = if valid_idx.is_empty() {
            (None, None)
        } else {
            let probs = image_probabilities(&mut network, valid_set, valid_idx, scale)?;
            let (l, a) = loss_and_accuracy(&probs, &valid_ids, classes);
            (Some(l), Some(a))
        };
        let record = EpochRecord {
            epoch,
            loss: loss_sum / seen.max(1) as f64,
            accuracy: correct as f64 / seen.max(1) as f64,
            val_loss,
            val_accuracy,
            lr: f64::from(lr),
        };
        if state.note_validation(epoch, val_loss, options.patience) {
            best = Some(snapshot(&network));
        }
        state.epochs_done = epoch;
        state.history.push(record.clone());
        observer.on_event(&TrainEvent::EpochEnd {
            record: &record,
            steps: batches.len(),
            elapsed: started.elapsed(),
        });
        if state.stopped {
            observer.on_event(&TrainEvent::EarlyStop {
                epoch,
                best_epoch: state.best_epoch.unwrap_or(epoch),
            });
        }
        state.check_deadline(options.deadline);
        checkpoint::save(&checkpoint_path, &state, &network, best.as_deref(), None, &optimizer)?;
        if state.at_pause(options.pause_after, epochs) {
            return Ok(super::trainer::paused_outcome(out, summary, state));
        }
    }
    if let Some(values) = &best {
        restore(&mut network, values);
    }
    let mut model = ImageModel { config, network };
    let test = match &data.test {
        Some(set) => Some(evaluate_images(&mut model, set)?),
        None => None,
    };
    finish_run(out, summary, state, test, |dir| Ok(model::save_image_model(dir, &model)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn augmentation_shifts_and_mirrors_within_bounds() {
        let data: Vec<f32> = (0..2 * 4 * 4).map(|v| v as f32 + 1.0).collect();
        let base = Tensor::from_vec(data, &[2, 1, 4, 4]).unwrap();
        let mut x = base.clone();
        augment(&mut x, 0, true, 0.0, 1, 0);
        // Without padding, each image is itself or its mirror.
        for img in 0..2 {
            let (a, b) =
                (&x.data()[img * 16..(img + 1) * 16], &base.data()[img * 16..(img + 1) * 16]);
            let mirrored: Vec<f32> = b.chunks(4).flat_map(|r| r.iter().rev().copied()).collect();
            assert!(a == b || a == &mirrored[..], "{a:?}");
        }
        let mut y = base.clone();
        augment(&mut y, 1, false, -9.0, 1, 0);
        let mut z = base.clone();
        augment(&mut z, 1, false, -9.0, 1, 0);
        assert_eq!(y.data(), z.data(), "same seed and step, same crops");
        // Every value is an original pixel or the fill.
        assert!(y.data().iter().all(|&v| v == -9.0 || (1.0..=32.0).contains(&v)));
    }
}
