//! The GAN training loop, one iteration per call, for a job thread to drive.
//!
//! The trainer owns both networks, their optimizers and the noise generator; the caller owns
//! the data and supplies real batches. Live hyperparameter changes go through validating
//! setters and apply from the next call to [`GanTrainer::step`].

use std::collections::HashMap;

use candle_core::{DType, Device, ModuleT, Tensor, Var};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use crate::models::gan::config::{
    validate_batch_size, validate_d_steps, validate_label_smoothing, validate_lr, value_as_count,
    GanConfig, GanConfigError,
};
use crate::models::gan::health::{diagnose, GanStepReport, GanWarning, HEALTH_WINDOW};
use crate::models::gan::networks::{
    discriminator_loss, generator_loss, images_to_u8, init_weights, mean_probability, split_halves,
    trainable_named_vars, Discriminator, Generator, Params, IMAGE_SIDE,
};
use crate::models::named_grads;
use crate::rng::Rng;

/// The optimizer of both networks; one line to swap for a checkpointable Adam.
type GanOptimizer = crate::ops::adam::Adam;

/// Adam's ε, as in PyTorch.
const ADAM_EPS: f64 = 1e-8;
/// Images generated per forward pass when sampling many (bounds DCGAN activation memory).
const SAMPLE_CHUNK: usize = 500;
/// Mixed into the seed for the sampling stream, so scoring and previews never shift the
/// training noise: a run trains the same whether or not it is scored.
const SAMPLE_STREAM: u64 = 0x5A3D_1E5F_0C0A_7B11;

/// Checkpoint tensor-name prefix of the generator's weights (`generator.g.fc1.weight`).
pub const GENERATOR_PREFIX: &str = "generator.";
/// Checkpoint tensor-name prefix of the discriminator's weights (`discriminator.d.fc1.weight`).
pub const DISCRIMINATOR_PREFIX: &str = "discriminator.";
/// Checkpoint tensor-name prefix of the generator's Adam state (`adam_g.m.<var>`, `adam_g.step`).
pub const ADAM_G_PREFIX: &str = "adam_g.";
/// Checkpoint tensor-name prefix of the discriminator's Adam state (`adam_d.m.<var>`, …).
pub const ADAM_D_PREFIX: &str = "adam_d.";
/// Checkpoint tensor name of the fixed noise batch, `(fixed_samples, z_dim)` f32.
pub const FIXED_NOISE_TENSOR: &str = "fixed_noise";
/// The prefix [`crate::ops::adam::Adam::state_tensors`] gives its own names.
const ADAM_OWN_PREFIX: &str = "adam.";

/// The trainer's scalars in a checkpoint sidecar; with [`GanTrainer::checkpoint_tensors`],
/// enough to continue training bit for bit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanTrainerState {
    /// Completed iterations.
    pub iteration: u64,
    /// Training-noise generator state.
    pub noise_rng: [u64; 4],
    /// Sampling-noise generator state (scores and previews).
    pub sample_rng: [u64; 4],
    /// Hyperparameters in force, live changes included.
    pub config: GanConfig,
}

/// What one traced iteration drew and the gradients it applied.
#[derive(Debug, Default)]
pub struct GanStepTrace {
    /// The noise of each discriminator update, `(batch, z_dim)`; the generator update reuses
    /// the last one's fake batch.
    pub noise: Vec<Tensor>,
    /// The discriminator's gradients of its last update, by variable name.
    pub d_grads: Vec<(String, Tensor)>,
    /// The generator's gradients, by variable name.
    pub g_grads: Vec<(String, Tensor)>,
}

/// Why a GAN step or setup failed.
#[derive(Debug, thiserror::Error)]
pub enum GanError {
    /// A hyperparameter was refused.
    #[error(transparent)]
    Config(#[from] GanConfigError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// The caller's real batch has the wrong shape.
    #[error("real batch has shape {dims:?}, expected (batch, 1, 28, 28) with batch ≥ 1")]
    BadBatch {
        /// The shape received.
        dims: Vec<usize>,
    },
    /// The caller's batch source failed.
    #[error("could not get a real batch: {0}")]
    Data(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A checkpoint does not fit this trainer (another model, a missing tensor).
    #[error("checkpoint cannot be restored: {0}")]
    Checkpoint(String),
}

/// Drives generator and discriminator training step by step.
pub struct GanTrainer {
    config: GanConfig,
    device: Device,
    varmap_g: VarMap,
    varmap_d: VarMap,
    generator: Generator,
    discriminator: Discriminator,
    opt_g: GanOptimizer,
    opt_d: GanOptimizer,
    rng: Rng,
    sample_rng: Rng,
    fixed_noise: Tensor,
    iteration: u64,
    history: Vec<GanStepReport>,
}

fn adam(
    vars: Vec<(String, Var)>,
    lr: f64,
    config: &GanConfig,
) -> candle_core::Result<GanOptimizer> {
    GanOptimizer::from_named(
        vars,
        crate::ops::adam::AdamConfig {
            lr,
            beta1: config.beta1,
            beta2: config.beta2,
            eps: ADAM_EPS,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
        },
    )
}

fn scalar(t: &Tensor) -> candle_core::Result<f64> {
    t.to_dtype(DType::F64)?.to_scalar::<f64>()
}

/// `n` standard-normal noise vectors `(n, z_dim)` from `rng`.
fn noise(rng: &mut Rng, n: usize, z_dim: usize, device: &Device) -> candle_core::Result<Tensor> {
    let values: Vec<f32> = (0..n * z_dim).map(|_| rng.normal()).collect();
    Tensor::from_vec(values, (n, z_dim), device)
}

impl GanTrainer {
    /// Builds both networks and optimizers from `config` on `device`.
    ///
    /// `seed` fixes everything: the fixed noise batch (drawn first), the weights, the training
    /// noise and the sampling noise.
    pub fn new(config: &GanConfig, device: &Device, seed: u64) -> Result<Self, GanError> {
        config.validate()?;
        let mut rng = Rng::new(seed);
        let fixed_noise = noise(&mut rng, config.fixed_samples, config.z_dim, device)?;
        let varmap_g = VarMap::new();
        let varmap_d = VarMap::new();
        let generator = Generator::new(
            config.model,
            config.z_dim,
            VarBuilder::from_varmap(&varmap_g, DType::F32, device).pp("g"),
        )?;
        let discriminator = Discriminator::new(
            config.model,
            VarBuilder::from_varmap(&varmap_d, DType::F32, device).pp("d"),
        )?;
        init_weights(&varmap_g, config.model, &mut rng)?;
        init_weights(&varmap_d, config.model, &mut rng)?;
        let opt_g = adam(trainable_named_vars(&varmap_g), config.lr_g, config)?;
        let opt_d = adam(trainable_named_vars(&varmap_d), config.lr_d, config)?;
        Ok(Self {
            config: config.clone(),
            device: device.clone(),
            varmap_g,
            varmap_d,
            generator,
            discriminator,
            opt_g,
            opt_d,
            rng,
            sample_rng: Rng::new(seed ^ SAMPLE_STREAM),
            fixed_noise,
            iteration: 0,
            history: Vec::with_capacity(2 * HEALTH_WINDOW),
        })
    }

    /// One iteration with the same real batch for every D update (with `d_steps` > 1 use
    /// [`GanTrainer::step_with`] to give each update its own batch).
    ///
    /// `real`: `(batch, 1, 28, 28)` in [−1, 1]; the generated batch has the same size.
    pub fn step(&mut self, real: &Tensor) -> Result<GanStepReport, GanError> {
        self.step_with(|| Ok::<_, std::convert::Infallible>(real.clone()))
    }

    /// One iteration: `d_steps` discriminator updates, each on a fresh real batch from
    /// `next_real` (called `d_steps` times) and fresh noise, then one generator update on the
    /// last generated batch, scored by the just-updated D (as in PyTorch's reference loop).
    ///
    /// If a loss comes out NaN or infinite, that update and the rest of the iteration are
    /// skipped, so the weights stay at the last finite step; the report carries the bad value
    /// and [`GanTrainer::diagnose`] returns [`GanWarning::NonFinite`].
    pub fn step_with<F, E>(&mut self, next_real: F) -> Result<GanStepReport, GanError>
    where
        F: FnMut() -> Result<Tensor, E>,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.step_inner(next_real, None)
    }

    /// [`Self::step_with`], also returning the noise each update drew and the gradients it
    /// applied, so the iteration can be replayed and checked in another framework.
    pub fn step_traced<F, E>(
        &mut self,
        next_real: F,
    ) -> Result<(GanStepReport, GanStepTrace), GanError>
    where
        F: FnMut() -> Result<Tensor, E>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let mut trace = GanStepTrace::default();
        let report = self.step_inner(next_real, Some(&mut trace))?;
        Ok((report, trace))
    }

    fn step_inner<F, E>(
        &mut self,
        mut next_real: F,
        mut trace: Option<&mut GanStepTrace>,
    ) -> Result<GanStepReport, GanError>
    where
        F: FnMut() -> Result<Tensor, E>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let mut last = None;
        for _ in 0..self.config.d_steps {
            let real = next_real().map_err(|e| GanError::Data(Box::new(e)))?;
            let real = self.check_batch(&real)?;
            let batch = real.dim(0)?;
            let z = noise(&mut self.rng, batch, self.config.z_dim, &self.device)?;
            let fake = self.generator.forward_t(&z, true)?;
            // D has no batch norm, so one pass over real and fake together is the same
            // computation as two, with better matrix shapes.
            let both = Tensor::cat(&[&real, &fake.detach()], 0)?;
            let logits = self.discriminator.logits(&both, Params::Trainable)?;
            let (real_logits, fake_logits) = split_halves(&logits, batch)?;
            let d_loss =
                discriminator_loss(&real_logits, &fake_logits, self.config.label_smoothing)?;
            let d_loss_value = scalar(&d_loss)?;
            let d_real = mean_probability(&real_logits)?;
            let d_fake = mean_probability(&fake_logits)?;
            if !d_loss_value.is_finite() {
                return Ok(self.record(d_loss_value, f64::NAN, d_real, d_fake));
            }
            let grads = d_loss.backward()?;
            if let Some(trace) = trace.as_deref_mut() {
                trace.noise.push(z.clone());
                trace.d_grads = named_grads(&self.varmap_d, &grads)?;
            }
            self.opt_d.step(&grads)?;
            last = Some((fake, d_loss_value, d_real, d_fake));
        }
        let (fake, d_loss, d_real, d_fake) =
            last.expect("validated d_steps ≥ 1, so the loop ran at least once");
        let g_loss = generator_loss(&self.discriminator.logits(&fake, Params::Frozen)?)?;
        let g_loss_value = scalar(&g_loss)?;
        if g_loss_value.is_finite() {
            let grads = g_loss.backward()?;
            if let Some(trace) = trace {
                trace.g_grads = named_grads(&self.varmap_g, &grads)?;
            }
            self.opt_g.step(&grads)?;
        }
        Ok(self.record(d_loss, g_loss_value, d_real, d_fake))
    }

    fn check_batch(&self, real: &Tensor) -> Result<Tensor, GanError> {
        let dims = real.dims();
        if dims.len() != 4 || dims[0] == 0 || dims[1..] != [1, IMAGE_SIDE, IMAGE_SIDE] {
            return Err(GanError::BadBatch {
                dims: dims.to_vec(),
            });
        }
        Ok(real.to_device(&self.device)?.to_dtype(DType::F32)?)
    }

    fn record(&mut self, d_loss: f64, g_loss: f64, d_real: f64, d_fake: f64) -> GanStepReport {
        let finite = d_loss.is_finite() && g_loss.is_finite();
        let report = GanStepReport {
            iteration: if finite {
                self.iteration + 1
            } else {
                self.iteration
            },
            d_loss,
            g_loss,
            d_real,
            d_fake,
        };
        if finite {
            self.iteration += 1;
        }
        if self.history.len() >= 2 * HEALTH_WINDOW {
            self.history.drain(..HEALTH_WINDOW);
        }
        self.history.push(report);
        report
    }

    /// The most urgent current warning (NaN, D won, sample collapse), judged on the recent
    /// step reports and, if given, the latest fixed-noise samples.
    pub fn diagnose(&self, fixed_samples: Option<&[Vec<u8>]>) -> Option<GanWarning> {
        diagnose(&self.history, fixed_samples)
    }

    /// The fixed noise batch rendered with G in inference mode: the same z every call, so the
    /// user watches the same samples form. `fixed_samples` images of 28×28 `u8`, row-major.
    pub fn fixed_samples(&self) -> Result<Vec<Vec<u8>>, GanError> {
        Ok(images_to_u8(
            &self.generator.forward_t(&self.fixed_noise, false)?,
        )?)
    }

    /// Images along the straight line in z between the first two fixed noise vectors, ends
    /// included (`steps` ≥ 2), for a latent interpolation strip.
    pub fn interpolation_strip(&self, steps: usize) -> Result<Vec<Vec<u8>>, GanError> {
        let steps = steps.max(2);
        let a = self.fixed_noise.narrow(0, 0, 1)?;
        let b = self.fixed_noise.narrow(0, 1, 1)?;
        let rows = (0..steps)
            .map(|i| {
                let t = i as f64 / (steps - 1) as f64;
                a.affine(1.0 - t, 0.0)? + b.affine(t, 0.0)?
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let z = Tensor::cat(&rows, 0)?;
        Ok(images_to_u8(&self.generator.forward_t(&z, false)?)?)
    }

    /// `n` fresh samples `(n, 1, 28, 28)` in [−1, 1], G in inference mode, for scoring.
    /// Draws from a separate noise stream, so sampling does not change the training run.
    pub fn sample_tensor(&mut self, n: usize) -> Result<Tensor, GanError> {
        let mut chunks = Vec::with_capacity(n.div_ceil(SAMPLE_CHUNK));
        let mut left = n;
        while left > 0 {
            let k = left.min(SAMPLE_CHUNK);
            let z = noise(&mut self.sample_rng, k, self.config.z_dim, &self.device)?;
            chunks.push(self.generator.forward_t(&z, false)?);
            left -= k;
        }
        if chunks.is_empty() {
            return Ok(Tensor::zeros(
                (0, 1, IMAGE_SIDE, IMAGE_SIDE),
                DType::F32,
                &self.device,
            )?);
        }
        Ok(Tensor::cat(&chunks, 0)?)
    }

    /// `n` fresh samples as 28×28 `u8` images, e.g. to write as IDX for `score-samples`.
    pub fn sample_images(&mut self, n: usize) -> Result<Vec<Vec<u8>>, GanError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        Ok(images_to_u8(&self.sample_tensor(n)?)?)
    }

    /// Changes the generator's learning rate from the next step; refuses lr ≤ 0 or non-finite.
    pub fn set_lr_g(&mut self, lr: f64) -> Result<(), GanConfigError> {
        self.config.lr_g = validate_lr("lr_g", lr)?;
        self.opt_g.set_learning_rate(lr);
        Ok(())
    }

    /// Changes the discriminator's learning rate from the next step; refuses lr ≤ 0 or non-finite.
    pub fn set_lr_d(&mut self, lr: f64) -> Result<(), GanConfigError> {
        self.config.lr_d = validate_lr("lr_d", lr)?;
        self.opt_d.set_learning_rate(lr);
        Ok(())
    }

    /// Changes the number of D updates per iteration (1..=100).
    pub fn set_d_steps(&mut self, d_steps: usize) -> Result<(), GanConfigError> {
        self.config.d_steps = validate_d_steps(d_steps)?;
        Ok(())
    }

    /// Changes the real-image target in D's loss ([0.5, 1.0]; 1.0 = off, 0.9 = smoothed).
    pub fn set_label_smoothing(&mut self, target: f64) -> Result<(), GanConfigError> {
        self.config.label_smoothing = validate_label_smoothing(target)?;
        Ok(())
    }

    /// Records a new batch size for the caller's data loader; the trainer itself follows the
    /// size of whatever real batch it is given.
    pub fn set_batch_size(&mut self, batch_size: usize) -> Result<(), GanConfigError> {
        self.config.batch_size = validate_batch_size(batch_size)?;
        Ok(())
    }

    /// Applies a live change by scenario key: the entry point for the job's `Set(key, value)`.
    /// Keys fixed at build time answer [`GanConfigError::NeedsRestart`]; nothing changes on error.
    pub fn set_param(&mut self, key: &str, value: f64) -> Result<(), GanConfigError> {
        match key {
            "lr_g" => self.set_lr_g(value),
            "lr_d" => self.set_lr_d(value),
            "d_steps" => self.set_d_steps(value_as_count("d_steps", value)?),
            "label_smoothing" => self.set_label_smoothing(value),
            "batch_size" => self.set_batch_size(value_as_count("batch_size", value)?),
            "sample_every" => match value_as_count("sample_every", value)? {
                0 => Err(GanConfigError::Invalid {
                    key: "sample_every",
                    value: value.to_string(),
                    expected: "an integer ≥ 1",
                }),
                n => {
                    self.config.sample_every = n;
                    Ok(())
                }
            },
            "model" => Err(GanConfigError::NeedsRestart { key: "model" }),
            "z_dim" => Err(GanConfigError::NeedsRestart { key: "z_dim" }),
            "fixed_samples" => Err(GanConfigError::NeedsRestart {
                key: "fixed_samples",
            }),
            "beta1" => Err(GanConfigError::NeedsRestart { key: "beta1" }),
            "beta2" => Err(GanConfigError::NeedsRestart { key: "beta2" }),
            other => Err(GanConfigError::UnknownKey(other.to_string())),
        }
    }

    /// The hyperparameters in force, live changes included (for `config.toml` and the panel).
    pub fn config(&self) -> &GanConfig {
        &self.config
    }

    /// Completed iterations (a skipped non-finite step does not count).
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// The device both networks live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Recent step reports, oldest first (at least the last [`HEALTH_WINDOW`] once that many ran).
    pub fn history(&self) -> &[GanStepReport] {
        &self.history
    }

    /// Generator weights (names `g.*`), for checkpoints.
    pub fn varmap_g(&self) -> &VarMap {
        &self.varmap_g
    }

    /// Discriminator weights (names `d.*`), for checkpoints.
    pub fn varmap_d(&self) -> &VarMap {
        &self.varmap_d
    }

    /// Mutable generator weights, for loading a checkpoint in place.
    pub fn varmap_g_mut(&mut self) -> &mut VarMap {
        &mut self.varmap_g
    }

    /// Mutable discriminator weights, for loading a checkpoint in place.
    pub fn varmap_d_mut(&mut self) -> &mut VarMap {
        &mut self.varmap_d
    }

    /// The training-noise generator state, for checkpoints.
    pub fn rng_state(&self) -> [u64; 4] {
        self.rng.state()
    }

    /// Everything tensor-shaped a checkpoint needs: both networks' variables (batch-norm running
    /// statistics included) under [`GENERATOR_PREFIX`] / [`DISCRIMINATOR_PREFIX`] plus their
    /// `VarBuilder` path, both optimizers' moments and step under [`ADAM_G_PREFIX`] /
    /// [`ADAM_D_PREFIX`], and the fixed noise as [`FIXED_NOISE_TENSOR`]. Weights share storage
    /// with the variables: write them before the next step.
    pub fn checkpoint_tensors(&self) -> candle_core::Result<Vec<(String, Tensor)>> {
        let mut tensors = crate::runs::varmap_tensors(&self.varmap_g, GENERATOR_PREFIX);
        tensors.extend(crate::runs::varmap_tensors(
            &self.varmap_d,
            DISCRIMINATOR_PREFIX,
        ));
        for (prefix, optimizer) in [(ADAM_G_PREFIX, &self.opt_g), (ADAM_D_PREFIX, &self.opt_d)] {
            tensors.extend(optimizer.state_tensors()?.into_iter().map(|(name, t)| {
                let own = name.strip_prefix(ADAM_OWN_PREFIX).unwrap_or(&name);
                (format!("{prefix}{own}"), t)
            }));
        }
        tensors.push((FIXED_NOISE_TENSOR.to_string(), self.fixed_noise.clone()));
        Ok(tensors)
    }

    /// The scalars a checkpoint's sidecar needs (see [`GanTrainerState`]).
    pub fn checkpoint_state(&self) -> GanTrainerState {
        GanTrainerState {
            iteration: self.iteration,
            noise_rng: self.rng.state(),
            sample_rng: self.sample_rng.state(),
            config: self.config.clone(),
        }
    }

    /// Continues from a checkpoint written by [`Self::checkpoint_tensors`] and
    /// [`Self::checkpoint_state`]: weights, optimizer moments and steps, fixed noise, noise
    /// streams, iteration counter and the hyperparameters in force then. Refuses a checkpoint of
    /// another architecture before changing anything. The health window starts empty.
    pub fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: GanTrainerState,
    ) -> Result<(), GanError> {
        let fixed = |key: &'static str, ours: String, theirs: String| {
            if ours == theirs {
                Ok(())
            } else {
                Err(GanError::Checkpoint(format!(
                    "it has {key} = {theirs}, this run {ours} (needs a new run)"
                )))
            }
        };
        let (ours, theirs) = (&self.config, &state.config);
        fixed(
            "model",
            ours.model.as_str().into(),
            theirs.model.as_str().into(),
        )?;
        fixed("z_dim", ours.z_dim.to_string(), theirs.z_dim.to_string())?;
        fixed(
            "fixed_samples",
            ours.fixed_samples.to_string(),
            theirs.fixed_samples.to_string(),
        )?;
        state.config.validate()?;
        let noise = tensors.get(FIXED_NOISE_TENSOR).ok_or_else(|| {
            GanError::Checkpoint(format!("it has no `{FIXED_NOISE_TENSOR}` tensor"))
        })?;
        if noise.dims() != self.fixed_noise.dims() || noise.dtype() != DType::F32 {
            return Err(GanError::Checkpoint(format!(
                "`{FIXED_NOISE_TENSOR}` is {:?} {:?}, expected F32 {:?}",
                noise.dtype(),
                noise.dims(),
                self.fixed_noise.dims()
            )));
        }
        let noise = noise.to_device(&self.device)?;
        let text = |e: crate::runs::RunsError| GanError::Checkpoint(e.to_string());
        crate::runs::restore_varmap(&self.varmap_g, tensors, GENERATOR_PREFIX).map_err(text)?;
        crate::runs::restore_varmap(&self.varmap_d, tensors, DISCRIMINATOR_PREFIX).map_err(text)?;
        for (prefix, optimizer) in [
            (ADAM_G_PREFIX, &mut self.opt_g),
            (ADAM_D_PREFIX, &mut self.opt_d),
        ] {
            let own: HashMap<String, Tensor> = tensors
                .iter()
                .filter_map(|(name, t)| {
                    let rest = name.strip_prefix(prefix)?;
                    Some((format!("{ADAM_OWN_PREFIX}{rest}"), t.clone()))
                })
                .collect();
            optimizer
                .load_state_tensors(&own)
                .map_err(|e| GanError::Checkpoint(format!("{prefix}*: {e}")))?;
        }
        self.opt_g.set_learning_rate(state.config.lr_g);
        self.opt_d.set_learning_rate(state.config.lr_d);
        self.fixed_noise = noise;
        self.rng = Rng::from_state(state.noise_rng);
        self.sample_rng = Rng::from_state(state.sample_rng);
        self.iteration = state.iteration;
        self.config = state.config;
        self.history.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::gan::config::GanModelKind;
    use crate::models::gan::health::mean_pairwise_distance;

    /// A batch of Gaussian blobs at random places, in [−1, 1]: an easy "dataset" for a GAN.
    fn blob_batch(rng: &mut Rng, batch: usize) -> Tensor {
        let mut v = Vec::with_capacity(batch * 784);
        for _ in 0..batch {
            let cx = rng.uniform(8.0, 20.0);
            let cy = rng.uniform(8.0, 20.0);
            for y in 0..28 {
                for x in 0..28 {
                    let r2 = (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2);
                    v.push((2.0 * (-r2 / 18.0).exp() - 1.0) as f32);
                }
            }
        }
        Tensor::from_vec(v, (batch, 1, 28, 28), &Device::Cpu).expect("shape matches data")
    }

    fn small(model: GanModelKind) -> GanConfig {
        GanConfig {
            model,
            batch_size: 16,
            fixed_samples: 16,
            lr_g: 1e-3,
            lr_d: 1e-3,
            ..GanConfig::default()
        }
    }

    #[test]
    fn short_mlp_run_moves_both_losses_and_stays_finite() -> Result<(), GanError> {
        let mut trainer = GanTrainer::new(&small(GanModelKind::Mlp), &Device::Cpu, 7)?;
        let mut data = Rng::new(1);
        let before = trainer.fixed_samples()?;
        let reports: Vec<GanStepReport> = (0..40)
            .map(|_| trainer.step(&blob_batch(&mut data, 16)))
            .collect::<Result<_, _>>()?;
        assert_eq!(trainer.iteration(), 40);
        for r in &reports {
            assert!(r.d_loss.is_finite() && r.g_loss.is_finite(), "{r:?}");
            assert!((0.0..=1.0).contains(&r.d_real) && (0.0..=1.0).contains(&r.d_fake));
        }
        let first = reports[0];
        // At the start D cannot tell: both losses sit near their chance values (2 ln 2, ln 2).
        assert!((first.d_loss - 1.386).abs() < 0.3, "{first:?}");
        assert!((first.g_loss - 0.693).abs() < 0.3, "{first:?}");
        // D learns to separate real blobs from G's output (a stuck D stays at 2 ln 2)...
        let min_d = reports
            .iter()
            .map(|r| r.d_loss)
            .fold(f64::INFINITY, f64::min);
        assert!(min_d < 1.0, "D loss never left chance: min {min_d}");
        let gap = reports.iter().map(|r| r.d_real - r.d_fake).sum::<f64>() / 40.0;
        assert!(gap > 0.05, "mean D(x) − D(G(z)) = {gap}");
        // ...and G answers: its loss rises above chance as D wins, then moves with the game.
        let max_g = reports.iter().map(|r| r.g_loss).fold(0.0, f64::max);
        assert!(max_g > 1.0, "G loss never moved: max {max_g}");
        // Same fixed noise, new weights: the samples changed.
        let after = trainer.fixed_samples()?;
        assert_eq!((after.len(), after[0].len()), (16, 784));
        assert_ne!(before, after);
        assert_eq!(trainer.diagnose(Some(&after)), None);
        Ok(())
    }

    #[test]
    fn same_seed_same_run() -> Result<(), GanError> {
        let run = |seed| -> Result<Vec<GanStepReport>, GanError> {
            let mut t = GanTrainer::new(&small(GanModelKind::Mlp), &Device::Cpu, seed)?;
            let mut data = Rng::new(3);
            (0..3).map(|_| t.step(&blob_batch(&mut data, 8))).collect()
        };
        assert_eq!(run(11)?, run(11)?);
        assert_ne!(run(11)?, run(12)?);
        Ok(())
    }

    #[test]
    fn dcgan_takes_a_step_and_samples_have_the_right_shape() -> Result<(), GanError> {
        let mut trainer = GanTrainer::new(&small(GanModelKind::Dcgan), &Device::Cpu, 5)?;
        let mut data = Rng::new(2);
        let r1 = trainer.step(&blob_batch(&mut data, 8))?;
        let r2 = trainer.step(&blob_batch(&mut data, 8))?;
        assert!(
            r1.d_loss.is_finite() && r2.g_loss.is_finite(),
            "{r1:?} {r2:?}"
        );
        assert_ne!(r1.d_loss, r2.d_loss);
        let fixed = trainer.fixed_samples()?;
        assert_eq!((fixed.len(), fixed[0].len()), (16, 784));
        assert!(mean_pairwise_distance(&fixed) > 0.0);
        let t = trainer.sample_tensor(3)?;
        assert_eq!(t.dims(), &[3, 1, 28, 28]);
        Ok(())
    }

    #[test]
    fn several_d_steps_draw_one_batch_each() -> Result<(), GanError> {
        let mut trainer = GanTrainer::new(&small(GanModelKind::Mlp), &Device::Cpu, 5)?;
        trainer.set_d_steps(3)?;
        let mut data = Rng::new(4);
        let mut calls = 0;
        let report = trainer.step_with(|| {
            calls += 1;
            Ok::<_, std::convert::Infallible>(blob_batch(&mut data, 8))
        })?;
        assert_eq!(calls, 3);
        assert_eq!(report.iteration, 1);
        Ok(())
    }

    #[test]
    fn setters_refuse_bad_values_and_keep_the_old_ones() -> Result<(), GanError> {
        let mut trainer = GanTrainer::new(&small(GanModelKind::Mlp), &Device::Cpu, 1)?;
        assert!(trainer.set_lr_g(0.0).is_err());
        assert!(trainer.set_lr_d(f64::NAN).is_err());
        assert!(trainer.set_d_steps(0).is_err());
        assert!(trainer.set_label_smoothing(0.1).is_err());
        assert!(trainer.set_batch_size(0).is_err());
        assert_eq!(trainer.config(), &small(GanModelKind::Mlp));
        trainer.set_lr_g(5e-4)?;
        trainer.set_param("lr_d", 3e-4)?;
        trainer.set_param("d_steps", 2.0)?;
        trainer.set_param("label_smoothing", 0.9)?;
        assert_eq!(trainer.opt_g.learning_rate(), 5e-4);
        assert_eq!(trainer.opt_d.learning_rate(), 3e-4);
        assert_eq!(trainer.config().d_steps, 2);
        assert_eq!(trainer.config().label_smoothing, 0.9);
        assert_eq!(
            trainer.set_param("z_dim", 64.0),
            Err(GanConfigError::NeedsRestart { key: "z_dim" })
        );
        assert!(matches!(
            trainer.set_param("lr", 1.0),
            Err(GanConfigError::UnknownKey(_))
        ));
        Ok(())
    }

    #[test]
    fn trainer_can_move_to_a_job_thread_and_data_errors_pass_through() -> Result<(), GanError> {
        fn assert_send<T: Send>() {}
        assert_send::<GanTrainer>();
        let mut trainer = GanTrainer::new(&small(GanModelKind::Mlp), &Device::Cpu, 1)?;
        let err = trainer
            .step_with(|| Err(std::io::Error::other("disk gone")))
            .expect_err("the batch source failed");
        assert!(matches!(err, GanError::Data(_)));
        assert!(err.to_string().contains("disk gone"), "{err}");
        assert_eq!(trainer.iteration(), 0);
        Ok(())
    }

    #[test]
    fn bad_batch_shape_is_an_error() -> Result<(), GanError> {
        let mut trainer = GanTrainer::new(&small(GanModelKind::Mlp), &Device::Cpu, 1)?;
        let flat = Tensor::zeros((4, 784), DType::F32, &Device::Cpu)?;
        assert!(matches!(
            trainer.step(&flat),
            Err(GanError::BadBatch { .. })
        ));
        Ok(())
    }

    #[test]
    fn nan_input_skips_the_update_and_warns() -> Result<(), GanError> {
        let mut trainer = GanTrainer::new(&small(GanModelKind::Mlp), &Device::Cpu, 1)?;
        let before = trainer.fixed_samples()?;
        let nan = Tensor::full(f32::NAN, (4, 1, 28, 28), &Device::Cpu)?;
        let report = trainer.step(&nan)?;
        assert!(report.d_loss.is_nan());
        assert_eq!(trainer.iteration(), 0);
        assert_eq!(
            trainer.fixed_samples()?,
            before,
            "weights must be untouched"
        );
        let warning = trainer.diagnose(None).expect("NaN must warn");
        assert!(warning.should_pause());
        Ok(())
    }

    #[test]
    fn sampling_uses_its_own_stream_and_fixed_samples_are_stable() -> Result<(), GanError> {
        let mut trainer = GanTrainer::new(&small(GanModelKind::Mlp), &Device::Cpu, 1)?;
        let a = trainer.fixed_samples()?;
        let s1 = trainer.sample_images(600)?;
        assert_eq!(s1.len(), 600);
        assert_eq!(trainer.fixed_samples()?, a);
        let s2 = trainer.sample_images(2)?;
        assert_ne!(s1[..2], s2[..]);
        let strip = trainer.interpolation_strip(5)?;
        assert_eq!(strip.len(), 5);
        assert_eq!(strip[0], a[0]);
        assert_eq!(strip[4], a[1]);
        Ok(())
    }
}
