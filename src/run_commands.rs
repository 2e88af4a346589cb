//! The library side of `gradtop resume RUN_DIR` and `gradtop export RUN_DIR`: checks that turn
//! into clear messages (exit status 2) before any thread starts.

use std::path::{Path, PathBuf};

use crate::device::DeviceChoice;
use crate::jobs::{JobSpec, RunTarget};
use crate::runs::{export_csv, export_tensorboard, lock_holder, RunDir};
use crate::scenario::{self, Scenario};

/// Why a run cannot be resumed or exported; all of these are the user's input, not a crash.
#[derive(Debug, thiserror::Error)]
pub enum RunCommandError {
    /// The path is not a run directory, or its files cannot be read.
    #[error(transparent)]
    Runs(#[from] crate::runs::RunsError),
    /// Another live process is writing the run.
    #[error(
        "run {} is still running in process {pid}; stop it first (or follow it with \
         `gradtop watch`)",
        run.display()
    )]
    Running {
        /// The run directory.
        run: PathBuf,
        /// The process holding its lock.
        pid: u32,
    },
    /// `config.toml` does not parse as a scenario.
    #[error("{}: {source}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// The scenario parser's error.
        source: scenario::ScenarioError,
    },
    /// Writing an export failed.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The job spec that continues the run in `run_dir` with its own config; refused while another
/// process holds the run's lock.
pub fn resume_spec(
    run_dir: &Path,
    data_dir: Option<PathBuf>,
    device: DeviceChoice,
    max_steps: Option<u64>,
) -> Result<JobSpec, RunCommandError> {
    let run = RunDir::open(run_dir)?;
    if let Some(pid) = lock_holder(run.path()) {
        return Err(RunCommandError::Running {
            run: run.path().to_path_buf(),
            pid,
        });
    }
    let parsed = run_scenario(&run)?;
    Ok(JobSpec {
        data_dir,
        device,
        max_steps,
        run: RunTarget::Resume {
            dir: run.path().to_path_buf(),
        },
        ..JobSpec::new(&parsed)
    })
}

/// The scenario a run was started with, named after the run's scenario (from `config.toml`).
pub fn run_scenario(run: &RunDir) -> Result<Scenario, RunCommandError> {
    let config_path = run.config_path();
    let text =
        std::fs::read_to_string(&config_path).map_err(|source| crate::runs::RunsError::Io {
            action: "reading",
            path: config_path.clone(),
            source,
        })?;
    let mut parsed =
        scenario::parse(&config_path, &text).map_err(|source| RunCommandError::Config {
            path: config_path.clone(),
            source,
        })?;
    parsed.name = run.scenario_name();
    Ok(parsed)
}

/// The scenario of the run in `run_dir`, for `gradtop watch` to open the right tab.
pub fn watch_scenario(run_dir: &Path) -> Result<Scenario, RunCommandError> {
    run_scenario(&RunDir::open(run_dir)?)
}

/// Writes `run_dir`'s metrics as CSV to `file`, or to `stdout` when `file` is `None`; returns
/// the number of records.
pub fn export_csv_to(
    run_dir: &Path,
    file: Option<&Path>,
    stdout: &mut dyn std::io::Write,
) -> Result<usize, RunCommandError> {
    match file {
        None => Ok(export_csv(run_dir, stdout)?),
        Some(path) => {
            let write_err = |source| RunCommandError::Write {
                path: path.to_path_buf(),
                source,
            };
            let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(write_err)?);
            let count = export_csv(run_dir, &mut out)?;
            std::io::Write::flush(&mut out).map_err(write_err)?;
            Ok(count)
        }
    }
}

/// Writes `run_dir`'s metrics as a TensorBoard event file under `logdir/<run name>/` and returns
/// the file's path, so several exported runs sit side by side in one TensorBoard log dir.
pub fn export_tensorboard_to(run_dir: &Path, logdir: &Path) -> Result<PathBuf, RunCommandError> {
    let run = RunDir::open(run_dir)?;
    let name = run
        .path()
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "run".into());
    Ok(export_tensorboard(run.path(), &logdir.join(name))?)
}
