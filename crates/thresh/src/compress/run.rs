//! `thresh compress`: prune, fine-tune, quantise, measure.

use super::measure::{measure, Measurement};
use super::prune::{prune_network, PruneOptions};
use super::quantize::{quantize_network, QuantizeKind};
use crate::error::Error;
use crate::model::{self, Compression, ModelKind, Network};
use crate::run_record::{RunRecord, RUN_FILE};
use crate::train::{self, Observer, TrainOptions, HISTORY_FILE, METRICS_FILE};
use std::path::{Path, PathBuf};

/// The report written beside a compressed model.
pub const COMPRESSION_FILE: &str = "compression.json";

/// What `thresh compress` does.
#[derive(Clone, Debug)]
pub struct CompressOptions {
    /// The trained model directory to compress.
    pub model: PathBuf,
    /// Where the compressed model goes.
    pub out: PathBuf,
    /// Quantisation, if any.
    pub quantize: Option<QuantizeKind>,
    /// Pruning, if any.
    pub prune: Option<PruneOptions>,
    /// Epochs of fine-tuning after pruning (0: none).
    pub finetune_epochs: usize,
    /// Training data for fine-tuning.
    pub train: Option<PathBuf>,
    /// Validation data for fine-tuning (default: the split the training options make).
    pub valid: Option<PathBuf>,
    /// Labeled data to score both models on.
    pub eval: Option<PathBuf>,
    /// Columns per product-quantisation subspace.
    pub pq_dsub: usize,
    /// Centroids per product-quantisation subspace (2 to 256).
    pub pq_centroids: usize,
    /// Worker threads (0: all cores).
    pub threads: usize,
    /// Seed of fine-tuning and of k-means; default: the model's training seed.
    pub seed: Option<u64>,
    /// Skip the speed measurements (sizes and accuracy are still reported).
    pub skip_speed: bool,
}

impl Default for CompressOptions {
    fn default() -> Self {
        CompressOptions {
            model: PathBuf::new(),
            out: PathBuf::new(),
            quantize: None,
            prune: None,
            finetune_epochs: 0,
            train: None,
            valid: None,
            eval: None,
            pq_dsub: 4,
            pq_centroids: 256,
            threads: 0,
            seed: None,
            skip_speed: false,
        }
    }
}

/// Before and after.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompressReport {
    /// The source model.
    pub before: Measurement,
    /// The compressed model.
    pub after: Measurement,
    /// What was done, in order.
    pub steps: Vec<String>,
    /// The compressed model's directory.
    pub out: PathBuf,
}

fn invalid(flag: &'static str, message: impl Into<String>) -> Error {
    Error::InvalidOption { flag, message: message.into() }
}

fn copy_if_present(from: &Path, to: &Path) -> Result<(), Error> {
    if from.is_file() {
        std::fs::copy(from, to).map_err(|source| Error::Io { path: to.to_path_buf(), source })?;
    }
    Ok(())
}

fn check(options: &CompressOptions, config: &model::ModelConfig) -> Result<(), Error> {
    if config.model == ModelKind::Cnn {
        return Err(invalid("MODEL", "compress handles text models (transformer, bert, bag)"));
    }
    if let Some(c) = config.compression.as_ref().and_then(|c| c.quantize.as_ref()) {
        return Err(invalid(
            "MODEL",
            format!(
                "{} is already quantised ({c}); compress the model it was made from",
                options.model.display()
            ),
        ));
    }
    if options.quantize.is_none() && options.prune.is_none() {
        return Err(invalid("--quantize", "nothing to do: give --quantize and/or --prune"));
    }
    let bag = config.model == ModelKind::Bag;
    if options.quantize == Some(QuantizeKind::Pq) {
        if !bag {
            return Err(invalid(
                "--quantize",
                "pq applies to bag models; use int8 for a transformer",
            ));
        }
        let dim = config.bag.as_ref().map_or(0, |b| b.dim);
        if options.pq_dsub == 0 || options.pq_dsub > dim {
            return Err(invalid("--pq-dsub", format!("{} is outside 1..={dim}", options.pq_dsub)));
        }
        if !(2..=256).contains(&options.pq_centroids) {
            return Err(invalid(
                "--pq-centroids",
                format!("{} is outside 2..=256", options.pq_centroids),
            ));
        }
    }
    if let Some(p) = &options.prune {
        super::prune::validate(p)?;
        if p.structured && bag {
            return Err(invalid(
                "--structured",
                "structured pruning applies to transformer and bert models",
            ));
        }
    }
    if options.finetune_epochs > 0 {
        match &options.prune {
            None => return Err(invalid("--finetune-epochs", "fine-tuning follows --prune")),
            Some(p) if !p.structured && config.model == ModelKind::Bag => {
                return Err(invalid(
                    "--finetune-epochs",
                    "a bag model trains by per-example SGD, which would regrow the pruned \
                     entries; fine-tune transformer and bert models",
                ))
            }
            Some(_) => {}
        }
        if options.train.is_none() {
            return Err(invalid("--train", "fine-tuning needs the training data (--train FILE)"));
        }
    }
    let same = options.out == options.model
        || matches!((options.out.canonicalize(), options.model.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if same {
        return Err(invalid("--out", "must differ from the model directory"));
    }
    Ok(())
}

/// Compresses `options.model` into `options.out` and measures both; fine-tuning epochs are
/// reported to `observer`.
pub fn compress(
    options: &CompressOptions,
    observer: &mut dyn Observer,
) -> Result<CompressReport, Error> {
    let config = model::load_config(&options.model)?;
    check(options, &config)?;
    let record = RunRecord::load(&options.model).ok();
    let base = record.as_ref().map(|r| r.options.clone()).unwrap_or_default();
    let seed = options.seed.unwrap_or(base.seed);
    let read = base.read_options(true)?;
    let speed_threads = options.threads;
    let measure_dir = |dir: &Path| -> Result<Measurement, Error> {
        let mut m =
            measure(dir, options.eval.as_deref(), &read, speed_threads, !options.skip_speed)?;
        m.seq_per_s = m.seq_per_s.map(|x| (x * 10.0).round() / 10.0);
        Ok(m)
    };
    let before = measure_dir(&options.model)?;
    std::fs::create_dir_all(&options.out)
        .map_err(|source| Error::Io { path: options.out.clone(), source })?;
    let mut loaded = model::load(&options.model)?;
    let mut steps = Vec::new();
    let mut prune_note = None;
    if let Some(p) = &options.prune {
        let what = prune_network(&mut loaded.network, p)?;
        if let Network::Transformer(m) = &loaded.network {
            loaded.config.transformer = Some(m.config().clone());
        }
        steps.push(format!("pruned: {what}"));
        prune_note = Some(what);
    }
    let fine_tuned = options.finetune_epochs > 0;
    if fine_tuned {
        let staging =
            std::env::temp_dir().join(format!("thresh-pruned-{}-{}", std::process::id(), seed));
        model::save(&staging, &loaded)?;
        let train_options = TrainOptions {
            train: options.train.clone().unwrap_or_default(),
            valid: options.valid.clone(),
            test: None,
            out: options.out.clone(),
            init: Some(staging.clone()),
            epochs: Some(options.finetune_epochs),
            // Weights cut by magnitude stay cut while the others adapt.
            keep_zero_weights: options.prune.is_some_and(|p| !p.structured),
            seed,
            threads: options.threads,
            ..base.clone()
        };
        let command: Vec<String> = std::env::args().collect();
        let result = train::train(&train_options, &command, observer);
        let _ = std::fs::remove_dir_all(&staging);
        let outcome = result?;
        loaded = model::load(&outcome.out)?;
        steps.push(format!(
            "fine-tuned {} epoch{} on {}",
            options.finetune_epochs,
            if options.finetune_epochs == 1 { "" } else { "s" },
            train_options.train.display()
        ));
    } else {
        for f in [RUN_FILE, HISTORY_FILE] {
            copy_if_present(&options.model.join(f), &options.out.join(f))?;
        }
    }
    copy_if_present(
        &options.model.join(train::PRETRAINED_CONFIG_FILE),
        &options.out.join(train::PRETRAINED_CONFIG_FILE),
    )?;
    if let Some(kind) = options.quantize {
        let names = quantize_network(
            &mut loaded.network,
            kind,
            options.pq_dsub,
            options.pq_centroids,
            seed,
        )?;
        steps.push(match kind {
            QuantizeKind::Int8 => format!("int8: {} matrices", names.len()),
            QuantizeKind::Pq => {
                format!("pq: {} ({} columns per byte)", names.join(", "), options.pq_dsub)
            }
        });
    }
    loaded.config.compression = Some(Compression {
        source: options.model.display().to_string(),
        quantize: options.quantize.map(|k| k.to_string()),
        prune: prune_note,
        finetune_epochs: options.finetune_epochs,
    });
    // A test report of the source model would not describe this one.
    let metrics = options.out.join(METRICS_FILE);
    if metrics.is_file() {
        std::fs::remove_file(&metrics)
            .map_err(|source| Error::Io { path: metrics.clone(), source })?;
    }
    model::save(&options.out, &loaded)?;
    let after = measure_dir(&options.out)?;
    let report = CompressReport { before, after, steps, out: options.out.clone() };
    let mut json = serde_json::to_string_pretty(&report).expect("report serialises");
    json.push('\n');
    let path = options.out.join(COMPRESSION_FILE);
    crate::fsutil::write_atomic(&path, json.as_bytes())
        .map_err(|source| Error::Io { path: path.clone(), source })?;
    Ok(report)
}

fn mb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1e6)
}

fn ratio(after: f64, before: f64) -> String {
    if before > 0.0 {
        format!("{:.2}x", after / before)
    } else {
        "-".into()
    }
}

impl CompressReport {
    /// The before/after table.
    pub fn render(&self) -> String {
        let (b, a) = (&self.before, &self.after);
        let mut rows: Vec<[String; 4]> = vec![
            ["".into(), "before".into(), "after".into(), "after/before".into()],
            [
                "weights (MB)".into(),
                mb(b.weights_bytes),
                mb(a.weights_bytes),
                ratio(a.weights_bytes as f64, b.weights_bytes as f64),
            ],
            [
                "directory (MB)".into(),
                mb(b.dir_bytes),
                mb(a.dir_bytes),
                ratio(a.dir_bytes as f64, b.dir_bytes as f64),
            ],
            [
                "parameters".into(),
                b.params.to_string(),
                a.params.to_string(),
                ratio(a.params as f64, b.params as f64),
            ],
        ];
        let points = |name: &str, x: Option<f64>, y: Option<f64>| {
            let (x, y) = (x?, y?);
            Some([
                name.into(),
                format!("{x:.4}"),
                format!("{y:.4}"),
                format!("{:+.2} pt", (y - x) * 100.0),
            ])
        };
        rows.extend(points("accuracy", b.accuracy, a.accuracy));
        rows.extend(points("macro-F1", b.macro_f1, a.macro_f1));
        if let (Some(bl), Some(al)) = (b.latency_ms, a.latency_ms) {
            rows.push([
                "latency, batch 1 (ms)".into(),
                format!("{bl:.3}"),
                format!("{al:.3}"),
                ratio(al, bl),
            ]);
        }
        if let (Some(bt), Some(at)) = (b.seq_per_s, a.seq_per_s) {
            rows.push([
                "throughput (seq/s)".into(),
                format!("{bt:.0}"),
                format!("{at:.0}"),
                ratio(at, bt),
            ]);
        }
        let widths: Vec<usize> =
            (0..4).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        let mut out = String::new();
        for step in &self.steps {
            out.push_str(&format!("{step}\n"));
        }
        for r in &rows {
            out.push_str(&format!(
                "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}\n",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            ));
        }
        out
    }
}
