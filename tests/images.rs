//! Datasets given by path: a folder of CIFAR-10 batches or IDX files of another size trains
//! headless and in the dashboard (colour samples drawn in colour, class names from the folder),
//! and a folder that cannot work is refused with the file and what is wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use gradtop::app::render::render;
use gradtop::app::theme::Theme;
use gradtop::app::update::update_snapshot;
use gradtop::app::{update, update_job, Action, App, Effect, Options};
use gradtop::data::idx::{encode_images, encode_labels, write_idx, Images};
use gradtop::data::synthetic::{generate_colour, write_cifar};
use gradtop::device::DeviceChoice;
use gradtop::jobs::{JobCommand, JobEvent, JobKind, JobStatus, Snapshot};
use gradtop::scenario;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;

mod support;
use support::{stderr, summary};

const CIFAR_SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/cifar10-cnn.toml");

/// Runs the gradtop binary in `cwd` (where a scenario's relative `[data]` path is read).
fn gradtop(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradtop"))
        .args(args)
        .current_dir(cwd)
        .env_remove("GRADTOP_DATA")
        .env_remove("GRADTOP_RUNS")
        .env("HOME", std::env::temp_dir().join("gradtop-test-home"))
        .output()
        .expect("the gradtop binary runs")
}

/// Trains `cifar10-cnn.toml` headless in `cwd` (runs under `cwd/runs`) with these more
/// arguments (`--set`s, `--steps`).
fn train_cifar(cwd: &Path, more: &[&str]) -> Output {
    let mut args = vec!["train", CIFAR_SCENARIO, "--headless", "--runs-dir", "runs"];
    args.extend_from_slice(more);
    gradtop(&args, cwd)
}

/// The one run directory under `runs`.
fn only_run(runs: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(runs)
        .expect("runs folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn the_cifar_scenario_learns_a_generated_cifar_format_folder_headless_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(&dir.path().join("data/cifar-10-batches-bin"), 2000, 300, 5).unwrap();
    let out = train_cifar(
        dir.path(),
        &["--json", "--steps", "60", "--set", "eval_subset=300"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert_eq!(
        (s["dataset"].as_str(), s["model"].as_str()),
        (Some("folder"), Some("custom")),
        "{s}"
    );
    let accuracy = s["test_accuracy"].as_f64().expect("accuracy");
    // Ten stroke placements in five colours: chance is 0.1.
    assert!(accuracy > 0.6, "test accuracy {accuracy}");

    // The run saved the folder as an absolute path, so it resumes from another directory.
    let run = only_run(&dir.path().join("runs"));
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let data = dir.path().join("data/cifar-10-batches-bin");
    assert!(config.contains(&data.display().to_string()), "{config}");
    let elsewhere = tempfile::tempdir().unwrap();
    let run_arg = run.display().to_string();
    let out = gradtop(
        &["resume", &run_arg, "--json", "--steps", "70"],
        elsewhere.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        summary(&out)["steps"].as_u64(),
        Some(70),
        "{}",
        summary(&out)
    );
}

#[test]
fn an_idx_folder_of_another_size_without_a_test_split_trains_with_one_carved_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("colour-idx");
    std::fs::create_dir_all(&data).unwrap();
    // CIFAR's generated images cropped to 3×20×24, written as IDX with four dimensions.
    let (full, labels) = generate_colour(400, 9);
    let mut pixels = Vec::new();
    for i in 0..full.count {
        for plane in full.image(i).chunks(32 * 32) {
            for row in plane.chunks(32).skip(6).take(20) {
                pixels.extend_from_slice(&row[4..28]);
            }
        }
    }
    let cropped = Images {
        pixels,
        count: full.count,
        channels: 3,
        rows: 20,
        cols: 24,
    };
    write_idx(
        &data.join("train-images-idx4-ubyte.gz"),
        &encode_images(&cropped),
    )
    .unwrap();
    write_idx(
        &data.join("train-labels-idx1-ubyte"),
        &encode_labels(&labels),
    )
    .unwrap();
    let path = format!("data.path={:?}", data.display().to_string());
    let out = train_cifar(
        dir.path(),
        &[
            "--steps",
            "5",
            "--set",
            &path,
            "--set",
            "data.test_fraction=0.25",
            "--set",
            "batch_size=16",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("300 train, 100 test images of 3×20×24"),
        "{stdout}"
    );
}

#[test]
fn a_folder_that_cannot_work_is_refused_naming_the_file_and_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data/cifar-10-batches-bin");
    write_cifar(&data, 50, 10, 1).unwrap();
    let run = |sets: &[&str]| {
        let args: Vec<&str> = sets.iter().flat_map(|s| ["--set", s]).collect();
        train_cifar(dir.path(), &args)
    };

    // `dataset = "folder"` without a path, and a path without `dataset = "folder"`.
    let out = run(&["dataset=\"mnist\""]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is read only with dataset = \"folder\""),
        "{}",
        stderr(&out)
    );

    // Layers that do not fit the folder's images name the shapes read from its headers.
    let out = run(&["layers=[{type=\"dense\", units=10}]"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("(3, 32, 32)"), "{}", stderr(&out));

    // A test fraction for a folder with its own test split.
    let out = run(&["data.test_fraction=0.2"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("has its own test split"),
        "{}",
        stderr(&out)
    );

    // A batch cut short names the file and the record size.
    let batch = data.join("data_batch_1.bin");
    let bytes = std::fs::read(&batch).unwrap();
    std::fs::write(&batch, &bytes[..bytes.len() - 10]).unwrap();
    let out = run(&[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("data_batch_1.bin")
            && err.contains("is not a whole number of CIFAR-10 records"),
        "{err}"
    );

    // A missing folder says so.
    let out = run(&["data.path=\"nowhere\""]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nowhere: no such folder"),
        "{}",
        stderr(&out)
    );
}

/// Whether any cell of the buffer is a half-block in a colour that is not grey.
fn has_colour_half_blocks(buf: &Buffer) -> bool {
    buf.content().iter().any(|cell| {
        cell.symbol() == "▀"
            && matches!(cell.fg, Color::Rgb(r, g, b) if r.abs_diff(g) > 40 || g.abs_diff(b) > 40)
    })
}

/// The dashboard as `gradtop train SCENARIO` opens it, in colour, on the CPU.
fn dashboard(scenario: scenario::Scenario, runs: &Path, max_steps: Option<u64>) -> App {
    let options = Options {
        fps: 10,
        ascii: false,
        data_dir: None,
        device: DeviceChoice::Cpu,
        runs_dir: runs.to_path_buf(),
        watch: None,
        scenario: Some(scenario),
        max_steps,
    };
    App::new(&options, Theme::new(false, false))
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(app, f)).unwrap();
    term.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let area = buf.area;
    (0..area.height)
        .map(|y| {
            (0..area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_cifar_scenario_trains_in_the_dashboard_and_draws_its_samples_in_colour() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cifar");
    write_cifar(&data, 640, 100, 2).unwrap();
    let sets = [
        format!("data.path={:?}", data.display().to_string()),
        "eval_every=10".to_string(),
        "eval_subset=100".to_string(),
    ];
    let s = scenario::load_with_overrides(Path::new(CIFAR_SCENARIO), &sets).unwrap();
    let mut app = dashboard(s, &dir.path().join("runs"), Some(20));
    let before = text(&draw(&app, 120, 36));
    assert!(before.contains("folder"), "{before}");
    let effects = update(&mut app, Action::StartRestart);
    let [Effect::Start(spec)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let mut handle = gradtop::jobs::start((**spec).clone()).expect("the job starts");
    handle.send(JobCommand::Start);
    let start = Instant::now();
    let mut ended = false;
    while !ended {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the job did not end"
        );
        match handle.events.try_recv() {
            Ok(event) => {
                ended = matches!(
                    event,
                    JobEvent::Status(JobStatus::Finished | JobStatus::Failed(_))
                );
                let snapshot = matches!(event, JobEvent::Snapshot);
                update_job(&mut app, JobKind::Classifier, event);
                if let (true, Some(s)) = (snapshot, handle.latest()) {
                    update_snapshot(&mut app, s);
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    handle.stop_and_join();
    let Some(Snapshot::Classifier(snap)) = handle.latest() else {
        panic!("no classifier snapshot")
    };
    assert_eq!(snap.class_names[9], "truck");
    assert_eq!(snap.samples[0].shape, (3, 32, 32));
    let buf = draw(&app, 120, 36);
    let screen = text(&buf);
    assert!(
        ["airplane", "automobile", "truck"]
            .iter()
            .any(|n| screen.contains(n)),
        "{screen}"
    );
    assert!(has_colour_half_blocks(&buf), "{screen}");
    // The ASCII fallback draws the same samples without half-blocks or colour.
    app.theme = Theme::new(true, true);
    let buf = draw(&app, 120, 36);
    assert!(
        !buf.content().iter().any(|c| c.symbol() == "▀"),
        "{}",
        text(&buf)
    );
    assert!(!has_colour_half_blocks(&buf));
    assert_eq!(text(&buf).contains("truck"), screen.contains("truck"));
}

#[test]
fn a_missing_folder_is_shown_without_a_download_offer_and_a_filled_one_starts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("later");
    let sets = [format!("data.path={:?}", data.display().to_string())];
    let s = scenario::load_with_overrides(Path::new(CIFAR_SCENARIO), &sets).unwrap();
    let mut app = dashboard(s, &dir.path().join("runs"), None);
    let screen = text(&draw(&app, 120, 36));
    assert!(
        screen.contains("The scenario's data folder is missing."),
        "{screen}"
    );
    assert!(screen.contains("does not exist"), "{screen}");
    assert!(!screen.contains("press f"), "{screen}");
    assert!(update(&mut app, Action::StartRestart).is_empty());
    // Filled while the dashboard is open, the folder trains on the next start.
    write_cifar(&data, 40, 10, 1).unwrap();
    let effects = update(&mut app, Action::StartRestart);
    assert!(
        matches!(effects.as_slice(), [Effect::Start(_)]),
        "{effects:?}"
    );
}
