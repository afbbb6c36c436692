//! A tracing layer that adds up the time spent inside each span name, for `bench --profile`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Total time and entry count per span name; cheap to clone (shared totals).
#[derive(Clone, Default)]
pub struct Profiler {
    totals: Arc<Mutex<BTreeMap<&'static str, (Duration, u64)>>>,
}

struct Entered(Instant);

impl Profiler {
    /// Prints a table of milliseconds per step by span name, largest first.
    pub fn print(&self, steps: usize) {
        let totals = self.totals.lock().expect("profile totals");
        let mut rows: Vec<_> = totals.iter().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.1 .0));
        println!("{:<24} {:>12} {:>8}", "span (inclusive)", "ms/step", "calls");
        for (name, (total, calls)) in rows {
            let ms = total.as_secs_f64() * 1e3 / steps.max(1) as f64;
            println!("{name:<24} {ms:>12.2} {calls:>8}");
        }
    }
}

impl<S> Layer<S> for Profiler
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {}

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Entered(Instant::now()));
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(Entered(start)) = span.extensions_mut().remove::<Entered>() {
                let mut totals = self.totals.lock().expect("profile totals");
                let entry = totals.entry(span.metadata().name()).or_default();
                entry.0 += start.elapsed();
                entry.1 += 1;
            }
        }
    }
}
