//! Helpers for comparing the fast kernels with candle's own ops.

use candle_core::{Device, Result, Tensor, Var};

use crate::rng::Rng;

/// Standard-normal tensor of `shape` on the CPU, reproducible from `rng`.
pub fn randn(rng: &mut Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
    Tensor::from_vec(values, shape, &Device::Cpu).expect("shape matches the value count")
}

/// Asserts `|actual − expected| ≤ tol · (1 + |expected|)` element-wise, naming `what`.
pub fn assert_close(actual: &Tensor, expected: &Tensor, tol: f32, what: &str) {
    assert_eq!(actual.dims(), expected.dims(), "{what}: shapes differ");
    let a = actual
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("f32 tensor");
    let e = expected
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("f32 tensor");
    for (i, (a, e)) in a.iter().zip(&e).enumerate() {
        assert!(
            (a - e).abs() <= tol * (1.0 + e.abs()),
            "{what}: element {i} is {a}, expected {e} (tolerance {tol})"
        );
    }
}

/// Output of `f` on `inputs` and the gradients of `Σ f(inputs) ⊙ weights` for random `weights`
/// (so every output element gets a different upstream gradient).
pub fn value_and_grads(
    inputs: &[Tensor],
    rng_seed: u64,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(t).expect("a var from a tensor"))
        .collect();
    let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let out = f(&tensors).expect("forward");
    let mut rng = Rng::new(rng_seed);
    let weights = randn(&mut rng, out.dims());
    let loss = (&out * &weights).and_then(|t| t.sum_all()).expect("loss");
    let grads = loss.backward().expect("backward");
    let grads = tensors
        .iter()
        .map(|t| grads.get(t).expect("every input gets a gradient").clone())
        .collect();
    (out, grads)
}

/// Asserts that `fast` and `reference` agree on `inputs` within `tol`: the output and the
/// gradient of every input (named by `names`, in order), with messages starting `label`.
pub fn assert_matches_reference(
    inputs: &[Tensor],
    names: &[&str],
    tol: f32,
    label: &str,
    fast: impl Fn(&[Tensor]) -> Result<Tensor>,
    reference: impl Fn(&[Tensor]) -> Result<Tensor>,
) {
    let seed = label.len() as u64;
    let (value, grads) = value_and_grads(inputs, seed, fast);
    let (want, want_grads) = value_and_grads(inputs, seed, reference);
    assert_close(&value, &want, tol, &format!("{label} forward"));
    for ((got, want), name) in grads.iter().zip(&want_grads).zip(names) {
        assert_close(got, want, tol, &format!("{label} grad {name}"));
    }
}

/// k×k, stride-k max-pool of `(batch, channels, h, w)` from reshapes and a `max` reduction, whose
/// gradient candle derives correctly. (candle 0.11's own `max_pool2d` backward multiplies the
/// gradient by ties/k² instead of dividing by the number of ties: a quarter of the right value
/// for a 2×2 window, so it cannot serve as the reference for gradients.)
pub fn reference_max_pool(x: &Tensor, k: usize) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let (oh, ow) = (h / k, w / k);
    x.narrow(2, 0, oh * k)?
        .narrow(3, 0, ow * k)?
        .reshape((b, c, oh, k, ow, k))?
        .permute((0, 1, 2, 4, 3, 5))?
        .contiguous()?
        .reshape((b, c, oh, ow, k * k))?
        .max(candle_core::D::Minus1)
}

/// `Σ θ ⊙ g`, whose gradient with respect to each θ is exactly its `g`: drives an optimiser
/// with chosen gradients.
pub fn loss_with_gradient(vars: &[Var], grads: &[Tensor]) -> Tensor {
    let mut total = Tensor::zeros((), vars[0].dtype(), &Device::Cpu).expect("a scalar");
    for (v, g) in vars.iter().zip(grads) {
        let g = g.to_dtype(v.dtype()).expect("same dtype");
        let term = (v.as_tensor() * g).expect("same shape");
        total = (total + term.sum_all().expect("a sum")).expect("a scalar sum");
    }
    total
}

/// A var map of a small weight and a bias large enough for the optimisers' parallel path,
/// drawn from `rng`.
pub fn optimizer_varmap(rng: &mut Rng) -> candle_nn::VarMap {
    let varmap = candle_nn::VarMap::new();
    for (name, shape) in [("fc.weight", &[4usize, 3][..]), ("conv.bias", &[40_000])] {
        let var = Var::from_tensor(&randn(rng, shape)).expect("a var");
        varmap
            .data()
            .lock()
            .expect("the var map")
            .insert(name.to_string(), var);
    }
    varmap
}

/// The vars of `varmap` sorted by name, so random gradients are drawn in a fixed order.
fn sorted_vars(varmap: &candle_nn::VarMap) -> Vec<Var> {
    let data = varmap.data().lock().expect("the var map");
    let mut named: Vec<_> = data.iter().collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    named.into_iter().map(|(_, v)| v.clone()).collect()
}

/// `steps` optimiser steps on `varmap` with standard-normal gradients drawn from `rng`;
/// `backward_step` is the optimiser's.
pub fn train_on_random_gradients(
    varmap: &candle_nn::VarMap,
    rng: &mut Rng,
    steps: usize,
    mut backward_step: impl FnMut(&Tensor) -> Result<()>,
) {
    let vars = sorted_vars(varmap);
    for _ in 0..steps {
        let grads: Vec<Tensor> = vars.iter().map(|v| randn(rng, v.dims())).collect();
        backward_step(&loss_with_gradient(&vars, &grads)).expect("an optimiser step");
    }
}

/// Every weight of `varmap` as bit patterns, by name, sorted: equal only when bit-identical.
pub fn weight_bits(varmap: &candle_nn::VarMap) -> Vec<(String, Vec<u32>)> {
    let data = varmap.data().lock().expect("the var map");
    let mut out: Vec<_> = data
        .iter()
        .map(|(n, v)| {
            let values = v
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .expect("f32 weights");
            (n.clone(), values.iter().map(|x| x.to_bits()).collect())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A var map holding copies of `varmap`'s weights, under the same names.
pub fn copy_varmap(varmap: &candle_nn::VarMap) -> candle_nn::VarMap {
    let copy = candle_nn::VarMap::new();
    for (name, var) in varmap.data().lock().expect("the var map").iter() {
        let var = Var::from_tensor(&var.as_tensor().copy().expect("a copy")).expect("a var");
        copy.data()
            .lock()
            .expect("the copy")
            .insert(name.clone(), var);
    }
    copy
}
