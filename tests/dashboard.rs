//! The dashboard without a terminal: actions into `update`, job events into `update_job`,
//! and TestBackend renders of every tab at 80×24 and 120×40.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gradtop::app::render::render;
use gradtop::app::theme::Theme;
use gradtop::app::update::update_snapshot;
use gradtop::app::{map_key, update, update_job, Action, App, Effect, Options, Overlay, TabId};
use gradtop::data::DatasetName;
use gradtop::device::DeviceChoice;
use gradtop::jobs::{ClassifierSnapshot, JobKind, Snapshot};
use gradtop::jobs::{JobCommand, JobEvent, JobStatus, Metric, Param, Progress};
use gradtop::models::classifier::SamplePrediction;
use gradtop::scenario;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// A dashboard whose dataset lookup points at a generated dataset.
fn app_with_data() -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    gradtop::data::synthetic::write_dataset(&dir.path().join("mnist"), 20, 20, 1).unwrap();
    let options = Options {
        fps: 10,
        ascii: false,
        data_dir: Some(dir.path().to_path_buf()),
        device: DeviceChoice::Cpu,
        runs_dir: std::env::temp_dir().join("gradtop-test-runs"),
        watch: None,
        scenario: None,
        max_steps: None,
    };
    (App::new(&options, Theme::new(false, false)), dir)
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(app, f)).unwrap();
    let buf = term.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A test image of class `i % 10`, predicted right (91% sure) or wrong (as the next class).
fn prediction(i: usize, right: bool) -> SamplePrediction {
    let label = (i % 10) as u8;
    let best = if right { label } else { (label + 1) % 10 };
    SamplePrediction {
        pixels: (0..784).map(|p| ((p * 7 + i) % 256) as u8).collect(),
        shape: (1, 28, 28),
        label,
        top3: [
            (best, 0.91),
            ((best + 1) % 10, 0.06),
            ((best + 2) % 10, 0.02),
        ],
    }
}

/// Feeds a running job's worth of events: losses, accuracies, progress, a snapshot.
fn simulate_training(app: &mut App) {
    update_job(
        app,
        JobKind::Classifier,
        JobEvent::Status(JobStatus::Running),
    );
    for step in 1..=300u64 {
        let loss = 2.3 / (1.0 + step as f64 / 30.0);
        update_job(
            app,
            JobKind::Classifier,
            JobEvent::Metric {
                step,
                metric: Metric::TrainLoss,
                value: loss,
            },
        );
        if step % 50 == 0 {
            update_job(
                app,
                JobKind::Classifier,
                JobEvent::Metric {
                    step,
                    metric: Metric::TrainAccuracy,
                    value: 0.5 + step as f64 / 1000.0,
                },
            );
            update_job(
                app,
                JobKind::Classifier,
                JobEvent::Metric {
                    step,
                    metric: Metric::TestAccuracy,
                    value: 0.6 + step as f64 / 1000.0,
                },
            );
        }
    }
    update_job(
        app,
        JobKind::Classifier,
        JobEvent::Progress(Progress {
            step: 300,
            total_steps: 1000,
            epoch: 2,
            epochs: 5,
            rate: 4812.0,
            eta_s: Some(75.0),
        }),
    );
    let mut confusion = [[0u32; 10]; 10];
    for (i, row) in confusion.iter_mut().enumerate() {
        row[i] = 90;
        row[(i + 1) % 10] = 10;
    }
    let samples = (0..32).map(|i| prediction(i, true)).collect();
    let misclassified = (0..32).map(|i| prediction(i, false)).collect();
    update_snapshot(
        app,
        Snapshot::Classifier(Arc::new(ClassifierSnapshot {
            samples,
            misclassified,
            confusion,
            evaluated: 1000,
            class_names: gradtop::data::DatasetName::Mnist.class_list(),
            step: 300,
        })),
    );
}

#[test]
fn opens_on_the_classifier_ready_with_the_start_key_shown() {
    let (app, _d) = app_with_data();
    for (w, h) in [(80, 24), (120, 40)] {
        let s = screen(&app, w, h);
        assert!(
            s.contains("[1 Classifier]") && s.contains("[4 Runs]"),
            "{s}"
        );
        assert!(s.contains("hyperparameters"), "{s}");
        assert!(s.contains("press s to start"), "{s}");
        assert!(s.contains("s start"), "{s}");
        assert!(s.contains("1.0e-3"), "{s}");
    }
}

/// The bottom row of the screen, trailing blanks dropped.
fn bottom_line(app: &App, w: u16, h: u16) -> String {
    let s = screen(app, w, h);
    s.lines().last().unwrap_or_default().trim_end().to_string()
}

#[test]
fn the_bottom_line_offers_the_keys_of_the_jobs_phase_at_both_sizes() {
    let (mut app, _d) = app_with_data();
    let idle = " s start · ←/→ change · ↑/↓ select · Enter type · ? help · q quit · g gpu";
    assert_eq!(bottom_line(&app, 80, 24), idle);
    update(&mut app, Action::StartRestart);
    update_job(
        &mut app,
        JobKind::Classifier,
        JobEvent::Status(JobStatus::Running),
    );
    app.toast = None;
    let running = " space pause · s restart · x stop · c save · v mistakes · ←/→ change · ? help";
    assert_eq!(
        bottom_line(&app, 80, 24),
        running,
        "cut before q at 80 columns"
    );
    assert_eq!(
        bottom_line(&app, 120, 40),
        format!("{running} · q quit · g gpu · y [/] z chart view")
    );
    update_job(
        &mut app,
        JobKind::Classifier,
        JobEvent::Status(JobStatus::Paused("paused by user".into())),
    );
    app.toast = None;
    assert_eq!(
        bottom_line(&app, 80, 24),
        " space resume · s restart · x stop · c save · v mistakes · ←/→ change · ? help"
    );
    update_job(
        &mut app,
        JobKind::Classifier,
        JobEvent::Status(JobStatus::Finished),
    );
    app.toast = None;
    assert_eq!(
        bottom_line(&app, 80, 24),
        " s start again · v mistakes · ←/→ change · ↑/↓ select · Enter type · ? help"
    );

    for (tab, kind, own) in [
        (TabId::Gan, JobKind::Gan, "e export"),
        (TabId::Rl, JobKind::Rl, "w play greedy"),
    ] {
        update(&mut app, Action::GoTab(tab));
        assert_eq!(bottom_line(&app, 80, 24), idle);
        update(&mut app, Action::StartRestart);
        update_job(&mut app, kind, JobEvent::Status(JobStatus::Running));
        app.toast = None;
        assert_eq!(
            bottom_line(&app, 80, 24),
            format!(" space pause · s restart · x stop · {own} · ←/→ change · ? help · q quit")
        );
        update_job(
            &mut app,
            kind,
            JobEvent::Status(JobStatus::Paused("paused by user".into())),
        );
        app.toast = None;
        assert_eq!(
            bottom_line(&app, 80, 24),
            format!(" space resume · s restart · x stop · {own} · ? help · q quit · g gpu")
        );
    }
}

#[test]
fn a_resumed_runs_history_continues_its_curves() {
    let (mut app, _dir) = app_with_data();
    update_job(
        &mut app,
        JobKind::Classifier,
        JobEvent::Status(JobStatus::Running),
    );
    let points = (1..=50)
        .map(|s| (s, Metric::TrainLoss, 2.0 / s as f64))
        .collect();
    update_job(&mut app, JobKind::Classifier, JobEvent::History(points));
    update_job(
        &mut app,
        JobKind::Classifier,
        JobEvent::Metric {
            step: 51,
            metric: Metric::TrainLoss,
            value: 0.03,
        },
    );
    let loss = app.classifier.loss.points();
    assert_eq!(
        loss.first().map(|p| p.0),
        Some(1.0),
        "starts at the run's start"
    );
    assert_eq!(loss.last().map(|p| p.0), Some(51.0));
    assert_eq!(loss.len(), 51);
}

#[test]
fn training_tab_shows_every_panel_at_both_sizes() {
    let (mut app, _d) = app_with_data();
    simulate_training(&mut app);
    for (w, h) in [(80, 24), (120, 40)] {
        let s = screen(&app, w, h);
        for needle in [
            "hyperparameters",
            "loss",
            "accuracy",
            "test samples",
            "confusion",
            "epoch 2/5",
            "4,812 samples/s",
            "ETA 1m15s",
            "30%",
            "91%",
        ] {
            assert!(s.contains(needle), "{w}×{h} lacks {needle:?}:\n{s}");
        }
        assert!(s.contains('▀'), "half-block images at {w}×{h}");
    }
}

#[test]
fn ascii_mode_uses_no_block_or_braille_glyphs() {
    let (mut app, _d) = app_with_data();
    app.theme = Theme::new(true, true);
    simulate_training(&mut app);
    let s = screen(&app, 120, 40);
    assert!(!s.contains('▀') && !s.contains('█'), "{s}");
    assert!(
        !s.chars().any(|c| ('\u{2800}'..='\u{28FF}').contains(&c)),
        "braille in ascii mode"
    );
    assert!(s.contains("confusion"));
}

#[test]
fn too_small_terminal_says_how_large_it_must_be() {
    let (app, _d) = app_with_data();
    let s = screen(&app, 60, 20);
    assert!(s.contains("80×24") && s.contains("60×20"), "{s}");
    assert!(!s.contains("Quit anyway"), "{s}");
}

#[test]
fn the_quit_question_is_asked_on_a_too_small_terminal_too() {
    let (mut app, _d) = app_with_data();
    app.overlay = Overlay::ConfirmQuit;
    let s = screen(&app, 60, 20);
    assert!(s.contains("Quit anyway") && s.contains("y quits"), "{s}");
}

#[test]
fn other_tabs_render_at_both_sizes() {
    let (mut app, _d) = app_with_data();
    for (tab, needle) in [
        (TabId::Gan, "GAN"),
        (TabId::Rl, "RL"),
        (TabId::Runs, "Runs"),
    ] {
        update(&mut app, Action::GoTab(tab));
        for (w, h) in [(80, 24), (120, 40)] {
            let s = screen(&app, w, h);
            assert!(s.contains(needle), "{s}");
        }
    }
}

#[test]
fn arrows_change_the_learning_rate_of_a_running_job() {
    let (mut app, _d) = app_with_data();
    let effects = update(&mut app, Action::StartRestart);
    assert!(
        matches!(effects.as_slice(), [Effect::Start(spec)] if spec.kind() == JobKind::Classifier)
    );
    update_job(
        &mut app,
        JobKind::Classifier,
        JobEvent::Status(JobStatus::Running),
    );
    let effects = update(&mut app, Action::Right);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Command(JobKind::Classifier, JobCommand::Set(Param::Lr, v))] if *v == 2e-3
    ));
    let effects = update(&mut app, Action::Left);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Command(JobKind::Classifier, JobCommand::Set(Param::Lr, v))] if *v == 1e-3
    ));
    // The job confirms; the change is logged with its step and shown.
    update_job(
        &mut app,
        JobKind::Classifier,
        JobEvent::Applied {
            param: Param::Lr,
            value: 1e-3,
            step: 812,
        },
    );
    let s = screen(&app, 120, 40);
    assert!(s.contains("step 812: lr → 1.0e-3"), "{s}");
}

#[test]
fn typed_values_are_validated_and_bad_ones_change_nothing() {
    let (mut app, _d) = app_with_data();
    update(&mut app, Action::StartRestart);
    update_job(
        &mut app,
        JobKind::Classifier,
        JobEvent::Status(JobStatus::Running),
    );
    for bad in ["abc", "-1", "0", "nan"] {
        update(&mut app, Action::BeginEdit);
        for _ in 0..10 {
            update(&mut app, Action::EditBackspace);
        }
        for c in bad.chars() {
            update(&mut app, Action::EditChar(c));
        }
        let effects = update(&mut app, Action::EditCommit);
        assert!(effects.is_empty(), "{bad} was accepted");
        assert_eq!(app.classifier.config.lr, 1e-3);
        let toast = app.toast.as_ref().unwrap().text.clone();
        assert!(toast.starts_with("refused"), "{bad}: {toast}");
    }
    update(&mut app, Action::Down); // batch
    update(&mut app, Action::BeginEdit);
    update(&mut app, Action::EditBackspace);
    update(&mut app, Action::EditBackspace);
    for c in "64".chars() {
        update(&mut app, Action::EditChar(c));
    }
    let effects = update(&mut app, Action::EditCommit);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Command(_, JobCommand::Set(Param::BatchSize, v))] if *v == 64.0
    ));
}

#[test]
fn space_pauses_and_resumes_and_quit_asks_while_running() {
    let (mut app, _d) = app_with_data();
    assert!(update(&mut app, Action::PauseResume).is_empty());
    update(&mut app, Action::StartRestart);
    update_job(
        &mut app,
        JobKind::Classifier,
        JobEvent::Status(JobStatus::Running),
    );
    assert!(matches!(
        update(&mut app, Action::PauseResume).as_slice(),
        [Effect::Command(_, JobCommand::Pause)]
    ));
    update_job(
        &mut app,
        JobKind::Classifier,
        JobEvent::Status(JobStatus::Paused("paused by user".into())),
    );
    assert!(matches!(
        update(&mut app, Action::PauseResume).as_slice(),
        [Effect::Command(_, JobCommand::Resume)]
    ));
    update(&mut app, Action::Quit);
    assert_eq!(app.overlay, Overlay::ConfirmQuit);
    assert!(!app.should_quit);
    assert!(screen(&app, 80, 24).contains("quit?"));
    update(&mut app, Action::CloseOverlay);
    assert!(!app.should_quit);
    update(&mut app, Action::ForceQuit);
    assert!(app.should_quit);
}

#[test]
fn a_diverged_job_shows_its_reason() {
    let (mut app, _d) = app_with_data();
    update(&mut app, Action::StartRestart);
    update_job(
        &mut app,
        JobKind::Classifier,
        JobEvent::Status(JobStatus::Paused(
            "loss became NaN at step 40 (lr 1.0e1)".into(),
        )),
    );
    let s = screen(&app, 120, 40);
    assert!(s.contains("NaN at step 40"), "{s}");
}

#[test]
fn help_overlay_lists_keys_and_loss_formulas() {
    let (mut app, _d) = app_with_data();
    update(&mut app, Action::ToggleHelp);
    let s = screen(&app, 120, 40);
    assert!(s.contains("pause / resume"), "{s}");
    assert!(s.contains("ln D(G(z))"), "{s}");
    assert!(s.contains("softmax"), "{s}");
}

/// A dashboard whose `--data-dir` holds only Fashion-MNIST, opened on `scenario` (none: the
/// default tabs); MNIST is missing unless this machine keeps a copy where gradtop always looks.
fn app_with_fashion_only(scenario: Option<&str>) -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    gradtop::data::synthetic::write_dataset(&dir.path().join("fashion-mnist"), 20, 20, 1).unwrap();
    let scenario = scenario.map(|name| {
        scenario::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
    });
    let options = Options {
        fps: 10,
        ascii: false,
        data_dir: Some(dir.path().to_path_buf()),
        device: DeviceChoice::Cpu,
        runs_dir: std::env::temp_dir().join("gradtop-test-runs"),
        watch: None,
        scenario,
        max_steps: None,
    };
    (App::new(&options, Theme::new(false, false)), dir)
}

fn mnist_found_anyway() -> bool {
    gradtop::data::find_dataset(DatasetName::Mnist, None).is_ok()
}

#[test]
fn without_a_scenario_every_tab_starts_on_a_dataset_that_is_there_named_after_it() {
    if mnist_found_anyway() {
        return;
    }
    let (mut app, _dir) = app_with_fashion_only(None);
    assert_eq!(app.classifier.config.dataset, DatasetName::FashionMnist);
    assert_eq!(app.gan.config.dataset, DatasetName::FashionMnist);
    let s = screen(&app, 80, 24);
    assert!(!s.contains("missing"), "{s}");
    let named = |effects: Vec<Effect>| match effects.as_slice() {
        [Effect::Start(spec)] => spec.scenario.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(named(update(&mut app, Action::StartRestart)), "fashion-cnn");
    update(&mut app, Action::GoTab(TabId::Gan));
    assert_eq!(
        named(update(&mut app, Action::StartRestart)),
        "gan-mlp-fashion"
    );
}

#[test]
fn a_dataset_chosen_on_one_tab_applies_to_the_others_without_a_live_job() {
    let (mut app, _dir) = app_with_fashion_only(None);
    // The data row of the classifier's panel, cycled to the built-in digits.
    for _ in 0..4 {
        update(&mut app, Action::Down);
    }
    while app.classifier.config.dataset != DatasetName::Digits {
        update(&mut app, Action::Right);
    }
    assert_eq!(app.gan.config.dataset, DatasetName::Digits);
    let named = |effects: Vec<Effect>| match effects.as_slice() {
        [Effect::Start(spec)] => spec.scenario.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(named(update(&mut app, Action::StartRestart)), "digits-cnn");
    // A live job keeps its data: the GAN's choice no longer reaches the classifier.
    update(&mut app, Action::GoTab(TabId::Gan));
    for _ in 0..6 {
        update(&mut app, Action::Down);
    }
    update(&mut app, Action::Right);
    assert_ne!(app.gan.config.dataset, DatasetName::Digits);
    assert_eq!(app.classifier.config.dataset, DatasetName::Digits);
}

#[test]
fn missing_dataset_offers_the_one_found_and_the_fetch_command() {
    if mnist_found_anyway() {
        return;
    }
    let (mut app, _dir) = app_with_fashion_only(Some("scenarios/mnist-cnn.toml"));
    let s = screen(&app, 80, 24);
    assert!(s.contains("gradtop data fetch mnist"), "{s}");
    assert!(s.contains("press u"), "{s}");
    assert_eq!(
        bottom_line(&app, 80, 24),
        " u use the dataset found · f fetch it · ←/→ change · ↑/↓ select · ? help"
    );
    // The scenario starts by itself on the dashboard; its data is missing, so nothing starts.
    assert!(update(&mut app, Action::StartRestart).is_empty());
    update(&mut app, Action::UseAlternative);
    assert_eq!(app.classifier.config.dataset, DatasetName::FashionMnist);
    match update(&mut app, Action::StartRestart).as_slice() {
        [Effect::Start(spec)] => assert_eq!(spec.scenario, "mnist-cnn-fashion"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn f_fetches_the_missing_dataset_with_a_progress_bar_and_says_how_it_ended() {
    use gradtop::app::fetch::FetchUpdate;
    use gradtop::app::update::update_files;
    use gradtop::app::FileDone;
    if mnist_found_anyway() {
        return;
    }
    let (mut app, dir) = app_with_fashion_only(Some("scenarios/mnist-cnn.toml"));
    assert!(screen(&app, 80, 24).contains("press f to download it here"));
    assert_eq!(
        bottom_line(&app, 80, 24),
        " u use the dataset found · f fetch it · ←/→ change · ↑/↓ select · ? help"
    );
    let effects = update(&mut app, Action::FetchData);
    assert!(
        matches!(effects.as_slice(), [Effect::Fetch(DatasetName::Mnist)]),
        "{effects:?}"
    );
    assert!(update(&mut app, Action::FetchData).is_empty());
    assert_eq!(bottom_line(&app, 80, 24), " already fetching mnist");
    app.toast = None;
    update_files(
        &mut app,
        FileDone::Fetch(FetchUpdate::Progress {
            file: "train-images-idx3-ubyte.gz".into(),
            done: 4_950_000,
            total: Some(9_900_000),
            files_done: 0,
        }),
    );
    let line = bottom_line(&app, 120, 36);
    assert!(line.contains("██░░░░░░░░░░░░░░░░░  12%"), "{line}");
    assert!(
        line.contains("fetching mnist · file 1/4 train-images-idx3-ubyte.gz · 5.0 of 9.9 MB"),
        "{line}"
    );

    update_files(
        &mut app,
        FileDone::Fetch(FetchUpdate::Done(Err(
            "download of https://example/mnist failed: connection refused".into(),
        ))),
    );
    assert!(app.fetching.is_none());
    assert_eq!(
        bottom_line(&app, 120, 36),
        " fetching mnist failed: download of https://example/mnist failed: connection refused"
    );
    assert_eq!(app.classifier.config.dataset, DatasetName::Mnist);

    // A fetch that ends well puts the dataset where gradtop looks, and the tabs take it.
    update(&mut app, Action::UseAlternative);
    assert_eq!(app.gan.config.dataset, DatasetName::FashionMnist);
    update(&mut app, Action::FetchData);
    let mnist = dir.path().join("mnist");
    gradtop::data::synthetic::write_dataset(&mnist, 20, 20, 2).unwrap();
    update_files(
        &mut app,
        FileDone::Fetch(FetchUpdate::Done(Ok(mnist.clone()))),
    );
    assert_eq!(app.classifier.config.dataset, DatasetName::Mnist);
    assert_eq!(app.gan.config.dataset, DatasetName::Mnist);
    assert!(bottom_line(&app, 120, 36).contains("press s to train on it"));
    assert!(matches!(
        update(&mut app, Action::StartRestart).as_slice(),
        [Effect::Start(_)]
    ));
}

#[test]
fn a_scenario_from_train_is_loaded_and_autostarts() {
    let app = app_with_scenario("mnist-mlp");
    assert!(app.classifier.job.autostart);
    assert_eq!(app.classifier.job.scenario, "mnist-mlp");
    assert_eq!(app.classifier.config.model_name(), "mlp");
}

mod rl_tab {
    use super::*;
    use gradtop::envs::Pose;
    use gradtop::jobs::RlSnapshot;
    use gradtop::models::rl::trainer::EpisodeFrames;

    fn episode(n: u64, len: usize, lean: f64) -> EpisodeFrames {
        EpisodeFrames {
            episode: n,
            poses: (0..=len)
                .map(|t| Pose {
                    x: 0.01 * t as f64,
                    theta: lean * t as f64 / len as f64,
                })
                .collect(),
            episode_return: len as f64,
            length: len as u32,
            truncated: false,
            greedy: false,
        }
    }

    fn running_rl_app() -> App {
        let (mut app, _d) = app_with_data();
        update(&mut app, Action::GoTab(TabId::Rl));
        let effects = update(&mut app, Action::StartRestart);
        assert!(matches!(effects.as_slice(), [Effect::Start(spec)] if spec.kind() == JobKind::Rl));
        update_job(&mut app, JobKind::Rl, JobEvent::Status(JobStatus::Running));
        for i in 1..=60u64 {
            let step = i * 200;
            let ret = (i * 8) as f64;
            for (metric, value) in [
                (Metric::EpisodeReturn, ret),
                (Metric::MeanReturn20, ret * 0.9),
                (Metric::Loss, 1.0 / i as f64),
                (Metric::Epsilon, 1.0 - i as f64 / 60.0),
            ] {
                update_job(
                    &mut app,
                    JobKind::Rl,
                    JobEvent::Metric {
                        step,
                        metric,
                        value,
                    },
                );
            }
        }
        update_job(
            &mut app,
            JobKind::Rl,
            JobEvent::Progress(Progress {
                step: 12_000,
                total_steps: 500_000,
                epoch: 60,
                epochs: 0,
                rate: 21_400.0,
                eta_s: Some(30.0),
            }),
        );
        gradtop::app::update::update_snapshot(
            &mut app,
            Snapshot::Rl(Arc::new(RlSnapshot {
                latest: Some(episode(60, 100, 0.15)),
                greedy: None,
            })),
        );
        app
    }

    #[test]
    fn renders_returns_losses_and_the_cartpole_at_both_sizes() {
        let app = running_rl_app();
        for (w, h) in [(80, 24), (120, 40)] {
            let s = screen(&app, w, h);
            for needle in [
                "hyperparameters",
                "return",
                "goal 475",
                "loss",
                "CartPole-v1",
                "ep 60",
                "21,400 steps/s",
                "gamma",
                "epsilon",
                "target",
            ] {
                assert!(s.contains(needle), "{w}×{h} lacks {needle:?}:\n{s}");
            }
        }
        assert!(screen(&app, 120, 40).contains("mean-20 432.0"));
    }

    #[test]
    fn replay_advances_at_fifty_frames_a_second_and_watch_jumps_the_queue() {
        let mut app = running_rl_app();
        assert_eq!(app.rl.replay.as_ref().unwrap().index(), 0);
        // 10 fps: one tick is 5 simulated steps.
        gradtop::app::update::tick(&mut app, "12:00".into());
        assert_eq!(app.rl.replay.as_ref().unwrap().index(), 5);
        let effects = update(&mut app, Action::PlayGreedy);
        assert!(matches!(
            effects.as_slice(),
            [Effect::Command(JobKind::Rl, JobCommand::PlayGreedy)]
        ));
        let mut greedy = episode(0, 500, 0.0);
        greedy.greedy = true;
        gradtop::app::update::update_snapshot(
            &mut app,
            Snapshot::Rl(Arc::new(RlSnapshot {
                latest: Some(episode(61, 80, -0.2)),
                greedy: Some(greedy),
            })),
        );
        // The current episode finishes first (100 frames + a half-second hold), then the greedy one plays.
        for _ in 0..30 {
            gradtop::app::update::tick(&mut app, "12:00".into());
        }
        let r = app.rl.replay.as_ref().unwrap();
        assert!(r.frames.greedy, "greedy episode should play next");
        assert!(screen(&app, 120, 40).contains("greedy"));
    }

    #[test]
    fn rl_parameters_change_live_and_refuse_bad_values() {
        let mut app = running_rl_app();
        update(&mut app, Action::Down); // gamma
        update(&mut app, Action::BeginEdit);
        for _ in 0..8 {
            update(&mut app, Action::EditBackspace);
        }
        for c in "1.5".chars() {
            update(&mut app, Action::EditChar(c));
        }
        assert!(update(&mut app, Action::EditCommit).is_empty());
        assert!(app
            .toast
            .as_ref()
            .unwrap()
            .text
            .contains("gamma must be in [0, 1]"));
        update(&mut app, Action::Down); // epsilon, at 0 after the simulated schedule
        let effects = update(&mut app, Action::Right);
        assert!(matches!(
            effects.as_slice(),
            [Effect::Command(
                JobKind::Rl,
                JobCommand::Set(Param::Epsilon, _)
            )]
        ));
    }
}

mod gan_tab {
    use super::*;
    use gradtop::jobs::GanSnapshot;

    fn running_gan_app() -> (App, tempfile::TempDir) {
        let (mut app, d) = app_with_data();
        update(&mut app, Action::GoTab(TabId::Gan));
        let effects = update(&mut app, Action::StartRestart);
        assert!(matches!(effects.as_slice(), [Effect::Start(spec)] if spec.kind() == JobKind::Gan));
        update_job(&mut app, JobKind::Gan, JobEvent::Status(JobStatus::Running));
        for it in 1..=200u64 {
            for (metric, value) in [
                (Metric::DLoss, 1.2 - it as f64 / 1000.0),
                (Metric::GLoss, 0.8 + it as f64 / 1000.0),
                (Metric::DReal, 0.7),
                (Metric::DFake, 0.4),
            ] {
                update_job(
                    &mut app,
                    JobKind::Gan,
                    JobEvent::Metric {
                        step: it,
                        metric,
                        value,
                    },
                );
            }
        }
        update_job(
            &mut app,
            JobKind::Gan,
            JobEvent::Metric {
                step: 200,
                metric: Metric::FidCnn,
                value: 41.3,
            },
        );
        update_job(
            &mut app,
            JobKind::Gan,
            JobEvent::Progress(Progress {
                step: 200,
                total_steps: 5000,
                epoch: 0,
                epochs: 1,
                rate: 118.0,
                eta_s: Some(40.0),
            }),
        );
        let samples = (0..64)
            .map(|i| (0..784).map(|p| ((p + i * 13) % 256) as u8).collect())
            .collect();
        let strip = (0..13)
            .map(|i| (0..784).map(|p| ((p + i * 5) % 256) as u8).collect())
            .collect();
        gradtop::app::update::update_snapshot(
            &mut app,
            Snapshot::Gan(Arc::new(GanSnapshot {
                samples,
                strip,
                iteration: 200,
            })),
        );
        (app, d)
    }

    #[test]
    fn renders_losses_probabilities_samples_and_score_at_both_sizes() {
        let (app, _d) = running_gan_app();
        for (w, h) in [(80, 24), (120, 40)] {
            let s = screen(&app, w, h);
            for needle in [
                "lr_g",
                "lr_d",
                "d_steps",
                "smooth",
                "loss",
                "D(x)",
                "fixed noise",
                "it 200",
                "fid_cnn 41.30",
                "118 it/s",
            ] {
                assert!(s.contains(needle), "{w}×{h} lacks {needle:?}:\n{s}");
            }
            assert!(s.contains('▀'), "half-block samples at {w}×{h}");
        }
    }

    #[test]
    fn the_grid_shows_at_least_four_by_four_at_80x24() {
        let (app, _d) = running_gan_app();
        let s = screen(&app, 80, 24);
        // Quarter-size images are 7 cells wide: count rows of the grid with 4+ images.
        let rows_with_four = s
            .lines()
            .filter(|l| l.matches("▀▀▀▀▀▀▀").count() >= 4)
            .count();
        assert!(rows_with_four >= 16, "{s}");
    }

    #[test]
    fn the_interpolation_strip_shows_under_the_grid_where_it_fits() {
        let (app, _d) = running_gan_app();
        for (w, h, strip_images) in [(120, 36, 7), (200, 60, 5)] {
            let s = screen(&app, w, h);
            let lines: Vec<&str> = s.lines().collect();
            let label = lines
                .iter()
                .position(|l| l.contains("latent interpolation · sample 1 → 2"))
                .unwrap_or_else(|| panic!("no strip label at {w}×{h}:\n{s}"));
            // The row under the label holds the strip's images, and the grid is above it.
            let size = if strip_images == 7 { 7 } else { 14 };
            let run = "▀".repeat(size);
            assert_eq!(
                lines[label + 1].matches(&format!("{run} ")).count()
                    + usize::from(lines[label + 1].contains(&format!("{run}│"))),
                strip_images,
                "{w}×{h}:\n{s}"
            );
            assert!(
                lines[label.saturating_sub(4)..label]
                    .iter()
                    .any(|l| l.contains(&run)),
                "grid above at {w}×{h}:\n{s}"
            );
        }
        let s = screen(&app, 80, 24);
        assert!(!s.contains("interpolation"), "{s}");
    }

    #[test]
    fn gan_keys_change_live_values_and_export() {
        let (mut app, _d) = running_gan_app();
        assert!(matches!(
            update(&mut app, Action::Right).as_slice(),
            [Effect::Command(JobKind::Gan, JobCommand::Set(Param::LrG, v))] if *v == 4e-4
        ));
        update(&mut app, Action::Down);
        update(&mut app, Action::Down);
        update(&mut app, Action::Down); // smooth
        assert!(matches!(
            update(&mut app, Action::Left).as_slice(),
            [Effect::Command(JobKind::Gan, JobCommand::Set(Param::LabelSmoothing, v))] if (*v - 0.95).abs() < 1e-9
        ));
        assert!(matches!(
            update(&mut app, Action::Export).as_slice(),
            [Effect::ExportSamples(s)] if s.iteration == 200 && s.samples.len() == 64
        ));
        update(&mut app, Action::Down); // batch
        update(&mut app, Action::Down); // model: needs a restart
        update(&mut app, Action::Right);
        assert!(app.toast.as_ref().unwrap().text.contains("restart"));
    }
}

mod runs_tab {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use gradtop::app::map_key;
    use gradtop::app::tabs::runs::{delete_run, load_curves};
    use gradtop::app::update::update_runs;
    use gradtop::runs::{list_runs, EndStatus, RunDir, RunEvent, RunLogs};
    use std::path::{Path, PathBuf};

    /// A finished CartPole run written with the library's own writers: config, start, returns
    /// climbing at `slope` per episode, end.
    fn cartpole_run(parent: &Path, slope: f64) -> PathBuf {
        let config = std::fs::read_to_string("scenarios/cartpole-dqn.toml").unwrap();
        let run = RunDir::create_with_config_text(parent, "cartpole-dqn", &config).unwrap();
        let mut logs = RunLogs::open(&run).unwrap();
        logs.event(0, RunEvent::start_now(None)).unwrap();
        for episode in 1..=100u64 {
            let step = episode * 50;
            let ret = slope * episode as f64;
            logs.metric(step, "episode_return", ret).unwrap();
            logs.metric(step, "mean_return_20", ret * 0.9).unwrap();
            logs.metric(step, "loss", 1.0 / episode as f64).unwrap();
        }
        logs.event(
            5000,
            RunEvent::End {
                status: EndStatus::Finished,
                summary: None,
            },
        )
        .unwrap();
        run.path().to_path_buf()
    }

    fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
        let action = map_key(app, KeyEvent::new(code, KeyModifiers::NONE)).unwrap();
        update(app, action)
    }

    #[test]
    fn marked_runs_overlay_and_a_confirmed_delete_removes_one() {
        let parent = tempfile::tempdir().unwrap();
        let first = cartpole_run(parent.path(), 2.0);
        // Run directories are named by the second they start in.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let second = cartpole_run(parent.path(), 4.0);
        let options = Options {
            fps: 10,
            ascii: false,
            data_dir: None,
            device: DeviceChoice::Cpu,
            runs_dir: parent.path().to_path_buf(),
            watch: None,
            scenario: None,
            max_steps: None,
        };
        let mut app = App::new(&options, Theme::new(false, false));
        press(&mut app, KeyCode::Char('4'));
        assert_eq!(app.tab, TabId::Runs);
        app.runs
            .on_refresh(list_runs(parent.path()).map_err(|e| e.to_string()));
        assert_eq!(app.runs.rows.len(), 2);
        assert_eq!(app.runs.rows[0].path, second, "newest first");

        press(&mut app, KeyCode::Char(' '));
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char(' '));
        assert!(screen(&app, 80, 24).contains("2 marked"));
        assert_eq!(
            bottom_line(&app, 80, 24),
            " Enter overlay · space mark · Esc unmark all · r resume · d delete · ? help"
        );
        let effects = press(&mut app, KeyCode::Enter);
        let [Effect::LoadCurves(request)] = effects.as_slice() else {
            panic!("{effects:?}");
        };
        assert!(screen(&app, 80, 24).contains("loading curves…"));
        update_runs(&mut app, load_curves(request));
        let label = |p: &Path| {
            let summary = gradtop::runs::summarize_run(p).unwrap();
            format!("cartpole-dqn {}", summary.started.unwrap().display())
        };
        for (w, h) in [(80, 24), (120, 40)] {
            let s = screen(&app, w, h);
            assert!(s.contains("2 runs overlaid"), "{s}");
            assert!(s.contains("mean_return_20 by step"), "{s}");
            assert!(s.contains(&label(&first)), "{s}");
            assert!(s.contains(&label(&second)), "{s}");
            assert!(s.contains("last 180.0") && s.contains("last 360.0"), "{s}");
            assert!(
                s.chars().any(|c| ('\u{2800}'..='\u{28FF}').contains(&c)),
                "a chart is drawn:\n{s}"
            );
        }
        press(&mut app, KeyCode::Right);
        assert!(screen(&app, 120, 40).contains("loss by step"));
        assert_eq!(
            bottom_line(&app, 80, 24),
            " ←/→ metric · Esc/Enter back to the list · ? help · q quit · g gpu"
        );

        press(&mut app, KeyCode::Esc);
        assert_eq!(app.runs.selected, 1);
        assert!(press(&mut app, KeyCode::Char('d')).is_empty());
        assert_eq!(app.overlay, Overlay::ConfirmDelete);
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        assert!(screen(&app, 120, 40).contains(&format!("Delete run {name}")));
        let effects = press(&mut app, KeyCode::Char('y'));
        let [Effect::DeleteRun(path)] = effects.as_slice() else {
            panic!("{effects:?}");
        };
        assert_eq!(path, &first);
        update_runs(&mut app, delete_run(path));
        assert!(!first.exists(), "the run directory is gone");
        assert!(second.is_dir(), "the other run is kept");
        app.runs
            .on_refresh(list_runs(parent.path()).map_err(|e| e.to_string()));
        assert_eq!(app.runs.rows.len(), 1);
        assert_eq!(app.runs.marks, vec![second.clone()]);
        let s = screen(&app, 80, 24);
        assert!(s.contains(&format!("deleted {name}")), "{s}");
    }
}

#[test]
fn file_work_done_off_the_ui_thread_comes_back_through_update() {
    use gradtop::app::tabs::runs::RunsMessage;
    use gradtop::app::update::update_files;
    use gradtop::app::{FileDone, ToastLevel};

    let (mut app, _dir) = app_with_data();
    // A deleted run asks for a fresh listing; the listing then fills the Runs tab.
    let effects = update_files(
        &mut app,
        FileDone::Runs(RunsMessage::Deleted {
            path: std::env::temp_dir().join("gone"),
            result: Ok(()),
        }),
    );
    assert!(matches!(effects.as_slice(), [Effect::RefreshRuns]));
    assert!(update_files(&mut app, FileDone::Listed(Ok(Vec::new()))).is_empty());
    app.tab = TabId::Runs;
    assert!(screen(&app, 120, 40).contains("No runs yet"));

    update_files(&mut app, FileDone::Exported(Err("disk full".into())));
    let toast = app.toast.clone().expect("a toast");
    assert_eq!(toast.level, ToastLevel::Error);
    assert!(toast.text.contains("disk full"), "{}", toast.text);
    update_files(
        &mut app,
        FileDone::Exported(Ok(vec![
            "gan-samples-it200.pgm".into(),
            "gan-samples-it200.png".into(),
        ])),
    );
    let toast = app.toast.clone().expect("a toast");
    assert_eq!(
        toast.text,
        "samples written: gan-samples-it200.pgm and gan-samples-it200.png"
    );
}

/// Presses a key the way the runtime does: through the key table, then `update`.
fn press(app: &mut App, c: char) {
    let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    let action = map_key(app, key).unwrap_or_else(|| panic!("{c} is not bound"));
    update(app, action);
}

#[test]
fn chart_keys_set_log_scale_smoothing_and_window_on_every_chart() {
    let (mut app, _d) = app_with_data();
    simulate_training(&mut app);
    let s = screen(&app, 120, 40);
    assert!(s.contains("loss 0.209 · smooth 0.90"), "{s}");
    // Whole steps on the x axis: the loss chart runs from step 1 to step 300.
    let x_labels = s
        .lines()
        .find(|l| l.contains("│    1    "))
        .unwrap_or_else(|| panic!("no step-1 label:\n{s}"));
    assert!(
        x_labels.contains("300│") && !x_labels.contains("1.00"),
        "{s}"
    );
    assert!(!s.contains("· log"), "{s}");
    press(&mut app, ']');
    press(&mut app, ']');
    press(&mut app, 'y');
    let s = screen(&app, 120, 40);
    assert!(s.contains("smooth 0.99 · log"), "{s}");
    assert!(s.contains("accuracy · test 90.00% · log"), "{s}");
    press(&mut app, 'z');
    for _ in 0..12 {
        press(&mut app, '[');
    }
    let s = screen(&app, 120, 40);
    assert!(s.contains("smooth 0.00 · log · recent"), "{s}");
    let s80 = screen(&app, 80, 24);
    assert!(s80.contains("smooth 0.00"), "{s80}");
    // One view for all charts: the GAN and RL tabs show the same settings.
    for tab in ['2', '3'] {
        press(&mut app, tab);
        let s = screen(&app, 120, 40);
        assert!(s.contains("log · recent"), "{s}");
    }
    press(&mut app, 'y');
    press(&mut app, 'z');
    press(&mut app, '2');
    let s = screen(&app, 120, 40);
    assert!(s.contains(" loss · smooth 0.00 "), "{s}");
    assert!(!s.contains("· log") && !s.contains("· recent"), "{s}");
}

#[test]
fn epoch_boundaries_are_marked_on_the_classifiers_charts() {
    let (mut app, _d) = app_with_data();
    app.theme = Theme::new(false, true);
    let progress = |step, epoch| {
        JobEvent::Progress(Progress {
            step,
            total_steps: 1000,
            epoch,
            epochs: 5,
            rate: 100.0,
            eta_s: None,
        })
    };
    update_job(&mut app, JobKind::Classifier, progress(1, 1));
    simulate_training(&mut app);
    for step in 301..=600u64 {
        let value = 0.2 - step as f64 / 10_000.0;
        let metric = Metric::TrainLoss;
        update_job(
            &mut app,
            JobKind::Classifier,
            JobEvent::Metric {
                step,
                metric,
                value,
            },
        );
    }
    update_job(&mut app, JobKind::Classifier, progress(500, 2));
    assert_eq!(
        app.classifier.epoch_ends,
        vec![300.0],
        "epoch 1 ended at step 300"
    );
    let s = screen(&app, 120, 40);
    let marked = s.lines().filter(|l| l.contains(':')).count();
    assert!(marked >= 20, "both charts carry the mark:\n{s}");
    update(&mut app, Action::StartRestart);
    assert!(
        app.classifier.epoch_ends.is_empty(),
        "a restart clears the marks"
    );
}

/// Sample cells on screen: each shows its true label after a ✓ or a ✗.
fn marks(s: &str) -> (usize, usize) {
    (s.matches('✓').count(), s.matches('✗').count())
}

#[test]
fn the_sample_pane_shows_as_many_predictions_as_fit() {
    let (mut app, _d) = app_with_data();
    simulate_training(&mut app);
    for (w, h, cells) in [(80, 24, 1), (120, 36, 4), (200, 60, 28)] {
        let s = screen(&app, w, h);
        assert_eq!(marks(&s), (cells, 0), "{w}×{h}:\n{s}");
        assert!(s.contains("test samples"), "{w}×{h}:\n{s}");
        // Each cell carries its top three guesses.
        assert!(s.matches(" 91% ").count() >= cells, "{w}×{h}:\n{s}");
        assert!(s.contains("confusion"), "{w}×{h}:\n{s}");
    }
}

#[test]
fn v_shows_only_the_misclassified_samples_and_says_how_many_are_wrong() {
    let (mut app, _d) = app_with_data();
    simulate_training(&mut app);
    press(&mut app, 'v');
    assert!(app.classifier.misclassified_only);
    // The matrix holds 1,000 images, 100 of them off the diagonal.
    for (w, h, cells, title) in [
        (80, 24, 1, " wrong 100/1000 "),
        (120, 36, 4, " misclassified · 100 of 1,000 wrong "),
        (
            200,
            60,
            28,
            " misclassified only · 100 of 1,000 wrong · step 300 ",
        ),
    ] {
        let s = screen(&app, w, h);
        assert_eq!(marks(&s), (0, cells), "{w}×{h}:\n{s}");
        assert!(s.contains(title), "{w}×{h} lacks {title:?}:\n{s}");
    }
    press(&mut app, 'v');
    assert!(!app.classifier.misclassified_only);
    assert_eq!(marks(&screen(&app, 120, 36)), (4, 0));
}

#[test]
fn misclassified_only_says_so_when_nothing_is_wrong() {
    let (mut app, _d) = app_with_data();
    simulate_training(&mut app);
    let mut confusion = [[0u32; 10]; 10];
    for (i, row) in confusion.iter_mut().enumerate() {
        row[i] = 100;
    }
    update_snapshot(
        &mut app,
        Snapshot::Classifier(Arc::new(ClassifierSnapshot {
            samples: (0..32).map(|i| prediction(i, true)).collect(),
            misclassified: Vec::new(),
            confusion,
            evaluated: 1000,
            class_names: gradtop::data::DatasetName::Mnist.class_list(),
            step: 400,
        })),
    );
    press(&mut app, 'v');
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert!(s.contains("none of 1,000 wrong"), "{w}×{h}:\n{s}");
        assert_eq!(marks(&s), (0, 0), "{w}×{h}:\n{s}");
    }
}

/// A dashboard opened on `scenarios/<name>.toml`, not started.
fn app_with_scenario(name: &str) -> App {
    let s = scenario::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml")),
    )
    .unwrap();
    let options = Options {
        fps: 10,
        ascii: false,
        data_dir: None,
        device: DeviceChoice::Cpu,
        runs_dir: std::env::temp_dir().join("gradtop-test-runs"),
        watch: None,
        scenario: Some(s),
        max_steps: None,
    };
    App::new(&options, Theme::new(false, false))
}

#[test]
fn i_shows_the_model_summary_of_a_described_network_at_both_sizes() {
    let mut app = app_with_scenario("fashion-deep-cnn");
    let before = screen(&app, 120, 36);
    assert!(before.contains("i model"), "{before}");
    assert!(before.contains("adam · constant"), "{before}");
    press(&mut app, 'i');
    assert_eq!(app.overlay, Overlay::ModelSummary);
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        for needle in [
            "model: custom",
            "conv1",
            "Conv2D(32, 3×3)",
            "(32, 26, 26)",
            "bn2",
            "MaxPool(2×2)",
            "(64, 5, 5)",
            "Dropout(0.25)",
            "Dense(128, relu)",
            "204,928",
            "total: 225,226 trainable parameters",
        ] {
            assert!(s.contains(needle), "{needle} at {w}×{h}:\n{s}");
        }
    }
    press(&mut app, 'i');
    assert_eq!(app.overlay, Overlay::None);
    // Elsewhere the key says where the summary is.
    update(&mut app, Action::GoTab(TabId::Gan));
    press(&mut app, 'i');
    assert_eq!(app.overlay, Overlay::None);
    assert!(app
        .toast
        .as_ref()
        .is_some_and(|t| t.text.contains("press 1")));
}

#[test]
fn the_panel_names_the_optimiser_and_draws_the_scheduled_learning_rate() {
    let mut app = app_with_scenario("mnist-cnn");
    app.classifier.config.optimizer = gradtop::models::optim::OptimizerKind::Sgd;
    app.classifier.config.schedule.kind = gradtop::models::schedule::ScheduleKind::Cosine;
    app.classifier.config.schedule.warmup_steps = 100;
    for (step, lr) in [(1u64, 1e-5), (50, 5e-4), (100, 1e-3), (150, 9e-4)] {
        update_job(
            &mut app,
            JobKind::Classifier,
            JobEvent::Metric {
                step,
                metric: Metric::LearningRate,
                value: lr,
            },
        );
    }
    let s = screen(&app, 120, 36);
    assert!(s.contains("sgd m=0.9 · cosine,"), "{s}");
    assert!(s.contains("warm-up 100"), "{s}");
    assert!(s.contains("lr 9.0e-4"), "{s}");
}
