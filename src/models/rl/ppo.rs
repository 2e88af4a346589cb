//! PPO (Schulman et al. 2017) as in CleanRL's ppo.py: separate actor and critic MLPs, rollouts
//! over several envs, GAE(λ) advantages, the clipped surrogate objective with an entropy bonus
//! and a value loss, several epochs of shuffled minibatches per rollout.

use std::collections::HashMap;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{Module, Optimizer, VarBuilder, VarMap};

use super::config::{AgentKind, PpoParams, RlConfig};
use super::dqn::run_greedy;
use super::episodes::EpisodeTracker;
use super::error::RlError;
use super::mlp::{argmax, Activation, Init, Mlp, MlpMirror};
use super::records::{EpisodeFrames, RlCounters, RlRecord};
use super::resume::{LiveParams, RlState};
use super::trainer::{clip_grad_norm, tensor2, to_f32, RlParam, Throughput};
use crate::envs::{make_env, Environment, VecEnv};
use crate::ops::adam::{Adam, AdamConfig};
use crate::rng::Rng;
use crate::runs::{restore_varmap, varmap_tensors};

/// Generalised advantage estimation over a `(steps, n_envs)` rollout stored step-major.
///
/// `ended[t·n + i]` is true when env i's transition at step t ended its episode (terminated, or
/// truncated with the bootstrap value already folded into the reward), so nothing flows back
/// across it. δ_t = r_t + γ V(s_{t+1}) (1 − ended_t) − V(s_t); A_t = δ_t + γλ (1 − ended_t) A_{t+1};
/// V(s_T) = `last_values`. Returns `(advantages, returns = advantages + values)`.
pub fn gae(
    rewards: &[f32],
    values: &[f32],
    ended: &[bool],
    last_values: &[f32],
    n_envs: usize,
    gamma: f64,
    lambda: f64,
) -> (Vec<f32>, Vec<f32>) {
    let total = rewards.len();
    debug_assert!(values.len() == total && ended.len() == total && last_values.len() == n_envs);
    let steps = total / n_envs.max(1);
    let mut adv = vec![0.0f32; total];
    for (i, &last_value) in last_values.iter().enumerate().take(n_envs) {
        let mut next_adv = 0.0f64;
        let mut next_value = f64::from(last_value);
        for t in (0..steps).rev() {
            let k = t * n_envs + i;
            let keep = if ended[k] { 0.0 } else { 1.0 };
            let delta = f64::from(rewards[k]) + gamma * next_value * keep - f64::from(values[k]);
            next_adv = delta + gamma * lambda * keep * next_adv;
            adv[k] = next_adv as f32;
            next_value = f64::from(values[k]);
        }
    }
    let returns = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    (adv, returns)
}

/// Softmax probabilities of `logits` written into `probs`.
fn softmax_into(logits: &[f32], probs: &mut Vec<f32>) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    probs.clear();
    probs.extend(logits.iter().map(|l| (l - max).exp()));
    let sum: f32 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= sum);
}

/// A PPO learner on `num_envs` environments.
pub struct PpoAgent {
    params: PpoParams,
    base_lr: f64,
    env_name: &'static str,
    envs: VecEnv<Box<dyn Environment>>,
    n_actions: usize,
    obs_dim: usize,
    device: Device,
    varmap: VarMap,
    actor: Mlp,
    critic: Mlp,
    actor_mirror: MlpMirror,
    critic_mirror: MlpMirror,
    opt: Adam,
    rng: Rng,
    env_steps: u64,
    updates: u64,
    budget: u64,
    stop_when_solved: bool,
    tracker: EpisodeTracker,
    throughput: Throughput,
    obs_f32: Vec<f32>,
    probs: Vec<f32>,
}

impl PpoAgent {
    /// Builds actor and critic (orthogonal init from `seed`), the optimiser and the envs.
    pub fn new(config: &RlConfig, device: &Device, seed: u64) -> Result<Self, RlError> {
        let params = config.ppo_params()?;
        let mut rng = Rng::new(seed);
        let envs: Vec<Box<dyn Environment>> = (0..params.num_envs as u64)
            .map(|i| make_env(&config.env, seed.wrapping_add(i)))
            .collect::<Result<_, _>>()?;
        let env_name = envs[0].name();
        let (obs_dim, n_actions) = (envs[0].obs_dim(), envs[0].action_count());
        let envs = VecEnv::new(envs)?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let mut actor_sizes = vec![obs_dim];
        actor_sizes.extend(&params.hidden);
        let mut critic_sizes = actor_sizes.clone();
        actor_sizes.push(n_actions);
        critic_sizes.push(1);
        let actor = Mlp::new(&actor_sizes, Activation::Tanh, vb.pp("actor"))?;
        let critic = Mlp::new(&critic_sizes, Activation::Tanh, vb.pp("critic"))?;
        let sqrt2 = std::f64::consts::SQRT_2;
        actor.init_weights(
            Init::Orthogonal {
                gain: sqrt2,
                last_gain: 0.01,
            },
            &mut rng,
        )?;
        critic.init_weights(
            Init::Orthogonal {
                gain: sqrt2,
                last_gain: 1.0,
            },
            &mut rng,
        )?;
        let opt = Adam::from_varmap(
            &varmap,
            AdamConfig {
                lr: params.lr,
                beta1: 0.9,
                beta2: 0.999,
                // CleanRL's PPO uses eps 1e-5.
                eps: 1e-5,
                weight_decay: 0.0,
            },
        )?;
        let tracker =
            EpisodeTracker::new(config.solve_window, config.solve_return, envs.env(0).pose());
        Ok(Self {
            base_lr: params.lr,
            actor_mirror: actor.mirror()?,
            critic_mirror: critic.mirror()?,
            params,
            env_name,
            envs,
            n_actions,
            obs_dim,
            device: device.clone(),
            varmap,
            actor,
            critic,
            opt,
            rng,
            env_steps: 0,
            updates: 0,
            budget: config.env_step_budget(),
            stop_when_solved: config.stop_when_solved,
            tracker,
            throughput: Throughput::default(),
            obs_f32: Vec::new(),
            probs: Vec::new(),
        })
    }

    pub(crate) fn set_lr(&mut self, lr: f64) {
        self.base_lr = lr;
        self.params.lr = lr;
        self.opt.set_learning_rate(lr);
    }

    pub(crate) fn params_mut(&mut self) -> &mut PpoParams {
        &mut self.params
    }

    /// The resolved hyperparameters in effect.
    pub fn params(&self) -> &PpoParams {
        &self.params
    }

    pub(crate) fn env_name(&self) -> &'static str {
        self.env_name
    }

    pub(crate) fn tracker(&self) -> &EpisodeTracker {
        &self.tracker
    }

    pub(crate) fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    pub(crate) fn get(&self, p: RlParam) -> Option<f64> {
        match p {
            RlParam::Lr => Some(self.base_lr),
            RlParam::Gamma => Some(self.params.gamma),
            RlParam::EntCoef => Some(self.params.ent_coef),
            RlParam::Epsilon | RlParam::TargetPeriod => None,
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

    fn value_of(&mut self, obs: &[f64]) -> f32 {
        to_f32(obs, &mut self.obs_f32);
        self.critic_mirror.forward(&self.obs_f32)[0]
    }

    /// One rollout of `rollout_steps × num_envs` transitions followed by the PPO update.
    pub(crate) fn step_chunk(&mut self, start: Instant) -> Result<Vec<RlRecord>, RlError> {
        let mut records = Vec::new();
        let (n, steps, d) = (
            self.envs.num_envs(),
            self.params.rollout_steps,
            self.obs_dim,
        );
        let total = n * steps;
        if self.params.anneal_lr {
            let frac = 1.0 - self.env_steps as f64 / self.budget.max(1) as f64;
            self.params.lr = (self.base_lr * frac).max(self.base_lr * 1e-3);
            self.opt.set_learning_rate(self.params.lr);
        }
        let mut obs_buf = Vec::with_capacity(total * d);
        let mut actions = Vec::with_capacity(total);
        let mut logprobs = Vec::with_capacity(total);
        let mut values = Vec::with_capacity(total);
        let mut rewards = Vec::with_capacity(total);
        let mut ended = Vec::with_capacity(total);
        let mut step_actions = vec![0usize; n];
        for _ in 0..steps {
            for (i, action) in step_actions.iter_mut().enumerate() {
                let o = &self.envs.obs()[i * d..(i + 1) * d];
                to_f32(o, &mut self.obs_f32);
                obs_buf.extend_from_slice(&self.obs_f32);
                values.push(self.critic_mirror.forward(&self.obs_f32)[0]);
                let logits = self.actor_mirror.forward(&self.obs_f32);
                softmax_into(logits, &mut self.probs);
                let u = self.rng.next_f32();
                let mut acc = 0.0;
                *action = self.n_actions - 1;
                for (a, p) in self.probs.iter().enumerate() {
                    acc += p;
                    if u < acc {
                        *action = a;
                        break;
                    }
                }
                actions.push(*action as u32);
                logprobs.push(self.probs[*action].max(1e-30).ln());
            }
            self.envs.step(&step_actions)?;
            self.env_steps += n as u64;
            for i in 0..n {
                let mut r = self.envs.rewards()[i] as f32;
                let (term, trunc) = (self.envs.terminated()[i], self.envs.truncated()[i]);
                if trunc && !term {
                    // The time limit is not a terminal state: bootstrap from the final state.
                    let final_obs = self.envs.final_obs(i).to_vec();
                    r += (self.params.gamma * f64::from(self.value_of(&final_obs))) as f32;
                }
                rewards.push(r);
                ended.push(term || trunc);
            }
            let secs = (self.throughput.total + start.elapsed()).as_secs_f64();
            self.tracker.after_step(
                self.envs.finished(),
                self.envs.pose_after_step(0),
                self.envs.env(0).pose(),
                self.env_steps,
                secs,
                &mut records,
            );
        }
        let last_obs = self.envs.obs().to_vec();
        let last_values: Vec<f32> = last_obs.chunks_exact(d).map(|o| self.value_of(o)).collect();
        let (adv, returns) = gae(
            &rewards,
            &values,
            &ended,
            &last_values,
            n,
            self.params.gamma,
            self.params.gae_lambda,
        );
        let (loss, entropy) = self.update(&obs_buf, &actions, &logprobs, &adv, &returns)?;
        self.throughput.add(start.elapsed(), total as u64);
        records.push(RlRecord::Update {
            env_steps: self.env_steps,
            updates: self.updates,
            loss: Some(loss),
            epsilon: None,
            entropy: Some(entropy),
            steps_per_sec: self.throughput.take_rate(),
            lr: self.params.lr,
        });
        Ok(records)
    }

    /// Epochs × minibatches of clipped-surrogate updates; returns mean (loss, entropy).
    fn update(
        &mut self,
        obs: &[f32],
        actions: &[u32],
        old_logprobs: &[f32],
        adv: &[f32],
        returns: &[f32],
    ) -> Result<(f64, f64), RlError> {
        let total = actions.len();
        let d = self.obs_dim;
        let mb = (total / self.params.minibatches).max(1);
        let mut order: Vec<usize> = (0..total).collect();
        let (mut loss_sum, mut ent_sum, mut count) = (0.0, 0.0, 0usize);
        let vars = self.varmap.all_vars();
        let (mut o, mut a, mut lp, mut ad, mut ret) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..self.params.epochs {
            self.rng.shuffle(&mut order);
            for chunk in order.chunks(mb) {
                let m = chunk.len();
                o.clear();
                a.clear();
                lp.clear();
                ad.clear();
                ret.clear();
                for &k in chunk {
                    o.extend_from_slice(&obs[k * d..(k + 1) * d]);
                    a.push(actions[k]);
                    lp.push(old_logprobs[k]);
                    ad.push(adv[k]);
                    ret.push(returns[k]);
                }
                if self.params.norm_adv && m > 1 {
                    let mean = ad.iter().sum::<f32>() / m as f32;
                    let var = ad.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / (m - 1) as f32;
                    let std = var.sqrt() + 1e-8;
                    ad.iter_mut().for_each(|x| *x = (*x - mean) / std);
                }
                let dev = &self.device;
                let obs_t = tensor2(&o, m, d, dev)?;
                let act_t = Tensor::from_slice(&a, (m, 1), dev)?;
                let old_lp = Tensor::from_slice(&lp, m, dev)?;
                let adv_t = Tensor::from_slice(&ad, m, dev)?;
                let ret_t = Tensor::from_slice(&ret, m, dev)?;

                let logp_all =
                    candle_nn::ops::log_softmax(&self.actor.forward(&obs_t)?, D::Minus1)?;
                let new_lp = logp_all.gather(&act_t, 1)?.squeeze(1)?;
                let entropy = (logp_all.exp()? * &logp_all)?
                    .sum(D::Minus1)?
                    .neg()?
                    .mean_all()?;
                let ratio = (new_lp - old_lp)?.exp()?;
                let c = self.params.clip_coef as f32;
                let pg1 = (&ratio * &adv_t)?;
                let pg2 = (ratio.clamp(1.0 - c, 1.0 + c)? * &adv_t)?;
                // L_clip = −E[min(r·A, clip(r, 1−ε, 1+ε)·A)]
                let pg_loss = pg1.minimum(&pg2)?.mean_all()?.neg()?;
                let v = self.critic.forward(&obs_t)?.squeeze(1)?;
                // L_V = ½ E[(V(s) − R)²]
                let v_loss = ((v - ret_t)?.sqr()?.mean_all()? * 0.5)?;
                let loss = ((pg_loss - (&entropy * self.params.ent_coef)?)?
                    + (v_loss * self.params.vf_coef)?)?;
                let loss_value = f64::from(loss.to_scalar::<f32>()?);
                if !loss_value.is_finite() {
                    return Err(RlError::Diverged {
                        loss: loss_value,
                        env_steps: self.env_steps,
                    });
                }
                let mut grads = loss.backward()?;
                clip_grad_norm(&mut grads, &vars, self.params.max_grad_norm)?;
                self.opt.step(&grads)?;
                self.updates += 1;
                loss_sum += loss_value;
                ent_sum += f64::from(entropy.to_scalar::<f32>()?);
                count += 1;
            }
        }
        self.actor.refresh_mirror(&mut self.actor_mirror)?;
        self.critic.refresh_mirror(&mut self.critic_mirror)?;
        let c = count.max(1) as f64;
        Ok((loss_sum / c, ent_sum / c))
    }

    /// A fresh episode taking the most probable action each step.
    pub(crate) fn greedy_episode(&mut self, seed: u64) -> Result<EpisodeFrames, RlError> {
        let mut obs = vec![0.0; self.obs_dim];
        let mut env = make_env(self.env_name, seed)?;
        env.reset(Some(seed), &mut obs);
        let mirror = &mut self.actor_mirror;
        let buf = &mut self.obs_f32;
        run_greedy(env.as_mut(), &mut obs, |o| {
            to_f32(o, buf);
            Ok(argmax(mirror.forward(buf)))
        })
    }
}

/// Checkpoint and restore at a rollout boundary (see [`super::resume`]).
impl PpoAgent {
    /// Copies of the actor and critic weights and Adam's state.
    pub(crate) fn checkpoint_tensors(&self) -> Result<Vec<(String, Tensor)>, RlError> {
        let mut out = Vec::new();
        for (name, t) in varmap_tensors(&self.varmap, "") {
            out.push((name, t.copy()?));
        }
        out.extend(self.opt.state_tensors()?);
        Ok(out)
    }

    /// Counters, RNG, envs, episodes and live hyperparameters; `config` is the run's config,
    /// returned with the live values written in.
    pub(crate) fn checkpoint_state(&self, config: &RlConfig) -> Result<RlState, RlError> {
        let hyperparameters = LiveParams {
            lr: self.base_lr,
            lr_in_effect: self.params.lr,
            gamma: self.params.gamma,
            epsilon_override: None,
            target_period: None,
            ent_coef: Some(self.params.ent_coef),
        };
        let mut config = config.clone();
        hyperparameters.apply_to(&mut config);
        Ok(RlState {
            agent: AgentKind::Ppo,
            env: self.env_name.to_string(),
            env_steps: self.env_steps,
            updates: self.updates,
            train_seconds: self.throughput.total.as_secs_f64(),
            rng: self.rng.state(),
            envs: self.envs.snapshot()?,
            episodes: self.tracker.state(),
            hyperparameters,
            replay: None,
            counters: self.counters(),
            config,
        })
    }

    /// Continues from a checkpoint of a PPO run with the same config; on error the agent is
    /// left part-restored and must be dropped.
    pub(crate) fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: &RlState,
    ) -> Result<(), RlError> {
        state.check_fits(AgentKind::Ppo, self.env_name)?;
        restore_varmap(&self.varmap, tensors, "")
            .map_err(|e| RlError::Checkpoint(e.to_string()))?;
        self.opt.load_state_tensors(tensors)?;
        self.envs.restore(&state.envs)?;
        self.tracker.restore(&state.episodes);
        self.rng = Rng::from_state(state.rng);
        self.env_steps = state.env_steps;
        self.updates = state.updates;
        self.throughput = Throughput::resumed(state.train_seconds);
        let live = &state.hyperparameters;
        // With `anneal_lr` the next rollout recomputes the annealed rate from this base.
        self.set_lr(live.lr);
        self.params.gamma = live.gamma;
        if let Some(coef) = live.ent_coef {
            self.params.ent_coef = coef;
        }
        self.actor.refresh_mirror(&mut self.actor_mirror)?;
        self.critic.refresh_mirror(&mut self.critic_mirror)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::{AgentKind, PpoConfig, Preset};
    use super::super::trainer::RlTrainer;
    use super::*;

    #[test]
    fn gae_matches_a_hand_computed_rollout() {
        // Two envs, three steps, step-major. γ = 0.9, λ = 0.8.
        // env 0: r = 1,1,1; V = .5,.4,.3; episode ends after step 1; V(s_3) = .2
        //   A2 = 1 + .9·.2 − .3 = .88; A1 = 1 − .4 = .6 (cut); A0 = (1 + .9·.4 − .5) + .72·.6 = 1.292
        // env 1: r = 0,0,1; V = 0; no ends; V(s_3) = 1
        //   A2 = 1 + .9 = 1.9; A1 = .72·1.9 = 1.368; A0 = .72·1.368 = .98496
        let rewards = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
        let values = [0.5, 0.0, 0.4, 0.0, 0.3, 0.0];
        let ended = [false, false, true, false, false, false];
        let (adv, ret) = gae(&rewards, &values, &ended, &[0.2, 1.0], 2, 0.9, 0.8);
        let want_adv = [1.292, 0.98496, 0.6, 1.368, 0.88, 1.9];
        for (a, w) in adv.iter().zip(want_adv) {
            assert!((a - w).abs() < 1e-5, "{adv:?}");
        }
        let want_ret = [1.792, 0.98496, 1.0, 1.368, 1.18, 1.9];
        for (r, w) in ret.iter().zip(want_ret) {
            assert!((r - w).abs() < 1e-5, "{ret:?}");
        }
    }

    #[test]
    fn entropy_coef_is_live_and_validated() {
        let cfg = RlConfig {
            agent: AgentKind::Ppo,
            ..RlConfig::default()
        };
        let mut t = RlTrainer::new(&cfg, &Device::Cpu, 0).unwrap();
        assert!(t.set_entropy_coef(-0.1).is_err());
        t.set_entropy_coef(0.02).unwrap();
        assert_eq!(t.get(RlParam::EntCoef), Some(0.02));
        assert!(t.set_epsilon_override(Some(0.1)).is_err());
        assert!(t.set_target_period(10).is_err());
    }

    /// PPO learns: the mean return of the last 20 episodes after 40k steps is well above a
    /// random policy's ~22.
    #[test]
    fn ppo_smoke_learning() {
        let cfg = RlConfig {
            agent: AgentKind::Ppo,
            preset: Preset::Fast,
            max_env_steps: Some(40_000),
            ppo: PpoConfig::default(),
            ..RlConfig::default()
        };
        let mut t = RlTrainer::new(&cfg, &Device::Cpu, 2).unwrap();
        let mut first = Vec::new();
        let mut entropies = Vec::new();
        while !t.is_finished() {
            for r in t.step().unwrap() {
                match r {
                    RlRecord::Episode { episode_return, .. } if first.len() < 20 => {
                        first.push(episode_return)
                    }
                    RlRecord::Update { entropy, .. } => entropies.push(entropy.unwrap()),
                    _ => {}
                }
            }
        }
        let first_mean = first.iter().sum::<f64>() / first.len() as f64;
        let c = t.counters();
        let last_mean = c.mean_return_20.unwrap();
        assert!(first_mean < 40.0, "first {first_mean}");
        assert!(last_mean > 120.0, "last {last_mean}, first {first_mean}");
        assert!(entropies[0] > 0.65, "starts near ln 2: {}", entropies[0]);
        assert!(entropies.last().unwrap() < &entropies[0]);
    }
}
