//! The Runs tab: every run under the runs folder — from this session or earlier ones — with its
//! kind, scenario, status, steps, best figure and start time. Enter opens a run's curves; marked
//! runs open overlaid in one chart; `r` resumes a stopped run in its tab; `d` deletes one after a
//! confirmation.
//!
//! The runtime refreshes the list (it owns the [`crate::runs::RunsIndex`]) and does the slow
//! file work — reading curves ([`load_curves`], through [`read_run_curves`]), deleting
//! ([`delete_run`]) — on a blocking task, handing the result back as a [`RunsMessage`]; this tab
//! only holds state and draws it.

use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, Widget, Wrap};

use super::Reaction;
use crate::app::theme::Theme;
use crate::app::widgets::chart::{legend_key, render_chart, trace_color, Trace};
use crate::app::{Action, Effect, ToastLevel};
use crate::device::DeviceChoice;
use crate::run_commands::{resume_spec, ResumeSpec};
use crate::runs::{read_run_curves, RunDir, RunStatus, RunSummary};

/// A run's curves are read by the runs layer; the tab's messages carry them as they are.
pub use crate::runs::{MetricCurve, RunCurves};

/// Most points kept per curve after loading: more than any terminal chart has dots across.
pub const CURVE_POINTS: usize = 1000;
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
    ) -> Result<ResumeSpec, String> {
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

    /// The key hints for the bottom line.
    pub fn hints(&self) -> String {
        match &self.view {
            RunsView::Curves(_) => {
                "←/→ metric · Esc/Enter back to the list · ? help · q quit".into()
            }
            RunsView::List if self.marks.is_empty() => {
                "↑/↓ select · Enter curves · space mark · r resume · d delete · ? help · q quit"
                    .into()
            }
            RunsView::List => format!(
                "Enter overlay {} · space mark · Esc unmark all · r resume · d delete · ? help",
                self.marks.len()
            ),
        }
    }
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
    let keys = if tab.marks.is_empty() {
        "↑/↓ select · Enter curves · space mark · r resume · d delete"
    } else {
        "Enter overlay marked · space mark · Esc unmark all · r resume · d delete"
    };
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
    use crate::runs::RunLock;

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
