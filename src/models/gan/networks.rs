//! GAN networks (MLP and small DCGAN) and their losses, computed from logits.
//!
//! Images are `(batch, 1, 28, 28)` in [−1, 1]; the generator ends in tanh to match. The
//! discriminator returns raw logits `(batch, 1)`; probabilities only appear in reports.

use candle_core::{DType, Module, ModuleT, Result, Tensor, Var};
use candle_nn::{
    batch_norm, conv2d, conv_transpose2d, linear, BatchNorm, BatchNormConfig, Conv2d, Conv2dConfig,
    ConvTranspose2d, ConvTranspose2dConfig, Linear, VarBuilder, VarMap,
};

use crate::models::gan::config::GanModelKind;
use crate::rng::Rng;

/// Image side in pixels; both networks are built for 28×28 single-channel images.
pub const IMAGE_SIDE: usize = 28;
/// Pixels per image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Negative slope of every LeakyReLU (Radford et al. 2015).
pub const LEAKY_SLOPE: f64 = 0.2;
/// Standard deviation of the DCGAN weight initialisation, N(0, 0.02) (Radford et al. 2015).
pub const DCGAN_INIT_STD: f32 = 0.02;

/// LeakyReLU(0.2) as one fused op (candle-nn's is five tensor ops, and their backward more).
pub fn leaky_relu(xs: &Tensor) -> Result<Tensor> {
    crate::ops::bias_act::leaky_relu(xs, LEAKY_SLOPE as f32)
}

/// Mean binary cross-entropy of `logits` against a constant `target` in [0, 1], stable for any
/// logit: ℓ(x, y) = max(x, 0) − x·y + ln(1 + e^{−|x|}), which equals −[y ln σ(x) + (1−y) ln(1−σ(x))]
/// without ever forming σ(x) (no log of 0, no overflow of e^x).
pub fn bce_with_logits(logits: &Tensor, target: f64) -> Result<Tensor> {
    let softplus_neg_abs = logits.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
    let per_item = ((logits.relu()? - logits.affine(target, 0.0)?)? + softplus_neg_abs)?;
    per_item.mean_all()
}

/// Discriminator loss L_D = −mean ln D(x) − mean ln(1 − D(G(z))), as BCE with logits; with
/// one-sided label smoothing the real term becomes BCE(D(x), `real_target`) (e.g. 0.9), the
/// fake target stays 0. The two batch means are summed, as PyTorch's `bce(real) + bce(fake)`.
pub fn discriminator_loss(
    real_logits: &Tensor,
    fake_logits: &Tensor,
    real_target: f64,
) -> Result<Tensor> {
    bce_with_logits(real_logits, real_target)? + bce_with_logits(fake_logits, 0.0)?
}

/// Non-saturating generator loss L_G = −mean ln D(G(z)) = BCE(D(G(z)), 1): its gradient stays
/// large while D still rejects the samples, unlike the minimax ln(1 − D(G(z))).
pub fn generator_loss(fake_logits: &Tensor) -> Result<Tensor> {
    bce_with_logits(fake_logits, 1.0)
}

/// A layer's weights either tracked for backprop or read as constants.
///
/// The generator's update backpropagates through D to reach G; reading D's weights as
/// constants there skips D's weight gradients, which that update would throw away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Params {
    /// Gradients flow into the weights.
    Trainable,
    /// Weights act as constants (shared storage, no copy).
    Frozen,
}

/// `x (batch, in)` through a fully connected layer, weights tracked or frozen. Every dense layer
/// of both GANs goes through here, so a faster linear kernel is a one-place change.
fn dense(layer: &Linear, x: &Tensor, params: Params) -> Result<Tensor> {
    match params {
        Params::Trainable => match layer.bias() {
            Some(b) => crate::ops::linear::linear(x, layer.weight(), b),
            None => layer.forward(x),
        },
        Params::Frozen => match layer.bias() {
            Some(b) => crate::ops::linear::linear(x, &layer.weight().detach(), &b.detach()),
            None => Linear::new(layer.weight().detach(), None).forward(x),
        },
    }
}

/// Cross-correlation `x (batch, c_in, h, w) ⊛ kernel (c_out, c_in, kh, kw)`, symmetric zero
/// padding, no dilation. Every discriminator convolution runs through here, with the signature
/// of `crate::ops::conv2d::conv2d`, so a faster kernel is a one-line change.
fn convolve(x: &Tensor, kernel: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    crate::ops::conv2d::conv2d(x, kernel, padding, stride)
}

/// LeakyReLU(conv(x) + bias), the convolution, bias and activation fused into one op.
fn conv_leaky_relu(layer: &Conv2d, x: &Tensor, params: Params) -> Result<Tensor> {
    let config = layer.config();
    let (weight, bias) = match params {
        Params::Trainable => (layer.weight().clone(), layer.bias().cloned()),
        Params::Frozen => (layer.weight().detach(), layer.bias().map(Tensor::detach)),
    };
    match bias {
        Some(b) => crate::ops::conv2d::conv2d_bias_leaky_relu(
            x,
            &weight,
            &b,
            config.padding,
            config.stride,
            LEAKY_SLOPE as f32,
        ),
        None => leaky_relu(&convolve(x, &weight, config.padding, config.stride)?),
    }
}

/// `x (batch, c_in, h, w)` through a transposed-convolution layer with the fused CPU kernel
/// (every generator upsampling layer runs through here).
fn deconv(layer: &ConvTranspose2d, x: &Tensor) -> Result<Tensor> {
    let config = layer.config();
    if config.output_padding != 0 || config.dilation != 1 {
        return layer.forward(x);
    }
    crate::ops::conv_transpose::conv_transpose2d(
        x,
        layer.weight(),
        layer.bias(),
        config.padding,
        config.stride,
    )
}

/// MLP generator: z `(batch, z_dim)` → 256 → 512 → 784, LeakyReLU(0.2), tanh → `(batch, 1, 28, 28)`.
#[derive(Debug, Clone)]
pub struct MlpGenerator {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl MlpGenerator {
    /// Builds the layers under `vb` (`fc1`, `fc2`, `fc3`).
    pub fn new(z_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            fc1: linear(z_dim, 256, vb.pp("fc1"))?,
            fc2: linear(256, 512, vb.pp("fc2"))?,
            fc3: linear(512, IMAGE_PIXELS, vb.pp("fc3"))?,
        })
    }
}

impl Module for MlpGenerator {
    fn forward(&self, z: &Tensor) -> Result<Tensor> {
        let h = leaky_relu(&dense(&self.fc1, z, Params::Trainable)?)?;
        let h = leaky_relu(&dense(&self.fc2, &h, Params::Trainable)?)?;
        let batch = z.dim(0)?;
        dense(&self.fc3, &h, Params::Trainable)?
            .tanh()?
            .reshape((batch, 1, IMAGE_SIDE, IMAGE_SIDE))
    }
}

/// MLP discriminator: `(batch, 1, 28, 28)` → 784 → 512 → 256 → 1 logit, LeakyReLU(0.2).
#[derive(Debug, Clone)]
pub struct MlpDiscriminator {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl MlpDiscriminator {
    /// Builds the layers under `vb` (`fc1`, `fc2`, `fc3`).
    pub fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            fc1: linear(IMAGE_PIXELS, 512, vb.pp("fc1"))?,
            fc2: linear(512, 256, vb.pp("fc2"))?,
            fc3: linear(256, 1, vb.pp("fc3"))?,
        })
    }

    /// Logits `(batch, 1)`, with the weights tracked or frozen.
    pub fn logits(&self, images: &Tensor, params: Params) -> Result<Tensor> {
        let x = images.flatten_from(1)?;
        let h = leaky_relu(&dense(&self.fc1, &x, params)?)?;
        let h = leaky_relu(&dense(&self.fc2, &h, params)?)?;
        dense(&self.fc3, &h, params)
    }
}

/// Channels of the DCGAN generator's first feature map (7×7).
const DCGAN_G_CH0: usize = 128;
/// Channels of the DCGAN generator's 14×14 feature map.
const DCGAN_G_CH1: usize = 64;
/// Side of the DCGAN generator's first feature map.
const DCGAN_SIDE0: usize = 7;
/// Every DCGAN (transposed) convolution: 4×4 kernel, stride 2, padding 1 doubles or halves the
/// side exactly (7 → 14 → 28 and back), so no output padding is needed.
const DCGAN_KERNEL: usize = 4;

fn dcgan_up() -> ConvTranspose2dConfig {
    ConvTranspose2dConfig {
        padding: 1,
        output_padding: 0,
        stride: 2,
        dilation: 1,
    }
}

fn dcgan_down() -> Conv2dConfig {
    Conv2dConfig {
        padding: 1,
        stride: 2,
        ..Conv2dConfig::default()
    }
}

/// Small DCGAN generator: z → Linear → (128, 7, 7) → BN, ReLU → ConvT 4×4/2 → (64, 14, 14) →
/// BN, ReLU → ConvT 4×4/2 → (1, 28, 28) → tanh.
#[derive(Debug, Clone)]
pub struct DcganGenerator {
    fc: Linear,
    bn0: BatchNorm,
    deconv1: ConvTranspose2d,
    bn1: BatchNorm,
    deconv2: ConvTranspose2d,
}

impl DcganGenerator {
    /// Builds the layers under `vb` (`fc`, `bn0`, `deconv1`, `bn1`, `deconv2`).
    pub fn new(z_dim: usize, vb: VarBuilder) -> Result<Self> {
        let bn = BatchNormConfig::default();
        Ok(Self {
            fc: linear(z_dim, DCGAN_G_CH0 * DCGAN_SIDE0 * DCGAN_SIDE0, vb.pp("fc"))?,
            bn0: batch_norm(DCGAN_G_CH0, bn, vb.pp("bn0"))?,
            deconv1: conv_transpose2d(
                DCGAN_G_CH0,
                DCGAN_G_CH1,
                DCGAN_KERNEL,
                dcgan_up(),
                vb.pp("deconv1"),
            )?,
            bn1: batch_norm(DCGAN_G_CH1, bn, vb.pp("bn1"))?,
            deconv2: conv_transpose2d(DCGAN_G_CH1, 1, DCGAN_KERNEL, dcgan_up(), vb.pp("deconv2"))?,
        })
    }
}

impl ModuleT for DcganGenerator {
    /// `train` = batch statistics (and running-stat updates); otherwise the running statistics.
    fn forward_t(&self, z: &Tensor, train: bool) -> Result<Tensor> {
        let batch = z.dim(0)?;
        let h = dense(&self.fc, z, Params::Trainable)?.reshape((
            batch,
            DCGAN_G_CH0,
            DCGAN_SIDE0,
            DCGAN_SIDE0,
        ))?;
        let h = crate::ops::batch_norm::batch_norm_forward_t(&self.bn0, &h, train, true)?;
        let h = deconv(&self.deconv1, &h)?;
        let h = crate::ops::batch_norm::batch_norm_forward_t(&self.bn1, &h, train, true)?;
        deconv(&self.deconv2, &h)?.tanh()
    }
}

/// Small DCGAN discriminator: Conv 4×4/2 → (64, 14, 14), LeakyReLU → Conv 4×4/2 → (128, 7, 7),
/// LeakyReLU → Linear → 1 logit. No batch norm, so real and fake can share one forward pass.
#[derive(Debug, Clone)]
pub struct DcganDiscriminator {
    conv1: Conv2d,
    conv2: Conv2d,
    fc: Linear,
}

impl DcganDiscriminator {
    /// Builds the layers under `vb` (`conv1`, `conv2`, `fc`).
    pub fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv1: conv2d(1, 64, DCGAN_KERNEL, dcgan_down(), vb.pp("conv1"))?,
            conv2: conv2d(64, 128, DCGAN_KERNEL, dcgan_down(), vb.pp("conv2"))?,
            fc: linear(128 * DCGAN_SIDE0 * DCGAN_SIDE0, 1, vb.pp("fc"))?,
        })
    }

    /// Logits `(batch, 1)`, with the weights tracked or frozen.
    pub fn logits(&self, images: &Tensor, params: Params) -> Result<Tensor> {
        let h = conv_leaky_relu(&self.conv1, images, params)?;
        let h = conv_leaky_relu(&self.conv2, &h, params)?;
        dense(&self.fc, &h.flatten_from(1)?, params)
    }
}

/// Either generator, behind one type so the trainer does not care which it drives.
#[derive(Debug, Clone)]
pub enum Generator {
    /// See [`MlpGenerator`].
    Mlp(MlpGenerator),
    /// See [`DcganGenerator`].
    Dcgan(DcganGenerator),
}

impl Generator {
    /// Builds the generator of `kind` under `vb`.
    pub fn new(kind: GanModelKind, z_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(match kind {
            GanModelKind::Mlp => Self::Mlp(MlpGenerator::new(z_dim, vb)?),
            GanModelKind::Dcgan => Self::Dcgan(DcganGenerator::new(z_dim, vb)?),
        })
    }
}

impl ModuleT for Generator {
    /// z `(batch, z_dim)` → images `(batch, 1, 28, 28)` in [−1, 1].
    fn forward_t(&self, z: &Tensor, train: bool) -> Result<Tensor> {
        match self {
            Self::Mlp(g) => g.forward(z),
            Self::Dcgan(g) => g.forward_t(z, train),
        }
    }
}

/// Either discriminator, behind one type.
#[derive(Debug, Clone)]
pub enum Discriminator {
    /// See [`MlpDiscriminator`].
    Mlp(MlpDiscriminator),
    /// See [`DcganDiscriminator`].
    Dcgan(DcganDiscriminator),
}

impl Discriminator {
    /// Builds the discriminator of `kind` under `vb`.
    pub fn new(kind: GanModelKind, vb: VarBuilder) -> Result<Self> {
        Ok(match kind {
            GanModelKind::Mlp => Self::Mlp(MlpDiscriminator::new(vb)?),
            GanModelKind::Dcgan => Self::Dcgan(DcganDiscriminator::new(vb)?),
        })
    }

    /// Images `(batch, 1, 28, 28)` → logits `(batch, 1)`.
    pub fn logits(&self, images: &Tensor, params: Params) -> Result<Tensor> {
        match self {
            Self::Mlp(d) => d.logits(images, params),
            Self::Dcgan(d) => d.logits(images, params),
        }
    }
}

impl Module for Discriminator {
    fn forward(&self, images: &Tensor) -> Result<Tensor> {
        self.logits(images, Params::Trainable)
    }
}

/// True for batch-norm running statistics: state, not parameters, so no optimizer touches them.
pub fn is_running_stat(name: &str) -> bool {
    name.ends_with("running_mean") || name.ends_with("running_var")
}

/// The variables of `varmap` an optimizer should update (everything but running statistics).
pub fn trainable_vars(varmap: &VarMap) -> Vec<Var> {
    trainable_named_vars(varmap)
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

/// [`trainable_vars`] with their `VarBuilder` names, sorted by name: the names key the
/// optimizer's state in a checkpoint.
pub fn trainable_named_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
    let mut named: Vec<(String, Var)> = data
        .iter()
        .filter(|(name, _)| !is_running_stat(name))
        .map(|(name, var)| (name.clone(), var.clone()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

/// Re-draws every weight of `varmap` from `rng`, so a seed fixes the whole run (candle's own
/// initialisers draw from an unseeded generator).
///
/// MLP: PyTorch's default, U(−b, b) with b = 1/√fan_in for weights and biases (fan_in taken as
/// PyTorch does, from dimension 1 of the weight). DCGAN: N(0, 0.02) weights, zero biases,
/// batch-norm scale N(1, 0.02) and shift 0 (Radford et al. 2015). Variables are visited in name
/// order, so the draw does not depend on hash-map order. Running statistics are left alone.
pub fn init_weights(varmap: &VarMap, kind: GanModelKind, rng: &mut Rng) -> Result<()> {
    let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    // The bias bound of a linear/conv layer comes from its weight's fan-in.
    let fan_in_of = |prefix: &str| -> Option<usize> {
        let w = data.get(&format!("{prefix}.weight"))?;
        let dims = w.dims();
        (dims.len() >= 2).then(|| dims[1..].iter().product())
    };
    for name in names {
        if is_running_stat(name) {
            continue;
        }
        let var = &data[name];
        let (prefix, leaf) = name.rsplit_once('.').unwrap_or(("", name.as_str()));
        let is_bn = prefix
            .rsplit('.')
            .next()
            .is_some_and(|l| l.starts_with("bn"));
        let n = var.elem_count();
        let values: Vec<f32> = match (kind, is_bn, leaf) {
            (GanModelKind::Dcgan, true, "weight") => (0..n)
                .map(|_| 1.0 + DCGAN_INIT_STD * rng.normal())
                .collect(),
            (_, true, _) => continue,
            (GanModelKind::Dcgan, false, "weight") => {
                (0..n).map(|_| DCGAN_INIT_STD * rng.normal()).collect()
            }
            (GanModelKind::Dcgan, false, _) => vec![0.0; n],
            (GanModelKind::Mlp, false, _) => {
                let fan_in = fan_in_of(prefix).unwrap_or(1).max(1);
                let bound = 1.0 / (fan_in as f64).sqrt();
                (0..n).map(|_| rng.uniform(-bound, bound) as f32).collect()
            }
        };
        let t = Tensor::from_vec(values, var.shape(), var.device())?.to_dtype(var.dtype())?;
        var.set(&t)?;
    }
    Ok(())
}

/// Maps images in [−1, 1] `(n, 1, 28, 28)` to 8-bit pixels, one `Vec` of 784 per image.
pub fn images_to_u8(images: &Tensor) -> Result<Vec<Vec<u8>>> {
    let n = images.dim(0)?;
    let flat = images
        .to_dtype(DType::F32)?
        .reshape((n, ()))?
        .to_vec2::<f32>()?;
    Ok(flat
        .into_iter()
        .map(|img| {
            img.into_iter()
                .map(|v| ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8)
                .collect()
        })
        .collect())
}

/// Mean of σ(logits) over the batch: the discriminator's average "real" probability.
pub fn mean_probability(logits: &Tensor) -> Result<f64> {
    candle_nn::ops::sigmoid(logits)?
        .mean_all()?
        .to_dtype(DType::F64)?
        .to_scalar::<f64>()
}

/// Splits a `(2·batch, 1)` logit tensor from a concatenated real+fake pass back into halves.
pub fn split_halves(logits: &Tensor, first: usize) -> Result<(Tensor, Tensor)> {
    let total = logits.dim(0)?;
    Ok((
        logits.narrow(0, 0, first)?,
        logits.narrow(0, first, total - first)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn logit(p: f64) -> f64 {
        (p / (1.0 - p)).ln()
    }

    fn scalar(t: &Tensor) -> f64 {
        t.to_dtype(DType::F64)
            .and_then(|t| t.to_scalar::<f64>())
            .expect("scalar tensor")
    }

    #[test]
    fn generator_loss_matches_hand_value() -> Result<()> {
        // −ln 0.8 = 0.22314.
        let logits = Tensor::new(&[[logit(0.8) as f32]], &Device::Cpu)?;
        let loss = scalar(&generator_loss(&logits)?);
        assert!((loss - 0.2231).abs() < 1e-4, "{loss}");
        Ok(())
    }

    #[test]
    fn discriminator_loss_matches_hand_value() -> Result<()> {
        // −ln 0.9 − ln(1 − 0.1) = 2 · 0.10536 = 0.21072.
        let real = Tensor::new(&[[logit(0.9) as f32]], &Device::Cpu)?;
        let fake = Tensor::new(&[[logit(0.1) as f32]], &Device::Cpu)?;
        let loss = scalar(&discriminator_loss(&real, &fake, 1.0)?);
        assert!((loss - 0.2107).abs() < 1e-4, "{loss}");
        // With the real target at 0.9: −0.9 ln 0.9 − 0.1 ln 0.1 − ln 0.9.
        let smoothed = scalar(&discriminator_loss(&real, &fake, 0.9)?);
        let expected = -0.9 * 0.9f64.ln() - 0.1 * 0.1f64.ln() - 0.9f64.ln();
        assert!(
            (smoothed - expected).abs() < 1e-4,
            "{smoothed} vs {expected}"
        );
        Ok(())
    }

    #[test]
    fn bce_is_finite_and_exact_for_extreme_logits() -> Result<()> {
        // Target 1 at logit −100: loss 100 (σ would underflow to 0 and ln 0 to −∞).
        let x = Tensor::new(&[[-100f32], [100f32]], &Device::Cpu)?;
        let to_one = scalar(&bce_with_logits(&x.narrow(0, 0, 1)?, 1.0)?);
        let to_zero = scalar(&bce_with_logits(&x.narrow(0, 1, 1)?, 0.0)?);
        assert!((to_one - 100.0).abs() < 1e-3, "{to_one}");
        assert!((to_zero - 100.0).abs() < 1e-3, "{to_zero}");
        // Batch mean over two items: (ln 2 + ln 2) / 2 at logit 0.
        let zeros = Tensor::zeros((2, 1), DType::F32, &Device::Cpu)?;
        let l = scalar(&bce_with_logits(&zeros, 1.0)?);
        assert!((l - std::f64::consts::LN_2).abs() < 1e-6, "{l}");
        Ok(())
    }

    #[test]
    fn bce_gradient_is_sigmoid_minus_target() -> Result<()> {
        let x = Var::new(&[[0.3f32], [-1.2]], &Device::Cpu)?;
        let loss = bce_with_logits(x.as_tensor(), 0.9)?;
        let grads = loss.backward()?;
        let g = grads
            .get(&x)
            .expect("x takes part in the loss")
            .to_vec2::<f32>()?;
        for (row, xv) in g.iter().zip([0.3f64, -1.2]) {
            let expected = (1.0 / (1.0 + (-xv).exp()) - 0.9) / 2.0;
            assert!(
                (row[0] as f64 - expected).abs() < 1e-5,
                "{row:?} vs {expected}"
            );
        }
        Ok(())
    }

    #[test]
    fn leaky_relu_keeps_positives_and_scales_negatives() -> Result<()> {
        let x = Tensor::new(&[-2f32, 0.0, 3.0], &Device::Cpu)?;
        assert_eq!(leaky_relu(&x)?.to_vec1::<f32>()?, vec![-0.4, 0.0, 3.0]);
        Ok(())
    }

    fn build(kind: GanModelKind, seed: u64) -> Result<(VarMap, Generator, VarMap, Discriminator)> {
        let dev = Device::Cpu;
        let vm_g = VarMap::new();
        let vm_d = VarMap::new();
        let g = Generator::new(
            kind,
            100,
            VarBuilder::from_varmap(&vm_g, DType::F32, &dev).pp("g"),
        )?;
        let d = Discriminator::new(
            kind,
            VarBuilder::from_varmap(&vm_d, DType::F32, &dev).pp("d"),
        )?;
        let mut rng = Rng::new(seed);
        init_weights(&vm_g, kind, &mut rng)?;
        init_weights(&vm_d, kind, &mut rng)?;
        Ok((vm_g, g, vm_d, d))
    }

    #[test]
    fn mlp_shapes_and_weight_names() -> Result<()> {
        let (vm_g, g, vm_d, d) = build(GanModelKind::Mlp, 1)?;
        let z = Tensor::zeros((3, 100), DType::F32, &Device::Cpu)?;
        let img = g.forward_t(&z, true)?;
        assert_eq!(img.dims(), &[3, 1, 28, 28]);
        assert_eq!(d.forward(&img)?.dims(), &[3, 1]);
        let mut names: Vec<String> = vm_g.data().lock().expect("lock").keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "g.fc1.bias",
                "g.fc1.weight",
                "g.fc2.bias",
                "g.fc2.weight",
                "g.fc3.bias",
                "g.fc3.weight"
            ]
        );
        assert!(vm_d
            .data()
            .lock()
            .expect("lock")
            .contains_key("d.fc1.weight"));
        Ok(())
    }

    #[test]
    fn dcgan_shapes_range_and_weight_names() -> Result<()> {
        let (vm_g, g, vm_d, d) = build(GanModelKind::Dcgan, 2)?;
        let mut rng = Rng::new(5);
        let z: Vec<f32> = (0..4 * 100).map(|_| rng.normal()).collect();
        let z = Tensor::from_vec(z, (4, 100), &Device::Cpu)?;
        let img = g.forward_t(&z, true)?;
        assert_eq!(img.dims(), &[4, 1, 28, 28]);
        let max_abs = scalar(&img.abs()?.max_all()?);
        assert!(max_abs <= 1.0 && max_abs > 0.0, "{max_abs}");
        assert_eq!(d.forward(&img)?.dims(), &[4, 1]);
        let data = vm_g.data().lock().expect("lock");
        for name in [
            "g.fc.weight",
            "g.bn0.running_mean",
            "g.deconv1.weight",
            "g.deconv2.bias",
        ] {
            assert!(data.contains_key(name), "{name}");
        }
        assert_eq!(data["g.deconv1.weight"].dims(), &[128, 64, 4, 4]);
        let total = data.len();
        drop(data);
        assert!(vm_d
            .data()
            .lock()
            .expect("lock")
            .contains_key("d.conv2.weight"));
        // Running statistics are state, not parameters.
        assert_eq!(trainable_vars(&vm_g).len(), total - 4);
        Ok(())
    }

    #[test]
    fn init_is_seeded_and_follows_the_recipe() -> Result<()> {
        let (a, ..) = build(GanModelKind::Mlp, 9)?;
        let (b, ..) = build(GanModelKind::Mlp, 9)?;
        let (c, ..) = build(GanModelKind::Mlp, 10)?;
        let w = |vm: &VarMap, name: &str| -> Vec<f32> {
            vm.data().lock().expect("lock")[name]
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .expect("weights")
        };
        assert_eq!(w(&a, "g.fc2.weight"), w(&b, "g.fc2.weight"));
        assert_ne!(w(&a, "g.fc2.weight"), w(&c, "g.fc2.weight"));
        // U(−1/√256, 1/√256): bound 0.0625, std 0.0625/√3.
        let v = w(&a, "g.fc2.weight");
        let bound = v.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(bound <= 0.0625 && bound > 0.06, "{bound}");
        let (d, ..) = build(GanModelKind::Dcgan, 9)?;
        let v = w(&d, "g.deconv1.weight");
        let std = (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
        assert!((std - DCGAN_INIT_STD).abs() < 0.002, "{std}");
        assert!(w(&d, "g.deconv1.bias").iter().all(|&x| x == 0.0));
        let bn = w(&d, "g.bn1.weight");
        assert!(bn.iter().all(|x| (x - 1.0).abs() < 0.2) && bn.iter().any(|&x| x != 1.0));
        Ok(())
    }

    #[test]
    fn frozen_discriminator_gives_same_logits_but_no_weight_gradients() -> Result<()> {
        for kind in [GanModelKind::Mlp, GanModelKind::Dcgan] {
            let (_, _, vm_d, d) = build(kind, 3)?;
            let mut rng = Rng::new(8);
            let pixels: Vec<f32> = (0..2 * IMAGE_PIXELS).map(|_| rng.normal()).collect();
            let x = Var::from_vec(pixels, (2, 1, 28, 28), &Device::Cpu)?;
            let tracked = d.logits(x.as_tensor(), Params::Trainable)?;
            let frozen = d.logits(x.as_tensor(), Params::Frozen)?;
            assert_eq!(tracked.to_vec2::<f32>()?, frozen.to_vec2::<f32>()?);
            let grads = frozen.sum_all()?.backward()?;
            assert!(
                grads.get(&x).is_some(),
                "{kind:?}: gradient reaches the input"
            );
            for var in trainable_vars(&vm_d) {
                assert!(
                    grads.get(&var).is_none(),
                    "{kind:?}: frozen weights got a gradient"
                );
            }
            let grads = tracked.sum_all()?.backward()?;
            assert!(trainable_vars(&vm_d).iter().all(|v| grads.get(v).is_some()));
        }
        Ok(())
    }

    #[test]
    fn images_to_u8_maps_the_range_ends() -> Result<()> {
        let mut v = vec![0f32; IMAGE_PIXELS];
        v[0] = -1.0;
        v[1] = 1.0;
        v[2] = 1.5;
        let t = Tensor::from_vec(v, (1, 1, 28, 28), &Device::Cpu)?;
        let img = images_to_u8(&t)?;
        assert_eq!(img.len(), 1);
        assert_eq!(&img[0][..4], &[0, 255, 255, 128]);
        Ok(())
    }
}
