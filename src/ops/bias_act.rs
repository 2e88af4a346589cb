//! Fused per-channel bias + ReLU: one pass forward, one pass backward (plus a channel sum for the
//! bias), instead of candle's broadcast-add, ReLU, compare, cast and multiply chain.

use super::cpu::{contiguous_f32, for_each_chunk_mut, sum};
use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, DType, Device, Layout, Result, Shape, Tensor,
};

/// `relu(x + bias)` with `bias (channels,)` broadcast along dim 1 of `x (batch, channels, …)`.
/// Same values and gradients as `x.broadcast_add(bias reshaped)?.relu()`; f32 on the CPU takes
/// the fused path, anything else candle's ops.
pub fn bias_relu(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let dims = x.dims();
    if dims.len() < 2 || bias.dims() != [dims[1]] {
        bail!(
            "bias_relu: bias {:?} does not match dim 1 of input {:?}",
            bias.dims(),
            dims
        )
    }
    if !matches!(x.device(), Device::Cpu) || x.dtype() != DType::F32 || bias.dtype() != DType::F32 {
        let mut bias_shape = vec![1; dims.len()];
        bias_shape[1] = dims[1];
        return x.broadcast_add(&bias.reshape(bias_shape)?)?.relu();
    }
    x.contiguous()?.apply_op2(&bias.contiguous()?, BiasRelu)
}

/// `(batch, channels, spatial)` view of a `(batch, channels, …)` shape.
fn split_dims(dims: &[usize]) -> (usize, usize, usize) {
    (dims[0], dims[1], dims[2..].iter().product())
}

struct BiasRelu;

impl CustomOp2 for BiasRelu {
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
        let x = contiguous_f32(x_storage, x_layout, "bias_relu input")?;
        let bias = contiguous_f32(b_storage, b_layout, "bias_relu bias")?;
        let (_, channels, spatial) = split_dims(x_layout.dims());
        let mut out = vec![0f32; x.len()];
        if spatial > 0 && channels > 0 {
            let image = channels * spatial;
            for_each_chunk_mut(&mut out, image, x.len(), |i, out| {
                let x = &x[i * image..(i + 1) * image];
                for ((out, x), &b) in out
                    .chunks_exact_mut(spatial)
                    .zip(x.chunks_exact(spatial))
                    .zip(bias)
                {
                    for (o, &v) in out.iter_mut().zip(x) {
                        *o = (v + b).max(0.0);
                    }
                }
            });
        }
        Ok((CpuStorage::F32(out), x_layout.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        bias: &Tensor,
        out: &Tensor,
        grad_out: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad_pre = grad_out.contiguous()?.apply_op2_no_bwd(out, &ReluGrad)?;
        let grad_bias = if bias.track_op() {
            Some(grad_pre.apply_op1_no_bwd(&ChannelSum)?)
        } else {
            None
        };
        Ok((Some(grad_pre), grad_bias))
    }
}

/// `grad · [out > 0]`, applied to `(grad_out, out)`.
pub(crate) struct ReluGrad;

impl CustomOp2 for ReluGrad {
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
        let grad = contiguous_f32(g_storage, g_layout, "bias_relu grad")?;
        let out = contiguous_f32(o_storage, o_layout, "bias_relu output")?;
        if grad.len() != out.len() {
            bail!("bias_relu backward: gradient and output sizes differ")
        }
        let mut grad_in = vec![0f32; grad.len()];
        const CHUNK: usize = 1 << 14;
        for_each_chunk_mut(&mut grad_in, CHUNK, grad.len(), |i, grad_in| {
            let range = i * CHUNK..i * CHUNK + grad_in.len();
            for ((gi, &g), &o) in grad_in
                .iter_mut()
                .zip(&grad[range.clone()])
                .zip(&out[range])
            {
                *gi = if o > 0.0 { g } else { 0.0 };
            }
        });
        Ok((CpuStorage::F32(grad_in), g_layout.shape().clone()))
    }
}

/// Sum over every dim but 1: `(batch, channels, …)` → `(channels,)`, the bias gradient.
pub(crate) struct ChannelSum;

impl CustomOp1 for ChannelSum {
    fn name(&self) -> &'static str {
        "channel-sum"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, randn, value_and_grads};
    use crate::rng::Rng;

    #[test]
    fn forward_and_gradients_match_candle() {
        let mut rng = Rng::new(3);
        for (case, dims) in [vec![4, 32, 26, 26], vec![3, 5], vec![2, 3, 4, 1, 5]]
            .iter()
            .enumerate()
        {
            let x = randn(&mut rng, dims);
            let bias = randn(&mut rng, &[dims[1]]);
            let inputs = [x, bias];
            let (fast, fast_grads) =
                value_and_grads(&inputs, case as u64, |t| bias_relu(&t[0], &t[1]));
            let (reference, ref_grads) = value_and_grads(&inputs, case as u64, |t| {
                let mut shape = vec![1; t[0].rank()];
                shape[1] = t[1].dim(0)?;
                t[0].broadcast_add(&t[1].reshape(shape)?)?.relu()
            });
            assert_close(&fast, &reference, 1e-6, &format!("case {case} forward"));
            assert_close(
                &fast_grads[0],
                &ref_grads[0],
                1e-6,
                &format!("case {case} grad x"),
            );
            assert_close(
                &fast_grads[1],
                &ref_grads[1],
                1e-4,
                &format!("case {case} grad bias"),
            );
        }
    }

    #[test]
    fn rejects_a_bias_of_the_wrong_length() {
        let x = Tensor::zeros((2, 3, 4), DType::F32, &Device::Cpu).unwrap();
        let bias = Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap();
        assert!(bias_relu(&x, &bias).is_err());
    }
}
