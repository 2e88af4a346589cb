//! What can go wrong while building, running, checkpointing or restoring an RL agent.

use thiserror::Error;

use super::config::{AgentKind, ConfigError};
use crate::envs::EnvError;

/// Everything that can go wrong while building or running an RL trainer.
#[derive(Debug, Error)]
pub enum RlError {
    /// A hyperparameter is out of range (config or live change); nothing was changed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The parameter does not exist for this agent (e.g. ε for PPO).
    #[error("{param} does not apply to the {agent} agent")]
    NotApplicable {
        /// The parameter's name.
        param: &'static str,
        /// The agent's name.
        agent: &'static str,
    },
    /// The environment failed.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
    /// A checkpoint does not fit this agent (another agent, env or architecture).
    #[error("checkpoint does not fit this run: {0}")]
    Checkpoint(String),
    /// The loss became NaN or infinite: the run diverged.
    #[error("loss is {loss} at env step {env_steps}: training diverged")]
    Diverged {
        /// The non-finite loss.
        loss: f64,
        /// When it happened.
        env_steps: u64,
    },
}

impl RlError {
    /// The refusal of a live change to parameter `param` (its key) that `agent` does not have.
    pub fn not_applicable(param: &'static str, agent: AgentKind) -> Self {
        RlError::NotApplicable {
            param,
            agent: agent.as_str(),
        }
    }
}
