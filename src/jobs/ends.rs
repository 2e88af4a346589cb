//! The two ends of a job's channels: [`JobHandle`] on the UI's side (commands out, events in, the
//! latest snapshot), [`JobEnds`] on the job thread (commands in, events out, recorded in the run
//! directory when there is one), and [`spawn`], which starts a job thread between them.
//!
//! Bulky values (image grids, confusion matrices, episode frames) go through a `watch` slot that
//! keeps only the latest value, so a slow UI never backs a job up.

use std::path::Path;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::control::{ControlInbox, ControlOrigin, Received};
use super::protocol::{JobCommand, JobEvent, JobStatus, Metric, Notice, Snapshot};
use super::record::RunSession;

/// Longest a paused job waits for the UI before looking at its run's control file again.
const HOLD_WAKE: Duration = Duration::from_millis(250);

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

    /// Tells the job the UI is leaving and waits for its thread (used on quit so checkpoints
    /// complete): a training job stops, a watcher stops following and leaves its run alone.
    pub fn stop_and_join(&mut self) {
        self.send(JobCommand::Detach);
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
    /// The run's `control.jsonl`, the second source of commands, once a run is attached.
    control: Option<ControlInbox>,
    /// The control-file command being applied, until it is acknowledged.
    origin: Option<ControlOrigin>,
    /// The last error reading the control file, told once until it changes.
    control_error: Option<String>,
    /// Waits for the UI's next command with a timeout while paused (built when first needed).
    waiter: Option<tokio::runtime::Runtime>,
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
                Some(JobCommand::Stop | JobCommand::Detach) | None => return false,
                Some(_) => {}
            }
        }
    }

    /// The next pending command without waiting, the UI's first, then one from the run's
    /// control file (looked at every [`super::control::CONTROL_INTERVAL`]); `None` when there is
    /// none or the UI went away (the run then continues, headless-style, to its end). A command
    /// from the file is acknowledged in the run's log by [`JobEnds::acknowledge`].
    pub fn try_command(&mut self) -> Option<JobCommand> {
        self.origin = None;
        if let Ok(command) = self.commands.try_recv() {
            return Some(command);
        }
        self.control_command()
    }

    /// The next command of the control file that a job can apply; lines it cannot are
    /// acknowledged refused on the way.
    fn control_command(&mut self) -> Option<JobCommand> {
        loop {
            match self.control.as_mut()?.receive()? {
                Received::Command(command, origin) => {
                    self.origin = Some(origin);
                    return Some(command);
                }
                Received::Refused {
                    id,
                    command,
                    reason,
                } => {
                    let step = self.run.as_ref().map_or(0, RunSession::step);
                    self.log_control(step, id, command, Err(reason));
                }
                Received::Unreadable(error) => {
                    if self.control_error.as_ref() != Some(&error) {
                        self.control_error = Some(error.clone());
                        self.warn(format!("control file: {error}"));
                    }
                    return None;
                }
            }
        }
    }

    /// Acknowledges the control-file command just taken (if the last command came from the
    /// file): applied at `step`, or refused with the reason. A command from the UI needs none.
    pub fn acknowledge(&mut self, step: u64, outcome: Result<(), String>) {
        if let Some(origin) = self.origin.take() {
            self.log_control(step, Some(origin.id), Some(origin.command), outcome);
        }
    }

    /// Logs a `control` event and tells the UI.
    fn log_control(
        &mut self,
        step: u64,
        id: Option<String>,
        command: Option<&'static str>,
        outcome: Result<(), String>,
    ) {
        let what = format!(
            "control {} ({})",
            command.unwrap_or("line"),
            id.as_deref().unwrap_or("no id")
        );
        let text = match &outcome {
            Ok(()) => format!("{what} applied at step {step}"),
            Err(reason) => format!("{what} refused: {reason}"),
        };
        if let Some(error) = self
            .run
            .as_mut()
            .and_then(|run| run.record_control(step, id, command, outcome))
        {
            let _ = self.events.send(JobEvent::Notice(Notice::Warning(error)));
        }
        let _ = self.events.send(JobEvent::Notice(Notice::Info(text)));
    }

    /// True once the UI's end of the command channel is gone (the dashboard quit).
    pub fn ui_gone(&self) -> bool {
        self.commands.is_closed()
    }

    /// Waits for the next command, from the UI or the run's control file (looked at every
    /// [`HOLD_WAKE`] while waiting); `None` once the UI has gone away.
    pub fn next_command(&mut self) -> Option<JobCommand> {
        self.origin = None;
        if self.control.is_none() {
            return self.commands.blocking_recv();
        }
        loop {
            match self.commands.try_recv() {
                Ok(command) => return Some(command),
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            if let Some(command) = self.control_command() {
                return Some(command);
            }
            if self.waiter.is_none() {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    Ok(waiter) => self.waiter = Some(waiter),
                    Err(e) => {
                        self.warn(format!(
                            "cannot wait for the control file while paused ({e}): only the \
                             dashboard's keys resume this run"
                        ));
                        self.control = None;
                        return self.commands.blocking_recv();
                    }
                }
            }
            let Some(waiter) = &self.waiter else {
                return self.commands.blocking_recv();
            };
            let commands = &mut self.commands;
            match waiter.block_on(async { tokio::time::timeout(HOLD_WAKE, commands.recv()).await })
            {
                Ok(command) => return command,
                Err(_elapsed) => {}
            }
        }
    }

    /// Makes `session` the run whose logs record every event from now on, and follows its
    /// control file from its current end.
    pub fn attach(&mut self, session: RunSession) {
        match ControlInbox::open(session.path()) {
            Ok(inbox) => self.control = Some(inbox),
            Err(e) => {
                let _ = self.events.send(JobEvent::Notice(Notice::Warning(format!(
                    "control file: {e}: the run cannot be steered from other terminals"
                ))));
            }
        }
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
                control: None,
                origin: None,
                control_error: None,
                waiter: None,
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
