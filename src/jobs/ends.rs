//! The two ends of a job's channels: [`JobHandle`] on the UI's side (commands out, events in, the
//! latest snapshot), [`JobEnds`] on the job thread (commands in, events out, recorded in the run
//! directory when there is one), and [`spawn`], which starts a job thread between them.
//!
//! Bulky values (image grids, confusion matrices, episode frames) go through a `watch` slot that
//! keeps only the latest value, so a slow UI never backs a job up.

use std::path::Path;

use tokio::sync::{mpsc, watch};

use super::protocol::{JobCommand, JobEvent, JobStatus, Metric, Notice, Snapshot};
use super::record::RunSession;

/// The UI's end of a job: send commands, receive events, read the latest snapshot.
#[derive(Debug)]
pub struct JobHandle {
    commands: mpsc::UnboundedSender<JobCommand>,
    /// Events in order.
    pub events: mpsc::UnboundedReceiver<JobEvent>,
    /// The latest bulky snapshot (image grid, confusion matrix, …).
    pub snapshot: watch::Receiver<Option<Snapshot>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl JobHandle {
    /// Sends a command; a job that has ended simply ignores it.
    pub fn send(&self, command: JobCommand) {
        let _ = self.commands.send(command);
    }

    /// The latest snapshot the job published, if any.
    pub fn latest(&self) -> Option<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// True once the job thread has returned.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Asks the job to stop and waits for its thread (used on quit so checkpoints complete).
    pub fn stop_and_join(&mut self) {
        self.send(JobCommand::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The job thread's end: commands in, events out, the snapshot slot, and the run directory
/// whose logs record every event sent. Owned by the job thread alone.
#[derive(Debug)]
pub struct JobEnds {
    // Dropped first: the run's lock is released before the UI sees the event channel close.
    run: Option<RunSession>,
    commands: mpsc::UnboundedReceiver<JobCommand>,
    events: mpsc::UnboundedSender<JobEvent>,
    snapshot: watch::Sender<Option<Snapshot>>,
}

impl JobEnds {
    /// Sends an event (recording it in the run's logs first), ignoring a UI that has gone away.
    pub fn send(&mut self, event: JobEvent) {
        let error = self.run.as_mut().and_then(|run| run.record(&event));
        if matches!(
            event,
            JobEvent::Status(JobStatus::Finished | JobStatus::Stopped)
        ) {
            // A run that could not be saved, or whose end could not be recorded, failed
            // however its job ended: the user must not take it for a saved one.
            if let Some(why) = error.clone().or_else(|| self.run_fault().map(String::from)) {
                let _ = self.events.send(JobEvent::Status(JobStatus::Failed(why)));
                return;
            }
        }
        if let Some(error) = error {
            // Straight to the UI: the logs that would record it are what failed.
            let _ = self.events.send(JobEvent::Notice(Notice::Warning(error)));
        }
        let _ = self.events.send(event);
    }

    /// Sends one metric point.
    pub fn metric(&mut self, step: u64, metric: Metric, value: f64) {
        self.send(JobEvent::Metric {
            step,
            metric,
            value,
        });
    }

    /// Sends a status change.
    pub fn status(&mut self, status: JobStatus) {
        self.send(JobEvent::Status(status));
    }

    /// Tells the user something informational (not logged).
    pub fn info(&mut self, text: impl Into<String>) {
        self.send(JobEvent::Notice(Notice::Info(text.into())));
    }

    /// Warns the user; the warning is logged in the run's `events.jsonl`.
    pub fn warn(&mut self, text: impl Into<String>) {
        self.send(JobEvent::Notice(Notice::Warning(text.into())));
    }

    /// Publishes a snapshot and tells the UI it is there.
    pub fn publish(&mut self, snapshot: impl Into<Snapshot>) {
        self.snapshot.send_replace(Some(snapshot.into()));
        self.send(JobEvent::Snapshot);
    }

    /// Blocks until `Start` (true), or `Stop` or the UI going away (false).
    pub fn wait_for_start(&mut self) -> bool {
        loop {
            match self.commands.blocking_recv() {
                Some(JobCommand::Start) => return true,
                Some(JobCommand::Stop) | None => return false,
                Some(_) => {}
            }
        }
    }

    /// The next pending command without waiting; `None` when there is none or the UI went away
    /// (the run then continues, headless-style, to its end).
    pub fn try_command(&mut self) -> Option<JobCommand> {
        self.commands.try_recv().ok()
    }

    /// True once the UI's end of the command channel is gone (the dashboard quit).
    pub fn ui_gone(&self) -> bool {
        self.commands.is_closed()
    }

    /// Waits for the next command; `None` once the UI has gone away.
    pub fn next_command(&mut self) -> Option<JobCommand> {
        self.commands.blocking_recv()
    }

    /// Makes `session` the run whose logs record every event from now on.
    pub fn attach(&mut self, session: RunSession) {
        self.run = Some(session);
    }

    /// The open run directory's session, if this job records one.
    pub fn run(&mut self) -> Option<&mut RunSession> {
        self.run.as_mut()
    }

    /// The run directory, if this job records one.
    pub fn run_dir(&self) -> Option<&Path> {
        self.run.as_ref().map(RunSession::path)
    }

    /// Why the run can no longer be saved (a write to its directory failed, or it was
    /// deleted), once that happened: the driver ends the run failed with it.
    pub fn run_fault(&self) -> Option<&str> {
        self.run.as_ref().and_then(RunSession::fault)
    }
}

/// Starts `body` on a named OS thread, inside a compute pool of its own (see
/// [`crate::ops::runtime::in_compute_pool`]). A panic inside it becomes `Failed` with the panic's
/// message, so a broken job never takes the dashboard down.
pub fn spawn<F>(name: &str, body: F) -> std::io::Result<JobHandle>
where
    F: FnOnce(&mut JobEnds) -> Result<(), String> + Send + 'static,
{
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(None);
    let thread_name = format!("{JOB_THREAD_PREFIX}{name}");
    let thread = std::thread::Builder::new()
        .name(thread_name.clone())
        .spawn(move || {
            let mut ends = JobEnds {
                commands: cmd_rx,
                events: ev_tx,
                snapshot: snap_tx,
                run: None,
            };
            // The pool's threads are named `job-…` too, so a panic there is still a job's.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                crate::ops::runtime::in_compute_pool(&thread_name, || body(&mut ends))
            }));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => ends.status(JobStatus::Failed(reason)),
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    ends.status(JobStatus::Failed(format!("the job panicked: {msg}")));
                }
            }
        })?;
    Ok(JobHandle {
        commands: cmd_tx,
        events: ev_rx,
        snapshot: snap_rx,
        thread: Some(thread),
    })
}

/// The prefix of every job thread's name (and its compute pool's threads').
const JOB_THREAD_PREFIX: &str = "job-";

/// True when the current thread is a job thread (the panic hook leaves the terminal alone then).
pub fn on_job_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with(JOB_THREAD_PREFIX))
}
