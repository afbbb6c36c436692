//! Keras-style training output: `Epoch 3/10`, then a bar line with steps, time, loss and
//! accuracy. On a terminal the bar is redrawn as steps finish; otherwise only the finished
//! line of each epoch is printed, so logs stay readable.

use std::io::Write;
use std::time::{Duration, Instant};
use thresh::train::{Observer, TrainEvent};

const BAR_WIDTH: usize = 30;
/// Least time between two redraws of the live bar.
const REDRAW: Duration = Duration::from_millis(100);

/// Renders training events to standard output.
pub struct KerasProgress {
    live: bool,
    last_draw: Option<Instant>,
    drawn: bool,
}

impl KerasProgress {
    /// `live`: redraw the bar in place (a terminal); otherwise print finished lines only.
    pub fn new(live: bool) -> Self {
        KerasProgress { live, last_draw: None, drawn: false }
    }
}

fn bar(step: usize, steps: usize) -> String {
    let steps = steps.max(1);
    let filled = BAR_WIDTH * step.min(steps) / steps;
    let mut s = String::with_capacity(BAR_WIDTH + 2);
    s.push('[');
    if step >= steps {
        s.push_str(&"=".repeat(BAR_WIDTH));
    } else {
        s.push_str(&"=".repeat(filled));
        s.push('>');
        s.push_str(&".".repeat(BAR_WIDTH - filled - 1));
    }
    s.push(']');
    s
}

/// Keras's per-step time: `66ms/step`, `1s/step`, `250us/step`.
fn per_step(elapsed: Duration, steps: usize) -> String {
    let secs = elapsed.as_secs_f64() / steps.max(1) as f64;
    if secs >= 1.0 {
        format!("{secs:.0}s/step")
    } else if secs >= 1e-3 {
        format!("{:.0}ms/step", secs * 1e3)
    } else {
        format!("{:.0}us/step", secs * 1e6)
    }
}

fn counter(step: usize, steps: usize) -> String {
    let width = steps.to_string().len();
    format!("{step:>width$}/{steps}")
}

/// The finished line of an epoch.
pub fn epoch_line(
    steps: usize,
    elapsed: Duration,
    loss: f64,
    accuracy: f64,
    val: Option<(f64, f64)>,
) -> String {
    let mut line = format!(
        "{} {} - {}s {} - loss: {loss:.4} - accuracy: {accuracy:.4}",
        counter(steps, steps),
        bar(steps, steps),
        elapsed.as_secs_f64().round() as u64,
        per_step(elapsed, steps),
    );
    if let Some((vl, va)) = val {
        line.push_str(&format!(" - val_loss: {vl:.4} - val_accuracy: {va:.4}"));
    }
    line
}

impl Observer for KerasProgress {
    fn on_event(&mut self, event: &TrainEvent<'_>) {
        let mut out = std::io::stdout().lock();
        match event {
            TrainEvent::Ready(s) => {
                let length = if s.max_length > 0 {
                    format!(" · max length {}", s.max_length)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "train {} · valid {} · test {} · {} classes · {}{length} · {} parameters · \
                     {} threads",
                    s.train, s.valid, s.test, s.classes, s.tokenizer, s.params, s.threads
                );
            }
            TrainEvent::Skipped { file, count, first_lines } => {
                let lines: Vec<String> = first_lines.iter().map(|l| l.to_string()).collect();
                let _ = writeln!(
                    out,
                    "skipped {count} bad rows of {file} (first at lines {})",
                    lines.join(", ")
                );
            }
            TrainEvent::Resumed { epochs_done } => {
                let _ = writeln!(out, "resuming after epoch {epochs_done}");
            }
            TrainEvent::EpochStart { epoch, epochs, .. } => {
                let _ = writeln!(out, "Epoch {epoch}/{epochs}");
                self.last_draw = None;
                self.drawn = false;
            }
            TrainEvent::Step { step, steps, loss, accuracy, elapsed } => {
                if !self.live || step >= steps {
                    return;
                }
                if self.last_draw.is_some_and(|t| t.elapsed() < REDRAW) {
                    return;
                }
                self.last_draw = Some(Instant::now());
                let eta = elapsed.as_secs_f64() / *step as f64 * (steps - step) as f64;
                let _ = write!(
                    out,
                    "\r{} {} - ETA: {}s - loss: {loss:.4} - accuracy: {accuracy:.4}\x1b[K",
                    counter(*step, *steps),
                    bar(*step, *steps),
                    eta.round() as u64
                );
                let _ = out.flush();
                self.drawn = true;
            }
            TrainEvent::EpochEnd { record, steps, elapsed } => {
                let val = record.val_loss.zip(record.val_accuracy);
                let line = epoch_line(*steps, *elapsed, record.loss, record.accuracy, val);
                if self.drawn {
                    let _ = writeln!(out, "\r{line}\x1b[K");
                } else {
                    let _ = writeln!(out, "{line}");
                }
                self.drawn = false;
            }
            TrainEvent::Trial { trial, epochs, val_accuracy, finished, elapsed } => {
                let state = if *finished { "finished" } else { "rung done" };
                let _ = writeln!(
                    out,
                    "trial {trial:>3}: {epochs} epochs, best val_accuracy {val_accuracy:.4}, \
                     {:.1}s, {state}",
                    elapsed.as_secs_f64()
                );
            }
            TrainEvent::EarlyStop { epoch, best_epoch } => {
                let _ = writeln!(
                    out,
                    "early stopping after epoch {epoch}: val_loss has not improved since epoch \
                     {best_epoch}; keeping the weights of epoch {best_epoch}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_line_has_the_keras_layout() {
        let line =
            epoch_line(211, Duration::from_millis(13_926), 0.3121, 0.8912, Some((0.355, 0.8761)));
        assert_eq!(
            line,
            "211/211 [==============================] - 14s 66ms/step - loss: 0.3121 - \
             accuracy: 0.8912 - val_loss: 0.3550 - val_accuracy: 0.8761"
        );
        assert_eq!(bar(5, 10), "[===============>..............]");
        assert_eq!(counter(5, 211), "  5/211");
        assert_eq!(per_step(Duration::from_micros(500), 2), "250us/step");
    }
}
