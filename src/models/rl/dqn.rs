//! DQN (Mnih et al. 2015) as in CleanRL's dqn.py: Q-network MLP, uniform replay, a target
//! network copied every `target_period` env steps, ε-greedy exploration on a linear schedule,
//! and a TD loss on `Q(s, a)` against `r + γ (1 − terminated) max_a' Q_target(s', a')`.

use std::collections::HashMap;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{Module, Optimizer, VarMap};

use super::agent::Agent;
use super::config::{AgentKind, DqnParams, RlConfig, TdLoss};
use super::core::{clip_grad_norm, tensor2, to_f32, AgentCore};
use super::error::RlError;
use super::mlp::{argmax, mlp_in_new_varmap, Activation, Init, Mlp, MlpMirror};
use super::records::RlRecord;
use super::replay::{ReplayBatch, ReplayBuffer};
use super::resume::{LiveParams, RlState, REPLAY_PREFIX, TARGET_PREFIX};
use crate::envs::{make_env, VecEnv};
use crate::ops::adam::AdamConfig;
use crate::params::Param;
use crate::rng::Rng;
use crate::runs::{restore_varmap, varmap_tensors};

/// Env steps done per trainer step (a few ms of work at most).
const CHUNK_ENV_STEPS: u64 = 128;

/// ε of a linear schedule: `start` at step 0, `end` from `decay_steps` on (CleanRL's
/// `linear_schedule` with duration = exploration_fraction × total_timesteps).
pub fn linear_epsilon(start: f64, end: f64, decay_steps: u64, step: u64) -> f64 {
    if decay_steps == 0 || step >= decay_steps {
        return end;
    }
    let slope = (end - start) / decay_steps as f64;
    (slope * step as f64 + start).max(end.min(start))
}

/// Element-wise TD loss of `diff = Q(s,a) − target`, averaged over the batch.
/// MSE: mean(diff²). Huber (δ = 1): mean(0.5·q² + (|diff| − q)) with q = min(|diff|, 1), which is
/// 0.5·diff² for |diff| ≤ 1 and |diff| − 0.5 beyond.
pub fn td_loss(diff: &Tensor, kind: TdLoss) -> candle_core::Result<Tensor> {
    match kind {
        TdLoss::Mse => diff.sqr()?.mean_all(),
        TdLoss::Huber => {
            let abs = diff.abs()?;
            let quad = abs.clamp(0.0f32, 1.0f32)?;
            let lin = (&abs - &quad)?;
            ((quad.sqr()? * 0.5)? + lin)?.mean_all()
        }
    }
}

/// A DQN learner on one environment.
pub struct DqnAgent {
    core: AgentCore,
    params: DqnParams,
    q: Mlp,
    target_varmap: VarMap,
    target: Mlp,
    q_mirror: MlpMirror,
    mirror_stale: bool,
    buffer: ReplayBuffer,
    batch: ReplayBatch,
    epsilon_override: Option<f64>,
    loss_sum: f64,
    loss_count: u64,
}

impl DqnAgent {
    /// Builds the Q and target networks (weights drawn from `seed`), the optimiser, the replay
    /// buffer and the environment.
    pub fn new(config: &RlConfig, device: &Device, seed: u64) -> Result<Self, RlError> {
        let params = config.dqn_params()?;
        let mut rng = Rng::new(seed);
        let env = make_env(&config.env, seed)?;
        let (obs_dim, n_actions) = (env.obs_dim(), env.action_count());
        let envs = VecEnv::new(vec![env])?;
        let mut sizes = vec![obs_dim];
        sizes.extend(&params.hidden);
        sizes.push(n_actions);
        let (q_varmap, q) = mlp_in_new_varmap(&sizes, Activation::Relu, "q", device)?;
        let (target_varmap, target) = mlp_in_new_varmap(&sizes, Activation::Relu, "q", device)?;
        q.init_weights(Init::TorchDefault, &mut rng)?;
        q.copy_into(&target)?;
        let adam = AdamConfig {
            lr: params.lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
        };
        let core = AgentCore::new(AgentKind::Dqn, config, envs, rng, q_varmap, adam, device)?;
        Ok(Self {
            buffer: ReplayBuffer::new(params.buffer_size, obs_dim),
            q_mirror: q.mirror()?,
            core,
            params,
            q,
            target_varmap,
            target,
            mirror_stale: false,
            batch: ReplayBatch::default(),
            epsilon_override: None,
            loss_sum: 0.0,
            loss_count: 0,
        })
    }

    /// The scheduled or overridden ε at the current env step.
    pub fn epsilon(&self) -> f64 {
        self.epsilon_override.unwrap_or_else(|| {
            linear_epsilon(
                self.params.eps_start,
                self.params.eps_end,
                self.params.eps_decay_steps,
                self.core.env_steps,
            )
        })
    }

    /// The resolved hyperparameters in effect.
    pub fn params(&self) -> &DqnParams {
        &self.params
    }

    fn set_lr(&mut self, lr: f64) {
        self.params.lr = lr;
        self.core.opt.set_learning_rate(lr);
    }

    /// The hyperparameters a checkpoint keeps because the user may have changed them live.
    fn live_params(&self) -> LiveParams {
        LiveParams {
            lr: self.params.lr,
            lr_in_effect: self.params.lr,
            gamma: self.params.gamma,
            epsilon_override: self.epsilon_override,
            target_period: Some(self.params.target_period),
            ent_coef: None,
        }
    }

    /// One gradient step on a replay minibatch.
    fn train_step(&mut self) -> Result<(), RlError> {
        let b = self.params.batch_size;
        let d = self.core.obs_dim;
        self.buffer
            .sample_into(b, &mut self.core.rng, &mut self.batch);
        let dev = &self.core.device;
        let obs = tensor2(&self.batch.obs, b, d, dev)?;
        let next_obs = tensor2(&self.batch.next_obs, b, d, dev)?;
        let actions = Tensor::from_slice(&self.batch.actions, (b, 1), dev)?;
        let rewards = Tensor::from_slice(&self.batch.rewards, b, dev)?;
        let not_done = (1.0 - Tensor::from_slice(&self.batch.terminated, b, dev)?)?;

        let next_q_target = self.target.forward(&next_obs)?;
        let next_value = if self.params.double_dqn {
            let best = self
                .q
                .forward(&next_obs)?
                .detach()
                .argmax_keepdim(D::Minus1)?;
            next_q_target.gather(&best, 1)?.squeeze(1)?
        } else {
            next_q_target.max(D::Minus1)?
        };
        let target = (rewards + (next_value * not_done)? * self.params.gamma)?.detach();
        let q_taken = self.q.forward(&obs)?.gather(&actions, 1)?.squeeze(1)?;
        let loss = td_loss(&(q_taken - target)?, self.params.loss)?;
        let loss_value = f64::from(loss.to_dtype(DType::F32)?.to_scalar::<f32>()?);
        if !loss_value.is_finite() {
            return Err(RlError::Diverged {
                loss: loss_value,
                env_steps: self.core.env_steps,
            });
        }
        let mut grads = loss.backward()?;
        if self.params.max_grad_norm > 0.0 {
            clip_grad_norm(
                &mut grads,
                &self.core.varmap.all_vars(),
                self.params.max_grad_norm,
            )?;
        }
        self.core.opt.step(&grads)?;
        self.core.updates += 1;
        self.mirror_stale = true;
        self.loss_sum += loss_value;
        self.loss_count += 1;
        Ok(())
    }
}

impl Agent for DqnAgent {
    fn core(&self) -> &AgentCore {
        &self.core
    }

    /// About `CHUNK_ENV_STEPS` env steps with their gradient steps and target copies.
    fn step(&mut self, start: Instant) -> Result<Vec<RlRecord>, RlError> {
        let mut records = Vec::new();
        let mut prev_obs = vec![0.0; self.core.obs_dim];
        let env_steps = self.core.env_steps;
        let chunk_end = (env_steps + CHUNK_ENV_STEPS).min(self.core.budget.max(env_steps + 1));
        let mut steps_done = 0;
        while self.core.env_steps < chunk_end {
            prev_obs.copy_from_slice(self.core.envs.obs());
            let eps = self.epsilon();
            let action = if self.core.rng.next_f64() < eps {
                self.core.rng.below(self.core.n_actions)
            } else {
                self.greedy_action(&prev_obs)?
            };
            let envs = &mut self.core.envs;
            envs.step(&[action])?;
            self.core.env_steps += 1;
            steps_done += 1;
            let finished = !envs.finished().is_empty();
            let next_obs = if finished {
                envs.final_obs(0)
            } else {
                envs.obs()
            };
            self.buffer.push(
                &prev_obs,
                action,
                envs.rewards()[0],
                next_obs,
                envs.terminated()[0],
            );
            self.core.track_step(start, &mut records);
            let env_steps = self.core.env_steps;
            if env_steps > self.params.learning_starts {
                if env_steps.is_multiple_of(self.params.train_every) {
                    for _ in 0..self.params.gradient_steps {
                        self.train_step()?;
                    }
                }
                if env_steps.is_multiple_of(self.params.target_period) {
                    self.q.copy_into(&self.target)?;
                }
            }
            if self.core.stops_solved() {
                break;
            }
        }
        let loss = (self.loss_count > 0).then(|| self.loss_sum / self.loss_count as f64);
        self.loss_sum = 0.0;
        self.loss_count = 0;
        let epsilon = Some(self.epsilon());
        records.push(self.core.update_record(
            start,
            steps_done,
            loss,
            epsilon,
            None,
            self.params.lr,
        ));
        Ok(records)
    }

    fn greedy_action(&mut self, obs: &[f64]) -> Result<usize, RlError> {
        if self.mirror_stale {
            self.q.refresh_mirror(&mut self.q_mirror)?;
            self.mirror_stale = false;
        }
        to_f32(obs, &mut self.core.obs_f32);
        Ok(argmax(self.q_mirror.forward(&self.core.obs_f32)))
    }

    fn get(&self, param: Param) -> Option<f64> {
        match param {
            Param::Lr => Some(self.params.lr),
            Param::Gamma => Some(self.params.gamma),
            Param::Epsilon => Some(self.epsilon()),
            Param::TargetPeriod => Some(self.params.target_period as f64),
            _ => None,
        }
    }

    /// ε: a negative value returns to the schedule; the target period is a whole number ≥ 1.
    fn set(&mut self, param: Param, value: f64) -> Result<(), RlError> {
        match param {
            Param::Lr => self.set_lr(value),
            Param::Gamma => self.params.gamma = value,
            Param::Epsilon => self.epsilon_override = (value >= 0.0).then_some(value),
            Param::TargetPeriod => self.params.target_period = value as u64,
            _ => return Err(RlError::not_applicable(param.key(), AgentKind::Dqn)),
        }
        Ok(())
    }

    fn epsilon_overridden(&self) -> bool {
        self.epsilon_override.is_some()
    }

    /// Copies of the online and target weights, Adam's state and the replay buffer's contents.
    fn checkpoint_tensors(&self) -> Result<Vec<(String, Tensor)>, RlError> {
        let mut out = self.core.weight_tensors()?;
        for (name, t) in varmap_tensors(&self.target_varmap, TARGET_PREFIX) {
            out.push((name, t.copy()?));
        }
        out.extend(self.core.opt.state_tensors()?);
        out.extend(self.buffer.state_tensors(REPLAY_PREFIX)?);
        Ok(out)
    }

    fn checkpoint_state(&self, config: &RlConfig) -> Result<RlState, RlError> {
        self.core
            .checkpoint_state(config, self.live_params(), Some(self.buffer.position()))
    }

    fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: &RlState,
    ) -> Result<(), RlError> {
        self.core.check_fits(state)?;
        let replay = state
            .replay
            .ok_or_else(|| RlError::Checkpoint("the DQN replay buffer is missing".into()))?;
        self.core.restore_weights(tensors)?;
        restore_varmap(&self.target_varmap, tensors, TARGET_PREFIX)
            .map_err(|e| RlError::Checkpoint(e.to_string()))?;
        self.buffer
            .load_state_tensors(tensors, REPLAY_PREFIX, replay)?;
        self.core.restore(state)?;
        let live = &state.hyperparameters;
        self.set_lr(live.lr);
        self.params.gamma = live.gamma;
        if let Some(period) = live.target_period {
            self.params.target_period = period.max(1);
        }
        self.epsilon_override = live.epsilon_override;
        self.loss_sum = 0.0;
        self.loss_count = 0;
        self.mirror_stale = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::{AgentKind, DqnConfig, Preset};
    use super::super::trainer::RlTrainer;
    use super::*;

    #[test]
    fn epsilon_schedule_is_linear_then_flat() {
        assert_eq!(linear_epsilon(1.0, 0.05, 250_000, 0), 1.0);
        assert!((linear_epsilon(1.0, 0.05, 250_000, 125_000) - 0.525).abs() < 1e-12);
        assert_eq!(linear_epsilon(1.0, 0.05, 250_000, 250_000), 0.05);
        assert_eq!(linear_epsilon(1.0, 0.05, 250_000, 400_000), 0.05);
        assert_eq!(linear_epsilon(1.0, 0.05, 0, 0), 0.05);
    }

    #[test]
    fn huber_and_mse_match_hand_computed_values() {
        let d = Tensor::new(&[0.5f32, -2.0, 1.0, 0.0], &Device::Cpu).unwrap();
        let h: f32 = td_loss(&d, TdLoss::Huber).unwrap().to_scalar().unwrap();
        // 0.125 + 1.5 + 0.5 + 0 = 2.125, mean 0.53125
        assert!((h - 0.53125).abs() < 1e-6, "{h}");
        let m: f32 = td_loss(&d, TdLoss::Mse).unwrap().to_scalar().unwrap();
        assert!((m - 5.25 / 4.0).abs() < 1e-6, "{m}");
    }

    #[test]
    fn live_changes_are_validated_and_applied() {
        let cfg = RlConfig::default();
        let mut t = RlTrainer::new(&cfg, &Device::Cpu, 0).unwrap();
        assert!(t.set(Param::Lr, -1.0).is_err());
        assert!(t.set(Param::Lr, f64::NAN).is_err());
        t.set(Param::Lr, 5e-4).unwrap();
        assert_eq!(t.get(Param::Lr), Some(5e-4));
        assert!(t.set(Param::Gamma, 1.5).is_err());
        t.set(Param::Epsilon, 0.3).unwrap();
        assert_eq!(t.get(Param::Epsilon), Some(0.3));
        assert!(t.epsilon_overridden());
        t.set(Param::Epsilon, -1.0).unwrap();
        assert_eq!(
            t.get(Param::Epsilon),
            Some(1.0),
            "back on the schedule at step 0"
        );
        assert!(t.set(Param::TargetPeriod, 0.0).is_err());
        assert!(t.set(Param::TargetPeriod, 2.5).is_err());
        t.set(Param::TargetPeriod, 100.0).unwrap();
        assert_eq!(t.get(Param::TargetPeriod), Some(100.0));
        assert!(matches!(
            t.set(Param::EntropyCoef, 0.1),
            Err(RlError::NotApplicable { .. })
        ));
        let e = t.set(Param::BatchSize, 64.0).unwrap_err().to_string();
        assert_eq!(e, "batch_size does not apply to the dqn agent");
        assert_eq!(t.get(Param::BatchSize), None);
    }

    /// A short run: the greedy policy's return after ~12k env steps is far above a random
    /// policy's (~22) and the training mean return rises.
    #[test]
    fn short_dqn_run_learns_cartpole() {
        let cfg = RlConfig {
            agent: AgentKind::Dqn,
            preset: Preset::Fast,
            max_env_steps: Some(12_000),
            dqn: DqnConfig {
                eps_decay_steps: Some(6_000),
                learning_starts: Some(500),
                ..DqnConfig::default()
            },
            ..RlConfig::default()
        };
        let mut t = RlTrainer::new(&cfg, &Device::Cpu, 1).unwrap();
        let mut early = Vec::new();
        let mut late = Vec::new();
        while !t.is_finished() {
            for r in t.step().unwrap() {
                if let RlRecord::Episode {
                    env_steps,
                    episode_return,
                    ..
                } = r
                {
                    if env_steps <= 2_000 {
                        early.push(episode_return);
                    } else if env_steps > 9_000 {
                        late.push(episode_return);
                    }
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let c = t.counters();
        assert_eq!(c.env_steps, 12_000);
        assert!(c.updates > 1_000);
        let (e, l) = (mean(&early), mean(&late));
        assert!(e < 40.0, "early mean {e}");
        assert!(l > 3.0 * e && l > 80.0, "late mean {l} vs early {e}");
        let greedy = t.greedy_episode(123).unwrap();
        assert!(greedy.greedy && greedy.poses.len() == greedy.length as usize + 1);
        let summary = serde_json::to_value(t.summary()).unwrap();
        assert_eq!(summary["agent"], "dqn");
        assert_eq!(summary["env"], "cartpole");
        assert_eq!(summary["env_steps"], 12_000);
        let frames = t.latest_episode().unwrap();
        assert_eq!(frames.poses.len(), frames.length as usize + 1);
    }
}
