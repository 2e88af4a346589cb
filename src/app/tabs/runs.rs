//! The Runs tab: every run under the runs folder — from this session or earlier ones — with its
//! kind, scenario, status, steps, best figure and start time. Enter opens a run's curves; marked
//! runs open overlaid in one chart; `r` resumes a stopped run in its tab; `d` deletes one after a
//! confirmation.
//!
//! The runtime refreshes the list (it owns the [`crate::runs::RunsIndex`]) and does the slow
//! file work — reading curves ([`load_curves`]), deleting ([`delete_run`]) — on a blocking
//! task, handing the result back as a [`RunsMessage`]; this tab only holds state and draws it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, Widget, Wrap};

use super::Reaction;
use crate::app::keymap::{own_hint_line, HintContext, RunsScreen};
use crate::app::theme::Theme;
use crate::app::widgets::chart::{legend_key, render_chart, trace_color, Trace};
use crate::app::widgets::series::Series;
use crate::app::{Action, Effect, ToastLevel};
use crate::device::DeviceChoice;
use crate::jobs::JobSpec;
use crate::run_commands::resume_spec;
use crate::runs::{
    drop_superseded, read_jsonl, EventRecord, MetricRecord, RunDir, RunStatus, RunSummary,
};

/// Most points kept per curve after loading: more than any terminal chart has dots across.
pub const CURVE_POINTS: usize = 1000;
/// Records parsed before the ones a resume superseded are dropped, bounding memory on long logs.
const READ_BATCH: usize = 8192;
/// Most legend rows under an overlay chart; further runs are summed up on the last row.
const LEGEND_ROWS_MAX: usize = 6;
/// List refreshes (about a second each) between re-reads of a running run's open curves.
pub const LIVE_RELOAD_REFRESHES: u32 = 5;
/// Width from which start times show their year.
const WIDE_LIST: u16 = 100;

/// A run as the curves view names it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRef {
    /// The run directory.
    pub path: PathBuf,
    /// Scenario and start time, e.g. `cartpole-dqn 2026-11-29 05:12:03`.
    pub label: String,
    /// `classifier`, `gan`, `rl`, if known.
    pub kind: Option<String>,
    /// Status when the view was opened.
    pub status: RunStatus,
}

impl RunRef {
    fn of(run: &RunSummary) -> Self {
        Self {
            path: run.path.clone(),
            label: run_label(run),
            kind: run.kind.clone(),
            status: run.status,
        }
    }
}

/// One metric of one run, downsampled for charting.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCurve {
    /// The metric's name in `metrics.jsonl`.
    pub name: String,
    /// (step, value), at most [`CURVE_POINTS`], each the mean of the records it stands for.
    pub points: Vec<(f64, f64)>,
    /// The last finite value logged.
    pub last: Option<f64>,
    /// The highest step logged (the downsampled points end a little before it).
    pub last_step: u64,
    /// Records read for this metric (before downsampling).
    pub records: u64,
}

/// Everything charted of one run, or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCurves {
    /// The run directory.
    pub path: PathBuf,
    /// Metrics in the order they first appear in the log.
    pub metrics: Vec<MetricCurve>,
    /// Lines of `metrics.jsonl` that did not parse (a record cut by a crash).
    pub skipped_lines: u64,
    /// Why the run's logs could not be read; the metrics are then empty.
    pub error: Option<String>,
}

impl RunCurves {
    /// The curve of `name`, if the run logged it.
    pub fn metric(&self, name: &str) -> Option<&MetricCurve> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

/// Which runs to read, tagged so a late answer for a view already left is ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvesRequest {
    /// Matches [`CurvesView::request`].
    pub id: u64,
    /// The run directories, in legend order.
    pub runs: Vec<PathBuf>,
    /// Points kept per curve.
    pub max_points: usize,
}

/// Results of the Runs tab's file work, delivered back to the UI thread.
#[derive(Debug, Clone, PartialEq)]
pub enum RunsMessage {
    /// The curves asked for by request `request`, one entry per run, in request order.
    Curves {
        /// The request's id.
        request: u64,
        /// Each run's curves.
        curves: Vec<RunCurves>,
    },
    /// A run directory was deleted, or why not.
    Deleted {
        /// The run directory.
        path: PathBuf,
        /// `Err` holds the reason, ready to show.
        result: Result<(), String>,
    },
}

/// Where the curves of an open view stand.
#[derive(Debug, Clone, PartialEq)]
pub enum CurvesState {
    /// Read on a blocking task; the answer has not arrived.
    Loading,
    /// Read (each run may still carry its own error).
    Loaded(Vec<RunCurves>),
}

/// An open chart: one run's curves, or several marked runs overlaid.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvesView {
    /// The id of the request that fills it.
    pub request: u64,
    /// The runs charted, in legend (and colour) order.
    pub runs: Vec<RunRef>,
    /// Loading or loaded.
    pub state: CurvesState,
    /// The metric charted; chosen per kind once the curves arrive, then by ←/→.
    pub metric: Option<String>,
    /// A re-read of a live run's curves in flight; the chart keeps the old ones meanwhile.
    pub reload: Option<u64>,
    /// List refreshes since the curves were last read.
    pub refreshes: u32,
}

impl CurvesView {
    /// True for an overlay of several runs.
    pub fn is_overlay(&self) -> bool {
        self.runs.len() > 1
    }

    /// Every metric any of the runs logged, in first-seen order.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        if let CurvesState::Loaded(curves) = &self.state {
            for metric in curves.iter().flat_map(|c| c.metrics.iter()) {
                if !names.contains(&metric.name) {
                    names.push(metric.name.clone());
                }
            }
        }
        names
    }

    fn step_metric(&mut self, forward: bool) {
        let names = self.metric_names();
        if names.is_empty() {
            return;
        }
        let n = names.len();
        let current = self
            .metric
            .as_ref()
            .and_then(|m| names.iter().position(|x| x == m));
        let next = match (current, forward) {
            (None, _) => 0,
            (Some(i), true) => (i + 1) % n,
            (Some(i), false) => (i + n - 1) % n,
        };
        self.metric = Some(names[next].clone());
    }
}

/// What the tab shows.
#[derive(Debug, Clone, PartialEq)]
pub enum RunsView {
    /// The list of runs.
    List,
    /// A chart of one run or of the marked runs.
    Curves(CurvesView),
}

/// The metric a chart opens on: the one a user of that kind of job watches first, else the
/// first one logged.
pub fn default_metric(kind: Option<&str>, names: &[String]) -> Option<String> {
    let preferred: &[&str] = match kind {
        Some("classifier") => &["train_loss", "test_accuracy"],
        Some("gan") => &["d_loss", "g_loss"],
        Some("rl") => &["mean_return_20", "episode_return"],
        _ => &["train_loss", "mean_return_20", "d_loss"],
    };
    preferred
        .iter()
        .find(|p| names.iter().any(|n| n == *p))
        .map(|p| p.to_string())
        .or_else(|| names.first().cloned())
}

/// The Runs tab's state.
#[derive(Debug, Clone)]
pub struct RunsTab {
    /// The folder listed.
    pub parent: PathBuf,
    /// Runs, newest first, as of the last refresh.
    pub rows: Vec<RunSummary>,
    /// The highlighted row.
    pub selected: usize,
    /// Why the last refresh failed, if it did.
    pub error: Option<String>,
    /// False until the first refresh arrives.
    pub loaded: bool,
    /// Runs marked for an overlay (`space`), in the order marked.
    pub marks: Vec<PathBuf>,
    /// The list, or an open chart.
    pub view: RunsView,
    /// The run `d` asked about, until the answer.
    pub pending_delete: Option<PathBuf>,
    /// The id the next curves request gets.
    next_request: u64,
}

/// The directory name of a run, as messages name it.
pub fn run_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Scenario and start time: how a legend tells runs apart.
pub fn run_label(run: &RunSummary) -> String {
    match run.started {
        Some(t) => format!("{} {}", run.scenario, t.display()),
        None => run.scenario.clone(),
    }
}

impl RunsTab {
    /// An empty list of the runs under `parent`, filled by the first refresh.
    pub fn new(parent: &Path) -> Self {
        Self {
            parent: parent.to_path_buf(),
            rows: Vec::new(),
            selected: 0,
            error: None,
            loaded: false,
            marks: Vec::new(),
            view: RunsView::List,
            pending_delete: None,
            next_request: 1,
        }
    }

    /// Takes a refreshed listing, keeping the same run highlighted when it is still there;
    /// marks of runs that are gone are dropped.
    pub fn on_refresh(&mut self, listing: Result<Vec<RunSummary>, String>) {
        self.loaded = true;
        match listing {
            Ok(rows) => {
                let current = self.rows.get(self.selected).map(|r| r.path.clone());
                self.selected = current
                    .and_then(|p| rows.iter().position(|r| r.path == p))
                    .unwrap_or(0)
                    .min(rows.len().saturating_sub(1));
                self.rows = rows;
                self.marks
                    .retain(|m| self.rows.iter().any(|r| &r.path == m));
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The highlighted run.
    pub fn selected_run(&self) -> Option<&RunSummary> {
        self.rows.get(self.selected)
    }

    /// True while a chart is open (keys then mean "metric" and "back").
    pub fn in_curves(&self) -> bool {
        matches!(self.view, RunsView::Curves(_))
    }

    /// Whether `path` is marked for an overlay.
    pub fn is_marked(&self, path: &Path) -> bool {
        self.marks.iter().any(|m| m == path)
    }

    /// Handles list and chart keys; resume and delete go through [`RunsTab::resume_selected`]
    /// and [`RunsTab::request_delete`], which need the rest of the app.
    pub fn handle(&mut self, action: Action) -> Reaction {
        if let RunsView::Curves(view) = &mut self.view {
            match action {
                Action::Left => view.step_metric(false),
                Action::Right => view.step_metric(true),
                Action::Back | Action::OpenRun => self.view = RunsView::List,
                _ => {}
            }
            return Reaction::default();
        }
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => {
                self.selected = (self.selected + 1).min(self.rows.len().saturating_sub(1))
            }
            Action::ToggleMark => {
                if let Some(path) = self.selected_run().map(|r| r.path.clone()) {
                    if self.is_marked(&path) {
                        self.marks.retain(|m| m != &path);
                    } else {
                        self.marks.push(path);
                    }
                }
            }
            Action::Back if !self.marks.is_empty() => {
                self.marks.clear();
                return Reaction::toast(ToastLevel::Info, "marks cleared");
            }
            Action::OpenRun => return self.open(),
            _ => {}
        }
        Reaction::default()
    }

    /// Opens the marked runs overlaid, or the highlighted run alone, and asks for their curves.
    fn open(&mut self) -> Reaction {
        let runs: Vec<RunRef> = if self.marks.is_empty() {
            self.selected_run().map(RunRef::of).into_iter().collect()
        } else {
            self.rows
                .iter()
                .filter(|r| self.is_marked(&r.path))
                .map(RunRef::of)
                .collect()
        };
        if runs.is_empty() {
            return Reaction::default();
        }
        let id = self.next_request;
        self.next_request += 1;
        let request = CurvesRequest {
            id,
            runs: runs.iter().map(|r| r.path.clone()).collect(),
            max_points: CURVE_POINTS,
        };
        self.view = RunsView::Curves(CurvesView {
            request: id,
            runs,
            state: CurvesState::Loading,
            metric: None,
            reload: None,
            refreshes: 0,
        });
        Reaction::effects(vec![Effect::LoadCurves(request)])
    }

    /// The job spec that continues the highlighted run, or why it cannot be resumed (running,
    /// finished, a kind that cannot resume yet, an unreadable config).
    pub fn resume_selected(
        &self,
        data_dir: Option<PathBuf>,
        device: DeviceChoice,
    ) -> Result<JobSpec, String> {
        let run = self.selected_run().ok_or("no run to resume")?;
        let name = run_name(&run.path);
        if !run.status.resumable() {
            return Err(match (run.status, run.pid) {
                (RunStatus::Running, Some(pid)) => {
                    format!("{name} is still running (process {pid})")
                }
                (RunStatus::Running, None) => format!("{name} is still running"),
                _ => format!("{name} finished its schedule; nothing to resume"),
            });
        }
        resume_spec(&run.path, data_dir, device, None).map_err(|e| e.to_string())
    }

    /// Remembers the highlighted run for the delete question; refused while a live process
    /// writes it. Returns the run's name for the question.
    pub fn request_delete(&mut self) -> Result<String, String> {
        let run = self.selected_run().ok_or("no run to delete")?;
        let name = run_name(&run.path);
        if run.status == RunStatus::Running || run.pid.is_some() {
            return Err(match run.pid {
                Some(pid) => format!("{name} is in use (process {pid}); stop it first"),
                None => format!("{name} is running; stop it first"),
            });
        }
        self.pending_delete = Some(run.path.clone());
        Ok(name)
    }

    /// Called after each list refresh: an open chart of a run that is still running is read
    /// again every [`LIVE_RELOAD_REFRESHES`] refreshes, so its curves keep growing, and once
    /// more when it ends; the statuses in its title follow the list.
    pub fn reload_live_curves(&mut self) -> Option<Effect> {
        let RunsView::Curves(view) = &mut self.view else {
            return None;
        };
        // A run that just ended is read once more for the records it wrote last.
        let mut ended = false;
        for run in &mut view.runs {
            if let Some(row) = self.rows.iter().find(|r| r.path == run.path) {
                ended |= run.status == RunStatus::Running && row.status != RunStatus::Running;
                run.status = row.status;
            }
        }
        let live = view.runs.iter().any(|r| r.status == RunStatus::Running);
        if view.reload.is_some() || view.state == CurvesState::Loading || !(live || ended) {
            return None;
        }
        view.refreshes += 1;
        if !ended && view.refreshes < LIVE_RELOAD_REFRESHES {
            return None;
        }
        let id = self.next_request;
        self.next_request += 1;
        view.reload = Some(id);
        Some(Effect::LoadCurves(CurvesRequest {
            id,
            runs: view.runs.iter().map(|r| r.path.clone()).collect(),
            max_points: CURVE_POINTS,
        }))
    }

    /// The answer "yes": the deletion to run.
    pub fn confirm_delete(&mut self) -> Option<Effect> {
        self.pending_delete.take().map(Effect::DeleteRun)
    }

    /// The answer "no".
    pub fn cancel_delete(&mut self) -> Option<String> {
        self.pending_delete.take().map(|p| run_name(&p))
    }

    /// Takes the result of file work done off the UI thread; returns a message for the user.
    pub fn on_message(&mut self, message: RunsMessage) -> Option<(ToastLevel, String)> {
        match message {
            RunsMessage::Curves { request, curves } => {
                if let RunsView::Curves(view) = &mut self.view {
                    if view.request == request || view.reload == Some(request) {
                        view.request = request;
                        view.reload = None;
                        view.refreshes = 0;
                        view.state = CurvesState::Loaded(curves);
                        if view.metric.is_none() {
                            let kind = view.runs.first().and_then(|r| r.kind.clone());
                            view.metric = default_metric(kind.as_deref(), &view.metric_names());
                        }
                    }
                }
                None
            }
            RunsMessage::Deleted { path, result } => match result {
                Ok(()) => {
                    self.rows.retain(|r| r.path != path);
                    self.marks.retain(|m| m != &path);
                    self.selected = self.selected.min(self.rows.len().saturating_sub(1));
                    Some((ToastLevel::Info, format!("deleted {}", run_name(&path))))
                }
                Err(e) => Some((ToastLevel::Error, format!("could not delete: {e}"))),
            },
        }
    }

    /// The screen the key hints are for: the chart, or the list with or without marks.
    pub fn hint_context(&self) -> HintContext {
        HintContext::Runs(match &self.view {
            RunsView::Curves(_) => RunsScreen::Chart,
            RunsView::List if self.marks.is_empty() => RunsScreen::List,
            RunsView::List => RunsScreen::Marked,
        })
    }
}

/// Reads one run's curves: `metrics.jsonl` streamed line by line (so a log of many MB never sits
/// in memory whole), records a resume superseded dropped, each metric averaged down to at most
/// `max_points` points. Blocking: call it off the UI thread.
pub fn read_run_curves(run_dir: &Path, max_points: usize) -> RunCurves {
    let mut curves = RunCurves {
        path: run_dir.to_path_buf(),
        metrics: Vec::new(),
        skipped_lines: 0,
        error: None,
    };
    if let Err(e) = read_into(run_dir, max_points, &mut curves) {
        curves.metrics.clear();
        curves.error = Some(e);
    }
    curves
}

fn read_into(run_dir: &Path, max_points: usize, curves: &mut RunCurves) -> Result<(), String> {
    let run = RunDir::open(run_dir).map_err(|e| e.to_string())?;
    let events: Vec<EventRecord> = read_jsonl(&run.events_path()).map_err(|e| e.to_string())?.0;
    let path = run.metrics_path();
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    let mut reader = BufReader::new(file);
    let mut series: Vec<Tracked> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut batch: Vec<MetricRecord> = Vec::with_capacity(READ_BATCH);
    let mut line = Vec::new();
    let mut flush = |batch: &mut Vec<MetricRecord>, series: &mut Vec<Tracked>| {
        // A record is superseded or not on its own, so batches give the same result as one pass.
        for record in drop_superseded(std::mem::take(batch), &events) {
            let i = *index.entry(record.name.clone()).or_insert_with(|| {
                series.push(Tracked {
                    name: record.name.clone(),
                    series: Series::new(max_points),
                    last: None,
                    last_step: 0,
                    records: 0,
                });
                series.len() - 1
            });
            let entry = &mut series[i];
            entry.series.push(record.step as f64, record.value);
            if record.value.is_finite() {
                entry.last = Some(record.value);
            }
            entry.last_step = entry.last_step.max(record.step);
            entry.records += 1;
        }
    };
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        // A last line without its newline may be mid-write: it is left for the next read.
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<MetricRecord>(&line) {
            Ok(record) => batch.push(record),
            Err(_) => curves.skipped_lines += 1,
        }
        if batch.len() >= READ_BATCH {
            flush(&mut batch, &mut series);
        }
    }
    flush(&mut batch, &mut series);
    curves.metrics = series
        .into_iter()
        .map(|t| MetricCurve {
            name: t.name,
            points: t.series.points().to_vec(),
            last: t.last,
            last_step: t.last_step,
            records: t.records,
        })
        .collect();
    Ok(())
}

/// One metric while its log is read.
struct Tracked {
    name: String,
    series: Series,
    last: Option<f64>,
    last_step: u64,
    records: u64,
}

/// Answers a [`CurvesRequest`]. Blocking: the runtime calls it on a blocking task.
pub fn load_curves(request: &CurvesRequest) -> RunsMessage {
    RunsMessage::Curves {
        request: request.id,
        curves: request
            .runs
            .iter()
            .map(|p| read_run_curves(p, request.max_points))
            .collect(),
    }
}

/// Deletes a run directory with its checkpoints ([`RunDir::delete`], refused while a live
/// process holds the run's lock). Blocking: the runtime calls it on a blocking task.
pub fn delete_run(path: &Path) -> RunsMessage {
    RunsMessage::Deleted {
        path: path.to_path_buf(),
        result: RunDir::open(path)
            .and_then(RunDir::delete)
            .map_err(|e| e.to_string()),
    }
}

fn best_text(run: &RunSummary) -> String {
    match &run.best {
        Some(b) => format!("{} {}", b.name, value_text(b.value)),
        None => "–".into(),
    }
}

fn value_text(v: f64) -> String {
    if v.abs() < 10.0 {
        format!("{v:.4}")
    } else {
        format!("{v:.1}")
    }
}

/// Draws the list, or the open chart.
pub fn render(tab: &RunsTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
    match &tab.view {
        RunsView::List => render_list(tab, area, buf, theme),
        RunsView::Curves(view) => render_curves(view, area, buf, theme),
    }
}

/// Draws the list (or why it is empty) and the highlighted run's details.
fn render_list(tab: &RunsTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let title = format!(" Runs in {} ", tab.parent.display());
    if tab.rows.is_empty() {
        let mut text = vec![Line::raw(if tab.loaded {
            "No runs yet. Every training job, in the dashboard or headless, writes one here."
        } else {
            "Reading runs…"
        })];
        if let Some(e) = &tab.error {
            text.push(Line::styled(e.clone(), theme.error()));
        }
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(title))
            .render(area, buf);
        return;
    }
    let [list, details] = Layout::vertical([Constraint::Min(3), Constraint::Length(5)]).areas(area);
    let wide = area.width >= WIDE_LIST;
    let mark = if theme.ascii { "*" } else { "●" };
    let header = Row::new(["", "started", "scenario", "kind", "status", "steps", "best"])
        .style(theme.bold());
    let rows = tab.rows.iter().enumerate().map(|(i, run)| {
        let style = match run.status {
            _ if i == tab.selected => theme.highlight(),
            RunStatus::Running => theme.good(),
            RunStatus::Failed => theme.error(),
            RunStatus::Interrupted | RunStatus::Paused => theme.warn(),
            RunStatus::Finished => Style::default(),
        };
        let started = run
            .started
            .map(|t| {
                let full = t.display();
                // Narrow screens drop the year and seconds (`11-29 05:12`); the details line
                // below names the directory in full.
                if wide {
                    full
                } else {
                    full.get(5..16).unwrap_or_default().to_string()
                }
            })
            .unwrap_or_default();
        Row::new([
            if tab.is_marked(&run.path) { mark } else { "" }.to_string(),
            started,
            run.scenario.clone(),
            run.kind.clone().unwrap_or_else(|| "?".into()),
            run.status.as_str().to_string(),
            run.steps.to_string(),
            best_text(run),
        ])
        .style(style)
    });
    let title = if tab.marks.is_empty() {
        title
    } else {
        format!("{title}· {} marked ", tab.marks.len())
    };
    Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(if wide { 19 } else { 11 }),
            Constraint::Min(9),
            Constraint::Length(10),
            Constraint::Length(11),
            Constraint::Length(7),
            Constraint::Length(20),
        ],
    )
    .header(header)
    .block(Block::bordered().title(title))
    .render(list, buf);

    let mut text = Vec::new();
    if let Some(run) = tab.selected_run() {
        text.push(Line::raw(match run.pid {
            Some(pid) => format!("{}  (process {pid})", run.path.display()),
            None => run.path.display().to_string(),
        }));
        if let Some(detail) = &run.detail {
            text.push(Line::styled(detail.clone(), theme.warn()));
        }
    }
    if let Some(e) = &tab.error {
        text.push(Line::styled(e.clone(), theme.error()));
    }
    let keys = own_hint_line(
        tab.hint_context(),
        usize::from(details.width.saturating_sub(2)),
    );
    // The keys keep the last row whatever else is shown.
    text.truncate(2);
    text.push(Line::styled(keys, theme.dim()));
    Paragraph::new(text)
        .block(Block::bordered())
        .render(details, buf);
}

/// The metric names on one row, the chosen one highlighted, scrolled so it stays visible.
fn metric_line<'a>(
    names: &'a [String],
    chosen: Option<&str>,
    width: u16,
    theme: &Theme,
) -> Line<'a> {
    let pos = chosen
        .and_then(|c| names.iter().position(|n| n == c))
        .unwrap_or(0);
    let prefix = "←/→ metric: ";
    let budget = (width as usize).saturating_sub(prefix.chars().count() + 2);
    let cost = |name: &String| name.chars().count() + 2;
    // Drop names from the left until the chosen one fits.
    let mut start = 0;
    while start < pos && names[start..=pos].iter().map(cost).sum::<usize>() > budget {
        start += 1;
    }
    let mut spans = vec![Span::styled(prefix, theme.dim())];
    if start > 0 {
        spans.push(Span::styled("… ", theme.dim()));
    }
    for (i, name) in names.iter().enumerate().skip(start) {
        let style = if i == pos {
            theme.highlight()
        } else {
            Style::default()
        };
        spans.push(Span::styled(format!(" {name} "), style));
    }
    Line::from(spans)
}

/// Draws one run's chart, or the overlay of the marked runs with a legend naming each.
fn render_curves(view: &CurvesView, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let title = match view.runs.as_slice() {
        [one] => format!(
            " {} · {} · {} ",
            run_name(&one.path),
            one.kind.as_deref().unwrap_or("?"),
            one.status.as_str()
        ),
        runs => format!(" {} runs overlaid ", runs.len()),
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let curves = match &view.state {
        CurvesState::Loading => {
            Paragraph::new(Line::styled("loading curves…", theme.dim())).render(inner, buf);
            return;
        }
        CurvesState::Loaded(curves) => curves,
    };
    let names = view.metric_names();
    let legend_rows = if view.is_overlay() {
        view.runs
            .len()
            .min(LEGEND_ROWS_MAX)
            .min((inner.height / 3) as usize) as u16
    } else {
        1
    };
    let [chooser, chart_area, legend_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(legend_rows),
    ])
    .areas(inner);
    if names.is_empty() {
        let mut text: Vec<Line> = curves
            .iter()
            .filter_map(|c| {
                c.error
                    .as_ref()
                    .map(|e| Line::styled(format!("{}: {e}", run_name(&c.path)), theme.error()))
            })
            .collect();
        if text.is_empty() {
            text.push(Line::raw("No metrics logged yet."));
        }
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .render(inner, buf);
        return;
    }
    metric_line(&names, view.metric.as_deref(), chooser.width, theme).render(chooser, buf);
    let metric = view.metric.clone().unwrap_or_else(|| names[0].clone());
    let empty: &[(f64, f64)] = &[];
    let traces: Vec<Trace> = curves
        .iter()
        .enumerate()
        .map(|(i, c)| Trace {
            label: "",
            points: c.metric(&metric).map_or(empty, |m| m.points.as_slice()),
            color: trace_color(i),
        })
        .collect();
    render_chart(
        chart_area,
        buf,
        &format!("{metric} by step"),
        &traces,
        None,
        &format!("no {metric} in these runs"),
        theme,
    );
    let lines: Vec<Line> = if view.is_overlay() {
        let shown = if view.runs.len() > legend_rows as usize {
            legend_rows.saturating_sub(1) as usize
        } else {
            view.runs.len()
        };
        let mut lines: Vec<Line> = view
            .runs
            .iter()
            .zip(curves)
            .enumerate()
            .take(shown)
            .map(|(i, (run, c))| {
                let key = legend_key(theme, traces.len(), i);
                let figure = match (&c.error, c.metric(&metric)) {
                    (Some(e), _) => Span::styled(format!("  {e}"), theme.error()),
                    (None, Some(m)) => Span::styled(
                        format!(
                            "  last {} · step {}",
                            m.last.map(value_text).unwrap_or_else(|| "–".into()),
                            m.last_step
                        ),
                        theme.dim(),
                    ),
                    (None, None) => Span::styled(format!("  no {metric}"), theme.dim()),
                };
                Line::from(vec![
                    Span::styled(format!("{key} {}", run.label), theme.fg(trace_color(i))),
                    figure,
                ])
            })
            .collect();
        if shown < view.runs.len() {
            lines.push(Line::styled(
                format!("+{} more runs on the chart", view.runs.len() - shown),
                theme.dim(),
            ));
        }
        lines
    } else {
        let c = &curves[0];
        vec![match (&c.error, c.metric(&metric)) {
            (Some(e), _) => Line::styled(e.clone(), theme.error()),
            (None, Some(m)) => Line::styled(
                format!(
                    "{}: last {} at step {} · {} records{}",
                    view.runs[0].label,
                    m.last.map(value_text).unwrap_or_else(|| "–".into()),
                    m.last_step,
                    m.records,
                    if c.skipped_lines > 0 {
                        format!(" · {} unreadable lines skipped", c.skipped_lines)
                    } else {
                        String::new()
                    }
                ),
                theme.dim(),
            ),
            (None, None) => Line::styled(format!("no {metric} in this run"), theme.dim()),
        }]
    };
    Paragraph::new(lines).render(legend_area, buf);
}

/// The delete question, centred over the tab.
pub fn render_confirm_delete(tab: &RunsTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let Some(path) = &tab.pending_delete else {
        return;
    };
    let name = run_name(path);
    let question = format!("Delete run {name} and its checkpoints?");
    let w = (question.chars().count() as u16 + 4)
        .max(44)
        .min(area.width.saturating_sub(2));
    let h = 5.min(area.height);
    let rect = Rect::new(
        area.x + (area.width.saturating_sub(w)) / 2,
        area.y + (area.height.saturating_sub(h)) / 2,
        w,
        h,
    );
    Clear.render(rect, buf);
    Paragraph::new(vec![
        Line::raw(question),
        Line::styled("y deletes · any other key keeps it", theme.warn()),
    ])
    .wrap(Wrap { trim: true })
    .block(Block::bordered().title(" delete? y/n "))
    .render(rect, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::render::render_into;
    use crate::app::update::update_runs;
    use crate::app::{map_key, update, App, Options, Overlay, TabId};
    use crate::jobs::{JobStatus, RunTarget};
    use crate::runs::list::Better;
    use crate::runs::{
        summarize_run, BestFigure, EndStatus, LocalTime, RunEvent, RunLock, RunLogs,
    };
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn summary(name: &str, kind: &str, status: RunStatus, steps: u64) -> RunSummary {
        RunSummary {
            path: PathBuf::from(format!("runs/{name}")),
            kind: Some(kind.into()),
            scenario: name.get(16..).unwrap_or(name).into(),
            status,
            pid: (status == RunStatus::Running).then_some(4242),
            steps,
            best: Some(BestFigure {
                name: "test_accuracy".into(),
                value: 0.9812,
                step: steps,
                better: Better::Higher,
            }),
            started: LocalTime::parse_compact(name),
            detail: None,
        }
    }

    fn rows() -> Vec<RunSummary> {
        vec![
            summary(
                "20261129-031500-mnist-cnn",
                "classifier",
                RunStatus::Running,
                1200,
            ),
            summary(
                "20261128-220000-cartpole-dqn",
                "rl",
                RunStatus::Interrupted,
                400,
            ),
            summary(
                "20261128-210000-cartpole-dqn",
                "rl",
                RunStatus::Finished,
                800,
            ),
        ]
    }

    fn app_in(runs_dir: &Path, data_dir: Option<&Path>, theme: Theme) -> App {
        let options = Options {
            fps: 10,
            ascii: theme.ascii,
            data_dir: data_dir.map(Path::to_path_buf),
            device: DeviceChoice::Cpu,
            scenario: None,
            runs_dir: runs_dir.to_path_buf(),
            watch: None,
            max_steps: None,
        };
        let mut app = App::new(&options, theme);
        app.tab = TabId::Runs;
        app
    }

    fn app() -> App {
        let mut app = app_in(Path::new("runs"), None, Theme::new(false, false));
        app.runs.on_refresh(Ok(rows()));
        app
    }

    fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
        match map_key(app, KeyEvent::new(code, KeyModifiers::NONE)) {
            Some(action) => update(app, action),
            None => Vec::new(),
        }
    }

    fn screen(app: &App, w: u16, h: u16) -> String {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        render_into(app, area, &mut buf);
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn curve(name: &str, points: &[(f64, f64)]) -> MetricCurve {
        MetricCurve {
            name: name.into(),
            points: points.to_vec(),
            last: points.last().map(|p| p.1),
            last_step: points.last().map_or(0, |p| p.0 as u64),
            records: points.len() as u64,
        }
    }

    fn rl_curves(path: &Path, scale: f64) -> RunCurves {
        let returns: Vec<(f64, f64)> = (0..50)
            .map(|i| (i as f64 * 400.0, scale * i as f64))
            .collect();
        let losses: Vec<(f64, f64)> = (0..50)
            .map(|i| (i as f64 * 400.0, 1.0 / (1.0 + i as f64)))
            .collect();
        RunCurves {
            path: path.to_path_buf(),
            metrics: vec![
                curve("episode_return", &returns),
                curve("loss", &losses),
                curve("mean_return_20", &returns),
            ],
            skipped_lines: 0,
            error: None,
        }
    }

    /// Answers the app's pending curves request the way the runtime would, with `make`'s curves.
    fn deliver(app: &mut App, effects: &[Effect], make: impl Fn(&Path, usize) -> RunCurves) {
        let [Effect::LoadCurves(request)] = effects else {
            panic!("expected one LoadCurves, got {effects:?}");
        };
        let curves = request
            .runs
            .iter()
            .enumerate()
            .map(|(i, p)| make(p, i))
            .collect();
        update_runs(
            app,
            RunsMessage::Curves {
                request: request.id,
                curves,
            },
        );
    }

    fn has_braille(s: &str) -> bool {
        s.chars().any(|c| ('\u{2800}'..='\u{28FF}').contains(&c))
    }

    #[test]
    fn lists_runs_with_status_steps_and_best_figure() {
        let app = app();
        for (w, h) in [(80, 24), (120, 36)] {
            let s = screen(&app, w, h);
            assert!(s.contains("Runs in runs"), "{s}");
            assert!(
                s.contains("[4 Runs]"),
                "the status never covers the tabs:\n{s}"
            );
            assert!(s.contains("running"), "{s}");
            assert!(s.contains("(process 4242)"), "{s}");
            assert!(s.contains("interrupted"), "{s}");
            assert!(s.contains("1200"), "{s}");
            assert!(s.contains("0.9812"), "{s}");
            assert!(s.contains("11-28 22:00"), "{s}");
            assert!(
                s.contains("cartpole-dqn"),
                "scenario not cut at {w}×{h}:\n{s}"
            );
            assert!(s.contains("space mark"), "{s}");
            assert!(s.contains("r resume") && s.contains("d delete"), "{s}");
        }
        assert!(screen(&app, 120, 36).contains("2026-11-28 22:00:00"));
        let empty = RunsTab {
            loaded: true,
            ..RunsTab::new(Path::new("runs"))
        };
        let mut app = app_in(Path::new("runs"), None, Theme::new(false, false));
        app.runs = empty;
        assert!(screen(&app, 80, 24).contains("No runs yet"));
    }

    #[test]
    fn space_and_m_toggle_marks_shown_in_the_list() {
        let mut app = app();
        press(&mut app, KeyCode::Down);
        assert!(press(&mut app, KeyCode::Char(' ')).is_empty());
        assert_eq!(app.runs.marks, vec![rows()[1].path.clone()]);
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char('m'));
        assert_eq!(app.runs.marks.len(), 2);
        for (w, h) in [(80, 24), (120, 36)] {
            let s = screen(&app, w, h);
            assert_eq!(s.matches('●').count(), 2, "{s}");
            assert!(s.contains("2 marked"), "{s}");
            assert!(s.contains("Enter overlay"), "{s}");
        }
        app.theme = Theme::new(true, true);
        let s = screen(&app, 80, 24);
        assert!(!s.contains('●') && s.contains("│* 11-28"), "{s}");
        // Space again on the same run unmarks it; the other stays.
        press(&mut app, KeyCode::Char(' '));
        assert_eq!(app.runs.marks, vec![rows()[1].path.clone()]);
        // A refresh without a marked run drops its mark.
        app.runs.on_refresh(Ok(vec![rows()[0].clone()]));
        assert!(app.runs.marks.is_empty());
    }

    #[test]
    fn enter_opens_the_curves_and_esc_or_enter_go_back() {
        let mut app = app();
        press(&mut app, KeyCode::Down);
        let effects = press(&mut app, KeyCode::Enter);
        match effects.as_slice() {
            [Effect::LoadCurves(r)] => {
                assert_eq!(r.runs, vec![rows()[1].path.clone()]);
                assert_eq!(r.max_points, CURVE_POINTS);
            }
            other => panic!("{other:?}"),
        }
        assert!(screen(&app, 80, 24).contains("loading curves…"));
        deliver(&mut app, &effects, |p, _| rl_curves(p, 10.0));
        let RunsView::Curves(view) = &app.runs.view else {
            panic!("a chart is open");
        };
        assert_eq!(view.metric.as_deref(), Some("mean_return_20"), "RL default");
        for (w, h) in [(80, 24), (120, 36)] {
            let s = screen(&app, w, h);
            assert!(
                s.contains("20261128-220000-cartpole-dqn · rl · interrupted"),
                "{s}"
            );
            assert!(s.contains("mean_return_20 by step"), "{s}");
            assert!(s.contains("episode_return") && s.contains("loss"), "{s}");
            assert!(s.contains("last 490.0"), "{s}");
            assert!(s.contains("←/→ metric"), "{s}");
            assert!(has_braille(&s), "braille line:\n{s}");
        }
        // ←/→ walk the metric names, wrapping.
        press(&mut app, KeyCode::Right);
        let metric = |app: &App| match &app.runs.view {
            RunsView::Curves(v) => v.metric.clone(),
            RunsView::List => None,
        };
        assert_eq!(metric(&app).as_deref(), Some("episode_return"));
        press(&mut app, KeyCode::Left);
        press(&mut app, KeyCode::Left);
        assert_eq!(metric(&app).as_deref(), Some("loss"));
        assert!(screen(&app, 80, 24).contains("loss by step"));
        // r, d and space do nothing in the chart.
        assert!(press(&mut app, KeyCode::Char('d')).is_empty());
        assert_eq!(app.overlay, Overlay::None);
        press(&mut app, KeyCode::Esc);
        assert_eq!(app.runs.view, RunsView::List);
        assert_eq!(app.runs.selected, 1, "the highlight stays");
        let effects = press(&mut app, KeyCode::Enter);
        assert!(app.runs.in_curves());
        // A late answer to the first request does not replace the new view's loading state.
        update_runs(
            &mut app,
            RunsMessage::Curves {
                request: 1,
                curves: vec![rl_curves(Path::new("x"), 1.0)],
            },
        );
        assert!(matches!(
            &app.runs.view,
            RunsView::Curves(v) if v.state == CurvesState::Loading
        ));
        deliver(&mut app, &effects, |p, _| rl_curves(p, 1.0));
        press(&mut app, KeyCode::Enter);
        assert!(!app.runs.in_curves(), "Enter also goes back");
    }

    #[test]
    fn marked_runs_open_overlaid_with_a_legend_naming_each() {
        for theme in [
            Theme::new(false, false),
            Theme::new(true, false),
            Theme::new(true, true),
        ] {
            let mut app = app();
            app.theme = theme;
            press(&mut app, KeyCode::Down);
            press(&mut app, KeyCode::Char(' '));
            press(&mut app, KeyCode::Down);
            press(&mut app, KeyCode::Char(' '));
            press(&mut app, KeyCode::Up);
            let effects = press(&mut app, KeyCode::Enter);
            match effects.as_slice() {
                [Effect::LoadCurves(r)] => assert_eq!(r.runs.len(), 2),
                other => panic!("{other:?}"),
            }
            deliver(&mut app, &effects, |p, i| {
                rl_curves(p, 10.0 * (i + 1) as f64)
            });
            for (w, h) in [(80, 24), (120, 36)] {
                let s = screen(&app, w, h);
                assert!(s.contains("2 runs overlaid"), "{s}");
                assert!(s.contains("cartpole-dqn 2026-11-28 22:00:00"), "{s}");
                assert!(s.contains("cartpole-dqn 2026-11-28 21:00:00"), "{s}");
                assert!(s.contains("mean_return_20 by step"), "{s}");
                assert!(s.contains("last 490.0") && s.contains("last 980.0"), "{s}");
                if theme.ascii || theme.no_color {
                    // Without colour each run gets its own glyph, in the legend and the chart.
                    assert!(
                        s.contains("** cartpole-dqn") && s.contains("oo cartpole-dqn"),
                        "{s}"
                    );
                    let plot_o = s
                        .lines()
                        .filter(|l| !l.contains("oo "))
                        .any(|l| l.contains('o'));
                    assert!(plot_o, "second run's glyph on the chart:\n{s}");
                    assert!(!has_braille(&s), "{s}");
                } else {
                    assert!(s.contains("── cartpole-dqn"), "{s}");
                    assert!(has_braille(&s), "{s}");
                }
            }
        }
    }

    #[test]
    fn runs_keys_are_mapped_only_on_the_runs_tab() {
        let mut app = app();
        let key = |app: &App, code| map_key(app, KeyEvent::new(code, KeyModifiers::NONE));
        assert_eq!(key(&app, KeyCode::Char(' ')), Some(Action::ToggleMark));
        assert_eq!(key(&app, KeyCode::Char('m')), Some(Action::ToggleMark));
        assert_eq!(key(&app, KeyCode::Enter), Some(Action::OpenRun));
        assert_eq!(key(&app, KeyCode::Char('r')), Some(Action::ResumeRun));
        assert_eq!(key(&app, KeyCode::Char('d')), Some(Action::DeleteRun));
        assert_eq!(key(&app, KeyCode::Esc), Some(Action::Back));
        assert_eq!(
            key(&app, KeyCode::Char('2')),
            Some(Action::GoTab(TabId::Gan))
        );
        app.tab = TabId::Classifier;
        assert_eq!(key(&app, KeyCode::Char(' ')), Some(Action::PauseResume));
        assert_eq!(key(&app, KeyCode::Enter), Some(Action::BeginEdit));
        assert_eq!(key(&app, KeyCode::Char('d')), None);
        assert_eq!(key(&app, KeyCode::Esc), Some(Action::CloseOverlay));
    }

    #[test]
    fn an_open_chart_of_a_running_run_is_read_again_while_it_runs() {
        let mut app = app();
        let effects = press(&mut app, KeyCode::Enter); // the running mnist-cnn run
        assert!(app.runs.reload_live_curves().is_none(), "not while loading");
        deliver(&mut app, &effects, |p, _| rl_curves(p, 1.0));
        for _ in 1..LIVE_RELOAD_REFRESHES {
            assert!(app.runs.reload_live_curves().is_none());
        }
        let Some(Effect::LoadCurves(request)) = app.runs.reload_live_curves() else {
            panic!("a re-read after {LIVE_RELOAD_REFRESHES} refreshes");
        };
        assert!(
            app.runs.reload_live_curves().is_none(),
            "one re-read at a time"
        );
        assert!(
            screen(&app, 80, 24).contains("episode_return by step"),
            "the old curves stay while re-reading"
        );
        update_runs(
            &mut app,
            RunsMessage::Curves {
                request: request.id,
                curves: vec![rl_curves(&request.runs[0], 2.0)],
            },
        );
        assert!(screen(&app, 80, 24).contains("last 98.0"));
        // Once the list says the run finished, the chart says so, reads the last records once
        // and stops re-reading.
        let mut rows = rows();
        rows[0].status = RunStatus::Finished;
        rows[0].pid = None;
        app.runs.on_refresh(Ok(rows));
        let Some(Effect::LoadCurves(last)) = app.runs.reload_live_curves() else {
            panic!("a last read when the run ends");
        };
        update_runs(
            &mut app,
            RunsMessage::Curves {
                request: last.id,
                curves: vec![rl_curves(&last.runs[0], 3.0)],
            },
        );
        assert!(screen(&app, 80, 24).contains("last 147.0"));
        for _ in 0..2 * LIVE_RELOAD_REFRESHES {
            assert!(app.runs.reload_live_curves().is_none());
        }
        assert!(screen(&app, 80, 24).contains("classifier · finished"));
    }

    #[test]
    fn default_metric_follows_the_kind() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = names(&["test_accuracy", "train_loss", "d_loss", "g_loss", "loss"]);
        assert_eq!(
            default_metric(Some("classifier"), &all).as_deref(),
            Some("train_loss")
        );
        assert_eq!(default_metric(Some("gan"), &all).as_deref(), Some("d_loss"));
        let rl = names(&["loss", "episode_return"]);
        assert_eq!(
            default_metric(Some("rl"), &rl).as_deref(),
            Some("episode_return")
        );
        assert_eq!(
            default_metric(None, &names(&["fid_cnn"])).as_deref(),
            Some("fid_cnn")
        );
        assert_eq!(default_metric(Some("rl"), &[]), None);
    }

    #[test]
    fn d_asks_first_and_deletes_only_on_y() {
        let mut app = app();
        press(&mut app, KeyCode::Down);
        assert!(press(&mut app, KeyCode::Char('d')).is_empty());
        assert_eq!(app.overlay, Overlay::ConfirmDelete);
        for (w, h) in [(80, 24), (120, 36)] {
            let s = screen(&app, w, h);
            assert!(
                s.contains("Delete run 20261128-220000-cartpole-dqn and its checkpoints?"),
                "{s}"
            );
            assert!(s.contains("y deletes"), "{s}");
        }
        assert!(press(&mut app, KeyCode::Char('n')).is_empty(), "n keeps it");
        assert_eq!(app.overlay, Overlay::None);
        assert_eq!(app.runs.pending_delete, None);
        assert!(app.toast.as_ref().is_some_and(|t| t.text.contains("kept")));
        press(&mut app, KeyCode::Char('d'));
        let effects = press(&mut app, KeyCode::Char('y'));
        assert!(
            matches!(effects.as_slice(), [Effect::DeleteRun(p)] if *p == rows()[1].path),
            "{effects:?}"
        );
        assert_eq!(app.overlay, Overlay::None);
        // The answer from the runtime takes the run out of the list and the marks.
        app.runs.marks.push(rows()[1].path.clone());
        update_runs(
            &mut app,
            RunsMessage::Deleted {
                path: rows()[1].path.clone(),
                result: Ok(()),
            },
        );
        assert_eq!(app.runs.rows.len(), 2);
        assert!(app.runs.marks.is_empty());
        assert!(app
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("deleted 20261128-220000")));
    }

    #[test]
    fn running_runs_are_neither_deleted_nor_resumed() {
        let mut app = app();
        assert!(press(&mut app, KeyCode::Char('d')).is_empty());
        assert_eq!(app.overlay, Overlay::None);
        let toast = app.toast.clone().expect("a refusal");
        assert!(
            toast.text.contains("in use (process 4242)"),
            "{}",
            toast.text
        );
        assert!(press(&mut app, KeyCode::Char('r')).is_empty());
        let toast = app.toast.clone().expect("a refusal");
        assert!(
            toast.text.contains("still running (process 4242)"),
            "{}",
            toast.text
        );
        assert_eq!(app.tab, TabId::Runs);
        // A finished run has nothing to resume.
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Down);
        assert!(press(&mut app, KeyCode::Char('r')).is_empty());
        assert!(app
            .toast
            .clone()
            .expect("refusal")
            .text
            .contains("finished"));
    }

    /// A stopped classifier run on disk with the shipped mnist-cnn scenario as its config.
    fn stopped_classifier_run(parent: &Path) -> PathBuf {
        let config = std::fs::read_to_string("scenarios/mnist-cnn.toml").expect("scenario");
        let run = RunDir::create_with_config_text(parent, "mnist-cnn", &config).expect("run");
        let mut logs = RunLogs::open(&run).expect("logs");
        logs.event(0, RunEvent::start_now(None)).expect("start");
        logs.metric(1, "train_loss", 2.3).expect("metric");
        logs.event(
            1,
            RunEvent::End {
                status: EndStatus::Stopped,
                summary: None,
            },
        )
        .expect("end");
        run.path().to_path_buf()
    }

    #[test]
    fn r_resumes_a_stopped_classifier_run_in_its_tab() {
        let runs = tempfile::tempdir().expect("temp dir");
        let data = tempfile::tempdir().expect("temp dir");
        crate::data::synthetic::write_dataset(&data.path().join("mnist"), 20, 20, 1)
            .expect("dataset");
        let dir = stopped_classifier_run(runs.path());
        let mut app = app_in(runs.path(), Some(data.path()), Theme::new(false, false));
        app.runs
            .on_refresh(Ok(vec![summarize_run(&dir).expect("summary")]));
        assert_eq!(app.runs.rows[0].status, RunStatus::Paused);

        // The classifier tab's own live job is not silently replaced.
        app.classifier.job.status = Some(JobStatus::Running);
        assert!(press(&mut app, KeyCode::Char('r')).is_empty());
        let refusal = app.toast.clone().expect("refusal").text;
        assert!(
            refusal.contains("Classifier tab has a job running"),
            "{refusal}"
        );
        assert_eq!(app.tab, TabId::Runs);

        app.classifier.job.status = None;
        let effects = press(&mut app, KeyCode::Char('r'));
        match effects.as_slice() {
            [Effect::Start(spec)] => {
                assert_eq!(spec.run, RunTarget::Resume { dir: dir.clone() });
                assert_eq!(spec.scenario, "mnist-cnn");
                assert_eq!(spec.max_steps, None);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(app.tab, TabId::Classifier, "the matching tab is shown");
        assert!(app.classifier.is_active(), "the tab shows the job starting");
        assert!(app.toast.clone().expect("info").text.contains("resuming"));
    }

    #[test]
    fn r_names_the_reason_a_run_cannot_resume() {
        let runs = tempfile::tempdir().expect("temp dir");
        let run = RunDir::create_with_config_text(
            runs.path(),
            "broken",
            "kind = \"classifier\"\nbogus = 1\n",
        )
        .expect("run");
        let mut app = app_in(runs.path(), None, Theme::new(false, false));
        app.runs
            .on_refresh(Ok(vec![summarize_run(run.path()).expect("summary")]));
        assert!(press(&mut app, KeyCode::Char('r')).is_empty());
        let text = app.toast.clone().expect("refusal").text;
        assert!(
            text.starts_with("cannot resume:") && text.contains("bogus"),
            "{text}"
        );
    }

    #[test]
    fn curves_read_long_logs_downsampled_without_superseded_records() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = RunDir::create_with_config_text(parent.path(), "cartpole-dqn", "kind = \"rl\"\n")
            .expect("run");
        let path = run.path().to_path_buf();
        {
            let mut logs = RunLogs::open(&run).expect("logs");
            logs.event(0, RunEvent::start_now(None)).expect("start");
            for step in 1..=30_000u64 {
                logs.metric(step, "loss", 5.0).expect("metric");
            }
            logs.metric(30_000, "episode_return", 9.0).expect("metric");
            logs.sync().expect("sync");
        }
        {
            // Resumed from step 20,000: the first process's records above it are superseded.
            let mut logs = RunLogs::open(&run).expect("logs");
            logs.event(20_000, RunEvent::start_now(Some(20_000)))
                .expect("start");
            for step in 20_001..=25_000u64 {
                logs.metric(step, "loss", 1.0).expect("metric");
            }
            logs.sync().expect("sync");
        }
        // A record cut by a crash, then a last line still being written.
        let mut text = std::fs::read_to_string(run.metrics_path()).expect("read");
        text.push_str("{\"step\":1,\"t\n{\"step\":25001,\"t\":1e9,\"name\":\"loss\",\"value\":7");
        std::fs::write(run.metrics_path(), text).expect("write");

        let curves = read_run_curves(&path, CURVE_POINTS);
        assert_eq!(curves.error, None);
        assert_eq!(curves.skipped_lines, 1);
        let names: Vec<&str> = curves.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["loss"],
            "episode_return at 30,000 was superseded"
        );
        let loss = curves.metric("loss").expect("loss");
        assert_eq!(loss.records, 25_000);
        assert!(loss.points.len() <= CURVE_POINTS && loss.points.len() >= CURVE_POINTS / 2);
        assert_eq!(loss.last, Some(1.0));
        assert_eq!(loss.last_step, 25_000);
        let last = loss.points.last().expect("points");
        assert!(last.0 > 24_000.0 && last.0 <= 25_000.0, "{last:?}");
        assert!(
            loss.points.windows(2).all(|w| w[0].0 < w[1].0),
            "steps increase"
        );

        // An unreadable log is an error that names the file.
        std::fs::remove_file(run.metrics_path()).expect("rm");
        std::fs::create_dir(run.metrics_path()).expect("a directory in its place");
        let broken = read_run_curves(&path, CURVE_POINTS);
        let e = broken.error.expect("error");
        assert!(e.contains("metrics.jsonl"), "{e}");
        let gone = read_run_curves(&parent.path().join("absent"), CURVE_POINTS);
        assert!(gone.error.expect("error").contains("not a run directory"));
    }

    #[test]
    fn delete_removes_a_stopped_run_and_refuses_a_locked_one() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run =
            RunDir::create_with_config_text(parent.path(), "x", "kind = \"rl\"\n").expect("run");
        let path = run.path().to_path_buf();
        let lock = RunLock::acquire(&path).expect("lock");
        match delete_run(&path) {
            RunsMessage::Deleted { result: Err(e), .. } => assert!(e.contains("in use"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(path.is_dir());
        drop(lock);
        assert_eq!(
            delete_run(&path),
            RunsMessage::Deleted {
                path: path.clone(),
                result: Ok(())
            }
        );
        assert!(!path.exists());
    }
}
