//! Latency histograms and the summary every scenario prints and writes as JSON.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Microsecond latencies from 1 µs to 10 minutes, 3 significant figures.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let _ = h.record((d.as_micros() as u64).max(1));
}

pub fn print_latency(name: &str, l: &Latency) {
    println!(
        "{name:<22} n={:<8} p50 {:>8.2} ms  p90 {:>8.2} ms  p99 {:>8.2} ms  p99.9 {:>8.2} ms  max {:>8.2} ms",
        l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
    );
}

/// The histograms many receiving tasks fill together: all deliveries, and the same split
/// into classes a scenario chooses (the second of the run; same-node or cross-node).
pub struct Recorder {
    pub total: Histogram<u64>,
    pub classes: Vec<Histogram<u64>>,
}

impl Recorder {
    pub fn shared(classes: usize) -> Arc<Mutex<Recorder>> {
        Arc::new(Mutex::new(Recorder { total: histogram(), classes: (0..classes).map(|_| histogram()).collect() }))
    }
}

/// One task's latency samples, handed to the shared [`Recorder`] in batches (and when
/// dropped), so that a delivery costs no lock and thousands of viewers' tasks do not
/// queue on one.
pub struct Samples {
    batch: Vec<u64>,
    into: Arc<Mutex<Recorder>>,
}

const BATCH: usize = 256;
/// A sample is the latency in µs in the low bits and the class above them.
const CLASS_SHIFT: u32 = 40;

impl Samples {
    pub fn new(into: &Arc<Mutex<Recorder>>) -> Samples {
        Samples { batch: Vec::new(), into: Arc::clone(into) }
    }

    /// A latency of `class`; a class the recorder does not have counts in the total only.
    pub fn add(&mut self, class: usize, latency_us: u64) {
        self.batch.push(((class as u64) << CLASS_SHIFT) | latency_us.clamp(1, (1 << CLASS_SHIFT) - 1));
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        // A std Mutex: held for one batch, never across an await.
        let mut r = self.into.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for sample in self.batch.drain(..) {
            let us = sample & ((1 << CLASS_SHIFT) - 1);
            let _ = r.total.record(us);
            if let Some(h) = r.classes.get_mut((sample >> CLASS_SHIFT) as usize) {
                let _ = h.record(us);
            }
        }
    }
}

impl Drop for Samples {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A histogram as (value, count) pairs, to cross a process boundary as JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts(pub Vec<(u64, u64)>);

impl Counts {
    pub fn of(h: &Histogram<u64>) -> Counts {
        Counts(h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect())
    }

    pub fn add_to(&self, h: &mut Histogram<u64>) {
        for &(value, count) in &self.0 {
            let _ = h.record_n(value, count);
        }
    }
}
