//! The classifier CNN: Conv2D(32, 3×3, ReLU) → MaxPool(2) → Flatten → Dense(128, ReLU) → Dense(10).

use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder};

use crate::models::layers;
use crate::ops;

/// Side of the square input images, in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Output classes.
pub const CLASSES: usize = 10;
/// Channels of the convolution.
pub const CONV_CHANNELS: usize = 32;
/// Side of the convolution kernel.
pub const KERNEL: usize = 3;
/// Width of the penultimate (feature) layer.
pub const FEATURES: usize = 128;
/// Side of the max-pool window.
pub const POOL: usize = 2;
/// Side of the pooled feature map: (28 − 3 + 1) / 2.
const POOLED_SIDE: usize = (IMAGE_SIDE - KERNEL + 1) / POOL;

/// The CNN; weights are `conv1.weight (32, 1, 3, 3)`, `conv1.bias`, `fc1.weight (128, 5408)`,
/// `fc1.bias`, `fc2.weight (10, 128)`, `fc2.bias`, initialised like PyTorch's defaults
/// (U(±1/√fan_in) for weights and biases), 693,962 parameters. On the CPU the convolution,
/// bias, ReLU and pooling run as one fused op and the dense layers through
/// [`crate::ops::linear`].
#[derive(Debug, Clone)]
pub struct Cnn {
    conv1_weight: Tensor,
    conv1_bias: Tensor,
    fc1: Linear,
    fc2: Linear,
}

impl Cnn {
    /// Builds (or reloads, when `vb` already holds them) the CNN's weights.
    pub fn new(vb: VarBuilder) -> Result<Self> {
        let (conv1_weight, conv1_bias) =
            layers::conv2d_params(1, CONV_CHANNELS, KERNEL, vb.pp("conv1"))?;
        let fc1 = layers::linear(
            CONV_CHANNELS * POOLED_SIDE * POOLED_SIDE,
            FEATURES,
            vb.pp("fc1"),
        )?;
        let fc2 = layers::linear(FEATURES, CLASSES, vb.pp("fc2"))?;
        Ok(Self {
            conv1_weight,
            conv1_bias,
            fc1,
            fc2,
        })
    }

    /// Penultimate activations `(batch, 128)` after ReLU, for images `(batch, 1, 28, 28)` or
    /// `(batch, 784)` in [0, 1]; used as the embedding of GAN quality scores.
    pub fn features(&self, images: &Tensor) -> Result<Tensor> {
        let batch = images.dim(0)?;
        let images = images.reshape((batch, 1, IMAGE_SIDE, IMAGE_SIDE))?;
        let pooled = ops::conv_block::conv2d_relu_maxpool(
            &images,
            &self.conv1_weight,
            &self.conv1_bias,
            0,
            1,
            POOL,
        )?;
        layers::linear_forward(&self.fc1, &pooled)?.relu()
    }
}

impl Module for Cnn {
    /// Logits `(batch, 10)`.
    fn forward(&self, images: &Tensor) -> Result<Tensor> {
        layers::linear_forward(&self.fc2, &self.features(images)?)
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

    fn build(seed: u64) -> (Cnn, VarMap) {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, Rng::new(seed), DType::F32, &Device::Cpu);
        (Cnn::new(vb).unwrap(), varmap)
    }

    #[test]
    fn shapes_names_and_parameter_count() {
        let (cnn, varmap) = build(0);
        let (x, _) = blobs(&mut Rng::new(1), 3);
        assert_eq!(cnn.forward(&x).unwrap().dims(), [3, CLASSES]);
        assert_eq!(cnn.features(&x).unwrap().dims(), [3, FEATURES]);
        let flat = x.reshape((3, 784)).unwrap();
        assert_eq!(cnn.forward(&flat).unwrap().dims(), [3, CLASSES]);

        let data = varmap.data().lock().unwrap();
        let mut names: Vec<&str> = data.keys().map(String::as_str).collect();
        names.sort_unstable();
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
        let count: usize = data.values().map(|v| v.elem_count()).sum();
        assert_eq!(count, 32 * 9 + 32 + 5408 * 128 + 128 + 128 * 10 + 10);
        assert_eq!(count, 693_962);
        // PyTorch's default init: |w| ≤ 1/√fan_in.
        let bound = 1.0 / (5408f32).sqrt();
        let max = data["fc1.weight"]
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(max <= bound && max > 0.9 * bound, "{max} vs {bound}");
    }

    #[test]
    fn fast_path_matches_candle_reference_ops() {
        let (cnn, _) = build(2);
        let (x, _) = blobs(&mut Rng::new(3), 4);
        let conv = x
            .conv2d(&cnn.conv1_weight, 0, 1, 1, 1)
            .unwrap()
            .broadcast_add(&cnn.conv1_bias.reshape((1, CONV_CHANNELS, 1, 1)).unwrap())
            .unwrap()
            .relu()
            .unwrap()
            .max_pool2d(POOL)
            .unwrap()
            .flatten_from(1)
            .unwrap();
        let hidden = cnn.fc1.forward(&conv).unwrap().relu().unwrap();
        let expected = cnn.fc2.forward(&hidden).unwrap();
        crate::ops::testutil::assert_close(&cnn.forward(&x).unwrap(), &expected, 1e-4, "logits");
    }

    #[test]
    fn same_seed_same_weights() {
        let (a, _) = build(5);
        let (b, _) = build(5);
        let (c, _) = build(6);
        let w = |m: &Cnn| {
            m.conv1_weight
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(w(&a), w(&b));
        assert_ne!(w(&a), w(&c));
    }

    #[test]
    fn learns_a_separable_task() {
        let (cnn, varmap) = build(7);
        let accuracy = train_and_score(&cnn, &varmap, 150);
        assert!(accuracy > 0.9, "accuracy {accuracy}");
    }
}
