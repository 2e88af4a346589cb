//! Stochastic gradient descent with momentum, PyTorch's update rule (`torch.optim.SGD` with
//! `dampening = 0`, `nesterov = False`), fused into one in-place pass per parameter on the CPU,
//! with checkpointable momentum buffers and step.
//!
//! Per parameter, with gradient `g`, learning rate `lr`, momentum `μ` and weight decay `wd`:
//!
//! ```text
//! g   ← g + wd·θ                      (when wd ≠ 0)
//! buf ← g           on its first step (when μ ≠ 0)
//! buf ← μ·buf + g   afterwards
//! θ   ← θ − lr·buf                    (θ ← θ − lr·g when μ = 0: no buffer is kept)
//! ```

use std::cell::RefCell;
use std::collections::HashMap;

use super::cpu::{
    contiguous_f32, contiguous_f32_mut, parallel_for, threads, ChunkedMut, PARALLEL_MIN_ELEMS,
};
use candle_core::{
    backprop::GradStore, bail, CpuStorage, DType, Device, InplaceOp2, Layout, Result, Shape,
    Tensor, Var,
};
use candle_nn::{Optimizer, VarMap};

/// Name of the step counter in [`Sgd::state_tensors`].
pub const STEP_TENSOR: &str = "sgd.step";

/// Prefix of the momentum buffers in [`Sgd::state_tensors`]: `sgd.buf.<var>`.
pub const BUFFER_PREFIX: &str = "sgd.buf.";

/// SGD's hyperparameters; the defaults are PyTorch's but for the learning rate, which PyTorch
/// requires and which is set to 0.01 here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the momentum buffer (0 turns momentum off and keeps no buffer).
    pub momentum: f64,
    /// L2 penalty added to the gradient (`g + weight_decay·θ`), as `torch.optim.SGD` does.
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }
}

/// Momentum buffer of one parameter: a plain vector on the fused CPU path, a tensor elsewhere;
/// `None` until the parameter's first gradient (PyTorch creates it then, as a copy of `g`).
enum Buffer {
    Cpu(Option<Vec<f32>>),
    Device(Option<Tensor>),
}

struct Param {
    name: String,
    var: Var,
    buffer: Buffer,
}

/// SGD optimizer implementing `candle_nn::Optimizer`, the classifier's alternative to Adam.
pub struct Sgd {
    params: Vec<Param>,
    config: SgdConfig,
    step: u64,
}

/// Per-step scalars of the update, rounded to f32 like PyTorch does for f32 parameters.
#[derive(Debug, Clone, Copy)]
struct Coefficients {
    neg_lr: f32,
    momentum: f32,
    weight_decay: f32,
}

impl Coefficients {
    fn new(config: &SgdConfig) -> Self {
        Self {
            neg_lr: (-config.lr) as f32,
            momentum: config.momentum as f32,
            weight_decay: config.weight_decay as f32,
        }
    }

    /// The gradient with the L2 term, as `grad.add(param, alpha=weight_decay)` computes it.
    #[inline(always)]
    fn decayed(&self, p: f32, grad: f32) -> f32 {
        if self.weight_decay != 0.0 {
            grad + self.weight_decay * p
        } else {
            grad
        }
    }

    /// `torch.optim.SGD`'s single-tensor update over whole slices, in its operation order;
    /// `first` says the buffer is being created (`buf ← g`) rather than decayed.
    fn update_slices(&self, p: &mut [f32], buf: Option<&mut [f32]>, g: &[f32], first: bool) {
        match buf {
            None => {
                for (p, &g) in p.iter_mut().zip(g) {
                    *p += self.neg_lr * self.decayed(*p, g);
                }
            }
            Some(buf) if first => {
                for ((p, b), &g) in p.iter_mut().zip(buf.iter_mut()).zip(g) {
                    *b = self.decayed(*p, g);
                    *p += self.neg_lr * *b;
                }
            }
            Some(buf) => {
                for ((p, b), &g) in p.iter_mut().zip(buf.iter_mut()).zip(g) {
                    *b = *b * self.momentum + self.decayed(*p, g);
                    *p += self.neg_lr * *b;
                }
            }
        }
    }
}

/// The fused update applied in place to a parameter's storage, reading the gradient.
struct FusedUpdate<'a> {
    buffer: RefCell<Option<&'a mut [f32]>>,
    first: bool,
    coefficients: Coefficients,
}

impl InplaceOp2 for FusedUpdate<'_> {
    fn name(&self) -> &'static str {
        "fused-sgd"
    }

    fn cpu_fwd(
        &self,
        p_storage: &mut CpuStorage,
        p_layout: &Layout,
        g_storage: &CpuStorage,
        g_layout: &Layout,
    ) -> Result<()> {
        // Reads the weight and the gradient (and the buffer); writes the weight (and the buffer).
        let streams = if self.buffer.borrow().is_some() { 5 } else { 3 };
        let bytes = streams * 4 * p_layout.shape().elem_count();
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
        let grad = contiguous_f32(g_storage, g_layout, "sgd gradient")?;
        let p = contiguous_f32_mut(p_storage, p_layout, "sgd parameter")?;
        let mut buffer = self.buffer.borrow_mut();
        let buffer_len = buffer.as_ref().map_or(p.len(), |b| b.len());
        if grad.len() != p.len() || buffer_len != p.len() {
            bail!(
                "sgd: parameter has {} elements, gradient {}, momentum buffer {buffer_len}",
                p.len(),
                grad.len(),
            )
        }
        let (c, first) = (self.coefficients, self.first);
        if p.len() < PARALLEL_MIN_ELEMS || threads() == 1 {
            c.update_slices(p, buffer.as_deref_mut(), grad, first);
            return Ok(());
        }
        let chunk = PARALLEL_MIN_ELEMS / 4;
        let p = ChunkedMut::new(p, chunk);
        let buffer = buffer.as_deref_mut().map(|b| ChunkedMut::new(b, chunk));
        parallel_for(p.count(), |i| {
            let g = &grad[i * chunk..((i + 1) * chunk).min(grad.len())];
            // SAFETY: parallel_for hands each chunk index to exactly one call.
            unsafe {
                let buf = buffer.as_ref().map(|b| b.chunk(i));
                c.update_slices(p.chunk(i), buf, g, first)
            }
        });
        Ok(())
    }
}

impl Sgd {
    /// SGD over every variable of `varmap`, remembering their names (sorted) for checkpoints.
    pub fn from_varmap(varmap: &VarMap, config: SgdConfig) -> Result<Self> {
        Self::from_named(super::sorted_vars(varmap, "sgd")?, config)
    }

    /// SGD over explicitly named variables (names key the checkpoint tensors).
    pub fn from_named(vars: Vec<(String, Var)>, config: SgdConfig) -> Result<Self> {
        let params = vars
            .into_iter()
            .filter(|(_, var)| var.dtype().is_float())
            .map(|(name, var)| {
                let buffer = if Self::fused(&var) {
                    Buffer::Cpu(None)
                } else {
                    Buffer::Device(None)
                };
                Param { name, var, buffer }
            })
            .collect();
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
    pub fn config(&self) -> SgdConfig {
        self.config
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Names of the optimised variables, in update order.
    pub fn var_names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|p| p.name.as_str())
    }

    /// Momentum buffers and step as named tensors for a checkpoint: `sgd.buf.<var>` (shape of
    /// the variable; zeros for a buffer not created yet, which continue identically as long as
    /// no gradient is −0) when momentum is on, and [`STEP_TENSOR`] (i64, shape (1,)). Values
    /// are copies.
    pub fn state_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::with_capacity(self.params.len() + 1);
        if self.config.momentum != 0.0 {
            for p in &self.params {
                let buf = match &p.buffer {
                    Buffer::Cpu(Some(b)) => Tensor::from_slice(b, p.var.shape(), &Device::Cpu)?,
                    Buffer::Device(Some(b)) => b.copy()?,
                    Buffer::Cpu(None) | Buffer::Device(None) => p.var.zeros_like()?,
                };
                out.push((format!("{BUFFER_PREFIX}{}", p.name), buf));
            }
        }
        let step = i64::try_from(self.step)
            .map_err(|_| candle_core::Error::Msg("sgd: step count overflows i64".into()))?;
        out.push((
            STEP_TENSOR.to_string(),
            Tensor::from_slice(&[step], 1, &Device::Cpu)?,
        ));
        Ok(out)
    }

    /// Restores buffers and step written by [`Sgd::state_tensors`] (extra entries are ignored);
    /// errors name the missing or mis-shaped tensor and leave the optimizer unchanged. With
    /// momentum on, every `sgd.buf.<var>` is required.
    pub fn load_state_tensors(&mut self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let get = |key: &str, shape: &Shape| -> Result<Tensor> {
            let t = tensors
                .get(key)
                .ok_or_else(|| candle_core::Error::Msg(format!("sgd state: missing `{key}`")))?;
            if t.shape() != shape {
                bail!(
                    "sgd state: `{key}` has shape {:?}, expected {:?}",
                    t.shape(),
                    shape
                )
            }
            Ok(t.clone())
        };
        let step_tensor = get(STEP_TENSOR, &Shape::from(1))?;
        let step = step_tensor.to_dtype(DType::I64)?.to_vec1::<i64>()?[0];
        let step = u64::try_from(step)
            .map_err(|_| candle_core::Error::Msg(format!("sgd state: negative step {step}")))?;
        let mut restored = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let buf = if self.config.momentum != 0.0 {
                let key = format!("{BUFFER_PREFIX}{}", p.name);
                Some(get(&key, p.var.shape())?)
            } else {
                None
            };
            // Before the first step no buffer exists yet, and the next step must create it.
            let buf = buf.filter(|_| step > 0);
            restored.push(match (&p.buffer, buf) {
                (Buffer::Cpu(_), Some(b)) => Buffer::Cpu(Some(
                    b.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
                )),
                (Buffer::Device(_), Some(b)) => {
                    Buffer::Device(Some(b.to_device(p.var.device())?.to_dtype(p.var.dtype())?))
                }
                (Buffer::Cpu(_), None) => Buffer::Cpu(None),
                (Buffer::Device(_), None) => Buffer::Device(None),
            });
        }
        for (p, buffer) in self.params.iter_mut().zip(restored) {
            p.buffer = buffer;
        }
        self.step = step;
        Ok(())
    }

    /// The same update as the fused kernel in tensor ops, for non-CPU or non-f32 parameters.
    fn step_with_tensor_ops(
        var: &Var,
        buffer: &mut Option<Tensor>,
        grad: &Tensor,
        config: &SgdConfig,
    ) -> Result<()> {
        let grad = if config.weight_decay != 0.0 {
            (grad + (var.as_tensor() * config.weight_decay)?)?
        } else {
            grad.clone()
        };
        let direction = if config.momentum != 0.0 {
            let buf = match buffer.take() {
                None => grad.copy()?,
                Some(buf) => ((buf * config.momentum)? + grad)?,
            };
            buffer.insert(buf).clone()
        } else {
            grad
        };
        var.set(&(var.as_tensor() + (direction * -config.lr)?)?)
    }
}

impl Optimizer for Sgd {
    type Config = SgdConfig;

    /// Variables are named `param.<index>` in the given order; prefer [`Sgd::from_varmap`].
    fn new(vars: Vec<Var>, config: SgdConfig) -> Result<Self> {
        let named = vars
            .into_iter()
            .enumerate()
            .map(|(i, var)| (format!("param.{i}"), var))
            .collect();
        Self::from_named(named, config)
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let coefficients = Coefficients::new(&self.config);
        let momentum = self.config.momentum != 0.0;
        for p in &mut self.params {
            let Some(grad) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            if grad.shape() != p.var.shape() {
                bail!(
                    "sgd: gradient of `{}` has shape {:?}, expected {:?}",
                    p.name,
                    grad.shape(),
                    p.var.shape()
                )
            }
            match &mut p.buffer {
                Buffer::Cpu(buffer) => {
                    let grad = grad.to_dtype(DType::F32)?.contiguous()?;
                    let first = momentum && buffer.is_none();
                    if first {
                        *buffer = Some(vec![0.0; p.var.elem_count()]);
                    }
                    let op = FusedUpdate {
                        buffer: RefCell::new(buffer.as_deref_mut().filter(|_| momentum)),
                        first,
                        coefficients,
                    };
                    p.var.as_tensor().inplace_op2(&grad, &op)?;
                }
                Buffer::Device(buffer) => {
                    Self::step_with_tensor_ops(&p.var, buffer, grad, &self.config)?
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
    use crate::ops::{set_thread_kernels, Kernels};
    use crate::rng::Rng;

    /// θ = [1, −2] after SGD (lr 0.1) with the gradients `grads`, run with this thread's kernels.
    fn run_on_two_weights(config: SgdConfig, grads: &[[f32; 2]]) -> Vec<f32> {
        let var = Var::from_tensor(&Tensor::new(&[1f32, -2.0], &Device::Cpu).unwrap()).unwrap();
        let mut sgd = Sgd::new(vec![var.clone()], config).unwrap();
        for g in grads {
            let grad = Tensor::new(g, &Device::Cpu).unwrap();
            sgd.backward_step(&loss_with_gradient(std::slice::from_ref(&var), &[grad]))
                .unwrap();
        }
        var.to_vec1::<f32>().unwrap()
    }

    /// The same run on the fast path and on the portable path (on a thread of its own).
    fn run_on_both_paths(config: SgdConfig, grads: &[[f32; 2]]) -> (Vec<f32>, Vec<f32>) {
        let fast = run_on_two_weights(config, grads);
        let grads = grads.to_vec();
        let portable = std::thread::spawn(move || {
            set_thread_kernels(Kernels::Portable);
            run_on_two_weights(config, &grads)
        })
        .join()
        .unwrap();
        (fast, portable)
    }

    fn assert_values(what: &str, got: &[f32], want: [f64; 2]) {
        for (g, w) in got.iter().zip(want) {
            assert!(
                (f64::from(*g) - w).abs() < 1e-6,
                "{what}: {got:?}, expected {want:?}"
            );
        }
    }

    fn check_hand_computed(config: SgdConfig, grads: &[[f32; 2]], want: [f64; 2]) {
        let (fast, portable) = run_on_both_paths(config, grads);
        assert_values(&format!("fast {config:?}"), &fast, want);
        assert_values(&format!("portable {config:?}"), &portable, want);
    }

    const LR: f64 = 0.1;
    const G1: [f32; 2] = [0.5, -3.0];
    const G2: [f32; 2] = [1.5, 1.0];
    const G3: [f32; 2] = [-1.0, 0.5];

    #[test]
    fn plain_sgd_matches_hand_computed_steps() {
        let config = SgdConfig {
            lr: LR,
            ..SgdConfig::default()
        };
        // θ1 = [1 − 0.1·0.5, −2 + 0.1·3] = [0.95, −1.7]
        // θ2 = [0.95 − 0.1·1.5, −1.7 − 0.1·1] = [0.8, −1.8]
        check_hand_computed(config, &[G1, G2], [0.8, -1.8]);
    }

    #[test]
    fn momentum_matches_hand_computed_steps() {
        let config = SgdConfig {
            lr: LR,
            momentum: 0.9,
            weight_decay: 0.0,
        };
        // buf1 = g1 = [0.5, −3]                        θ1 = [0.95, −1.7]
        // buf2 = 0.9·buf1 + g2 = [1.95, −1.7]          θ2 = [0.95 − 0.195, −1.7 + 0.17] = [0.755, −1.53]
        // buf3 = 0.9·buf2 + g3 = [0.755, −1.03]        θ3 = [0.755 − 0.0755, −1.53 + 0.103]
        check_hand_computed(config, &[G1, G2, G3], [0.6795, -1.427]);
    }

    #[test]
    fn weight_decay_without_momentum_matches_hand_computed_steps() {
        let config = SgdConfig {
            lr: LR,
            momentum: 0.0,
            weight_decay: 0.1,
        };
        // g1' = g1 + 0.1·θ0 = [0.6, −3.2]              θ1 = [0.94, −1.68]
        // g2' = g2 + 0.1·θ1 = [1.594, 0.832]           θ2 = [0.94 − 0.1594, −1.68 − 0.0832]
        check_hand_computed(config, &[G1, G2], [0.7806, -1.7632]);
    }

    #[test]
    fn weight_decay_with_momentum_matches_hand_computed_steps() {
        let config = SgdConfig {
            lr: LR,
            momentum: 0.9,
            weight_decay: 0.1,
        };
        // g1' = [0.6, −3.2] = buf1                     θ1 = [0.94, −1.68]
        // g2' = [1.594, 0.832]; buf2 = 0.9·buf1 + g2' = [2.134, −2.048]
        //                                              θ2 = [0.94 − 0.2134, −1.68 + 0.2048]
        check_hand_computed(config, &[G1, G2], [0.7266, -1.4752]);
    }

    /// Shapes that cover the single-threaded and the chunked parallel update.
    const SHAPES: [&[usize]; 3] = [&[5], &[7, 3], &[40_000]];

    /// Five steps on random weights and gradients, with this thread's kernels.
    fn random_run(config: SgdConfig) -> Vec<Vec<f32>> {
        let mut rng = Rng::new(17);
        let vars: Vec<Var> = SHAPES
            .iter()
            .map(|s| Var::from_tensor(&randn(&mut rng, s)).unwrap())
            .collect();
        let mut sgd = Sgd::new(vars.clone(), config).unwrap();
        for _ in 0..5 {
            let grads: Vec<Tensor> = SHAPES.iter().map(|s| randn(&mut rng, s)).collect();
            sgd.backward_step(&loss_with_gradient(&vars, &grads))
                .unwrap();
        }
        assert_eq!(sgd.step_count(), 5);
        vars.iter()
            .map(|v| v.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .collect()
    }

    #[test]
    fn fused_path_agrees_with_the_portable_path() {
        for (momentum, weight_decay) in [(0.0, 0.0), (0.9, 0.0), (0.0, 0.01), (0.9, 0.01)] {
            let config = SgdConfig {
                lr: 0.05,
                momentum,
                weight_decay,
            };
            let fast = random_run(config);
            let portable = std::thread::spawn(move || {
                set_thread_kernels(Kernels::Portable);
                random_run(config)
            })
            .join()
            .unwrap();
            let initial = {
                let mut rng = Rng::new(17);
                randn(&mut rng, SHAPES[0]).to_vec1::<f32>().unwrap()
            };
            assert_ne!(fast[0], initial, "{config:?}: the weights moved");
            for (a, b) in fast.iter().flatten().zip(portable.iter().flatten()) {
                assert!(
                    (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
                    "{config:?}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn vars_without_a_gradient_are_skipped() {
        let used = Var::from_tensor(&Tensor::new(&[1f32], &Device::Cpu).unwrap()).unwrap();
        let unused = Var::from_tensor(&Tensor::new(&[3f32], &Device::Cpu).unwrap()).unwrap();
        let config = SgdConfig {
            lr: 0.5,
            momentum: 0.9,
            weight_decay: 0.1,
        };
        let mut sgd = Sgd::new(vec![used.clone(), unused.clone()], config).unwrap();
        let grad = Tensor::new(&[2f32], &Device::Cpu).unwrap();
        sgd.backward_step(&loss_with_gradient(std::slice::from_ref(&used), &[grad]))
            .unwrap();
        // θ = 1 − 0.5·(2 + 0.1·1) = −0.05; the unused weight is not even decayed.
        assert!((used.to_vec1::<f32>().unwrap()[0] - -0.05).abs() < 1e-6);
        assert_eq!(unused.to_vec1::<f32>().unwrap(), [3.0]);
    }

    fn check_round_trip(config: SgdConfig) {
        let mut rng = Rng::new(3);
        let varmap = optimizer_varmap(&mut rng);
        let mut sgd = Sgd::from_varmap(&varmap, config).unwrap();
        assert_eq!(
            sgd.var_names().collect::<Vec<_>>(),
            ["conv.bias", "fc.weight"]
        );
        train_on_random_gradients(&varmap, &mut Rng::new(1), 3, |loss| sgd.backward_step(loss));
        let state = sgd.state_tensors().unwrap();

        let resumed_map = copy_varmap(&varmap);
        let mut resumed = Sgd::from_varmap(&resumed_map, config).unwrap();
        resumed
            .load_state_tensors(&state.into_iter().collect())
            .unwrap();
        assert_eq!(resumed.step_count(), 3);

        train_on_random_gradients(&varmap, &mut Rng::new(2), 2, |loss| sgd.backward_step(loss));
        train_on_random_gradients(&resumed_map, &mut Rng::new(2), 2, |loss| {
            resumed.backward_step(loss)
        });
        assert_eq!(
            weight_bits(&varmap),
            weight_bits(&resumed_map),
            "{config:?}"
        );
    }

    #[test]
    fn state_round_trip_resumes_bit_identically() {
        check_round_trip(SgdConfig {
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 0.01,
        });
        check_round_trip(SgdConfig {
            lr: 0.05,
            ..SgdConfig::default()
        });
    }

    #[test]
    fn state_names_the_buffers_and_the_step() {
        let mut rng = Rng::new(5);
        let varmap = optimizer_varmap(&mut rng);
        let config = SgdConfig {
            momentum: 0.9,
            ..SgdConfig::default()
        };
        let mut sgd = Sgd::from_varmap(&varmap, config).unwrap();
        train_on_random_gradients(&varmap, &mut rng, 2, |loss| sgd.backward_step(loss));
        let state: HashMap<String, Tensor> = sgd.state_tensors().unwrap().into_iter().collect();
        let mut names: Vec<&str> = state.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["sgd.buf.conv.bias", "sgd.buf.fc.weight", "sgd.step"]
        );
        assert_eq!(state["sgd.step"].dtype(), DType::I64);
        assert_eq!(state["sgd.step"].to_vec1::<i64>().unwrap(), [2]);
        assert_eq!(state["sgd.buf.fc.weight"].dims(), [4, 3]);

        let plain = Sgd::from_varmap(&varmap, SgdConfig::default()).unwrap();
        let names: Vec<String> = plain
            .state_tensors()
            .unwrap()
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(names, ["sgd.step"], "no buffers without momentum");
    }

    #[test]
    fn loading_names_the_missing_or_misshaped_tensor_and_changes_nothing() {
        let mut rng = Rng::new(4);
        let varmap = optimizer_varmap(&mut rng);
        let config = SgdConfig {
            momentum: 0.9,
            ..SgdConfig::default()
        };
        let mut sgd = Sgd::from_varmap(&varmap, config).unwrap();
        train_on_random_gradients(&varmap, &mut rng, 1, |loss| sgd.backward_step(loss));
        let mut state: HashMap<String, Tensor> = sgd.state_tensors().unwrap().into_iter().collect();

        state.remove("sgd.buf.fc.weight");
        let err = sgd.load_state_tensors(&state).unwrap_err();
        assert!(
            err.to_string().contains("missing `sgd.buf.fc.weight`"),
            "{err}"
        );

        state.insert(
            "sgd.buf.fc.weight".into(),
            Tensor::zeros(5, DType::F32, &Device::Cpu).unwrap(),
        );
        state.insert(
            STEP_TENSOR.into(),
            Tensor::new(&[9i64], &Device::Cpu).unwrap(),
        );
        let err = sgd.load_state_tensors(&state).unwrap_err();
        assert!(
            err.to_string().contains("`sgd.buf.fc.weight` has shape"),
            "{err}"
        );
        assert_eq!(sgd.step_count(), 1);

        let err = sgd.load_state_tensors(&HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("missing `sgd.step`"), "{err}");
    }
}
