//! The optimiser a classifier scenario chooses (Adam, AdamW or SGD with momentum) and one type
//! that trains with whichever was chosen, checkpoints included.

use std::collections::HashMap;

use candle_core::{backprop::GradStore, Tensor};
use candle_nn::{Optimizer, VarMap};
use serde::{Deserialize, Serialize};

use crate::ops::adam::{self, Adam, AdamConfig};
use crate::ops::sgd::{self, Sgd, SgdConfig};

/// SGD's momentum when the scenario does not say (the usual choice for classifiers).
pub const DEFAULT_SGD_MOMENTUM: f64 = 0.9;
/// AdamW's weight decay when the scenario does not say (`torch.optim.AdamW`'s default).
pub const DEFAULT_ADAMW_WEIGHT_DECAY: f64 = 0.01;
/// Largest weight decay accepted; catches typos such as 5 for 5e-4.
pub const MAX_WEIGHT_DECAY: f64 = 1.0;
/// Adam's ε for every Adam variant built here (PyTorch's and Keras's default).
pub const ADAM_EPS: f64 = 1e-8;

/// Which update rule trains the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// `torch.optim.Adam`: weight decay, if any, as an L2 term in the gradient.
    #[default]
    Adam,
    /// `torch.optim.AdamW`: weight decay applied to the weights, apart from the gradient.
    AdamW,
    /// `torch.optim.SGD` with momentum (no dampening, no Nesterov).
    Sgd,
}

impl OptimizerKind {
    /// The name used in scenario files and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Adam => "adam",
            Self::AdamW => "adamw",
            Self::Sgd => "sgd",
        }
    }
}

/// The scenario keys that choose the optimiser, flat at the top of a classifier scenario:
///
/// ```toml
/// optimizer = "sgd"    # adam (default) | adamw | sgd
/// momentum = 0.9       # sgd only; default 0.9
/// weight_decay = 5e-4  # default 0 for adam and sgd, 0.01 for adamw
/// ```
///
/// `momentum` and `weight_decay` are optional so that their defaults can follow `optimizer`;
/// [`Self::momentum`] and [`Self::weight_decay`] give the values in force. serde's `flatten`
/// does not work together with `deny_unknown_fields`, so a config that refuses unknown keys
/// copies these three fields in and builds this struct from them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerChoice {
    /// The update rule.
    pub optimizer: OptimizerKind,
    /// SGD's momentum in [0, 1); refused for the Adam variants, whose momentum is β1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// Weight decay in [0, 1]: an L2 term for adam and sgd, decoupled for adamw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
}

/// An optimiser key that parses but cannot work, naming the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key} = {value}: {reason}")]
pub struct OptimizerChoiceError {
    /// The refused key: `momentum` or `weight_decay`.
    pub key: &'static str,
    /// The value as given.
    pub value: String,
    /// What the key accepts.
    pub reason: &'static str,
}

impl OptimizerChoice {
    /// SGD with the given momentum and no weight decay.
    pub fn sgd(momentum: f64) -> Self {
        Self {
            optimizer: OptimizerKind::Sgd,
            momentum: Some(momentum),
            weight_decay: None,
        }
    }

    /// The momentum in force: the given one or 0.9 for SGD, 0 for the Adam variants.
    pub fn momentum(&self) -> f64 {
        match self.optimizer {
            OptimizerKind::Sgd => self.momentum.unwrap_or(DEFAULT_SGD_MOMENTUM),
            OptimizerKind::Adam | OptimizerKind::AdamW => 0.0,
        }
    }

    /// The weight decay in force: the given one, else 0.01 for AdamW and 0 otherwise.
    pub fn weight_decay(&self) -> f64 {
        self.weight_decay.unwrap_or(match self.optimizer {
            OptimizerKind::AdamW => DEFAULT_ADAMW_WEIGHT_DECAY,
            OptimizerKind::Adam | OptimizerKind::Sgd => 0.0,
        })
    }

    /// Refuses values that parse but cannot work, naming the key.
    pub fn validate(&self) -> Result<(), OptimizerChoiceError> {
        if let Some(momentum) = self.momentum {
            if self.optimizer != OptimizerKind::Sgd {
                return Err(OptimizerChoiceError {
                    key: "momentum",
                    value: momentum.to_string(),
                    reason: "applies to optimizer = \"sgd\" only (Adam's momentum is beta1)",
                });
            }
            if !(0.0..1.0).contains(&momentum) {
                return Err(OptimizerChoiceError {
                    key: "momentum",
                    value: momentum.to_string(),
                    reason: "must be in [0, 1)",
                });
            }
        }
        if let Some(weight_decay) = self.weight_decay {
            if !(0.0..=MAX_WEIGHT_DECAY).contains(&weight_decay) {
                return Err(OptimizerChoiceError {
                    key: "weight_decay",
                    value: weight_decay.to_string(),
                    reason: "must be in [0, 1]",
                });
            }
        }
        Ok(())
    }
}

/// The optimiser a training loop holds, whichever the scenario chose, with one API for
/// stepping, live learning-rate changes and checkpoints.
pub enum TrainOptimizer {
    /// Adam or AdamW (`AdamConfig::decoupled_weight_decay` tells them apart).
    Adam(Adam),
    /// SGD with momentum.
    Sgd(Sgd),
}

impl TrainOptimizer {
    /// The chosen optimiser over every variable of `varmap`; `beta1`/`beta2` are used by the
    /// Adam variants only. Refuses an invalid `choice` with its validation message.
    pub fn new(
        choice: OptimizerChoice,
        lr: f64,
        beta1: f64,
        beta2: f64,
        varmap: &VarMap,
    ) -> candle_core::Result<Self> {
        choice
            .validate()
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let weight_decay = choice.weight_decay();
        Ok(match choice.optimizer {
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                let config = AdamConfig {
                    lr,
                    beta1,
                    beta2,
                    eps: ADAM_EPS,
                    weight_decay,
                    decoupled_weight_decay: choice.optimizer == OptimizerKind::AdamW,
                };
                Self::Adam(Adam::from_varmap(varmap, config)?)
            }
            OptimizerKind::Sgd => {
                let config = SgdConfig {
                    lr,
                    momentum: choice.momentum(),
                    weight_decay,
                };
                Self::Sgd(Sgd::from_varmap(varmap, config)?)
            }
        })
    }

    /// Which update rule this is.
    pub fn kind(&self) -> OptimizerKind {
        match self {
            Self::Adam(a) if a.config().decoupled_weight_decay => OptimizerKind::AdamW,
            Self::Adam(_) => OptimizerKind::Adam,
            Self::Sgd(_) => OptimizerKind::Sgd,
        }
    }

    /// Updates the weights from `grads`; variables without a gradient are left alone.
    pub fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        match self {
            Self::Adam(a) => a.step(grads),
            Self::Sgd(s) => s.step(grads),
        }
    }

    /// Back-propagates `loss` and steps.
    pub fn backward_step(&mut self, loss: &Tensor) -> candle_core::Result<()> {
        self.step(&loss.backward()?)
    }

    /// The learning rate of the next step.
    pub fn learning_rate(&self) -> f64 {
        match self {
            Self::Adam(a) => a.learning_rate(),
            Self::Sgd(s) => s.learning_rate(),
        }
    }

    /// Sets the learning rate from the next step on (a schedule calls this every step).
    pub fn set_learning_rate(&mut self, lr: f64) {
        match self {
            Self::Adam(a) => a.set_learning_rate(lr),
            Self::Sgd(s) => s.set_learning_rate(lr),
        }
    }

    /// Steps taken so far (restored from a checkpoint too).
    pub fn step_count(&self) -> u64 {
        match self {
            Self::Adam(a) => a.step_count(),
            Self::Sgd(s) => s.step_count(),
        }
    }

    /// The optimiser's state for a checkpoint: `adam.m.*`, `adam.v.*`, `adam.step` for the Adam
    /// variants; `sgd.buf.*` (with momentum) and `sgd.step` for SGD.
    pub fn state_tensors(&self) -> candle_core::Result<Vec<(String, Tensor)>> {
        match self {
            Self::Adam(a) => a.state_tensors(),
            Self::Sgd(s) => s.state_tensors(),
        }
    }

    /// Restores what [`Self::state_tensors`] wrote. State of another optimiser is refused, the
    /// error naming the missing tensor (and the optimiser whose state the checkpoint holds);
    /// on error nothing changes. Adam and AdamW share their state, so each loads the other's.
    pub fn load_state_tensors(
        &mut self,
        tensors: &HashMap<String, Tensor>,
    ) -> candle_core::Result<()> {
        let loaded = match self {
            Self::Adam(a) => a.load_state_tensors(tensors),
            Self::Sgd(s) => s.load_state_tensors(tensors),
        };
        loaded.map_err(|e| {
            let foreign = match self {
                Self::Adam(_) => tensors.contains_key(sgd::STEP_TENSOR).then_some("sgd"),
                Self::Sgd(_) => tensors.contains_key(adam::STEP_TENSOR).then_some("adam"),
            };
            match foreign {
                Some(other) => candle_core::Error::Msg(format!(
                    "{e} (the checkpoint holds {other} state: it was written with another \
                     optimizer)"
                )),
                None => e,
            }
        })
    }

    /// True when `tensors` (a checkpoint) carry this optimiser's state, that is its step tensor.
    pub fn has_state(&self, tensors: &HashMap<String, Tensor>) -> bool {
        let step = match self {
            Self::Adam(_) => adam::STEP_TENSOR,
            Self::Sgd(_) => sgd::STEP_TENSOR,
        };
        tensors.contains_key(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{
        copy_varmap, optimizer_varmap, train_on_random_gradients, weight_bits,
    };
    use crate::rng::Rng;
    use candle_core::{Device, Var};

    fn parse(text: &str) -> Result<OptimizerChoice, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_follow_the_optimizer() {
        let adam = parse("").unwrap();
        assert_eq!(adam.optimizer, OptimizerKind::Adam);
        assert_eq!((adam.momentum(), adam.weight_decay()), (0.0, 0.0));

        let adamw = parse("optimizer = \"adamw\"").unwrap();
        assert_eq!(adamw.optimizer, OptimizerKind::AdamW);
        assert_eq!((adamw.momentum(), adamw.weight_decay()), (0.0, 0.01));

        let sgd = parse("optimizer = \"sgd\"").unwrap();
        assert_eq!((sgd.momentum(), sgd.weight_decay()), (0.9, 0.0));

        let tuned = parse("optimizer = \"sgd\"\nmomentum = 0.5\nweight_decay = 5e-4").unwrap();
        assert_eq!((tuned.momentum(), tuned.weight_decay()), (0.5, 5e-4));
        let no_decay = parse("optimizer = \"adamw\"\nweight_decay = 0.0").unwrap();
        assert_eq!(no_decay.weight_decay(), 0.0);
        for choice in [adam, adamw, sgd, tuned, no_decay] {
            choice.validate().unwrap();
            let text = toml::to_string(&choice).unwrap();
            assert_eq!(parse(&text).unwrap(), choice, "{text}");
        }
        assert_eq!(
            toml::to_string(&parse("").unwrap()).unwrap().trim(),
            "optimizer = \"adam\""
        );
    }

    #[test]
    fn unknown_names_and_keys_are_refused() {
        let err = parse("optimizer = \"rmsprop\"").unwrap_err();
        assert!(err.to_string().contains("rmsprop"), "{err}");
        let err = parse("optimizer = \"sgd\"\nnesterov = true").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `nesterov`"),
            "{err}"
        );
    }

    #[test]
    fn validation_names_the_refused_key() {
        let cases = [
            (
                "optimizer = \"adam\"\nmomentum = 0.9",
                "momentum = 0.9: applies to optimizer = \"sgd\" only (Adam's momentum is beta1)",
            ),
            (
                "optimizer = \"sgd\"\nmomentum = 1.0",
                "momentum = 1: must be in [0, 1)",
            ),
            (
                "optimizer = \"sgd\"\nmomentum = -0.1",
                "momentum = -0.1: must be in [0, 1)",
            ),
            (
                "optimizer = \"adamw\"\nweight_decay = -0.01",
                "weight_decay = -0.01: must be in [0, 1]",
            ),
            (
                "optimizer = \"sgd\"\nweight_decay = 5",
                "weight_decay = 5: must be in [0, 1]",
            ),
            (
                "weight_decay = nan",
                "weight_decay = NaN: must be in [0, 1]",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap().validate().unwrap_err();
            assert_eq!(err.to_string(), want, "{text}");
        }
        let varmap = VarMap::new();
        let bad = parse("momentum = 0.9").unwrap();
        let err = TrainOptimizer::new(bad, 0.1, 0.9, 0.999, &varmap)
            .err()
            .unwrap();
        assert!(err.to_string().contains("momentum = 0.9"), "{err}");
    }

    /// Weights `w = [1, −2]` and `b = [0.5]` in a fresh VarMap.
    fn small_varmap() -> VarMap {
        let varmap = VarMap::new();
        for (name, values) in [("w", &[1f32, -2.0][..]), ("b", &[0.5])] {
            let var = Var::from_tensor(&Tensor::new(values, &Device::Cpu).unwrap()).unwrap();
            varmap.data().lock().unwrap().insert(name.to_string(), var);
        }
        varmap
    }

    fn var(varmap: &VarMap, name: &str) -> Var {
        varmap.data().lock().unwrap()[name].clone()
    }

    /// `Σ w ⊙ g_w + Σ b ⊙ g_b`, whose gradient is exactly (g_w, g_b).
    fn step_with(opt: &mut TrainOptimizer, varmap: &VarMap, g_w: &[f32], g_b: &[f32]) {
        let terms = [("w", g_w), ("b", g_b)].map(|(name, g)| {
            let g = Tensor::new(g, &Device::Cpu).unwrap();
            (var(varmap, name).as_tensor() * g)
                .unwrap()
                .sum_all()
                .unwrap()
        });
        let loss = (&terms[0] + &terms[1]).unwrap();
        opt.backward_step(&loss).unwrap();
    }

    fn values(varmap: &VarMap, name: &str) -> Vec<f32> {
        var(varmap, name).to_vec1::<f32>().unwrap()
    }

    #[test]
    fn each_choice_builds_its_update_rule() {
        // SGD, momentum 0.9, lr 0.1: buf1 = g, θ1 = θ0 − 0.1·g; buf2 = 0.9·g + g = 1.9·g.
        let varmap = small_varmap();
        let choice = parse("optimizer = \"sgd\"").unwrap();
        let mut opt = TrainOptimizer::new(choice, 0.1, 0.9, 0.999, &varmap).unwrap();
        assert_eq!(opt.kind(), OptimizerKind::Sgd);
        step_with(&mut opt, &varmap, &[1.0, -1.0], &[2.0]);
        step_with(&mut opt, &varmap, &[1.0, -1.0], &[2.0]);
        // w: 1 − 0.1·1 − 0.1·1.9 = 0.71; −2 + 0.1 + 0.19 = −1.71; b: 0.5 − 0.2 − 0.38 = −0.08.
        let w = values(&varmap, "w");
        assert!(
            (w[0] - 0.71).abs() < 1e-6 && (w[1] + 1.71).abs() < 1e-6,
            "{w:?}"
        );
        assert!((values(&varmap, "b")[0] + 0.08).abs() < 1e-6);

        // AdamW, lr 0.1, default weight decay 0.01: θ1 = θ0·(1 − 0.001) − 0.1·sign(g).
        let varmap = small_varmap();
        let choice = parse("optimizer = \"adamw\"").unwrap();
        let mut opt = TrainOptimizer::new(choice, 0.1, 0.9, 0.999, &varmap).unwrap();
        assert_eq!(opt.kind(), OptimizerKind::AdamW);
        step_with(&mut opt, &varmap, &[1.0, -1.0], &[2.0]);
        let w = values(&varmap, "w");
        assert!(
            (w[0] - 0.899).abs() < 1e-6 && (w[1] + 1.898).abs() < 1e-6,
            "{w:?}"
        );
        assert!((values(&varmap, "b")[0] - 0.3995).abs() < 1e-6);

        // Adam without weight decay: θ1 = θ0 − 0.1·sign(g).
        let varmap = small_varmap();
        let mut opt =
            TrainOptimizer::new(OptimizerChoice::default(), 0.1, 0.9, 0.999, &varmap).unwrap();
        assert_eq!(opt.kind(), OptimizerKind::Adam);
        step_with(&mut opt, &varmap, &[1.0, -1.0], &[2.0]);
        let w = values(&varmap, "w");
        assert!(
            (w[0] - 0.9).abs() < 1e-6 && (w[1] + 1.9).abs() < 1e-6,
            "{w:?}"
        );
        assert_eq!(opt.step_count(), 1);
    }

    #[test]
    fn learning_rate_changes_apply_to_the_next_step() {
        let varmap = small_varmap();
        let mut opt =
            TrainOptimizer::new(OptimizerChoice::sgd(0.0), 0.1, 0.9, 0.999, &varmap).unwrap();
        assert_eq!(opt.learning_rate(), 0.1);
        opt.set_learning_rate(0.5);
        assert_eq!(opt.learning_rate(), 0.5);
        step_with(&mut opt, &varmap, &[1.0, 1.0], &[1.0]);
        // θ = 1 − 0.5·1
        assert!((values(&varmap, "w")[0] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn state_round_trip_resumes_bit_identically_for_every_choice() {
        let choices = [
            OptimizerChoice::default(),
            parse("optimizer = \"adamw\"").unwrap(),
            parse("optimizer = \"sgd\"\nweight_decay = 1e-3").unwrap(),
            OptimizerChoice::sgd(0.0),
        ];
        for choice in choices {
            let varmap = optimizer_varmap(&mut Rng::new(3));
            let mut opt = TrainOptimizer::new(choice, 0.01, 0.9, 0.999, &varmap).unwrap();
            train_on_random_gradients(&varmap, &mut Rng::new(1), 3, |loss| opt.backward_step(loss));
            let state: HashMap<String, Tensor> = opt.state_tensors().unwrap().into_iter().collect();
            assert!(opt.has_state(&state), "{choice:?}");

            let resumed_map = copy_varmap(&varmap);
            let mut resumed = TrainOptimizer::new(choice, 0.01, 0.9, 0.999, &resumed_map).unwrap();
            assert!(!resumed.has_state(&HashMap::new()));
            resumed.load_state_tensors(&state).unwrap();
            assert_eq!(resumed.step_count(), 3, "{choice:?}");

            train_on_random_gradients(&varmap, &mut Rng::new(2), 2, |loss| opt.backward_step(loss));
            train_on_random_gradients(&resumed_map, &mut Rng::new(2), 2, |loss| {
                resumed.backward_step(loss)
            });
            assert_eq!(
                weight_bits(&varmap),
                weight_bits(&resumed_map),
                "{choice:?}"
            );
        }
    }

    #[test]
    fn another_optimizers_state_is_refused_by_name() {
        let varmap = optimizer_varmap(&mut Rng::new(4));
        let mut adam =
            TrainOptimizer::new(OptimizerChoice::default(), 0.01, 0.9, 0.999, &varmap).unwrap();
        train_on_random_gradients(&varmap, &mut Rng::new(1), 1, |loss| {
            adam.backward_step(loss)
        });
        let adam_state: HashMap<String, Tensor> =
            adam.state_tensors().unwrap().into_iter().collect();

        let mut sgd =
            TrainOptimizer::new(OptimizerChoice::sgd(0.9), 0.01, 0.9, 0.999, &varmap).unwrap();
        assert!(!sgd.has_state(&adam_state));
        let err = sgd.load_state_tensors(&adam_state).unwrap_err().to_string();
        assert!(err.contains("missing `sgd.step`"), "{err}");
        assert!(err.contains("holds adam state"), "{err}");
        assert_eq!(sgd.step_count(), 0);

        train_on_random_gradients(&varmap, &mut Rng::new(1), 1, |loss| sgd.backward_step(loss));
        let sgd_state: HashMap<String, Tensor> = sgd.state_tensors().unwrap().into_iter().collect();
        assert!(!adam.has_state(&sgd_state));
        let err = adam.load_state_tensors(&sgd_state).unwrap_err().to_string();
        assert!(err.contains("missing `adam.step`"), "{err}");
        assert!(err.contains("holds sgd state"), "{err}");
        assert_eq!(adam.step_count(), 1);
    }
}
