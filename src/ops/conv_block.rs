//! conv2d → + bias → ReLU → k×k max-pool as one graph node.
//!
//! Each node of candle's autograd graph costs a zero-filled gradient buffer and an add; for the
//! classifier CNN the full-resolution conv activations `(32, 32, 26, 26)` went through three
//! such nodes (conv, bias, ReLU) before the pool. Fused, only the pooled output is a node, the activations never leave a per-thread
//! scratch buffer, and the backward pass reuses the im2col gradient kernels.

use std::sync::OnceLock;

use candle_core::{bail, CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};

use super::bias_act::{ActGrad, ChannelSum};
use super::conv2d::{gemm_threads, Conv2dGradInput, Conv2dGradKernel, Geometry, Taps};
use super::cpu::{contiguous_f32, for_each_chunk_mut, matmul, with_scratch, ChunkedMut, Strides};
use super::maxpool::{pool_plane, MaxPoolScatter};

/// `max_pool2d(relu(conv2d(x, kernel, padding, stride) + bias), pool)` for `x (batch, c_in, h, w)`,
/// `kernel (c_out, c_in, kh, kw)`, `bias (c_out,)`: `(batch, c_out, oh / pool, ow / pool)`.
/// Same values and gradients as chaining [`super::conv2d::conv2d`], [`super::bias_act::bias_relu`]
/// and [`super::maxpool::max_pool2d`]; f32 on the CPU runs fused, anything else through candle.
pub fn conv2d_relu_maxpool(
    x: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    padding: usize,
    stride: usize,
    pool: usize,
) -> Result<Tensor> {
    let g = Geometry::new(x.dims(), kernel.dims(), stride, padding)?;
    if bias.dims() != [g.c_out] {
        bail!(
            "conv2d_relu_maxpool: bias {:?} does not match {} output channels",
            bias.dims(),
            g.c_out
        )
    }
    if pool == 0 || pool > g.oh || pool > g.ow {
        bail!(
            "conv2d_relu_maxpool: pool {pool} does not fit a {}×{} feature map",
            g.oh,
            g.ow
        )
    }
    let fast =
        super::fast_on(x.device()) && [x, kernel, bias].iter().all(|t| t.dtype() == DType::F32);
    if !fast {
        let conv = x.conv2d(kernel, padding, stride, 1, 1)?;
        let conv = conv
            .broadcast_add(&bias.reshape((1, g.c_out, 1, 1))?)?
            .relu()?;
        return super::maxpool::max_pool2d(&conv, pool);
    }
    x.contiguous()?.apply_op3(
        &kernel.contiguous()?,
        &bias.contiguous()?,
        ConvReluPool {
            stride,
            padding,
            pool,
            argmax: OnceLock::new(),
        },
    )
}

/// The fused forward; keeps each pooled element's argmax within its `(oh, ow)` conv plane.
struct ConvReluPool {
    stride: usize,
    padding: usize,
    pool: usize,
    argmax: OnceLock<Vec<u32>>,
}

impl CustomOp3 for ConvReluPool {
    fn name(&self) -> &'static str {
        "fused-conv2d-relu-maxpool"
    }

    fn cpu_fwd(
        &self,
        x_s: &CpuStorage,
        x_l: &Layout,
        k_s: &CpuStorage,
        k_l: &Layout,
        b_s: &CpuStorage,
        b_l: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[x_l, k_l, b_l], || {
            let g = Geometry::new(x_l.dims(), k_l.dims(), self.stride, self.padding)?;
            let x = contiguous_f32(x_s, x_l, "conv block input")?;
            let kernel = contiguous_f32(k_s, k_l, "conv block kernel")?;
            let bias = contiguous_f32(b_s, b_l, "conv block bias")?;
            let k = self.pool;
            let (ph, pw) = (g.oh / k, g.ow / k);
            let (rows, cols) = (g.col_rows(), g.col_cols());
            if cols > u32::MAX as usize {
                bail!("conv2d_relu_maxpool: feature maps above 2^32 pixels are not supported")
            }
            let pooled_image = g.c_out * ph * pw;
            let mut out = vec![0f32; g.batch * pooled_image];
            let mut argmax = vec![0u32; out.len()];
            if !out.is_empty() && g.in_image() > 0 {
                let gemm_threads = gemm_threads(&g);
                let taps = Taps::new(&g);
                let arg_chunks = ChunkedMut::new(&mut argmax, pooled_image);
                for_each_chunk_mut(&mut out, pooled_image, g.macs(), |i, out_image| {
                    // SAFETY: chunk `i` of argmax is only touched by the call for image `i`.
                    let arg_image = unsafe { arg_chunks.chunk(i) };
                    let image = &x[i * g.in_image()..(i + 1) * g.in_image()];
                    with_scratch(rows * cols + g.c_out * cols, |scratch| {
                        let (col, conv) = scratch.split_at_mut(rows * cols);
                        taps.im2col(image, col, cols);
                        matmul(
                            (g.c_out, cols, rows),
                            conv,
                            Strides::row_major(cols),
                            false,
                            kernel,
                            Strides::row_major(rows),
                            col,
                            Strides::row_major(cols),
                            gemm_threads,
                        );
                        let planes = conv
                            .chunks_exact(cols)
                            .zip(out_image.chunks_exact_mut(ph * pw))
                            .zip(arg_image.chunks_exact_mut(ph * pw))
                            .zip(bias);
                        for (((plane, out_plane), arg_plane), &b) in planes {
                            pool_plane(plane, g.ow, k, out_plane, arg_plane);
                            // relu(max(z) + b) = max(relu(z + b)): bias and ReLU after the pool.
                            out_plane.iter_mut().for_each(|v| *v = (*v + b).max(0.0));
                        }
                    })
                });
            }
            if self.argmax.set(argmax).is_err() {
                bail!("conv2d_relu_maxpool: op applied twice; each call builds its own op")
            }
            Ok((
                CpuStorage::F32(out),
                Shape::from((g.batch, g.c_out, ph, pw)),
            ))
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        kernel: &Tensor,
        bias: &Tensor,
        out: &Tensor,
        grad_out: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let Some(argmax) = self.argmax.get() else {
            bail!("conv2d_relu_maxpool backward before forward")
        };
        let (stride, padding) = (self.stride, self.padding);
        let g = Geometry::new(x.dims(), kernel.dims(), stride, padding)?;
        // ReLU after the pool: the gradient passes where the pooled output is positive.
        let grad_pre = grad_out
            .contiguous()?
            .apply_op2_no_bwd(out, &ActGrad { slope: 0.0 })?;
        let grad_bias = if bias.track_op() {
            Some(grad_pre.apply_op1_no_bwd(&ChannelSum)?)
        } else {
            None
        };
        let grad_conv = grad_pre.apply_op1_no_bwd(&MaxPoolScatter {
            argmax,
            input_dims: (g.batch, g.c_out, g.oh, g.ow),
        })?;
        let grad_x = if x.track_op() {
            Some(grad_conv.apply_op2_no_bwd(
                kernel,
                &Conv2dGradInput {
                    stride,
                    padding,
                    input_dims: x.dims4()?,
                },
            )?)
        } else {
            None
        };
        let grad_kernel = if kernel.track_op() {
            Some(x.apply_op2_no_bwd(
                &grad_conv,
                &Conv2dGradKernel {
                    stride,
                    padding,
                    kernel_dims: kernel.dims4()?,
                },
            )?)
        } else {
            None
        };
        Ok((grad_x, grad_kernel, grad_bias))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_matches_reference, randn, reference_max_pool};
    use crate::rng::Rng;

    #[test]
    fn forward_and_gradients_match_a_candle_chain() {
        let mut rng = Rng::new(6);
        // (batch, c_in, h, w, c_out, k, padding, stride, pool)
        let cases = [
            (4, 1, 28, 28, 32, 3, 0, 1, 2),
            (2, 3, 11, 9, 4, 3, 1, 2, 2),
            (2, 2, 10, 10, 3, 2, 0, 1, 3),
        ];
        for (case, &(b, c, h, w, o, k, padding, stride, pool)) in cases.iter().enumerate() {
            let inputs = [
                randn(&mut rng, &[b, c, h, w]),
                randn(&mut rng, &[o, c, k, k]),
                randn(&mut rng, &[o]),
            ];
            assert_matches_reference(
                &inputs,
                &["x", "kernel", "bias"],
                1e-4,
                &format!("case {case}"),
                |t| conv2d_relu_maxpool(&t[0], &t[1], &t[2], padding, stride, pool),
                |t| {
                    let conv = t[0]
                        .conv2d(&t[1], padding, stride, 1, 1)?
                        .broadcast_add(&t[2].reshape((1, o, 1, 1))?)?
                        .relu()?;
                    reference_max_pool(&conv, pool)
                },
            );
        }
    }

    #[test]
    fn rejects_a_pool_larger_than_the_feature_map() {
        let mut rng = Rng::new(1);
        let x = randn(&mut rng, &[1, 1, 4, 4]);
        let k = randn(&mut rng, &[2, 1, 3, 3]);
        let b = randn(&mut rng, &[2]);
        assert!(conv2d_relu_maxpool(&x, &k, &b, 0, 1, 3).is_err());
        assert!(conv2d_relu_maxpool(&x, &k, &randn(&mut rng, &[3]), 0, 1, 2).is_err());
    }
}
