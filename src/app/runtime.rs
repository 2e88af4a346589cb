//! The dashboard's event loop: terminal events, job events and a frame-rate-capped redraw,
//! with the terminal restored on every way out (quit, error, panic, SIGTERM, SIGHUP).

use std::io::Stdout;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
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

use super::tabs::runs::{delete_run, load_curves};
use super::theme::Theme;
use super::update::{tick, update_files, update_gpu, update_job, update_snapshot};
use super::{map_key, render::render, update, Action, App, Effect, FileDone, Options, TabId};
use crate::jobs::{self, JobCommand, JobEvent, JobHandle, JobKind, RunTarget};
use crate::models::gan::samples::{write_pgm_grid, write_png_grid};

type Term = Terminal<CrosstermBackend<Stdout>>;

/// How often the Runs tab re-reads the runs folder while it is shown.
const RUNS_REFRESH: Duration = Duration::from_secs(1);
/// How often the GPUs are read for the panel and the top bar (nvidia-smi and nvitop: 1 s).
const GPU_PERIOD: Duration = Duration::from_secs(1);

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

/// The job of one kind's tab, if it has one, and whether its events are still coming.
#[derive(Default)]
struct Slot {
    handle: Option<JobHandle>,
    open: bool,
}

impl Slot {
    fn replace(&mut self, handle: JobHandle) {
        if let Some(old) = self.handle.take() {
            // The old job stops at its next step boundary; its thread is not waited for here
            // so a restart never freezes the screen.
            old.send(JobCommand::Detach);
        }
        self.handle = Some(handle);
        self.open = true;
    }

    /// The job's next event; pending forever when there is no job or it has ended.
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

    fn send(&self, command: JobCommand) {
        if let Some(h) = &self.handle {
            h.send(command);
        }
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
    crate::runs::LocalTime::now().hours_minutes()
}

async fn event_loop(terminal: &mut Term, options: Options) -> eyre::Result<()> {
    let theme = Theme::from_env(options.ascii);
    let mut app = App::new(&options, theme);
    tick(&mut app, clock_label());
    let frame = Duration::from_secs_f64(1.0 / options.fps.max(1) as f64);
    let mut ticker = tokio::time::interval(frame);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut input = EventStream::new();
    // Every stop signal quits the way `q` does: jobs checkpoint, the terminal is restored.
    let mut sigterm = signal(SignalKind::terminate()).wrap_err("listening for SIGTERM")?;
    let mut sighup = signal(SignalKind::hangup()).wrap_err("listening for SIGHUP")?;
    let mut sigint = signal(SignalKind::interrupt()).wrap_err("listening for SIGINT")?;
    let mut sigquit = signal(SignalKind::quit()).wrap_err("listening for SIGQUIT")?;
    let (files_tx, mut files_rx) = tokio::sync::mpsc::unbounded_channel();
    let (gpu_tx, mut gpu_rx) = tokio::sync::mpsc::unbounded_channel();
    crate::gpu::spawn_sampler(GPU_PERIOD, move |status| gpu_tx.send(status).is_ok());
    let mut slots = Slots {
        jobs: Default::default(),
        files: files_tx,
        runs_index: Arc::new(Mutex::new(crate::runs::RunsIndex::new(&app.runs_dir))),
    };
    let mut dirty = true;
    let mut last_draw = Instant::now() - frame;
    let mut runs_timer = tokio::time::interval(RUNS_REFRESH);
    runs_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    if let (Some(dir), Some(kind)) = (&options.watch, app.tab.kind()) {
        start_in(&mut app, slots.slot(kind), jobs::watch::spawn(dir, kind));
    }
    let effects = update::autostart(&mut app);
    run_effects(&mut app, effects, &mut slots);

    loop {
        let [classifier, gan, rl] = &mut slots.jobs;
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
                None => {
                    update(&mut app, Action::ForceQuit);
                }
            },
            Some(event) = classifier.next() => {
                on_job_event(&mut app, classifier, JobKind::Classifier, event);
                dirty |= app.tab == TabId::Classifier;
            }
            Some(event) = gan.next() => {
                on_job_event(&mut app, gan, JobKind::Gan, event);
                dirty |= app.tab == TabId::Gan;
            }
            Some(event) = rl.next() => {
                on_job_event(&mut app, rl, JobKind::Rl, event);
                dirty |= app.tab == TabId::Rl;
            }
            Some(status) = gpu_rx.recv() => {
                update_gpu(&mut app, status);
                dirty = true;
            }
            Some(done) = files_rx.recv() => {
                let effects = update_files(&mut app, done);
                run_effects(&mut app, effects, &mut slots);
                dirty = true;
            }
            _ = runs_timer.tick(), if app.tab == TabId::Runs => {
                run_effects(&mut app, vec![Effect::RefreshRuns], &mut slots);
            }
            _ = ticker.tick() => {
                dirty |= tick(&mut app, clock_label());
            }
            _ = sigterm.recv() => {
                crate::jobs::interrupt::request(libc::SIGTERM);
                update(&mut app, Action::ForceQuit);
            }
            _ = sighup.recv() => {
                crate::jobs::interrupt::request(libc::SIGHUP);
                update(&mut app, Action::ForceQuit);
            }
            _ = sigint.recv() => {
                crate::jobs::interrupt::request(libc::SIGINT);
                update(&mut app, Action::ForceQuit);
            }
            _ = sigquit.recv() => {
                crate::jobs::interrupt::request(libc::SIGQUIT);
                update(&mut app, Action::ForceQuit);
            }
        }
        if app.should_quit {
            break;
        }
    }
    // Let jobs reach a step boundary (and write their exit checkpoints) before leaving.
    for slot in &mut slots.jobs {
        slot.stop_and_join();
    }
    Ok(())
}

/// Hands one job event to the app: a snapshot notice becomes the job's latest snapshot.
fn on_job_event(app: &mut App, slot: &Slot, kind: JobKind, event: JobEvent) {
    if event == JobEvent::Snapshot {
        if let Some(snapshot) = slot.handle.as_ref().and_then(JobHandle::latest) {
            update_snapshot(app, snapshot);
        }
    } else {
        update_job(app, kind, event);
    }
}

/// The runtime's side of the jobs (one slot per kind, in [`JobKind::ALL`] order) and of the
/// blocking file work.
struct Slots {
    jobs: [Slot; 3],
    files: tokio::sync::mpsc::UnboundedSender<FileDone>,
    /// The runs listing, kept between refreshes so only changed logs are read again; used by
    /// one blocking task at a time.
    runs_index: Arc<Mutex<crate::runs::RunsIndex>>,
}

impl Slots {
    fn slot(&mut self, kind: JobKind) -> &mut Slot {
        let index = JobKind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
        &mut self.jobs[index]
    }
}

/// Runs slow file work (a log of many MB, a folder of checkpoints) on tokio's blocking pool,
/// so the screen keeps redrawing; the result arrives as a message in the event loop.
fn spawn_file_work(
    files: &tokio::sync::mpsc::UnboundedSender<FileDone>,
    work: impl FnOnce() -> FileDone + Send + 'static,
) {
    let files = files.clone();
    tokio::task::spawn_blocking(move || {
        // The loop may have ended (quit) before the work did; then nobody needs the answer.
        let _ = files.send(work());
    });
}

fn start_in(app: &mut App, slot: &mut Slot, spawned: std::io::Result<JobHandle>) {
    match spawned {
        Ok(handle) => {
            handle.send(JobCommand::Start);
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
            Effect::Start(mut spec) => {
                spec.run = run_target(app, std::mem::take(&mut spec.run));
                let kind = spec.kind();
                start_in(app, slots.slot(kind), jobs::start(*spec))
            }
            Effect::ExportSamples(snapshot) => spawn_file_work(&slots.files, move || {
                let stem = format!("gan-samples-it{}", snapshot.iteration);
                let (pgm, png) = (
                    PathBuf::from(format!("{stem}.pgm")),
                    PathBuf::from(format!("{stem}.png")),
                );
                let cols = (snapshot.samples.len() as f64).sqrt().ceil() as usize;
                let samples = &snapshot.samples;
                let written = write_pgm_grid(&pgm, samples, 28, 28, cols.max(1))
                    .and_then(|()| write_png_grid(&png, samples, 28, 28, cols.max(1)));
                FileDone::Exported(written.map(|()| vec![pgm, png]).map_err(|e| e.to_string()))
            }),
            Effect::Command(kind, command) => slots.slot(kind).send(command),
            Effect::LoadCurves(request) => {
                spawn_file_work(&slots.files, move || FileDone::Runs(load_curves(&request)))
            }
            Effect::DeleteRun(path) => {
                spawn_file_work(&slots.files, move || FileDone::Runs(delete_run(&path)))
            }
            Effect::Fetch(name) => {
                let files = slots.files.clone();
                tokio::task::spawn_blocking(move || {
                    let progress = files.clone();
                    let mut reporter = super::fetch::Reporter::new(move |update| {
                        let _ = progress.send(FileDone::Fetch(update));
                    });
                    // The reason first: an 80-column bottom line cuts a long URL.
                    let result =
                        crate::data::fetch::fetch(name, None, &mut reporter).map_err(|e| match e {
                            crate::data::DataError::Download { url, what } => {
                                format!("{what} ({url})")
                            }
                            other => other.to_string(),
                        });
                    // The loop may have ended (quit) first; then nobody needs the answer.
                    let _ = files.send(FileDone::Fetch(super::fetch::FetchUpdate::Done(result)));
                });
            }
            Effect::RefreshRuns => {
                let index = Arc::clone(&slots.runs_index);
                spawn_file_work(&slots.files, move || {
                    let mut index = index.lock().unwrap_or_else(PoisonError::into_inner);
                    FileDone::Listed(index.refresh().map_err(|e| e.to_string()))
                })
            }
        }
    }
}
