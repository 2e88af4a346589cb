//! 2-D convolution as im2col + one matrix multiply per image, forward and backward.
//!
//! candle 0.11's CPU conv2d backward runs through conv_transpose2d and dominates a small CNN's
//! step; here the forward and both gradients are gemm calls over an im2col buffer, with the batch
//! split across candle's CPU thread pool.

use super::bias_act::{bias_act_grads, bias_leaky_relu_in_place};
use super::cpu::{contiguous_f32, for_each_chunk_mut, matmul, threads, with_scratch, Strides};
use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};

/// Convolution `x (batch, c_in, h, w) ⊛ kernel (c_out, c_in, kh, kw)` with symmetric zero
/// `padding` and `stride`, no bias, no dilation: `(batch, c_out, oh, ow)`. Same result as
/// `x.conv2d(kernel, padding, stride, 1, 1)`; f32 tensors on the CPU take the fast path, anything
/// else candle's own kernel.
pub fn conv2d(x: &Tensor, kernel: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    if !super::fast_on(x.device()) || x.dtype() != DType::F32 || kernel.dtype() != DType::F32 {
        return x.conv2d(kernel, padding, stride, 1, 1);
    }
    Geometry::new(x.dims(), kernel.dims(), stride, padding)?;
    x.contiguous()?
        .apply_op2(&kernel.contiguous()?, Conv2d { stride, padding })
}

/// `leaky_relu(conv2d(x, kernel) + bias, slope)` with `bias (c_out,)` and negative-side `slope`
/// in [0, 1] (0 is ReLU, 1 no activation): one graph node instead of two, the bias and activation applied to each
/// image group straight after its gemm, while it is in cache. Same values and gradients as
/// [`conv2d`] followed by [`super::bias_act::bias_leaky_relu`].
pub fn conv2d_bias_leaky_relu(
    x: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    padding: usize,
    stride: usize,
    slope: f32,
) -> Result<Tensor> {
    let fast =
        super::fast_on(x.device()) && [x, kernel, bias].iter().all(|t| t.dtype() == DType::F32);
    if !fast {
        let y = x.conv2d(kernel, padding, stride, 1, 1)?;
        return super::bias_act::bias_leaky_relu(&y, bias, slope);
    }
    let g = Geometry::new(x.dims(), kernel.dims(), stride, padding)?;
    if bias.dims() != [g.c_out] {
        bail!(
            "conv2d: bias {:?} does not match {} output channels",
            bias.dims(),
            g.c_out
        )
    }
    if !(0.0..=1.0).contains(&slope) {
        bail!("leaky_relu: slope {slope} is outside [0, 1]")
    }
    x.contiguous()?.apply_op3(
        &kernel.contiguous()?,
        &bias.contiguous()?,
        Conv2dBiasAct {
            conv: Conv2d { stride, padding },
            slope,
        },
    )
}

/// Sizes of one convolution, validated once so the kernels can index without checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) batch: usize,
    pub(crate) c_in: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) c_out: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) stride: usize,
    pub(crate) padding: usize,
    pub(crate) oh: usize,
    pub(crate) ow: usize,
}

impl Geometry {
    pub(crate) fn new(
        x: &[usize],
        kernel: &[usize],
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        let &[batch, c_in, h, w] = x else {
            bail!("conv2d: input must be (batch, c_in, h, w), got {x:?}")
        };
        let &[c_out, k_c_in, kh, kw] = kernel else {
            bail!("conv2d: kernel must be (c_out, c_in, kh, kw), got {kernel:?}")
        };
        if k_c_in != c_in {
            bail!("conv2d: input has {c_in} channels but the kernel expects {k_c_in}")
        }
        if stride == 0 {
            bail!("conv2d: stride must be positive")
        }
        if kh == 0 || kw == 0 || h + 2 * padding < kh || w + 2 * padding < kw {
            bail!("conv2d: kernel {kh}×{kw} does not fit input {h}×{w} with padding {padding}")
        }
        Ok(Self {
            batch,
            c_in,
            h,
            w,
            c_out,
            kh,
            kw,
            stride,
            padding,
            oh: (h + 2 * padding - kh) / stride + 1,
            ow: (w + 2 * padding - kw) / stride + 1,
        })
    }

    /// Rows of the im2col matrix: one per kernel tap `(c_in, ky, kx)`.
    pub(crate) fn col_rows(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Columns of the im2col matrix: one per output pixel.
    pub(crate) fn col_cols(&self) -> usize {
        self.oh * self.ow
    }

    pub(crate) fn in_image(&self) -> usize {
        self.c_in * self.h * self.w
    }

    pub(crate) fn out_image(&self) -> usize {
        self.c_out * self.oh * self.ow
    }

    /// Multiply-adds of the whole batch: the work measure for going parallel.
    pub(crate) fn macs(&self) -> usize {
        self.batch * self.c_out * self.col_rows() * self.col_cols()
    }

    fn kernel_len(&self) -> usize {
        self.c_out * self.col_rows()
    }

    /// Refuses an upstream gradient whose shape is not this convolution's output shape.
    fn check_grad_out(&self, dims: &[usize]) -> Result<()> {
        if dims != self.out_shape().dims() {
            bail!(
                "conv2d backward: gradient shape {dims:?} does not match output {:?}",
                self.out_shape()
            )
        }
        Ok(())
    }

    pub(crate) fn out_shape(&self) -> Shape {
        Shape::from((self.batch, self.c_out, self.oh, self.ow))
    }

    pub(crate) fn in_shape(&self) -> Shape {
        Shape::from((self.batch, self.c_in, self.h, self.w))
    }

    /// Input row read by output row `oy` through kernel row `ky`, if inside the image.
    fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.stride + ky)
            .checked_sub(self.padding)
            .filter(|&iy| iy < self.h)
    }
}

/// Where each kernel tap reads: for tap `(ky, kx)` and output pixel `(oy, ox)`, the offset of
/// the input pixel within one channel plane, or [`Taps::PADDING`]. Built once per call, it turns
/// im2col and col2im into one flat gather or scatter per tap row, instead of working out the
/// valid range of every 7-pixel output row of a stride-2 layer (that bookkeeping, not the copy,
/// was most of their cost).
pub(crate) struct Taps {
    g: Geometry,
    offsets: Vec<usize>,
}

impl Taps {
    /// Marks a tap that reads zero padding.
    const PADDING: usize = usize::MAX;

    pub(crate) fn new(g: &Geometry) -> Self {
        let mut offsets = Vec::with_capacity(g.kh * g.kw * g.col_cols());
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                for oy in 0..g.oh {
                    let iy = g.input_row(oy, ky);
                    for ox in 0..g.ow {
                        let ix = (ox * g.stride + kx)
                            .checked_sub(g.padding)
                            .filter(|&ix| ix < g.w);
                        offsets.push(match (iy, ix) {
                            (Some(iy), Some(ix)) => iy * g.w + ix,
                            _ => Self::PADDING,
                        });
                    }
                }
            }
        }
        Self { g: *g, offsets }
    }

    /// The `(tap, offsets)` rows, one per `(ky, kx)`.
    fn rows(&self) -> std::slice::ChunksExact<'_, usize> {
        self.offsets.chunks_exact(self.g.col_cols().max(1))
    }

    /// Unfolds one image `(c_in, h, w)` into `col (c_in·kh·kw, oh·ow)` whose rows start `ld`
    /// elements apart (`ld ≥ oh·ow`, so several images can sit side by side), zeros where
    /// padding is read.
    pub(crate) fn im2col(&self, image: &[f32], col: &mut [f32], ld: usize) {
        let (plane_len, cols) = (self.g.h * self.g.w, self.g.col_cols());
        let taps = self.g.kh * self.g.kw;
        for ci in 0..self.g.c_in {
            let plane = &image[ci * plane_len..(ci + 1) * plane_len];
            for (t, offsets) in self.rows().enumerate() {
                let row = (ci * taps + t) * ld;
                for (d, &o) in col[row..row + cols].iter_mut().zip(offsets) {
                    *d = plane.get(o).copied().unwrap_or(0.0);
                }
            }
        }
    }

    /// Folds `col (c_in·kh·kw, oh·ow)` (rows `ld` apart) back onto one image `(c_in, h, w)`,
    /// summing overlapping taps: the adjoint of [`Self::im2col`]. `image` must be zeroed by the
    /// caller.
    fn col2im(&self, col: &[f32], ld: usize, image: &mut [f32]) {
        let (plane_len, cols) = (self.g.h * self.g.w, self.g.col_cols());
        let taps = self.g.kh * self.g.kw;
        for ci in 0..self.g.c_in {
            let plane = &mut image[ci * plane_len..(ci + 1) * plane_len];
            for (t, offsets) in self.rows().enumerate() {
                let row = (ci * taps + t) * ld;
                for (&s, &o) in col[row..row + cols].iter().zip(offsets) {
                    if let Some(d) = plane.get_mut(o) {
                        *d += s;
                    }
                }
            }
        }
    }
}

/// Images unfolded side by side into one im2col matrix, so each gemm sees at least
/// [`MIN_GEMM_COLS`] columns even when an image has few output pixels (a DCGAN discriminator's
/// 7×7 maps), while leaving one group per thread.
pub(crate) fn images_per_group(g: &Geometry) -> usize {
    let wanted = MIN_GEMM_COLS.div_ceil(g.col_cols().max(1));
    wanted.min(g.batch.div_ceil(threads())).max(1)
}

/// Narrowest product worth a gemm call; below it the packing overhead dominates.
const MIN_GEMM_COLS: usize = 256;

/// Scatters a `(c_out, nb·cols)` group result into `nb` consecutive `(c_out, cols)` images.
fn scatter_group(group: &[f32], images: &mut [f32], c_out: usize, cols: usize) {
    let ld = images.len() / c_out;
    for (j, image) in images.chunks_exact_mut(c_out * cols).enumerate() {
        for (o, plane) in image.chunks_exact_mut(cols).enumerate() {
            plane.copy_from_slice(&group[o * ld + j * cols..o * ld + (j + 1) * cols]);
        }
    }
}

/// Gathers `nb` consecutive `(c_out, cols)` images into one `(c_out, nb·cols)` matrix.
fn gather_group(images: &[f32], group: &mut [f32], c_out: usize, cols: usize) {
    let ld = images.len() / c_out;
    for (j, image) in images.chunks_exact(c_out * cols).enumerate() {
        for (o, plane) in image.chunks_exact(cols).enumerate() {
            group[o * ld + j * cols..o * ld + (j + 1) * cols].copy_from_slice(plane);
        }
    }
}

/// gemm threads for a per-image product: one when images run in parallel, all of them when the
/// batch is too small to keep the pool busy.
pub(crate) fn gemm_threads(g: &Geometry) -> usize {
    if g.batch >= threads() {
        1
    } else {
        threads()
    }
}

/// The forward convolution of a `(batch, c_in, h, w)` input: im2col + one gemm per image group,
/// the batch split across the pool. `epilogue` = `(bias, slope)` applies `leaky(v + bias)` to
/// each group's output while it is still in cache.
fn forward(g: &Geometry, x: &[f32], kernel: &[f32], epilogue: Option<(&[f32], f32)>) -> Vec<f32> {
    let g = *g;
    let mut out = vec![0f32; g.batch * g.out_image()];
    if out.is_empty() || g.in_image() == 0 {
        return out;
    }
    let (rows, cols) = (g.col_rows(), g.col_cols());
    let gemm_threads = gemm_threads(&g);
    let per_group = images_per_group(&g);
    let taps = Taps::new(&g);
    for_each_chunk_mut(
        &mut out,
        per_group * g.out_image(),
        g.macs(),
        |i, out_group| {
            let first = i * per_group;
            let nb = out_group.len() / g.out_image();
            let ld = nb * cols;
            let images = &x[first * g.in_image()..(first + nb) * g.in_image()];
            with_scratch(
                rows * ld + if nb > 1 { g.c_out * ld } else { 0 },
                |scratch| {
                    let (col, grouped) = scratch.split_at_mut(rows * ld);
                    for (j, image) in images.chunks_exact(g.in_image()).enumerate() {
                        taps.im2col(image, &mut col[j * cols..], ld);
                    }
                    // A single image's (c_out, cols) result is already in output layout.
                    let dst = if nb == 1 {
                        &mut *out_group
                    } else {
                        &mut *grouped
                    };
                    matmul(
                        (g.c_out, ld, rows),
                        dst,
                        Strides::row_major(ld),
                        false,
                        kernel,
                        Strides::row_major(rows),
                        col,
                        Strides::row_major(ld),
                        gemm_threads,
                    );
                    if nb > 1 {
                        scatter_group(grouped, out_group, g.c_out, cols);
                    }
                    if let Some((bias, slope)) = epilogue {
                        // While the group's output is still in cache.
                        for image in out_group.chunks_exact_mut(g.out_image()) {
                            bias_leaky_relu_in_place(image, bias, slope);
                        }
                    }
                },
            )
        },
    );
    out
}

/// The forward op; its backward applies [`Conv2dGradInput`] and [`Conv2dGradKernel`].
pub(crate) struct Conv2d {
    pub(crate) stride: usize,
    pub(crate) padding: usize,
}

impl CustomOp2 for Conv2d {
    fn name(&self) -> &'static str {
        "im2col-conv2d"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        k_storage: &CpuStorage,
        k_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[x_layout, k_layout], || {
            let g = Geometry::new(x_layout.dims(), k_layout.dims(), self.stride, self.padding)?;
            let x = contiguous_f32(x_storage, x_layout, "conv2d input")?;
            let kernel = contiguous_f32(k_storage, k_layout, "conv2d kernel")?;
            let out = forward(&g, x, kernel, None);
            Ok((CpuStorage::F32(out), g.out_shape()))
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        kernel: &Tensor,
        _out: &Tensor,
        grad_out: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad_out = grad_out.contiguous()?;
        let (stride, padding) = (self.stride, self.padding);
        // The image batch of a first layer is data, not a parameter: skip its gradient.
        let grad_x = if x.track_op() {
            Some(grad_out.apply_op2_no_bwd(
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
                &grad_out,
                &Conv2dGradKernel {
                    stride,
                    padding,
                    kernel_dims: kernel.dims4()?,
                },
            )?)
        } else {
            None
        };
        Ok((grad_x, grad_kernel))
    }
}

/// [`Conv2d`] with the bias and LeakyReLU epilogue; its backward undoes the activation and hands
/// the result to [`Conv2d`]'s backward.
struct Conv2dBiasAct {
    conv: Conv2d,
    slope: f32,
}

impl CustomOp3 for Conv2dBiasAct {
    fn name(&self) -> &'static str {
        "im2col-conv2d-bias-leaky-relu"
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
            let (stride, padding) = (self.conv.stride, self.conv.padding);
            let g = Geometry::new(x_layout.dims(), k_layout.dims(), stride, padding)?;
            let x = contiguous_f32(x_storage, x_layout, "conv2d input")?;
            let kernel = contiguous_f32(k_storage, k_layout, "conv2d kernel")?;
            let bias = contiguous_f32(b_storage, b_layout, "conv2d bias")?;
            if bias.len() != g.c_out {
                bail!(
                    "conv2d: bias has {} values for {} channels",
                    bias.len(),
                    g.c_out
                )
            }
            let out = forward(&g, x, kernel, Some((bias, self.slope)));
            Ok((CpuStorage::F32(out), g.out_shape()))
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
        let (grad_pre, grad_bias) = bias_act_grads(bias, out, grad_out, self.slope)?;
        let (grad_x, grad_kernel) = self.conv.bwd(x, kernel, out, &grad_pre)?;
        Ok((grad_x, grad_kernel, grad_bias))
    }
}

/// `grad_x = col2im(kernelᵀ · grad_out)` per image: applied to `(grad_out, kernel)`.
pub(crate) struct Conv2dGradInput {
    pub(crate) stride: usize,
    pub(crate) padding: usize,
    pub(crate) input_dims: (usize, usize, usize, usize),
}

impl CustomOp2 for Conv2dGradInput {
    fn name(&self) -> &'static str {
        "im2col-conv2d-grad-input"
    }

    fn cpu_fwd(
        &self,
        g_storage: &CpuStorage,
        g_layout: &Layout,
        k_storage: &CpuStorage,
        k_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[g_layout, k_layout], || {
            let (b, c, h, w) = self.input_dims;
            let g = Geometry::new(&[b, c, h, w], k_layout.dims(), self.stride, self.padding)?;
            g.check_grad_out(g_layout.dims())?;
            let grad_out = contiguous_f32(g_storage, g_layout, "conv2d grad")?;
            let kernel = contiguous_f32(k_storage, k_layout, "conv2d kernel")?;
            let mut grad_x = vec![0f32; g.batch * g.in_image()];
            if grad_x.is_empty() || g.out_image() == 0 {
                return Ok((CpuStorage::F32(grad_x), g.in_shape()));
            }
            let (rows, cols) = (g.col_rows(), g.col_cols());
            let gemm_threads = gemm_threads(&g);
            let per_group = images_per_group(&g);
            let taps = Taps::new(&g);
            for_each_chunk_mut(
                &mut grad_x,
                per_group * g.in_image(),
                g.macs(),
                |i, grad_group| {
                    let first = i * per_group;
                    let nb = grad_group.len() / g.in_image();
                    let ld = nb * cols;
                    with_scratch(rows * ld + g.c_out * ld, |scratch| {
                        let (col, grouped) = scratch.split_at_mut(rows * ld);
                        let grads = &grad_out[first * g.out_image()..(first + nb) * g.out_image()];
                        let upstream: &[f32] = if nb == 1 {
                            grads
                        } else {
                            gather_group(grads, grouped, g.c_out, cols);
                            grouped
                        };
                        matmul(
                            (rows, ld, g.c_out),
                            col,
                            Strides::row_major(ld),
                            false,
                            kernel,
                            Strides::transposed(rows),
                            upstream,
                            Strides::row_major(ld),
                            gemm_threads,
                        );
                        for (j, grad_image) in grad_group.chunks_exact_mut(g.in_image()).enumerate()
                        {
                            taps.col2im(&col[j * cols..], ld, grad_image);
                        }
                    })
                },
            );
            Ok((CpuStorage::F32(grad_x), g.in_shape()))
        })
    }
}

/// `grad_kernel = Σ_images grad_out · im2col(x)ᵀ`: applied to `(x, grad_out)`.
pub(crate) struct Conv2dGradKernel {
    pub(crate) stride: usize,
    pub(crate) padding: usize,
    pub(crate) kernel_dims: (usize, usize, usize, usize),
}

impl CustomOp2 for Conv2dGradKernel {
    fn name(&self) -> &'static str {
        "im2col-conv2d-grad-kernel"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        g_storage: &CpuStorage,
        g_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[x_layout, g_layout], || {
            let (o, c, kh, kw) = self.kernel_dims;
            let g = Geometry::new(x_layout.dims(), &[o, c, kh, kw], self.stride, self.padding)?;
            g.check_grad_out(g_layout.dims())?;
            let x = contiguous_f32(x_storage, x_layout, "conv2d input")?;
            let grad_out = contiguous_f32(g_storage, g_layout, "conv2d grad")?;
            let kernel_shape = Shape::from(self.kernel_dims);
            if g.batch == 0 || g.in_image() == 0 || g.out_image() == 0 {
                return Ok((CpuStorage::F32(vec![0f32; g.kernel_len()]), kernel_shape));
            }
            let (rows, cols) = (g.col_rows(), g.col_cols());
            let kernel_len = g.kernel_len();
            let gemm_threads = gemm_threads(&g);
            let per_group = images_per_group(&g);
            let taps = Taps::new(&g);
            let image_groups = g.batch.div_ceil(per_group);
            // Thread `t` sums image groups t, t + partial_count, … into its own partial.
            let partial_count = threads().min(image_groups);
            let mut partials = vec![0f32; partial_count * kernel_len];
            for_each_chunk_mut(&mut partials, kernel_len, g.macs(), |t, partial| {
                for group in (t..image_groups).step_by(partial_count) {
                    let first = group * per_group;
                    let nb = per_group.min(g.batch - first);
                    let ld = nb * cols;
                    with_scratch(rows * ld + g.c_out * ld, |scratch| {
                        let (col, grouped) = scratch.split_at_mut(rows * ld);
                        let images = &x[first * g.in_image()..(first + nb) * g.in_image()];
                        for (j, image) in images.chunks_exact(g.in_image()).enumerate() {
                            taps.im2col(image, &mut col[j * cols..], ld);
                        }
                        let grads = &grad_out[first * g.out_image()..(first + nb) * g.out_image()];
                        let upstream: &[f32] = if nb == 1 {
                            grads
                        } else {
                            gather_group(grads, grouped, g.c_out, cols);
                            grouped
                        };
                        matmul(
                            (g.c_out, rows, ld),
                            partial,
                            Strides::row_major(rows),
                            true,
                            upstream,
                            Strides::row_major(ld),
                            col,
                            Strides::transposed(ld),
                            gemm_threads,
                        );
                    })
                }
            });
            let (grad_kernel, rest) = partials.split_at_mut(kernel_len);
            for partial in rest.chunks_exact(kernel_len) {
                grad_kernel
                    .iter_mut()
                    .zip(partial)
                    .for_each(|(a, b)| *a += b);
            }
            partials.truncate(kernel_len);
            Ok((CpuStorage::F32(partials), kernel_shape))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_matches_reference, randn};
    use crate::rng::Rng;

    /// (batch, c_in, h, w, c_out, kh, kw, padding, stride).
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

    /// The classifier's layer, the DCGAN
    /// discriminator's stride-2 layers (channel counts scaled down), odd sizes, non-square kernels.
    const CASES: [Case; 7] = [
        (4, 1, 28, 28, 32, 3, 3, 0, 1),
        (3, 1, 28, 28, 16, 4, 4, 1, 2),
        (2, 16, 14, 14, 32, 4, 4, 1, 2),
        (2, 3, 9, 7, 5, 3, 2, 1, 1),
        (1, 2, 8, 8, 3, 3, 3, 2, 3),
        (5, 4, 6, 5, 2, 1, 1, 0, 1),
        (1, 3, 5, 5, 4, 5, 5, 0, 1),
    ];

    #[test]
    fn forward_and_gradients_match_candle() {
        let mut rng = Rng::new(11);
        for (case, &(b, c, h, w, o, kh, kw, padding, stride)) in CASES.iter().enumerate() {
            let x = randn(&mut rng, &[b, c, h, w]);
            let k = randn(&mut rng, &[o, c, kh, kw]);
            assert_matches_reference(
                &[x, k],
                &["x", "kernel"],
                1e-4,
                &format!("case {case}"),
                |t| conv2d(&t[0], &t[1], padding, stride),
                |t| t[0].conv2d(&t[1], padding, stride, 1, 1),
            );
        }
    }

    #[test]
    fn fused_bias_and_leaky_relu_match_candle() {
        let mut rng = Rng::new(17);
        for (case, &(b, c, h, w, o, kh, kw, padding, stride)) in CASES.iter().enumerate() {
            let inputs = [
                randn(&mut rng, &[b, c, h, w]),
                randn(&mut rng, &[o, c, kh, kw]),
                randn(&mut rng, &[o]),
            ];
            for slope in [0.0, 0.2, 1.0] {
                assert_matches_reference(
                    &inputs,
                    &["x", "kernel", "bias"],
                    1e-4,
                    &format!("case {case} slope {slope}"),
                    |t| conv2d_bias_leaky_relu(&t[0], &t[1], &t[2], padding, stride, slope),
                    |t| {
                        let y = t[0]
                            .conv2d(&t[1], padding, stride, 1, 1)?
                            .broadcast_add(&t[2].reshape((1, o, 1, 1))?)?;
                        if slope == 1.0 {
                            return Ok(y);
                        }
                        y.maximum(&(&y * f64::from(slope))?)
                    },
                );
            }
        }
        let x = randn(&mut rng, &[1, 2, 5, 5]);
        let k = randn(&mut rng, &[3, 2, 3, 3]);
        let err = conv2d_bias_leaky_relu(&x, &k, &randn(&mut rng, &[2]), 0, 1, 0.2).unwrap_err();
        assert!(err.to_string().contains("bias"), "{err}");
        let err = conv2d_bias_leaky_relu(&x, &k, &randn(&mut rng, &[3]), 0, 1, 1.5).unwrap_err();
        assert!(err.to_string().contains("slope"), "{err}");
    }

    #[test]
    fn rejects_mismatched_channels_and_oversized_kernels() {
        let mut rng = Rng::new(1);
        let x = randn(&mut rng, &[1, 2, 5, 5]);
        let err = conv2d(&x, &randn(&mut rng, &[4, 3, 3, 3]), 0, 1).unwrap_err();
        assert!(err.to_string().contains("channels"), "{err}");
        let err = conv2d(&x, &randn(&mut rng, &[4, 2, 7, 7]), 0, 1).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
        assert!(conv2d(&x, &randn(&mut rng, &[4, 2, 3, 3]), 0, 0).is_err());
    }

    #[test]
    fn data_input_gets_no_gradient_but_the_kernel_does() {
        let mut rng = Rng::new(2);
        let x = randn(&mut rng, &[2, 1, 6, 6]);
        let k = Var::from_tensor(&randn(&mut rng, &[3, 1, 3, 3])).unwrap();
        let loss = conv2d(&x, &k, 0, 1).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        assert!(grads.get(&x).is_none());
        // d(Σ out)/dk[o, 0, i, j] = Σ over images and output pixels of the input under that tap.
        let expected: f32 = x
            .narrow(2, 0, 4)
            .unwrap()
            .narrow(3, 0, 4)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        let got: f32 = grads
            .get(&k)
            .unwrap()
            .get(1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .get(0)
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(
            (got - expected).abs() < 1e-4 * (1.0 + expected.abs()),
            "{got} vs {expected}"
        );
    }

    use candle_core::Var;
}
