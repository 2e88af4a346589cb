//! Steering a headless run from another process through its `control.jsonl`: a live change,
//! a malformed line, pause and resume, and stop, each acknowledged in `events.jsonl`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gradtop::runs::{
    read_jsonl, send_command, ControlCommand, ControlError, EndStatus, EventRecord, RunEvent,
    CONTROL_FILE,
};

/// Longest wait for the run to do what a test waits for.
const WAIT: Duration = Duration::from_secs(60);

/// Kills the training process if a test fails before it ends.
struct Training(Child);

impl Drop for Training {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A headless MLP run on generated digits, long enough to be steered.
fn start_training(data: &Path, runs: &Path) -> Training {
    let child = Command::new(env!("CARGO_BIN_EXE_gradtop"))
        .args([
            "train",
            "scenarios/mnist-cnn.toml",
            "--headless",
            "--set",
            "model=mlp",
            "--set",
            "epochs=10000",
            "--set",
            "eval_every=100000",
            "--set",
            "eval_subset=50",
        ])
        .arg("--data-dir")
        .arg(data)
        .arg("--runs-dir")
        .arg(runs)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GRADTOP_DATA")
        .env_remove("GRADTOP_RUNS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the gradtop binary starts");
    Training(child)
}

fn events(run: &Path) -> Vec<EventRecord> {
    read_jsonl::<EventRecord>(&run.join("events.jsonl"))
        .expect("events.jsonl reads")
        .0
}

/// Polls the run's events until `found` picks one out.
fn wait_for<T>(run: &Path, what: &str, found: impl Fn(&[EventRecord]) -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(hit) = found(&events(run)) {
            return hit;
        }
        assert!(
            start.elapsed() < WAIT,
            "no {what} within {WAIT:?}: {:?}",
            events(run)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The step and acceptance of the `control` event acknowledging `id`.
fn ack(events: &[EventRecord], id: &str) -> Option<(u64, bool, Option<String>)> {
    events.iter().find_map(|e| match &e.event {
        RunEvent::Control {
            id: Some(got),
            accepted,
            reason,
            ..
        } if got == id => Some((e.step, *accepted, reason.clone())),
        _ => None,
    })
}

/// Waits until the run's process holds its lock (it has opened the run) and returns the run.
fn live_run(runs: &Path) -> PathBuf {
    let start = Instant::now();
    loop {
        let run = std::fs::read_dir(runs)
            .ok()
            .and_then(|mut rd| rd.next())
            .and_then(|e| e.ok())
            .map(|e| e.path());
        if let Some(run) = run {
            if gradtop::runs::run_status(&run).ok() == Some(gradtop::runs::RunStatus::Running) {
                return run;
            }
        }
        assert!(start.elapsed() < WAIT, "the run never started");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_headless_run_takes_a_live_change_a_pause_and_a_stop_from_its_control_file() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    gradtop::data::synthetic::write_dataset(&data.join("mnist"), 600, 100, 5).expect("data");
    let runs = tmp.path().join("runs");
    let mut training = start_training(&data, &runs);
    let run = live_run(&runs);

    let set = send_command(
        &run,
        ControlCommand::Set {
            param: "lr".into(),
            value: 0.0005,
        },
    )
    .expect("the set is sent");
    let (step, accepted, reason) = wait_for(&run, "acknowledgement of the set", |e| ack(e, &set));
    assert!(accepted, "refused: {reason:?}");
    assert!(
        step > 0,
        "the change takes effect at a trained step, not {step}"
    );
    let set_event = events(&run).into_iter().find(
        |e| matches!(&e.event, RunEvent::Set { param, value } if param == "lr" && *value == 0.0005),
    );
    assert_eq!(
        set_event.map(|e| e.step),
        Some(step),
        "the set event is logged at the step the ack names"
    );

    // A line that is no command is refused, naming the line, and the run goes on.
    std::fs::OpenOptions::new()
        .append(true)
        .open(run.join(CONTROL_FILE))
        .and_then(|mut f| f.write_all(b"{\"id\":\"by-hand\",\"command\":\"fly\"}\n"))
        .expect("append by hand");
    let (_, accepted, reason) = wait_for(&run, "refusal of the bad line", |e| ack(e, "by-hand"));
    assert!(!accepted);
    let reason = reason.expect("a reason");
    assert!(reason.contains("line 2 of control.jsonl"), "{reason}");

    // Paused, the job still reads the file, so a resume from it wakes the run.
    let pause = send_command(&run, ControlCommand::Pause).expect("the pause is sent");
    wait_for(&run, "the pause", |e| {
        ack(e, &pause)?;
        e.iter()
            .any(|r| matches!(r.event, RunEvent::Pause { .. }))
            .then_some(())
    });
    let resume = send_command(&run, ControlCommand::Resume).expect("the resume is sent");
    wait_for(&run, "the resume", |e| {
        let (_, accepted, _) = ack(e, &resume)?;
        assert!(accepted);
        e.iter()
            .any(|r| matches!(r.event, RunEvent::Resume))
            .then_some(())
    });

    let stop = send_command(&run, ControlCommand::Stop).expect("the stop is sent");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = training.0.try_wait().expect("wait") {
            break status;
        }
        assert!(start.elapsed() < WAIT, "the run did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a stopped run exits 0: {status:?}");
    let logged = events(&run);
    assert!(
        matches!(ack(&logged, &stop), Some((_, true, None))),
        "{logged:?}"
    );
    assert!(
        matches!(
            logged.last().map(|e| &e.event),
            Some(RunEvent::End {
                status: EndStatus::Stopped,
                ..
            })
        ),
        "{logged:?}"
    );
    let err = send_command(&run, ControlCommand::Resume).expect_err("nothing trains it now");
    assert!(
        matches!(
            err,
            ControlError::NotLive {
                status: "stopped",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_resumed_run_does_not_replay_old_commands() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    gradtop::data::synthetic::write_dataset(&data.join("mnist"), 600, 100, 5).expect("data");
    let runs = tmp.path().join("runs");
    let mut training = start_training(&data, &runs);
    let run = live_run(&runs);
    let stop = send_command(&run, ControlCommand::Stop).expect("sent");
    training.0.wait().expect("the run stops");
    wait_for(&run, "the stop", |e| ack(e, &stop));

    let mut resumed = Training(
        Command::new(env!("CARGO_BIN_EXE_gradtop"))
            .arg("resume")
            .arg(&run)
            .arg("--data-dir")
            .arg(&data)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("resume starts"),
    );
    let starts = |e: &[EventRecord]| {
        e.iter()
            .filter(|r| matches!(r.event, RunEvent::Start { .. }))
            .count()
    };
    wait_for(&run, "the resumed start", |e| {
        (starts(e) == 2).then_some(())
    });
    // The old stop is still in the file. A checkpoint sent now is read after it would have
    // been, so once the checkpoint is acknowledged the old stop was skipped, not replayed.
    let checkpoint = send_command(&run, ControlCommand::Checkpoint).expect("sent");
    let (_, accepted, reason) = wait_for(&run, "the checkpoint", |e| ack(e, &checkpoint));
    assert!(accepted, "{reason:?}");
    assert!(
        resumed.0.try_wait().expect("wait").is_none(),
        "the resumed run replayed the old stop: {:?}",
        events(&run)
    );
    let stop_again = send_command(&run, ControlCommand::Stop).expect("sent");
    resumed.0.wait().expect("the run stops");
    let logged = events(&run);
    let acks = logged
        .iter()
        .filter(|e| matches!(e.event, RunEvent::Control { .. }))
        .count();
    assert_eq!(acks, 3, "one ack per command sent: {logged:?}");
    assert!(ack(&logged, &stop_again).is_some_and(|(_, accepted, _)| accepted));
}
