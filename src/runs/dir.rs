//! Run directories: `<parent>/<YYYYmmdd-HHMMSS>-<scenario>/` with the resolved config, the two
//! JSONL logs and a `checkpoints/` folder.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::clock::LocalTime;
use super::error::{IoContext, Result, RunsError};
use super::lock::{RunLock, LOCK_FILE};

/// Environment variable that chooses the runs parent when `--runs-dir` is not given.
pub const RUNS_ENV: &str = "GRADTOP_RUNS";
/// Parent used when neither `--runs-dir` nor `$GRADTOP_RUNS` is set, relative to the working dir.
pub const DEFAULT_RUNS_PARENT: &str = "runs";
/// The resolved scenario, as TOML.
pub const CONFIG_FILE: &str = "config.toml";
/// One JSON object per metric record.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// One JSON object per run event.
pub const EVENTS_FILE: &str = "events.jsonl";
/// Folder of `step-<N>.safetensors` + `step-<N>.json` pairs.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// How many `-2`, `-3`, … suffixes to try before giving up on a unique name.
const MAX_NAME_SUFFIX: u32 = 1000;

/// The parent folder of run directories: `cli` (`--runs-dir`), else `$GRADTOP_RUNS` if set and
/// non-empty, else `./runs`.
pub fn resolve_runs_parent(cli: Option<&Path>) -> PathBuf {
    runs_parent_from(cli, std::env::var_os(RUNS_ENV))
}

/// [`resolve_runs_parent`] with the environment value passed in, so it is testable without
/// mutating the process environment.
fn runs_parent_from(cli: Option<&Path>, env: Option<std::ffi::OsString>) -> PathBuf {
    if let Some(dir) = cli {
        return dir.to_path_buf();
    }
    match env {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_RUNS_PARENT),
    }
}

/// A scenario name made safe for a directory name: ASCII letters, digits, `-`, `_`, `.` kept,
/// anything else becomes `-`; never empty and never starting with a dot.
pub fn sanitize_scenario_name(scenario: &str) -> String {
    let cleaned: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        "run".to_string()
    } else {
        trimmed.to_string()
    }
}

/// A run (or sweep) name without its `YYYYmmdd-HHMMSS-` start time; `None` when it does not
/// begin with one.
pub fn name_without_stamp(name: &str) -> Option<&str> {
    LocalTime::parse_compact(name).map(|_| name.get(16..).unwrap_or_default())
}

/// A run directory on disk; constructing one (create or open) guarantees `config.toml` and
/// `checkpoints/` exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates a fresh run directory for `scenario` under `parent` (created if missing), named
    /// after the local time now, and writes `config` as its `config.toml`.
    pub fn create(parent: &Path, scenario: &str, config: &toml::Table) -> Result<Self> {
        let text = toml::to_string(config).map_err(|e| RunsError::Invalid {
            path: parent.to_path_buf(),
            what: format!("the resolved config cannot be written as TOML: {e}"),
        })?;
        Self::create_at(parent, scenario, LocalTime::now(), &text)
    }

    /// Like [`RunDir::create`] with the config already rendered as TOML text (checked to parse),
    /// so comments and key order of a resolved scenario survive.
    pub fn create_with_config_text(
        parent: &Path,
        scenario: &str,
        config_toml: &str,
    ) -> Result<Self> {
        config_toml
            .parse::<toml::Table>()
            .map_err(|e| RunsError::Parse {
                path: PathBuf::from(CONFIG_FILE),
                line: None,
                message: format!("the resolved config is not valid TOML: {e}"),
            })?;
        Self::create_at(parent, scenario, LocalTime::now(), config_toml)
    }

    /// Creates the directory for a given start time; a name already taken (two runs in the same
    /// second) gets `-2`, `-3`, … appended. `create_dir` is atomic, so two processes never get
    /// the same directory.
    pub(crate) fn create_at(
        parent: &Path,
        scenario: &str,
        started: LocalTime,
        config_toml: &str,
    ) -> Result<Self> {
        fs::create_dir_all(parent).at("creating runs folder", parent)?;
        let base = format!("{}-{}", started.compact(), sanitize_scenario_name(scenario));
        let mut path = parent.join(&base);
        let mut suffix = 1;
        loop {
            match fs::create_dir(&path) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    suffix += 1;
                    if suffix > MAX_NAME_SUFFIX {
                        return Err(RunsError::Invalid {
                            path: parent.join(&base),
                            what: format!(
                                "{MAX_NAME_SUFFIX} run directories with this name already exist"
                            ),
                        });
                    }
                    path = parent.join(format!("{base}-{suffix}"));
                }
                Err(e) => return Err(e).at("creating run directory", &path),
            }
        }
        let config_path = path.join(CONFIG_FILE);
        let mut config_file = fs::File::create(&config_path).at("creating", &config_path)?;
        config_file
            .write_all(config_toml.as_bytes())
            .and_then(|()| config_file.sync_all())
            .at("writing", &config_path)?;
        let checkpoints = path.join(CHECKPOINTS_DIR);
        fs::create_dir(&checkpoints).at("creating", &checkpoints)?;
        for log in [METRICS_FILE, EVENTS_FILE] {
            let log_path = path.join(log);
            fs::File::create(&log_path).at("creating", &log_path)?;
        }
        Ok(Self { path })
    }

    /// Opens an existing run directory (for resume, watch, export), checking that it has a
    /// `config.toml` and a `checkpoints/` folder; the error names the path and what is missing.
    /// Missing logs are allowed: they are created on first append.
    pub fn open(path: &Path) -> Result<Self> {
        let meta = fs::metadata(path).map_err(|e| RunsError::Invalid {
            path: path.to_path_buf(),
            what: format!("not a run directory: {e}"),
        })?;
        if !meta.is_dir() {
            return Err(RunsError::Invalid {
                path: path.to_path_buf(),
                what: "not a run directory: it is a file".to_string(),
            });
        }
        let missing: Vec<&str> = [(CONFIG_FILE, false), (CHECKPOINTS_DIR, true)]
            .into_iter()
            .filter(|(name, is_dir)| {
                let p = path.join(name);
                if *is_dir {
                    !p.is_dir()
                } else {
                    !p.is_file()
                }
            })
            .map(|(name, _)| name)
            .collect();
        if !missing.is_empty() {
            return Err(RunsError::Invalid {
                path: path.to_path_buf(),
                what: format!("not a run directory: missing {}", missing.join(" and ")),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// The run directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `config.toml`, the resolved scenario.
    pub fn config_path(&self) -> PathBuf {
        self.path.join(CONFIG_FILE)
    }

    /// `metrics.jsonl`.
    pub fn metrics_path(&self) -> PathBuf {
        self.path.join(METRICS_FILE)
    }

    /// `events.jsonl`.
    pub fn events_path(&self) -> PathBuf {
        self.path.join(EVENTS_FILE)
    }

    /// `checkpoints/`.
    pub fn checkpoints_dir(&self) -> PathBuf {
        self.path.join(CHECKPOINTS_DIR)
    }

    /// `lock`, present while a process writes to the run.
    pub fn lock_path(&self) -> PathBuf {
        self.path.join(LOCK_FILE)
    }

    /// The resolved config, parsed.
    pub fn config(&self) -> Result<toml::Table> {
        let path = self.config_path();
        let text = fs::read_to_string(&path).at("reading", &path)?;
        text.parse::<toml::Table>().map_err(|e| RunsError::Parse {
            path,
            line: None,
            message: e.to_string(),
        })
    }

    /// The directory name without its timestamp prefix: the (sanitised) scenario name, possibly
    /// with a `-2`-style suffix.
    pub fn scenario_name(&self) -> String {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        name_without_stamp(&name).unwrap_or(&name).to_string()
    }

    /// The local start time encoded in the directory name, if it has one.
    pub fn started(&self) -> Option<LocalTime> {
        let name = self.path.file_name()?.to_string_lossy().into_owned();
        LocalTime::parse_compact(&name)
    }

    /// Deletes the run directory and everything in it; refused with [`RunsError::Locked`] while
    /// a live process holds the run's lock (the lock is taken first, so no resume can start
    /// during the deletion). A run directory that is a symbolic link is unlinked, and nothing is
    /// written in or removed from what it points to. In a runs folder that is read-only the
    /// deletion is refused before anything is removed.
    pub fn delete(self) -> Result<()> {
        let meta = fs::symlink_metadata(&self.path).at("inspecting", &self.path)?;
        if meta.is_symlink() {
            return fs::remove_file(&self.path).at("removing the link", &self.path);
        }
        let lock = RunLock::acquire(&self.path)?;
        // Moved aside first: a parent that does not let the run go refuses here, with every
        // file still in place, and a half-removed run is never listed.
        let doomed = self.deleting_path();
        fs::rename(&self.path, &doomed).at("deleting run directory", &self.path)?;
        let removed = fs::remove_dir_all(&doomed);
        if removed.is_err() {
            // What could not be removed stays under the run's name, where the user looks.
            let _ = fs::rename(&doomed, &self.path);
        }
        removed.at("deleting run directory", &self.path)?;
        // The lock file went with the directory; dropping the lock only closes it.
        drop(lock);
        Ok(())
    }

    /// The hidden sibling a run is moved to while it is deleted (listings skip hidden names).
    fn deleting_path(&self) -> PathBuf {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.path
            .with_file_name(format!(".{name}.deleting-{}", std::process::id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_second(second: u32) -> LocalTime {
        LocalTime {
            year: 2026,
            month: 11,
            day: 29,
            hour: 2,
            minute: 14,
            second,
        }
    }

    #[test]
    fn parent_comes_from_flag_then_env_then_default() {
        let flag = Path::new("/data/runs");
        assert_eq!(
            runs_parent_from(Some(flag), Some("/env/runs".into())),
            PathBuf::from("/data/runs")
        );
        assert_eq!(
            runs_parent_from(None, Some("/env/runs".into())),
            PathBuf::from("/env/runs")
        );
        assert_eq!(
            runs_parent_from(None, Some("".into())),
            PathBuf::from("runs")
        );
        assert_eq!(runs_parent_from(None, None), PathBuf::from("runs"));
    }

    #[test]
    fn runs_started_in_the_same_second_get_distinct_directories() {
        let parent = tempfile::tempdir().expect("temp dir");
        let nested = parent.path().join("a/b");
        let names: Vec<String> = (0..3)
            .map(|_| {
                let run = RunDir::create_at(
                    &nested,
                    "mnist cnn/v2",
                    at_second(55),
                    "kind = \"classifier\"",
                )
                .expect("create");
                run.path()
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            vec![
                "20261129-021455-mnist-cnn-v2",
                "20261129-021455-mnist-cnn-v2-2",
                "20261129-021455-mnist-cnn-v2-3"
            ]
        );
        let run = RunDir::open(&nested.join(&names[1])).expect("open");
        assert_eq!(run.scenario_name(), "mnist-cnn-v2-2");
        assert_eq!(run.started(), Some(at_second(55)));
        assert!(run.checkpoints_dir().is_dir());
        assert_eq!(fs::read_to_string(run.metrics_path()).expect("metrics"), "");
        let config = run.config().expect("config");
        assert_eq!(
            config.get("kind").and_then(|k| k.as_str()),
            Some("classifier")
        );
    }

    #[test]
    fn create_writes_the_resolved_table() {
        let parent = tempfile::tempdir().expect("temp dir");
        let mut table = toml::Table::new();
        table.insert("kind".into(), "gan".into());
        table.insert("lr_g".into(), 2e-4.into());
        let run = RunDir::create(parent.path(), "gan-mlp", &table).expect("create");
        assert_eq!(run.config().expect("config"), table);
        assert!(run.started().is_some());
        assert!(RunDir::create_with_config_text(parent.path(), "x", "kind = ").is_err());
    }

    #[test]
    fn open_names_the_path_and_what_is_missing() {
        let parent = tempfile::tempdir().expect("temp dir");
        let bare = parent.path().join("bare");
        fs::create_dir(&bare).expect("mkdir");
        let message = RunDir::open(&bare).expect_err("bare dir").to_string();
        assert!(message.contains(&bare.display().to_string()), "{message}");
        assert!(
            message.contains("missing config.toml and checkpoints"),
            "{message}"
        );
        fs::write(bare.join(CONFIG_FILE), "kind = \"rl\"").expect("write");
        let message = RunDir::open(&bare).expect_err("no checkpoints").to_string();
        assert!(message.ends_with("missing checkpoints"), "{message}");
        let message = RunDir::open(&parent.path().join("absent"))
            .expect_err("absent")
            .to_string();
        assert!(
            message.contains("absent") && message.contains("not a run directory"),
            "{message}"
        );
    }

    #[test]
    fn scenario_names_are_made_safe() {
        assert_eq!(sanitize_scenario_name("mnist-cnn"), "mnist-cnn");
        assert_eq!(sanitize_scenario_name("../etc/passwd"), "-etc-passwd");
        assert_eq!(sanitize_scenario_name(""), "run");
        assert_eq!(sanitize_scenario_name("..."), "run");
        assert_eq!(sanitize_scenario_name("gan dcgan ü"), "gan-dcgan--");
    }
}
