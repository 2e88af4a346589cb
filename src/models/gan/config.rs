//! GAN hyperparameters as they appear in a scenario file, with their defaults and validation.

use serde::{Deserialize, Serialize};

/// Which generator/discriminator pair a GAN run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GanModelKind {
    /// Fully connected G (z → 256 → 512 → 784) and D (784 → 512 → 256 → 1).
    #[default]
    Mlp,
    /// Small DCGAN: transposed-convolution G with batch norm, strided-convolution D.
    Dcgan,
}

impl GanModelKind {
    /// The name used in scenario files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mlp => "mlp",
            Self::Dcgan => "dcgan",
        }
    }
}

/// Smallest fixed-noise grid the dashboard draws (4×4).
pub const MIN_FIXED_SAMPLES: usize = 16;
/// Largest fixed-noise grid the dashboard draws (8×8).
pub const MAX_FIXED_SAMPLES: usize = 64;
use crate::params::MAX_BATCH_SIZE;
/// Most generated images one Fréchet score draws (the real side has 10,000).
pub const MAX_SCORE_SAMPLES: usize = 10_000;
/// Largest latent size accepted; catches typos such as 1e6.
pub const MAX_Z_DIM: usize = 4096;
/// Largest number of D updates per iteration accepted.
pub const MAX_D_STEPS: usize = 100;

/// Every GAN hyperparameter, with defaults from the DCGAN paper (Adam 2e-4, β1 0.5, batch 64).
///
/// Scenario files embed these keys next to `kind`, `dataset` and the schedule keys; a key that
/// is not listed here is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GanConfig {
    /// Which images to learn.
    pub dataset: crate::data::DatasetName,
    /// Training iterations (one G update each).
    pub iterations: u64,
    /// Seeds weights, the fixed noise batch and data order.
    pub seed: u64,
    /// Architecture: "mlp" or "dcgan". Needs a restart to change.
    pub model: GanModelKind,
    /// Length of the noise vector z. Needs a restart to change.
    pub z_dim: usize,
    /// Generator Adam learning rate; live.
    pub lr_g: f64,
    /// Discriminator Adam learning rate; live.
    pub lr_d: f64,
    /// Adam β1 for both networks (0.5 as in DCGAN: less momentum keeps the game stable).
    pub beta1: f64,
    /// Adam β2 for both networks.
    pub beta2: f64,
    /// Discriminator updates per generator update; live.
    pub d_steps: usize,
    /// Target for real images in D's loss: 1.0 = no smoothing, 0.9 = one-sided label
    /// smoothing (Salimans et al. 2016). Must lie in [0.5, 1.0]; live.
    pub label_smoothing: f64,
    /// Images per batch (real and generated alike); live: the data loader reads it per batch.
    pub batch_size: usize,
    /// Iterations between renders of the fixed-noise grid.
    pub sample_every: usize,
    /// Images in the fixed-noise grid, 16..=64. Needs a restart to change.
    pub fixed_samples: usize,
    /// Iterations between Fréchet scores of the generator; 0 turns scoring off.
    pub score_every: usize,
    /// Generated images per Fréchet score (the real side uses the whole test set).
    pub score_samples: usize,
    /// Iterations between periodic checkpoints; 0 writes them only on `c`, pause and exit.
    pub checkpoint_every: usize,
    /// Checkpoints kept in the run directory (at least 1).
    pub keep_checkpoints: usize,
}

impl Default for GanConfig {
    fn default() -> Self {
        Self {
            dataset: crate::data::DatasetName::Mnist,
            iterations: 5000,
            seed: 42,
            model: GanModelKind::Mlp,
            z_dim: 100,
            lr_g: 2e-4,
            lr_d: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            d_steps: 1,
            label_smoothing: 1.0,
            batch_size: 64,
            sample_every: 100,
            fixed_samples: 64,
            score_every: 1000,
            score_samples: 2000,
            checkpoint_every: 1000,
            keep_checkpoints: 3,
        }
    }
}

/// A GAN hyperparameter that was refused, or a change the running job cannot apply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GanConfigError {
    /// The value is outside the range the key accepts; nothing changed.
    #[error("{key} = {value} is invalid: {expected}")]
    Invalid {
        /// The hyperparameter's scenario key.
        key: &'static str,
        /// The refused value as the user gave it.
        value: String,
        /// What the key accepts.
        expected: &'static str,
    },
    /// The key is fixed when the networks are built; the run must be restarted to change it.
    #[error("{key} cannot change while a run goes on: restart the run to apply it")]
    NeedsRestart {
        /// The hyperparameter's scenario key.
        key: &'static str,
    },
    /// No GAN hyperparameter has this name.
    #[error("unknown GAN hyperparameter `{0}` (live keys: lr_g, lr_d, d_steps, label_smoothing, batch_size, sample_every)")]
    UnknownKey(String),
}

fn invalid(key: &'static str, value: impl ToString, expected: &'static str) -> GanConfigError {
    GanConfigError::Invalid {
        key,
        value: value.to_string(),
        expected,
    }
}

/// Checks a learning rate: finite and positive.
pub fn validate_lr(key: &'static str, lr: f64) -> Result<f64, GanConfigError> {
    if lr.is_finite() && lr > 0.0 && lr <= crate::params::MAX_LR {
        Ok(lr)
    } else {
        Err(invalid(key, lr, "a learning rate in (0, 10]"))
    }
}

/// Checks the number of D updates per iteration.
pub fn validate_d_steps(d_steps: usize) -> Result<usize, GanConfigError> {
    if (1..=MAX_D_STEPS).contains(&d_steps) {
        Ok(d_steps)
    } else {
        Err(invalid("d_steps", d_steps, "an integer in 1..=100"))
    }
}

/// Checks the real-image target: 0.5 would tell D real and fake look alike, above 1 is not a
/// probability. A value like 0.1 usually means "smoothing amount"; the message says which is meant.
pub fn validate_label_smoothing(target: f64) -> Result<f64, GanConfigError> {
    if target.is_finite() && (0.5..=1.0).contains(&target) {
        Ok(target)
    } else {
        Err(invalid(
            "label_smoothing",
            target,
            "the real-image target in [0.5, 1.0]: 1.0 = off, 0.9 = one-sided smoothing",
        ))
    }
}

/// Checks a batch size.
pub fn validate_batch_size(batch_size: usize) -> Result<usize, GanConfigError> {
    if (1..=MAX_BATCH_SIZE).contains(&batch_size) {
        Ok(batch_size)
    } else {
        Err(invalid("batch_size", batch_size, "an integer in 1..=4096"))
    }
}

/// Turns a numeric value typed by the user into a count, refusing fractions and negatives.
pub fn value_as_count(key: &'static str, value: f64) -> Result<usize, GanConfigError> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= usize::MAX as f64 {
        Ok(value as usize)
    } else {
        Err(invalid(key, value, "a non-negative integer"))
    }
}

impl GanConfig {
    /// Checks every key, so a scenario with a bad value fails before any tensor is allocated.
    pub fn validate(&self) -> Result<(), GanConfigError> {
        if self.dataset == crate::data::DatasetName::Folder {
            return Err(invalid(
                "dataset",
                "folder",
                "mnist, fashion-mnist or digits (the GAN draws grey 28×28 images)",
            ));
        }
        if self.iterations == 0 {
            return Err(invalid("iterations", 0, "an integer ≥ 1"));
        }
        if !(1..=MAX_Z_DIM).contains(&self.z_dim) {
            return Err(invalid("z_dim", self.z_dim, "an integer in 1..=4096"));
        }
        validate_lr("lr_g", self.lr_g)?;
        validate_lr("lr_d", self.lr_d)?;
        if !(self.beta1.is_finite() && (0.0..1.0).contains(&self.beta1)) {
            return Err(invalid("beta1", self.beta1, "a number in [0, 1)"));
        }
        if !(self.beta2.is_finite() && (0.0..1.0).contains(&self.beta2)) {
            return Err(invalid("beta2", self.beta2, "a number in [0, 1)"));
        }
        validate_d_steps(self.d_steps)?;
        validate_label_smoothing(self.label_smoothing)?;
        validate_batch_size(self.batch_size)?;
        if self.sample_every == 0 {
            return Err(invalid("sample_every", 0, "an integer ≥ 1"));
        }
        if !(MIN_FIXED_SAMPLES..=MAX_FIXED_SAMPLES).contains(&self.fixed_samples) {
            return Err(invalid(
                "fixed_samples",
                self.fixed_samples,
                "an integer in 16..=64",
            ));
        }
        if !(1..=crate::params::MAX_KEEP_CHECKPOINTS).contains(&self.keep_checkpoints) {
            return Err(invalid(
                "keep_checkpoints",
                self.keep_checkpoints,
                "an integer in 1..=1000",
            ));
        }
        if self.score_samples > MAX_SCORE_SAMPLES {
            return Err(invalid(
                "score_samples",
                self.score_samples,
                "at most 10000 images",
            ));
        }
        if self.score_every > 0 && self.score_samples < 2 {
            return Err(invalid(
                "score_samples",
                self.score_samples,
                "at least 2 images (a covariance needs two)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_dcgan_recipe_and_valid() {
        let c = GanConfig::default();
        assert_eq!(c.model, GanModelKind::Mlp);
        assert_eq!((c.z_dim, c.batch_size, c.d_steps), (100, 64, 1));
        assert_eq!((c.lr_g, c.lr_d, c.beta1, c.beta2), (2e-4, 2e-4, 0.5, 0.999));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn toml_fills_defaults_and_rejects_unknown_keys() {
        let c: GanConfig = toml::from_str("model = \"dcgan\"\nlr_g = 1e-3\n").expect("valid toml");
        assert_eq!(c.model, GanModelKind::Dcgan);
        assert_eq!(c.lr_g, 1e-3);
        assert_eq!(c.lr_d, 2e-4);
        let err = toml::from_str::<GanConfig>("lr_gen = 1e-3\n").expect_err("unknown key");
        assert!(err.to_string().contains("lr_gen"), "{err}");
        let err = toml::from_str::<GanConfig>("model = \"vae\"\n").expect_err("unknown model");
        assert!(err.to_string().contains("vae"), "{err}");
    }

    #[test]
    fn validation_names_the_bad_key() {
        let bad = [
            GanConfig {
                lr_d: 0.0,
                ..GanConfig::default()
            },
            GanConfig {
                label_smoothing: 0.1,
                ..GanConfig::default()
            },
            GanConfig {
                fixed_samples: 100,
                ..GanConfig::default()
            },
            GanConfig {
                d_steps: 0,
                ..GanConfig::default()
            },
        ];
        let keys = ["lr_d", "label_smoothing", "fixed_samples", "d_steps"];
        for (config, key) in bad.iter().zip(keys) {
            match config.validate() {
                Err(GanConfigError::Invalid { key: k, .. }) => assert_eq!(k, key),
                other => panic!("{key}: expected Invalid, got {other:?}"),
            }
        }
        assert!(validate_lr("lr_g", f64::NAN).is_err());
        assert_eq!(value_as_count("d_steps", 2.0), Ok(2));
        assert!(value_as_count("d_steps", 2.5).is_err());
        assert!(value_as_count("d_steps", -1.0).is_err());
    }
}
