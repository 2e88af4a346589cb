//! The Runs tab driven through the whole dashboard: keys into `update`, the runtime's answers
//! into `update_runs`, TestBackend renders at 80×24 and a larger size, real run directories
//! where resuming needs them.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gradtop::app::render::render_into;
use gradtop::app::tabs::runs::{
    load_curves, CurvesState, MetricCurve, RunCurves, RunsMessage, RunsView, CURVE_POINTS,
    LIVE_RELOAD_REFRESHES,
};
use gradtop::app::theme::Theme;
use gradtop::app::update::{update_files, update_runs};
use gradtop::app::{map_key, update, Action, App, Effect, FileDone, Options, Overlay, TabId};
use gradtop::device::DeviceChoice;
use gradtop::jobs::{JobStatus, RunTarget};
use gradtop::runs::list::Better;
use gradtop::runs::{
    list_runs, summarize_run, BestFigure, EndStatus, LocalTime, RunDir, RunEvent, RunLogs,
    RunStatus, RunSummary,
};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

fn summary(name: &str, kind: &str, status: RunStatus, steps: u64) -> RunSummary {
    RunSummary {
        path: PathBuf::from(format!("runs/{name}")),
        kind: Some(kind.into()),
        scenario: name.get(16..).unwrap_or(name).into(),
        status,
        pid: (status == RunStatus::Running).then_some(4242),
        steps,
        best: Some(BestFigure {
            name: "test_accuracy".into(),
            value: 0.9812,
            step: steps,
            better: Better::Higher,
            last: 0.9790,
        }),
        started: LocalTime::parse_compact(name),
        detail: None,
        name: name.into(),
        dataset: None,
        metrics: vec!["test_accuracy".into()],
        updated_unix_s: None,
        updated: None,
        params: Vec::new(),
        sweep: None,
    }
}

fn rows() -> Vec<RunSummary> {
    vec![
        summary(
            "20261129-031500-mnist-cnn",
            "classifier",
            RunStatus::Running,
            1200,
        ),
        summary(
            "20261128-220000-cartpole-dqn",
            "rl",
            RunStatus::Interrupted,
            400,
        ),
        summary(
            "20261128-210000-cartpole-dqn",
            "rl",
            RunStatus::Finished,
            800,
        ),
    ]
}

fn app_in(runs_dir: &Path, data_dir: Option<&Path>, theme: Theme) -> App {
    let options = Options {
        fps: 10,
        ascii: theme.ascii,
        data_dir: data_dir.map(Path::to_path_buf),
        device: DeviceChoice::Cpu,
        scenario: None,
        runs_dir: runs_dir.to_path_buf(),
        watch: None,
        max_steps: None,
    };
    let mut app = App::new(&options, theme);
    app.tab = TabId::Runs;
    app
}

fn app() -> App {
    let mut app = app_in(Path::new("runs"), None, Theme::new(false, false));
    app.runs.on_refresh(Ok(rows()));
    app
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    match map_key(app, KeyEvent::new(code, KeyModifiers::NONE)) {
        Some(action) => update(app, action),
        None => Vec::new(),
    }
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    render_into(app, area, &mut buf);
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn curve(name: &str, points: &[(f64, f64)]) -> MetricCurve {
    MetricCurve {
        name: name.into(),
        points: points.to_vec(),
        last: points.last().map(|p| p.1),
        last_step: points.last().map_or(0, |p| p.0 as u64),
        records: points.len() as u64,
    }
}

fn rl_curves(path: &Path, scale: f64) -> RunCurves {
    let returns: Vec<(f64, f64)> = (0..50)
        .map(|i| (i as f64 * 400.0, scale * i as f64))
        .collect();
    let losses: Vec<(f64, f64)> = (0..50)
        .map(|i| (i as f64 * 400.0, 1.0 / (1.0 + i as f64)))
        .collect();
    RunCurves {
        path: path.to_path_buf(),
        metrics: vec![
            curve("episode_return", &returns),
            curve("loss", &losses),
            curve("mean_return_20", &returns),
        ],
        skipped_lines: 0,
        error: None,
    }
}

/// Answers the app's pending curves request the way the runtime would, with `make`'s curves.
fn deliver(app: &mut App, effects: &[Effect], make: impl Fn(&Path, usize) -> RunCurves) {
    let [Effect::LoadCurves(request)] = effects else {
        panic!("expected one LoadCurves, got {effects:?}");
    };
    let curves = request
        .runs
        .iter()
        .enumerate()
        .map(|(i, p)| make(p, i))
        .collect();
    update_runs(
        app,
        RunsMessage::Curves {
            request: request.id,
            curves,
        },
    );
}

fn has_braille(s: &str) -> bool {
    s.chars().any(|c| ('\u{2800}'..='\u{28FF}').contains(&c))
}

#[test]
fn lists_runs_with_status_steps_and_best_figure() {
    let app = app();
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert!(s.contains("Runs in runs"), "{s}");
        assert!(
            s.contains("[4 Runs]"),
            "the status never covers the tabs:\n{s}"
        );
        assert!(s.contains("running"), "{s}");
        assert!(s.contains("(process 4242)"), "{s}");
        assert!(s.contains("interrupted"), "{s}");
        assert!(s.contains("1200"), "{s}");
        assert!(s.contains("0.9812"), "{s}");
        assert!(s.contains("11-28 22:00"), "{s}");
        assert!(
            s.contains("cartpole-dqn"),
            "scenario not cut at {w}×{h}:\n{s}"
        );
        assert!(s.contains("space mark"), "{s}");
        assert!(s.contains("r resume") && s.contains("d delete"), "{s}");
    }
    assert!(screen(&app, 120, 36).contains("2026-11-28 22:00:00"));
    let mut app = app_in(Path::new("runs"), None, Theme::new(false, false));
    app.runs.on_refresh(Ok(Vec::new()));
    assert!(screen(&app, 80, 24).contains("No runs yet"));
}

#[test]
fn space_and_m_toggle_marks_shown_in_the_list() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    assert!(press(&mut app, KeyCode::Char(' ')).is_empty());
    assert_eq!(app.runs.marks, vec![rows()[1].path.clone()]);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('m'));
    assert_eq!(app.runs.marks.len(), 2);
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert_eq!(s.matches('●').count(), 2, "{s}");
        assert!(s.contains("2 marked"), "{s}");
        assert!(s.contains("Enter overlay"), "{s}");
    }
    app.theme = Theme::new(true, true);
    let s = screen(&app, 80, 24);
    assert!(!s.contains('●') && s.contains("│* 11-28"), "{s}");
    // Space again on the same run unmarks it; the other stays.
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(app.runs.marks, vec![rows()[1].path.clone()]);
    // A refresh without a marked run drops its mark.
    app.runs.on_refresh(Ok(vec![rows()[0].clone()]));
    assert!(app.runs.marks.is_empty());
}

#[test]
fn enter_opens_the_curves_and_esc_or_enter_go_back() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    let effects = press(&mut app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::LoadCurves(r)] => {
            assert_eq!(r.runs, vec![rows()[1].path.clone()]);
            assert_eq!(r.max_points, CURVE_POINTS);
        }
        other => panic!("{other:?}"),
    }
    assert!(screen(&app, 80, 24).contains("loading curves…"));
    deliver(&mut app, &effects, |p, _| rl_curves(p, 10.0));
    let RunsView::Curves(view) = &app.runs.view else {
        panic!("a chart is open");
    };
    assert_eq!(view.metric.as_deref(), Some("mean_return_20"), "RL default");
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert!(
            s.contains("20261128-220000-cartpole-dqn · rl · interrupted"),
            "{s}"
        );
        assert!(s.contains("mean_return_20 by step"), "{s}");
        assert!(s.contains("episode_return") && s.contains("loss"), "{s}");
        assert!(s.contains("last 490.0"), "{s}");
        assert!(s.contains("←/→ metric"), "{s}");
        assert!(has_braille(&s), "braille line:\n{s}");
    }
    // ←/→ walk the metric names, wrapping.
    press(&mut app, KeyCode::Right);
    let metric = |app: &App| match &app.runs.view {
        RunsView::Curves(v) => v.metric.clone(),
        RunsView::List | RunsView::Table(_) | RunsView::Sweep(_) => None,
    };
    assert_eq!(metric(&app).as_deref(), Some("episode_return"));
    press(&mut app, KeyCode::Left);
    press(&mut app, KeyCode::Left);
    assert_eq!(metric(&app).as_deref(), Some("loss"));
    assert!(screen(&app, 80, 24).contains("loss by step"));
    // r, d and space do nothing in the chart.
    assert!(press(&mut app, KeyCode::Char('d')).is_empty());
    assert_eq!(app.overlay, Overlay::None);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.runs.view, RunsView::List);
    assert_eq!(app.runs.selected, 1, "the highlight stays");
    let effects = press(&mut app, KeyCode::Enter);
    assert!(app.runs.in_curves());
    // A late answer to the first request does not replace the new view's loading state.
    update_runs(
        &mut app,
        RunsMessage::Curves {
            request: 1,
            curves: vec![rl_curves(Path::new("x"), 1.0)],
        },
    );
    assert!(matches!(
        &app.runs.view,
        RunsView::Curves(v) if v.state == CurvesState::Loading
    ));
    deliver(&mut app, &effects, |p, _| rl_curves(p, 1.0));
    press(&mut app, KeyCode::Enter);
    assert!(!app.runs.in_curves(), "Enter also goes back");
}

#[test]
fn marked_runs_open_overlaid_with_a_legend_naming_each() {
    for theme in [
        Theme::new(false, false),
        Theme::new(true, false),
        Theme::new(true, true),
    ] {
        let mut app = app();
        app.theme = theme;
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char(' '));
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char(' '));
        press(&mut app, KeyCode::Up);
        let effects = press(&mut app, KeyCode::Enter);
        match effects.as_slice() {
            [Effect::LoadCurves(r)] => assert_eq!(r.runs.len(), 2),
            other => panic!("{other:?}"),
        }
        deliver(&mut app, &effects, |p, i| {
            rl_curves(p, 10.0 * (i + 1) as f64)
        });
        for (w, h) in [(80, 24), (120, 36)] {
            let s = screen(&app, w, h);
            assert!(s.contains("2 runs overlaid"), "{s}");
            assert!(s.contains("cartpole-dqn 2026-11-28 22:00:00"), "{s}");
            assert!(s.contains("cartpole-dqn 2026-11-28 21:00:00"), "{s}");
            assert!(s.contains("mean_return_20 by step"), "{s}");
            assert!(s.contains("last 490.0") && s.contains("last 980.0"), "{s}");
            if theme.ascii || theme.no_color {
                // Without colour each run gets its own glyph, in the legend and the chart.
                assert!(
                    s.contains("** cartpole-dqn") && s.contains("oo cartpole-dqn"),
                    "{s}"
                );
                let plot_o = s
                    .lines()
                    .filter(|l| !l.contains("oo "))
                    .any(|l| l.contains('o'));
                assert!(plot_o, "second run's glyph on the chart:\n{s}");
                assert!(!has_braille(&s), "{s}");
            } else {
                assert!(s.contains("── cartpole-dqn"), "{s}");
                assert!(has_braille(&s), "{s}");
            }
        }
    }
}

#[test]
fn runs_keys_are_mapped_only_on_the_runs_tab() {
    let mut app = app();
    let key = |app: &App, code| map_key(app, KeyEvent::new(code, KeyModifiers::NONE));
    assert_eq!(key(&app, KeyCode::Char(' ')), Some(Action::ToggleMark));
    assert_eq!(key(&app, KeyCode::Char('m')), Some(Action::ToggleMark));
    assert_eq!(key(&app, KeyCode::Enter), Some(Action::OpenRun));
    assert_eq!(key(&app, KeyCode::Char('r')), Some(Action::ResumeRun));
    assert_eq!(key(&app, KeyCode::Char('d')), Some(Action::DeleteRun));
    assert_eq!(key(&app, KeyCode::Esc), Some(Action::Back));
    assert_eq!(
        key(&app, KeyCode::Char('2')),
        Some(Action::GoTab(TabId::Gan))
    );
    app.tab = TabId::Classifier;
    assert_eq!(key(&app, KeyCode::Char(' ')), Some(Action::PauseResume));
    assert_eq!(key(&app, KeyCode::Enter), Some(Action::BeginEdit));
    assert_eq!(key(&app, KeyCode::Char('d')), None);
    assert_eq!(key(&app, KeyCode::Esc), Some(Action::CloseOverlay));
}

#[test]
fn an_open_chart_of_a_running_run_is_read_again_while_it_runs() {
    let mut app = app();
    let effects = press(&mut app, KeyCode::Enter); // the running mnist-cnn run
    assert!(app.runs.reload_live_curves().is_none(), "not while loading");
    deliver(&mut app, &effects, |p, _| rl_curves(p, 1.0));
    for _ in 1..LIVE_RELOAD_REFRESHES {
        assert!(app.runs.reload_live_curves().is_none());
    }
    let Some(Effect::LoadCurves(request)) = app.runs.reload_live_curves() else {
        panic!("a re-read after {LIVE_RELOAD_REFRESHES} refreshes");
    };
    assert!(
        app.runs.reload_live_curves().is_none(),
        "one re-read at a time"
    );
    assert!(
        screen(&app, 80, 24).contains("episode_return by step"),
        "the old curves stay while re-reading"
    );
    update_runs(
        &mut app,
        RunsMessage::Curves {
            request: request.id,
            curves: vec![rl_curves(&request.runs[0], 2.0)],
        },
    );
    assert!(screen(&app, 80, 24).contains("last 98.0"));
    // Once the list says the run finished, the chart says so, reads the last records once
    // and stops re-reading.
    let mut rows = rows();
    rows[0].status = RunStatus::Finished;
    rows[0].pid = None;
    app.runs.on_refresh(Ok(rows));
    let Some(Effect::LoadCurves(last)) = app.runs.reload_live_curves() else {
        panic!("a last read when the run ends");
    };
    update_runs(
        &mut app,
        RunsMessage::Curves {
            request: last.id,
            curves: vec![rl_curves(&last.runs[0], 3.0)],
        },
    );
    assert!(screen(&app, 80, 24).contains("last 147.0"));
    for _ in 0..2 * LIVE_RELOAD_REFRESHES {
        assert!(app.runs.reload_live_curves().is_none());
    }
    assert!(screen(&app, 80, 24).contains("classifier · finished"));
}

#[test]
fn d_asks_first_and_deletes_only_on_y() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    assert!(press(&mut app, KeyCode::Char('d')).is_empty());
    assert_eq!(app.overlay, Overlay::ConfirmDelete);
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert!(
            s.contains("Delete run 20261128-220000-cartpole-dqn and its checkpoints?"),
            "{s}"
        );
        assert!(s.contains("y deletes"), "{s}");
    }
    assert!(press(&mut app, KeyCode::Char('n')).is_empty(), "n keeps it");
    assert_eq!(app.overlay, Overlay::None);
    assert_eq!(app.runs.pending_delete, None);
    assert!(app.toast.as_ref().is_some_and(|t| t.text.contains("kept")));
    press(&mut app, KeyCode::Char('d'));
    let effects = press(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::DeleteRun(p)] if *p == rows()[1].path),
        "{effects:?}"
    );
    assert_eq!(app.overlay, Overlay::None);
    // The answer from the runtime takes the run out of the list and the marks.
    app.runs.marks.push(rows()[1].path.clone());
    update_runs(
        &mut app,
        RunsMessage::Deleted {
            path: rows()[1].path.clone(),
            result: Ok(()),
        },
    );
    assert_eq!(app.runs.rows.len(), 2);
    assert!(app.runs.marks.is_empty());
    assert!(app
        .toast
        .as_ref()
        .is_some_and(|t| t.text.contains("deleted 20261128-220000")));
}

#[test]
fn running_runs_are_neither_deleted_nor_resumed() {
    let mut app = app();
    assert!(press(&mut app, KeyCode::Char('d')).is_empty());
    assert_eq!(app.overlay, Overlay::None);
    let toast = app.toast.clone().expect("a refusal");
    assert!(
        toast.text.contains("in use (process 4242)"),
        "{}",
        toast.text
    );
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    let toast = app.toast.clone().expect("a refusal");
    assert!(
        toast.text.contains("still running (process 4242)"),
        "{}",
        toast.text
    );
    assert_eq!(app.tab, TabId::Runs);
    // A finished run has nothing to resume.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    assert!(app
        .toast
        .clone()
        .expect("refusal")
        .text
        .contains("finished"));
}

/// A stopped classifier run on disk with the shipped mnist-cnn scenario as its config.
fn stopped_classifier_run(parent: &Path) -> PathBuf {
    let config = std::fs::read_to_string("scenarios/mnist-cnn.toml").expect("scenario");
    let run = RunDir::create_with_config_text(parent, "mnist-cnn", &config).expect("run");
    let mut logs = RunLogs::open(&run).expect("logs");
    logs.event(0, RunEvent::start_now(None)).expect("start");
    logs.metric(1, "train_loss", 2.3).expect("metric");
    logs.event(
        1,
        RunEvent::End {
            status: EndStatus::Stopped,
            summary: None,
        },
    )
    .expect("end");
    run.path().to_path_buf()
}

#[test]
fn r_resumes_a_stopped_classifier_run_in_its_tab() {
    let runs = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("temp dir");
    gradtop::data::synthetic::write_dataset(&data.path().join("mnist"), 20, 20, 1)
        .expect("dataset");
    let dir = stopped_classifier_run(runs.path());
    let mut app = app_in(runs.path(), Some(data.path()), Theme::new(false, false));
    app.runs
        .on_refresh(Ok(vec![summarize_run(&dir).expect("summary")]));
    assert_eq!(app.runs.rows[0].status, RunStatus::Stopped);

    // The classifier tab's own live job is not silently replaced.
    app.classifier.job.status = Some(JobStatus::Running);
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    let refusal = app.toast.clone().expect("refusal").text;
    assert!(
        refusal.contains("Classifier tab has a job running"),
        "{refusal}"
    );
    assert_eq!(app.tab, TabId::Runs);

    app.classifier.job.status = None;
    let effects = press(&mut app, KeyCode::Char('r'));
    match effects.as_slice() {
        [Effect::Start(spec)] => {
            assert_eq!(spec.run, RunTarget::Resume { dir: dir.clone() });
            assert_eq!(spec.scenario, "mnist-cnn");
            assert_eq!(spec.max_steps, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(app.tab, TabId::Classifier, "the matching tab is shown");
    assert!(app.classifier.is_active(), "the tab shows the job starting");
    assert!(app.toast.clone().expect("info").text.contains("resuming"));
}

#[test]
fn r_names_the_reason_a_run_cannot_resume() {
    let runs = tempfile::tempdir().expect("temp dir");
    let run = RunDir::create_with_config_text(
        runs.path(),
        "broken",
        "kind = \"classifier\"\nbogus = 1\n",
    )
    .expect("run");
    let mut app = app_in(runs.path(), None, Theme::new(false, false));
    app.runs
        .on_refresh(Ok(vec![summarize_run(run.path()).expect("summary")]));
    assert!(press(&mut app, KeyCode::Char('r')).is_empty());
    let text = app.toast.clone().expect("refusal").text;
    assert!(
        text.starts_with("cannot resume:") && text.contains("bogus"),
        "{text}"
    );
}

/// The TensorBoard runs written by PyTorch and TensorFlow, as shipped with the tests.
fn tensorboard_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tfevents")
}

#[test]
fn a_tensorboard_run_lists_charts_and_refuses_to_be_resumed_or_deleted() {
    let dir = tensorboard_fixtures();
    let mut app = app_in(&dir, None, Theme::new(false, false));
    app.runs
        .on_refresh(list_runs(&dir).map_err(|e| e.to_string()));
    let torch = app
        .runs
        .rows
        .iter()
        .position(|r| r.name == "torch-run-a")
        .expect("the PyTorch run is listed");
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert!(s.contains("torch-run-a") && s.contains("tf2-run"), "{s}");
        assert!(s.contains("tensorbo"), "{s}");
        assert!(s.contains("199") && s.contains("119"), "newest steps:\n{s}");
    }
    app.runs.selected = torch;
    let s = screen(&app, 120, 36);
    assert!(
        s.contains("tensorboard idle") || s.contains("tensorboard running"),
        "{s}"
    );
    assert!(s.contains("TensorBoard, read-only"), "{s}");
    assert!(s.contains("tags: train/loss, test/accuracy, lr"), "{s}");

    press(&mut app, KeyCode::Char('r'));
    let toast = app.toast.clone().expect("resume refused");
    assert!(
        toast.text.contains("torch-run-a is a TensorBoard run"),
        "{}",
        toast.text
    );
    press(&mut app, KeyCode::Char('d'));
    let toast = app.toast.clone().expect("delete refused");
    assert!(toast.text.contains("only reads it"), "{}", toast.text);
    assert_eq!(app.overlay, Overlay::None);

    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::LoadCurves(request)] = effects.as_slice() else {
        panic!("expected one LoadCurves, got {effects:?}");
    };
    update_runs(&mut app, load_curves(request));
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert!(has_braille(&s), "a curve is drawn at {w}×{h}:\n{s}");
        assert!(s.contains("train/loss"), "{s}");
    }
    press(&mut app, KeyCode::Right);
    let RunsView::Curves(view) = &app.runs.view else {
        panic!("the chart stays open");
    };
    assert_eq!(view.metric.as_deref(), Some("test/accuracy"));
    let CurvesState::Loaded(curves) = &view.state else {
        panic!("loaded");
    };
    let accuracy = curves[0].metric("test/accuracy").expect("tag");
    assert_eq!((accuracy.records, accuracy.last_step), (20, 190));
}

#[test]
fn marked_tensorboard_runs_overlay_in_one_chart() {
    let dir = tensorboard_fixtures();
    let mut app = app_in(&dir, None, Theme::new(false, false));
    app.runs
        .on_refresh(list_runs(&dir).map_err(|e| e.to_string()));
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    let effects = press(&mut app, KeyCode::Enter);
    let [Effect::LoadCurves(request)] = effects.as_slice() else {
        panic!("expected one LoadCurves, got {effects:?}");
    };
    assert_eq!(request.runs.len(), 2);
    update_runs(&mut app, load_curves(request));
    let s = screen(&app, 120, 36);
    assert!(
        s.contains("torch-run-a") && s.contains("tf2-run"),
        "legend:\n{s}"
    );
    assert!(has_braille(&s), "{s}");
}

#[test]
fn watching_a_log_folder_of_one_run_opens_its_chart() {
    let dir = tensorboard_fixtures().join("tf2-run");
    let options = Options {
        fps: 10,
        ascii: false,
        data_dir: None,
        device: DeviceChoice::Cpu,
        scenario: None,
        runs_dir: dir.clone(),
        watch: Some(dir.clone()),
        max_steps: None,
    };
    let mut app = App::new(&options, Theme::new(false, false));
    assert_eq!(app.tab, TabId::Runs);
    let effects = update_files(
        &mut app,
        FileDone::Listed(list_runs(&dir).map_err(|e| e.to_string())),
    );
    let [Effect::LoadCurves(request)] = effects.as_slice() else {
        panic!("the single run opens: {effects:?}");
    };
    assert_eq!(request.runs, vec![dir.clone()]);
    update_runs(&mut app, load_curves(request));
    let s = screen(&app, 80, 24);
    assert!(s.contains("tf2-run") && s.contains("loss"), "{s}");
    assert!(has_braille(&s), "{s}");
    assert!(
        s.contains("watching tf2-run"),
        "the top bar says what is followed:\n{s}"
    );
    // Back in the list, steering keys are refused with the reason.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('d'));
    let toast = app.toast.clone().expect("refused");
    assert!(toast.text.contains("TensorBoard run"), "{}", toast.text);
}

#[test]
fn a_runs_chart_takes_the_chart_keys_like_every_chart() {
    let mut app = app();
    let effects = press(&mut app, KeyCode::Enter);
    deliver(&mut app, &effects, |p, _| rl_curves(p, 10.0));
    let s = screen(&app, 120, 36);
    assert!(s.contains("episode_return by step · smooth 0.90"), "{s}");
    assert!(
        s.lines()
            .any(|l| l.contains("│   0 ") && l.contains("19600│")),
        "whole steps on the x axis:\n{s}"
    );
    press(&mut app, KeyCode::Char('y'));
    press(&mut app, KeyCode::Char('z'));
    press(&mut app, KeyCode::Char('['));
    assert!(app.runs.in_curves(), "the chart keys leave the chart open");
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert!(s.contains("by step · smooth 0.85 · log · recent"), "{s}");
    }
    // The recent window is the newest fifth of the steps: 19600 − 19600/5.
    let s = screen(&app, 120, 36);
    assert!(
        s.lines()
            .any(|l| l.contains("15680") && l.contains("19600│")),
        "{s}"
    );
    // The list is not a chart: the keys change the view but nothing in the list.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('y'));
    assert!(!app.chart.log_y);
    assert_eq!(app.runs.view, RunsView::List);
}

/// Runs of two datasets with their settings, for the filter, the sort and the table.
fn comparable_rows() -> Vec<RunSummary> {
    let settings = |lr: &str, batch: &str, dataset: &str, steps: u64| -> Vec<(String, String)> {
        let epochs = (steps / 10).to_string();
        let subset = if steps > 40 { "2000" } else { "500" };
        [
            ("batch_size", batch),
            ("dataset", dataset),
            ("epochs", epochs.as_str()),
            ("eval_subset", subset),
            ("kind", "classifier"),
            ("lr", lr),
            ("model", "cnn"),
            ("seed", "42"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let runs = [
        (
            "20261205-061400-fashion-cnn",
            "0.002",
            "32",
            "fashion-mnist",
            RunStatus::Finished,
            0.8123,
            30,
        ),
        (
            "20261205-061000-fashion-cnn",
            "0.001",
            "64",
            "fashion-mnist",
            RunStatus::Finished,
            0.7755,
            60,
        ),
        (
            "20261205-060500-mnist-cnn",
            "0.001",
            "32",
            "mnist",
            RunStatus::Stopped,
            0.9701,
            45,
        ),
        (
            "20261205-060000-fashion-cnn",
            "0.0005",
            "32",
            "fashion-mnist",
            RunStatus::Interrupted,
            0.6542,
            20,
        ),
    ];
    runs.iter()
        .map(|&(name, lr, batch, dataset, status, acc, steps)| {
            let mut run = summary(name, "classifier", status, steps);
            run.dataset = Some(dataset.into());
            run.params = settings(lr, batch, dataset, steps);
            if let Some(best) = &mut run.best {
                best.value = acc;
                best.last = acc - 0.01;
            }
            run
        })
        .collect()
}

fn comparable_app() -> App {
    let mut app = app_in(Path::new("runs"), None, Theme::new(false, false));
    app.runs.on_refresh(Ok(comparable_rows()));
    app
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// The scenario column of the list's rows as drawn, top to bottom.
fn listed_steps(app: &App) -> Vec<u64> {
    app.runs.shown_runs().map(|r| r.steps).collect()
}

#[test]
fn slash_filters_the_list_as_typed_enter_keeps_and_esc_clears() {
    let mut app = comparable_app();
    press(&mut app, KeyCode::Char('/'));
    assert!(app.runs.filtering);
    type_text(&mut app, "FASHION fin");
    assert_eq!(listed_steps(&app), [30, 60], "both words, any case");
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert!(s.contains("filter \"FASHION fin▏\" · 2 of 4"), "{s}");
        assert!(s.contains("Enter keeps the filter"), "{s}");
        assert!(!s.contains("mnist-cnn"), "{s}");
    }
    press(&mut app, KeyCode::Enter);
    assert!(!app.runs.filtering);
    // Keys are keys again: `d` asks about the highlighted run of the filtered list.
    press(&mut app, KeyCode::Down);
    assert_eq!(app.runs.selected_run().map(|r| r.steps), Some(60));
    let s = screen(&app, 80, 24);
    assert!(s.contains("filter \"FASHION fin\" · 2 of 4"), "{s}");

    // A query nothing matches says so instead of an empty table.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "x");
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert!(s.contains("No run matches \"FASHION finx\" (of 4)"), "{s}");
        assert!(s.contains("0 of 4"), "{s}");
    }
    assert!(app.runs.selected_run().is_none());
    press(&mut app, KeyCode::Backspace);
    assert_eq!(listed_steps(&app), [30, 60]);
    press(&mut app, KeyCode::Esc);
    assert!(!app.runs.filtering && app.runs.filter.is_empty());
    assert_eq!(listed_steps(&app), [30, 60, 45, 20]);
    assert!(!screen(&app, 80, 24).contains("filter \""));

    // A kept filter is cleared by Esc in the list once no run is marked.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "mnist-cnn");
    press(&mut app, KeyCode::Enter);
    assert_eq!(listed_steps(&app), [45]);
    press(&mut app, KeyCode::Esc);
    assert_eq!(listed_steps(&app), [30, 60, 45, 20]);
}

#[test]
fn o_sorts_by_the_next_column_and_o_upper_reverses_with_the_highlight_following_the_run() {
    let mut app = comparable_app();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    let marked = app.runs.selected_run().map(|r| r.path.clone());
    let s = screen(&app, 80, 24);
    assert!(s.contains("started ↓"), "{s}");
    // started → scenario → kind → status → steps
    for _ in 0..4 {
        press(&mut app, KeyCode::Char('o'));
    }
    assert_eq!(app.runs.sort.key, gradtop::app::tabs::runs::SortKey::Steps);
    assert_eq!(listed_steps(&app), [60, 45, 30, 20]);
    assert_eq!(app.runs.selected_run().map(|r| r.path.clone()), marked);
    assert_eq!(app.runs.selected, 0, "the highlight moved with its run");
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert!(s.contains("steps ↓") && !s.contains("started ↓"), "{s}");
        assert_eq!(s.matches('●').count(), 1, "{s}");
        let first = s.lines().position(|l| l.contains("● ")).unwrap_or(0);
        assert!(
            s.lines().nth(first).is_some_and(|l| l.contains(" 60 ")),
            "{s}"
        );
    }
    press(&mut app, KeyCode::Char('O'));
    assert_eq!(listed_steps(&app), [20, 30, 45, 60]);
    assert_eq!(app.runs.selected, 3);
    assert!(screen(&app, 120, 36).contains("steps ↑"));
    press(&mut app, KeyCode::Char('o'));
    assert_eq!(listed_steps(&app), [45, 30, 60, 20], "best accuracy first");
    press(&mut app, KeyCode::Char('o'));
    assert_eq!(listed_steps(&app), [30, 60, 45, 20], "back to newest first");
}

#[test]
fn t_compares_the_marked_runs_in_a_table_of_their_differing_settings() {
    let mut app = comparable_app();
    press(&mut app, KeyCode::Char('t'));
    assert!(!app.runs.in_table());
    let toast = app
        .toast
        .as_ref()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    assert!(toast.contains("mark 2 or more"), "{toast}");
    assert!(screen(&app, 80, 24).contains("mark 2 or more"));
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Char('t'));
    assert!(!app.runs.in_table());
    assert!(app
        .toast
        .as_ref()
        .is_some_and(|t| t.text.contains("1 run marked")));
    for _ in 0..3 {
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char(' '));
    }
    app.toast = None;
    press(&mut app, KeyCode::Char('t'));
    assert!(app.runs.in_table());

    let s = screen(&app, 120, 36);
    assert!(
        s.contains("compare 4 runs · test_accuracy · 5 settings differ"),
        "{s}"
    );
    for header in [
        "run",
        "batch_size",
        "dataset",
        "epochs",
        "eval_subset",
        "lr",
        "steps",
        "final",
        "best",
    ] {
        assert!(s.contains(header), "{header} at 120×36:\n{s}");
    }
    let row = s
        .lines()
        .find(|l| l.contains("mnist-cnn 12-05 06:05:00"))
        .unwrap_or_default();
    for cell in [
        "32", "mnist", "4", "2000", "0.001", "45", "0.9601", "0.9701",
    ] {
        assert!(row.contains(cell), "{cell} in {row:?}");
    }
    assert!(
        s.contains("the same in every run: kind classifier · model cnn · seed 42"),
        "{s}"
    );
    assert!(s.contains("Esc/t back to the list"), "{s}");

    // 80×24: the figures go out of view to the right; l brings them in.
    let s = screen(&app, 80, 24);
    assert!(s.contains("compare 4 runs"), "{s}");
    assert!(s.contains("fashion-cnn 12-05 06:14:00"), "{s}");
    assert!(s.contains("columns 1–"), "{s}");
    assert!(s.contains("←/→ columns"), "{s}");
    for _ in 0..2 {
        press(&mut app, KeyCode::Char('l'));
    }
    let s = screen(&app, 80, 24);
    assert!(s.contains("◀columns 3–8 of 8"), "{s}");
    assert!(s.contains("0.8123") && s.contains("0.6542"), "{s}");
    assert!(
        s.contains("fashion-cnn 12-05 06:14:00"),
        "the run column stays:\n{s}"
    );
    for _ in 0..10 {
        press(&mut app, KeyCode::Char('l'));
    }
    assert!(
        screen(&app, 80, 24).contains("◀columns 3–8 of 8"),
        "l stops once the last column shows"
    );
    press(&mut app, KeyCode::Char('h'));
    press(&mut app, KeyCode::Char('t'));
    assert!(!app.runs.in_table());
    assert_eq!(
        app.runs.marks.len(),
        4,
        "the marks stay for the next comparison"
    );
    press(&mut app, KeyCode::Char('t'));
    press(&mut app, KeyCode::Esc);
    assert!(!app.runs.in_table());
}

/// The sweep of the sweep tests: 3 learning rates × 2 seeds of a Fashion-MNIST classifier.
const SWEEP_ID: &str = "20261205-131500-fashion-cnn";

/// Each run's best test accuracy in sweep order (lr slowest, seed fastest); `None`: queued.
/// Means: lr=1e-3 0.91 ± 0.1131, lr=3e-4 0.96 ± 0.0283 (the best point, though the best single
/// run is lr=1e-3's 0.99), lr=1e-4 0.85 over its one finished run.
const SWEEP_BESTS: [(&str, u64, Option<f64>); 6] = [
    ("1e-3", 1, Some(0.99)),
    ("1e-3", 2, Some(0.83)),
    ("3e-4", 1, Some(0.94)),
    ("3e-4", 2, Some(0.98)),
    ("1e-4", 1, Some(0.85)),
    ("1e-4", 2, None),
];

/// Writes a run directory named `name` under `parent` with `config`, and, given a best
/// accuracy, a finished run whose test accuracy climbs to it and ends 0.01 below.
fn write_run(parent: &Path, name: &str, config: &str, best: Option<f64>) -> PathBuf {
    let path = parent.join(name);
    std::fs::create_dir_all(path.join("checkpoints")).expect("run dir");
    std::fs::write(path.join("config.toml"), config).expect("config");
    let run = RunDir::open(&path).expect("run");
    let mut logs = RunLogs::open(&run).expect("logs");
    if let Some(best) = best {
        logs.event(0, RunEvent::start_now(None)).expect("start");
        for (step, acc) in [(100, best - 0.1), (200, best), (300, best - 0.01)] {
            logs.metric(step, "test_accuracy", acc).expect("metric");
        }
        logs.event(
            300,
            RunEvent::End {
                status: EndStatus::Finished,
                summary: None,
            },
        )
        .expect("end");
    }
    path
}

/// The sweep's six runs and two runs of no sweep (one newer, one older) under `parent`; the
/// sweep's run directories in sweep order.
fn write_sweep(parent: &Path) -> Vec<PathBuf> {
    use gradtop::runs::sweep::member_table;
    use gradtop::runs::SweepRun;
    let scenario = "kind = \"classifier\"\ndataset = \"fashion-mnist\"\n";
    write_run(
        parent,
        "20261205-140000-mnist-cnn",
        "kind = \"classifier\"\ndataset = \"mnist\"\n",
        Some(0.97),
    );
    write_run(
        parent,
        "20261205-100000-cartpole-dqn",
        "kind = \"rl\"\n",
        None,
    );
    SWEEP_BESTS
        .iter()
        .enumerate()
        .map(|(index, &(lr, seed, best))| {
            let run = SweepRun {
                index,
                values: vec![("lr".into(), lr.into())],
                seed: Some(seed),
                run: format!("{SWEEP_ID}-p{index:02}"),
            };
            let config = format!("{scenario}\n{}", member_table(SWEEP_ID, &run));
            write_run(parent, &run.run, &config, best)
        })
        .collect()
}

fn sweep_app(parent: &Path, theme: Theme) -> App {
    let mut app = app_in(parent, None, theme);
    app.runs
        .on_refresh(list_runs(parent).map_err(|e| e.to_string()));
    app
}

/// The screen's line holding `needle`, or an empty one.
fn line_with(s: &str, needle: &str) -> String {
    s.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_sweep_lists_as_one_row_that_expands_into_its_runs() {
    let parent = tempfile::tempdir().expect("temp dir");
    let dirs = write_sweep(parent.path());
    let mut app = sweep_app(parent.path(), Theme::new(false, false));
    assert_eq!(app.runs.rows.len(), 8);
    assert_eq!(app.runs.lines.len(), 3, "two runs and one sweep");
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        let row = line_with(&s, "5/6 done");
        assert!(row.contains("▸") && row.contains("sweep"), "{s}");
        assert!(row.contains("fashion-cnn"), "{row}");
        assert!(row.contains("test_accuracy 0.9900"), "{row}");
        assert!(!s.contains("-p00") && !s.contains("lr=1e-3"), "{s}");
        let order: Vec<usize> = ["mnist-cnn", "5/6 done", "cartpole-dqn"]
            .iter()
            .map(|n| s.find(n).unwrap_or(usize::MAX))
            .collect();
        assert!(
            order[0] < order[1] && order[1] < order[2],
            "newest first:\n{s}"
        );
    }
    press(&mut app, KeyCode::Down);
    assert_eq!(app.runs.selected_sweep(), Some(SWEEP_ID));
    assert!(app.runs.selected_run().is_none());
    let s = screen(&app, 120, 36);
    assert!(
        s.contains("sweep 20261205-131500-fashion-cnn · 6 runs: 5/6 finished, 1 queued"),
        "{s}"
    );
    assert!(s.contains("best point lr=3e-4: 0.9600 ± 0.0283"), "{s}");

    // → shows the sweep's runs under its row, ← hides them again.
    press(&mut app, KeyCode::Right);
    assert_eq!(app.runs.lines.len(), 9);
    let s = screen(&app, 120, 36);
    assert!(line_with(&s, "5/6 done").contains("▾"), "{s}");
    assert!(s.contains("└ lr=3e-4 s2"), "{s}");
    assert!(line_with(&s, "lr=1e-4 s2").contains("queued"), "{s}");
    press(&mut app, KeyCode::Down);
    assert_eq!(app.runs.selected_run().map(|r| &r.path), Some(&dirs[0]));
    press(&mut app, KeyCode::Left);
    assert_eq!(app.runs.lines.len(), 3);
    assert_eq!(
        app.runs.selected_sweep(),
        Some(SWEEP_ID),
        "the highlight goes up"
    );

    // Sorted by best figure the sweep goes first: its best run beats the others.
    for _ in 0..5 {
        press(&mut app, KeyCode::Char('o'));
    }
    assert_eq!(app.runs.selected, 0);
    assert_eq!(app.runs.selected_sweep(), Some(SWEEP_ID));
    // The filter finds a sweep by its runs' fields and by the word `sweep`.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "sweep");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.runs.lines.len(), 1);
    // space marks every run of the sweep.
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(app.runs.marks.len(), 6);
    press(&mut app, KeyCode::Char(' '));
    assert!(app.runs.marks.is_empty());
}

#[test]
fn enter_on_a_sweep_shows_its_points_with_mean_std_and_the_best_marked() {
    let parent = tempfile::tempdir().expect("temp dir");
    let dirs = write_sweep(parent.path());
    let mut app = sweep_app(parent.path(), Theme::new(false, false));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    assert!(app.runs.in_sweep());
    let summary = app.runs.sweep_summary(SWEEP_ID);
    assert_eq!(summary.points.len(), 3);
    assert_eq!(summary.best_point, Some(1));
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&app, w, h);
        assert!(
            s.contains(
                "sweep 20261205-131500-fashion-cnn · test_accuracy · 5/6 finished, 1 queued"
            ),
            "{s}"
        );
        assert!(s.contains("(higher is better)"), "{s}");
        assert!(s.contains("mean ± std") && s.contains("s2 best"), "{s}");
        let best = line_with(&s, "0.9600 ± 0.0283");
        assert!(best.contains("★") && best.contains("3e-4"), "{s}");
        let first = line_with(&s, "0.9100 ± 0.1131");
        assert!(first.contains("1e-3") && !first.contains("★"), "{s}");
        assert!(
            first.contains("0.9900") && first.contains("0.8300"),
            "{first}"
        );
        let queued = line_with(&s, "0.8500 (1/2)");
        assert!(queued.contains("1e-4") && queued.contains("queued"), "{s}");
        assert!(
            s.contains("Enter curves") && s.contains("a overlay all"),
            "{s}"
        );
    }
    let s = screen(&app, 120, 36);
    assert!(s.contains("s1 final"), "finals fit at 120 columns:\n{s}");
    assert!(
        line_with(&s, "0.9600 ± 0.0283").contains("0.9300"),
        "the final figure of lr=3e-4 seed 1:\n{s}"
    );
    app.theme = Theme::new(true, true);
    let s = screen(&app, 80, 24);
    assert!(
        !s.contains('★') && line_with(&s, "0.9600 ± 0.0283").contains('*'),
        "{s}"
    );
    app.theme = Theme::new(false, false);

    // ↓ to lr=3e-4, → to seed 2, Enter opens that run; Esc goes back to the sweep.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Right);
    assert!(screen(&app, 120, 36).contains("lr=3e-4 · seed 2 · 20261205-131500-fashion-cnn-p03"));
    let effects = press(&mut app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::LoadCurves(r)] => {
            assert_eq!(r.runs, vec![dirs[3].clone()]);
            update_runs(&mut app, load_curves(r));
        }
        other => panic!("{other:?}"),
    }
    let s = screen(&app, 120, 36);
    assert!(s.contains("fashion-cnn-p03 · classifier · finished"), "{s}");
    assert!(s.contains("last 0.9700"), "{s}");
    assert!(s.contains("Esc/Enter back to the sweep"), "{s}");
    press(&mut app, KeyCode::Esc);
    assert!(app.runs.in_sweep());
    let RunsView::Sweep(view) = &app.runs.view else {
        panic!("the sweep view");
    };
    assert_eq!((view.point, view.seed), (1, 1), "the place is kept");
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.runs.view, RunsView::List);
    assert_eq!(app.runs.selected_sweep(), Some(SWEEP_ID));
}

#[test]
fn a_overlays_every_run_of_the_sweep_coloured_by_a_grid_key() {
    use gradtop::app::widgets::chart::trace_color;
    let parent = tempfile::tempdir().expect("temp dir");
    let dirs = write_sweep(parent.path());
    let mut app = sweep_app(parent.path(), Theme::new(false, false));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    let effects = press(&mut app, KeyCode::Char('a'));
    match effects.as_slice() {
        [Effect::LoadCurves(r)] => {
            assert_eq!(r.runs, dirs, "every run, in sweep order");
            update_runs(&mut app, load_curves(r));
        }
        other => panic!("{other:?}"),
    }
    let RunsView::Curves(view) = &app.runs.view else {
        panic!("a chart");
    };
    let colour = view.colour_by.clone().expect("coloured by a key");
    assert_eq!(colour.key(), "lr");
    let groups: Vec<usize> = (0..6).map(|i| colour.group_of(i)).collect();
    assert_eq!(
        groups,
        [0, 0, 1, 1, 2, 2],
        "the seeds of a point share a colour"
    );
    // The legend names each value in its colour.
    let area = Rect::new(0, 0, 120, 36);
    let mut buf = Buffer::empty(area);
    render_into(&app, area, &mut buf);
    let s = screen(&app, 120, 36);
    assert!(s.contains("6 runs overlaid · colour by lr"), "{s}");
    for (g, value) in ["lr=1e-3", "lr=3e-4", "lr=1e-4"].iter().enumerate() {
        let y = s
            .lines()
            .position(|l| l.contains(&format!("{value} · 2 runs")));
        let y = y.unwrap_or_else(|| panic!("{value} in the legend:\n{s}")) as u16;
        let x = (0..120u16)
            .find(|&x| buf[(x, y)].symbol() == "l" && buf[(x + 1, y)].symbol() == "r")
            .expect("the value's cell");
        assert_eq!(buf[(x, y)].fg, trace_color(g), "{value}");
    }
    assert!(has_braille(&s), "{s}");
    assert!(s.contains("b colour by"), "{s}");
    assert!(screen(&app, 80, 24).contains("colour by lr"));
    // b colours by the next key: the seed.
    press(&mut app, KeyCode::Char('b'));
    let s = screen(&app, 120, 36);
    assert!(
        s.contains("colour by seed") && s.contains("seed=1 · 3 runs"),
        "{s}"
    );
    press(&mut app, KeyCode::Char('b'));
    assert!(screen(&app, 120, 36).contains("colour by lr"), "wraps");
    press(&mut app, KeyCode::Esc);
    assert!(app.runs.in_sweep());
}
