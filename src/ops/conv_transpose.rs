//! Transposed 2-D convolution (the DCGAN generator's upsampling layers) from the im2col kernels
//! of [`super::conv2d`].
//!
//! A transposed convolution is the input gradient of a convolution with the same kernel, so its
//! forward pass is [`Conv2dGradInput`] (one gemm and a col2im per image group), its input
//! gradient is a plain [`Conv2d`] of the upstream gradient, and its kernel gradient is
//! [`Conv2dGradKernel`] with the two images swapped. candle 0.11's CPU kernel instead loops over
//! every input pixel with a dot product per kernel tap.

use candle_core::{bail, CpuStorage, CustomOp2, DType, Device, Layout, Result, Shape, Tensor};

use super::conv2d::{Conv2d, Conv2dGradInput, Conv2dGradKernel, Geometry};

/// `x (batch, c_in, h, w)` through a transposed convolution with `kernel (c_in, c_out, kh, kw)`
/// (PyTorch's and candle's layout), symmetric `padding`, `stride`, no output padding or
/// dilation: `(batch, c_out, (h−1)·stride − 2·padding + kh, …)`. Same values and gradients as
/// `x.conv_transpose2d(kernel, padding, 0, stride, 1)`; f32 on the CPU takes the fast path.
pub fn conv_transpose2d(
    x: &Tensor,
    kernel: &Tensor,
    padding: usize,
    stride: usize,
) -> Result<Tensor> {
    let fast = matches!(x.device(), Device::Cpu)
        && x.dtype() == DType::F32
        && kernel.dtype() == DType::F32;
    if !fast {
        return x.conv_transpose2d(kernel, padding, 0, stride, 1);
    }
    let op = ConvTranspose2d::new(x.dims(), kernel.dims(), padding, stride)?;
    x.contiguous()?.apply_op2(&kernel.contiguous()?, op)
}

/// The op, with the shape of the convolution whose input gradient it is.
struct ConvTranspose2d {
    stride: usize,
    padding: usize,
    /// `(batch, c_out, oh, ow)`: the output here, the input of the mirrored convolution.
    out_dims: (usize, usize, usize, usize),
}

impl ConvTranspose2d {
    fn new(x: &[usize], kernel: &[usize], padding: usize, stride: usize) -> Result<Self> {
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

impl CustomOp2 for ConvTranspose2d {
    fn name(&self) -> &'static str {
        "im2col-conv-transpose2d"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        k_storage: &CpuStorage,
        k_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.grad_input_op()
            .cpu_fwd(x_storage, x_layout, k_storage, k_layout)
    }

    fn bwd(
        &self,
        x: &Tensor,
        kernel: &Tensor,
        _out: &Tensor,
        grad_out: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
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
        Ok((grad_x, grad_kernel))
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
                &[x, k],
                &["x", "kernel"],
                1e-4,
                &format!("case {case}"),
                |t| conv_transpose2d(&t[0], &t[1], padding, stride),
                |t| t[0].conv_transpose2d(&t[1], padding, 0, stride, 1),
            );
        }
    }

    #[test]
    fn rejects_mismatched_channels_and_excess_padding() {
        let mut rng = Rng::new(3);
        let x = randn(&mut rng, &[1, 2, 4, 4]);
        let err = conv_transpose2d(&x, &randn(&mut rng, &[3, 2, 3, 3]), 0, 1).unwrap_err();
        assert!(err.to_string().contains("channels"), "{err}");
        let err = conv_transpose2d(&x, &randn(&mut rng, &[2, 2, 2, 2]), 4, 1).unwrap_err();
        assert!(err.to_string().contains("padding"), "{err}");
        assert!(conv_transpose2d(&x, &randn(&mut rng, &[2, 2, 3, 3]), 0, 0).is_err());
    }
}
