//! Bounded fuzzing in the normal suite: the scenario parser, the IDX reader and the checkpoint
//! sidecar reader take whatever bytes a user or a damaged disk gives them and answer with a
//! value or an error, never a panic.

use std::path::{Path, PathBuf};

use gradtop::jobs::resume::check_state;
use gradtop::jobs::JobKind;
use gradtop::runs::{CheckpointInfo, ResumePoint};
use proptest::prelude::*;
use serde_json::Value;

/// Keys the configs know, with the table they sit in, so generated scenarios reach the range
/// checks and not only the unknown-key refusal.
const KEYS: &[&str] = &[
    "model",
    "dataset",
    "epochs",
    "batch_size",
    "lr",
    "beta1",
    "beta2",
    "seed",
    "eval_every",
    "eval_subset",
    "checkpoint_every",
    "keep_checkpoints",
    "iterations",
    "z_dim",
    "lr_g",
    "lr_d",
    "d_steps",
    "label_smoothing",
    "sample_every",
    "fixed_samples",
    "score_every",
    "score_samples",
    "agent",
    "preset",
    "env",
    "max_env_steps",
    "solve_return",
    "solve_window",
    "stop_when_solved",
    "dqn.lr",
    "dqn.buffer_size",
    "dqn.batch_size",
    "dqn.hidden",
    "dqn.gradient_steps",
    "dqn.target_period",
    "ppo.num_envs",
    "ppo.rollout_steps",
    "ppo.minibatches",
    "ppo.epochs",
    "ppo.hidden",
    "ppo.clip_coef",
];

/// TOML values of every type, with the edges a hostile file would use.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        prop_oneof![Just(0i64), Just(-1), Just(1), Just(i64::MAX), Just(1 << 40)]
            .prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:e}")),
        prop_oneof![
            Just("nan"),
            Just("inf"),
            Just("-inf"),
            Just("-0.0"),
            Just("1e308")
        ]
        .prop_map(String::from),
        "[a-z-]{0,12}".prop_map(|s| format!("{s:?}")),
        prop::collection::vec(any::<u32>(), 0..4).prop_map(|v| format!("{v:?}")),
        Just("true".to_string()),
        Just("[[1]]".to_string()),
        Just("{ a = 1 }".to_string()),
    ]
}

fn scenario_text() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("classifier"), Just("gan"), Just("rl"), Just("vae")],
        prop::collection::vec((prop::sample::select(KEYS), toml_value()), 0..10),
    )
        .prop_map(|(kind, lines)| {
            let mut text = format!("kind = \"{kind}\"\n");
            for (key, value) in lines {
                text.push_str(&format!("{key} = {value}\n"));
            }
            text
        })
}

/// Arbitrary JSON, nested a few levels, with the numbers a damaged sidecar may hold.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |v| v.is_finite())
            .prop_map(Value::from),
        "[a-z_]{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A resume point at `state` whose files are never opened.
fn point(state: Value) -> ResumePoint {
    ResumePoint {
        info: CheckpointInfo {
            step: 10,
            tensors_path: PathBuf::from("step-10.safetensors"),
            sidecar_path: PathBuf::from("step-10.json"),
        },
        state,
    }
}

/// A real sidecar state of each kind, taken from the shape the jobs write, for mutation.
fn valid_states() -> Vec<(JobKind, Value)> {
    let classifier = serde_json::json!({
        "step": 10, "epoch": 0, "plan_position": 320,
        "epoch_rng": [1, 2, 3, 4], "rng": [5, 6, 7, 8], "optimizer_state": true,
        "config": serde_json::to_value(gradtop::scenario::ClassifierConfig::default()).unwrap(),
    });
    vec![(JobKind::Classifier, classifier)]
}

/// Every number in `value`, by JSON pointer.
fn numbers(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Number(_) => out.push(pointer),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                numbers(item, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                numbers(item, format!("{pointer}/{key}"), out);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_scenario_parser_answers_any_text(text in any::<String>()) {
        let _ = gradtop::scenario::parse(Path::new("fuzz.toml"), &text);
    }

    #[test]
    fn scenario_like_files_are_parsed_validated_and_written_back(text in scenario_text()) {
        if let Ok(scenario) = gradtop::scenario::parse(Path::new("fuzz.toml"), &text) {
            if scenario.validate().is_ok() {
                let _ = scenario.settings.to_table();
            }
        }
    }

    #[test]
    fn set_overrides_answer_any_key_and_value(
        key in prop::sample::select(KEYS),
        value in toml_value(),
    ) {
        for kind in ["classifier", "gan", "rl"] {
            let scenario =
                gradtop::scenario::parse(Path::new("fuzz.toml"), &format!("kind = \"{kind}\"\n"))
                    .expect("a bare scenario of each kind parses");
            let _ = scenario.with_overrides(&[format!("{key}={value}")]);
        }
    }

    #[test]
    fn the_idx_reader_answers_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let dir = tempfile::tempdir().expect("a temp dir");
        for name in ["images", "images.gz"] {
            let path = dir.path().join(name);
            if name.ends_with(".gz") {
                gradtop::data::idx::write_idx(&path, &bytes).expect("writing");
            } else {
                std::fs::write(&path, &bytes).expect("writing");
            }
            let _ = gradtop::data::idx::read_images(&path);
            let _ = gradtop::data::idx::read_labels(&path, 10);
        }
    }

    #[test]
    fn idx_headers_with_any_dimensions_are_checked_before_reading(
        magic in prop_oneof![Just(0x0803u32), Just(0x0801), any::<u32>()],
        dims in prop::collection::vec(any::<u32>(), 0..4),
        payload in 0usize..2048,
    ) {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend(std::iter::repeat_n(7u8, payload));
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("images.gz");
        gradtop::data::idx::write_idx(&path, &bytes).expect("writing");
        let _ = gradtop::data::idx::read_images(&path);
        let _ = gradtop::data::idx::read_labels(&path, 10);
    }

    #[test]
    fn sidecar_files_of_any_bytes_are_read_or_rejected(
        sidecar in prop::collection::vec(any::<u8>(), 0..1024),
        tensors in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("step-10.json"), &sidecar).expect("writing");
        std::fs::write(dir.path().join("step-10.safetensors"), &tensors).expect("writing");
        let _ = gradtop::runs::check_resumable(dir.path());
    }

    #[test]
    fn sidecar_states_of_any_shape_are_checked(state in json_value()) {
        for kind in JobKind::ALL {
            let _ = check_state(kind, &point(state.clone()));
        }
    }

    #[test]
    fn a_valid_state_with_any_number_changed_is_checked(
        pick in any::<prop::sample::Index>(),
        value in json_value(),
    ) {
        for (kind, state) in valid_states() {
            let mut leaves = Vec::new();
            numbers(&state, String::new(), &mut leaves);
            let mut state = state;
            let leaf: &String = pick.get(&leaves);
            *state.pointer_mut(leaf).expect("a leaf") = value.clone();
            let _ = check_state(kind, &point(state));
        }
    }
}

#[test]
fn the_valid_state_used_for_mutation_passes_the_check() {
    for (kind, state) in valid_states() {
        check_state(kind, &point(state)).expect("a valid state");
    }
}
