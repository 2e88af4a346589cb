//! Run directories end to end: a headless classifier writes its run, survives `kill -9` and
//! SIGTERM, and `gradtop resume` continues it; a running run refuses a second writer; GAN and
//! RL runs do the same and `watch` reads their samples and episodes back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gradtop::runs::{
    drop_superseded, latest_whole_checkpoint, load_checkpoint, read_jsonl, whole_checkpoints,
    EndStatus, EventRecord, MetricRecord, RunEvent,
};

/// Longest wait for a child to reach a checkpoint.
const WAIT: Duration = Duration::from_secs(60);

struct Fixture {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    runs: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    gradtop::data::synthetic::write_dataset(&data.join("mnist"), 600, 100, 5).unwrap();
    let runs = tmp.path().join("runs");
    Fixture {
        _tmp: tmp,
        data,
        runs,
    }
}

fn command(f: &Fixture, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradtop"));
    cmd.args(args)
        .arg("--data-dir")
        .arg(&f.data)
        .arg("--runs-dir")
        .arg(&f.runs)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GRADTOP_DATA")
        .env_remove("GRADTOP_RUNS");
    cmd
}

/// A headless MLP run: fast steps, a checkpoint every `every` steps.
fn train_args(every: u64, epochs: u64) -> Vec<String> {
    [
        "train",
        "scenarios/mnist-cnn.toml",
        "--headless",
        "--json",
        "--set",
        "model=mlp",
        "--set",
        "eval_every=25",
        "--set",
        "eval_subset=50",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        "--set".into(),
        format!("checkpoint_every={every}"),
        "--set".into(),
        format!("epochs={epochs}"),
    ])
    .collect()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the gradtop binary runs")
}

fn the_run_dir(f: &Fixture) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(&f.runs)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert_eq!(dirs.len(), 1, "one run directory: {dirs:?}");
    dirs[0].clone()
}

/// Waits until the child's run has a whole checkpoint at a step of at least `min_step`.
fn wait_for_checkpoint(f: &Fixture, child: &mut Child, min_step: u64) -> (PathBuf, u64) {
    let start = Instant::now();
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before a checkpoint"
        );
        if let Some(dir) = std::fs::read_dir(&f.runs)
            .ok()
            .and_then(|mut rd| rd.next())
            .and_then(|e| e.ok())
            .map(|e| e.path())
        {
            if let Ok(Some(c)) = latest_whole_checkpoint(&dir.join("checkpoints")) {
                if c.step >= min_step {
                    return (dir, c.step);
                }
            }
        }
        assert!(start.elapsed() < WAIT, "no checkpoint within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn events(run: &Path) -> Vec<EventRecord> {
    let (events, skipped) = read_jsonl::<EventRecord>(&run.join("events.jsonl")).unwrap();
    assert_eq!(skipped, 0, "events.jsonl has no broken lines");
    events
}

/// `train_loss` steps after dropping what a resume superseded.
fn loss_steps(run: &Path) -> Vec<u64> {
    metric_steps(run, "train_loss")
}

/// The steps of metric `name` after dropping what a resume superseded.
fn metric_steps(run: &Path, name: &str) -> Vec<u64> {
    let (metrics, skipped) = read_jsonl::<MetricRecord>(&run.join("metrics.jsonl")).unwrap();
    assert!(skipped <= 1, "at most the line cut by kill -9 is broken");
    drop_superseded(metrics, &events(run))
        .into_iter()
        .filter(|m| m.name == name)
        .map(|m| m.step)
        .collect()
}

fn summary(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().expect("a summary line")).expect("JSON summary")
}

fn every_checkpoint_loads(run: &Path) {
    let whole = whole_checkpoints(&run.join("checkpoints")).unwrap();
    assert!(!whole.is_empty());
    for info in whole {
        let c = load_checkpoint(&info, &candle_core::Device::Cpu).unwrap();
        assert!(
            c.tensors.contains_key("fc1.weight"),
            "{:?}",
            c.tensors.keys()
        );
        assert_eq!(c.state["step"], info.step);
    }
}

#[test]
fn a_headless_run_writes_config_logs_checkpoints_and_its_end() {
    let f = fixture();
    let mut args = train_args(10, 10);
    args.extend(["--steps".into(), "35".into()]);
    let out = run(&mut command(
        &f,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = the_run_dir(&f);
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.ends_with("-mnist-cnn") && name.len() == 15 + 10,
        "{name}"
    );
    assert_eq!(summary(&out)["run_dir"], dir.display().to_string());

    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("kind = \"classifier\""), "{config}");
    assert!(config.contains("model = \"mlp\""), "{config}");
    assert_eq!(loss_steps(&dir), (1..=35).collect::<Vec<_>>());

    let events = events(&dir);
    assert!(matches!(
        events[0].event,
        RunEvent::Start {
            resumed_from: None,
            ..
        }
    ));
    let checkpoints: Vec<(u64, String)> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::Checkpoint { reason, .. } => Some((e.step, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        checkpoints,
        vec![
            (10, "periodic".into()),
            (20, "periodic".into()),
            (30, "periodic".into()),
            (35, "end".into())
        ]
    );
    match &events.last().unwrap().event {
        RunEvent::End {
            status: EndStatus::Finished,
            summary: Some(s),
        } => assert_eq!(s["steps"], 35),
        other => panic!("last event {other:?}"),
    }
    // keep_checkpoints = 3 in the scenario.
    let kept: Vec<u64> = whole_checkpoints(&dir.join("checkpoints"))
        .unwrap()
        .iter()
        .map(|c| c.step)
        .collect();
    assert_eq!(kept, vec![35, 30, 20]);
    every_checkpoint_loads(&dir);
    assert!(!dir.join("lock").exists(), "the lock goes with the process");
}

#[test]
fn a_killed_run_refuses_a_second_writer_then_resumes_from_its_checkpoint() {
    let f = fixture();
    let args = train_args(20, 2000);
    let mut child = command(&f, &args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (dir, _) = wait_for_checkpoint(&f, &mut child, 40);
    let dir_arg = dir.to_str().unwrap();

    let refused = run(&mut command(&f, &["resume", dir_arg]));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("still running") && stderr.contains(&child.id().to_string()),
        "{stderr}"
    );

    child.kill().unwrap(); // SIGKILL: no checkpoint, no end event.
    child.wait().unwrap();
    let from = latest_whole_checkpoint(&dir.join("checkpoints"))
        .unwrap()
        .unwrap()
        .step;
    let target = from + 30;
    let out = run(&mut command(
        &f,
        &["resume", dir_arg, "--json", "--steps", &target.to_string()],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary(&out)["steps"], target);

    let events = events(&dir);
    let resumed: Vec<u64> = events
        .iter()
        .filter_map(|e| match e.event {
            RunEvent::Start {
                resumed_from: Some(s),
                ..
            } => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(resumed, vec![from]);
    assert_eq!(
        loss_steps(&dir),
        (1..=target).collect::<Vec<_>>(),
        "every step once, continuing from the checkpoint"
    );
    assert!(matches!(
        events.last().unwrap().event,
        RunEvent::End {
            status: EndStatus::Stopped | EndStatus::Finished,
            ..
        }
    ));
    every_checkpoint_loads(&dir);
}

#[test]
fn sigterm_checkpoints_and_records_an_interrupted_end() {
    stop_signal_checkpoints_and_records_an_interrupted_end(libc::SIGTERM);
}

#[test]
fn sighup_from_a_dropped_connection_checkpoints_first() {
    stop_signal_checkpoints_and_records_an_interrupted_end(libc::SIGHUP);
}

fn stop_signal_checkpoints_and_records_an_interrupted_end(signal: libc::c_int) {
    let f = fixture();
    let args = train_args(1000, 2000);
    let mut child = command(&f, &args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until training is under way (metrics reach disk at least every 2 s).
    let start = Instant::now();
    let dir = loop {
        if let Ok(mut rd) = std::fs::read_dir(&f.runs) {
            if let Some(Ok(e)) = rd.next() {
                let steps = read_jsonl::<MetricRecord>(&e.path().join("metrics.jsonl"))
                    .map(|(m, _)| m.len())
                    .unwrap_or(0);
                if steps > 0 {
                    break e.path();
                }
            }
        }
        assert!(start.elapsed() < WAIT, "training did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + signal));

    let events = events(&dir);
    let (step, reason) = events
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            RunEvent::Checkpoint { reason, .. } => Some((e.step, reason.clone())),
            _ => None,
        })
        .expect("a checkpoint event");
    assert_eq!(reason, "signal");
    match &events.last().unwrap().event {
        RunEvent::End {
            status: EndStatus::Interrupted,
            summary: Some(s),
        } => assert_eq!(s["steps"], step),
        other => panic!("last event {other:?}"),
    }
    assert_eq!(
        latest_whole_checkpoint(&dir.join("checkpoints"))
            .unwrap()
            .unwrap()
            .step,
        step
    );
    assert!(step > 0);
}

#[test]
fn export_writes_csv_and_a_tensorboard_file() {
    let f = fixture();
    let mut args = train_args(0, 1);
    args.extend(["--steps".into(), "12".into()]);
    let out = run(&mut command(
        &f,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert!(out.status.success());
    let dir = the_run_dir(&f);
    let out = run(&mut command(
        &f,
        &["export", dir.to_str().unwrap(), "--csv"],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("step,t,name,value"));
    let losses = lines.filter(|l| l.contains(",train_loss,")).count();
    assert_eq!(losses, 12);

    let tb = f.runs.parent().unwrap().join("tb");
    let out = run(&mut command(
        &f,
        &[
            "export",
            dir.to_str().unwrap(),
            "--tensorboard",
            tb.to_str().unwrap(),
        ],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sub = tb.join(dir.file_name().unwrap());
    let files: Vec<_> = std::fs::read_dir(&sub).unwrap().collect();
    assert_eq!(files.len(), 1);

    let none = run(&mut command(&f, &["export", dir.to_str().unwrap()]));
    assert_eq!(none.status.code(), Some(2));
}

#[test]
fn watch_replays_a_run_into_a_read_only_classifier_tab() {
    use gradtop::app::render::render;
    use gradtop::app::theme::Theme;
    use gradtop::app::{update, update_job, Action, App, Options};
    use gradtop::jobs::{watch, JobEvent, JobKind, JobStatus, Snapshot};

    let f = fixture();
    let mut args = train_args(0, 1);
    args.extend(["--steps".into(), "12".into()]);
    let out = run(&mut command(
        &f,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert!(out.status.success());
    let dir = the_run_dir(&f);

    let options = Options {
        fps: 10,
        ascii: true,
        data_dir: Some(f.data.clone()),
        device: gradtop::device::DeviceChoice::Cpu,
        scenario: Some(gradtop::jobs::resume::watch_scenario(&dir).unwrap()),
        runs_dir: f.runs.clone(),
        watch: Some(dir.clone()),
        max_steps: None,
    };
    let mut app = App::new(&options, Theme::new(false, true));
    assert!(
        !app.classifier.job.autostart,
        "a watched run is not trained again"
    );
    assert_eq!(app.classifier.config.model_name(), "mlp");

    let mut handle = watch::spawn(&dir, JobKind::Classifier).unwrap();
    let start = Instant::now();
    loop {
        match handle.events.try_recv() {
            Ok(event) => {
                let done = event == JobEvent::Status(JobStatus::Finished);
                update_job(&mut app, JobKind::Classifier, event);
                if done {
                    break;
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
        assert!(
            start.elapsed() < WAIT,
            "the follower never reported the end"
        );
    }
    // The confusion matrix of the run's last evaluation reaches the tab too.
    let snapshot = loop {
        if let Some(Snapshot::Classifier(s)) = handle.snapshot.borrow_and_update().clone() {
            break s;
        }
        let _ = handle.events.try_recv();
        assert!(
            start.elapsed() < WAIT,
            "no confusion matrix reached the watcher"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(snapshot.step, 12);
    let counted: u32 = snapshot.confusion.iter().flatten().sum();
    assert_eq!(counted as usize, snapshot.evaluated);
    handle.stop_and_join();
    assert_eq!(
        app.classifier.loss.points().len(),
        12,
        "every train_loss point"
    );
    assert_eq!(app.active_jobs(), 0, "quitting a watch asks nothing");

    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40)).unwrap();
    term.draw(|frame| render(&app, frame)).unwrap();
    let text: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        text.contains("the run ended at step 12: finished"),
        "{text}"
    );

    assert!(update(&mut app, Action::StartRestart).is_empty());
    assert!(app
        .toast
        .as_ref()
        .is_some_and(|t| t.text.starts_with("watching a run")));
    // How the charts are drawn changes no run: the chart keys work while watching.
    app.toast = None;
    for action in [Action::ToggleLogY, Action::SmoothMore, Action::ToggleRecent] {
        assert!(update(&mut app, action).is_empty());
    }
    assert!(app.chart.log_y && app.chart.recent && app.chart.smoothing() == 0.95);
    assert!(app.toast.is_none(), "no refusal for a view change");
}

/// A headless DQN run on CartPole: a checkpoint every `every` env steps, no early stop.
fn dqn_args(every: u64) -> Vec<String> {
    [
        "train",
        "scenarios/cartpole-dqn.toml",
        "--headless",
        "--json",
        "--set",
        "stop_when_solved=false",
        "--set",
        "max_env_steps=400000",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["--set".into(), format!("checkpoint_every={every}")])
    .collect()
}

fn metric_records(run: &Path, name: &str) -> Vec<MetricRecord> {
    let (metrics, skipped) = read_jsonl::<MetricRecord>(&run.join("metrics.jsonl")).unwrap();
    assert!(skipped <= 1, "at most the line cut by kill -9 is broken");
    drop_superseded(metrics, &events(run))
        .into_iter()
        .filter(|m| m.name == name)
        .collect()
}

#[test]
fn a_killed_dqn_run_resumes_its_env_steps_episodes_and_replay_buffer() {
    use gradtop::jobs::{watch, JobKind, Snapshot};
    use gradtop::models::rl::{EpisodeFrames, RlState};

    let f = fixture();
    let args = dqn_args(2_000);
    let mut child = command(&f, &args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (dir, _) = wait_for_checkpoint(&f, &mut child, 6_000);
    let dir_arg = dir.to_str().unwrap();
    let refused = run(&mut command(&f, &["resume", dir_arg]));
    assert_eq!(refused.status.code(), Some(2), "resuming a running run");
    child.kill().unwrap(); // SIGKILL: no checkpoint, no end event.
    child.wait().unwrap();

    let from_info = latest_whole_checkpoint(&dir.join("checkpoints"))
        .unwrap()
        .unwrap();
    let from = from_info.step;
    let checkpoint = load_checkpoint(&from_info, &candle_core::Device::Cpu).unwrap();
    let state: RlState = checkpoint.state_as().unwrap();
    assert_eq!(state.env_steps, from);
    let replay = state
        .replay
        .expect("a DQN checkpoint holds its replay buffer");
    assert_eq!(replay.len as u64, from.min(replay.capacity as u64));
    assert_eq!(checkpoint.tensors["replay.obs"].dims(), &[replay.len, 4]);
    for name in ["q.fc1.weight", "target.q.fc1.weight", "adam.m.q.fc1.weight"] {
        assert!(checkpoint.tensors.contains_key(name), "{name}");
    }
    let episodes_at_checkpoint = state.episodes.episodes;

    let target = from + 3_000;
    let out = run(&mut command(
        &f,
        &["resume", dir_arg, "--json", "--steps", &target.to_string()],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = summary(&out);
    let env_steps = summary["env_steps"].as_u64().unwrap();
    // DQN works in chunks of 128 env steps.
    assert!(
        (target..target + 128).contains(&env_steps),
        "{env_steps} vs {target}"
    );
    let episodes = summary["episodes"].as_u64().unwrap();
    assert!(
        episodes > episodes_at_checkpoint,
        "the episode count continues"
    );

    let events = events(&dir);
    let resumed: Vec<u64> = events
        .iter()
        .filter_map(|e| match e.event {
            RunEvent::Start {
                resumed_from: Some(s),
                ..
            } => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(resumed, vec![from]);
    // Each episode logged once: as many return records as episodes, at rising env steps.
    let returns = metric_records(&dir, "episode_return");
    assert_eq!(returns.len() as u64, episodes);
    assert!(returns.windows(2).all(|w| w[0].step < w[1].step));
    // One ε record per chunk, rising without a gap or a repeat across the resume.
    let eps: Vec<u64> = metric_records(&dir, "epsilon")
        .iter()
        .map(|m| m.step)
        .collect();
    assert!(eps.windows(2).all(|w| w[0] < w[1]), "{eps:?}");
    assert!(eps.contains(&from) && *eps.last().unwrap() == env_steps);
    for info in whole_checkpoints(&dir.join("checkpoints")).unwrap() {
        let c = load_checkpoint(&info, &candle_core::Device::Cpu).unwrap();
        let s: RlState = c.state_as().unwrap();
        assert_eq!(s.env_steps, info.step);
    }
    assert!(whole_checkpoints(&dir.join("checkpoints")).unwrap().len() <= 3);

    // The episode frames the run left behind reach a watching RL tab.
    let text = std::fs::read_to_string(dir.join("episodes/latest.json")).unwrap();
    let frames: EpisodeFrames = serde_json::from_str(&text).unwrap();
    assert_eq!(frames.poses.len(), frames.length as usize + 1);
    let mut handle = watch::spawn(&dir, JobKind::Rl).unwrap();
    let start = Instant::now();
    let snapshot = loop {
        if let Some(Snapshot::Rl(s)) = handle.snapshot.borrow_and_update().clone() {
            break s;
        }
        let _ = handle.events.try_recv();
        assert!(start.elapsed() < WAIT, "no episode reached the watcher");
        std::thread::sleep(Duration::from_millis(20));
    };
    handle.stop_and_join();
    assert_eq!(snapshot.latest.as_ref(), Some(&frames));
}

/// A headless MLP GAN on the fixture's digits: small batches, no scoring, a grid every 10
/// iterations and a checkpoint every `every`.
fn gan_args(every: u64) -> Vec<String> {
    [
        "train",
        "scenarios/gan-mlp.toml",
        "--headless",
        "--json",
        "--set",
        "dataset=mnist",
        "--set",
        "batch_size=16",
        "--set",
        "score_every=0",
        "--set",
        "sample_every=10",
        "--set",
        "fixed_samples=16",
        "--set",
        "iterations=100000",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["--set".into(), format!("checkpoint_every={every}")])
    .collect()
}

#[test]
fn a_killed_gan_run_resumes_from_its_checkpoint_and_watch_sees_its_samples() {
    use gradtop::jobs::{watch, JobEvent, JobKind, Snapshot};
    use gradtop::models::gan::samples::{SampleGrid, LATEST_SAMPLES_FILE};

    let f = fixture();
    let args = gan_args(20);
    let mut child = command(&f, &args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (dir, _) = wait_for_checkpoint(&f, &mut child, 40);
    let dir_arg = dir.to_str().unwrap();
    let refused = run(&mut command(&f, &["resume", dir_arg]));
    assert_eq!(
        refused.status.code(),
        Some(2),
        "a running GAN run is locked"
    );

    child.kill().unwrap(); // SIGKILL: no checkpoint, no end event.
    child.wait().unwrap();
    let from = latest_whole_checkpoint(&dir.join("checkpoints"))
        .unwrap()
        .unwrap()
        .step;
    assert_eq!(from % 20, 0, "a periodic checkpoint");
    let target = from + 30;
    let out = run(&mut command(
        &f,
        &["resume", dir_arg, "--json", "--steps", &target.to_string()],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = summary(&out);
    assert_eq!(summary["iterations"], target);
    assert_eq!(summary["kind"], "gan");

    let events = events(&dir);
    let resumed: Vec<u64> = events
        .iter()
        .filter_map(|e| match e.event {
            RunEvent::Start {
                resumed_from: Some(s),
                ..
            } => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(resumed, vec![from]);
    for name in ["d_loss", "g_loss", "d_real", "d_fake"] {
        assert_eq!(
            metric_steps(&dir, name),
            (1..=target).collect::<Vec<_>>(),
            "{name}: every iteration once, continuing from the checkpoint"
        );
    }
    assert!(matches!(
        events.last().unwrap().event,
        RunEvent::End {
            status: EndStatus::Finished,
            ..
        }
    ));
    let whole = whole_checkpoints(&dir.join("checkpoints")).unwrap();
    assert_eq!(whole[0].step, target, "the end writes a checkpoint");
    assert!(whole.len() <= 3, "keep_checkpoints = 3 in the scenario");
    for info in whole {
        let c = load_checkpoint(&info, &candle_core::Device::Cpu).unwrap();
        for name in [
            "generator.g.fc1.weight",
            "discriminator.d.fc3.bias",
            "adam_g.m.g.fc1.weight",
            "adam_d.v.d.fc1.weight",
            "adam_g.step",
            "adam_d.step",
            "fixed_noise",
        ] {
            assert!(
                c.tensors.contains_key(name),
                "{name}: {:?}",
                c.tensors.keys()
            );
        }
        assert_eq!(c.state["iteration"], info.step);
        assert_eq!(c.state["config"]["batch_size"], 16);
    }

    let grid = SampleGrid::parse(&std::fs::read(dir.join(LATEST_SAMPLES_FILE)).unwrap())
        .expect("a whole sample grid");
    assert_eq!(grid.iteration, target);
    assert_eq!((grid.images.len(), grid.side), (16, 28));

    let mut watch = watch::spawn(&dir, JobKind::Gan).unwrap();
    let start = Instant::now();
    loop {
        match watch.events.try_recv() {
            Ok(JobEvent::Snapshot) => break,
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
        assert!(start.elapsed() < WAIT, "watch never sent the samples");
    }
    let Some(Snapshot::Gan(snapshot)) = watch.snapshot.borrow().clone() else {
        panic!("a GAN snapshot")
    };
    assert_eq!(snapshot.iteration, target);
    assert_eq!(snapshot.samples, grid.images);
    watch.stop_and_join();
}

/// A finished 30-step run with checkpoints at 10, 20 and 30, and its checkpoint files.
fn run_with_three_checkpoints(f: &Fixture) -> (PathBuf, Vec<PathBuf>) {
    let mut args = train_args(10, 10);
    args.extend(["--steps".into(), "30".into()]);
    let out = run(&mut command(
        f,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = the_run_dir(f);
    let mut tensors: Vec<PathBuf> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    tensors.sort();
    assert_eq!(tensors.len(), 3, "{tensors:?}");
    (dir, tensors)
}

/// Flips one byte in the middle of `path`.
fn damage(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

/// Every file of `dir` with its contents.
fn snapshot_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn resume_refuses_a_run_whose_checkpoints_are_all_damaged_and_changes_nothing() {
    let f = fixture();
    let (dir, tensors) = run_with_three_checkpoints(&f);
    for path in &tensors {
        damage(path);
    }
    let checkpoints = snapshot_files(&dir.join("checkpoints"));
    let events_before = events(&dir).len();

    let out = run(&mut command(&f, &["resume", dir.to_str().unwrap()]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no checkpoint"), "{stderr}");
    for path in &tensors {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(stderr.contains(name.as_ref()), "{name} is named: {stderr}");
    }
    assert!(stderr.contains("SHA-256"), "says why: {stderr}");
    assert_eq!(
        snapshot_files(&dir.join("checkpoints")),
        checkpoints,
        "nothing deleted"
    );
    assert_eq!(events(&dir).len(), events_before, "nothing logged");
}

#[test]
fn resume_passes_over_a_damaged_newest_checkpoint_and_says_which() {
    let f = fixture();
    let (dir, tensors) = run_with_three_checkpoints(&f);
    let newest = tensors
        .iter()
        .find(|p| p.file_name().is_some_and(|n| n == "step-30.safetensors"))
        .unwrap();
    damage(newest);
    let out = run(&mut command(
        &f,
        &["resume", dir.to_str().unwrap(), "--steps", "25"],
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("skipped checkpoint at step 30") && stdout.contains("step-30.safetensors"),
        "{stdout}"
    );
    assert!(stdout.contains("resumed at step 20"), "{stdout}");
    let warned = events(&dir).iter().any(|e| {
        matches!(&e.event, RunEvent::Warning { message } if message.contains("step-30.safetensors"))
    });
    assert!(warned, "the skip is in the run's log");
}

/// Starts the dashboard training a long MLP run inside a pseudo-terminal (`script`), sends it
/// `signal` once the job runs, and returns the exit status, the run directory and everything
/// the dashboard wrote to its terminal.
fn dashboard_stopped_by(f: &Fixture, signal: libc::c_int) -> (Option<i32>, PathBuf, Vec<u8>) {
    let typescript = f.data.with_file_name("typescript");
    let command_line = format!(
        "{} train scenarios/mnist-cnn.toml --set model=mlp --set epochs=10000 --set \
         checkpoint_every=0 --data-dir {} --runs-dir {}",
        env!("CARGO_BIN_EXE_gradtop"),
        f.data.display(),
        f.runs.display()
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command_line])
        .arg(&typescript)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TERM", "xterm-256color")
        .env_remove("GRADTOP_DATA")
        .env_remove("GRADTOP_RUNS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("script(1) runs");
    // The lock names the dashboard's pid once its job writes the run; training has begun when
    // the first metrics are on disk.
    let start = Instant::now();
    let (run, pid) = loop {
        let found = std::fs::read_dir(&f.runs).ok().and_then(|mut rd| {
            let run = rd.next()?.ok()?.path();
            let pid: i32 = std::fs::read_to_string(run.join("lock"))
                .ok()?
                .trim()
                .parse()
                .ok()?;
            let trained = std::fs::metadata(run.join("metrics.jsonl")).ok()?.len() > 0;
            trained.then_some((run, pid))
        });
        if let Some(found) = found {
            break found;
        }
        assert!(
            start.elapsed() < WAIT,
            "the dashboard never started training"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: kill only sends a signal to the process named by the run's lock.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let status = child.wait().expect("script ends");
    let screen = std::fs::read(&typescript).unwrap_or_default();
    (status.code(), run, screen)
}

fn assert_stopped_cleanly(signal: libc::c_int) {
    let f = fixture();
    let (code, run, screen) = dashboard_stopped_by(&f, signal);
    assert_eq!(code, Some(128 + signal), "exit status 128 + {signal}");
    let events = events(&run);
    assert!(
        events.iter().any(|e| matches!(
            &e.event,
            RunEvent::Checkpoint { reason, .. } if reason == "signal"
        )),
        "a checkpoint on the way out: {events:?}"
    );
    assert!(matches!(
        events.last().map(|e| &e.event),
        Some(RunEvent::End {
            status: EndStatus::Interrupted,
            ..
        })
    ));
    assert!(!run.join("lock").exists(), "the lock is released");
    // The alternate screen was left and the cursor shown again, after the last time the
    // dashboard entered it.
    let text = String::from_utf8_lossy(&screen);
    let entered = text.rfind("\u{1b}[?1049h").expect("the dashboard drew");
    let left = text
        .rfind("\u{1b}[?1049l")
        .expect("the alternate screen is left");
    let shown = text.rfind("\u{1b}[?25h").expect("the cursor is shown");
    assert!(
        left > entered && shown > entered,
        "the terminal is restored last"
    );
}

#[test]
fn sigint_to_the_dashboard_checkpoints_restores_the_terminal_and_exits_130() {
    assert_stopped_cleanly(libc::SIGINT);
}

#[test]
fn sigquit_to_the_dashboard_is_a_clean_stop_too() {
    assert_stopped_cleanly(libc::SIGQUIT);
}

#[test]
fn runs_json_lists_each_runs_settings() {
    let f = fixture();
    let mut args = train_args(1000, 1);
    args.extend([
        "--steps".to_string(),
        "3".to_string(),
        "--set".into(),
        "lr=0.002".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&mut command(&f, &args));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&mut command(&f, &["runs", "--json"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let settings = &runs[0]["settings"];
    assert_eq!(settings["model"], "mlp", "{settings}");
    assert_eq!(settings["lr"], "0.002", "{settings}");
    assert_eq!(runs[0]["kind"], "classifier");
}
