//! Random search with successive halving under a time budget.
//!
//! Trial `i` draws its options from the space with a generator seeded from the search seed
//! and `i`, so a search repeats and a resumed one draws the same trials. Every trial first
//! trains for the epochs of the lowest rung; the best third (by best validation accuracy so
//! far) continue to the next rung, three times as long, from their checkpoints, and so on up
//! to the full number of epochs. The learning-rate schedule of every trial spans the full
//! number of epochs, so a promoted trial continues exactly as an uninterrupted run. When the
//! budget runs out, the running trial finishes at the end of its epoch (as early stopping
//! would end it) and no other starts.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use thresh_core::rng::{mix64, Rng};

use super::space::{sample, Space};
use crate::error::Error;
use crate::train::{resume_with, train, Observer, Silent, TrainEvent, TrainOptions};

/// File of the finished trials in the search directory, one JSON object per line.
pub const TRIALS_FILE: &str = "trials.jsonl";
/// The winner's model directory inside the search directory.
pub const BEST_DIR: &str = "best";

/// How a search runs.
#[derive(Clone, Debug)]
pub struct TuneOptions {
    /// The options every trial starts from (data files, model family, epochs...).
    pub base: TrainOptions,
    /// What to draw.
    pub space: Space,
    /// How many trials to draw.
    pub trials: usize,
    /// Wall-clock budget of the whole search.
    pub budget: Duration,
    /// The search directory.
    pub out: PathBuf,
    /// Seed of the draws; every trial trains with the base options' seed, so trials differ
    /// only by the options drawn.
    pub seed: u64,
}

/// One finished trial, as a line of `trials.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Trial number.
    pub trial: usize,
    /// The options drawn.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Epochs trained.
    pub epochs: usize,
    /// Best validation accuracy over its epochs.
    pub best_val_accuracy: f64,
    /// Best validation loss over its epochs.
    pub best_val_loss: f64,
    /// Validation accuracy at the end of each rung it reached.
    pub rungs: Vec<f64>,
    /// Training seconds.
    pub seconds: f64,
    /// `complete` (all epochs or early stopping), `pruned` (stopped at a rung) or `budget`
    /// (finished early when the budget ran out).
    pub status: String,
}

/// What a search found.
#[derive(Clone, Debug)]
pub struct TuneOutcome {
    /// Every finished trial, best first.
    pub ranked: Vec<TrialRecord>,
    /// The trial whose model is in `best/`, if any trial finished with a model.
    pub best: Option<usize>,
    /// Seconds the search took (this run of it).
    pub seconds: f64,
}

/// The epochs of each rung: the full count divided by 3, 9, ... down to at least one epoch.
pub fn rungs(epochs: usize) -> Vec<usize> {
    let mut r = vec![epochs.max(1)];
    while let Some(&last) = r.last() {
        let next = last.div_ceil(3);
        if next >= last || r.len() >= 3 {
            break;
        }
        r.push(next);
    }
    r.reverse();
    r.dedup();
    r
}

/// `base` with the drawn values set, through the same names as `--config` files.
fn apply(
    base: &TrainOptions,
    params: &BTreeMap<String, toml::Value>,
) -> Result<TrainOptions, Error> {
    let mut table = toml::Value::try_from(base)
        .map_err(|e| Error::InvalidOption { flag: "--space", message: e.to_string() })?;
    for (name, value) in params {
        let mut at = &mut table;
        let parts: Vec<&str> = name.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            at = at.as_table_mut().and_then(|t| t.get_mut(*part)).ok_or_else(|| {
                Error::InvalidOption {
                    flag: "--space",
                    message: format!("`{name}` is not an option"),
                }
            })?;
        }
        let table = at.as_table_mut().ok_or_else(|| Error::InvalidOption {
            flag: "--space",
            message: format!("`{name}` is not an option"),
        })?;
        table.insert(parts[parts.len() - 1].to_string(), value.clone());
    }
    let mut options: TrainOptions = table.try_into().map_err(|e: toml::de::Error| {
        Error::InvalidOption { flag: "--space", message: e.message().to_string() }
    })?;
    options.deadline = base.deadline;
    options.validate()?;
    Ok(options)
}

fn best_of(history: &[crate::train::EpochRecord]) -> (f64, f64) {
    let acc = history.iter().filter_map(|r| r.val_accuracy).fold(0.0, f64::max);
    let loss = history.iter().filter_map(|r| r.val_loss).fold(f64::INFINITY, f64::min);
    (acc, loss)
}

fn read_records(path: &Path) -> Result<Vec<TrialRecord>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { path: path.into(), source }),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::InvalidData {
                path: path.into(),
                line: i + 1,
                message: format!("not a trial record: {e}"),
            })
        })
        .collect()
}

fn append_record(path: &Path, record: &TrialRecord) -> Result<(), Error> {
    let io = |source| Error::Io { path: path.into(), source };
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
    let line = serde_json::to_string(record).unwrap_or_default();
    writeln!(f, "{line}").map_err(io)?;
    f.sync_all().map_err(io)
}

/// A trial in progress.
struct Live {
    trial: usize,
    params: BTreeMap<String, toml::Value>,
    dir: PathBuf,
    seconds: f64,
    rungs: Vec<f64>,
    epochs: usize,
    history: Vec<crate::train::EpochRecord>,
    done: bool,
}

/// Runs the search, reporting each trial's rungs to `observer` as [`TrainEvent::Trial`].
pub fn tune(options: &TuneOptions, observer: &mut dyn Observer) -> Result<TuneOutcome, Error> {
    if options.trials == 0 {
        return Err(Error::InvalidOption {
            flag: "--trials",
            message: "must be at least 1".into(),
        });
    }
    let started = Instant::now();
    let deadline = started + options.budget;
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    std::fs::create_dir_all(&options.out).map_err(io(&options.out))?;
    let records_path = options.out.join(TRIALS_FILE);
    let mut finished = read_records(&records_path)?;
    let done: Vec<usize> = finished.iter().map(|r| r.trial).collect();
    let mut base = options.base.clone();
    base.deadline = Some(deadline);
    let epochs = base.epochs();
    let rung_epochs = rungs(epochs);
    let mut live: Vec<Live> = Vec::new();
    for trial in 0..options.trials {
        let mut rng = Rng::new(mix64(options.seed ^ (0x7E_0000 + trial as u64)));
        let params = sample(&options.space, &mut rng);
        apply(&base, &params)?;
        if done.contains(&trial) {
            continue;
        }
        let dir = options.out.join("trials").join(format!("{trial:03}"));
        // An unfinished trial of an interrupted search starts over.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        live.push(Live {
            trial,
            params,
            dir,
            seconds: 0.0,
            rungs: Vec::new(),
            epochs: 0,
            history: Vec::new(),
            done: false,
        });
    }
    let mut out_of_time = false;
    for (k, &rung) in rung_epochs.iter().enumerate() {
        let last_rung = k + 1 == rung_epochs.len();
        for t in live.iter_mut().filter(|t| !t.done) {
            if Instant::now() >= deadline {
                out_of_time = true;
                break;
            }
            let t0 = Instant::now();
            let pause = (!last_rung).then_some(rung);
            let outcome = if t.epochs == 0 {
                let mut o = apply(&base, &t.params)?;
                o.out = t.dir.clone();
                o.pause_after = pause;
                train(&o, &["thresh".into(), "tune".into()], &mut Silent)?
            } else {
                resume_with(&t.dir, &mut Silent, |o| {
                    o.pause_after = pause;
                    o.deadline = Some(deadline);
                })?
            };
            t.seconds += t0.elapsed().as_secs_f64();
            t.epochs = outcome.history.len();
            t.history = outcome.history;
            t.done = !outcome.paused;
            t.rungs.push(best_of(&t.history).0);
            observer.on_event(&TrainEvent::Trial {
                trial: t.trial,
                epochs: t.epochs,
                val_accuracy: best_of(&t.history).0,
                finished: t.done,
                elapsed: Duration::from_secs_f64(t.seconds),
            });
        }
        if out_of_time || last_rung {
            break;
        }
        // Keep the best third of the trials still running; the others are pruned.
        let mut running: Vec<usize> =
            (0..live.len()).filter(|&i| !live[i].done && live[i].epochs > 0).collect();
        running.sort_by(|&a, &b| {
            let (x, y) = (best_of(&live[a].history).0, best_of(&live[b].history).0);
            y.total_cmp(&x).then(live[a].trial.cmp(&live[b].trial))
        });
        let keep = running.len().div_ceil(3);
        for &i in &running[keep..] {
            live[i].done = true;
            let t = &live[i];
            let record = record_of(t, "pruned");
            append_record(&records_path, &record)?;
            finished.push(record);
        }
    }
    for t in live.iter().filter(|t| t.epochs > 0) {
        if finished.iter().any(|r| r.trial == t.trial) {
            continue;
        }
        if !t.done {
            // Paused at a rung when the budget ran out: it has a checkpoint but no model.
            let record = record_of(t, "pruned");
            append_record(&records_path, &record)?;
            finished.push(record);
            continue;
        }
        let status = if out_of_time && t.epochs < epochs { "budget" } else { "complete" };
        let record = record_of(t, status);
        append_record(&records_path, &record)?;
        finished.push(record);
    }
    finished.sort_by(|a, b| {
        b.best_val_accuracy.total_cmp(&a.best_val_accuracy).then(a.trial.cmp(&b.trial))
    });
    let best = finished
        .iter()
        .find(|r| r.status != "pruned")
        .map(|r| r.trial)
        .filter(|&t| trial_dir(&options.out, t).join(crate::model::WEIGHTS_FILE).exists());
    if let Some(t) = best {
        copy_dir(&trial_dir(&options.out, t), &options.out.join(BEST_DIR))?;
    }
    Ok(TuneOutcome { ranked: finished, best, seconds: started.elapsed().as_secs_f64() })
}

fn trial_dir(out: &Path, trial: usize) -> PathBuf {
    out.join("trials").join(format!("{trial:03}"))
}

fn record_of(t: &Live, status: &str) -> TrialRecord {
    let (acc, loss) = best_of(&t.history);
    TrialRecord {
        trial: t.trial,
        params: t
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(serde_json::Value::Null)))
            .collect(),
        epochs: t.epochs,
        best_val_accuracy: acc,
        best_val_loss: loss,
        rungs: t.rungs.clone(),
        seconds: t.seconds,
        status: status.into(),
    }
}

/// Copies the files of `from` into a fresh directory `to`.
fn copy_dir(from: &Path, to: &Path) -> Result<(), Error> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(io(to))?;
    }
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let path = entry.map_err(io(from))?.path();
        if path.is_file() {
            let dest = to.join(path.file_name().unwrap_or_default());
            std::fs::copy(&path, &dest).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// The ranked table of trials: rank, trial, best validation accuracy and loss, epochs,
/// seconds, status and the options drawn.
pub fn render_table(ranked: &[TrialRecord]) -> String {
    let mut out =
        String::from("rank  trial  val_accuracy  val_loss  epochs  seconds  status    params\n");
    for (i, r) in ranked.iter().enumerate() {
        let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(
            "{:>4}  {:>5}  {:>12.4}  {:>8.4}  {:>6}  {:>7.1}  {:<8}  {}\n",
            i + 1,
            r.trial,
            r.best_val_accuracy,
            r.best_val_loss,
            r.epochs,
            r.seconds,
            r.status,
            params.join(" ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_divide_by_three() {
        assert_eq!(rungs(10), [2, 4, 10]);
        assert_eq!(rungs(9), [1, 3, 9]);
        assert_eq!(rungs(3), [1, 3]);
        assert_eq!(rungs(1), [1]);
    }

    #[test]
    fn drawn_values_reach_the_options_and_bad_names_are_refused() {
        let base =
            TrainOptions { train: "t.tsv".into(), out: "m".into(), ..TrainOptions::default() };
        let mut params = BTreeMap::new();
        params.insert("lr".to_string(), toml::Value::Float(0.002));
        params.insert("layers".to_string(), toml::Value::Integer(3));
        params.insert("tokenizer.word_ngrams".to_string(), toml::Value::Integer(1));
        let o = apply(&base, &params).unwrap();
        assert_eq!((o.lr, o.layers, o.tokenizer.word_ngrams), (Some(0.002), 3, 1));
        params.insert("layerz".to_string(), toml::Value::Integer(3));
        let err = apply(&base, &params).unwrap_err().to_string();
        assert!(err.contains("layerz"), "{err}");
    }
}
