//! The list of runs as drawn: one row per run (kind, scenario, status, steps, best figure, start
//! time, its overlay mark) or per sweep (its runs gathered, shown under it once expanded), the
//! highlighted row's details under it, and the question `d` asks.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, Widget, Wrap};

use super::sweep::SweepSummary;
use super::{run_name, value_text, ListRow, RunsTab};
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
    let started_text = |t: Option<crate::runs::LocalTime>| {
        t.map(|t| {
            let full = t.display();
            // Narrow screens drop the year and seconds (`11-29 05:12`); the details line
            // below names the directory in full.
            if wide {
                full
            } else {
                full.get(5..16).unwrap_or_default().to_string()
            }
        })
        .unwrap_or_default()
    };
    let rows = tab.lines.iter().enumerate().filter_map(|(i, line)| {
        let (run, member) = match line {
            ListRow::Sweep { id, members } => {
                let runs: Vec<&RunSummary> =
                    members.iter().filter_map(|&m| tab.rows.get(m)).collect();
                let sweep = super::summarize_sweep(id, &runs);
                let marked = runs.iter().any(|r| tab.is_marked(&r.path));
                let style = if i == tab.selected {
                    theme.highlight()
                } else {
                    theme.bold()
                };
                let mut cells = sweep_row(&sweep, tab.expanded.contains(id), marked, wide, theme);
                cells[1] = started_text(sweep.started);
                return Some(Row::new(cells).style(style));
            }
            ListRow::Run(r) => (tab.rows.get(*r)?, false),
            ListRow::Member(r) => (tab.rows.get(*r)?, true),
        };
        let style = match run.status {
            _ if i == tab.selected => theme.highlight(),
            RunStatus::Running => theme.good(),
            RunStatus::Failed => theme.error(),
            RunStatus::Interrupted | RunStatus::Paused | RunStatus::Stopped => theme.warn(),
            RunStatus::Finished | RunStatus::Idle | RunStatus::Queued => Style::default(),
        };
        let scenario = match (&run.sweep, member) {
            (Some(m), true) => member_text(m, theme),
            _ => run.scenario.clone(),
        };
        Some(
            Row::new([
                if tab.is_marked(&run.path) { mark } else { "" }.to_string(),
                started_text(run.started),
                scenario,
                kind_text(run.kind.as_deref(), wide),
                run.status.as_str().to_string(),
                run.steps.to_string(),
                best_text(run),
            ])
            .style(style),
        )
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
    if let Some(id) = tab.selected_sweep() {
        text.extend(sweep_details(&tab.sweep_summary(id), theme));
    }
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

/// The cells of a sweep's group row (its start left for the caller): an open or closed marker
/// (a mark when any of its runs is marked), the scenario, `sweep` as kind, how many of its runs
/// are done, the most steps and the best figure of any run.
fn sweep_row(
    sweep: &SweepSummary,
    expanded: bool,
    marked: bool,
    wide: bool,
    theme: &Theme,
) -> [String; 7] {
    let marker = match (expanded, marked, theme.ascii) {
        (_, true, true) => "*",
        (_, true, false) => "●",
        (true, _, true) => "v",
        (false, _, true) => ">",
        (true, _, false) => "▾",
        (false, _, false) => "▸",
    };
    let best = match (&sweep.metric, sweep.best_run) {
        (Some((name, _)), Some(v)) => format!("{name} {}", value_text(v)),
        _ => "–".into(),
    };
    [
        marker.to_string(),
        String::new(),
        sweep.scenario.clone(),
        kind_text(Some("sweep"), wide),
        sweep.short_status(),
        sweep.steps.to_string(),
        best,
    ]
}

/// A run of an expanded sweep, under its group row: its grid values and seed (`s1`, as the
/// sweep's table heads its seed columns).
fn member_text(member: &crate::runs::SweepMember, theme: &Theme) -> String {
    let branch = if theme.ascii { "`" } else { "└" };
    let mut parts: Vec<String> = member
        .values
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if let Some(seed) = member.seed {
        parts.push(format!("s{seed}"));
    }
    format!("{branch} {}", parts.join(" "))
}

/// What a sweep row's details say: its id and progress, its best point, and its keys.
fn sweep_details(sweep: &SweepSummary, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::raw(format!(
        "sweep {} · {} runs: {}",
        sweep.id,
        sweep.run_count,
        sweep.status_text()
    ))];
    let keys = "Enter opens its table · → shows its runs, ← hides them";
    lines.push(match sweep.best_point.and_then(|i| sweep.points.get(i)) {
        Some(point) => Line::styled(
            format!(
                "best point {}: {} · {keys}",
                sweep.point_text(point),
                sweep.mean_text(point)
            ),
            theme.good(),
        ),
        None => Line::raw(keys),
    });
    lines
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
