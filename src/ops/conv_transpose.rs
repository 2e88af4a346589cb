//! Transposed 2-D convolution (the DCGAN generator's upsampling layers) from the im2col kernels
//! of [`super::conv2d`].
//!
//! A transposed convolution is the input gradient of a convolution with the same kernel, so its
//! forward pass is [`Conv2dGradInput`] (one gemm and a col2im per image group), its input
//! gradient is a plain [`Conv2d`] of the upstream gradient, and its kernel gradient is
//! [`Conv2dGradKernel`] with the two images swapped. candle 0.11's CPU kernel instead loops over
//! every input pixel with a dot product per kernel tap.

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};

use super::bias_act::ChannelSum;
use super::cpu::{contiguous_f32, for_each_chunk_mut};

use super::conv2d::{Conv2d, Conv2dGradInput, Conv2dGradKernel, Geometry};

/// `x (batch, c_in, h, w)` through a transposed convolution with `kernel (c_in, c_out, kh, kw)`
/// (PyTorch's and candle's layout), symmetric `padding`, `stride`, no output padding or
/// dilation, plus `bias (c_out,)` per channel when given: `(batch, c_out, (h−1)·stride −
/// 2·padding + kh, …)`. Same values and gradients as `x.conv_transpose2d(kernel, padding, 0,
/// stride, 1)` followed by a broadcast add; f32 on the CPU takes the fast path, where the bias is
/// added in the same op (candle's broadcast add and its reduce-sum backward cost a graph node
/// and a slow strided sum).
pub fn conv_transpose2d(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    padding: usize,
    stride: usize,
) -> Result<Tensor> {
    let fast = super::fast_on(x.device())
        && x.dtype() == DType::F32
        && kernel.dtype() == DType::F32
        && bias.is_none_or(|b| b.dtype() == DType::F32);
    if !fast {
        let y = x.conv_transpose2d(kernel, padding, 0, stride, 1)?;
        return match bias {
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?),
            None => Ok(y),
        };
    }
    let op = ConvTranspose2d::new(x.dims(), kernel.dims(), padding, stride, bias.is_some())?;
    let c_out = op.out_dims.1;
    let bias = match bias {
        Some(b) if b.dims() == [c_out] => b.contiguous()?,
        Some(b) => bail!(
            "conv_transpose2d: bias {:?} does not match {c_out} output channels",
            b.dims()
        ),
        // Untracked zeros: no gradient is computed for them, and the add is skipped.
        None => Tensor::zeros(c_out, DType::F32, x.device())?,
    };
    x.contiguous()?.apply_op3(&kernel.contiguous()?, &bias, op)
}

/// The op, with the shape of the convolution whose input gradient it is.
struct ConvTranspose2d {
    stride: usize,
    padding: usize,
    /// `(batch, c_out, oh, ow)`: the output here, the input of the mirrored convolution.
    out_dims: (usize, usize, usize, usize),
    /// The third operand is a real bias, not placeholder zeros.
    has_bias: bool,
}

impl ConvTranspose2d {
    fn new(
        x: &[usize],
        kernel: &[usize],
        padding: usize,
        stride: usize,
        has_bias: bool,
    ) -> Result<Self> {
        let &[batch, c_in, h, w] = x else {
            bail!("conv_transpose2d: input must be (batch, c_in, h, w), got {x:?}")
        };
        let &[k_c_in, c_out, kh, kw] = kernel else {
            bail!("conv_transpose2d: kernel must be (c_in, c_out, kh, kw), got {kernel:?}")
        };
        if k_c_in != c_in {
            bail!("conv_transpose2d: input has {c_in} channels but the kernel expects {k_c_in}")
        }
        if stride == 0 || h == 0 || w == 0 {
            bail!("conv_transpose2d: stride and input size must be positive")
        }
        let side = |n: usize, k: usize| ((n - 1) * stride + k).checked_sub(2 * padding);
        let (Some(oh), Some(ow)) = (side(h, kh), side(w, kw)) else {
            bail!("conv_transpose2d: padding {padding} is larger than the {kh}×{kw} output allows")
        };
        // The mirrored convolution must map (oh, ow) back to exactly (h, w).
        let g = Geometry::new(
            &[batch, c_out, oh, ow],
            &[c_in, c_out, kh, kw],
            stride,
            padding,
        )?;
        if (g.oh, g.ow) != (h, w) {
            bail!("conv_transpose2d: {h}×{w} does not invert to a {oh}×{ow} output")
        }
        Ok(Self {
            stride,
            padding,
            out_dims: (batch, c_out, oh, ow),
            has_bias,
        })
    }

    fn grad_input_op(&self) -> Conv2dGradInput {
        Conv2dGradInput {
            stride: self.stride,
            padding: self.padding,
            input_dims: self.out_dims,
        }
    }
}

impl CustomOp3 for ConvTranspose2d {
    fn name(&self) -> &'static str {
        "im2col-conv-transpose2d"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        k_storage: &CpuStorage,
        k_layout: &Layout,
        b_storage: &CpuStorage,
        b_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[x_layout, k_layout, b_layout], || {
            let (out, shape) = self
                .grad_input_op()
                .cpu_fwd(x_storage, x_layout, k_storage, k_layout)?;
            if !self.has_bias {
                return Ok((out, shape));
            }
            let CpuStorage::F32(mut out) = out else {
                bail!("conv_transpose2d: expected an f32 result")
            };
            let bias = contiguous_f32(b_storage, b_layout, "conv_transpose2d bias")?;
            let (_, c_out, oh, ow) = self.out_dims;
            let plane = oh * ow;
            if plane > 0 && c_out > 0 {
                let work = out.len();
                for_each_chunk_mut(&mut out, c_out * plane, work, |_, image| {
                    for (values, &b) in image.chunks_exact_mut(plane).zip(bias) {
                        values.iter_mut().for_each(|v| *v += b);
                    }
                });
            }
            Ok((CpuStorage::F32(out), shape))
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        kernel: &Tensor,
        bias: &Tensor,
        _out: &Tensor,
        grad_out: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad_out = grad_out.contiguous()?;
        let grad_x = if x.track_op() {
            let conv = Conv2d {
                stride: self.stride,
                padding: self.padding,
            };
            Some(grad_out.apply_op2_no_bwd(kernel, &conv)?)
        } else {
            None
        };
        let grad_kernel = if kernel.track_op() {
            let op = Conv2dGradKernel {
                stride: self.stride,
                padding: self.padding,
                kernel_dims: kernel.dims4()?,
            };
            Some(grad_out.apply_op2_no_bwd(&x.contiguous()?, &op)?)
        } else {
            None
        };
        let grad_bias = if self.has_bias && bias.track_op() {
            Some(grad_out.apply_op1_no_bwd(&ChannelSum)?)
        } else {
            None
        };
        Ok((grad_x, grad_kernel, grad_bias))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_matches_reference, randn};
    use crate::rng::Rng;

    /// (batch, c_in, h, w, c_out, kh, kw, padding, stride): the DCGAN generator's two layers
    /// (channels scaled down), odd sizes, stride 1, non-square kernels.
    type Case = (
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
    );

    const CASES: [Case; 6] = [
        (3, 16, 7, 7, 8, 4, 4, 1, 2),
        (2, 8, 14, 14, 1, 4, 4, 1, 2),
        (2, 3, 5, 4, 2, 3, 3, 0, 1),
        (1, 2, 4, 6, 3, 3, 2, 1, 1),
        (2, 4, 3, 3, 5, 5, 5, 2, 3),
        (4, 1, 6, 6, 2, 2, 2, 0, 2),
    ];

    #[test]
    fn forward_and_gradients_match_candle() {
        let mut rng = Rng::new(21);
        for (case, &(b, c, h, w, o, kh, kw, padding, stride)) in CASES.iter().enumerate() {
            let x = randn(&mut rng, &[b, c, h, w]);
            let k = randn(&mut rng, &[c, o, kh, kw]);
            assert_matches_reference(
                &[x.clone(), k.clone()],
                &["x", "kernel"],
                1e-4,
                &format!("case {case}"),
                |t| conv_transpose2d(&t[0], &t[1], None, padding, stride),
                |t| t[0].conv_transpose2d(&t[1], padding, 0, stride, 1),
            );
            assert_matches_reference(
                &[x, k, randn(&mut rng, &[o])],
                &["x", "kernel", "bias"],
                1e-4,
                &format!("case {case} with bias"),
                |t| conv_transpose2d(&t[0], &t[1], Some(&t[2]), padding, stride),
                |t| {
                    t[0].conv_transpose2d(&t[1], padding, 0, stride, 1)?
                        .broadcast_add(&t[2].reshape((1, o, 1, 1))?)
                },
            );
        }
    }

    #[test]
    fn rejects_mismatched_channels_excess_padding_and_wrong_bias() {
        let mut rng = Rng::new(3);
        let x = randn(&mut rng, &[1, 2, 4, 4]);
        let err = conv_transpose2d(&x, &randn(&mut rng, &[3, 2, 3, 3]), None, 0, 1).unwrap_err();
        assert!(err.to_string().contains("channels"), "{err}");
        let err = conv_transpose2d(&x, &randn(&mut rng, &[2, 2, 2, 2]), None, 4, 1).unwrap_err();
        assert!(err.to_string().contains("padding"), "{err}");
        assert!(conv_transpose2d(&x, &randn(&mut rng, &[2, 2, 3, 3]), None, 0, 0).is_err());
        let kernel = randn(&mut rng, &[2, 5, 3, 3]);
        let err = conv_transpose2d(&x, &kernel, Some(&randn(&mut rng, &[4])), 0, 1).unwrap_err();
        assert!(err.to_string().contains("bias"), "{err}");
    }
}
