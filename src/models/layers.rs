//! Layer constructors with PyTorch's default initialisation, shared by the models.

use candle_core::{Result, Tensor};
use candle_nn::{Init, Linear, VarBuilder};

/// PyTorch's default bound for `nn.Linear`/`nn.Conv2d` weights and biases: kaiming-uniform with
/// a = √5 reduces to U(−1/√fan_in, 1/√fan_in), and the bias uses the same bound.
pub fn torch_default_init(fan_in: usize) -> Init {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// `nn.Linear(in_dim, out_dim)`: weight `(out_dim, in_dim)` and bias `(out_dim,)` under
/// `vb` as `weight` / `bias`, PyTorch-initialised.
pub fn linear(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Linear> {
    let init = torch_default_init(in_dim);
    let weight = vb.get_with_hints((out_dim, in_dim), "weight", init)?;
    let bias = vb.get_with_hints(out_dim, "bias", init)?;
    Ok(Linear::new(weight, Some(bias)))
}

/// `nn.Conv2d(c_in, c_out, k)` parameters: weight `(c_out, c_in, k, k)` and bias `(c_out,)`.
pub fn conv2d_params(
    c_in: usize,
    c_out: usize,
    k: usize,
    vb: VarBuilder,
) -> Result<(Tensor, Tensor)> {
    let init = torch_default_init(c_in * k * k);
    let weight = vb.get_with_hints((c_out, c_in, k, k), "weight", init)?;
    let bias = vb.get_with_hints(c_out, "bias", init)?;
    Ok((weight, bias))
}

/// `layer.forward(x.flatten_from(1))` for `x (batch, …)`, through [`crate::ops::linear::linear`]
/// (contiguous gradients, one graph node, no reshape node) when the layer has a bias.
pub fn linear_forward(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    match layer.bias() {
        Some(bias) => crate::ops::linear::linear(x, layer.weight(), bias),
        None => candle_nn::Module::forward(layer, &x.flatten_from(1)?),
    }
}
