//! Run directories: every run, dashboard or headless, lives in its own folder so it outlives the
//! process that trains it and can be watched, resumed, compared and exported from anywhere.
//!
//! ```text
//! runs/20261129-021455-mnist-cnn/
//!   config.toml       the resolved scenario (`kind = "classifier"`, …)
//!   metrics.jsonl     {"step":120,"t":3.52,"name":"train_loss","value":0.31}
//!   events.jsonl      {"step":400,"t":12.5,"kind":"set","param":"lr","value":0.0005}
//!   checkpoints/      step-1200.safetensors + step-1200.json, the newest N kept
//!   lock              pid of the process writing the run, flocked while it runs
//!   control.jsonl     {"id":"12345-1","command":"set","param":"lr","value":0.0005}, appended
//!                     by other processes to steer the run (pause, resume, stop, checkpoint, set)
//! ```
//!
//! * A job: [`resolve_runs_parent`] → [`RunDir::create`] → [`RunLock::acquire`] →
//!   [`RunLogs::open`], log `RunEvent::start_now(None)`, then [`RunLogs::metric`] per point,
//!   [`RunLogs::event`] for pause/resume/set/warning/error, [`write_checkpoint`] +
//!   [`keep_last`] (tensors from [`varmap_tensors`]), and finally an `end` event and
//!   [`RunLogs::sync`].
//! * `resume`: [`RunDir::open`] → [`RunLock::acquire`] (refuses a running run) →
//!   [`load_latest_checkpoint`] → [`restore_varmap`] → [`RunLogs::open`] (same files, clock
//!   continues) → log `RunEvent::start_now(Some(step))`.
//! * `watch`: [`MetricsTail`] / [`EventsTail`] polled on a timer; [`run_status`] or an `end`
//!   event says the run is over. Curves drop points a resume superseded ([`drop_superseded`]).
//! * The Runs tab: a [`RunsIndex`] refreshed on a timer; [`read_run_curves`] for a run's chart;
//!   [`RunDir::delete`] for `d`.
//! * `export`: [`export_csv`] / [`export_csv_file`], [`export_tensorboard`].
//! * Other frameworks' runs: a folder of TensorBoard event files is a run too
//!   ([`find_tensorboard_runs`], [`TensorBoardRun`] over [`EventFileTail`]s); the index lists
//!   it, [`read_run_curves`] charts it and the exports convert it, read-only.
//!
//! * Steering: [`send_command`] appends to `control.jsonl`; the job reads it with a
//!   [`ControlTail`] and logs a `control` event per command.
//!
//! Readers never write and never take the lock (a sender appends to `control.jsonl` only).
//!
//! Unix only: the lock uses `flock(2)`, run names use `localtime_r`.

pub mod checkpoint;
pub mod clock;
pub mod control;
pub mod curves;
pub mod dir;
pub mod error;
pub mod export;
pub mod list;
pub mod lock;
pub mod log;
pub mod sweep;
pub mod tail;
pub mod tensorboard;
pub mod tfevents;
pub mod tfevents_reader;

pub use checkpoint::{
    check_resumable, keep_last, latest_whole_checkpoint, load_checkpoint, load_latest_checkpoint,
    restore_varmap, scan_checkpoints, varmap_tensors, whole_checkpoints, write_checkpoint,
    Checkpoint, CheckpointInfo, CheckpointScan, Latest, ResumePoint,
};
pub use clock::LocalTime;
pub use control::{
    may_steer, send_command, ControlCommand, ControlError, ControlLine, ControlRecord, ControlTail,
    CONTROL_FILE,
};
pub use curves::{read_run_curves, MetricCurve, RunCurves};
pub use dir::{resolve_runs_parent, RunDir, RUNS_ENV};
pub use error::{Holder, Rejected, Result, RunsError};
pub use export::{export_csv, export_csv_file, export_tensorboard, ExportError};
pub use list::{
    list_runs, run_status, summarize_run, BestFigure, RunStatus, RunSummary, RunsIndex,
};
pub use lock::{check_lock_file, lock_holder, RunLock};
pub use log::{
    drop_superseded, EndStatus, EventRecord, EventsLog, MetricRecord, MetricsLog, RunClock,
    RunEvent, RunLogs,
};
pub use sweep::{SweepMember, SweepPlan, SweepRun};
pub use tail::{read_jsonl, EventsTail, JsonlTail, MetricsTail};
pub use tensorboard::{
    find_tensorboard_runs, is_tensorboard_run, read_tensorboard_run, TensorBoardRun,
    TENSORBOARD_KIND,
};
pub use tfevents::TfEventsWriter;
pub use tfevents_reader::{read_event_file, EventFileTail, ScalarPoint, SkippedRecord};

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};
    use std::path::Path;

    /// Logs `train_loss` for steps `from..=to` and checkpoints every 10 steps, as a job would.
    fn train(run: &RunDir, logs: &mut RunLogs, from: u64, to: u64) {
        for step in from..=to {
            logs.metric(step, "train_loss", 1.0 / step as f64)
                .expect("metric");
            if step % 10 == 0 {
                let weights = Tensor::full(step as f32, (2, 2), &Device::Cpu).expect("tensor");
                let info = write_checkpoint(
                    &run.checkpoints_dir(),
                    step,
                    &[("fc.weight".to_string(), weights)],
                    &serde_json::json!({ "step": step }),
                )
                .expect("checkpoint");
                keep_last(&run.checkpoints_dir(), 2).expect("prune");
                logs.event(
                    step,
                    RunEvent::Checkpoint {
                        file: format!(
                            "checkpoints/{}",
                            info.tensors_path
                                .file_name()
                                .expect("name")
                                .to_string_lossy()
                        ),
                        reason: "periodic".into(),
                    },
                )
                .expect("event");
            }
        }
    }

    #[test]
    fn a_crashed_run_resumes_from_its_last_checkpoint_into_the_same_logs() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run =
            RunDir::create_with_config_text(parent.path(), "mnist-cnn", "kind = \"classifier\"")
                .expect("create");
        {
            let _lock = RunLock::acquire(run.path()).expect("lock");
            let mut logs = RunLogs::open(&run).expect("open");
            logs.event(0, RunEvent::start_now(None)).expect("start");
            train(&run, &mut logs, 1, 25);
            logs.sync().expect("sync");
            // The process dies here: no end event.
        }
        assert_eq!(
            run_status(run.path()).expect("status"),
            RunStatus::Interrupted
        );

        let reopened = RunDir::open(run.path()).expect("open");
        let lock = RunLock::acquire(reopened.path()).expect("lock");
        let checkpoint = load_latest_checkpoint(&reopened.checkpoints_dir(), &Device::Cpu)
            .expect("load")
            .checkpoint
            .expect("a checkpoint");
        assert_eq!(checkpoint.step, 20);
        assert_eq!(checkpoint.state["step"], 20);
        let weights = checkpoint.tensors["fc.weight"]
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .expect("weights");
        assert_eq!(weights, vec![20.0; 4]);
        let mut logs = RunLogs::open(&reopened).expect("reopen");
        logs.event(checkpoint.step, RunEvent::start_now(Some(checkpoint.step)))
            .expect("start");
        train(&reopened, &mut logs, checkpoint.step + 1, 40);
        logs.event(
            40,
            RunEvent::End {
                status: EndStatus::Finished,
                summary: None,
            },
        )
        .expect("end");
        drop(logs);
        assert_eq!(
            run_status(reopened.path()).expect("status"),
            RunStatus::Running
        );
        drop(lock);

        let summary = summarize_run(reopened.path()).expect("summary");
        assert_eq!((summary.status, summary.steps), (RunStatus::Finished, 40));
        let mut csv = Vec::new();
        assert_eq!(
            export_csv(reopened.path(), &mut csv, Path::new("csv")).expect("csv"),
            40
        );
        let rows: Vec<(u64, f64)> = String::from_utf8(csv)
            .expect("utf8")
            .lines()
            .skip(1)
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                (
                    fields[0].parse().expect("step"),
                    fields[1].parse().expect("t"),
                )
            })
            .collect();
        let steps: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(
            steps,
            (1..=40).collect::<Vec<_>>(),
            "steps continue once each"
        );
        assert!(
            rows.windows(2).all(|w| w[0].1 <= w[1].1),
            "t never goes back"
        );
        let kept: Vec<u64> = whole_checkpoints(&reopened.checkpoints_dir())
            .expect("scan")
            .iter()
            .map(|c| c.step)
            .collect();
        assert_eq!(kept, vec![40, 30]);
    }
}
