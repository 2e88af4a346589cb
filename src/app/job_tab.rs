//! What every job tab shares, written once: the job's status, progress and event log, the
//! panel cursor, whether it starts by itself, and how the events every kind sends (status,
//! progress, applied and refused changes, notices) change them. A tab keeps only its own series,
//! snapshot and drawing.

use std::collections::VecDeque;
use std::path::PathBuf;

use super::keymap::{HintContext, JobPhase};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::tabs::panel::Panel;
use super::tabs::Reaction;
use super::theme::Theme;
use super::widgets::chart::ChartView;
use super::{Action, Effect, ToastLevel};
use crate::data::DatasetName;
use crate::device::DeviceChoice;
use crate::jobs::{
    JobCommand, JobEvent, JobKind, JobSpec, JobStatus, Notice, Param, Progress, RunTarget,
    Snapshot, USER_PAUSE,
};
use crate::scenario::{Scenario, Settings};

/// Lines of a tab's event log kept.
const LOG_LINES: usize = 50;

/// A toast a tab asks for: its level and text.
pub type ToastText = (ToastLevel, String);

/// What the dashboard asks of every job tab, so the app picks a tab by [`JobKind`] and never
/// needs a `match` of its own to reach it.
pub trait JobTab {
    /// The state every job tab shares.
    fn job(&self) -> &JobState;
    /// The same, to change.
    fn job_mut(&mut self) -> &mut JobState;
    /// Handles a user action aimed at the tab.
    fn handle(&mut self, action: Action, device: DeviceChoice) -> Reaction;
    /// Folds one job event into the tab; says what to toast.
    fn on_event(&mut self, event: JobEvent) -> Option<ToastText>;
    /// Takes the job's latest snapshot (one of another kind is ignored).
    fn on_snapshot(&mut self, snapshot: Snapshot);
    /// Starts (or restarts) the job with the panel's values.
    fn start(&mut self, device: DeviceChoice) -> Reaction;
    /// Takes a run's own settings and name, to continue it (`r` in the Runs tab).
    fn adopt(&mut self, spec: &JobSpec);
    /// The situation the key hints are for.
    fn hint_context(&self) -> HintContext;
    /// What the top bar says of this tab's job when none runs: `dqn ready`, `gan finished`.
    fn top_bar_status(&self) -> String;
    /// Draws the tab, its charts as `view` says.
    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, view: &ChartView);
    /// The dataset the tab trains on, for tabs that train on images.
    fn dataset(&self) -> Option<DatasetName> {
        None
    }
    /// Switches the tab to `dataset` for its next start, as if chosen in its own panel, so a
    /// dataset chosen once applies to every tab.
    fn choose_dataset(&mut self, dataset: DatasetName) {
        let _ = dataset;
    }
    /// Advances animations by one UI frame; true when something visible moved.
    fn tick(&mut self, fps: u32) -> bool {
        let _ = fps;
        false
    }
}

/// The state every job tab has, whatever its kind.
#[derive(Debug)]
pub struct JobState {
    /// Which kind of job the tab runs.
    pub kind: JobKind,
    /// Scenario name for runs started here.
    pub scenario: String,
    /// Panel cursor and typing.
    pub panel: Panel,
    /// The job's status; `None` before the first start.
    pub status: Option<JobStatus>,
    /// Latest progress.
    pub progress: Progress,
    /// Hyperparameter changes and notices, newest last.
    pub log: VecDeque<String>,
    /// Start the job as soon as the dashboard opens (`gradtop train` without `--headless`).
    pub autostart: bool,
    /// Step limit for runs started here (`gradtop train --steps`).
    pub max_steps: Option<u64>,
}

impl JobState {
    /// The state of a `kind` tab for `scenario` when it is of that kind (then it starts by
    /// itself), else for `default_name` with the settings the caller defaults to.
    pub fn new(kind: JobKind, scenario: Option<&Scenario>, default_name: &str) -> Self {
        let from_scenario = scenario.filter(|s| s.settings.kind() == kind);
        Self {
            kind,
            scenario: from_scenario.map_or_else(|| default_name.to_string(), |s| s.name.clone()),
            panel: Panel::default(),
            status: None,
            progress: Progress::default(),
            log: VecDeque::new(),
            autostart: from_scenario.is_some(),
            max_steps: None,
        }
    }

    /// True while the job loads, trains or is paused.
    pub fn is_active(&self) -> bool {
        self.status.as_ref().is_some_and(JobStatus::is_active)
    }

    /// Appends a line to the event log, dropping the oldest beyond the cap.
    pub fn log(&mut self, line: impl Into<String>) {
        self.log.push_back(line.into());
        while self.log.len() > LOG_LINES {
            self.log.pop_front();
        }
    }

    /// Resets status and progress for a (re)start, logs `what` after "start"/"restart", and
    /// returns the effect that starts the job with `settings`, its run named after the tab's
    /// scenario.
    pub fn start(
        &mut self,
        what: &str,
        settings: Settings,
        data_dir: Option<PathBuf>,
        device: DeviceChoice,
    ) -> Reaction {
        let name = self.scenario.clone();
        self.start_as(name, what, settings, data_dir, device)
    }

    /// [`JobState::start`] for a run named `name`, where the name says more than the scenario
    /// (the dataset the user switched to).
    pub fn start_as(
        &mut self,
        name: String,
        what: &str,
        settings: Settings,
        data_dir: Option<PathBuf>,
        device: DeviceChoice,
    ) -> Reaction {
        let restarting = self.status.is_some();
        self.progress = Progress::default();
        self.status = Some(JobStatus::Loading("starting".into()));
        self.log(format!(
            "{} {what}",
            if restarting { "restart" } else { "start" }
        ));
        Reaction::effects(vec![Effect::Start(Box::new(JobSpec {
            scenario: name,
            settings,
            data_dir,
            device,
            max_steps: self.max_steps,
            run: RunTarget::Off,
        }))])
    }

    /// Pause/resume, stop and checkpoint for the tab's job, judged by its status; `None` for
    /// actions that are not job keys.
    pub fn job_keys(&self, action: Action) -> Option<Reaction> {
        let command = |c| Reaction::effects(vec![Effect::Command(self.kind, c)]);
        let idle = || Reaction::toast(ToastLevel::Info, "no job is running: press s to start");
        Some(match action {
            Action::PauseResume => match self.status {
                Some(JobStatus::Running) => command(JobCommand::Pause),
                Some(JobStatus::Paused(_)) => command(JobCommand::Resume),
                _ => idle(),
            },
            Action::Stop if self.is_active() => command(JobCommand::Stop),
            Action::Checkpoint if self.is_active() => command(JobCommand::Checkpoint),
            Action::Stop | Action::Checkpoint => idle(),
            _ => return None,
        })
    }

    /// A live change: sent to the running job, or only kept for the next start.
    pub fn live_change(&self, param: Param, value: f64) -> Reaction {
        if self.is_active() {
            Reaction::effects(vec![Effect::Command(
                self.kind,
                JobCommand::Set(param, value),
            )])
        } else {
            Reaction::default()
        }
    }

    /// Folds the events every kind sends alike into the state, and says what to toast. Metric
    /// points, snapshots and summaries are the tab's own and leave the state as it is.
    pub fn on_event(&mut self, event: &JobEvent) -> Option<ToastText> {
        match event {
            JobEvent::Status(status) => {
                match status {
                    JobStatus::Failed(reason) => self.log(format!("failed: {reason}")),
                    JobStatus::Refused(reason) => self.log(format!("refused: {reason}")),
                    _ => {}
                }
                self.status = Some(status.clone());
                return status_toast(status);
            }
            JobEvent::Progress(p) => self.progress = *p,
            JobEvent::Applied { param, value, step } => {
                let line = applied_line(self.kind, *step, *param, *value);
                self.log(line.clone());
                return Some((ToastLevel::Info, line));
            }
            JobEvent::Refused { param, reason } => {
                return Some((ToastLevel::Warn, format!("{param} refused: {reason}")));
            }
            JobEvent::Notice(notice) => {
                let (level, text) = match notice {
                    Notice::Info(t) | Notice::Solved(t) => (ToastLevel::Info, t.clone()),
                    Notice::Warning(t) => (ToastLevel::Warn, format!("warning: {t}")),
                };
                self.log(text.clone());
                return Some((level, text));
            }
            JobEvent::Metric { .. }
            | JobEvent::Summary(_)
            | JobEvent::Snapshot
            | JobEvent::History(_) => {}
        }
        None
    }

    /// The screen the tab's hint line is for: its kind and its job's phase. `data_alternative`:
    /// the tab's dataset is missing and another one is on disk.
    pub fn hint_context(&self, data_alternative: bool) -> HintContext {
        let phase = match &self.status {
            None if data_alternative => JobPhase::DataMissing,
            None => JobPhase::Idle,
            Some(JobStatus::Loading(_) | JobStatus::Running) => JobPhase::Running,
            Some(JobStatus::Paused(_)) => JobPhase::Paused,
            Some(
                JobStatus::Ready
                | JobStatus::Finished
                | JobStatus::Stopped
                | JobStatus::Failed(_)
                | JobStatus::Refused(_),
            ) => JobPhase::Ended,
        };
        HintContext::Job(self.kind, phase)
    }

    /// Short status word for the top bar.
    pub fn status_word(&self) -> &'static str {
        match &self.status {
            None | Some(JobStatus::Ready) => "ready",
            Some(JobStatus::Loading(_)) => "loading",
            Some(JobStatus::Running) => "running",
            Some(JobStatus::Paused(_)) => "paused",
            Some(JobStatus::Finished) => "finished",
            Some(JobStatus::Stopped) => "stopped",
            Some(JobStatus::Failed(_)) => "failed",
            Some(JobStatus::Refused(_)) => "refused",
        }
    }
}

/// The toast a status change deserves: failures, refusals and pauses the user did not ask for.
pub fn status_toast(status: &JobStatus) -> Option<ToastText> {
    match status {
        JobStatus::Failed(reason) => Some((ToastLevel::Error, format!("job failed: {reason}"))),
        JobStatus::Refused(reason) => Some((ToastLevel::Warn, format!("refused: {reason}"))),
        JobStatus::Paused(reason) if reason != USER_PAUSE => {
            Some((ToastLevel::Warn, format!("paused: {reason}")))
        }
        _ => None,
    }
}

/// The log line for a hyperparameter change that took effect: `step 812: lr → 1.0e-3`
/// (`it 812` for a GAN).
pub fn applied_line(kind: JobKind, step: u64, param: Param, value: f64) -> String {
    let unit = match kind {
        JobKind::Gan => "it",
        JobKind::Classifier | JobKind::Rl => "step",
    };
    format!("{unit} {step}: {param} → {}", param.format(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_events_change_the_shared_state_and_toast() {
        let mut job = JobState::new(JobKind::Gan, None, "gan-mlp");
        assert!(!job.autostart);
        let toast = job.on_event(&JobEvent::Applied {
            param: Param::LrG,
            value: 1e-3,
            step: 12,
        });
        assert_eq!(
            toast,
            Some((ToastLevel::Info, "it 12: lr_g → 1.0e-3".to_string()))
        );
        let toast = job.on_event(&JobEvent::Notice(Notice::Warning("D won".into())));
        assert_eq!(
            toast,
            Some((ToastLevel::Warn, "warning: D won".to_string()))
        );
        assert_eq!(job.on_event(&JobEvent::Status(JobStatus::Running)), None);
        assert!(job.is_active());
        let toast = job.on_event(&JobEvent::Status(JobStatus::Failed("bad data".into())));
        assert_eq!(toast.map(|t| t.0), Some(ToastLevel::Error));
        assert_eq!(
            job.log.iter().map(String::as_str).collect::<Vec<_>>(),
            vec!["it 12: lr_g → 1.0e-3", "warning: D won", "failed: bad data"]
        );
        assert_eq!(job.status_word(), "failed");

        let reason = "run r is still running in process 7; stop it first";
        let toast = job.on_event(&JobEvent::Status(JobStatus::Refused(reason.into())));
        assert_eq!(
            toast,
            Some((ToastLevel::Warn, format!("refused: {reason}")))
        );
        assert_eq!(job.log.back(), Some(&format!("refused: {reason}")));
        assert_eq!(job.status_word(), "refused");
        assert!(!job.is_active());
    }

    #[test]
    fn job_keys_follow_the_status() {
        let mut job = JobState::new(JobKind::Rl, None, "cartpole-dqn");
        let idle = job.job_keys(Action::PauseResume).expect("a job key");
        assert!(idle.effects.is_empty());
        job.status = Some(JobStatus::Running);
        let pause = job.job_keys(Action::PauseResume).expect("a job key");
        assert!(matches!(
            pause.effects.as_slice(),
            [Effect::Command(JobKind::Rl, JobCommand::Pause)]
        ));
        assert!(job.job_keys(Action::Up).is_none());
    }
}
