//! The list of runs as drawn: one row per run (kind, scenario, status, steps, best figure, start
//! time, its overlay mark), the highlighted run's details under it, and the question `d` asks.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, Widget, Wrap};

use super::{run_name, value_text, RunsTab};
use crate::app::keymap::own_hint_line;
use crate::app::theme::Theme;
use crate::runs::{RunStatus, RunSummary};

/// Width from which start times show their year.
const WIDE_LIST: u16 = 100;

/// Width of the kind column on narrow screens: `classifier` whole.
const KIND_NARROW: u16 = 10;

/// The kind as the list writes it; on narrow screens `tensorboard` is shortened to fit, the
/// details line under the list saying it in full.
fn kind_text(kind: Option<&str>, wide: bool) -> String {
    match kind {
        Some(k) if !wide && k.chars().count() > usize::from(KIND_NARROW) => {
            let mut short: String = k.chars().take(usize::from(KIND_NARROW) - 1).collect();
            short.push('.');
            short
        }
        Some(k) => k.to_string(),
        None => "?".into(),
    }
}

/// The best figure; a TensorBoard run has no headline metric gradtop knows, so its tag count.
fn best_text(run: &RunSummary) -> String {
    match &run.best {
        Some(b) => format!("{} {}", b.name, value_text(b.value)),
        None if run.is_foreign() => match run.metrics.len() {
            1 => "1 tag".into(),
            n => format!("{n} tags"),
        },
        None => "–".into(),
    }
}

/// The list's title: the folder, then the filter with how many runs it keeps (the query with a
/// cursor while it is typed), then the marks.
fn list_title(tab: &RunsTab, theme: &Theme) -> String {
    let mut title = format!(" Runs in {} ", tab.parent.display());
    if tab.filtering || !tab.filter.is_empty() {
        let cursor = match (tab.filtering, theme.ascii) {
            (false, _) => "",
            (true, true) => "_",
            (true, false) => "▏",
        };
        title.push_str(&format!(
            "· filter \"{}{cursor}\" · {} of {} ",
            tab.filter,
            tab.shown(),
            tab.rows.len()
        ));
    }
    if !tab.marks.is_empty() {
        title.push_str(&format!("· {} marked ", tab.marks.len()));
    }
    title
}

/// A column header, with the sort's arrow on the column the list is sorted by.
fn header_text(tab: &RunsTab, column: &str, theme: &Theme) -> String {
    if tab.sort.key.column() != column {
        return column.to_string();
    }
    let arrow = match (tab.sort.descending(), theme.ascii) {
        (true, false) => "↓",
        (false, false) => "↑",
        (true, true) => "v",
        (false, true) => "^",
    };
    format!("{column} {arrow}")
}

/// Draws the list (or why it is empty) and the highlighted run's details.
pub(super) fn render_list(tab: &RunsTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let title = list_title(tab, theme);
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
    let header = Row::new(
        ["", "started", "scenario", "kind", "status", "steps", "best"]
            .map(|column| header_text(tab, column, theme)),
    )
    .style(theme.bold());
    let rows = tab.shown_runs().enumerate().map(|(i, run)| {
        let style = match run.status {
            _ if i == tab.selected => theme.highlight(),
            RunStatus::Running => theme.good(),
            RunStatus::Failed => theme.error(),
            RunStatus::Interrupted | RunStatus::Paused | RunStatus::Stopped => theme.warn(),
            RunStatus::Finished | RunStatus::Idle | RunStatus::Queued => Style::default(),
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
            kind_text(run.kind.as_deref(), wide),
            run.status.as_str().to_string(),
            run.steps.to_string(),
            best_text(run),
        ])
        .style(style)
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(if wide { 19 } else { 11 }),
            Constraint::Min(9),
            Constraint::Length(if wide { 11 } else { KIND_NARROW }),
            Constraint::Length(11),
            Constraint::Length(7),
            Constraint::Length(20),
        ],
    )
    .header(header)
    .block(Block::bordered().title(title.clone()));
    if tab.shown() == 0 {
        // Every run filtered out: a line says so instead of an empty table.
        let block = Block::bordered().title(title);
        let inner = block.inner(list);
        block.render(list, buf);
        Paragraph::new(vec![
            Line::raw(""),
            Line::raw(format!(
                "No run matches \"{}\" (of {}). Esc clears the filter; / changes it.",
                tab.filter.trim(),
                tab.rows.len()
            )),
        ])
        .wrap(Wrap { trim: true })
        .render(inner, buf);
    } else {
        table.render(list, buf);
    }

    let mut text = Vec::new();
    if let Some(run) = tab.selected_run() {
        text.push(Line::raw(match run.pid {
            Some(pid) => format!("{}  (process {pid})", run.path.display()),
            None => run.path.display().to_string(),
        }));
        if run.is_foreign() {
            text.push(Line::raw(foreign_text(run)));
        }
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
        // A TensorBoard run is browsed only, like any run while watching one.
        tab.read_only || tab.selected_run().is_some_and(RunSummary::is_foreign),
    );
    // The keys keep the last row whatever else is shown.
    text.truncate(2);
    text.push(Line::styled(keys, theme.dim()));
    Paragraph::new(text)
        .block(Block::bordered())
        .render(details, buf);
}

/// What a TensorBoard run's details say: its tags, and when it last logged.
fn foreign_text(run: &RunSummary) -> String {
    let tags = if run.metrics.is_empty() {
        "no scalars yet".to_string()
    } else {
        format!("tags: {}", run.metrics.join(", "))
    };
    match run.updated {
        Some(t) => format!(
            "TensorBoard, read-only · last logged {} · {tags}",
            t.display()
        ),
        None => format!("TensorBoard, read-only · {tags}"),
    }
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
