//! gym-rs 0.3 environments behind [`Environment`]: its CartPole and MountainCar.
//!
//! Known differences from Gymnasium, kept as gym-rs has them (`gradtop env check --env
//! gym-rs/cartpole` measures the effect): gym-rs 0.3's CartPole computes `polemass_length` as
//! `masspole + length` (0.6) instead of `masspole * length` (0.05), and it never truncates; its
//! default initial states are uniform in ±0.5 instead of ±0.05. The adapters pass reset bounds
//! of ±0.05 and add Gymnasium's time limits (500 steps for CartPole, 200 for MountainCar).

use gym_rs::core::Env;
use gym_rs::envs::classical_control::cartpole::{CartPoleEnv, CartPoleObservation};
use gym_rs::envs::classical_control::mountain_car::{MountainCarEnv, MountainCarObservation};
use gym_rs::spaces::BoxR;
use gym_rs::utils::custom::types::O64;
use gym_rs::utils::renderer::RenderMode;

use super::{EnvError, Environment, Pose, StepOutcome};
use crate::rng::Rng;

/// Gymnasium's CartPole-v1 initial-state bound, passed to gym-rs's reset.
const CARTPOLE_RESET_BOUND: f64 = 0.05;
/// Gymnasium's TimeLimit for CartPole-v1.
const CARTPOLE_MAX_STEPS: u32 = 500;
/// Gymnasium's TimeLimit for MountainCar-v0.
const MOUNTAINCAR_MAX_STEPS: u32 = 200;

/// Holds a gym-rs env so it can move to a job thread.
///
/// gym-rs envs own a `Screen` whose SDL window handle is `!Send`. The adapters create their
/// envs with `RenderMode::None` and never call `render`, so that handle is never created (the
/// `Option` stays `None`) and nothing thread-bound exists inside.
struct Unrendered<E>(E);

// SAFETY: see the type's comment: with RenderMode::None and no render call, the only !Send
// field (the SDL GUI) is always `None`, so no thread-affine data is ever moved across threads.
unsafe impl<E> Send for Unrendered<E> {}

fn o64(v: f64) -> O64 {
    O64::from(v)
}

fn cartpole_obs(s: &[f64]) -> CartPoleObservation {
    CartPoleObservation::new(o64(s[0]), o64(s[1]), o64(s[2]), o64(s[3]))
}

/// gym-rs 0.3's CartPole with Gymnasium's reset bounds and time limit.
pub struct GymRsCartPole {
    env: Unrendered<CartPoleEnv>,
    steps: u32,
    rng: Rng,
}

impl GymRsCartPole {
    /// A gym-rs CartPole whose resets are seeded from `seed` (deterministic across runs).
    pub fn new(seed: u64) -> Self {
        let mut me = Self {
            env: Unrendered(CartPoleEnv::new(RenderMode::None)),
            steps: 0,
            rng: Rng::new(seed),
        };
        let mut obs = [0.0; 4];
        me.reset(None, &mut obs);
        me
    }
}

impl Environment for GymRsCartPole {
    fn name(&self) -> &'static str {
        "gym-rs/cartpole"
    }
    fn obs_dim(&self) -> usize {
        4
    }
    fn action_count(&self) -> usize {
        2
    }
    fn max_episode_steps(&self) -> u32 {
        CARTPOLE_MAX_STEPS
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f64]) {
        if let Some(s) = seed {
            self.rng = Rng::new(s);
        }
        // gym-rs reseeds from the OS when given no seed; draw one to stay reproducible.
        let env_seed = self.rng.next_u64();
        let b = CARTPOLE_RESET_BOUND;
        let bounds = BoxR::new(cartpole_obs(&[-b; 4]), cartpole_obs(&[b; 4]));
        let (o, _) = self.env.0.reset(Some(env_seed), false, Some(bounds));
        obs.copy_from_slice(&Vec::<f64>::from(o));
        self.steps = 0;
    }
    fn step(&mut self, action: usize, obs: &mut [f64]) -> Result<StepOutcome, EnvError> {
        if action >= 2 {
            return Err(EnvError::InvalidAction { action, count: 2 });
        }
        let r = self.env.0.step(action);
        obs.copy_from_slice(&Vec::<f64>::from(r.observation));
        self.steps += 1;
        Ok(StepOutcome {
            reward: r.reward.into_inner(),
            terminated: r.done,
            truncated: r.truncated || self.steps >= CARTPOLE_MAX_STEPS,
        })
    }
    fn state(&self) -> Vec<f64> {
        Vec::from(self.env.0.state)
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        if state.len() != 4 {
            return Err(EnvError::StateLength {
                env: self.name().into(),
                got: state.len(),
                expected: 4,
            });
        }
        self.env.0.state = cartpole_obs(state);
        self.env.0.steps_beyond_terminated = None;
        self.steps = 0;
        Ok(())
    }
    fn pose(&self) -> Pose {
        let s = Vec::from(self.env.0.state);
        Pose {
            x: s[0],
            theta: s[2],
        }
    }
}

/// gym-rs 0.3's MountainCar (3 actions: push left, none, right) with a 200-step time limit.
pub struct GymRsMountainCar {
    env: Unrendered<MountainCarEnv>,
    steps: u32,
    rng: Rng,
}

impl GymRsMountainCar {
    /// A gym-rs MountainCar whose resets are seeded from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut me = Self {
            env: Unrendered(MountainCarEnv::new(RenderMode::None)),
            steps: 0,
            rng: Rng::new(seed),
        };
        let mut obs = [0.0; 2];
        me.reset(None, &mut obs);
        me
    }
}

impl Environment for GymRsMountainCar {
    fn name(&self) -> &'static str {
        "gym-rs/mountaincar"
    }
    fn obs_dim(&self) -> usize {
        2
    }
    fn action_count(&self) -> usize {
        3
    }
    fn max_episode_steps(&self) -> u32 {
        MOUNTAINCAR_MAX_STEPS
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f64]) {
        if let Some(s) = seed {
            self.rng = Rng::new(s);
        }
        let env_seed = self.rng.next_u64();
        let (o, _) = self.env.0.reset(Some(env_seed), false, None);
        obs.copy_from_slice(&Vec::<f64>::from(o));
        self.steps = 0;
    }
    fn step(&mut self, action: usize, obs: &mut [f64]) -> Result<StepOutcome, EnvError> {
        if action >= 3 {
            return Err(EnvError::InvalidAction { action, count: 3 });
        }
        let r = self.env.0.step(action);
        obs.copy_from_slice(&Vec::<f64>::from(r.observation));
        self.steps += 1;
        Ok(StepOutcome {
            reward: r.reward.into_inner(),
            terminated: r.done,
            truncated: r.truncated || self.steps >= MOUNTAINCAR_MAX_STEPS,
        })
    }
    fn state(&self) -> Vec<f64> {
        Vec::from(self.env.0.state)
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        if state.len() != 2 {
            return Err(EnvError::StateLength {
                env: self.name().into(),
                got: state.len(),
                expected: 2,
            });
        }
        self.env.0.state = MountainCarObservation::new(o64(state[0]), o64(state[1]));
        self.steps = 0;
        Ok(())
    }
    fn pose(&self) -> Pose {
        let x = self.env.0.state.position.into_inner();
        // The track is y = 0.45 sin(3x) + 0.55; its slope angle is atan(1.35 cos 3x).
        Pose {
            x,
            theta: (1.35 * (3.0 * x).cos()).atan(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envs::check::{check_fixture, format_report};
    use crate::envs::make_env;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn gym_rs_cartpole_resets_within_gymnasium_bounds_and_truncates_at_500() {
        let mut env = GymRsCartPole::new(1);
        assert_send(&env);
        let mut obs = [0.0; 4];
        env.reset(Some(9), &mut obs);
        let first = obs;
        assert!(obs.iter().all(|v| v.abs() <= 0.05), "{obs:?}");
        env.reset(Some(9), &mut obs);
        assert_eq!(obs, first, "seeded resets repeat");
        env.set_state(&[0.0; 4]).unwrap();
        let mut truncated_at = None;
        for t in 1..=500u32 {
            let a = usize::from(obs[2] + 0.5 * obs[3] + 0.01 * obs[0] + 0.1 * obs[1] > 0.0);
            let out = env.step(a, &mut obs).unwrap();
            if out.terminated {
                break;
            }
            if out.truncated {
                truncated_at = Some(t);
            }
        }
        // Either the controller fails on gym-rs's heavier dynamics, or the time limit holds.
        if let Some(t) = truncated_at {
            assert_eq!(t, 500);
        }
        assert!(env.step(2, &mut obs).is_err());
    }

    #[test]
    fn gym_rs_mountaincar_steps_and_truncates_at_200() {
        let mut env = make_env("gym-rs/mountaincar", 3).unwrap();
        let mut obs = [0.0; 2];
        env.reset(Some(3), &mut obs);
        assert!((-0.6..=-0.4).contains(&obs[0]) && obs[1] == 0.0, "{obs:?}");
        for t in 1..=200u32 {
            let out = env.step(1, &mut obs).unwrap();
            assert_eq!(out.reward, -1.0);
            assert_eq!(out.truncated, t == 200);
        }
    }

    /// gym-rs's CartPole is not Gymnasium's: the replay deviates (reported, not hidden).
    #[test]
    fn gym_rs_cartpole_fixture_check_reports_its_deviation() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cartpole_v1_gymnasium.json");
        let report = check_fixture(&path, "gym-rs/cartpole").unwrap();
        assert_eq!(report.env, "gym-rs/cartpole");
        assert!(!report.passed());
        assert!(report.max_deviation > 1e-3, "{}", format_report(&report));
    }
}
