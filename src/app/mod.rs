//! The dashboard: state, keys → actions, `update`, and pure rendering, driven by a tokio loop.

pub mod fetch;
pub mod job_tab;
pub mod keymap;
pub mod render;
pub mod runtime;
pub mod tabs;
pub mod theme;
pub mod update;
pub mod widgets;

use std::path::PathBuf;

use crate::device::DeviceChoice;
use crate::jobs::{JobCommand, JobKind, JobSpec};
use crate::scenario::Scenario;

pub use keymap::{map_key, Action};
pub use runtime::run_dashboard;
pub use update::{update, update_job};

use job_tab::JobTab;
use tabs::classifier::ClassifierTab;
use tabs::gan::GanTab;
use tabs::rl::RlTab;
use tabs::runs::RunsTab;
use theme::Theme;
use widgets::chart::ChartView;

/// How the dashboard was started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most redraws per second.
    pub fps: u32,
    /// Plain ASCII glyphs.
    pub ascii: bool,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--device`.
    pub device: DeviceChoice,
    /// A scenario from `gradtop train` to load into its tab and start.
    pub scenario: Option<Scenario>,
    /// The folder new run directories go in (`--runs-dir`, `$GRADTOP_RUNS`, `./runs`).
    pub runs_dir: PathBuf,
    /// `gradtop watch RUN_DIR`: follow (and steer) this run instead of training (the scenario is
    /// the run's, for its tab and panel). Without a scenario, a TensorBoard log folder: the
    /// dashboard opens on the Runs tab over it (`runs_dir` is that folder).
    pub watch: Option<PathBuf>,
    /// `gradtop train --steps`: the step limit of that scenario's run.
    pub max_steps: Option<u64>,
}

/// The four tabs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TabId {
    /// Image classifier.
    Classifier,
    /// GAN.
    Gan,
    /// Reinforcement learning.
    Rl,
    /// Runs on disk.
    Runs,
}

impl TabId {
    /// Every tab in display order.
    pub const ALL: [TabId; 4] = [TabId::Classifier, TabId::Gan, TabId::Rl, TabId::Runs];

    /// The tab bar label.
    pub fn title(self) -> &'static str {
        match self {
            TabId::Classifier => "Classifier",
            TabId::Gan => "GAN",
            TabId::Rl => "RL",
            TabId::Runs => "Runs",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|&t| t == self).unwrap_or(0)
    }

    /// The tab that runs jobs of `kind`.
    pub fn of(kind: JobKind) -> Self {
        match kind {
            JobKind::Classifier => TabId::Classifier,
            JobKind::Gan => TabId::Gan,
            JobKind::Rl => TabId::Rl,
        }
    }

    /// The kind of job this tab runs; `None` for the Runs tab.
    pub fn kind(self) -> Option<JobKind> {
        match self {
            TabId::Classifier => Some(JobKind::Classifier),
            TabId::Gan => Some(JobKind::Gan),
            TabId::Rl => Some(JobKind::Rl),
            TabId::Runs => None,
        }
    }

    /// The next tab, wrapping.
    pub fn next(self) -> Self {
        Self::ALL[(self.index() + 1) % Self::ALL.len()]
    }

    /// The previous tab, wrapping.
    pub fn prev(self) -> Self {
        Self::ALL[(self.index() + Self::ALL.len() - 1) % Self::ALL.len()]
    }
}

/// What covers the tabs, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    /// Nothing.
    None,
    /// The key help.
    Help,
    /// "A job is running. Quit?"
    ConfirmQuit,
    /// "Delete run … and its checkpoints? y/n" (the run is `runs.pending_delete`).
    ConfirmDelete,
    /// The GPU panel.
    Gpu,
    /// The classifier's model summary (layers, output shapes, parameters).
    ModelSummary,
}

/// How serious a toast is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastLevel {
    /// Confirmation.
    Info,
    /// Refused input, warnings.
    Warn,
    /// Failures.
    Error,
}

/// A message on the bottom line that disappears after a while.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    /// The text.
    pub text: String,
    /// Its level.
    pub level: ToastLevel,
    /// Ticks until it disappears.
    pub ticks_left: u32,
}

/// Work for the runtime that `update` decides but does not do itself.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Start a job in its kind's tab (replacing any running one there).
    Start(Box<JobSpec>),
    /// Write a GAN sample grid to `gan-samples-itN.pgm` and `.png` in the working directory.
    ExportSamples(std::sync::Arc<crate::jobs::GanSnapshot>),
    /// Send a command to the job of a kind.
    Command(JobKind, JobCommand),
    /// Read runs' curves on a blocking task; the answer comes back as a
    /// [`tabs::runs::RunsMessage`].
    LoadCurves(tabs::runs::CurvesRequest),
    /// Delete a run directory on a blocking task (the user confirmed); the answer comes back as
    /// a [`tabs::runs::RunsMessage`].
    DeleteRun(PathBuf),
    /// List the runs again on a blocking task; the answer comes back as [`FileDone::Listed`].
    RefreshRuns,
    /// Download a dataset into the user cache on a blocking task; its progress and end come
    /// back as [`FileDone::Fetch`].
    Fetch(crate::data::DatasetName),
}

/// The answer of work the runtime did on a blocking task, so the UI thread never waits on disk.
#[derive(Debug)]
pub enum FileDone {
    /// Curves read or a run deleted, for the Runs tab.
    Runs(tabs::runs::RunsMessage),
    /// The runs on disk, or why they could not be listed.
    Listed(Result<Vec<crate::runs::RunSummary>, String>),
    /// A GAN sample grid written to these files (PGM and PNG), or why not.
    Exported(Result<Vec<PathBuf>, String>),
    /// A dataset download progressed or ended.
    Fetch(fetch::FetchUpdate),
}

/// All dashboard state; rendering reads it, only `update` changes it.
#[derive(Debug)]
pub struct App {
    /// Colours and glyphs.
    pub theme: Theme,
    /// The visible tab.
    pub tab: TabId,
    /// How every chart is drawn: log y, smoothing, full history or the recent window.
    pub chart: ChartView,
    /// The classifier tab.
    pub classifier: ClassifierTab,
    /// The GAN tab.
    pub gan: GanTab,
    /// The RL tab.
    pub rl: RlTab,
    /// The Runs tab.
    pub runs: RunsTab,
    /// The GPUs as their driver last reported them.
    pub gpu: widgets::gpu::GpuView,
    /// An overlay, if shown.
    pub overlay: Overlay,
    /// The dataset download started with `f`, while it runs.
    pub fetching: Option<fetch::FetchState>,
    /// The first row of the key help in view, when it is longer than the screen.
    pub help_scroll: u16,
    /// The last first row the help could scroll to at its last drawing, so scrolling stops
    /// where the text ends whatever the screen's height.
    pub help_max_scroll: std::cell::Cell<u16>,
    /// The bottom-line message, if any.
    pub toast: Option<Toast>,
    /// Wall clock as shown in the status bar (set by ticks, never read while rendering).
    pub clock: String,
    /// The training device's short name.
    pub device_label: String,
    /// Set when the user has confirmed quitting.
    pub should_quit: bool,
    /// Redraw rates per second, for toast lifetimes.
    pub fps: u32,
    /// Options the dashboard was started with.
    pub data_dir: Option<PathBuf>,
    /// Device choice passed to jobs.
    pub device: DeviceChoice,
    /// The folder jobs create their run directories in.
    pub runs_dir: PathBuf,
    /// The run followed (`gradtop watch`), if any: shown from its logs, steered through its
    /// control file.
    pub watching: Option<PathBuf>,
}

impl App {
    /// A dashboard on the classifier tab with its job ready, not running.
    pub fn new(options: &Options, theme: Theme) -> Self {
        let scenario = options.scenario.as_ref();
        let mut classifier = ClassifierTab::new(scenario, options.data_dir.as_deref());
        let mut gan = GanTab::new(scenario, options.data_dir.as_deref());
        let mut rl = RlTab::new(scenario);
        let watching_logs = options.watch.is_some() && scenario.is_none();
        let tab = match scenario {
            Some(s) => TabId::of(s.settings.kind()),
            None if watching_logs => TabId::Runs,
            None => TabId::Classifier,
        };
        let mut runs = RunsTab::new(&options.runs_dir, options.watch.is_some());
        runs.open_single_run = watching_logs;
        for job in [&mut classifier.job, &mut gan.job, &mut rl.job] {
            job.max_steps = options.max_steps.filter(|_| job.autostart);
            // A watched run is shown, never trained here.
            job.autostart &= options.watch.is_none();
        }
        Self {
            theme,
            tab,
            chart: ChartView::default(),
            classifier,
            gan,
            rl,
            runs,
            gpu: Default::default(),
            overlay: Overlay::None,
            fetching: None,
            help_scroll: 0,
            help_max_scroll: std::cell::Cell::new(u16::MAX),
            toast: None,
            clock: String::new(),
            device_label: options.device.label(),
            should_quit: false,
            fps: options.fps.max(1),
            data_dir: options.data_dir.clone(),
            device: options.device,
            runs_dir: options.runs_dir.clone(),
            watching: options.watch.clone(),
        }
    }

    /// The tab that runs jobs of `kind`.
    pub fn tab(&self, kind: JobKind) -> &dyn JobTab {
        match kind {
            JobKind::Classifier => &self.classifier,
            JobKind::Gan => &self.gan,
            JobKind::Rl => &self.rl,
        }
    }

    /// The tab that runs jobs of `kind`, to change.
    pub fn tab_mut(&mut self, kind: JobKind) -> &mut dyn JobTab {
        match kind {
            JobKind::Classifier => &mut self.classifier,
            JobKind::Gan => &mut self.gan,
            JobKind::Rl => &mut self.rl,
        }
    }

    /// The shared state of the tab that runs jobs of `kind`.
    pub fn job(&self, kind: JobKind) -> &job_tab::JobState {
        self.tab(kind).job()
    }

    /// True while a value is being typed: a hyperparameter, or the Runs tab's filter.
    pub fn is_editing(&self) -> bool {
        match self.tab.kind() {
            Some(kind) => self.job(kind).panel.editing.is_some(),
            None => self.runs.filtering,
        }
    }

    /// Jobs that are loading, running or paused.
    pub fn active_jobs(&self) -> usize {
        if self.watching.is_some() {
            return 0;
        }
        JobKind::ALL
            .into_iter()
            .filter(|&kind| self.job(kind).is_active())
            .count()
    }

    /// Shows a message for about four seconds.
    pub fn toast(&mut self, level: ToastLevel, text: impl Into<String>) {
        self.toast = Some(Toast {
            text: text.into(),
            level,
            ticks_left: 4 * self.fps,
        });
    }
}
