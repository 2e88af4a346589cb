//! The RL part of a scenario: which agent on which environment, a preset of hyperparameters, and
//! per-key overrides. Unknown keys are errors; every value is validated before a run starts.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Which learning algorithm trains the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    /// Deep Q-network with replay buffer and target network.
    #[default]
    Dqn,
    /// Proximal policy optimisation with GAE over several envs.
    Ppo,
}

impl AgentKind {
    /// The name used in scenarios and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::Dqn => "dqn",
            AgentKind::Ppo => "ppo",
        }
    }
}

/// A named set of default hyperparameters; explicit keys override it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// CleanRL's dqn.py / ppo.py defaults, for side-by-side comparison with the PyTorch peer.
    Cleanrl,
    /// Tuned to solve CartPole in the least wall time on a small CPU.
    #[default]
    Fast,
}

/// TD-error loss of DQN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TdLoss {
    /// Mean squared TD error (CleanRL's dqn.py).
    Mse,
    /// Huber / smooth-L1 with δ = 1: quadratic near zero, linear beyond, robust to outliers.
    Huber,
}

/// DQN hyperparameters; `None` takes the preset's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DqnConfig {
    /// Adam learning rate.
    pub lr: Option<f64>,
    /// Discount factor in [0, 1].
    pub gamma: Option<f64>,
    /// Replay buffer capacity in transitions.
    pub buffer_size: Option<usize>,
    /// Transitions per gradient step.
    pub batch_size: Option<usize>,
    /// Env steps between hard copies of the Q-network into the target network.
    pub target_period: Option<u64>,
    /// ε at the start of the linear schedule.
    pub eps_start: Option<f64>,
    /// ε after `eps_decay_steps` env steps.
    pub eps_end: Option<f64>,
    /// Env steps over which ε falls linearly from `eps_start` to `eps_end`.
    pub eps_decay_steps: Option<u64>,
    /// Env steps of pure exploration before learning starts.
    pub learning_starts: Option<u64>,
    /// Env steps between gradient phases.
    pub train_every: Option<u64>,
    /// Gradient steps per gradient phase.
    pub gradient_steps: Option<u32>,
    /// Hidden layer widths of the Q-network.
    pub hidden: Option<Vec<usize>>,
    /// TD loss.
    pub loss: Option<TdLoss>,
    /// Clip the global gradient norm to this (0 disables).
    pub max_grad_norm: Option<f64>,
    /// Select next actions with the online net, evaluate with the target net (Double DQN).
    pub double_dqn: Option<bool>,
}

/// PPO hyperparameters; `None` takes the preset's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PpoConfig {
    /// Adam learning rate (initial value when annealed).
    pub lr: Option<f64>,
    /// Discount factor in [0, 1].
    pub gamma: Option<f64>,
    /// GAE λ in [0, 1].
    pub gae_lambda: Option<f64>,
    /// Parallel environments.
    pub num_envs: Option<usize>,
    /// Steps per env per rollout.
    pub rollout_steps: Option<usize>,
    /// Passes over each rollout.
    pub epochs: Option<usize>,
    /// Minibatches per epoch.
    pub minibatches: Option<usize>,
    /// Probability-ratio clip ε.
    pub clip_coef: Option<f64>,
    /// Entropy bonus coefficient.
    pub ent_coef: Option<f64>,
    /// Value-loss coefficient.
    pub vf_coef: Option<f64>,
    /// Clip the global gradient norm to this (0 disables).
    pub max_grad_norm: Option<f64>,
    /// Hidden layer widths of both the actor and the critic.
    pub hidden: Option<Vec<usize>>,
    /// Anneal the learning rate linearly to 0 over `max_env_steps`.
    pub anneal_lr: Option<bool>,
    /// Normalise advantages per minibatch.
    pub norm_adv: Option<bool>,
}

/// The `[rl]` section of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RlConfig {
    /// `"dqn"` or `"ppo"`.
    pub agent: AgentKind,
    /// `"cleanrl"` or `"fast"`.
    pub preset: Preset,
    /// `"cartpole"`, or with the `gym-rs` feature `"gym-rs/cartpole"`, `"gym-rs/mountaincar"`.
    pub env: String,
    /// Stop after this many env steps (`None`: the preset's budget, 500k for CartPole).
    pub max_env_steps: Option<u64>,
    /// Mean return over `solve_window` episodes that counts as solved (475 for CartPole-v1).
    pub solve_return: f64,
    /// Episodes in the moving average that decides "solved".
    pub solve_window: usize,
    /// Finish the run as soon as it is solved.
    pub stop_when_solved: bool,
    /// Seeds network weights, exploration and environment resets.
    pub seed: u64,
    /// Write a checkpoint each time this many more env steps are done (0: only on `c`, pause,
    /// the end and signals).
    pub checkpoint_every: u64,
    /// Checkpoints kept in the run directory (older ones are removed).
    pub keep_checkpoints: usize,
    /// DQN overrides.
    pub dqn: DqnConfig,
    /// PPO overrides.
    pub ppo: PpoConfig,
}

impl Default for RlConfig {
    fn default() -> Self {
        Self {
            agent: AgentKind::Dqn,
            preset: Preset::Fast,
            env: "cartpole".into(),
            max_env_steps: None,
            solve_return: 475.0,
            solve_window: 20,
            stop_when_solved: true,
            seed: 1,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            keep_checkpoints: DEFAULT_KEEP_CHECKPOINTS,
            dqn: DqnConfig::default(),
            ppo: PpoConfig::default(),
        }
    }
}

/// A hyperparameter value that cannot be used.
#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    /// The key's value is out of its valid range.
    #[error("{key} = {value} is invalid: {reason}")]
    Invalid {
        /// Dotted key, e.g. `dqn.lr`.
        key: String,
        /// The value as written.
        value: String,
        /// What would be valid.
        reason: String,
    },
}

fn invalid(key: &str, value: impl std::fmt::Display, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Checks a learning rate: finite and > 0.
pub fn check_lr(key: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v > 0.0 && v < 10.0 {
        Ok(v)
    } else {
        Err(invalid(key, v, "must be a number in (0, 10)"))
    }
}

/// Checks a probability-like value in [0, 1].
pub fn check_unit(key: &str, v: f64) -> Result<f64, ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(key, v, "must be in [0, 1]"))
    }
}

/// Checks a finite, non-negative coefficient.
pub fn check_nonneg(key: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(invalid(key, v, "must be a finite number ≥ 0"))
    }
}

fn check_pos<T: PartialOrd + Default + std::fmt::Display + Copy>(
    key: &str,
    v: T,
) -> Result<T, ConfigError> {
    if v > T::default() {
        Ok(v)
    } else {
        Err(invalid(key, v, "must be ≥ 1"))
    }
}

/// A size between 1 and `max`: bounded so that a typo never allocates gigabytes.
fn check_size<T: PartialOrd + Default + std::fmt::Display + Copy>(
    key: &str,
    v: T,
    max: T,
) -> Result<T, ConfigError> {
    if v > T::default() && v <= max {
        Ok(v)
    } else {
        Err(invalid(key, v, &format!("must be in 1..={max}")))
    }
}

/// Most transitions a DQN replay buffer may hold.
pub const MAX_BUFFER_SIZE: usize = 1_000_000;
/// Most hidden layers an agent's network may have.
pub const MAX_HIDDEN_LAYERS: usize = 8;
/// Widest hidden layer an agent's network may have.
pub const MAX_HIDDEN_WIDTH: usize = 2048;
/// Most environments PPO may step side by side.
pub const MAX_NUM_ENVS: usize = 1024;
/// Most transitions one PPO rollout may hold (all envs together).
pub const MAX_ROLLOUT: usize = 1 << 20;
/// Most passes over one rollout, and most gradient steps per DQN update.
pub const MAX_UPDATE_PASSES: usize = 1000;
/// Longest solve window, in episodes.
pub const MAX_SOLVE_WINDOW: usize = 100_000;

/// Checks hidden layer widths: at least one layer, none empty, none that would take gigabytes.
fn check_hidden(key: &str, hidden: &[usize]) -> Result<(), ConfigError> {
    if hidden.is_empty()
        || hidden.len() > MAX_HIDDEN_LAYERS
        || hidden.iter().any(|&w| w == 0 || w > MAX_HIDDEN_WIDTH)
    {
        return Err(invalid(
            key,
            format!("{hidden:?}"),
            &format!("needs 1 to {MAX_HIDDEN_LAYERS} layers, each of width 1..={MAX_HIDDEN_WIDTH}"),
        ));
    }
    Ok(())
}

/// Resolved DQN hyperparameters (preset plus overrides, validated).
#[derive(Debug, Clone, PartialEq)]
pub struct DqnParams {
    /// See [`DqnConfig::lr`].
    pub lr: f64,
    /// See [`DqnConfig::gamma`].
    pub gamma: f64,
    /// See [`DqnConfig::buffer_size`].
    pub buffer_size: usize,
    /// See [`DqnConfig::batch_size`].
    pub batch_size: usize,
    /// See [`DqnConfig::target_period`].
    pub target_period: u64,
    /// See [`DqnConfig::eps_start`].
    pub eps_start: f64,
    /// See [`DqnConfig::eps_end`].
    pub eps_end: f64,
    /// See [`DqnConfig::eps_decay_steps`].
    pub eps_decay_steps: u64,
    /// See [`DqnConfig::learning_starts`].
    pub learning_starts: u64,
    /// See [`DqnConfig::train_every`].
    pub train_every: u64,
    /// See [`DqnConfig::gradient_steps`].
    pub gradient_steps: u32,
    /// See [`DqnConfig::hidden`].
    pub hidden: Vec<usize>,
    /// See [`DqnConfig::loss`].
    pub loss: TdLoss,
    /// See [`DqnConfig::max_grad_norm`].
    pub max_grad_norm: f64,
    /// See [`DqnConfig::double_dqn`].
    pub double_dqn: bool,
}

impl DqnParams {
    /// The preset's values.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            // CleanRL dqn.py defaults: total 500k steps, exploration over half of them.
            Preset::Cleanrl => Self {
                lr: 2.5e-4,
                gamma: 0.99,
                buffer_size: 10_000,
                batch_size: 128,
                target_period: 500,
                eps_start: 1.0,
                eps_end: 0.05,
                eps_decay_steps: 250_000,
                learning_starts: 10_000,
                train_every: 10,
                gradient_steps: 1,
                hidden: vec![120, 84],
                loss: TdLoss::Mse,
                max_grad_norm: 0.0,
                double_dqn: false,
            },
            Preset::Fast => Self {
                lr: 1e-3,
                gamma: 0.99,
                buffer_size: 50_000,
                batch_size: 64,
                target_period: 250,
                eps_start: 1.0,
                eps_end: 0.01,
                eps_decay_steps: 10_000,
                learning_starts: 1_000,
                train_every: 4,
                gradient_steps: 1,
                hidden: vec![120, 84],
                loss: TdLoss::Huber,
                // Huber already bounds each sample's gradient; clipping and Double DQN cost
                // candle ops per step and did not solve sooner (3 seeds each).
                max_grad_norm: 0.0,
                double_dqn: false,
            },
        }
    }

    /// Preset values overridden by the `Some` fields of `c`, validated.
    pub fn resolve(preset: Preset, c: &DqnConfig) -> Result<Self, ConfigError> {
        let p = Self::preset(preset);
        let r = Self {
            lr: check_lr("dqn.lr", c.lr.unwrap_or(p.lr))?,
            gamma: check_unit("dqn.gamma", c.gamma.unwrap_or(p.gamma))?,
            buffer_size: check_size(
                "dqn.buffer_size",
                c.buffer_size.unwrap_or(p.buffer_size),
                MAX_BUFFER_SIZE,
            )?,
            batch_size: check_size(
                "dqn.batch_size",
                c.batch_size.unwrap_or(p.batch_size),
                crate::params::MAX_BATCH_SIZE,
            )?,
            target_period: check_pos(
                "dqn.target_period",
                c.target_period.unwrap_or(p.target_period),
            )?,
            eps_start: check_unit("dqn.eps_start", c.eps_start.unwrap_or(p.eps_start))?,
            eps_end: check_unit("dqn.eps_end", c.eps_end.unwrap_or(p.eps_end))?,
            eps_decay_steps: c.eps_decay_steps.unwrap_or(p.eps_decay_steps),
            learning_starts: c.learning_starts.unwrap_or(p.learning_starts),
            train_every: check_pos("dqn.train_every", c.train_every.unwrap_or(p.train_every))?,
            gradient_steps: check_size(
                "dqn.gradient_steps",
                c.gradient_steps.unwrap_or(p.gradient_steps),
                MAX_UPDATE_PASSES as u32,
            )?,
            hidden: c.hidden.clone().unwrap_or(p.hidden),
            loss: c.loss.unwrap_or(p.loss),
            max_grad_norm: check_nonneg(
                "dqn.max_grad_norm",
                c.max_grad_norm.unwrap_or(p.max_grad_norm),
            )?,
            double_dqn: c.double_dqn.unwrap_or(p.double_dqn),
        };
        check_hidden("dqn.hidden", &r.hidden)?;
        if r.batch_size > r.buffer_size {
            return Err(invalid(
                "dqn.batch_size",
                r.batch_size,
                "must not exceed dqn.buffer_size",
            ));
        }
        Ok(r)
    }

    /// The same values as a fully populated [`DqnConfig`] (for writing the resolved config).
    pub fn to_config(&self) -> DqnConfig {
        DqnConfig {
            lr: Some(self.lr),
            gamma: Some(self.gamma),
            buffer_size: Some(self.buffer_size),
            batch_size: Some(self.batch_size),
            target_period: Some(self.target_period),
            eps_start: Some(self.eps_start),
            eps_end: Some(self.eps_end),
            eps_decay_steps: Some(self.eps_decay_steps),
            learning_starts: Some(self.learning_starts),
            train_every: Some(self.train_every),
            gradient_steps: Some(self.gradient_steps),
            hidden: Some(self.hidden.clone()),
            loss: Some(self.loss),
            max_grad_norm: Some(self.max_grad_norm),
            double_dqn: Some(self.double_dqn),
        }
    }
}

/// Resolved PPO hyperparameters (preset plus overrides, validated).
#[derive(Debug, Clone, PartialEq)]
pub struct PpoParams {
    /// See [`PpoConfig::lr`].
    pub lr: f64,
    /// See [`PpoConfig::gamma`].
    pub gamma: f64,
    /// See [`PpoConfig::gae_lambda`].
    pub gae_lambda: f64,
    /// See [`PpoConfig::num_envs`].
    pub num_envs: usize,
    /// See [`PpoConfig::rollout_steps`].
    pub rollout_steps: usize,
    /// See [`PpoConfig::epochs`].
    pub epochs: usize,
    /// See [`PpoConfig::minibatches`].
    pub minibatches: usize,
    /// See [`PpoConfig::clip_coef`].
    pub clip_coef: f64,
    /// See [`PpoConfig::ent_coef`].
    pub ent_coef: f64,
    /// See [`PpoConfig::vf_coef`].
    pub vf_coef: f64,
    /// See [`PpoConfig::max_grad_norm`].
    pub max_grad_norm: f64,
    /// See [`PpoConfig::hidden`].
    pub hidden: Vec<usize>,
    /// See [`PpoConfig::anneal_lr`].
    pub anneal_lr: bool,
    /// See [`PpoConfig::norm_adv`].
    pub norm_adv: bool,
}

impl PpoParams {
    /// The preset's values.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            // CleanRL ppo.py defaults.
            Preset::Cleanrl => Self {
                lr: 2.5e-4,
                gamma: 0.99,
                gae_lambda: 0.95,
                num_envs: 4,
                rollout_steps: 128,
                epochs: 4,
                minibatches: 4,
                clip_coef: 0.2,
                ent_coef: 0.01,
                vf_coef: 0.5,
                max_grad_norm: 0.5,
                hidden: vec![64, 64],
                anneal_lr: true,
                norm_adv: true,
            },
            Preset::Fast => Self {
                lr: 1e-3,
                gamma: 0.99,
                gae_lambda: 0.95,
                num_envs: 8,
                rollout_steps: 64,
                epochs: 4,
                minibatches: 4,
                clip_coef: 0.2,
                ent_coef: 0.0,
                vf_coef: 0.5,
                max_grad_norm: 0.5,
                hidden: vec![64, 64],
                anneal_lr: false,
                norm_adv: true,
            },
        }
    }

    /// Preset values overridden by the `Some` fields of `c`, validated.
    pub fn resolve(preset: Preset, c: &PpoConfig) -> Result<Self, ConfigError> {
        let p = Self::preset(preset);
        let r = Self {
            lr: check_lr("ppo.lr", c.lr.unwrap_or(p.lr))?,
            gamma: check_unit("ppo.gamma", c.gamma.unwrap_or(p.gamma))?,
            gae_lambda: check_unit("ppo.gae_lambda", c.gae_lambda.unwrap_or(p.gae_lambda))?,
            num_envs: check_size(
                "ppo.num_envs",
                c.num_envs.unwrap_or(p.num_envs),
                MAX_NUM_ENVS,
            )?,
            rollout_steps: check_size(
                "ppo.rollout_steps",
                c.rollout_steps.unwrap_or(p.rollout_steps),
                MAX_ROLLOUT,
            )?,
            epochs: check_size(
                "ppo.epochs",
                c.epochs.unwrap_or(p.epochs),
                MAX_UPDATE_PASSES,
            )?,
            minibatches: check_pos("ppo.minibatches", c.minibatches.unwrap_or(p.minibatches))?,
            clip_coef: check_unit("ppo.clip_coef", c.clip_coef.unwrap_or(p.clip_coef))?,
            ent_coef: check_nonneg("ppo.ent_coef", c.ent_coef.unwrap_or(p.ent_coef))?,
            vf_coef: check_nonneg("ppo.vf_coef", c.vf_coef.unwrap_or(p.vf_coef))?,
            max_grad_norm: check_nonneg(
                "ppo.max_grad_norm",
                c.max_grad_norm.unwrap_or(p.max_grad_norm),
            )?,
            hidden: c.hidden.clone().unwrap_or(p.hidden),
            anneal_lr: c.anneal_lr.unwrap_or(p.anneal_lr),
            norm_adv: c.norm_adv.unwrap_or(p.norm_adv),
        };
        check_hidden("ppo.hidden", &r.hidden)?;
        if r.num_envs * r.rollout_steps > MAX_ROLLOUT {
            return Err(invalid(
                "ppo.rollout_steps",
                r.rollout_steps,
                &format!("num_envs × rollout_steps must be at most {MAX_ROLLOUT}"),
            ));
        }
        if r.minibatches > r.num_envs * r.rollout_steps {
            return Err(invalid(
                "ppo.minibatches",
                r.minibatches,
                "must not exceed num_envs × rollout_steps",
            ));
        }
        Ok(r)
    }

    /// The same values as a fully populated [`PpoConfig`] (for writing the resolved config).
    pub fn to_config(&self) -> PpoConfig {
        PpoConfig {
            lr: Some(self.lr),
            gamma: Some(self.gamma),
            gae_lambda: Some(self.gae_lambda),
            num_envs: Some(self.num_envs),
            rollout_steps: Some(self.rollout_steps),
            epochs: Some(self.epochs),
            minibatches: Some(self.minibatches),
            clip_coef: Some(self.clip_coef),
            ent_coef: Some(self.ent_coef),
            vf_coef: Some(self.vf_coef),
            max_grad_norm: Some(self.max_grad_norm),
            hidden: Some(self.hidden.clone()),
            anneal_lr: Some(self.anneal_lr),
            norm_adv: Some(self.norm_adv),
        }
    }
}

/// Env steps between periodic checkpoints unless the scenario says otherwise (a few seconds of
/// CartPole training).
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 25_000;
/// Checkpoints kept unless the scenario says otherwise.
pub const DEFAULT_KEEP_CHECKPOINTS: usize = 3;

/// Default env-step budget when `max_env_steps` is not set (CleanRL's 500k).
pub const DEFAULT_MAX_ENV_STEPS: u64 = 500_000;

impl RlConfig {
    /// Resolved DQN hyperparameters.
    pub fn dqn_params(&self) -> Result<DqnParams, ConfigError> {
        DqnParams::resolve(self.preset, &self.dqn)
    }

    /// Resolved PPO hyperparameters.
    pub fn ppo_params(&self) -> Result<PpoParams, ConfigError> {
        PpoParams::resolve(self.preset, &self.ppo)
    }

    /// The env-step budget.
    pub fn env_step_budget(&self) -> u64 {
        self.max_env_steps.unwrap_or(DEFAULT_MAX_ENV_STEPS)
    }

    /// Checks every value, including the agent's resolved hyperparameters and the env name.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.agent {
            AgentKind::Dqn => self.dqn_params().map(|_| ())?,
            AgentKind::Ppo => self.ppo_params().map(|_| ())?,
        }
        if !crate::envs::env_names().contains(&self.env.as_str()) {
            return Err(invalid(
                "env",
                &self.env,
                &format!("expected one of {}", crate::envs::env_names().join(", ")),
            ));
        }
        check_size("solve_window", self.solve_window, MAX_SOLVE_WINDOW)?;
        if !self.solve_return.is_finite() {
            return Err(invalid("solve_return", self.solve_return, "must be finite"));
        }
        check_size(
            "keep_checkpoints",
            self.keep_checkpoints,
            crate::params::MAX_KEEP_CHECKPOINTS,
        )?;
        if self.max_env_steps == Some(0) {
            return Err(invalid("max_env_steps", 0, "must be ≥ 1"));
        }
        Ok(())
    }

    /// A copy with the active agent's preset values written out explicitly and the budget set,
    /// so a run directory's `config.toml` records exactly what ran.
    pub fn resolved(&self) -> Result<RlConfig, ConfigError> {
        self.validate()?;
        let mut out = self.clone();
        out.max_env_steps = Some(self.env_step_budget());
        match self.agent {
            AgentKind::Dqn => out.dqn = self.dqn_params()?.to_config(),
            AgentKind::Ppo => out.ppo = self.ppo_params()?.to_config(),
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_with_overrides_resolves_over_the_preset() {
        let c: RlConfig = toml::from_str(
            "agent = \"dqn\"\npreset = \"cleanrl\"\nenv = \"cartpole\"\n[dqn]\nlr = 1e-3\n",
        )
        .unwrap();
        let p = c.dqn_params().unwrap();
        assert_eq!(p.lr, 1e-3);
        assert_eq!(p.buffer_size, 10_000);
        assert_eq!(p.target_period, 500);
        assert_eq!(p.eps_decay_steps, 250_000);
        let r = c.resolved().unwrap();
        assert_eq!(r.dqn.batch_size, Some(128));
        let back: RlConfig = toml::from_str(&toml::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_that_name_the_key() {
        let e = toml::from_str::<RlConfig>("agnet = \"dqn\"").unwrap_err();
        assert!(e.to_string().contains("agnet"), "{e}");
        let e = toml::from_str::<RlConfig>("[ppo]\nclip = 0.1").unwrap_err();
        assert!(e.to_string().contains("clip"), "{e}");
        let c: RlConfig = toml::from_str("[dqn]\nlr = -1.0").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("dqn.lr"), "{e}");
        let c: RlConfig = toml::from_str("agent = \"ppo\"\n[ppo]\ngamma = 1.5").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("ppo.gamma"));
        let c: RlConfig = toml::from_str("env = \"pong\"").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("env"));
        let c: RlConfig = toml::from_str("keep_checkpoints = 0").unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("keep_checkpoints"));
    }

    #[test]
    fn checkpoint_keys_have_defaults_and_parse() {
        let c: RlConfig = toml::from_str("agent = \"ppo\"").unwrap();
        assert_eq!(c.checkpoint_every, DEFAULT_CHECKPOINT_EVERY);
        assert_eq!(c.keep_checkpoints, DEFAULT_KEEP_CHECKPOINTS);
        let c: RlConfig = toml::from_str("checkpoint_every = 0\nkeep_checkpoints = 5").unwrap();
        assert_eq!((c.checkpoint_every, c.keep_checkpoints), (0, 5));
        c.validate().unwrap();
    }
}
