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
