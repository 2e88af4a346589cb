//! TensorBoard event files read back: runs written by PyTorch's `SummaryWriter` and TensorFlow
//! 2's `tf.summary` give what TensorBoard's own reader finds (`expected.json`); damaged, cut,
//! empty and foreign files are read as far as they are whole; gradtop's own export reads back;
//! a file being appended to is followed; scripts get the list and the CSV.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use gradtop::cli::export::export_tensorboard_to;
use gradtop::runs::tfevents::{encode_scalar_event, frame_record};
use gradtop::runs::{
    export_csv, list_runs, read_event_file, read_run_curves, read_tensorboard_run, EventFileTail,
    MetricRecord, RunDir, RunLogs, RunStatus, RunsIndex, TfEventsWriter, TENSORBOARD_KIND,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tfevents")
}

/// The one event file of a fixture run.
fn event_file(run: &str) -> PathBuf {
    let dir = fixtures().join(run);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("fixture folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.remove(0)
}

/// Equal up to the rounding of an `f32`, which is how both writers store a scalar.
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-6 * want.abs().max(1.0)
}

/// Per tag: count, first and last (step, value), min, max — what `expected.json` holds.
#[derive(Debug)]
struct TagFigures {
    count: usize,
    first: (u64, f64),
    last: (u64, f64),
    min: f64,
    max: f64,
}

fn figures(records: &[MetricRecord]) -> BTreeMap<String, TagFigures> {
    let mut out: BTreeMap<String, TagFigures> = BTreeMap::new();
    for r in records {
        let point = (r.step, r.value);
        out.entry(r.name.clone())
            .and_modify(|f| {
                f.count += 1;
                f.last = point;
                f.min = f.min.min(r.value);
                f.max = f.max.max(r.value);
            })
            .or_insert(TagFigures {
                count: 1,
                first: point,
                last: point,
                min: r.value,
                max: r.value,
            });
    }
    out
}

#[test]
fn pytorch_and_tensorflow_runs_read_as_tensorboard_reads_them() {
    let text = fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
    let expected: serde_json::Value = serde_json::from_str(&text).expect("json");
    let runs = expected.as_object().expect("runs");
    assert_eq!(runs.len(), 2);
    for (run, tags) in runs {
        let (records, start, skipped) = read_tensorboard_run(&fixtures().join(run)).expect(run);
        assert!(skipped.is_empty(), "{run}: {skipped:?}");
        assert!(start > 1.7e9, "{run}: first event's wall time {start}");
        let got = figures(&records);
        let tags = tags.as_object().expect("tags");
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            tags.keys().collect::<Vec<_>>(),
            "{run}: every scalar tag, nothing else"
        );
        for (tag, want) in tags {
            let f = &got[tag];
            let step_value = |v: &serde_json::Value| {
                (v[0].as_u64().expect("step"), v[1].as_f64().expect("value"))
            };
            let (first, last) = (step_value(&want["first"]), step_value(&want["last"]));
            assert_eq!(
                f.count as u64,
                want["count"].as_u64().expect("count"),
                "{run}/{tag}"
            );
            assert_eq!(
                (f.first.0, f.last.0),
                (first.0, last.0),
                "{run}/{tag} steps"
            );
            assert!(close(f.first.1, first.1), "{run}/{tag} first {f:?}");
            assert!(close(f.last.1, last.1), "{run}/{tag} last {f:?}");
            assert!(
                close(f.min, want["min"].as_f64().expect("min")),
                "{run}/{tag} {f:?}"
            );
            assert!(
                close(f.max, want["max"].as_f64().expect("max")),
                "{run}/{tag} {f:?}"
            );
        }
        // The chart's curves come from the same records.
        let curves = read_run_curves(&fixtures().join(run), 1000);
        assert_eq!(curves.error, None);
        for (tag, want) in tags {
            let curve = curves.metric(tag).expect(tag);
            assert_eq!(curve.records, want["count"].as_u64().expect("count"));
            assert_eq!(curve.last_step, step_value_step(&want["last"]));
        }
    }
}

fn step_value_step(v: &serde_json::Value) -> u64 {
    v[0].as_u64().expect("step")
}

#[test]
fn the_log_folder_lists_each_run_with_its_tags_and_newest_step() {
    let rows = list_runs(&fixtures()).expect("list");
    let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    names.sort();
    assert_eq!(names, vec!["tf2-run", "torch-run-a"]);
    for row in &rows {
        assert_eq!(row.kind.as_deref(), Some(TENSORBOARD_KIND));
        assert!(row.is_foreign());
        assert!(!row.status.resumable());
        assert!(row.started.is_some() && row.updated_unix_s.is_some());
    }
    let torch = rows
        .iter()
        .find(|r| r.name == "torch-run-a")
        .expect("torch");
    assert_eq!(torch.steps, 199);
    assert_eq!(torch.metrics, vec!["train/loss", "test/accuracy", "lr"]);
    let tf2 = rows.iter().find(|r| r.name == "tf2-run").expect("tf2");
    assert_eq!(tf2.steps, 119);
    assert_eq!(tf2.metrics, vec!["loss", "reward/mean"]);
}

/// A copy of the PyTorch run's file in a fresh log folder, `keras-fit/train`-style deep.
fn copy_torch_run(root: &Path, sub: &str) -> PathBuf {
    let src = event_file("torch-run-a");
    let dir = root.join(sub);
    fs::create_dir_all(&dir).expect("mkdir");
    let dst = dir.join(src.file_name().expect("name"));
    fs::copy(&src, &dst).expect("copy");
    dst
}

/// Scalars in the PyTorch fixture (200 + 20 + 1), one per record.
const TORCH_POINTS: usize = 221;

#[test]
fn a_file_cut_in_a_record_reads_up_to_its_last_whole_record() {
    let root = tempfile::tempdir().expect("temp dir");
    let file = copy_torch_run(root.path(), "cut");
    let bytes = fs::read(&file).expect("read");
    fs::write(&file, &bytes[..bytes.len() - 7]).expect("cut");
    let read = read_event_file(&file).expect("read");
    assert_eq!(read.points.len(), TORCH_POINTS - 1);
    assert!(
        read.skipped.is_empty(),
        "a cut record is not damage: {:?}",
        read.skipped
    );
}

#[test]
fn a_flipped_byte_loses_one_record_with_a_warning_naming_file_and_offset() {
    let root = tempfile::tempdir().expect("temp dir");
    let file = copy_torch_run(root.path(), "flipped");
    let mut bytes = fs::read(&file).expect("read");
    for at in [bytes.len() / 2, bytes.len() / 3 + 1] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        fs::write(&file, &damaged).expect("write");
        let read = read_event_file(&file).expect("damage is no error");
        assert_eq!(read.points.len(), TORCH_POINTS - 1, "byte {at}");
        assert_eq!(read.skipped.len(), 1, "byte {at}: {:?}", read.skipped);
        let warning = read.skipped[0].to_string();
        assert!(warning.contains("events.out.tfevents."), "{warning}");
        assert!(warning.contains("record at byte"), "{warning}");
        assert!(read.skipped[0].offset <= at as u64);
    }
    // The length of the very first record: the rest is found again.
    bytes[3] ^= 0x01;
    fs::write(&file, &bytes).expect("write");
    let read = read_event_file(&file).expect("read");
    assert_eq!(read.points.len(), TORCH_POINTS);
    assert_eq!(read.skipped.len(), 1);
    assert_eq!(read.skipped[0].offset, 0);
}

#[test]
fn empty_and_foreign_files_read_as_no_scalars() {
    let root = tempfile::tempdir().expect("temp dir");
    let empty = root.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    fs::write(empty.join("events.out.tfevents.1700000000.host"), b"").expect("write");
    let foreign = root.path().join("foreign");
    fs::create_dir(&foreign).expect("mkdir");
    let json: String = (0..200)
        .map(|i| format!("{{\"step\":{i},\"name\":\"loss\",\"value\":0.5}}\n"))
        .collect();
    fs::write(foreign.join("events.out.tfevents.1700000000.host"), json).expect("write");

    let read = read_event_file(&empty.join("events.out.tfevents.1700000000.host")).expect("empty");
    assert!(read.points.is_empty() && read.skipped.is_empty());
    let read =
        read_event_file(&foreign.join("events.out.tfevents.1700000000.host")).expect("foreign");
    assert!(read.points.is_empty());
    assert_eq!(read.skipped.len(), 1, "one warning for the whole stretch");

    let rows = list_runs(root.path()).expect("list");
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!((row.steps, row.metrics.len()), (0, 0), "{row:?}");
    }
    let foreign_row = rows.iter().find(|r| r.name == "foreign").expect("listed");
    assert!(foreign_row
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("record at byte 0")));
    let curves = read_run_curves(&foreign, 1000);
    assert_eq!((curves.error, curves.metrics.len()), (None, 0));
    assert_eq!(curves.skipped_lines, 1);
}

#[test]
fn gradtops_tensorboard_export_reads_back_the_same_metrics() {
    let root = tempfile::tempdir().expect("temp dir");
    let run = RunDir::create_with_config_text(
        &root.path().join("runs"),
        "mnist-cnn",
        "kind = \"classifier\"\ndataset = \"mnist\"\n",
    )
    .expect("run");
    {
        let mut logs = RunLogs::open(&run).expect("logs");
        for step in 1..=30u64 {
            logs.metric(step, "train_loss", 2.0 / step as f64)
                .expect("metric");
            if step % 10 == 0 {
                logs.metric(step, "test_accuracy", 0.9 + step as f64 / 1000.0)
                    .expect("metric");
            }
        }
        logs.sync().expect("sync");
    }
    let logdir = root.path().join("tb");
    let file = export_tensorboard_to(run.path(), &logdir).expect("export");
    let read = read_event_file(&file).expect("read back");
    assert!(read.skipped.is_empty());
    let got: Vec<(String, u64, f64)> = read
        .points
        .iter()
        .map(|p| (p.tag.clone(), p.step, p.value))
        .collect();
    assert_eq!(got.len(), 33);
    let mut original = Vec::new();
    export_csv(run.path(), &mut original, Path::new("csv")).expect("csv");
    let original = String::from_utf8(original).expect("utf8");
    for (line, (tag, step, value)) in original.lines().skip(1).zip(&got) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0].parse::<u64>().expect("step"), *step);
        assert_eq!(cells[2], tag);
        let want: f64 = cells[3].parse().expect("value");
        assert!(close(*value, want), "{line}: {value}");
    }
    // The exported folder is itself a run the list and the CSV export take.
    let rows = list_runs(&logdir).expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].steps, 30);
    assert_eq!(rows[0].metrics, vec!["train_loss", "test_accuracy"]);
    let mut csv = Vec::new();
    let tb_run = file.parent().expect("run folder");
    assert_eq!(
        export_csv(tb_run, &mut csv, Path::new("csv")).expect("csv"),
        33
    );
    let csv = String::from_utf8(csv).expect("utf8");
    assert!(csv.starts_with("step,t,name,value\n1,"), "{csv}");
}

fn append(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open");
    file.write_all(bytes).expect("append");
    file.flush().expect("flush");
}

#[test]
fn a_file_being_appended_to_is_followed_from_its_offset() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("live");
    let mut writer = TfEventsWriter::create(&dir, 1_700_000_000.0).expect("writer");
    writer.flush().expect("flush");
    let path = writer.path().to_path_buf();
    drop(writer);
    let version_bytes = fs::metadata(&path).expect("meta").len();

    let record = |step: i64, value: f32| {
        frame_record(&encode_scalar_event(
            1_700_000_000.0 + step as f64,
            step,
            "loss",
            value,
        ))
    };
    let mut tail = EventFileTail::new(&path);
    let mut kinds = Default::default();
    let mut index = RunsIndex::new(root.path());

    let first = record(1, 0.5);
    let (head, rest) = first.split_at(first.len() / 2);
    append(&path, head);
    let read = tail.poll(&mut kinds, u64::MAX).expect("poll");
    assert!(read.points.is_empty() && read.skipped.is_empty());
    assert_eq!(
        tail.offset(),
        version_bytes,
        "waits at the half record's start"
    );
    let rows = index.refresh().expect("refresh");
    assert_eq!((rows[0].steps, rows[0].metrics.len()), (0, 0));
    assert_eq!(rows[0].status, RunStatus::Running, "just written");

    append(&path, rest);
    append(&path, &record(2, 0.25));
    let read = tail.poll(&mut kinds, u64::MAX).expect("poll");
    let got: Vec<(u64, f64)> = read.points.iter().map(|p| (p.step, p.value)).collect();
    assert_eq!(got, vec![(1, 0.5), (2, 0.25)]);
    assert!(tail
        .poll(&mut kinds, u64::MAX)
        .expect("poll")
        .points
        .is_empty());
    let rows = index.refresh().expect("refresh");
    assert_eq!(rows[0].steps, 2);
    assert_eq!(rows[0].metrics, vec!["loss"]);

    append(&path, &record(3, 0.125));
    assert_eq!(
        tail.poll(&mut kinds, u64::MAX).expect("poll").points.len(),
        1
    );
    assert_eq!(index.refresh().expect("refresh")[0].steps, 3);
}

/// Runs the built binary.
fn gradtop(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gradtop"))
        .args(args)
        .env_remove("GRADTOP_RUNS")
        .output()
        .expect("gradtop runs")
}

#[test]
fn scripts_get_the_list_as_json_and_a_tensorboard_run_as_csv() {
    let dir = fixtures();
    let out = gradtop(&["runs", "--json", "--runs-dir", &dir.to_string_lossy()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON array");
    let runs = list.as_array().expect("array");
    assert_eq!(runs.len(), 2);
    let torch = runs
        .iter()
        .find(|r| r["name"] == "torch-run-a")
        .expect("torch-run-a");
    assert_eq!(torch["kind"], "tensorboard");
    assert_eq!(torch["steps"], 199);
    assert_eq!(
        torch["metrics"],
        serde_json::json!(["train/loss", "test/accuracy", "lr"])
    );
    for key in ["scenario", "dataset", "status"] {
        assert!(torch.get(key).is_some(), "{key} in {torch}");
    }

    let run = dir.join("torch-run-a");
    let out = gradtop(&["export", &run.to_string_lossy(), "--csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).expect("utf8");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "step,t,name,value");
    assert_eq!(lines.len(), 1 + TORCH_POINTS);
    assert!(
        lines[1].starts_with("0,") && lines[1].contains(",train/loss,2.29"),
        "{}",
        lines[1]
    );
}
