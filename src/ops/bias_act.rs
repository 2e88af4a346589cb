//! Fused per-channel bias + ReLU or LeakyReLU: one pass forward, one pass backward (plus a channel
//! sum for the bias), instead of candle's broadcast-add, ReLU (or affine and maximum), compare,
//! cast and multiply chain.

use super::cpu::{contiguous_f32, for_each_chunk_mut, side_factor, sum};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor};

/// `relu(x + bias)` with `bias (channels,)` broadcast along dim 1 of `x (batch, channels, …)`.
/// Same values and gradients as `x.broadcast_add(bias reshaped)?.relu()`; f32 on the CPU takes
/// the fused path, anything else candle's ops.
pub fn bias_relu(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    bias_leaky_relu(x, bias, 0.0)
}

/// `leaky_relu(x + bias)` with negative-side `slope` in [0, 1] (0 is ReLU, 1 no activation: a
/// plain bias add) and `bias (channels,)`
/// broadcast along dim 1 of `x (batch, channels, …)`; same values and gradients as candle's
/// broadcast add followed by `max(v, slope·v)`.
pub fn bias_leaky_relu(x: &Tensor, bias: &Tensor, slope: f32) -> Result<Tensor> {
    let dims = x.dims();
    if dims.len() < 2 || bias.dims() != [dims[1]] {
        bail!(
            "bias_relu: bias {:?} does not match dim 1 of input {:?}",
            bias.dims(),
            dims
        )
    }
    if !(0.0..=1.0).contains(&slope) {
        bail!("leaky_relu: slope {slope} is outside [0, 1]")
    }
    if !fast_path(&[x, bias]) {
        let mut bias_shape = vec![1; dims.len()];
        bias_shape[1] = dims[1];
        return reference_leaky_relu(&x.broadcast_add(&bias.reshape(bias_shape)?)?, slope);
    }
    x.contiguous()?
        .apply_op2(&bias.contiguous()?, BiasAct { slope })
}

/// `max(x, slope·x)` element-wise for `slope` in [0, 1] as one op, forward and backward.
pub fn leaky_relu(x: &Tensor, slope: f32) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&slope) {
        bail!("leaky_relu: slope {slope} is outside [0, 1]")
    }
    if !fast_path(&[x]) {
        return reference_leaky_relu(x, slope);
    }
    x.contiguous()?.apply_op1(LeakyRelu { slope })
}

fn fast_path(tensors: &[&Tensor]) -> bool {
    tensors
        .iter()
        .all(|t| super::fast_on(t.device()) && t.dtype() == DType::F32)
}

/// candle's own ops: ReLU for slope 0, the identity for 1, else `max(x, slope·x)`.
fn reference_leaky_relu(x: &Tensor, slope: f32) -> Result<Tensor> {
    if slope == 0.0 {
        x.relu()
    } else if slope == 1.0 {
        // max(x, x) would send the gradient down both sides of the tie.
        Ok(x.clone())
    } else {
        x.maximum(&x.affine(f64::from(slope), 0.0)?)
    }
}

/// `v` if positive, else `slope·v`, written as a multiply by a selected factor: the select
/// vectorises, where a branch on the sign of noisy activations mispredicts about half the time
/// (it made these passes several times slower). NaN stays NaN.
#[inline(always)]
fn leaky(v: f32, slope: f32) -> f32 {
    v * side_factor(v, slope)
}

struct LeakyRelu {
    slope: f32,
}

impl CustomOp1 for LeakyRelu {
    fn name(&self) -> &'static str {
        "fused-leaky-relu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[layout], || {
            let x = contiguous_f32(storage, layout, "leaky_relu input")?;
            let mut out = vec![0f32; x.len()];
            let slope = self.slope;
            for_each_chunk_mut(&mut out, CHUNK, x.len(), move |i, out| {
                let x = &x[i * CHUNK..i * CHUNK + out.len()];
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = leaky(v, slope);
                }
            });
            Ok((CpuStorage::F32(out), layout.shape().clone()))
        })
    }

    fn bwd(&self, _x: &Tensor, out: &Tensor, grad_out: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_out
            .contiguous()?
            .apply_op2_no_bwd(out, &ActGrad { slope: self.slope })?;
        Ok(Some(grad))
    }
}

/// Elements per parallel chunk of the element-wise kernels.
const CHUNK: usize = 1 << 14;

/// `(batch, channels, spatial)` view of a `(batch, channels, …)` shape.
fn split_dims(dims: &[usize]) -> (usize, usize, usize) {
    (dims[0], dims[1], dims[2..].iter().product())
}

/// `leaky(v + bias[c], slope)` in place over one `(channels, …)` image.
pub(crate) fn bias_leaky_relu_in_place(image: &mut [f32], bias: &[f32], slope: f32) {
    let spatial = image.len() / bias.len().max(1);
    if spatial == 0 {
        return;
    }
    for (plane, &b) in image.chunks_exact_mut(spatial).zip(bias) {
        for v in plane {
            *v = leaky(*v + b, slope);
        }
    }
}

struct BiasAct {
    slope: f32,
}

impl CustomOp2 for BiasAct {
    fn name(&self) -> &'static str {
        "fused-bias-relu"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        b_storage: &CpuStorage,
        b_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[x_layout, b_layout], || {
            let x = contiguous_f32(x_storage, x_layout, "bias_relu input")?;
            let bias = contiguous_f32(b_storage, b_layout, "bias_relu bias")?;
            let (_, channels, spatial) = split_dims(x_layout.dims());
            let mut out = x.to_vec();
            if spatial > 0 && channels > 0 {
                let slope = self.slope;
                for_each_chunk_mut(&mut out, channels * spatial, x.len(), move |_, image| {
                    bias_leaky_relu_in_place(image, bias, slope);
                });
            }
            Ok((CpuStorage::F32(out), x_layout.shape().clone()))
        })
    }

    fn bwd(
        &self,
        _x: &Tensor,
        bias: &Tensor,
        out: &Tensor,
        grad_out: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (grad_pre, grad_bias) = bias_act_grads(bias, out, grad_out, self.slope)?;
        Ok((Some(grad_pre), grad_bias))
    }
}

/// Backward of a per-channel bias followed by LeakyReLU with `slope`, from the activation's
/// output: the gradient before the activation, and the bias gradient when `bias` is tracked.
pub(crate) fn bias_act_grads(
    bias: &Tensor,
    out: &Tensor,
    grad_out: &Tensor,
    slope: f32,
) -> Result<(Tensor, Option<Tensor>)> {
    let grad_pre = grad_out
        .contiguous()?
        .apply_op2_no_bwd(out, &ActGrad { slope })?;
    let grad_bias = if bias.track_op() {
        Some(grad_pre.apply_op1_no_bwd(&ChannelSum)?)
    } else {
        None
    };
    Ok((grad_pre, grad_bias))
}

/// `grad · (1 if out > 0 else slope)`, applied to `(grad_out, out)` (the output has the sign of
/// the pre-activation, so it tells which side each element was on).
pub(crate) struct ActGrad {
    pub(crate) slope: f32,
}

impl CustomOp2 for ActGrad {
    fn name(&self) -> &'static str {
        "fused-bias-relu-grad"
    }

    fn cpu_fwd(
        &self,
        g_storage: &CpuStorage,
        g_layout: &Layout,
        o_storage: &CpuStorage,
        o_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[g_layout, o_layout], || {
            let grad = contiguous_f32(g_storage, g_layout, "bias_relu grad")?;
            let out = contiguous_f32(o_storage, o_layout, "bias_relu output")?;
            if grad.len() != out.len() {
                bail!("bias_relu backward: gradient and output sizes differ")
            }
            let mut grad_in = vec![0f32; grad.len()];
            let slope = self.slope;
            for_each_chunk_mut(&mut grad_in, CHUNK, grad.len(), move |i, grad_in| {
                let range = i * CHUNK..i * CHUNK + grad_in.len();
                for ((gi, &g), &o) in grad_in
                    .iter_mut()
                    .zip(&grad[range.clone()])
                    .zip(&out[range])
                {
                    *gi = g * side_factor(o, slope);
                }
            });
            Ok((CpuStorage::F32(grad_in), g_layout.shape().clone()))
        })
    }
}

/// Sum over every dim but 1: `(batch, channels, …)` → `(channels,)`, the bias gradient.
pub(crate) struct ChannelSum;

impl CustomOp1 for ChannelSum {
    fn name(&self) -> &'static str {
        "channel-sum"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[layout], || {
            let x = contiguous_f32(storage, layout, "bias gradient")?;
            let (_, channels, spatial) = split_dims(layout.dims());
            let mut sums = vec![0f32; channels];
            if spatial > 0 && channels > 0 {
                for image in x.chunks_exact(channels * spatial) {
                    for (s, plane) in sums.iter_mut().zip(image.chunks_exact(spatial)) {
                        *s += sum(plane);
                    }
                }
            }
            Ok((CpuStorage::F32(sums), Shape::from(channels)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, assert_matches_reference, randn};
    use crate::rng::Rng;
    use candle_core::Device;

    #[test]
    fn forward_and_gradients_match_candle() {
        let mut rng = Rng::new(3);
        for (case, dims) in [vec![4, 32, 26, 26], vec![3, 5], vec![2, 3, 4, 1, 5]]
            .iter()
            .enumerate()
        {
            for slope in [0.0f32, 0.2, 1.0] {
                let x = randn(&mut rng, dims);
                let bias = randn(&mut rng, &[dims[1]]);
                let reference = |t: &[Tensor]| {
                    let mut shape = vec![1; t[0].rank()];
                    shape[1] = t[1].dim(0)?;
                    reference_leaky_relu(&t[0].broadcast_add(&t[1].reshape(shape)?)?, slope)
                };
                assert_matches_reference(
                    &[x.clone(), bias],
                    &["x", "bias"],
                    1e-4,
                    &format!("case {case} slope {slope}"),
                    |t| bias_leaky_relu(&t[0], &t[1], slope),
                    reference,
                );
                assert_matches_reference(
                    &[x],
                    &["x"],
                    1e-6,
                    &format!("case {case} leaky_relu {slope}"),
                    |t| leaky_relu(&t[0], slope),
                    |t| reference_leaky_relu(&t[0], slope),
                );
            }
        }
        // The ReLU reference really is candle's relu.
        let x = randn(&mut rng, &[3, 4]);
        assert_close(
            &leaky_relu(&x, 0.0).unwrap(),
            &x.relu().unwrap(),
            0.0,
            "relu",
        );
    }

    #[test]
    fn rejects_a_bias_of_the_wrong_length() {
        let x = Tensor::zeros((2, 3, 4), DType::F32, &Device::Cpu).unwrap();
        let bias = Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap();
        assert!(bias_relu(&x, &bias).is_err());
        let bias = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
        assert!(bias_leaky_relu(&x, &bias, 1.5).is_err());
        assert!(leaky_relu(&x, -0.1).is_err());
    }
}
