//! Candle models and their losses.
