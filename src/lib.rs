//! gradtop: a terminal dashboard that trains and watches neural networks live.
//!
//! The library holds everything; `main.rs` only parses the command line and reports errors.

#![warn(missing_docs)]

pub mod app;
pub mod atomic_file;
pub mod cli;
pub mod data;
pub mod device;
pub mod envs;
pub mod format;
pub mod gpu;
pub mod jobs;
pub mod models;
pub mod ops;
pub mod params;
pub mod progress;
pub mod rng;
pub mod runs;
pub mod scenario;
pub mod series;
