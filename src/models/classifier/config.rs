//! A classifier scenario's settings: the model, the data, Adam's hyperparameters and the
//! schedule, with defaults that work and the checks that refuse values that cannot.

use serde::{Deserialize, Serialize};

use super::spec::{self, Activation, LayerSpec, Padding};
use crate::data::{DataSource, DatasetName, CLASSES};
use crate::models::optim::{OptimizerChoice, OptimizerKind};
use crate::models::schedule::Schedule;
use crate::params::{MAX_BATCH_SIZE, MAX_EPOCHS, MAX_KEEP_CHECKPOINTS, MAX_LR};

/// Most test images one periodic evaluation reads (the test sets have 10,000).
pub const MAX_EVAL_SUBSET: usize = 1_000_000;

/// A classifier setting that type-checks but cannot work, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierConfigError {
    /// A value out of its range (lr ≤ 0, batch 0, β outside [0, 1)).
    #[error("{key} = {value}: {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A described layer that cannot follow the one before it.
    #[error("{message}")]
    Layer {
        /// Position in `layers`, from 0.
        index: usize,
        /// The layer, its index and the shapes involved.
        message: String,
    },
}

/// Builds an `Invalid` error.
fn invalid(key: &str, value: impl ToString, reason: &str) -> ClassifierConfigError {
    ClassifierConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// Which classifier architecture to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Conv2D(32, 3×3) → MaxPool(2) → Dense(128) → Dense(10).
    Cnn,
    /// 784 → 256 → 128 → 10.
    Mlp,
}

impl ModelKind {
    /// The name used in scenarios and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Cnn => "cnn",
            ModelKind::Mlp => "mlp",
        }
    }

    /// The architecture written layer by layer: what a scenario's `layers` would say for it.
    pub fn layers(self) -> Vec<LayerSpec> {
        let relu = Activation::Relu;
        let dense = |units, activation| LayerSpec::Dense { units, activation };
        match self {
            ModelKind::Cnn => vec![
                LayerSpec::Conv2d {
                    filters: 32,
                    kernel: 3,
                    stride: 1,
                    padding: Padding::Valid,
                    activation: relu,
                },
                LayerSpec::Maxpool {
                    size: 2,
                    stride: None,
                },
                LayerSpec::Flatten,
                dense(128, relu),
                dense(CLASSES, Activation::Linear),
            ],
            ModelKind::Mlp => vec![
                LayerSpec::Flatten,
                dense(256, relu),
                dense(128, relu),
                dense(CLASSES, Activation::Linear),
            ],
        }
    }
}

/// The name a model described by `layers` goes by on screen and in run summaries.
pub const CUSTOM_MODEL: &str = "custom";

/// Everything a classifier run needs; the TOML keys are the field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierConfig {
    /// A built-in architecture (`cnn` when neither this nor `layers` is given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelKind>,
    /// The network layer by layer, instead of a built-in `model`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerSpec>,
    /// Which images to train on (`folder` reads the `[data]` table's path).
    pub dataset: DatasetName,
    /// The folder of a `dataset = "folder"` scenario and how to split it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSource>,
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// The optimiser: `adam` (default), `adamw` or `sgd`.
    pub optimizer: OptimizerKind,
    /// SGD's momentum (0.9 unless given; refused with Adam).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// Weight decay: L2 for `adam` and `sgd` (default 0), decoupled for `adamw` (default 0.01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Base learning rate; the schedule scales it, a live change replaces it.
    pub lr: f64,
    /// Adam β1.
    pub beta1: f64,
    /// Adam β2.
    pub beta2: f64,
    /// How the learning rate changes over the run (`[schedule]`; constant by default).
    #[serde(skip_serializing_if = "Schedule::is_constant")]
    pub schedule: Schedule,
    /// Seeds weights and shuffling.
    pub seed: u64,
    /// Steps between evaluations on a test subset (and refreshes of the sample grid).
    pub eval_every: usize,
    /// Test images used by the periodic evaluation; the full test set is used at epoch ends.
    pub eval_subset: usize,
    /// Steps between periodic checkpoints (0: only on demand, pause and exit).
    pub checkpoint_every: usize,
    /// Checkpoints kept on disk.
    pub keep_checkpoints: usize,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            model: None,
            layers: Vec::new(),
            dataset: DatasetName::Mnist,
            data: None,
            epochs: 5,
            batch_size: 32,
            optimizer: OptimizerKind::Adam,
            momentum: None,
            weight_decay: None,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            schedule: Schedule::default(),
            seed: 42,
            eval_every: 500,
            eval_subset: 2000,
            checkpoint_every: 2000,
            keep_checkpoints: 3,
        }
    }
}

impl ClassifierConfig {
    /// Refuses values that type-check but cannot work, naming the key.
    pub fn validate(&self) -> Result<(), ClassifierConfigError> {
        if let (Some(model), false) = (self.model, self.layers.is_empty()) {
            return Err(invalid(
                "model",
                model.as_str(),
                "give either a built-in model or layers, not both",
            ));
        }
        self.check_data()?;
        // A folder not there yet (data still to unpack) leaves the layers to be checked when the
        // job loads it; the dashboard says the folder is missing.
        let absent = self.data.as_ref().is_some_and(|d| !d.path.exists());
        if !absent {
            spec::infer(&self.architecture(), self.input_shape()?, CLASSES).map_err(|e| {
                ClassifierConfigError::Layer {
                    index: e.index,
                    message: e.to_string(),
                }
            })?;
        }
        check_lr("lr", self.lr)?;
        check_count("batch_size", self.batch_size, MAX_BATCH_SIZE)?;
        check_count("epochs", self.epochs, MAX_EPOCHS)?;
        check_positive("eval_every", self.eval_every)?;
        check_count("eval_subset", self.eval_subset, MAX_EVAL_SUBSET)?;
        check_count(
            "keep_checkpoints",
            self.keep_checkpoints,
            MAX_KEEP_CHECKPOINTS,
        )?;
        check_beta("beta1", self.beta1)?;
        check_beta("beta2", self.beta2)?;
        self.optimizer_choice()
            .validate()
            .map_err(|e| invalid(e.key, e.value, e.reason))?;
        self.schedule
            .validate()
            .map_err(|e| invalid(e.key, e.value, e.reason))?;
        Ok(())
    }
}

impl ClassifierConfig {
    /// Refuses a `[data]` table without `dataset = "folder"` and the other way round, and a
    /// test fraction out of range.
    fn check_data(&self) -> Result<(), ClassifierConfigError> {
        match (&self.data, self.dataset) {
            (None, DatasetName::Folder) => Err(invalid(
                "dataset",
                "folder",
                "needs a [data] table with the folder's path",
            )),
            (Some(data), DatasetName::Folder) => match data.test_fraction {
                Some(f) if !(f > 0.0 && f < 1.0) => Err(invalid(
                    "data.test_fraction",
                    f,
                    "must be between 0 and 1 (exclusive)",
                )),
                _ => Ok(()),
            },
            (Some(data), other) => Err(invalid(
                "data.path",
                data.path.display(),
                &format!("is read only with dataset = \"folder\" (this scenario says {other})"),
            )),
            (None, _) => Ok(()),
        }
    }

    /// The shape of one input image: a folder's, read from its headers, or `(1, 28, 28)`.
    pub fn input_shape(&self) -> Result<spec::Shape, ClassifierConfigError> {
        match (&self.data, self.dataset) {
            (Some(data), DatasetName::Folder) => {
                let (c, h, w) = data.image_shape().map_err(|e| {
                    // The error names its file; the folder itself is already the value.
                    let text = e.to_string();
                    let prefix = format!("{}: ", data.path.display());
                    let reason = text.strip_prefix(&prefix).unwrap_or(&text);
                    invalid("data.path", data.path.display(), reason)
                })?;
                Ok(spec::Shape::Image { c, h, w })
            }
            _ => Ok(super::INPUT),
        }
    }

    /// Makes a relative `[data]` path absolute against the current directory, so the run's
    /// saved settings resume from anywhere.
    pub fn resolve_paths(&mut self) {
        if let Some(data) = self.data.as_mut().filter(|d| d.path.is_relative()) {
            if let Ok(abs) = std::path::absolute(&data.path) {
                data.path = abs;
            }
        }
    }

    /// The layers to build: the described ones, or the built-in model's.
    pub fn architecture(&self) -> Vec<LayerSpec> {
        if self.layers.is_empty() {
            self.model.unwrap_or(ModelKind::Cnn).layers()
        } else {
            self.layers.clone()
        }
    }

    /// The optimiser the scenario chose, with its own keys.
    pub fn optimizer_choice(&self) -> OptimizerChoice {
        OptimizerChoice {
            optimizer: self.optimizer,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
        }
    }

    /// The optimiser and schedule in a few words, for the tab's panel: `adam · cosine, warm-up
    /// 500`, `sgd m=0.9 wd=1e-4 · constant`.
    pub fn optimizer_text(&self) -> String {
        let choice = self.optimizer_choice();
        let mut text = self.optimizer.as_str().to_string();
        if self.optimizer == OptimizerKind::Sgd {
            text.push_str(&format!(" m={}", choice.momentum()));
        }
        if choice.weight_decay() != 0.0 {
            text.push_str(&format!(" wd={}", choice.weight_decay()));
        }
        let s = &self.schedule;
        text.push_str(&format!(" · {}", s.kind.as_str()));
        if s.warmup_steps > 0 {
            text.push_str(&format!(", warm-up {}", s.warmup_steps));
        }
        text
    }

    /// The model's name on screen and in summaries: `cnn`, `mlp` or `custom`.
    pub fn model_name(&self) -> &'static str {
        if self.layers.is_empty() {
            self.model.unwrap_or(ModelKind::Cnn).as_str()
        } else {
            CUSTOM_MODEL
        }
    }
}

/// Learning rates must be finite and positive.
fn check_lr(key: &str, lr: f64) -> Result<(), ClassifierConfigError> {
    if lr.is_finite() && lr > 0.0 && lr <= MAX_LR {
        Ok(())
    } else {
        Err(invalid(key, lr, "must be a number in (0, 10]"))
    }
}

/// Counts (batch size, epochs, …) must be at least 1.
fn check_positive(key: &str, v: usize) -> Result<(), ClassifierConfigError> {
    if v > 0 {
        Ok(())
    } else {
        Err(invalid(key, v, "must be at least 1"))
    }
}

/// Sizes are at least 1 and at most `max`, so a typo never allocates gigabytes.
fn check_count(key: &str, v: usize, max: usize) -> Result<(), ClassifierConfigError> {
    if (1..=max).contains(&v) {
        Ok(())
    } else {
        Err(invalid(key, v, &format!("must be in 1..={max}")))
    }
}

/// Adam's betas live in [0, 1).
fn check_beta(key: &str, b: f64) -> Result<(), ClassifierConfigError> {
    if (0.0..1.0).contains(&b) {
        Ok(())
    } else {
        Err(invalid(key, b, "must be in [0, 1)"))
    }
}
