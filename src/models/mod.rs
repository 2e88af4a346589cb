//! Candle models and their losses.

pub mod classifier;
pub mod loss;
