//! The classifier's adapter to the job driver: trains the CNN or MLP on an IDX dataset,
//! evaluates on the test set, and reports loss, accuracy, speed, sample predictions and a
//! confusion matrix.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;

use super::driver::{
    fits_training_set, load_dataset, load_folder, CheckpointData, Stepped, Trainable,
};
use super::ends::JobEnds;
use super::protocol::{
    ClassifierSnapshot, ClassifierSummary, JobSpec, JobStatus, KindSummary, Metric, Param, Progress,
};
use super::run_files::{write_json_atomic, ConfusionFile, CONFUSION_FILE};
use crate::data::{Dataset, DatasetName};
use crate::models::classifier::config::ClassifierConfig;
use crate::models::classifier::{ClassifierTrainer, Evaluation};
use crate::models::error_text;
use crate::rng::Rng;
use crate::runs::Checkpoint;

/// Test images shown in the sample grid (a fixed set, so the user sees predictions change):
/// enough to fill the grid of a 200×60 terminal (4 × 7 cells).
pub const SAMPLE_COUNT: usize = 32;
/// Misclassified test images sent with each evaluation, for the "misclassified only" view: as
/// many as the grid shows at most, so the view is as full as the normal one.
pub const MISCLASSIFIED_COUNT: usize = 32;
/// Steps between train-accuracy reports.
const ACCURACY_EVERY: u64 = 50;
/// A batch's mean cross-entropy above which the run has diverged, though still finite: over 10
/// classes it starts at ln 10 ≈ 2.3, and 1000 means logits thousands apart, which no recovering
/// run reaches (an lr of 10 gets there in a few steps).
const DIVERGED_LOSS: f64 = 1e3;
/// Training losses averaged for the summary.
const SUMMARY_LOSSES: usize = 100;
/// The hyperparameters a running classifier takes.
const LIVE_PARAMS: [Param; 3] = [Param::Lr, Param::BatchSize, Param::Epochs];

/// Smoothed throughput: an exponential moving average of samples per second.
#[derive(Debug, Clone, Copy, Default)]
struct RateMeter {
    rate: f64,
}

impl RateMeter {
    fn record(&mut self, samples: usize, seconds: f64) {
        if seconds <= 0.0 {
            return;
        }
        let now = samples as f64 / seconds;
        self.rate = if self.rate == 0.0 {
            now
        } else {
            0.95 * self.rate + 0.05 * now
        };
    }
}

/// A classifier run as the driver steps it: the trainer plus what the job reports.
pub struct ClassifierJob {
    trainer: ClassifierTrainer,
    dataset: Arc<Dataset>,
    max_steps: Option<u64>,
    sample_indices: Vec<u32>,
    meter: RateMeter,
    train_seconds: f64,
    samples_seen: usize,
    acc_correct: usize,
    acc_count: usize,
    recent_losses: VecDeque<f64>,
    /// The latest evaluation and the step it was made at.
    last_eval: Option<(u64, Evaluation)>,
    /// The learning rate last recorded, so a change (live or scheduled) is recorded when it
    /// happens.
    recorded_lr: Option<f64>,
}

impl ClassifierJob {
    /// Loads the dataset (the lookup order's error, with its fix, on failure) and builds the
    /// model with fresh weights from the config's seed.
    pub fn build(
        spec: &JobSpec,
        config: ClassifierConfig,
        ends: &mut JobEnds,
        device: &Device,
    ) -> Result<Self, String> {
        let dataset = match (&config.data, config.dataset) {
            (Some(source), DatasetName::Folder) => load_folder(source, ends)?,
            _ => load_dataset(spec, config.dataset, ends)?,
        };
        fits_training_set(config.batch_size, &dataset)?;
        let sample_indices: Vec<u32> = {
            let mut order: Vec<u32> = (0..dataset.test.len() as u32).collect();
            Rng::new(config.seed ^ 0xfeed).shuffle(&mut order);
            order.truncate(SAMPLE_COUNT.min(order.len()));
            order
        };
        let trainer = ClassifierTrainer::new(config, dataset.clone(), device.clone())
            .map_err(|e| error_text(&e))?;
        Ok(Self {
            trainer,
            dataset,
            max_steps: spec.max_steps,
            sample_indices,
            meter: RateMeter::default(),
            train_seconds: 0.0,
            samples_seen: 0,
            acc_correct: 0,
            acc_count: 0,
            recent_losses: VecDeque::with_capacity(SUMMARY_LOSSES + 1),
            last_eval: None,
            recorded_lr: None,
        })
    }

    /// Evaluates on the first `limit` test images and reports the figures (with the training
    /// rate when `rate` is given, as the curves have always been recorded) and a snapshot.
    fn evaluate(
        &mut self,
        ends: &mut JobEnds,
        limit: usize,
        rate: Option<f64>,
    ) -> Result<(), String> {
        let eval = self
            .trainer
            .evaluate(&self.dataset.test, limit)
            .map_err(|e| error_text(&e))?;
        let step = self.trainer.step();
        ends.metric(step, Metric::TestAccuracy, eval.accuracy);
        ends.metric(step, Metric::TestLoss, eval.loss);
        if let Some(rate) = rate {
            ends.metric(step, Metric::SamplesPerSec, rate);
        }
        self.publish(ends, &eval)?;
        self.last_eval = Some((step, eval));
        Ok(())
    }

    /// Sends the sample predictions and confusion matrix to the UI, and the matrix to the run
    /// directory for `gradtop watch`.
    fn publish(&mut self, ends: &mut JobEnds, eval: &Evaluation) -> Result<(), String> {
        if let Some(dir) = ends.run_dir() {
            let file = ConfusionFile {
                step: self.trainer.step(),
                dataset: self.dataset.name,
                evaluated: eval.count,
                confusion: eval.confusion,
                class_names: if self.dataset.name == DatasetName::Folder {
                    self.dataset.class_names().to_vec()
                } else {
                    Vec::new()
                },
            };
            if let Err(e) = write_json_atomic(dir, CONFUSION_FILE, &file) {
                ends.warn(format!("writing {CONFUSION_FILE}: {e}"));
            }
        }
        // One forward pass over both sets: at most 64 images, a small fraction of an
        // evaluation's `eval_subset` (2,000 by default).
        let wrong = &eval.misclassified[..eval.misclassified.len().min(MISCLASSIFIED_COUNT)];
        let indices: Vec<u32> = self.sample_indices.iter().chain(wrong).copied().collect();
        let mut samples = self.trainer.predict(&indices).map_err(|e| error_text(&e))?;
        // Keep only those this pass also gets wrong: a near tie can tip the other way in a
        // batch of another size, and the view promises mistakes only.
        let misclassified = samples
            .split_off(self.sample_indices.len().min(samples.len()))
            .into_iter()
            .filter(|p| p.top3[0].0 != p.label)
            .collect();
        ends.publish(ClassifierSnapshot {
            samples,
            misclassified,
            confusion: eval.confusion,
            evaluated: eval.count,
            class_names: self.dataset.class_names().to_vec(),
            step: self.trainer.step(),
        });
        Ok(())
    }

    fn remaining_steps(&self) -> u64 {
        let left = self.trainer.remaining_steps();
        match self.max_steps {
            Some(m) => m.saturating_sub(self.trainer.step()).min(left),
            None => left,
        }
    }
}

impl Trainable for ClassifierJob {
    fn step(&self) -> u64 {
        self.trainer.step()
    }

    fn is_done(&self) -> bool {
        self.trainer.remaining_steps() == 0
    }

    fn train_step(&mut self, ends: &mut JobEnds) -> Result<Stepped, String> {
        let t0 = Instant::now();
        let out = self.trainer.train_step().map_err(|e| error_text(&e))?;
        let dt = t0.elapsed().as_secs_f64();
        self.train_seconds += dt;
        self.samples_seen += out.count;
        self.meter.record(out.count, dt);
        let step = self.trainer.step();
        if !out.loss.is_finite() || out.loss > DIVERGED_LOSS {
            return Ok(Stepped::Diverged(format!(
                "loss became {:.4} at step {step} (lr {:.1e}): lower lr and start again",
                out.loss,
                self.trainer.config().lr
            )));
        }
        ends.metric(step, Metric::TrainLoss, out.loss);
        // The rate is recorded when it first applies and then every ACCURACY_EVERY steps while a
        // schedule moves it: enough points for its curve, a few bytes per 50 steps.
        let lr = self.trainer.learning_rate();
        if self.recorded_lr != Some(lr)
            && (self.recorded_lr.is_none()
                || step.is_multiple_of(ACCURACY_EVERY)
                || self.trainer.config().schedule.is_constant())
        {
            ends.metric(step, Metric::LearningRate, lr);
            self.recorded_lr = Some(lr);
        }
        self.recent_losses.push_back(out.loss);
        if self.recent_losses.len() > SUMMARY_LOSSES {
            self.recent_losses.pop_front();
        }
        self.acc_correct += out.correct;
        self.acc_count += out.count;
        if step.is_multiple_of(ACCURACY_EVERY) {
            let accuracy = self.acc_correct as f64 / self.acc_count as f64;
            ends.metric(step, Metric::TrainAccuracy, accuracy);
            (self.acc_correct, self.acc_count) = (0, 0);
        }
        let config = self.trainer.config();
        if out.epoch_done || step.is_multiple_of(config.eval_every as u64) {
            let limit = if out.epoch_done {
                usize::MAX
            } else {
                config.eval_subset
            };
            let rate = self.meter.rate;
            self.evaluate(ends, limit, Some(rate))?;
        }
        Ok(Stepped::Trained {
            report_now: out.epoch_done,
        })
    }

    fn set(&mut self, param: Param, value: f64) -> Result<(), String> {
        if param == Param::BatchSize {
            fits_training_set(value as usize, &self.dataset)?;
        }
        self.trainer.set(param, value)
    }

    fn live_params(&self) -> &'static [Param] {
        &LIVE_PARAMS
    }

    fn value(&self, param: Param) -> Option<f64> {
        self.trainer.value(param)
    }

    fn checkpoint_data(&self) -> Result<CheckpointData, String> {
        Ok(CheckpointData {
            step: self.trainer.step(),
            tensors: self
                .trainer
                .checkpoint_tensors()
                .map_err(|e| error_text(&e))?,
            state: serde_json::to_value(self.trainer.checkpoint_state())
                .map_err(|e| e.to_string())?,
        })
    }

    fn restore(&mut self, checkpoint: &Checkpoint, ends: &mut JobEnds) -> Result<(), String> {
        let optimizer_restored = self.trainer.restore(checkpoint)?;
        if !optimizer_restored {
            ends.info("the optimizer restarts: this checkpoint has no Adam moments");
        }
        Ok(())
    }

    fn checkpoint_every(&self) -> u64 {
        self.trainer.config().checkpoint_every as u64
    }

    fn progress(&self) -> Progress {
        let step = self.trainer.step();
        let remaining = self.remaining_steps();
        let config = self.trainer.config();
        let steps_per_sec = self.meter.rate / config.batch_size as f64;
        Progress {
            step,
            total_steps: step + remaining,
            epoch: (self.trainer.epoch() + 1).min(config.epochs),
            epochs: config.epochs,
            rate: self.meter.rate,
            eta_s: (steps_per_sec > 0.0).then(|| remaining as f64 / steps_per_sec),
        }
    }

    /// A final evaluation on the whole test set unless the last step just did one, or the
    /// user stopped the run (then the latest figures stand and quitting stays instant).
    fn finish(&mut self, ends: &mut JobEnds, status: &JobStatus) -> Result<(), String> {
        if matches!(status, JobStatus::Failed(_)) {
            // The weights diverged: an evaluation would only measure NaN.
            return Ok(());
        }
        let whole = self.dataset.test.len();
        match &self.last_eval {
            Some((at, e)) if *at == self.trainer.step() && e.count == whole => Ok(()),
            Some(_) if *status == JobStatus::Stopped => Ok(()),
            _ => self.evaluate(ends, usize::MAX, None),
        }
    }

    fn summary(&self) -> KindSummary {
        let (test_accuracy, test_loss) = self
            .last_eval
            .as_ref()
            .map_or((f64::NAN, f64::NAN), |(_, e)| (e.accuracy, e.loss));
        let config = self.trainer.config();
        KindSummary::Classifier(ClassifierSummary {
            model: config.model_name().into(),
            dataset: self.dataset.name.as_str().into(),
            steps: self.trainer.step(),
            epochs: self.trainer.step() as f64 / self.trainer.steps_per_epoch() as f64,
            train_loss: (!self.recent_losses.is_empty())
                .then(|| self.recent_losses.iter().sum::<f64>() / self.recent_losses.len() as f64),
            test_accuracy,
            test_loss,
            samples_per_sec: if self.train_seconds > 0.0 {
                self.samples_seen as f64 / self.train_seconds
            } else {
                0.0
            },
            input_ms_per_step: self.trainer.input_stats().wait_ms_per_batch(),
        })
    }
}
