//! The image classifier: the model a scenario names (`model = "cnn"` or `"mlp"`), its
//! networks and its trainer.

pub mod config;
pub mod sequential;
pub mod spec;
pub mod trainer;

pub use trainer::{
    ClassifierState, ClassifierTrainer, Confusion, Evaluation, SamplePrediction, StepOutcome,
    StepTrace,
};

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use config::ModelKind;
use sequential::{Pass, Sequential};
use spec::{LayerSpec, Shape, Summary};

/// Shape of one input image of MNIST, Fashion-MNIST and the digits: `(1, 28, 28)`; a folder's
/// images may have another.
pub const INPUT: Shape = Shape::Image { c: 1, h: 28, w: 28 };

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

/// The classifier a scenario chose, built-in (`cnn`, `mlp`) or described layer by layer, behind
/// one type so jobs, checkpoints and `bench` treat them alike.
#[derive(Debug, Clone)]
pub struct ClassifierModel {
    name: String,
    net: Sequential,
}

impl ClassifierModel {
    /// Model names accepted by [`ClassifierModel::from_name`].
    pub const NAMES: [&'static str; 2] = ["cnn", "mlp"];

    /// Builds a built-in architecture.
    pub fn new(kind: ModelKind, vb: VarBuilder) -> Result<Self> {
        Self::from_layers(kind.as_str(), &kind.layers(), INPUT, vb)
    }

    /// Builds the network `layers` describe for images of shape `input`, called `name` on
    /// screen.
    pub fn from_layers(
        name: &str,
        layers: &[LayerSpec],
        input: Shape,
        vb: VarBuilder,
    ) -> Result<Self> {
        Ok(Self {
            name: name.to_string(),
            net: Sequential::new(layers, input, crate::data::CLASSES, vb)?,
        })
    }

    /// Builds the model called `name` (`"cnn"` or `"mlp"`, case-insensitive).
    pub fn from_name(name: &str, vb: VarBuilder) -> std::result::Result<Self, ClassifierError> {
        let kind = match name.to_ascii_lowercase().as_str() {
            "cnn" => ModelKind::Cnn,
            "mlp" => ModelKind::Mlp,
            _ => return Err(ClassifierError::UnknownModel(name.to_string())),
        };
        Ok(Self::new(kind, vb)?)
    }

    /// The model's name: `cnn`, `mlp`, or `custom` for a described one.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layers, their output shapes and parameter counts.
    pub fn summary(&self) -> &Summary {
        self.net.summary()
    }

    /// Logits `(batch, 10)` of a training step, dropout masks drawn from `dropout_seed`.
    pub fn forward_train(&self, images: &Tensor, dropout_seed: u64) -> Result<Tensor> {
        self.net.forward_t(images, Pass::Train { dropout_seed })
    }

    /// Penultimate activations (the input of the last layer, `(batch, 128)` for the built-in
    /// models) of images `(batch, 1, 28, 28)`, in evaluation mode.
    pub fn features(&self, images: &Tensor) -> Result<Tensor> {
        self.net.features_t(images, Pass::Eval)
    }
}

impl Module for ClassifierModel {
    /// Logits `(batch, 10)` in evaluation mode (dropout off, batch norm's running averages).
    fn forward(&self, images: &Tensor) -> Result<Tensor> {
        self.net.forward_t(images, Pass::Eval)
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
        let upper = ClassifierModel::from_name("CNN", vb(&varmap)).unwrap();
        assert_eq!(upper.name(), "cnn");
        let err = ClassifierModel::from_name("resnet", vb(&VarMap::new())).unwrap_err();
        assert!(err.to_string().contains("`resnet`"), "{err}");
    }

    fn weights(varmap: &VarMap) -> Vec<(String, Vec<f32>)> {
        let mut all: Vec<(String, Vec<f32>)> = varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.flatten_all().unwrap().to_vec1().unwrap()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    #[test]
    fn the_built_in_cnn_has_the_seed_models_weights_names_and_init() {
        let varmap = VarMap::new();
        let cnn = ClassifierModel::new(ModelKind::Cnn, vb(&varmap)).unwrap();
        let names: Vec<String> = weights(&varmap).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "conv1.bias",
                "conv1.weight",
                "fc1.bias",
                "fc1.weight",
                "fc2.bias",
                "fc2.weight"
            ]
        );
        assert_eq!(cnn.summary().total_params(), 693_962);
        // PyTorch's default init: |w| ≤ 1/√fan_in.
        let bound = 1.0 / (5408f32).sqrt();
        let fc1 = &weights(&varmap)[3].1;
        let max = fc1.iter().fold(0f32, |m, w| m.max(w.abs()));
        assert!(max <= bound && max > 0.9 * bound, "{max} vs {bound}");
        let mlp_map = VarMap::new();
        let mlp = ClassifierModel::new(ModelKind::Mlp, vb(&mlp_map)).unwrap();
        assert_eq!(
            mlp.summary().total_params(),
            784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
        );
    }

    #[test]
    fn the_cnn_matches_candles_reference_ops() {
        let varmap = VarMap::new();
        let cnn = ClassifierModel::new(ModelKind::Cnn, vb(&varmap)).unwrap();
        let (x, _) = crate::models::testdata::blobs(&mut Rng::new(3), 4);
        let w: std::collections::HashMap<String, Tensor> = varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        let conv = x
            .conv2d(&w["conv1.weight"], 0, 1, 1, 1)
            .unwrap()
            .broadcast_add(&w["conv1.bias"].reshape((1, 32, 1, 1)).unwrap())
            .unwrap()
            .relu()
            .unwrap()
            .max_pool2d(2)
            .unwrap()
            .flatten_from(1)
            .unwrap();
        let fc1 = candle_nn::Linear::new(w["fc1.weight"].clone(), Some(w["fc1.bias"].clone()));
        let fc2 = candle_nn::Linear::new(w["fc2.weight"].clone(), Some(w["fc2.bias"].clone()));
        let expected = fc2
            .forward(&fc1.forward(&conv).unwrap().relu().unwrap())
            .unwrap();
        crate::ops::testutil::assert_close(&cnn.forward(&x).unwrap(), &expected, 1e-4, "logits");
    }

    #[test]
    fn the_seed_model_written_layer_by_layer_is_the_built_in_cnn() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/seed-keras-cnn.toml"),
        )
        .unwrap();
        let scenario = crate::scenario::parse(std::path::Path::new("seed.toml"), &text).unwrap();
        let crate::scenario::Settings::Classifier(config) = scenario.settings else {
            panic!("a classifier scenario")
        };
        assert_eq!(config.layers, ModelKind::Cnn.layers());
        let (built_in, described) = (VarMap::new(), VarMap::new());
        let a = ClassifierModel::new(ModelKind::Cnn, vb(&built_in)).unwrap();
        let b =
            ClassifierModel::from_layers("custom", &config.layers, INPUT, vb(&described)).unwrap();
        assert_eq!(weights(&built_in), weights(&described));
        let (x, _) = crate::models::testdata::blobs(&mut Rng::new(4), 3);
        let fa: Vec<f32> = a
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let fb: Vec<f32> = b
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(fa, fb);
    }

    #[test]
    fn each_built_in_model_learns_a_separable_task() {
        for kind in [ModelKind::Cnn, ModelKind::Mlp] {
            let varmap = VarMap::new();
            let model = ClassifierModel::new(kind, vb(&varmap)).unwrap();
            let accuracy = crate::models::testdata::train_and_score(&model, &varmap, 150);
            assert!(accuracy > 0.9, "{}: accuracy {accuracy}", kind.as_str());
        }
    }
}
