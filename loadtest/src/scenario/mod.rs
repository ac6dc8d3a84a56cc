//! Load scenarios. Each takes a bounded configuration, runs against a deployment and
//! returns a report that serialises to JSON.

pub mod audience;
pub mod chat_storm;
pub mod checkout_rate;
pub mod drop;
pub mod naive_checkout;
pub mod raid;
pub mod scale;

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// A progress bar on stderr, hidden when `quiet` (tests, JSON-only runs).
pub fn progress(len: u64, what: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg:<14} [{bar:30}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
