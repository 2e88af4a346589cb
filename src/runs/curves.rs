//! A run's curves read back from its logs for charting: every metric of `metrics.jsonl`, the
//! records a resume superseded dropped, each averaged down to a bounded number of points.
//!
//! The log is read through a [`MetricsTail`] a chunk at a time, so a log of many MB never sits
//! in memory whole; the charted points are kept by [`Series`], the same rule the live tabs use.
//! A TensorBoard run's scalars become the same curves, one per tag.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::dir::RunDir;
use super::error::Result;
use super::log::{drop_superseded, MetricRecord};
use super::tail::{EventsTail, MetricsTail};
use super::tensorboard::{is_tensorboard_run, TensorBoardRun};
use crate::series::Series;

/// Bytes of `metrics.jsonl` parsed per pass (about 8,000 records) before the records a resume
/// superseded are dropped: bounds memory on long logs.
const READ_CHUNK_BYTES: u64 = 512 * 1024;

/// One metric of one run, downsampled for charting.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCurve {
    /// The metric's name in `metrics.jsonl`.
    pub name: String,
    /// (step, value), at most the `max_points` asked for, each the mean of the records it
    /// stands for.
    pub points: Vec<(f64, f64)>,
    /// The last finite value logged.
    pub last: Option<f64>,
    /// The highest step logged (the downsampled points end a little before it).
    pub last_step: u64,
    /// Records read for this metric (before downsampling).
    pub records: u64,
}

/// Everything charted of one run, or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCurves {
    /// The run directory.
    pub path: PathBuf,
    /// Metrics in the order they first appear in the log.
    pub metrics: Vec<MetricCurve>,
    /// Lines of `metrics.jsonl` that did not parse (a record cut by a crash); for a
    /// TensorBoard run, the damaged records skipped.
    pub skipped_lines: u64,
    /// Why the run's logs could not be read; the metrics are then empty.
    pub error: Option<String>,
}

impl RunCurves {
    /// The curve of `name`, if the run logged it.
    pub fn metric(&self, name: &str) -> Option<&MetricCurve> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

/// Reads one run's curves: `metrics.jsonl` a chunk at a time, records a resume superseded
/// dropped, each metric averaged down to at most `max_points` points. A last line still being
/// written is left for the next read. A TensorBoard run gives one curve per scalar tag.
/// Blocking: call it off the UI thread.
pub fn read_run_curves(run_dir: &Path, max_points: usize) -> RunCurves {
    let mut curves = RunCurves {
        path: run_dir.to_path_buf(),
        metrics: Vec::new(),
        skipped_lines: 0,
        error: None,
    };
    if let Err(e) = read_into(run_dir, max_points, &mut curves) {
        curves.metrics.clear();
        curves.error = Some(e.to_string());
    }
    curves
}

fn read_into(run_dir: &Path, max_points: usize, curves: &mut RunCurves) -> Result<()> {
    if is_tensorboard_run(run_dir) {
        return read_tensorboard_into(run_dir, max_points, curves);
    }
    let run = RunDir::open(run_dir)?;
    let events = EventsTail::new(&run.events_path()).poll()?;
    let mut tail = MetricsTail::new(&run.metrics_path());
    let mut builder = CurvesBuilder::new(max_points);
    loop {
        let (offset, restarts, skipped) = (tail.offset(), tail.restarts(), tail.skipped_lines());
        let records = tail.poll_at_most(READ_CHUNK_BYTES)?;
        if tail.restarts() != restarts {
            // The log was cut or replaced while being read: what was gathered was the old file's.
            builder = CurvesBuilder::new(max_points);
            curves.skipped_lines = 0;
        }
        curves.skipped_lines += tail.skipped_lines() - skipped;
        // A record is superseded or not on its own, so chunks give the same result as one pass.
        builder.extend(drop_superseded(records, &events));
        if tail.offset() == offset && tail.restarts() == restarts {
            break;
        }
    }
    curves.metrics = builder.finish();
    Ok(())
}

/// A TensorBoard run's scalars, a chunk of each file at a time.
fn read_tensorboard_into(run_dir: &Path, max_points: usize, curves: &mut RunCurves) -> Result<()> {
    let mut run = TensorBoardRun::new(run_dir);
    let mut builder = CurvesBuilder::new(max_points);
    loop {
        let offset = run.offset();
        let read = run.poll(READ_CHUNK_BYTES)?;
        if read.restarted {
            builder = CurvesBuilder::new(max_points);
            curves.skipped_lines = 0;
        }
        curves.skipped_lines += read.skipped.len() as u64;
        let records: Vec<MetricRecord> = read.points.into_iter().map(|p| run.record(p)).collect();
        builder.extend(records);
        if run.offset() == offset && !read.restarted {
            break;
        }
    }
    curves.metrics = builder.finish();
    Ok(())
}

/// The metrics of one log while it is read, in first-seen order.
struct CurvesBuilder {
    max_points: usize,
    metrics: Vec<Tracked>,
    index: HashMap<String, usize>,
}

/// One metric while its log is read.
struct Tracked {
    name: String,
    series: Series,
    last: Option<f64>,
    last_step: u64,
    records: u64,
}

impl CurvesBuilder {
    fn new(max_points: usize) -> Self {
        Self {
            max_points,
            metrics: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn extend(&mut self, records: Vec<MetricRecord>) {
        for record in records {
            let i = match self.index.get(&record.name) {
                Some(&i) => i,
                None => {
                    self.metrics.push(Tracked {
                        name: record.name.clone(),
                        series: Series::new(self.max_points),
                        last: None,
                        last_step: 0,
                        records: 0,
                    });
                    self.index.insert(record.name, self.metrics.len() - 1);
                    self.metrics.len() - 1
                }
            };
            let entry = &mut self.metrics[i];
            entry.series.push(record.step as f64, record.value);
            if record.value.is_finite() {
                entry.last = Some(record.value);
            }
            entry.last_step = entry.last_step.max(record.step);
            entry.records += 1;
        }
    }

    fn finish(self) -> Vec<MetricCurve> {
        self.metrics
            .into_iter()
            .map(|t| MetricCurve {
                name: t.name,
                points: t.series.points().to_vec(),
                last: t.last,
                last_step: t.last_step,
                records: t.records,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::{RunEvent, RunLogs};

    /// Most points the tests keep per curve, as the Runs tab asks.
    const MAX_POINTS: usize = 1000;

    #[test]
    fn curves_read_long_logs_downsampled_without_superseded_records() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = RunDir::create_with_config_text(parent.path(), "cartpole-dqn", "kind = \"rl\"\n")
            .expect("run");
        let path = run.path().to_path_buf();
        {
            let mut logs = RunLogs::open(&run).expect("logs");
            logs.event(0, RunEvent::start_now(None)).expect("start");
            for step in 1..=30_000u64 {
                logs.metric(step, "loss", 5.0).expect("metric");
            }
            logs.metric(30_000, "episode_return", 9.0).expect("metric");
            logs.sync().expect("sync");
        }
        {
            // Resumed from step 20,000: the first process's records above it are superseded.
            let mut logs = RunLogs::open(&run).expect("logs");
            logs.event(20_000, RunEvent::start_now(Some(20_000)))
                .expect("start");
            for step in 20_001..=25_000u64 {
                logs.metric(step, "loss", 1.0).expect("metric");
            }
            logs.sync().expect("sync");
        }
        // A record cut by a crash, then a last line still being written.
        let mut text = std::fs::read_to_string(run.metrics_path()).expect("read");
        text.push_str("{\"step\":1,\"t\n{\"step\":25001,\"t\":1e9,\"name\":\"loss\",\"value\":7");
        std::fs::write(run.metrics_path(), text).expect("write");

        let curves = read_run_curves(&path, MAX_POINTS);
        assert_eq!(curves.error, None);
        assert_eq!(curves.skipped_lines, 1);
        let names: Vec<&str> = curves.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["loss"],
            "episode_return at 30,000 was superseded"
        );
        let loss = curves.metric("loss").expect("loss");
        assert_eq!(loss.records, 25_000);
        assert!(loss.points.len() <= MAX_POINTS && loss.points.len() >= MAX_POINTS / 2);
        assert_eq!(loss.last, Some(1.0));
        assert_eq!(loss.last_step, 25_000);
        let last = loss.points.last().expect("points");
        assert!(last.0 > 24_000.0 && last.0 <= 25_000.0, "{last:?}");
        assert!(
            loss.points.windows(2).all(|w| w[0].0 < w[1].0),
            "steps increase"
        );

        // An unreadable log is an error that names the file.
        std::fs::remove_file(run.metrics_path()).expect("rm");
        std::fs::create_dir(run.metrics_path()).expect("a directory in its place");
        let broken = read_run_curves(&path, MAX_POINTS);
        let e = broken.error.expect("error");
        assert!(e.contains("metrics.jsonl"), "{e}");
        let gone = read_run_curves(&parent.path().join("absent"), MAX_POINTS);
        assert!(gone.error.expect("error").contains("not a run directory"));
    }

    #[test]
    fn chunked_reading_gives_the_points_of_one_pass() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = RunDir::create_with_config_text(parent.path(), "mnist-cnn", "kind = \"rl\"\n")
            .expect("run");
        {
            let mut logs = RunLogs::open(&run).expect("logs");
            logs.event(0, RunEvent::start_now(None)).expect("start");
            // Well over one chunk, two metrics interleaved, a NaN among them.
            for step in 1..=20_000u64 {
                let loss = if step == 777 {
                    f64::NAN
                } else {
                    1.0 / step as f64
                };
                logs.metric(step, "train_loss", loss).expect("metric");
                if step % 7 == 0 {
                    logs.metric(step, "test_accuracy", step as f64 / 20_000.0)
                        .expect("metric");
                }
            }
            logs.sync().expect("sync");
        }
        let size = std::fs::metadata(run.metrics_path()).expect("size").len();
        assert!(size > 2 * READ_CHUNK_BYTES, "{size} bytes: several chunks");

        // The reference: every record in one pass, through the same downsampling.
        let (records, _) =
            crate::runs::read_jsonl::<MetricRecord>(&run.metrics_path()).expect("read");
        let mut one_pass = CurvesBuilder::new(MAX_POINTS);
        one_pass.extend(records);
        let expected = one_pass.finish();

        let curves = read_run_curves(run.path(), MAX_POINTS);
        assert_eq!(curves.error, None);
        assert_eq!(curves.skipped_lines, 0);
        assert_eq!(curves.metrics, expected);
        let loss = curves.metric("train_loss").expect("train_loss");
        assert_eq!(loss.records, 20_000, "the NaN is counted, not charted");
        assert_eq!(loss.last, Some(1.0 / 20_000.0));
        assert_eq!(
            curves.metric("test_accuracy").expect("accuracy").records,
            20_000 / 7
        );
    }
}
