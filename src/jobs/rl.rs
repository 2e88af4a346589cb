//! The RL adapter to the job driver: steps an [`RlTrainer`], reports episodes and updates,
//! publishes the latest episode's frames for the cartpole viewport (and to the run directory
//! for `gradtop watch`), and plays greedy episodes on `w`.

use std::time::Instant;

use candle_core::Device;
use serde_json::json;

use super::driver::{CheckpointData, Stepped, Trainable};
use super::ends::JobEnds;
use super::protocol::{JobSpec, KindSummary, Metric, Notice, Param, Progress, RlSnapshot};
use super::run_files::{write_json_atomic, EPISODE_FILE, EPISODE_WRITE_INTERVAL_S};
use crate::envs::EnvError;
use crate::models::rl::config::RlConfig;
use crate::models::rl::trainer::{EpisodeFrames, RlError, RlRecord, RlTrainer};
use crate::models::rl::RlState;
use crate::runs::{varmap_tensors, Checkpoint};

/// The hyperparameters a running agent may take (each agent refuses those it does not have).
const LIVE_PARAMS: [Param; 5] = [
    Param::Lr,
    Param::Gamma,
    Param::Epsilon,
    Param::TargetPeriod,
    Param::EntropyCoef,
];

/// Writes the latest finished episode to the run directory for `gradtop watch`; a failure is
/// told once and then writing stops (training goes on).
#[derive(Debug, Default)]
struct EpisodeWriter {
    last_written: u64,
    last_write: Option<Instant>,
    broken: bool,
}

impl EpisodeWriter {
    /// Writes `frames` unless a write happened within the last interval.
    fn offer(&mut self, ends: &mut JobEnds, frames: &EpisodeFrames) {
        let due = self
            .last_write
            .is_none_or(|t| t.elapsed().as_secs_f64() >= EPISODE_WRITE_INTERVAL_S);
        if due {
            self.write(ends, frames);
        }
    }

    /// Writes `frames` now unless they are already on disk (the run's last episode).
    fn write(&mut self, ends: &mut JobEnds, frames: &EpisodeFrames) {
        let Some(dir) = ends.run_dir() else {
            return;
        };
        if self.broken || frames.episode == self.last_written {
            return;
        }
        self.last_written = frames.episode;
        self.last_write = Some(Instant::now());
        if let Err(e) = write_json_atomic(dir, EPISODE_FILE, frames) {
            self.broken = true;
            ends.warn(format!(
                "episode frames can no longer be written to {EPISODE_FILE}: {e}"
            ));
        }
    }
}

/// An RL run as the driver steps it.
pub struct RlJob {
    trainer: RlTrainer,
    config: RlConfig,
    /// Env steps planned: the config's budget, or `--steps` when fewer.
    budget: u64,
    greedy_seed: u64,
    /// The latest greedy episode played on `w`, kept in every snapshot until the next.
    greedy: Option<EpisodeFrames>,
    /// The episode last published to the UI.
    latest_published: u64,
    episode_writer: EpisodeWriter,
}

impl RlJob {
    /// Builds the agent and its environments from the config's seed.
    pub fn build(
        spec: &JobSpec,
        config: RlConfig,
        _: &mut JobEnds,
        device: &Device,
    ) -> Result<Self, String> {
        let trainer = RlTrainer::new(&config, device, config.seed).map_err(|e| e.to_string())?;
        Ok(Self {
            trainer,
            budget: spec
                .max_steps
                .unwrap_or(u64::MAX)
                .min(config.env_step_budget()),
            greedy_seed: config.seed.wrapping_mul(1_000_003),
            config,
            greedy: None,
            latest_published: 0,
            episode_writer: EpisodeWriter::default(),
        })
    }

    fn report(&self, ends: &mut JobEnds, record: RlRecord) {
        match record {
            RlRecord::Episode {
                env_steps,
                episode_return,
                length,
                mean_return_20,
                ..
            } => {
                ends.metric(env_steps, Metric::EpisodeReturn, episode_return);
                ends.metric(env_steps, Metric::EpisodeLength, length as f64);
                ends.metric(env_steps, Metric::MeanReturn20, mean_return_20);
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
                    ends.metric(env_steps, Metric::Loss, l);
                }
                if let Some(e) = epsilon {
                    ends.metric(env_steps, Metric::Epsilon, e);
                }
                if let Some(h) = entropy {
                    ends.metric(env_steps, Metric::Entropy, h);
                }
                ends.metric(env_steps, Metric::StepsPerSec, steps_per_sec);
            }
            RlRecord::Solved {
                env_steps,
                seconds,
                episode,
            } => ends.send(super::protocol::JobEvent::Notice(Notice::Solved(format!(
                "solved: mean return ≥ {} at env step {env_steps}, episode {episode}, {seconds:.1} s",
                self.config.solve_return
            )))),
        }
    }
}

impl Trainable for RlJob {
    fn step(&self) -> u64 {
        self.trainer.counters().env_steps
    }

    fn is_done(&self) -> bool {
        self.trainer.is_finished() || self.trainer.counters().env_steps >= self.budget
    }

    fn train_step(&mut self, ends: &mut JobEnds) -> Result<Stepped, String> {
        let records = match self.trainer.step() {
            Ok(records) => records,
            Err(RlError::Diverged { loss, env_steps }) => {
                return Ok(Stepped::Diverged(format!(
                    "loss became {loss} at env step {env_steps}: lower lr and start again"
                )))
            }
            Err(e) => return Err(e.to_string()),
        };
        for record in records {
            self.report(ends, record);
        }
        if let Some(ep) = self.trainer.latest_episode() {
            self.episode_writer.offer(ends, ep);
        }
        Ok(Stepped::Trained { report_now: false })
    }

    fn set(&mut self, param: Param, value: f64) -> Result<(), String> {
        self.trainer.set(param, value).map_err(|e| e.to_string())
    }

    fn live_params(&self) -> &'static [Param] {
        &LIVE_PARAMS
    }

    /// ε is a schedule until the user sets it: only an override is a value to announce.
    fn value(&self, param: Param) -> Option<f64> {
        if param == Param::Epsilon && !self.trainer.epsilon_overridden() {
            return None;
        }
        self.trainer.get(param)
    }

    /// Everything a resume needs (tensors and sidecar as described in
    /// [`crate::models::rl::resume`]). An environment that cannot save its state (gym-rs) gets
    /// a weights-only checkpoint marked `"resumable": false`.
    fn checkpoint_data(&self) -> Result<CheckpointData, String> {
        let text = |e: RlError| e.to_string();
        match self.trainer.checkpoint_state(&self.config) {
            Ok(state) => Ok(CheckpointData {
                step: state.env_steps,
                tensors: self.trainer.checkpoint_tensors().map_err(text)?,
                state: serde_json::to_value(&state).map_err(|e| e.to_string())?,
            }),
            Err(RlError::Env(e @ EnvError::NoSnapshot(_))) => {
                let counters = self.trainer.counters();
                Ok(CheckpointData {
                    step: counters.env_steps,
                    tensors: varmap_tensors(self.trainer.varmap(), ""),
                    state: json!({
                        "resumable": false,
                        "why": e.to_string(),
                        "counters": counters,
                        "config": self.config,
                    }),
                })
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn restore(&mut self, checkpoint: &Checkpoint, _: &mut JobEnds) -> Result<(), String> {
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
        state
            .check(checkpoint.step)
            .map_err(|e| format!("the checkpoint at env step {at} cannot be resumed: {e}"))?;
        self.trainer
            .restore(&checkpoint.tensors, &state)
            .map_err(|e| format!("the checkpoint at env step {at} cannot be resumed: {e}"))
    }

    fn checkpoint_every(&self) -> u64 {
        self.config.checkpoint_every
    }

    fn progress(&self) -> Progress {
        let c = self.trainer.counters();
        Progress {
            step: c.env_steps,
            total_steps: self.budget,
            epoch: c.episodes as usize,
            epochs: 0,
            rate: c.steps_per_sec,
            eta_s: (c.steps_per_sec > 0.0)
                .then(|| self.budget.saturating_sub(c.env_steps) as f64 / c.steps_per_sec),
        }
    }

    /// The latest finished episode goes to the viewport at the rate progress is reported.
    fn on_report(&mut self, ends: &mut JobEnds) {
        let latest = self.trainer.latest_episode();
        if let Some(ep) = latest.filter(|e| e.episode != self.latest_published) {
            self.latest_published = ep.episode;
            ends.publish(RlSnapshot {
                latest: Some(ep.clone()),
                greedy: self.greedy.clone(),
            });
        }
    }

    /// The run's last episode reaches the run directory, and the gauge shows the run's end.
    fn finish(&mut self, ends: &mut JobEnds, _: &super::protocol::JobStatus) -> Result<(), String> {
        if let Some(ep) = self.trainer.latest_episode() {
            self.episode_writer.write(ends, ep);
        }
        let c = self.trainer.counters();
        ends.send(super::protocol::JobEvent::Progress(Progress {
            step: c.env_steps,
            total_steps: c.env_steps,
            epoch: c.episodes as usize,
            epochs: 0,
            rate: c.steps_per_sec,
            eta_s: Some(0.0),
        }));
        Ok(())
    }

    fn play_greedy(&mut self, ends: &mut JobEnds) -> Result<(), String> {
        self.greedy_seed += 1;
        let frames = self
            .trainer
            .greedy_episode(self.greedy_seed)
            .map_err(|e| e.to_string())?;
        ends.info(format!("greedy episode: return {}", frames.episode_return));
        self.greedy = Some(frames);
        ends.publish(RlSnapshot {
            latest: self.trainer.latest_episode().cloned(),
            greedy: self.greedy.clone(),
        });
        Ok(())
    }

    fn summary(&self) -> KindSummary {
        KindSummary::Rl(self.trainer.summary())
    }
}
