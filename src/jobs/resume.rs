//! Continuing a run or following it: the job spec that resumes a run directory from its own
//! config, and the scenario a watched run was started with. Checks here turn into clear
//! messages (exit status 2) before any thread starts.

use std::path::{Path, PathBuf};

use super::protocol::{JobSpec, RunTarget};
use crate::device::DeviceChoice;
use crate::models::classifier::ClassifierState;
use crate::models::gan::resume::GanState;
use crate::models::rl::resume::RlState;
use crate::runs::lock::LOCK_FILE;
use crate::runs::{
    check_lock_file, check_resumable, lock_holder, Holder, ResumePoint, RunDir, RunsError,
};
use crate::scenario::JobKind;
use crate::scenario::{self, Scenario};

/// Why a run cannot be resumed or watched; all of these are the user's input, not a crash.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// The path is not a run directory, or its files cannot be read.
    #[error(transparent)]
    Runs(#[from] crate::runs::RunsError),
    /// Another live process is writing the run.
    #[error(
        "run {} is still running in {holder}; stop it first (or follow it with \
         `gradtop watch`); if no gradtop process is writing it, delete {}",
        run.display(),
        run.join(LOCK_FILE).display()
    )]
    Running {
        /// The run directory.
        run: PathBuf,
        /// The process holding its lock.
        holder: Holder,
    },
    /// The checkpoint a resume would continue from holds a state no run could have written
    /// (an edited or damaged sidecar).
    #[error("{}: {what}", path.display())]
    Sidecar {
        /// The sidecar.
        path: PathBuf,
        /// The field at fault and why.
        what: String,
    },
    /// `config.toml` does not parse as a scenario.
    #[error("{}: {source}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// The scenario parser's error.
        source: Box<scenario::ScenarioError>,
    },
}

/// The job spec that continues the run in `run_dir` with its own config; refused while another
/// process holds the run's lock, or when its lock file is not a plain file.
pub fn resume_spec(
    run_dir: &Path,
    data_dir: Option<PathBuf>,
    device: DeviceChoice,
    max_steps: Option<u64>,
) -> Result<JobSpec, ResumeError> {
    let run = RunDir::open(run_dir)?;
    if let Some(holder) = lock_holder(run.path()) {
        return Err(ResumeError::Running {
            run: run.path().to_path_buf(),
            holder,
        });
    }
    check_lock_file(run.path())?;
    // A run whose checkpoints are all damaged, or whose newest one holds a state no run could
    // have written, is refused here, before anything is written.
    let point = check_resumable(&run.checkpoints_dir())?;
    let parsed = run_scenario(&run)?;
    if let Some(point) = point {
        check_state(parsed.settings.kind(), &point)?;
    }
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

/// Validates a checkpoint's sidecar state as its kind's job will read it: each field's type
/// (named by its path) and every value, as a scenario's are.
pub fn check_state(kind: JobKind, point: &ResumePoint) -> Result<(), ResumeError> {
    fn read<S: serde::de::DeserializeOwned>(state: &serde_json::Value) -> Result<S, String> {
        serde_path_to_error::deserialize(state).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }
    let step = point.info.step;
    let checked = match kind {
        JobKind::Classifier => read::<ClassifierState>(&point.state).and_then(|s| s.check(step)),
        JobKind::Gan => read::<GanState>(&point.state).and_then(|s| s.check(step)),
        JobKind::Rl => read::<RlState>(&point.state).and_then(|s| s.check(step)),
    };
    checked.map_err(|what| ResumeError::Sidecar {
        path: point.info.sidecar_path.clone(),
        what,
    })
}

impl ResumeError {
    /// Why the resume's job could not take the run's lock, in the words the check before it
    /// starts would have used, so a resume that loses the race for the lock says the same as
    /// one refused at once.
    pub fn from_lock(err: RunsError) -> Self {
        match err {
            RunsError::Locked { run, holder, .. } => ResumeError::Running { run, holder },
            other => ResumeError::Runs(other),
        }
    }
}

/// The scenario a run was started with, named after the run's scenario (from `config.toml`).
pub fn run_scenario(run: &RunDir) -> Result<Scenario, ResumeError> {
    let config_path = run.config_path();
    let text =
        std::fs::read_to_string(&config_path).map_err(|source| crate::runs::RunsError::Io {
            action: "reading",
            path: config_path.clone(),
            source,
        })?;
    let scenario_text = crate::runs::sweep::scenario_text(&text);
    let mut parsed =
        scenario::parse(&config_path, scenario_text).map_err(|source| ResumeError::Config {
            path: config_path.clone(),
            source: Box::new(source),
        })?;
    parsed.name = scenario_of(run, &text);
    Ok(parsed)
}

/// The scenario a run directory is named after: its name without the start time, or for a
/// sweep's run (`…-fashion-cnn-p03`) the sweep's scenario.
pub fn scenario_of(run: &RunDir, config: &str) -> String {
    config
        .parse::<toml::Table>()
        .ok()
        .as_ref()
        .and_then(crate::runs::sweep::member_of)
        .and_then(|member| member.scenario().map(str::to_string))
        .unwrap_or_else(|| run.scenario_name())
}

/// The scenario of the run in `run_dir`, for `gradtop watch` to open the right tab.
pub fn watch_scenario(run_dir: &Path) -> Result<Scenario, ResumeError> {
    run_scenario(&RunDir::open(run_dir)?)
}
