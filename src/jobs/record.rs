//! A job's run directory: created (or reopened for `resume`) by the job thread, locked for the
//! job's lifetime, and fed from the job's own event stream.
//!
//! The open [`RunSession`] is owned by the job thread's [`super::JobEnds`]: every
//! [`JobEvent::Metric`] becomes a `metrics.jsonl` record, and status changes, applied
//! hyperparameters, warnings and the summary become `events.jsonl` events (`pause`, `resume`,
//! `set`, `warning`, `error`, `end`). Checkpoints are written through [`RunSession::checkpoint`],
//! which logs their `checkpoint` event. Jobs need no logging code of their own.

use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::Serialize;

use super::interrupt;
use super::protocol::{
    History, JobEvent, JobStatus, Metric, Notice, RunTarget, SummaryStatus, USER_PAUSE,
};
use super::resume::ResumeError;
use crate::runs::{
    keep_last, load_latest_checkpoint, write_checkpoint, Checkpoint, EndStatus, Rejected, RunDir,
    RunEvent, RunLock, RunLogs, RunsError,
};

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

/// The summary's `status` for a job that ended with `status`: `interrupted` when a signal
/// stopped it.
pub fn summary_status(status: &JobStatus) -> SummaryStatus {
    match status {
        JobStatus::Stopped if interrupt::requested() => SummaryStatus::Interrupted,
        JobStatus::Stopped => SummaryStatus::Stopped,
        JobStatus::Failed(_) => SummaryStatus::Failed,
        _ => SummaryStatus::Finished,
    }
}

/// Why a job without a run directory (recording off) cannot checkpoint.
pub const NO_RUN_DIR: &str = "this run has no run directory";

/// The metric points of `dir` up to step `upto` that stand after dropping what earlier resumes
/// superseded; unreadable logs give an empty history (the curves then start at the checkpoint).
fn history(dir: &RunDir, upto: u64) -> History {
    let metrics = crate::runs::MetricsTail::new(&dir.metrics_path())
        .poll()
        .unwrap_or_default();
    let events = crate::runs::EventsTail::new(&dir.events_path())
        .poll()
        .unwrap_or_default();
    crate::runs::drop_superseded(metrics, &events)
        .into_iter()
        .filter(|m| m.step <= upto)
        .filter_map(|m| Some((m.step, Metric::from_name(&m.name)?, m.value)))
        .collect()
}

/// Why a job's run session did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeginError {
    /// The run's lock could not be taken for a reason the user can act on (another process
    /// writes the run, its lock file is not a plain file, the run folder is not writable): the
    /// job never starts.
    #[error("{0}")]
    Refused(String),
    /// The run directory could not be created, read or logged to: the job fails.
    #[error("{0}")]
    Failed(String),
}

impl BeginError {
    /// Why the lock of the run `target` names could not be taken: a refusal when the run's state
    /// is at fault (see [`refuses`]), worded for a resume as `gradtop resume` words it before
    /// starting; a failure otherwise.
    fn from_lock(err: RunsError, target: &RunTarget) -> Self {
        if !refuses(&err) {
            return BeginError::Failed(err.to_string());
        }
        BeginError::Refused(match target {
            RunTarget::Resume { .. } => ResumeError::from_lock(err).to_string(),
            RunTarget::New { .. } | RunTarget::Off => err.to_string(),
        })
    }
}

/// Whether failing to take a run's lock is the run's state, for the user to change (another
/// process holds it, its lock file is not a plain file, the run folder is not writable), rather
/// than a fault.
fn refuses(err: &RunsError) -> bool {
    use std::io::ErrorKind;
    match err {
        RunsError::Locked { .. } | RunsError::Invalid { .. } => true,
        RunsError::Io { source, .. } => matches!(
            source.kind(),
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem
        ),
        _ => false,
    }
}

impl From<RunsError> for BeginError {
    fn from(err: RunsError) -> Self {
        BeginError::Failed(err.to_string())
    }
}

/// A job's open run directory: its lock (held until dropped) and its logs.
#[derive(Debug)]
pub struct RunSession {
    dir: RunDir,
    lock: RunLock,
    keep: usize,
    logs: RunLogs,
    /// False once writing the logs failed: the user is told once, then recording stops rather
    /// than failing every step.
    recording: bool,
    /// Why the run can no longer be saved: the first write to its directory that failed (a
    /// log, a checkpoint), or the directory deleted. The driver ends the run failed with it.
    fault: Option<String>,
    summary: Option<serde_json::Value>,
    paused: bool,
    step: u64,
    ended: bool,
}

/// A session just opened.
#[derive(Debug)]
pub struct Begun {
    /// The open run.
    pub session: RunSession,
    /// The newest whole checkpoint (resume only; `None` for a new run or when none exists).
    pub checkpoint: Option<Checkpoint>,
    /// Newer checkpoints a resume passed over, with why.
    pub skipped: Vec<Rejected>,
    /// For a resumed run, the points it logged up to its checkpoint, for the curves.
    pub history: Option<History>,
}

impl RunSession {
    /// Opens the run `target` names — creating `<parent>/<stamp>-<scenario>/` with `config` as
    /// `config.toml`, or reopening an existing run and loading its newest whole checkpoint onto
    /// `device` — takes its lock and logs `start`. `Ok(None)` for [`RunTarget::Off`]; a lock
    /// the run's state keeps from being taken is [`BeginError::Refused`].
    pub fn begin(
        target: &RunTarget,
        scenario: &str,
        config: &toml::Table,
        keep: usize,
        device: &Device,
    ) -> Result<Option<Begun>, BeginError> {
        let mut skipped = Vec::new();
        let (dir, lock, checkpoint) = match target {
            RunTarget::Off => return Ok(None),
            RunTarget::New { parent } => {
                let dir = RunDir::create(parent, scenario, config)?;
                let lock =
                    RunLock::acquire(dir.path()).map_err(|e| BeginError::from_lock(e, target))?;
                (dir, lock, None)
            }
            RunTarget::Resume { dir } => {
                let dir = RunDir::open(dir)?;
                let lock =
                    RunLock::acquire(dir.path()).map_err(|e| BeginError::from_lock(e, target))?;
                // Held by us now, so no writer of this run can be mid-write.
                crate::atomic_file::remove_leftovers(dir.path()).map_err(|e| {
                    BeginError::Failed(format!(
                        "could not remove unfinished temporary files in {}: {e}",
                        dir.path().display()
                    ))
                })?;
                let latest = load_latest_checkpoint(&dir.checkpoints_dir(), device)?;
                skipped = latest.skipped;
                (dir, lock, latest.checkpoint)
            }
        };
        // A run made ahead of time (a sweep's queued run) that never started begins as a new
        // one: nothing to resume, no history to replay.
        let never_started =
            fs::metadata(dir.events_path()).map_or(true, |m| m.len() == 0) && checkpoint.is_none();
        let mut logs = RunLogs::open(&dir)?;
        let resumed_from = match target {
            RunTarget::Resume { .. } if !never_started => {
                Some(checkpoint.as_ref().map_or(0, |c| c.step))
            }
            _ => None,
        };
        let step = resumed_from.unwrap_or(0);
        // Read before `start` is logged, so the replayed points are exactly the earlier ones.
        let history = resumed_from.map(|upto| history(&dir, upto));
        logs.event(step, RunEvent::start_now(resumed_from))?;
        Ok(Some(Begun {
            session: RunSession {
                dir,
                lock,
                keep: keep.max(1),
                logs,
                recording: true,
                fault: None,
                summary: None,
                paused: false,
                step,
                ended: false,
            },
            checkpoint,
            skipped,
            history,
        }))
    }

    /// The run directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Records `event` in the run's logs; the error (a full disk, a deleted run) is returned
    /// once, as the line to tell the user, and recording stops.
    pub fn record(&mut self, event: &JobEvent) -> Option<String> {
        if !self.recording {
            if matches!(event, JobEvent::Status(status) if status.is_terminal()) {
                // Best effort: a log that failed was cut back to whole records, and when the
                // disk has room again for one line the run's list entry says how it ended.
                let _ = self.observe(event);
            }
            return None;
        }
        self.observe(event).err().map(|e| self.stop_recording(e))
    }

    /// The latest step the run's logs have reached.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Logs a `control` event: the control-file command `id` (`command`) applied at `step`, or
    /// refused with the reason; the error is returned once, as [`RunSession::record`] does.
    pub fn record_control(
        &mut self,
        step: u64,
        id: Option<String>,
        command: Option<&str>,
        outcome: Result<(), String>,
    ) -> Option<String> {
        if !self.recording || self.ended {
            return None;
        }
        let event = RunEvent::Control {
            id,
            command: command.map(String::from),
            accepted: outcome.is_ok(),
            reason: outcome.err(),
        };
        self.logs
            .event(step, event)
            .err()
            .map(|e| self.stop_recording(e))
    }

    /// Why the run can no longer be saved, once a write to its directory failed.
    pub fn fault(&self) -> Option<&str> {
        self.fault.as_deref()
    }

    fn stop_recording(&mut self, e: RunsError) -> String {
        self.recording = false;
        let message = match self.deleted().unwrap_or(e) {
            deleted @ RunsError::RunDeleted { .. } => deleted.to_string(),
            e => format!("run logs can no longer be written: {e}"),
        };
        self.fault.get_or_insert_with(|| message.clone());
        message
    }

    /// The error that says the run directory is gone (or its lock lost), if it is: a failed
    /// write is then explained by that rather than by the first file that went missing.
    fn deleted(&self) -> Option<RunsError> {
        self.lock.check_held().err()
    }

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
            JobEvent::Notice(Notice::Warning(message)) => self.logs.event(
                self.step,
                RunEvent::Warning {
                    message: message.clone(),
                },
            ),
            JobEvent::Summary(summary) => {
                self.summary = Some(summary.to_json());
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
            // A run that could not be saved ended failed, however its job ended.
            JobEvent::Status(JobStatus::Finished | JobStatus::Stopped) if self.fault.is_some() => {
                let why = self.fault.clone().unwrap_or_default();
                self.end_failed(&why)
            }
            JobEvent::Status(JobStatus::Finished) => self.end(EndStatus::Finished),
            JobEvent::Status(JobStatus::Stopped) => self.end(if interrupt::requested() {
                EndStatus::Interrupted
            } else {
                EndStatus::Stopped
            }),
            JobEvent::Status(JobStatus::Failed(why)) => self.end_failed(why),
            JobEvent::Status(_)
            | JobEvent::Notice(_)
            | JobEvent::Refused { .. }
            | JobEvent::Snapshot
            | JobEvent::History(_) => Ok(()),
        }
    }

    /// Logs `why` as an error, then a `failed` end.
    fn end_failed(&mut self, why: &str) -> crate::runs::Result<()> {
        self.logs.event(
            self.step,
            RunEvent::Error {
                message: why.to_string(),
            },
        )?;
        if self.summary.is_none() {
            self.summary = Some(serde_json::json!({ "reason": why }));
        }
        self.end(EndStatus::Failed)
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

    /// Writes a whole checkpoint of `tensors` and `state` at `step`, keeps the newest
    /// `keep_checkpoints`, logs a `checkpoint` event with `reason`, and returns the file's path
    /// and, when something short of the checkpoint failed (the logs, pruning), the line to tell
    /// the user. A checkpoint the run directory cannot take (a full disk, a deleted run) is
    /// [`NotWritten::Failed`] and becomes the run's [`RunSession::fault`].
    pub fn checkpoint<S: Serialize + ?Sized>(
        &mut self,
        step: u64,
        tensors: &[(String, Tensor)],
        state: &S,
        reason: &str,
    ) -> Result<(PathBuf, Option<String>), NotWritten> {
        if let Some(fault) = &self.fault {
            return Err(NotWritten::Failed(fault.clone()));
        }
        // Checked first: writing into a deleted run would re-create a fragment of it.
        if let Some(deleted) = self.deleted() {
            return Err(self.fail(deleted.to_string()));
        }
        // Every metric up to `step` reaches the disk before the checkpoint does: a run killed
        // right after it resumes with its whole curve.
        let mut warning = None;
        if self.recording {
            if let Err(e) = self.logs.metrics.flush() {
                warning = Some(self.stop_recording(e));
            }
        }
        let checkpoints = self.dir.checkpoints_dir();
        let info = match write_checkpoint(&checkpoints, step, tensors, state) {
            Ok(info) => info,
            Err(refused @ RunsError::NonFinite { .. }) => {
                return Err(NotWritten::Refused(refused.to_string()))
            }
            Err(e) => {
                let why = match self.deleted() {
                    Some(deleted) => deleted.to_string(),
                    None => format!("checkpoint at step {step} could not be written: {e}"),
                };
                return Err(self.fail(why));
            }
        };
        if let Err(e) = keep_last(&checkpoints, self.keep) {
            // The new checkpoint is whole; only older ones stay longer than asked.
            warning = Some(format!("removing old checkpoints: {e}"));
        }
        let file = info
            .tensors_path
            .strip_prefix(self.dir.path())
            .unwrap_or(&info.tensors_path)
            .to_string_lossy()
            .into_owned();
        if self.recording {
            self.step = self.step.max(step);
            let event = RunEvent::Checkpoint {
                file,
                reason: reason.to_string(),
            };
            if let Err(e) = self.logs.event(step, event) {
                warning = Some(self.stop_recording(e));
            }
        }
        Ok((info.tensors_path, warning))
    }

    /// Makes `why` the run's fault (unless it already has one) and the checkpoint's failure.
    fn fail(&mut self, why: String) -> NotWritten {
        NotWritten::Failed(self.fault.get_or_insert(why).clone())
    }
}

/// Why a checkpoint was not written, and whether the run can go on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotWritten {
    /// Refused before anything was written (the weights are not finite, there is no run
    /// directory): the newest checkpoint stays the one before, and the run goes on.
    Refused(String),
    /// The run directory could not take it (a full disk, the run deleted): the run can no
    /// longer be saved and ends failed with this reason.
    Failed(String),
}

impl std::fmt::Display for NotWritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(why) | Self::Failed(why) => f.write_str(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::ends::{spawn, JobEnds};
    use crate::jobs::protocol::Param;
    use crate::runs::{read_jsonl, EventRecord, MetricRecord};

    /// Opens a session of a run named `unit` that keeps 2 checkpoints and makes it record the
    /// job's events, as the driver does; returns the history a resume replays.
    fn attach_unit_session(
        target: &RunTarget,
        ends: &mut JobEnds,
    ) -> Result<(Option<Checkpoint>, Option<History>), String> {
        let begun = RunSession::begin(target, "unit", &toml::Table::new(), 2, &Device::Cpu)
            .map_err(|e| e.to_string())?
            .expect("a session");
        let path = begun.session.path().display().to_string();
        ends.attach(begun.session);
        ends.info(format!("run directory: {path}"));
        Ok((begun.checkpoint, begun.history))
    }

    /// A summary to end a run with.
    fn summary() -> crate::jobs::protocol::JobSummary {
        crate::jobs::protocol::JobSummary {
            scenario: "unit".into(),
            figures: crate::jobs::protocol::KindSummary::Rl(crate::models::rl::RlSummary {
                env: "CartPole-v1".into(),
                agent: "dqn".into(),
                env_steps: 4,
                episodes: 0,
                mean_return_20: None,
                solved_at_step: None,
                solved_at_seconds: None,
                steps_per_sec: 0.0,
            }),
            wall_seconds: 1.0,
            status: SummaryStatus::Finished,
            run_dir: None,
        }
    }

    #[test]
    fn a_run_deleted_under_its_job_ends_failed_and_is_not_recreated() {
        let parent = tempfile::tempdir().expect("temp dir");
        let target = RunTarget::New {
            parent: parent.path().to_path_buf(),
        };
        let (deleted_tx, deleted_rx) = std::sync::mpsc::channel::<()>();
        let mut handle = spawn("rec", move |events| {
            attach_unit_session(&target, events)?;
            events.metric(1, Metric::TrainLoss, 0.5);
            let run = events.run_dir().expect("a run").to_path_buf();
            std::fs::remove_dir_all(&run).map_err(|e| e.to_string())?;
            deleted_tx.send(()).map_err(|e| e.to_string())?;
            let w = Tensor::new(&[1f32], &Device::Cpu).expect("tensor");
            let written =
                events
                    .run()
                    .expect("a session")
                    .checkpoint(1, &[("w".into(), w)], &1, reason::KEY);
            assert!(matches!(written, Err(NotWritten::Failed(_))), "{written:?}");
            events.warn("a warning into a deleted run");
            events.status(JobStatus::Finished);
            Ok(())
        })
        .expect("spawn");
        let mut seen = Vec::new();
        while let Some(e) = handle.events.blocking_recv() {
            seen.push(e);
        }
        deleted_rx.recv().expect("the run was deleted");
        let run = std::path::PathBuf::from(
            seen.iter()
                .find_map(|e| match e {
                    JobEvent::Notice(Notice::Info(t)) => t.strip_prefix("run directory: "),
                    _ => None,
                })
                .expect("the run directory"),
        );
        let expected = format!("run directory {} was deleted", run.display());
        assert_eq!(
            seen.last(),
            Some(&JobEvent::Status(JobStatus::Failed(expected))),
            "{seen:?}"
        );
        assert!(!run.exists(), "the deleted run was re-created");
    }

    #[test]
    fn job_events_become_metric_records_and_run_events() {
        let parent = tempfile::tempdir().expect("temp dir");
        let target = RunTarget::New {
            parent: parent.path().to_path_buf(),
        };
        let mut handle = spawn("rec", move |events| {
            attach_unit_session(&target, events)?;
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
            events.info("informational, not logged");
            events.warn("a warning");
            let w = Tensor::new(&[1f32, 2.0], &Device::Cpu).expect("tensor");
            for step in [2, 3, 4] {
                events
                    .run()
                    .expect("a session")
                    .checkpoint(step, &[("w".into(), w.clone())], &step, reason::KEY)
                    .map_err(|e| e.to_string())?;
            }
            events.send(JobEvent::Summary(Box::new(summary())));
            events.status(JobStatus::Finished);
            events.metric(9, Metric::TrainLoss, 0.1);
            Ok(())
        })
        .expect("spawn");
        let mut notices = Vec::new();
        while let Some(e) = handle.events.blocking_recv() {
            if let JobEvent::Notice(n) = e {
                notices.push(n.text().to_string());
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
                summary: Some(summary().to_json()),
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
        let mut handle = spawn("rec", move |events| {
            let (checkpoint, history) = attach_unit_session(&target, events)?;
            assert_eq!(checkpoint.as_ref().map(|c| c.step), Some(4));
            if let Some(points) = history {
                events.send(JobEvent::History(points));
            }
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
