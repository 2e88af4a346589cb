//! The vocabulary every part of gradtop uses to talk about jobs: what to run ([`JobSpec`]), what
//! to do ([`JobCommand`]), what happened ([`JobEvent`]), and how a run ended ([`JobSummary`]).
//!
//! The CLI, headless mode, the dashboard, `resume`, `watch` and the Runs tab all speak it, so a
//! new job kind adds arms here and in its adapter instead of strings scattered through the code.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strum::IntoEnumIterator;

pub use crate::params::Param;
pub use crate::scenario::JobKind;

use crate::data::DatasetName;
use crate::device::DeviceChoice;
use crate::models::classifier::{Confusion, SamplePrediction};
use crate::models::rl::{EpisodeFrames, RlSummary};
use crate::scenario::{Scenario, Settings};

/// The reason a pause has when the user asked for it (other reasons come from guards).
pub const USER_PAUSE: &str = "paused by user";

/// Where a job keeps its run directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RunTarget {
    /// No run directory (unit tests, benchmarks).
    #[default]
    Off,
    /// A new `<parent>/<YYYYmmdd-HHMMSS>-<scenario>/`.
    New {
        /// The runs folder (`--runs-dir`, `$GRADTOP_RUNS` or `./runs`).
        parent: PathBuf,
    },
    /// An existing run, continued from its newest whole checkpoint (`gradtop resume`).
    Resume {
        /// The run directory.
        dir: PathBuf,
    },
}

/// Everything needed to start a job of any kind: the resolved scenario plus where it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// Scenario name, for run directory names and summaries.
    pub scenario: String,
    /// The kind and its resolved hyperparameters.
    pub settings: Settings,
    /// `--data-dir`, first in the dataset lookup order.
    pub data_dir: Option<PathBuf>,
    /// Where to train.
    pub device: DeviceChoice,
    /// Stop after this many steps (headless `--steps`), in the kind's own unit.
    pub max_steps: Option<u64>,
    /// The run directory to create or continue.
    pub run: RunTarget,
}

impl JobSpec {
    /// A spec for `scenario` with no data directory, the automatic device, no step limit and no
    /// run directory; callers set what they need.
    pub fn new(scenario: &Scenario) -> Self {
        Self {
            scenario: scenario.name.clone(),
            settings: scenario.settings.clone(),
            data_dir: None,
            device: DeviceChoice::Auto,
            max_steps: None,
            run: RunTarget::Off,
        }
    }

    /// Which kind of job this starts.
    pub fn kind(&self) -> JobKind {
        self.settings.kind()
    }

    /// The dataset the job reads, if its kind reads one.
    pub fn dataset(&self) -> Option<DatasetName> {
        self.settings.dataset()
    }

    /// The run directory this spec continues, if it resumes one.
    pub fn resumed_dir(&self) -> Option<&std::path::Path> {
        match &self.run {
            RunTarget::Resume { dir } => Some(dir),
            _ => None,
        }
    }
}

/// What the UI (or the headless driver) asks a job to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JobCommand {
    /// Begin training (a job waits in `Ready` until this arrives).
    Start,
    /// Hold between two steps.
    Pause,
    /// Continue after a pause.
    Resume,
    /// End the run after the current step.
    Stop,
    /// Change a hyperparameter from the next step on.
    Set(Param, f64),
    /// Write a checkpoint now.
    Checkpoint,
    /// RL: play one episode with the current greedy policy and publish its frames.
    PlayGreedy,
    /// The UI is leaving (quit, a replaced job): a training job ends as on `Stop`, while a
    /// watcher stops following without stopping the run it follows.
    Detach,
}

/// Where a job is in its life.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum JobStatus {
    /// Created, waiting for `Start`.
    Ready,
    /// Loading data or building the model.
    Loading(String),
    /// Training.
    Running,
    /// Held by the user or by a guard (NaN loss, …); the reason says which.
    Paused(String),
    /// Ran to its planned end.
    Finished,
    /// Stopped by the user before its end.
    Stopped,
    /// Could not continue: bad data, a panic, an error.
    Failed(String),
    /// Never trained: the run it was to write could not be locked (another process writes it,
    /// its lock file is not a plain file, its folder is not writable); the reason says why and
    /// what to do. Nothing was written.
    Refused(String),
}

impl JobStatus {
    /// True once the job thread has ended or is about to.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobStatus::Finished | JobStatus::Stopped | JobStatus::Failed(_) | JobStatus::Refused(_)
        )
    }

    /// True while training or paused: quitting would interrupt it.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            JobStatus::Loading(_) | JobStatus::Running | JobStatus::Paused(_)
        )
    }
}

/// Named series a job reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Mean training loss of one step.
    TrainLoss,
    /// Accuracy on the training batches since the last report.
    TrainAccuracy,
    /// Accuracy on (a subset of) the test set.
    TestAccuracy,
    /// Mean loss on (a subset of) the test set.
    TestLoss,
    /// Training throughput.
    SamplesPerSec,
    /// RL: return of one finished episode.
    EpisodeReturn,
    /// RL: length of one finished episode.
    EpisodeLength,
    /// RL: moving average of the last 20 returns.
    MeanReturn20,
    /// RL: the agent's training loss.
    Loss,
    /// RL: DQN's exploration rate.
    Epsilon,
    /// RL: PPO's policy entropy.
    Entropy,
    /// RL: environment steps per second.
    StepsPerSec,
    /// GAN: discriminator loss.
    DLoss,
    /// GAN: generator loss.
    GLoss,
    /// GAN: mean D(x) on real images.
    DReal,
    /// GAN: mean D(G(z)) on generated images.
    DFake,
    /// GAN: iterations per second.
    ItersPerSec,
    /// GAN: Fréchet distance of CNN features (lower is better).
    FidCnn,
    /// Classifier: the learning rate a step trained at (the schedule's, with live changes).
    LearningRate,
}

impl Metric {
    /// Name in logs and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Metric::TrainLoss => "train_loss",
            Metric::TrainAccuracy => "train_accuracy",
            Metric::TestAccuracy => "test_accuracy",
            Metric::TestLoss => "test_loss",
            Metric::SamplesPerSec => "samples_per_sec",
            Metric::EpisodeReturn => "episode_return",
            Metric::EpisodeLength => "episode_length",
            Metric::MeanReturn20 => "mean_return_20",
            Metric::Loss => "loss",
            Metric::Epsilon => "epsilon",
            Metric::Entropy => "entropy",
            Metric::StepsPerSec => "steps_per_sec",
            Metric::DLoss => "d_loss",
            Metric::GLoss => "g_loss",
            Metric::DReal => "d_real",
            Metric::DFake => "d_fake",
            Metric::ItersPerSec => "iterations_per_sec",
            Metric::FidCnn => "fid_cnn",
            Metric::LearningRate => "lr",
        }
    }

    /// The metric a log record names, so logs read back into typed points; `None` for a name
    /// this version does not know.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::iter().find(|m| m.name() == name)
    }
}

/// How far a run has come, for the gauge, the rate and the ETA.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Progress {
    /// Steps done.
    pub step: u64,
    /// Steps planned in all.
    pub total_steps: u64,
    /// Current epoch, 1-based (RL: episodes so far).
    pub epoch: usize,
    /// Planned epochs.
    pub epochs: usize,
    /// Throughput in the job's natural unit (samples/s for a classifier).
    pub rate: f64,
    /// Seconds left at the current rate.
    pub eta_s: Option<f64>,
}

impl Progress {
    /// Fraction of the run done, in [0, 1].
    pub fn fraction(&self) -> f64 {
        if self.total_steps == 0 {
            0.0
        } else {
            (self.step as f64 / self.total_steps as f64).clamp(0.0, 1.0)
        }
    }
}

/// Something a job tells the user, typed by what the UI and the run's log should do with it.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Informational (a checkpoint written, the dataset loaded): shown, not logged, since the
    /// run's logs say it another way or it is not part of the run's story.
    Info(String),
    /// Something went or may go wrong (divergence, a failed write, a GAN health warning):
    /// shown as a warning and logged as a `warning` event.
    Warning(String),
    /// RL: the solve criterion was met; the tab keeps it on screen.
    Solved(String),
}

impl Notice {
    /// The text as shown.
    pub fn text(&self) -> &str {
        match self {
            Notice::Info(t) | Notice::Warning(t) | Notice::Solved(t) => t,
        }
    }
}

/// The bulky part of a job's state, published through the job's latest-value slot.
#[derive(Debug, Clone, PartialEq)]
pub enum Snapshot {
    /// Sample predictions and the confusion matrix.
    Classifier(Arc<ClassifierSnapshot>),
    /// The fixed-noise sample grid.
    Gan(Arc<GanSnapshot>),
    /// The latest (and greedy) episode frames.
    Rl(Arc<RlSnapshot>),
}

/// The bulky part of the classifier's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierSnapshot {
    /// Predictions for the fixed sample images (enough to fill a 200-column sample grid).
    pub samples: Vec<SamplePrediction>,
    /// Predictions for the first test images the latest evaluation got wrong, in test-set
    /// order, for the "misclassified only" view.
    pub misclassified: Vec<SamplePrediction>,
    /// Confusion matrix from the latest evaluation.
    pub confusion: Confusion,
    /// Test images that evaluation covered.
    pub evaluated: usize,
    /// Class names of the dataset.
    pub class_names: Vec<String>,
    /// Step at which this was computed.
    pub step: u64,
}

impl ClassifierSnapshot {
    /// How many of the `evaluated` images the latest evaluation got wrong: the confusion
    /// matrix's off-diagonal counts, so the figure cannot disagree with the matrix shown.
    pub fn wrong(&self) -> usize {
        let all: u64 = self.confusion.iter().flatten().map(|&c| u64::from(c)).sum();
        let right: u64 = (0..self.confusion.len())
            .map(|i| u64::from(self.confusion[i][i]))
            .sum();
        (all - right) as usize
    }
}

/// The bulky part of a GAN job's state: the fixed-noise grid and the latent interpolation.
#[derive(Debug, Clone, PartialEq)]
pub struct GanSnapshot {
    /// The same noise batch rendered at `iteration`: 28×28 u8 images.
    pub samples: Vec<Vec<u8>>,
    /// Images along the straight line in z between the first two fixed noise vectors, ends
    /// included (28×28 u8 each); empty when the publisher has none (a watched run's files).
    pub strip: Vec<Vec<u8>>,
    /// The iteration the samples belong to.
    pub iteration: u64,
}

/// The bulky part of an RL job's state.
#[derive(Debug, Clone, PartialEq)]
pub struct RlSnapshot {
    /// The latest finished training episode.
    pub latest: Option<EpisodeFrames>,
    /// A greedy episode asked for with `w`, newest first in line for replay.
    pub greedy: Option<EpisodeFrames>,
}

impl Snapshot {
    /// The kind of job that published it.
    pub fn kind(&self) -> JobKind {
        match self {
            Snapshot::Classifier(_) => JobKind::Classifier,
            Snapshot::Gan(_) => JobKind::Gan,
            Snapshot::Rl(_) => JobKind::Rl,
        }
    }
}

impl From<ClassifierSnapshot> for Snapshot {
    fn from(s: ClassifierSnapshot) -> Self {
        Snapshot::Classifier(Arc::new(s))
    }
}

impl From<GanSnapshot> for Snapshot {
    fn from(s: GanSnapshot) -> Self {
        Snapshot::Gan(Arc::new(s))
    }
}

impl From<RlSnapshot> for Snapshot {
    fn from(s: RlSnapshot) -> Self {
        Snapshot::Rl(Arc::new(s))
    }
}

/// How a run ended, in the summary's `status` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryStatus {
    /// It ran to its planned end (or its `--steps`).
    Finished,
    /// The user stopped it.
    Stopped,
    /// A signal stopped it; it can be resumed.
    Interrupted,
    /// It could not continue.
    Failed,
}

/// The figures of a finished classifier run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierSummary {
    /// `cnn` or `mlp`.
    pub model: String,
    /// The dataset trained on.
    pub dataset: String,
    /// Optimizer steps trained.
    pub steps: u64,
    /// Epochs trained (fractional when stopped mid-epoch).
    pub epochs: f64,
    /// Mean training loss of the last 100 steps.
    pub train_loss: Option<f64>,
    /// Accuracy on the whole test set at the end.
    pub test_accuracy: f64,
    /// Mean cross-entropy on the test set at the end.
    pub test_loss: f64,
    /// Training throughput over the run, evaluation excluded.
    pub samples_per_sec: f64,
    /// Time the training thread waited for input batches, per step.
    pub input_ms_per_step: f64,
}

/// The figures of a finished GAN run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanSummary {
    /// `mlp` or `dcgan`.
    pub model: String,
    /// The dataset trained on.
    pub dataset: String,
    /// Iterations trained.
    pub iterations: u64,
    /// Discriminator loss of the last iteration.
    pub d_loss: Option<f64>,
    /// Generator loss of the last iteration.
    pub g_loss: Option<f64>,
    /// Mean D(x) of the last iteration.
    pub d_real: Option<f64>,
    /// Mean D(G(z)) of the last iteration.
    pub d_fake: Option<f64>,
    /// Iterations per second of training time.
    pub iterations_per_sec: f64,
    /// `fid_cnn` of the final generator, when the run scores.
    pub fid_cnn: Option<f64>,
    /// `fid_cnn` of the untrained generator.
    pub fid_cnn_untrained: Option<f64>,
    /// Test accuracy of the feature CNN the scores come from.
    pub feature_cnn_accuracy: Option<f64>,
}

/// A kind's own figures in a run's summary, tagged by kind as in the JSON (`"kind": "gan"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KindSummary {
    /// A classifier's figures.
    Classifier(ClassifierSummary),
    /// A GAN's figures.
    Gan(GanSummary),
    /// An RL agent's figures.
    Rl(RlSummary),
}

/// The last word of a run: the headless `--json` mode's last line, and the `end` event's
/// `summary` in `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// The scenario's name.
    pub scenario: String,
    /// The kind and its figures.
    #[serde(flatten)]
    pub figures: KindSummary,
    /// Wall time of the training loop.
    pub wall_seconds: f64,
    /// How it ended.
    pub status: SummaryStatus,
    /// The run directory, when the run recorded one.
    pub run_dir: Option<String>,
}

impl JobSummary {
    /// The summary as a JSON value (keys sorted), the form headless mode prints and logs store.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Reads a summary back from a run's log; `None` for one this version cannot read (a
    /// failed run's `{"reason": …}`, a summary from an older version).
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }
}

/// The points a resumed run logged before its checkpoint: `(step, metric, value)`.
pub type History = Vec<(u64, Metric, f64)>;

/// Everything a job says, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// Its status changed.
    Status(JobStatus),
    /// One point of a series.
    Metric {
        /// Training step the value belongs to.
        step: u64,
        /// Which series.
        metric: Metric,
        /// The value.
        value: f64,
    },
    /// Progress and speed.
    Progress(Progress),
    /// A hyperparameter change took effect at `step`.
    Applied {
        /// Which one.
        param: Param,
        /// Its new value.
        value: f64,
        /// First step trained with it.
        step: u64,
    },
    /// The job refused a change (the UI validates first; this covers job-side limits).
    Refused {
        /// Which one.
        param: Param,
        /// Why.
        reason: String,
    },
    /// A new snapshot is waiting in the job's latest-value slot.
    Snapshot,
    /// Something the user should know.
    Notice(Notice),
    /// The run ended; the summary the headless `--json` mode prints last.
    Summary(Box<JobSummary>),
    /// The points a resumed run logged before its checkpoint, `(step, metric, value)`, sent once
    /// when the job starts so its curves continue where they were; not recorded again.
    History(History),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_name_reads_back() {
        for metric in Metric::iter() {
            assert_eq!(Metric::from_name(metric.name()), Some(metric));
        }
        assert_eq!(Metric::from_name("no_such_metric"), None);
    }

    #[test]
    fn a_summary_is_flat_json_with_its_kind_and_reads_back() {
        let summary = JobSummary {
            scenario: "cartpole-dqn".into(),
            figures: KindSummary::Rl(RlSummary {
                env: "CartPole-v1".into(),
                agent: "dqn".into(),
                env_steps: 100,
                episodes: 4,
                mean_return_20: Some(25.0),
                solved_at_step: None,
                solved_at_seconds: None,
                steps_per_sec: 1000.0,
            }),
            wall_seconds: 0.1,
            status: SummaryStatus::Interrupted,
            run_dir: None,
        };
        let json = summary.to_json();
        assert_eq!(json["kind"], "rl");
        assert_eq!(json["env_steps"], 100);
        assert_eq!(json["status"], "interrupted");
        assert!(json["solved_at_step"].is_null());
        assert_eq!(JobSummary::from_json(&json), Some(summary));
        assert_eq!(
            JobSummary::from_json(&serde_json::json!({"reason": "bad data"})),
            None
        );
    }
}
