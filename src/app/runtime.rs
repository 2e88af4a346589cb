//! The dashboard's event loop: terminal events, job events and a frame-rate-capped redraw,
//! with the terminal restored on every way out (quit, error, panic, SIGTERM, SIGHUP).

use std::io::Stdout;
use std::sync::Arc;
use std::time::{Duration, Instant};

use color_eyre::eyre::{self, WrapErr};
use crossterm::event::{Event, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::signal::unix::{signal, SignalKind};

use super::tabs::runs::{delete_run, load_curves, RunsMessage};
use super::theme::Theme;
use super::update::{
    tick, update_classifier_snapshot, update_gan_snapshot, update_job, update_rl_snapshot,
    update_runs,
};
use super::{map_key, render::render, update, App, Effect, Options, TabId};
use crate::jobs::classifier::{self, ClassifierSnapshot};
use crate::jobs::gan::{self, GanSnapshot};
use crate::jobs::rl::{self, RlSnapshot};
use crate::jobs::{follow, JobEvent, JobHandle, RunTarget};

type Term = Terminal<CrosstermBackend<Stdout>>;

/// How often the Runs tab re-reads the runs folder while it is shown.
const RUNS_REFRESH: Duration = Duration::from_secs(1);

/// Puts the terminal back the way the shell had it; safe to call more than once.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

fn setup_terminal() -> eyre::Result<Term> {
    enable_raw_mode().wrap_err("switching the terminal to raw mode")?;
    execute!(std::io::stdout(), EnterAlternateScreen).wrap_err("entering the alternate screen")?;
    Terminal::new(CrosstermBackend::new(std::io::stdout())).wrap_err("opening the terminal")
}

/// Restores the terminal before a panic on the UI thread is reported; panics in job threads
/// leave the screen alone (the job reports itself failed and the dashboard stays up).
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if crate::jobs::on_job_thread() {
            return;
        }
        restore_terminal();
        previous(info);
    }));
}

/// A job handle slot the loop can await whether or not a job exists.
struct Slot<S> {
    handle: Option<JobHandle<S>>,
    open: bool,
}

impl<S> Slot<S> {
    fn empty() -> Self {
        Self {
            handle: None,
            open: false,
        }
    }

    fn replace(&mut self, handle: JobHandle<S>) {
        if let Some(old) = self.handle.take() {
            // The old job stops at its next step boundary; its thread is not waited for here
            // so a restart never freezes the screen.
            old.send(crate::jobs::JobCommand::Stop);
        }
        self.handle = Some(handle);
        self.open = true;
    }

    async fn next(&mut self) -> Option<JobEvent> {
        match (&mut self.handle, self.open) {
            (Some(h), true) => {
                let e = h.events.recv().await;
                if e.is_none() {
                    self.open = false;
                }
                e
            }
            _ => std::future::pending().await,
        }
    }

    fn send(&self, command: crate::jobs::JobCommand) {
        if let Some(h) = &self.handle {
            h.send(command);
        }
    }

    fn latest(&self) -> Option<Arc<S>> {
        self.handle
            .as_ref()
            .and_then(|h| h.snapshot.borrow().clone())
    }

    fn stop_and_join(&mut self) {
        if let Some(mut h) = self.handle.take() {
            h.stop_and_join();
        }
    }
}

/// Opens the dashboard and runs until the user quits or a signal arrives.
pub fn run_dashboard(options: Options) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    install_panic_hook();
    let mut terminal = setup_terminal()?;
    let result = runtime.block_on(event_loop(&mut terminal, options));
    restore_terminal();
    result
}

fn clock_label() -> String {
    // Local time without a timezone database: the C library knows the local offset.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r writes only into `tm`, which lives for the call.
    let ok = unsafe { !libc::localtime_r(&now, &mut tm).is_null() };
    if ok {
        format!("{:02}:{:02}", tm.tm_hour, tm.tm_min)
    } else {
        String::new()
    }
}

async fn event_loop(terminal: &mut Term, options: Options) -> eyre::Result<()> {
    let theme = Theme::from_env(options.ascii);
    let mut app = App::new(&options, theme);
    app.clock = clock_label();
    let frame = Duration::from_secs_f64(1.0 / options.fps.max(1) as f64);
    let mut ticker = tokio::time::interval(frame);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut input = EventStream::new();
    let mut sigterm = signal(SignalKind::terminate()).wrap_err("listening for SIGTERM")?;
    let mut sighup = signal(SignalKind::hangup()).wrap_err("listening for SIGHUP")?;
    let (files_tx, mut files_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut slots = Slots {
        classifier: Slot::empty(),
        gan: Slot::empty(),
        rl: Slot::empty(),
        files: files_tx,
    };
    let mut dirty = true;
    let mut last_draw = Instant::now() - frame;
    let mut runs_index = crate::runs::RunsIndex::new(&app.runs_dir);
    let mut runs_timer = tokio::time::interval(RUNS_REFRESH);
    runs_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    if let Some(dir) = &options.watch {
        match app.tab {
            TabId::Rl => start_in(&mut app, &mut slots.rl, follow::spawn(dir)),
            TabId::Gan => start_in(&mut app, &mut slots.gan, follow::spawn(dir)),
            _ => start_in(&mut app, &mut slots.classifier, follow::spawn(dir)),
        }
    }

    if app.classifier.autostart {
        let effects = app.classifier.start(app.device).effects;
        run_effects(&mut app, effects, &mut slots);
    }
    if app.gan.autostart {
        let effects = app.gan.start(app.device).effects;
        run_effects(&mut app, effects, &mut slots);
    }
    if app.rl.autostart {
        let effects = app.rl.start(app.device).effects;
        run_effects(&mut app, effects, &mut slots);
    }

    loop {
        if dirty && last_draw.elapsed() >= frame {
            terminal.draw(|f| render(&app, f)).wrap_err("drawing")?;
            dirty = false;
            last_draw = Instant::now();
        }
        tokio::select! {
            maybe = input.next() => match maybe {
                Some(Ok(Event::Key(key))) => {
                    if let Some(action) = map_key(&app, key) {
                        let effects = update(&mut app, action);
                        run_effects(&mut app, effects, &mut slots);
                        dirty = true;
                    }
                }
                Some(Ok(Event::Resize(_, _))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).wrap_err("reading terminal input"),
                None => app.should_quit = true,
            },
            Some(event) = slots.classifier.next() => {
                if event == JobEvent::Snapshot {
                    if let Some(s) = slots.classifier.latest() {
                        update_classifier_snapshot(&mut app, s);
                    }
                } else {
                    update_job(&mut app, TabId::Classifier, event);
                }
                dirty |= app.tab == TabId::Classifier;
            }
            Some(event) = slots.gan.next() => {
                if event == JobEvent::Snapshot {
                    if let Some(s) = slots.gan.latest() {
                        update_gan_snapshot(&mut app, s);
                    }
                } else {
                    update_job(&mut app, TabId::Gan, event);
                }
                dirty |= app.tab == TabId::Gan;
            }
            Some(event) = slots.rl.next() => {
                if event == JobEvent::Snapshot {
                    if let Some(s) = slots.rl.latest() {
                        update_rl_snapshot(&mut app, s);
                    }
                } else {
                    update_job(&mut app, TabId::Rl, event);
                }
                dirty |= app.tab == TabId::Rl;
            }
            Some(message) = files_rx.recv() => {
                let deleted = matches!(message, RunsMessage::Deleted { .. });
                update_runs(&mut app, message);
                if deleted {
                    app.runs.on_refresh(runs_index.refresh().map_err(|e| e.to_string()));
                }
                dirty |= app.tab == TabId::Runs;
            }
            _ = runs_timer.tick(), if app.tab == TabId::Runs => {
                app.runs.on_refresh(runs_index.refresh().map_err(|e| e.to_string()));
                let reload: Vec<Effect> = app.runs.reload_live_curves().into_iter().collect();
                run_effects(&mut app, reload, &mut slots);
                dirty = true;
            }
            _ = ticker.tick() => {
                dirty |= tick(&mut app, clock_label());
            }
            _ = sigterm.recv() => {
                crate::jobs::interrupt::request(libc::SIGTERM);
                app.should_quit = true;
            }
            _ = sighup.recv() => {
                crate::jobs::interrupt::request(libc::SIGHUP);
                app.should_quit = true;
            }
        }
        if app.should_quit {
            break;
        }
    }
    // Let jobs reach a step boundary (and write their exit checkpoints) before leaving.
    slots.classifier.stop_and_join();
    slots.gan.stop_and_join();
    slots.rl.stop_and_join();
    Ok(())
}

/// The job slots of every tab, and where file work done off the UI thread reports.
struct Slots {
    classifier: Slot<ClassifierSnapshot>,
    gan: Slot<GanSnapshot>,
    rl: Slot<RlSnapshot>,
    files: tokio::sync::mpsc::UnboundedSender<RunsMessage>,
}

/// Runs slow file work (a log of many MB, a folder of checkpoints) on tokio's blocking pool,
/// so the screen keeps redrawing; the result arrives as a message in the event loop.
fn spawn_file_work(
    files: &tokio::sync::mpsc::UnboundedSender<RunsMessage>,
    work: impl FnOnce() -> RunsMessage + Send + 'static,
) {
    let files = files.clone();
    tokio::task::spawn_blocking(move || {
        // The loop may have ended (quit) before the work did; then nobody needs the answer.
        let _ = files.send(work());
    });
}

fn start_in<S>(app: &mut App, slot: &mut Slot<S>, spawned: std::io::Result<JobHandle<S>>) {
    match spawned {
        Ok(handle) => {
            handle.send(crate::jobs::JobCommand::Start);
            slot.replace(handle);
        }
        Err(e) => super::update::runtime_error(app, format!("could not start the job: {e}")),
    }
}

/// Every job the dashboard starts records a new run directory, except a resumed run, which
/// continues its own.
fn run_target(app: &App, requested: RunTarget) -> RunTarget {
    match requested {
        RunTarget::Resume { dir } => RunTarget::Resume { dir },
        _ => RunTarget::New {
            parent: app.runs_dir.clone(),
        },
    }
}

fn run_effects(app: &mut App, effects: Vec<Effect>, slots: &mut Slots) {
    for effect in effects {
        match effect {
            Effect::StartClassifier(mut spec) => {
                spec.run = run_target(app, std::mem::take(&mut spec.run));
                start_in(app, &mut slots.classifier, classifier::spawn(*spec))
            }
            Effect::StartGan(mut spec) => {
                spec.run = run_target(app, std::mem::take(&mut spec.run));
                start_in(app, &mut slots.gan, gan::spawn(*spec))
            }
            Effect::StartRl(mut spec) => {
                spec.run = run_target(app, std::mem::take(&mut spec.run));
                start_in(app, &mut slots.rl, rl::spawn(*spec))
            }
            Effect::ExportSamples(snapshot) => {
                let path =
                    std::path::PathBuf::from(format!("gan-samples-it{}.pgm", snapshot.iteration));
                let cols = (snapshot.samples.len() as f64).sqrt().ceil() as usize;
                let result = crate::models::gan_io::write_pgm_grid(
                    &path,
                    &snapshot.samples,
                    28,
                    28,
                    cols.max(1),
                );
                let (level, text) = match result {
                    Ok(()) => (
                        super::ToastLevel::Info,
                        format!("samples written: {}", path.display()),
                    ),
                    Err(e) => (super::ToastLevel::Error, format!("export failed: {e}")),
                };
                app.toast(level, text);
            }
            Effect::Command(TabId::Classifier, command) => slots.classifier.send(command),
            Effect::Command(TabId::Gan, command) => slots.gan.send(command),
            Effect::Command(TabId::Rl, command) => slots.rl.send(command),
            Effect::Command(_, _) => {}
            Effect::LoadCurves(request) => {
                spawn_file_work(&slots.files, move || load_curves(&request))
            }
            Effect::DeleteRun(path) => spawn_file_work(&slots.files, move || delete_run(&path)),
        }
    }
}
