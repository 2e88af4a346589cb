//! `gradtop watch`: a job that trains nothing and instead tails a run directory's logs, turning
//! its records back into the [`JobEvent`]s the live job sent, so the same tab shows any run —
//! one training in another terminal, or one that ended long ago. Jobs that keep their latest
//! bulky snapshot in the run directory (the GAN's `samples/latest.pgm`) have it read back too
//! (see [`FollowedSnapshot`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::classifier::ClassifierSnapshot;
use super::rl::RlSnapshot;
use super::run_files::{ConfusionFile, FileWatch, CONFUSION_FILE, EPISODE_FILE};
use super::{JobCommand, JobEnds, JobEvent, JobHandle, JobStatus, Metric, Param, Progress};
use crate::models::rl::EpisodeFrames;
use crate::runs::{
    drop_superseded, lock_holder, EndStatus, EventRecord, EventsTail, MetricRecord, MetricsTail,
    RunDir, RunEvent,
};

/// How often the logs are polled for new lines.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Every metric a job can report, for turning log names back into [`Metric`]s.
const METRICS: [Metric; 18] = [
    Metric::TrainLoss,
    Metric::TrainAccuracy,
    Metric::TestAccuracy,
    Metric::TestLoss,
    Metric::SamplesPerSec,
    Metric::EpisodeReturn,
    Metric::EpisodeLength,
    Metric::MeanReturn20,
    Metric::Loss,
    Metric::Epsilon,
    Metric::Entropy,
    Metric::StepsPerSec,
    Metric::DLoss,
    Metric::GLoss,
    Metric::DReal,
    Metric::DFake,
    Metric::ItersPerSec,
    Metric::FidCnn,
];

/// Every hyperparameter, for turning `set` events back into [`Param`]s.
const PARAMS: [Param; 11] = [
    Param::Lr,
    Param::BatchSize,
    Param::Epochs,
    Param::LrG,
    Param::LrD,
    Param::DSteps,
    Param::LabelSmoothing,
    Param::Gamma,
    Param::Epsilon,
    Param::TargetPeriod,
    Param::EntropyCoef,
];

/// The metric logged under `name`, if this version knows it.
pub fn metric_named(name: &str) -> Option<Metric> {
    METRICS.into_iter().find(|m| m.name() == name)
}

/// The hyperparameter whose scenario key is `key`.
pub fn param_named(key: &str) -> Option<Param> {
    PARAMS.into_iter().find(|p| p.key() == key)
}

/// A job's bulky snapshot as a follower rebuilds it from the file the job keeps in its run
/// directory; kinds that keep none take the defaults, and their watch shows curves and events.
pub trait FollowedSnapshot: Sized {
    /// The file, relative to the run directory, holding the latest snapshot.
    const FILE: Option<&'static str> = None;

    /// The snapshot in that file's bytes; `None` for bytes this version cannot read.
    fn from_file(bytes: &[u8]) -> Option<Self> {
        let _ = bytes;
        None
    }
}

impl FollowedSnapshot for () {}

/// A classifier run keeps its latest confusion matrix (its sample images are not on disk).
impl FollowedSnapshot for ClassifierSnapshot {
    const FILE: Option<&'static str> = Some(CONFUSION_FILE);

    fn from_file(bytes: &[u8]) -> Option<Self> {
        let file: ConfusionFile = serde_json::from_slice(bytes).ok()?;
        Some(ClassifierSnapshot {
            samples: Vec::new(),
            confusion: file.confusion,
            evaluated: file.evaluated,
            class_names: *file.dataset.class_names(),
            step: file.step,
        })
    }
}

/// An RL run keeps its latest finished episode (no greedy `w` episode in a watched run).
impl FollowedSnapshot for RlSnapshot {
    const FILE: Option<&'static str> = Some(EPISODE_FILE);

    fn from_file(bytes: &[u8]) -> Option<Self> {
        let frames: EpisodeFrames = serde_json::from_slice(bytes).ok()?;
        Some(RlSnapshot {
            latest: Some(frames),
            watch: None,
        })
    }
}

/// Reads a run's snapshot file whenever it has been replaced.
#[derive(Debug)]
struct SnapshotFile(Option<FileWatch>);

impl SnapshotFile {
    fn new<S: FollowedSnapshot>(run: &Path) -> Self {
        Self(S::FILE.map(|f| FileWatch::new(run, f)))
    }

    /// The snapshot in the file if it changed since the last call and reads as one.
    fn poll<S: FollowedSnapshot>(&mut self) -> Option<S> {
        S::from_file(&self.0.as_mut()?.poll_bytes()?)
    }
}

/// What a follower has seen, turned into events.
#[derive(Debug, Default)]
struct Replay {
    step: u64,
    ended: bool,
    out: Vec<JobEvent>,
}

impl Replay {
    fn metric(&mut self, record: MetricRecord) {
        self.step = self.step.max(record.step);
        if let Some(metric) = metric_named(&record.name) {
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
                    self.out
                        .push(JobEvent::Notice(format!("resumed at step {from}")));
                }
                self.out.push(JobEvent::Status(JobStatus::Running));
            }
            RunEvent::Pause { reason } => self.out.push(JobEvent::Status(JobStatus::Paused(
                reason.unwrap_or_else(|| super::USER_PAUSE.to_string()),
            ))),
            RunEvent::Resume => self.out.push(JobEvent::Status(JobStatus::Running)),
            RunEvent::Set { param, value } => match param_named(&param) {
                Some(param) => self.out.push(JobEvent::Applied { param, value, step }),
                None => self
                    .out
                    .push(JobEvent::Notice(format!("step {step}: {param} = {value}"))),
            },
            RunEvent::Warning { message } => self.out.push(JobEvent::Notice(message)),
            RunEvent::Error { message } => {
                self.out.push(JobEvent::Notice(format!("error: {message}")))
            }
            RunEvent::Checkpoint { file, reason } => self.out.push(JobEvent::Notice(format!(
                "step {step}: checkpoint {file} ({reason})"
            ))),
            RunEvent::End { status, summary } => {
                self.ended = true;
                if let Some(summary) = summary {
                    self.out.push(JobEvent::Summary(summary));
                }
                let word = match status {
                    EndStatus::Finished => "finished",
                    EndStatus::Stopped => "stopped",
                    EndStatus::Interrupted => "interrupted",
                    EndStatus::Failed => "failed",
                };
                self.out.push(JobEvent::Notice(format!(
                    "the run ended at step {step}: {word}"
                )));
                self.out.push(JobEvent::Status(match status {
                    EndStatus::Finished => JobStatus::Finished,
                    EndStatus::Failed => {
                        JobStatus::Failed(format!("the run failed at step {step}"))
                    }
                    EndStatus::Stopped | EndStatus::Interrupted => JobStatus::Stopped,
                }));
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

/// Replays the run's logs so far (minus records a resume superseded), then follows them until
/// `Stop` arrives; says when the writing process died without an `end` event.
pub fn run<S: FollowedSnapshot>(dir: PathBuf, ends: &mut JobEnds<S>) -> Result<(), String> {
    let events = ends.control.events.clone();
    let run = RunDir::open(&dir).map_err(|e| e.to_string())?;
    events.send(JobEvent::Status(JobStatus::Loading(format!(
        "reading {}",
        run.path().display()
    ))));
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
    events.send(JobEvent::Notice(format!(
        "watching {}",
        run.path().display()
    )));
    let mut writer_seen = lock_holder(run.path()).is_some();
    let mut said_dead = false;
    let mut snapshot_file = SnapshotFile::new::<S>(run.path());
    loop {
        for event in replay.out.drain(..) {
            events.send(event);
        }
        if let Some(snapshot) = snapshot_file.poll::<S>() {
            ends.publish(snapshot);
        }
        loop {
            match ends.control.commands.try_recv() {
                Ok(JobCommand::Stop)
                | Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return Ok(()),
                Ok(_) => {}
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
            }
        }
        std::thread::sleep(POLL_INTERVAL);
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
        if !alive && !replay.ended && !said_dead && (writer_seen || !grew) {
            said_dead = true;
            replay.out.push(JobEvent::Notice(
                "the run's process is gone without an end event (crashed or killed); \
                 gradtop resume continues it"
                    .into(),
            ));
            replay.out.push(JobEvent::Status(JobStatus::Stopped));
        }
    }
}

/// Spawns a follower of `dir` on its own thread.
pub fn spawn<S: FollowedSnapshot + Send + Sync + 'static>(
    dir: &Path,
) -> std::io::Result<JobHandle<S>> {
    let dir = dir.to_path_buf();
    super::spawn("watch", move |ends| run(dir, ends))
}

#[cfg(test)]
mod tests {
    use super::super::run_files::write_json_atomic;
    use super::*;

    #[test]
    fn every_metric_and_param_name_maps_back() {
        for m in METRICS {
            assert_eq!(metric_named(m.name()), Some(m));
        }
        for p in PARAMS {
            assert_eq!(param_named(p.key()), Some(p));
        }
        assert_eq!(metric_named("nonsense"), None);
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

    /// Polls the snapshot file as a follower of snapshot type `S` would, before and after
    /// `write`, and returns each snapshot it read.
    fn published<S: FollowedSnapshot>(dir: &Path, write: impl FnOnce()) -> Vec<S> {
        let mut file = SnapshotFile::new::<S>(dir);
        let mut out: Vec<S> = file.poll().into_iter().collect();
        write();
        out.extend(file.poll());
        out.extend(file.poll());
        out
    }

    fn episode_snapshot(frames: EpisodeFrames) -> RlSnapshot {
        RlSnapshot {
            latest: Some(frames),
            watch: None,
        }
    }

    #[test]
    fn the_episode_file_becomes_the_rl_tabs_snapshot_once_per_version() {
        let dir = tempfile::tempdir().expect("temp dir");
        let run = dir.path().to_path_buf();
        write_json_atomic(&run, EPISODE_FILE, &frames(4)).expect("write");
        let w = run.clone();
        let got: Vec<RlSnapshot> = published(&run, move || {
            write_json_atomic(&w, EPISODE_FILE, &frames(9)).expect("write");
        });
        assert_eq!(
            got,
            vec![episode_snapshot(frames(4)), episode_snapshot(frames(9))]
        );
        assert_eq!(got[1].latest.as_ref().map(|f| f.poses.len()), Some(3));
        // A classifier tab watching the same directory gets nothing from an episode file.
        let none: Vec<ClassifierSnapshot> = published(&run, || {});
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
        };
        let w = run.clone();
        let written = file.clone();
        let got: Vec<ClassifierSnapshot> = published(&run, move || {
            write_json_atomic(&w, CONFUSION_FILE, &written).expect("write");
        });
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].confusion[7][9], 2);
        assert_eq!((got[0].step, got[0].evaluated), (600, 42));
        assert_eq!(got[0].class_names[7], "Sneaker");
        let rl: Vec<RlSnapshot> = published(&run, || {});
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
                JobEvent::Notice("the run ended at step 6: interrupted".into()),
                JobEvent::Status(JobStatus::Stopped),
            ]
        );
        assert!(replay.ended);
    }

    #[test]
    fn a_gan_runs_sample_file_becomes_a_snapshot_each_time_it_is_replaced() {
        use crate::jobs::gan::GanSnapshot;
        use crate::models::gan_io::{SampleGrid, LATEST_SAMPLES_FILE};

        let run = tempfile::tempdir().expect("temp dir");
        let mut file = SnapshotFile::new::<GanSnapshot>(run.path());
        assert_eq!(file.poll::<GanSnapshot>(), None, "no file yet");
        let grid = |iteration: u64| SampleGrid {
            iteration,
            images: (0..16u8).map(|k| vec![k * 16; 28 * 28]).collect(),
            side: 28,
        };
        let path = run.path().join(LATEST_SAMPLES_FILE);
        grid(200).write_atomic(&path).expect("write");
        let first = file.poll::<GanSnapshot>().expect("a snapshot");
        assert_eq!(first.iteration, 200);
        assert_eq!(first.samples, grid(200).images);
        assert_eq!(
            file.poll::<GanSnapshot>(),
            None,
            "unchanged: not read again"
        );
        grid(300).write_atomic(&path).expect("rewrite");
        assert_eq!(file.poll::<GanSnapshot>().map(|s| s.iteration), Some(300));
        std::fs::write(&path, b"P5\n2 2\n255\nabcd").expect("a foreign file");
        assert_eq!(file.poll::<GanSnapshot>(), None, "not a sample grid");

        let mut none = SnapshotFile::new::<ClassifierSnapshot>(run.path());
        assert!(none.poll::<ClassifierSnapshot>().is_none());
    }
}
