//! The classifier MLP: 784 → 256 → 128 → 10 with ReLU between layers.

use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder};

use crate::models::layers;

/// Input width: one flattened 28×28 image.
pub const INPUTS: usize = 28 * 28;
/// Width of the first hidden layer.
pub const HIDDEN: usize = 256;
/// Width of the penultimate (feature) layer.
pub const FEATURES: usize = 128;
/// Output classes.
pub const CLASSES: usize = 10;

/// The MLP; weights `fc1.*` (256, 784), `fc2.*` (128, 256), `fc3.*` (10, 128), initialised like
/// PyTorch's `nn.Linear` (U(±1/√fan_in)); on the CPU the layers run through
/// [`crate::ops::linear`].
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
        let hidden = layers::linear_forward(&self.fc1, &x)?.relu()?;
        layers::linear_forward(&self.fc2, &hidden)?.relu()
    }
}

impl Module for Mlp {
    /// Logits `(batch, 10)`.
    fn forward(&self, images: &Tensor) -> Result<Tensor> {
        layers::linear_forward(&self.fc3, &self.features(images)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::init::seeded_var_builder;
    use crate::models::testdata::{blobs, train_and_score};
    use crate::rng::Rng;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn build(seed: u64) -> (Mlp, VarMap) {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, Rng::new(seed), DType::F32, &Device::Cpu);
        (Mlp::new(vb).unwrap(), varmap)
    }

    #[test]
    fn shapes_and_parameter_count() {
        let (mlp, varmap) = build(0);
        let (x, _) = blobs(&mut Rng::new(1), 5);
        assert_eq!(mlp.forward(&x).unwrap().dims(), [5, CLASSES]);
        assert_eq!(
            mlp.forward(&x.reshape((5, INPUTS)).unwrap())
                .unwrap()
                .dims(),
            [5, CLASSES]
        );
        assert_eq!(mlp.features(&x).unwrap().dims(), [5, FEATURES]);
        let count: usize = varmap
            .data()
            .lock()
            .unwrap()
            .values()
            .map(|v| v.elem_count())
            .sum();
        assert_eq!(count, 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    }

    #[test]
    fn learns_a_separable_task() {
        let (mlp, varmap) = build(3);
        let accuracy = train_and_score(&mlp, &varmap, 150);
        assert!(accuracy > 0.9, "accuracy {accuracy}");
    }
}
