//! `gradtop sweep` on this machine: bad grids refused before anything is written, and a 3×2
//! sweep of tiny runs that is interrupted, continued by the same command, and ends with every
//! run finished, each step logged once and the sweep named in `gradtop runs --json`.

use std::path::{Path, PathBuf};

use gradtop::runs::MetricRecord;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn gradtop_cmd(runs: &Path, data: Option<&Path>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradtop"));
    cmd.args(args)
        .arg("--runs-dir")
        .arg(runs)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GRADTOP_DATA");
    if let Some(data) = data {
        cmd.arg("--data-dir").arg(data);
    }
    cmd
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("the gradtop binary runs")
}

#[test]
fn bad_grids_are_refused_naming_the_key_before_anything_is_written() {
    let root = tempfile::tempdir().expect("temp dir");
    let runs = root.path().join("runs");
    for (grid, says) in [
        ("lrr=1e-3,1e-4", "--grid lrr=1e-3: --set lrr: unknown key"),
        ("lr=abc", "--grid lr=abc: lr = abc"),
        ("lr=", "--grid lr: the list of values is empty"),
        (
            "batch_size=32,0",
            "--grid batch_size=0: batch_size = 0: must be in",
        ),
        ("seed=1,2", "give seeds with --seeds 1,2"),
    ] {
        let out = output(&mut gradtop_cmd(
            &runs,
            None,
            &["sweep", "scenarios/mnist-cnn.toml", "--grid", grid],
        ));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{grid}: {stderr}");
        assert!(stderr.contains(says), "{grid}: {stderr}");
    }
    let out = output(&mut gradtop_cmd(
        &runs,
        None,
        &[
            "sweep",
            "scenarios/mnist-cnn.toml",
            "--grid",
            "lr=1e-3",
            "--grid",
            "lr=1e-4",
        ],
    ));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--grid lr: the key is given twice"));
    assert!(!runs.exists(), "nothing is written for a refused sweep");
}

fn train_loss_steps(run_dir: &Path) -> Vec<u64> {
    let (records, skipped) =
        gradtop::runs::read_jsonl::<MetricRecord>(&run_dir.join("metrics.jsonl")).expect("metrics");
    assert_eq!(
        skipped,
        0,
        "every line of {} is a metric",
        run_dir.display()
    );
    records
        .into_iter()
        .filter(|m| m.name == "train_loss")
        .map(|m| m.step)
        .collect()
}

#[test]
fn a_local_sweep_stops_on_a_signal_and_the_same_command_finishes_it() {
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data");
    gradtop::data::synthetic::write_dataset(&data.join("mnist"), 3000, 300, 5).expect("data");
    let runs = root.path().join("runs");
    let args = [
        "sweep",
        "scenarios/mnist-cnn.toml",
        "--grid",
        "lr=1e-3,3e-3,1e-2",
        "--seeds",
        "1,2",
        "--steps",
        "600",
        "--parallel",
        "1",
        "--set",
        "epochs=20",
        "--set",
        "eval_every=300",
        "--set",
        "eval_subset=100",
        "--device",
        "cpu",
    ];
    let sweep = gradtop_cmd(&runs, Some(&data), &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the sweep");
    // Stop it once the second run is training.
    let deadline = Instant::now() + Duration::from_secs(120);
    let second: PathBuf = loop {
        let found = std::fs::read_dir(&runs).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with("-p01"))
        });
        if let Some(dir) = found.filter(|d| train_loss_steps(d).len() >= 20) {
            break dir;
        }
        assert!(
            Instant::now() < deadline,
            "the sweep never reached its second run"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(sweep.id() as libc::pid_t, libc::SIGINT) };
    let stopped = sweep.wait_with_output().expect("the sweep ends");
    let said = String::from_utf8_lossy(&stopped.stdout).into_owned();
    assert_eq!(stopped.status.code(), Some(130), "{said}");
    assert!(
        said.contains("continue with `gradtop sweep resume"),
        "{said}"
    );
    let listed = |runs: &Path| -> Vec<serde_json::Value> {
        let out = output(&mut gradtop_cmd(runs, None, &["runs", "--json"]));
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .expect("runs JSON")
            .as_array()
            .expect("array")
            .clone()
    };
    let before = listed(&runs);
    assert_eq!(before.len(), 6);
    let status_of = |rows: &[serde_json::Value], suffix: &str| -> String {
        rows.iter()
            .find(|r| r["name"].as_str().is_some_and(|n| n.ends_with(suffix)))
            .map(|r| r["status"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(status_of(&before, "-p00"), "finished");
    assert_eq!(status_of(&before, "-p01"), "interrupted");
    assert_eq!(status_of(&before, "-p05"), "queued");
    let interrupted_at = train_loss_steps(&second).len();
    assert!(interrupted_at < 600, "stopped mid-run");

    let again = output(&mut gradtop_cmd(&runs, Some(&data), &args));
    let said = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(
        again.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(said.contains("continuing sweep"), "{said}");
    assert!(said.contains("5 of 6 runs to go"), "{said}");
    let after = listed(&runs);
    let id = after[0]["sweep"].as_str().expect("a sweep id").to_string();
    for run in &after {
        assert_eq!(run["status"], "finished", "{run}");
        assert_eq!(run["sweep"], id.as_str());
        assert_eq!(run["scenario"], "mnist-cnn");
        assert_eq!(
            train_loss_steps(&PathBuf::from(run["path"].as_str().expect("path"))),
            (1..=600).collect::<Vec<u64>>(),
            "{}: every step once",
            run["name"]
        );
    }
    // The same command once more has nothing left to do.
    let done = output(&mut gradtop_cmd(&runs, Some(&data), &args));
    assert!(String::from_utf8_lossy(&done.stdout).contains("has already finished"));

    let status = output(&mut gradtop_cmd(
        &runs,
        None,
        &["sweep", "status", &id, "--json"],
    ));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    let values: Vec<String> = status["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["values"]["lr"].as_str().unwrap_or("?"),
                r["seed"]
            )
        })
        .collect();
    assert_eq!(
        values,
        ["1e-3 1", "1e-3 2", "3e-3 1", "3e-3 2", "1e-2 1", "1e-2 2"]
    );
    let plan = std::fs::read_to_string(runs.join("sweeps").join(&id).join("sweep.json"))
        .expect("the sweep's record");
    assert!(
        plan.contains("\"lr=1e-3,3e-3,1e-2\""),
        "the command is recorded: {plan}"
    );
}
