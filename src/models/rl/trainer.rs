//! The interface a job thread drives: build an [`RlTrainer`] from an [`RlConfig`], call
//! [`RlTrainer::step`] in a loop (each call is a few milliseconds of work), change
//! hyperparameters between calls, read counters and the latest episode's frames.

use std::collections::HashMap;
use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;

use super::agent::Agent;
use super::config::{check_lr, check_nonneg, check_unit, AgentKind, ConfigError, RlConfig};
use super::dqn::DqnAgent;
pub use super::error::RlError;
use super::ppo::PpoAgent;
pub use super::records::{EpisodeFrames, RlCounters, RlRecord, RlSummary};
use super::resume::RlState;
use crate::params::Param;

/// An RL training run: one agent on its environments, advanced one chunk at a time.
pub struct RlTrainer {
    agent: Box<dyn Agent>,
}

impl RlTrainer {
    /// Validates `config` and builds the agent, its networks on `device` and its envs; all
    /// randomness (weights, exploration, env resets) derives from `seed`.
    pub fn new(config: &RlConfig, device: &Device, seed: u64) -> Result<Self, RlError> {
        config.validate()?;
        let agent: Box<dyn Agent> = match config.agent {
            AgentKind::Dqn => Box::new(DqnAgent::new(config, device, seed)?),
            AgentKind::Ppo => Box::new(PpoAgent::new(config, device, seed)?),
        };
        Ok(Self { agent })
    }

    /// Does one chunk of work (DQN: ~128 env steps with their gradient steps; PPO: one rollout
    /// and its update) and returns the records it produced.
    pub fn step(&mut self) -> Result<Vec<RlRecord>, RlError> {
        let start = Instant::now();
        self.agent.step(start)
    }

    /// Which agent this is.
    pub fn agent(&self) -> AgentKind {
        self.agent.core().kind
    }

    /// The environment's name.
    pub fn env_name(&self) -> &'static str {
        self.agent.core().env_name
    }

    /// True once the env-step budget is spent, or the run is solved and configured to stop.
    pub fn is_finished(&self) -> bool {
        self.agent.core().is_finished()
    }

    /// Counters for display and the summary.
    pub fn counters(&self) -> RlCounters {
        self.agent.core().counters()
    }

    /// The summary for the headless `--json` output.
    pub fn summary(&self) -> RlSummary {
        let c = self.counters();
        RlSummary {
            env: self.env_name().to_string(),
            agent: self.agent().as_str().to_string(),
            env_steps: c.env_steps,
            episodes: c.episodes,
            mean_return_20: c.mean_return_20,
            solved_at_step: c.solved_at_step,
            solved_at_seconds: c.solved_at_seconds,
            steps_per_sec: c.steps_per_sec,
        }
    }

    /// Frames of the latest finished episode of env 0.
    pub fn latest_episode(&self) -> Option<&EpisodeFrames> {
        self.agent.core().latest_episode()
    }

    /// Plays one fresh episode (reset with `seed`) with the current greedy policy, without
    /// touching training state, and returns its frames.
    pub fn greedy_episode(&mut self, seed: u64) -> Result<EpisodeFrames, RlError> {
        self.agent.greedy_episode(seed)
    }

    /// The trained weights, for checkpoints (`q.*` for DQN, `actor.*` and `critic.*` for PPO).
    pub fn varmap(&self) -> &VarMap {
        &self.agent.core().varmap
    }

    /// Everything a checkpoint stores as tensors (copies, so training may go on at once):
    /// weights, Adam's state and, for DQN, the replay buffer. Names in [`super::resume`].
    pub fn checkpoint_tensors(&self) -> Result<Vec<(String, Tensor)>, RlError> {
        self.agent.checkpoint_tensors()
    }

    /// The sidecar state of a checkpoint taken now; `config` is the run's config, stored with
    /// the live hyperparameters written in. Fails for environments that cannot save their state.
    pub fn checkpoint_state(&self, config: &RlConfig) -> Result<RlState, RlError> {
        self.agent.checkpoint_state(config)
    }

    /// Continues from a checkpoint written by [`Self::checkpoint_tensors`] and
    /// [`Self::checkpoint_state`] of a run with the same config: the next [`Self::step`] does
    /// exactly what the checkpointed trainer's next step would have done. On error the
    /// trainer is left part-restored and must be dropped.
    pub fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: &RlState,
    ) -> Result<(), RlError> {
        self.agent.restore(tensors, state)
    }

    /// Current value of a live parameter (`None` where it does not apply; ε reports the value
    /// in effect, override or schedule).
    pub fn get(&self, param: Param) -> Option<f64> {
        self.agent.get(param)
    }

    /// Whether ε is currently overridden (DQN only).
    pub fn epsilon_overridden(&self) -> bool {
        self.agent.epsilon_overridden()
    }

    /// Changes a live parameter; an invalid value or a parameter foreign to the agent is an
    /// error and changes nothing. For `Epsilon`, a negative value clears the override.
    pub fn set(&mut self, param: Param, value: f64) -> Result<(), RlError> {
        let value = validate(param, value)?;
        self.agent.set(param, value)
    }
}

/// Checks a live value against its parameter's range, as a config file's value would be.
/// ε may also be negative (back to the schedule); parameters RL does not know pass through
/// for the agent to refuse.
fn validate(param: Param, value: f64) -> Result<f64, RlError> {
    Ok(match param {
        Param::Lr => check_lr("lr", value)?,
        Param::Gamma => check_unit("gamma", value)?,
        Param::Epsilon if value < 0.0 => value,
        Param::Epsilon => check_unit("epsilon", value)?,
        Param::TargetPeriod => {
            if !(value.is_finite() && value >= 1.0 && value.fract() == 0.0) {
                return Err(ConfigError::Invalid {
                    key: "target_period".into(),
                    value: value.to_string(),
                    reason: "must be a whole number ≥ 1".into(),
                }
                .into());
            }
            value
        }
        Param::EntropyCoef => check_nonneg("ent_coef", value)?,
        _ => value,
    })
}

// A trainer is built on one thread and moved to its job thread.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<RlTrainer>();
};
