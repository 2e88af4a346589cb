//! DQN (Mnih et al. 2015) as in CleanRL's dqn.py: Q-network MLP, uniform replay, a target
//! network copied every `target_period` env steps, ε-greedy exploration on a linear schedule,
//! and a TD loss on `Q(s, a)` against `r + γ (1 − terminated) max_a' Q_target(s', a')`.

use std::collections::HashMap;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{Module, Optimizer, VarMap};

use super::config::{AgentKind, DqnParams, RlConfig, TdLoss};
use super::episodes::EpisodeTracker;
use super::error::RlError;
use super::mlp::{argmax, mlp_in_new_varmap, Activation, Init, Mlp, MlpMirror};
use super::records::{EpisodeFrames, RlCounters, RlRecord};
use super::replay::{ReplayBatch, ReplayBuffer};
use super::resume::{LiveParams, RlState, REPLAY_PREFIX, TARGET_PREFIX};
use super::trainer::{clip_grad_norm, tensor2, to_f32, RlParam, Throughput};
use crate::envs::{make_env, Environment, VecEnv};
use crate::ops::adam::{Adam, AdamConfig};
use crate::rng::Rng;
use crate::runs::{restore_varmap, varmap_tensors};

/// Env steps done per [`super::RlTrainer::step`] call (a few ms of work at most).
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
    params: DqnParams,
    env_name: &'static str,
    envs: VecEnv<Box<dyn Environment>>,
    n_actions: usize,
    obs_dim: usize,
    device: Device,
    q_varmap: VarMap,
    q: Mlp,
    _target_varmap: VarMap,
    target: Mlp,
    q_mirror: MlpMirror,
    mirror_stale: bool,
    opt: Adam,
    buffer: ReplayBuffer,
    batch: ReplayBatch,
    rng: Rng,
    epsilon_override: Option<f64>,
    env_steps: u64,
    updates: u64,
    budget: u64,
    stop_when_solved: bool,
    tracker: EpisodeTracker,
    throughput: Throughput,
    loss_sum: f64,
    loss_count: u64,
    obs_f32: Vec<f32>,
}

impl DqnAgent {
    /// Builds the Q and target networks (weights drawn from `seed`), the optimiser, the replay
    /// buffer and the environment.
    pub fn new(config: &RlConfig, device: &Device, seed: u64) -> Result<Self, RlError> {
        let params = config.dqn_params()?;
        let mut rng = Rng::new(seed);
        let env = make_env(&config.env, seed)?;
        let env_name = env.name();
        let (obs_dim, n_actions) = (env.obs_dim(), env.action_count());
        let envs = VecEnv::new(vec![env])?;
        let mut sizes = vec![obs_dim];
        sizes.extend(&params.hidden);
        sizes.push(n_actions);
        let (q_varmap, q) = mlp_in_new_varmap(&sizes, Activation::Relu, "q", device)?;
        let (target_varmap, target) = mlp_in_new_varmap(&sizes, Activation::Relu, "q", device)?;
        q.init_weights(Init::TorchDefault, &mut rng)?;
        q.copy_into(&target)?;
        let opt = Adam::from_varmap(
            &q_varmap,
            AdamConfig {
                lr: params.lr,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
            },
        )?;
        let q_mirror = q.mirror()?;
        let tracker =
            EpisodeTracker::new(config.solve_window, config.solve_return, envs.env(0).pose());
        Ok(Self {
            buffer: ReplayBuffer::new(params.buffer_size, obs_dim),
            params,
            env_name,
            envs,
            n_actions,
            obs_dim,
            device: device.clone(),
            q_varmap,
            q,
            _target_varmap: target_varmap,
            target,
            q_mirror,
            mirror_stale: false,
            opt,
            batch: ReplayBatch::default(),
            rng,
            epsilon_override: None,
            env_steps: 0,
            updates: 0,
            budget: config.env_step_budget(),
            stop_when_solved: config.stop_when_solved,
            tracker,
            throughput: Throughput::default(),
            loss_sum: 0.0,
            loss_count: 0,
            obs_f32: Vec::new(),
        })
    }

    /// The scheduled or overridden ε at the current env step.
    pub fn epsilon(&self) -> f64 {
        self.epsilon_override.unwrap_or_else(|| {
            linear_epsilon(
                self.params.eps_start,
                self.params.eps_end,
                self.params.eps_decay_steps,
                self.env_steps,
            )
        })
    }

    pub(crate) fn epsilon_override(&self) -> Option<f64> {
        self.epsilon_override
    }

    pub(crate) fn set_epsilon_override(&mut self, eps: Option<f64>) {
        self.epsilon_override = eps;
    }

    pub(crate) fn set_lr(&mut self, lr: f64) {
        self.params.lr = lr;
        self.opt.set_learning_rate(lr);
    }

    pub(crate) fn params_mut(&mut self) -> &mut DqnParams {
        &mut self.params
    }

    /// The resolved hyperparameters in effect.
    pub fn params(&self) -> &DqnParams {
        &self.params
    }

    pub(crate) fn env_name(&self) -> &'static str {
        self.env_name
    }

    pub(crate) fn tracker(&self) -> &EpisodeTracker {
        &self.tracker
    }

    pub(crate) fn varmap(&self) -> &VarMap {
        &self.q_varmap
    }

    pub(crate) fn get(&self, p: RlParam) -> Option<f64> {
        match p {
            RlParam::Lr => Some(self.params.lr),
            RlParam::Gamma => Some(self.params.gamma),
            RlParam::Epsilon => Some(self.epsilon()),
            RlParam::TargetPeriod => Some(self.params.target_period as f64),
            RlParam::EntCoef => None,
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.env_steps >= self.budget
            || (self.stop_when_solved && self.tracker.solved_at_step.is_some())
    }

    pub(crate) fn counters(&self) -> RlCounters {
        let secs = self.throughput.total.as_secs_f64();
        RlCounters {
            env_steps: self.env_steps,
            episodes: self.tracker.episodes,
            updates: self.updates,
            mean_return_20: self.tracker.mean_return(),
            solved_at_step: self.tracker.solved_at_step,
            solved_at_seconds: self.tracker.solved_at_seconds,
            train_seconds: secs,
            steps_per_sec: if secs > 0.0 {
                self.env_steps as f64 / secs
            } else {
                0.0
            },
        }
    }

    fn greedy_action(&mut self, obs: &[f64]) -> Result<usize, RlError> {
        if self.mirror_stale {
            self.q.refresh_mirror(&mut self.q_mirror)?;
            self.mirror_stale = false;
        }
        to_f32(obs, &mut self.obs_f32);
        Ok(argmax(self.q_mirror.forward(&self.obs_f32)))
    }

    pub(crate) fn step_chunk(&mut self, start: Instant) -> Result<Vec<RlRecord>, RlError> {
        let mut records = Vec::new();
        let mut prev_obs = vec![0.0; self.obs_dim];
        let chunk_end = (self.env_steps + CHUNK_ENV_STEPS).min(self.budget.max(self.env_steps + 1));
        let mut steps_done = 0;
        while self.env_steps < chunk_end {
            prev_obs.copy_from_slice(self.envs.obs());
            let eps = self.epsilon();
            let action = if self.rng.next_f64() < eps {
                self.rng.below(self.n_actions)
            } else {
                self.greedy_action(&prev_obs)?
            };
            self.envs.step(&[action])?;
            self.env_steps += 1;
            steps_done += 1;
            let finished = !self.envs.finished().is_empty();
            let next_obs = if finished {
                self.envs.final_obs(0)
            } else {
                self.envs.obs()
            };
            self.buffer.push(
                &prev_obs,
                action,
                self.envs.rewards()[0],
                next_obs,
                self.envs.terminated()[0],
            );
            let secs = (self.throughput.total + start.elapsed()).as_secs_f64();
            self.tracker.after_step(
                self.envs.finished(),
                self.envs.pose_after_step(0),
                self.envs.env(0).pose(),
                self.env_steps,
                secs,
                &mut records,
            );
            if self.env_steps > self.params.learning_starts {
                if self.env_steps.is_multiple_of(self.params.train_every) {
                    for _ in 0..self.params.gradient_steps {
                        self.train_step()?;
                    }
                }
                if self.env_steps.is_multiple_of(self.params.target_period) {
                    self.q.copy_into(&self.target)?;
                }
            }
            if self.stop_when_solved && self.tracker.solved_at_step.is_some() {
                break;
            }
        }
        self.throughput.add(start.elapsed(), steps_done);
        let loss = (self.loss_count > 0).then(|| self.loss_sum / self.loss_count as f64);
        self.loss_sum = 0.0;
        self.loss_count = 0;
        records.push(RlRecord::Update {
            env_steps: self.env_steps,
            updates: self.updates,
            loss,
            epsilon: Some(self.epsilon()),
            entropy: None,
            steps_per_sec: self.throughput.take_rate(),
            lr: self.params.lr,
        });
        Ok(records)
    }

    /// One gradient step on a replay minibatch.
    fn train_step(&mut self) -> Result<(), RlError> {
        let b = self.params.batch_size;
        let d = self.obs_dim;
        self.buffer.sample_into(b, &mut self.rng, &mut self.batch);
        let dev = &self.device;
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
                env_steps: self.env_steps,
            });
        }
        let mut grads = loss.backward()?;
        if self.params.max_grad_norm > 0.0 {
            clip_grad_norm(
                &mut grads,
                &self.q_varmap.all_vars(),
                self.params.max_grad_norm,
            )?;
        }
        self.opt.step(&grads)?;
        self.updates += 1;
        self.mirror_stale = true;
        self.loss_sum += loss_value;
        self.loss_count += 1;
        Ok(())
    }

    /// A fresh greedy episode on a separate env instance.
    pub(crate) fn greedy_episode(&mut self, seed: u64) -> Result<EpisodeFrames, RlError> {
        let mut obs = vec![0.0; self.obs_dim];
        let mut env = make_env(self.env_name, seed)?;
        env.reset(Some(seed), &mut obs);
        run_greedy(env.as_mut(), &mut obs, |o| self.greedy_action(o))
    }
}

/// Checkpoint and restore (see [`super::resume`] for the tensor names and sidecar).
impl DqnAgent {
    /// Copies of the online and target weights, Adam's state and the replay buffer's contents.
    pub(crate) fn checkpoint_tensors(&self) -> Result<Vec<(String, Tensor)>, RlError> {
        let mut out = Vec::new();
        for (prefix, varmap) in [("", &self.q_varmap), (TARGET_PREFIX, &self._target_varmap)] {
            for (name, t) in varmap_tensors(varmap, prefix) {
                out.push((name, t.copy()?));
            }
        }
        out.extend(self.opt.state_tensors()?);
        out.extend(self.buffer.state_tensors(REPLAY_PREFIX)?);
        Ok(out)
    }

    /// Counters, RNG, envs, episodes and live hyperparameters; `config` is the run's config,
    /// returned with the live values written in.
    pub(crate) fn checkpoint_state(&self, config: &RlConfig) -> Result<RlState, RlError> {
        let hyperparameters = LiveParams {
            lr: self.params.lr,
            lr_in_effect: self.params.lr,
            gamma: self.params.gamma,
            epsilon_override: self.epsilon_override,
            target_period: Some(self.params.target_period),
            ent_coef: None,
        };
        let mut config = config.clone();
        hyperparameters.apply_to(&mut config);
        Ok(RlState {
            agent: AgentKind::Dqn,
            env: self.env_name.to_string(),
            env_steps: self.env_steps,
            updates: self.updates,
            train_seconds: self.throughput.total.as_secs_f64(),
            rng: self.rng.state(),
            envs: self.envs.snapshot()?,
            episodes: self.tracker.state(),
            hyperparameters,
            replay: Some(self.buffer.position()),
            counters: self.counters(),
            config,
        })
    }

    /// Continues from a checkpoint of a DQN run with the same config; on error the agent is
    /// left part-restored and must be dropped.
    pub(crate) fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: &RlState,
    ) -> Result<(), RlError> {
        state.check_fits(AgentKind::Dqn, self.env_name)?;
        let replay = state
            .replay
            .ok_or_else(|| RlError::Checkpoint("the DQN replay buffer is missing".into()))?;
        let fit = |e: crate::runs::RunsError| RlError::Checkpoint(e.to_string());
        restore_varmap(&self.q_varmap, tensors, "").map_err(fit)?;
        restore_varmap(&self._target_varmap, tensors, TARGET_PREFIX).map_err(fit)?;
        self.opt.load_state_tensors(tensors)?;
        self.buffer
            .load_state_tensors(tensors, REPLAY_PREFIX, replay)?;
        self.envs.restore(&state.envs)?;
        self.tracker.restore(&state.episodes);
        self.rng = Rng::from_state(state.rng);
        self.env_steps = state.env_steps;
        self.updates = state.updates;
        self.throughput = Throughput::resumed(state.train_seconds);
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

/// Runs `policy` on `env` (already reset, `obs` its observation) until the episode ends.
pub(crate) fn run_greedy(
    env: &mut dyn Environment,
    obs: &mut [f64],
    mut policy: impl FnMut(&[f64]) -> Result<usize, RlError>,
) -> Result<EpisodeFrames, RlError> {
    let mut poses = vec![env.pose()];
    let mut ret = 0.0;
    let mut length = 0u32;
    loop {
        let a = policy(obs)?;
        let out = env.step(a, obs)?;
        poses.push(env.pose());
        ret += out.reward;
        length += 1;
        if out.done() || length >= env.max_episode_steps() {
            return Ok(EpisodeFrames {
                episode: 0,
                poses,
                episode_return: ret,
                length,
                truncated: !out.terminated,
                greedy: true,
            });
        }
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
        assert!(t.set_lr(-1.0).is_err());
        assert!(t.set_lr(f64::NAN).is_err());
        t.set_lr(5e-4).unwrap();
        assert_eq!(t.get(RlParam::Lr), Some(5e-4));
        assert!(t.set(RlParam::Gamma, 1.5).is_err());
        t.set(RlParam::Epsilon, 0.3).unwrap();
        assert_eq!(t.get(RlParam::Epsilon), Some(0.3));
        assert!(t.epsilon_overridden());
        t.set(RlParam::Epsilon, -1.0).unwrap();
        assert_eq!(
            t.get(RlParam::Epsilon),
            Some(1.0),
            "back on the schedule at step 0"
        );
        assert!(t.set(RlParam::TargetPeriod, 0.0).is_err());
        assert!(t.set(RlParam::TargetPeriod, 2.5).is_err());
        t.set(RlParam::TargetPeriod, 100.0).unwrap();
        assert_eq!(t.get(RlParam::TargetPeriod), Some(100.0));
        assert!(matches!(
            t.set(RlParam::EntCoef, 0.1),
            Err(RlError::NotApplicable { .. })
        ));
        assert!("nope".parse::<RlParam>().is_err());
        assert_eq!("ent_coef".parse::<RlParam>().unwrap(), RlParam::EntCoef);
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
