//! What an RL checkpoint holds besides its tensors, so a resumed run continues bit-identically.
//!
//! Tensors (safetensors, names by `VarBuilder` path):
//! * DQN: `q.fc1.weight` … (online Q-network), `target.q.fc1.weight` … (target network),
//!   `adam.m.q.…`, `adam.v.q.…`, `adam.step`, and the replay buffer's filled slots
//!   `replay.obs`, `replay.next_obs` `(len, obs_dim)` f32, `replay.actions` u32,
//!   `replay.rewards`, `replay.terminated` f32 `(len,)`;
//! * PPO: `actor.fc1.weight` …, `critic.fc1.weight` …, `adam.m.actor.…`, `adam.v.critic.…`,
//!   `adam.step`.
//!
//! Everything scalar goes in the sidecar as an [`RlState`]. PPO checkpoints fall on rollout
//! boundaries (each trainer step is one rollout and its update), so no half-collected rollout
//! needs saving.

use serde::{Deserialize, Serialize};

use crate::params::Param;

use super::config::{AgentKind, RlConfig};
use super::episodes::TrackerState;
use super::error::RlError;
use super::records::RlCounters;
use super::replay::ReplayPosition;
use crate::envs::VecEnvState;

/// Prefix of the DQN target network's tensors.
pub const TARGET_PREFIX: &str = "target.";
/// Prefix of the DQN replay buffer's tensors.
pub const REPLAY_PREFIX: &str = "replay.";

/// The hyperparameters in effect when the checkpoint was taken (the user may have changed them
/// live); a resumed run continues with these, not with the config file's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveParams {
    /// Learning rate set by the user (PPO: the base of the annealing schedule).
    pub lr: f64,
    /// Learning rate the optimizer used last (PPO with `anneal_lr`: the annealed value), for
    /// reading; a resume recomputes it from `lr` and the env step.
    pub lr_in_effect: f64,
    /// Discount factor.
    pub gamma: f64,
    /// DQN: ε fixed by the user instead of the schedule.
    pub epsilon_override: Option<f64>,
    /// DQN: env steps between target-network copies.
    pub target_period: Option<u64>,
    /// PPO: entropy coefficient.
    pub ent_coef: Option<f64>,
}

impl LiveParams {
    /// Writes these values into the agent's section of `config` (the ε override has no key).
    pub fn apply_to(&self, config: &mut RlConfig) {
        match config.agent {
            AgentKind::Dqn => {
                config.dqn.lr = Some(self.lr);
                config.dqn.gamma = Some(self.gamma);
                config.dqn.target_period = self.target_period.or(config.dqn.target_period);
            }
            AgentKind::Ppo => {
                config.ppo.lr = Some(self.lr);
                config.ppo.gamma = Some(self.gamma);
                config.ppo.ent_coef = self.ent_coef.or(config.ppo.ent_coef);
            }
        }
    }
}

/// An RL checkpoint's sidecar `state`: with the tensors, everything a resume needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RlState {
    /// `dqn` or `ppo`; a checkpoint only restores into the same agent.
    pub agent: AgentKind,
    /// Environment name; a checkpoint only restores onto the same environment.
    pub env: String,
    /// Env steps done (all envs).
    pub env_steps: u64,
    /// Gradient steps done.
    pub updates: u64,
    /// Seconds spent training so far (steps/s and solve time continue from it).
    pub train_seconds: f64,
    /// The agent's generator (exploration, minibatch sampling, PPO's action draws).
    pub rng: [u64; 4],
    /// Every environment's state, mid-episode.
    pub envs: VecEnvState,
    /// Episode counters, the returns in the solve window, solve time, current frames.
    pub episodes: TrackerState,
    /// Live hyperparameters in effect.
    pub hyperparameters: LiveParams,
    /// DQN: the replay ring's fill count and write position (contents are tensors).
    pub replay: Option<ReplayPosition>,
    /// Counters as the dashboard shows them (for reading a checkpoint; not used to restore).
    pub counters: RlCounters,
    /// The run's config with the live hyperparameters written in.
    pub config: RlConfig,
}

impl RlState {
    /// Refuses a state that no run could have written at env step `step` (an edited or
    /// damaged sidecar): its config is checked as a scenario's is, its counters and live
    /// values against it.
    pub fn check(&self, step: u64) -> Result<(), String> {
        self.config.validate().map_err(|e| format!("config.{e}"))?;
        if self.env_steps != step {
            return Err(format!(
                "env_steps = {}: the checkpoint is at env step {step}",
                self.env_steps
            ));
        }
        if !(self.train_seconds.is_finite() && self.train_seconds >= 0.0) {
            return Err(format!(
                "train_seconds = {}: must be a number of seconds ≥ 0",
                self.train_seconds
            ));
        }
        let window = self.config.solve_window;
        if self.episodes.recent_returns.len() > window {
            return Err(format!(
                "episodes.recent_returns holds {} returns, more than the solve window of {window}",
                self.episodes.recent_returns.len()
            ));
        }
        if let Some(replay) = &self.replay {
            let capacity = self
                .config
                .dqn_params()
                .map_err(|e| e.to_string())?
                .buffer_size;
            if replay.capacity != capacity || replay.len > capacity || replay.next >= capacity {
                return Err(format!(
                    "replay holds {} of {} slots (next {}), the run's buffer has {capacity}",
                    replay.len, replay.capacity, replay.next
                ));
            }
        }
        let live = &self.hyperparameters;
        let checks = [
            (Param::Lr, Some(live.lr)),
            (Param::Gamma, Some(live.gamma)),
            (Param::Epsilon, live.epsilon_override),
            (Param::TargetPeriod, live.target_period.map(|p| p as f64)),
            (Param::EntropyCoef, live.ent_coef),
        ];
        for (param, value) in checks {
            if let Some(v) = value {
                param
                    .validate(v)
                    .map_err(|why| format!("hyperparameters.{} = {v}: {why}", param.key()))?;
            }
        }
        Ok(())
    }

    /// Checks that this state belongs to a run of `agent` on `env`.
    pub fn check_fits(&self, agent: AgentKind, env: &str) -> Result<(), RlError> {
        if self.agent != agent {
            return Err(RlError::Checkpoint(format!(
                "it is a {} checkpoint, this run trains {}",
                self.agent.as_str(),
                agent.as_str()
            )));
        }
        if self.env != env {
            return Err(RlError::Checkpoint(format!(
                "it was taken on {}, this run uses {env}",
                self.env
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::super::config::{DqnConfig, PpoConfig, Preset};
    use super::super::trainer::{RlRecord, RlTrainer};
    use super::*;
    use crate::params::Param;
    use crate::runs::{load_checkpoint, varmap_tensors, write_checkpoint};

    /// Records with the wall-clock-dependent figures zeroed.
    fn timeless(records: Vec<RlRecord>) -> Vec<RlRecord> {
        records
            .into_iter()
            .map(|r| match r {
                RlRecord::Update {
                    env_steps,
                    updates,
                    loss,
                    epsilon,
                    entropy,
                    lr,
                    ..
                } => RlRecord::Update {
                    env_steps,
                    updates,
                    loss,
                    epsilon,
                    entropy,
                    steps_per_sec: 0.0,
                    lr,
                },
                RlRecord::Solved {
                    env_steps, episode, ..
                } => RlRecord::Solved {
                    env_steps,
                    seconds: 0.0,
                    episode,
                },
                other => other,
            })
            .collect()
    }

    fn run_steps(t: &mut RlTrainer, chunks: usize) -> Vec<RlRecord> {
        let mut out = Vec::new();
        for _ in 0..chunks {
            out.extend(timeless(t.step().expect("step")));
        }
        out
    }

    fn weights(t: &RlTrainer) -> Vec<(String, Vec<f32>)> {
        varmap_tensors(t.varmap(), "")
            .into_iter()
            .map(|(n, w)| (n, w.flatten_all().and_then(|w| w.to_vec1()).expect("f32")))
            .collect()
    }

    /// Trains `before` chunks, checkpoints through the files a run directory holds, restores
    /// into a trainer built from another seed, and checks that `after` more chunks of both are
    /// identical: records (returns, losses, ε / entropy, lr), counters and weights.
    fn resume_is_bit_identical(
        config: &RlConfig,
        before: usize,
        after: usize,
        live: &[(Param, f64)],
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut original = RlTrainer::new(config, &Device::Cpu, 7).expect("trainer");
        let early = run_steps(&mut original, before);
        assert!(
            early
                .iter()
                .any(|r| matches!(r, RlRecord::Update { loss: Some(_), .. })),
            "training has started before the checkpoint"
        );
        for &(p, v) in live {
            original.set(p, v).expect("live change");
        }
        let state = original.checkpoint_state(config).expect("state");
        let info = write_checkpoint(
            dir.path(),
            state.env_steps,
            &original.checkpoint_tensors().expect("tensors"),
            &state,
        )
        .expect("write");
        let checkpoint = load_checkpoint(&info, &Device::Cpu).expect("load");
        let loaded: RlState = checkpoint.state_as().expect("sidecar parses");
        assert_eq!(loaded, state);

        let mut restored = RlTrainer::new(config, &Device::Cpu, 12345).expect("trainer");
        assert_ne!(weights(&restored), weights(&original), "another seed");
        restored
            .restore(&checkpoint.tensors, &loaded)
            .expect("restore");
        assert_eq!(weights(&restored), weights(&original));
        for &(p, v) in live {
            assert_eq!(restored.get(p), original.get(p).or(Some(v)), "{p:?}");
        }
        let straight = run_steps(&mut original, after);
        let resumed = run_steps(&mut restored, after);
        assert!(straight
            .iter()
            .any(|r| matches!(r, RlRecord::Episode { .. })));
        assert_eq!(resumed, straight);
        assert_eq!(weights(&restored), weights(&original));
        let (a, b) = (original.counters(), restored.counters());
        assert_eq!(
            (a.env_steps, a.episodes, a.updates, a.mean_return_20),
            (b.env_steps, b.episodes, b.updates, b.mean_return_20)
        );
        assert_eq!(original.latest_episode(), restored.latest_episode());
    }

    #[test]
    fn dqn_resume_continues_bit_identically() {
        let config = RlConfig {
            preset: Preset::Fast,
            max_env_steps: Some(100_000),
            dqn: DqnConfig {
                // Small enough that the ring has wrapped at the checkpoint.
                buffer_size: Some(1_000),
                learning_starts: Some(300),
                eps_decay_steps: Some(3_000),
                ..DqnConfig::default()
            },
            ..RlConfig::default()
        };
        // 12 chunks of 128 env steps, then 8 more.
        resume_is_bit_identical(
            &config,
            12,
            8,
            &[(Param::Lr, 5e-4), (Param::TargetPeriod, 100.0)],
        );
    }

    #[test]
    fn dqn_resume_keeps_an_epsilon_override() {
        let config = RlConfig {
            max_env_steps: Some(100_000),
            dqn: DqnConfig {
                learning_starts: Some(200),
                ..DqnConfig::default()
            },
            ..RlConfig::default()
        };
        resume_is_bit_identical(
            &config,
            4,
            3,
            &[(Param::Epsilon, 0.3), (Param::Gamma, 0.95)],
        );
    }

    #[test]
    fn ppo_resume_continues_bit_identically() {
        // CleanRL's preset anneals lr, so the annealed value must come back too.
        let config = RlConfig {
            agent: AgentKind::Ppo,
            preset: Preset::Cleanrl,
            max_env_steps: Some(20_000),
            ppo: PpoConfig::default(),
            ..RlConfig::default()
        };
        resume_is_bit_identical(
            &config,
            5,
            4,
            &[(Param::EntropyCoef, 0.02), (Param::Lr, 1e-3)],
        );
    }

    #[test]
    fn a_checkpoint_of_another_agent_is_refused() {
        let dqn = RlConfig::default();
        let ppo = RlConfig {
            agent: AgentKind::Ppo,
            ..RlConfig::default()
        };
        let t = RlTrainer::new(&dqn, &Device::Cpu, 1).expect("dqn");
        let state = t.checkpoint_state(&dqn).expect("state");
        let tensors = t
            .checkpoint_tensors()
            .expect("tensors")
            .into_iter()
            .collect();
        let mut other = RlTrainer::new(&ppo, &Device::Cpu, 1).expect("ppo");
        let e = other.restore(&tensors, &state).unwrap_err().to_string();
        assert!(e.contains("dqn checkpoint"), "{e}");
    }

    #[cfg(feature = "gym-rs")]
    #[test]
    fn a_gym_rs_run_refuses_a_resumable_checkpoint_with_a_clear_error() {
        let config = RlConfig {
            env: "gym-rs/cartpole".into(),
            ..RlConfig::default()
        };
        let t = RlTrainer::new(&config, &Device::Cpu, 1).expect("gym-rs trainer");
        let e = t.checkpoint_state(&config).unwrap_err().to_string();
        assert!(
            e.contains("gym-rs/cartpole") && e.contains("cannot save"),
            "{e}"
        );
    }

    #[test]
    fn live_params_are_written_into_the_config() {
        let mut config = RlConfig::default();
        LiveParams {
            lr: 3e-4,
            lr_in_effect: 3e-4,
            gamma: 0.9,
            epsilon_override: Some(0.2),
            target_period: Some(77),
            ent_coef: None,
        }
        .apply_to(&mut config);
        assert_eq!(config.dqn.lr, Some(3e-4));
        assert_eq!(config.dqn.gamma, Some(0.9));
        assert_eq!(config.dqn.target_period, Some(77));
    }
}
