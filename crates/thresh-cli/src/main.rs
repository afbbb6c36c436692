//! The `thresh` command line: parses flags into library options and prints results.
//!
//! Exit codes: 0 success, 1 failure of the run, 2 bad usage or bad input.

mod args;
mod profile;
mod progress;

use anyhow::{Context, Result};
use args::{Cli, Command, EmbedModelArg, Mode};
use clap::Parser;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use thresh::bench::{BenchMode, BenchOptions};
use thresh::data::Encoding;
use thresh::predict::Predictor;
use thresh::train::{Observer, Silent};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let profiler = match &cli.command {
        Command::Bench(args) if args.profile => Some(profile::Profiler::default()),
        _ => None,
    };
    init_tracing(cli.verbose, cli.quiet, profiler.clone());
    match run(cli, profiler) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            let usage = err.downcast_ref::<thresh::Error>().is_some_and(thresh::Error::is_usage);
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// A closed pipe on standard output (`thresh predict m | head`) ends the command quietly.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Whether the model directory holds an image (cnn) model.
fn is_image_model(dir: &std::path::Path) -> Result<bool, thresh::Error> {
    Ok(thresh::model::load_config(dir)?.model == thresh::model::ModelKind::Cnn)
}

/// A `--threshold` value, which must be a probability.
fn checked_threshold(threshold: Option<f32>) -> Result<Option<f32>> {
    match threshold {
        Some(t) if !(0.0..=1.0).contains(&t) => Err(thresh::Error::InvalidOption {
            flag: "--threshold",
            message: format!("{t} is not a probability in [0, 1]"),
        }
        .into()),
        other => Ok(other),
    }
}

fn init_tracing(verbose: u8, quiet: bool, profiler: Option<profile::Profiler>) {
    use tracing_subscriber::prelude::*;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("THRESH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .with_filter(filter);
    tracing_subscriber::registry().with(fmt).with(profiler).init();
}

fn run(cli: Cli, profiler: Option<profile::Profiler>) -> Result<()> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Train(args) => {
            let mut keras = progress::KerasProgress::new(std::io::stdout().is_terminal());
            let observer: &mut dyn Observer = if quiet { &mut Silent } else { &mut keras };
            let outcome = match &args.resume {
                Some(dir) => thresh::train::resume(dir, args.threads, observer)?,
                None => {
                    let options = args.to_options()?;
                    let command: Vec<String> = std::env::args().collect();
                    thresh::train::train(&options, &command, observer)?
                }
            };
            if !quiet {
                let mut out = std::io::stdout().lock();
                if let Some(report) = &outcome.test {
                    write!(out, "\ntest report\n{}", report.render())?;
                }
                writeln!(out, "model written to {}", outcome.out.display())?;
            }
            Ok(())
        }
        Command::Eval(args) => {
            if is_image_model(&args.model)? {
                let mut model =
                    thresh::model::load_image_model(&args.model).map_err(thresh::Error::from)?;
                let size = model.network.config().height;
                let split = thresh::images::ImageSplit::Test;
                let skip = args.read.skip_bad_rows;
                let set = thresh::images::read_image_dir(&args.file, split, Some(size), skip)
                    .map_err(thresh::Error::from)?;
                let threads =
                    thresh::core::Threads::new(args.threads).map_err(thresh::Error::from)?;
                let report =
                    threads.install(|| thresh::train::evaluate_images(&mut model, &set))?;
                let mut out = std::io::stdout().lock();
                if args.json {
                    out.write_all(report.to_json_string().as_bytes())?;
                } else {
                    write!(out, "{}", report.render())?;
                }
                return Ok(());
            }
            let read = args.read.to_options(true)?;
            let mut predictor = Predictor::load(&args.model, args.threads)?;
            let threshold = checked_threshold(args.threshold)?;
            let report = predictor.evaluate_file(&args.file, &read, threshold)?;
            let mut out = std::io::stdout().lock();
            if args.json {
                out.write_all(report.to_json_string().as_bytes())?;
            } else {
                write!(out, "{}", report.render())?;
            }
            Ok(())
        }
        Command::Predict(args) => {
            let encoding: Encoding = args.encoding.parse().map_err(|e| {
                thresh::Error::InvalidOption { flag: "--encoding", message: format!("{e}") }
            })?;
            if is_image_model(&args.model)? {
                let mut model =
                    thresh::model::load_image_model(&args.model).map_err(thresh::Error::from)?;
                let path = args.file.as_deref().filter(|p| p.as_os_str() != "-");
                let lines = thresh::data::read_lines(path, encoding)?;
                let paths: Vec<std::path::PathBuf> = lines.iter().map(Into::into).collect();
                let threads =
                    thresh::core::Threads::new(args.threads).map_err(thresh::Error::from)?;
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                for chunk in paths.chunks(1024) {
                    let preds = threads.install(|| {
                        thresh::train::predict_image_files(&mut model, chunk, args.top_k)
                    })?;
                    for (p, file) in preds.iter().zip(chunk) {
                        let mut v = serde_json::to_value(p)?;
                        v["file"] = serde_json::json!(file.display().to_string());
                        serde_json::to_writer(&mut out, &v)?;
                        out.write_all(b"\n")?;
                    }
                }
                out.flush()?;
                return Ok(());
            }
            let mut predictor = Predictor::load(&args.model, args.threads)?;
            let threshold = checked_threshold(args.threshold)?.or(predictor.default_threshold());
            let path = args.file.as_deref().filter(|p| p.as_os_str() != "-");
            let texts = thresh::data::read_lines(path, encoding)?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            // Bounded chunks keep memory flat on large inputs.
            for chunk in refs.chunks(4096) {
                for p in predictor.predict(chunk, args.top_k, threshold)? {
                    serde_json::to_writer(&mut out, &p).context("writing predictions")?;
                    out.write_all(b"\n")?;
                }
            }
            out.flush()?;
            Ok(())
        }
        Command::Doctor(args) => {
            let report = thresh::doctor::run(args.threads)?;
            let mut out = std::io::stdout().lock();
            if args.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                write!(out, "{}", report.render())?;
            }
            Ok(())
        }
        Command::Embed(args) => {
            let lines = thresh::data::read_lines(Some(&args.input), Encoding::Utf8)?;
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let options = thresh::embed::EmbedOptions {
                model: match args.model {
                    EmbedModelArg::Skipgram => thresh::embed::EmbedModel::Skipgram,
                    EmbedModelArg::Cbow => thresh::embed::EmbedModel::Cbow,
                },
                dim: args.dim,
                epochs: args.epochs,
                lr: args.lr,
                window: args.window,
                negatives: args.negatives,
                min_count: args.min_count,
                minn: args.minn,
                maxn: args.maxn,
                buckets: args.buckets,
                lowercase: !args.keep_case,
                seed: args.seed,
            };
            let (vectors, ngrams) = thresh::embed::train_vectors(&lines, &args.input, &options)?;
            thresh::vectors::write_vec(&args.out, &vectors)?;
            if let Some(ngrams) = &ngrams {
                ngrams.save(&thresh::embed::Subwords::path_for(&args.out))?;
            }
            if !quiet {
                println!(
                    "{} vectors of {} dimensions written to {}",
                    vectors.words.len(),
                    vectors.dim,
                    args.out.display()
                );
            }
            Ok(())
        }
        Command::Neighbors(args) => {
            let vectors = thresh::vectors::read_vec(&args.vectors)?;
            let sidecar = thresh::embed::Subwords::path_for(&args.vectors);
            let near = match thresh::vectors::nearest(&vectors, &args.word, args.k) {
                Some(near) => near,
                // A word the file lacks: from its character n-grams, when the table is there.
                None if sidecar.exists() => {
                    let subwords = thresh::embed::Subwords::load(&sidecar)?;
                    let query = subwords.vector(&args.word).ok_or_else(|| {
                        thresh::Error::InvalidOption {
                            flag: "WORD",
                            message: format!("{:?} has no character n-grams", args.word),
                        }
                    })?;
                    thresh::vectors::nearest_to(&vectors, &query, None, args.k)
                }
                None => {
                    return Err(thresh::Error::InvalidOption {
                        flag: "WORD",
                        message: format!(
                            "{:?} is not in {} (and there is no {} to build it from)",
                            args.word,
                            args.vectors.display(),
                            sidecar.display()
                        ),
                    }
                    .into())
                }
            };
            let mut out = std::io::stdout().lock();
            for (word, score) in near {
                writeln!(out, "{word}\t{score:.4}")?;
            }
            Ok(())
        }
        Command::EmbedText(args) => {
            let path = Some(args.file.as_path()).filter(|p| p.as_os_str() != "-");
            let texts = thresh::data::read_lines(path, Encoding::Utf8)?;
            let threads = thresh::core::Threads::new(args.threads).map_err(thresh::Error::from)?;
            let mut encoder = thresh::sentence::SentenceEncoder::load(&args.model)?;
            let sink: Box<dyn Write> = match &args.out {
                Some(path) => Box::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                ),
                None => Box::new(std::io::stdout().lock()),
            };
            let mut out = std::io::BufWriter::new(sink);
            for chunk in texts.chunks(1024) {
                let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                let vectors = threads.install(|| encoder.embed(&refs, args.normalize))?;
                for v in vectors {
                    serde_json::to_writer(&mut out, &serde_json::json!({ "embedding": v }))?;
                    out.write_all(b"\n")?;
                }
            }
            out.flush()?;
            Ok(())
        }
        Command::Tune(args) => {
            let base = args.base_options()?;
            let space = match &args.space {
                Some(path) => {
                    let text = std::fs::read_to_string(path).with_context(|| {
                        format!("{}: cannot read the space file", path.display())
                    })?;
                    thresh::tune::parse_space(path, &text)?
                }
                None => thresh::tune::default_space(base.model),
            };
            if !(args.budget > 0.0 && args.budget.is_finite()) {
                return Err(thresh::Error::InvalidOption {
                    flag: "--budget",
                    message: format!("{} is not a positive number of seconds", args.budget),
                }
                .into());
            }
            let options = thresh::tune::TuneOptions {
                seed: base.seed,
                base,
                space,
                trials: args.trials,
                budget: std::time::Duration::from_secs_f64(args.budget),
                out: args.out.clone(),
            };
            let mut keras = progress::KerasProgress::new(std::io::stdout().is_terminal());
            let observer: &mut dyn Observer = if quiet { &mut Silent } else { &mut keras };
            let outcome = thresh::tune::tune(&options, observer)?;
            let mut out = std::io::stdout().lock();
            write!(out, "{}", thresh::tune::render_table(&outcome.ranked))?;
            match outcome.best {
                Some(t) => {
                    let best = args.out.join(thresh::tune::BEST_DIR);
                    writeln!(out, "best: trial {t}, model in {}", best.display())?;
                    if let Some(test) = &args.test {
                        let read = args.read.to_options(true)?;
                        let mut predictor = Predictor::load(&best, options.base.threads)?;
                        let report = predictor.evaluate_file(test, &read, None)?;
                        let path = best.join(thresh::train::METRICS_FILE);
                        std::fs::write(&path, report.to_json_string())
                            .with_context(|| format!("writing {}", path.display()))?;
                        write!(out, "\ntest report of the best trial\n{}", report.render())?;
                    }
                }
                None => writeln!(out, "no trial finished with a model within the budget")?,
            }
            writeln!(out, "{} trials in {:.0} s", outcome.ranked.len(), outcome.seconds)?;
            Ok(())
        }
        Command::Compress(args) => {
            let quantize = args
                .quantize
                .as_deref()
                .map(str::parse::<thresh::compress::QuantizeKind>)
                .transpose()
                .map_err(|message| thresh::Error::InvalidOption { flag: "--quantize", message })?;
            if args.structured && args.prune.is_none() && args.prune_heads == 0.0 {
                return Err(thresh::Error::InvalidOption {
                    flag: "--structured",
                    message: "give the share to remove with --prune (and/or --prune-heads)".into(),
                }
                .into());
            }
            let prune = (args.prune.is_some() || args.prune_heads > 0.0).then(|| {
                thresh::compress::PruneOptions {
                    fraction: args.prune.unwrap_or(0.0),
                    structured: args.structured,
                    heads: args.prune_heads,
                }
            });
            let options = thresh::compress::CompressOptions {
                model: args.model.clone(),
                out: args.out.clone(),
                quantize,
                prune,
                finetune_epochs: args.finetune_epochs,
                train: args.train.clone(),
                valid: args.valid.clone(),
                eval: args.eval.clone(),
                pq_dsub: args.pq_dsub,
                pq_centroids: args.pq_centroids,
                threads: args.threads,
                seed: args.seed,
                skip_speed: args.no_speed,
            };
            let mut keras = progress::KerasProgress::new(std::io::stdout().is_terminal());
            let observer: &mut dyn Observer = if quiet { &mut Silent } else { &mut keras };
            let report = thresh::compress::compress(&options, observer)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else if !quiet {
                print!("{}", report.render());
                println!("model written to {}", report.out.display());
            }
            Ok(())
        }
        Command::Bench(args) => {
            let options = BenchOptions {
                mode: match args.mode {
                    Mode::Train => BenchMode::Train,
                    Mode::Infer => BenchMode::Infer,
                },
                steps: args.steps,
                warmup: args.warmup,
                threads: args.threads,
                batch: args.batch,
                seq: args.seq,
                pretrained: args.pretrained.clone(),
                cnn: args.cnn,
                model: args.model.clone(),
                ..BenchOptions::default()
            };
            let report = thresh::bench::run(&options)?;
            if args.losses {
                for (i, loss) in report.losses.iter().enumerate() {
                    println!("step {:>4} loss {loss:.4}", i + 1);
                }
            }
            if let Some(p) = profiler {
                p.print(options.warmup + options.steps);
            }
            println!("{}", report.result_line());
            if let Some(rss) = thresh::system::peak_rss_bytes() {
                eprintln!("peak_rss_mb={:.1}", rss as f64 / 1e6);
            }
            Ok(())
        }
    }
}
