//! Listing the runs under a parent folder with their status and best figure, for the Runs tab.

use std::fs;
use std::path::{Path, PathBuf};

use super::clock::LocalTime;
use super::dir::RunDir;
use super::error::{IoContext, Result};
use super::lock::lock_holder;
use super::log::{EndStatus, EventRecord, MetricRecord, RunEvent};
use super::tail::read_jsonl;

/// Where a run stands, as the Runs tab shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// A live process holds its lock and it is not paused.
    Running,
    /// Paused in a live process, or stopped by the user before its end (resumable).
    Paused,
    /// Ran its full schedule.
    Finished,
    /// Ended with an error or divergence.
    Failed,
    /// Its process died without an `end` event (crash, `kill -9`, power loss), or ended on a
    /// signal; resumable from its last checkpoint.
    Interrupted,
}

impl RunStatus {
    /// Lower-case word for display and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Finished => "finished",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }

    /// Whether `gradtop resume` makes sense: not running, not finished.
    pub fn resumable(self) -> bool {
        matches!(self, Self::Paused | Self::Interrupted | Self::Failed)
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
}

/// One row of the Runs tab.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The run directory.
    pub path: PathBuf,
    /// `kind` from `config.toml` (`classifier`, `gan`, `rl`); `None` if absent or unreadable.
    pub kind: Option<String>,
    /// Scenario name from the directory name.
    pub scenario: String,
    /// Where the run stands.
    pub status: RunStatus,
    /// The pid writing the run, while it runs.
    pub pid: Option<u32>,
    /// Highest step in the metrics log.
    pub steps: u64,
    /// Best value of the headline metric, if any was logged.
    pub best: Option<BestFigure>,
    /// Local start time, from the directory name.
    pub started: Option<LocalTime>,
    /// Why it failed or paused (last error message or pause reason), when known.
    pub detail: Option<String>,
}

/// Every run directory directly under `parent`, newest first; folders without `config.toml`
/// are skipped, and a missing parent lists nothing. Reads logs only: safe while runs are writing.
pub fn list_runs(parent: &Path) -> Result<Vec<RunSummary>> {
    let entries = match fs::read_dir(parent) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).at("listing runs in", parent),
    };
    let mut runs = Vec::new();
    for entry in entries {
        let entry = entry.at("listing runs in", parent)?;
        let path = entry.path();
        if RunDir::open(&path).is_err() {
            continue;
        }
        runs.push(summarize_run(&path)?);
    }
    runs.sort_by(|a, b| {
        let name = |r: &RunSummary| r.path.file_name().map(|n| n.to_os_string());
        b.started
            .cmp(&a.started)
            .then_with(|| name(b).cmp(&name(a)))
    });
    Ok(runs)
}

/// The Runs-tab row of one run directory.
pub fn summarize_run(run_dir: &Path) -> Result<RunSummary> {
    let run = RunDir::open(run_dir)?;
    let kind = run
        .config()
        .ok()
        .and_then(|c| c.get("kind").and_then(|k| k.as_str()).map(str::to_string));
    let (events, _) = read_jsonl::<EventRecord>(&run.events_path())?;
    let pid = lock_holder(run.path());
    let (status, detail) = status_from(&events, pid.is_some());
    let (metrics, _) = read_jsonl::<MetricRecord>(&run.metrics_path())?;
    let steps = metrics
        .iter()
        .map(|m| m.step)
        .chain(events.iter().map(|e| e.step))
        .max()
        .unwrap_or(0);
    Ok(RunSummary {
        path: run.path().to_path_buf(),
        kind,
        scenario: run.scenario_name(),
        status,
        pid,
        steps,
        best: best_figure(&metrics),
        started: run.started(),
        detail,
    })
}

/// The status of one run directory (see [`RunStatus`]).
pub fn run_status(run_dir: &Path) -> Result<RunStatus> {
    let run = RunDir::open(run_dir)?;
    let (events, _) = read_jsonl::<EventRecord>(&run.events_path())?;
    Ok(status_from(&events, lock_holder(run.path()).is_some()).0)
}

/// Status and detail from the events and whether a live process holds the lock.
fn status_from(events: &[EventRecord], live: bool) -> (RunStatus, Option<String>) {
    let last_error = events.iter().rev().find_map(|e| match &e.event {
        RunEvent::Error { message } => Some(message.clone()),
        _ => None,
    });
    let last_lifecycle = events.iter().rev().find(|e| {
        matches!(
            e.event,
            RunEvent::Start { .. }
                | RunEvent::Pause { .. }
                | RunEvent::Resume
                | RunEvent::End { .. }
        )
    });
    let pause_reason = |event: &RunEvent| match event {
        RunEvent::Pause { reason } => reason.clone(),
        _ => None,
    };
    match last_lifecycle.map(|e| &e.event) {
        Some(event @ RunEvent::Pause { .. }) if live => (RunStatus::Paused, pause_reason(event)),
        _ if live => (RunStatus::Running, None),
        Some(RunEvent::End { status, summary }) => match status {
            EndStatus::Finished => (RunStatus::Finished, None),
            EndStatus::Failed => (
                RunStatus::Failed,
                last_error.or_else(|| summary.as_ref().map(summary_text)),
            ),
            EndStatus::Stopped => (RunStatus::Paused, None),
            EndStatus::Interrupted => (RunStatus::Interrupted, None),
        },
        _ => (RunStatus::Interrupted, last_error),
    }
}

fn summary_text(summary: &serde_json::Value) -> String {
    match summary {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The best value of the first [`HEADLINE_METRICS`] entry present; NaN values never win.
pub fn best_figure(metrics: &[MetricRecord]) -> Option<BestFigure> {
    HEADLINE_METRICS.iter().find_map(|&(name, better)| {
        metrics
            .iter()
            .filter(|m| m.name == name && !m.value.is_nan())
            .fold(None::<&MetricRecord>, |best, m| match best {
                Some(b)
                    if (better == Better::Higher && b.value >= m.value)
                        || (better == Better::Lower && b.value <= m.value) =>
                {
                    Some(b)
                }
                _ => Some(m),
            })
            .map(|m| BestFigure {
                name: name.to_string(),
                value: m.value,
                step: m.step,
                better,
            })
    })
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
                ("cartpole-pg".to_string(), RunStatus::Paused, 9),
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
            (best.name.as_str(), best.value, best.step),
            ("test_accuracy", 0.97, 200)
        );
        let best = by_name("gan-mlp").best.clone().expect("best");
        assert_eq!(
            (best.name.as_str(), best.value, best.step),
            ("fid_cnn", 41.5, 60)
        );
        assert_eq!(by_name("gan-mlp").detail.as_deref(), Some("loss is NaN"));
        assert_eq!(by_name("cartpole-dqn").kind.as_deref(), Some("rl"));
        assert_eq!(by_name("mnist-mlp-2").pid, Some(std::process::id()));
        assert_eq!(by_name("cartpole-pg").best, None);
        assert_eq!(
            by_name("mnist-cnn").started.map(|s| s.display()),
            Some("2026-11-29 02:00:01".to_string())
        );

        // The same runs once their processes are gone: locks left behind by a dead pid.
        drop(lock);
        drop(running_lock);
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let dead = child.id();
        child.wait().expect("reap");
        fs::write(running.path().join(LOCK_FILE), format!("{dead}\n")).expect("stale lock");
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
            Err(RunsError::Locked { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("expected Locked, got {other:?}"),
        }
        assert!(run.path().is_dir());
        drop(lock);
        run.clone().delete().expect("delete");
        assert!(!run.path().exists());
        assert!(list_runs(parent.path()).expect("list").is_empty());
    }

    #[test]
    fn missing_parent_lists_nothing() {
        let parent = tempfile::tempdir().expect("temp dir");
        assert!(list_runs(&parent.path().join("absent"))
            .expect("list")
            .is_empty());
    }
}
