//! Training-mode batch normalisation as one op (the DCGAN generator's two BN layers).
//!
//! candle-nn's `BatchNorm::forward_train` is a chain of about fifteen tensor ops (a transpose
//! and copy, two means, broadcast subtract/divide/multiply/add, a transpose back) whose backward
//! doubles that; here the forward pass is two sweeps over the input and the backward pass two
//! more, with the per-channel statistics computed once and kept for the backward pass. The ReLU
//! that follows each of them runs in the same passes, which saves the graph a node (a zeroed
//! gradient buffer, a compare, a cast and a multiply over the whole activation).

use std::sync::{Arc, Mutex};

use candle_core::{bail, CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};
use candle_nn::BatchNorm;

use super::cpu::{
    contiguous_f32, for_each_chunk_mut, side_factor, sums_f64, threads, with_f32,
    PARALLEL_MIN_ELEMS,
};

/// Per-channel statistics of one training-mode forward pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelStats {
    /// Batch mean per channel.
    pub mean: Vec<f32>,
    /// Biased batch variance per channel (divided by the element count, as normalisation uses).
    pub var: Vec<f32>,
    /// Elements per channel: batch × height × width.
    pub count: usize,
}

/// `x (batch, c, …)` normalised with its own per-channel batch statistics, then scaled by
/// `gamma (c,)` and shifted by `beta (c,)`: `(x − mean) / √(var + eps) · gamma + beta`. Returns
/// the output (through a ReLU when `relu`) and the statistics (for running averages). Same values
/// and gradients as candle-nn's `BatchNorm::forward_train` (then `relu()`); f32 on the CPU only
/// (callers fall back otherwise).
pub fn batch_norm_train(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    relu: bool,
) -> Result<(Tensor, ChannelStats)> {
    let dims = x.dims();
    if dims.len() < 2 || gamma.dims() != [dims[1]] || beta.dims() != [dims[1]] {
        bail!(
            "batch norm: input {:?}, gamma {:?}, beta {:?} do not fit together",
            dims,
            gamma.dims(),
            beta.dims()
        )
    }
    let saved = Arc::new(Mutex::new(None));
    let op = BatchNormTrain {
        eps: eps as f32,
        relu,
        saved: Arc::clone(&saved),
    };
    let y = x
        .contiguous()?
        .apply_op3(&gamma.contiguous()?, &beta.contiguous()?, op)?;
    let stats = saved
        .lock()
        .map_err(|_| candle_core::Error::Msg("batch norm: statistics lock poisoned".into()))?
        .as_ref()
        .map(|s| s.stats.clone())
        .ok_or_else(|| candle_core::Error::Msg("batch norm: forward kept no statistics".into()))?;
    Ok((y, stats))
}

/// [`BatchNorm::forward_t`], then a ReLU when `relu`, with the fused kernel in training mode on
/// the CPU: updates the running mean and variance exactly as candle-nn does (momentum-weighted,
/// unbiased variance).
pub fn batch_norm_forward_t(bn: &BatchNorm, x: &Tensor, train: bool, relu: bool) -> Result<Tensor> {
    let fast = train && super::fast_on(x.device()) && x.dtype() == DType::F32;
    let Some((gamma, beta)) = bn.weight_and_bias().filter(|_| fast) else {
        let y = candle_nn::ModuleT::forward_t(bn, x, train)?;
        return if relu { y.relu() } else { Ok(y) };
    };
    let (y, stats) = batch_norm_train(x, gamma, beta, bn.eps(), relu)?;
    let m = bn.momentum();
    let unbiased = m * stats.count as f64 / (stats.count as f64 - 1.0).max(1.0);
    let c = stats.mean.len();
    let mean = Tensor::from_vec(stats.mean, c, x.device())?;
    let var = Tensor::from_vec(stats.var, c, x.device())?;
    let running_mean = candle_core::Var::from_tensor(bn.running_mean())?;
    running_mean.set(&((running_mean.as_tensor() * (1.0 - m))? + (mean * m)?)?)?;
    let running_var = candle_core::Var::from_tensor(bn.running_var())?;
    running_var.set(&((running_var.as_tensor() * (1.0 - m))? + (var * unbiased)?)?)?;
    Ok(y)
}

/// What the forward pass leaves for the backward pass.
struct Saved {
    stats: ChannelStats,
    inv_std: Vec<f32>,
}

struct BatchNormTrain {
    eps: f32,
    /// A ReLU follows in the same pass.
    relu: bool,
    /// Shared with [`batch_norm_train`], which reads the statistics after the forward pass.
    saved: Arc<Mutex<Option<Saved>>>,
}

/// `(batch, channels, elements per image and channel)` of a `(batch, c, …)` layout.
fn geometry(dims: &[usize]) -> (usize, usize, usize) {
    (dims[0], dims[1], dims[2..].iter().product())
}

/// `f(channel)` for every channel, in order; in parallel when the input is large.
fn per_channel<T: Send>(
    channels: usize,
    elems: usize,
    f: impl Fn(usize) -> T + Sync + Send,
) -> Vec<T> {
    if elems < PARALLEL_MIN_ELEMS || threads() == 1 {
        return (0..channels).map(f).collect();
    }
    use rayon::prelude::*;
    (0..channels).into_par_iter().map(f).collect()
}

impl CustomOp3 for BatchNormTrain {
    fn name(&self) -> &'static str {
        "fused-batch-norm"
    }

    fn cpu_fwd(
        &self,
        x_s: &CpuStorage,
        x_l: &Layout,
        g_s: &CpuStorage,
        g_l: &Layout,
        b_s: &CpuStorage,
        b_l: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        super::profile::timed(self.name(), &[x_l, g_l, b_l], || {
            let x = contiguous_f32(x_s, x_l, "batch norm input")?;
            let gamma = contiguous_f32(g_s, g_l, "batch norm gamma")?;
            let beta = contiguous_f32(b_s, b_l, "batch norm beta")?;
            let (n, c, hw) = geometry(x_l.dims());
            let count = n * hw;
            if count == 0 {
                bail!("batch norm: empty batch {:?}", x_l.dims())
            }
            // Two passes in f64 per channel: the mean, then the mean squared deviation.
            let moments = per_channel(c, x.len(), |ch| {
                let plane = |b: usize| &x[(b * c + ch) * hw..(b * c + ch + 1) * hw];
                let sum: f64 = (0..n)
                    .map(|b| sums_f64(hw, |i| [f64::from(plane(b)[i])])[0])
                    .sum();
                let mean = sum / count as f64;
                let sq: f64 = (0..n)
                    .map(|b| sums_f64(hw, |i| [(f64::from(plane(b)[i]) - mean).powi(2)])[0])
                    .sum();
                (mean as f32, (sq / count as f64) as f32)
            });
            let mean: Vec<f32> = moments.iter().map(|m| m.0).collect();
            let var: Vec<f32> = moments.iter().map(|m| m.1).collect();
            let inv_std: Vec<f32> = var.iter().map(|v| 1.0 / (v + self.eps).sqrt()).collect();
            let mut y = vec![0f32; x.len()];
            // NaN compares false and passes through, so a diverging run still shows it.
            let floor = if self.relu { 0.0 } else { f32::NEG_INFINITY };
            for_each_chunk_mut(&mut y, c * hw, x.len(), |b, out| {
                for ch in 0..c {
                    let src = &x[(b * c + ch) * hw..(b * c + ch + 1) * hw];
                    let scale = inv_std[ch] * gamma[ch];
                    let shift = beta[ch] - mean[ch] * scale;
                    for (o, &v) in out[ch * hw..(ch + 1) * hw].iter_mut().zip(src) {
                        let y = v * scale + shift;
                        *o = if y < floor { floor } else { y };
                    }
                }
            });
            let saved = Saved {
                stats: ChannelStats { mean, var, count },
                inv_std,
            };
            *self.saved.lock().map_err(|_| {
                candle_core::Error::Msg("batch norm: statistics lock poisoned".into())
            })? = Some(saved);
            Ok((CpuStorage::F32(y), x_l.shape().clone()))
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        out: &Tensor,
        grad_out: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let guard = self
            .saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("batch norm: statistics lock poisoned".into()))?;
        let Some(saved) = guard.as_ref() else {
            bail!("batch norm: backward before forward")
        };
        let (n, c, hw) = geometry(x.dims());
        let count = saved.stats.count as f32;
        let grad_out = grad_out.contiguous()?;
        let g = gamma.to_vec1::<f32>()?;
        let (mean, inv_std) = (&saved.stats.mean, &saved.inv_std);
        // The ReLU passes the gradient where its output is positive.
        let relu = self.relu;
        let (dx, d_gamma, d_beta) = with_f32(x, "batch norm input", |xs| {
            with_f32(&grad_out, "batch norm gradient", |dy| {
                with_f32(out, "batch norm output", |ys| {
                    if xs.len() != dy.len() || xs.len() != ys.len() {
                        bail!("batch norm backward: input, output and gradient sizes differ")
                    }
                    let dy_at = |i: usize| {
                        if relu {
                            dy[i] * side_factor(ys[i], 0.0)
                        } else {
                            dy[i]
                        }
                    };
                    // Σ dy and Σ dy·x̂ per channel: the bias and scale gradients.
                    let sums = per_channel(c, xs.len(), |ch| {
                        let (mut s, mut sx) = (0f64, 0f64);
                        for b in 0..n {
                            let first = (b * c + ch) * hw;
                            let [ds, dsx] = sums_f64(hw, |i| {
                                let d = f64::from(dy_at(first + i));
                                let xhat = (xs[first + i] - mean[ch]) * inv_std[ch];
                                [d, d * f64::from(xhat)]
                            });
                            s += ds;
                            sx += dsx;
                        }
                        (s as f32, sx as f32)
                    });
                    let d_beta: Vec<f32> = sums.iter().map(|s| s.0).collect();
                    let d_gamma: Vec<f32> = sums.iter().map(|s| s.1).collect();
                    // dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy·x̂)).
                    let mut dx = vec![0f32; xs.len()];
                    for_each_chunk_mut(&mut dx, c * hw, xs.len(), |b, out| {
                        for ch in 0..c {
                            let first = (b * c + ch) * hw;
                            let k = g[ch] * inv_std[ch];
                            let (mean_dy, mean_dyx) = (d_beta[ch] / count, d_gamma[ch] / count);
                            let (m, is) = (mean[ch], inv_std[ch]);
                            let planes = xs[first..first + hw]
                                .iter()
                                .zip(&dy[first..first + hw])
                                .zip(&ys[first..first + hw]);
                            for (o, ((&v, &d), &y)) in
                                out[ch * hw..(ch + 1) * hw].iter_mut().zip(planes)
                            {
                                let d = if relu { d * side_factor(y, 0.0) } else { d };
                                *o = k * (d - mean_dy - (v - m) * is * mean_dyx);
                            }
                        }
                    });
                    Ok((dx, d_gamma, d_beta))
                })
            })
        })?;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(d_gamma, c, dev)?),
            Some(Tensor::from_vec(d_beta, c, dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, assert_matches_reference, randn};
    use crate::rng::Rng;
    use candle_core::Device;
    use candle_nn::{BatchNormConfig, ModuleT, VarBuilder, VarMap};

    fn candle_bn(c: usize, rng: &mut Rng) -> (VarMap, BatchNorm) {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let bn = candle_nn::batch_norm(c, BatchNormConfig::default(), vb).unwrap();
        // Non-trivial affine parameters, so the gradients through them are tested.
        let (w, b) = bn.weight_and_bias().unwrap();
        candle_core::Var::from_tensor(w)
            .unwrap()
            .set(&randn(rng, &[c]))
            .unwrap();
        candle_core::Var::from_tensor(b)
            .unwrap()
            .set(&randn(rng, &[c]))
            .unwrap();
        (varmap, bn)
    }

    #[test]
    fn forward_and_gradients_match_candle_nn() {
        let mut rng = Rng::new(5);
        let cases = [[8, 4, 7, 7], [3, 6, 5, 4], [64, 2, 2, 2]];
        for (case, (dims, relu)) in cases
            .iter()
            .flat_map(|d| [(d, false), (d, true)])
            .enumerate()
        {
            let c = dims[1];
            let x = (randn(&mut rng, dims) * 3.0)
                .unwrap()
                .affine(1.0, 0.5)
                .unwrap();
            let inputs = [x, randn(&mut rng, &[c]), randn(&mut rng, &[c])];
            assert_matches_reference(
                &inputs,
                &["x", "gamma", "beta"],
                2e-4,
                &format!("case {case} (relu {relu})"),
                |t| Ok(batch_norm_train(&t[0], &t[1], &t[2], 1e-5, relu)?.0),
                |t| {
                    let bn = BatchNorm::new(
                        c,
                        Tensor::zeros(c, DType::F32, &Device::Cpu)?,
                        Tensor::ones(c, DType::F32, &Device::Cpu)?,
                        t[1].clone(),
                        t[2].clone(),
                        1e-5,
                    )?;
                    let y = bn.forward_t(&t[0], true)?;
                    if relu {
                        y.relu()
                    } else {
                        Ok(y)
                    }
                },
            );
        }
    }

    #[test]
    fn running_statistics_follow_candle_nn() {
        let mut rng = Rng::new(9);
        let (_a, fused) = candle_bn(3, &mut Rng::new(1));
        let (_b, reference) = candle_bn(3, &mut Rng::new(1));
        for _ in 0..3 {
            let x = randn(&mut rng, &[5, 3, 4, 4]);
            let y = batch_norm_forward_t(&fused, &x, true, false).unwrap();
            let want = reference.forward_t(&x, true).unwrap();
            assert_close(&y, &want, 1e-4, "output");
        }
        assert_close(
            fused.running_mean(),
            reference.running_mean(),
            1e-5,
            "running mean",
        );
        assert_close(
            fused.running_var(),
            reference.running_var(),
            1e-5,
            "running var",
        );
        // Evaluation mode reads the running statistics (candle-nn's own path).
        let x = randn(&mut rng, &[2, 3, 4, 4]);
        let eval = batch_norm_forward_t(&fused, &x, false, false).unwrap();
        assert_close(
            &eval,
            &reference.forward_t(&x, false).unwrap(),
            1e-4,
            "eval",
        );
    }

    #[test]
    fn rejects_mismatched_parameters() {
        let mut rng = Rng::new(2);
        let x = randn(&mut rng, &[2, 3, 2, 2]);
        let err = batch_norm_train(
            &x,
            &randn(&mut rng, &[4]),
            &randn(&mut rng, &[3]),
            1e-5,
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("do not fit"), "{err}");
    }
}
