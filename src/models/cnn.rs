//! The classifier CNN: Conv2D(32, 3×3, ReLU) → MaxPool(2) → Flatten → Dense(128, ReLU) → Dense(10).

use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder};

use super::layers;
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
        let (w, b) = (
            self.fc1.weight(),
            self.fc1.bias().expect("fc1 is built with a bias"),
        );
        ops::linear::linear(&pooled.flatten_from(1)?, w, b)?.relu()
    }
}

impl Module for Cnn {
    /// Logits `(batch, 10)`.
    fn forward(&self, images: &Tensor) -> Result<Tensor> {
        self.fc2.forward(&self.features(images)?)
    }
}
