//! The typed values an RL run reports: metric records, counters, the summary, episode frames.

use serde::{Deserialize, Serialize};

use crate::envs::Pose;

/// One typed metric record produced by a trainer step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RlRecord {
    /// An episode ended.
    Episode {
        /// Env steps so far (all envs).
        env_steps: u64,
        /// 1-based episode number.
        episode: u64,
        /// Sum of rewards.
        episode_return: f64,
        /// Steps in the episode.
        length: u32,
        /// Mean return of the last `solve_window` episodes (fewer at the start).
        mean_return_20: f64,
    },
    /// Training statistics over the work done since the previous `Update` record.
    Update {
        /// Env steps so far.
        env_steps: u64,
        /// Gradient steps so far.
        updates: u64,
        /// Mean loss over the period (`None` before learning starts).
        loss: Option<f64>,
        /// DQN's exploration ε in effect.
        epsilon: Option<f64>,
        /// PPO's mean policy entropy (nats).
        entropy: Option<f64>,
        /// Env steps per second of training time over the period.
        steps_per_sec: f64,
        /// Learning rate in effect.
        lr: f64,
    },
    /// The moving-average return reached the solve threshold for the first time.
    Solved {
        /// Env steps at that moment.
        env_steps: u64,
        /// Training seconds at that moment (time spent inside `step`).
        seconds: f64,
        /// Episodes finished.
        episode: u64,
    },
}

/// Counters for the dashboard and the headless summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RlCounters {
    /// Env steps so far (all envs).
    pub env_steps: u64,
    /// Finished episodes.
    pub episodes: u64,
    /// Gradient steps.
    pub updates: u64,
    /// Mean return of the last `solve_window` episodes; `None` before the first episode.
    pub mean_return_20: Option<f64>,
    /// Env step at which the run was first solved.
    pub solved_at_step: Option<u64>,
    /// Training seconds at which the run was first solved.
    pub solved_at_seconds: Option<f64>,
    /// Seconds spent inside `step` (excludes pauses).
    pub train_seconds: f64,
    /// Env steps per training second over the whole run.
    pub steps_per_sec: f64,
}

/// The headless run summary, with exactly the keys the `--json` summary line carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RlSummary {
    /// Environment name.
    pub env: String,
    /// `dqn` or `ppo`.
    pub agent: String,
    /// Env steps done.
    pub env_steps: u64,
    /// Episodes finished.
    pub episodes: u64,
    /// Mean return of the last 20 (`solve_window`) episodes.
    pub mean_return_20: Option<f64>,
    /// Env step at which the run was solved.
    pub solved_at_step: Option<u64>,
    /// Training seconds at which the run was solved.
    pub solved_at_seconds: Option<f64>,
    /// Env steps per training second over the run.
    pub steps_per_sec: f64,
}

/// Poses of one episode, for replaying it at 50 simulated frames per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeFrames {
    /// 1-based episode number (0 for a greedy "watch" episode).
    pub episode: u64,
    /// One pose per state, the initial state first (`length + 1` poses).
    pub poses: Vec<Pose>,
    /// Sum of rewards.
    pub episode_return: f64,
    /// Steps taken.
    pub length: u32,
    /// Ended by the time limit rather than by falling.
    pub truncated: bool,
    /// Played by the greedy policy (no exploration).
    pub greedy: bool,
}
