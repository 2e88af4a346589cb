//! Reusable drawing pieces shared by the tabs.

pub mod cartpole;
pub mod chart;
pub mod confusion;
pub mod gpu;
pub mod help;
pub mod image;
pub mod params;
pub mod predictions;
pub mod summary;
/// Chart series live at the crate root, where the runs layer's curve reader shares them.
pub use crate::series;
