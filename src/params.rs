//! Hyperparameters that can change while a job runs: their names, steps and valid ranges.

use serde::{Deserialize, Serialize};

/// Largest batch accepted from a file, `--set` or the keyboard: well above what these models
/// train well with, and low enough that a DCGAN or CNN step at this size fits in a few GB
/// (a DCGAN step at 65,536 takes over 20 GB).
pub const MAX_BATCH_SIZE: usize = 4096;
/// Largest learning rate accepted anywhere: far past where any of these models diverge.
pub const MAX_LR: f64 = 10.0;
/// Most passes over the data a run may ask for.
pub const MAX_EPOCHS: usize = 10_000;
/// Most checkpoints a run may keep on disk.
pub const MAX_KEEP_CHECKPOINTS: usize = 1_000;

/// A hyperparameter the user can change from the keyboard; typed so that a command is never a
/// string to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
pub enum Param {
    /// Learning rate (classifier, RL).
    Lr,
    /// Examples per step.
    BatchSize,
    /// Total passes over the data.
    Epochs,
    /// Generator learning rate.
    LrG,
    /// Discriminator learning rate.
    LrD,
    /// Discriminator updates per generator update.
    DSteps,
    /// Target for real images in the discriminator loss (1.0 = none).
    LabelSmoothing,
    /// RL discount factor.
    Gamma,
    /// ε-greedy exploration rate (overrides the schedule once set).
    Epsilon,
    /// Env steps between target-network syncs.
    TargetPeriod,
    /// PPO entropy bonus coefficient.
    EntropyCoef,
}

/// How ←/→ move a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stepping {
    /// ×/÷ 2 (learning rates).
    Log2,
    /// ± 1, integers.
    Integer,
    /// Doubles/halves an integer (batch sizes, periods).
    IntegerLog2,
    /// ± a fixed amount within bounds.
    Linear(f64),
}

impl Param {
    /// The parameter a key names (the inverse of [`Param::key`]); `None` for an unknown key.
    pub fn from_key(key: &str) -> Option<Param> {
        <Param as strum::IntoEnumIterator>::iter().find(|p| p.key() == key)
    }

    /// The key used in scenarios, `--set`, logs and on screen.
    pub fn key(self) -> &'static str {
        match self {
            Param::Lr => "lr",
            Param::BatchSize => "batch_size",
            Param::Epochs => "epochs",
            Param::LrG => "lr_g",
            Param::LrD => "lr_d",
            Param::DSteps => "d_steps",
            Param::LabelSmoothing => "label_smoothing",
            Param::Gamma => "gamma",
            Param::Epsilon => "epsilon",
            Param::TargetPeriod => "target_period",
            Param::EntropyCoef => "ent_coef",
        }
    }

    /// Short label for the hyperparameter panel.
    pub fn label(self) -> &'static str {
        match self {
            Param::BatchSize => "batch",
            Param::LabelSmoothing => "smooth",
            Param::TargetPeriod => "target",
            other => other.key(),
        }
    }

    /// How the arrow keys step this parameter.
    pub fn stepping(self) -> Stepping {
        match self {
            Param::Lr | Param::LrG | Param::LrD | Param::EntropyCoef => Stepping::Log2,
            Param::BatchSize | Param::TargetPeriod => Stepping::IntegerLog2,
            Param::Epochs | Param::DSteps => Stepping::Integer,
            Param::LabelSmoothing => Stepping::Linear(0.05),
            Param::Gamma => Stepping::Linear(0.005),
            Param::Epsilon => Stepping::Linear(0.05),
        }
    }

    /// Accepts a value or says why not, so the UI refuses bad input before any job sees it.
    pub fn validate(self, v: f64) -> Result<f64, String> {
        if !v.is_finite() {
            return Err(format!("{} must be a finite number", self.key()));
        }
        let int = |lo: f64, hi: f64| {
            if v.fract() != 0.0 {
                Err(format!("{} must be a whole number", self.key()))
            } else if v < lo || v > hi {
                Err(format!("{} must be between {lo} and {hi}", self.key()))
            } else {
                Ok(v)
            }
        };
        match self {
            Param::Lr | Param::LrG | Param::LrD => {
                if v <= 0.0 {
                    Err(format!("{} must be above 0", self.key()))
                } else if v > MAX_LR {
                    Err(format!("{} must be at most {MAX_LR}", self.key()))
                } else {
                    Ok(v)
                }
            }
            Param::BatchSize => int(1.0, MAX_BATCH_SIZE as f64),
            Param::Epochs => int(1.0, MAX_EPOCHS as f64),
            Param::DSteps => int(1.0, 100.0),
            Param::TargetPeriod => int(1.0, 1e9),
            Param::LabelSmoothing => {
                if (0.5..=1.0).contains(&v) {
                    Ok(v)
                } else {
                    Err("label_smoothing (real target) must be in [0.5, 1]".into())
                }
            }
            Param::Gamma => {
                if (0.0..=1.0).contains(&v) {
                    Ok(v)
                } else {
                    Err("gamma must be in [0, 1]".into())
                }
            }
            Param::Epsilon => {
                if (0.0..=1.0).contains(&v) {
                    Ok(v)
                } else {
                    Err("epsilon must be in [0, 1]".into())
                }
            }
            Param::EntropyCoef => {
                if (0.0..=1.0).contains(&v) {
                    Ok(v)
                } else {
                    Err("ent_coef must be in [0, 1]".into())
                }
            }
        }
    }

    /// The value one arrow press away, clamped into the valid range.
    pub fn stepped(self, v: f64, up: bool) -> f64 {
        let next = match self.stepping() {
            Stepping::Log2 => {
                if up {
                    v * 2.0
                } else {
                    v / 2.0
                }
            }
            Stepping::Integer => v + if up { 1.0 } else { -1.0 },
            Stepping::IntegerLog2 => {
                if up {
                    v * 2.0
                } else {
                    (v / 2.0).floor()
                }
            }
            Stepping::Linear(d) => {
                let n = v + if up { d } else { -d };
                (n / d).round() * d
            }
        };
        match self.validate(next) {
            Ok(n) => n,
            Err(_) => v,
        }
    }

    /// Formats a value the way the panel shows it.
    pub fn format(self, v: f64) -> String {
        match self.stepping() {
            Stepping::Log2 => format!("{v:.1e}"),
            Stepping::Integer | Stepping::IntegerLog2 => format!("{}", v as i64),
            Stepping::Linear(_) => format!("{v:.3}"),
        }
    }

    /// Parses what the user typed after Enter.
    pub fn parse(self, text: &str) -> Result<f64, String> {
        let v: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{:?} is not a number ({})", text.trim(), self.key()))?;
        self.validate(v)
    }
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rates_step_on_a_log_scale_and_refuse_nonsense() {
        assert_eq!(Param::Lr.stepped(1e-3, true), 2e-3);
        assert_eq!(Param::Lr.stepped(1e-3, false), 5e-4);
        assert!(Param::Lr.validate(0.0).is_err());
        assert!(Param::Lr.validate(-1.0).is_err());
        assert!(Param::Lr.validate(f64::NAN).is_err());
        assert!(Param::Lr.parse("abc").unwrap_err().contains("not a number"));
        assert_eq!(Param::Lr.parse(" 3e-4 ").unwrap(), 3e-4);
    }

    #[test]
    fn integer_params_stay_whole_and_in_range() {
        assert!(Param::BatchSize.validate(0.0).is_err());
        assert!(Param::BatchSize.validate(3.5).is_err());
        assert_eq!(Param::BatchSize.stepped(32.0, true), 64.0);
        assert_eq!(Param::BatchSize.stepped(1.0, false), 1.0);
        assert_eq!(Param::Epochs.stepped(5.0, false), 4.0);
        assert_eq!(Param::BatchSize.format(64.0), "64");
        assert_eq!(Param::Lr.format(1e-3), "1.0e-3");
    }
}
