//! Replays recorded Gymnasium trajectories (the JSON written by `cartpole_fixtures.py`) through
//! one of our environments and reports how far its states and flags drift from Gymnasium's.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use super::{make_env, CartPoleParams, EnvError};

/// Largest state difference that still counts as "the same dynamics".
pub const FIXTURE_TOLERANCE: f64 = 1e-12;

/// Why a fixture could not be replayed.
#[derive(Debug, Error)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("cannot read fixture {path}: {source}")]
    Io {
        /// The fixture path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid fixture JSON.
    #[error("fixture {path} is not valid fixture JSON: {source}")]
    Parse {
        /// The fixture path.
        path: PathBuf,
        /// The parser's message, with line and column.
        source: serde_json::Error,
    },
    /// The JSON parsed but its content cannot be replayed.
    #[error("fixture {path}: {what}")]
    Invalid {
        /// The fixture path.
        path: PathBuf,
        /// What is wrong, naming the episode and step.
        what: String,
    },
    /// The environment could not be built or stepped.
    #[error("fixture {path}: {source}")]
    Env {
        /// The fixture path.
        path: PathBuf,
        /// The environment error.
        source: EnvError,
    },
}

#[derive(Debug, Deserialize)]
struct FixtureFile {
    #[serde(default)]
    source: Option<String>,
    constants: Option<FixtureConstants>,
    episodes: Vec<FixtureEpisode>,
}

#[derive(Debug, Deserialize)]
struct FixtureConstants {
    gravity: f64,
    masscart: f64,
    masspole: f64,
    length: f64,
    force_mag: f64,
    tau: f64,
    #[serde(default)]
    kinematics_integrator: Option<String>,
    theta_threshold_radians: f64,
    x_threshold: f64,
    #[serde(default)]
    max_episode_steps: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct FixtureEpisode {
    #[serde(default)]
    seed: Option<i64>,
    initial_state: Vec<f64>,
    steps: Vec<FixtureStep>,
}

#[derive(Debug, Deserialize)]
struct FixtureStep {
    action: usize,
    state: Vec<f64>,
    #[serde(default)]
    reward: Option<f64>,
    terminated: bool,
    truncated: bool,
}

/// How one recorded trajectory compared.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoryReport {
    /// The episode's reset seed in the fixture, if recorded.
    pub seed: Option<i64>,
    /// Steps replayed.
    pub steps: usize,
    /// Largest |ours − recorded| over every state component of every step.
    pub max_deviation: f64,
    /// First step (0-based) whose deviation exceeded [`FIXTURE_TOLERANCE`].
    pub first_step_over_tolerance: Option<usize>,
    /// Steps whose terminated or truncated flag differed.
    pub flag_mismatches: usize,
    /// The first flag mismatch: step index and a description.
    pub first_flag_mismatch: Option<(usize, String)>,
    /// Steps whose reward differed (when the fixture records rewards).
    pub reward_mismatches: usize,
}

/// The result of replaying a whole fixture file.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureReport {
    /// The fixture that was replayed.
    pub path: PathBuf,
    /// The environment it was replayed on.
    pub env: String,
    /// The fixture's own description of where it came from.
    pub source: String,
    /// One entry per recorded episode, in file order.
    pub trajectories: Vec<TrajectoryReport>,
    /// Largest state deviation over all trajectories.
    pub max_deviation: f64,
    /// Total flag mismatches.
    pub flag_mismatches: usize,
    /// Total reward mismatches.
    pub reward_mismatches: usize,
    /// Total steps replayed.
    pub steps: usize,
    /// Constants in the fixture that differ from the environment's (native CartPole only).
    pub constant_mismatches: Vec<String>,
}

impl FixtureReport {
    /// The pass rule of `gradtop env check`: deviation ≤ 1e-12 and every flag and reward equal.
    pub fn passed(&self) -> bool {
        self.max_deviation <= FIXTURE_TOLERANCE
            && self.flag_mismatches == 0
            && self.reward_mismatches == 0
            && self.constant_mismatches.is_empty()
    }
}

/// Replays every trajectory of the fixture at `path` through a fresh `env_name` environment
/// (`cartpole`, or a gym-rs env when built with the feature).
pub fn check_fixture(path: &Path, env_name: &str) -> Result<FixtureReport, FixtureError> {
    let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let fixture: FixtureFile =
        serde_json::from_str(&text).map_err(|source| FixtureError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
    let invalid = |what: String| FixtureError::Invalid {
        path: path.to_path_buf(),
        what,
    };
    if fixture.episodes.is_empty() {
        return Err(invalid("no episodes recorded".into()));
    }
    let mut env = make_env(env_name, 0).map_err(|source| FixtureError::Env {
        path: path.to_path_buf(),
        source,
    })?;
    let constant_mismatches = match (&fixture.constants, env.name()) {
        (Some(c), "cartpole") => compare_constants(c, &CartPoleParams::GYMNASIUM),
        _ => Vec::new(),
    };
    let dim = env.obs_dim();
    let mut obs = vec![0.0; dim];
    let mut trajectories = Vec::with_capacity(fixture.episodes.len());
    for (ei, ep) in fixture.episodes.iter().enumerate() {
        let label = match ep.seed {
            Some(s) => format!("episode {ei} (seed {s})"),
            None => format!("episode {ei}"),
        };
        if ep.initial_state.len() != dim {
            return Err(invalid(format!(
                "{label}: initial_state has {} values, {} needs {dim}",
                ep.initial_state.len(),
                env.name()
            )));
        }
        env.set_state(&ep.initial_state)
            .map_err(|source| FixtureError::Env {
                path: path.to_path_buf(),
                source,
            })?;
        let mut t = TrajectoryReport {
            seed: ep.seed,
            steps: ep.steps.len(),
            max_deviation: 0.0,
            first_step_over_tolerance: None,
            flag_mismatches: 0,
            first_flag_mismatch: None,
            reward_mismatches: 0,
        };
        for (si, step) in ep.steps.iter().enumerate() {
            if step.state.len() != dim {
                return Err(invalid(format!(
                    "{label} step {si}: state has {} values, expected {dim}",
                    step.state.len()
                )));
            }
            if step.action >= env.action_count() {
                return Err(invalid(format!(
                    "{label} step {si}: action {} is not one of 0..{}",
                    step.action,
                    env.action_count()
                )));
            }
            let out = env
                .step(step.action, &mut obs)
                .map_err(|source| FixtureError::Env {
                    path: path.to_path_buf(),
                    source,
                })?;
            let state = env.state();
            let dev = state
                .iter()
                .zip(&step.state)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            // NaN must count as a failure, not vanish in max().
            let dev = if dev.is_nan() { f64::INFINITY } else { dev };
            t.max_deviation = t.max_deviation.max(dev);
            if dev > FIXTURE_TOLERANCE && t.first_step_over_tolerance.is_none() {
                t.first_step_over_tolerance = Some(si);
            }
            if out.terminated != step.terminated || out.truncated != step.truncated {
                t.flag_mismatches += 1;
                if t.first_flag_mismatch.is_none() {
                    t.first_flag_mismatch = Some((
                        si,
                        format!(
                            "terminated {} / truncated {}, recorded {} / {}",
                            out.terminated, out.truncated, step.terminated, step.truncated
                        ),
                    ));
                }
            }
            if step.reward.is_some_and(|r| r != out.reward) {
                t.reward_mismatches += 1;
            }
        }
        trajectories.push(t);
    }
    Ok(FixtureReport {
        path: path.to_path_buf(),
        env: env.name().to_string(),
        source: fixture.source.unwrap_or_else(|| "unknown source".into()),
        max_deviation: trajectories
            .iter()
            .map(|t| t.max_deviation)
            .fold(0.0, f64::max),
        flag_mismatches: trajectories.iter().map(|t| t.flag_mismatches).sum(),
        reward_mismatches: trajectories.iter().map(|t| t.reward_mismatches).sum(),
        steps: trajectories.iter().map(|t| t.steps).sum(),
        trajectories,
        constant_mismatches,
    })
}

fn compare_constants(c: &FixtureConstants, p: &CartPoleParams) -> Vec<String> {
    let mut out = Vec::new();
    let mut cmp = |name: &str, fixture: f64, ours: f64| {
        if fixture != ours {
            out.push(format!("{name}: fixture {fixture}, ours {ours}"));
        }
    };
    cmp("gravity", c.gravity, p.gravity);
    cmp("masscart", c.masscart, p.masscart);
    cmp("masspole", c.masspole, p.masspole);
    cmp("length", c.length, p.length);
    cmp("force_mag", c.force_mag, p.force_mag);
    cmp("tau", c.tau, p.tau_s);
    cmp(
        "theta_threshold_radians",
        c.theta_threshold_radians,
        p.theta_threshold_radians,
    );
    cmp("x_threshold", c.x_threshold, p.x_threshold);
    if let Some(m) = c.max_episode_steps {
        cmp(
            "max_episode_steps",
            f64::from(m),
            f64::from(p.max_episode_steps),
        );
    }
    if let Some(k) = &c.kinematics_integrator {
        if k != "euler" {
            out.push(format!(
                "kinematics_integrator: fixture {k:?}, ours \"euler\""
            ));
        }
    }
    out
}

/// The text `gradtop env check` prints: a verdict line, totals, then one line per trajectory.
pub fn format_report(report: &FixtureReport) -> String {
    let mut s = String::new();
    let verdict = if report.passed() { "PASS" } else { "FAIL" };
    let _ = writeln!(
        s,
        "{verdict}  {} on {} ({})",
        report.path.display(),
        report.env,
        report.source
    );
    let _ = writeln!(
        s,
        "  {} trajectories, {} steps; max state deviation {:.3e} (tolerance {:.0e}); \
         flag mismatches {}; reward mismatches {}",
        report.trajectories.len(),
        report.steps,
        report.max_deviation,
        FIXTURE_TOLERANCE,
        report.flag_mismatches,
        report.reward_mismatches
    );
    for c in &report.constant_mismatches {
        let _ = writeln!(s, "  constant differs: {c}");
    }
    for (i, t) in report.trajectories.iter().enumerate() {
        let seed = t.seed.map_or_else(|| "-".to_string(), |v| v.to_string());
        let _ = write!(
            s,
            "  #{i:<3} seed {seed:>5}  {:>4} steps  max dev {:.3e}",
            t.steps, t.max_deviation
        );
        if let Some(step) = t.first_step_over_tolerance {
            let _ = write!(s, "  over tolerance from step {step}");
        }
        if let Some((step, what)) = &t.first_flag_mismatch {
            let _ = write!(
                s,
                "  {} flag mismatches, first at step {step}: {what}",
                t.flag_mismatches
            );
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cartpole_v1_gymnasium.json")
    }

    #[test]
    fn native_cartpole_replays_the_gymnasium_fixture_exactly() {
        let report = check_fixture(&fixture_path(), "cartpole").unwrap();
        assert!(report.trajectories.len() >= 2);
        assert!(report.steps > 500, "fixture has the 500-step episode");
        assert!(
            report.max_deviation <= FIXTURE_TOLERANCE,
            "{}",
            format_report(&report)
        );
        assert_eq!(report.flag_mismatches, 0);
        assert_eq!(report.reward_mismatches, 0);
        assert!(report.constant_mismatches.is_empty());
        assert!(report.passed());
        let text = format_report(&report);
        assert!(text.starts_with("PASS"), "{text}");
        assert!(text.contains("trajectories"), "{text}");
    }

    #[test]
    fn a_perturbed_fixture_fails_and_says_where() {
        let text = std::fs::read_to_string(fixture_path()).unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let step = &mut doc["episodes"][0]["steps"][2];
        let x = step["state"][0].as_f64().unwrap();
        step["state"][0] = serde_json::json!(x + 1e-9);
        step["terminated"] = serde_json::json!(true);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.json");
        std::fs::write(&p, serde_json::to_string(&doc).unwrap()).unwrap();
        let report = check_fixture(&p, "cartpole").unwrap();
        assert!(!report.passed());
        assert!(report.max_deviation > 5e-10 && report.max_deviation < 2e-9);
        assert_eq!(report.flag_mismatches, 1);
        assert_eq!(report.trajectories[0].first_step_over_tolerance, Some(2));
        let out = format_report(&report);
        assert!(out.starts_with("FAIL"), "{out}");
        assert!(out.contains("first at step 2"), "{out}");
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        let e = check_fixture(&missing, "cartpole").unwrap_err().to_string();
        assert!(e.contains("nope.json"), "{e}");

        let p = dir.path().join("short.json");
        std::fs::write(&p, r#"{"episodes":[{"initial_state":[0,0,0],"steps":[]}]}"#).unwrap();
        let e = check_fixture(&p, "cartpole").unwrap_err().to_string();
        assert!(
            e.contains("short.json") && e.contains("initial_state has 3"),
            "{e}"
        );

        std::fs::write(&p, "{not json").unwrap();
        let e = check_fixture(&p, "cartpole").unwrap_err().to_string();
        assert!(e.contains("not valid fixture JSON"), "{e}");

        let e = check_fixture(&fixture_path(), "nosuchenv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown environment"), "{e}");
    }
}
