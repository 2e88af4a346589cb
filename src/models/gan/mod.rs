//! The GAN: generator and discriminator networks, their configuration, the trainer that plays
//! them against each other, health checks on the game, and the sample grids it draws.

pub mod config;
pub mod health;
pub mod networks;
pub mod resume;
pub mod samples;
pub mod trainer;
