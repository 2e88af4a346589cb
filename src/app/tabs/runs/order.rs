//! Which runs the list shows and in what order: the `/` filter and the `o`/`O` sort. Pure
//! functions over the listing, so the tab keeps the runs as listed and recomputes the view.

use std::cmp::Ordering;

use crate::runs::list::Better;
use crate::runs::{RunStatus, RunSummary};

/// A column the list can be sorted by, in the order `o` steps through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Start time, newest first: the order runs are listed in.
    #[default]
    Started,
    /// Scenario name, A to Z (then newest first).
    Scenario,
    /// Kind, A to Z.
    Kind,
    /// Status, live runs first, then those that can resume, then the ended ones.
    Status,
    /// Steps logged, most first.
    Steps,
    /// Best figure, best first within each headline metric; runs without one last.
    Best,
}

impl SortKey {
    /// Every key in the order `o` cycles through them.
    pub const ALL: [SortKey; 6] = [
        SortKey::Started,
        SortKey::Scenario,
        SortKey::Kind,
        SortKey::Status,
        SortKey::Steps,
        SortKey::Best,
    ];

    /// The key `o` moves to, wrapping.
    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|&k| k == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    /// The list's column header this key sorts, as the list writes it.
    pub fn column(self) -> &'static str {
        match self {
            SortKey::Started => "started",
            SortKey::Scenario => "scenario",
            SortKey::Kind => "kind",
            SortKey::Status => "status",
            SortKey::Steps => "steps",
            SortKey::Best => "best",
        }
    }

    /// True where the key's own order puts larger values first (newest, most steps, best), so
    /// the header's arrow can point the way values go.
    fn descending(self) -> bool {
        matches!(self, SortKey::Started | SortKey::Steps | SortKey::Best)
    }

    /// `a` against `b` in this key's own order; start times are the listing's order already
    /// ([`crate::runs::list_runs`] sorts newest first), which `Started` leaves to the caller.
    fn compare(self, a: &RunSummary, b: &RunSummary) -> Ordering {
        match self {
            SortKey::Started => Ordering::Equal,
            SortKey::Scenario => a.scenario.to_lowercase().cmp(&b.scenario.to_lowercase()),
            SortKey::Kind => a.kind.cmp(&b.kind),
            SortKey::Status => status_rank(a.status).cmp(&status_rank(b.status)),
            SortKey::Steps => b.steps.cmp(&a.steps),
            SortKey::Best => compare_best(a, b),
        }
    }
}

/// The `Status` order: what needs attention (live, then resumable) before what has ended.
fn status_rank(status: RunStatus) -> u8 {
    match status {
        RunStatus::Running => 0,
        RunStatus::Paused => 1,
        RunStatus::Interrupted => 2,
        RunStatus::Stopped => 3,
        RunStatus::Failed => 4,
        RunStatus::Finished => 5,
        RunStatus::Queued => 6,
        RunStatus::Idle => 7,
    }
}

/// Best figures compare only within one metric (an accuracy is no FID): grouped by metric
/// name, best first in each by its own direction; NaN and runs without a figure go last.
fn compare_best(a: &RunSummary, b: &RunSummary) -> Ordering {
    match (&a.best, &b.best) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.name.cmp(&y.name).then_with(|| {
            let (x_value, y_value) = match x.better {
                Better::Higher => (-x.value, -y.value),
                Better::Lower => (x.value, y.value),
            };
            x_value.total_cmp(&y_value)
        }),
    }
}

/// How the list is ordered: a key, and whether `O` turned it around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    /// The column sorted by.
    pub key: SortKey,
    /// The key's own order turned around.
    pub reversed: bool,
}

impl Sort {
    /// True when the values go down the list from large to small (the header's ↓).
    pub fn descending(self) -> bool {
        self.key.descending() != self.reversed
    }

    /// The runs at `a` and `b` in `rows` (the listing, newest first), compared; runs that tie
    /// keep the listing's order.
    pub fn compare(self, rows: &[RunSummary], a: usize, b: usize) -> Ordering {
        let order = match (rows.get(a), rows.get(b)) {
            (Some(x), Some(y)) => self.key.compare(x, y).then(a.cmp(&b)),
            _ => a.cmp(&b),
        };
        if self.reversed {
            order.reverse()
        } else {
            order
        }
    }
}

/// The words of a filter query, lower-cased; no words means no filter.
pub fn query_words(query: &str) -> Vec<String> {
    query.split_whitespace().map(str::to_lowercase).collect()
}

/// Whether every word of the query is found in one of the run's scenario, kind, status, name or
/// dataset, or is `sweep` for a sweep's run (case-insensitive), so `fashion finished` finds the finished Fashion-MNIST runs.
pub fn matches(run: &RunSummary, words: &[String]) -> bool {
    let fields = [
        Some(run.scenario.as_str()),
        run.kind.as_deref(),
        Some(run.status.as_str()),
        Some(run.name.as_str()),
        run.dataset.as_deref(),
        run.sweep.as_ref().map(|_| "sweep"),
    ];
    let haystack: Vec<String> = fields.iter().flatten().map(|f| f.to_lowercase()).collect();
    words
        .iter()
        .all(|word| haystack.iter().any(|field| field.contains(word.as_str())))
}

/// Indices into `rows` of the runs the query keeps, in the sort's order.
pub fn visible_rows(rows: &[RunSummary], query: &str, sort: Sort) -> Vec<usize> {
    let words = query_words(query);
    let mut visible: Vec<usize> = (0..rows.len())
        .filter(|&i| matches(&rows[i], &words))
        .collect();
    visible.sort_by(|&a, &b| sort.compare(rows, a, b));
    visible
}

/// One row of the list as drawn: a run of no sweep, a sweep's group row, or a run of an
/// expanded sweep under its group row.
#[derive(Debug, Clone, PartialEq)]
pub enum ListRow {
    /// A run of no sweep: an index into the listing.
    Run(usize),
    /// A sweep's group row, standing for all its runs.
    Sweep {
        /// The sweep's id.
        id: String,
        /// Every run of the sweep in the listing (filtered out or not), in sweep order.
        members: Vec<usize>,
    },
    /// A run of an expanded sweep, under its group row: an index into the listing.
    Member(usize),
}

/// The list's rows: `visible` (the runs the filter keeps, in the sort's order) with each
/// sweep's runs gathered into one group row where its first kept run would be — so a sweep
/// sorts by its newest, best or most urgent run, as the key says — followed by its kept runs in
/// sweep order when the sweep is in `expanded`.
pub fn list_rows(rows: &[RunSummary], visible: &[usize], expanded: &[String]) -> Vec<ListRow> {
    let sweep_of = |i: usize| rows.get(i).and_then(|r| r.sweep.as_ref()).map(|m| &m.id);
    let mut lines = Vec::new();
    let mut seen: Vec<&String> = Vec::new();
    for &i in visible {
        let Some(id) = sweep_of(i) else {
            lines.push(ListRow::Run(i));
            continue;
        };
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        let mut members: Vec<usize> = (0..rows.len())
            .filter(|&j| sweep_of(j) == Some(id))
            .collect();
        members.sort_by_key(|&j| rows[j].sweep.as_ref().map_or(0, |m| m.index));
        let kept: Vec<ListRow> = members
            .iter()
            .filter(|j| visible.contains(j))
            .map(|&j| ListRow::Member(j))
            .collect();
        lines.push(ListRow::Sweep {
            id: id.clone(),
            members,
        });
        if expanded.contains(id) {
            lines.extend(kept);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::{BestFigure, LocalTime};
    use std::path::PathBuf;

    fn run(name: &str, kind: &str, dataset: Option<&str>, status: RunStatus) -> RunSummary {
        RunSummary {
            path: PathBuf::from(name),
            name: name.into(),
            kind: Some(kind.into()),
            scenario: name.get(16..).unwrap_or(name).into(),
            dataset: dataset.map(str::to_string),
            status,
            pid: None,
            steps: 0,
            best: None,
            started: LocalTime::parse_compact(name),
            detail: None,
            metrics: Vec::new(),
            updated_unix_s: None,
            updated: None,
            params: Vec::new(),
            sweep: None,
        }
    }

    fn best(name: &str, value: f64, better: Better) -> Option<BestFigure> {
        Some(BestFigure {
            name: name.into(),
            value,
            step: 1,
            better,
            last: value,
        })
    }

    /// Newest first, as the listing gives them.
    fn rows() -> Vec<RunSummary> {
        let mut fashion = run(
            "20261205-060000-fashion-cnn",
            "classifier",
            Some("fashion-mnist"),
            RunStatus::Finished,
        );
        fashion.steps = 300;
        fashion.best = best("test_accuracy", 0.88, Better::Higher);
        let mut mnist = run(
            "20261205-050000-mnist-cnn",
            "classifier",
            Some("mnist"),
            RunStatus::Running,
        );
        mnist.steps = 1200;
        mnist.best = best("test_accuracy", 0.98, Better::Higher);
        let mut gan = run(
            "20261205-040000-gan-mlp",
            "gan",
            Some("fashion-mnist"),
            RunStatus::Failed,
        );
        gan.steps = 50;
        gan.best = best("fid_cnn", 41.5, Better::Lower);
        let mut old = run(
            "20261204-230000-fashion-cnn",
            "classifier",
            Some("fashion-mnist"),
            RunStatus::Stopped,
        );
        old.steps = 30;
        old.best = best("test_accuracy", 0.91, Better::Higher);
        let dqn = run(
            "20261204-220000-cartpole-dqn",
            "rl",
            None,
            RunStatus::Finished,
        );
        vec![fashion, mnist, gan, old, dqn]
    }

    fn scenarios(rows: &[RunSummary], visible: &[usize]) -> Vec<String> {
        visible
            .iter()
            .map(|&i| format!("{}@{}", rows[i].scenario, &rows[i].name[9..13]))
            .collect()
    }

    #[test]
    fn every_word_must_match_some_field_whatever_its_case() {
        let rows = rows();
        let shown = |q: &str| scenarios(&rows, &visible_rows(&rows, q, Sort::default()));
        assert_eq!(
            shown("fashion"),
            ["fashion-cnn@0600", "gan-mlp@0400", "fashion-cnn@2300"],
            "the GAN trains on Fashion-MNIST: its dataset matches"
        );
        assert_eq!(
            shown("FASHION finished"),
            ["fashion-cnn@0600"],
            "both words, in any field each"
        );
        assert_eq!(shown("  classifier   "), shown("classifier"));
        assert_eq!(shown("classifier").len(), 3);
        assert_eq!(shown("rl"), ["cartpole-dqn@2200"], "the kind");
        assert_eq!(shown("20261204"), ["fashion-cnn@2300", "cartpole-dqn@2200"]);
        assert!(shown("fashion running").is_empty());
        assert_eq!(shown("").len(), rows.len(), "no words, no filter");
    }

    #[test]
    fn each_key_sorts_its_own_way_and_reversing_turns_it_around() {
        let rows = rows();
        let sorted =
            |key, reversed| scenarios(&rows, &visible_rows(&rows, "", Sort { key, reversed }));
        assert_eq!(
            sorted(SortKey::Started, false),
            [
                "fashion-cnn@0600",
                "mnist-cnn@0500",
                "gan-mlp@0400",
                "fashion-cnn@2300",
                "cartpole-dqn@2200"
            ]
        );
        assert_eq!(
            sorted(SortKey::Scenario, false),
            [
                "cartpole-dqn@2200",
                "fashion-cnn@0600",
                "fashion-cnn@2300",
                "gan-mlp@0400",
                "mnist-cnn@0500"
            ],
            "ties stay newest first"
        );
        assert_eq!(
            sorted(SortKey::Scenario, true),
            [
                "mnist-cnn@0500",
                "gan-mlp@0400",
                "fashion-cnn@2300",
                "fashion-cnn@0600",
                "cartpole-dqn@2200"
            ],
            "reversed, ties too"
        );
        assert_eq!(
            sorted(SortKey::Status, false)[..2],
            ["mnist-cnn@0500", "fashion-cnn@2300"],
            "running, then the stopped one that can resume"
        );
        assert_eq!(
            sorted(SortKey::Steps, false),
            [
                "mnist-cnn@0500",
                "fashion-cnn@0600",
                "gan-mlp@0400",
                "fashion-cnn@2300",
                "cartpole-dqn@2200"
            ]
        );
        assert_eq!(
            sorted(SortKey::Best, false),
            [
                "gan-mlp@0400",
                "mnist-cnn@0500",
                "fashion-cnn@2300",
                "fashion-cnn@0600",
                "cartpole-dqn@2200"
            ],
            "by metric, best first within it (the lowest FID, the highest accuracy), none last"
        );
        assert_eq!(sorted(SortKey::Kind, false)[4], "cartpole-dqn@2200");
        assert_eq!(
            sorted(SortKey::Started, true)[..2],
            ["cartpole-dqn@2200", "fashion-cnn@2300"],
            "oldest first"
        );
    }

    #[test]
    fn o_cycles_through_every_key_and_the_arrow_follows_the_values() {
        let mut key = SortKey::default();
        let mut seen = vec![key];
        for _ in 1..SortKey::ALL.len() {
            key = key.next();
            seen.push(key);
        }
        assert_eq!(seen, SortKey::ALL);
        assert_eq!(key.next(), SortKey::Started);
        let newest_first = Sort::default();
        assert!(newest_first.descending());
        let a_to_z = Sort {
            key: SortKey::Scenario,
            reversed: false,
        };
        assert!(!a_to_z.descending());
        assert!(Sort {
            reversed: true,
            ..a_to_z
        }
        .descending());
    }

    #[test]
    fn a_sweeps_runs_gather_where_its_first_kept_run_sorts_and_expand_under_it() {
        use crate::runs::SweepMember;
        let mut rows = rows();
        // The Fashion-MNIST runs (newest, and fourth) and the GAN are one sweep's.
        for (i, index) in [(0, 1), (3, 0), (2, 2)] {
            rows[i].sweep = Some(SweepMember {
                id: "sw".into(),
                index,
                values: Vec::new(),
                seed: None,
            });
        }
        let sweep = ListRow::Sweep {
            id: "sw".into(),
            members: vec![3, 0, 2],
        };
        let visible = visible_rows(&rows, "", Sort::default());
        assert_eq!(
            list_rows(&rows, &visible, &[]),
            [sweep.clone(), ListRow::Run(1), ListRow::Run(4)],
            "the sweep where its newest run is"
        );
        let by_steps = Sort {
            key: SortKey::Steps,
            reversed: false,
        };
        let visible = visible_rows(&rows, "", by_steps);
        assert_eq!(
            list_rows(&rows, &visible, &["sw".into()]),
            [
                ListRow::Run(1),
                sweep.clone(),
                ListRow::Member(3),
                ListRow::Member(0),
                ListRow::Member(2),
                ListRow::Run(4),
            ],
            "by its most steps, then its runs in sweep order"
        );
        let visible = visible_rows(&rows, "gan", Sort::default());
        assert_eq!(
            list_rows(&rows, &visible, &[]),
            [sweep],
            "one kept run keeps the sweep, with all its runs"
        );
        assert_eq!(visible_rows(&rows, "sweep", Sort::default()), [0, 2, 3]);
    }
}
