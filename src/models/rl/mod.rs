//! Reinforcement-learning agents (DQN, PPO) and the step-by-step trainer a job drives.

pub mod agent;
pub mod config;
pub mod core;
pub mod dqn;
pub mod episodes;
pub mod error;
pub mod mlp;
pub mod ppo;
pub mod records;
pub mod replay;
pub mod resume;
pub mod trainer;

pub use config::{AgentKind, DqnConfig, PpoConfig, Preset, RlConfig, TdLoss};
pub use resume::{LiveParams, RlState};
pub use trainer::{EpisodeFrames, RlCounters, RlError, RlRecord, RlSummary, RlTrainer};
