//! The classifier MLP: 784 → 256 → 128 → 10 with ReLU between layers.

use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder};

use super::layers;

/// Input width: one flattened 28×28 image.
pub const INPUTS: usize = 28 * 28;
/// Width of the first hidden layer.
pub const HIDDEN: usize = 256;
/// Width of the penultimate (feature) layer.
pub const FEATURES: usize = 128;
/// Output classes.
pub const CLASSES: usize = 10;

/// The MLP; weights `fc1.*` (256, 784), `fc2.*` (128, 256), `fc3.*` (10, 128), initialised like
/// PyTorch's `nn.Linear` (U(±1/√fan_in)).
#[derive(Debug, Clone)]
pub struct Mlp {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl Mlp {
    /// Builds (or reloads, when `vb` already holds them) the MLP's weights.
    pub fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            fc1: layers::linear(INPUTS, HIDDEN, vb.pp("fc1"))?,
            fc2: layers::linear(HIDDEN, FEATURES, vb.pp("fc2"))?,
            fc3: layers::linear(FEATURES, CLASSES, vb.pp("fc3"))?,
        })
    }

    /// Penultimate activations `(batch, 128)` after ReLU, for `(batch, 1, 28, 28)` or `(batch, 784)`.
    pub fn features(&self, images: &Tensor) -> Result<Tensor> {
        let batch = images.dim(0)?;
        let x = images.reshape((batch, INPUTS))?;
        let hidden = self.fc1.forward(&x)?.relu()?;
        self.fc2.forward(&hidden)?.relu()
    }
}

impl Module for Mlp {
    /// Logits `(batch, 10)`.
    fn forward(&self, images: &Tensor) -> Result<Tensor> {
        self.fc3.forward(&self.features(images)?)
    }
}
