//! Seeded weight initialisation: candle's CPU random numbers cannot be seeded, so weights are
//! redrawn from the run's own RNG to make `--seed` reproduce a run exactly.

use candle_core::{Result, Tensor};
use candle_nn::VarMap;

use crate::rng::Rng;

/// Redraws every weight matrix/kernel and its bias from U(−1/√fan_in, 1/√fan_in) — PyTorch's
/// default for Linear and Conv2d (kaiming-uniform with a = √5) — in name order, so the same
/// seed gives the same weights. One-dimensional weights (normalisation scales) are left alone.
pub fn reinit_uniform(varmap: &VarMap, rng: &mut Rng) -> Result<()> {
    let data = varmap.data().lock().map_err(|_| {
        candle_core::Error::Msg("the variable map's lock was poisoned by a panic".into())
    })?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let fan_in = if let Some(prefix) = name.strip_suffix(".bias") {
            match data.get(&format!("{prefix}.weight")) {
                Some(w) if w.rank() >= 2 => w.elem_count() / w.dims()[0],
                _ => continue,
            }
        } else if name.ends_with(".weight") && dims.len() >= 2 {
            var.elem_count() / dims[0]
        } else {
            continue;
        };
        let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
        let values: Vec<f32> = (0..var.elem_count())
            .map(|_| rng.uniform(-bound, bound) as f32)
            .collect();
        var.set(&Tensor::from_vec(values, dims, var.device())?)?;
    }
    Ok(())
}
