//! Training jobs: one OS thread per job, commands in, typed events out.
//!
//! The UI never touches a tensor. A job owns its device, weights and optimizer; it reads
//! [`JobCommand`]s from an unbounded channel between steps and sends [`JobEvent`]s out. Bulky
//! values (image grids, confusion matrices, episode frames) go through a `watch` slot that
//! keeps only the latest value, so a slow UI never backs a job up.

pub mod classifier;
pub mod follow;
pub mod gan;
pub mod interrupt;
pub mod record;
pub mod rl;
pub mod run_files;

use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{mpsc, watch};

pub use crate::params::Param;
pub use record::{RunSession, RunTarget};

/// The reason [`Control`] gives when the user pauses (other reasons come from guards).
pub const USER_PAUSE: &str = "paused by user";

/// What the UI (or the headless driver) asks a job to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JobCommand {
    /// Begin training (a job waits in `Ready` until this arrives).
    Start,
    /// Hold between two steps.
    Pause,
    /// Continue after a pause.
    Resume,
    /// End the run after the current step.
    Stop,
    /// Change a hyperparameter from the next step on.
    Set(Param, f64),
    /// Write a checkpoint now.
    Checkpoint,
    /// RL: play one episode with the current greedy policy and publish its frames.
    Watch,
}

/// Where a job is in its life.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum JobStatus {
    /// Created, waiting for `Start`.
    Ready,
    /// Loading data or building the model.
    Loading(String),
    /// Training.
    Running,
    /// Held by the user or by a guard (NaN loss, …); the reason says which.
    Paused(String),
    /// Ran to its planned end.
    Finished,
    /// Stopped by the user before its end.
    Stopped,
    /// Could not continue: bad data, a panic, an error.
    Failed(String),
}

impl JobStatus {
    /// True once the job thread has ended or is about to.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobStatus::Finished | JobStatus::Stopped | JobStatus::Failed(_)
        )
    }

    /// True while training or paused: quitting would interrupt it.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            JobStatus::Loading(_) | JobStatus::Running | JobStatus::Paused(_)
        )
    }
}

/// Named series a job reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Mean training loss of one step.
    TrainLoss,
    /// Accuracy on the training batches since the last report.
    TrainAccuracy,
    /// Accuracy on (a subset of) the test set.
    TestAccuracy,
    /// Mean loss on (a subset of) the test set.
    TestLoss,
    /// Training throughput.
    SamplesPerSec,
    /// RL: return of one finished episode.
    EpisodeReturn,
    /// RL: length of one finished episode.
    EpisodeLength,
    /// RL: moving average of the last 20 returns.
    MeanReturn20,
    /// RL: the agent's training loss.
    Loss,
    /// RL: DQN's exploration rate.
    Epsilon,
    /// RL: PPO's policy entropy.
    Entropy,
    /// RL: environment steps per second.
    StepsPerSec,
    /// GAN: discriminator loss.
    DLoss,
    /// GAN: generator loss.
    GLoss,
    /// GAN: mean D(x) on real images.
    DReal,
    /// GAN: mean D(G(z)) on generated images.
    DFake,
    /// GAN: iterations per second.
    ItersPerSec,
    /// GAN: Fréchet distance of CNN features (lower is better).
    FidCnn,
}

impl Metric {
    /// Name in logs and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Metric::TrainLoss => "train_loss",
            Metric::TrainAccuracy => "train_accuracy",
            Metric::TestAccuracy => "test_accuracy",
            Metric::TestLoss => "test_loss",
            Metric::SamplesPerSec => "samples_per_sec",
            Metric::EpisodeReturn => "episode_return",
            Metric::EpisodeLength => "episode_length",
            Metric::MeanReturn20 => "mean_return_20",
            Metric::Loss => "loss",
            Metric::Epsilon => "epsilon",
            Metric::Entropy => "entropy",
            Metric::StepsPerSec => "steps_per_sec",
            Metric::DLoss => "d_loss",
            Metric::GLoss => "g_loss",
            Metric::DReal => "d_real",
            Metric::DFake => "d_fake",
            Metric::ItersPerSec => "iterations_per_sec",
            Metric::FidCnn => "fid_cnn",
        }
    }
}

/// How far a run has come, for the gauge, the rate and the ETA.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Progress {
    /// Steps done.
    pub step: u64,
    /// Steps planned in all.
    pub total_steps: u64,
    /// Current epoch, 1-based.
    pub epoch: usize,
    /// Planned epochs.
    pub epochs: usize,
    /// Throughput in the job's natural unit (samples/s for a classifier).
    pub rate: f64,
    /// Seconds left at the current rate.
    pub eta_s: Option<f64>,
}

impl Progress {
    /// Fraction of the run done, in [0, 1].
    pub fn fraction(&self) -> f64 {
        if self.total_steps == 0 {
            0.0
        } else {
            (self.step as f64 / self.total_steps as f64).clamp(0.0, 1.0)
        }
    }
}

/// Everything a job says, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// Its status changed.
    Status(JobStatus),
    /// One point of a series.
    Metric {
        /// Training step the value belongs to.
        step: u64,
        /// Which series.
        metric: Metric,
        /// The value.
        value: f64,
    },
    /// Progress and speed.
    Progress(Progress),
    /// A hyperparameter change took effect at `step`.
    Applied {
        /// Which one.
        param: Param,
        /// Its new value.
        value: f64,
        /// First step trained with it.
        step: u64,
    },
    /// The job refused a change (the UI validates first; this covers job-side limits).
    Refused {
        /// Which one.
        param: Param,
        /// Why.
        reason: String,
    },
    /// A new snapshot is waiting in the job's watch slot.
    Snapshot,
    /// Something the user should know (a checkpoint written, a warning).
    Notice(String),
    /// The run ended; the summary the headless `--json` mode prints last.
    Summary(serde_json::Value),
    /// The points a resumed run logged before its checkpoint, `(step, metric, value)`, sent once
    /// when the job starts so its curves continue where they were; not recorded again.
    History(Vec<(u64, Metric, f64)>),
}

/// The sending half a job uses; a closed receiver (UI gone) is not an error for the job.
/// Once the job opens its run directory, every event is also recorded there (see [`record`]).
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::UnboundedSender<JobEvent>,
    recorder: Arc<Mutex<Option<record::Recorder>>>,
}

impl EventSink {
    /// Sends an event (recording it in the run's logs), ignoring a receiver that has gone away.
    pub fn send(&self, event: JobEvent) {
        self.record(&event);
        let _ = self.tx.send(event);
    }

    /// Sends one metric point.
    pub fn metric(&self, step: u64, metric: Metric, value: f64) {
        self.send(JobEvent::Metric {
            step,
            metric,
            value,
        });
    }

    /// Sends a status change.
    pub fn status(&self, status: JobStatus) {
        self.send(JobEvent::Status(status));
    }
}

/// What a training loop should do after looking at its commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep training.
    Continue,
    /// End the run now.
    Stop,
}

/// The parts of a trainer that commands reach, so [`Control`] can apply them at a step boundary.
pub trait Steer {
    /// Applies a hyperparameter change, or says why it cannot.
    fn set(&mut self, param: Param, value: f64) -> Result<(), String>;
    /// Writes a checkpoint for `reason` (see [`record::reason`]) and says where, or why it
    /// could not.
    fn checkpoint(&mut self, reason: &str) -> Result<String, String>;
    /// The next step to be trained, for `Applied` events.
    fn next_step(&self) -> u64;
    /// Plays a greedy episode for the user to watch (RL only); other jobs say it does not apply.
    fn watch(&mut self) -> Result<(), String> {
        Err("nothing to watch in this job".into())
    }
}

/// The job side of the command channel: drains commands between steps and holds while paused.
#[derive(Debug)]
pub struct Control {
    commands: mpsc::UnboundedReceiver<JobCommand>,
    /// Where events go.
    pub events: EventSink,
}

impl Control {
    /// Blocks until `Start` (or `Stop`, or the UI going away).
    pub fn wait_for_start(&mut self) -> Flow {
        loop {
            match self.commands.blocking_recv() {
                Some(JobCommand::Start) => return Flow::Continue,
                Some(JobCommand::Stop) | None => return Flow::Stop,
                Some(_) => {}
            }
        }
    }

    fn handle(&mut self, command: JobCommand, steer: &mut dyn Steer) -> Option<Flow> {
        match command {
            JobCommand::Set(param, value) => {
                match steer.set(param, value) {
                    Ok(()) => self.events.send(JobEvent::Applied {
                        param,
                        value,
                        step: steer.next_step(),
                    }),
                    Err(reason) => self.events.send(JobEvent::Refused { param, reason }),
                }
                None
            }
            JobCommand::Checkpoint => {
                self.checkpoint(steer, record::reason::KEY);
                None
            }
            JobCommand::Watch => {
                if let Err(e) = steer.watch() {
                    self.events.send(JobEvent::Notice(e));
                }
                None
            }
            JobCommand::Stop => Some(Flow::Stop),
            JobCommand::Start | JobCommand::Resume | JobCommand::Pause => None,
        }
    }

    /// Writes a checkpoint through `steer` and tells the user where (or why not).
    pub fn checkpoint(&mut self, steer: &mut dyn Steer, reason: &str) {
        match steer.checkpoint(reason) {
            Ok(path) => self.events.notify(format!("checkpoint written: {path}")),
            Err(e) => self
                .events
                .send(JobEvent::Notice(format!("checkpoint failed: {e}"))),
        }
    }

    /// Applies every pending command; on `Pause` checkpoints and holds until `Resume` or `Stop`.
    /// A stop signal ([`interrupt`]) ends the run.
    pub fn poll(&mut self, steer: &mut dyn Steer) -> Flow {
        if interrupt::requested() {
            return Flow::Stop;
        }
        loop {
            match self.commands.try_recv() {
                Ok(JobCommand::Pause) => {
                    self.checkpoint(steer, record::reason::PAUSE);
                    return self.hold(USER_PAUSE, steer);
                }
                Ok(command) => {
                    if let Some(flow) = self.handle(command, steer) {
                        return flow;
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => return Flow::Continue,
                // The UI went away: the run continues headless-style until its end.
                Err(mpsc::error::TryRecvError::Disconnected) => return Flow::Continue,
            }
        }
    }

    /// Pauses with `reason` and applies commands until `Resume` or `Stop`.
    pub fn hold(&mut self, reason: &str, steer: &mut dyn Steer) -> Flow {
        self.events.status(JobStatus::Paused(reason.to_string()));
        loop {
            match self.commands.blocking_recv() {
                Some(JobCommand::Resume) | Some(JobCommand::Start) => {
                    self.events.status(JobStatus::Running);
                    return Flow::Continue;
                }
                Some(JobCommand::Pause) => {}
                Some(command) => {
                    if let Some(flow) = self.handle(command, steer) {
                        return flow;
                    }
                }
                None => return Flow::Stop,
            }
        }
    }
}

/// The UI's end of a job: send commands, receive events, read the latest snapshot.
#[derive(Debug)]
pub struct JobHandle<S> {
    commands: mpsc::UnboundedSender<JobCommand>,
    /// Events in order.
    pub events: mpsc::UnboundedReceiver<JobEvent>,
    /// The latest bulky snapshot (image grid, confusion matrix, …).
    pub snapshot: watch::Receiver<Option<Arc<S>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<S> JobHandle<S> {
    /// Sends a command; a job that has ended simply ignores it.
    pub fn send(&self, command: JobCommand) {
        let _ = self.commands.send(command);
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

/// The job side's handles, given to the training function.
#[derive(Debug)]
pub struct JobEnds<S> {
    /// Commands in, events out.
    pub control: Control,
    /// Where snapshots go.
    pub snapshot: watch::Sender<Option<Arc<S>>>,
}

impl<S> JobEnds<S> {
    /// Publishes a snapshot and tells the UI it is there.
    pub fn publish(&self, value: S) {
        self.snapshot.send_replace(Some(Arc::new(value)));
        self.control.events.send(JobEvent::Snapshot);
    }
}

/// Starts `body` on a named OS thread, inside a compute pool of its own (see
/// [`crate::ops::runtime::in_compute_pool`]). A panic inside it becomes `Failed` with the panic's
/// message, so a broken job never takes the dashboard down.
pub fn spawn<S, F>(name: &str, body: F) -> std::io::Result<JobHandle<S>>
where
    S: Send + Sync + 'static,
    F: FnOnce(&mut JobEnds<S>) -> Result<(), String> + Send + 'static,
{
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(None);
    let sink = EventSink {
        tx: ev_tx,
        recorder: Arc::default(),
    };
    let thread_name = format!("job-{name}");
    let thread = std::thread::Builder::new()
        .name(thread_name.clone())
        .spawn(move || {
            let mut ends = JobEnds {
                control: Control {
                    commands: cmd_rx,
                    events: sink.clone(),
                },
                snapshot: snap_tx,
            };
            // The pool's threads are named `job-…` too, so a panic there is still a job's.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                crate::ops::runtime::in_compute_pool(&thread_name, || body(&mut ends))
            }));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => sink.status(JobStatus::Failed(reason)),
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    sink.status(JobStatus::Failed(format!("the job panicked: {msg}")));
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

/// A candle error as one readable line: backtraces (captured when `RUST_BACKTRACE` is set)
/// belong in bug reports, not in a status line.
pub fn error_text(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => error_text(inner),
        candle_core::Error::Context { inner, context } => {
            format!("{context}: {}", error_text(inner))
        }
        other => other.to_string(),
    }
}

/// True when the current thread is a job thread (the panic hook leaves the terminal alone then).
pub fn on_job_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("job-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dummy {
        lr: f64,
        step: u64,
    }

    impl Steer for Dummy {
        fn set(&mut self, param: Param, value: f64) -> Result<(), String> {
            match param {
                Param::Lr => {
                    self.lr = value;
                    Ok(())
                }
                other => Err(format!("{other} is not live here")),
            }
        }
        fn checkpoint(&mut self, _reason: &str) -> Result<String, String> {
            Ok("ckpt".into())
        }
        fn next_step(&self) -> u64 {
            self.step
        }
    }

    fn drain(h: &mut JobHandle<()>) -> Vec<JobEvent> {
        let mut out = Vec::new();
        while let Some(e) = h.events.blocking_recv() {
            out.push(e);
        }
        out
    }

    #[test]
    fn commands_apply_between_steps_and_report_their_step() {
        let mut h = spawn::<(), _>("t", |ends| {
            let mut d = Dummy { lr: 1.0, step: 0 };
            if ends.control.wait_for_start() == Flow::Stop {
                return Ok(());
            }
            while d.step < 1000 {
                if ends.control.poll(&mut d) == Flow::Stop {
                    break;
                }
                d.step += 1;
            }
            ends.control.events.metric(d.step, Metric::TrainLoss, d.lr);
            Ok(())
        })
        .unwrap();
        // All four are queued before the job's first poll, so they apply at step 0 in order.
        h.send(JobCommand::Start);
        h.send(JobCommand::Set(Param::Lr, 0.5));
        h.send(JobCommand::Set(Param::Gamma, 0.5));
        h.send(JobCommand::Stop);
        let events = drain(&mut h);
        assert!(events.contains(&JobEvent::Applied {
            param: Param::Lr,
            value: 0.5,
            step: 0
        }));
        assert!(events.iter().any(|e| matches!(
            e,
            JobEvent::Refused {
                param: Param::Gamma,
                ..
            }
        )));
        assert!(matches!(
            events.last(),
            Some(JobEvent::Metric { value, step, .. }) if *value == 0.5 && *step == 0
        ));
    }

    #[test]
    fn a_panicking_job_is_reported_failed() {
        let mut h = spawn::<(), _>("boom", |_| panic!("kaboom")).unwrap();
        let events = drain(&mut h);
        assert!(matches!(
            events.last(),
            Some(JobEvent::Status(JobStatus::Failed(m))) if m.contains("kaboom")
        ));
    }

    #[test]
    fn pause_holds_until_resume() {
        // The job polls only once the commands are queued.
        let (go, queued) = std::sync::mpsc::channel::<()>();
        let mut h = spawn::<(), _>("p", move |ends| {
            queued.recv().map_err(|e| e.to_string())?;
            let mut d = Dummy { lr: 1.0, step: 7 };
            assert_eq!(ends.control.poll(&mut d), Flow::Continue);
            ends.control.events.metric(0, Metric::TrainLoss, 1.0);
            Ok(())
        })
        .unwrap();
        h.send(JobCommand::Pause);
        h.send(JobCommand::Set(Param::Lr, 0.25));
        h.send(JobCommand::Resume);
        go.send(()).unwrap();
        let events = drain(&mut h);
        assert_eq!(
            events[0],
            JobEvent::Notice("checkpoint written: ckpt".into()),
            "a pause checkpoints first"
        );
        assert_eq!(
            events[1],
            JobEvent::Status(JobStatus::Paused(USER_PAUSE.into()))
        );
        assert_eq!(
            events[2],
            JobEvent::Applied {
                param: Param::Lr,
                value: 0.25,
                step: 7
            }
        );
        assert_eq!(events[3], JobEvent::Status(JobStatus::Running));
    }
}
