//! Converting a run's metrics for other tools: CSV, and TensorBoard event files. A TensorBoard
//! run (another framework's) converts the same way, its scalar tags as metric names.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::dir::RunDir;
use super::error::{IoContext, Result, RunsError};
use super::log::{drop_superseded, EventRecord, MetricRecord, RunEvent};
use super::tail::read_jsonl;
use super::tensorboard::{is_tensorboard_run, read_tensorboard_run};
use super::tfevents::TfEventsWriter;

/// Header of the CSV export.
pub const CSV_HEADER: &str = "step,t,name,value";

/// Why an export failed: the run could not be read (bad input), or the output could not be
/// written (a full disk), which leaves no partial file behind.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The path is not a run directory, or its files cannot be read.
    #[error(transparent)]
    Run(#[from] RunsError),
    /// The output could not be written.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file being written (or `standard output`).
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Writes `run_dir`'s metrics as CSV in long form, one row per record in log order:
/// `step,t,name,value` (`t` in seconds of run time, a non-finite value as `NaN`), without the
/// records a resume superseded. For a TensorBoard run `t` counts from its first event. Long form keeps
/// metrics logged at different steps apart without empty cells; pivot with
/// `df.pivot_table(index="step", columns="name", values="value")`. `out_name` names `out` in a
/// write error. Returns the number of rows.
pub fn export_csv(
    run_dir: &Path,
    out: &mut dyn Write,
    out_name: &Path,
) -> std::result::Result<usize, ExportError> {
    let (records, _) = run_metrics(run_dir)?;
    write_csv(&records, out).map_err(|source| ExportError::Write {
        path: out_name.to_path_buf(),
        source,
    })?;
    Ok(records.len())
}

/// Writes `run_dir`'s metrics as CSV (see [`export_csv`]) to the file `path`; a file the disk
/// cannot take is removed rather than left cut short.
pub fn export_csv_file(run_dir: &Path, path: &Path) -> std::result::Result<usize, ExportError> {
    let (records, _) = run_metrics(run_dir)?;
    write_or_remove(path, |file| {
        let mut out = std::io::BufWriter::new(file);
        write_csv(&records, &mut out)?;
        out.flush()
    })?;
    Ok(records.len())
}

/// Creates (or truncates) `path` and fills it with `fill`; when that fails, a regular file is
/// removed, so no cut-short export is mistaken for a whole one (a device or a pipe is left).
fn write_or_remove(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::result::Result<(), ExportError> {
    let write_err = |source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::create(path).map_err(write_err)?;
    let written = fill(&mut file).and_then(|()| file.sync_data().or_else(ignore_unsyncable));
    if let Err(e) = written {
        if file.metadata().is_ok_and(|m| m.is_file()) {
            let _ = std::fs::remove_file(path);
        }
        return Err(write_err(e));
    }
    Ok(())
}

/// `sync_data` on a pipe or a terminal fails with EINVAL: nothing to sync there.
fn ignore_unsyncable(e: std::io::Error) -> std::io::Result<()> {
    if e.raw_os_error() == Some(libc::EINVAL) {
        Ok(())
    } else {
        Err(e)
    }
}

/// The CSV rows of `records`, header first.
fn write_csv(records: &[MetricRecord], out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    for record in records {
        writeln!(
            out,
            "{},{},{},{}",
            record.step,
            record.t,
            csv_field(&record.name),
            if record.value.is_finite() {
                record.value.to_string()
            } else {
                "NaN".to_string()
            }
        )?;
    }
    Ok(())
}

/// The metrics of a gradtop run or a TensorBoard run, and the Unix time of its `t = 0`. Damaged
/// records of a TensorBoard run are skipped with a warning on stderr, as a reader of logs does.
fn run_metrics(run_dir: &Path) -> Result<(Vec<MetricRecord>, f64)> {
    if is_tensorboard_run(run_dir) {
        let (records, start, skipped) = read_tensorboard_run(run_dir)?;
        for record in skipped {
            eprintln!("warning: {record}");
        }
        return Ok((records, start));
    }
    let run = RunDir::open(run_dir)?;
    Ok((current_metrics(&run)?, start_unix_s(&run)?))
}

/// The run's metrics without the records a resume superseded.
fn current_metrics(run: &RunDir) -> Result<Vec<MetricRecord>> {
    let (records, _) = read_jsonl::<MetricRecord>(&run.metrics_path())?;
    let (events, _) = read_jsonl::<EventRecord>(&run.events_path())?;
    Ok(drop_superseded(records, &events))
}

/// Quotes a CSV field if it contains a separator, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Writes `run_dir`'s metrics as a TensorBoard event file in `out_dir` (one scalar series per
/// metric name) and returns the file's path. Wall times are the run's start time plus `t`.
///
/// Give each run its own `out_dir` (e.g. `<logdir>/<run dir name>`): TensorBoard shows one run
/// per folder. The file is named after the run's start, so exporting again replaces it; a file
/// the disk cannot take is removed rather than left cut short.
pub fn export_tensorboard(
    run_dir: &Path,
    out_dir: &Path,
) -> std::result::Result<PathBuf, ExportError> {
    let (records, start_unix_s) = run_metrics(run_dir)?;
    let mut writer = TfEventsWriter::create(out_dir, start_unix_s).map_err(as_write_error)?;
    let path = writer.path().to_path_buf();
    let written = records
        .iter()
        .try_for_each(|record| {
            writer.add_scalar(
                &record.name,
                record.step,
                start_unix_s + record.t,
                record.value as f32,
            )
        })
        .and_then(|()| writer.flush());
    if let Err(e) = written {
        drop(writer);
        let _ = std::fs::remove_file(&path);
        return Err(as_write_error(e));
    }
    Ok(path)
}

/// A failed file-system call of an export's writer, as the write error it is.
fn as_write_error(e: RunsError) -> ExportError {
    match e {
        RunsError::Io { path, source, .. } => ExportError::Write { path, source },
        other => ExportError::Run(other),
    }
}

/// Unix time of `t = 0`: from the first `start` event, else when `config.toml` was written.
fn start_unix_s(run: &RunDir) -> Result<f64> {
    let (events, _) = read_jsonl::<EventRecord>(&run.events_path())?;
    let from_event = events.iter().find_map(|e| match e.event {
        RunEvent::Start { unix_s, .. } => Some(unix_s - e.t),
        _ => None,
    });
    if let Some(start) = from_event {
        return Ok(start);
    }
    let config = run.config_path();
    let modified = std::fs::metadata(&config)
        .and_then(|m| m.modified())
        .at("inspecting", &config)?;
    Ok(modified
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::log::{MetricsLog, RunClock};

    #[test]
    fn csv_has_header_and_one_row_per_record() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = RunDir::create_with_config_text(parent.path(), "mnist", "kind = \"classifier\"")
            .expect("create");
        let mut log =
            MetricsLog::open(&run.metrics_path(), RunClock::starting_at(0.0)).expect("open");
        for (step, name, value, t) in [
            (1, "train_loss", 2.5, 0.5),
            (2, "train_loss", f64::NAN, 1.0),
            (2, "acc,top1", 0.125, 1.25),
        ] {
            log.append(&MetricRecord {
                step,
                t,
                name: name.into(),
                value,
            })
            .expect("append");
        }
        log.flush().expect("flush");
        let mut out = Vec::new();
        let rows = export_csv(run.path(), &mut out, Path::new("out")).expect("export");
        assert_eq!(rows, 3);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "step,t,name,value\n1,0.5,train_loss,2.5\n2,1,train_loss,NaN\n2,1.25,\"acc,top1\",0.125\n"
        );
    }

    #[test]
    fn export_of_a_non_run_names_what_is_missing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = export_csv(dir.path(), &mut Vec::new(), Path::new("out")).expect_err("not a run");
        let message = err.to_string();
        assert!(message.contains("config.toml"), "{message}");
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
    }

    /// Writes a sample run, its TensorBoard export and a checkpoint under `$GRADTOP_SAMPLE_OUT`
    /// for the Python readers (`tests/tools/read_tfevents.py`, `safetensors`).
    #[test]
    #[ignore = "writes files for manual checks with Python tools"]
    fn write_samples_for_python_readers() {
        use crate::runs::checkpoint::write_checkpoint;
        use candle_core::{Device, Tensor};

        let Some(out) = std::env::var_os("GRADTOP_SAMPLE_OUT") else {
            eprintln!("GRADTOP_SAMPLE_OUT not set: nothing written");
            return;
        };
        let out = std::path::PathBuf::from(out);
        let run = RunDir::create_with_config_text(&out, "mnist-cnn", "kind = \"classifier\"")
            .expect("create");
        let mut logs = crate::runs::log::RunLogs::open(&run).expect("open");
        logs.event(
            0,
            RunEvent::Start {
                unix_s: 1_700_000_000.0,
                resumed_from: None,
            },
        )
        .expect("start");
        for step in 1..=50u64 {
            logs.metrics
                .append(&MetricRecord {
                    step,
                    t: step as f64 * 0.5,
                    name: "train_loss".into(),
                    value: 2.3 / step as f64,
                })
                .expect("metric");
            if step % 10 == 0 {
                logs.metrics
                    .append(&MetricRecord {
                        step,
                        t: step as f64 * 0.5,
                        name: "test_accuracy".into(),
                        value: 0.9 + step as f64 / 1000.0,
                    })
                    .expect("metric");
            }
        }
        logs.sync().expect("sync");
        let tb = export_tensorboard(run.path(), &out.join("tensorboard")).expect("export");
        println!("tensorboard file: {}", tb.display());
        let device = Device::Cpu;
        let weight = Tensor::arange(0f32, 288., &device)
            .and_then(|t| t.reshape((32, 1, 3, 3)))
            .expect("tensor");
        let bias = Tensor::from_vec(vec![0.5f32; 32], 32, &device).expect("tensor");
        let info = write_checkpoint(
            &run.checkpoints_dir(),
            50,
            &[
                ("conv1.weight".to_string(), weight.clone()),
                ("conv1.bias".to_string(), bias),
                (
                    "adam.m.conv1.weight".to_string(),
                    (weight * 0.25).expect("scale"),
                ),
            ],
            &serde_json::json!({"epoch": 1, "adam_step": 50}),
        )
        .expect("checkpoint");
        println!("checkpoint: {}", info.tensors_path.display());
    }
}
