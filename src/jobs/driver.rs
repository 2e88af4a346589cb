//! The one lifecycle every job shares, written once: wait for `Start`, build, open or resume the
//! run directory, train step by step while applying commands, checkpoint (periodically, on `c`,
//! on pause, at the end and on signals), hold on divergence, and end with a summary.
//!
//! A job kind implements [`Trainable`] — its step, its live hyperparameters, its checkpoint
//! contents, its progress and its summary — and nothing of this loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};

use super::ends::JobEnds;
use super::protocol::{
    JobCommand, JobEvent, JobSpec, JobStatus, JobSummary, KindSummary, Param, Progress, USER_PAUSE,
};
use super::record::{self, exit_reason, reason, BeginError, NotWritten, RunSession};
use crate::data::{lookup, DataSource, Dataset, DatasetName};
use crate::runs::Checkpoint;

/// Time between progress events (and the moments a job may publish what it publishes on a
/// timer).
const REPORT_INTERVAL: Duration = Duration::from_millis(200);

/// What the user is told on resuming a job that diverged: the weights hold the diverged
/// update, and no checkpoint of them was or will be written.
const DIVERGED_RESUME: &str = "resumed after divergence: the weights hold the diverged \
     update, so training will likely diverge again; lower lr and press s to restart, or \
     resume the run from its last checkpoint";

/// What a checkpoint holds: tensors under stable names and a JSON sidecar `state`.
#[derive(Debug)]
pub struct CheckpointData {
    /// The step the checkpoint is named by.
    pub step: u64,
    /// Weights, optimizer moments and any other tensor state.
    pub tensors: Vec<(String, Tensor)>,
    /// Counters, RNG states and hyperparameters in force.
    pub state: serde_json::Value,
}

/// What one training step came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Stepped {
    /// A step was trained; `report_now` asks for a progress event now (an epoch ended).
    Trained {
        /// Send progress now rather than on the timer.
        report_now: bool,
    },
    /// The loss or the weights are no longer finite: the job holds with this reason.
    Diverged(String),
}

/// One kind of training, as the driver sees it.
pub trait Trainable {
    /// Steps done so far, in the kind's unit (checkpoints are named by it).
    fn step(&self) -> u64;
    /// True once the run reached its planned end (the driver also applies `--steps`).
    fn is_done(&self) -> bool;
    /// Trains one step and reports what it measured through `ends`.
    fn train_step(&mut self, ends: &mut JobEnds) -> Result<Stepped, String>;
    /// Applies a live hyperparameter change from the next step on, or says why it cannot.
    fn set(&mut self, param: Param, value: f64) -> Result<(), String>;
    /// The live hyperparameters this job has, for announcing those a resume brought back.
    fn live_params(&self) -> &'static [Param];
    /// The value in force of a live hyperparameter; `None` when it has none to show.
    fn value(&self, param: Param) -> Option<f64>;
    /// Everything a checkpoint taken now holds.
    fn checkpoint_data(&self) -> Result<CheckpointData, String>;
    /// Continues from `checkpoint` (telling the user through `ends` what did not come back), or
    /// says why it cannot.
    fn restore(&mut self, checkpoint: &Checkpoint, ends: &mut JobEnds) -> Result<(), String>;
    /// Steps between periodic checkpoints (0: none).
    fn checkpoint_every(&self) -> u64;
    /// How far the run has come, for the gauge and the ETA.
    fn progress(&self) -> Progress;
    /// The kind's figures for the summary.
    fn summary(&self) -> KindSummary;
    /// Called once before the first step (after any restore): a first snapshot, a baseline score.
    fn begin(&mut self, ends: &mut JobEnds) -> Result<(), String> {
        let _ = ends;
        Ok(())
    }
    /// Called with every progress event: a chance to publish what is published on a timer.
    fn on_report(&mut self, ends: &mut JobEnds) {
        let _ = ends;
    }
    /// Called once after the last step, before the end checkpoint: final evaluations.
    fn finish(&mut self, ends: &mut JobEnds, status: &JobStatus) -> Result<(), String> {
        let _ = (ends, status);
        Ok(())
    }
    /// Plays one episode with the greedy policy for the user to watch (RL only).
    fn play_greedy(&mut self, ends: &mut JobEnds) -> Result<(), String> {
        let _ = ends;
        Err("there is no policy to play in this job".into())
    }
}

/// What the loop does after looking at its commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep training.
    Continue,
    /// End the run now.
    Stop,
}

/// Runs a job to its end: waits for `Start`, builds it with `build` on the spec's device, opens
/// (or resumes) its run directory, trains, and reports. A kind's adapter supplies only `build`.
pub fn run<T, B>(spec: &JobSpec, ends: &mut JobEnds, build: B) -> Result<(), String>
where
    T: Trainable,
    B: FnOnce(&mut JobEnds, &Device) -> Result<T, String>,
{
    ends.status(JobStatus::Ready);
    if !ends.wait_for_start() {
        ends.status(JobStatus::Stopped);
        return Ok(());
    }
    ends.status(JobStatus::Loading(match spec.dataset() {
        Some(dataset) => format!("loading {dataset}"),
        None => "building the agent".into(),
    }));
    let device = spec.device.open()?;
    let mut job = build(ends, &device)?;
    if open_run(spec, ends, &mut job, &device)? == Flow::Stop {
        return Ok(());
    }
    job.begin(ends)?;

    ends.status(JobStatus::Running);
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut last_periodic = job.step();
    let mut status = JobStatus::Finished;
    // True while the weights hold a diverged update, which no checkpoint should keep.
    let mut diverged = false;
    loop {
        if let Some(fault) = ends.run_fault() {
            status = JobStatus::Failed(fault.to_string());
            break;
        }
        if poll(ends, &mut job) == Flow::Stop {
            status = JobStatus::Stopped;
            break;
        }
        if job.is_done() || spec.max_steps.is_some_and(|m| job.step() >= m) {
            break;
        }
        let report_now = match job.train_step(ends)? {
            Stepped::Trained { report_now } => report_now,
            Stepped::Diverged(reason) => {
                diverged = true;
                ends.warn(reason.clone());
                if hold(ends, &mut job, &reason) == Flow::Stop {
                    // Stopped while diverged (`x`, or a headless run that cannot resume): the
                    // run failed, and its end says why.
                    status = JobStatus::Failed(reason);
                    break;
                }
                ends.warn(DIVERGED_RESUME);
                continue;
            }
        };
        diverged = false;
        let step = job.step();
        let every = job.checkpoint_every();
        // Steps may advance by more than one (RL's vector environments): checkpoint whenever a
        // multiple of `every` was passed.
        if every > 0 && step / every > last_periodic / every && ends.run_dir().is_some() {
            last_periodic = step;
            let _ = checkpoint(ends, &job, reason::PERIODIC);
        }
        if report_now || last_report.elapsed() >= REPORT_INTERVAL {
            last_report = Instant::now();
            ends.send(JobEvent::Progress(job.progress()));
            job.on_report(ends);
        }
    }
    fail_on_fault(ends, &mut status);
    job.finish(ends, &status)?;
    if ends.run_dir().is_some() && !diverged && ends.run_fault().is_none() {
        let _ = checkpoint(ends, &job, exit_reason());
        fail_on_fault(ends, &mut status);
    }
    let summary = JobSummary {
        scenario: spec.scenario.clone(),
        figures: job.summary(),
        wall_seconds: started.elapsed().as_secs_f64(),
        status: record::summary_status(&status),
        run_dir: ends.run_dir().map(|d| d.display().to_string()),
    };
    ends.send(JobEvent::Summary(Box::new(summary)));
    ends.status(status);
    Ok(())
}

/// Makes a run that can no longer be saved (its directory refused a write, or was deleted) end
/// failed with the reason, whatever else ended it: a run that was not saved is never reported
/// as finished or stopped.
fn fail_on_fault(ends: &JobEnds, status: &mut JobStatus) {
    if let Some(fault) = ends.run_fault() {
        if !matches!(status, JobStatus::Failed(_)) {
            *status = JobStatus::Failed(fault.to_string());
        }
    }
}

/// Loads the dataset `name` in the documented lookup order (the error says how to get it) and
/// tells the user where it came from.
pub fn load_dataset(
    spec: &JobSpec,
    name: DatasetName,
    ends: &mut JobEnds,
) -> Result<Arc<Dataset>, String> {
    let dataset = lookup::load(name, spec.data_dir.as_deref()).map_err(|e| e.to_string())?;
    if let Some(dir) = spec
        .data_dir
        .as_deref()
        .filter(|d| !dataset.dir.starts_with(d))
    {
        ends.warn(format!(
            "{name} is not in --data-dir {}: using the copy in {}",
            dir.display(),
            dataset.dir.display()
        ));
    }
    ends.info(format!(
        "{} from {}: {} train, {} test images",
        dataset.name,
        dataset.dir.display(),
        dataset.train.len(),
        dataset.test.len()
    ));
    Ok(Arc::new(dataset))
}

/// Loads the dataset of a scenario's `[data]` folder, every file checked, and logs what it holds.
pub fn load_folder(source: &DataSource, ends: &mut JobEnds) -> Result<Arc<Dataset>, String> {
    let dataset = source.load().map_err(|e| e.to_string())?;
    let (c, h, w) = dataset.image_shape();
    ends.info(format!(
        "{}: {} train, {} test images of {c}×{h}×{w}, classes {}",
        dataset.dir.display(),
        dataset.train.len(),
        dataset.test.len(),
        dataset.class_names().join(", ")
    ));
    Ok(Arc::new(dataset))
}

/// Refuses a batch larger than the training set: every step would be the whole set, and the
/// epoch count would no longer mean passes over the data.
pub fn fits_training_set(batch_size: usize, dataset: &Dataset) -> Result<(), String> {
    let images = dataset.train.len();
    if batch_size > images {
        return Err(format!(
            "batch_size = {batch_size} is larger than the training set ({images} images of \
             {}): use at most {images}",
            dataset.name
        ));
    }
    Ok(())
}

/// Opens the spec's run directory, if it has one; when resuming, replays the run's earlier
/// points to the UI, restores the newest whole checkpoint and announces the live values it
/// brought back, so the log and the panel agree. [`Flow::Stop`] when the run is not this job's
/// to write: the job has said [`JobStatus::Refused`] and must end without training.
fn open_run<T: Trainable>(
    spec: &JobSpec,
    ends: &mut JobEnds,
    job: &mut T,
    device: &Device,
) -> Result<Flow, String> {
    let begun = match RunSession::begin(
        &spec.run,
        &spec.scenario,
        &spec.settings.to_table(),
        spec.settings.keep_checkpoints(),
        device,
    ) {
        Ok(Some(begun)) => begun,
        Ok(None) => return Ok(Flow::Continue),
        Err(BeginError::Refused(reason)) => {
            ends.status(JobStatus::Refused(reason));
            return Ok(Flow::Stop);
        }
        Err(BeginError::Failed(reason)) => return Err(reason),
    };
    // A run made ahead of time that never started (a sweep's queued run) has no history and
    // begins as a new one.
    let resuming = begun.history.is_some();
    // Before the session records, so the replayed points are not logged twice.
    if let Some(points) = begun.history {
        ends.send(JobEvent::History(points));
    }
    let path = begun.session.path().display().to_string();
    ends.attach(begun.session);
    let unit = spec.kind().step_unit();
    for rejected in &begun.skipped {
        ends.warn(format!(
            "skipped checkpoint at {unit} {}: {rejected}",
            rejected.step
        ));
    }
    match begun.checkpoint {
        Some(checkpoint) => {
            ends.info(format!(
                "run directory: {path} (resumed at step {})",
                checkpoint.step
            ));
            let before: Vec<Option<f64>> =
                job.live_params().iter().map(|&p| job.value(p)).collect();
            job.restore(&checkpoint, ends)?;
            let next = job.step() + 1;
            for (&param, old) in job.live_params().iter().zip(before) {
                if let Some(value) = job.value(param).filter(|v| Some(*v) != old) {
                    ends.send(JobEvent::Applied {
                        param,
                        value,
                        step: next,
                    });
                }
            }
        }
        None if resuming => {
            ends.info(format!("run directory: {path} (resumed at step 0)"));
            ends.info(format!(
                "no whole checkpoint yet: starting again from {unit} 0"
            ));
        }
        None => ends.info(format!("run directory: {path}")),
    }
    Ok(Flow::Continue)
}

/// Writes a checkpoint of `job` for `why` and tells the user where, or why not (also
/// returned, for a control-file command's acknowledgement). A checkpoint the run directory
/// could not take becomes the run's fault ([`JobEnds::run_fault`]), which ends the run before
/// its next step.
pub fn checkpoint<T: Trainable + ?Sized>(
    ends: &mut JobEnds,
    job: &T,
    why: &str,
) -> Result<(), String> {
    let written = job
        .checkpoint_data()
        .map_err(NotWritten::Refused)
        .and_then(|data| {
            let run = ends
                .run()
                .ok_or_else(|| NotWritten::Refused(record::NO_RUN_DIR.to_string()))?;
            run.checkpoint(data.step, &data.tensors, &data.state, why)
        });
    match written {
        Ok((path, warning)) => {
            if let Some(warning) = warning {
                ends.warn(warning);
            }
            ends.info(format!("checkpoint written: {}", path.display()));
            Ok(())
        }
        Err(NotWritten::Refused(e)) => {
            ends.warn(format!("checkpoint failed: {e}"));
            Err(e)
        }
        // Told once, as the reason the run failed.
        Err(NotWritten::Failed(e)) => Err(e),
    }
}

/// Why a control-file `resume` is refused while the run trains.
const NOT_PAUSED: &str = "the run is not paused";
/// Why a control-file `pause` is refused while the run is held.
const ALREADY_PAUSED: &str = "the run is already paused";

/// Applies one command between steps, from the UI or the run's control file (which
/// [`JobEnds::acknowledge`] answers); `Some(flow)` when it decides the loop's course.
fn handle<T: Trainable + ?Sized>(
    ends: &mut JobEnds,
    job: &mut T,
    command: JobCommand,
) -> Option<Flow> {
    match command {
        JobCommand::Set(param, value) => {
            let step = job.step() + 1;
            match job.set(param, value) {
                Ok(()) => {
                    ends.send(JobEvent::Applied { param, value, step });
                    ends.acknowledge(step, Ok(()));
                }
                Err(reason) => {
                    ends.send(JobEvent::Refused {
                        param,
                        reason: reason.clone(),
                    });
                    ends.acknowledge(job.step(), Err(reason));
                }
            }
            None
        }
        JobCommand::Checkpoint => {
            let written = checkpoint(ends, job, reason::KEY);
            ends.acknowledge(job.step(), written);
            None
        }
        JobCommand::PlayGreedy => {
            if let Err(e) = job.play_greedy(ends) {
                ends.info(e);
            }
            None
        }
        JobCommand::Stop => {
            ends.acknowledge(job.step(), Ok(()));
            Some(Flow::Stop)
        }
        JobCommand::Detach => Some(Flow::Stop),
        JobCommand::Resume => {
            ends.acknowledge(job.step(), Err(NOT_PAUSED.into()));
            None
        }
        JobCommand::Start | JobCommand::Pause => None,
    }
}

/// Applies every pending command; on `Pause` checkpoints and holds until `Resume` or `Stop`.
/// A stop signal ([`super::interrupt`]) ends the run.
pub fn poll<T: Trainable + ?Sized>(ends: &mut JobEnds, job: &mut T) -> Flow {
    if super::interrupt::requested() {
        return Flow::Stop;
    }
    while let Some(command) = ends.try_command() {
        if command == JobCommand::Pause {
            if ends.run_dir().is_some() {
                let _ = checkpoint(ends, job, reason::PAUSE);
            }
            ends.acknowledge(job.step(), Ok(()));
            return hold(ends, job, USER_PAUSE);
        }
        if let Some(flow) = handle(ends, job, command) {
            return flow;
        }
    }
    Flow::Continue
}

/// Pauses with `why` and applies commands until `Resume` or `Stop`; stops at once when the
/// run can no longer be saved.
pub fn hold<T: Trainable + ?Sized>(ends: &mut JobEnds, job: &mut T, why: &str) -> Flow {
    if ends.run_fault().is_some() {
        return Flow::Stop;
    }
    ends.status(JobStatus::Paused(why.to_string()));
    loop {
        if ends.run_fault().is_some() {
            return Flow::Stop;
        }
        match ends.next_command() {
            Some(JobCommand::Resume) | Some(JobCommand::Start) => {
                ends.acknowledge(job.step(), Ok(()));
                ends.status(JobStatus::Running);
                return Flow::Continue;
            }
            Some(JobCommand::Pause) => ends.acknowledge(job.step(), Err(ALREADY_PAUSED.into())),
            Some(command) => {
                if let Some(flow) = handle(ends, job, command) {
                    return flow;
                }
            }
            None => return Flow::Stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ends::{spawn, JobHandle};
    use super::super::protocol::{Metric, Notice, RunTarget};
    use super::*;
    use crate::models::rl::RlSummary;
    use candle_core::{Device, Tensor};

    /// A job whose step only counts and whose one live value is `lr`; its one weight becomes
    /// NaN at `diverge_at`, and every step from there diverges.
    struct Counter {
        lr: f64,
        step: u64,
        until: u64,
        diverge_at: Option<u64>,
        weight: f32,
    }

    impl Counter {
        fn new(step: u64, until: u64) -> Self {
            Self {
                lr: 1.0,
                step,
                until,
                diverge_at: None,
                weight: 1.0,
            }
        }
    }

    impl Trainable for Counter {
        fn step(&self) -> u64 {
            self.step
        }
        fn is_done(&self) -> bool {
            self.step >= self.until
        }
        fn train_step(&mut self, ends: &mut JobEnds) -> Result<Stepped, String> {
            self.step += 1;
            // Once NaN, always NaN: every step from `diverge_at` on diverges.
            if self.diverge_at.is_some_and(|at| self.step >= at) {
                self.weight = f32::NAN;
                return Ok(Stepped::Diverged("loss became NaN".into()));
            }
            ends.metric(self.step, Metric::TrainLoss, self.lr);
            Ok(Stepped::Trained { report_now: false })
        }
        fn set(&mut self, param: Param, value: f64) -> Result<(), String> {
            match param {
                Param::Lr => {
                    self.lr = value;
                    Ok(())
                }
                other => Err(format!("{other} is not live here")),
            }
        }
        fn live_params(&self) -> &'static [Param] {
            &[Param::Lr]
        }
        fn value(&self, param: Param) -> Option<f64> {
            (param == Param::Lr).then_some(self.lr)
        }
        fn checkpoint_data(&self) -> Result<CheckpointData, String> {
            let weight = Tensor::new(&[self.weight], &Device::Cpu).map_err(|e| e.to_string())?;
            Ok(CheckpointData {
                step: self.step,
                tensors: vec![("w".into(), weight)],
                state: serde_json::json!({ "step": self.step }),
            })
        }
        fn restore(&mut self, checkpoint: &Checkpoint, _: &mut JobEnds) -> Result<(), String> {
            self.step = checkpoint.step;
            Ok(())
        }
        fn checkpoint_every(&self) -> u64 {
            0
        }
        fn progress(&self) -> Progress {
            Progress {
                step: self.step,
                total_steps: self.until,
                ..Progress::default()
            }
        }
        fn summary(&self) -> KindSummary {
            KindSummary::Rl(RlSummary {
                env: "counter".into(),
                agent: "none".into(),
                env_steps: self.step,
                episodes: 0,
                mean_return_20: None,
                solved_at_step: None,
                solved_at_seconds: None,
                steps_per_sec: 0.0,
            })
        }
    }

    fn drain(h: &mut JobHandle) -> Vec<JobEvent> {
        let mut out = Vec::new();
        while let Some(e) = h.events.blocking_recv() {
            out.push(e);
        }
        out
    }

    /// A spec for a counter job recording into `run`.
    fn counter_spec(run: RunTarget) -> JobSpec {
        let mut spec = JobSpec::new(&crate::scenario::Scenario {
            name: "counter".into(),
            settings: crate::scenario::Settings::Rl(Default::default()),
        });
        spec.run = run;
        spec
    }

    /// The one run directory under `parent`.
    fn only_run(parent: &std::path::Path) -> std::path::PathBuf {
        std::fs::read_dir(parent)
            .expect("runs")
            .next()
            .expect("a run directory")
            .expect("entry")
            .path()
    }

    /// A driven job that counts to `until` unless stopped; it waits for `Start`.
    fn spawn_counter(until: u64) -> JobHandle {
        let spec = counter_spec(RunTarget::Off);
        spawn("t", move |ends| {
            run(&spec, ends, |_, _| Ok(Counter::new(0, until)))
        })
        .expect("spawn")
    }

    #[test]
    fn commands_apply_between_steps_and_report_their_step() {
        let mut h = spawn_counter(1000);
        // All four are queued before the job's first poll, so they apply at step 1 in order.
        h.send(JobCommand::Start);
        h.send(JobCommand::Set(Param::Lr, 0.5));
        h.send(JobCommand::Set(Param::Gamma, 0.5));
        h.send(JobCommand::Stop);
        let events = drain(&mut h);
        assert!(events.contains(&JobEvent::Applied {
            param: Param::Lr,
            value: 0.5,
            step: 1
        }));
        assert!(events.iter().any(|e| matches!(
            e,
            JobEvent::Refused {
                param: Param::Gamma,
                ..
            }
        )));
        assert!(
            !events.iter().any(|e| matches!(e, JobEvent::Metric { .. })),
            "stopped before the first step: {events:?}"
        );
        assert_eq!(events.last(), Some(&JobEvent::Status(JobStatus::Stopped)));
        let summary = events.iter().find_map(|e| match e {
            JobEvent::Summary(s) => Some(s),
            _ => None,
        });
        assert_eq!(
            summary.map(|s| s.status),
            Some(crate::jobs::protocol::SummaryStatus::Stopped)
        );
    }

    #[test]
    fn a_job_runs_to_its_end_with_the_changed_value() {
        let mut h = spawn_counter(3);
        h.send(JobCommand::Set(Param::Lr, 0.25));
        h.send(JobCommand::Start);
        let events = drain(&mut h);
        let losses: Vec<(u64, f64)> = events
            .iter()
            .filter_map(|e| match e {
                JobEvent::Metric { step, value, .. } => Some((*step, *value)),
                _ => None,
            })
            .collect();
        // A change sent before `Start` is dropped with the other commands of a waiting job.
        assert_eq!(losses, vec![(1, 1.0), (2, 1.0), (3, 1.0)]);
        assert_eq!(events.last(), Some(&JobEvent::Status(JobStatus::Finished)));
    }

    #[test]
    fn a_checkpoint_the_run_directory_cannot_take_fails_the_run() {
        let parent = tempfile::tempdir().expect("temp dir");
        let spec = counter_spec(RunTarget::New {
            parent: parent.path().to_path_buf(),
        });
        let mut h = spawn("t", move |ends| {
            run(&spec, ends, |_, _| Ok(Counter::new(0, u64::MAX)))
        })
        .expect("spawn");
        h.send(JobCommand::Start);
        h.send(JobCommand::Pause);
        let mut seen = Vec::new();
        while let Some(event) = h.events.blocking_recv() {
            if matches!(event, JobEvent::Status(JobStatus::Paused(_))) {
                // A file where the checkpoints folder was: writes into it fail, as on a disk
                // that refuses them.
                let checkpoints = only_run(parent.path()).join("checkpoints");
                std::fs::remove_dir_all(&checkpoints).expect("remove");
                std::fs::write(&checkpoints, b"not a folder").expect("a file");
                h.send(JobCommand::Checkpoint);
                // Without the failure, the stop ends the run as `stopped`.
                h.send(JobCommand::Stop);
            }
            seen.push(event);
        }
        let Some(JobEvent::Status(JobStatus::Failed(why))) = seen.last() else {
            panic!("the run failed: {seen:?}")
        };
        assert!(
            why.contains("could not be written") && why.contains("checkpoints/step-"),
            "{why}"
        );
        let summary = seen.iter().find_map(|e| match e {
            JobEvent::Summary(s) => Some(s.status),
            _ => None,
        });
        assert_eq!(
            summary,
            Some(crate::jobs::protocol::SummaryStatus::Failed),
            "{seen:?}"
        );
        let (events, _) = crate::runs::read_jsonl::<crate::runs::EventRecord>(
            &only_run(parent.path()).join("events.jsonl"),
        )
        .expect("events");
        assert!(
            matches!(
                events.last().map(|e| &e.event),
                Some(crate::runs::RunEvent::End {
                    status: crate::runs::EndStatus::Failed,
                    ..
                })
            ),
            "{events:?}"
        );
    }

    #[test]
    fn a_pause_checkpoints_into_the_run_directory_before_it_holds() {
        let parent = tempfile::tempdir().expect("temp dir");
        let spec = counter_spec(RunTarget::New {
            parent: parent.path().to_path_buf(),
        });
        let mut h = spawn("t", move |ends| {
            run(&spec, ends, |_, _| Ok(Counter::new(0, u64::MAX)))
        })
        .expect("spawn");
        h.send(JobCommand::Start);
        h.send(JobCommand::Pause);
        let mut seen = Vec::new();
        while let Some(event) = h.events.blocking_recv() {
            let paused = matches!(event, JobEvent::Status(JobStatus::Paused(_)));
            seen.push(event);
            if paused {
                h.send(JobCommand::Stop);
            }
        }
        let paused_at = seen
            .iter()
            .position(|e| *e == JobEvent::Status(JobStatus::Paused(USER_PAUSE.into())))
            .expect("the job paused");
        let written = seen.iter().position(|e| {
            matches!(e, JobEvent::Notice(Notice::Info(t)) if t.starts_with("checkpoint written"))
        });
        assert!(
            written.is_some_and(|w| w < paused_at),
            "a checkpoint comes before the pause: {seen:?}"
        );
        let run = only_run(parent.path());
        let steps: Vec<u64> = crate::runs::whole_checkpoints(&run.join("checkpoints"))
            .expect("scan")
            .iter()
            .map(|c| c.step)
            .collect();
        assert!(
            !steps.is_empty(),
            "the pause and the stop wrote checkpoints"
        );
    }

    #[test]
    fn a_diverged_job_writes_no_checkpoint_and_says_so_when_resumed() {
        let parent = tempfile::tempdir().expect("temp dir");
        let spec = counter_spec(RunTarget::New {
            parent: parent.path().to_path_buf(),
        });
        let mut h = spawn("t", move |ends| {
            run(&spec, ends, |_, _| {
                Ok(Counter {
                    diverge_at: Some(2),
                    ..Counter::new(0, u64::MAX)
                })
            })
        })
        .expect("spawn");
        h.send(JobCommand::Start);
        let mut seen = Vec::new();
        let mut pauses = 0;
        while let Some(event) = h.events.blocking_recv() {
            if matches!(event, JobEvent::Status(JobStatus::Paused(_))) {
                pauses += 1;
                if pauses == 1 {
                    // `c`, then space, while the weights are NaN.
                    h.send(JobCommand::Checkpoint);
                    h.send(JobCommand::Resume);
                } else {
                    h.send(JobCommand::Stop);
                }
            }
            seen.push(event);
        }
        let warnings: Vec<&str> = seen
            .iter()
            .filter_map(|e| match e {
                JobEvent::Notice(Notice::Warning(t)) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("checkpoint failed") && w.contains("not finite")),
            "{warnings:?}"
        );
        assert!(warnings.contains(&DIVERGED_RESUME), "{warnings:?}");
        assert!(
            matches!(seen.last(), Some(JobEvent::Status(JobStatus::Failed(why))) if why.contains("NaN")),
            "stopped while diverged, the run failed: {:?}",
            seen.last()
        );
        let run = only_run(parent.path());
        let scan = crate::runs::scan_checkpoints(&run.join("checkpoints")).expect("scan");
        assert!(
            scan.whole.is_empty() && scan.rejected.is_empty(),
            "no NaN checkpoint on disk: {scan:?}"
        );
    }

    #[test]
    fn a_panicking_job_is_reported_failed() {
        let mut h = spawn("boom", |_| panic!("kaboom")).expect("spawn");
        let events = drain(&mut h);
        assert!(matches!(
            events.last(),
            Some(JobEvent::Status(JobStatus::Failed(m))) if m.contains("kaboom")
        ));
    }

    #[test]
    fn pause_holds_until_resume_and_a_job_without_a_run_does_not_checkpoint() {
        // The job polls only once the commands are queued.
        let (go, queued) = std::sync::mpsc::channel::<()>();
        let mut h = spawn("p", move |ends| {
            queued.recv().map_err(|e| e.to_string())?;
            let mut job = Counter::new(7, 10);
            assert_eq!(poll(ends, &mut job), Flow::Continue);
            ends.metric(0, Metric::TrainLoss, job.lr);
            Ok(())
        })
        .expect("spawn");
        h.send(JobCommand::Pause);
        h.send(JobCommand::Set(Param::Lr, 0.25));
        h.send(JobCommand::Checkpoint);
        h.send(JobCommand::Resume);
        go.send(()).expect("the job waits");
        let events = drain(&mut h);
        assert_eq!(
            events[0],
            JobEvent::Status(JobStatus::Paused(USER_PAUSE.into()))
        );
        assert_eq!(
            events[1],
            JobEvent::Applied {
                param: Param::Lr,
                value: 0.25,
                step: 8
            }
        );
        assert_eq!(
            events[2],
            JobEvent::Notice(Notice::Warning(format!(
                "checkpoint failed: {}",
                record::NO_RUN_DIR
            )))
        );
        assert_eq!(events[3], JobEvent::Status(JobStatus::Running));
        assert!(matches!(
            events[4],
            JobEvent::Metric { value, .. } if value == 0.25
        ));
    }
}
