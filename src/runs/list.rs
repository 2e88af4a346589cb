//! Listing the runs under a parent folder with their status and best figure, for the Runs tab:
//! gradtop's run directories, and the TensorBoard runs of other frameworks found under it.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::clock::LocalTime;
use super::dir::RunDir;
use super::error::{IoContext, Result};
use super::lock::lock_holder;
use super::log::{EndStatus, EventRecord, MetricRecord, RunEvent};
use super::sweep::{member_of, SweepMember, SWEEP_TABLE};
use super::tail::{EventsTail, MetricsTail};
use super::tensorboard::{find_tensorboard_runs, TensorBoardRun, TENSORBOARD_KIND};

/// Where a run stands, as the Runs tab shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// A live process holds its lock and it is not paused.
    Running,
    /// Paused in a live process.
    Paused,
    /// Stopped by the user before the end of its schedule (resumable).
    Stopped,
    /// Ran its full schedule.
    Finished,
    /// Ended with an error or divergence.
    Failed,
    /// Its process died without an `end` event (crash, `kill -9`, power loss), or ended on a
    /// signal; resumable from its last checkpoint.
    Interrupted,
    /// Written by another program (a TensorBoard run) and unchanged for
    /// [`TENSORBOARD_LIVE_WINDOW`]: it ended, or waits; gradtop cannot tell which.
    Idle,
    /// Made and never started (nothing logged, no lock ever taken): a sweep's run waiting for
    /// its turn.
    Queued,
}

/// How recently a TensorBoard run's files must have changed for it to count as running.
pub const TENSORBOARD_LIVE_WINDOW: Duration = Duration::from_secs(60);

impl RunStatus {
    /// Lower-case word for display and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
            Self::Finished => "finished",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
            Self::Idle => "idle",
            Self::Queued => "queued",
        }
    }

    /// Whether `gradtop resume` makes sense: not running, not finished.
    pub fn resumable(self) -> bool {
        matches!(
            self,
            Self::Paused | Self::Stopped | Self::Interrupted | Self::Failed | Self::Queued
        )
    }
}

/// Whether larger values of a metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Larger is better (accuracy, return).
    Higher,
    /// Smaller is better (FID, loss).
    Lower,
}

/// Metrics that summarise a run, in order of preference: the first one present gives the best
/// figure. Classifier, RL and GAN headline figures first, then losses as a fallback.
pub const HEADLINE_METRICS: &[(&str, Better)] = &[
    ("test_accuracy", Better::Higher),
    ("mean_return_20", Better::Higher),
    ("fid_cnn", Better::Lower),
    ("train_accuracy", Better::Higher),
    ("episode_return", Better::Higher),
    ("test_loss", Better::Lower),
    ("train_loss", Better::Lower),
];

/// The best value a run reached on its headline metric.
#[derive(Debug, Clone, PartialEq)]
pub struct BestFigure {
    /// Metric name, e.g. `test_accuracy`.
    pub name: String,
    /// Its best value (max or min per [`HEADLINE_METRICS`]).
    pub value: f64,
    /// The step it was reached at.
    pub step: u64,
    /// The direction that made it best.
    pub better: Better,
    /// The metric's last logged value (NaN included): where the run ended up, next to the best
    /// it reached on the way.
    pub last: f64,
}

/// One row of the Runs tab.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The run directory.
    pub path: PathBuf,
    /// How the run is named: its folder's name, or a TensorBoard run's path under the folder
    /// listed (`keras-fit/train`).
    pub name: String,
    /// `kind` from `config.toml` (`classifier`, `gan`, `rl`), or [`TENSORBOARD_KIND`]; `None` if
    /// absent or unreadable.
    pub kind: Option<String>,
    /// Scenario name from the directory name; a TensorBoard run's name.
    pub scenario: String,
    /// `dataset` from `config.toml`, when the scenario has one.
    pub dataset: Option<String>,
    /// Where the run stands.
    pub status: RunStatus,
    /// The pid writing the run, while it runs (`None` too when its lock file names none).
    pub pid: Option<u32>,
    /// Highest step in the metrics log.
    pub steps: u64,
    /// Best value of the headline metric, if any was logged.
    pub best: Option<BestFigure>,
    /// Local start time, from the directory name.
    pub started: Option<LocalTime>,
    /// Why it failed or paused (last error message or pause reason), when known; for a
    /// TensorBoard run, the last damaged record skipped.
    pub detail: Option<String>,
    /// The metrics logged (a TensorBoard run's scalar tags), in first-seen order.
    pub metrics: Vec<String>,
    /// Unix time of a TensorBoard run's newest event.
    pub updated_unix_s: Option<f64>,
    /// The same, local, as shown.
    pub updated: Option<LocalTime>,
    /// The run's hyperparameters from `config.toml`, key and value as text (nested tables with
    /// dotted keys), sorted by key: what the Runs tab's table compares. Empty for a TensorBoard
    /// run or an unreadable config.
    pub params: Vec<(String, String)>,
    /// The sweep the run belongs to, from the `[sweep]` table of its `config.toml`.
    pub sweep: Option<SweepMember>,
}

impl RunSummary {
    /// True for a run another program writes (TensorBoard): it can be charted, not resumed or
    /// deleted.
    pub fn is_foreign(&self) -> bool {
        self.kind.as_deref() == Some(TENSORBOARD_KIND)
    }
}

/// Every run directory directly under `parent`, and every TensorBoard run at or below it, newest
/// first; other folders are skipped, and a missing parent lists nothing. Reads logs only: safe
/// while runs are writing.
///
/// Reads every log in full; a view that refreshes keeps a [`RunsIndex`] instead.
pub fn list_runs(parent: &Path) -> Result<Vec<RunSummary>> {
    RunsIndex::new(parent).refresh()
}

/// The Runs-tab row of one run directory.
pub fn summarize_run(run_dir: &Path) -> Result<RunSummary> {
    let run = RunDir::open(run_dir)?;
    let mut tracked = TrackedRun::new(run);
    tracked.refresh()?;
    Ok(tracked.summary())
}

/// The status of one run directory (see [`RunStatus`]).
pub fn run_status(run_dir: &Path) -> Result<RunStatus> {
    let run = RunDir::open(run_dir)?;
    let mut events = EventsTail::new(&run.events_path());
    let mut lifecycle = Lifecycle::default();
    for record in events.poll()? {
        lifecycle.observe(&record);
    }
    Ok(lifecycle.status(lock_holder(run.path()).is_some(), &run).0)
}

/// Summaries of all runs under a parent, kept up to date incrementally: each
/// [`RunsIndex::refresh`] reads only what the logs gained since the last one, so the Runs tab
/// can refresh every second even with long runs on disk.
#[derive(Debug)]
pub struct RunsIndex {
    parent: PathBuf,
    runs: HashMap<PathBuf, TrackedRun>,
    tensorboard: HashMap<PathBuf, TrackedTensorBoard>,
}

impl RunsIndex {
    /// An index of the runs under `parent` (read on the first refresh).
    pub fn new(parent: &Path) -> Self {
        Self {
            parent: parent.to_path_buf(),
            runs: HashMap::new(),
            tensorboard: HashMap::new(),
        }
    }

    /// The folder being indexed.
    pub fn parent(&self) -> &Path {
        &self.parent
    }

    /// Rescans the parent (runs appear and disappear) and the new log lines of every run;
    /// returns all summaries, newest first.
    pub fn refresh(&mut self) -> Result<Vec<RunSummary>> {
        let entries = match fs::read_dir(&self.parent) {
            Ok(entries) => Some(entries),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).at("listing runs in", &self.parent),
        };
        let mut present = Vec::new();
        for entry in entries.into_iter().flatten() {
            let entry = entry.at("listing runs in", &self.parent)?;
            // Hidden names are never runs: a run being deleted is moved to one.
            if !entry.file_name().as_encoded_bytes().starts_with(b".") {
                present.push(entry.path());
            }
        }
        self.runs.retain(|path, _| present.contains(path));
        for path in present {
            if !self.runs.contains_key(&path) {
                // Not (yet) a run directory: it may become one once `config.toml` is written.
                let Ok(run) = RunDir::open(&path) else {
                    continue;
                };
                self.runs.insert(path.clone(), TrackedRun::new(run));
            }
        }
        // A run deleted between the scan and its read drops out instead of failing the listing.
        let mut vanished = Vec::new();
        for (path, run) in &mut self.runs {
            if run.refresh().is_err() && !path.is_dir() {
                vanished.push(path.clone());
            }
        }
        for path in vanished {
            self.runs.remove(&path);
        }
        let mut summaries: Vec<RunSummary> = self.runs.values().map(TrackedRun::summary).collect();
        summaries.extend(self.refresh_tensorboard());
        summaries.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.name.cmp(&a.name)));
        Ok(summaries)
    }

    /// Finds the TensorBoard runs under the parent and reads what their files gained.
    fn refresh_tensorboard(&mut self) -> Vec<RunSummary> {
        let found = find_tensorboard_runs(&self.parent);
        self.tensorboard
            .retain(|path, _| found.iter().any(|(p, _)| p == path));
        let now = SystemTime::now();
        let mut summaries = Vec::new();
        for (path, name) in found {
            let tracked = self
                .tensorboard
                .entry(path.clone())
                .or_insert_with(|| TrackedTensorBoard::new(&path, name));
            // A run whose folder vanished between the scan and the read drops out.
            if tracked.refresh().is_ok() {
                summaries.push(tracked.summary(now));
            }
        }
        summaries
    }
}

/// One TensorBoard run's reader and running aggregates.
#[derive(Debug)]
struct TrackedTensorBoard {
    run: TensorBoardRun,
    name: String,
    tags: Vec<String>,
    steps: u64,
    updated_unix_s: Option<f64>,
    last_skipped: Option<String>,
}

impl TrackedTensorBoard {
    fn new(dir: &Path, name: String) -> Self {
        Self {
            run: TensorBoardRun::new(dir),
            name,
            tags: Vec::new(),
            steps: 0,
            updated_unix_s: None,
            last_skipped: None,
        }
    }

    fn refresh(&mut self) -> Result<()> {
        let read = self.run.poll(u64::MAX)?;
        if read.restarted {
            self.tags.clear();
            self.steps = 0;
            self.updated_unix_s = None;
        }
        for point in &read.points {
            if !self.tags.contains(&point.tag) {
                self.tags.push(point.tag.clone());
            }
            self.steps = self.steps.max(point.step);
            self.updated_unix_s = Some(self.updated_unix_s.unwrap_or(0.0).max(point.wall_time_s));
        }
        if let Some(skipped) = read.skipped.last() {
            self.last_skipped = Some(skipped.to_string());
        }
        Ok(())
    }

    fn summary(&self, now: SystemTime) -> RunSummary {
        let live = self
            .run
            .last_modified()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age < TENSORBOARD_LIVE_WINDOW);
        RunSummary {
            path: self.run.dir().to_path_buf(),
            name: self.name.clone(),
            kind: Some(TENSORBOARD_KIND.to_string()),
            scenario: self.name.clone(),
            dataset: None,
            status: if live {
                RunStatus::Running
            } else {
                RunStatus::Idle
            },
            pid: None,
            steps: self.steps,
            best: None,
            started: self
                .run
                .start_wall_time_s()
                .map(|s| LocalTime::from_unix(s.floor() as i64)),
            detail: self.last_skipped.clone(),
            metrics: self.tags.clone(),
            updated_unix_s: self.updated_unix_s,
            updated: self
                .updated_unix_s
                .map(|s| LocalTime::from_unix(s.floor() as i64)),
            params: Vec::new(),
            sweep: None,
        }
    }
}

/// One run's tails and running aggregates.
#[derive(Debug)]
struct TrackedRun {
    run: RunDir,
    kind: Option<String>,
    dataset: Option<String>,
    metric_names: Vec<String>,
    metrics: MetricsTail,
    events: EventsTail,
    metrics_restarts: u64,
    events_restarts: u64,
    metric_steps: u64,
    event_steps: u64,
    best: BestTracker,
    lifecycle: Lifecycle,
    params: Vec<(String, String)>,
    sweep: Option<SweepMember>,
}

impl TrackedRun {
    fn new(run: RunDir) -> Self {
        let config = run.config().ok();
        let text = |key: &str| {
            config
                .as_ref()
                .and_then(|c| c.get(key).and_then(|v| v.as_str()).map(str::to_string))
        };
        Self {
            kind: text("kind"),
            dataset: text("dataset"),
            params: config.as_ref().map(config_params).unwrap_or_default(),
            sweep: config.as_ref().and_then(member_of),
            metric_names: Vec::new(),
            metrics: MetricsTail::new(&run.metrics_path()),
            events: EventsTail::new(&run.events_path()),
            run,
            metrics_restarts: 0,
            events_restarts: 0,
            metric_steps: 0,
            event_steps: 0,
            best: BestTracker::default(),
            lifecycle: Lifecycle::default(),
        }
    }

    fn refresh(&mut self) -> Result<()> {
        let metrics = self.metrics.poll()?;
        if self.metrics.restarts() != self.metrics_restarts {
            self.metrics_restarts = self.metrics.restarts();
            self.metric_steps = 0;
            self.best = BestTracker::default();
            self.metric_names.clear();
        }
        for record in &metrics {
            if !self.metric_names.contains(&record.name) {
                self.metric_names.push(record.name.clone());
            }
            self.metric_steps = self.metric_steps.max(record.step);
            self.best.observe(record);
        }
        let events = self.events.poll()?;
        if self.events.restarts() != self.events_restarts {
            self.events_restarts = self.events.restarts();
            self.event_steps = 0;
            self.lifecycle = Lifecycle::default();
        }
        for record in &events {
            self.event_steps = self.event_steps.max(record.step);
            self.lifecycle.observe(record);
        }
        Ok(())
    }

    fn summary(&self) -> RunSummary {
        let holder = lock_holder(self.run.path());
        let (status, detail) = self.lifecycle.status(holder.is_some(), &self.run);
        RunSummary {
            path: self.run.path().to_path_buf(),
            name: self
                .run
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            kind: self.kind.clone(),
            scenario: self
                .sweep
                .as_ref()
                .and_then(SweepMember::scenario)
                .map_or_else(|| self.run.scenario_name(), str::to_string),
            dataset: self.dataset.clone(),
            status,
            pid: holder.and_then(|h| h.pid),
            steps: self.metric_steps.max(self.event_steps),
            best: self.best.best(),
            started: self.run.started(),
            detail,
            metrics: self.metric_names.clone(),
            updated_unix_s: None,
            updated: None,
            params: self.params.clone(),
            sweep: self.sweep.clone(),
        }
    }
}

/// A run's `config.toml` as sorted (key, value) text pairs; a nested table's keys are dotted
/// (`optimizer.lr`) so every leaf compares on its own. A sweep's `[sweep]` table is not a
/// hyperparameter and is left out.
pub fn config_params(config: &toml::Table) -> Vec<(String, String)> {
    fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, String)>) {
        for (key, value) in table {
            let key = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::Table(inner) => flatten(&key, inner, out),
                // A string shows without its quotes; numbers, booleans and arrays as TOML
                // writes them.
                toml::Value::String(text) => out.push((key, text.clone())),
                other => out.push((key, other.to_string())),
            }
        }
    }
    let mut out = Vec::new();
    let mut config = config.clone();
    config.remove(SWEEP_TABLE);
    flatten("", &config, &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The events that decide a run's status, folded in log order.
#[derive(Debug, Default)]
struct Lifecycle {
    last: Option<RunEvent>,
    last_error: Option<String>,
}

impl Lifecycle {
    fn observe(&mut self, record: &EventRecord) {
        match &record.event {
            RunEvent::Error { message } => self.last_error = Some(message.clone()),
            event @ (RunEvent::Start { .. }
            | RunEvent::Pause { .. }
            | RunEvent::Resume
            | RunEvent::End { .. }) => self.last = Some(event.clone()),
            _ => {}
        }
    }

    /// Status and detail of `run`, given whether a live process holds its lock.
    fn status(&self, live: bool, run: &RunDir) -> (RunStatus, Option<String>) {
        match &self.last {
            Some(RunEvent::Pause { reason }) if live => (RunStatus::Paused, reason.clone()),
            _ if live => (RunStatus::Running, None),
            Some(RunEvent::End { status, summary }) => match status {
                EndStatus::Finished => (RunStatus::Finished, None),
                EndStatus::Failed => (
                    RunStatus::Failed,
                    self.last_error
                        .clone()
                        .or_else(|| summary.as_ref().map(summary_text)),
                ),
                EndStatus::Stopped => (RunStatus::Stopped, None),
                EndStatus::Interrupted => (RunStatus::Interrupted, None),
            },
            // A lock file left behind means a process took the run and died before logging.
            None if self.last_error.is_none() && run.lock_path().symlink_metadata().is_err() => {
                (RunStatus::Queued, None)
            }
            _ => (RunStatus::Interrupted, self.last_error.clone()),
        }
    }
}

fn summary_text(summary: &serde_json::Value) -> String {
    match summary {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Best (value, step) so far of each [`HEADLINE_METRICS`] entry, and its last value.
#[derive(Debug, Clone, Default)]
struct BestTracker {
    per_metric: [Option<(f64, u64)>; HEADLINE_METRICS.len()],
    last: [Option<f64>; HEADLINE_METRICS.len()],
}

impl BestTracker {
    /// Takes a record into account; NaN never wins and ties keep the earlier step.
    fn observe(&mut self, record: &MetricRecord) {
        let Some(index) = HEADLINE_METRICS.iter().position(|(n, _)| *n == record.name) else {
            return;
        };
        self.last[index] = Some(record.value);
        if record.value.is_nan() {
            return;
        }
        let better = HEADLINE_METRICS[index].1;
        let slot = &mut self.per_metric[index];
        let improves = match *slot {
            None => true,
            Some((best, _)) => match better {
                Better::Higher => record.value > best,
                Better::Lower => record.value < best,
            },
        };
        if improves {
            *slot = Some((record.value, record.step));
        }
    }

    /// The best figure of the most preferred metric seen.
    fn best(&self) -> Option<BestFigure> {
        HEADLINE_METRICS
            .iter()
            .zip(self.per_metric.iter().zip(&self.last))
            .find_map(|(&(name, better), (slot, last))| {
                slot.map(|(value, step)| BestFigure {
                    name: name.to_string(),
                    value,
                    step,
                    better,
                    last: last.unwrap_or(value),
                })
            })
    }
}

/// The best value of the first [`HEADLINE_METRICS`] entry present; NaN values never win.
pub fn best_figure(metrics: &[MetricRecord]) -> Option<BestFigure> {
    let mut tracker = BestTracker::default();
    for record in metrics {
        tracker.observe(record);
    }
    tracker.best()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::lock::{RunLock, LOCK_FILE};
    use crate::runs::log::RunLogs;
    use crate::runs::RunsError;

    fn make_run(parent: &Path, second: u32, name: &str, kind: &str) -> RunDir {
        let started = LocalTime {
            year: 2026,
            month: 11,
            day: 29,
            hour: 2,
            minute: 0,
            second,
        };
        RunDir::create_at(parent, name, started, &format!("kind = \"{kind}\"\n")).expect("create")
    }

    fn start(logs: &mut RunLogs) {
        logs.event(
            0,
            RunEvent::Start {
                unix_s: 1.0,
                resumed_from: None,
            },
        )
        .expect("start");
    }

    fn end(logs: &mut RunLogs, step: u64, status: EndStatus) {
        logs.event(
            step,
            RunEvent::End {
                status,
                summary: None,
            },
        )
        .expect("end");
    }

    #[test]
    fn statuses_steps_and_best_figures() {
        let parent = tempfile::tempdir().expect("temp dir");

        let finished = make_run(parent.path(), 1, "mnist-cnn", "classifier");
        let mut logs = RunLogs::open(&finished).expect("open");
        start(&mut logs);
        for (step, acc) in [(100, 0.91), (200, 0.97), (300, 0.95)] {
            logs.metric(step, "test_accuracy", acc).expect("metric");
            logs.metric(step, "train_loss", 0.1).expect("metric");
        }
        end(&mut logs, 300, EndStatus::Finished);
        drop(logs);

        let failed = make_run(parent.path(), 2, "gan-mlp", "gan");
        let mut logs = RunLogs::open(&failed).expect("open");
        start(&mut logs);
        logs.metric(50, "fid_cnn", 80.0).expect("metric");
        logs.metric(60, "fid_cnn", 41.5).expect("metric");
        logs.metric(70, "fid_cnn", f64::NAN).expect("metric");
        logs.event(
            70,
            RunEvent::Error {
                message: "loss is NaN".into(),
            },
        )
        .expect("error");
        end(&mut logs, 70, EndStatus::Failed);
        drop(logs);

        let crashed = make_run(parent.path(), 3, "cartpole-dqn", "rl");
        let mut logs = RunLogs::open(&crashed).expect("open");
        start(&mut logs);
        logs.metric(10, "mean_return_20", 21.0).expect("metric");
        drop(logs);

        let paused_live = make_run(parent.path(), 4, "mnist-mlp", "classifier");
        let lock = RunLock::acquire(paused_live.path()).expect("lock");
        let mut logs = RunLogs::open(&paused_live).expect("open");
        start(&mut logs);
        logs.event(5, RunEvent::Pause { reason: None })
            .expect("pause");
        drop(logs);

        let running = make_run(parent.path(), 4, "mnist-mlp", "classifier");
        let running_lock = RunLock::acquire(running.path()).expect("lock");
        let mut logs = RunLogs::open(&running).expect("open");
        start(&mut logs);
        logs.event(5, RunEvent::Pause { reason: None })
            .expect("pause");
        logs.event(6, RunEvent::Resume).expect("resume");
        drop(logs);

        let stopped = make_run(parent.path(), 5, "cartpole-pg", "rl");
        let mut logs = RunLogs::open(&stopped).expect("open");
        start(&mut logs);
        end(&mut logs, 9, EndStatus::Stopped);
        drop(logs);

        fs::create_dir(parent.path().join("not-a-run")).expect("mkdir");

        let runs = list_runs(parent.path()).expect("list");
        let rows: Vec<(String, RunStatus, u64)> = runs
            .iter()
            .map(|r| (r.scenario.clone(), r.status, r.steps))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("cartpole-pg".to_string(), RunStatus::Stopped, 9),
                ("mnist-mlp-2".to_string(), RunStatus::Running, 6),
                ("mnist-mlp".to_string(), RunStatus::Paused, 5),
                ("cartpole-dqn".to_string(), RunStatus::Interrupted, 10),
                ("gan-mlp".to_string(), RunStatus::Failed, 70),
                ("mnist-cnn".to_string(), RunStatus::Finished, 300),
            ]
        );
        let by_name = |name: &str| runs.iter().find(|r| r.scenario == name).expect(name);
        let best = by_name("mnist-cnn").best.clone().expect("best");
        assert_eq!(
            (best.name.as_str(), best.value, best.step, best.last),
            ("test_accuracy", 0.97, 200, 0.95)
        );
        let best = by_name("gan-mlp").best.clone().expect("best");
        assert_eq!(
            (best.name.as_str(), best.value, best.step),
            ("fid_cnn", 41.5, 60)
        );
        assert!(
            best.last.is_nan(),
            "the final figure is the NaN it ended on"
        );
        assert_eq!(by_name("gan-mlp").detail.as_deref(), Some("loss is NaN"));
        assert_eq!(by_name("cartpole-dqn").kind.as_deref(), Some("rl"));
        assert_eq!(by_name("mnist-mlp-2").pid, Some(std::process::id()));
        assert_eq!(by_name("cartpole-pg").best, None);
        assert_eq!(
            by_name("mnist-cnn").started.map(|s| s.display()),
            Some("2026-11-29 02:00:01".to_string())
        );

        // The same runs once their processes are gone: a lock file left behind counts for
        // nothing without its flock, even naming a live process (this one).
        drop(lock);
        drop(running_lock);
        let live = std::process::id();
        fs::write(running.path().join(LOCK_FILE), format!("{live}\n")).expect("stale lock");
        assert_eq!(
            run_status(running.path()).expect("status"),
            RunStatus::Interrupted
        );
        assert_eq!(
            run_status(paused_live.path()).expect("status"),
            RunStatus::Interrupted
        );
    }

    #[test]
    fn delete_refuses_a_running_run_and_removes_a_stopped_one() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = make_run(parent.path(), 1, "mnist-cnn", "classifier");
        let lock = RunLock::acquire(run.path()).expect("lock");
        match run.clone().delete() {
            Err(RunsError::Locked { holder, .. }) => {
                assert_eq!(holder.pid, Some(std::process::id()))
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        assert!(run.path().is_dir());
        drop(lock);
        run.clone().delete().expect("delete");
        assert!(!run.path().exists());
        assert!(list_runs(parent.path()).expect("list").is_empty());
    }

    #[test]
    fn a_runs_hyperparameters_are_read_from_its_config_as_sorted_text() {
        let parent = tempfile::tempdir().expect("temp dir");
        let config = "kind = \"classifier\"\nlr = 1e-3\nbatch_size = 32\nmodel = \"cnn\"\n\
                      [optimizer]\nbetas = [0.9, 0.999]\n";
        let run =
            RunDir::create_with_config_text(parent.path(), "fashion-cnn", config).expect("run");
        let summary = summarize_run(run.path()).expect("summary");
        let params: Vec<(&str, &str)> = summary
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            params,
            vec![
                ("batch_size", "32"),
                ("kind", "classifier"),
                ("lr", "0.001"),
                ("model", "cnn"),
                ("optimizer.betas", "[0.9, 0.999]"),
            ]
        );
    }

    #[test]
    fn missing_parent_lists_nothing() {
        let parent = tempfile::tempdir().expect("temp dir");
        assert!(list_runs(&parent.path().join("absent"))
            .expect("list")
            .is_empty());
    }

    #[test]
    fn index_refresh_follows_new_records_new_runs_and_deletions() {
        let parent = tempfile::tempdir().expect("temp dir");
        let mut index = RunsIndex::new(parent.path());
        assert!(index.refresh().expect("refresh").is_empty());

        let run = make_run(parent.path(), 1, "cartpole-dqn", "rl");
        let lock = RunLock::acquire(run.path()).expect("lock");
        let mut logs = RunLogs::open(&run).expect("open");
        start(&mut logs);
        logs.metric(10, "mean_return_20", 20.0).expect("metric");
        logs.metrics.flush().expect("flush");
        let rows = index.refresh().expect("refresh");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, RunStatus::Running);
        assert_eq!(rows[0].best.as_ref().map(|b| b.value), Some(20.0));

        logs.metric(20, "mean_return_20", 180.0).expect("metric");
        logs.metric(30, "mean_return_20", 90.0).expect("metric");
        end(&mut logs, 30, EndStatus::Finished);
        drop(logs);
        drop(lock);
        let other = make_run(parent.path(), 2, "cartpole-pg", "rl");
        let rows = index.refresh().expect("refresh");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].scenario, "cartpole-pg");
        let dqn = &rows[1];
        assert_eq!((dqn.status, dqn.steps), (RunStatus::Finished, 30));
        let best = dqn.best.as_ref().expect("best");
        assert_eq!((best.value, best.step), (180.0, 20));
        assert_eq!(rows, list_runs(parent.path()).expect("list"));

        other.delete().expect("delete");
        let rows = index.refresh().expect("refresh");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].scenario, "cartpole-dqn");
    }
}
