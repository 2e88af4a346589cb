//! Candle models and their losses.

pub mod rl;
