//! A disk that fills up and a run directory deleted under a running job: a write that fails is
//! an error the user sees (exit status 1, the run's end `failed`, the path and the OS's words),
//! no log keeps half a record, no temp file is left behind, and a deleted run is never
//! re-created.
//!
//! The full disk is a small tmpfs mounted over the runs folder inside a user and mount namespace
//! (`unshare -rm`), so no privilege is needed where user namespaces are allowed. The namespace
//! and its tmpfs die with the command, so the command copies the runs folder out before it ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gradtop::runs::{read_jsonl, EndStatus, EventRecord, MetricRecord, RunEvent};

use crate::support::{self, Fixture};

/// What the wrapper prints once the tmpfs is mounted, so a test can tell a namespace that could
/// not be made from a run that failed.
const MOUNTED: &str = "disk-test: tmpfs mounted";

/// Mounts a tmpfs of `$2` KiB at `$1`, fills `$3` KiB of it, runs the rest of the arguments
/// with the runs folder on it, then copies the tmpfs to `$4` and exits with the command's
/// status.
const ON_SMALL_DISK: &str = r#"
disk=$1 size_kib=$2 fill_kib=$3 copy=$4
shift 4
mount -t tmpfs -o size="${size_kib}k" tmpfs "$disk" || exit 97
echo "disk-test: tmpfs mounted" >&2
if [ "$fill_kib" -gt 0 ]; then
    dd if=/dev/zero of="$disk/fill" bs=1024 count="$fill_kib" status=none || exit 98
fi
"$@"
status=$?
mkdir -p "$copy" && cp -a "$disk/." "$copy/" || exit 99
exit $status
"#;

/// A headless MLP classifier run that checkpoints every `every` steps and stops after `steps`.
fn train_args(every: u64, steps: u64) -> Vec<String> {
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
        "--set",
        "epochs=1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        "--set".into(),
        format!("checkpoint_every={every}"),
        "--steps".into(),
        steps.to_string(),
    ])
    .collect()
}

/// Runs `gradtop ARGS` with its runs folder on a tmpfs of `size_kib` with `free_kib` left free;
/// returns the output and a copy of what the tmpfs held when the command ended (the runs folder
/// is `runs/` in it). `ARGS` may name `{disk}`, the tmpfs's mount point, for other output.
fn on_small_disk(f: &Fixture, size_kib: u64, free_kib: u64, args: &[String]) -> (Output, PathBuf) {
    let root = f.data.parent().expect("the fixture's folder");
    let disk = tempfile::Builder::new()
        .prefix("disk")
        .tempdir_in(root)
        .expect("the mount point")
        .keep();
    let copy = disk.with_extension("after");
    let on_disk = Fixture {
        _tmp: tempfile::tempdir().expect("a temp dir"),
        data: f.data.clone(),
        runs: disk.join("runs"),
    };
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("{disk}", &disk.to_string_lossy()))
        .collect();
    let inner = support::command(
        &on_disk,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-rm", "sh", "-c", ON_SMALL_DISK, "sh"])
        .arg(&disk)
        .arg(size_kib.to_string())
        .arg(size_kib.saturating_sub(free_kib).to_string())
        .arg(&copy)
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GRADTOP_DATA")
        .env_remove("GRADTOP_RUNS")
        .env_remove("RUST_BACKTRACE");
    let out = support::run(&mut cmd);
    let err = support::stderr(&out);
    assert!(
        err.contains(MOUNTED),
        "no tmpfs could be mounted in a user and mount namespace (`unshare -rm`, needs user \
         namespaces); this test cannot run here. stderr:\n{err}"
    );
    (out, copy)
}

/// The one run directory in a runs folder.
fn the_run(runs: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(runs)
        .expect("the runs folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one run directory: {dirs:?}");
    dirs[0].clone()
}

/// Every file under `dir` whose name ends in `.tmp`.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(temp_files(&path));
        } else if path.to_string_lossy().ends_with(".tmp") {
            found.push(path);
        }
    }
    found
}

/// Asserts that every line of the JSONL log at `path` is a whole record ending in a newline.
fn assert_whole_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    let bytes = std::fs::read(path).expect("the log");
    assert!(
        bytes.is_empty() || bytes.ends_with(b"\n"),
        "{} ends in half a line: {:?}",
        path.display(),
        String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(120)..])
    );
    let (records, skipped) = read_jsonl::<T>(path).expect("the log reads");
    assert_eq!(skipped, 0, "{} has broken lines", path.display());
    records
}

/// The run's end status and the message of the error logged before it, from its events.
fn end_of(run: &Path) -> Option<(EndStatus, String)> {
    let events: Vec<EventRecord> = assert_whole_lines(&run.join("events.jsonl"));
    let error = events
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            RunEvent::Error { message } => Some(message.clone()),
            _ => None,
        })
        .unwrap_or_default();
    events.into_iter().rev().find_map(|e| match e.event {
        RunEvent::End { status, .. } => Some((status, error.clone())),
        _ => None,
    })
}

/// Asserts the command failed with exit status 1, saying "no space left" and naming `needle`.
fn assert_failed_for_space(out: &Output, needle: &str) {
    support::assert_refused(out, 1, &["the run failed", needle]);
    let err = support::stderr(out);
    assert!(
        err.to_lowercase().contains("no space left"),
        "stderr does not say the disk is full:\n{err}"
    );
}

#[test]
fn a_checkpoint_that_does_not_fit_fails_the_run_and_leaves_no_temp_file() {
    let f = support::fixture();
    // An MLP checkpoint with its Adam moments is over a megabyte: none fits in 256 KiB.
    let (out, disk) = on_small_disk(&f, 256, 256, &train_args(10, 40));
    assert_failed_for_space(&out, "step-10.safetensors");
    let run = the_run(&disk.join("runs"));
    assert_eq!(
        temp_files(&disk),
        Vec::<PathBuf>::new(),
        "temp files left behind"
    );
    let (status, reason) = end_of(&run).expect("an end event");
    assert_eq!(status, EndStatus::Failed);
    assert!(
        reason.contains("step-10.safetensors") && reason.to_lowercase().contains("no space left"),
        "{reason}"
    );
    assert_whole_lines::<MetricRecord>(&run.join("metrics.jsonl"));
    let steps: Vec<u64> = assert_whole_lines::<MetricRecord>(&run.join("metrics.jsonl"))
        .iter()
        .map(|m| m.step)
        .collect();
    assert!(
        steps.iter().all(|&s| s <= 11),
        "the run stopped at its failed checkpoint: {steps:?}"
    );
}

#[test]
fn logs_that_fill_the_disk_fail_the_run_without_half_a_record() {
    let f = support::fixture();
    // No periodic checkpoint: the metrics log is what fills the last 40 KiB.
    let (out, disk) = on_small_disk(&f, 256, 40, &train_args(0, 20_000));
    assert_failed_for_space(&out, "metrics.jsonl");
    let run = the_run(&disk.join("runs"));
    assert_eq!(
        temp_files(&disk),
        Vec::<PathBuf>::new(),
        "temp files left behind"
    );
    // The write that did not fit was cut back off whole, which also leaves room for the end.
    assert_whole_lines::<MetricRecord>(&run.join("metrics.jsonl"));
    let (status, error) = end_of(&run).expect("an end event");
    assert_eq!(status, EndStatus::Failed);
    assert!(
        error.contains("metrics.jsonl") && error.to_lowercase().contains("no space left"),
        "{error}"
    );
}

/// Deletes `dir` as `rm -rf` does, again while a writer still adds files to it (a temp file
/// of a checkpoint being written when the deletion began).
fn rm_rf(dir: &Path) {
    const ATTEMPTS: usize = 50;
    for _ in 0..ATTEMPTS {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("rm -rf {}: {e}", dir.display()),
        }
    }
    panic!("{} kept filling while it was deleted", dir.display());
}

/// Longest wait for a run to reach its first checkpoint or to end.
const WAIT: Duration = Duration::from_secs(120);

/// Starts a headless run that checkpoints every 10 steps and would train for a long time, and
/// waits for its first whole checkpoint; returns the process and its run directory.
fn start_long_run(f: &Fixture) -> (Child, PathBuf) {
    let args = train_args(10, 100_000);
    let mut child = support::command(f, &args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gradtop starts");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            let out = child.wait_with_output().expect("the output");
            panic!(
                "the run ended before its first checkpoint:\n{}",
                support::stderr(&out)
            );
        }
        let first = std::fs::read_dir(&f.runs)
            .ok()
            .and_then(|mut dirs| dirs.next())
            .and_then(|e| e.ok())
            .map(|e| e.path());
        if let Some(run) = first {
            let whole = gradtop::runs::latest_whole_checkpoint(&run.join("checkpoints"));
            if matches!(whole, Ok(Some(_))) {
                return (child, run);
            }
        }
        if start.elapsed() > WAIT {
            let _ = child.kill();
            panic!("no checkpoint within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` to end after `what` was done to its run, killing it after [`WAIT`].
fn wait_after(mut child: Child, what: &str) -> Output {
    let since = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if since.elapsed() > WAIT {
            let _ = child.kill();
            panic!("the run went on for {WAIT:?} after {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("the output")
}

#[test]
fn a_deleted_run_directory_stops_the_run_and_is_not_recreated() {
    let f = support::fixture();
    let (child, run) = start_long_run(&f);
    rm_rf(&run);
    let out = wait_after(child, "its directory was deleted");
    let needle = format!("run directory {} was deleted", run.display());
    support::assert_refused(&out, 1, &["the run failed", &needle]);
    assert!(
        !run.exists(),
        "the deleted run directory was re-created: {:?}",
        std::fs::read_dir(&run).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
}

#[test]
fn a_log_replaced_by_a_folder_stops_the_run_instead_of_writing_into_the_void() {
    let f = support::fixture();
    let (child, run) = start_long_run(&f);
    let metrics = run.join("metrics.jsonl");
    std::fs::remove_file(&metrics).expect("rm the log");
    std::fs::create_dir(&metrics).expect("a folder in its place");
    let out = wait_after(child, "its log was replaced");
    let needle = format!("{} was replaced", metrics.display());
    support::assert_refused(&out, 1, &["the run failed", &needle]);
    let (status, error) = end_of(&run).expect("an end event");
    assert_eq!(status, EndStatus::Failed);
    assert!(error.contains(&needle), "{error}");
}

/// Runs the rest of the arguments in the background, waits for a checkpoint sidecar in the
/// runs folder `$1`, makes that folder read-only (a read-only bind mount over it, retried while
/// a file is being written through it), and exits with the command's status.
const WITH_RUNS_MADE_READ_ONLY: &str = r#"
runs=$1
shift
"$@" &
pid=$!
until ls "$runs"/*/checkpoints/step-*.json >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; exit 96; }
    sleep 0.02
done
mount --bind "$runs" "$runs" || exit 97
tries=0
until mount -o remount,bind,ro "$runs" 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 1000 ] || exit 98
    sleep 0.005
done
echo "disk-test: runs folder read-only" >&2
wait "$pid"
"#;

#[test]
fn a_runs_folder_made_read_only_mid_run_fails_the_run_at_its_next_checkpoint() {
    let f = support::fixture();
    std::fs::create_dir_all(&f.runs).expect("the runs folder");
    let args = train_args(100, 100_000);
    let inner = support::command(&f, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut cmd = Command::new("unshare");
    cmd.args(["-rm", "sh", "-c", WITH_RUNS_MADE_READ_ONLY, "sh"])
        .arg(&f.runs)
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GRADTOP_DATA")
        .env_remove("GRADTOP_RUNS")
        .env_remove("RUST_BACKTRACE");
    let out = support::run(&mut cmd);
    let err = support::stderr(&out);
    assert!(
        err.contains("disk-test: runs folder read-only"),
        "the runs folder could not be made read-only in a user and mount namespace (`unshare \
         -rm`, needs user namespaces); this test cannot run here. status {:?}, stderr:\n{err}",
        out.status.code()
    );
    support::assert_refused(
        &out,
        1,
        &[
            "the run failed",
            "could not be written",
            "Read-only file system",
        ],
    );
    let run = the_run(&f.runs);
    let left = temp_files(&run);
    // When the logs were open before the folder became read-only the end still reaches them;
    // when the folder turned read-only between two appends nothing more can be written, and
    // the message above is all there is.
    if let Some((status, error)) = end_of(&run) {
        assert_eq!(status, EndStatus::Failed);
        assert!(error.contains("Read-only file system"), "{error}");
    }
    // When the folder turned read-only between a temp file's creation and its rename, the temp
    // file could not be removed either; the next resume, holding the run's lock, sweeps it.
    if !left.is_empty() {
        let out = support::run(&mut support::command(
            &f,
            &["resume", run.to_str().expect("utf-8"), "--steps", "1"],
        ));
        assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
        assert_eq!(
            temp_files(&run),
            Vec::<PathBuf>::new(),
            "the resume left {left:?}"
        );
    }
}

#[test]
fn a_resume_sweeps_the_temp_files_an_interrupted_write_left() {
    let f = support::fixture();
    let run = finished_run(&f);
    let planted = [
        run.join(".confusion.json.aB3xZ9.tmp"),
        run.join("checkpoints")
            .join(".step-300.safetensors.Qw12er.tmp"),
    ];
    for path in &planted {
        std::fs::write(path, b"half a write").expect("a leftover");
    }
    std::fs::write(run.join("notes.tmp"), b"the user's").expect("a user's file");
    let out = support::run(&mut support::command(
        &f,
        &["resume", run.to_str().expect("utf-8"), "--steps", "301"],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    assert_eq!(temp_files(&run), vec![run.join("notes.tmp")]);
}

/// A finished run of 300 steps in the fixture's runs folder (on the ordinary disk), whose CSV
/// export is some 30 KB.
fn finished_run(f: &Fixture) -> PathBuf {
    let args = train_args(100, 300);
    let out = support::run(&mut support::command(
        f,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    the_run(&f.runs)
}

#[test]
fn an_export_to_a_full_disk_fails_naming_the_file_and_leaves_no_part_of_it() {
    let f = support::fixture();
    let run = finished_run(&f).display().to_string();
    let (out, disk) = on_small_disk(
        &f,
        64,
        4,
        &[
            "export".into(),
            run.clone(),
            "--csv".into(),
            "{disk}/metrics.csv".into(),
        ],
    );
    assert_failed_to_write(&out, "metrics.csv");
    assert!(
        !disk.join("metrics.csv").exists(),
        "a cut-short CSV was left"
    );

    let (out, disk) = on_small_disk(
        &f,
        64,
        0,
        &[
            "export".into(),
            run,
            "--tensorboard".into(),
            "{disk}/tb".into(),
        ],
    );
    assert_failed_to_write(&out, "events.out.tfevents.");
    let left: Vec<PathBuf> = std::fs::read_dir(disk.join("tb"))
        .expect("the log dir")
        .flatten()
        .flat_map(|run| {
            std::fs::read_dir(run.path())
                .expect("the run's folder")
                .flatten()
        })
        .map(|e| e.path())
        .collect();
    assert_eq!(
        left,
        Vec::<PathBuf>::new(),
        "a cut-short event file was left"
    );
}

#[test]
fn a_csv_export_to_a_full_stdout_fails_saying_so() {
    let f = support::fixture();
    let run = finished_run(&f).display().to_string();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = support::run(support::command(&f, &["export", &run, "--csv"]).stdout(full));
    assert_failed_to_write(&out, "standard output");
}

/// Asserts an export that could not write: exit status 1 (not bad input), naming `needle` and
/// saying the disk is full.
fn assert_failed_to_write(out: &Output, needle: &str) {
    support::assert_refused(out, 1, &["writing", needle, "No space left on device"]);
}
