//! `gradtop train … --headless`: the same job threads as the dashboard, reported as lines of
//! text or JSON on stdout.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::format::format_duration;
use crate::jobs::{
    JobCommand, JobEvent, JobHandle, JobKind, JobStatus, JobSummary, Metric, USER_PAUSE,
};

/// Seconds between human-readable progress lines.
const LINE_INTERVAL: Duration = Duration::from_secs(1);

/// How a headless run ended, mapped to the exit status by `main`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished or stopped normally; the summary is attached (none if the job sent none).
    Success(Option<Box<JobSummary>>),
    /// The run failed (diverged, bad data, a panic); the reason is attached.
    Failed(String),
    /// The job never trained: the run could not be locked (another process holds it, …); the
    /// reason is attached, worded as the refusals checked before a job starts.
    Refused(String),
}

impl Outcome {
    /// The exit status it deserves when no stop signal came: 0, 1 when the run failed, and 2
    /// when it was refused, as input refused before the job started is.
    pub fn exit_status(&self) -> u8 {
        match self {
            Outcome::Success(_) => 0,
            Outcome::Failed(_) => 1,
            Outcome::Refused(_) => 2,
        }
    }
}

/// Drives a job handle to its end, printing progress to `out`.
pub fn drive(
    mut handle: JobHandle,
    kind: JobKind,
    json_lines: bool,
    out: &mut dyn Write,
) -> std::io::Result<Outcome> {
    handle.send(JobCommand::Start);
    let mut last_line = Instant::now() - LINE_INTERVAL;
    let mut last_loss = f64::NAN;
    let mut mean_return = f64::NAN;
    let mut d_loss = f64::NAN;
    let mut summary = None;
    let mut failure = None;
    let mut refusal = None;
    while let Some(event) = handle.events.blocking_recv() {
        match event {
            JobEvent::Metric {
                metric: Metric::TrainLoss | Metric::GLoss,
                value,
                ..
            } => last_loss = value,
            JobEvent::Metric {
                metric: Metric::DLoss,
                value,
                ..
            } => d_loss = value,
            JobEvent::Metric {
                metric: Metric::MeanReturn20,
                value,
                ..
            } => mean_return = value,
            JobEvent::Metric {
                step,
                metric: metric @ (Metric::TestAccuracy | Metric::TestLoss | Metric::FidCnn),
                value,
            } => {
                if json_lines {
                    writeln!(
                        out,
                        "{}",
                        json!({"event": "eval", "step": step, metric.name(): value})
                    )?;
                } else if metric == Metric::TestAccuracy {
                    writeln!(out, "step {step}: test accuracy {value:.4}")?;
                } else if metric == Metric::FidCnn {
                    writeln!(out, "iteration {step}: fid_cnn {value:.2}")?;
                }
            }
            JobEvent::Progress(p) => {
                if last_line.elapsed() >= LINE_INTERVAL || p.step == p.total_steps {
                    last_line = Instant::now();
                    let eta = p.eta_s.map(format_duration).unwrap_or_else(|| "?".into());
                    if json_lines {
                        writeln!(
                            out,
                            "{}",
                            json!({"event": "progress", "step": p.step, "total_steps": p.total_steps,
                                   "epoch": p.epoch, "epochs": p.epochs, "train_loss": last_loss,
                                   "mean_return_20": mean_return, "rate": p.rate, "eta_s": p.eta_s})
                        )?;
                    } else if kind == JobKind::Gan {
                        writeln!(
                            out,
                            "iteration {}/{}  D loss {:.3}  G loss {:.3}  {:.1} it/s  ETA {eta}",
                            p.step, p.total_steps, d_loss, last_loss, p.rate
                        )?;
                    } else if kind == JobKind::Rl {
                        // `epoch` counts episodes and the rate is env steps per second.
                        writeln!(
                            out,
                            "env step {}/{}  episodes {}  mean return {:.1}  {:.0} steps/s  ETA {eta}",
                            p.step, p.total_steps, p.epoch, mean_return, p.rate
                        )?;
                    } else {
                        writeln!(
                            out,
                            "step {}/{}  epoch {}/{}  loss {:.4}  {:.0}/s  ETA {}",
                            p.step, p.total_steps, p.epoch, p.epochs, last_loss, p.rate, eta
                        )?;
                    }
                }
            }
            JobEvent::Notice(notice) => {
                let msg = notice.text();
                if json_lines {
                    writeln!(out, "{}", json!({"event": "notice", "message": msg}))?;
                } else {
                    writeln!(out, "{msg}")?;
                }
            }
            JobEvent::Applied { param, value, step } => {
                writeln!(out, "{param} = {value} from step {step}")?;
            }
            JobEvent::Status(JobStatus::Paused(reason)) if reason == USER_PAUSE => {
                // Paused through the run's control file, which resumes it too.
                let msg = "paused: a resume command in the run's control.jsonl continues it";
                if json_lines {
                    writeln!(out, "{}", json!({"event": "notice", "message": msg}))?;
                } else {
                    writeln!(out, "{msg}")?;
                }
            }
            JobEvent::Status(JobStatus::Paused(reason)) => {
                // Nobody resumes a guard's pause headless: it ends the run as a failure.
                failure = Some(format!("run paused and cannot resume headless: {reason}"));
                handle.send(JobCommand::Stop);
            }
            JobEvent::Status(JobStatus::Failed(reason)) => failure = Some(reason),
            JobEvent::Status(JobStatus::Refused(reason)) => refusal = Some(reason),
            JobEvent::Summary(s) => summary = Some(s),
            JobEvent::Status(_) | JobEvent::Snapshot | JobEvent::Refused { .. } => {}
            JobEvent::Metric { .. } | JobEvent::History(_) => {}
        }
        out.flush()?;
    }
    handle.stop_and_join();
    if let Some(reason) = refusal {
        return Ok(Outcome::Refused(reason));
    }
    if let Some(reason) = failure {
        return Ok(Outcome::Failed(reason));
    }
    let line = summary
        .as_deref()
        .map_or_else(|| json!({}), JobSummary::to_json);
    if json_lines {
        writeln!(out, "{line}")?;
    } else {
        writeln!(out, "summary: {line}")?;
    }
    Ok(Outcome::Success(summary))
}
