//! A described classifier as a chain of stages, each layer (or run of layers) mapped onto the
//! fastest op that computes it: conv + bias + ReLU + max-pool as one fused op, conv + bias +
//! (leaky) ReLU fused, dense layers through the fused linear op, batch norm (and a ReLU after it)
//! through the fused batch-norm op. Whatever the description, the math is the layer-by-layer one.

use candle_core::{Result, Tensor, D};
use candle_nn::{BatchNorm, BatchNormConfig, VarBuilder};

use super::spec::{infer, weight_names, Activation, LayerSpec, Padding, Shape, Summary};
use crate::models::layers;
use crate::ops;
use crate::rng::Rng;

/// How a forward pass runs: training (batch statistics, dropout drawn from a seed) or evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Training; every dropout mask is drawn from this seed (the trainer derives it from the run's
    /// seed and the step, so a resumed run draws the same masks).
    Train {
        /// Seed of this step's dropout masks.
        dropout_seed: u64,
    },
    /// Evaluation: dropout off, batch norm on its running averages.
    Eval,
}

/// One step of the chain.
#[derive(Debug, Clone)]
enum Stage {
    /// Conv + bias + ReLU + max-pool (window = stride) as one op.
    ConvReluPool {
        weight: Tensor,
        bias: Tensor,
        padding: usize,
        stride: usize,
        pool: usize,
    },
    /// Conv + bias + activation.
    Conv {
        weight: Tensor,
        bias: Tensor,
        padding: usize,
        stride: usize,
        activation: Activation,
    },
    /// Dense + activation (the fused linear op flattens an image input itself).
    Dense {
        weight: Tensor,
        bias: Tensor,
        activation: Activation,
    },
    /// Max over windows.
    MaxPool { size: usize, stride: usize },
    /// Mean over windows.
    AvgPool { size: usize, stride: usize },
    /// Image to flat, where no dense layer follows to do it.
    Flatten,
    /// Inverted dropout; `slot` tells the masks of two dropout layers apart.
    Dropout { rate: f64, slot: u64 },
    /// Batch norm, with the ReLU that follows it fused in when `relu`.
    BatchNorm { bn: BatchNorm, relu: bool },
    /// A standalone activation.
    Act(Activation),
    /// A standalone leaky ReLU with its own slope.
    LeakyRelu(f32),
}

/// The classifier a list of [`LayerSpec`]s describes; weights `conv{n}.*`, `fc{n}.*`, `bn{n}.*`
/// initialised like PyTorch's defaults, in layer order.
#[derive(Debug, Clone)]
pub struct Sequential {
    stages: Vec<Stage>,
    input: Shape,
    summary: Summary,
}

/// Batch norm's ε, PyTorch's (Keras uses 1e-3).
const BN_EPS: f64 = 1e-5;
/// Weight of the new batch in batch norm's running averages, PyTorch's 0.1 (Keras keeps 99 % of
/// the old value; 90 % follows a short run faster).
const BN_MOMENTUM: f64 = 0.1;

impl Sequential {
    /// Builds (or reloads, when `vb` already holds them) the weights of `layers` for inputs of
    /// shape `input` and `classes` outputs; the description must pass [`infer`].
    pub fn new(layers: &[LayerSpec], input: Shape, classes: usize, vb: VarBuilder) -> Result<Self> {
        let summary =
            infer(layers, input, classes).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let names = weight_names(layers);
        let mut shape = input;
        let mut stages = Vec::with_capacity(layers.len());
        let mut i = 0;
        while i < layers.len() {
            let name = names[i].clone().unwrap_or_default();
            let next = layers.get(i + 1);
            let mut consumed = 1;
            let stage = match layers[i] {
                LayerSpec::Conv2d {
                    filters,
                    kernel,
                    stride,
                    padding,
                    activation,
                } => {
                    let c_in = match shape {
                        Shape::Image { c, .. } => c,
                        Shape::Flat(n) => n,
                    };
                    let (weight, bias) =
                        layers::conv2d_params(c_in, filters, kernel, vb.pp(&name))?;
                    let padding = match padding {
                        Padding::Valid => 0,
                        Padding::Same => kernel / 2,
                    };
                    match next {
                        Some(&LayerSpec::Maxpool {
                            size,
                            stride: pool_stride,
                        }) if activation == Activation::Relu
                            && pool_stride.unwrap_or(size) == size =>
                        {
                            consumed = 2;
                            Stage::ConvReluPool {
                                weight,
                                bias,
                                padding,
                                stride,
                                pool: size,
                            }
                        }
                        _ => Stage::Conv {
                            weight,
                            bias,
                            padding,
                            stride,
                            activation,
                        },
                    }
                }
                LayerSpec::Dense { units, activation } => {
                    let linear = layers::linear(shape.len(), units, vb.pp(&name))?;
                    let bias = linear.bias().cloned().ok_or_else(|| {
                        candle_core::Error::Msg("dense layer without bias".into())
                    })?;
                    Stage::Dense {
                        weight: linear.weight().clone(),
                        bias,
                        activation,
                    }
                }
                LayerSpec::Maxpool { size, stride } => Stage::MaxPool {
                    size,
                    stride: stride.unwrap_or(size),
                },
                LayerSpec::Avgpool { size, stride } => Stage::AvgPool {
                    size,
                    stride: stride.unwrap_or(size),
                },
                // The fused linear op flattens its input itself, without the reshape node (and
                // its gradient buffer) a flatten stage would add.
                LayerSpec::Flatten if matches!(next, Some(LayerSpec::Dense { .. })) => {
                    shape = summary.rows[i].output;
                    i += 1;
                    continue;
                }
                LayerSpec::Flatten => Stage::Flatten,
                LayerSpec::Dropout { rate } => Stage::Dropout {
                    rate,
                    slot: i as u64,
                },
                LayerSpec::Batchnorm => {
                    let channels = match shape {
                        Shape::Image { c, .. } => c,
                        Shape::Flat(n) => n,
                    };
                    let config = BatchNormConfig {
                        eps: BN_EPS,
                        remove_mean: true,
                        affine: true,
                        momentum: BN_MOMENTUM,
                    };
                    let bn = candle_nn::batch_norm(channels, config, vb.pp(&name))?;
                    let relu = matches!(next, Some(LayerSpec::Relu));
                    if relu {
                        consumed = 2;
                    }
                    Stage::BatchNorm { bn, relu }
                }
                LayerSpec::Relu => Stage::Act(Activation::Relu),
                LayerSpec::Tanh => Stage::Act(Activation::Tanh),
                LayerSpec::Sigmoid => Stage::Act(Activation::Sigmoid),
                LayerSpec::Gelu => Stage::Act(Activation::Gelu),
                LayerSpec::LeakyRelu { slope } => Stage::LeakyRelu(slope as f32),
            };
            stages.push(stage);
            shape = summary.rows[i + consumed - 1].output;
            i += consumed;
        }
        Ok(Self {
            stages,
            input,
            summary,
        })
    }

    /// The layers, their output shapes and parameter counts.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Logits `(batch, classes)` for images `(batch, c, h, w)` (or flattened `(batch, c·h·w)`).
    pub fn forward_t(&self, images: &Tensor, pass: Pass) -> Result<Tensor> {
        let x = self.features_t(images, pass)?;
        match self.stages.last() {
            Some(last) => apply(last, &x, pass),
            None => Ok(x),
        }
    }

    /// The input of the last layer (the penultimate activations), in evaluation mode unless
    /// `pass` says otherwise.
    pub fn features_t(&self, images: &Tensor, pass: Pass) -> Result<Tensor> {
        let mut x = self.shaped_input(images)?;
        let body = self.stages.len().saturating_sub(1);
        for stage in &self.stages[..body] {
            x = apply(stage, &x, pass)?;
        }
        Ok(x)
    }

    /// The input reshaped to what the first layer expects.
    fn shaped_input(&self, images: &Tensor) -> Result<Tensor> {
        let batch = images.dim(0)?;
        match self.input {
            Shape::Image { c, h, w } => images.reshape((batch, c, h, w)),
            Shape::Flat(n) => images.reshape((batch, n)),
        }
    }
}

/// An activation applied on its own.
fn activate(x: &Tensor, activation: Activation) -> Result<Tensor> {
    match activation {
        Activation::Linear => Ok(x.clone()),
        Activation::Relu => x.relu(),
        Activation::LeakyRelu => ops::bias_act::leaky_relu(x, super::spec::LEAKY_SLOPE as f32),
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => candle_nn::ops::sigmoid(x),
        Activation::Gelu => x.gelu(),
    }
}

/// Bias `(channels,)` added along dim 1 of `x (batch, channels, …)`.
fn add_channel_bias(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let mut shape = vec![1; x.rank()];
    shape[1] = bias.dim(0)?;
    x.broadcast_add(&bias.reshape(shape)?)
}

/// One stage's forward pass.
fn apply(stage: &Stage, x: &Tensor, pass: Pass) -> Result<Tensor> {
    match stage {
        Stage::ConvReluPool {
            weight,
            bias,
            padding,
            stride,
            pool,
        } => ops::conv_block::conv2d_relu_maxpool(x, weight, bias, *padding, *stride, *pool),
        Stage::Conv {
            weight,
            bias,
            padding,
            stride,
            activation,
        } => match activation {
            Activation::Relu => {
                ops::conv2d::conv2d_bias_leaky_relu(x, weight, bias, *padding, *stride, 0.0)
            }
            Activation::LeakyRelu => ops::conv2d::conv2d_bias_leaky_relu(
                x,
                weight,
                bias,
                *padding,
                *stride,
                super::spec::LEAKY_SLOPE as f32,
            ),
            // A slope of 1 is the identity: conv and bias still run as one fused node.
            Activation::Linear => {
                ops::conv2d::conv2d_bias_leaky_relu(x, weight, bias, *padding, *stride, 1.0)
            }
            other => {
                let y = ops::conv2d::conv2d(x, weight, *padding, *stride)?;
                activate(&add_channel_bias(&y, bias)?, *other)
            }
        },
        Stage::Dense {
            weight,
            bias,
            activation,
        } => activate(&ops::linear::linear(x, weight, bias)?, *activation),
        Stage::MaxPool { size, stride } if size == stride => ops::maxpool::max_pool2d(x, *size),
        Stage::MaxPool { size, stride } => strided_pool(x, *size, *stride, Reduce::Max),
        Stage::AvgPool { size, stride } => strided_pool(x, *size, *stride, Reduce::Mean),
        Stage::Flatten => x.flatten_from(1),
        Stage::Dropout { rate, slot } => match pass {
            Pass::Train { dropout_seed } => dropout(x, *rate, dropout_seed, *slot),
            Pass::Eval => Ok(x.clone()),
        },
        Stage::BatchNorm { bn, relu } => {
            ops::batch_norm::batch_norm_forward_t(bn, x, matches!(pass, Pass::Train { .. }), *relu)
        }
        Stage::Act(activation) => activate(x, *activation),
        Stage::LeakyRelu(slope) => ops::bias_act::leaky_relu(x, *slope),
    }
}

/// How a pooling window is reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reduce {
    Max,
    Mean,
}

/// Pooling of `x (batch, c, h, w)` over `size`×`size` windows stepping by `stride`, on any device:
/// each of the size² taps is gathered as a `(batch, c, oh, ow)` plane, then reduced. A max goes to
/// the window's first maximum (as PyTorch's does), so ties never split the gradient.
fn strided_pool(x: &Tensor, size: usize, stride: usize, reduce: Reduce) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let (oh, ow) = ((h - size) / stride + 1, (w - size) / stride + 1);
    if reduce == Reduce::Mean && size == stride {
        let (b, c, _, _) = x.dims4()?;
        let windows = x
            .narrow(2, 0, oh * size)?
            .narrow(3, 0, ow * size)?
            .reshape((b, c, oh, size, ow, size))?;
        return windows.sum(5)?.sum(3)? / (size * size) as f64;
    }
    let device = x.device();
    let index = |offset: usize, count: usize| -> Result<Tensor> {
        let ix: Vec<u32> = (0..count).map(|i| (offset + i * stride) as u32).collect();
        Tensor::from_vec(ix, count, device)
    };
    let mut taps = Vec::with_capacity(size * size);
    for di in 0..size {
        let rows = x.index_select(&index(di, oh)?, 2)?;
        for dj in 0..size {
            taps.push(rows.index_select(&index(dj, ow)?, 3)?);
        }
    }
    let stacked = Tensor::stack(&taps, 4)?;
    match reduce {
        Reduce::Mean => stacked.mean(D::Minus1),
        Reduce::Max => {
            let first_max = stacked.argmax_keepdim(D::Minus1)?;
            stacked.gather(&first_max, D::Minus1)?.squeeze(D::Minus1)
        }
    }
}

/// Inverted dropout: each value kept with probability 1 − `rate` and scaled by 1 / (1 − rate).
/// The mask comes from gradtop's own generator, seeded by the step's seed and the layer's slot,
/// so a resumed run draws exactly the masks the uninterrupted one would have.
fn dropout(x: &Tensor, rate: f64, seed: u64, slot: u64) -> Result<Tensor> {
    if rate == 0.0 {
        return Ok(x.clone());
    }
    let keep = 1.0 - rate;
    let scale = (1.0 / keep) as f32;
    let mut rng = Rng::new(seed ^ slot.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let keep = keep as f32;
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| if rng.next_f32() < keep { scale } else { 0.0 })
        .collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x * mask
}

/// Keeps the dropout masks' stream apart from the other draws seeded by the run's seed.
const DROPOUT_STREAM: u64 = 0xd20b_0000_0000_0000;

/// The seed of step `step`'s dropout masks in a run seeded `seed`.
pub fn dropout_seed(seed: u64, step: u64) -> u64 {
    // The generator's seeding mixes its seed, so consecutive steps draw unrelated masks.
    Rng::new(seed ^ DROPOUT_STREAM).next_u64() ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// All values of `x` as f32, for the tests.
#[cfg(test)]
fn to_vec(x: &Tensor) -> Vec<f32> {
    x.flatten_all()
        .and_then(|t| t.to_dtype(candle_core::DType::F32))
        .and_then(|t| t.to_vec1())
        .expect("f32 values")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::init::seeded_var_builder;
    use crate::ops::testutil::assert_close;
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;

    const MNIST: Shape = Shape::Image { c: 1, h: 28, w: 28 };

    fn parse(text: &str) -> Vec<LayerSpec> {
        #[derive(serde::Deserialize)]
        struct Doc {
            layers: Vec<LayerSpec>,
        }
        toml::from_str::<Doc>(text).expect("layers").layers
    }

    fn build(text: &str, seed: u64) -> (Sequential, VarMap) {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, Rng::new(seed), DType::F32, &Device::Cpu);
        let net = Sequential::new(&parse(text), MNIST, 10, vb).expect("network");
        (net, varmap)
    }

    fn images(n: usize, seed: u64) -> Tensor {
        let mut rng = Rng::new(seed);
        let v: Vec<f32> = (0..n * 784).map(|_| rng.next_f32()).collect();
        Tensor::from_vec(v, (n, 1, 28, 28), &Device::Cpu).expect("images")
    }

    const DEEP: &str = r#"layers = [
      { type = "conv2d", filters = 4, kernel = 3, padding = "same" },
      { type = "batchnorm" },
      { type = "relu" },
      { type = "conv2d", filters = 6, kernel = 3, stride = 2, activation = "tanh" },
      { type = "maxpool", size = 3, stride = 2 },
      { type = "avgpool", size = 2 },
      { type = "flatten" },
      { type = "dropout", rate = 0.25 },
      { type = "dense", units = 16, activation = "gelu" },
      { type = "batchnorm" },
      { type = "dense", units = 10, activation = "sigmoid" },
    ]"#;

    #[test]
    fn every_layer_type_runs_and_gives_its_inferred_shape() {
        let (net, varmap) = build(DEEP, 1);
        let x = images(5, 2);
        let logits = net
            .forward_t(&x, Pass::Train { dropout_seed: 3 })
            .expect("train");
        assert_eq!(logits.dims(), [5, 10]);
        assert_eq!(
            net.features_t(&x, Pass::Eval).expect("eval").dims(),
            [5, 16]
        );
        let count: usize = varmap
            .all_vars()
            .iter()
            .map(|v| v.elem_count())
            .sum::<usize>();
        // Running mean and variance (2 × (4 + 16)) are in the var map but are not trainable.
        assert_eq!(count, net.summary().total_params() + 2 * (4 + 16));
        let mut names: Vec<String> = varmap
            .data()
            .lock()
            .expect("lock")
            .keys()
            .cloned()
            .collect();
        names.sort();
        assert!(names.contains(&"bn2.running_var".to_string()), "{names:?}");
        assert!(names.contains(&"conv2.weight".to_string()), "{names:?}");
    }

    #[test]
    fn fused_and_portable_paths_agree_forward_and_backward() {
        let (net, varmap) = build(DEEP, 4);
        let x = images(6, 5);
        let run = |kernels| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    ops::set_thread_kernels(kernels);
                    let y = net
                        .forward_t(&x, Pass::Train { dropout_seed: 7 })
                        .expect("forward");
                    let grads = y.sqr().and_then(|t| t.sum_all()).expect("loss").backward();
                    let grads = grads.expect("backward");
                    let w = varmap
                        .get(
                            (4, 1, 3, 3),
                            "conv1.weight",
                            candle_nn::Init::Const(0.0),
                            DType::F32,
                            &Device::Cpu,
                        )
                        .expect("conv1");
                    (y, grads.get(&w).cloned().expect("grad"))
                })
                .join()
                .expect("thread")
            })
        };
        let (fast_y, fast_g) = run(ops::Kernels::Fast);
        let (slow_y, slow_g) = run(ops::Kernels::Portable);
        assert_close(&fast_y, &slow_y, 1e-5, "logits");
        assert_close(&fast_g, &slow_g, 1e-4, "conv1 gradient");
    }

    #[test]
    fn dropout_is_off_at_evaluation_and_drawn_from_the_seed_in_training() {
        let text = r#"layers = [
          { type = "flatten" },
          { type = "dense", units = 64, activation = "relu" },
          { type = "dropout", rate = 0.5 },
          { type = "dense", units = 10 },
        ]"#;
        let (net, _) = build(text, 8);
        let x = images(4, 9);
        let eval_a = to_vec(&net.forward_t(&x, Pass::Eval).expect("eval"));
        let eval_b = to_vec(&net.forward_t(&x, Pass::Eval).expect("eval"));
        assert_eq!(eval_a, eval_b, "evaluation is deterministic");
        let features = to_vec(&net.features_t(&x, Pass::Eval).expect("features"));
        let dropped = to_vec(
            &net.features_t(&x, Pass::Train { dropout_seed: 1 })
                .expect("train"),
        );
        let undropped = to_vec(
            &net.features_t(&x, Pass::Train { dropout_seed: 1 })
                .expect("train"),
        );
        assert_eq!(dropped, undropped, "the same seed draws the same mask");
        let other = to_vec(
            &net.features_t(&x, Pass::Train { dropout_seed: 2 })
                .expect("train"),
        );
        assert_ne!(dropped, other, "another seed draws another mask");
        // Each value is either dropped or doubled (rate 0.5), and about half are dropped.
        let mut zeroed = 0;
        let mut live = 0;
        for (d, f) in dropped.iter().zip(&features) {
            if *f == 0.0 {
                continue;
            }
            live += 1;
            if *d == 0.0 {
                zeroed += 1;
            } else {
                assert!((d - 2.0 * f).abs() < 1e-6, "{d} vs 2 × {f}");
            }
        }
        assert!(live > 100, "{live} live features");
        let share = zeroed as f64 / live as f64;
        assert!((0.35..0.65).contains(&share), "dropped {share}");
    }

    #[test]
    fn strided_pools_match_hand_computed_windows() {
        // One 1×4×4 plane 0..16; 3×3 windows with stride 1: maxima at the windows' corners.
        let x = Tensor::arange(0f32, 16., &Device::Cpu)
            .and_then(|t| t.reshape((1, 1, 4, 4)))
            .expect("plane");
        let max = strided_pool(&x, 3, 1, Reduce::Max).expect("max");
        assert_eq!(to_vec(&max), [10., 11., 14., 15.]);
        let mean = strided_pool(&x, 3, 1, Reduce::Mean).expect("mean");
        assert_eq!(to_vec(&mean), [5., 6., 9., 10.]);
        let mean2 = strided_pool(&x, 2, 2, Reduce::Mean).expect("mean");
        assert_eq!(to_vec(&mean2), [2.5, 4.5, 10.5, 12.5]);
        // The gradient of a max goes to one element per window, of a mean to all equally.
        let v = Var::from_tensor(&x).expect("var");
        let g = strided_pool(v.as_tensor(), 3, 1, Reduce::Max)
            .and_then(|y| y.sum_all())
            .and_then(|y| y.backward())
            .expect("backward");
        let g = to_vec(g.get(v.as_tensor()).expect("grad"));
        assert_eq!(g.iter().sum::<f32>(), 4.0);
        assert_eq!(g[10], 1.0);
    }
}
