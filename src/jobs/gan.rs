//! The GAN job: trains generator against discriminator on real images, renders the fixed
//! noise batch every `sample_every` iterations, scores samples with the feature CNN's Fréchet
//! distance every `score_every`, and warns when the game goes wrong. With a run directory it
//! checkpoints every `checkpoint_every` iterations (and on `c`, pause, exit and signals),
//! resumes exactly from its newest checkpoint, and keeps its latest fixed-noise grid in
//! `samples/latest.pgm` for `gradtop watch`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::follow::FollowedSnapshot;
use super::record::{self, RunSession, RunTarget};
use super::{Flow, JobEnds, JobEvent, JobStatus, Metric, Param, Progress, Steer};
use crate::data::batch::{gather, PixelScale};
use crate::data::{lookup, BatchPlan, Dataset};
use crate::device::DeviceChoice;
use crate::models::feature_cnn::{images_from, FeatureNet};
use crate::models::frechet::FeatureStats;
use crate::models::gan::IMAGE_SIDE;
use crate::models::gan_config::GanConfig;
use crate::models::gan_health::{GanStepReport, GanWarning};
use crate::models::gan_io::{SampleGrid, LATEST_SAMPLES_FILE};
use crate::models::gan_trainer::{GanError, GanTrainer, GanTrainerState};
use crate::rng::Rng;
use crate::runs::Checkpoint;
use crate::scenario::Settings;

/// Seconds between progress events.
const PROGRESS_INTERVAL_S: f64 = 0.2;
/// Shortest time between two writes of the run directory's sample grid: `watch` needs a fresh
/// picture, not one per render.
const SAMPLES_FILE_INTERVAL: Duration = Duration::from_secs(1);
/// Mixed into the seed for the data-order stream, apart from the trainer's noise streams.
const DATA_STREAM: u64 = 0xda7a;
/// The hyperparameters the user can change while a GAN runs.
const LIVE_PARAMS: [Param; 5] = [
    Param::LrG,
    Param::LrD,
    Param::DSteps,
    Param::LabelSmoothing,
    Param::BatchSize,
];

/// The bulky part of a GAN job's state: the fixed-noise grid.
#[derive(Debug, Clone, PartialEq)]
pub struct GanSnapshot {
    /// The same noise batch rendered at `iteration`: 28×28 u8 images.
    pub samples: Vec<Vec<u8>>,
    /// The iteration the samples belong to.
    pub iteration: u64,
}

/// `gradtop watch` rebuilds the grid from the run directory's `samples/latest.pgm`.
impl FollowedSnapshot for GanSnapshot {
    const FILE: Option<&'static str> = Some(LATEST_SAMPLES_FILE);

    fn from_file(bytes: &[u8]) -> Option<Self> {
        let grid = SampleGrid::parse(bytes)?;
        (grid.side == IMAGE_SIDE).then_some(GanSnapshot {
            samples: grid.images,
            iteration: grid.iteration,
        })
    }
}

/// What a GAN job needs to start.
#[derive(Debug, Clone)]
pub struct GanJobSpec {
    /// Scenario name, for summaries.
    pub scenario: String,
    /// Hyperparameters, dataset and schedule.
    pub config: GanConfig,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// Where to train.
    pub device: DeviceChoice,
    /// Stop after this many iterations (headless `--steps`).
    pub max_steps: Option<u64>,
    /// The run directory to create or continue.
    pub run: RunTarget,
}

/// A GAN checkpoint's sidecar `state`: with the tensors (see
/// [`GanTrainer::checkpoint_tensors`]), enough to continue the run exactly where it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanState {
    /// Iteration counter, noise streams and the hyperparameters in force.
    #[serde(flatten)]
    pub trainer: GanTrainerState,
    /// Data-order RNG state before the current pass's shuffle (rebuilds the pass's order).
    pub data_epoch_rng: [u64; 4],
    /// Data-order RNG state now.
    pub data_rng: [u64; 4],
    /// Training images of the current pass already handed out.
    pub plan_position: usize,
    /// Seconds spent in training steps so far, for the summary's iterations per second.
    pub train_seconds: f64,
    /// `fid_cnn` of the untrained generator, when the run scores.
    pub fid_cnn_untrained: Option<f64>,
    /// The latest `fid_cnn`.
    pub fid_cnn: Option<f64>,
}

/// Trainer and data order, steered between iterations.
struct GanJob {
    trainer: GanTrainer,
    dataset: Arc<Dataset>,
    plan: BatchPlan,
    rng: Rng,
    /// `rng` as it was before `plan` was shuffled, so a checkpoint can rebuild the order.
    epoch_rng: Rng,
    scratch: Vec<f32>,
    latest_samples: Vec<Vec<u8>>,
    run: Option<RunSession>,
    train_seconds: f64,
    untrained_fid: Option<f64>,
    last_fid: Option<f64>,
    /// When the sample grid last went to the run directory; `None` before the first write.
    samples_written: Option<Instant>,
    /// False once writing the sample grid failed (said once, not every render).
    samples_file_ok: bool,
}

impl GanJob {
    /// A fresh job: networks and noise from `config.seed`, data order from its own stream.
    fn new(config: &GanConfig, dataset: Arc<Dataset>, device: &Device) -> Result<Self, GanError> {
        let trainer = GanTrainer::new(config, device, config.seed)?;
        let mut rng = Rng::new(config.seed ^ DATA_STREAM);
        let epoch_rng = rng.clone();
        let plan = BatchPlan::shuffled(dataset.train.len(), &mut rng);
        Ok(Self {
            trainer,
            dataset,
            plan,
            rng,
            epoch_rng,
            scratch: Vec::new(),
            latest_samples: Vec::new(),
            run: None,
            train_seconds: 0.0,
            untrained_fid: None,
            last_fid: None,
            samples_written: None,
            samples_file_ok: true,
        })
    }

    /// One iteration, each D update on its own real batch; a pass over the data ends when
    /// fewer than a whole batch is left, and the next pass is reshuffled.
    fn iterate(&mut self) -> Result<GanStepReport, GanError> {
        let Self {
            trainer,
            dataset,
            plan,
            rng,
            epoch_rng,
            scratch,
            ..
        } = self;
        let batch_size = trainer.config().batch_size;
        let device = trainer.device().clone();
        trainer.step_with(|| {
            let indices = match plan.next_indices(batch_size) {
                Some(ix) if ix.len() == batch_size => ix.to_vec(),
                _ => {
                    *epoch_rng = rng.clone();
                    *plan = BatchPlan::shuffled(dataset.train.len(), rng);
                    plan.next_indices(batch_size).unwrap_or_default().to_vec()
                }
            };
            gather(
                &dataset.train,
                &indices,
                PixelScale::Symmetric,
                scratch,
                &device,
            )
            .map(|b| b.images)
        })
    }

    /// The sidecar state of a checkpoint taken now.
    fn checkpoint_state(&self) -> GanState {
        GanState {
            trainer: self.trainer.checkpoint_state(),
            data_epoch_rng: self.epoch_rng.state(),
            data_rng: self.rng.state(),
            plan_position: self.plan.position(),
            train_seconds: self.train_seconds,
            fid_cnn_untrained: self.untrained_fid,
            fid_cnn: self.last_fid,
        }
    }

    /// Continues from `checkpoint`: the trainer's whole state, the data order and position, and
    /// the job's own counters.
    fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), String> {
        let state: GanState = checkpoint.state_as().map_err(|e| {
            format!(
                "checkpoint at iteration {}: {e} (written before GAN runs could be resumed?)",
                checkpoint.step
            )
        })?;
        self.restore_state(&checkpoint.tensors, state)
            .map_err(|e| e.to_string())
    }

    fn restore_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: GanState,
    ) -> Result<(), GanError> {
        self.trainer.restore(tensors, state.trainer)?;
        self.epoch_rng = Rng::from_state(state.data_epoch_rng);
        let mut rng = self.epoch_rng.clone();
        self.plan = BatchPlan::shuffled(self.dataset.train.len(), &mut rng);
        if state.plan_position > 0 {
            self.plan.next_indices(state.plan_position);
        }
        self.rng = Rng::from_state(state.data_rng);
        self.train_seconds = state.train_seconds;
        self.untrained_fid = state.fid_cnn_untrained;
        self.last_fid = state.fid_cnn;
        Ok(())
    }

    /// Renders the fixed noise, publishes it to the UI and, at most every
    /// [`SAMPLES_FILE_INTERVAL`] unless `force_file`, writes it to the run directory for `watch`.
    fn publish(&mut self, ends: &JobEnds<GanSnapshot>, force_file: bool) -> Result<(), String> {
        let samples = self.trainer.fixed_samples().map_err(|e| e.to_string())?;
        let iteration = self.trainer.iteration();
        self.latest_samples = samples.clone();
        if let Some(run) = &self.run {
            let due = force_file
                || self
                    .samples_written
                    .is_none_or(|t| t.elapsed() >= SAMPLES_FILE_INTERVAL);
            if due && self.samples_file_ok {
                self.samples_written = Some(Instant::now());
                let grid = SampleGrid {
                    iteration,
                    images: samples.clone(),
                    side: IMAGE_SIDE,
                };
                if let Err(e) = grid.write_atomic(&run.path().join(LATEST_SAMPLES_FILE)) {
                    self.samples_file_ok = false;
                    ends.control.events.send(JobEvent::Notice(format!(
                        "samples for watch can no longer be written: {e}"
                    )));
                }
            }
        }
        ends.publish(GanSnapshot { samples, iteration });
        Ok(())
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

impl Steer for GanJob {
    fn set(&mut self, param: Param, value: f64) -> Result<(), String> {
        let t = &mut self.trainer;
        let r = match param {
            Param::LrG => t.set_lr_g(value),
            Param::LrD => t.set_lr_d(value),
            Param::DSteps => t.set_d_steps(value as usize),
            Param::LabelSmoothing => t.set_label_smoothing(value),
            Param::BatchSize => t.set_batch_size(value as usize),
            other => return Err(format!("{other} does not apply to a GAN")),
        };
        r.map_err(|e| e.to_string())
    }

    /// Everything [`GanTrainer::checkpoint_tensors`] names, with [`GanState`] as the sidecar:
    /// a GAN checkpoint resumes exactly.
    fn checkpoint(&mut self, reason: &str) -> Result<String, String> {
        let run = record::session(&self.run)?;
        let tensors = self
            .trainer
            .checkpoint_tensors()
            .map_err(|e| super::error_text(&e))?;
        let path = run.checkpoint(
            self.trainer.iteration(),
            &tensors,
            &self.checkpoint_state(),
            reason,
        )?;
        Ok(path.display().to_string())
    }

    fn next_step(&self) -> u64 {
        self.trainer.iteration() + 1
    }
}

/// Runs a GAN job to its end; with [`RunTarget::Resume`] it continues from the run's newest
/// whole checkpoint.
pub fn run(spec: GanJobSpec, ends: &mut JobEnds<GanSnapshot>) -> Result<(), String> {
    let events = ends.control.events.clone();
    events.status(JobStatus::Ready);
    if ends.control.wait_for_start() == Flow::Stop {
        events.status(JobStatus::Stopped);
        return Ok(());
    }
    let config = &spec.config;
    events.status(JobStatus::Loading(format!("loading {}", config.dataset)));
    let dataset = Arc::new(
        lookup::load(config.dataset, spec.data_dir.as_deref()).map_err(|e| e.to_string())?,
    );
    let device = spec.device.open()?;
    let scorer = if config.score_every > 0 {
        events.status(JobStatus::Loading("feature CNN for fid_cnn".into()));
        let net = FeatureNet::load_or_train(&dataset, &device, &mut |msg| {
            events.send(JobEvent::Notice(msg))
        })
        .map_err(|e| e.to_string())?;
        let real = net.stats(&dataset.test.images).map_err(|e| e.to_string())?;
        Some((net, real))
    } else {
        None
    };
    let mut job = GanJob::new(config, dataset.clone(), &device).map_err(|e| e.to_string())?;
    if let Some(begun) = RunSession::begin(
        &spec.run,
        &spec.scenario,
        &Settings::Gan(config.clone()).to_table(),
        config.keep_checkpoints,
        &events,
        &device,
    )? {
        match &begun.checkpoint {
            Some(checkpoint) => {
                job.restore(checkpoint)?;
                // Live changes made before the checkpoint stay in force; say so, at the
                // iteration they now apply from, so the log and the panel agree.
                let next = job.trainer.iteration() + 1;
                for param in LIVE_PARAMS {
                    let now = live_value(job.trainer.config(), param);
                    if let Some(value) = now.filter(|v| Some(*v) != live_value(config, param)) {
                        events.send(JobEvent::Applied {
                            param,
                            value,
                            step: next,
                        });
                    }
                }
            }
            None if matches!(spec.run, RunTarget::Resume { .. }) => {
                events.notify("no whole checkpoint yet: starting again from iteration 0");
            }
            None => {}
        }
        job.run = Some(begun.session);
    }
    let total = spec.max_steps.unwrap_or(u64::MAX).min(config.iterations);
    let score = |job: &mut GanJob,
                 scorer: &Option<(FeatureNet, FeatureStats)>|
     -> Result<Option<f64>, String> {
        let Some((net, real)) = scorer else {
            return Ok(None);
        };
        let n = job.trainer.config().score_samples;
        let samples = job.trainer.sample_images(n).map_err(|e| e.to_string())?;
        net.score(&images_from(&samples), real)
            .map(Some)
            .map_err(|e| e.to_string())
    };
    job.publish(ends, true)?;
    if job.trainer.iteration() == 0 {
        job.untrained_fid = score(&mut job, &scorer)?;
        job.last_fid = job.untrained_fid;
        if let Some(f) = job.untrained_fid {
            events.metric(0, Metric::FidCnn, f);
        }
    }

    events.status(JobStatus::Running);
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut rate = 0.0f64;
    let mut last_warning: Option<String> = None;
    let mut status = JobStatus::Finished;
    let mut last = None;
    // True while the networks hold a non-finite update, which no checkpoint should keep.
    let mut diverged = false;
    loop {
        if ends.control.poll(&mut job) == Flow::Stop {
            status = JobStatus::Stopped;
            break;
        }
        let it = job.trainer.iteration();
        if it >= total {
            break;
        }
        let t0 = Instant::now();
        let report = job.iterate().map_err(|e| e.to_string())?;
        let dt = t0.elapsed().as_secs_f64();
        job.train_seconds += dt;
        rate = if rate == 0.0 {
            1.0 / dt
        } else {
            0.95 * rate + 0.05 / dt
        };
        let it = report.iteration;
        last = Some(report);
        if report.d_loss.is_finite() && report.g_loss.is_finite() {
            events.metric(it, Metric::DLoss, report.d_loss);
            events.metric(it, Metric::GLoss, report.g_loss);
            events.metric(it, Metric::DReal, report.d_real);
            events.metric(it, Metric::DFake, report.d_fake);
        }
        let sample_now = it % job.trainer.config().sample_every as u64 == 0;
        if sample_now {
            job.publish(ends, false)?;
            events.metric(it, Metric::ItersPerSec, rate);
        }
        let samples = sample_now.then(|| job.latest_samples.clone());
        if let Some(warning) = job.trainer.diagnose(samples.as_deref()) {
            let text = warning.to_string();
            if matches!(warning, GanWarning::NonFinite { .. }) {
                diverged = true;
                events.send(JobEvent::Notice(text.clone()));
                if ends.control.hold(&text, &mut job) == Flow::Stop {
                    status = JobStatus::Stopped;
                    break;
                }
                continue;
            }
            if last_warning.as_deref() != Some(text.as_str()) {
                events.send(JobEvent::Notice(format!("warning: {text}")));
                last_warning = Some(text);
            }
        }
        diverged = false;
        let score_every = job.trainer.config().score_every as u64;
        if score_every > 0 && it % score_every == 0 {
            if let Some(f) = score(&mut job, &scorer)? {
                events.metric(it, Metric::FidCnn, f);
                job.last_fid = Some(f);
            }
        }
        let checkpoint_every = job.trainer.config().checkpoint_every as u64;
        if checkpoint_every > 0 && it % checkpoint_every == 0 && job.run.is_some() {
            ends.control.checkpoint(&mut job, record::reason::PERIODIC);
        }
        if last_progress.elapsed().as_secs_f64() >= PROGRESS_INTERVAL_S {
            last_progress = Instant::now();
            events.send(JobEvent::Progress(Progress {
                step: it,
                total_steps: total,
                epoch: 0,
                epochs: 1,
                rate,
                eta_s: (rate > 0.0).then(|| total.saturating_sub(it) as f64 / rate),
            }));
        }
    }
    let it = job.trainer.iteration();
    // The run directory's grid always shows where the run stopped.
    job.publish(ends, true)?;
    // The summary's score is of the final generator, unless the user stopped the run.
    if status == JobStatus::Finished && job.last_fid.is_some() {
        let scored_at_end = it.is_multiple_of(job.trainer.config().score_every.max(1) as u64);
        if !scored_at_end {
            job.last_fid = score(&mut job, &scorer)?;
            if let Some(f) = job.last_fid {
                events.metric(it, Metric::FidCnn, f);
            }
        }
    }
    if job.run.is_some() && !diverged {
        ends.control.checkpoint(&mut job, record::exit_reason());
    }
    let f = |v: Option<f64>| v.filter(|x| x.is_finite());
    let train_seconds = job.train_seconds;
    events.send(JobEvent::Summary(json!({
        "scenario": spec.scenario,
        "kind": "gan",
        "model": config.model.as_str(),
        "dataset": dataset.name.as_str(),
        "iterations": it,
        "d_loss": f(last.map(|r| r.d_loss)),
        "g_loss": f(last.map(|r| r.g_loss)),
        "d_real": f(last.map(|r| r.d_real)),
        "d_fake": f(last.map(|r| r.d_fake)),
        "iterations_per_sec": if train_seconds > 0.0 { it as f64 / train_seconds } else { 0.0 },
        "fid_cnn": job.last_fid,
        "fid_cnn_untrained": job.untrained_fid,
        "feature_cnn_accuracy": scorer.as_ref().map(|(n, _)| n.accuracy),
        "wall_seconds": started.elapsed().as_secs_f64(),
        "status": record::summary_status(&status),
        "run_dir": job.run.as_ref().map(|r| r.path().display().to_string()),
    })));
    events.status(status);
    Ok(())
}

/// Spawns a GAN job thread; it waits for `Start`.
pub fn spawn(spec: GanJobSpec) -> std::io::Result<super::JobHandle<GanSnapshot>> {
    super::spawn("gan", move |ends| run(spec, ends))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::lookup::load_from_dir;
    use crate::data::DatasetName;
    use crate::models::gan_config::GanModelKind;
    use crate::runs::{load_checkpoint, write_checkpoint};

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
        restored.restore(&checkpoint).expect("restore");
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
            state: json!({ "iteration": 10, "config": mlp.trainer.config() }),
        };
        let err = mlp.restore(&old).expect_err("no optimizer state");
        assert!(err.contains("iteration 10"), "{err}");
    }

    /// Sends `Start` (and `commands`) to a fresh job for `spec` and returns all its events.
    fn run_job(spec: GanJobSpec, commands: &[super::super::JobCommand]) -> Vec<JobEvent> {
        let mut handle = spawn(spec).expect("spawn");
        handle.send(super::super::JobCommand::Start);
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
        let spec = |run: RunTarget, steps: u64| GanJobSpec {
            scenario: "gan-unit".into(),
            config: GanConfig {
                checkpoint_every: 5,
                sample_every: 5,
                ..config(GanModelKind::Mlp, 16)
            },
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
            &[super::super::JobCommand::Set(Param::LrG, 5e-4)],
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
