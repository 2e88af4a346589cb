//! Run locks, symbolic links and permissions in run folders: one process writes a run at a
//! time, a lock nobody holds never blocks anyone, and gradtop never writes through a link.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use gradtop::app::tabs::runs::{delete_run, RunsMessage};
use gradtop::cli::headless::{drive, Outcome};
use gradtop::device::DeviceChoice;
use gradtop::jobs::resume::{resume_spec, ResumeError};
use gradtop::runs::{list_runs, RunDir, RunLock, RunStatus};

use crate::support::{assert_refused, command, fixture, run, stderr, Fixture};

/// The longest a refusal may take; a command still running then is waiting on something.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(60);

/// A stopped MNIST MLP run without checkpoints under `parent` (a resume starts it at step 0).
fn mlp_run(parent: &Path) -> PathBuf {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mnist-mlp.toml");
    let config = fs::read_to_string(&scenario).expect("the MLP scenario");
    RunDir::create_with_config_text(parent, "mnist-mlp", &config)
        .expect("a run directory")
        .path()
        .to_path_buf()
}

/// The names in `dir` with their contents (files) or `/` (folders), sorted: what must not
/// change when gradtop refuses to touch it.
fn listing(dir: &Path) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = fs::read_dir(dir)
        .expect("a folder")
        .map(|e| {
            let e = e.expect("an entry");
            let name = e.file_name().to_string_lossy().into_owned();
            let content = fs::read_to_string(e.path()).unwrap_or_else(|_| "/".into());
            (name, content)
        })
        .collect();
    entries.sort();
    entries
}

/// `gradtop ARGS` run to its end, killed if it outlives [`REFUSAL_DEADLINE`] (a test failure).
fn run_within_deadline(f: &Fixture, args: &[&str]) -> std::process::Output {
    let mut child = command(f, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gradtop binary runs");
    let start = Instant::now();
    while child.try_wait().expect("the child's status").is_none() {
        if start.elapsed() > REFUSAL_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gradtop {args:?} still waits after {REFUSAL_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("the child's output")
}

#[test]
fn a_resume_of_a_run_another_process_holds_names_it_and_how_to_clear_a_stale_lock() {
    let f = fixture();
    let dir = mlp_run(&f.runs);
    let _held = RunLock::acquire(&dir).expect("this test holds the run");
    let out = run(&mut command(&f, &["resume", dir.to_str().expect("utf-8")]));
    let pid = std::process::id().to_string();
    let lock = dir.join("lock").display().to_string();
    assert_refused(&out, 2, &["still running", &pid, &format!("delete {lock}")]);
}

#[test]
fn a_resume_that_loses_the_race_for_the_lock_is_refused_as_its_check_would_have() {
    let f = fixture();
    let dir = mlp_run(&f.runs);
    let spec = resume_spec(&dir, Some(f.data.clone()), DeviceChoice::Cpu, Some(2))
        .expect("nobody holds the run yet");
    // Another resume takes the run between this one's check and its job's start.
    let _winner = RunLock::acquire(&dir).expect("the other resume takes the run");
    let check = resume_spec(&dir, Some(f.data.clone()), DeviceChoice::Cpu, Some(2))
        .expect_err("the check now sees the holder");
    assert!(matches!(check, ResumeError::Running { .. }), "{check}");

    let kind = spec.kind();
    let job = gradtop::jobs::start(spec).expect("a job thread");
    let mut progress = Vec::new();
    let outcome = drive(job, kind, false, &mut progress).expect("driven to its end");
    assert_eq!(outcome, Outcome::Refused(check.to_string()));
    assert_eq!(outcome.exit_status(), 2, "as a refusal before the start");
    let events = fs::read_to_string(dir.join("events.jsonl")).expect("the log");
    assert!(events.is_empty(), "the loser wrote nothing: {events}");
}

#[test]
fn a_lock_naming_a_live_process_that_holds_no_lock_is_stale() {
    let f = fixture();
    let dir = mlp_run(&f.runs);
    // pid 1 is always alive and never gradtop; nobody holds the file's lock.
    fs::write(dir.join("lock"), "1\n").expect("a stale lock");

    let rows = list_runs(&f.runs).expect("the runs");
    assert_eq!(
        (rows[0].status, rows[0].pid),
        (RunStatus::Interrupted, None)
    );

    let out = run(&mut command(
        &f,
        &["resume", dir.to_str().expect("utf-8"), "--steps", "2"],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!dir.join("lock").exists(), "the resume released its lock");

    fs::write(dir.join("lock"), "1\n").expect("a stale lock again");
    assert_eq!(
        delete_run(&dir),
        RunsMessage::Deleted {
            path: dir.clone(),
            result: Ok(())
        }
    );
    assert!(!dir.exists());
    let left: Vec<_> = fs::read_dir(&f.runs).expect("the runs folder").collect();
    assert!(left.is_empty(), "nothing left behind: {left:?}");
}

#[test]
fn deleting_a_symlinked_run_removes_the_link_and_writes_nothing_in_its_target() {
    let f = fixture();
    let elsewhere = f._tmp.path().join("elsewhere");
    let target = mlp_run(&elsewhere);
    fs::create_dir_all(&f.runs).expect("the runs folder");
    let link = f.runs.join(target.file_name().expect("a name"));
    std::os::unix::fs::symlink(&target, &link).expect("a symlinked run");
    let before = listing(&target);

    assert_eq!(
        delete_run(&link),
        RunsMessage::Deleted {
            path: link.clone(),
            result: Ok(())
        }
    );
    assert!(fs::symlink_metadata(&link).is_err(), "the link is gone");
    assert_eq!(listing(&target), before, "the target is untouched");
}

#[test]
fn a_lock_that_is_a_folder_refuses_resume_and_delete_naming_it() {
    let f = fixture();
    let dir = mlp_run(&f.runs);
    let lock = dir.join("lock");
    fs::create_dir(&lock).expect("a folder named lock");
    let lock_text = lock.display().to_string();

    let out = run_within_deadline(&f, &["resume", dir.to_str().expect("utf-8")]);
    assert_refused(&out, 2, &[&lock_text, "a folder"]);
    match delete_run(&dir) {
        RunsMessage::Deleted { result: Err(e), .. } => {
            assert!(e.contains(&lock_text) && e.contains("a folder"), "{e}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(lock.is_dir() && dir.join("config.toml").is_file());
}

#[test]
fn a_lock_that_is_a_symlink_is_never_written_through() {
    let f = fixture();
    let dir = mlp_run(&f.runs);
    let precious = f._tmp.path().join("precious.txt");
    fs::write(&precious, "not gradtop's\n").expect("a file of the user's");
    std::os::unix::fs::symlink(&precious, dir.join("lock")).expect("a symlinked lock");
    let lock_text = dir.join("lock").display().to_string();

    let out = run_within_deadline(&f, &["resume", dir.to_str().expect("utf-8")]);
    assert_refused(&out, 2, &[&lock_text, "a symbolic link"]);
    match delete_run(&dir) {
        RunsMessage::Deleted { result: Err(e), .. } => {
            assert!(e.contains("a symbolic link"), "{e}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        fs::read_to_string(&precious).expect("still there"),
        "not gradtop's\n"
    );
}

#[test]
fn a_lock_that_is_a_pipe_is_refused_at_once_instead_of_waiting_for_a_writer() {
    let f = fixture();
    let dir = mlp_run(&f.runs);
    let lock = dir.join("lock");
    let c_path = std::ffi::CString::new(lock.to_str().expect("utf-8")).expect("no NUL");
    // SAFETY: mkfifo only reads the NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");

    // On a thread, so a listing that waits on the pipe fails the test instead of hanging it.
    let (sent, listed) = std::sync::mpsc::channel();
    let runs = f.runs.clone();
    std::thread::spawn(move || sent.send(list_runs(&runs).map(|rows| rows[0].status)));
    let status = listed
        .recv_timeout(REFUSAL_DEADLINE)
        .expect("the listing does not wait on the pipe");
    assert_eq!(status.expect("the runs"), RunStatus::Interrupted);
    let out = run_within_deadline(&f, &["resume", dir.to_str().expect("utf-8")]);
    assert_refused(&out, 2, &[&lock.display().to_string(), "a pipe"]);
}

/// Permissions do not bind root, so a test of them run as root could not fail: as root, runs
/// the test `name` again in this binary as the unprivileged user 65534 and asserts it passed
/// there, returning true (the caller stops); otherwise returns false and the caller goes on.
fn rerun_unprivileged(name: &str) -> bool {
    // SAFETY: geteuid only reads the process's credentials.
    if unsafe { libc::geteuid() } != 0 {
        return false;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(exe)
        .args(["--exact", name, "--test-threads=1"])
        .env("TMPDIR", std::env::temp_dir())
        .output()
        .expect("setpriv (util-linux) runs the test as an unprivileged user");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} as user 65534:\n{report}");
    assert!(
        report.contains("1 passed"),
        "{name} ran as user 65534:\n{report}"
    );
    true
}

#[test]
fn a_resume_of_a_read_only_run_is_refused_naming_its_lock() {
    if rerun_unprivileged("locks::a_resume_of_a_read_only_run_is_refused_naming_its_lock") {
        return;
    }
    let f = fixture();
    let dir = mlp_run(&f.runs);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).expect("a read-only run");
    let out = run_within_deadline(&f, &["resume", dir.to_str().expect("utf-8")]);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("writable again");
    let lock = dir.join("lock").display().to_string();
    assert_refused(&out, 2, &[&lock, "Permission denied"]);
}

#[test]
fn deleting_a_run_in_a_read_only_runs_folder_loses_nothing() {
    if rerun_unprivileged("locks::deleting_a_run_in_a_read_only_runs_folder_loses_nothing") {
        return;
    }
    let f = fixture();
    let dir = mlp_run(&f.runs);
    fs::create_dir(dir.join("checkpoints")).ok();
    fs::write(dir.join("metrics.jsonl"), "").expect("a log");
    let before = listing(&dir);
    fs::set_permissions(&f.runs, fs::Permissions::from_mode(0o555)).expect("read-only runs");

    let result = delete_run(&dir);
    fs::set_permissions(&f.runs, fs::Permissions::from_mode(0o755)).expect("writable again");
    match result {
        RunsMessage::Deleted { result: Err(e), .. } => {
            let run = dir.display().to_string();
            assert!(e.contains(&run) && e.contains("Permission denied"), "{e}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(listing(&dir), before, "the run is whole");
}
