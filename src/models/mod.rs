//! Candle models and their losses.

pub mod classifier;
pub mod cnn;
pub mod init;
pub mod layers;
pub mod mlp;
#[cfg(test)]
mod testdata;
