//! What every RL agent has besides its networks: the environments, the generator, the trained
//! weights and their optimizer, the step and update counters, episode tracking, the training
//! clock, and the common part of a checkpoint. DQN and PPO each hold one [`AgentCore`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use candle_core::{backprop::GradStore, Device, Tensor, Var};
use candle_nn::VarMap;

use super::config::{AgentKind, RlConfig};
use super::episodes::EpisodeTracker;
use super::error::RlError;
use super::records::{EpisodeFrames, RlCounters, RlRecord};
use super::replay::ReplayPosition;
use super::resume::{LiveParams, RlState};
use crate::envs::{make_env, Environment, VecEnv};
use crate::ops::adam::{Adam, AdamConfig};
use crate::rng::Rng;
use crate::runs::{restore_varmap, varmap_tensors};

/// The state both agents share; the agent-specific networks and buffers live beside it.
pub(crate) struct AgentCore {
    /// Which algorithm owns this core (checkpoints only restore into the same one).
    pub(super) kind: AgentKind,
    /// The environment's name (checkpoints only restore onto the same one).
    pub(super) env_name: &'static str,
    /// The training environments (DQN: one; PPO: `num_envs`).
    pub(super) envs: VecEnv<Box<dyn Environment>>,
    /// Discrete actions of the environment.
    pub(super) n_actions: usize,
    /// Length of one observation.
    pub(super) obs_dim: usize,
    /// Where the networks live.
    pub(super) device: Device,
    /// The trained weights (DQN: the online Q-network; PPO: actor and critic).
    pub(super) varmap: VarMap,
    /// Adam over `varmap`.
    pub(super) opt: Adam,
    /// The agent's generator (exploration, minibatch sampling, PPO's action draws).
    pub(super) rng: Rng,
    /// Env steps done (all envs).
    pub(super) env_steps: u64,
    /// Gradient steps done.
    pub(super) updates: u64,
    /// Env steps the run may take.
    pub(super) budget: u64,
    /// End the run once it is solved.
    pub(super) stop_when_solved: bool,
    /// Finished episodes, the moving average and the solve time.
    pub(super) tracker: EpisodeTracker,
    /// Training time and steps/s.
    pub(super) throughput: Throughput,
    /// One observation narrowed to f32, reused for every forward pass on a single state.
    pub(super) obs_f32: Vec<f32>,
}

impl AgentCore {
    /// A fresh core on `envs`, with Adam (`adam`) over the already initialised `varmap`.
    pub(super) fn new(
        kind: AgentKind,
        config: &RlConfig,
        envs: VecEnv<Box<dyn Environment>>,
        rng: Rng,
        varmap: VarMap,
        adam: AdamConfig,
        device: &Device,
    ) -> Result<Self, RlError> {
        let opt = Adam::from_varmap(&varmap, adam)?;
        let env = envs.env(0);
        let (env_name, obs_dim, n_actions) = (env.name(), env.obs_dim(), env.action_count());
        let tracker = EpisodeTracker::new(config.solve_window, config.solve_return, env.pose());
        Ok(Self {
            kind,
            env_name,
            envs,
            n_actions,
            obs_dim,
            device: device.clone(),
            varmap,
            opt,
            rng,
            env_steps: 0,
            updates: 0,
            budget: config.env_step_budget(),
            stop_when_solved: config.stop_when_solved,
            tracker,
            throughput: Throughput::default(),
            obs_f32: Vec::new(),
        })
    }

    /// True once the run is solved and configured to stop there.
    pub(super) fn stops_solved(&self) -> bool {
        self.stop_when_solved && self.tracker.solved_at_step.is_some()
    }

    /// True once the env-step budget is spent, or the run is solved and configured to stop.
    pub(super) fn is_finished(&self) -> bool {
        self.env_steps >= self.budget || self.stops_solved()
    }

    /// Counters for display and the summary.
    pub(super) fn counters(&self) -> RlCounters {
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

    /// Frames of the latest finished episode of env 0.
    pub(super) fn latest_episode(&self) -> Option<&EpisodeFrames> {
        self.tracker.latest()
    }

    /// Records the envs' last step in the episode tracker (`Episode` and `Solved` records go to
    /// `records`); `start` is when the current chunk of work began.
    pub(super) fn track_step(&mut self, start: Instant, records: &mut Vec<RlRecord>) {
        let secs = (self.throughput.total + start.elapsed()).as_secs_f64();
        self.tracker.after_step(
            self.envs.finished(),
            self.envs.pose_after_step(0),
            self.envs.env(0).pose(),
            self.env_steps,
            secs,
            records,
        );
    }

    /// Closes a chunk of work that began at `start` and took `steps` env steps: the `Update`
    /// record with the agent's figures and the steps/s since the previous one.
    pub(super) fn update_record(
        &mut self,
        start: Instant,
        steps: u64,
        loss: Option<f64>,
        epsilon: Option<f64>,
        entropy: Option<f64>,
        lr: f64,
    ) -> RlRecord {
        self.throughput.add(start.elapsed(), steps);
        RlRecord::Update {
            env_steps: self.env_steps,
            updates: self.updates,
            loss,
            epsilon,
            entropy,
            steps_per_sec: self.throughput.take_rate(),
            lr,
        }
    }

    /// A fresh environment for a greedy episode, reset with `seed`, and its first observation.
    pub(super) fn greedy_env(
        &self,
        seed: u64,
    ) -> Result<(Box<dyn Environment>, Vec<f64>), RlError> {
        let mut obs = vec![0.0; self.obs_dim];
        let mut env = make_env(self.env_name, seed)?;
        env.reset(Some(seed), &mut obs);
        Ok((env, obs))
    }

    /// Copies of the trained weights, named as in `varmap` (the agent adds its own tensors).
    pub(super) fn weight_tensors(&self) -> Result<Vec<(String, Tensor)>, RlError> {
        let mut out = Vec::new();
        for (name, t) in varmap_tensors(&self.varmap, "") {
            out.push((name, t.copy()?));
        }
        Ok(out)
    }

    /// The sidecar state of a checkpoint taken now: counters, RNG, envs, episodes, the agent's
    /// live hyperparameters and replay position; `config` is returned with `live` written in.
    pub(super) fn checkpoint_state(
        &self,
        config: &RlConfig,
        live: LiveParams,
        replay: Option<ReplayPosition>,
    ) -> Result<RlState, RlError> {
        let mut config = config.clone();
        live.apply_to(&mut config);
        Ok(RlState {
            agent: self.kind,
            env: self.env_name.to_string(),
            env_steps: self.env_steps,
            updates: self.updates,
            train_seconds: self.throughput.total.as_secs_f64(),
            rng: self.rng.state(),
            envs: self.envs.snapshot()?,
            episodes: self.tracker.state(),
            hyperparameters: live,
            replay,
            counters: self.counters(),
            config,
        })
    }

    /// Checks that `state` was taken by a run of this agent on this environment.
    pub(super) fn check_fits(&self, state: &RlState) -> Result<(), RlError> {
        state.check_fits(self.kind, self.env_name)
    }

    /// Loads the trained weights and Adam's state from a checkpoint's tensors.
    pub(super) fn restore_weights(
        &mut self,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<(), RlError> {
        restore_varmap(&self.varmap, tensors, "")
            .map_err(|e| RlError::Checkpoint(e.to_string()))?;
        self.opt.load_state_tensors(tensors)?;
        Ok(())
    }

    /// Puts the envs, episodes, generator, counters and clock where `state` left them.
    pub(super) fn restore(&mut self, state: &RlState) -> Result<(), RlError> {
        self.envs.restore(&state.envs)?;
        self.tracker.restore(&state.episodes);
        self.rng = Rng::from_state(state.rng);
        self.env_steps = state.env_steps;
        self.updates = state.updates;
        self.throughput = Throughput::resumed(state.train_seconds);
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

/// Measures training time and steps/s between `Update` records.
#[derive(Debug, Clone, Default)]
pub(crate) struct Throughput {
    /// Training time of the whole run.
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

    /// Adds `elapsed` training time in which `steps` env steps were taken.
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
