//! CartPole-v1 with Gymnasium's exact dynamics: f64 state, explicit Euler, and the same
//! floating-point operation order as gymnasium/envs/classic_control/cartpole.py, so recorded
//! Gymnasium trajectories replay bit-for-bit (up to libm differences in sin/cos).

use super::{EnvError, EnvState, Environment, Pose, StepOutcome};
use crate::rng::Rng;

/// Physical constants and limits of CartPole; [`CartPoleParams::GYMNASIUM`] is CartPole-v1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CartPoleParams {
    /// Gravitational acceleration, m/s².
    pub gravity: f64,
    /// Cart mass, kg.
    pub masscart: f64,
    /// Pole mass, kg.
    pub masspole: f64,
    /// Half the pole's length, m.
    pub length: f64,
    /// Magnitude of the force pushing the cart, N.
    pub force_mag: f64,
    /// Integration time step, s (50 steps per simulated second).
    pub tau_s: f64,
    /// |θ| beyond this terminates the episode, rad.
    pub theta_threshold_radians: f64,
    /// |x| beyond this terminates the episode, m.
    pub x_threshold: f64,
    /// Episodes are truncated after this many steps.
    pub max_episode_steps: u32,
    /// Initial state components are uniform in ±this.
    pub reset_bound: f64,
}

impl CartPoleParams {
    /// Gymnasium CartPole-v1 (with its TimeLimit of 500 steps).
    pub const GYMNASIUM: CartPoleParams = CartPoleParams {
        gravity: 9.8,
        masscart: 1.0,
        masspole: 0.1,
        length: 0.5,
        force_mag: 10.0,
        tau_s: 0.02,
        // Same expression and evaluation order as Gymnasium: 12 * 2 * math.pi / 360.
        theta_threshold_radians: 12.0 * 2.0 * std::f64::consts::PI / 360.0,
        x_threshold: 2.4,
        max_episode_steps: 500,
        reset_bound: 0.05,
    };
}

impl Default for CartPoleParams {
    fn default() -> Self {
        Self::GYMNASIUM
    }
}

/// Observation/state layout: `[x, x_dot, theta, theta_dot]`.
pub const CARTPOLE_OBS_DIM: usize = 4;

/// One CartPole-v1 environment (physics plus Gymnasium's TimeLimit wrapper).
#[derive(Debug, Clone)]
pub struct CartPole {
    params: CartPoleParams,
    state: [f64; 4],
    elapsed_steps: u32,
    terminated: bool,
    rng: Rng,
}

impl CartPole {
    /// A CartPole-v1 env whose resets draw from a generator seeded with `seed`; the state is
    /// reset once so the env is ready to step.
    pub fn new(seed: u64) -> Self {
        Self::with_params(CartPoleParams::GYMNASIUM, seed)
    }

    /// A CartPole with custom constants (tests, variants).
    pub fn with_params(params: CartPoleParams, seed: u64) -> Self {
        let mut env = Self {
            params,
            state: [0.0; 4],
            elapsed_steps: 0,
            terminated: false,
            rng: Rng::new(seed),
        };
        env.reset_state(None);
        env
    }

    /// The constants in use.
    pub fn params(&self) -> &CartPoleParams {
        &self.params
    }

    /// Resets and returns the initial observation (Gymnasium's `reset(seed=…)`).
    pub fn reset_state(&mut self, seed: Option<u64>) -> [f64; 4] {
        if let Some(seed) = seed {
            self.rng = Rng::new(seed);
        }
        let b = self.params.reset_bound;
        for v in &mut self.state {
            *v = self.rng.uniform(-b, b);
        }
        self.elapsed_steps = 0;
        self.terminated = false;
        self.state
    }

    /// Steps with action 0 (push left) or 1 (push right) and returns
    /// `(obs, reward, terminated, truncated)`. Any other action is treated as an error.
    pub fn step_action(&mut self, action: usize) -> Result<([f64; 4], f64, bool, bool), EnvError> {
        if action > 1 {
            return Err(EnvError::InvalidAction { action, count: 2 });
        }
        let o = self.step_unchecked(action == 1);
        Ok((self.state, o.reward, o.terminated, o.truncated))
    }

    /// The physics step; `push_right` is action 1.
    #[inline]
    pub fn step_unchecked(&mut self, push_right: bool) -> StepOutcome {
        let p = &self.params;
        let [x, x_dot, theta, theta_dot] = self.state;
        let force = if push_right {
            p.force_mag
        } else {
            -p.force_mag
        };
        let total_mass = p.masspole + p.masscart;
        let polemass_length = p.masspole * p.length;
        let costheta = theta.cos();
        let sintheta = theta.sin();
        // Gymnasium's expressions, term by term and in the same order (no FMA, no reassociation).
        let temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass;
        let thetaacc = (p.gravity * sintheta - costheta * temp)
            / (p.length * (4.0 / 3.0 - p.masspole * (costheta * costheta) / total_mass));
        let xacc = temp - polemass_length * thetaacc * costheta / total_mass;
        let x = x + p.tau_s * x_dot;
        let x_dot = x_dot + p.tau_s * xacc;
        let theta = theta + p.tau_s * theta_dot;
        let theta_dot = theta_dot + p.tau_s * thetaacc;
        self.state = [x, x_dot, theta, theta_dot];
        self.elapsed_steps += 1;

        let terminated = x < -p.x_threshold
            || x > p.x_threshold
            || theta < -p.theta_threshold_radians
            || theta > p.theta_threshold_radians;
        // Gymnasium gives +1 on the terminating step and 0 for steps taken after it.
        let reward = if self.terminated { 0.0 } else { 1.0 };
        self.terminated |= terminated;
        // TimeLimit sets truncated whenever the step budget is used up, even on a terminal step.
        let truncated = self.elapsed_steps >= p.max_episode_steps;
        StepOutcome {
            reward,
            terminated,
            truncated,
        }
    }

    /// The raw state `[x, x_dot, theta, theta_dot]`.
    pub fn raw_state(&self) -> [f64; 4] {
        self.state
    }

    /// Steps taken since the last reset.
    pub fn elapsed_steps(&self) -> u32 {
        self.elapsed_steps
    }
}

impl Environment for CartPole {
    fn name(&self) -> &'static str {
        "cartpole"
    }
    fn obs_dim(&self) -> usize {
        CARTPOLE_OBS_DIM
    }
    fn action_count(&self) -> usize {
        2
    }
    fn max_episode_steps(&self) -> u32 {
        self.params.max_episode_steps
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f64]) {
        let s = self.reset_state(seed);
        obs.copy_from_slice(&s);
    }
    #[inline]
    fn step(&mut self, action: usize, obs: &mut [f64]) -> Result<StepOutcome, EnvError> {
        if action > 1 {
            return Err(EnvError::InvalidAction { action, count: 2 });
        }
        let outcome = self.step_unchecked(action == 1);
        obs.copy_from_slice(&self.state);
        Ok(outcome)
    }
    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        let s: [f64; 4] = state.try_into().map_err(|_| EnvError::StateLength {
            env: "cartpole".into(),
            got: state.len(),
            expected: CARTPOLE_OBS_DIM,
        })?;
        self.state = s;
        self.elapsed_steps = 0;
        self.terminated = false;
        Ok(())
    }
    fn pose(&self) -> Pose {
        Pose {
            x: self.state[0],
            theta: self.state[2],
        }
    }
    fn snapshot(&self) -> Result<EnvState, EnvError> {
        Ok(EnvState {
            physics: self.state.to_vec(),
            elapsed_steps: self.elapsed_steps,
            terminated: self.terminated,
            rng: self.rng.state(),
        })
    }
    fn restore(&mut self, state: &EnvState) -> Result<(), EnvError> {
        self.state = state
            .physics
            .as_slice()
            .try_into()
            .map_err(|_| EnvError::StateLength {
                env: "cartpole".into(),
                got: state.physics.len(),
                expected: CARTPOLE_OBS_DIM,
            })?;
        self.elapsed_steps = state.elapsed_steps;
        self.terminated = state.terminated;
        self.rng = Rng::from_state(state.rng);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_is_seeded_and_within_bounds() {
        let mut a = CartPole::new(0);
        let mut b = CartPole::new(1);
        let sa = a.reset_state(Some(42));
        let sb = b.reset_state(Some(42));
        assert_eq!(sa, sb);
        for v in sa {
            assert!(v.abs() < 0.05, "{v}");
        }
        assert_ne!(
            a.reset_state(None),
            sa,
            "an unseeded reset continues the stream"
        );
    }

    #[test]
    fn terminates_exactly_past_the_x_limit() {
        let mut env = CartPole::new(0);
        // At x = 2.4 with zero velocity the next x stays 2.4: not beyond the limit.
        env.set_state(&[2.4, 0.0, 0.0, 0.0]).unwrap();
        let (obs, r, term, trunc) = env.step_action(1).unwrap();
        assert_eq!(obs[0], 2.4);
        assert_eq!((r, term, trunc), (1.0, false, false));
        // Moving right: x > 2.4 terminates, with reward 1 on the terminating step.
        env.set_state(&[2.4, 0.1, 0.0, 0.0]).unwrap();
        let (_, r, term, trunc) = env.step_action(1).unwrap();
        assert_eq!((r, term, trunc), (1.0, true, false));
        // A step after termination earns nothing, as in Gymnasium.
        let (_, r, _, _) = env.step_action(1).unwrap();
        assert_eq!(r, 0.0);
        env.set_state(&[-2.4, -0.1, 0.0, 0.0]).unwrap();
        assert!(env.step_action(0).unwrap().2);
    }

    #[test]
    fn terminates_past_the_angle_limit_and_not_at_it() {
        let thr = CartPoleParams::GYMNASIUM.theta_threshold_radians;
        assert_eq!(thr, 0.20943951023931953);
        let mut env = CartPole::new(0);
        env.set_state(&[0.0, 0.0, thr, 0.0]).unwrap();
        let (obs, _, term, _) = env.step_action(0).unwrap();
        assert_eq!(obs[2], thr, "theta only moves with theta_dot");
        assert!(!term, "theta == threshold is not beyond it");
        env.set_state(&[0.0, 0.0, -thr, -1e-3]).unwrap();
        assert!(env.step_action(0).unwrap().2);
    }

    #[test]
    fn truncates_at_500_steps_and_not_before() {
        let mut env = CartPole::new(3);
        // The balancing controller that recorded the fixture's truncated episode.
        env.set_state(&[0.0; 4]).unwrap();
        for t in 1..=500u32 {
            let [x, xd, th, thd] = env.raw_state();
            let a = usize::from(th + 0.5 * thd + 0.01 * x + 0.1 * xd > 0.0);
            let (_, _, term, trunc) = env.step_action(a).unwrap();
            assert!(!term, "fell at {t}");
            assert_eq!(trunc, t == 500, "step {t}");
        }
    }

    #[test]
    fn a_restored_snapshot_steps_and_resets_exactly_like_the_original() {
        let mut env = CartPole::new(5);
        let mut obs = [0.0; 4];
        // Mid-episode, after one reset has advanced the env's own generator.
        for a in [1, 0, 1, 1] {
            env.step(a, &mut obs).unwrap();
        }
        env.reset(None, &mut obs);
        for a in [0, 1, 1] {
            env.step(a, &mut obs).unwrap();
        }
        let snap = env.snapshot().unwrap();
        let json = serde_json::to_string(&snap).unwrap();
        let mut restored = CartPole::new(99);
        restored
            .restore(&serde_json::from_str(&json).unwrap())
            .unwrap();
        assert_eq!(restored.snapshot().unwrap(), snap);
        let (mut a, mut b) = ([0.0; 4], [0.0; 4]);
        for t in 0..600 {
            let action = t % 3 % 2;
            let oa = env.step(action, &mut a).unwrap();
            let ob = restored.step(action, &mut b).unwrap();
            assert_eq!((a, oa), (b, ob), "step {t}");
            if oa.done() {
                env.reset(None, &mut a);
                restored.reset(None, &mut b);
                assert_eq!(a, b, "the next episode starts alike");
            }
        }
        let wrong = EnvState {
            physics: vec![0.0; 3],
            ..snap
        };
        assert!(restored.restore(&wrong).is_err());
    }

    #[test]
    fn invalid_action_is_an_error() {
        let mut env = CartPole::new(0);
        assert!(matches!(
            env.step_action(2),
            Err(EnvError::InvalidAction {
                action: 2,
                count: 2
            })
        ));
        assert!(env.set_state(&[0.0; 3]).is_err());
    }
}
