//! The GAN job: trains generator against discriminator on real images, renders the fixed
//! noise batch every `sample_every` iterations, scores samples with the feature CNN's Fréchet
//! distance every `score_every`, and warns when the game goes wrong.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::record::{self, RunSession, RunTarget};
use super::{Flow, JobEnds, JobEvent, JobStatus, Metric, Param, Progress, Steer};
use crate::data::batch::{gather, PixelScale};
use crate::data::{lookup, BatchPlan, Dataset};
use crate::device::DeviceChoice;
use crate::models::feature_cnn::{images_from, FeatureNet};
use crate::models::frechet::FeatureStats;
use crate::models::gan_config::GanConfig;
use crate::models::gan_health::GanWarning;
use crate::models::gan_trainer::{GanError, GanTrainer};
use crate::rng::Rng;
use crate::runs::varmap_tensors;
use crate::scenario::Settings;

/// Seconds between progress events.
const PROGRESS_INTERVAL_S: f64 = 0.2;
/// Checkpoints kept in a GAN run directory.
const KEEP_CHECKPOINTS: usize = 3;

/// The bulky part of a GAN job's state: the fixed-noise grid.
#[derive(Debug, Clone, PartialEq)]
pub struct GanSnapshot {
    /// The same noise batch rendered at `iteration`: 28×28 u8 images.
    pub samples: Vec<Vec<u8>>,
    /// The iteration the samples belong to.
    pub iteration: u64,
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
    /// The run directory to create (resuming GAN runs is not supported yet).
    pub run: RunTarget,
}

/// Trainer and data order, steered between iterations.
struct GanJob {
    trainer: GanTrainer,
    dataset: Arc<Dataset>,
    plan: BatchPlan,
    rng: Rng,
    scratch: Vec<f32>,
    latest_samples: Vec<Vec<u8>>,
    run: Option<RunSession>,
}

impl GanJob {
    /// One iteration, each D update on its own real batch.
    fn iterate(&mut self) -> Result<crate::models::gan_health::GanStepReport, GanError> {
        let Self {
            trainer,
            dataset,
            plan,
            rng,
            scratch,
            ..
        } = self;
        let batch_size = trainer.config().batch_size;
        let device = trainer.device().clone();
        trainer.step_with(|| {
            let indices = match plan.next_indices(batch_size) {
                Some(ix) if ix.len() == batch_size => ix.to_vec(),
                _ => {
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

    fn checkpoint(&mut self) -> Result<String, String> {
        self.checkpoint_because(record::reason::KEY)
    }

    /// Both networks' weights (`generator.…`, `discriminator.…` by `VarBuilder` path) with the
    /// iteration and hyperparameters in the sidecar; optimizer state is not saved, so a GAN
    /// checkpoint is for sampling and inspection, not exact resumption.
    fn checkpoint_because(&mut self, reason: &str) -> Result<String, String> {
        let run = self
            .run
            .as_ref()
            .ok_or_else(|| "this run has no run directory".to_string())?;
        let mut tensors = varmap_tensors(self.trainer.varmap_g(), "generator.");
        tensors.extend(varmap_tensors(self.trainer.varmap_d(), "discriminator."));
        let iteration = self.trainer.iteration();
        let state = json!({ "iteration": iteration, "config": self.trainer.config() });
        let path = run.checkpoint(iteration, &tensors, &state, reason)?;
        Ok(path.display().to_string())
    }

    fn next_step(&self) -> u64 {
        self.trainer.iteration() + 1
    }
}

/// Runs a GAN job to its end.
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
    let trainer = GanTrainer::new(config, &device, config.seed).map_err(|e| e.to_string())?;
    let mut rng = Rng::new(config.seed ^ 0xda7a);
    let plan = BatchPlan::shuffled(dataset.train.len(), &mut rng);
    let run = RunSession::begin(
        &spec.run,
        &spec.scenario,
        &Settings::Gan(config.clone()).to_table(),
        KEEP_CHECKPOINTS,
        &events,
        &device,
    )?;
    let mut job = GanJob {
        trainer,
        dataset: dataset.clone(),
        plan,
        rng,
        scratch: Vec::new(),
        latest_samples: Vec::new(),
        run: run.map(|b| b.session),
    };
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
    let publish = |job: &mut GanJob, ends: &JobEnds<GanSnapshot>| -> Result<(), String> {
        let samples = job.trainer.fixed_samples().map_err(|e| e.to_string())?;
        job.latest_samples = samples.clone();
        ends.publish(GanSnapshot {
            samples,
            iteration: job.trainer.iteration(),
        });
        Ok(())
    };
    publish(&mut job, ends)?;
    let untrained_fid = score(&mut job, &scorer)?;
    if let Some(f) = untrained_fid {
        events.metric(0, Metric::FidCnn, f);
    }

    events.status(JobStatus::Running);
    let started = Instant::now();
    let mut train_seconds = 0.0;
    let mut last_progress = Instant::now();
    let mut rate = 0.0f64;
    let mut last_fid = untrained_fid;
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
        train_seconds += dt;
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
            publish(&mut job, ends)?;
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
                last_fid = Some(f);
            }
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
    if !it.is_multiple_of(job.trainer.config().sample_every as u64) {
        publish(&mut job, ends)?;
    }
    // The summary's score is of the final generator, unless the user stopped the run.
    if status == JobStatus::Finished && last_fid.is_some() {
        let scored_at_end = it.is_multiple_of(job.trainer.config().score_every.max(1) as u64);
        if !scored_at_end {
            last_fid = score(&mut job, &scorer)?;
            if let Some(f) = last_fid {
                events.metric(it, Metric::FidCnn, f);
            }
        }
    }
    if job.run.is_some() && !diverged {
        ends.control.checkpoint(&mut job, record::exit_reason());
    }
    let f = |v: Option<f64>| v.filter(|x| x.is_finite());
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
        "fid_cnn": last_fid,
        "fid_cnn_untrained": untrained_fid,
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
