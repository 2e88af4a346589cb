//! The GAN's adapter to the job driver: trains generator against discriminator on real images,
//! renders the fixed noise batch every `sample_every` iterations, scores samples with the
//! feature CNN's Fréchet distance every `score_every`, and warns when the game goes wrong. Its
//! checkpoints resume exactly, and it keeps its latest fixed-noise grid in
//! `samples/latest.pgm` for `gradtop watch`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};

pub use crate::models::gan::resume::GanState;

use super::driver::{fits_training_set, load_dataset, CheckpointData, Stepped, Trainable};
use super::ends::JobEnds;
use super::protocol::{
    GanSnapshot, GanSummary, JobSpec, JobStatus, KindSummary, Metric, Param, Progress,
};
use crate::data::batch::{gather, EpochOrder, EpochOrderState, PixelScale};
use crate::data::Dataset;
use crate::models::error_text;
use crate::models::feature_cnn::{images_from, FeatureNet};
use crate::models::frechet::FeatureStats;
use crate::models::gan::config::GanConfig;
use crate::models::gan::health::{GanStepReport, GanWarning};
use crate::models::gan::networks::IMAGE_SIDE;
use crate::models::gan::samples::SampleGrid;
use crate::models::gan::trainer::{GanError, GanTrainer};
use crate::rng::Rng;
use crate::runs::Checkpoint;

/// Shortest time between two writes of the run directory's sample grid: `watch` needs a fresh
/// picture, not one per render.
const SAMPLES_FILE_INTERVAL: Duration = Duration::from_secs(1);
/// Mixed into the seed for the data-order stream, apart from the trainer's noise streams.
const DATA_STREAM: u64 = 0xda7a;

/// The order a GAN run of `seed` draws its real images in, from a stream apart from the
/// trainer's noise streams.
pub fn data_order(seed: u64, images: usize) -> EpochOrder {
    EpochOrder::new(images, Rng::new(seed ^ DATA_STREAM))
}

/// The next whole real batch of `order` as the GAN trains on it (in [−1, 1]), with the
/// training-set indices it holds.
pub fn next_real_batch(
    dataset: &Dataset,
    order: &mut EpochOrder,
    batch_size: usize,
    scratch: &mut Vec<f32>,
    device: &Device,
) -> candle_core::Result<(Tensor, Vec<u32>)> {
    let indices = order.next_whole_batch(batch_size);
    let images = gather(
        &dataset.train,
        &indices,
        PixelScale::Symmetric,
        scratch,
        device,
    )?
    .images;
    Ok((images, indices))
}
/// Images in the latent interpolation strip: 12 equal steps, so a pane that shows 3, 4, 5 or 7
/// of them can pick equally spaced ones, ends included.
pub const STRIP_STEPS: usize = 13;
/// The hyperparameters the user can change while a GAN runs.
const LIVE_PARAMS: [Param; 5] = [
    Param::LrG,
    Param::LrD,
    Param::DSteps,
    Param::LabelSmoothing,
    Param::BatchSize,
];

/// The feature network that scores samples and the real images' statistics it compares with.
type Scorer = (FeatureNet, FeatureStats);

/// Trainer and data order, stepped by the driver.
pub struct GanJob {
    trainer: GanTrainer,
    dataset: Arc<Dataset>,
    order: EpochOrder,
    scratch: Vec<f32>,
    latest_samples: Vec<Vec<u8>>,
    train_seconds: f64,
    untrained_fid: Option<f64>,
    last_fid: Option<f64>,
    /// When the sample grid last went to the run directory; `None` before the first write.
    samples_written: Option<Instant>,
    /// False once writing the sample grid failed (said once, not every render).
    samples_file_ok: bool,
    scorer: Option<Scorer>,
    /// Iterations planned: the config's, or `--steps` when fewer.
    total: u64,
    /// Iterations per second, smoothed.
    rate: f64,
    /// The health warning last told, so it is told once, not every iteration.
    last_warning: Option<String>,
    /// The latest iteration's figures, for the summary.
    last: Option<GanStepReport>,
}

impl GanJob {
    /// A fresh job: networks and noise from `config.seed`, data order from its own stream.
    fn new(config: &GanConfig, dataset: Arc<Dataset>, device: &Device) -> Result<Self, GanError> {
        let trainer = GanTrainer::new(config, device, config.seed)?;
        let order = data_order(config.seed, dataset.train.len());
        Ok(Self {
            trainer,
            dataset,
            order,
            scratch: Vec::new(),
            latest_samples: Vec::new(),
            train_seconds: 0.0,
            untrained_fid: None,
            last_fid: None,
            samples_written: None,
            samples_file_ok: true,
            scorer: None,
            total: config.iterations,
            rate: 0.0,
            last_warning: None,
            last: None,
        })
    }

    /// One iteration, each D update on its own real batch; a pass over the data ends when
    /// fewer than a whole batch is left, and the next pass is reshuffled.
    fn iterate(&mut self) -> Result<GanStepReport, GanError> {
        let Self {
            trainer,
            dataset,
            order,
            scratch,
            ..
        } = self;
        let batch_size = trainer.config().batch_size;
        let device = trainer.device().clone();
        trainer.step_with(|| {
            next_real_batch(dataset, order, batch_size, scratch, &device).map(|b| b.0)
        })
    }

    /// The sidecar state of a checkpoint taken now.
    fn checkpoint_state(&self) -> GanState {
        let order = self.order.state();
        GanState {
            trainer: self.trainer.checkpoint_state(),
            data_epoch_rng: order.epoch_rng,
            data_rng: order.rng,
            plan_position: order.position,
            train_seconds: self.train_seconds,
            fid_cnn_untrained: self.untrained_fid,
            fid_cnn: self.last_fid,
        }
    }

    /// Continues from `checkpoint`: the trainer's whole state, the data order and position, and
    /// the job's own counters.
    fn restore_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), String> {
        let state: GanState = checkpoint.state_as().map_err(|e| {
            format!(
                "checkpoint at iteration {}: {e} (written before GAN runs could be resumed?)",
                checkpoint.step
            )
        })?;
        let at = |e: String| format!("checkpoint at iteration {}: {e}", checkpoint.step);
        state.check(checkpoint.step).map_err(at)?;
        let images = self.dataset.train.len();
        if state.plan_position > images {
            return Err(at(format!(
                "plan_position = {} is past the {images} training images",
                state.plan_position
            )));
        }
        self.restore_state(&checkpoint.tensors, state)
            .map_err(|e| e.to_string())
    }

    fn restore_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: GanState,
    ) -> Result<(), GanError> {
        self.trainer.restore(tensors, state.trainer)?;
        self.order = EpochOrder::restore(
            self.dataset.train.len(),
            EpochOrderState {
                epoch_rng: state.data_epoch_rng,
                rng: state.data_rng,
                position: state.plan_position,
            },
        );
        self.train_seconds = state.train_seconds;
        self.untrained_fid = state.fid_cnn_untrained;
        self.last_fid = state.fid_cnn;
        Ok(())
    }

    /// Renders the fixed noise, publishes it to the UI and, at most every
    /// [`SAMPLES_FILE_INTERVAL`] unless `force_file`, writes it to the run directory for `watch`.
    fn publish(&mut self, ends: &mut JobEnds, force_file: bool) -> Result<(), String> {
        let samples = self.trainer.fixed_samples().map_err(|e| e.to_string())?;
        let iteration = self.trainer.iteration();
        self.latest_samples = samples.clone();
        let due = force_file
            || self
                .samples_written
                .is_none_or(|t| t.elapsed() >= SAMPLES_FILE_INTERVAL);
        if let Some(dir) = ends.run_dir().filter(|_| due && self.samples_file_ok) {
            self.samples_written = Some(Instant::now());
            let grid = SampleGrid {
                iteration,
                images: samples.clone(),
                side: IMAGE_SIDE,
            };
            if let Err(e) = grid.write_latest(dir) {
                self.samples_file_ok = false;
                ends.warn(format!("samples for watch can no longer be written: {e}"));
            }
        }
        // 13 more images through G in inference mode, next to the 64 of the grid: a fifth more
        // work at sampling time only.
        let strip = self
            .trainer
            .interpolation_strip(STRIP_STEPS)
            .map_err(|e| e.to_string())?;
        ends.publish(GanSnapshot {
            samples,
            strip,
            iteration,
        });
        Ok(())
    }

    /// `fid_cnn` of samples from the current generator, when the run scores.
    fn score(&mut self) -> Result<Option<f64>, String> {
        let Some((net, real)) = &self.scorer else {
            return Ok(None);
        };
        let n = self.trainer.config().score_samples;
        let samples = self.trainer.sample_images(n).map_err(|e| e.to_string())?;
        net.score(&images_from(&samples), real)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// Loads the dataset (and, when the run scores, the feature CNN and the real images'
    /// statistics) and builds fresh networks from the config's seed.
    pub fn build(
        spec: &JobSpec,
        config: GanConfig,
        ends: &mut JobEnds,
        device: &Device,
    ) -> Result<Self, String> {
        let dataset = load_dataset(spec, config.dataset, ends)?;
        fits_training_set(config.batch_size, &dataset)?;
        let scorer = if config.score_every > 0 {
            ends.status(JobStatus::Loading("feature CNN for fid_cnn".into()));
            let net = FeatureNet::load_or_train(&dataset, device, &mut |msg| ends.info(msg))
                .map_err(|e| e.to_string())?;
            let real = net.stats(&dataset.test.images).map_err(|e| e.to_string())?;
            Some((net, real))
        } else {
            None
        };
        let mut job = GanJob::new(&config, dataset, device).map_err(|e| e.to_string())?;
        job.scorer = scorer;
        job.total = spec.max_steps.unwrap_or(u64::MAX).min(config.iterations);
        Ok(job)
    }
}

/// The value of a live hyperparameter in `config`.
fn live_value(config: &GanConfig, param: Param) -> Option<f64> {
    Some(match param {
        Param::LrG => config.lr_g,
        Param::LrD => config.lr_d,
        Param::DSteps => config.d_steps as f64,
        Param::LabelSmoothing => config.label_smoothing,
        Param::BatchSize => config.batch_size as f64,
        _ => return None,
    })
}

impl Trainable for GanJob {
    fn step(&self) -> u64 {
        self.trainer.iteration()
    }

    fn is_done(&self) -> bool {
        self.trainer.iteration() >= self.total
    }

    fn train_step(&mut self, ends: &mut JobEnds) -> Result<Stepped, String> {
        let t0 = Instant::now();
        let report = self.iterate().map_err(|e| e.to_string())?;
        let dt = t0.elapsed().as_secs_f64();
        self.train_seconds += dt;
        self.rate = if self.rate == 0.0 {
            1.0 / dt
        } else {
            0.95 * self.rate + 0.05 / dt
        };
        let it = report.iteration;
        self.last = Some(report);
        if report.d_loss.is_finite() && report.g_loss.is_finite() {
            ends.metric(it, Metric::DLoss, report.d_loss);
            ends.metric(it, Metric::GLoss, report.g_loss);
            ends.metric(it, Metric::DReal, report.d_real);
            ends.metric(it, Metric::DFake, report.d_fake);
        }
        let sample_now = it % self.trainer.config().sample_every as u64 == 0;
        if sample_now {
            self.publish(ends, false)?;
            ends.metric(it, Metric::ItersPerSec, self.rate);
        }
        let samples = sample_now.then_some(self.latest_samples.as_slice());
        if let Some(warning) = self.trainer.diagnose(samples) {
            let text = warning.to_string();
            if matches!(warning, GanWarning::NonFinite { .. }) {
                return Ok(Stepped::Diverged(text));
            }
            if self.last_warning.as_deref() != Some(text.as_str()) {
                ends.warn(text.clone());
                self.last_warning = Some(text);
            }
        }
        let score_every = self.trainer.config().score_every as u64;
        if score_every > 0 && it % score_every == 0 {
            if let Some(f) = self.score()? {
                ends.metric(it, Metric::FidCnn, f);
                self.last_fid = Some(f);
            }
        }
        Ok(Stepped::Trained { report_now: false })
    }

    fn set(&mut self, param: Param, value: f64) -> Result<(), String> {
        let t = &mut self.trainer;
        let r = match param {
            Param::LrG => t.set_lr_g(value),
            Param::LrD => t.set_lr_d(value),
            Param::DSteps => t.set_d_steps(value as usize),
            Param::LabelSmoothing => t.set_label_smoothing(value),
            Param::BatchSize => {
                fits_training_set(value as usize, &self.dataset)?;
                t.set_batch_size(value as usize)
            }
            other => return Err(format!("{other} does not apply to a GAN")),
        };
        r.map_err(|e| e.to_string())
    }

    fn live_params(&self) -> &'static [Param] {
        &LIVE_PARAMS
    }

    fn value(&self, param: Param) -> Option<f64> {
        live_value(self.trainer.config(), param)
    }

    /// Everything [`GanTrainer::checkpoint_tensors`] names, with [`GanState`] as the sidecar:
    /// a GAN checkpoint resumes exactly.
    fn checkpoint_data(&self) -> Result<CheckpointData, String> {
        Ok(CheckpointData {
            step: self.trainer.iteration(),
            tensors: self
                .trainer
                .checkpoint_tensors()
                .map_err(|e| error_text(&e))?,
            state: serde_json::to_value(self.checkpoint_state()).map_err(|e| e.to_string())?,
        })
    }

    fn restore(&mut self, checkpoint: &Checkpoint, _: &mut JobEnds) -> Result<(), String> {
        self.restore_checkpoint(checkpoint)
    }

    fn checkpoint_every(&self) -> u64 {
        self.trainer.config().checkpoint_every as u64
    }

    fn progress(&self) -> Progress {
        let it = self.trainer.iteration();
        Progress {
            step: it,
            total_steps: self.total,
            epoch: 0,
            epochs: 1,
            rate: self.rate,
            eta_s: (self.rate > 0.0).then(|| self.total.saturating_sub(it) as f64 / self.rate),
        }
    }

    /// The first grid, and the untrained generator's score as the baseline of a new run.
    fn begin(&mut self, ends: &mut JobEnds) -> Result<(), String> {
        self.publish(ends, true)?;
        if self.trainer.iteration() == 0 {
            self.untrained_fid = self.score()?;
            self.last_fid = self.untrained_fid;
            if let Some(f) = self.untrained_fid {
                ends.metric(0, Metric::FidCnn, f);
            }
        }
        Ok(())
    }

    /// The run directory's grid always shows where the run stopped, and the summary's score is
    /// of the final generator, unless the user stopped the run.
    fn finish(&mut self, ends: &mut JobEnds, status: &JobStatus) -> Result<(), String> {
        let it = self.trainer.iteration();
        self.publish(ends, true)?;
        if *status == JobStatus::Finished && self.last_fid.is_some() {
            let scored_at_end = it.is_multiple_of(self.trainer.config().score_every.max(1) as u64);
            if !scored_at_end {
                self.last_fid = self.score()?;
                if let Some(f) = self.last_fid {
                    ends.metric(it, Metric::FidCnn, f);
                }
            }
        }
        Ok(())
    }

    fn summary(&self) -> KindSummary {
        let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
        let it = self.trainer.iteration();
        let config = self.trainer.config();
        KindSummary::Gan(GanSummary {
            model: config.model.as_str().into(),
            dataset: self.dataset.name.as_str().into(),
            iterations: it,
            d_loss: finite(self.last.map(|r| r.d_loss)),
            g_loss: finite(self.last.map(|r| r.g_loss)),
            d_real: finite(self.last.map(|r| r.d_real)),
            d_fake: finite(self.last.map(|r| r.d_fake)),
            iterations_per_sec: if self.train_seconds > 0.0 {
                it as f64 / self.train_seconds
            } else {
                0.0
            },
            fid_cnn: self.last_fid,
            fid_cnn_untrained: self.untrained_fid,
            feature_cnn_accuracy: self.scorer.as_ref().map(|(n, _)| n.accuracy),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::lookup::load_from_dir;
    use crate::data::DatasetName;
    use crate::device::DeviceChoice;
    use crate::jobs::protocol::{JobCommand, JobEvent, RunTarget};
    use crate::models::gan::config::GanModelKind;
    use crate::models::gan::samples::LATEST_SAMPLES_FILE;
    use crate::runs::{load_checkpoint, write_checkpoint};
    use crate::scenario::Settings;

    fn dataset(dir: &std::path::Path) -> Arc<Dataset> {
        crate::data::synthetic::write_dataset(&dir.join("mnist"), 100, 20, 3).expect("dataset");
        Arc::new(load_from_dir(DatasetName::Mnist, &dir.join("mnist")).expect("load"))
    }

    fn config(model: GanModelKind, batch_size: usize) -> GanConfig {
        GanConfig {
            model,
            batch_size,
            fixed_samples: 16,
            lr_g: 1e-3,
            lr_d: 1e-3,
            score_every: 0,
            seed: 5,
            ..GanConfig::default()
        }
    }

    /// Every checkpoint tensor's name, dtype, shape and raw bits.
    fn tensor_bits(job: &GanJob) -> Vec<(String, String, Vec<usize>, Vec<u64>)> {
        job.trainer
            .checkpoint_tensors()
            .expect("tensors")
            .into_iter()
            .map(|(name, t)| {
                let flat = t.flatten_all().expect("flatten");
                let bits = match t.dtype() {
                    candle_core::DType::F32 => flat
                        .to_vec1::<f32>()
                        .expect("f32")
                        .iter()
                        .map(|v| u64::from(v.to_bits()))
                        .collect(),
                    candle_core::DType::I64 => flat
                        .to_vec1::<i64>()
                        .expect("i64")
                        .iter()
                        .map(|&v| v as u64)
                        .collect(),
                    other => panic!("unexpected dtype {other:?} of {name}"),
                };
                (name, format!("{:?}", t.dtype()), t.dims().to_vec(), bits)
            })
            .collect()
    }

    /// Trains `n` iterations, changes every live hyperparameter, checkpoints through the disk,
    /// trains `k` more; a fresh job restored from the checkpoint trains `k` and must match the
    /// straight run exactly: losses, weights, both optimizers' state, counters, data order.
    fn round_trip(model: GanModelKind, batch: usize, n: usize, k: usize) {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dataset(dir.path());
        let config = config(model, batch);
        let mut straight = GanJob::new(&config, data.clone(), &Device::Cpu).expect("job");
        for _ in 0..n {
            straight.iterate().expect("step");
        }
        for (param, value) in [
            (Param::LrG, 5e-4),
            (Param::LrD, 2.5e-4),
            (Param::DSteps, 2.0),
            (Param::LabelSmoothing, 0.9),
            (Param::BatchSize, (batch / 2) as f64),
        ] {
            straight.set(param, value).expect("a live change");
        }
        let info = write_checkpoint(
            &dir.path().join("checkpoints"),
            straight.trainer.iteration(),
            &straight.trainer.checkpoint_tensors().expect("tensors"),
            &straight.checkpoint_state(),
        )
        .expect("write");
        let saved_state = straight.checkpoint_state();
        let checkpoint = load_checkpoint(&info, &Device::Cpu).expect("load");
        assert_eq!(checkpoint.step, n as u64);

        let mut restored = GanJob::new(&config, data, &Device::Cpu).expect("job");
        restored
            .iterate()
            .expect("a step to move away from the fresh state");
        restored.restore_checkpoint(&checkpoint).expect("restore");
        assert_eq!(restored.checkpoint_state(), saved_state);
        assert_eq!(tensor_bits(&restored), tensor_bits(&straight));
        assert_eq!(restored.trainer.config().d_steps, 2);
        assert_eq!(restored.trainer.config().batch_size, batch / 2);

        for i in 0..k {
            let a = straight.iterate().expect("step");
            let b = restored.iterate().expect("step");
            assert_eq!(a, b, "iteration {} after the checkpoint", i + 1);
            assert_eq!(a.iteration, (n + i + 1) as u64);
        }
        assert_eq!(tensor_bits(&restored), tensor_bits(&straight));
        assert_eq!(restored.checkpoint_state(), straight.checkpoint_state());
        assert_eq!(
            restored.trainer.fixed_samples().expect("samples"),
            straight.trainer.fixed_samples().expect("samples")
        );
    }

    #[test]
    fn a_restored_mlp_gan_continues_bit_identically() {
        // 100 images in batches of 16: the 7th iteration starts a reshuffled pass, and after the
        // change to d_steps 2 at batch 8 the passes end at other places again.
        round_trip(GanModelKind::Mlp, 16, 9, 8);
    }

    #[test]
    fn a_restored_dcgan_continues_bit_identically_with_its_batch_norm_statistics() {
        round_trip(GanModelKind::Dcgan, 4, 2, 2);
    }

    #[test]
    fn checkpoint_names_every_part_of_the_state() {
        let dir = tempfile::tempdir().expect("temp dir");
        let job = GanJob::new(
            &config(GanModelKind::Dcgan, 4),
            dataset(dir.path()),
            &Device::Cpu,
        )
        .expect("job");
        let names: Vec<String> = job
            .trainer
            .checkpoint_tensors()
            .expect("tensors")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for expected in [
            "generator.g.fc.weight",
            "generator.g.bn0.running_mean",
            "discriminator.d.conv1.weight",
            "adam_g.m.g.fc.weight",
            "adam_g.v.g.deconv2.bias",
            "adam_g.step",
            "adam_d.m.d.fc.weight",
            "adam_d.step",
            "fixed_noise",
        ] {
            assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
        }
        assert!(
            !names.iter().any(|n| n.contains("adam_g.m.g.bn0.running")),
            "running statistics are state, not optimised"
        );
        let state = serde_json::to_value(job.checkpoint_state()).expect("json");
        for key in [
            "iteration",
            "noise_rng",
            "sample_rng",
            "config",
            "data_epoch_rng",
            "data_rng",
            "plan_position",
            "train_seconds",
        ] {
            assert!(state.get(key).is_some(), "{key}: {state}");
        }
    }

    #[test]
    fn a_checkpoint_of_another_model_or_without_state_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dataset(dir.path());
        let dcgan =
            GanJob::new(&config(GanModelKind::Dcgan, 4), data.clone(), &Device::Cpu).expect("job");
        let mut mlp = GanJob::new(&config(GanModelKind::Mlp, 4), data, &Device::Cpu).expect("job");
        let before = tensor_bits(&mlp);
        let tensors: HashMap<String, Tensor> = dcgan
            .trainer
            .checkpoint_tensors()
            .expect("tensors")
            .into_iter()
            .collect();
        let err = mlp
            .restore_state(&tensors, dcgan.checkpoint_state())
            .expect_err("another model");
        assert!(err.to_string().contains("model = dcgan"), "{err}");
        assert_eq!(tensor_bits(&mlp), before, "nothing changed");

        // A checkpoint from before GAN runs could resume: weights and config only.
        let old = Checkpoint {
            step: 10,
            tensors,
            state: serde_json::json!({ "iteration": 10, "config": mlp.trainer.config() }),
        };
        let err = mlp
            .restore_checkpoint(&old)
            .expect_err("no optimizer state");
        assert!(err.contains("iteration 10"), "{err}");
    }

    /// Sends `Start` (and `commands`) to a fresh job for `spec` and returns all its events.
    fn run_job(spec: JobSpec, commands: &[JobCommand]) -> Vec<JobEvent> {
        let mut handle = crate::jobs::start(spec).expect("spawn");
        handle.send(JobCommand::Start);
        for &c in commands {
            handle.send(c);
        }
        let mut events = Vec::new();
        while let Some(e) = handle.events.blocking_recv() {
            events.push(e);
        }
        events
    }

    #[test]
    fn a_resumed_job_continues_its_count_and_logs_the_changes_still_in_force() {
        let dir = tempfile::tempdir().expect("temp dir");
        dataset(dir.path());
        let spec = |run: RunTarget, steps: u64| JobSpec {
            scenario: "gan-unit".into(),
            settings: Settings::Gan(GanConfig {
                checkpoint_every: 5,
                sample_every: 5,
                ..config(GanModelKind::Mlp, 16)
            }),
            data_dir: Some(dir.path().to_path_buf()),
            device: DeviceChoice::Cpu,
            max_steps: Some(steps),
            run,
        };
        let parent = dir.path().join("runs");
        let first = run_job(
            spec(
                RunTarget::New {
                    parent: parent.clone(),
                },
                12,
            ),
            &[JobCommand::Set(Param::LrG, 5e-4)],
        );
        assert!(
            first.contains(&JobEvent::Status(JobStatus::Finished)),
            "{first:?}"
        );
        let run_dir = std::fs::read_dir(&parent)
            .expect("runs")
            .next()
            .expect("a run")
            .expect("entry")
            .path();
        let steps = crate::runs::whole_checkpoints(&run_dir.join("checkpoints"))
            .expect("scan")
            .iter()
            .map(|c| c.step)
            .collect::<Vec<_>>();
        assert_eq!(steps, vec![12, 10, 5], "periodic and end checkpoints");

        let second = run_job(
            spec(
                RunTarget::Resume {
                    dir: run_dir.clone(),
                },
                20,
            ),
            &[],
        );
        assert!(
            second.contains(&JobEvent::Applied {
                param: Param::LrG,
                value: 5e-4,
                step: 13
            }),
            "the live lr_g stays in force and is logged again: {second:?}"
        );
        let d_loss: Vec<u64> = second
            .iter()
            .filter_map(|e| match e {
                JobEvent::Metric {
                    step,
                    metric: Metric::DLoss,
                    ..
                } => Some(*step),
                _ => None,
            })
            .collect();
        assert_eq!(d_loss, (13..=20).collect::<Vec<_>>());
        assert!(
            !second.iter().any(|e| matches!(
                e,
                JobEvent::Applied {
                    param: Param::LrD,
                    ..
                }
            )),
            "unchanged values are not logged"
        );
        let grid = SampleGrid::parse(
            &std::fs::read(run_dir.join(LATEST_SAMPLES_FILE)).expect("samples file"),
        )
        .expect("a sample grid");
        assert_eq!((grid.iteration, grid.images.len()), (20, 16));
        let (events, _) =
            crate::runs::read_jsonl::<crate::runs::EventRecord>(&run_dir.join("events.jsonl"))
                .expect("events");
        assert!(events.iter().any(|e| e.step == 13
            && e.event
                == crate::runs::RunEvent::Set {
                    param: "lr_g".into(),
                    value: 5e-4
                }));
    }
}
