//! Append-only JSONL logs of a run: `metrics.jsonl` (one scalar per line) and `events.jsonl`
//! (what happened to the run, with the step it happened at).
//!
//! Records are buffered in memory and written with one `write` per flush; a flush happens when a
//! record arrives and [`FLUSH_INTERVAL`] has passed since the last one, on [`MetricsLog::flush`],
//! and on drop. A `kill -9` therefore loses at most the records of the last interval. Events are
//! rare and decide a run's status, so every event is written at once.
//!
//! A flush the disk cannot take (full, failing) is cut back off the file and returned as an
//! error naming the log, so a log never keeps half a record; nor is a log written once its path
//! names another file (deleted with its run, or replaced).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::dir::RunDir;
use super::error::{IoContext, Result};

/// Longest time a metric record waits in memory while records keep arriving.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);
/// A buffer this large is written at once, so memory stays bounded between intervals.
const MAX_PENDING_BYTES: usize = 1 << 20;
/// Run time added at a resume, so records of the new process never tie with old ones.
const RESUME_GAP_S: f64 = 1e-3;
/// How much of a log's end is read to find the last record when reopening it.
const TAIL_PROBE_BYTES: u64 = 64 * 1024;

/// One line of `metrics.jsonl`: `{"step":120,"t":3.52,"name":"train_loss","value":0.31}`.
///
/// A non-finite value (a diverged loss) is written as `null` and read back as NaN, since JSON
/// has no NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRecord {
    /// Training step (optimizer updates, or environment steps for RL) the value belongs to.
    pub step: u64,
    /// Seconds of run time since the run started (time spent stopped between resumes excluded).
    pub t: f64,
    /// Metric name, e.g. `train_loss`, `test_accuracy`, `mean_return_20`, `fid_cnn`.
    pub name: String,
    /// The value.
    #[serde(with = "nan_as_null")]
    pub value: f64,
}

/// What happened to a run; one variant per `kind` in `events.jsonl`.
///
/// Serialised flat into an [`EventRecord`], e.g.
/// `{"step":400,"t":12.5,"kind":"set","param":"lr","value":0.0005}`. Unknown kinds from a newer
/// gradtop read back as [`RunEvent::Other`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunEvent {
    /// The job began (or began again after `gradtop resume`).
    ///
    /// After a resume, metric records with a step above `resumed_from` that were logged before
    /// this event (smaller `t`) belong to the abandoned tail of the crashed process; readers drop
    /// them ([`drop_superseded`]) so curves do not double back.
    Start {
        /// Wall-clock Unix seconds at the start, to turn `t` into dates.
        unix_s: f64,
        /// Step of the checkpoint this process resumed from; absent on a fresh run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resumed_from: Option<u64>,
    },
    /// The job paused (by the user, or automatically on divergence with a reason).
    Pause {
        /// Why, when it was not the user's key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The job resumed after a pause within the same process.
    Resume,
    /// A hyperparameter changed; it took effect at the record's step.
    Set {
        /// Hyperparameter name as in the scenario, e.g. `lr`.
        param: String,
        /// The new value.
        value: f64,
    },
    /// Something the user should see that did not stop the run.
    Warning {
        /// The message.
        message: String,
    },
    /// Something went wrong (often followed by `end` with status `failed`).
    Error {
        /// The message.
        message: String,
    },
    /// A whole checkpoint was written.
    Checkpoint {
        /// Path of the safetensors file, relative to the run directory.
        file: String,
        /// Why: `periodic`, `key`, `pause`, `signal`, `end`.
        reason: String,
    },
    /// A command read from the run's `control.jsonl` was applied (at the record's step) or
    /// refused, so whoever sent it can see what became of it.
    Control {
        /// The sender's id of the command (`<pid>-<counter>`); absent when the line had none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The command's name, e.g. `set`; absent when the line named none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<String>,
        /// Whether the job applied it.
        accepted: bool,
        /// Why it was refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The job ended; the last event of a process's life.
    End {
        /// How it ended.
        status: EndStatus,
        /// Final figures or a failure reason, free-form.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<serde_json::Value>,
    },
    /// An event kind this version does not know.
    #[serde(other)]
    Other,
}

impl RunEvent {
    /// A `start` event stamped with the wall clock now.
    pub fn start_now(resumed_from: Option<u64>) -> Self {
        Self::Start {
            unix_s: super::clock::unix_now_s(),
            resumed_from,
        }
    }
}

/// Removes the metric records that a resume superseded: those with a step above a `start`
/// event's `resumed_from` and logged before that event (the work redone after the checkpoint).
/// Order is preserved.
pub fn drop_superseded(metrics: Vec<MetricRecord>, events: &[EventRecord]) -> Vec<MetricRecord> {
    let resumes: Vec<(f64, u64)> = events
        .iter()
        .filter_map(|e| match e.event {
            RunEvent::Start {
                resumed_from: Some(step),
                ..
            } => Some((e.t, step)),
            _ => None,
        })
        .collect();
    if resumes.is_empty() {
        return metrics;
    }
    metrics
        .into_iter()
        .filter(|m| {
            !resumes
                .iter()
                .any(|&(resume_t, from_step)| m.t < resume_t && m.step > from_step)
        })
        .collect()
}

/// How a job ended, as recorded in its `end` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndStatus {
    /// Ran its full schedule.
    Finished,
    /// Stopped by an error or divergence.
    Failed,
    /// Stopped by the user before its schedule ended; resumable (listed as paused).
    Stopped,
    /// Stopped by a signal (SIGTERM/SIGHUP/SIGINT) after writing a checkpoint; resumable.
    Interrupted,
}

/// One line of `events.jsonl`: the step and run time of an event plus the event's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Training step at which the event happened / took effect.
    pub step: u64,
    /// Seconds of run time, on the same clock as the metrics.
    pub t: f64,
    /// The event.
    #[serde(flatten)]
    pub event: RunEvent,
}

/// Run time in seconds: the time this process has been logging plus an offset carried over from
/// earlier processes of the same run, so `t` never jumps back on resume.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    origin: Instant,
    offset_s: f64,
}

impl RunClock {
    /// A clock that reads `offset_s` now and counts up in real time.
    pub fn starting_at(offset_s: f64) -> Self {
        Self {
            origin: Instant::now(),
            offset_s,
        }
    }

    /// A clock continuing a run: it starts just after the largest `t` already in the run's logs
    /// (0 for a new run), so everything logged from now on is strictly later.
    pub fn resume(run: &RunDir) -> Result<Self> {
        let metrics_t = last_t(&run.metrics_path())?;
        let events_t = last_t(&run.events_path())?;
        let last = metrics_t.max(events_t);
        Ok(Self::starting_at(if last > 0.0 {
            last + RESUME_GAP_S
        } else {
            0.0
        }))
    }

    /// Seconds of run time now.
    pub fn now_s(&self) -> f64 {
        self.offset_s + self.origin.elapsed().as_secs_f64()
    }
}

/// A buffered append-only writer of one JSONL file.
#[derive(Debug)]
struct JsonlWriter {
    path: PathBuf,
    file: File,
    /// `(dev, inode)` of the file opened, to notice when the path names another file.
    identity: (u64, u64),
    pending: Vec<u8>,
    last_flush: Instant,
    interval: Duration,
}

impl JsonlWriter {
    /// Opens `path` for appending (creating it). A last line cut short by a crash is ended with
    /// a newline, so new records never glue onto it; readers skip the broken line.
    fn open(path: &Path, interval: Duration) -> Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .at("opening log", path)?;
        let meta = file.metadata().at("inspecting log", path)?;
        let len = meta.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))
                .and_then(|_| file.read_exact(&mut last))
                .at("reading log", path)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").at("repairing log", path)?;
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            identity: (meta.dev(), meta.ino()),
            pending: Vec::new(),
            last_flush: Instant::now(),
            interval,
        })
    }

    fn append<T: Serialize>(&mut self, record: &T) -> Result<()> {
        serde_json::to_writer(&mut self.pending, record).map_err(|e| {
            super::error::RunsError::Invalid {
                path: self.path.clone(),
                what: format!("record cannot be written as JSON: {e}"),
            }
        })?;
        self.pending.push(b'\n');
        if self.last_flush.elapsed() >= self.interval || self.pending.len() >= MAX_PENDING_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the pending records, all of them or none: a write the disk cannot take (full,
    /// or failing) is cut back off, so the log never keeps half a record. The records of a
    /// failed write are dropped with it; the error says why.
    fn flush(&mut self) -> Result<()> {
        self.last_flush = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self
            .check_in_place()
            .and_then(|()| self.write_pending_whole());
        self.pending.clear();
        written
    }

    /// One write of the pending whole lines (a reader never sees half a record unless the
    /// process dies inside this call), cut back off the file if it fails.
    fn write_pending_whole(&mut self) -> Result<()> {
        let before = self.file.metadata().at("inspecting log", &self.path)?.len();
        if let Err(e) = self.file.write_all(&self.pending) {
            // Best effort: if even this fails, reopening the log ends the cut line (see `open`).
            let _ = self.file.set_len(before);
            return Err(e).at("writing log", &self.path);
        }
        Ok(())
    }

    /// Fails if the path no longer names the file this writer appends to (the log or its run
    /// directory was deleted, or the log replaced): records written there would be lost.
    fn check_in_place(&self) -> Result<()> {
        let what = match fs::metadata(&self.path) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.identity => return Ok(()),
            Ok(_) => "replaced",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "deleted",
            Err(e) => return Err(e).at("inspecting log", &self.path),
        };
        Err(super::error::RunsError::Replaced {
            path: self.path.clone(),
            what,
        })
    }

    fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.file.sync_data().at("syncing log", &self.path)
    }
}

impl Drop for JsonlWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Appends metric records to `metrics.jsonl`, flushing at most [`FLUSH_INTERVAL`] apart.
#[derive(Debug)]
pub struct MetricsLog {
    writer: JsonlWriter,
    clock: RunClock,
}

impl MetricsLog {
    /// Opens (creating if needed) the metrics log at `path`, continuing any existing records.
    pub fn open(path: &Path, clock: RunClock) -> Result<Self> {
        Ok(Self {
            writer: JsonlWriter::open(path, FLUSH_INTERVAL)?,
            clock,
        })
    }

    /// Like [`MetricsLog::open`] with a custom flush interval (tests, or a job that wants
    /// tighter curves for `watch`).
    pub fn open_with_interval(path: &Path, clock: RunClock, interval: Duration) -> Result<Self> {
        Ok(Self {
            writer: JsonlWriter::open(path, interval)?,
            clock,
        })
    }

    /// Records `name = value` at `step`, stamped with the run clock.
    pub fn log(&mut self, step: u64, name: &str, value: f64) -> Result<()> {
        let record = MetricRecord {
            step,
            t: self.clock.now_s(),
            name: name.to_string(),
            value,
        };
        self.writer.append(&record)
    }

    /// Writes a prepared record as is (e.g. when copying or converting logs).
    pub fn append(&mut self, record: &MetricRecord) -> Result<()> {
        self.writer.append(record)
    }

    /// Writes buffered records if the flush interval has passed; for a job's idle loop, so a
    /// quiet run still reaches disk in time.
    pub fn flush_if_due(&mut self) -> Result<()> {
        if self.writer.last_flush.elapsed() >= self.writer.interval {
            self.writer.flush()?;
        }
        Ok(())
    }

    /// Writes all buffered records to the file now.
    pub fn flush(&mut self) -> Result<()> {
        self.writer.flush()
    }

    /// Flushes and asks the OS to put the records on disk (before a checkpoint or exit).
    pub fn sync(&mut self) -> Result<()> {
        self.writer.sync()
    }

    /// The clock stamping the records.
    pub fn clock(&self) -> RunClock {
        self.clock
    }
}

/// Appends events to `events.jsonl`; each event is written immediately.
#[derive(Debug)]
pub struct EventsLog {
    writer: JsonlWriter,
    clock: RunClock,
}

impl EventsLog {
    /// Opens (creating if needed) the events log at `path`, continuing any existing records.
    pub fn open(path: &Path, clock: RunClock) -> Result<Self> {
        Ok(Self {
            writer: JsonlWriter::open(path, Duration::ZERO)?,
            clock,
        })
    }

    /// Records `event` as happening at `step`, stamped with the run clock.
    pub fn log(&mut self, step: u64, event: RunEvent) -> Result<()> {
        let record = EventRecord {
            step,
            t: self.clock.now_s(),
            event,
        };
        self.writer.append(&record)
    }

    /// Flushes and asks the OS to put the events on disk.
    pub fn sync(&mut self) -> Result<()> {
        self.writer.sync()
    }
}

/// Both logs of a run on one clock; writing an event first flushes the metrics, so a reader who
/// sees an event (say `end`) already sees every metric logged before it.
#[derive(Debug)]
pub struct RunLogs {
    /// `metrics.jsonl`.
    pub metrics: MetricsLog,
    /// `events.jsonl`.
    pub events: EventsLog,
}

impl RunLogs {
    /// Opens both logs of `run` for appending, with a clock that continues from the largest
    /// `t` already logged (0 for a new run).
    pub fn open(run: &RunDir) -> Result<Self> {
        let clock = RunClock::resume(run)?;
        Ok(Self {
            metrics: MetricsLog::open(&run.metrics_path(), clock)?,
            events: EventsLog::open(&run.events_path(), clock)?,
        })
    }

    /// Records a metric (buffered).
    pub fn metric(&mut self, step: u64, name: &str, value: f64) -> Result<()> {
        self.metrics.log(step, name, value)
    }

    /// Records an event after flushing the metrics before it.
    pub fn event(&mut self, step: u64, event: RunEvent) -> Result<()> {
        self.metrics.flush()?;
        self.events.log(step, event)
    }

    /// Flushes both logs and syncs them to disk (before exit or after a checkpoint).
    pub fn sync(&mut self) -> Result<()> {
        self.metrics.sync()?;
        self.events.sync()
    }
}

/// The `t` of the last parseable record in a JSONL log; 0 if the file is missing or has none.
fn last_t(path: &Path) -> Result<f64> {
    #[derive(Deserialize)]
    struct Stamp {
        t: f64,
    }
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0.0),
        Err(e) => return Err(e).at("opening log", path),
    };
    let len = fs::metadata(path).at("inspecting log", path)?.len();
    let start = len.saturating_sub(TAIL_PROBE_BYTES);
    let mut tail = Vec::new();
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.read_to_end(&mut tail))
        .at("reading log", path)?;
    let t = tail
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Stamp>(line).ok())
        .map(|s| s.t)
        .fold(0.0, f64::max);
    Ok(t)
}

/// Serde adapter: JSON `null` for non-finite floats, NaN back from `null`.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::tail::read_jsonl;

    fn new_run(parent: &Path) -> RunDir {
        RunDir::create_with_config_text(parent, "mnist-cnn", "kind = \"classifier\"\n")
            .expect("create run")
    }

    #[test]
    fn metric_and_event_lines_have_the_documented_shape() {
        let record = MetricRecord {
            step: 120,
            t: 3.5,
            name: "train_loss".into(),
            value: 0.25,
        };
        assert_eq!(
            serde_json::to_string(&record).expect("json"),
            r#"{"step":120,"t":3.5,"name":"train_loss","value":0.25}"#
        );
        let set = EventRecord {
            step: 400,
            t: 12.5,
            event: RunEvent::Set {
                param: "lr".into(),
                value: 0.0005,
            },
        };
        let line = serde_json::to_string(&set).expect("json");
        assert_eq!(
            line,
            r#"{"step":400,"t":12.5,"kind":"set","param":"lr","value":0.0005}"#
        );
        assert_eq!(
            serde_json::from_str::<EventRecord>(&line).expect("parse"),
            set
        );
        let end = EventRecord {
            step: 9,
            t: 1.0,
            event: RunEvent::End {
                status: EndStatus::Finished,
                summary: Some(serde_json::json!({"test_accuracy": 0.98})),
            },
        };
        let line = serde_json::to_string(&end).expect("json");
        assert!(
            line.contains(r#""kind":"end","status":"finished""#),
            "{line}"
        );
        assert_eq!(
            serde_json::from_str::<EventRecord>(&line).expect("parse"),
            end
        );
    }

    #[test]
    fn unknown_event_kind_and_nan_value_read_back() {
        let other: EventRecord =
            serde_json::from_str(r#"{"step":1,"t":0.5,"kind":"sample_grid","png":"x"}"#)
                .expect("unknown kind parses");
        assert_eq!(other.event, RunEvent::Other);
        assert_eq!(other.step, 1);
        let nan = MetricRecord {
            step: 1,
            t: 0.0,
            name: "loss".into(),
            value: f64::NAN,
        };
        let line = serde_json::to_string(&nan).expect("json");
        assert!(line.contains(r#""value":null"#), "{line}");
        let back: MetricRecord = serde_json::from_str(&line).expect("parse");
        assert!(back.value.is_nan());
    }

    #[test]
    fn a_write_the_disk_refuses_is_an_error_naming_the_log() {
        // /dev/full takes no byte, as a full disk: every write fails with ENOSPC.
        let mut log = MetricsLog::open_with_interval(
            Path::new("/dev/full"),
            RunClock::starting_at(0.0),
            Duration::ZERO,
        )
        .expect("open");
        let err = log.log(1, "train_loss", 0.5).expect_err("a full disk");
        let message = err.to_string();
        assert!(
            message.contains("/dev/full") && message.contains("No space left on device"),
            "{message}"
        );
        log.flush()
            .expect("nothing left pending after the failed write");
    }

    #[test]
    fn a_log_deleted_or_replaced_under_its_writer_is_not_written() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = new_run(parent.path());
        let mut log = MetricsLog::open_with_interval(
            &run.metrics_path(),
            RunClock::starting_at(0.0),
            Duration::ZERO,
        )
        .expect("open");
        log.log(1, "train_loss", 0.5).expect("log");
        fs::remove_file(run.metrics_path()).expect("delete");
        let err = log.log(2, "train_loss", 0.4).expect_err("deleted");
        assert!(
            err.to_string().contains("metrics.jsonl was deleted"),
            "{err}"
        );

        fs::create_dir(run.metrics_path()).expect("a folder in its place");
        let err = log.log(3, "train_loss", 0.3).expect_err("replaced");
        assert!(
            err.to_string().contains("metrics.jsonl was replaced"),
            "{err}"
        );
    }

    #[test]
    fn metrics_are_buffered_until_the_interval_or_flush() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = new_run(parent.path());
        let mut log = MetricsLog::open_with_interval(
            &run.metrics_path(),
            RunClock::starting_at(0.0),
            Duration::from_secs(3600),
        )
        .expect("open");
        log.log(1, "train_loss", 2.0).expect("log");
        log.log(2, "train_loss", 1.5).expect("log");
        assert_eq!(fs::read_to_string(run.metrics_path()).expect("read"), "");
        log.flush().expect("flush");
        let records: Vec<MetricRecord> = read_jsonl(&run.metrics_path()).expect("read").0;
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].step, 2);
        assert_eq!(records[1].value, 1.5);

        let mut eager = MetricsLog::open_with_interval(
            &run.metrics_path(),
            RunClock::starting_at(0.0),
            Duration::ZERO,
        )
        .expect("open");
        eager.log(3, "train_loss", 1.0).expect("log");
        let records: Vec<MetricRecord> = read_jsonl(&run.metrics_path()).expect("read").0;
        assert_eq!(records.len(), 3, "zero interval writes at once");
    }

    #[test]
    fn reopening_continues_the_files_and_the_clock_and_repairs_a_cut_line() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = new_run(parent.path());
        {
            let mut logs = RunLogs::open(&run).expect("open");
            logs.metrics
                .append(&MetricRecord {
                    step: 10,
                    t: 100.0,
                    name: "train_loss".into(),
                    value: 0.5,
                })
                .expect("append");
            logs.event(
                10,
                RunEvent::Start {
                    unix_s: 1.0,
                    resumed_from: None,
                },
            )
            .expect("event");
        }
        // A crash in the middle of a write leaves half a record.
        let mut file = OpenOptions::new()
            .append(true)
            .open(run.metrics_path())
            .expect("open");
        file.write_all(br#"{"step":11,"t":101.0,"na"#)
            .expect("write");
        drop(file);

        let mut logs = RunLogs::open(&run).expect("reopen");
        assert!(logs.metrics.clock().now_s() >= 100.0, "clock continues");
        logs.metric(11, "train_loss", 0.4).expect("log");
        logs.event(
            11,
            RunEvent::End {
                status: EndStatus::Finished,
                summary: None,
            },
        )
        .expect("event");
        let (metrics, skipped) = read_jsonl::<MetricRecord>(&run.metrics_path()).expect("read");
        assert_eq!(skipped, 1, "the cut line is skipped, not glued to the next");
        assert_eq!(
            metrics.iter().map(|m| m.step).collect::<Vec<_>>(),
            vec![10, 11]
        );
        assert!(metrics[1].t >= 100.0);
        let (events, _) = read_jsonl::<EventRecord>(&run.events_path()).expect("read");
        assert_eq!(events.len(), 2);
        assert!(matches!(events[1].event, RunEvent::End { .. }));
    }

    #[test]
    fn records_redone_after_a_resume_supersede_the_crashed_ones() {
        let metric = |step: u64, t: f64| MetricRecord {
            step,
            t,
            name: "train_loss".into(),
            value: step as f64,
        };
        // Checkpoint at step 100; the first process logged to step 120, then died at t = 12.
        let metrics = vec![
            metric(90, 9.0),
            metric(100, 10.0),
            metric(110, 11.0),
            metric(120, 12.0),
            metric(110, 12.5),
            metric(120, 13.0),
        ];
        let events = vec![
            EventRecord {
                step: 0,
                t: 0.0,
                event: RunEvent::start_now(None),
            },
            EventRecord {
                step: 100,
                t: 12.001,
                event: RunEvent::start_now(Some(100)),
            },
        ];
        let kept: Vec<(u64, f64)> = drop_superseded(metrics, &events)
            .iter()
            .map(|m| (m.step, m.t))
            .collect();
        assert_eq!(kept, vec![(90, 9.0), (100, 10.0), (110, 12.5), (120, 13.0)]);
    }
}
