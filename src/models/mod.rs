//! Candle models, their trainers and losses, one folder per job kind; no UI and no run files.

pub mod classifier;
pub mod feature_cnn;
pub mod frechet;
pub mod gan;
pub mod init;
pub mod layers;
pub mod loss;
pub mod rl;
#[cfg(test)]
mod testdata;

/// A candle error as one readable line (see [`crate::device::error_text`]).
pub use crate::device::error_text;
