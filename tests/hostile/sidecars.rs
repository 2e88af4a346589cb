//! Checkpoint sidecars are files a user can edit: resume validates a sidecar's config and
//! counters exactly as it validates a scenario file (exit 2, the file and the key), and no
//! value in one makes gradtop panic.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{command, fixture, run, stderr, Fixture};

/// A short finished run of each kind, with a checkpoint to mutate.
fn run_of(f: &Fixture, kind: &str) -> PathBuf {
    let args: &[&str] = match kind {
        "classifier" => &[
            "train",
            "scenarios/mnist-mlp.toml",
            "--headless",
            "--set",
            "eval_every=5",
            "--set",
            "eval_subset=20",
            "--set",
            "checkpoint_every=5",
            "--steps",
            "10",
        ],
        "gan" => &[
            "train",
            "scenarios/gan-mlp.toml",
            "--headless",
            "--set",
            "dataset=mnist",
            "--set",
            "batch_size=16",
            "--set",
            "score_every=0",
            "--set",
            "fixed_samples=16",
            "--set",
            "checkpoint_every=5",
            "--steps",
            "10",
        ],
        _ => &[
            "train",
            "scenarios/cartpole-dqn.toml",
            "--headless",
            "--set",
            "stop_when_solved=false",
            "--set",
            "checkpoint_every=200",
            "--steps",
            "400",
        ],
    };
    let out = run(&mut command(f, args));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&f.runs)
        .expect("the runs folder")
        .map(|e| e.expect("a run entry").path())
        .collect();
    dirs.sort();
    dirs.pop().expect("a run directory")
}

/// The newest checkpoint's sidecar in `run`.
fn newest_sidecar(run: &Path) -> PathBuf {
    let info = gradtop::runs::latest_whole_checkpoint(&run.join("checkpoints"))
        .expect("listing checkpoints")
        .expect("a whole checkpoint");
    info.sidecar_path
}

/// JSON pointers to every number in `state`, taking only the first element of arrays (the
/// others are read by the same code).
fn numeric_leaves(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Number(_) => out.push(pointer),
        Value::Array(items) => {
            if let Some(first) = items.first() {
                numeric_leaves(first, format!("{pointer}/0"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                numeric_leaves(item, format!("{pointer}/{key}"), out);
            }
        }
        _ => {}
    }
}

/// Copies a run directory (files and one level of subfolders, all a run has).
fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a copy folder");
    for entry in std::fs::read_dir(from).expect("the run") {
        let entry = entry.expect("a run file");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_run(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copying a run file");
        }
    }
}

/// A value that [`resume_mutated`] writes as a bare `NaN`.
const NAN: &str = "__NaN__";

/// Resumes a copy of `original` whose newest sidecar has `value` at `pointer` in its state;
/// returns the exit status and stderr, or what is wrong: a crash, a panic, a refusal that does
/// not name the sidecar.
fn resume_mutated(
    f: &Fixture,
    original: &Path,
    pointer: &str,
    value: &Value,
) -> Result<(Option<i32>, String), String> {
    let name = original.file_name().expect("a run folder name");
    let copy = f.runs.join(format!("copy-{}", name.to_string_lossy()));
    let _ = std::fs::remove_dir_all(&copy);
    copy_run(original, &copy);
    let sidecar = newest_sidecar(&copy);
    let mut json: Value =
        serde_json::from_slice(&std::fs::read(&sidecar).expect("the sidecar")).expect("JSON");
    *json
        .pointer_mut(&format!("/state{pointer}"))
        .expect("the mutated field exists") = value.clone();
    // JSON has no NaN: a sidecar edited to hold one is written as the bare word.
    let text = serde_json::to_string(&json)
        .expect("JSON")
        .replace(&format!("\"{NAN}\""), "NaN");
    std::fs::write(&sidecar, text).expect("writing");
    let copy_arg = copy.to_str().expect("a UTF-8 temp path");
    let out = run(&mut command(f, &["resume", copy_arg, "--steps", "12"]));
    let err = stderr(&out);
    let code = out.status.code();
    let fault = if !matches!(code, Some(0) | Some(2)) {
        Some(format!("exit {code:?}"))
    } else if ["panicked", "RUST_BACKTRACE", "stack backtrace"]
        .iter()
        .any(|sign| err.contains(sign))
    {
        Some("a panic".to_string())
    } else if code == Some(2) && !err.contains(&sidecar.display().to_string()) {
        Some("a refusal that does not name the sidecar".to_string())
    } else {
        None
    };
    match fault {
        Some(fault) => Err(format!("{pointer} = {value}: {fault}\n{err}")),
        None => Ok((code, err)),
    }
}

/// Every numeric field of each kind's sidecar set to 0, -1, 10^18 and a string: a refusal or a
/// run, never a panic or a crash.
fn mutations_never_panic(kind: &str) {
    let f = fixture();
    let run = run_of(&f, kind);
    let sidecar = newest_sidecar(&run);
    let json: Value = serde_json::from_slice(&std::fs::read(sidecar).unwrap()).unwrap();
    let mut leaves = Vec::new();
    numeric_leaves(&json["state"], String::new(), &mut leaves);
    assert!(leaves.len() > 5, "{kind}: {leaves:?}");
    let values = [
        Value::from(0),
        Value::from(-1),
        Value::from(1_000_000_000_000_000_000u64),
        Value::from("many"),
    ];
    let faults: Vec<String> = leaves
        .iter()
        .flat_map(|pointer| values.iter().map(move |value| (pointer, value)))
        .filter_map(|(pointer, value)| resume_mutated(&f, &run, pointer, value).err())
        .collect();
    assert!(faults.is_empty(), "{kind}:\n{}", faults.join("\n"));
}

#[test]
fn mutated_classifier_sidecars_are_refused_or_resumed_never_a_panic() {
    mutations_never_panic("classifier");
}

#[test]
fn mutated_gan_sidecars_are_refused_or_resumed_never_a_panic() {
    mutations_never_panic("gan");
}

#[test]
fn mutated_rl_sidecars_are_refused_or_resumed_never_a_panic() {
    mutations_never_panic("rl");
}

#[test]
fn a_sidecar_config_is_validated_like_a_scenario() {
    let f = fixture();
    let run = run_of(&f, "classifier");
    for (pointer, value, needle) in [
        (
            "/config/batch_size",
            Value::from(0),
            "config.batch_size = 0",
        ),
        ("/config/lr", Value::from(-5), "config.lr = -5"),
        (
            "/epoch",
            Value::from(1_000_000_000_000_000u64),
            "epoch = 1000000000000000",
        ),
        (
            "/plan_position",
            Value::from(1_000_000_000_000_000_000u64),
            "plan_position = 1000000000000000000",
        ),
    ] {
        let (code, err) =
            resume_mutated(&f, &run, pointer, &value).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code, Some(2), "{pointer}: {err}");
        assert!(err.contains(needle), "{pointer}: {err}");
    }
    // With only one checkpoint, a NaN in it leaves nothing to resume from: refused, unchanged.
    let newest = newest_sidecar(&run);
    for entry in std::fs::read_dir(run.join("checkpoints")).expect("checkpoints") {
        let path = entry.expect("a checkpoint file").path();
        if path.file_stem() != newest.file_stem() {
            std::fs::remove_file(path).expect("removing an older checkpoint");
        }
    }
    let (code, err) =
        resume_mutated(&f, &run, "/config/lr", &Value::from(NAN)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no checkpoint in"), "{err}");
}
