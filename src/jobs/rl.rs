//! The RL job: drives an [`RlTrainer`] step by step, reports episodes and updates, publishes
//! the latest episode's frames for the cartpole viewport, and plays greedy episodes on `w`.

use std::time::Instant;

use serde_json::json;

use super::record::{self, RunSession, RunTarget};
use super::run_files::{write_json_atomic, EPISODE_FILE, EPISODE_WRITE_INTERVAL_S};
use super::{Flow, JobEnds, JobEvent, JobStatus, Metric, Param, Progress, Steer};
use crate::device::DeviceChoice;
use crate::envs::EnvError;
use crate::models::rl::config::RlConfig;
use crate::models::rl::trainer::{EpisodeFrames, RlError, RlRecord, RlTrainer};
use crate::models::rl::RlState;
use crate::runs::{varmap_tensors, Checkpoint};
use crate::scenario::Settings;

/// Seconds between progress events and between published episodes.
const REPORT_INTERVAL_S: f64 = 0.2;

/// The bulky part of an RL job's state, published through the watch slot.
#[derive(Debug, Clone, PartialEq)]
pub struct RlSnapshot {
    /// The latest finished training episode.
    pub latest: Option<EpisodeFrames>,
    /// A greedy episode asked for with `w`, newest first in line for replay.
    pub watch: Option<EpisodeFrames>,
}

/// What an RL job needs to start.
#[derive(Debug, Clone)]
pub struct RlJobSpec {
    /// Scenario name, for summaries.
    pub scenario: String,
    /// Agent, environment and hyperparameters.
    pub config: RlConfig,
    /// Where to train.
    pub device: DeviceChoice,
    /// Stop after this many env steps (headless `--steps`).
    pub max_steps: Option<u64>,
    /// The run directory to create, or the run to continue from its newest whole checkpoint.
    pub run: RunTarget,
}

/// The trainer plus what commands need between steps.
struct RlJob {
    trainer: RlTrainer,
    watch_seed: u64,
    pending_watch: Option<EpisodeFrames>,
    run: Option<RunSession>,
    config: RlConfig,
}

impl Steer for RlJob {
    fn set(&mut self, param: Param, value: f64) -> Result<(), String> {
        self.trainer.set(param, value).map_err(|e| e.to_string())
    }

    /// Everything a resume needs (tensors and sidecar as described in
    /// [`crate::models::rl::resume`]). An environment that cannot save its state (gym-rs) gets
    /// a weights-only checkpoint marked `"resumable": false`.
    fn checkpoint(&mut self, reason: &str) -> Result<String, String> {
        let run = record::session(&self.run)?;
        let text = |e: RlError| e.to_string();
        let path = match self.trainer.checkpoint_state(&self.config) {
            Ok(state) => {
                let tensors = self.trainer.checkpoint_tensors().map_err(text)?;
                run.checkpoint(state.env_steps, &tensors, &state, reason)?
            }
            Err(RlError::Env(e @ EnvError::NoSnapshot(_))) => {
                let counters = self.trainer.counters();
                let tensors = varmap_tensors(self.trainer.varmap(), "");
                let state = json!({
                    "resumable": false,
                    "why": e.to_string(),
                    "counters": counters,
                    "config": self.config,
                });
                run.checkpoint(counters.env_steps, &tensors, &state, reason)?
            }
            Err(e) => return Err(e.to_string()),
        };
        Ok(path.display().to_string())
    }

    fn next_step(&self) -> u64 {
        self.trainer.counters().env_steps + 1
    }

    fn watch(&mut self) -> Result<(), String> {
        self.watch_seed += 1;
        let frames = self
            .trainer
            .greedy_episode(self.watch_seed)
            .map_err(|e| e.to_string())?;
        self.pending_watch = Some(frames);
        Ok(())
    }
}

/// Puts `trainer` where `checkpoint` left its run; the error says why it cannot.
fn restore(trainer: &mut RlTrainer, checkpoint: &Checkpoint) -> Result<(), String> {
    let at = checkpoint.step;
    if checkpoint.state.get("resumable") == Some(&serde_json::Value::Bool(false)) {
        let why = checkpoint.state["why"]
            .as_str()
            .unwrap_or("it holds weights only");
        return Err(format!(
            "the checkpoint at env step {at} cannot be resumed: {why}"
        ));
    }
    let state: RlState = checkpoint
        .state_as()
        .map_err(|e| format!("the checkpoint at env step {at} cannot be resumed: {e}"))?;
    trainer
        .restore(&checkpoint.tensors, &state)
        .map_err(|e| format!("the checkpoint at env step {at} cannot be resumed: {e}"))
}

/// Writes the latest finished episode to the run directory for `gradtop watch`; a failure is
/// told once and then writing stops (training goes on).
struct EpisodeWriter {
    last_written: u64,
    last_write: Option<Instant>,
    broken: bool,
}

impl EpisodeWriter {
    fn offer(&mut self, run: &RunSession, frames: &EpisodeFrames, events: &super::EventSink) {
        let due = self
            .last_write
            .is_none_or(|t| t.elapsed().as_secs_f64() >= EPISODE_WRITE_INTERVAL_S);
        if due {
            self.write(run, frames, events);
        }
    }

    /// Writes `frames` now unless they are already on disk (the run's last episode).
    fn write(&mut self, run: &RunSession, frames: &EpisodeFrames, events: &super::EventSink) {
        if self.broken || frames.episode == self.last_written {
            return;
        }
        self.last_written = frames.episode;
        self.last_write = Some(Instant::now());
        if let Err(e) = write_json_atomic(run.path(), EPISODE_FILE, frames) {
            self.broken = true;
            events.send(JobEvent::Notice(format!(
                "episode frames can no longer be written to {EPISODE_FILE}: {e}"
            )));
        }
    }
}

/// Runs an RL job to its end: waits for `Start`, trains until solved or out of budget.
pub fn run(spec: RlJobSpec, ends: &mut JobEnds<RlSnapshot>) -> Result<(), String> {
    let events = ends.control.events.clone();
    events.status(JobStatus::Ready);
    if ends.control.wait_for_start() == Flow::Stop {
        events.status(JobStatus::Stopped);
        return Ok(());
    }
    events.status(JobStatus::Loading("building the agent".into()));
    let device = spec.device.open()?;
    let mut trainer =
        RlTrainer::new(&spec.config, &device, spec.config.seed).map_err(|e| e.to_string())?;
    let begun = RunSession::begin(
        &spec.run,
        &spec.scenario,
        &Settings::Rl(spec.config.clone()).to_table(),
        spec.config.keep_checkpoints,
        &events,
        &device,
    )?;
    let run = match begun {
        Some(begun) => {
            match &begun.checkpoint {
                Some(checkpoint) => restore(&mut trainer, checkpoint)?,
                None if matches!(spec.run, RunTarget::Resume { .. }) => {
                    events.notify("no whole checkpoint yet: starting again from env step 0");
                }
                None => {}
            }
            Some(begun.session)
        }
        None => None,
    };
    let mut job = RlJob {
        trainer,
        watch_seed: spec.config.seed.wrapping_mul(1_000_003),
        pending_watch: None,
        run,
        config: spec.config.clone(),
    };
    let checkpoint_every = spec.config.checkpoint_every;
    let mut last_checkpoint_steps = job.trainer.counters().env_steps;
    let mut episode_writer = EpisodeWriter {
        last_written: 0,
        last_write: None,
        broken: false,
    };
    let budget = spec
        .max_steps
        .unwrap_or(u64::MAX)
        .min(spec.config.env_step_budget());
    events.status(JobStatus::Running);
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut latest_published = 0u64;
    let mut last_watch: Option<EpisodeFrames> = None;
    let mut status = JobStatus::Finished;
    // True while the networks hold a diverged update, which no checkpoint should keep.
    let mut diverged = false;
    loop {
        if ends.control.poll(&mut job) == Flow::Stop {
            status = JobStatus::Stopped;
            break;
        }
        if let Some(w) = job.pending_watch.take() {
            events.notify(format!("greedy episode: return {}", w.episode_return));
            last_watch = Some(w);
            ends.publish(RlSnapshot {
                latest: job.trainer.latest_episode().cloned(),
                watch: last_watch.clone(),
            });
        }
        let counters = job.trainer.counters();
        if job.trainer.is_finished() || counters.env_steps >= budget {
            break;
        }
        let records = match job.trainer.step() {
            Ok(r) => {
                diverged = false;
                r
            }
            Err(RlError::Diverged { loss, env_steps }) => {
                diverged = true;
                let reason = format!(
                    "loss became {loss} at env step {env_steps}: lower lr and press s to restart"
                );
                if ends.control.hold(&reason, &mut job) == Flow::Stop {
                    status = JobStatus::Stopped;
                    break;
                }
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        for record in records {
            match record {
                RlRecord::Episode {
                    env_steps,
                    episode_return,
                    length,
                    mean_return_20,
                    ..
                } => {
                    events.metric(env_steps, Metric::EpisodeReturn, episode_return);
                    events.metric(env_steps, Metric::EpisodeLength, length as f64);
                    events.metric(env_steps, Metric::MeanReturn20, mean_return_20);
                }
                RlRecord::Update {
                    env_steps,
                    loss,
                    epsilon,
                    entropy,
                    steps_per_sec,
                    ..
                } => {
                    if let Some(l) = loss {
                        events.metric(env_steps, Metric::Loss, l);
                    }
                    if let Some(e) = epsilon {
                        events.metric(env_steps, Metric::Epsilon, e);
                    }
                    if let Some(h) = entropy {
                        events.metric(env_steps, Metric::Entropy, h);
                    }
                    events.metric(env_steps, Metric::StepsPerSec, steps_per_sec);
                }
                RlRecord::Solved {
                    env_steps,
                    seconds,
                    episode,
                } => events.notify(format!(
                    "solved: mean return ≥ {} at env step {env_steps}, episode {episode}, {seconds:.1} s",
                    spec.config.solve_return
                )),
            }
        }
        let env_steps = job.trainer.counters().env_steps;
        if checkpoint_every > 0
            && job.run.is_some()
            && env_steps / checkpoint_every > last_checkpoint_steps / checkpoint_every
        {
            last_checkpoint_steps = env_steps;
            ends.control.checkpoint(&mut job, record::reason::PERIODIC);
        }
        if let (Some(run), Some(ep)) = (&job.run, job.trainer.latest_episode()) {
            episode_writer.offer(run, ep, &events);
        }
        if last_report.elapsed().as_secs_f64() >= REPORT_INTERVAL_S {
            last_report = Instant::now();
            let c = job.trainer.counters();
            let total = budget.min(spec.config.env_step_budget());
            events.send(JobEvent::Progress(Progress {
                step: c.env_steps,
                total_steps: total,
                epoch: c.episodes as usize,
                epochs: 0,
                rate: c.steps_per_sec,
                eta_s: (c.steps_per_sec > 0.0)
                    .then(|| total.saturating_sub(c.env_steps) as f64 / c.steps_per_sec),
            }));
            let latest = job.trainer.latest_episode();
            if let Some(ep) = latest.filter(|e| e.episode != latest_published) {
                latest_published = ep.episode;
                ends.publish(RlSnapshot {
                    latest: Some(ep.clone()),
                    watch: last_watch.clone(),
                });
            }
        }
    }
    if let (Some(run), Some(ep)) = (&job.run, job.trainer.latest_episode()) {
        episode_writer.write(run, ep, &events);
    }
    if job.run.is_some() && !diverged {
        ends.control.checkpoint(&mut job, record::exit_reason());
    }
    let c = job.trainer.counters();
    events.send(JobEvent::Progress(Progress {
        step: c.env_steps,
        total_steps: c.env_steps,
        epoch: c.episodes as usize,
        epochs: 0,
        rate: c.steps_per_sec,
        eta_s: Some(0.0),
    }));
    events.send(JobEvent::Summary(json!({
        "scenario": spec.scenario,
        "kind": "rl",
        "env": job.trainer.env_name(),
        "agent": job.trainer.agent().as_str(),
        "env_steps": c.env_steps,
        "episodes": c.episodes,
        "mean_return_20": c.mean_return_20,
        "solved_at_step": c.solved_at_step,
        "solved_at_seconds": c.solved_at_seconds,
        "steps_per_sec": c.steps_per_sec,
        "wall_seconds": started.elapsed().as_secs_f64(),
        "status": record::summary_status(&status),
        "run_dir": job.run.as_ref().map(|r| r.path().display().to_string()),
    })));
    events.status(status);
    Ok(())
}

/// Spawns an RL job thread; it waits for `Start`.
pub fn spawn(spec: RlJobSpec) -> std::io::Result<super::JobHandle<RlSnapshot>> {
    super::spawn("rl", move |ends| run(spec, ends))
}
