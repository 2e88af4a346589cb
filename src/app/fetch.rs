//! Fetching a dataset from inside the dashboard (`f`): the download runs on a blocking task
//! and reports each step back as [`FetchUpdate`]s, which the bottom line draws as a progress
//! bar, so a user on a machine without MNIST gets it without leaving the tab.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::data::fetch::FetchProgress;
use crate::data::DatasetName;

/// How often a download's progress is sent to the UI at most: enough for a smooth bar without
/// flooding the event loop with one message per network read.
const REPORT_EVERY: Duration = Duration::from_millis(100);

/// What a running fetch tells the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchUpdate {
    /// Bytes of the current file arrived.
    Progress {
        /// The file being downloaded.
        file: String,
        /// Bytes of it so far.
        done: u64,
        /// Its size, when the server said.
        total: Option<u64>,
        /// Files of the dataset complete before this one.
        files_done: usize,
    },
    /// The fetch ended: the folder the dataset is now in, or why it failed.
    Done(Result<PathBuf, String>),
}

/// The fetch in progress, as the bottom line shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchState {
    /// The dataset being fetched.
    pub dataset: DatasetName,
    /// Its files.
    pub files: usize,
    /// The latest progress, if any arrived yet.
    pub progress: Option<FetchUpdate>,
}

impl FetchState {
    /// A fetch of `dataset` that has not reported yet.
    pub fn new(dataset: DatasetName) -> Self {
        Self {
            dataset,
            files: crate::data::fetch::remote_files(dataset).len(),
            progress: None,
        }
    }

    /// The fraction of the dataset's files done, counting the current one's bytes when its
    /// size is known.
    pub fn fraction(&self) -> f64 {
        let files = self.files.max(1) as f64;
        match &self.progress {
            Some(FetchUpdate::Progress {
                done,
                total,
                files_done,
                ..
            }) => {
                let current = total
                    .filter(|&t| t > 0)
                    .map_or(0.0, |t| (*done as f64 / t as f64).min(1.0));
                (*files_done as f64 + current) / files
            }
            _ => 0.0,
        }
    }

    /// What the bottom line says after the bar: `fetching mnist · 2/4 train-labels… · 1.2 of
    /// 9.9 MB`.
    pub fn describe(&self) -> String {
        match &self.progress {
            Some(FetchUpdate::Progress {
                file,
                done,
                total,
                files_done,
            }) => {
                let mb = |b: u64| b as f64 / 1e6;
                let size = match total {
                    Some(t) => format!("{:.1} of {:.1} MB", mb(*done), mb(*t)),
                    None => format!("{:.1} MB", mb(*done)),
                };
                format!(
                    "fetching {} · file {}/{} {file} · {size}",
                    self.dataset,
                    files_done + 1,
                    self.files
                )
            }
            _ => format!("fetching {} · connecting", self.dataset),
        }
    }
}

/// Sends a download's progress as [`FetchUpdate`]s through `send`, at most every
/// [`REPORT_EVERY`] within a file.
pub struct Reporter<F: FnMut(FetchUpdate)> {
    send: F,
    file: String,
    total: Option<u64>,
    files_done: usize,
    last: Option<Instant>,
}

impl<F: FnMut(FetchUpdate)> Reporter<F> {
    /// A reporter that hands each update to `send`.
    pub fn new(send: F) -> Self {
        Self {
            send,
            file: String::new(),
            total: None,
            files_done: 0,
            last: None,
        }
    }

    fn report(&mut self, done: u64) {
        (self.send)(FetchUpdate::Progress {
            file: self.file.clone(),
            done,
            total: self.total,
            files_done: self.files_done,
        });
        self.last = Some(Instant::now());
    }
}

impl<F: FnMut(FetchUpdate)> FetchProgress for Reporter<F> {
    fn start(&mut self, name: &str, total: Option<u64>) {
        self.file = name.to_string();
        self.total = total;
        self.report(0);
    }

    fn advance(&mut self, done: u64) {
        if self.last.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
            self.report(done);
        }
    }

    fn finish(&mut self, name: &str) {
        self.file = name.to_string();
        self.files_done += 1;
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_counts_whole_files_and_the_current_ones_bytes() {
        let mut state = FetchState::new(DatasetName::Mnist);
        assert_eq!(state.files, 4);
        assert_eq!(state.fraction(), 0.0);
        assert_eq!(state.describe(), "fetching mnist · connecting");
        state.progress = Some(FetchUpdate::Progress {
            file: "train-labels-idx1-ubyte.gz".into(),
            done: 4_200_000,
            total: Some(8_400_000),
            files_done: 1,
        });
        assert!((state.fraction() - 1.5 / 4.0).abs() < 1e-12);
        assert_eq!(
            state.describe(),
            "fetching mnist · file 2/4 train-labels-idx1-ubyte.gz · 4.2 of 8.4 MB"
        );
    }

    #[test]
    fn the_reporter_sends_each_file_start_and_counts_finished_files() {
        let mut sent = Vec::new();
        let mut reporter = Reporter::new(|u| sent.push(u));
        reporter.start("a.gz", Some(10));
        // Within the interval of the start's report: not sent.
        reporter.advance(5);
        reporter.finish("a.gz");
        reporter.start("b.gz", None);
        drop(reporter);
        assert_eq!(
            sent,
            vec![
                FetchUpdate::Progress {
                    file: "a.gz".into(),
                    done: 0,
                    total: Some(10),
                    files_done: 0
                },
                FetchUpdate::Progress {
                    file: "b.gz".into(),
                    done: 0,
                    total: None,
                    files_done: 1
                },
            ]
        );
    }
}
