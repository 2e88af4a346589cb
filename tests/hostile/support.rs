//! What every hostile case needs: a generated dataset, a runs folder and the gradtop binary.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A temporary data folder with a small generated MNIST and an empty runs folder.
pub struct Fixture {
    /// Keeps the folders alive for the test.
    pub _tmp: tempfile::TempDir,
    /// `--data-dir`.
    pub data: PathBuf,
    /// `--runs-dir`.
    pub runs: PathBuf,
}

/// A fresh fixture: 600 training and 100 test images of generated digits.
pub fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let data = tmp.path().join("data");
    gradtop::data::synthetic::write_dataset(&data.join("mnist"), 600, 100, 5)
        .expect("generated digits");
    let runs = tmp.path().join("runs");
    Fixture {
        _tmp: tmp,
        data,
        runs,
    }
}

/// `gradtop ARGS` on the fixture's data and runs folders, from the repository root.
pub fn command(f: &Fixture, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradtop"));
    cmd.args(args)
        .arg("--data-dir")
        .arg(&f.data)
        .arg("--runs-dir")
        .arg(&f.runs)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GRADTOP_DATA")
        .env_remove("GRADTOP_RUNS")
        .env_remove("RUST_BACKTRACE");
    cmd
}

/// Runs a command to its end.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the gradtop binary runs")
}

/// The command's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a refusal: exit status `code`, every `needle` in stderr, and no panic or backtrace.
pub fn assert_refused(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "exit status; stderr:\n{err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
    for panic_sign in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!err.contains(panic_sign), "a panic:\n{err}");
    }
}

/// Runs a command to its end and measures its peak resident memory in MiB (from the kernel's
/// accounting of that one child, so other tests' processes do not count).
// The child is reaped by `wait4`, which std's `wait` cannot replace: it also returns the usage.
#[allow(clippy::zombie_processes)]
pub fn run_measured(cmd: &mut Command) -> (Output, u64) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gradtop binary starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).map(|_| buf)
    });
    let mut err_buf = Vec::new();
    stderr.read_to_end(&mut err_buf).expect("reading stderr");
    let out_buf = out_reader
        .join()
        .expect("the stdout reader")
        .expect("reading stdout");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own unwaited child; status and usage point at live locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4: {}", std::io::Error::last_os_error());
    use std::os::unix::process::ExitStatusExt;
    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: out_buf,
        stderr: err_buf,
    };
    // ru_maxrss is in KiB on Linux.
    (output, usage.ru_maxrss as u64 / 1024)
}

/// Writes `text` as a scenario file in the fixture's folder and returns its path.
pub fn scenario(f: &Fixture, name: &str, text: &str) -> PathBuf {
    let path = f.data.parent().expect("the fixture root").join(name);
    std::fs::write(&path, text).expect("writing a scenario");
    path
}
