//! N environments stepped together with automatic reset, like Gymnasium's vector envs in
//! same-step autoreset mode: when an episode ends, the returned observation is already the next
//! episode's first one and the episode's last observation is kept in [`VecEnv::final_obs`].

use super::{CartPole, EnvError, EnvState, Environment, Pose};

/// Summary of an episode that ended during the last [`VecEnv::step`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FinishedEpisode {
    /// Which env (0-based) it ran in.
    pub env_index: usize,
    /// Sum of rewards.
    pub episode_return: f64,
    /// Number of steps.
    pub length: u32,
    /// Ended by the time limit rather than a terminal state.
    pub truncated: bool,
}

/// A batch of environments of one kind with flat `(num_envs, obs_dim)` observation buffers.
#[derive(Debug, Clone)]
pub struct VecEnv<E> {
    envs: Vec<E>,
    obs_dim: usize,
    obs: Vec<f64>,
    final_obs: Vec<f64>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    episode_returns: Vec<f64>,
    episode_lengths: Vec<u32>,
    finished: Vec<FinishedEpisode>,
    poses_after_step: Vec<Pose>,
}

/// A [`VecEnv`]'s complete state between two steps, for checkpoints.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VecEnvState {
    /// Each env's own state, in order.
    pub envs: Vec<EnvState>,
    /// Current observations, `(num_envs, obs_dim)` row-major.
    pub obs: Vec<f64>,
    /// Last observations of the episodes that ended in the last step (stale otherwise).
    pub final_obs: Vec<f64>,
    /// Rewards of the last step.
    pub rewards: Vec<f64>,
    /// Terminal flags of the last step.
    pub terminated: Vec<bool>,
    /// Time-limit flags of the last step.
    pub truncated: Vec<bool>,
    /// Return of each env's current episode so far.
    pub episode_returns: Vec<f64>,
    /// Length of each env's current episode so far.
    pub episode_lengths: Vec<u32>,
}

/// N native CartPole-v1 environments.
pub type VecCartPole = VecEnv<CartPole>;

impl VecCartPole {
    /// `num_envs` CartPoles; env `i` is seeded with `seed + i`.
    pub fn cartpole(num_envs: usize, seed: u64) -> Result<Self, EnvError> {
        let envs = (0..num_envs as u64)
            .map(|i| CartPole::new(seed.wrapping_add(i)))
            .collect();
        VecEnv::new(envs)
    }
}

impl<E: Environment> VecEnv<E> {
    /// Wraps `envs` (at least one, all with the same observation size) and resets them.
    pub fn new(mut envs: Vec<E>) -> Result<Self, EnvError> {
        let obs_dim = envs
            .first()
            .map(|e| e.obs_dim())
            .ok_or(EnvError::StateLength {
                env: "vector env".into(),
                got: 0,
                expected: 1,
            })?;
        if let Some(bad) = envs.iter().find(|e| e.obs_dim() != obs_dim) {
            return Err(EnvError::StateLength {
                env: bad.name().into(),
                got: bad.obs_dim(),
                expected: obs_dim,
            });
        }
        let n = envs.len();
        let mut obs = vec![0.0; n * obs_dim];
        for (env, o) in envs.iter_mut().zip(obs.chunks_exact_mut(obs_dim)) {
            env.reset(None, o);
        }
        Ok(Self {
            obs_dim,
            final_obs: obs.clone(),
            obs,
            rewards: vec![0.0; n],
            terminated: vec![false; n],
            truncated: vec![false; n],
            episode_returns: vec![0.0; n],
            episode_lengths: vec![0; n],
            finished: Vec::new(),
            poses_after_step: envs.iter().map(|e| e.pose()).collect(),
            envs,
        })
    }

    /// Resets every env (env `i` reseeded with `seed + i` when a seed is given).
    pub fn reset(&mut self, seed: Option<u64>) -> &[f64] {
        for (i, (env, o)) in self
            .envs
            .iter_mut()
            .zip(self.obs.chunks_exact_mut(self.obs_dim))
            .enumerate()
        {
            env.reset(seed.map(|s| s.wrapping_add(i as u64)), o);
        }
        self.episode_returns.fill(0.0);
        self.episode_lengths.fill(0);
        &self.obs
    }

    /// Steps env `i` with `actions[i]`; finished envs are reset at once.
    pub fn step(&mut self, actions: &[usize]) -> Result<(), EnvError> {
        if actions.len() != self.envs.len() {
            return Err(EnvError::StateLength {
                env: "vector env actions".into(),
                got: actions.len(),
                expected: self.envs.len(),
            });
        }
        self.finished.clear();
        let d = self.obs_dim;
        for (i, env) in self.envs.iter_mut().enumerate() {
            let o = &mut self.obs[i * d..(i + 1) * d];
            let out = env.step(actions[i], o)?;
            self.rewards[i] = out.reward;
            self.terminated[i] = out.terminated;
            self.truncated[i] = out.truncated;
            self.episode_returns[i] += out.reward;
            self.episode_lengths[i] += 1;
            self.poses_after_step[i] = env.pose();
            if out.done() {
                self.final_obs[i * d..(i + 1) * d].copy_from_slice(o);
                self.finished.push(FinishedEpisode {
                    env_index: i,
                    episode_return: self.episode_returns[i],
                    length: self.episode_lengths[i],
                    truncated: out.truncated && !out.terminated,
                });
                self.episode_returns[i] = 0.0;
                self.episode_lengths[i] = 0;
                env.reset(None, o);
            }
        }
        Ok(())
    }

    /// Number of environments.
    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }

    /// Observation length of one env.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Current observations, `(num_envs, obs_dim)` row-major.
    pub fn obs(&self) -> &[f64] {
        &self.obs
    }

    /// The last observation of env `i`'s episode if it ended in the last step (else stale).
    pub fn final_obs(&self, i: usize) -> &[f64] {
        &self.final_obs[i * self.obs_dim..(i + 1) * self.obs_dim]
    }

    /// Env `i`'s pose right after the last step, before any auto-reset (for drawing the final
    /// state of an episode).
    pub fn pose_after_step(&self, i: usize) -> Pose {
        self.poses_after_step[i]
    }

    /// Rewards of the last step, one per env.
    pub fn rewards(&self) -> &[f64] {
        &self.rewards
    }

    /// Terminal flags of the last step.
    pub fn terminated(&self) -> &[bool] {
        &self.terminated
    }

    /// Time-limit flags of the last step.
    pub fn truncated(&self) -> &[bool] {
        &self.truncated
    }

    /// Episodes that ended in the last step.
    pub fn finished(&self) -> &[FinishedEpisode] {
        &self.finished
    }

    /// Env `i`, e.g. to read its pose for drawing.
    pub fn env(&self, i: usize) -> &E {
        &self.envs[i]
    }

    /// Everything needed to continue stepping exactly from here; fails for an env kind that
    /// cannot capture its state.
    pub fn snapshot(&self) -> Result<VecEnvState, EnvError> {
        Ok(VecEnvState {
            envs: self
                .envs
                .iter()
                .map(Environment::snapshot)
                .collect::<Result<_, _>>()?,
            obs: self.obs.clone(),
            final_obs: self.final_obs.clone(),
            rewards: self.rewards.clone(),
            terminated: self.terminated.clone(),
            truncated: self.truncated.clone(),
            episode_returns: self.episode_returns.clone(),
            episode_lengths: self.episode_lengths.clone(),
        })
    }

    /// Puts every env back into `state` (taken from a vector env of the same size and kind);
    /// on a size mismatch nothing changes.
    pub fn restore(&mut self, state: &VecEnvState) -> Result<(), EnvError> {
        let n = self.envs.len();
        let flat = n * self.obs_dim;
        let lengths = [
            (state.envs.len(), n),
            (state.obs.len(), flat),
            (state.final_obs.len(), flat),
            (state.rewards.len(), n),
            (state.terminated.len(), n),
            (state.truncated.len(), n),
            (state.episode_returns.len(), n),
            (state.episode_lengths.len(), n),
        ];
        if let Some(&(got, expected)) = lengths.iter().find(|(got, want)| got != want) {
            return Err(EnvError::StateLength {
                env: "vector env checkpoint".into(),
                got,
                expected,
            });
        }
        let before: Vec<EnvState> = self
            .envs
            .iter()
            .map(Environment::snapshot)
            .collect::<Result<_, _>>()?;
        for (i, s) in state.envs.iter().enumerate() {
            if let Err(e) = self.envs[i].restore(s) {
                for (env, b) in self.envs.iter_mut().zip(&before).take(i) {
                    env.restore(b)?;
                }
                return Err(e);
            }
        }
        self.obs.clone_from(&state.obs);
        self.final_obs.clone_from(&state.final_obs);
        self.rewards.clone_from(&state.rewards);
        self.terminated.clone_from(&state.terminated);
        self.truncated.clone_from(&state.truncated);
        self.episode_returns.clone_from(&state.episode_returns);
        self.episode_lengths.clone_from(&state.episode_lengths);
        self.finished.clear();
        self.poses_after_step = self.envs.iter().map(|e| e.pose()).collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_reset_keeps_final_obs_and_counts_episodes() {
        let mut v = VecCartPole::cartpole(3, 7).unwrap();
        v.reset(Some(7));
        let mut finished = 0;
        let mut steps = 0u32;
        // Always pushing right ends every episode within a few dozen steps.
        while finished < 6 {
            v.step(&[1, 1, 1]).unwrap();
            steps += 1;
            for f in v.finished() {
                finished += 1;
                assert!(f.length < 100 && f.length > 5, "{f:?}");
                assert_eq!(f.episode_return, f.length as f64);
                let fo = v.final_obs(f.env_index);
                let beyond = fo[0].abs() > 2.4 || fo[2].abs() > 0.2094;
                assert!(beyond, "final obs is terminal: {fo:?}");
                let o = &v.obs()[f.env_index * 4..f.env_index * 4 + 4];
                assert!(o.iter().all(|x| x.abs() < 0.05), "reset obs {o:?}");
            }
            assert!(steps < 1000);
        }
        assert!(v.step(&[1]).is_err());
    }

    #[test]
    fn a_restored_vector_env_continues_identically() {
        let mut v = VecCartPole::cartpole(3, 11).unwrap();
        let actions = |t: usize| [t % 2, (t / 3) % 2, 1];
        for t in 0..40 {
            v.step(&actions(t)).unwrap();
        }
        let snap = v.snapshot().unwrap();
        let mut w = VecCartPole::cartpole(3, 500).unwrap();
        w.restore(&snap).unwrap();
        assert_eq!(w.obs(), v.obs());
        for t in 40..400 {
            v.step(&actions(t)).unwrap();
            w.step(&actions(t)).unwrap();
            assert_eq!(v.obs(), w.obs(), "step {t}");
            assert_eq!(v.finished(), w.finished(), "step {t}");
        }
        let mut small = VecCartPole::cartpole(2, 0).unwrap();
        assert!(small.restore(&snap).is_err());
    }
}
