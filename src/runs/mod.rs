//! Run directories: every run, dashboard or headless, lives in its own folder so it outlives the
//! process that trains it and can be watched, resumed, compared and exported from anywhere.
//!
//! ```text
//! runs/20261129-021455-mnist-cnn/
//!   config.toml       the resolved scenario (`kind = "classifier"`, …)
//!   metrics.jsonl     {"step":120,"t":3.52,"name":"train_loss","value":0.31}
//!   events.jsonl      {"step":400,"t":12.5,"kind":"set","param":"lr","value":0.0005}
//!   checkpoints/      step-1200.safetensors + step-1200.json, the newest N kept
//!   lock              pid of the process writing the run, while it runs
//! ```
//!
//! A job creates a [`RunDir`], takes its [`RunLock`], writes through [`RunLogs`] and
//! [`write_checkpoint`]; `resume` opens the directory, takes the lock, loads
//! [`latest_whole_checkpoint`] and appends to the same logs; `watch` and the Runs tab read with
//! [`MetricsTail`] / [`EventsTail`] and [`list_runs`], never writing. [`export_csv`] and
//! [`export_tensorboard`] convert the metrics.
//!
//! Unix only: the lock uses `flock(2)` and `kill(pid, 0)`, run names use `localtime_r`.

pub mod checkpoint;
pub mod clock;
pub mod dir;
pub mod error;
pub mod export;
pub mod list;
pub mod lock;
pub mod log;
pub mod tail;
pub mod tfevents;

pub use checkpoint::{
    keep_last, latest_whole_checkpoint, load_checkpoint, load_latest_checkpoint, restore_varmap,
    varmap_tensors, whole_checkpoints, write_checkpoint, Checkpoint, CheckpointInfo,
};
pub use clock::LocalTime;
pub use dir::{resolve_runs_parent, RunDir, RUNS_ENV};
pub use error::{Result, RunsError};
pub use export::{export_csv, export_tensorboard};
pub use list::{
    list_runs, run_status, summarize_run, BestFigure, RunStatus, RunSummary, RunsIndex,
};
pub use lock::{lock_holder, RunLock};
pub use log::{
    EndStatus, EventRecord, EventsLog, MetricRecord, MetricsLog, RunClock, RunEvent, RunLogs,
};
pub use tail::{read_jsonl, EventsTail, JsonlTail, MetricsTail};
pub use tfevents::TfEventsWriter;
