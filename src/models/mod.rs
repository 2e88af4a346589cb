//! Candle models and their losses.

pub mod classifier;
pub mod feature_cnn;
pub mod frechet;
pub mod gan;
pub mod gan_config;
pub mod gan_health;
pub mod gan_io;
pub mod gan_trainer;
pub mod init;
pub mod loss;
pub mod rl;
