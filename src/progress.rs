//! Progress bars on stderr for long command-line work (downloads, benchmarks).

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::fetch::FetchProgress;

/// A byte-count bar with rate and ETA for `data fetch`.
pub struct FetchBar {
    bar: Option<ProgressBar>,
}

impl FetchBar {
    /// A bar that appears when the first file starts.
    pub fn new() -> Self {
        Self { bar: None }
    }

    /// Clears the last bar.
    pub fn done(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Default for FetchBar {
    fn default() -> Self {
        Self::new()
    }
}

impl FetchProgress for FetchBar {
    fn start(&mut self, name: &str, total: Option<u64>) {
        self.done();
        let bar = ProgressBar::new(total.unwrap_or(0));
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(name.to_string());
        self.bar = Some(bar);
    }

    fn advance(&mut self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
    }

    fn finish(&mut self, name: &str) {
        self.done();
        eprintln!("{name}: ok (checksum verified)");
    }
}
