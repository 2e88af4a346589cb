//! k×k max-pool with stride k that records each window's argmax, so the backward pass is a
//! scatter instead of candle's compare-and-upsample chain.
//!
//! Besides being slow, candle 0.11's `max_pool2d` backward scales the gradient by ties/k² (a
//! quarter of PyTorch's gradient for a 2×2 window with one maximum); this op gives the whole
//! gradient to the window's first maximum, as PyTorch does.

use std::sync::OnceLock;

use super::cpu::{contiguous_f32, for_each_chunk_mut, ChunkedMut};
use candle_core::{bail, CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};

/// Max over non-overlapping `k`×`k` windows of `x (batch, channels, h, w)`:
/// `(batch, channels, h / k, w / k)`, trailing rows/columns dropped, as `x.max_pool2d(k)`.
/// f32 tensors on the CPU take the fast path, anything else candle's own kernel.
pub fn max_pool2d(x: &Tensor, k: usize) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    if k == 0 || k > h || k > w {
        bail!("max_pool2d: window {k} does not fit a {h}×{w} input")
    }
    if !super::fast_on(x.device()) || x.dtype() != DType::F32 {
        // Not `x.max_pool2d(k)`: candle 0.11's gradient of it is divided by k² (a quarter of
        // the true one for 2×2 windows). Nor a `max` over each window: its gradient goes to
        // every tied maximum, and ties are common (a blank background convolves to the bias
        // everywhere), which multiplied the CNN's bias gradient. Gathering each window's first
        // maximum gives the whole gradient to that one element, as PyTorch and the fast path do,
        // with ops every device has.
        let (oh, ow) = (h / k, w / k);
        let windows = x
            .narrow(2, 0, oh * k)?
            .narrow(3, 0, ow * k)?
            .reshape((b, c, oh, k, ow, k))?
            .transpose(3, 4)?
            .contiguous()?
            .reshape((b, c, oh, ow, k * k))?;
        let first_max = windows.argmax_keepdim(candle_core::D::Minus1)?;
        return windows
            .gather(&first_max, candle_core::D::Minus1)?
            .squeeze(candle_core::D::Minus1);
    }
    x.contiguous()?.apply_op1(MaxPool {
        k,
        argmax: OnceLock::new(),
    })
}

/// Max-pools one `(h, w)` plane (row length `w`) with a `k`×`k` window and stride `k` into
/// `out_plane` `(h / k, w / k)`, recording each maximum's index within the plane. Ties keep the
/// first element in row-major order (PyTorch's choice).
pub(crate) fn pool_plane(
    plane: &[f32],
    w: usize,
    k: usize,
    out_plane: &mut [f32],
    arg_plane: &mut [u32],
) {
    let pw = w / k;
    if pw == 0 {
        return;
    }
    let rows = out_plane
        .chunks_exact_mut(pw)
        .zip(arg_plane.chunks_exact_mut(pw));
    for (py, (out_row, arg_row)) in rows.enumerate() {
        let top = py * k * w;
        if k == 2 {
            // The CNN's case, written so the compares become selects: random activations make
            // the branches of the generic loop unpredictable.
            let r0 = &plane[top..top + 2 * pw];
            let r1 = &plane[top + w..top + w + 2 * pw];
            let windows = r0.chunks_exact(2).zip(r1.chunks_exact(2));
            for (px, ((out, arg), (a, b))) in out_row
                .iter_mut()
                .zip(arg_row.iter_mut())
                .zip(windows)
                .enumerate()
            {
                let base = (top + 2 * px) as u32;
                let (mut best, mut idx) = (a[0], base);
                let take = a[1] > best;
                best = if take { a[1] } else { best };
                idx = if take { base + 1 } else { idx };
                let take = b[0] > best;
                best = if take { b[0] } else { best };
                idx = if take { base + w as u32 } else { idx };
                let take = b[1] > best;
                best = if take { b[1] } else { best };
                idx = if take { base + w as u32 + 1 } else { idx };
                *out = best;
                *arg = idx;
            }
            continue;
        }
        for (px, (out, arg)) in out_row.iter_mut().zip(arg_row.iter_mut()).enumerate() {
            let mut best_idx = top + px * k;
            let mut best = plane[best_idx];
            for ky in 0..k {
                let row = top + ky * w + px * k;
                for (i, &v) in plane[row..row + k].iter().enumerate() {
                    if v > best {
                        best = v;
                        best_idx = row + i;
                    }
                }
            }
            *out = best;
            *arg = best_idx as u32;
        }
    }
}

/// Forward op; keeps, per output element, the index of its maximum within the input plane.
struct MaxPool {
    k: usize,
    argmax: OnceLock<Vec<u32>>,
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "argmax-max-pool2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[layout], || {
            let &[b, c, h, w] = layout.dims() else {
                bail!("max_pool2d: input must be (batch, channels, h, w)")
            };
            let k = self.k;
            let x = contiguous_f32(storage, layout, "max_pool2d input")?;
            let (oh, ow) = (h / k, w / k);
            let out_shape = Shape::from((b, c, oh, ow));
            if h * w > u32::MAX as usize {
                bail!("max_pool2d: planes above 2^32 pixels are not supported")
            }
            let mut out = vec![0f32; b * c * oh * ow];
            let mut argmax = vec![0u32; out.len()];
            let plane_out = oh * ow;
            if !out.is_empty() {
                // One task per image; each writes its planes of `out` and of `argmax`.
                let arg_chunks = ChunkedMut::new(&mut argmax, c * plane_out);
                for_each_chunk_mut(&mut out, c * plane_out, x.len(), |i, out_image| {
                    // SAFETY: chunk `i` of argmax is only touched by the call for image `i`.
                    let arg_image = unsafe { arg_chunks.chunk(i) };
                    let planes = out_image
                        .chunks_exact_mut(plane_out)
                        .zip(arg_image.chunks_exact_mut(plane_out))
                        .zip(x[i * c * h * w..(i + 1) * c * h * w].chunks_exact(h * w));
                    for ((out_plane, arg_plane), plane) in planes {
                        pool_plane(plane, w, k, out_plane, arg_plane);
                    }
                });
            }
            if self.argmax.set(argmax).is_err() {
                bail!("max_pool2d: op applied twice; each call builds its own op")
            }
            Ok((CpuStorage::F32(out), out_shape))
        })
    }

    fn bwd(&self, x: &Tensor, _out: &Tensor, grad_out: &Tensor) -> Result<Option<Tensor>> {
        let Some(argmax) = self.argmax.get() else {
            bail!("max_pool2d backward before forward")
        };
        let grad_out = grad_out.contiguous()?;
        let grad_x = grad_out.apply_op1_no_bwd(&MaxPoolScatter {
            argmax,
            input_dims: x.dims4()?,
        })?;
        Ok(Some(grad_x))
    }
}

/// Routes each output gradient to the input element that won its window; zeros elsewhere.
pub(crate) struct MaxPoolScatter<'a> {
    pub(crate) argmax: &'a [u32],
    pub(crate) input_dims: (usize, usize, usize, usize),
}

impl CustomOp1 for MaxPoolScatter<'_> {
    fn name(&self) -> &'static str {
        "argmax-max-pool2d-scatter"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[layout], || {
            let (b, c, h, w) = self.input_dims;
            let grad_out = contiguous_f32(storage, layout, "max_pool2d grad")?;
            if grad_out.len() != self.argmax.len() {
                bail!("max_pool2d backward: gradient does not match the pooled output")
            }
            let mut grad_x = vec![0f32; b * c * h * w];
            let plane_out = grad_out.len().checked_div(b * c).unwrap_or(0);
            if plane_out > 0 && h * w > 0 {
                for_each_chunk_mut(&mut grad_x, c * h * w, b * c * h * w, |i, grad_image| {
                    let range = i * c * plane_out..(i + 1) * c * plane_out;
                    let planes = grad_image
                        .chunks_exact_mut(h * w)
                        .zip(grad_out[range.clone()].chunks_exact(plane_out))
                        .zip(self.argmax[range].chunks_exact(plane_out));
                    for ((grad_plane, grad_out_plane), arg_plane) in planes {
                        for (&g, &idx) in grad_out_plane.iter().zip(arg_plane) {
                            grad_plane[idx as usize] += g;
                        }
                    }
                });
            }
            Ok((CpuStorage::F32(grad_x), Shape::from(self.input_dims)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, randn, reference_max_pool, value_and_grads};
    use crate::rng::Rng;
    use candle_core::Device;

    #[test]
    fn tied_maxima_give_the_whole_gradient_to_the_first_on_both_paths() {
        use crate::ops::{set_thread_kernels, Kernels};
        // A flat plane: every window is a four-way tie, as a blank background is after conv.
        let x = candle_core::Var::from_tensor(
            &Tensor::ones((1, 1, 4, 4), DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap();
        let mut grads = Vec::new();
        for kernels in [Kernels::Fast, Kernels::Portable] {
            set_thread_kernels(kernels);
            let pooled = max_pool2d(x.as_tensor(), 2).unwrap();
            let g = pooled.sum_all().unwrap().backward().unwrap();
            grads.push(
                g.get(x.as_tensor())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
            );
        }
        set_thread_kernels(Kernels::Fast);
        let first_of_each_window = [
            1., 0., 1., 0., //
            0., 0., 0., 0., //
            1., 0., 1., 0., //
            0., 0., 0., 0.,
        ];
        assert_eq!(grads[0], first_of_each_window, "fast");
        assert_eq!(grads[1], first_of_each_window, "portable");
    }

    #[test]
    fn forward_matches_candle_and_gradients_match_a_reshape_max_reference() {
        let mut rng = Rng::new(5);
        // (batch, channels, h, w, k): the CNN's pool, odd sizes that drop a row/column, k = 3.
        let cases = [
            (4, 32, 26, 26, 2),
            (2, 3, 7, 9, 2),
            (3, 2, 9, 10, 3),
            (1, 1, 2, 2, 2),
        ];
        for (case, &(b, c, h, w, k)) in cases.iter().enumerate() {
            let x = randn(&mut rng, &[b, c, h, w]);
            let (fast, fast_grads) = value_and_grads(std::slice::from_ref(&x), case as u64, |t| {
                max_pool2d(&t[0], k)
            });
            let reference = x.max_pool2d(k).unwrap();
            let (reshaped, ref_grads) =
                value_and_grads(&[x], case as u64, |t| reference_max_pool(&t[0], k));
            assert_close(&fast, &reference, 0.0, &format!("case {case} forward"));
            assert_close(
                &reshaped,
                &reference,
                0.0,
                &format!("case {case} reference"),
            );
            assert_close(
                &fast_grads[0],
                &ref_grads[0],
                1e-6,
                &format!("case {case} grad"),
            );
        }
    }

    #[test]
    fn gradient_goes_only_to_the_window_maximum() {
        let x = Tensor::new(&[[[[1f32, 5.0], [3.0, 2.0]]]], &Device::Cpu).unwrap();
        let x = candle_core::Var::from_tensor(&x).unwrap();
        let y = max_pool2d(&x, 2).unwrap();
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), [5.0]);
        let grads = (y * 3.0).unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads
            .get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(g, [0.0, 3.0, 0.0, 0.0]);
    }

    #[test]
    fn rejects_a_window_larger_than_the_input() {
        let x = Tensor::zeros((1, 1, 3, 3), DType::F32, &Device::Cpu).unwrap();
        assert!(max_pool2d(&x, 4).is_err());
        assert!(max_pool2d(&x, 0).is_err());
    }
}
