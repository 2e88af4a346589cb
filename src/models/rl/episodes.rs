//! Episode bookkeeping shared by the agents: the moving-average return, solve detection and
//! the frames of env 0's latest episode, with the state a checkpoint keeps of them.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::records::{EpisodeFrames, RlRecord};
use crate::envs::{FinishedEpisode, Pose};

/// Tracks finished episodes: moving average, solve detection, frames of env 0's episodes.
#[derive(Debug, Clone)]
pub(crate) struct EpisodeTracker {
    window: usize,
    solve_return: f64,
    recent: VecDeque<f64>,
    pub(crate) episodes: u64,
    pub(crate) solved_at_step: Option<u64>,
    pub(crate) solved_at_seconds: Option<f64>,
    current_poses: Vec<Pose>,
    latest: Option<EpisodeFrames>,
}

/// Longest episode whose frames are kept (CartPole's time limit; MountainCar's is shorter).
const MAX_RECORDED_POSES: usize = 10_001;

impl EpisodeTracker {
    pub(crate) fn new(window: usize, solve_return: f64, initial_pose: Pose) -> Self {
        Self {
            window: window.max(1),
            solve_return,
            recent: VecDeque::new(),
            episodes: 0,
            solved_at_step: None,
            solved_at_seconds: None,
            current_poses: vec![initial_pose],
            latest: None,
        }
    }

    pub(crate) fn mean_return(&self) -> Option<f64> {
        if self.recent.is_empty() {
            None
        } else {
            Some(self.recent.iter().sum::<f64>() / self.recent.len() as f64)
        }
    }

    /// Records env 0's pose after a step (`pose_after_step` is the pre-reset state) and, for
    /// each finished episode, an `Episode` record (plus `Solved` the first time).
    pub(crate) fn after_step(
        &mut self,
        finished: &[FinishedEpisode],
        pose_after_step: Pose,
        pose_after_reset: Pose,
        env_steps: u64,
        seconds: f64,
        records: &mut Vec<RlRecord>,
    ) {
        if self.current_poses.len() < MAX_RECORDED_POSES {
            self.current_poses.push(pose_after_step);
        }
        for f in finished {
            self.episodes += 1;
            self.recent.push_back(f.episode_return);
            if self.recent.len() > self.window {
                self.recent.pop_front();
            }
            let mean = self.mean_return().unwrap_or(0.0);
            records.push(RlRecord::Episode {
                env_steps,
                episode: self.episodes,
                episode_return: f.episode_return,
                length: f.length,
                mean_return_20: mean,
            });
            if f.env_index == 0 {
                let poses = std::mem::replace(&mut self.current_poses, vec![pose_after_reset]);
                self.latest = Some(EpisodeFrames {
                    episode: self.episodes,
                    poses,
                    episode_return: f.episode_return,
                    length: f.length,
                    truncated: f.truncated,
                    greedy: false,
                });
            }
            if self.solved_at_step.is_none()
                && self.recent.len() >= self.window
                && mean >= self.solve_return
            {
                self.solved_at_step = Some(env_steps);
                self.solved_at_seconds = Some(seconds);
                records.push(RlRecord::Solved {
                    env_steps,
                    seconds,
                    episode: self.episodes,
                });
            }
        }
    }

    pub(crate) fn latest(&self) -> Option<&EpisodeFrames> {
        self.latest.as_ref()
    }

    /// The episode counters and frames, for a checkpoint.
    pub(crate) fn state(&self) -> TrackerState {
        TrackerState {
            recent_returns: self.recent.iter().copied().collect(),
            episodes: self.episodes,
            solved_at_step: self.solved_at_step,
            solved_at_seconds: self.solved_at_seconds,
            current_poses: self.current_poses.clone(),
            latest: self.latest.clone(),
        }
    }

    /// Continues from a [`TrackerState`]; the window and threshold stay the config's.
    pub(crate) fn restore(&mut self, state: &TrackerState) {
        let skip = state.recent_returns.len().saturating_sub(self.window);
        self.recent = state.recent_returns.iter().skip(skip).copied().collect();
        self.episodes = state.episodes;
        self.solved_at_step = state.solved_at_step;
        self.solved_at_seconds = state.solved_at_seconds;
        self.current_poses.clone_from(&state.current_poses);
        self.latest.clone_from(&state.latest);
    }
}

/// The episode tracker's state in a checkpoint's sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackerState {
    /// Returns of the last `solve_window` episodes, oldest first.
    pub recent_returns: Vec<f64>,
    /// Finished episodes.
    pub episodes: u64,
    /// Env step at which the run was first solved.
    pub solved_at_step: Option<u64>,
    /// Training seconds at which the run was first solved.
    pub solved_at_seconds: Option<f64>,
    /// Env 0's poses in its unfinished episode (so its frames continue across the resume).
    pub current_poses: Vec<Pose>,
    /// The latest finished episode of env 0.
    pub latest: Option<EpisodeFrames>,
}
