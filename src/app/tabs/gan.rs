//! The GAN tab: both learning rates and the game's knobs, D and G losses, D(x) against
//! D(G(z)), the fixed-noise sample grid and the Fréchet score.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::Line;
use ratatui::widgets::{Block, Widget};

use super::classifier::DataStatus;
use super::panel::{
    applied_line, job_keys, live_change, panel_finish, panel_start, push_capped, refused_toast,
    render_missing_data, status_toast, status_word, Panel, PanelOutcome, PanelRow,
};
use super::Reaction;
use crate::app::theme::Theme;
use crate::app::widgets::chart::{render_chart, Trace};
use crate::app::widgets::image::{render_image_grid, ImageMode};
use crate::app::widgets::params::gauge_line;
use crate::app::widgets::series::Series;
use crate::app::{Action, Effect, TabId, ToastLevel};
use crate::data::DatasetName;
use crate::device::DeviceChoice;
use crate::headless::format_duration;
use crate::jobs::gan::{GanJobSpec, GanSnapshot};
use crate::jobs::{JobEvent, JobStatus, Metric, Param, Progress};
use crate::models::gan_config::{GanConfig, GanModelKind};
use crate::scenario::{Scenario, Settings};

/// Points kept per chart series.
const SERIES_CAP: usize = 2000;
/// Lines of the change log kept.
const LOG_LINES: usize = 30;
/// Samples the grid shows at least (4×4).
const MIN_GRID: usize = 16;
/// Panel rows holding choices (after the five live rows).
const MODEL_ROW: usize = 5;
const DATASET_ROW: usize = 6;

/// State of the GAN tab.
#[derive(Debug)]
pub struct GanTab {
    /// Scenario name for runs started here.
    pub scenario: String,
    /// Values for the next start (live ones also go to the running job).
    pub config: GanConfig,
    /// Panel cursor and typing.
    pub panel: Panel,
    /// The job's status; `None` before the first start.
    pub status: Option<JobStatus>,
    /// Latest progress (step = iteration).
    pub progress: Progress,
    /// Discriminator loss.
    pub d_loss: Series,
    /// Generator loss.
    pub g_loss: Series,
    /// Mean D(x).
    pub d_real: Series,
    /// Mean D(G(z)).
    pub d_fake: Series,
    /// Fréchet scores.
    pub fid: Series,
    /// The fixed-noise grid.
    pub snapshot: Option<Arc<GanSnapshot>>,
    /// Changes, warnings and notices, newest last.
    pub log: VecDeque<String>,
    /// The latest warning about the game (D won, collapse), shown under the panel.
    pub warning: Option<String>,
    /// Whether the dataset is present.
    pub data: DataStatus,
    /// Start as soon as the dashboard opens.
    pub autostart: bool,
    /// Step limit for runs started here (`gradtop train --steps`).
    pub max_steps: Option<u64>,
    data_dir: Option<PathBuf>,
}

impl GanTab {
    /// The tab for a scenario, or the MLP GAN on MNIST.
    pub fn new(scenario: Option<&Scenario>, data_dir: Option<&Path>) -> Self {
        let (name, config, autostart) = match scenario {
            Some(Scenario {
                name,
                settings: Settings::Gan(c),
            }) => (name.clone(), c.clone(), true),
            _ => ("gan-mlp".to_string(), GanConfig::default(), false),
        };
        let data = DataStatus::probe(config.dataset, data_dir);
        Self {
            scenario: name,
            config,
            panel: Panel::default(),
            status: None,
            progress: Progress::default(),
            d_loss: Series::new(SERIES_CAP),
            g_loss: Series::new(SERIES_CAP),
            d_real: Series::new(SERIES_CAP),
            d_fake: Series::new(SERIES_CAP),
            fid: Series::new(SERIES_CAP),
            snapshot: None,
            log: VecDeque::new(),
            warning: None,
            data,
            autostart,
            max_steps: None,
            data_dir: data_dir.map(Path::to_path_buf),
        }
    }

    /// True while the job loads, trains or is paused.
    pub fn is_active(&self) -> bool {
        self.status.as_ref().is_some_and(JobStatus::is_active)
    }

    fn rows(&self) -> Vec<PanelRow> {
        let c = &self.config;
        vec![
            PanelRow::Live(Param::LrG, c.lr_g),
            PanelRow::Live(Param::LrD, c.lr_d),
            PanelRow::Live(Param::DSteps, c.d_steps as f64),
            PanelRow::Live(Param::LabelSmoothing, c.label_smoothing),
            PanelRow::Live(Param::BatchSize, c.batch_size as f64),
            PanelRow::Choice("model", c.model.as_str().into()),
            PanelRow::Choice(
                "data",
                match c.dataset {
                    DatasetName::Mnist => "mnist".into(),
                    DatasetName::FashionMnist => "fashion".into(),
                },
            ),
        ]
    }

    fn store(&mut self, p: Param, v: f64) {
        let c = &mut self.config;
        match p {
            Param::LrG => c.lr_g = v,
            Param::LrD => c.lr_d = v,
            Param::DSteps => c.d_steps = v as usize,
            Param::LabelSmoothing => c.label_smoothing = v,
            Param::BatchSize => c.batch_size = v as usize,
            _ => {}
        }
    }

    /// Starts (or restarts) the job with the panel's values, unless the data is missing.
    pub fn start(&mut self, device: DeviceChoice) -> Reaction {
        if let DataStatus::Missing { hint, .. } = &self.data {
            return Reaction::toast(
                ToastLevel::Warn,
                format!("{} is missing. {hint}", self.config.dataset),
            );
        }
        let restarting = self.status.is_some();
        let log = std::mem::take(&mut self.log);
        *self = Self {
            scenario: std::mem::take(&mut self.scenario),
            config: self.config.clone(),
            panel: self.panel.clone(),
            log,
            autostart: false,
            max_steps: self.max_steps,
            ..Self::new(None, self.data_dir.as_deref())
        };
        self.data = DataStatus::probe(self.config.dataset, self.data_dir.as_deref());
        self.status = Some(JobStatus::Loading("starting".into()));
        push_capped(
            &mut self.log,
            format!(
                "{} {} GAN on {}",
                if restarting { "restart" } else { "start" },
                self.config.model.as_str(),
                self.config.dataset
            ),
            LOG_LINES,
        );
        Reaction::effects(vec![Effect::StartGan(Box::new(GanJobSpec {
            scenario: self.scenario.clone(),
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            device,
            max_steps: self.max_steps,
            run: crate::jobs::RunTarget::Off,
        }))])
    }

    /// Handles a user action aimed at this tab.
    pub fn handle(&mut self, action: Action, device: DeviceChoice) -> Reaction {
        match self.panel.handle(action, &self.rows()) {
            PanelOutcome::Nothing => return Reaction::default(),
            PanelOutcome::Change(p, v) => {
                self.store(p, v);
                return live_change(TabId::Gan, self.is_active(), p, v);
            }
            PanelOutcome::Cycle(row, _) => {
                match row {
                    MODEL_ROW => {
                        self.config.model = match self.config.model {
                            GanModelKind::Mlp => GanModelKind::Dcgan,
                            GanModelKind::Dcgan => GanModelKind::Mlp,
                        };
                        self.scenario = format!("gan-{}", self.config.model.as_str());
                    }
                    DATASET_ROW => {
                        self.config.dataset = match self.config.dataset {
                            DatasetName::Mnist => DatasetName::FashionMnist,
                            DatasetName::FashionMnist => DatasetName::Mnist,
                        };
                        self.data =
                            DataStatus::probe(self.config.dataset, self.data_dir.as_deref());
                    }
                    _ => {}
                }
                return if self.is_active() {
                    Reaction::toast(ToastLevel::Info, "applies on restart: press s")
                } else {
                    Reaction::default()
                };
            }
            PanelOutcome::Toast(level, text) => return Reaction::toast(level, text),
            PanelOutcome::NotMine => {}
        }
        if let Some(r) = job_keys(TabId::Gan, self.status.as_ref(), action) {
            return r;
        }
        match action {
            Action::StartRestart => self.start(device),
            Action::Export => match &self.snapshot {
                Some(s) if self.status.is_some() => {
                    Reaction::effects(vec![Effect::ExportSamples(s.clone())])
                }
                _ => Reaction::toast(ToastLevel::Info, "no samples yet: press s to start"),
            },
            Action::UseAlternative => match self.data.clone() {
                DataStatus::Missing {
                    alternative: Some(alt),
                    ..
                } => {
                    self.config.dataset = alt;
                    self.data = DataStatus::probe(alt, self.data_dir.as_deref());
                    Reaction::toast(ToastLevel::Info, format!("using {alt}: press s to start"))
                }
                _ => Reaction::default(),
            },
            _ => Reaction::default(),
        }
    }

    /// Folds one job event into the tab.
    pub fn on_event(&mut self, event: JobEvent) -> Option<(ToastLevel, String)> {
        match event {
            JobEvent::Status(status) => {
                let toast = status_toast(&status);
                self.status = Some(status);
                return toast;
            }
            JobEvent::Metric {
                step,
                metric,
                value,
            } => {
                let x = step as f64;
                match metric {
                    Metric::DLoss => self.d_loss.push(x, value),
                    Metric::GLoss => self.g_loss.push(x, value),
                    Metric::DReal => self.d_real.push(x, value),
                    Metric::DFake => self.d_fake.push(x, value),
                    Metric::FidCnn => self.fid.push(x, value),
                    _ => {}
                }
            }
            JobEvent::Progress(p) => self.progress = p,
            JobEvent::Applied { param, value, step } => {
                let line = applied_line("it", step, param, value);
                push_capped(&mut self.log, line.clone(), LOG_LINES);
                return Some((ToastLevel::Info, line));
            }
            JobEvent::Refused { param, reason } => {
                return Some(refused_toast(param, &reason));
            }
            JobEvent::Notice(msg) => {
                let level = if msg.starts_with("warning") {
                    self.warning = Some(msg.trim_start_matches("warning: ").to_string());
                    ToastLevel::Warn
                } else {
                    ToastLevel::Info
                };
                push_capped(&mut self.log, msg.clone(), LOG_LINES);
                return Some((level, msg));
            }
            JobEvent::Summary(s) => {
                let fid = s.get("fid_cnn").and_then(|v| v.as_f64());
                push_capped(
                    &mut self.log,
                    match fid {
                        Some(f) => format!("done: fid_cnn {f:.2}"),
                        None => "done".to_string(),
                    },
                    LOG_LINES,
                );
            }
            // `update_job` expands a history into metric points before it reaches a tab.
            JobEvent::Snapshot | JobEvent::History(_) => {}
        }
        None
    }

    /// Accepts the job's latest sample grid.
    pub fn on_snapshot(&mut self, snapshot: Arc<GanSnapshot>) {
        self.snapshot = Some(snapshot);
    }

    /// The key hints for the bottom line.
    pub fn hints(&self) -> &'static str {
        match (&self.status, &self.data) {
            (
                None,
                DataStatus::Missing {
                    alternative: Some(_),
                    ..
                },
            ) => "u use the dataset found · ←/→ change · ↑/↓ select · ? help · q quit",
            (None, _) => "s start · ←/→ change · ↑/↓ select · Enter type · ? help · q quit",
            (Some(JobStatus::Paused(_)), _) => {
                "space resume · s restart · x stop · e export samples · ? help · q quit"
            }
            (Some(s), _) if s.is_active() => {
                "space pause · e export samples · s restart · x stop · ←/→ change · ? help · q quit"
            }
            _ => "s start again · e export samples · ←/→ change · ? help · q quit",
        }
    }

    /// Short status for the top bar.
    pub fn status_word(&self) -> &'static str {
        status_word(self.status.as_ref())
    }
}

/// Draws the tab into `area`.
pub fn render(tab: &GanTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
    // Room for a 4×4 grid of half-size images when the charts keep 30 columns; else 45%.
    const HALF_SIZE_GRID_W: u16 = 4 * 15 - 1 + 2;
    let right_w = if area.width >= 24 + 30 + HALF_SIZE_GRID_W {
        HALF_SIZE_GRID_W.max((area.width - 24) / 2)
    } else {
        (area.width * 45 / 100).max(30)
    };
    let [left, center, right] = Layout::horizontal([
        Constraint::Length(24),
        Constraint::Min(20),
        Constraint::Length(right_w),
    ])
    .areas(area);
    render_panel(tab, left, buf, theme);
    if let (None, DataStatus::Missing { hint, alternative }) = (&tab.status, &tab.data) {
        let both = Rect {
            width: center.width + right.width,
            ..center
        };
        render_missing_data(both, buf, tab.config.dataset, hint, *alternative, theme);
        return;
    }
    let [loss_area, prob_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(center);
    render_chart(
        loss_area,
        buf,
        "loss",
        &[
            Trace {
                label: "D",
                points: tab.d_loss.points(),
                color: Color::Red,
            },
            Trace {
                label: "G",
                points: tab.g_loss.points(),
                color: Color::Cyan,
            },
        ],
        // Both losses are non-negative: the axis starts at 0.
        tab.d_loss
            .bounds()
            .zip(tab.g_loss.bounds())
            .map(|(d, g)| (0.0, d.1.max(g.1))),
        "D and G losses appear once the job runs",
        theme,
    );
    render_chart(
        prob_area,
        buf,
        "D(x) · D(G(z))",
        &[
            Trace {
                label: "D(x)",
                points: tab.d_real.points(),
                color: Color::Green,
            },
            Trace {
                label: "D(G(z))",
                points: tab.d_fake.points(),
                color: Color::Yellow,
            },
        ],
        Some((0.0, 1.0)),
        "converge towards ~0.5 in a healthy game",
        theme,
    );
    let title = match &tab.snapshot {
        Some(s) => format!(" fixed noise · it {} ", s.iteration),
        None => " fixed noise ".to_string(),
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(right);
    block.render(right, buf);
    match &tab.snapshot {
        Some(s) => {
            let mode = if theme.ascii || theme.no_color {
                ImageMode::Ascii
            } else {
                ImageMode::HalfBlock
            };
            render_image_grid(inner, buf, &s.samples, 28, MIN_GRID, mode);
        }
        None => {
            buf.set_line(
                inner.x,
                inner.y,
                &Line::styled("samples from a fixed noise batch", theme.dim()),
                inner.width,
            );
        }
    }
}

fn render_panel(tab: &GanTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let (inner, mut lines) = panel_start(
        area,
        buf,
        &tab.rows(),
        &tab.panel,
        tab.status.as_ref(),
        theme,
    );
    let p = &tab.progress;
    if tab.status.is_some() && p.total_steps > 0 {
        lines.push(Line::raw(gauge_line(
            p.fraction(),
            inner.width as usize,
            theme,
        )));
        lines.push(Line::raw(format!(
            "it {}/{} · {:.0} it/s",
            p.step, p.total_steps, p.rate
        )));
        if let Some(eta) = p.eta_s {
            lines.push(Line::raw(format!("ETA {}", format_duration(eta))));
        }
    }
    if let Some(f) = tab.fid.last() {
        let trend = match tab.fid.points() {
            [.., a, b] if b.1 < a.1 => {
                if theme.ascii {
                    " v"
                } else {
                    " ▼"
                }
            }
            [.., a, b] if b.1 > a.1 => {
                if theme.ascii {
                    " ^"
                } else {
                    " ▲"
                }
            }
            _ => "",
        };
        lines.push(Line::raw(format!("fid_cnn {f:.2}{trend}")));
    }
    if let Some(w) = &tab.warning {
        lines.push(Line::styled(w.clone(), theme.warn()));
    }
    panel_finish(inner, buf, lines, &tab.log, theme);
}
