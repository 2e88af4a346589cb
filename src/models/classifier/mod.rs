//! The image classifier: the model a scenario names (`model = "cnn"` or `"mlp"`), its
//! networks and its trainer.

pub mod cnn;
pub mod config;
pub mod mlp;
pub mod trainer;

pub use trainer::{
    ClassifierState, ClassifierTrainer, Confusion, Evaluation, SamplePrediction, StepOutcome,
    StepTrace,
};

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use cnn::Cnn;
use mlp::Mlp;

/// Errors building a classifier.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    /// The scenario named a model that does not exist.
    #[error("unknown classifier model `{0}` (expected `cnn` or `mlp`)")]
    UnknownModel(String),
    /// Creating or loading the weights failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Either classifier, so jobs can hold whichever the scenario picked behind one type.
#[derive(Debug, Clone)]
pub enum ClassifierModel {
    /// The convolutional network (the default).
    Cnn(Cnn),
    /// The fully connected network.
    Mlp(Mlp),
}

impl ClassifierModel {
    /// Model names accepted by [`ClassifierModel::from_name`].
    pub const NAMES: [&'static str; 2] = ["cnn", "mlp"];

    /// Builds the architecture a scenario's `model` key chose.
    pub fn new(kind: config::ModelKind, vb: VarBuilder) -> Result<Self> {
        Ok(match kind {
            config::ModelKind::Cnn => Self::Cnn(Cnn::new(vb)?),
            config::ModelKind::Mlp => Self::Mlp(Mlp::new(vb)?),
        })
    }

    /// Builds the model called `name` (`"cnn"` or `"mlp"`, case-insensitive).
    pub fn from_name(name: &str, vb: VarBuilder) -> std::result::Result<Self, ClassifierError> {
        match name.to_ascii_lowercase().as_str() {
            "cnn" => Ok(Self::Cnn(Cnn::new(vb)?)),
            "mlp" => Ok(Self::Mlp(Mlp::new(vb)?)),
            _ => Err(ClassifierError::UnknownModel(name.to_string())),
        }
    }

    /// The model's name as a scenario spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cnn(_) => "cnn",
            Self::Mlp(_) => "mlp",
        }
    }

    /// Penultimate activations `(batch, 128)` for images `(batch, 1, 28, 28)`.
    pub fn features(&self, images: &Tensor) -> Result<Tensor> {
        match self {
            Self::Cnn(m) => m.features(images),
            Self::Mlp(m) => m.features(images),
        }
    }
}

impl Module for ClassifierModel {
    /// Logits `(batch, 10)`.
    fn forward(&self, images: &Tensor) -> Result<Tensor> {
        match self {
            Self::Cnn(m) => m.forward(images),
            Self::Mlp(m) => m.forward(images),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::init::seeded_var_builder;
    use crate::rng::Rng;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn vb(varmap: &VarMap) -> VarBuilder<'static> {
        seeded_var_builder(varmap, Rng::new(0), DType::F32, &Device::Cpu)
    }

    #[test]
    fn models_and_optimizer_can_move_to_a_training_thread() {
        fn assert_send<T: Send + 'static>() {}
        assert_send::<ClassifierModel>();
        assert_send::<crate::ops::adam::Adam>();
    }

    #[test]
    fn builds_each_named_model_and_rejects_unknown_names() {
        for name in ClassifierModel::NAMES {
            let varmap = VarMap::new();
            let model = ClassifierModel::from_name(name, vb(&varmap)).unwrap();
            assert_eq!(model.name(), name);
            let x = Tensor::zeros((2, 1, 28, 28), DType::F32, &Device::Cpu).unwrap();
            assert_eq!(model.forward(&x).unwrap().dims(), [2, 10]);
            assert_eq!(model.features(&x).unwrap().dims(), [2, 128]);
        }
        let varmap = VarMap::new();
        assert!(matches!(
            ClassifierModel::from_name("CNN", vb(&varmap)),
            Ok(ClassifierModel::Cnn(_))
        ));
        let err = ClassifierModel::from_name("resnet", vb(&VarMap::new())).unwrap_err();
        assert!(err.to_string().contains("`resnet`"), "{err}");
    }
}
