//! The small fully connected networks the RL agents use, plus a plain-Rust copy of their
//! weights for acting: choosing one action through candle costs tens of microseconds of op
//! dispatch, the copy does it in a few, and acting is most of what an agent does.

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::{Linear, Module, VarBuilder, VarMap};

use crate::rng::Rng;

/// Hidden-layer nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x): the DQN nets.
    Relu,
    /// tanh(x): CleanRL's PPO nets.
    Tanh,
}

impl Activation {
    fn apply_tensor(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
        }
    }

    #[inline]
    fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Tanh => x.tanh(),
        }
    }
}

/// How to initialise weights from the run's seeded [`Rng`] (candle's own init is not seeded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// PyTorch's `nn.Linear` default: weight and bias uniform in ±1/√fan_in.
    TorchDefault,
    /// Orthogonal weights scaled by `gain` per layer, zero biases (CleanRL's PPO `layer_init`);
    /// the last layer uses `last_gain`.
    Orthogonal {
        /// Gain of the hidden layers (√2 in CleanRL).
        gain: f64,
        /// Gain of the output layer (0.01 for the actor, 1 for the critic).
        last_gain: f64,
    },
}

/// An MLP `sizes[0] → sizes[1] → … → sizes[n]` with `activation` between layers and a linear
/// output; layers are named `fc1`, `fc2`, … under its `VarBuilder` prefix.
#[derive(Debug, Clone)]
pub struct Mlp {
    layers: Vec<Linear>,
    sizes: Vec<usize>,
    activation: Activation,
}

impl Mlp {
    /// Builds the layers through `vb` (so weights live in its `VarMap` under stable names).
    pub fn new(sizes: &[usize], activation: Activation, vb: VarBuilder) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) {
            candle_core::bail!("an MLP needs at least two non-zero layer sizes, got {sizes:?}");
        }
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| candle_nn::linear(w[0], w[1], vb.pp(format!("fc{}", i + 1))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            layers,
            sizes: sizes.to_vec(),
            activation,
        })
    }

    /// Layer widths, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Overwrites every weight and bias with values drawn from `rng` according to `init`.
    pub fn init_weights(&self, init: Init, rng: &mut Rng) -> Result<()> {
        let n = self.layers.len();
        for (i, layer) in self.layers.iter().enumerate() {
            let w = layer.weight();
            let (out_dim, in_dim) = w.dims2()?;
            let (wv, bv) = match init {
                Init::TorchDefault => {
                    let bound = 1.0 / (in_dim as f64).sqrt();
                    let wv: Vec<f32> = (0..out_dim * in_dim)
                        .map(|_| rng.uniform(-bound, bound) as f32)
                        .collect();
                    let bv: Vec<f32> = (0..out_dim)
                        .map(|_| rng.uniform(-bound, bound) as f32)
                        .collect();
                    (wv, bv)
                }
                Init::Orthogonal { gain, last_gain } => {
                    let g = if i + 1 == n { last_gain } else { gain };
                    (orthogonal(out_dim, in_dim, g, rng), vec![0.0; out_dim])
                }
            };
            set_var(w, &wv, (out_dim, in_dim))?;
            if let Some(b) = layer.bias() {
                set_var(b, &bv, out_dim)?;
            }
        }
        Ok(())
    }

    /// Copies this network's weights into `other` (same architecture), e.g. a target network.
    pub fn copy_into(&self, other: &Mlp) -> Result<()> {
        for (a, b) in self.layers.iter().zip(&other.layers) {
            var_of(b.weight())?.set(a.weight())?;
            if let (Some(ab), Some(bb)) = (a.bias(), b.bias()) {
                var_of(bb)?.set(ab)?;
            }
        }
        Ok(())
    }

    /// A plain-Rust copy of the current weights for fast acting.
    pub fn mirror(&self) -> Result<MlpMirror> {
        let mut m = MlpMirror {
            weights: Vec::new(),
            biases: Vec::new(),
            sizes: self.sizes.clone(),
            activation: self.activation,
            scratch: [Vec::new(), Vec::new()],
        };
        self.refresh_mirror(&mut m)?;
        Ok(m)
    }

    /// Refreshes `mirror` with the current weights (after an optimiser step).
    pub fn refresh_mirror(&self, mirror: &mut MlpMirror) -> Result<()> {
        mirror.weights.clear();
        mirror.biases.clear();
        for layer in &self.layers {
            mirror.weights.push(
                layer
                    .weight()
                    .flatten_all()?
                    .to_dtype(DType::F32)?
                    .to_vec1()?,
            );
            let out_dim = layer.weight().dim(0)?;
            mirror.biases.push(match layer.bias() {
                Some(b) => b.to_dtype(DType::F32)?.to_vec1()?,
                None => vec![0.0; out_dim],
            });
        }
        Ok(())
    }
}

impl Module for Mlp {
    /// `(batch, sizes[0])` → `(batch, sizes[last])`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let mut h = xs.clone();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = match layer.bias() {
                Some(bias) => crate::ops::linear::linear(&h, layer.weight(), bias)?,
                None => layer.forward(&h)?,
            };
            if i < last {
                h = self.activation.apply_tensor(&h)?;
            }
        }
        Ok(h)
    }
}

/// Plain f32 copy of an [`Mlp`] for single-observation inference; must be refreshed with
/// [`Mlp::refresh_mirror`] after the network's weights change.
#[derive(Debug, Clone)]
pub struct MlpMirror {
    /// Row-major `(out, in)` per layer, like candle's `Linear`.
    weights: Vec<Vec<f32>>,
    biases: Vec<Vec<f32>>,
    sizes: Vec<usize>,
    activation: Activation,
    scratch: [Vec<f32>; 2],
}

impl MlpMirror {
    /// Forward pass of one observation; the returned slice has `sizes[last]` values.
    pub fn forward(&mut self, input: &[f32]) -> &[f32] {
        let n = self.weights.len();
        let [a, b] = &mut self.scratch;
        a.clear();
        a.extend_from_slice(input);
        for l in 0..n {
            let (in_dim, out_dim) = (self.sizes[l], self.sizes[l + 1]);
            let w = &self.weights[l];
            b.clear();
            b.extend_from_slice(&self.biases[l]);
            for (o, acc) in b.iter_mut().enumerate() {
                let row = &w[o * in_dim..(o + 1) * in_dim];
                *acc += row.iter().zip(a.iter()).map(|(w, x)| w * x).sum::<f32>();
            }
            debug_assert_eq!(b.len(), out_dim);
            if l + 1 < n {
                for v in b.iter_mut() {
                    *v = self.activation.apply(*v);
                }
            }
            std::mem::swap(a, b);
        }
        &self.scratch[0]
    }
}

fn var_of(t: &Tensor) -> Result<Var> {
    // Linear layers built from a VarMap hold their Var's tensor; re-wrapping shares storage,
    // so `Var::set` on the result changes the layer's weights in place.
    if !t.is_variable() {
        candle_core::bail!("weight tensor is not a variable");
    }
    Var::from_tensor(t)
}

fn set_var<S: Into<candle_core::Shape>>(t: &Tensor, values: &[f32], shape: S) -> Result<()> {
    let v = Tensor::from_slice(values, shape, t.device())?.to_dtype(t.dtype())?;
    var_set(t, &v)
}

fn var_set(t: &Tensor, value: &Tensor) -> Result<()> {
    var_of(t)?.set(value)
}

/// A `(rows, cols)` matrix with orthonormal rows or columns (whichever are fewer), times `gain`.
fn orthogonal(rows: usize, cols: usize, gain: f64, rng: &mut Rng) -> Vec<f32> {
    // Gram–Schmidt on the longer side's vectors of a Gaussian matrix, as torch's QR-based init.
    let (n, m) = if rows <= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(n);
    while q.len() < n {
        let mut v: Vec<f64> = (0..m).map(|_| f64::from(rng.normal())).collect();
        for u in &q {
            let d: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            for (a, b) in v.iter_mut().zip(u) {
                *a -= d * b;
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-8 {
            v.iter_mut().for_each(|a| *a /= norm);
            q.push(v);
        }
    }
    let mut out = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            let v = if rows <= cols { q[r][c] } else { q[c][r] };
            out[r * cols + c] = (gain * v) as f32;
        }
    }
    out
}

/// Builds an [`Mlp`] in a fresh `VarMap` on `device` under `prefix`.
pub fn mlp_in_new_varmap(
    sizes: &[usize],
    activation: Activation,
    prefix: &str,
    device: &Device,
) -> Result<(VarMap, Mlp)> {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    let mlp = Mlp::new(sizes, activation, vb.pp(prefix))?;
    Ok((varmap, mlp))
}

/// Index of the largest value (first on ties); 0 for an empty slice.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_matches_candle_forward_and_follows_weight_changes() {
        let dev = Device::Cpu;
        for act in [Activation::Relu, Activation::Tanh] {
            let (_vm, mlp) = mlp_in_new_varmap(&[4, 120, 84, 2], act, "q", &dev).unwrap();
            let mut rng = Rng::new(3);
            mlp.init_weights(Init::TorchDefault, &mut rng).unwrap();
            let mut mirror = mlp.mirror().unwrap();
            let x = [0.03f32, -0.4, 0.1, 0.7];
            let t = Tensor::from_slice(&x, (1, 4), &dev).unwrap();
            let want: Vec<f32> = mlp
                .forward(&t)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let got = mirror.forward(&x).to_vec();
            for (a, b) in want.iter().zip(&got) {
                assert!((a - b).abs() < 1e-5, "{act:?}: {want:?} vs {got:?}");
            }
            mlp.init_weights(Init::TorchDefault, &mut rng).unwrap();
            assert_eq!(mirror.forward(&x), &got[..], "mirror is a snapshot");
            mlp.refresh_mirror(&mut mirror).unwrap();
            assert_ne!(mirror.forward(&x), &got[..]);
        }
    }

    #[test]
    fn orthogonal_init_has_orthonormal_rows_and_copy_into_copies() {
        let mut rng = Rng::new(1);
        let w = orthogonal(3, 5, 2.0, &mut rng);
        for i in 0..3 {
            for j in 0..3 {
                let d: f32 = (0..5).map(|k| w[i * 5 + k] * w[j * 5 + k]).sum();
                let want = if i == j { 4.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-4, "{i},{j}: {d}");
            }
        }
        let dev = Device::Cpu;
        let (_a, net) = mlp_in_new_varmap(&[2, 3, 1], Activation::Tanh, "a", &dev).unwrap();
        let (_b, target) = mlp_in_new_varmap(&[2, 3, 1], Activation::Tanh, "b", &dev).unwrap();
        net.init_weights(
            Init::Orthogonal {
                gain: 2f64.sqrt(),
                last_gain: 1.0,
            },
            &mut rng,
        )
        .unwrap();
        net.copy_into(&target).unwrap();
        let x = Tensor::new(&[[0.5f32, -1.0]], &dev).unwrap();
        let a: Vec<f32> = net
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let b: Vec<f32> = target
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(argmax(&[0.1, 0.3, 0.3, -1.0]), 1);
    }
}
