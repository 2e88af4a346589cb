//! The dashboard: state, input → actions, update, render.

pub mod widgets;
