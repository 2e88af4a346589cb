//! A job's run directory: created (or reopened for `resume`) by the job thread, locked for the
//! job's lifetime, and fed from the job's own event stream.
//!
//! Once a [`RunSession`] is open, the job's [`EventSink`] carries a [`Recorder`]: every
//! [`JobEvent::Metric`] becomes a `metrics.jsonl` record, and status changes, applied
//! hyperparameters, notices and the summary become `events.jsonl` events (`pause`, `resume`,
//! `set`, `warning`, `error`, `end`). Checkpoints are written through [`RunSession::checkpoint`],
//! which logs their `checkpoint` event. Jobs need no logging code of their own.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::Serialize;

use super::{interrupt, EventSink, JobEvent, JobStatus, USER_PAUSE};
use crate::runs::{
    keep_last, load_latest_checkpoint, write_checkpoint, Checkpoint, EndStatus, RunDir, RunEvent,
    RunLock, RunLogs,
};

/// Where a job keeps its run directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RunTarget {
    /// No run directory (unit tests, benchmarks).
    #[default]
    Off,
    /// A new `<parent>/<YYYYmmdd-HHMMSS>-<scenario>/`.
    New {
        /// The runs folder (`--runs-dir`, `$GRADTOP_RUNS` or `./runs`).
        parent: PathBuf,
    },
    /// An existing run, continued from its newest whole checkpoint (`gradtop resume`).
    Resume {
        /// The run directory.
        dir: PathBuf,
    },
}

/// Checkpoint `reason`s, as written in `events.jsonl`.
pub mod reason {
    /// Every `checkpoint_every` steps.
    pub const PERIODIC: &str = "periodic";
    /// The user pressed `c`.
    pub const KEY: &str = "key";
    /// The user paused the run.
    pub const PAUSE: &str = "pause";
    /// SIGTERM, SIGHUP or SIGINT.
    pub const SIGNAL: &str = "signal";
    /// The run ended (finished or stopped).
    pub const END: &str = "end";
}

/// The reason for a job's last checkpoint: `signal` when the process is being interrupted.
pub fn exit_reason() -> &'static str {
    if interrupt::requested() {
        reason::SIGNAL
    } else {
        reason::END
    }
}

/// The `status` word of a job's summary: `interrupted` when a signal stopped it.
pub fn summary_status(status: &JobStatus) -> &'static str {
    match status {
        JobStatus::Stopped if interrupt::requested() => "interrupted",
        JobStatus::Stopped => "stopped",
        JobStatus::Failed(_) => "failed",
        _ => "finished",
    }
}

/// Turns a job's events into log records; lives in the job's [`EventSink`].
#[derive(Debug)]
pub struct Recorder {
    logs: RunLogs,
    summary: Option<serde_json::Value>,
    paused: bool,
    step: u64,
    ended: bool,
}

/// Why a job without a run directory (recording off) cannot checkpoint.
pub const NO_RUN_DIR: &str = "this run has no run directory";

/// The job's session, or [`NO_RUN_DIR`] as the error a checkpoint request gets.
pub fn session(run: &Option<RunSession>) -> Result<&RunSession, String> {
    run.as_ref().ok_or_else(|| NO_RUN_DIR.to_string())
}

/// The metric points of `dir` up to step `upto` that stand after dropping what earlier resumes
/// superseded; unreadable logs give an empty history (the curves then start at the checkpoint).
fn history(dir: &RunDir, upto: u64) -> Vec<(u64, super::Metric, f64)> {
    let metrics = crate::runs::MetricsTail::new(&dir.metrics_path())
        .poll()
        .unwrap_or_default();
    let events = crate::runs::EventsTail::new(&dir.events_path())
        .poll()
        .unwrap_or_default();
    crate::runs::drop_superseded(metrics, &events)
        .into_iter()
        .filter(|m| m.step <= upto)
        .filter_map(|m| Some((m.step, super::follow::metric_named(&m.name)?, m.value)))
        .collect()
}

impl Recorder {
    /// Records `event`; errors are the log files' (a full disk, a deleted run).
    fn observe(&mut self, event: &JobEvent) -> crate::runs::Result<()> {
        if self.ended {
            return Ok(());
        }
        match event {
            JobEvent::Metric {
                step,
                metric,
                value,
            } => {
                self.step = self.step.max(*step);
                self.logs.metric(*step, metric.name(), *value)
            }
            JobEvent::Progress(p) => {
                self.step = self.step.max(p.step);
                Ok(())
            }
            JobEvent::Applied { param, value, step } => self.logs.event(
                *step,
                RunEvent::Set {
                    param: param.key().to_string(),
                    value: *value,
                },
            ),
            JobEvent::Notice(message) => self.logs.event(
                self.step,
                RunEvent::Warning {
                    message: message.clone(),
                },
            ),
            JobEvent::Summary(summary) => {
                self.summary = Some(summary.clone());
                Ok(())
            }
            JobEvent::Status(JobStatus::Paused(why)) => {
                self.paused = true;
                self.logs.event(
                    self.step,
                    RunEvent::Pause {
                        reason: (why != USER_PAUSE).then(|| why.clone()),
                    },
                )
            }
            JobEvent::Status(JobStatus::Running) if self.paused => {
                self.paused = false;
                self.logs.event(self.step, RunEvent::Resume)
            }
            JobEvent::Status(JobStatus::Finished) => self.end(EndStatus::Finished),
            JobEvent::Status(JobStatus::Stopped) => self.end(if interrupt::requested() {
                EndStatus::Interrupted
            } else {
                EndStatus::Stopped
            }),
            JobEvent::Status(JobStatus::Failed(why)) => {
                self.logs.event(
                    self.step,
                    RunEvent::Error {
                        message: why.clone(),
                    },
                )?;
                if self.summary.is_none() {
                    self.summary = Some(serde_json::json!({ "reason": why }));
                }
                self.end(EndStatus::Failed)
            }
            JobEvent::Status(_)
            | JobEvent::Refused { .. }
            | JobEvent::Snapshot
            | JobEvent::History(_) => Ok(()),
        }
    }

    fn end(&mut self, status: EndStatus) -> crate::runs::Result<()> {
        self.ended = true;
        self.logs.event(
            self.step,
            RunEvent::End {
                status,
                summary: self.summary.take(),
            },
        )?;
        self.logs.sync()
    }
}

impl EventSink {
    /// Sends `event` to the run's logs (if recording) and then to the UI.
    pub(super) fn record(&self, event: &JobEvent) {
        let mut slot = self
            .recorder
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(recorder) = slot.as_mut() {
            if let Err(e) = recorder.observe(event) {
                // Tell the user once, then stop recording rather than fail every step.
                *slot = None;
                let _ = self.tx.send(JobEvent::Notice(format!(
                    "run logs can no longer be written: {e}"
                )));
            }
        }
    }

    /// Sends a notice to the UI only (not logged as a warning): informational lines.
    pub fn notify(&self, message: impl Into<String>) {
        let _ = self.tx.send(JobEvent::Notice(message.into()));
    }

    /// Logs `event` at `step` in the run's `events.jsonl`, if this job records a run.
    pub fn log_event(&self, step: u64, event: RunEvent) {
        let mut slot = self
            .recorder
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(recorder) = slot.as_mut() {
            recorder.step = recorder.step.max(step);
            if let Err(e) = recorder.logs.event(step, event) {
                *slot = None;
                let _ = self.tx.send(JobEvent::Notice(format!(
                    "run logs can no longer be written: {e}"
                )));
            }
        }
    }

    /// Writes the buffered metric records now, so a checkpoint never gets ahead of its curve.
    fn flush_logs(&self) {
        let mut slot = self
            .recorder
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(recorder) = slot.as_mut() {
            if let Err(e) = recorder.logs.metrics.flush() {
                *slot = None;
                let _ = self.tx.send(JobEvent::Notice(format!(
                    "run logs can no longer be written: {e}"
                )));
            }
        }
    }

    fn attach(&self, recorder: Recorder) {
        *self
            .recorder
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(recorder);
    }
}

/// A job's open run directory: holds its lock until dropped.
#[derive(Debug)]
pub struct RunSession {
    dir: RunDir,
    _lock: RunLock,
    keep: usize,
    events: EventSink,
}

/// A session just opened, with the checkpoint to continue from when resuming.
#[derive(Debug)]
pub struct Begun {
    /// The open run.
    pub session: RunSession,
    /// The newest whole checkpoint (resume only; `None` for a new run or when none exists).
    pub checkpoint: Option<Checkpoint>,
}

impl RunSession {
    /// Opens the run `target` names — creating `<parent>/<stamp>-<scenario>/` with `config` as
    /// `config.toml`, or reopening an existing run and loading its newest whole checkpoint onto
    /// `device` — takes its lock, logs `start`, attaches a [`Recorder`] to `events` and tells the
    /// UI the directory. `Ok(None)` for [`RunTarget::Off`].
    pub fn begin(
        target: &RunTarget,
        scenario: &str,
        config: &toml::Table,
        keep: usize,
        events: &EventSink,
        device: &Device,
    ) -> Result<Option<Begun>, String> {
        let text = |e: crate::runs::RunsError| e.to_string();
        let (dir, lock, checkpoint) = match target {
            RunTarget::Off => return Ok(None),
            RunTarget::New { parent } => {
                let dir = RunDir::create(parent, scenario, config).map_err(text)?;
                let lock = RunLock::acquire(dir.path()).map_err(text)?;
                (dir, lock, None)
            }
            RunTarget::Resume { dir } => {
                let dir = RunDir::open(dir).map_err(text)?;
                let lock = RunLock::acquire(dir.path()).map_err(text)?;
                let checkpoint =
                    load_latest_checkpoint(&dir.checkpoints_dir(), device).map_err(text)?;
                (dir, lock, checkpoint)
            }
        };
        let mut logs = RunLogs::open(&dir).map_err(text)?;
        let resumed_from = match target {
            RunTarget::Resume { .. } => Some(checkpoint.as_ref().map_or(0, |c| c.step)),
            _ => None,
        };
        let step = resumed_from.unwrap_or(0);
        if let Some(upto) = resumed_from {
            // Before the recorder is attached, so the replayed points are not logged twice.
            events.send(JobEvent::History(history(&dir, upto)));
        }
        logs.event(step, RunEvent::start_now(resumed_from))
            .map_err(text)?;
        events.attach(Recorder {
            logs,
            summary: None,
            paused: false,
            step,
            ended: false,
        });
        events.notify(match resumed_from {
            Some(step) => format!(
                "run directory: {} (resumed at step {step})",
                dir.path().display()
            ),
            None => format!("run directory: {}", dir.path().display()),
        });
        Ok(Some(Begun {
            session: RunSession {
                dir,
                _lock: lock,
                keep: keep.max(1),
                events: events.clone(),
            },
            checkpoint,
        }))
    }

    /// The run directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a whole checkpoint of `tensors` and `state` at `step`, keeps the newest
    /// `keep_checkpoints`, logs a `checkpoint` event with `reason`, and returns the file's path.
    pub fn checkpoint<S: Serialize + ?Sized>(
        &self,
        step: u64,
        tensors: &[(String, Tensor)],
        state: &S,
        reason: &str,
    ) -> Result<PathBuf, String> {
        // Every metric up to `step` reaches the disk before the checkpoint does: a run killed
        // right after it resumes with its whole curve.
        self.events.flush_logs();
        let checkpoints = self.dir.checkpoints_dir();
        let info =
            write_checkpoint(&checkpoints, step, tensors, state).map_err(|e| e.to_string())?;
        keep_last(&checkpoints, self.keep).map_err(|e| e.to_string())?;
        let file = info
            .tensors_path
            .strip_prefix(self.dir.path())
            .unwrap_or(&info.tensors_path)
            .to_string_lossy()
            .into_owned();
        self.events.log_event(
            step,
            RunEvent::Checkpoint {
                file,
                reason: reason.to_string(),
            },
        );
        Ok(info.tensors_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{spawn, Metric, Param};
    use crate::runs::{read_jsonl, EventRecord, MetricRecord};

    /// A session of a run named `unit` that keeps 2 checkpoints.
    fn unit_session(target: &RunTarget, events: &EventSink) -> Result<Begun, String> {
        Ok(
            RunSession::begin(target, "unit", &toml::Table::new(), 2, events, &Device::Cpu)?
                .expect("a session"),
        )
    }

    #[test]
    fn job_events_become_metric_records_and_run_events() {
        let parent = tempfile::tempdir().expect("temp dir");
        let target = RunTarget::New {
            parent: parent.path().to_path_buf(),
        };
        let mut handle = spawn::<(), _>("rec", move |ends| {
            let events = ends.control.events.clone();
            let begun = unit_session(&target, &events)?;
            events.metric(1, Metric::TrainLoss, 0.5);
            events.metric(2, Metric::TrainLoss, f64::NAN);
            events.send(JobEvent::Applied {
                param: Param::Lr,
                value: 0.01,
                step: 3,
            });
            events.status(JobStatus::Paused(USER_PAUSE.into()));
            events.status(JobStatus::Running);
            events.status(JobStatus::Paused("loss became NaN".into()));
            events.notify("informational, not logged");
            events.send(JobEvent::Notice("a warning".into()));
            let w = Tensor::new(&[1f32, 2.0], &Device::Cpu).expect("tensor");
            for step in [2, 3, 4] {
                begun
                    .session
                    .checkpoint(step, &[("w".into(), w.clone())], &step, reason::KEY)?;
            }
            events.send(JobEvent::Summary(serde_json::json!({ "steps": 4 })));
            events.status(JobStatus::Finished);
            events.metric(9, Metric::TrainLoss, 0.1);
            Ok(())
        })
        .expect("spawn");
        let mut notices = Vec::new();
        while let Some(e) = handle.events.blocking_recv() {
            if let JobEvent::Notice(n) = e {
                notices.push(n);
            }
        }
        let run = std::fs::read_dir(parent.path())
            .expect("runs")
            .next()
            .expect("a run")
            .expect("entry")
            .path();
        assert!(notices[0].starts_with("run directory: "), "{notices:?}");
        assert!(run.ends_with(notices[0].trim_start_matches("run directory: ")));

        let (metrics, _) = read_jsonl::<MetricRecord>(&run.join("metrics.jsonl")).expect("read");
        let points: Vec<(u64, bool)> = metrics.iter().map(|m| (m.step, m.value.is_nan())).collect();
        assert_eq!(points, vec![(1, false), (2, true)], "nothing after the end");

        let (events, _) = read_jsonl::<EventRecord>(&run.join("events.jsonl")).expect("read");
        let kinds: Vec<(u64, String)> = events
            .iter()
            .map(|e| {
                let v = serde_json::to_value(&e.event).expect("json");
                (e.step, v["kind"].as_str().unwrap_or("?").to_string())
            })
            .collect();
        let expected = [
            (0, "start"),
            // `set` is stamped with the first step trained with the new value; the rest with
            // the last step trained.
            (3, "set"),
            (2, "pause"),
            (2, "resume"),
            (2, "pause"),
            (2, "warning"),
            (2, "checkpoint"),
            (3, "checkpoint"),
            (4, "checkpoint"),
            (4, "end"),
        ];
        assert_eq!(
            kinds,
            expected
                .iter()
                .map(|(s, k)| (*s, k.to_string()))
                .collect::<Vec<_>>()
        );
        assert_eq!(events[2].event, RunEvent::Pause { reason: None });
        assert_eq!(
            events[4].event,
            RunEvent::Pause {
                reason: Some("loss became NaN".into())
            }
        );
        assert_eq!(
            events[9].event,
            RunEvent::End {
                status: EndStatus::Finished,
                summary: Some(serde_json::json!({ "steps": 4 })),
            }
        );
        let kept = crate::runs::whole_checkpoints(&run.join("checkpoints")).expect("scan");
        assert_eq!(kept.iter().map(|c| c.step).collect::<Vec<_>>(), vec![4, 3]);
        assert!(
            !run.join("lock").exists(),
            "the lock is released with the session"
        );

        // Resuming sends the earlier points once, for the curves, and does not log them again.
        let target = RunTarget::Resume { dir: run.clone() };
        let mut handle = spawn::<(), _>("rec", move |ends| {
            let events = ends.control.events.clone();
            let begun = unit_session(&target, &events)?;
            assert_eq!(begun.checkpoint.as_ref().map(|c| c.step), Some(4));
            events.metric(5, Metric::TrainLoss, 0.25);
            // The end flushes the logs before the job's channel closes.
            events.status(JobStatus::Finished);
            Ok(())
        })
        .expect("spawn");
        let mut history = None;
        while let Some(e) = handle.events.blocking_recv() {
            if let JobEvent::History(points) = e {
                history = Some(points);
            }
        }
        let history = history.expect("a history event");
        let steps: Vec<(u64, Metric)> = history.iter().map(|p| (p.0, p.1)).collect();
        assert_eq!(steps, vec![(1, Metric::TrainLoss), (2, Metric::TrainLoss)]);
        assert_eq!(history[0].2, 0.5);
        let (metrics, _) = read_jsonl::<MetricRecord>(&run.join("metrics.jsonl")).expect("read");
        let steps: Vec<u64> = metrics.iter().map(|m| m.step).collect();
        assert_eq!(steps, vec![1, 2, 5], "the history is not recorded twice");
    }
}
