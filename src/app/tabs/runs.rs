//! The Runs tab: every run under the runs folder — from this session or earlier ones — with its
//! kind, scenario, status, steps, best figure and start time. The runtime refreshes the list
//! (it owns the [`crate::runs::RunsIndex`]); this tab only holds and draws it.

use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget, Wrap};

use super::Reaction;
use crate::app::theme::Theme;
use crate::app::{Action, ToastLevel};
use crate::runs::{RunStatus, RunSummary};

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
        }
    }

    /// Takes a refreshed listing, keeping the same run highlighted when it is still there.
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
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The highlighted run.
    pub fn selected_run(&self) -> Option<&RunSummary> {
        self.rows.get(self.selected)
    }

    /// ↑/↓ move the highlight; Enter says how to watch or resume the highlighted run.
    pub fn handle(&mut self, action: Action) -> Reaction {
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => {
                self.selected = (self.selected + 1).min(self.rows.len().saturating_sub(1))
            }
            Action::BeginEdit => {
                if let Some(run) = self.selected_run() {
                    let dir = run.path.display();
                    let text =
                        if run.status.resumable() && run.kind.as_deref() == Some("classifier") {
                            format!("gradtop resume {dir}   or   gradtop watch {dir}")
                        } else {
                            format!("gradtop watch {dir}")
                        };
                    return Reaction::toast(ToastLevel::Info, text);
                }
            }
            _ => {}
        }
        Reaction::default()
    }
}

fn best_text(run: &RunSummary) -> String {
    match &run.best {
        Some(b) if b.value.abs() < 10.0 => format!("{} {:.4}", b.name, b.value),
        Some(b) => format!("{} {:.1}", b.name, b.value),
        None => "–".into(),
    }
}

/// Draws the list (or why it is empty) and the highlighted run's details.
pub fn render(tab: &RunsTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
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
    let [list, details] = Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(area);
    let header =
        Row::new(["started", "scenario", "kind", "status", "steps", "best"]).style(theme.bold());
    let rows = tab.rows.iter().enumerate().map(|(i, run)| {
        let style = match run.status {
            _ if i == tab.selected => theme.highlight(),
            RunStatus::Running => theme.good(),
            RunStatus::Failed => theme.error(),
            RunStatus::Interrupted | RunStatus::Paused => theme.warn(),
            RunStatus::Finished => ratatui::style::Style::default(),
        };
        Row::new([
            run.started.map(|t| t.display()).unwrap_or_default(),
            run.scenario.clone(),
            run.kind.clone().unwrap_or_else(|| "?".into()),
            run.status.as_str().to_string(),
            run.steps.to_string(),
            best_text(run),
        ])
        .style(style)
    });
    Table::new(
        rows,
        [
            Constraint::Length(16),
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
        text.push(Line::styled(
            "↑/↓ select · Enter: how to watch or resume it",
            theme.dim(),
        ));
    }
    if let Some(e) = &tab.error {
        text.push(Line::styled(e.clone(), theme.error()));
    }
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .block(Block::bordered())
        .render(details, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::list::Better;
    use crate::runs::{BestFigure, LocalTime};

    fn summary(name: &str, status: RunStatus, steps: u64) -> RunSummary {
        RunSummary {
            path: PathBuf::from(format!("runs/{name}")),
            kind: Some("classifier".into()),
            scenario: "mnist-cnn".into(),
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

    fn screen(tab: &RunsTab, w: u16, h: u16) -> String {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        render(tab, area, &mut buf, &Theme::new(true, false));
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn tab() -> RunsTab {
        let mut tab = RunsTab::new(Path::new("runs"));
        tab.on_refresh(Ok(vec![
            summary("20261129-031500-mnist-cnn", RunStatus::Running, 1200),
            summary("20261128-220000-mnist-cnn", RunStatus::Interrupted, 400),
        ]));
        tab
    }

    #[test]
    fn lists_runs_with_status_steps_and_best_figure() {
        let tab = tab();
        for (w, h) in [(80, 24), (120, 40)] {
            let s = screen(&tab, w, h);
            assert!(s.contains("Runs in runs"), "{s}");
            assert!(s.contains("running"), "{s}");
            assert!(s.contains("(process 4242)"), "{s}");
            assert!(s.contains("interrupted"), "{s}");
            assert!(s.contains("1200"), "{s}");
            assert!(s.contains("0.9812"), "{s}");
            assert!(s.contains("2026-11-28"), "{s}");
        }
        let empty = RunsTab {
            loaded: true,
            ..RunsTab::new(Path::new("runs"))
        };
        assert!(screen(&empty, 80, 24).contains("No runs yet"));
    }

    #[test]
    fn keys_move_the_highlight_and_enter_names_the_command() {
        let mut tab = tab();
        tab.handle(Action::Down);
        tab.handle(Action::Down);
        assert_eq!(tab.selected, 1, "stops at the last row");
        let r = tab.handle(Action::BeginEdit);
        let (_, text) = r.toast.expect("a toast");
        assert!(
            text.contains("gradtop resume runs/20261128-220000-mnist-cnn"),
            "{text}"
        );
        // A refresh that adds a newer run keeps the same run highlighted.
        let mut rows = vec![summary("20261129-040000-mnist-cnn", RunStatus::Running, 1)];
        rows.extend(tab.rows.clone());
        tab.on_refresh(Ok(rows));
        assert_eq!(tab.selected, 2);
        tab.handle(Action::Up);
        let (_, text) = tab.handle(Action::BeginEdit).toast.expect("a toast");
        assert_eq!(text, "gradtop watch runs/20261129-031500-mnist-cnn");
    }
}
