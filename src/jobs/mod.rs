//! Training jobs: one OS thread per job, commands in, typed events out.
//!
//! The UI never touches a tensor. A job owns its device, weights and optimizer; the driver
//! ([`driver`]) runs the one lifecycle every kind shares, and each kind's adapter
//! ([`classifier`], [`gan`], [`rl`]) supplies its step. [`watch`] is the job that trains nothing
//! and replays a run directory instead (`gradtop watch`).

pub mod classifier;
pub mod control;
pub mod driver;
pub mod ends;
pub mod gan;
pub mod interrupt;
pub mod protocol;
pub mod record;
pub mod resume;
pub mod rl;
pub mod run_files;
pub mod watch;

pub use ends::{on_job_thread, JobEnds, JobHandle};
pub use protocol::{
    ClassifierSnapshot, GanSnapshot, JobCommand, JobEvent, JobKind, JobSpec, JobStatus, JobSummary,
    KindSummary, Metric, Notice, Param, Progress, RlSnapshot, RunTarget, Snapshot, SummaryStatus,
    USER_PAUSE,
};
pub use record::RunSession;

use crate::scenario::Settings;

/// Starts a job for `spec` on its own thread; it waits for [`JobCommand::Start`]. The one place
/// that picks a kind's adapter.
pub fn start(spec: JobSpec) -> std::io::Result<JobHandle> {
    ends::spawn(spec.kind().as_str(), move |ends| {
        match spec.settings.clone() {
            Settings::Classifier(config) => driver::run(&spec, ends, |ends, device| {
                classifier::ClassifierJob::build(&spec, config, ends, device)
            }),
            Settings::Gan(config) => driver::run(&spec, ends, |ends, device| {
                gan::GanJob::build(&spec, config, ends, device)
            }),
            Settings::Rl(config) => driver::run(&spec, ends, |ends, device| {
                rl::RlJob::build(&spec, config, ends, device)
            }),
        }
    })
}
