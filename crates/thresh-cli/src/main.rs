//! The `thresh` command line: parses flags into library options and prints results.
//!
//! Exit codes: 0 success, 1 failure of the run, 2 bad usage or bad input.

mod profile;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;
use thresh::bench::{BenchMode, BenchOptions};

#[derive(Parser)]
#[command(name = "thresh", version, about = "Train, evaluate, compress and serve classifiers")]
struct Cli {
    /// More output: debug events from the library.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Less output: errors only.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Time the reference Transformer on synthetic batches (training steps or inference).
    Bench(BenchArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Train,
    Infer,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// What to time.
    #[arg(long, value_enum, default_value = "train")]
    mode: Mode,
    /// Timed steps.
    #[arg(long, default_value_t = 30)]
    steps: usize,
    /// Untimed steps before timing.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Sequences per batch [default: 32 for train, 64 for infer].
    #[arg(long)]
    batch: Option<usize>,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    seq: usize,
    /// Print where the time goes, per layer, forward and backward.
    #[arg(long)]
    profile: bool,
    /// Print the training loss of every step.
    #[arg(long)]
    losses: bool,
}

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
            eprintln!("error: {err:#}");
            let usage = err
                .downcast_ref::<thresh::Error>()
                .is_some_and(|e| matches!(e, thresh::Error::InvalidOption { .. }));
            ExitCode::from(if usage { 2 } else { 1 })
        }
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
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter);
    tracing_subscriber::registry().with(fmt).with(profiler).init();
}

fn run(cli: Cli, profiler: Option<profile::Profiler>) -> Result<()> {
    match cli.command {
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
