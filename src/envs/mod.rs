//! Reinforcement-learning environments: native CartPole-v1 and, behind the `gym-rs` feature, gym-rs.
//!
//! Every environment implements [`Environment`], so agents, the replay widget and the fixture
//! checker work the same on the native CartPole and on the gym-rs adapters.

pub mod cartpole;
pub mod check;
#[cfg(feature = "gym-rs")]
pub mod gym_rs;
pub mod vec_env;

pub use cartpole::{CartPole, CartPoleParams};
pub use vec_env::{FinishedEpisode, VecCartPole, VecEnv, VecEnvState};

use thiserror::Error;

/// What one environment step produced, Gymnasium-style (the observation is written separately).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// Reward for this transition.
    pub reward: f64,
    /// The episode reached a terminal state (no bootstrapping past it).
    pub terminated: bool,
    /// The episode was cut by the time limit (the next state still has value).
    pub truncated: bool,
}

impl StepOutcome {
    /// True when the episode is over for either reason and the env must be reset.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// A 2-D pose for drawing an episode: cart position (m) and pole angle (rad, positive leans
/// right) for CartPole; car position and slope angle for MountainCar.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pose {
    /// Horizontal position in the environment's own units.
    pub x: f64,
    /// Angle in radians from vertical (CartPole) or horizontal (MountainCar).
    pub theta: f64,
}

/// Errors from environment construction or use.
#[derive(Debug, Error)]
pub enum EnvError {
    /// An action outside `0..action_count`.
    #[error("action {action} is out of range: this environment has {count} actions")]
    InvalidAction {
        /// The action that was given.
        action: usize,
        /// How many actions the environment has.
        count: usize,
    },
    /// A state vector of the wrong length.
    #[error("state has {got} values, {env} needs {expected}")]
    StateLength {
        /// Environment name.
        env: String,
        /// Values given.
        got: usize,
        /// Values required.
        expected: usize,
    },
    /// An environment name that is not known (or not compiled in).
    #[error("unknown environment {0:?}: expected one of {1}")]
    UnknownEnv(String, String),
    /// The environment cannot save or restore its full state, so its runs cannot be resumed.
    #[error(
        "the {0} environment cannot save or restore its state, so its runs cannot be \
         checkpointed for resuming (the native `cartpole` can)"
    )]
    NoSnapshot(String),
}

/// An environment's complete state: with it, a fresh env of the same kind continues the
/// episode exactly (same physics, same step count, same future resets).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnvState {
    /// The physical state (CartPole: `[x, x_dot, theta, theta_dot]`).
    pub physics: Vec<f64>,
    /// Steps taken in the current episode (the time limit counts them).
    pub elapsed_steps: u32,
    /// The episode already reached a terminal state (later steps earn no reward).
    pub terminated: bool,
    /// The env's own generator, which draws the initial states of later episodes.
    pub rng: [u64; 4],
}

/// A discrete-action environment with a flat f64 observation: the interface agents train on.
pub trait Environment: Send {
    /// Stable name, e.g. `cartpole` or `gym-rs/cartpole`.
    fn name(&self) -> &'static str;
    /// Length of the observation vector.
    fn obs_dim(&self) -> usize;
    /// Number of discrete actions.
    fn action_count(&self) -> usize;
    /// Maximum episode length before truncation.
    fn max_episode_steps(&self) -> u32;
    /// Starts a new episode; `Some(seed)` reseeds the env's generator first. Writes the initial
    /// observation into `obs` (length [`Environment::obs_dim`]).
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f64]);
    /// Applies `action` and writes the next observation into `obs`.
    fn step(&mut self, action: usize, obs: &mut [f64]) -> Result<StepOutcome, EnvError>;
    /// The full internal state (for fixtures); equals the observation for the classic envs.
    fn state(&self) -> Vec<f64>;
    /// Overwrites the internal state and restarts the step counter (for fixture replays).
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError>;
    /// The pose to draw for the current state.
    fn pose(&self) -> Pose;
    /// Everything needed to continue exactly where the env is (for checkpoints); environments
    /// that cannot capture their state refuse with [`EnvError::NoSnapshot`].
    fn snapshot(&self) -> Result<EnvState, EnvError> {
        Err(EnvError::NoSnapshot(self.name().to_string()))
    }
    /// Puts the env back into a state taken with [`Environment::snapshot`].
    fn restore(&mut self, state: &EnvState) -> Result<(), EnvError> {
        let _ = state;
        Err(EnvError::NoSnapshot(self.name().to_string()))
    }
}

impl Environment for Box<dyn Environment> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn obs_dim(&self) -> usize {
        (**self).obs_dim()
    }
    fn action_count(&self) -> usize {
        (**self).action_count()
    }
    fn max_episode_steps(&self) -> u32 {
        (**self).max_episode_steps()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f64]) {
        (**self).reset(seed, obs)
    }
    fn step(&mut self, action: usize, obs: &mut [f64]) -> Result<StepOutcome, EnvError> {
        (**self).step(action, obs)
    }
    fn state(&self) -> Vec<f64> {
        (**self).state()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        (**self).set_state(state)
    }
    fn pose(&self) -> Pose {
        (**self).pose()
    }
    fn snapshot(&self) -> Result<EnvState, EnvError> {
        (**self).snapshot()
    }
    fn restore(&mut self, state: &EnvState) -> Result<(), EnvError> {
        (**self).restore(state)
    }
}

/// Environment names accepted by [`make_env`] in this build.
pub fn env_names() -> &'static [&'static str] {
    #[cfg(feature = "gym-rs")]
    {
        &["cartpole", "gym-rs/cartpole", "gym-rs/mountaincar"]
    }
    #[cfg(not(feature = "gym-rs"))]
    {
        &["cartpole"]
    }
}

/// Builds an environment by name (`cartpole`, and with the `gym-rs` feature
/// `gym-rs/cartpole`, `gym-rs/mountaincar`), seeded with `seed`.
pub fn make_env(name: &str, seed: u64) -> Result<Box<dyn Environment>, EnvError> {
    match name {
        "cartpole" | "CartPole-v1" => Ok(Box::new(CartPole::new(seed))),
        #[cfg(feature = "gym-rs")]
        "gym-rs/cartpole" => Ok(Box::new(gym_rs::GymRsCartPole::new(seed))),
        #[cfg(feature = "gym-rs")]
        "gym-rs/mountaincar" => Ok(Box::new(gym_rs::GymRsMountainCar::new(seed))),
        other => {
            let hint = if other.starts_with("gym-rs/") && !cfg!(feature = "gym-rs") {
                " (gym-rs environments need a build with `--features gym-rs`)"
            } else {
                ""
            };
            Err(EnvError::UnknownEnv(
                other.to_string(),
                format!("{}{hint}", env_names().join(", ")),
            ))
        }
    }
}
