//! Reusable drawing widgets.

pub mod cartpole;
