//! The classifier models behind one type, chosen by the scenario's `model` key.

use candle_core::{Module, Result, Tensor};
use candle_nn::{conv2d_no_bias, linear, Conv2d, Linear, VarBuilder};

use crate::scenario::ModelKind;

/// A classifier producing `(batch, 10)` logits from `(batch, 1, 28, 28)` images.
#[derive(Debug, Clone)]
pub enum ClassifierModel {
    /// The CNN.
    Cnn {
        /// 1 → 32 channels, 3×3.
        conv1: Conv2d,
        /// 5408 → 128.
        fc1: Linear,
        /// 128 → 10.
        fc2: Linear,
    },
    /// The MLP.
    Mlp {
        /// 784 → 256.
        fc1: Linear,
        /// 256 → 128.
        fc2: Linear,
        /// 128 → 10.
        fc3: Linear,
    },
}

impl ClassifierModel {
    /// Builds the architecture with weights under `vb`.
    pub fn new(kind: ModelKind, vb: VarBuilder) -> Result<Self> {
        Ok(match kind {
            ModelKind::Cnn => ClassifierModel::Cnn {
                conv1: conv2d_no_bias(1, 32, 3, Default::default(), vb.pp("conv1"))?,
                fc1: linear(32 * 13 * 13, 128, vb.pp("fc1"))?,
                fc2: linear(128, 10, vb.pp("fc2"))?,
            },
            ModelKind::Mlp => ClassifierModel::Mlp {
                fc1: linear(784, 256, vb.pp("fc1"))?,
                fc2: linear(256, 128, vb.pp("fc2"))?,
                fc3: linear(128, 10, vb.pp("fc3"))?,
            },
        })
    }
}

impl ClassifierModel {
    /// The 128-d penultimate activations of the CNN, `(batch, 128)`: the feature space the
    /// GAN's Fréchet score compares real and generated images in. The MLP's are its 128-d
    /// second hidden layer.
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            ClassifierModel::Cnn { conv1, fc1, .. } => {
                let h = conv1.forward(x)?.relu()?.max_pool2d(2)?.flatten_from(1)?;
                fc1.forward(&h)?.relu()
            }
            ClassifierModel::Mlp { fc1, fc2, .. } => {
                let h = fc1.forward(&x.flatten_from(1)?)?.relu()?;
                fc2.forward(&h)?.relu()
            }
        }
    }
}

impl Module for ClassifierModel {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            ClassifierModel::Cnn { conv1, fc1, fc2 } => {
                let h = conv1.forward(x)?.relu()?.max_pool2d(2)?.flatten_from(1)?;
                fc2.forward(&fc1.forward(&h)?.relu()?)
            }
            ClassifierModel::Mlp { fc1, fc2, fc3 } => {
                let h = x.flatten_from(1)?;
                let h = fc1.forward(&h)?.relu()?;
                fc3.forward(&fc2.forward(&h)?.relu()?)
            }
        }
    }
}
