//! Reusable drawing pieces shared by the tabs.

pub mod cartpole;
pub mod chart;
pub mod confusion;
pub mod help;
pub mod image;
pub mod params;
pub mod series;
