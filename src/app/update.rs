//! The only place dashboard state changes: user actions, job events, ticks.

use super::fetch::{FetchState, FetchUpdate};
use super::keymap::allowed_while_watching;
use super::tabs::runs::{run_name, RunsMessage};
use super::{Action, App, Effect, FileDone, Overlay, TabId, ToastLevel};
use crate::data::{find_dataset, DatasetName};
use crate::jobs::{JobEvent, JobKind, JobSpec, Snapshot};

/// Applies a user action; returns work for the runtime (start jobs, send commands).
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::GoTab(t) => app.tab = t,
        Action::NextTab => app.tab = app.tab.next(),
        Action::PrevTab => app.tab = app.tab.prev(),
        Action::ToggleHelp => {
            app.help_scroll = 0;
            app.overlay = if app.overlay == Overlay::Help {
                Overlay::None
            } else {
                Overlay::Help
            }
        }
        Action::ScrollHelp(rows) => {
            let max = i64::from(app.help_max_scroll.get());
            let to = (i64::from(app.help_scroll) + i64::from(rows)).clamp(0, max);
            app.help_scroll = u16::try_from(to).unwrap_or(u16::MAX);
        }
        Action::ToggleGpu => {
            app.overlay = if app.overlay == Overlay::Gpu {
                Overlay::None
            } else {
                Overlay::Gpu
            }
        }
        Action::ToggleSummary if app.tab == TabId::Classifier => {
            app.overlay = if app.overlay == Overlay::ModelSummary {
                Overlay::None
            } else {
                Overlay::ModelSummary
            }
        }
        Action::ToggleSummary => app.toast(
            ToastLevel::Info,
            "the model summary is the classifier's: press 1, then i",
        ),
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
        // One view for every chart, on every tab, while watching too: it changes no run.
        Action::ToggleLogY => app.chart.log_y = !app.chart.log_y,
        Action::SmoothMore => app.chart.smooth_more(),
        Action::SmoothLess => app.chart.smooth_less(),
        Action::ToggleRecent => app.chart.recent = !app.chart.recent,
        Action::FetchData if app.watching.is_none() && app.tab.kind().is_some() => {
            return start_fetch(app);
        }
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
        other
            if app.watching.is_some() && !allowed_while_watching(other, app.tab == TabId::Runs) =>
        {
            let on_foreign = app.tab == TabId::Runs
                && app
                    .runs
                    .selected_run()
                    .is_some_and(crate::runs::RunSummary::is_foreign);
            if on_foreign {
                // Its own refusal says why: another program writes it.
                return runs_action(app, other);
            }
            app.toast(
                ToastLevel::Warn,
                "watching a run: it is started, resumed and deleted elsewhere (gradtop resume \
                 RUN_DIR continues a stopped one)",
            );
        }
        other => {
            let Some(kind) = app.tab.kind() else {
                return runs_action(app, other);
            };
            let device = app.device;
            let dataset_before = app.tab(kind).dataset();
            let reaction = app.tab_mut(kind).handle(other, device);
            if let Some(chosen) = app
                .tab(kind)
                .dataset()
                .filter(|&d| Some(d) != dataset_before)
            {
                share_dataset(app, kind, chosen);
            }
            if let Some((level, text)) = reaction.toast {
                app.toast(level, text);
            }
            return reaction.effects;
        }
    }
    Vec::new()
}

/// Starts downloading the current tab's dataset when it is missing (MNIST when the tab trains
/// on one that is present or built in), unless a download already runs.
fn start_fetch(app: &mut App) -> Vec<Effect> {
    if let Some(fetching) = &app.fetching {
        let text = format!("already fetching {}", fetching.dataset);
        app.toast(ToastLevel::Info, text);
        return Vec::new();
    }
    let data_dir = app.data_dir.clone();
    let missing = |d: DatasetName| find_dataset(d, data_dir.as_deref()).is_err();
    let wanted = match app.tab.kind().and_then(|kind| app.tab(kind).dataset()) {
        Some(DatasetName::Folder) => {
            let text = "this tab reads the folder in its scenario's [data] path: nothing to fetch";
            app.toast(ToastLevel::Info, text);
            return Vec::new();
        }
        Some(d) if missing(d) => d,
        Some(_) => DatasetName::Mnist,
        None => return Vec::new(),
    };
    if !missing(wanted) {
        app.toast(ToastLevel::Info, format!("{wanted} is already here"));
        return Vec::new();
    }
    app.fetching = Some(FetchState::new(wanted));
    vec![Effect::Fetch(wanted)]
}

/// Gives the dataset the user chose on the `from` tab to every other tab that trains on images
/// and has no job live (a live job keeps its data; its panel would then disagree with it), so a
/// choice made once applies everywhere.
fn share_dataset(app: &mut App, from: JobKind, dataset: DatasetName) {
    for kind in JobKind::ALL {
        if kind != from && app.tab(kind).dataset().is_some() && !app.job(kind).is_active() {
            app.tab_mut(kind).choose_dataset(dataset);
        }
    }
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
fn start_resumed(app: &mut App, spec: JobSpec) -> Vec<Effect> {
    let kind = spec.kind();
    let tab = TabId::of(kind);
    let name = spec
        .resumed_dir()
        .map_or_else(|| "the run".to_string(), run_name);
    if app.job(kind).is_active() {
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
    let tab_of_kind = app.tab_mut(kind);
    tab_of_kind.adopt(&spec);
    let reaction = tab_of_kind.start(device);
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
    vec![Effect::Start(Box::new(spec))]
}

/// Takes the result of the Runs tab's file work (curves read, a run deleted).
pub fn update_runs(app: &mut App, message: RunsMessage) {
    if let Some((level, text)) = app.runs.on_message(message) {
        app.toast(level, text);
    }
}

/// Folds in the GPUs' latest status, read off the UI thread.
pub fn update_gpu(app: &mut App, status: crate::gpu::GpuStatus) {
    app.gpu.on_status(status);
}

/// Folds in the answer of file work done off the UI thread; returns the work it leads to (a
/// fresh listing after a delete, the open chart's reload after a listing).
pub fn update_files(app: &mut App, done: FileDone) -> Vec<Effect> {
    match done {
        FileDone::Runs(message) => {
            let deleted = matches!(message, RunsMessage::Deleted { .. });
            update_runs(app, message);
            if deleted {
                return vec![Effect::RefreshRuns];
            }
        }
        FileDone::Listed(listing) => {
            app.runs.on_refresh(listing);
            let mut effects = app.runs.open_single_when_listed();
            effects.extend(app.runs.reload_live_curves());
            return effects;
        }
        FileDone::Exported(Ok(paths)) => {
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            app.toast(
                ToastLevel::Info,
                format!("samples written: {}", names.join(" and ")),
            );
        }
        FileDone::Exported(Err(e)) => app.toast(ToastLevel::Error, format!("export failed: {e}")),
        FileDone::Fetch(FetchUpdate::Done(result)) => {
            let Some(fetching) = app.fetching.take() else {
                return Vec::new();
            };
            let name = fetching.dataset;
            match result {
                Ok(dir) => {
                    // The user asked for it: every image tab without a live job takes it.
                    for kind in JobKind::ALL {
                        if app.tab(kind).dataset().is_some() && !app.job(kind).is_active() {
                            app.tab_mut(kind).choose_dataset(name);
                        }
                    }
                    app.toast(
                        ToastLevel::Info,
                        format!("{name} is in {}: press s to train on it", dir.display()),
                    );
                }
                Err(e) => {
                    let text = format!("fetching {name} failed: {e}");
                    // The event log keeps the whole of it after the toast is gone.
                    if let Some(kind) = app.tab.kind() {
                        app.tab_mut(kind).job_mut().log(text.clone());
                    }
                    app.toast(ToastLevel::Error, text);
                }
            }
        }
        FileDone::Fetch(update) => {
            if let Some(fetching) = &mut app.fetching {
                fetching.progress = Some(update);
            }
        }
    }
    Vec::new()
}

/// Folds one event of the `kind` job into its tab.
pub fn update_job(app: &mut App, kind: JobKind, event: JobEvent) {
    if let JobEvent::History(points) = event {
        for (step, metric, value) in points {
            update_job(
                app,
                kind,
                JobEvent::Metric {
                    step,
                    metric,
                    value,
                },
            );
        }
        return;
    }
    if let Some((level, text)) = app.tab_mut(kind).on_event(event) {
        app.toast(level, text);
    }
}

/// Hands a job's latest snapshot to the tab of its kind.
pub fn update_snapshot(app: &mut App, snapshot: Snapshot) {
    app.tab_mut(snapshot.kind()).on_snapshot(snapshot);
}

/// The starts of the jobs that begin with the dashboard (`gradtop train` without
/// `--headless`), as effects for the runtime.
pub fn autostart(app: &mut App) -> Vec<Effect> {
    let device = app.device;
    let mut effects = Vec::new();
    for kind in JobKind::ALL {
        let tab = app.tab_mut(kind);
        if tab.job().autostart {
            effects.extend(tab.start(device).effects);
        }
    }
    effects
}

/// Advances time: toasts expire, the clock label changes, the cartpole replay moves on.
/// Returns true if anything visible changed.
pub fn tick(app: &mut App, clock: String) -> bool {
    let fps = app.fps;
    let mut changed = JobKind::ALL
        .into_iter()
        .any(|kind| app.tab_mut(kind).tick(fps) && app.tab == TabId::of(kind));
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
