//! Fully connected layer `x · wᵀ + b` as one custom op whose gradients come out contiguous.
//!
//! candle-nn's `Linear` multiplies by `w.t()`, so the weight gradient arrives transposed and
//! candle accumulates it with a strided element-by-element add (for the CNN's 5408×128 `fc1`
//! a visible share of the backward pass); here each gradient is one gemm into its final layout.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp3, DType, Layout, Result, Shape, Tensor};

use super::cpu::{contiguous_f32, gemm_threads, matmul, Strides};

/// `x (batch, in) · weight (out, in)ᵀ + bias (out,)` → `(batch, out)`; same values and gradients
/// as `candle_nn::Linear::new(weight, Some(bias)).forward(x)` for 2-D `x`. `x` may also be
/// `(batch, …)` with `in` elements per sample: it is flattened inside the op, which saves the
/// reshape node (and its gradient buffer) a `flatten_from(1)` would add. f32 on the CPU takes the
/// fused path, anything else candle's ops.
pub fn linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let (_, in_dim) = as_2d(x.dims())?;
    let (out_dim, w_in) = weight.dims2()?;
    if w_in != in_dim || bias.dims() != [out_dim] {
        bail!(
            "linear: input {:?}, weight {:?}, bias {:?} do not fit together",
            x.dims(),
            weight.dims(),
            bias.dims()
        )
    }
    let fast =
        super::fast_on(x.device()) && [x, weight, bias].iter().all(|t| t.dtype() == DType::F32);
    if !fast {
        return x.flatten_from(1)?.matmul(&weight.t()?)?.broadcast_add(bias);
    }
    x.contiguous()?
        .apply_op3(&weight.contiguous()?, &bias.contiguous()?, Linear)
}

/// `(dims[0], product of the rest)`: how the op reads a `(batch, …)` tensor.
fn as_2d(dims: &[usize]) -> Result<(usize, usize)> {
    match dims {
        [] => bail!("linear: expected a (batch, …) input, got a scalar"),
        [first, rest @ ..] => Ok((*first, rest.iter().product())),
    }
}

struct Linear;

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        "fused-linear"
    }

    fn cpu_fwd(
        &self,
        x_s: &CpuStorage,
        x_l: &Layout,
        w_s: &CpuStorage,
        w_l: &Layout,
        b_s: &CpuStorage,
        b_l: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[x_l, w_l, b_l], || {
            let x = contiguous_f32(x_s, x_l, "linear input")?;
            let w = contiguous_f32(w_s, w_l, "linear weight")?;
            let b = contiguous_f32(b_s, b_l, "linear bias")?;
            let (batch, in_dim) = as_2d(x_l.dims())?;
            let &[out_dim, _] = w_l.dims() else {
                bail!("linear: expected a 2-D weight")
            };
            // Start from the broadcast bias and let gemm accumulate the product onto it.
            let mut out: Vec<f32> = Vec::with_capacity(batch * out_dim);
            for _ in 0..batch {
                out.extend_from_slice(b);
            }
            matmul(
                (batch, out_dim, in_dim),
                &mut out,
                Strides::row_major(out_dim),
                true,
                x,
                Strides::row_major(in_dim),
                w,
                Strides::transposed(in_dim),
                gemm_threads(batch, out_dim, in_dim),
            );
            Ok((CpuStorage::F32(out), Shape::from((batch, out_dim))))
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _out: &Tensor,
        grad_out: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad_out = grad_out.contiguous()?;
        let grad_x = if x.track_op() {
            let op = MatMul {
                transpose_lhs: false,
                out_shape: x.shape().clone(),
            };
            Some(grad_out.apply_op2_no_bwd(weight, &op)?)
        } else {
            None
        };
        let grad_w = if weight.track_op() {
            let op = MatMul {
                transpose_lhs: true,
                out_shape: weight.shape().clone(),
            };
            Some(grad_out.apply_op2_no_bwd(x, &op)?)
        } else {
            None
        };
        let grad_b = if bias.track_op() {
            Some(grad_out.apply_op1_no_bwd(&ColumnSum)?)
        } else {
            None
        };
        Ok((grad_x, grad_w, grad_b))
    }
}

/// `a (m, k) · b (k, n)`, or `a (k, m)ᵀ · b (k, n)` with `transpose_lhs`, on contiguous f32
/// operands read as `(dims[0], rest)`; the `(m, n)` result takes `out_shape`.
struct MatMul {
    transpose_lhs: bool,
    out_shape: Shape,
}

impl candle_core::CustomOp2 for MatMul {
    fn name(&self) -> &'static str {
        "fused-linear-grad"
    }

    fn cpu_fwd(
        &self,
        a_s: &CpuStorage,
        a_l: &Layout,
        b_s: &CpuStorage,
        b_l: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[a_l, b_l], || {
            let a = contiguous_f32(a_s, a_l, "linear grad lhs")?;
            let b = contiguous_f32(b_s, b_l, "linear grad rhs")?;
            let ((a0, a1), (b0, n)) = (as_2d(a_l.dims())?, as_2d(b_l.dims())?);
            let (m, k, a_strides) = if self.transpose_lhs {
                (a1, a0, Strides::transposed(a1))
            } else {
                (a0, a1, Strides::row_major(a1))
            };
            if k != b0 || self.out_shape.elem_count() != m * n {
                bail!(
                    "linear backward: ({a0}, {a1}) and ({b0}, {n}) do not give {:?}",
                    self.out_shape
                )
            }
            let mut out = vec![0f32; m * n];
            matmul(
                (m, n, k),
                &mut out,
                Strides::row_major(n),
                false,
                a,
                a_strides,
                b,
                Strides::row_major(n),
                gemm_threads(m, n, k),
            );
            Ok((CpuStorage::F32(out), self.out_shape.clone()))
        })
    }
}

/// Column sums of a `(rows, cols)` matrix: the bias gradient `(cols,)`.
struct ColumnSum;

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "column-sum"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[layout], || {
            let g = contiguous_f32(storage, layout, "linear bias grad")?;
            let &[_, cols] = layout.dims() else {
                bail!("linear backward: expected a 2-D gradient")
            };
            let mut sums = vec![0f32; cols];
            if cols > 0 {
                for row in g.chunks_exact(cols) {
                    sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
                }
            }
            Ok((CpuStorage::F32(sums), Shape::from(cols)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, randn, value_and_grads};
    use crate::rng::Rng;
    use candle_nn::Module;

    #[test]
    fn forward_and_gradients_match_candle_nn_linear() {
        let mut rng = Rng::new(4);
        // (batch, in, out): the CNN's fc1 and fc2, the MLP's first layer, degenerate sizes.
        for (case, &(b, i, o)) in [
            (32, 5408, 128),
            (32, 128, 10),
            (7, 784, 256),
            (1, 1, 1),
            (3, 5, 2),
        ]
        .iter()
        .enumerate()
        {
            let inputs = [
                randn(&mut rng, &[b, i]),
                randn(&mut rng, &[o, i]),
                randn(&mut rng, &[o]),
            ];
            let (fast, fast_grads) =
                value_and_grads(&inputs, case as u64, |t| linear(&t[0], &t[1], &t[2]));
            let (reference, ref_grads) = value_and_grads(&inputs, case as u64, |t| {
                candle_nn::Linear::new(t[1].clone(), Some(t[2].clone())).forward(&t[0])
            });
            let tol = 1e-4;
            assert_close(&fast, &reference, tol, &format!("case {case} forward"));
            for (n, what) in ["x", "weight", "bias"].iter().enumerate() {
                assert_close(
                    &fast_grads[n],
                    &ref_grads[n],
                    tol,
                    &format!("case {case} grad {what}"),
                );
            }
        }
    }

    #[test]
    fn flattens_a_batch_of_feature_maps_like_flatten_from_1() {
        let mut rng = Rng::new(9);
        let inputs = [
            randn(&mut rng, &[3, 2, 4, 5]),
            randn(&mut rng, &[6, 40]),
            randn(&mut rng, &[6]),
        ];
        let (fast, fast_grads) = value_and_grads(&inputs, 1, |t| linear(&t[0], &t[1], &t[2]));
        let (reference, ref_grads) = value_and_grads(&inputs, 1, |t| {
            candle_nn::Linear::new(t[1].clone(), Some(t[2].clone())).forward(&t[0].flatten_from(1)?)
        });
        assert_close(&fast, &reference, 1e-4, "forward");
        assert_eq!(fast_grads[0].dims(), [3, 2, 4, 5]);
        for n in 0..3 {
            assert_close(&fast_grads[n], &ref_grads[n], 1e-4, &format!("grad {n}"));
        }
    }

    #[test]
    fn rejects_mismatched_shapes() {
        let mut rng = Rng::new(1);
        let x = randn(&mut rng, &[2, 3]);
        assert!(linear(&x, &randn(&mut rng, &[4, 5]), &randn(&mut rng, &[4])).is_err());
        assert!(linear(&x, &randn(&mut rng, &[4, 3]), &randn(&mut rng, &[3])).is_err());
    }
}
