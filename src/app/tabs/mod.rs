//! One module per tab: its state, how actions and job events change it, and how it draws.

pub mod classifier;
pub mod gan;
pub mod panel;
pub mod placeholder;
pub mod rl;
pub mod runs;

use super::{Effect, ToastLevel};

/// What a tab wants after handling an action: work for the runtime and a message for the user.
#[derive(Debug, Default)]
pub struct Reaction {
    /// Effects to run.
    pub effects: Vec<Effect>,
    /// A toast to show.
    pub toast: Option<(ToastLevel, String)>,
}

impl Reaction {
    /// Just a toast.
    pub fn toast(level: ToastLevel, text: impl Into<String>) -> Self {
        Self {
            effects: Vec::new(),
            toast: Some((level, text.into())),
        }
    }

    /// Just effects.
    pub fn effects(effects: Vec<Effect>) -> Self {
        Self {
            effects,
            toast: None,
        }
    }
}
