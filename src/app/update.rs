//! The only place dashboard state changes: user actions, job events, ticks.

use std::sync::Arc;

use super::tabs::classifier::DataStatus;
use super::tabs::runs::{run_name, RunsMessage};
use super::{Action, App, Effect, Overlay, TabId, ToastLevel};
use crate::jobs::classifier::ClassifierSnapshot;
use crate::jobs::gan::GanSnapshot;
use crate::jobs::rl::RlSnapshot;
use crate::jobs::{JobEvent, RunTarget};
use crate::run_commands::ResumeSpec;

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
        Action::CloseOverlay => {
            if app.overlay == Overlay::ConfirmDelete {
                if let Some(name) = app.runs.cancel_delete() {
                    app.toast(ToastLevel::Info, format!("kept {name}"));
                }
            }
            app.overlay = Overlay::None;
        }
        Action::ConfirmDelete => {
            app.overlay = Overlay::None;
            return app.runs.confirm_delete().into_iter().collect();
        }
        Action::Quit => {
            if app.active_jobs() > 0 {
                app.overlay = Overlay::ConfirmQuit;
            } else {
                app.should_quit = true;
            }
        }
        Action::ForceQuit => app.should_quit = true,
        // Browsing runs reads files only, so it works while watching; resume and delete do not.
        other
            if app.tab == TabId::Runs
                && !matches!(other, Action::ResumeRun | Action::DeleteRun) =>
        {
            let reaction = app.runs.handle(other);
            if let Some((level, text)) = reaction.toast {
                app.toast(level, text);
            }
            return reaction.effects;
        }
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
                TabId::Runs => return runs_action(app, other),
            };
            if let Some((level, text)) = reaction.toast {
                app.toast(level, text);
            }
            return reaction.effects;
        }
    }
    Vec::new()
}

/// Resume and delete from the Runs tab: they reach into other tabs and the overlay.
fn runs_action(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::ResumeRun => match app.runs.resume_selected(app.data_dir.clone(), app.device) {
            Ok(spec) => return start_resumed(app, spec),
            Err(reason) => app.toast(ToastLevel::Warn, format!("cannot resume: {reason}")),
        },
        Action::DeleteRun => match app.runs.request_delete() {
            Ok(_) => app.overlay = Overlay::ConfirmDelete,
            Err(reason) => app.toast(ToastLevel::Warn, format!("cannot delete: {reason}")),
        },
        _ => {}
    }
    Vec::new()
}

/// Hands a resumed run to the tab of its kind and shows that tab; refused while that tab's own
/// job is live, since starting another would stop it.
fn start_resumed(app: &mut App, spec: ResumeSpec) -> Vec<Effect> {
    let (tab, busy) = match &spec {
        ResumeSpec::Classifier(_) => (TabId::Classifier, app.classifier.is_active()),
        ResumeSpec::Gan(_) => (TabId::Gan, app.gan.is_active()),
        ResumeSpec::Rl(_) => (TabId::Rl, app.rl.is_active()),
    };
    let name = match &spec {
        ResumeSpec::Classifier(s) => resumed_dir(&s.run),
        ResumeSpec::Gan(s) => resumed_dir(&s.run),
        ResumeSpec::Rl(s) => resumed_dir(&s.run),
    };
    if busy {
        app.toast(
            ToastLevel::Warn,
            format!(
                "cannot resume {name}: the {} tab has a job running; stop it there (x) first",
                tab.title()
            ),
        );
        return Vec::new();
    }
    // The tab takes the run's own settings and clears its charts the way a start does; the
    // start's own spec is then swapped for the one that continues the run.
    let device = app.device;
    let data_dir = app.data_dir.clone();
    let reaction = match &spec {
        ResumeSpec::Classifier(s) => {
            app.classifier.config = s.config.clone();
            app.classifier.scenario = s.scenario.clone();
            app.classifier.data = DataStatus::probe(s.config.dataset, data_dir.as_deref());
            app.classifier.start(device)
        }
        ResumeSpec::Gan(s) => {
            app.gan.config = s.config.clone();
            app.gan.scenario = s.scenario.clone();
            app.gan.data = DataStatus::probe(s.config.dataset, data_dir.as_deref());
            app.gan.start(device)
        }
        ResumeSpec::Rl(s) => {
            app.rl.config = s.config.clone();
            app.rl.scenario = s.scenario.clone();
            app.rl.start(device)
        }
    };
    if reaction.effects.is_empty() {
        // The tab refused (its dataset is missing): say why, stay here.
        if let Some((level, text)) = reaction.toast {
            app.toast(level, format!("cannot resume {name}: {text}"));
        }
        return Vec::new();
    }
    app.tab = tab;
    app.toast(
        ToastLevel::Info,
        format!("resuming {name} from its last checkpoint"),
    );
    vec![match spec {
        ResumeSpec::Classifier(s) => Effect::StartClassifier(Box::new(s)),
        ResumeSpec::Gan(s) => Effect::StartGan(Box::new(s)),
        ResumeSpec::Rl(s) => Effect::StartRl(Box::new(s)),
    }]
}

fn resumed_dir(target: &RunTarget) -> String {
    match target {
        RunTarget::Resume { dir } => run_name(dir),
        _ => "the run".to_string(),
    }
}

/// Takes the result of the Runs tab's file work (curves read, a run deleted).
pub fn update_runs(app: &mut App, message: RunsMessage) {
    if let Some((level, text)) = app.runs.on_message(message) {
        app.toast(level, text);
    }
}

/// Folds an event from a tab's job into the state.
pub fn update_job(app: &mut App, tab: TabId, event: JobEvent) {
    if let JobEvent::History(points) = event {
        for (step, metric, value) in points {
            update_job(
                app,
                tab,
                JobEvent::Metric {
                    step,
                    metric,
                    value,
                },
            );
        }
        return;
    }
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
