//! Candle models and their losses.

pub mod classifier;
pub mod init;
pub mod loss;
pub mod rl;
