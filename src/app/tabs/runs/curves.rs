//! The curves view: one run's chart, or the runs marked in the list overlaid in one chart with a
//! legend naming each. The curves arrive from the runs layer ([`crate::runs::read_run_curves`]);
//! this view holds them and the chosen metric, and draws them.

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use super::sweep::SweepView;
use super::{run_name, value_text};
use crate::app::theme::Theme;
use crate::app::widgets::chart::{
    legend_key, render_chart, trace_color, uses_glyphs, ChartSpec, ChartView, Trace,
};
use crate::runs::{RunCurves, RunStatus, RunSummary};

/// Most legend rows under an overlay chart; further runs are summed up on the last row.
const LEGEND_ROWS_MAX: usize = 6;

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
    /// The run as the list shows it, for a view opened from the list.
    pub(super) fn of(run: &RunSummary) -> Self {
        Self {
            path: run.path.clone(),
            label: run_label(run),
            kind: run.kind.clone(),
            status: run.status,
        }
    }
}

/// Scenario and start time: how a legend tells runs apart.
pub fn run_label(run: &RunSummary) -> String {
    match run.started {
        Some(t) => format!("{} {}", run.scenario, t.display()),
        None => run.scenario.clone(),
    }
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
    /// The sweep view the chart was opened from, which Esc goes back to.
    pub back: Option<SweepView>,
    /// A sweep's overlay: its runs coloured by one grid key's value instead of each its own.
    pub colour_by: Option<ColourBy>,
}

/// How a sweep's overlay colours its runs: runs with the same value of the chosen key share a
/// colour, and the legend names each value's colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColourBy {
    /// The keys that can colour (the grid's, then `seed`).
    pub keys: Vec<String>,
    /// The key colouring now, a position in `keys`.
    pub chosen: usize,
    /// Each run's value of every key, in the view's run order.
    pub values: Vec<Vec<String>>,
}

impl ColourBy {
    /// The key colouring now.
    pub fn key(&self) -> &str {
        self.keys.get(self.chosen).map_or("", String::as_str)
    }

    /// The chosen key's values, in the runs' order of first use (the grid's order).
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for values in &self.values {
            if let Some(v) = values.get(self.chosen) {
                if !groups.contains(v) {
                    groups.push(v.clone());
                }
            }
        }
        groups
    }

    /// The colour group of run `run`: its value's position in [`ColourBy::groups`].
    pub fn group_of(&self, run: usize) -> usize {
        let groups = self.groups();
        self.values
            .get(run)
            .and_then(|v| v.get(self.chosen))
            .and_then(|v| groups.iter().position(|g| g == v))
            .unwrap_or(0)
    }

    /// Colours by the next key, wrapping; `b` in a sweep's overlay.
    pub(super) fn next_key(&mut self) {
        if !self.keys.is_empty() {
            self.chosen = (self.chosen + 1) % self.keys.len();
        }
    }
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

    /// Moves the chart to the next (or previous) metric, wrapping; ←/→ in the chart.
    pub(super) fn step_metric(&mut self, forward: bool) {
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
pub(super) fn render_curves(
    view: &CurvesView,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
    chart_view: &ChartView,
) {
    let title = match view.runs.as_slice() {
        [one] => format!(
            " {} · {} · {} ",
            run_name(&one.path),
            one.kind.as_deref().unwrap_or("?"),
            one.status.as_str()
        ),
        runs => match (&view.back, &view.colour_by) {
            (Some(sweep), Some(colour)) => format!(
                " sweep {} · {} runs overlaid · colour by {} ",
                sweep.id,
                runs.len(),
                colour.key()
            ),
            _ => format!(" {} runs overlaid ", runs.len()),
        },
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
    let legend_rows = if let Some(colour) = &view.colour_by {
        colour
            .groups()
            .len()
            .min(LEGEND_ROWS_MAX)
            .min((inner.height / 3) as usize) as u16
    } else if view.is_overlay() {
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
        .map(|(i, c)| {
            let points = c.metric(&metric).map_or(empty, |m| m.points.as_slice());
            let colour = view.colour_by.as_ref().map_or(i, |by| by.group_of(i));
            Trace::smoothed("", points, trace_color(colour))
        })
        .collect();
    render_chart(
        chart_area,
        buf,
        &ChartSpec {
            title: &format!("{metric} by step"),
            traces: &traces,
            y_bounds: None,
            empty_hint: &format!("no {metric} in these runs"),
            x_marks: &[],
        },
        chart_view,
        theme,
    );
    let lines = if let Some(colour) = &view.colour_by {
        colour_legend(colour, curves.len(), legend_rows, theme)
    } else if view.is_overlay() {
        overlay_legend(view, curves, &metric, legend_rows, theme)
    } else {
        view.runs
            .first()
            .zip(curves.first())
            .map(|(run, c)| run_legend(run, c, &metric, theme))
            .into_iter()
            .collect()
    };
    Paragraph::new(lines).render(legend_area, buf);
}

/// One line per marked run in its trace's colour and key, with its last value of `metric`; runs
/// beyond `rows` are counted on the last row.
fn overlay_legend(
    view: &CurvesView,
    curves: &[RunCurves],
    metric: &str,
    rows: u16,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let shown = if view.runs.len() > rows as usize {
        rows.saturating_sub(1) as usize
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
            let key = legend_key(theme, curves.len(), i);
            let figure = match (&c.error, c.metric(metric)) {
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
}

/// One line per value of the colouring key in its colour: `── lr=0.001 · 2 runs` (each run's
/// glyph where glyphs tell lines apart), values beyond `rows` counted on the last row.
fn colour_legend(colour: &ColourBy, traces: usize, rows: u16, theme: &Theme) -> Vec<Line<'static>> {
    let groups = colour.groups();
    let shown = if groups.len() > rows as usize {
        rows.saturating_sub(1) as usize
    } else {
        groups.len()
    };
    let mut lines: Vec<Line> = groups
        .iter()
        .enumerate()
        .take(shown)
        .map(|(g, value)| {
            let members: Vec<usize> = (0..colour.values.len())
                .filter(|&i| colour.group_of(i) == g)
                .collect();
            let key = if uses_glyphs(theme, traces) {
                members
                    .iter()
                    .map(|&i| legend_key(theme, traces, i))
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                legend_key(theme, traces, g)
            };
            let runs = if members.len() == 1 { "run" } else { "runs" };
            Line::from(vec![
                Span::styled(
                    format!("{key} {}={value}", colour.key()),
                    theme.fg(trace_color(g)),
                ),
                Span::styled(format!(" · {} {runs}", members.len()), theme.dim()),
            ])
        })
        .collect();
    if shown < groups.len() {
        lines.push(Line::styled(
            format!("+{} more values on the chart", groups.len() - shown),
            theme.dim(),
        ));
    }
    lines
}

/// The line under a single run's chart: its last value of `metric`, how many records were read
/// and how many lines could not be.
fn run_legend(run: &RunRef, c: &RunCurves, metric: &str, theme: &Theme) -> Line<'static> {
    match (&c.error, c.metric(metric)) {
        (Some(e), _) => Line::styled(e.clone(), theme.error()),
        (None, Some(m)) => Line::styled(
            format!(
                "{}: last {} at step {} · {} records{}",
                run.label,
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
