//! The one interface the trainer drives: each algorithm (DQN, PPO) implements its chunk of
//! work, its greedy policy, its live hyperparameters and its own checkpoint tensors; everything
//! else goes through the shared [`AgentCore`].

use std::collections::HashMap;
use std::time::Instant;

use candle_core::Tensor;

use super::config::RlConfig;
use super::core::{run_greedy, AgentCore};
use super::error::RlError;
use super::records::{EpisodeFrames, RlRecord};
use super::resume::RlState;
use crate::params::Param;

/// An RL algorithm on its environments, advanced one chunk of work at a time.
pub(crate) trait Agent: Send {
    /// The shared state: envs, generator, weights, counters, episodes.
    fn core(&self) -> &AgentCore;

    /// Does one chunk of work that began at `start` and returns the records it produced.
    fn step(&mut self, start: Instant) -> Result<Vec<RlRecord>, RlError>;

    /// The action the current policy finds best for `obs`, without exploring.
    fn greedy_action(&mut self, obs: &[f64]) -> Result<usize, RlError>;

    /// Current value of a live parameter; `None` where it does not apply to this agent.
    fn get(&self, param: Param) -> Option<f64>;

    /// Applies an already validated live parameter; a parameter foreign to the agent is
    /// refused and changes nothing.
    fn set(&mut self, param: Param, value: f64) -> Result<(), RlError>;

    /// Whether ε is fixed by the user instead of following its schedule (DQN only).
    fn epsilon_overridden(&self) -> bool {
        false
    }

    /// Everything a checkpoint stores as tensors (copies, so training may go on at once).
    fn checkpoint_tensors(&self) -> Result<Vec<(String, Tensor)>, RlError>;

    /// The sidecar state of a checkpoint taken now; `config` is returned with the live
    /// hyperparameters written in.
    fn checkpoint_state(&self, config: &RlConfig) -> Result<RlState, RlError>;

    /// Continues from a checkpoint of a run with the same config; on error the agent is left
    /// part-restored and must be dropped.
    fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: &RlState,
    ) -> Result<(), RlError>;

    /// Plays one fresh episode (reset with `seed`) with the greedy policy, without touching
    /// training state.
    fn greedy_episode(&mut self, seed: u64) -> Result<EpisodeFrames, RlError> {
        let (mut env, mut obs) = self.core().greedy_env(seed)?;
        run_greedy(env.as_mut(), &mut obs, |o| self.greedy_action(o))
    }
}
