//! gradtop: a terminal dashboard that trains and watches neural networks live.
//!
//! The library holds everything; `main.rs` only parses the command line and reports errors.

pub mod bench;
pub mod envs;
pub mod models;
pub mod ops;
pub mod rng;
