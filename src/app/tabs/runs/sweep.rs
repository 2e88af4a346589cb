//! A sweep as the Runs tab shows it: its runs gathered into grid points (one combination of
//! the grid's values; the seeds of a point are its runs), each point's final and best figure
//! per seed and its mean ± std over seeds, the best point marked. Enter opens a run of a
//! point; `a` overlays every run of the sweep coloured by one grid key.
//!
//! Everything is worked out from the listing's rows ([`RunSummary::sweep`]), so the view reads
//! no file: the grid's key order, which a run's `[sweep]` table does not keep, is the order of
//! the sweep's runs (first key slowest).

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Widget};

use super::value_text;
use crate::app::keymap::{own_hint_line, HintContext, RunsScreen};
use crate::app::theme::Theme;
use crate::runs::list::Better;
use crate::runs::sweep::SEED_KEY;
use crate::runs::{LocalTime, RunStatus, RunSummary};

/// Statuses in the order a sweep's status summary counts them, finished first.
const STATUS_ORDER: [RunStatus; 8] = [
    RunStatus::Finished,
    RunStatus::Running,
    RunStatus::Paused,
    RunStatus::Queued,
    RunStatus::Interrupted,
    RunStatus::Stopped,
    RunStatus::Failed,
    RunStatus::Idle,
];

/// One run of a point: its seed's cell in the sweep table.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedRun {
    /// The run directory.
    pub path: PathBuf,
    /// Where the run stands.
    pub status: RunStatus,
    /// The headline metric's last logged value.
    pub last: Option<f64>,
    /// The headline metric's best value.
    pub best: Option<f64>,
}

impl SeedRun {
    /// True when the run's figure counts toward its point's mean: it ran its full schedule.
    pub fn counts(&self) -> bool {
        self.status == RunStatus::Finished && self.best.is_some_and(|b| !b.is_nan())
    }
}

/// One combination of the grid's values and its runs, one per seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// The point's value of each grid key, in [`SweepSummary::keys`] order.
    pub values: Vec<String>,
    /// The run of each seed, in [`SweepSummary::seeds`] order; `None` where none is listed.
    pub runs: Vec<Option<SeedRun>>,
    /// Mean and sample standard deviation (n − 1; `None` under two runs) of the best figures
    /// of the point's finished runs; `None` before one finishes.
    pub mean_std: Option<(f64, Option<f64>)>,
    /// How many runs the mean is over.
    pub counted: usize,
}

/// A sweep worked out from its runs in the listing.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSummary {
    /// The sweep's id (`<stamp>-<scenario>`).
    pub id: String,
    /// The scenario's name, from the id.
    pub scenario: String,
    /// When the sweep was made, from the id (its newest run's start otherwise).
    pub started: Option<LocalTime>,
    /// The grid's keys, first axis first.
    pub keys: Vec<String>,
    /// The seeds, ascending; one `None` for a sweep without `--seeds`.
    pub seeds: Vec<Option<u64>>,
    /// The grid's points, in grid order.
    pub points: Vec<SweepPoint>,
    /// The headline metric the figures are of, and which way is better.
    pub metric: Option<(String, Better)>,
    /// The point with the best mean, by the metric's direction.
    pub best_point: Option<usize>,
    /// How many runs are in each status, in [`STATUS_ORDER`], zeros left out.
    pub statuses: Vec<(RunStatus, usize)>,
    /// Runs in the sweep.
    pub run_count: usize,
    /// The best figure any run of the sweep reached.
    pub best_run: Option<f64>,
    /// The most steps any run logged.
    pub steps: u64,
}

/// Mean and sample standard deviation (n − 1) of `values`; the deviation is `None` for a
/// single value and the whole is `None` for none.
pub fn mean_std(values: &[f64]) -> Option<(f64, Option<f64>)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.len() > 1).then(|| {
        let squares: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
        (squares / (n - 1.0)).sqrt()
    });
    Some((mean, std))
}

/// The position of the best mean among `points` by `better`; points without a mean never win,
/// and ties keep the earlier point.
pub fn best_point(points: &[SweepPoint], better: Better) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, point) in points.iter().enumerate() {
        let Some((mean, _)) = point.mean_std else {
            continue;
        };
        let wins = match best {
            None => true,
            Some((_, b)) => match better {
                Better::Higher => mean > b,
                Better::Lower => mean < b,
            },
        };
        if wins {
            best = Some((i, mean));
        }
    }
    best.map(|(i, _)| i)
}

/// The grid's keys in the order the sweep's runs (in sweep order) imply: the first axis changes
/// least often, the seeds fastest ([`crate::runs::sweep::expand`]).
fn key_order(runs: &[&RunSummary]) -> Vec<String> {
    let value = |run: &RunSummary, key: &str| {
        run.sweep
            .as_ref()
            .and_then(|m| m.values.iter().find(|(k, _)| k == key))
            .map(|(_, v)| v.clone())
    };
    let mut keys: Vec<String> = Vec::new();
    for member in runs.iter().filter_map(|r| r.sweep.as_ref()) {
        for (key, _) in &member.values {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    let changes = |key: &str| {
        runs.windows(2)
            .filter(|pair| value(pair[0], key) != value(pair[1], key))
            .count()
    };
    keys.sort_by_cached_key(|k| (changes(k), k.clone()));
    keys
}

/// Works out sweep `id` from its runs (any order); runs of other sweeps are ignored.
pub fn summarize_sweep(id: &str, runs: &[&RunSummary]) -> SweepSummary {
    let mut runs: Vec<&RunSummary> = runs
        .iter()
        .copied()
        .filter(|r| r.sweep.as_ref().is_some_and(|m| m.id == id))
        .collect();
    runs.sort_by_key(|r| r.sweep.as_ref().map_or(0, |m| m.index));
    let keys = key_order(&runs);
    let mut seeds: Vec<Option<u64>> = runs
        .iter()
        .map(|r| r.sweep.as_ref().and_then(|m| m.seed))
        .collect();
    seeds.sort();
    seeds.dedup();
    // The headline metric of the first run that logged one; runs of another metric (none in a
    // sweep of one scenario) are left out of the figures.
    let metric = runs
        .iter()
        .find_map(|r| r.best.as_ref())
        .map(|b| (b.name.clone(), b.better));
    // (best, last) of a run's headline metric.
    let figure = |run: &RunSummary| -> Option<(f64, f64)> {
        run.best
            .as_ref()
            .filter(|b| metric.as_ref().is_some_and(|(name, _)| *name == b.name))
            .map(|b| (b.value, b.last))
    };
    let mut points: Vec<SweepPoint> = Vec::new();
    for run in &runs {
        let Some(member) = &run.sweep else {
            continue;
        };
        let values: Vec<String> = keys
            .iter()
            .map(|k| {
                member
                    .values
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect();
        let position = match points.iter().position(|p| p.values == values) {
            Some(i) => i,
            None => {
                points.push(SweepPoint {
                    values,
                    runs: vec![None; seeds.len()],
                    mean_std: None,
                    counted: 0,
                });
                points.len() - 1
            }
        };
        let column = seeds.iter().position(|&s| s == member.seed).unwrap_or(0);
        points[position].runs[column] = Some(SeedRun {
            path: run.path.clone(),
            status: run.status,
            last: figure(run).map(|f| f.1),
            best: figure(run).map(|f| f.0),
        });
    }
    for point in &mut points {
        let bests: Vec<f64> = point
            .runs
            .iter()
            .flatten()
            .filter(|r| r.counts())
            .filter_map(|r| r.best)
            .collect();
        point.counted = bests.len();
        point.mean_std = mean_std(&bests);
    }
    let best = metric
        .as_ref()
        .and_then(|(_, better)| best_point(&points, *better));
    let statuses = STATUS_ORDER
        .iter()
        .map(|&s| (s, runs.iter().filter(|r| r.status == s).count()))
        .filter(|&(_, n)| n > 0)
        .collect();
    let best_run = metric.as_ref().and_then(|(_, better)| {
        runs.iter()
            .filter_map(|r| figure(r).map(|f| f.0))
            .filter(|v| !v.is_nan())
            .reduce(|a, b| match better {
                Better::Higher => a.max(b),
                Better::Lower => a.min(b),
            })
    });
    let started =
        LocalTime::parse_compact(id).or_else(|| runs.iter().filter_map(|r| r.started).max());
    SweepSummary {
        id: id.to_string(),
        scenario: match LocalTime::parse_compact(id) {
            Some(_) => id.get(16..).unwrap_or(id).to_string(),
            None => id.to_string(),
        },
        started,
        keys,
        seeds,
        points,
        metric,
        best_point: best,
        statuses,
        run_count: runs.len(),
        best_run,
        steps: runs.iter().map(|r| r.steps).max().unwrap_or(0),
    }
}

impl SweepSummary {
    /// `4/6 finished, 1 running, 1 queued`: how far the sweep has come.
    pub fn status_text(&self) -> String {
        let finished = self
            .statuses
            .iter()
            .find(|(s, _)| *s == RunStatus::Finished)
            .map_or(0, |&(_, n)| n);
        let mut text = format!("{finished}/{} finished", self.run_count);
        for &(status, n) in &self.statuses {
            if status != RunStatus::Finished {
                text.push_str(&format!(", {n} {}", status.as_str()));
            }
        }
        text
    }

    /// `4/6 done`: the status summary short enough for the list's status column.
    pub fn short_status(&self) -> String {
        let finished = self
            .statuses
            .iter()
            .find(|(s, _)| *s == RunStatus::Finished)
            .map_or(0, |&(_, n)| n);
        format!("{finished}/{} done", self.run_count)
    }

    /// A point's grid values as `lr=0.001 batch_size=32`.
    pub fn point_text(&self, point: &SweepPoint) -> String {
        self.keys
            .iter()
            .zip(&point.values)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The keys an overlay can colour by: the grid's, then the seed when there are seeds.
    pub fn colour_keys(&self) -> Vec<String> {
        let mut keys = self.keys.clone();
        if self.seeds.iter().any(Option::is_some) {
            keys.push(SEED_KEY.to_string());
        }
        keys
    }

    /// Every run of the sweep in sweep order with its value of each [`Self::colour_keys`] key.
    pub fn runs_with_values(&self) -> Vec<(PathBuf, Vec<String>)> {
        let with_seed = self.seeds.iter().any(Option::is_some);
        let mut runs = Vec::new();
        for point in &self.points {
            for (seed, run) in self.seeds.iter().zip(&point.runs) {
                if let Some(run) = run {
                    let mut values = point.values.clone();
                    if with_seed {
                        values.push(seed.map(|s| s.to_string()).unwrap_or_default());
                    }
                    runs.push((run.path.clone(), values));
                }
            }
        }
        runs
    }

    /// `mean ± std (n/N)` of a point, as the table and the details write it.
    pub fn mean_text(&self, point: &SweepPoint) -> String {
        let Some((mean, std)) = point.mean_std else {
            return "–".into();
        };
        let mut text = match std {
            Some(std) => format!("{} ± {}", value_text(mean), value_text(std)),
            None => value_text(mean),
        };
        let listed = point.runs.iter().flatten().count();
        if point.counted < listed {
            text.push_str(&format!(" ({}/{listed})", point.counted));
        }
        text
    }
}

/// The sweep view's place: which sweep, which point, which seed Enter opens.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SweepView {
    /// The sweep's id.
    pub id: String,
    /// The highlighted point, a row of the table.
    pub point: usize,
    /// The seed Enter opens, a position in [`SweepSummary::seeds`].
    pub seed: usize,
}

/// The label of a seed column: `s1`, or `run` for a sweep without seeds.
fn seed_label(seed: Option<u64>) -> String {
    seed.map_or_else(|| "run".to_string(), |s| format!("s{s}"))
}

/// A run's cells: its final and best figures, or its state while it has not ended.
fn run_cells(run: Option<&SeedRun>) -> [String; 2] {
    match run {
        None => [String::new(), String::new()],
        Some(r)
            if matches!(
                r.status,
                RunStatus::Queued | RunStatus::Running | RunStatus::Paused
            ) =>
        {
            [r.status.as_str().to_string(), String::new()]
        }
        Some(r) => [
            r.last.map_or_else(|| "–".into(), value_text),
            r.best.map_or_else(|| "–".into(), value_text),
        ],
    }
}

/// Draws the sweep table, the highlighted point's details and the view's keys.
pub(super) fn render_sweep(
    summary: &SweepSummary,
    view: &SweepView,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
    watching: bool,
) {
    let [table_area, details] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(5)]).areas(area);
    let metric = summary
        .metric
        .as_ref()
        .map_or("no figures yet", |(name, _)| name.as_str());
    let title = format!(
        " sweep {} · {metric} · {} ",
        summary.id,
        summary.status_text()
    );
    let block = Block::bordered().title(title);
    let inner = block.inner(table_area);
    block.render(table_area, buf);

    // Columns: the best mark, each grid key, per seed its final and best, the mean ± std.
    let mut headers: Vec<String> = vec![String::new()];
    headers.extend(summary.keys.iter().cloned());
    let mean_header = "mean ± std".to_string();
    let rows_text: Vec<Vec<String>> = summary
        .points
        .iter()
        .enumerate()
        .map(|(i, point)| {
            let mark = match (summary.best_point == Some(i), theme.ascii) {
                (true, true) => "*",
                (true, false) => "★",
                (false, _) => "",
            };
            let mut cells = vec![mark.to_string()];
            cells.extend(point.values.iter().cloned());
            for run in &point.runs {
                cells.extend(run_cells(run.as_ref()));
            }
            cells.push(summary.mean_text(point));
            cells
        })
        .collect();
    for seed in &summary.seeds {
        let label = seed_label(*seed);
        headers.push(format!("{label} final"));
        headers.push(format!("{label} best"));
    }
    headers.push(mean_header);
    let width = |c: usize| {
        rows_text
            .iter()
            .map(|r| r.get(c).map_or(0, |t| t.chars().count()))
            .chain([headers[c].chars().count()])
            .max()
            .unwrap_or(0) as u16
    };
    let widths: Vec<u16> = (0..headers.len()).map(width).collect();
    let needed: u16 = widths.iter().map(|w| w + 1).sum();
    // Too narrow for every column: the final figures go, the best ones stay.
    let first_seed_column = 1 + summary.keys.len();
    let keep = |c: usize| {
        needed <= inner.width
            || c < first_seed_column
            || c >= first_seed_column + 2 * summary.seeds.len()
            || (c - first_seed_column) % 2 == 1
    };
    let chosen_columns = |c: usize| {
        c >= first_seed_column
            && c < first_seed_column + 2 * summary.seeds.len()
            && (c - first_seed_column) / 2 == view.seed
    };
    let header = Row::new(
        headers
            .iter()
            .enumerate()
            .filter(|&(c, _)| keep(c))
            .map(|(c, h)| {
                let style = if chosen_columns(c) {
                    theme.highlight()
                } else {
                    theme.bold()
                };
                Cell::from(h.clone()).style(style)
            }),
    );
    let visible_rows = usize::from(inner.height.saturating_sub(1)).max(1);
    let first = view.point.saturating_sub(visible_rows - 1);
    let rows = rows_text.iter().enumerate().skip(first).map(|(i, cells)| {
        let style = if i == view.point {
            theme.highlight()
        } else if summary.best_point == Some(i) {
            theme.good()
        } else {
            Style::default()
        };
        Row::new(
            cells
                .iter()
                .enumerate()
                .filter(|&(c, _)| keep(c))
                .map(|(_, t)| Cell::from(t.clone())),
        )
        .style(style)
    });
    let constraints: Vec<Constraint> = widths
        .iter()
        .enumerate()
        .filter(|&(c, _)| keep(c))
        .map(|(_, &w)| Constraint::Length(w))
        .collect();
    if summary.points.is_empty() {
        Paragraph::new("No runs of this sweep are listed.").render(inner, buf);
    } else {
        Table::new(rows, constraints)
            .header(header)
            .render(inner, buf);
    }

    let mut text = Vec::new();
    if let Some(point) = summary.points.get(view.point) {
        let seed = summary.seeds.get(view.seed).copied().flatten();
        let run = point.runs.get(view.seed).and_then(Option::as_ref);
        text.push(Line::raw(match run {
            Some(r) => format!(
                "{} · {} · {} · {}",
                summary.point_text(point),
                seed.map_or_else(|| "no seed".to_string(), |s| format!("seed {s}")),
                super::run_name(&r.path),
                r.status.as_str()
            ),
            None => format!("{} · no run of this seed", summary.point_text(point)),
        }));
    }
    if let Some(best) = summary.best_point.and_then(|i| summary.points.get(i)) {
        let mark = if theme.ascii { "*" } else { "★" };
        text.push(Line::styled(
            format!(
                "{mark} best point {}: {} over {} seed{} ({} is better)",
                summary.point_text(best),
                summary.mean_text(best),
                best.counted,
                if best.counted == 1 { "" } else { "s" },
                match summary.metric.as_ref().map(|m| m.1) {
                    Some(Better::Lower) => "lower",
                    _ => "higher",
                }
            ),
            theme.good(),
        ));
    }
    text.truncate(2);
    text.push(Line::styled(
        own_hint_line(
            HintContext::Runs(RunsScreen::Sweep),
            usize::from(details.width.saturating_sub(2)),
            watching,
        ),
        theme.dim(),
    ));
    Paragraph::new(text)
        .block(Block::bordered())
        .render(details, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::sweep::SweepMember;
    use crate::runs::BestFigure;

    fn run(index: usize, lr: &str, seed: u64, status: RunStatus, best: Option<f64>) -> RunSummary {
        RunSummary {
            path: PathBuf::from(format!("runs/sw-p{index:02}")),
            name: format!("sw-p{index:02}"),
            kind: Some("classifier".into()),
            scenario: format!("sw-p{index:02}"),
            dataset: None,
            status,
            pid: None,
            steps: 10,
            best: best.map(|value| BestFigure {
                name: "test_loss".into(),
                value,
                step: 10,
                better: Better::Lower,
                last: value + 0.5,
            }),
            started: None,
            detail: None,
            metrics: Vec::new(),
            updated_unix_s: None,
            updated: None,
            params: Vec::new(),
            sweep: Some(SweepMember {
                id: "sw".into(),
                index,
                // A TOML table's order: alphabetical, not the grid's.
                values: vec![("batch".into(), "32".into()), ("lr".into(), lr.into())],
                seed: Some(seed),
            }),
        }
    }

    #[test]
    fn mean_and_sample_std() {
        let (mean, std) = mean_std(&[1.0, 2.0, 3.0, 4.0]).expect("values");
        assert_eq!(mean, 2.5);
        // Σ(x − 2.5)² = 5, over n − 1 = 3.
        assert!((std.expect("std") - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_std(&[0.7]), Some((0.7, None)));
        assert_eq!(mean_std(&[]), None);
    }

    #[test]
    fn points_gather_seeds_and_the_best_mean_follows_the_direction() {
        use RunStatus::{Finished, Queued, Running};
        let runs = [
            run(0, "0.1", 1, Finished, Some(1.0)),
            run(1, "0.1", 2, Finished, Some(3.0)),
            run(2, "0.01", 1, Finished, Some(0.5)),
            run(3, "0.01", 2, Queued, None),
            run(4, "0.001", 1, Running, Some(0.1)),
            run(5, "0.001", 2, Finished, Some(1.5)),
        ];
        let refs: Vec<&RunSummary> = runs.iter().rev().collect();
        let sweep = summarize_sweep("sw", &refs);
        assert_eq!(
            sweep.keys,
            ["batch", "lr"],
            "the first axis changes least often (batch never, lr twice)"
        );
        assert_eq!(sweep.seeds, [Some(1), Some(2)]);
        let values: Vec<String> = sweep.points.iter().map(|p| sweep.point_text(p)).collect();
        assert_eq!(
            values,
            ["batch=32 lr=0.1", "batch=32 lr=0.01", "batch=32 lr=0.001"],
            "the grid's order"
        );
        assert_eq!(sweep.points[0].mean_std.map(|m| m.0), Some(2.0));
        let std = sweep.points[0].mean_std.and_then(|m| m.1).expect("std");
        assert!((std - 2f64.sqrt()).abs() < 1e-12);
        // A queued seed and a running one leave their point one finished run each.
        assert_eq!(sweep.points[1].mean_std, Some((0.5, None)));
        assert_eq!(sweep.points[1].counted, 1);
        assert_eq!(sweep.points[2].mean_std, Some((1.5, None)));
        assert_eq!(sweep.best_point, Some(1), "lower is better: 0.5");
        assert_eq!(sweep.mean_text(&sweep.points[1]), "0.5000 (1/2)");
        assert_eq!(sweep.status_text(), "4/6 finished, 1 running, 1 queued");
        assert_eq!(sweep.best_run, Some(0.1), "the running run's best so far");
        assert_eq!(
            run_cells(sweep.points[1].runs[1].as_ref()),
            ["queued".to_string(), String::new()]
        );
        assert_eq!(
            run_cells(sweep.points[0].runs[1].as_ref()),
            ["3.5000".to_string(), "3.0000".to_string()]
        );
        assert_eq!(sweep.colour_keys(), ["batch", "lr", "seed"]);

        let mut higher = sweep.points.clone();
        higher[2].mean_std = Some((2.0, None));
        assert_eq!(
            best_point(&higher, Better::Higher),
            Some(0),
            "a tie keeps the first"
        );
        assert_eq!(best_point(&higher, Better::Lower), Some(1));
        for p in &mut higher {
            p.mean_std = None;
        }
        assert_eq!(best_point(&higher, Better::Higher), None);
    }
}
