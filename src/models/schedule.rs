//! Learning-rate schedules: a scenario's `[schedule]` table and the factor it puts on the base
//! learning rate at each optimizer step.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

/// How the learning rate changes after the warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// The base learning rate throughout (after any warm-up).
    #[default]
    Constant,
    /// Multiplied by `gamma` every `step_every` steps, as `torch.optim.lr_scheduler.StepLR`.
    Step,
    /// Half a cosine from 1 down to `min_factor` over the rest of the run, as
    /// `torch.optim.lr_scheduler.CosineAnnealingLR` with `T_max` = steps after warm-up.
    Cosine,
}

impl ScheduleKind {
    /// The name used in scenario files and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Constant => "constant",
            Self::Step => "step",
            Self::Cosine => "cosine",
        }
    }
}

/// A learning-rate schedule: the learning rate of optimizer step `t` (0-based) is
/// `base_lr × factor(t, total_steps)`.
///
/// The schedule only ever scales the base learning rate: a live change of the learning rate by
/// the user replaces `base_lr`, so the schedule keeps its shape around the new value rather than
/// being overwritten by it (or overwriting it at the next step).
///
/// ```toml
/// [schedule]
/// kind = "cosine"     # constant | step | cosine
/// warmup_steps = 500  # factor (t + 1) / warmup_steps for t < warmup_steps
/// step_every = 2000   # step: × gamma every step_every steps after the warm-up
/// gamma = 0.5         # step: in (0, 1]
/// min_factor = 0.0    # cosine: the factor at the end of the run, in [0, 1]
/// ```
///
/// Keys that the chosen kind does not use are still checked but have no effect.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Schedule {
    /// The shape after the warm-up.
    pub kind: ScheduleKind,
    /// Steps of linear warm-up: step `t < warmup_steps` gets `(t + 1) / warmup_steps`, so the
    /// first step runs at `base_lr / warmup_steps` and the last warm-up step at `base_lr`
    /// (PyTorch's `LinearLR` shifted by one step so that no step runs at 0). 0: no warm-up.
    pub warmup_steps: u64,
    /// `step`: steps after the warm-up between two multiplications by `gamma`.
    pub step_every: u64,
    /// `step`: the factor applied every `step_every` steps, in (0, 1].
    pub gamma: f64,
    /// `cosine`: the factor the cosine ends at on the run's last step count, in [0, 1].
    pub min_factor: f64,
}

/// `step_every` when the scenario does not say.
pub const DEFAULT_STEP_EVERY: u64 = 1000;
/// `gamma` when the scenario does not say (`StepLR`'s default).
pub const DEFAULT_GAMMA: f64 = 0.1;

impl Default for Schedule {
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Constant,
            warmup_steps: 0,
            step_every: DEFAULT_STEP_EVERY,
            gamma: DEFAULT_GAMMA,
            min_factor: 0.0,
        }
    }
}

/// A `[schedule]` value that parses but cannot work, naming its key (`schedule.gamma`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key} = {value}: {reason}")]
pub struct ScheduleError {
    /// The refused key, with its table: `schedule.gamma`.
    pub key: &'static str,
    /// The value as given.
    pub value: String,
    /// What the key accepts.
    pub reason: &'static str,
}

impl Schedule {
    /// True for the default: a constant learning rate without warm-up (what a scenario without
    /// `[schedule]` gets, so its run files stay as they were).
    pub fn is_constant(&self) -> bool {
        *self == Self::default()
    }

    /// Refuses values that parse but cannot work, naming the key.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        let refuse = |key, value: &dyn ToString, reason| ScheduleError {
            key,
            value: value.to_string(),
            reason,
        };
        if self.step_every == 0 {
            return Err(refuse("schedule.step_every", &0, "must be at least 1"));
        }
        if !(self.gamma > 0.0 && self.gamma <= 1.0) {
            return Err(refuse("schedule.gamma", &self.gamma, "must be in (0, 1]"));
        }
        if !(0.0..=1.0).contains(&self.min_factor) {
            return Err(refuse(
                "schedule.min_factor",
                &self.min_factor,
                "must be in [0, 1]",
            ));
        }
        Ok(())
    }

    /// The multiplier of the base learning rate at optimizer step `step` (0-based) of a run of
    /// `total_steps` steps. Pure, so a resumed run recomputes it from its step count. Past
    /// `total_steps` (a run extended live) the cosine stays at `min_factor`.
    pub fn factor(&self, step: u64, total_steps: u64) -> f64 {
        if step < self.warmup_steps {
            return (step + 1) as f64 / self.warmup_steps as f64;
        }
        let after_warmup = step - self.warmup_steps;
        match self.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::Step => {
                let decays = after_warmup / self.step_every.max(1);
                self.gamma.powf(decays as f64)
            }
            ScheduleKind::Cosine => {
                let span = total_steps.saturating_sub(self.warmup_steps);
                let progress = if span == 0 {
                    1.0
                } else {
                    after_warmup.min(span) as f64 / span as f64
                };
                self.min_factor + (1.0 - self.min_factor) * 0.5 * (1.0 + (PI * progress).cos())
            }
        }
    }

    /// The learning rate of step `step`: `base_lr × factor(step, total_steps)`.
    pub fn learning_rate(&self, base_lr: f64, step: u64, total_steps: u64) -> f64 {
        base_lr * self.factor(step, total_steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<Schedule, toml::de::Error> {
        toml::from_str(toml_text)
    }

    fn assert_factor(s: &Schedule, step: u64, total: u64, want: f64) {
        let got = s.factor(step, total);
        assert!(
            (got - want).abs() < 1e-12,
            "{s:?} at step {step} of {total}: {got}, expected {want}"
        );
    }

    #[test]
    fn default_is_a_constant_rate_without_warm_up() {
        let s = parse("").unwrap();
        assert_eq!(s, Schedule::default());
        assert_eq!(s.kind, ScheduleKind::Constant);
        assert_eq!(s.warmup_steps, 0);
        for step in [0, 1, 999, 10_000] {
            assert_factor(&s, step, 1000, 1.0);
        }
        assert_eq!(s.learning_rate(3e-4, 7, 100), 3e-4);
        s.validate().unwrap();
    }

    #[test]
    fn parses_every_key_and_refuses_unknown_ones() {
        let s = parse(
            "kind = \"cosine\"\nwarmup_steps = 500\nstep_every = 2000\ngamma = 0.5\n\
             min_factor = 0.05\n",
        )
        .unwrap();
        let want = Schedule {
            kind: ScheduleKind::Cosine,
            warmup_steps: 500,
            step_every: 2000,
            gamma: 0.5,
            min_factor: 0.05,
        };
        assert_eq!(s, want);
        let round_trip: Schedule = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(round_trip, want);

        let err = parse("kind = \"cosine\"\nwarmup = 5\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `warmup`"), "{err}");
        let err = parse("kind = \"linear\"\n").unwrap_err();
        assert!(err.to_string().contains("linear"), "{err}");
    }

    #[test]
    fn warm_up_rises_linearly_to_the_base_rate() {
        let s = Schedule {
            warmup_steps: 4,
            ..Schedule::default()
        };
        // (t + 1) / 4 for t < 4, then the constant 1.
        assert_factor(&s, 0, 100, 0.25);
        assert_factor(&s, 1, 100, 0.5);
        assert_factor(&s, 3, 100, 1.0);
        assert_factor(&s, 4, 100, 1.0);
        assert_factor(&s, 99, 100, 1.0);
        assert!((s.learning_rate(0.1, 0, 100) - 0.025).abs() < 1e-15);
    }

    #[test]
    fn step_decay_multiplies_by_gamma_at_each_boundary_after_warm_up() {
        let s = Schedule {
            kind: ScheduleKind::Step,
            step_every: 10,
            gamma: 0.5,
            ..Schedule::default()
        };
        assert_factor(&s, 0, 100, 1.0);
        assert_factor(&s, 9, 100, 1.0);
        assert_factor(&s, 10, 100, 0.5);
        assert_factor(&s, 19, 100, 0.5);
        assert_factor(&s, 20, 100, 0.25);
        assert_factor(&s, 35, 100, 0.125);

        // With 5 warm-up steps the boundaries move 5 steps later: 15, 25, …
        let warm = Schedule {
            warmup_steps: 5,
            ..s
        };
        assert_factor(&warm, 0, 100, 0.2);
        assert_factor(&warm, 4, 100, 1.0);
        assert_factor(&warm, 14, 100, 1.0);
        assert_factor(&warm, 15, 100, 0.5);
        assert_factor(&warm, 25, 100, 0.25);
    }

    #[test]
    fn cosine_falls_from_one_to_min_factor_over_the_steps_after_warm_up() {
        let s = Schedule {
            kind: ScheduleKind::Cosine,
            min_factor: 0.1,
            ..Schedule::default()
        };
        assert_factor(&s, 0, 1000, 1.0);
        // Half-way: min + (1 − min)·(1 + cos(π/2))/2 = (1 + min)/2.
        assert_factor(&s, 500, 1000, 0.55);
        // A quarter: 0.1 + 0.9·(1 + cos(π/4))/2 = 0.1 + 0.9·0.8535533905932737.
        assert_factor(&s, 250, 1000, 0.1 + 0.9 * 0.853_553_390_593_273_7);
        assert_factor(&s, 1000, 1000, 0.1);
        assert_factor(&s, 5000, 1000, 0.1);

        // 100 warm-up steps: the cosine spans the remaining 1000 of 1100.
        let warm = Schedule {
            warmup_steps: 100,
            ..s
        };
        assert_factor(&warm, 0, 1100, 0.01);
        assert_factor(&warm, 99, 1100, 1.0);
        assert_factor(&warm, 100, 1100, 1.0);
        assert_factor(&warm, 600, 1100, 0.55);
        assert_factor(&warm, 1100, 1100, 0.1);

        // A run no longer than its warm-up ends at min_factor at once.
        assert_factor(&warm, 100, 50, 0.1);

        let to_zero = Schedule {
            min_factor: 0.0,
            ..s
        };
        assert_factor(&to_zero, 500, 1000, 0.5);
    }

    #[test]
    fn validation_names_the_refused_key() {
        let cases: [(Schedule, &str); 7] = [
            (
                Schedule {
                    gamma: 0.0,
                    ..Schedule::default()
                },
                "schedule.gamma = 0: must be in (0, 1]",
            ),
            (
                Schedule {
                    gamma: 1.5,
                    ..Schedule::default()
                },
                "schedule.gamma = 1.5: must be in (0, 1]",
            ),
            (
                Schedule {
                    gamma: f64::NAN,
                    ..Schedule::default()
                },
                "schedule.gamma = NaN: must be in (0, 1]",
            ),
            (
                Schedule {
                    step_every: 0,
                    ..Schedule::default()
                },
                "schedule.step_every = 0: must be at least 1",
            ),
            (
                Schedule {
                    min_factor: -0.1,
                    ..Schedule::default()
                },
                "schedule.min_factor = -0.1: must be in [0, 1]",
            ),
            (
                Schedule {
                    min_factor: 1.5,
                    ..Schedule::default()
                },
                "schedule.min_factor = 1.5: must be in [0, 1]",
            ),
            (
                Schedule {
                    min_factor: f64::NAN,
                    ..Schedule::default()
                },
                "schedule.min_factor = NaN: must be in [0, 1]",
            ),
        ];
        for (schedule, want) in cases {
            let err = schedule.validate().unwrap_err();
            assert_eq!(err.to_string(), want);
        }
        let edges = Schedule {
            kind: ScheduleKind::Step,
            warmup_steps: 10,
            step_every: 1,
            gamma: 1.0,
            min_factor: 1.0,
        };
        edges.validate().unwrap();
    }
}
