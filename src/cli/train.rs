//! `gradtop train … --headless` and `gradtop resume`: a job run to its end with progress on
//! stdout, and the exit status its outcome deserves.

use std::process::ExitCode;

use color_eyre::eyre::{self, WrapErr};

use super::headless::{self, Outcome};
use super::UsageError;
use crate::data;
use crate::jobs::{self, interrupt, JobSpec};
use crate::scenario::Settings;

/// Checks what can be checked before a thread starts (the device, the dataset), then runs the
/// job to its end with progress on stdout.
pub fn run_headless(spec: JobSpec, json: bool) -> eyre::Result<ExitCode> {
    spec.device.open().map_err(UsageError)?;
    match (&spec.settings, spec.dataset()) {
        // A folder's files are checked from their headers; the job reads them whole.
        (Settings::Classifier(c), Some(data::DatasetName::Folder)) => {
            if let Some(source) = &c.data {
                source.image_shape()?;
            }
        }
        (_, Some(dataset)) => {
            data::find_dataset(dataset, spec.data_dir.as_deref())?;
        }
        (_, None) => {}
    }
    interrupt::install_handlers().wrap_err("installing signal handlers")?;
    let kind = spec.kind();
    let handle = jobs::start(spec).wrap_err("starting the training thread")?;
    let mut stdout = std::io::stdout().lock();
    Ok(exit_code(headless::drive(handle, kind, json, &mut stdout)?))
}

/// 128 + N after stop signal N arrived, as shells report a process that signal N ended.
pub fn signal_exit_code() -> Option<ExitCode> {
    interrupt::signal().map(|signal| ExitCode::from((128 + signal).clamp(0, 255) as u8))
}

/// Exit status of a finished headless run: 0, 1 when it failed, 2 when it was refused,
/// 128 + N after signal N.
fn exit_code(outcome: Outcome) -> ExitCode {
    match &outcome {
        Outcome::Success(_) => return signal_exit_code().unwrap_or(ExitCode::SUCCESS),
        Outcome::Failed(reason) => eprintln!("Error: the run failed: {reason}"),
        // The same line as a refusal before the job started.
        Outcome::Refused(reason) => eprintln!("Error: {reason}"),
    }
    ExitCode::from(outcome.exit_status())
}
