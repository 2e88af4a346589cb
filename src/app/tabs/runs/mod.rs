//! The Runs tab: every run under the runs folder — from this session or earlier ones — with its
//! kind, scenario, status, steps, best figure and start time. Enter opens a run's curves; marked
//! runs open overlaid in one chart; `r` resumes a stopped run in its tab; `d` deletes one after a
//! confirmation. The runs of a sweep show as one row, which → expands and Enter opens as a
//! table of the sweep's grid points (`sweep.rs`).
//!
//! The runtime refreshes the list (it owns the [`crate::runs::RunsIndex`]) and does the slow
//! file work — reading curves ([`load_curves`], through [`read_run_curves`]), deleting
//! ([`delete_run`]) — on a blocking task, handing the result back as a [`RunsMessage`]; this tab
//! only holds state and draws it.
//!
//! This file holds the tab's state, how keys and the runtime's answers change it, and the file
//! work behind those answers; `list.rs` draws the list, `curves.rs` the chart of one run or of
//! the marked runs overlaid.

mod curves;
mod list;
mod order;
mod sweep;
mod table;

use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::Reaction;
use crate::app::keymap::{HintContext, RunsScreen};
use crate::app::theme::Theme;
use crate::app::widgets::chart::ChartView;
use crate::app::{Action, Effect, ToastLevel};
use crate::device::DeviceChoice;
use crate::jobs::resume::resume_spec;
use crate::jobs::JobSpec;
use crate::runs::{read_run_curves, RunDir, RunStatus, RunSummary};

/// A run's curves are read by the runs layer; the tab's messages carry them as they are.
pub use crate::runs::{MetricCurve, RunCurves};
/// The curves view's state, named from the tab as the runtime and the tests know it.
pub use curves::{default_metric, run_label, ColourBy, CurvesState, CurvesView, RunRef};
/// Drawn over the tab while `d` waits for its answer.
pub use list::render_confirm_delete;
/// The list's filter and sort, named from the tab as the tests know them.
pub use order::{list_rows, matches, query_words, visible_rows, ListRow, Sort, SortKey};
/// A sweep's grid points and figures, named from the tab as the tests know them.
pub use sweep::{
    best_point, mean_std, summarize_sweep, SeedRun, SweepPoint, SweepSummary, SweepView,
};
/// The table of marked runs, named from the tab as the tests know it.
pub use table::{compare_table, differing_params, CompareTable, TableView};

/// Most characters a filter query takes: more words than any run has fields.
pub const FILTER_MAX_CHARS: usize = 64;
/// Most points kept per curve after loading: more than any terminal chart has dots across.
pub const CURVE_POINTS: usize = 1000;
/// List refreshes (about a second each) between re-reads of a running run's open curves.
pub const LIVE_RELOAD_REFRESHES: u32 = 5;

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

/// What the tab shows.
#[derive(Debug, Clone, PartialEq)]
pub enum RunsView {
    /// The list of runs.
    List,
    /// A chart of one run or of the marked runs.
    Curves(CurvesView),
    /// The marked runs side by side: their differing settings and figures.
    Table(TableView),
    /// A sweep's grid points with their figures over seeds.
    Sweep(SweepView),
}

/// What the highlight is on, by name rather than position, so it follows its row when the list
/// changes.
#[derive(Debug, Clone, PartialEq)]
enum RowKey {
    /// A run.
    Run(PathBuf),
    /// A sweep's group row.
    Sweep(String),
}

/// The Runs tab's state.
#[derive(Debug, Clone)]
pub struct RunsTab {
    /// The folder listed.
    pub parent: PathBuf,
    /// Runs, newest first, as of the last refresh.
    pub rows: Vec<RunSummary>,
    /// Indices into `rows` of the runs the filter keeps, in the sort's order.
    pub visible: Vec<usize>,
    /// The list as drawn: `visible` with each sweep's runs gathered into one row.
    pub lines: Vec<ListRow>,
    /// The sweeps whose runs show under their group row.
    pub expanded: Vec<String>,
    /// The highlighted row, a position in `lines`.
    pub selected: usize,
    /// The `/` query the list is narrowed by; empty: every run.
    pub filter: String,
    /// True while the query is being typed (keys then type into it).
    pub filtering: bool,
    /// The column the list is sorted by, and which way.
    pub sort: Sort,
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
    /// True while the dashboard follows a run: runs can be browsed, not resumed or deleted.
    pub read_only: bool,
    /// `gradtop watch` of a TensorBoard log folder: once listed, a folder that is one run opens
    /// straight on its chart.
    pub open_single_run: bool,
    /// The id the next curves request gets.
    next_request: u64,
}

/// The directory name of a run, as messages name it.
pub fn run_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

impl RunsTab {
    /// An empty list of the runs under `parent`, filled by the first refresh; `read_only` while
    /// the dashboard follows a run.
    pub fn new(parent: &Path, read_only: bool) -> Self {
        Self {
            parent: parent.to_path_buf(),
            rows: Vec::new(),
            visible: Vec::new(),
            lines: Vec::new(),
            expanded: Vec::new(),
            selected: 0,
            filter: String::new(),
            filtering: false,
            sort: Sort::default(),
            error: None,
            loaded: false,
            marks: Vec::new(),
            view: RunsView::List,
            pending_delete: None,
            read_only,
            open_single_run: false,
            next_request: 1,
        }
    }

    /// Takes a refreshed listing, keeping the same run highlighted when it is still there;
    /// marks of runs that are gone are dropped.
    pub fn on_refresh(&mut self, listing: Result<Vec<RunSummary>, String>) {
        self.loaded = true;
        match listing {
            Ok(rows) => {
                let current = self.selected_key();
                self.rows = rows;
                self.marks
                    .retain(|m| self.rows.iter().any(|r| &r.path == m));
                self.reorder(current);
                if self.in_table() && self.marks.len() < 2 {
                    // Runs deleted elsewhere left nothing to compare.
                    self.view = RunsView::List;
                }
                if let RunsView::Sweep(view) = &self.view {
                    if self.sweep_runs(&view.id).next().is_none() {
                        // Its runs were deleted elsewhere.
                        self.view = RunsView::List;
                    }
                }
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The highlighted row by name: what the highlight follows when the list changes.
    fn selected_key(&self) -> Option<RowKey> {
        match self.lines.get(self.selected)? {
            ListRow::Sweep { id, .. } => Some(RowKey::Sweep(id.clone())),
            ListRow::Run(i) | ListRow::Member(i) => {
                self.rows.get(*i).map(|r| RowKey::Run(r.path.clone()))
            }
        }
    }

    /// Recomputes the rows shown after the runs, the filter, the sort or the expanded sweeps
    /// changed, keeping `current` highlighted where it is still shown (the first row
    /// otherwise); a run of a collapsed sweep hands the highlight to its sweep's row.
    fn reorder(&mut self, current: Option<RowKey>) {
        self.visible = visible_rows(&self.rows, &self.filter, self.sort);
        self.lines = list_rows(&self.rows, &self.visible, &self.expanded);
        let sweep_of = |path: &PathBuf| {
            self.rows
                .iter()
                .find(|r| &r.path == path)
                .and_then(|r| r.sweep.as_ref())
                .map(|m| m.id.clone())
        };
        let find = |key: &RowKey| {
            self.lines.iter().position(|line| match (line, key) {
                (ListRow::Sweep { id, .. }, RowKey::Sweep(k)) => id == k,
                (ListRow::Run(i) | ListRow::Member(i), RowKey::Run(p)) => {
                    self.rows.get(*i).is_some_and(|r| &r.path == p)
                }
                _ => false,
            })
        };
        self.selected = current
            .and_then(|key| {
                find(&key).or_else(|| match &key {
                    RowKey::Run(p) => sweep_of(p).and_then(|id| find(&RowKey::Sweep(id))),
                    RowKey::Sweep(_) => None,
                })
            })
            .unwrap_or(0);
    }

    /// Changes the filter query, the list following it as it is typed.
    fn set_filter(&mut self, query: String) {
        let current = self.selected_key();
        self.filter = query;
        self.reorder(current);
    }

    /// Runs the filter keeps: how many rows the list has.
    pub fn shown(&self) -> usize {
        self.visible.len()
    }

    /// The filter's typing keys: letters narrow the list at once, Enter keeps the query, Esc
    /// drops it.
    fn handle_filter_key(&mut self, action: Action) {
        let mut query = self.filter.clone();
        match action {
            Action::EditChar(c) if query.chars().count() < FILTER_MAX_CHARS => query.push(c),
            Action::EditBackspace => {
                query.pop();
            }
            Action::EditClear => query.clear(),
            Action::EditCommit => {
                self.filtering = false;
                // Spaces alone filter nothing; the title then shows no empty quotes.
                if query.trim().is_empty() {
                    query.clear();
                }
            }
            Action::EditCancel => {
                self.filtering = false;
                query.clear();
            }
            _ => return,
        }
        if query != self.filter {
            self.set_filter(query);
        }
    }

    /// After the first listing of a watched log folder that holds a single run: its chart.
    pub fn open_single_when_listed(&mut self) -> Vec<Effect> {
        if !self.open_single_run || !self.loaded {
            return Vec::new();
        }
        self.open_single_run = false;
        if self.rows.len() != 1 || self.in_curves() {
            return Vec::new();
        }
        self.open().effects
    }

    /// The highlighted run; `None` on a sweep's row.
    pub fn selected_run(&self) -> Option<&RunSummary> {
        match self.lines.get(self.selected)? {
            ListRow::Run(i) | ListRow::Member(i) => self.rows.get(*i),
            ListRow::Sweep { .. } => None,
        }
    }

    /// The id of the highlighted sweep row.
    pub fn selected_sweep(&self) -> Option<&str> {
        match self.lines.get(self.selected)? {
            ListRow::Sweep { id, .. } => Some(id),
            ListRow::Run(_) | ListRow::Member(_) => None,
        }
    }

    /// The runs as the list shows them, filtered and sorted, leaving out those of collapsed
    /// sweeps.
    pub fn shown_runs(&self) -> impl Iterator<Item = &RunSummary> {
        self.lines.iter().filter_map(|line| match line {
            ListRow::Run(i) | ListRow::Member(i) => self.rows.get(*i),
            ListRow::Sweep { .. } => None,
        })
    }

    /// Every listed run of sweep `id`, filtered out or not.
    pub fn sweep_runs<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a RunSummary> {
        self.rows
            .iter()
            .filter(move |r| r.sweep.as_ref().is_some_and(|m| m.id == id))
    }

    /// Sweep `id` worked out from its listed runs.
    pub fn sweep_summary(&self, id: &str) -> SweepSummary {
        summarize_sweep(id, &self.sweep_runs(id).collect::<Vec<_>>())
    }

    /// True while a sweep's table is open.
    pub fn in_sweep(&self) -> bool {
        matches!(self.view, RunsView::Sweep(_))
    }

    /// True while a chart is open (keys then mean "metric" and "back").
    pub fn in_curves(&self) -> bool {
        matches!(self.view, RunsView::Curves(_))
    }

    /// True while the table of marked runs is open.
    pub fn in_table(&self) -> bool {
        matches!(self.view, RunsView::Table(_))
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
                Action::CycleColourKey => {
                    if let Some(colour) = &mut view.colour_by {
                        colour.next_key();
                    }
                }
                Action::Back | Action::OpenRun => {
                    self.view = view.back.take().map_or(RunsView::List, RunsView::Sweep);
                }
                _ => {}
            }
            return Reaction::default();
        }
        if let RunsView::Sweep(view) = &self.view {
            return self.handle_sweep(view.clone(), action);
        }
        if let RunsView::Table(mut view) = self.view {
            let columns = compare_table(&self.marked_runs().collect::<Vec<_>>())
                .headers
                .len();
            let runs = self.marks.len();
            match action {
                Action::Left => view.first_column = view.first_column.saturating_sub(1),
                Action::Right => {
                    view.first_column = (view.first_column + 1).min(columns.saturating_sub(1))
                }
                Action::Up => view.first_row = view.first_row.saturating_sub(1),
                Action::Down => view.first_row = (view.first_row + 1).min(runs.saturating_sub(1)),
                Action::Back | Action::OpenTable => {
                    self.view = RunsView::List;
                    return Reaction::default();
                }
                _ => {}
            }
            self.view = RunsView::Table(view);
            return Reaction::default();
        }
        if self.filtering {
            self.handle_filter_key(action);
            return Reaction::default();
        }
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => {
                self.selected = (self.selected + 1).min(self.lines.len().saturating_sub(1))
            }
            Action::Right => {
                if let Some(id) = self.selected_sweep().map(str::to_string) {
                    if !self.expanded.contains(&id) {
                        self.expanded.push(id);
                        self.reorder(self.selected_key());
                    }
                }
            }
            Action::Left => {
                let id = match self.lines.get(self.selected) {
                    Some(ListRow::Sweep { id, .. }) => Some(id.clone()),
                    Some(ListRow::Member(i)) => self
                        .rows
                        .get(*i)
                        .and_then(|r| r.sweep.as_ref())
                        .map(|m| m.id.clone()),
                    _ => None,
                };
                if let Some(id) = id {
                    self.expanded.retain(|e| e != &id);
                    self.reorder(Some(RowKey::Sweep(id)));
                }
            }
            Action::BeginFilter => self.filtering = true,
            Action::CycleSort | Action::ReverseSort => {
                let current = self.selected_key();
                if action == Action::CycleSort {
                    self.sort.key = self.sort.key.next();
                    self.sort.reversed = false;
                } else {
                    self.sort.reversed = !self.sort.reversed;
                }
                self.reorder(current);
            }
            Action::ToggleMark if self.selected_sweep().is_some() => {
                let id = self.selected_sweep().unwrap_or_default().to_string();
                let paths: Vec<PathBuf> = self.sweep_runs(&id).map(|r| r.path.clone()).collect();
                if paths.iter().all(|p| self.is_marked(p)) {
                    self.marks.retain(|m| !paths.contains(m));
                } else {
                    for path in paths {
                        if !self.is_marked(&path) {
                            self.marks.push(path);
                        }
                    }
                }
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
            Action::Back if !self.filter.is_empty() => {
                self.set_filter(String::new());
                return Reaction::toast(ToastLevel::Info, "filter cleared");
            }
            Action::OpenRun if self.marks.is_empty() && self.selected_sweep().is_some() => {
                let id = self.selected_sweep().unwrap_or_default().to_string();
                self.view = RunsView::Sweep(SweepView {
                    id,
                    ..SweepView::default()
                });
            }
            Action::OpenRun => return self.open(),
            Action::OpenTable => return self.open_table(),
            _ => {}
        }
        Reaction::default()
    }

    /// The sweep view's keys: ↑/↓ a point, ←/→ a seed, Enter its run, `a` every run overlaid.
    fn handle_sweep(&mut self, mut view: SweepView, action: Action) -> Reaction {
        let summary = self.sweep_summary(&view.id);
        match action {
            Action::Up => view.point = view.point.saturating_sub(1),
            Action::Down => {
                view.point = (view.point + 1).min(summary.points.len().saturating_sub(1))
            }
            Action::Left => view.seed = view.seed.saturating_sub(1),
            Action::Right => view.seed = (view.seed + 1).min(summary.seeds.len().saturating_sub(1)),
            Action::Back => {
                self.view = RunsView::List;
                return Reaction::default();
            }
            Action::OpenRun => {
                let Some(run) = summary
                    .points
                    .get(view.point)
                    .and_then(|p| p.runs.get(view.seed))
                    .and_then(Option::as_ref)
                    .and_then(|r| self.rows.iter().find(|row| row.path == r.path))
                else {
                    return Reaction::toast(ToastLevel::Warn, "no run of this seed at this point");
                };
                let runs = vec![RunRef::of(run)];
                return self.open_runs(runs, Some(view), None);
            }
            Action::OverlaySweep => {
                let with_values = summary.runs_with_values();
                let runs: Vec<RunRef> = with_values
                    .iter()
                    .filter_map(|(path, _)| self.rows.iter().find(|r| &r.path == path))
                    .map(RunRef::of)
                    .collect();
                let colour = ColourBy {
                    keys: summary.colour_keys(),
                    chosen: 0,
                    values: with_values.into_iter().map(|(_, v)| v).collect(),
                };
                return self.open_runs(runs, Some(view), Some(colour));
            }
            _ => {}
        }
        self.view = RunsView::Sweep(view);
        Reaction::default()
    }

    /// Opens the table of the marked runs, or says why not: it compares two runs or more.
    fn open_table(&mut self) -> Reaction {
        match self.marks.len() {
            0 => Reaction::toast(
                ToastLevel::Warn,
                "no table: mark 2 or more runs to compare (space marks a run)",
            ),
            1 => Reaction::toast(
                ToastLevel::Warn,
                "no table: 1 run marked; mark another to compare (space)",
            ),
            _ => {
                self.view = RunsView::Table(TableView::default());
                Reaction::default()
            }
        }
    }

    /// The marked runs in the sort's order, filtered out or not: marks outlive a filter.
    pub fn marked_runs(&self) -> impl Iterator<Item = &RunSummary> {
        visible_rows(&self.rows, "", self.sort)
            .into_iter()
            .filter_map(|i| self.rows.get(i))
            .filter(|r| self.is_marked(&r.path))
    }

    /// Opens the marked runs overlaid, or the highlighted run alone, and asks for their curves.
    fn open(&mut self) -> Reaction {
        let runs: Vec<RunRef> = if self.marks.is_empty() {
            self.selected_run().map(RunRef::of).into_iter().collect()
        } else {
            self.marked_runs().map(RunRef::of).collect()
        };
        self.open_runs(runs, None, None)
    }

    /// Opens a chart of `runs` and asks for their curves; `back` is the sweep view Esc returns
    /// to, `colour_by` a sweep overlay's colouring.
    fn open_runs(
        &mut self,
        runs: Vec<RunRef>,
        back: Option<SweepView>,
        colour_by: Option<ColourBy>,
    ) -> Reaction {
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
            back,
            colour_by,
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
        if run.is_foreign() {
            return Err(foreign_refusal(run));
        }
        if !run.status.resumable() {
            return Err(match (run.status, run.pid) {
                (RunStatus::Running, Some(pid)) => {
                    format!(
                        "{name} is still running (process {pid}){}",
                        stale_hint(&name)
                    )
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
        if run.is_foreign() {
            return Err(foreign_refusal(run));
        }
        if run.status == RunStatus::Running || run.pid.is_some() {
            return Err(match run.pid {
                Some(pid) => format!(
                    "{name} is in use (process {pid}); stop it first{}",
                    stale_hint(&name)
                ),
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
                    let position = self.selected;
                    self.rows.retain(|r| r.path != path);
                    self.marks.retain(|m| m != &path);
                    self.reorder(None);
                    // The run below the deleted one takes its place in the highlight.
                    self.selected = position.min(self.lines.len().saturating_sub(1));
                    Some((ToastLevel::Info, format!("deleted {}", run_name(&path))))
                }
                Err(e) => Some((ToastLevel::Error, format!("could not delete: {e}"))),
            },
        }
    }

    /// The screen the key hints are for: the chart, or the list with or without marks.
    pub fn hint_context(&self) -> HintContext {
        HintContext::Runs(match &self.view {
            RunsView::Curves(view) if view.back.is_some() => RunsScreen::SweepChart,
            RunsView::Curves(_) => RunsScreen::Chart,
            RunsView::Sweep(_) => RunsScreen::Sweep,
            RunsView::Table(_) => RunsScreen::Table,
            RunsView::List if self.marks.is_empty() => RunsScreen::List,
            RunsView::List => RunsScreen::Marked,
        })
    }
}

/// Why a TensorBoard run cannot be resumed or deleted from here: another program owns it.
fn foreign_refusal(run: &RunSummary) -> String {
    format!(
        "{} is a TensorBoard run, written by another program; gradtop only reads it",
        run.name
    )
}

/// How to clear a lock no gradtop process holds, should one ever outlive its process, for the
/// refusals that name a run's holder.
fn stale_hint(name: &str) -> String {
    format!(" (if no gradtop process writes it, delete {name}/lock)")
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

/// A logged figure as the list and the legends write it: four decimals below 10, one above.
fn value_text(v: f64) -> String {
    if v.abs() < 10.0 {
        format!("{v:.4}")
    } else {
        format!("{v:.1}")
    }
}

/// Draws the list, or the open chart as `view` says.
pub fn render(tab: &RunsTab, area: Rect, buf: &mut Buffer, theme: &Theme, view: &ChartView) {
    match &tab.view {
        RunsView::List => list::render_list(tab, area, buf, theme),
        RunsView::Curves(curves_view) => curves::render_curves(curves_view, area, buf, theme, view),
        RunsView::Table(table_view) => {
            let runs: Vec<&RunSummary> = tab.marked_runs().collect();
            table::render_table(&runs, table_view, area, buf, theme);
        }
        RunsView::Sweep(sweep_view) => sweep::render_sweep(
            &tab.sweep_summary(&sweep_view.id),
            sweep_view,
            area,
            buf,
            theme,
            tab.read_only,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::RunLock;

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
