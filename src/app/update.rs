//! The only place dashboard state changes: user actions, job events, ticks.

use std::sync::Arc;

use super::{Action, App, Effect, Overlay, TabId, ToastLevel};
use crate::jobs::classifier::ClassifierSnapshot;
use crate::jobs::gan::GanSnapshot;
use crate::jobs::rl::RlSnapshot;
use crate::jobs::JobEvent;

/// Applies a user action; returns work for the runtime (start jobs, send commands).
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::GoTab(t) => app.tab = t,
        Action::NextTab => app.tab = app.tab.next(),
        Action::PrevTab => app.tab = app.tab.prev(),
        Action::ToggleHelp => {
            app.overlay = if app.overlay == Overlay::Help {
                Overlay::None
            } else {
                Overlay::Help
            }
        }
        Action::CloseOverlay => app.overlay = Overlay::None,
        Action::Quit => {
            if app.active_jobs() > 0 {
                app.overlay = Overlay::ConfirmQuit;
            } else {
                app.should_quit = true;
            }
        }
        Action::ForceQuit => app.should_quit = true,
        _ if app.watching.is_some() => {
            app.toast(
                ToastLevel::Warn,
                "read-only: watching a run (gradtop resume RUN_DIR continues it)",
            );
        }
        other => {
            let reaction = match app.tab {
                TabId::Classifier => app.classifier.handle(other, app.device),
                TabId::Gan => app.gan.handle(other, app.device),
                TabId::Rl => app.rl.handle(other, app.device),
                TabId::Runs => app.runs.handle(other),
            };
            if let Some((level, text)) = reaction.toast {
                app.toast(level, text);
            }
            return reaction.effects;
        }
    }
    Vec::new()
}

/// Folds an event from a tab's job into the state.
pub fn update_job(app: &mut App, tab: TabId, event: JobEvent) {
    let toast = match tab {
        TabId::Classifier => app.classifier.on_event(event),
        TabId::Gan => app.gan.on_event(event),
        TabId::Rl => app.rl.on_event(event),
        _ => None,
    };
    if let Some((level, text)) = toast {
        app.toast(level, text);
    }
}

/// Takes the classifier job's newest snapshot.
pub fn update_classifier_snapshot(app: &mut App, snapshot: Arc<ClassifierSnapshot>) {
    app.classifier.on_snapshot(snapshot);
}

/// Takes the GAN job's newest sample grid.
pub fn update_gan_snapshot(app: &mut App, snapshot: Arc<GanSnapshot>) {
    app.gan.on_snapshot(snapshot);
}

/// Takes the RL job's newest snapshot.
pub fn update_rl_snapshot(app: &mut App, snapshot: Arc<RlSnapshot>) {
    app.rl.on_snapshot(snapshot);
}

/// Advances time: toasts expire, the clock label changes, the cartpole replay moves on.
/// Returns true if anything visible changed.
pub fn tick(app: &mut App, clock: String) -> bool {
    let mut changed = app.rl.tick(app.fps) && app.tab == TabId::Rl;
    if let Some(t) = &mut app.toast {
        t.ticks_left = t.ticks_left.saturating_sub(1);
        if t.ticks_left == 0 {
            app.toast = None;
            changed = true;
        }
    }
    if app.clock != clock {
        app.clock = clock;
        changed = true;
    }
    changed
}

/// Reports a failure of the runtime itself (a job thread that could not start).
pub fn runtime_error(app: &mut App, text: String) {
    app.toast(ToastLevel::Error, text);
}
