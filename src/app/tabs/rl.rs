//! The RL tab: agent hyperparameters, episode returns against the 475 line, loss and
//! exploration, and the cartpole viewport replaying the latest episode at real time.

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget};

use super::panel::{panel_finish, panel_start, PanelOutcome, PanelRow};
use super::Reaction;
use crate::app::job_tab::{JobState, JobTab, ToastText};
use crate::app::keymap::HintContext;
use crate::app::theme::Theme;
use crate::app::widgets::cartpole::CartPoleWidget;
use crate::app::widgets::chart::{render_chart, ChartSpec, ChartView, Trace};
use crate::app::widgets::params::gauge_line;
use crate::app::widgets::series::Series;
use crate::app::{Action, Effect, ToastLevel};
use crate::device::DeviceChoice;
use crate::format::format_duration;
use crate::format::thousands;
use crate::jobs::{
    JobCommand, JobEvent, JobKind, JobSpec, KindSummary, Metric, Notice, Param, RlSnapshot,
    Snapshot,
};
use crate::models::rl::config::{AgentKind, Preset, RlConfig};
use crate::models::rl::trainer::EpisodeFrames;
use crate::scenario::{Scenario, Settings};

/// Points kept per chart series.
const SERIES_CAP: usize = 2000;
/// Simulated frames per second of CartPole (τ = 0.02 s).
pub const SIM_FPS: f64 = 50.0;

/// An episode being replayed in the viewport.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// The episode.
    pub frames: EpisodeFrames,
    /// Position in frames (fractional: advanced by 50 / fps per tick).
    pub position: f64,
}

impl Replay {
    /// The frame index shown now.
    pub fn index(&self) -> usize {
        (self.position as usize).min(self.frames.poses.len().saturating_sub(1))
    }

    /// True once the last frame has been shown for a moment.
    pub fn done(&self) -> bool {
        self.position >= self.frames.poses.len() as f64 + SIM_FPS / 2.0
    }
}

/// State of the RL tab.
#[derive(Debug)]
pub struct RlTab {
    /// Status, progress (step = env steps, epoch = episodes), log, panel cursor: what every
    /// job tab has.
    pub job: JobState,
    /// Agent, environment and overrides for the next start.
    pub config: RlConfig,
    /// Episode returns.
    pub returns: Series,
    /// 20-episode moving average.
    pub mean20: Series,
    /// Training loss.
    pub loss: Series,
    /// ε (DQN) or entropy (PPO).
    pub explore: Series,
    /// Latest episodes from the job.
    pub snapshot: Option<Arc<RlSnapshot>>,
    /// The episode in the viewport.
    pub replay: Option<Replay>,
    /// A greedy episode waiting for the viewport.
    pub queued_greedy: Option<EpisodeFrames>,
    /// "solved at …" once the mean return reached the threshold.
    pub solved: Option<String>,
}

impl RlTab {
    /// The tab for a scenario, or DQN on CartPole with the fast preset.
    pub fn new(scenario: Option<&Scenario>) -> Self {
        let config = match scenario.map(|s| &s.settings) {
            Some(Settings::Rl(c)) => c.clone(),
            _ => RlConfig::default(),
        };
        Self {
            job: JobState::new(JobKind::Rl, scenario, "cartpole-dqn"),
            config,
            returns: Series::new(SERIES_CAP),
            mean20: Series::new(SERIES_CAP),
            loss: Series::new(SERIES_CAP),
            explore: Series::new(SERIES_CAP),
            snapshot: None,
            replay: None,
            queued_greedy: None,
            solved: None,
        }
    }

    /// True while the job runs or is paused.
    pub fn is_active(&self) -> bool {
        self.job.is_active()
    }

    /// Current value of a live parameter as the next start (or the running job) uses it.
    fn value(&self, p: Param) -> f64 {
        let dqn = self.config.dqn_params().ok();
        let ppo = self.config.ppo_params().ok();
        match (self.config.agent, p) {
            (AgentKind::Dqn, Param::Lr) => dqn.map_or(f64::NAN, |d| d.lr),
            (AgentKind::Dqn, Param::Gamma) => dqn.map_or(f64::NAN, |d| d.gamma),
            (AgentKind::Dqn, Param::Epsilon) => self
                .explore
                .last()
                .or(dqn.map(|d| d.eps_start))
                .unwrap_or(f64::NAN),
            (AgentKind::Dqn, Param::TargetPeriod) => {
                dqn.map_or(f64::NAN, |d| d.target_period as f64)
            }
            (AgentKind::Ppo, Param::Lr) => ppo.map_or(f64::NAN, |d| d.lr),
            (AgentKind::Ppo, Param::Gamma) => ppo.map_or(f64::NAN, |d| d.gamma),
            (AgentKind::Ppo, Param::EntropyCoef) => ppo.map_or(f64::NAN, |d| d.ent_coef),
            _ => f64::NAN,
        }
    }

    fn live_params(&self) -> &'static [Param] {
        match self.config.agent {
            AgentKind::Dqn => &[Param::Lr, Param::Gamma, Param::Epsilon, Param::TargetPeriod],
            AgentKind::Ppo => &[Param::Lr, Param::Gamma, Param::EntropyCoef],
        }
    }

    fn rows(&self) -> Vec<PanelRow> {
        let mut rows: Vec<PanelRow> = self
            .live_params()
            .iter()
            .map(|&p| PanelRow::Live(p, self.value(p)))
            .collect();
        rows.push(PanelRow::Choice("agent", self.config.agent.as_str().into()));
        rows.push(PanelRow::Choice(
            "preset",
            match self.config.preset {
                Preset::Fast => "fast".into(),
                Preset::Cleanrl => "cleanrl".into(),
            },
        ));
        rows
    }

    /// Keeps a change for the next start (as an override of the preset).
    fn store(&mut self, p: Param, v: f64) {
        match (self.config.agent, p) {
            (AgentKind::Dqn, Param::Lr) => self.config.dqn.lr = Some(v),
            (AgentKind::Dqn, Param::Gamma) => self.config.dqn.gamma = Some(v),
            (AgentKind::Dqn, Param::TargetPeriod) => self.config.dqn.target_period = Some(v as u64),
            (AgentKind::Ppo, Param::Lr) => self.config.ppo.lr = Some(v),
            (AgentKind::Ppo, Param::Gamma) => self.config.ppo.gamma = Some(v),
            (AgentKind::Ppo, Param::EntropyCoef) => self.config.ppo.ent_coef = Some(v),
            _ => {}
        }
    }

    fn next_replay(&mut self) {
        let next = self
            .queued_greedy
            .take()
            .or_else(|| self.snapshot.as_ref().and_then(|s| s.latest.clone()));
        if let Some(frames) = next {
            self.replay = Some(Replay {
                frames,
                position: 0.0,
            });
        }
    }
}

impl JobTab for RlTab {
    fn job(&self) -> &JobState {
        &self.job
    }

    fn job_mut(&mut self) -> &mut JobState {
        &mut self.job
    }

    /// Starts (or restarts) the job with the panel's values.
    fn start(&mut self, device: DeviceChoice) -> Reaction {
        self.returns = Series::new(SERIES_CAP);
        self.mean20 = Series::new(SERIES_CAP);
        self.loss = Series::new(SERIES_CAP);
        self.explore = Series::new(SERIES_CAP);
        self.snapshot = None;
        self.replay = None;
        self.queued_greedy = None;
        self.solved = None;
        let what = format!(
            "{} ({}) on {}",
            self.config.agent.as_str(),
            match self.config.preset {
                Preset::Fast => "fast",
                Preset::Cleanrl => "cleanrl",
            },
            self.config.env
        );
        self.job
            .start(&what, Settings::Rl(self.config.clone()), None, device)
    }

    /// Handles a user action aimed at this tab.
    fn handle(&mut self, action: Action, device: DeviceChoice) -> Reaction {
        let rows = self.rows();
        let n_live = self.live_params().len();
        match self.job.panel.handle(action, &rows) {
            PanelOutcome::Nothing => return Reaction::default(),
            PanelOutcome::Change(Param::Epsilon, _) if !self.is_active() => {
                return Reaction::toast(
                    ToastLevel::Info,
                    "epsilon follows its schedule; override it while the job runs",
                )
            }
            PanelOutcome::Change(p, v) => {
                self.store(p, v);
                return self.job.live_change(p, v);
            }
            PanelOutcome::Cycle(row, _) => {
                if row == n_live {
                    self.config.agent = match self.config.agent {
                        AgentKind::Dqn => AgentKind::Ppo,
                        AgentKind::Ppo => AgentKind::Dqn,
                    };
                    self.job.scenario = format!("cartpole-{}", self.config.agent.as_str());
                } else {
                    self.config.preset = match self.config.preset {
                        Preset::Fast => Preset::Cleanrl,
                        Preset::Cleanrl => Preset::Fast,
                    };
                }
                self.job.panel.selected = self.job.panel.selected.min(self.rows().len() - 1);
                return if self.is_active() {
                    Reaction::toast(ToastLevel::Info, "applies on restart: press s")
                } else {
                    Reaction::default()
                };
            }
            PanelOutcome::Toast(level, text) => return Reaction::toast(level, text),
            PanelOutcome::NotMine => {}
        }
        if let Some(r) = self.job.job_keys(action) {
            return r;
        }
        match action {
            Action::StartRestart => self.start(device),
            Action::PlayGreedy => {
                if self.is_active() {
                    Reaction {
                        effects: vec![Effect::Command(JobKind::Rl, JobCommand::PlayGreedy)],
                        toast: Some((ToastLevel::Info, "playing the greedy policy…".into())),
                    }
                } else {
                    Reaction::toast(ToastLevel::Info, "start the job first: press s")
                }
            }
            _ => Reaction::default(),
        }
    }

    /// Folds one job event into the tab.
    fn on_event(&mut self, event: JobEvent) -> Option<ToastText> {
        match &event {
            JobEvent::Metric {
                step,
                metric,
                value,
            } => {
                let (x, value) = (*step as f64, *value);
                match metric {
                    Metric::EpisodeReturn => self.returns.push(x, value),
                    Metric::MeanReturn20 => self.mean20.push(x, value),
                    Metric::Loss => self.loss.push(x, value),
                    Metric::Epsilon | Metric::Entropy => self.explore.push(x, value),
                    _ => {}
                }
            }
            JobEvent::Summary(summary) => {
                if let KindSummary::Rl(s) = &summary.figures {
                    let m = s.mean_return_20.unwrap_or(f64::NAN);
                    self.job.log(format!("done: mean return {m:.1}"));
                }
            }
            JobEvent::Notice(Notice::Solved(text)) => {
                self.solved = Some(text.clone());
                return self.job.on_event(&event);
            }
            _ => return self.job.on_event(&event),
        }
        None
    }

    /// The screen the bottom line's key hints are for (RL needs no dataset).
    fn hint_context(&self) -> HintContext {
        self.job.hint_context(false)
    }

    fn top_bar_status(&self) -> String {
        format!("{} {}", self.config.agent.as_str(), self.job.status_word())
    }

    /// Accepts the job's latest episodes; a new greedy episode jumps the queue.
    fn on_snapshot(&mut self, snapshot: Snapshot) {
        let Snapshot::Rl(snapshot) = snapshot else {
            return;
        };
        let old_greedy = self.snapshot.as_ref().and_then(|s| s.greedy.as_ref());
        if snapshot.greedy.is_some() && snapshot.greedy.as_ref() != old_greedy {
            self.queued_greedy = snapshot.greedy.clone();
        }
        self.snapshot = Some(snapshot);
        if self.replay.is_none() {
            self.next_replay();
        }
    }

    /// Advances the replay by one UI frame; true when the viewport changed.
    fn tick(&mut self, fps: u32) -> bool {
        let Some(replay) = &mut self.replay else {
            return false;
        };
        if !replay.done() {
            let before = replay.index();
            replay.position += SIM_FPS / fps.max(1) as f64;
            return replay.index() != before;
        }
        // The episode is over: move on once there is something new to show.
        let latest = self.snapshot.as_ref().and_then(|s| s.latest.as_ref());
        if self.queued_greedy.is_some() || latest.is_some_and(|l| *l != replay.frames) {
            self.next_replay();
            return true;
        }
        false
    }

    fn adopt(&mut self, spec: &JobSpec) {
        if let Settings::Rl(config) = &spec.settings {
            self.config = config.clone();
            self.job.scenario = spec.scenario.clone();
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, view: &ChartView) {
        render(self, area, buf, theme, view);
    }
}

/// Draws the tab into `area`, its charts as `view` says.
pub fn render(tab: &RlTab, area: Rect, buf: &mut Buffer, theme: &Theme, view: &ChartView) {
    let right_w = (area.width * 32 / 100).max(28);
    let [left, center, right] = Layout::horizontal([
        Constraint::Length(24),
        Constraint::Min(20),
        Constraint::Length(right_w),
    ])
    .areas(area);
    render_panel(tab, left, buf, theme);
    let [ret_area, loss_area] =
        Layout::vertical([Constraint::Fill(3), Constraint::Fill(2)]).areas(center);
    let solve = tab.config.solve_return;
    let x_end = tab.returns.points().last().map_or(1.0, |p| p.0);
    let line = [(0.0, solve), (x_end, solve)];
    let solve_label = format!("{solve:.0}");
    let title = match tab.mean20.last() {
        Some(m) => format!("return · goal {solve:.0} · mean-20 {m:.1}"),
        None => format!("episode return · goal {solve:.0}"),
    };
    render_chart(
        ret_area,
        buf,
        &ChartSpec {
            title: &title,
            traces: &[
                Trace::raw("", tab.returns.points(), Color::DarkGray),
                Trace::raw("mean-20", tab.mean20.points(), Color::Cyan),
                Trace::raw(&solve_label, &line, Color::Green),
            ],
            y_bounds: Some((
                0.0,
                solve.max(tab.returns.bounds().map_or(solve, |b| b.1)) * 1.05,
            )),
            empty_hint: "returns appear once episodes finish",
            x_marks: &[],
        },
        view,
        theme,
    );
    let explore_label = match tab.config.agent {
        AgentKind::Dqn => "epsilon",
        AgentKind::Ppo => "entropy",
    };
    // Loss and ε/entropy have different scales: ε is drawn scaled into the loss range.
    let (lo, hi) = tab.loss.bounds().unwrap_or((0.0, 1.0));
    let scaled: Vec<(f64, f64)> = tab
        .explore
        .points()
        .iter()
        .map(|&(x, e)| (x, lo + (hi - lo) * e.clamp(0.0, 1.0)))
        .collect();
    let loss_title = format!(
        "loss {}",
        tab.loss.last().map_or(String::new(), |l| format!("{l:.3}"))
    );
    render_chart(
        loss_area,
        buf,
        &ChartSpec {
            title: &loss_title,
            traces: &[
                Trace::raw("", tab.loss.points(), Color::DarkGray),
                Trace::smoothed("loss", tab.loss.points(), Color::Yellow),
                Trace::raw(explore_label, &scaled, Color::Magenta),
            ],
            y_bounds: Some((lo, hi)),
            empty_hint: "loss and exploration appear once learning starts",
            x_marks: &[],
        },
        view,
        theme,
    );
    render_viewport(tab, right, buf, theme);
}

fn render_panel(tab: &RlTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let (inner, mut lines) = panel_start(
        area,
        buf,
        &tab.rows(),
        &tab.job.panel,
        tab.job.status.as_ref(),
        theme,
    );
    let p = &tab.job.progress;
    if tab.job.status.is_some() && p.total_steps > 0 {
        lines.push(Line::raw(gauge_line(
            p.fraction(),
            inner.width as usize,
            theme,
        )));
        lines.push(Line::raw(format!(
            "{} steps/s",
            thousands(p.rate.round() as u64)
        )));
        lines.push(Line::raw(format!(
            "step {} · ep {}",
            thousands(p.step),
            thousands(p.epoch as u64)
        )));
    }
    if let Some(s) = &tab.solved {
        let mark = if theme.ascii { "solved" } else { "solved ✓" };
        lines.push(Line::styled(mark.to_string(), theme.good()));
        let _ = s;
    } else if tab.job.is_active() {
        if let Some(eta) = p.eta_s {
            lines.push(Line::raw(format!(
                "budget ends in {}",
                format_duration(eta)
            )));
        }
    }
    panel_finish(inner, buf, lines, &tab.job.log, theme);
}

fn render_viewport(tab: &RlTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
    if tab.config.env != "cartpole" && tab.config.env != "gym-rs/cartpole" {
        Paragraph::new(format!(
            "{}: no viewport for this environment",
            tab.config.env
        ))
        .block(Block::bordered().title(" episode "))
        .render(area, buf);
        return;
    }
    let (x, theta, title, footer) = match &tab.replay {
        Some(r) => {
            let pose = r.frames.poses[r.index()];
            let who = if r.frames.greedy {
                "greedy".to_string()
            } else {
                format!("ep {}", r.frames.episode)
            };
            (
                pose.x,
                pose.theta,
                format!(" CartPole-v1 · {who} · t {} ", r.index()),
                format!(" return {} · w: play greedy ", r.frames.episode_return),
            )
        }
        None => (
            0.0,
            0.0,
            " CartPole-v1 ".to_string(),
            " episodes replay here ".to_string(),
        ),
    };
    CartPoleWidget::new(x, theta)
        .title(title)
        .footer(footer)
        .ascii(theme.ascii)
        .color(!theme.no_color)
        .render(area, buf);
}
