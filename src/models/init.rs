//! A `VarBuilder` whose fresh variables are drawn from [`crate::rng::Rng`], so a run's `--seed`
//! reproduces its initial weights (candle's own CPU RNG cannot be seeded).

use std::sync::Mutex;

use candle_core::{DType, Device, Result, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder, VarMap};

use crate::rng::Rng;

/// Builds variables into `varmap`: names already present are reused (shape-checked), new ones
/// are initialised from `rng` according to the layer's [`Init`].
pub fn seeded_var_builder(
    varmap: &VarMap,
    rng: Rng,
    dtype: DType,
    device: &Device,
) -> VarBuilder<'static> {
    VarBuilder::from_backend(
        Box::new(SeededVarMap {
            varmap: varmap.clone(),
            rng: Mutex::new(rng),
        }),
        dtype,
        device.clone(),
    )
}

struct SeededVarMap {
    varmap: VarMap,
    rng: Mutex<Rng>,
}

impl SeededVarMap {
    fn draw(&self, shape: &Shape, init: Init) -> Result<Vec<f32>> {
        let n = shape.elem_count();
        let mut rng = self
            .rng
            .lock()
            .map_err(|_| candle_core::Error::Msg("seeded init: rng lock poisoned".into()))?;
        let uniform = |rng: &mut Rng, lo: f64, up: f64| -> Vec<f32> {
            (0..n).map(|_| rng.uniform(lo, up) as f32).collect()
        };
        let normal = |rng: &mut Rng, mean: f64, stdev: f64| -> Vec<f32> {
            (0..n)
                .map(|_| (mean + stdev * f64::from(rng.normal())) as f32)
                .collect()
        };
        Ok(match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Uniform { lo, up } => uniform(&mut rng, lo, up),
            Init::Randn { mean, stdev } => normal(&mut rng, mean, stdev),
            Init::Kaiming {
                dist,
                fan,
                non_linearity,
            } => {
                let std = non_linearity.gain() / (fan.for_shape(shape) as f64).sqrt();
                match dist {
                    candle_nn::init::NormalOrUniform::Uniform => {
                        let bound = 3f64.sqrt() * std;
                        uniform(&mut rng, -bound, bound)
                    }
                    candle_nn::init::NormalOrUniform::Normal => normal(&mut rng, 0.0, std),
                }
            }
        })
    }
}

impl SimpleBackend for SeededVarMap {
    fn get(&self, s: Shape, name: &str, h: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        if self.contains_tensor(name) {
            return self.varmap.get(s, name, h, dtype, dev);
        }
        let values = self.draw(&s, h)?;
        let var = Var::from_tensor(&Tensor::from_vec(values, s, dev)?.to_dtype(dtype)?)?;
        let tensor = var.as_tensor().clone();
        self.varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("seeded init: VarMap lock poisoned".into()))?
            .insert(name.to_string(), var);
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> Result<Tensor> {
        candle_core::bail!("seeded init: `{name}` needs a shape; use `get` with a shape")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.varmap
            .data()
            .lock()
            .map(|d| d.contains_key(name))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_reproducibly_within_bounds_and_reuses_existing_vars() {
        let draw = |seed| {
            let varmap = VarMap::new();
            let vb = seeded_var_builder(&varmap, Rng::new(seed), DType::F32, &Device::Cpu);
            let init = Init::Uniform { lo: -0.5, up: 0.25 };
            let t = vb.get_with_hints((10, 20), "w", init).unwrap();
            // A second request for the same name returns the same variable, not a new draw.
            let again = vb.get_with_hints((10, 20), "w", init).unwrap();
            assert_eq!(
                t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                again.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            );
            assert!(
                vb.get_with_hints((3, 3), "w", init).is_err(),
                "shape is checked"
            );
            assert_eq!(varmap.all_vars().len(), 1);
            t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        let a = draw(1);
        assert_eq!(a, draw(1));
        assert_ne!(a, draw(2));
        assert!(a.iter().all(|v| (-0.5..0.25).contains(v)));
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        assert!((mean + 0.125).abs() < 0.05, "mean {mean}");
    }
}
