//! PPO (Schulman et al. 2017) as in CleanRL's ppo.py: separate actor and critic MLPs, rollouts
//! over several envs, GAE(λ) advantages, the clipped surrogate objective with an entropy bonus
//! and a value loss, several epochs of shuffled minibatches per rollout.

use std::collections::HashMap;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{Module, Optimizer, VarBuilder, VarMap};

use super::agent::Agent;
use super::config::{AgentKind, PpoParams, RlConfig};
use super::core::{clip_grad_norm, tensor2, to_f32, AgentCore};
use super::error::RlError;
use super::mlp::{argmax, Activation, Init, Mlp, MlpMirror};
use super::records::RlRecord;
use super::resume::{LiveParams, RlState};
use crate::envs::{make_env, Environment, VecEnv};
use crate::ops::adam::AdamConfig;
use crate::params::Param;
use crate::rng::Rng;

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
    core: AgentCore,
    params: PpoParams,
    base_lr: f64,
    actor: Mlp,
    critic: Mlp,
    actor_mirror: MlpMirror,
    critic_mirror: MlpMirror,
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
        let envs = VecEnv::new(envs)?;
        let (obs_dim, n_actions) = (envs.env(0).obs_dim(), envs.env(0).action_count());
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
        let adam = AdamConfig {
            lr: params.lr,
            beta1: 0.9,
            beta2: 0.999,
            // CleanRL's PPO uses eps 1e-5.
            eps: 1e-5,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
        };
        let core = AgentCore::new(AgentKind::Ppo, config, envs, rng, varmap, adam, device)?;
        Ok(Self {
            core,
            base_lr: params.lr,
            actor_mirror: actor.mirror()?,
            critic_mirror: critic.mirror()?,
            params,
            actor,
            critic,
            probs: Vec::new(),
        })
    }

    fn set_lr(&mut self, lr: f64) {
        self.base_lr = lr;
        self.params.lr = lr;
        self.core.opt.set_learning_rate(lr);
    }

    /// The resolved hyperparameters in effect.
    pub fn params(&self) -> &PpoParams {
        &self.params
    }

    /// The hyperparameters a checkpoint keeps because the user may have changed them live.
    fn live_params(&self) -> LiveParams {
        LiveParams {
            lr: self.base_lr,
            lr_in_effect: self.params.lr,
            gamma: self.params.gamma,
            epsilon_override: None,
            target_period: None,
            ent_coef: Some(self.params.ent_coef),
        }
    }

    fn value_of(&mut self, obs: &[f64]) -> f32 {
        to_f32(obs, &mut self.core.obs_f32);
        self.critic_mirror.forward(&self.core.obs_f32)[0]
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
        let d = self.core.obs_dim;
        let mb = (total / self.params.minibatches).max(1);
        let mut order: Vec<usize> = (0..total).collect();
        let (mut loss_sum, mut ent_sum, mut count) = (0.0, 0.0, 0usize);
        let vars = self.core.varmap.all_vars();
        let (mut o, mut a, mut lp, mut ad, mut ret) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..self.params.epochs {
            self.core.rng.shuffle(&mut order);
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
                let dev = &self.core.device;
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
                        env_steps: self.core.env_steps,
                    });
                }
                let mut grads = loss.backward()?;
                clip_grad_norm(&mut grads, &vars, self.params.max_grad_norm)?;
                self.core.opt.step(&grads)?;
                self.core.updates += 1;
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
}

impl Agent for PpoAgent {
    fn core(&self) -> &AgentCore {
        &self.core
    }

    /// One rollout of `rollout_steps × num_envs` transitions followed by the PPO update.
    fn step(&mut self, start: Instant) -> Result<Vec<RlRecord>, RlError> {
        let mut records = Vec::new();
        let (n, steps, d) = (
            self.core.envs.num_envs(),
            self.params.rollout_steps,
            self.core.obs_dim,
        );
        let total = n * steps;
        if self.params.anneal_lr {
            let frac = 1.0 - self.core.env_steps as f64 / self.core.budget.max(1) as f64;
            self.params.lr = (self.base_lr * frac).max(self.base_lr * 1e-3);
            self.core.opt.set_learning_rate(self.params.lr);
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
                let core = &mut self.core;
                let o = &core.envs.obs()[i * d..(i + 1) * d];
                to_f32(o, &mut core.obs_f32);
                obs_buf.extend_from_slice(&core.obs_f32);
                values.push(self.critic_mirror.forward(&core.obs_f32)[0]);
                let logits = self.actor_mirror.forward(&core.obs_f32);
                softmax_into(logits, &mut self.probs);
                let u = core.rng.next_f32();
                let mut acc = 0.0;
                *action = core.n_actions - 1;
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
            self.core.envs.step(&step_actions)?;
            self.core.env_steps += n as u64;
            for i in 0..n {
                let envs = &self.core.envs;
                let mut r = envs.rewards()[i] as f32;
                let (term, trunc) = (envs.terminated()[i], envs.truncated()[i]);
                if trunc && !term {
                    // The time limit is not a terminal state: bootstrap from the final state.
                    let final_obs = envs.final_obs(i).to_vec();
                    r += (self.params.gamma * f64::from(self.value_of(&final_obs))) as f32;
                }
                rewards.push(r);
                ended.push(term || trunc);
            }
            self.core.track_step(start, &mut records);
        }
        let last_obs = self.core.envs.obs().to_vec();
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
        records.push(self.core.update_record(
            start,
            total as u64,
            Some(loss),
            None,
            Some(entropy),
            self.params.lr,
        ));
        Ok(records)
    }

    /// The most probable action.
    fn greedy_action(&mut self, obs: &[f64]) -> Result<usize, RlError> {
        to_f32(obs, &mut self.core.obs_f32);
        Ok(argmax(self.actor_mirror.forward(&self.core.obs_f32)))
    }

    /// `Lr` is the base of the annealing schedule when `anneal_lr` is on.
    fn get(&self, param: Param) -> Option<f64> {
        match param {
            Param::Lr => Some(self.base_lr),
            Param::Gamma => Some(self.params.gamma),
            Param::EntropyCoef => Some(self.params.ent_coef),
            _ => None,
        }
    }

    fn set(&mut self, param: Param, value: f64) -> Result<(), RlError> {
        match param {
            Param::Lr => self.set_lr(value),
            Param::Gamma => self.params.gamma = value,
            Param::EntropyCoef => self.params.ent_coef = value,
            _ => return Err(RlError::not_applicable(param.key(), AgentKind::Ppo)),
        }
        Ok(())
    }

    /// Copies of the actor and critic weights and Adam's state.
    fn checkpoint_tensors(&self) -> Result<Vec<(String, Tensor)>, RlError> {
        let mut out = self.core.weight_tensors()?;
        out.extend(self.core.opt.state_tensors()?);
        Ok(out)
    }

    /// Checkpoints fall on rollout boundaries, so no half-collected rollout needs saving.
    fn checkpoint_state(&self, config: &RlConfig) -> Result<RlState, RlError> {
        self.core.checkpoint_state(config, self.live_params(), None)
    }

    fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: &RlState,
    ) -> Result<(), RlError> {
        self.core.check_fits(state)?;
        self.core.restore_weights(tensors)?;
        self.core.restore(state)?;
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
        assert!(t.set(Param::EntropyCoef, -0.1).is_err());
        t.set(Param::EntropyCoef, 0.02).unwrap();
        assert_eq!(t.get(Param::EntropyCoef), Some(0.02));
        assert!(matches!(
            t.set(Param::Epsilon, 0.1),
            Err(RlError::NotApplicable { .. })
        ));
        assert!(matches!(
            t.set(Param::TargetPeriod, 10.0),
            Err(RlError::NotApplicable { .. })
        ));
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
