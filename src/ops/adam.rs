//! Adam with PyTorch's update rules (`torch.optim.Adam`, L2 weight decay added to the gradient,
//! or `torch.optim.AdamW`, weight decay decoupled from it), fused into one in-place pass per
//! parameter on the CPU, with checkpointable moments and step.
//!
//! candle-nn's AdamW builds about ten temporaries per parameter per step and keeps its moments
//! private; on a 692k-parameter CNN that update alone took longer than PyTorch's whole step.

use std::cell::RefCell;
use std::collections::HashMap;

use super::cpu::{contiguous_f32, contiguous_f32_mut, parallel_for, threads, ChunkedMut};
use candle_core::{
    backprop::GradStore, bail, CpuStorage, DType, Device, InplaceOp2, Layout, Result, Tensor, Var,
};
use candle_nn::{Optimizer, VarMap};

/// Name of the step counter in [`Adam::state_tensors`].
pub const STEP_TENSOR: &str = "adam.step";

/// Parameters smaller than this are updated on one thread; splitting them costs more than it saves.
const PARALLEL_MIN_LEN: usize = 1 << 15;

/// Adam's hyperparameters; the defaults are PyTorch's and Keras's (weight decay 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first-moment (mean) estimate.
    pub beta1: f64,
    /// Decay of the second-moment (uncentred variance) estimate.
    pub beta2: f64,
    /// Added to the bias-corrected root second moment to avoid dividing by zero.
    pub eps: f64,
    /// L2 penalty added to the gradient (`g + weight_decay·θ`), as `torch.optim.Adam` does; or,
    /// with [`Self::decoupled_weight_decay`], the rate at which weights shrink each step.
    pub weight_decay: f64,
    /// AdamW (`torch.optim.AdamW`): shrink the weights by `θ ← θ·(1 − lr·weight_decay)` before
    /// the Adam update instead of adding the L2 term to the gradient (Loshchilov & Hutter 2019).
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
        }
    }
}

/// Moment estimates of one parameter: plain vectors on the fused CPU path, tensors elsewhere.
enum Moments {
    Cpu { m: Vec<f32>, v: Vec<f32> },
    Device { m: Tensor, v: Tensor },
}

struct Param {
    name: String,
    var: Var,
    moments: Moments,
}

/// Adam optimizer implementing `candle_nn::Optimizer`; the step counter is shared by all
/// parameters (identical to PyTorch's per-parameter counters when every parameter receives a
/// gradient each step, as in all of gradtop's models).
pub struct Adam {
    params: Vec<Param>,
    config: AdamConfig,
    step: u64,
}

/// Per-step scalars of the update, computed once in f64 and rounded to f32 like PyTorch does.
#[derive(Debug, Clone, Copy)]
struct Coefficients {
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    bias_correction2_sqrt: f32,
    neg_step_size: f32,
    eps: f32,
    /// The L2 term's coefficient (0 under decoupled weight decay).
    l2_weight_decay: f32,
    /// AdamW's per-step shrink factor `1 − lr·weight_decay` (1 under L2 weight decay).
    param_decay: f32,
}

impl Coefficients {
    fn new(config: &AdamConfig, step: u64) -> Self {
        let t = step as f64;
        let bias_correction1 = 1.0 - config.beta1.powf(t);
        let bias_correction2 = 1.0 - config.beta2.powf(t);
        Self {
            one_minus_beta1: (1.0 - config.beta1) as f32,
            beta2: config.beta2 as f32,
            one_minus_beta2: (1.0 - config.beta2) as f32,
            bias_correction2_sqrt: bias_correction2.sqrt() as f32,
            neg_step_size: (-config.lr / bias_correction1) as f32,
            eps: config.eps as f32,
            l2_weight_decay: if config.decoupled_weight_decay {
                0.0
            } else {
                config.weight_decay as f32
            },
            param_decay: if config.decoupled_weight_decay {
                // PyTorch computes `1 - lr * weight_decay` in Python floats (f64), then rounds.
                (1.0 - config.lr * config.weight_decay) as f32
            } else {
                1.0
            },
        }
    }

    /// One element of `torch.optim.Adam`'s (or `AdamW`'s) single-tensor update, in its operation
    /// order: AdamW's `param.mul_(1 - lr * weight_decay)` comes first.
    #[inline(always)]
    fn update(&self, p: &mut f32, m: &mut f32, v: &mut f32, grad: f32) {
        let g = if self.l2_weight_decay != 0.0 {
            grad + self.l2_weight_decay * *p
        } else {
            grad
        };
        if self.param_decay != 1.0 {
            *p *= self.param_decay;
        }
        *m += self.one_minus_beta1 * (g - *m);
        *v = *v * self.beta2 + self.one_minus_beta2 * g * g;
        let denom = v.sqrt() / self.bias_correction2_sqrt + self.eps;
        *p += self.neg_step_size * *m / denom;
    }

    /// The update over whole slices. With AVX (checked at run time) the loop runs eight lanes
    /// wide instead of the baseline build's four-lane SSE: its square root and division dominate
    /// the optimizer step. Rust never fuses a multiply and an add, so every lane computes the same
    /// IEEE operations in the same order and the results are bit-identical either way.
    fn update_slices(&self, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is available (checked just above).
            return unsafe { self.update_slices_avx(p, m, v, g) };
        }
        self.update_slices_portable(p, m, v, g)
    }

    /// [`Self::update_slices_portable`] compiled for AVX.
    ///
    /// # Safety
    /// The CPU must support AVX.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn update_slices_avx(&self, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        self.update_slices_portable(p, m, v, g)
    }

    #[inline(always)]
    fn update_slices_portable(&self, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
            self.update(p, m, v, g);
        }
    }
}

/// The fused update applied in place to a parameter's storage, reading the gradient.
struct FusedUpdate<'a> {
    m: RefCell<&'a mut [f32]>,
    v: RefCell<&'a mut [f32]>,
    coefficients: Coefficients,
}

impl InplaceOp2 for FusedUpdate<'_> {
    fn name(&self) -> &'static str {
        "fused-adam"
    }

    fn cpu_fwd(
        &self,
        p_storage: &mut CpuStorage,
        p_layout: &Layout,
        g_storage: &CpuStorage,
        g_layout: &Layout,
    ) -> Result<()> {
        // Reads the weight, both moments and the gradient; writes the weight and the moments.
        let bytes = 7 * 4 * p_layout.shape().elem_count();
        super::profile::timed_bytes(self.name(), bytes, || {
            self.update(p_storage, p_layout, g_storage, g_layout)
        })
    }
}

impl FusedUpdate<'_> {
    fn update(
        &self,
        p_storage: &mut CpuStorage,
        p_layout: &Layout,
        g_storage: &CpuStorage,
        g_layout: &Layout,
    ) -> Result<()> {
        let grad = contiguous_f32(g_storage, g_layout, "adam gradient")?;
        let p = contiguous_f32_mut(p_storage, p_layout, "adam parameter")?;
        let mut m = self.m.borrow_mut();
        let mut v = self.v.borrow_mut();
        if grad.len() != p.len() || m.len() != p.len() || v.len() != p.len() {
            bail!(
                "adam: parameter has {} elements, gradient {}, moments {}/{}",
                p.len(),
                grad.len(),
                m.len(),
                v.len()
            )
        }
        let c = self.coefficients;
        if p.len() < PARALLEL_MIN_LEN || threads() == 1 {
            c.update_slices(p, &mut m, &mut v, grad);
        } else {
            let chunk = PARALLEL_MIN_LEN / 4;
            let (p, m, v) = (
                ChunkedMut::new(p, chunk),
                ChunkedMut::new(&mut m, chunk),
                ChunkedMut::new(&mut v, chunk),
            );
            parallel_for(p.count(), |i| {
                let g = &grad[i * chunk..((i + 1) * chunk).min(grad.len())];
                // SAFETY: parallel_for hands each chunk index to exactly one call.
                unsafe { c.update_slices(p.chunk(i), m.chunk(i), v.chunk(i), g) }
            });
        }
        Ok(())
    }
}

impl Adam {
    /// Adam over every variable of `varmap`, remembering their names (sorted) for checkpoints.
    pub fn from_varmap(varmap: &VarMap, config: AdamConfig) -> Result<Self> {
        Self::from_named(super::sorted_vars(varmap, "adam")?, config)
    }

    /// Adam over explicitly named variables (names key the checkpoint tensors).
    pub fn from_named(vars: Vec<(String, Var)>, config: AdamConfig) -> Result<Self> {
        let params = vars
            .into_iter()
            .filter(|(_, var)| var.dtype().is_float())
            .map(|(name, var)| {
                let moments = if Self::fused(&var) {
                    Moments::Cpu {
                        m: vec![0.0; var.elem_count()],
                        v: vec![0.0; var.elem_count()],
                    }
                } else {
                    Moments::Device {
                        m: var.zeros_like()?,
                        v: var.zeros_like()?,
                    }
                };
                Ok(Param { name, var, moments })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            params,
            config,
            step: 0,
        })
    }

    fn fused(var: &Var) -> bool {
        super::fast_on(var.device()) && var.dtype() == DType::F32
    }

    /// The current hyperparameters.
    pub fn config(&self) -> AdamConfig {
        self.config
    }

    /// Changes β1/β2 from the next step on (bias correction uses the new values, like PyTorch).
    pub fn set_betas(&mut self, beta1: f64, beta2: f64) {
        self.config.beta1 = beta1;
        self.config.beta2 = beta2;
    }

    /// Changes the weight decay (L2 or decoupled, as configured) from the next step on.
    pub fn set_weight_decay(&mut self, weight_decay: f64) {
        self.config.weight_decay = weight_decay;
    }

    /// Steps taken so far (the `t` of the bias correction).
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Names of the optimised variables, in update order.
    pub fn var_names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|p| p.name.as_str())
    }

    /// Moments and step as named tensors for a checkpoint: `adam.m.<var>`, `adam.v.<var>`
    /// (shape of the variable) and [`STEP_TENSOR`] (i64, shape (1,)). Values are copies.
    pub fn state_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::with_capacity(2 * self.params.len() + 1);
        for p in &self.params {
            let (m, v) = match &p.moments {
                Moments::Cpu { m, v } => (
                    Tensor::from_slice(m, p.var.shape(), &Device::Cpu)?,
                    Tensor::from_slice(v, p.var.shape(), &Device::Cpu)?,
                ),
                Moments::Device { m, v } => (m.copy()?, v.copy()?),
            };
            out.push((format!("adam.m.{}", p.name), m));
            out.push((format!("adam.v.{}", p.name), v));
        }
        let step = i64::try_from(self.step)
            .map_err(|_| candle_core::Error::Msg("adam: step count overflows i64".into()))?;
        out.push((
            STEP_TENSOR.to_string(),
            Tensor::from_slice(&[step], 1, &Device::Cpu)?,
        ));
        Ok(out)
    }

    /// Restores moments and step written by [`Adam::state_tensors`] (extra entries are ignored);
    /// errors name the missing or mis-shaped tensor and leave the optimizer unchanged.
    pub fn load_state_tensors(&mut self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let get = |key: &str, shape: &candle_core::Shape| -> Result<Tensor> {
            let t = tensors
                .get(key)
                .ok_or_else(|| candle_core::Error::Msg(format!("adam state: missing `{key}`")))?;
            if t.shape() != shape {
                bail!(
                    "adam state: `{key}` has shape {:?}, expected {:?}",
                    t.shape(),
                    shape
                )
            }
            Ok(t.clone())
        };
        let step_tensor = get(STEP_TENSOR, &candle_core::Shape::from(1))?;
        let step = step_tensor.to_dtype(DType::I64)?.to_vec1::<i64>()?[0];
        let step = u64::try_from(step)
            .map_err(|_| candle_core::Error::Msg(format!("adam state: negative step {step}")))?;
        let mut restored = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let m = get(&format!("adam.m.{}", p.name), p.var.shape())?;
            let v = get(&format!("adam.v.{}", p.name), p.var.shape())?;
            restored.push(match &p.moments {
                Moments::Cpu { .. } => Moments::Cpu {
                    m: m.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
                    v: v.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
                },
                Moments::Device { .. } => Moments::Device {
                    m: m.to_device(p.var.device())?.to_dtype(p.var.dtype())?,
                    v: v.to_device(p.var.device())?.to_dtype(p.var.dtype())?,
                },
            });
        }
        for (p, moments) in self.params.iter_mut().zip(restored) {
            p.moments = moments;
        }
        self.step = step;
        Ok(())
    }

    /// The same update as the fused kernel in tensor ops, for non-CPU or non-f32 parameters.
    fn step_with_tensor_ops(
        var: &Var,
        m: &mut Tensor,
        v: &mut Tensor,
        grad: &Tensor,
        config: &AdamConfig,
        step: u64,
    ) -> Result<()> {
        let t = step as f64;
        let bias_correction1 = 1.0 - config.beta1.powf(t);
        let bias_correction2_sqrt = (1.0 - config.beta2.powf(t)).sqrt();
        let decays = config.weight_decay != 0.0;
        let (l2, decoupled) = (
            decays && !config.decoupled_weight_decay,
            decays && config.decoupled_weight_decay,
        );
        let grad = if l2 {
            (grad + (var.as_tensor() * config.weight_decay)?)?
        } else {
            grad.clone()
        };
        let param = if decoupled {
            (var.as_tensor() * (1.0 - config.lr * config.weight_decay))?
        } else {
            var.as_tensor().clone()
        };
        *m = (&*m + ((&grad - &*m)? * (1.0 - config.beta1))?)?;
        *v = ((&*v * config.beta2)? + (grad.sqr()? * (1.0 - config.beta2))?)?;
        let denom = ((v.sqrt()? / bias_correction2_sqrt)? + config.eps)?;
        let update = ((&*m * (-config.lr / bias_correction1))? / denom)?;
        var.set(&(param + update)?)
    }
}

impl Optimizer for Adam {
    type Config = AdamConfig;

    /// Variables are named `param.<index>` in the given order; prefer [`Adam::from_varmap`].
    fn new(vars: Vec<Var>, config: AdamConfig) -> Result<Self> {
        let named = vars
            .into_iter()
            .enumerate()
            .map(|(i, var)| (format!("param.{i}"), var))
            .collect();
        Self::from_named(named, config)
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let coefficients = Coefficients::new(&self.config, self.step);
        for p in &mut self.params {
            let Some(grad) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            if grad.shape() != p.var.shape() {
                bail!(
                    "adam: gradient of `{}` has shape {:?}, expected {:?}",
                    p.name,
                    grad.shape(),
                    p.var.shape()
                )
            }
            match &mut p.moments {
                Moments::Cpu { m, v } => {
                    let grad = grad.to_dtype(DType::F32)?.contiguous()?;
                    let op = FusedUpdate {
                        m: RefCell::new(m.as_mut_slice()),
                        v: RefCell::new(v.as_mut_slice()),
                        coefficients,
                    };
                    p.var.as_tensor().inplace_op2(&grad, &op)?;
                }
                Moments::Device { m, v } => {
                    Self::step_with_tensor_ops(&p.var, m, v, grad, &self.config, self.step)?
                }
            }
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{
        copy_varmap, loss_with_gradient, optimizer_varmap, randn, train_on_random_gradients,
        weight_bits,
    };
    use crate::rng::Rng;

    fn values(t: &Tensor) -> Vec<f64> {
        t.to_dtype(DType::F64)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    /// torch.optim.Adam's single-tensor update in f64, element by element.
    fn reference_step(
        p: &mut [f64],
        m: &mut [f64],
        v: &mut [f64],
        g: &[f64],
        c: &AdamConfig,
        t: u64,
    ) {
        let bc1 = 1.0 - c.beta1.powf(t as f64);
        let bc2 = 1.0 - c.beta2.powf(t as f64);
        for i in 0..p.len() {
            let g = if c.decoupled_weight_decay {
                p[i] *= 1.0 - c.lr * c.weight_decay;
                g[i]
            } else {
                g[i] + c.weight_decay * p[i]
            };
            m[i] = c.beta1 * m[i] + (1.0 - c.beta1) * g;
            v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * g * g;
            let denom = v[i].sqrt() / bc2.sqrt() + c.eps;
            p[i] -= c.lr / bc1 * m[i] / denom;
        }
    }

    /// Shapes that cover the single-threaded and the chunked parallel update.
    const SHAPES: [&[usize]; 3] = [&[5], &[7, 3], &[40_000]];

    fn check_against_reference(dtype: DType, config: AdamConfig) {
        let mut rng = Rng::new(21);
        let vars: Vec<Var> = SHAPES
            .iter()
            .map(|s| Var::from_tensor(&randn(&mut rng, s).to_dtype(dtype).unwrap()).unwrap())
            .collect();
        let mut p: Vec<Vec<f64>> = vars.iter().map(|v| values(v.as_tensor())).collect();
        let mut m: Vec<Vec<f64>> = p.iter().map(|p| vec![0.0; p.len()]).collect();
        let mut v = m.clone();
        let mut adam = Adam::new(vars.clone(), config).unwrap();
        for t in 1..=6 {
            let grads: Vec<Tensor> = SHAPES.iter().map(|s| randn(&mut rng, s)).collect();
            adam.backward_step(&loss_with_gradient(&vars, &grads))
                .unwrap();
            for i in 0..vars.len() {
                let g = values(&grads[i]);
                reference_step(&mut p[i], &mut m[i], &mut v[i], &g, &config, t);
            }
        }
        for (var, expected) in vars.iter().zip(&p) {
            for (a, e) in values(var.as_tensor()).iter().zip(expected) {
                assert!(
                    (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
                    "{dtype:?}: {a} vs {e}"
                );
            }
        }
        assert_eq!(adam.step_count(), 6);
    }

    #[test]
    fn dispatched_update_is_bit_identical_to_the_portable_loop() {
        let mut rng = Rng::new(8);
        let l2 = AdamConfig {
            weight_decay: 0.01,
            ..AdamConfig::default()
        };
        let decoupled = AdamConfig {
            decoupled_weight_decay: true,
            ..l2
        };
        let lengths = [1, 7, 8, 9, 100, 1001];
        for (c, len) in [l2, decoupled]
            .iter()
            .flat_map(|config| lengths.map(|len| (Coefficients::new(config, 3), len)))
        {
            let init: Vec<[f32; 4]> = (0..len)
                .map(|_| {
                    let r = rng.normal();
                    [r, 0.1 * rng.normal(), 0.01 * r.abs(), rng.normal()]
                })
                .collect();
            let (mut p, mut m, mut v, g): (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) = (
                init.iter().map(|e| e[0]).collect(),
                init.iter().map(|e| e[1]).collect(),
                init.iter().map(|e| e[2]).collect(),
                init.iter().map(|e| e[3]).collect(),
            );
            let (mut p2, mut m2, mut v2) = (p.clone(), m.clone(), v.clone());
            c.update_slices(&mut p, &mut m, &mut v, &g);
            c.update_slices_portable(&mut p2, &mut m2, &mut v2, &g);
            let bits = |xs: &[f32]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&p), bits(&p2), "parameters, len {len}");
            assert_eq!(bits(&m), bits(&m2), "first moments, len {len}");
            assert_eq!(bits(&v), bits(&v2), "second moments, len {len}");
            assert_ne!(
                bits(&p),
                bits(&init.iter().map(|e| e[0]).collect::<Vec<_>>())
            );
        }
    }

    #[test]
    fn fused_update_matches_the_pytorch_formula() {
        check_against_reference(DType::F32, AdamConfig::default());
        let config = AdamConfig {
            lr: 3e-3,
            beta1: 0.5,
            beta2: 0.99,
            eps: 1e-6,
            weight_decay: 0.1,
            decoupled_weight_decay: false,
        };
        check_against_reference(DType::F32, config);
        check_against_reference(
            DType::F32,
            AdamConfig {
                decoupled_weight_decay: true,
                ..config
            },
        );
    }

    #[test]
    fn tensor_op_fallback_matches_the_pytorch_formula() {
        // f64 parameters take the non-fused path (the one CUDA uses).
        check_against_reference(DType::F64, AdamConfig::default());
        let config = AdamConfig {
            weight_decay: 0.05,
            ..AdamConfig::default()
        };
        check_against_reference(DType::F64, config);
        check_against_reference(
            DType::F64,
            AdamConfig {
                decoupled_weight_decay: true,
                ..config
            },
        );
    }

    /// AdamW (lr 0.1, wd 0.1, β 0.9/0.999) on θ = [1, −2] for two steps, each element worked out
    /// by hand: the decay shrinks θ by 1 − 0.1·0.1 = 0.99 first, then Adam moves it.
    fn adamw_two_steps_by_hand() -> [f64; 2] {
        let sqrt_v1_hat = |g: f64| ((0.001 * g * g) / 0.001f64).sqrt(); // = |g|
                                                                        // Step 1, g = [0.5, −3]: m̂ = g, √v̂ = |g|, so Adam moves each weight by lr·sign(g).
        let p1 = [
            1.0 * 0.99 - 0.1 * 0.5 / (sqrt_v1_hat(0.5) + 1e-8), // 0.89
            -2.0 * 0.99 + 0.1 * 3.0 / (sqrt_v1_hat(-3.0) + 1e-8), // −1.88
        ];
        // Step 2, g = [1.5, 1]: m = 0.9·m1 + 0.1·g, v = 0.999·v1 + 0.001·g², bc1 = 0.19,
        // bc2 = 1 − 0.999² = 0.001999.
        let m2 = [0.9 * 0.05 + 0.1 * 1.5, 0.9 * -0.3 + 0.1 * 1.0]; // [0.195, −0.17]
        let v2 = [
            0.999 * 0.00025 + 0.001 * 2.25, // 0.00249975
            0.999 * 0.009 + 0.001 * 1.0,    // 0.009991
        ];
        let step = |i: usize| 0.1 * (m2[i] / 0.19) / ((v2[i] / 0.001999f64).sqrt() + 1e-8);
        // ≈ [0.8811 − 0.0917781, −1.8612 + 0.0400219]
        [p1[0] * 0.99 - step(0), p1[1] * 0.99 - step(1)]
    }

    /// Runs two AdamW steps of [`adamw_two_steps_by_hand`] with the kernels of this thread.
    fn adamw_two_steps() -> Vec<f32> {
        let var = Var::from_tensor(&Tensor::new(&[1f32, -2.0], &Device::Cpu).unwrap()).unwrap();
        let config = AdamConfig {
            lr: 0.1,
            weight_decay: 0.1,
            decoupled_weight_decay: true,
            ..AdamConfig::default()
        };
        let mut adamw = Adam::new(vec![var.clone()], config).unwrap();
        for g in [[0.5f32, -3.0], [1.5, 1.0]] {
            let grad = Tensor::new(&g, &Device::Cpu).unwrap();
            adamw
                .backward_step(&loss_with_gradient(std::slice::from_ref(&var), &[grad]))
                .unwrap();
        }
        var.to_vec1::<f32>().unwrap()
    }

    #[test]
    fn adamw_matches_the_hand_computed_steps_on_both_paths() {
        let want = adamw_two_steps_by_hand();
        assert!((want[0] - 0.7893219).abs() < 1e-6, "{want:?}");
        assert!((want[1] - -1.8211781).abs() < 1e-6, "{want:?}");
        let fast = adamw_two_steps();
        let portable = std::thread::spawn(|| {
            crate::ops::set_thread_kernels(crate::ops::Kernels::Portable);
            adamw_two_steps()
        })
        .join()
        .unwrap();
        for (i, want) in want.iter().enumerate() {
            assert!((f64::from(fast[i]) - want).abs() < 1e-6, "fast {fast:?}");
            assert!(
                (f64::from(portable[i]) - want).abs() < 1e-6,
                "portable {portable:?}"
            );
            assert!(
                (fast[i] - portable[i]).abs() < 1e-6,
                "{fast:?} vs {portable:?}"
            );
        }
    }

    #[test]
    fn adamw_decay_differs_from_the_l2_term() {
        // With L2 the first step adds 0.1·θ to g: still a step of lr·sign(g), so θ = 1 − 0.1 = 0.9;
        // AdamW shrinks first: θ = 0.99 − 0.1 = 0.89.
        for (decoupled, want) in [(false, 0.9f32), (true, 0.89)] {
            let var = Var::from_tensor(&Tensor::new(&[1f32], &Device::Cpu).unwrap()).unwrap();
            let config = AdamConfig {
                lr: 0.1,
                weight_decay: 0.1,
                decoupled_weight_decay: decoupled,
                ..AdamConfig::default()
            };
            let mut adam = Adam::new(vec![var.clone()], config).unwrap();
            let grad = Tensor::new(&[0.5f32], &Device::Cpu).unwrap();
            adam.backward_step(&loss_with_gradient(std::slice::from_ref(&var), &[grad]))
                .unwrap();
            let value = var.to_vec1::<f32>().unwrap()[0];
            assert!(
                (value - want).abs() < 1e-6,
                "decoupled {decoupled}: {value}"
            );
        }
    }

    #[test]
    fn matches_candle_adamw_without_weight_decay() {
        let mut rng = Rng::new(8);
        let init: Vec<Tensor> = SHAPES.iter().map(|s| randn(&mut rng, s)).collect();
        let ours: Vec<Var> = init.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
        let theirs: Vec<Var> = init.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
        let mut adam = Adam::new(ours.clone(), AdamConfig::default()).unwrap();
        let params = candle_nn::ParamsAdamW {
            weight_decay: 0.0,
            ..Default::default()
        };
        let mut adamw = candle_nn::AdamW::new(theirs.clone(), params).unwrap();
        for _ in 0..5 {
            let grads: Vec<Tensor> = SHAPES.iter().map(|s| randn(&mut rng, s)).collect();
            adam.backward_step(&loss_with_gradient(&ours, &grads))
                .unwrap();
            adamw
                .backward_step(&loss_with_gradient(&theirs, &grads))
                .unwrap();
        }
        for (a, b) in ours.iter().zip(&theirs) {
            for (x, y) in values(a.as_tensor()).iter().zip(values(b.as_tensor())) {
                assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
            }
        }
    }

    #[test]
    fn state_round_trip_resumes_bit_identically() {
        let mut rng = Rng::new(3);
        let varmap = optimizer_varmap(&mut rng);
        let mut adam = Adam::from_varmap(&varmap, AdamConfig::default()).unwrap();
        assert_eq!(
            adam.var_names().collect::<Vec<_>>(),
            ["conv.bias", "fc.weight"]
        );
        train_on_random_gradients(&varmap, &mut Rng::new(1), 3, |loss| {
            adam.backward_step(loss)
        });

        let state = adam.state_tensors().unwrap();
        let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"adam.m.fc.weight") && names.contains(&"adam.v.conv.bias"));
        assert!(names.contains(&STEP_TENSOR));

        // A second model with the same weights resumes from the saved moments and step.
        let resumed_map = copy_varmap(&varmap);
        let mut resumed = Adam::from_varmap(&resumed_map, AdamConfig::default()).unwrap();
        resumed
            .load_state_tensors(&state.into_iter().collect())
            .unwrap();
        assert_eq!(resumed.step_count(), 3);

        train_on_random_gradients(&varmap, &mut Rng::new(2), 2, |loss| {
            adam.backward_step(loss)
        });
        train_on_random_gradients(&resumed_map, &mut Rng::new(2), 2, |loss| {
            resumed.backward_step(loss)
        });
        assert_eq!(weight_bits(&varmap), weight_bits(&resumed_map));
    }

    #[test]
    fn loading_names_the_missing_or_misshaped_tensor_and_changes_nothing() {
        let mut rng = Rng::new(4);
        let varmap = optimizer_varmap(&mut rng);
        let mut adam = Adam::from_varmap(&varmap, AdamConfig::default()).unwrap();
        train_on_random_gradients(&varmap, &mut rng, 1, |loss| adam.backward_step(loss));
        let mut state: HashMap<String, Tensor> =
            adam.state_tensors().unwrap().into_iter().collect();

        state.remove("adam.v.fc.weight");
        let err = adam.load_state_tensors(&state).unwrap_err();
        assert!(err.to_string().contains("adam.v.fc.weight"), "{err}");

        state.insert(
            "adam.v.fc.weight".into(),
            Tensor::zeros(5, DType::F32, &Device::Cpu).unwrap(),
        );
        state.insert(
            STEP_TENSOR.into(),
            Tensor::new(&[9i64], &Device::Cpu).unwrap(),
        );
        let err = adam.load_state_tensors(&state).unwrap_err();
        assert!(err.to_string().contains("shape"), "{err}");
        assert_eq!(adam.step_count(), 1);
    }

    #[test]
    fn betas_and_learning_rate_can_change_between_steps() {
        let var = Var::from_tensor(&Tensor::new(&[1f32], &Device::Cpu).unwrap()).unwrap();
        let mut adam = Adam::new(vec![var.clone()], AdamConfig::default()).unwrap();
        adam.set_learning_rate(0.5);
        adam.set_betas(0.0, 0.0);
        assert_eq!(adam.learning_rate(), 0.5);
        // With β1 = β2 = 0 the first step is lr · g / (|g| + eps): a signed step of lr.
        let grad = Tensor::new(&[4f32], &Device::Cpu).unwrap();
        adam.backward_step(&loss_with_gradient(std::slice::from_ref(&var), &[grad]))
            .unwrap();
        let value = var.to_vec1::<f32>().unwrap()[0];
        assert!((value - 0.5).abs() < 1e-6, "{value}");
    }
}
