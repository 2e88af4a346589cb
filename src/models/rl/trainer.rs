//! The interface a job thread drives: build an [`RlTrainer`] from an [`RlConfig`], call
//! [`RlTrainer::step`] in a loop (each call is a few milliseconds of work), change
//! hyperparameters between calls, read counters and the latest episode's frames.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use candle_core::{backprop::GradStore, Device, Tensor, Var};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use super::config::{AgentKind, ConfigError, RlConfig};
use super::dqn::DqnAgent;
pub use super::error::RlError;
use super::ppo::PpoAgent;
pub use super::records::{EpisodeFrames, RlCounters, RlRecord, RlSummary};
use super::resume::RlState;

/// Hyperparameters that can change while a run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RlParam {
    /// Learning rate (> 0).
    Lr,
    /// Discount factor in [0, 1].
    Gamma,
    /// DQN ε override in [0, 1]; a negative value returns to the schedule.
    Epsilon,
    /// DQN target-network period in env steps (≥ 1).
    TargetPeriod,
    /// PPO entropy coefficient (≥ 0).
    EntCoef,
}

impl RlParam {
    /// Every parameter, in display order.
    pub const ALL: [RlParam; 5] = [
        RlParam::Lr,
        RlParam::Gamma,
        RlParam::Epsilon,
        RlParam::TargetPeriod,
        RlParam::EntCoef,
    ];

    /// The name used in keys, logs and `--set`.
    pub fn name(self) -> &'static str {
        match self {
            RlParam::Lr => "lr",
            RlParam::Gamma => "gamma",
            RlParam::Epsilon => "epsilon",
            RlParam::TargetPeriod => "target_period",
            RlParam::EntCoef => "ent_coef",
        }
    }

    /// Whether `agent` has this parameter.
    pub fn applies_to(self, agent: AgentKind) -> bool {
        match self {
            RlParam::Lr | RlParam::Gamma => true,
            RlParam::Epsilon | RlParam::TargetPeriod => agent == AgentKind::Dqn,
            RlParam::EntCoef => agent == AgentKind::Ppo,
        }
    }
}

impl FromStr for RlParam {
    type Err = RlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RlParam::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| RlError::UnknownParam(s.to_string()))
    }
}

/// Measures training time and steps/s between `Update` records.
#[derive(Debug, Clone, Default)]
pub(crate) struct Throughput {
    pub(crate) total: Duration,
    period: Duration,
    period_steps: u64,
}

impl Throughput {
    /// A meter that continues a run which had trained `total_s` seconds.
    pub(crate) fn resumed(total_s: f64) -> Self {
        Self {
            total: Duration::try_from_secs_f64(total_s).unwrap_or_default(),
            ..Self::default()
        }
    }

    pub(crate) fn add(&mut self, elapsed: Duration, steps: u64) {
        self.total += elapsed;
        self.period += elapsed;
        self.period_steps += steps;
    }

    /// Steps/s over the period since the last call, then starts a new period.
    pub(crate) fn take_rate(&mut self) -> f64 {
        let secs = self.period.as_secs_f64();
        let rate = if secs > 0.0 {
            self.period_steps as f64 / secs
        } else {
            0.0
        };
        self.period = Duration::ZERO;
        self.period_steps = 0;
        rate
    }
}

/// Scales the gradients of `vars` so their global L2 norm is at most `max_norm` (as
/// `torch.nn.utils.clip_grad_norm_`); returns the norm before clipping. `max_norm` 0 disables.
pub fn clip_grad_norm(
    grads: &mut GradStore,
    vars: &[Var],
    max_norm: f64,
) -> candle_core::Result<f64> {
    let mut sq = 0.0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
        }
    }
    let norm = sq.sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for v in vars {
            if let Some(g) = grads.remove(v.as_tensor()) {
                grads.insert(v.as_tensor(), (g * scale)?);
            }
        }
    }
    Ok(norm)
}

/// f64 observations narrowed into a reused f32 buffer.
pub(crate) fn to_f32(src: &[f64], dst: &mut Vec<f32>) {
    dst.clear();
    dst.extend(src.iter().map(|&v| v as f32));
}

/// Builds a `(rows, cols)` f32 tensor from a flat slice.
pub(crate) fn tensor2(
    values: &[f32],
    rows: usize,
    cols: usize,
    dev: &Device,
) -> candle_core::Result<Tensor> {
    Tensor::from_slice(values, (rows, cols), dev)
}

/// An RL training run: one agent on its environments, advanced one chunk at a time.
pub struct RlTrainer {
    agent: Agent,
}

/// The algorithm behind an [`RlTrainer`].
pub enum Agent {
    /// A DQN run.
    Dqn(Box<DqnAgent>),
    /// A PPO run.
    Ppo(Box<PpoAgent>),
}

impl RlTrainer {
    /// Validates `config` and builds the agent, its networks on `device` and its envs; all
    /// randomness (weights, exploration, env resets) derives from `seed`.
    pub fn new(config: &RlConfig, device: &Device, seed: u64) -> Result<Self, RlError> {
        config.validate()?;
        let agent = match config.agent {
            AgentKind::Dqn => Agent::Dqn(Box::new(DqnAgent::new(config, device, seed)?)),
            AgentKind::Ppo => Agent::Ppo(Box::new(PpoAgent::new(config, device, seed)?)),
        };
        Ok(Self { agent })
    }

    /// The agent, for agent-specific inspection.
    pub fn agent_ref(&self) -> &Agent {
        &self.agent
    }

    /// Does one chunk of work (DQN: ~128 env steps with their gradient steps; PPO: one rollout
    /// and its update) and returns the records it produced.
    pub fn step(&mut self) -> Result<Vec<RlRecord>, RlError> {
        let start = Instant::now();
        match &mut self.agent {
            Agent::Dqn(a) => a.step_chunk(start),
            Agent::Ppo(a) => a.step_chunk(start),
        }
    }

    /// Which agent this is.
    pub fn agent(&self) -> AgentKind {
        match &self.agent {
            Agent::Dqn(_) => AgentKind::Dqn,
            Agent::Ppo(_) => AgentKind::Ppo,
        }
    }

    /// The environment's name.
    pub fn env_name(&self) -> &'static str {
        match &self.agent {
            Agent::Dqn(a) => a.env_name(),
            Agent::Ppo(a) => a.env_name(),
        }
    }

    /// True once the env-step budget is spent, or the run is solved and configured to stop.
    pub fn is_finished(&self) -> bool {
        match &self.agent {
            Agent::Dqn(a) => a.is_finished(),
            Agent::Ppo(a) => a.is_finished(),
        }
    }

    /// Counters for display and the summary.
    pub fn counters(&self) -> RlCounters {
        match &self.agent {
            Agent::Dqn(a) => a.counters(),
            Agent::Ppo(a) => a.counters(),
        }
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
        match &self.agent {
            Agent::Dqn(a) => a.tracker().latest(),
            Agent::Ppo(a) => a.tracker().latest(),
        }
    }

    /// Plays one fresh episode (reset with `seed`) with the current greedy policy, without
    /// touching training state, and returns its frames.
    pub fn greedy_episode(&mut self, seed: u64) -> Result<EpisodeFrames, RlError> {
        match &mut self.agent {
            Agent::Dqn(a) => a.greedy_episode(seed),
            Agent::Ppo(a) => a.greedy_episode(seed),
        }
    }

    /// The trained weights, for checkpoints (`q.*` for DQN, `actor.*` and `critic.*` for PPO).
    pub fn varmap(&self) -> &VarMap {
        match &self.agent {
            Agent::Dqn(a) => a.varmap(),
            Agent::Ppo(a) => a.varmap(),
        }
    }

    /// Everything a checkpoint stores as tensors (copies, so training may go on at once):
    /// weights, Adam's state and, for DQN, the replay buffer. Names in [`super::resume`].
    pub fn checkpoint_tensors(&self) -> Result<Vec<(String, Tensor)>, RlError> {
        match &self.agent {
            Agent::Dqn(a) => a.checkpoint_tensors(),
            Agent::Ppo(a) => a.checkpoint_tensors(),
        }
    }

    /// The sidecar state of a checkpoint taken now; `config` is the run's config, stored with
    /// the live hyperparameters written in. Fails for environments that cannot save their state.
    pub fn checkpoint_state(&self, config: &RlConfig) -> Result<RlState, RlError> {
        match &self.agent {
            Agent::Dqn(a) => a.checkpoint_state(config),
            Agent::Ppo(a) => a.checkpoint_state(config),
        }
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
        match &mut self.agent {
            Agent::Dqn(a) => a.restore(tensors, state),
            Agent::Ppo(a) => a.restore(tensors, state),
        }
    }

    /// Current value of a live parameter (`None` where it does not apply; ε reports the value
    /// in effect, override or schedule).
    pub fn get(&self, param: RlParam) -> Option<f64> {
        match &self.agent {
            Agent::Dqn(a) => a.get(param),
            Agent::Ppo(a) => a.get(param),
        }
    }

    /// Whether ε is currently overridden (DQN only).
    pub fn epsilon_overridden(&self) -> bool {
        match &self.agent {
            Agent::Dqn(a) => a.epsilon_override().is_some(),
            Agent::Ppo(_) => false,
        }
    }

    /// Changes a live parameter; an invalid value or a parameter foreign to the agent is an
    /// error and changes nothing. For `Epsilon`, a negative value clears the override.
    pub fn set(&mut self, param: RlParam, value: f64) -> Result<(), RlError> {
        match param {
            RlParam::Lr => self.set_lr(value),
            RlParam::Gamma => self.set_gamma(value),
            RlParam::Epsilon => {
                if value < 0.0 {
                    self.set_epsilon_override(None)
                } else {
                    self.set_epsilon_override(Some(value))
                }
            }
            RlParam::TargetPeriod => {
                if !(value.is_finite() && value >= 1.0 && value.fract() == 0.0) {
                    return Err(ConfigError::Invalid {
                        key: "target_period".into(),
                        value: value.to_string(),
                        reason: "must be a whole number ≥ 1".into(),
                    }
                    .into());
                }
                self.set_target_period(value as u64)
            }
            RlParam::EntCoef => self.set_entropy_coef(value),
        }
    }

    /// Sets the learning rate (finite, > 0).
    pub fn set_lr(&mut self, lr: f64) -> Result<(), RlError> {
        let lr = super::config::check_lr("lr", lr)?;
        match &mut self.agent {
            Agent::Dqn(a) => a.set_lr(lr),
            Agent::Ppo(a) => a.set_lr(lr),
        }
        Ok(())
    }

    /// Sets the discount factor (in [0, 1]).
    pub fn set_gamma(&mut self, gamma: f64) -> Result<(), RlError> {
        let gamma = super::config::check_unit("gamma", gamma)?;
        match &mut self.agent {
            Agent::Dqn(a) => a.params_mut().gamma = gamma,
            Agent::Ppo(a) => a.params_mut().gamma = gamma,
        }
        Ok(())
    }

    /// Overrides DQN's ε schedule with a fixed value in [0, 1], or returns to it with `None`.
    pub fn set_epsilon_override(&mut self, epsilon: Option<f64>) -> Result<(), RlError> {
        let eps = epsilon
            .map(|e| super::config::check_unit("epsilon", e))
            .transpose()?;
        match &mut self.agent {
            Agent::Dqn(a) => {
                a.set_epsilon_override(eps);
                Ok(())
            }
            Agent::Ppo(_) => Err(RlError::NotApplicable {
                param: "epsilon",
                agent: "ppo",
            }),
        }
    }

    /// Sets DQN's target-network period in env steps (≥ 1).
    pub fn set_target_period(&mut self, period: u64) -> Result<(), RlError> {
        if period == 0 {
            return Err(ConfigError::Invalid {
                key: "target_period".into(),
                value: "0".into(),
                reason: "must be ≥ 1".into(),
            }
            .into());
        }
        match &mut self.agent {
            Agent::Dqn(a) => {
                a.params_mut().target_period = period;
                Ok(())
            }
            Agent::Ppo(_) => Err(RlError::NotApplicable {
                param: "target_period",
                agent: "ppo",
            }),
        }
    }

    /// Sets PPO's entropy coefficient (finite, ≥ 0).
    pub fn set_entropy_coef(&mut self, coef: f64) -> Result<(), RlError> {
        let coef = super::config::check_nonneg("ent_coef", coef)?;
        match &mut self.agent {
            Agent::Ppo(a) => {
                a.params_mut().ent_coef = coef;
                Ok(())
            }
            Agent::Dqn(_) => Err(RlError::NotApplicable {
                param: "ent_coef",
                agent: "dqn",
            }),
        }
    }
}

// A trainer is built on one thread and moved to its job thread.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<RlTrainer>();
};
