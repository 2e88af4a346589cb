//! `gradtop watch`: a job that trains nothing and instead tails a run directory's logs, turning
//! its records back into the [`JobEvent`]s the live job sent, so the same tab shows any run —
//! one training in another terminal, or one that ended long ago. The commands the tab sends
//! (pause, resume, stop, checkpoint, a live change) go to the run's `control.jsonl`, and their
//! effects come back through the logs. Jobs that keep their latest
//! bulky snapshot in the run directory (the GAN's `samples/latest.pgm`, the classifier's
//! confusion matrix, the RL episode's frames) have it read back too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ends::{spawn as spawn_job, JobEnds, JobHandle};
use super::protocol::{
    ClassifierSnapshot, GanSnapshot, JobCommand, JobEvent, JobKind, JobStatus, JobSummary, Metric,
    Notice, Param, Progress, RlSnapshot, Snapshot, USER_PAUSE,
};
use super::run_files::{ConfusionFile, FileWatch, CONFUSION_FILE, EPISODE_FILE};
use crate::models::gan::networks::IMAGE_SIDE;
use crate::models::gan::samples::{SampleGrid, LATEST_SAMPLES_FILE};
use crate::models::rl::EpisodeFrames;
use crate::runs::{
    drop_superseded, lock_holder, send_command, ControlCommand, EndStatus, EventRecord, EventsTail,
    MetricRecord, MetricsTail, RunDir, RunEvent,
};

/// How often the logs are looked at for new records.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The file in the run directory where a job of `kind` keeps its latest bulky snapshot.
fn snapshot_file_name(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Classifier => CONFUSION_FILE,
        JobKind::Gan => LATEST_SAMPLES_FILE,
        JobKind::Rl => EPISODE_FILE,
    }
}

/// The snapshot a kind's file holds; `None` for a file that is not what that kind writes.
fn parse_snapshot(kind: JobKind, bytes: &[u8]) -> Option<Snapshot> {
    Some(match kind {
        JobKind::Classifier => {
            let file: ConfusionFile = serde_json::from_slice(bytes).ok()?;
            // The sample images stay with the live job; the matrix is what a follower gets.
            ClassifierSnapshot {
                samples: Vec::new(),
                misclassified: Vec::new(),
                confusion: file.confusion,
                evaluated: file.evaluated,
                class_names: if file.class_names.is_empty() {
                    file.dataset.class_list()
                } else {
                    file.class_names
                },
                step: file.step,
            }
            .into()
        }
        JobKind::Gan => {
            let grid = SampleGrid::parse(bytes)?;
            if grid.side != IMAGE_SIDE {
                return None;
            }
            GanSnapshot {
                samples: grid.images,
                strip: Vec::new(),
                iteration: grid.iteration,
            }
            .into()
        }
        JobKind::Rl => {
            let frames: EpisodeFrames = serde_json::from_slice(bytes).ok()?;
            RlSnapshot {
                latest: Some(frames),
                greedy: None,
            }
            .into()
        }
    })
}

/// The run directory's snapshot file of one kind, read each time it is replaced.
#[derive(Debug)]
struct SnapshotFile {
    kind: JobKind,
    file: FileWatch,
}

impl SnapshotFile {
    fn new(run: &Path, kind: JobKind) -> Self {
        Self {
            kind,
            file: FileWatch::new(run, snapshot_file_name(kind)),
        }
    }

    /// The snapshot in the file, if it was replaced since the last call and reads as one.
    fn poll(&mut self) -> Option<Snapshot> {
        parse_snapshot(self.kind, &self.file.poll_bytes()?)
    }
}

#[derive(Debug, Default)]
struct Replay {
    step: u64,
    ended: bool,
    out: Vec<JobEvent>,
}

impl Replay {
    fn metric(&mut self, record: MetricRecord) {
        self.step = self.step.max(record.step);
        if let Some(metric) = Metric::from_name(&record.name) {
            self.out.push(JobEvent::Metric {
                step: record.step,
                metric,
                value: record.value,
            });
        }
    }

    fn event(&mut self, record: EventRecord) {
        let step = record.step;
        self.step = self.step.max(step);
        match record.event {
            RunEvent::Start { resumed_from, .. } => {
                self.ended = false;
                if let Some(from) = resumed_from {
                    self.out.push(info(format!("resumed at step {from}")));
                }
                self.out.push(JobEvent::Status(JobStatus::Running));
            }
            RunEvent::Pause { reason } => self.out.push(JobEvent::Status(JobStatus::Paused(
                reason.unwrap_or_else(|| USER_PAUSE.to_string()),
            ))),
            RunEvent::Resume => self.out.push(JobEvent::Status(JobStatus::Running)),
            RunEvent::Set { param, value } => match Param::from_key(&param) {
                Some(param) => self.out.push(JobEvent::Applied { param, value, step }),
                None => self
                    .out
                    .push(info(format!("step {step}: {param} = {value}"))),
            },
            RunEvent::Warning { message } => {
                self.out.push(JobEvent::Notice(Notice::Warning(message)))
            }
            RunEvent::Error { message } => self.out.push(JobEvent::Notice(Notice::Warning(
                format!("error: {message}"),
            ))),
            RunEvent::Checkpoint { file, reason } => self
                .out
                .push(info(format!("step {step}: checkpoint {file} ({reason})"))),
            RunEvent::End { status, summary } => {
                self.ended = true;
                if let Some(summary) = summary.as_ref().and_then(JobSummary::from_json) {
                    self.out.push(JobEvent::Summary(Box::new(summary)));
                }
                let word = match status {
                    EndStatus::Finished => "finished",
                    EndStatus::Stopped => "stopped",
                    EndStatus::Interrupted => "interrupted",
                    EndStatus::Failed => "failed",
                };
                self.out
                    .push(info(format!("the run ended at step {step}: {word}")));
                self.out.push(JobEvent::Status(match status {
                    EndStatus::Finished => JobStatus::Finished,
                    EndStatus::Failed => {
                        JobStatus::Failed(format!("the run failed at step {step}"))
                    }
                    EndStatus::Stopped | EndStatus::Interrupted => JobStatus::Stopped,
                }));
            }
            RunEvent::Control {
                id,
                command,
                accepted,
                reason,
            } => {
                let what = format!(
                    "control {} ({})",
                    command.as_deref().unwrap_or("line"),
                    id.as_deref().unwrap_or("no id")
                );
                self.out.push(if accepted {
                    info(format!("step {step}: {what} applied"))
                } else {
                    JobEvent::Notice(Notice::Warning(format!(
                        "{what} refused: {}",
                        reason.as_deref().unwrap_or("no reason given")
                    )))
                });
            }
            RunEvent::Other => {}
        }
    }

    fn progress(&mut self) {
        self.out.push(JobEvent::Progress(Progress {
            step: self.step,
            ..Progress::default()
        }));
    }
}

/// An informational notice, as replayed lines are.
fn info(text: String) -> JobEvent {
    JobEvent::Notice(Notice::Info(text))
}

/// `(dev, inode)` of a folder, to notice when its path no longer names it.
fn identity(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

/// Replays the run's logs so far (minus records a resume superseded), then follows them until
/// `Detach` arrives (the UI leaving), passing the tab's commands on to the run; says when the
/// writing process died without an `end` event, and when the run directory was deleted (what
/// is shown stays, and nothing more is read).
pub fn run(dir: PathBuf, kind: JobKind, ends: &mut JobEnds) -> Result<(), String> {
    let run = RunDir::open(&dir).map_err(|e| e.to_string())?;
    let run_identity = identity(run.path());
    let mut vanished = false;
    ends.status(JobStatus::Loading(format!(
        "reading {}",
        run.path().display()
    )));
    let mut metrics_tail = MetricsTail::new(&run.metrics_path());
    let mut events_tail = EventsTail::new(&run.events_path());
    let backlog_metrics = metrics_tail.poll().map_err(|e| e.to_string())?;
    let backlog_events = events_tail.poll().map_err(|e| e.to_string())?;
    let mut replay = Replay::default();
    // Events first for the status, metrics (in their own order) for the curves.
    for m in drop_superseded(backlog_metrics, &backlog_events) {
        replay.metric(m);
    }
    for e in backlog_events {
        replay.event(e);
    }
    replay.progress();
    ends.info(format!("watching {}", run.path().display()));
    let mut writer_seen = lock_holder(run.path()).is_some();
    let mut said_dead = false;
    let mut snapshot_file = SnapshotFile::new(run.path(), kind);
    loop {
        for event in replay.out.drain(..) {
            ends.send(event);
        }
        if let Some(snapshot) = snapshot_file.poll() {
            ends.publish(snapshot);
        }
        while let Some(command) = ends.try_command() {
            if command == JobCommand::Detach {
                return Ok(());
            }
            steer(run.path(), command, ends);
        }
        if ends.ui_gone() {
            return Ok(());
        }
        std::thread::sleep(POLL_INTERVAL);
        if vanished {
            continue;
        }
        if identity(run.path()) != run_identity {
            vanished = true;
            let deleted = format!("run directory {} was deleted", run.path().display());
            replay.out.push(JobEvent::Notice(Notice::Warning(format!(
                "{deleted}: what is shown was read before it went"
            ))));
            // A run that had ended keeps its status; one that had not can no longer be saved.
            if !replay.ended {
                replay
                    .out
                    .push(JobEvent::Status(JobStatus::Failed(deleted)));
            }
            continue;
        }
        let new_metrics = metrics_tail.poll().map_err(|e| e.to_string())?;
        let new_events = events_tail.poll().map_err(|e| e.to_string())?;
        let grew = !new_metrics.is_empty() || !new_events.is_empty();
        for m in new_metrics {
            replay.metric(m);
        }
        for e in new_events {
            replay.event(e);
        }
        if grew {
            replay.progress();
            said_dead = false;
        }
        let alive = lock_holder(run.path()).is_some();
        writer_seen |= alive;
        // A lock gone with its whole run is the deletion the next look reports, not a crash.
        let deleting = !alive && identity(run.path()) != run_identity;
        if !alive && !deleting && !replay.ended && !said_dead && (writer_seen || !grew) {
            said_dead = true;
            replay.out.push(info(
                "the run's process is gone without an end event (crashed or killed); \
                 gradtop resume continues it"
                    .into(),
            ));
            replay.out.push(JobEvent::Status(JobStatus::Stopped));
        }
    }
}

/// Passes a command the user gave the watched run's tab on to the run through its control
/// file, and says what became of the sending: the run's acknowledgement comes back through its
/// logs.
fn steer(run: &Path, command: JobCommand, ends: &mut JobEnds) {
    let control = match command {
        JobCommand::Pause => ControlCommand::Pause,
        JobCommand::Resume => ControlCommand::Resume,
        JobCommand::Stop => ControlCommand::Stop,
        JobCommand::Checkpoint => ControlCommand::Checkpoint,
        JobCommand::Set(param, value) => ControlCommand::Set {
            param: param.key().to_string(),
            value,
        },
        JobCommand::Start | JobCommand::PlayGreedy | JobCommand::Detach => return,
    };
    let name = control.name();
    match send_command(run, control) {
        Ok(id) => ends.info(format!("sent {name} ({id}) to the run")),
        Err(e) => ends.warn(format!("{name} not sent: {e}")),
    }
}

/// Starts a follower of the run `dir`, whose job is of `kind`, on its own thread.
pub fn spawn(dir: &Path, kind: JobKind) -> std::io::Result<JobHandle> {
    let dir = dir.to_path_buf();
    spawn_job("watch", move |ends| run(dir, kind, ends))
}

#[cfg(test)]
mod tests {
    use super::super::run_files::write_json_atomic;
    use super::*;

    #[test]
    fn every_param_name_maps_back() {
        for p in <Param as strum::IntoEnumIterator>::iter() {
            assert_eq!(Param::from_key(p.key()), Some(p));
        }
        assert_eq!(Param::from_key("nonsense"), None);
    }

    fn frames(episode: u64) -> EpisodeFrames {
        EpisodeFrames {
            episode,
            poses: vec![
                crate::envs::Pose {
                    x: 0.1,
                    theta: -0.02
                };
                3
            ],
            episode_return: 2.0,
            length: 2,
            truncated: false,
            greedy: false,
        }
    }

    /// Polls the snapshot file as a follower of a `kind` job would, before and after `write`,
    /// and returns each snapshot it read.
    fn published(dir: &Path, kind: JobKind, write: impl FnOnce()) -> Vec<Snapshot> {
        let mut file = SnapshotFile::new(dir, kind);
        let mut out: Vec<Snapshot> = file.poll().into_iter().collect();
        write();
        out.extend(file.poll());
        out.extend(file.poll());
        out
    }

    fn episode_snapshot(frames: EpisodeFrames) -> Snapshot {
        RlSnapshot {
            latest: Some(frames),
            greedy: None,
        }
        .into()
    }

    #[test]
    fn the_episode_file_becomes_the_rl_tabs_snapshot_once_per_version() {
        let dir = tempfile::tempdir().expect("temp dir");
        let run = dir.path().to_path_buf();
        write_json_atomic(&run, EPISODE_FILE, &frames(4)).expect("write");
        let w = run.clone();
        let got = published(&run, JobKind::Rl, move || {
            write_json_atomic(&w, EPISODE_FILE, &frames(9)).expect("write");
        });
        assert_eq!(
            got,
            vec![episode_snapshot(frames(4)), episode_snapshot(frames(9))]
        );
        let Snapshot::Rl(second) = &got[1] else {
            panic!("an RL snapshot")
        };
        assert_eq!(second.latest.as_ref().map(|f| f.poses.len()), Some(3));
        // A classifier tab watching the same directory gets nothing from an episode file.
        let none = published(&run, JobKind::Classifier, || {});
        assert!(none.is_empty());
    }

    #[test]
    fn the_confusion_file_becomes_the_classifier_tabs_snapshot() {
        let dir = tempfile::tempdir().expect("temp dir");
        let run = dir.path().to_path_buf();
        let mut confusion = [[0u32; crate::data::CLASSES]; crate::data::CLASSES];
        confusion[7][7] = 40;
        confusion[7][9] = 2;
        let file = ConfusionFile {
            step: 600,
            dataset: crate::data::DatasetName::FashionMnist,
            evaluated: 42,
            confusion,
            class_names: Vec::new(),
        };
        let w = run.clone();
        let written = file.clone();
        let got: Vec<_> = published(&run, JobKind::Classifier, move || {
            write_json_atomic(&w, CONFUSION_FILE, &written).expect("write");
        })
        .into_iter()
        .filter_map(|s| match s {
            Snapshot::Classifier(c) => Some(c),
            _ => None,
        })
        .collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].confusion[7][9], 2);
        assert_eq!((got[0].step, got[0].evaluated), (600, 42));
        assert_eq!(got[0].class_names[7], "Sneaker");
        let rl = published(&run, JobKind::Rl, || {});
        assert!(rl.is_empty());
    }

    #[test]
    fn records_replay_as_the_events_a_live_job_sent() {
        let mut replay = Replay::default();
        replay.event(EventRecord {
            step: 0,
            t: 0.0,
            event: RunEvent::start_now(None),
        });
        replay.metric(MetricRecord {
            step: 5,
            t: 1.0,
            name: "train_loss".into(),
            value: 0.5,
        });
        replay.event(EventRecord {
            step: 6,
            t: 1.1,
            event: RunEvent::Set {
                param: "lr".into(),
                value: 0.01,
            },
        });
        replay.event(EventRecord {
            step: 6,
            t: 1.2,
            event: RunEvent::End {
                status: EndStatus::Interrupted,
                summary: None,
            },
        });
        assert_eq!(
            replay.out,
            vec![
                JobEvent::Status(JobStatus::Running),
                JobEvent::Metric {
                    step: 5,
                    metric: Metric::TrainLoss,
                    value: 0.5
                },
                JobEvent::Applied {
                    param: Param::Lr,
                    value: 0.01,
                    step: 6
                },
                info("the run ended at step 6: interrupted".into()),
                JobEvent::Status(JobStatus::Stopped),
            ]
        );
        assert!(replay.ended);
    }

    #[test]
    fn a_run_directory_deleted_while_watched_is_said_to_be_gone() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = RunDir::create_with_config_text(parent.path(), "unit", "kind = \"classifier\"")
            .expect("a run");
        // A live writer, so the watcher expects records rather than an end.
        let lock = crate::runs::RunLock::acquire(run.path()).expect("the lock");
        let mut handle = spawn(run.path(), JobKind::Classifier).expect("spawn");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        let mut deleted = false;
        let failed = loop {
            match handle.events.try_recv() {
                Ok(event) => {
                    if !deleted
                        && matches!(&event, JobEvent::Notice(Notice::Info(t)) if t.starts_with("watching"))
                    {
                        std::fs::remove_dir_all(run.path()).expect("rm -rf the run");
                        deleted = true;
                    }
                    if let JobEvent::Status(JobStatus::Failed(why)) = &event {
                        break why.clone();
                    }
                    seen.push(event);
                }
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no failure within 30 s: {seen:?}"
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("the watcher ended: {e}; {seen:?}"),
            }
        };
        handle.stop_and_join();
        drop(lock);
        let expected = format!("run directory {} was deleted", run.path().display());
        assert_eq!(failed, expected);
        assert!(
            seen.iter().any(|e| matches!(
                e,
                JobEvent::Notice(Notice::Warning(w)) if w.starts_with(&expected)
            )),
            "{seen:?}"
        );
        assert!(
            !seen.iter().any(|e| matches!(
                e,
                JobEvent::Notice(Notice::Info(t)) if t.contains("process is gone")
            )),
            "a deleted run is not called crashed: {seen:?}"
        );
        assert!(!run.path().exists(), "the watcher re-created nothing");
    }

    #[test]
    fn a_gan_runs_sample_file_becomes_a_snapshot_each_time_it_is_replaced() {
        let run = tempfile::tempdir().expect("temp dir");
        let mut file = SnapshotFile::new(run.path(), JobKind::Gan);
        let iteration = |s: Option<Snapshot>| match s {
            Some(Snapshot::Gan(g)) => Some((g.iteration, g.samples.clone())),
            _ => None,
        };
        assert_eq!(iteration(file.poll()), None, "no file yet");
        let grid = |iteration: u64| SampleGrid {
            iteration,
            images: (0..16u8).map(|k| vec![k * 16; 28 * 28]).collect(),
            side: 28,
        };
        let path = run.path().join(LATEST_SAMPLES_FILE);
        grid(200).write_latest(run.path()).expect("write");
        assert_eq!(iteration(file.poll()), Some((200, grid(200).images)));
        assert_eq!(iteration(file.poll()), None, "unchanged: not read again");
        grid(300).write_latest(run.path()).expect("rewrite");
        assert_eq!(iteration(file.poll()).map(|g| g.0), Some(300));
        std::fs::write(&path, b"P5\n2 2\n255\nabcd").expect("a foreign file");
        assert_eq!(iteration(file.poll()), None, "not a sample grid");

        let mut none = SnapshotFile::new(run.path(), JobKind::Classifier);
        assert!(none.poll().is_none());
    }

    /// Sends `command` to a watcher of `run` and returns what it told the tab about the sending.
    fn steer_notice(run: &Path, command: JobCommand) -> Notice {
        let mut handle = spawn(run, JobKind::Classifier).expect("spawn");
        handle.send(command);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let notice = loop {
            match handle.events.try_recv() {
                Ok(JobEvent::Notice(n))
                    if n.text().starts_with("sent ") || n.text().contains(" not sent") =>
                {
                    break n
                }
                Ok(_) => {}
                Err(_) => {
                    assert!(std::time::Instant::now() < deadline, "nothing said");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        };
        handle.stop_and_join();
        notice
    }

    #[test]
    fn the_tabs_commands_reach_a_live_runs_control_file_and_a_finished_run_refuses_them() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = RunDir::create_with_config_text(parent.path(), "unit", "kind = \"classifier\"")
            .expect("a run");
        let lock = crate::runs::RunLock::acquire(run.path()).expect("a live writer's lock");
        let mut tail = crate::runs::ControlTail::at_end(run.path()).expect("tail");
        let sent = steer_notice(run.path(), JobCommand::Set(Param::Lr, 0.02));
        assert!(
            matches!(&sent, Notice::Info(t) if t.starts_with("sent set (")),
            "{sent:?}"
        );
        let lines = tail.poll().expect("poll");
        assert!(
            matches!(lines.as_slice(), [crate::runs::ControlLine::Command(r)]
                if r.command == ControlCommand::Set { param: "lr".into(), value: 0.02 }),
            "{lines:?}"
        );
        assert!(
            run.path().exists(),
            "quitting the watch did not stop or touch the run"
        );
        assert!(
            tail.poll().expect("poll").is_empty(),
            "Detach sends nothing"
        );
        drop(lock);

        let mut logs = crate::runs::RunLogs::open(&run).expect("logs");
        logs.event(
            3,
            RunEvent::End {
                status: EndStatus::Finished,
                summary: None,
            },
        )
        .expect("end");
        let refused = steer_notice(run.path(), JobCommand::Pause);
        assert!(
            matches!(&refused, Notice::Warning(t)
                if t.starts_with("pause not sent") && t.contains("a command for a finished run is refused")),
            "{refused:?}"
        );
        assert!(tail.poll().expect("poll").is_empty());
    }
}
