//! `gradtop export RUN_DIR --csv [FILE] | --tensorboard DIR`: a run's metrics for other tools;
//! RUN_DIR may be a TensorBoard run (a folder of event files) as well as a gradtop run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use color_eyre::eyre;

use super::UsageError;
use crate::runs::{
    export_csv, export_csv_file, export_tensorboard, is_tensorboard_run, ExportError, RunDir,
};

/// Exports what was asked for, saying where it went on stderr.
pub fn run(
    run_dir: &Path,
    csv: Option<Option<PathBuf>>,
    tensorboard: Option<&Path>,
) -> eyre::Result<ExitCode> {
    if csv.is_none() && tensorboard.is_none() {
        return Err(
            UsageError("say what to export: --csv [FILE] and/or --tensorboard DIR".into()).into(),
        );
    }
    if let Some(file) = csv {
        let mut stdout = std::io::stdout().lock();
        match export_csv_to(run_dir, file.as_deref(), &mut stdout) {
            Ok(count) => {
                if let Some(file) = file {
                    eprintln!("wrote {count} metric records to {}", file.display());
                }
            }
            // `gradtop export RUN --csv | head`: the reader has what it wanted; end quietly,
            // as any Unix filter does.
            Err(ExportError::Write { source, .. })
                if file.is_none() && source.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(logdir) = tensorboard {
        let path = export_tensorboard_to(run_dir, logdir)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `run_dir`'s metrics as CSV to `file`, or to `stdout` when `file` is `None`; returns
/// the number of records.
pub fn export_csv_to(
    run_dir: &Path,
    file: Option<&Path>,
    stdout: &mut dyn std::io::Write,
) -> Result<usize, ExportError> {
    match file {
        None => export_csv(run_dir, stdout, Path::new("standard output")),
        Some(path) => export_csv_file(run_dir, path),
    }
}

/// Writes `run_dir`'s metrics as a TensorBoard event file under `logdir/<run name>/` and returns
/// the file's path, so several exported runs sit side by side in one TensorBoard log dir.
pub fn export_tensorboard_to(run_dir: &Path, logdir: &Path) -> Result<PathBuf, ExportError> {
    let path = if is_tensorboard_run(run_dir) {
        run_dir.to_path_buf()
    } else {
        RunDir::open(run_dir)?.path().to_path_buf()
    };
    // `runs/.` or `.` name no folder; the resolved path does.
    let name = std::fs::canonicalize(&path)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_os_string()))
        .unwrap_or_else(|| "run".into());
    export_tensorboard(&path, &logdir.join(name))
}
