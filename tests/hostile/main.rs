//! Hostile input, faults and signals: every case here once lost work, crashed or ate the
//! machine's memory, and must now end with a clear message, the right exit status and nothing
//! lost. One module per kind of fault:
//!
//! * `disk`: a full disk, a deleted run directory, a log replaced by a folder, a runs folder
//!   made read-only, an export that does not fit;
//! * `sizes`: sizes that would take the machine's memory, bounded where the file is read;
//! * `data`: an incomplete data folder, a gzip bomb;
//! * `sidecars`: checkpoint sidecars edited or damaged, field by field;
//! * `locks`: two resumes at once, stale locks, locks that are not files, symlinked runs,
//!   read-only runs;
//! * `fuzz`: bounded fuzzing of the scenario parser, the IDX reader and the sidecar reader.
//!
//! Faults that need a whole run of their own to set up are tested beside it: damaged
//! checkpoints (`tests/runs.rs`, `resume_refuses_…`, `resume_passes_over_…`), NaN weights
//! never checkpointed (`runs::checkpoint` unit tests and `jobs::driver`), SIGINT and SIGQUIT to
//! the dashboard (`tests/runs.rs`), scenarios that are devices or pipes, stdout that is not a
//! terminal and `TERM=dumb` (`tests/cli.rs`).

mod data;
mod disk;
mod fuzz;
mod locks;
mod sidecars;
mod sizes;
mod support;

#[test]
fn a_missing_scenario_is_refused_naming_it() {
    let f = support::fixture();
    let out = support::run(&mut support::command(
        &f,
        &["train", "no-such-scenario.toml", "--headless"],
    ));
    support::assert_refused(&out, 2, &["no-such-scenario.toml"]);
}
