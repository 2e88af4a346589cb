//! Candle models, their trainers and losses, one folder per job kind; no UI and no run files.

pub mod classifier;
pub mod feature_cnn;
pub mod flops;
pub mod frechet;
pub mod gan;
pub mod init;
pub mod layers;
pub mod loss;
pub mod optim;
pub mod rl;
pub mod schedule;
#[cfg(test)]
mod testdata;

/// A candle error as one readable line (see [`crate::device::error_text`]).
pub use crate::device::error_text;

/// The gradients in `grads` of every variable of `varmap`, by name, sorted.
pub fn named_grads(
    varmap: &candle_nn::VarMap,
    grads: &candle_core::backprop::GradStore,
) -> candle_core::Result<Vec<(String, candle_core::Tensor)>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("VarMap lock poisoned".into()))?;
    let mut out: Vec<(String, candle_core::Tensor)> = data
        .iter()
        .filter_map(|(name, var)| {
            grads
                .get(var.as_tensor())
                .map(|g| (name.clone(), g.clone()))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
