//! Helpers the integration tests that run the gradtop binary share.

use std::process::Output;

/// The process's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last stdout line as JSON: a `--json` run's summary.
pub fn summary(o: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let last = stdout.lines().last().expect("a summary line");
    serde_json::from_str(last).expect("JSON")
}
