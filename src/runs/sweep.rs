//! Sweeps: a grid of runs of one scenario, each an ordinary run directory whose `config.toml`
//! ends with a `[sweep]` table naming the sweep and the point, plus a small folder of the
//! sweep's own (`<runs>/sweeps/<id>/sweep.json`: the command, the grid and the list of runs).
//!
//! ```text
//! runs/sweeps/20261205-131500-fashion-cnn/sweep.json
//! runs/20261205-131500-fashion-cnn-p00/config.toml   … [sweep] id = "…", point = 0
//! runs/20261205-131500-fashion-cnn-p01/…
//! ```
//!
//! Every point's run directory is made before any point starts, so a point that never ran is
//! listed as queued, and whatever runs a point — a local child process, a Slurm array task,
//! a requeued task — runs the same `gradtop resume DIR`, which starts it or continues it from
//! its newest checkpoint.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{IoContext, Result, RunsError};

/// The folder under the runs parent that holds one folder per sweep.
pub const SWEEPS_DIR: &str = "sweeps";
/// The sweep's own record inside its folder.
pub const SWEEP_FILE: &str = "sweep.json";
/// The table `config.toml` of a sweep's run ends with.
pub const SWEEP_TABLE: &str = "sweep";
/// The key whose values are the seeds (`--seeds`), kept apart from the grid's keys: a sweep
/// compares its points over seeds.
pub const SEED_KEY: &str = "seed";

/// One `--grid key=v1,v2,…`: a scenario key and its values as the user wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridAxis {
    /// A scenario key, as `--set` takes it (`lr`, `dqn.gamma`).
    pub key: String,
    /// Its values, in the order given.
    pub values: Vec<String>,
}

/// One run of a sweep: its grid values, its seed and its run directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRun {
    /// Position in the sweep (0-based), the Slurm array index.
    pub index: usize,
    /// The grid's values for this run, in the grid's order (without the seed).
    pub values: Vec<(String, String)>,
    /// The seed, when the sweep has `--seeds`.
    pub seed: Option<u64>,
    /// The run directory's name under the runs parent.
    pub run: String,
}

/// Everything a sweep was asked to do: `sweep.json`, written once when the sweep is made and
/// updated when it is submitted to Slurm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    /// `<stamp>-<scenario>`, the sweep folder's name and the prefix of its runs' names.
    pub id: String,
    /// The scenario file, absolute.
    pub scenario: PathBuf,
    /// The command line as typed, for the record.
    pub command: Vec<String>,
    /// The grid, in the order given.
    pub grid: Vec<GridAxis>,
    /// `--seeds`, empty when not given.
    pub seeds: Vec<u64>,
    /// `--set`s passed through to every run.
    pub sets: Vec<String>,
    /// `--steps`, passed through to every run.
    pub steps: Option<u64>,
    /// `--device`, as written.
    pub device: String,
    /// `local` or `slurm`.
    pub backend: String,
    /// Runs at once.
    pub parallel: usize,
    /// The Slurm job id once submitted.
    #[serde(default)]
    pub slurm_job: Option<String>,
    /// Wall-clock Unix seconds at creation.
    pub created_unix_s: f64,
    /// The runs, in array order.
    pub runs: Vec<SweepRun>,
}

/// What a run's `config.toml` says of the sweep it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepMember {
    /// The sweep's id.
    pub id: String,
    /// The run's index in the sweep.
    pub index: usize,
    /// The grid's values for this run (without the seed), as written.
    pub values: Vec<(String, String)>,
    /// The run's seed, when the sweep has `--seeds`.
    pub seed: Option<u64>,
}

impl SweepMember {
    /// The scenario the sweep trains: its id without the start time, as a run directory's
    /// name gives its scenario.
    pub fn scenario(&self) -> Option<&str> {
        super::dir::name_without_stamp(&self.id).filter(|s| !s.is_empty())
    }
}

/// The folder of sweep `id` under the runs parent.
pub fn sweep_dir(runs_parent: &Path, id: &str) -> PathBuf {
    runs_parent.join(SWEEPS_DIR).join(id)
}

/// One run of an expanded grid: its (key, value) pairs in the grid's order, and its seed.
pub type GridRun = (Vec<(String, String)>, Option<u64>);

/// Every combination of the grid's values, first axis slowest, each combined with every seed
/// (fastest); one run with no values when the grid and the seeds are empty.
pub fn expand(grid: &[GridAxis], seeds: &[u64]) -> Vec<GridRun> {
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for axis in grid {
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                axis.values.iter().map(move |value| {
                    let mut next = combo.clone();
                    next.push((axis.key.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    let seeds: Vec<Option<u64>> = if seeds.is_empty() {
        vec![None]
    } else {
        seeds.iter().copied().map(Some).collect()
    };
    combos
        .into_iter()
        .flat_map(|combo| seeds.iter().map(move |&seed| (combo.clone(), seed)))
        .collect()
}

impl SweepPlan {
    /// The `--set`s that make run `run`: the sweep's own, then the run's grid values and seed.
    pub fn run_sets(&self, run: &SweepRun) -> Vec<String> {
        let mut sets = self.sets.clone();
        sets.extend(run.values.iter().map(|(k, v)| format!("{k}={v}")));
        if let Some(seed) = run.seed {
            sets.push(format!("{SEED_KEY}={seed}"));
        }
        sets
    }

    /// The run directory of `run`.
    pub fn run_dir(&self, runs_parent: &Path, run: &SweepRun) -> PathBuf {
        runs_parent.join(&run.run)
    }

    /// Writes `sweep.json` into the sweep's folder (created), atomically.
    pub fn save(&self, runs_parent: &Path) -> Result<PathBuf> {
        let dir = sweep_dir(runs_parent, &self.id);
        fs::create_dir_all(&dir).at("creating sweep folder", &dir)?;
        let path = dir.join(SWEEP_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|e| RunsError::Invalid {
            path: path.clone(),
            what: format!("cannot be written as JSON: {e}"),
        })?;
        crate::atomic_file::write(&path, format!("{text}\n").as_bytes()).at("writing", &path)?;
        Ok(path)
    }

    /// Reads sweep `id` under the runs parent; the error names the file and what is wrong.
    pub fn load(runs_parent: &Path, id: &str) -> Result<Self> {
        let path = sweep_dir(runs_parent, id).join(SWEEP_FILE);
        let text = fs::read_to_string(&path).at("reading", &path)?;
        serde_json::from_str(&text).map_err(|e| RunsError::Parse {
            path,
            line: Some(e.line()),
            message: e.to_string(),
        })
    }
}

/// Every sweep under the runs parent that reads, oldest first; a missing folder lists nothing.
pub fn list_sweeps(runs_parent: &Path) -> Vec<SweepPlan> {
    let Ok(entries) = fs::read_dir(runs_parent.join(SWEEPS_DIR)) else {
        return Vec::new();
    };
    let mut plans: Vec<SweepPlan> = entries
        .flatten()
        .filter_map(|e| SweepPlan::load(runs_parent, &e.file_name().to_string_lossy()).ok())
        .collect();
    plans.sort_by(|a, b| a.id.cmp(&b.id));
    plans
}

/// The `[sweep]` table a sweep run's `config.toml` ends with, as TOML text.
pub fn member_table(id: &str, run: &SweepRun) -> String {
    let mut sweep = toml::Table::new();
    sweep.insert("id".into(), toml::Value::String(id.to_string()));
    sweep.insert("index".into(), toml::Value::Integer(run.index as i64));
    if let Some(seed) = run.seed {
        sweep.insert(SEED_KEY.into(), toml::Value::Integer(seed as i64));
    }
    let mut outer = toml::Table::new();
    outer.insert(SWEEP_TABLE.into(), toml::Value::Table(sweep));
    let mut text = toml::to_string(&outer).unwrap_or_default();
    // A sub-table of its own, written by hand so the grid's order survives.
    text.push_str(&format!("\n[{SWEEP_TABLE}.values]\n"));
    for (key, value) in &run.values {
        let mut line = toml::Table::new();
        line.insert(key.clone(), toml::Value::String(value.clone()));
        text.push_str(&toml::to_string(&line).unwrap_or_default());
    }
    text
}

/// The scenario part of a `config.toml`: everything before the `[sweep]` table a sweep's run
/// ends with (gradtop writes it last), so the scenario parser sees only scenario keys and its
/// line numbers stay the file's.
pub fn scenario_text(config: &str) -> &str {
    let header = format!("[{SWEEP_TABLE}]");
    let mut offset = 0;
    for line in config.split_inclusive('\n') {
        if line.trim() == header {
            return &config[..offset];
        }
        offset += line.len();
    }
    config
}

/// The sweep a run's parsed `config.toml` says it belongs to; `None` for a run of no sweep or
/// a `[sweep]` table without an id.
pub fn member_of(config: &toml::Table) -> Option<SweepMember> {
    let sweep = config.get(SWEEP_TABLE)?.as_table()?;
    let id = sweep.get("id")?.as_str()?.to_string();
    let index = sweep
        .get("index")
        .and_then(|v| v.as_integer())
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(0);
    let seed = sweep
        .get(SEED_KEY)
        .and_then(|v| v.as_integer())
        .and_then(|i| u64::try_from(i).ok());
    // A TOML table does not keep its order; the grid's order is the order of the run's sweep
    // plan, which readers that need it take from `sweep.json`.
    let values = sweep
        .get("values")
        .and_then(|v| v.as_table())
        .map(|t| {
            t.iter()
                .map(|(k, v)| {
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    Some(SweepMember {
        id,
        index,
        values,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(key: &str, values: &[&str]) -> GridAxis {
        GridAxis {
            key: key.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn the_grid_expands_first_axis_slowest_and_seeds_fastest() {
        let runs = expand(
            &[axis("lr", &["1e-3", "1e-4"]), axis("batch_size", &["32"])],
            &[1, 2],
        );
        let text: Vec<String> = runs
            .iter()
            .map(|(values, seed)| {
                let mut parts: Vec<String> =
                    values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                parts.push(format!("seed={}", seed.expect("seed")));
                parts.join(" ")
            })
            .collect();
        assert_eq!(
            text,
            vec![
                "lr=1e-3 batch_size=32 seed=1",
                "lr=1e-3 batch_size=32 seed=2",
                "lr=1e-4 batch_size=32 seed=1",
                "lr=1e-4 batch_size=32 seed=2",
            ]
        );
        assert_eq!(expand(&[], &[]), vec![(Vec::new(), None)]);
    }

    #[test]
    fn a_member_table_reads_back_and_hides_from_the_scenario_parser() {
        let run = SweepRun {
            index: 3,
            values: vec![
                ("lr".into(), "0.001".into()),
                ("dqn.gamma".into(), "0.9".into()),
            ],
            seed: Some(2),
            run: "x-p03".into(),
        };
        let scenario = "kind = \"classifier\"\nlr = 0.01\n";
        let config = format!("{scenario}\n{}", member_table("20261205-sweep", &run));
        assert_eq!(scenario_text(&config).trim_end(), scenario.trim_end());
        assert_eq!(scenario_text(scenario), scenario);
        let table: toml::Table = config.parse().expect("valid TOML");
        let member = member_of(&table).expect("member");
        assert_eq!(member.id, "20261205-sweep");
        assert_eq!((member.index, member.seed), (3, Some(2)));
        let mut values = member.values.clone();
        values.sort();
        assert_eq!(
            values,
            vec![
                ("dqn.gamma".to_string(), "0.9".to_string()),
                ("lr".to_string(), "0.001".to_string())
            ]
        );
        assert_eq!(member_of(&scenario.parse().expect("toml")), None);
    }

    #[test]
    fn a_plan_saves_and_loads() {
        let parent = tempfile::tempdir().expect("temp dir");
        let plan = SweepPlan {
            id: "20261205-131500-fashion-cnn".into(),
            scenario: "/s/fashion-cnn.toml".into(),
            command: vec!["gradtop".into(), "sweep".into()],
            grid: vec![axis("lr", &["1e-3"])],
            seeds: vec![1],
            sets: vec!["epochs=1".into()],
            steps: Some(20),
            device: "cpu".into(),
            backend: "local".into(),
            parallel: 1,
            slurm_job: None,
            created_unix_s: 1.0,
            runs: vec![],
        };
        plan.save(parent.path()).expect("save");
        assert_eq!(
            SweepPlan::load(parent.path(), &plan.id).expect("load"),
            plan
        );
        assert_eq!(list_sweeps(parent.path()), vec![plan]);
        let missing = SweepPlan::load(parent.path(), "nope").expect_err("missing");
        assert!(missing.to_string().contains("sweep.json"), "{missing}");
    }
}
