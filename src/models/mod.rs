//! Candle models and their losses.

pub mod classifier;
pub mod cnn;
pub mod feature_cnn;
pub mod frechet;
pub mod gan;
pub mod gan_config;
pub mod gan_health;
pub mod gan_io;
pub mod gan_trainer;
pub mod init;
pub mod layers;
pub mod loss;
pub mod mlp;
pub mod rl;
#[cfg(test)]
mod testdata;
