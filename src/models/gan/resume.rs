//! What a GAN checkpoint's sidecar holds besides the tensors, and the checks a resume makes on
//! it before anything is built.

use serde::{Deserialize, Serialize};

use super::trainer::GanTrainerState;

/// A GAN checkpoint's sidecar `state`: with the tensors (see
/// [`super::trainer::GanTrainer::checkpoint_tensors`]), enough to continue the run exactly where it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanState {
    /// Iteration counter, noise streams and the hyperparameters in force.
    #[serde(flatten)]
    pub trainer: GanTrainerState,
    /// Data-order RNG state before the current pass's shuffle (rebuilds the pass's order).
    pub data_epoch_rng: [u64; 4],
    /// Data-order RNG state now.
    pub data_rng: [u64; 4],
    /// Training images of the current pass already handed out.
    pub plan_position: usize,
    /// Seconds spent in training steps so far, for the summary's iterations per second.
    pub train_seconds: f64,
    /// `fid_cnn` of the untrained generator, when the run scores.
    pub fid_cnn_untrained: Option<f64>,
    /// The latest `fid_cnn`.
    pub fid_cnn: Option<f64>,
}

impl GanState {
    /// Refuses a state that no run could have written at iteration `step` (an edited or
    /// damaged sidecar): its config is checked as a scenario's is, its counters against it.
    pub fn check(&self, step: u64) -> Result<(), String> {
        let trainer = &self.trainer;
        trainer
            .config
            .validate()
            .map_err(|e| format!("config.{e}"))?;
        if trainer.iteration != step {
            return Err(format!(
                "iteration = {}: the checkpoint is at iteration {step}",
                trainer.iteration
            ));
        }
        if self.plan_position > crate::data::idx::MAX_IMAGES {
            return Err(format!(
                "plan_position = {}: more images than a training set holds",
                self.plan_position
            ));
        }
        if !(self.train_seconds.is_finite() && self.train_seconds >= 0.0) {
            return Err(format!(
                "train_seconds = {}: must be a number of seconds ≥ 0",
                self.train_seconds
            ));
        }
        Ok(())
    }
}
