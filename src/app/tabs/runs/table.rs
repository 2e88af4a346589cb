//! The table of marked runs (`t`), TensorBoard's HParams table in the terminal: one row per run,
//! a column for each hyperparameter whose value differs between them, then how far each run
//! went and its final and best figures. The run column stays put while `h`/`l` scroll the
//! others sideways when they do not all fit; the settings every run shares are listed under
//! the table where there is room.

use std::collections::BTreeSet;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget, Wrap};

use super::value_text;
use crate::app::theme::Theme;
use crate::runs::RunSummary;

/// Widest a scrolled column gets; a longer value is cut with an ellipsis.
const COLUMN_MAX: usize = 22;
/// Widest the run column gets, so at 80 columns the settings keep most of the width.
const RUN_COLUMN_MAX: usize = 28;
/// Blank columns between table columns (ratatui's default spacing).
const COLUMN_SPACING: usize = 1;
/// Lines under the table that list the settings every run shares, at most.
const SHARED_LINES_MAX: u16 = 4;
/// Table lines (header and one run) kept before the shared settings get any room.
const TABLE_LINES_MIN: u16 = 4;

/// Where the table of marked runs is scrolled to; the runs are the tab's marked runs, so a
/// refresh updates their figures while the table is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableView {
    /// The first of the scrolling columns shown (`h`/`l`).
    pub first_column: usize,
    /// The first run shown (`↑`/`↓`), when more runs are marked than there are lines.
    pub first_row: usize,
}

/// The table's text, before it is fitted to a width: a header, then one row per run.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareTable {
    /// The headers of the scrolling columns: the differing settings, `steps`, `final`, `best`.
    pub headers: Vec<String>,
    /// Each run: its label (the fixed column) and a cell per scrolling column.
    pub rows: Vec<(String, Vec<String>)>,
    /// The headline metric all runs share, named once in the title instead of in each cell.
    pub metric: Option<String>,
    /// The settings every run has with the same value: `(key, value)`.
    pub shared: Vec<(String, String)>,
    /// How many of the columns are settings.
    pub differing: usize,
}

/// A run's value for a setting, if its config has the key.
fn param<'a>(run: &'a RunSummary, key: &str) -> Option<&'a str> {
    run.params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The settings (config keys) whose value is not the same in every run, a key some runs lack
/// included, sorted by name: what a comparison has to show.
pub fn differing_params(runs: &[&RunSummary]) -> Vec<String> {
    let keys: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.params.iter().map(|(k, _)| k.as_str()))
        .collect();
    keys.into_iter()
        .filter(|key| {
            let first = runs.first().and_then(|r| param(r, key));
            runs.iter().any(|r| param(r, key) != first)
        })
        .map(str::to_string)
        .collect()
}

/// How the table names a run: scenario and start time without the year.
fn run_label(run: &RunSummary) -> String {
    match run.started {
        Some(t) => {
            let time = t.display();
            format!("{} {}", run.scenario, time.get(5..).unwrap_or(&time))
        }
        None => run.name.clone(),
    }
}

/// The comparison of `runs` (the marked runs, in the list's order).
pub fn compare_table(runs: &[&RunSummary]) -> CompareTable {
    let differing = differing_params(runs);
    let names: BTreeSet<&str> = runs
        .iter()
        .filter_map(|r| r.best.as_ref().map(|b| b.name.as_str()))
        .collect();
    // One metric for every run with a figure: its name goes in the title, the cells hold
    // numbers only. Several (an accuracy and a FID): each cell names its metric.
    let metric = match names.len() {
        1 => names.first().map(|n| n.to_string()),
        _ => None,
    };
    let figure = |name: &str, value: f64| match metric {
        Some(_) => value_text(value),
        None => format!("{name} {}", value_text(value)),
    };
    let mut headers = differing.clone();
    headers.extend(["steps", "final", "best"].map(String::from));
    let rows = runs
        .iter()
        .map(|run| {
            let mut cells: Vec<String> = differing
                .iter()
                .map(|key| param(run, key).unwrap_or("–").to_string())
                .collect();
            cells.push(run.steps.to_string());
            match &run.best {
                Some(b) => {
                    cells.push(figure(&b.name, b.last));
                    cells.push(figure(&b.name, b.value));
                }
                None => cells.extend(["–", "–"].map(String::from)),
            }
            (run_label(run), cells)
        })
        .collect();
    let shared = runs
        .first()
        .map(|first| {
            first
                .params
                .iter()
                .filter(|(k, _)| !differing.contains(k))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    CompareTable {
        headers,
        rows,
        metric,
        shared,
        differing: differing.len(),
    }
}

/// `text` cut to `width` columns, an ellipsis marking the cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Each scrolling column's width: its header or its widest cell, at most [`COLUMN_MAX`].
fn column_widths(table: &CompareTable) -> Vec<usize> {
    table
        .headers
        .iter()
        .enumerate()
        .map(|(c, header)| {
            table
                .rows
                .iter()
                .filter_map(|(_, cells)| cells.get(c))
                .map(|cell| cell.chars().count())
                .chain([header.chars().count()])
                .max()
                .unwrap_or(0)
                .min(COLUMN_MAX)
        })
        .collect()
}

/// The scrolling columns that fit in `width` from `first` on (at least one, cut if it must).
fn columns_in_view(widths: &[usize], first: usize, width: usize) -> Vec<(usize, usize)> {
    let mut shown = Vec::new();
    let mut used = 0;
    for (c, &w) in widths.iter().enumerate().skip(first) {
        let needed = w + COLUMN_SPACING;
        if used + needed > width {
            if shown.is_empty() {
                shown.push((c, width.saturating_sub(COLUMN_SPACING).max(1)));
            }
            break;
        }
        used += needed;
        shown.push((c, w));
    }
    shown
}

/// The first column from which every column to the last fits in `width`: scrolling further
/// would only leave room unused.
fn last_full_start(widths: &[usize], width: usize) -> usize {
    let mut used = 0;
    for (c, &w) in widths.iter().enumerate().rev() {
        used += w + COLUMN_SPACING;
        if used > width {
            return (c + 1).min(widths.len().saturating_sub(1));
        }
    }
    0
}

/// Draws the table of `runs` scrolled as `view` says, with what it shows in the title.
pub(super) fn render_table(
    runs: &[&RunSummary],
    view: &TableView,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let table = compare_table(runs);
    let inner_width = usize::from(area.width.saturating_sub(2));
    let inner_height = area.height.saturating_sub(2);
    let run_width = table
        .rows
        .iter()
        .map(|(label, _)| label.chars().count())
        .chain(["run".len()])
        .max()
        .unwrap_or(0)
        .min(RUN_COLUMN_MAX)
        .min(inner_width / 2);
    let widths = column_widths(&table);
    let room = inner_width.saturating_sub(run_width);
    // Scrolled no further than needed to show the last column, so the view is never half empty.
    let first = view.first_column.min(last_full_start(&widths, room));
    let shown = columns_in_view(&widths, first, room);
    let last_shown = shown.last().map_or(first, |&(c, _)| c);

    let mut title = format!(" compare {} runs", runs.len());
    if let Some(metric) = &table.metric {
        title.push_str(&format!(" · {metric}"));
    }
    title.push_str(&match table.differing {
        0 => " · no setting differs".to_string(),
        1 => " · 1 setting differs".to_string(),
        n => format!(" · {n} settings differ"),
    });
    if shown.len() < widths.len() {
        // Columns out of view: say which are shown, and that h/l bring the rest.
        let (left, right) = if theme.ascii {
            ("<", ">")
        } else {
            ("◀", "▶")
        };
        let before = if first > 0 { left } else { "" };
        let after = if last_shown + 1 < widths.len() {
            right
        } else {
            ""
        };
        title.push_str(&format!(
            " · {before}columns {}–{} of {}{after}",
            first + 1,
            last_shown + 1,
            widths.len()
        ));
    }
    title.push(' ');
    let block = Block::bordered().title(fit(&title, inner_width));
    let inner = block.inner(area);
    block.render(area, buf);

    // The shared settings take the lines the runs leave, never the runs' own.
    let table_lines = (table.rows.len() as u16 + 1).max(TABLE_LINES_MIN);
    let shared_lines = if table.shared.is_empty() {
        0
    } else {
        inner_height
            .saturating_sub(table_lines + 1)
            .min(SHARED_LINES_MAX + 1)
    };
    let [table_area, shared_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(shared_lines)]).areas(inner);

    let fitted = |cells: &[String]| -> Vec<String> {
        shown
            .iter()
            .map(|&(c, w)| fit(cells.get(c).map_or("", String::as_str), w))
            .collect()
    };
    let header: Vec<String> = std::iter::once("run".to_string())
        .chain(fitted(&table.headers))
        .collect();
    let first_row = view.first_row.min(table.rows.len().saturating_sub(1));
    let rows = table.rows.iter().skip(first_row).map(|(label, cells)| {
        Row::new(std::iter::once(fit(label, run_width)).chain(fitted(cells)))
    });
    let constraints = std::iter::once(run_width)
        .chain(shown.iter().map(|&(_, w)| w))
        .map(|w| Constraint::Length(w as u16));
    Table::new(rows, constraints)
        .header(Row::new(header).style(theme.bold()))
        .column_spacing(COLUMN_SPACING as u16)
        .render(table_area, buf);

    if shared_lines > 0 {
        let text = table
            .shared
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(" · ");
        Paragraph::new(vec![
            Line::raw(""),
            Line::styled(format!("the same in every run: {text}"), theme.dim()),
        ])
        .wrap(Wrap { trim: true })
        .render(shared_area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::list::Better;
    use crate::runs::{BestFigure, LocalTime, RunStatus};
    use std::path::PathBuf;

    fn run(name: &str, params: &[(&str, &str)], best: Option<(&str, f64, f64)>) -> RunSummary {
        RunSummary {
            path: PathBuf::from(name),
            name: name.into(),
            kind: Some("classifier".into()),
            scenario: name.get(16..).unwrap_or(name).into(),
            dataset: None,
            status: RunStatus::Finished,
            pid: None,
            steps: 30,
            best: best.map(|(name, value, last)| BestFigure {
                name: name.into(),
                value,
                step: 20,
                better: Better::Higher,
                last,
            }),
            started: LocalTime::parse_compact(name),
            detail: None,
            metrics: Vec::new(),
            updated_unix_s: None,
            updated: None,
            sweep: None,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn only_settings_that_differ_become_columns_a_missing_one_included() {
        let a = run(
            "20261205-061400-fashion-cnn",
            &[("batch_size", "32"), ("lr", "0.002"), ("model", "cnn")],
            None,
        );
        let b = run(
            "20261205-061500-fashion-cnn",
            &[("batch_size", "32"), ("lr", "0.001"), ("model", "cnn")],
            None,
        );
        let c = run(
            "20261205-061600-fashion-cnn",
            &[
                ("batch_size", "32"),
                ("lr", "0.001"),
                ("model", "cnn"),
                ("seed", "7"),
            ],
            None,
        );
        assert_eq!(differing_params(&[&a, &b]), ["lr"]);
        assert_eq!(differing_params(&[&b, &c]), ["seed"]);
        assert_eq!(differing_params(&[&a, &b, &c]), ["lr", "seed"]);
        assert!(differing_params(&[&b, &b]).is_empty());
        let table = compare_table(&[&a, &c]);
        assert_eq!(table.headers, ["lr", "seed", "steps", "final", "best"]);
        assert_eq!(table.rows[0].0, "fashion-cnn 12-05 06:14:00");
        assert_eq!(table.rows[0].1[..2], ["0.002", "–"]);
        assert_eq!(
            table.shared,
            [
                ("batch_size".to_string(), "32".to_string()),
                ("model".into(), "cnn".into())
            ]
        );
    }

    #[test]
    fn figures_name_their_metric_once_when_every_run_shares_it() {
        let a = run("20261205-061400-x", &[], Some(("test_accuracy", 0.9, 0.85)));
        let b = run("20261205-061500-x", &[], Some(("test_accuracy", 0.8, 0.8)));
        let table = compare_table(&[&a, &b]);
        assert_eq!(table.metric.as_deref(), Some("test_accuracy"));
        assert_eq!(table.rows[0].1, ["30", "0.8500", "0.9000"]);
        let gan = run("20261205-061600-y", &[], Some(("fid_cnn", 41.5, 43.0)));
        let none = run("20261205-061700-z", &[], None);
        let table = compare_table(&[&a, &gan, &none]);
        assert_eq!(table.metric, None);
        assert_eq!(table.rows[1].1, ["30", "fid_cnn 43.0", "fid_cnn 41.5"]);
        assert_eq!(table.rows[2].1, ["30", "–", "–"]);
    }

    #[test]
    fn columns_fill_the_width_from_the_first_scrolled_to() {
        let widths = [5, 10, 3, 8];
        assert_eq!(columns_in_view(&widths, 0, 21), [(0, 5), (1, 10), (2, 3)]);
        assert_eq!(columns_in_view(&widths, 0, 20), [(0, 5), (1, 10)]);
        assert_eq!(columns_in_view(&widths, 2, 20), [(2, 3), (3, 8)]);
        assert_eq!(columns_in_view(&widths, 1, 6), [(1, 5)], "one column, cut");
        assert_eq!(
            last_full_start(&widths, 20),
            2,
            "3 and 8 fit, 10 more does not"
        );
        assert_eq!(last_full_start(&widths, 40), 0, "all fit: no scrolling");
        assert_eq!(
            last_full_start(&widths, 5),
            3,
            "not even the last: it shows alone"
        );
        assert_eq!(fit("fashion-mnist", 6), "fashi…");
        assert_eq!(fit("mnist", 6), "mnist");
    }
}
