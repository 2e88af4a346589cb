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
