//! The classifier tab: hyperparameters, progress, loss and accuracy curves, sample
//! predictions and the confusion matrix of the running job.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use super::panel::{panel_finish, panel_start, render_missing_data, PanelOutcome, PanelRow};
use super::Reaction;
use crate::app::job_tab::{run_name, JobState, JobTab, ToastText};
use crate::app::keymap::HintContext;
use crate::app::theme::Theme;
use crate::app::widgets::chart::{render_chart, sparkline, ChartSpec, ChartView, Trace};
use crate::app::widgets::confusion::render_confusion;
use crate::app::widgets::image::{downsample, image_lines, ImageMode};
use crate::app::widgets::params::gauge_line;
use crate::app::widgets::series::Series;
use crate::app::{Action, ToastLevel};
use crate::data::{lookup, DatasetName};
use crate::device::DeviceChoice;
use crate::format::{format_duration, thousands};
use crate::jobs::{
    ClassifierSnapshot, JobEvent, JobKind, JobSpec, KindSummary, Metric, Param, Snapshot,
};
use crate::scenario::{ClassifierConfig, ModelKind, Scenario, Settings};

/// Points kept per chart series.
const SERIES_CAP: usize = 2000;

/// Whether the scenario's dataset is on disk.
#[derive(Debug, Clone, PartialEq)]
pub enum DataStatus {
    /// Found in this directory.
    Found(PathBuf),
    /// Not found: the command that fixes it, and another dataset that is present.
    Missing {
        /// The exact command to get it.
        hint: String,
        /// A dataset that is available instead.
        alternative: Option<DatasetName>,
    },
}

impl DataStatus {
    /// True when the dataset is missing and another one can stand in (what `u` takes).
    pub fn has_alternative(&self) -> bool {
        matches!(
            self,
            DataStatus::Missing {
                alternative: Some(_),
                ..
            }
        )
    }

    /// Looks for `name` in the documented lookup order.
    pub fn probe(name: DatasetName, data_dir: Option<&Path>) -> Self {
        match lookup::find_dataset(name, data_dir) {
            Ok(dir) => DataStatus::Found(dir),
            Err(_) => DataStatus::Missing {
                hint: name.fetch_hint(),
                alternative: lookup::alternative(name, data_dir),
            },
        }
    }
}

/// Panel rows holding choices (after the three live rows).
const MODEL_ROW: usize = 3;
const DATASET_ROW: usize = 4;

/// State of the classifier tab.
#[derive(Debug)]
pub struct ClassifierTab {
    /// Status, progress, log, panel cursor: what every job tab has.
    pub job: JobState,
    /// The values in the panel (what a restart uses; live ones are also sent to the job).
    pub config: ClassifierConfig,
    /// Train loss per step.
    pub loss: Series,
    /// Train accuracy.
    pub train_acc: Series,
    /// Test accuracy.
    pub test_acc: Series,
    /// Steps at which an epoch ended, marked on the charts.
    pub epoch_ends: Vec<f64>,
    /// Latest samples and confusion matrix.
    pub snapshot: Option<Arc<ClassifierSnapshot>>,
    /// Whether the dataset is present.
    pub data: DataStatus,
    data_dir: Option<PathBuf>,
    /// The dataset the scenario's name speaks of, when a scenario or a resumed run named the
    /// tab; none while the tab goes by its default name, which follows dataset and model.
    named_dataset: Option<DatasetName>,
}

impl ClassifierTab {
    /// The tab for a scenario (or the default `mnist-cnn` one).
    pub fn new(scenario: Option<&Scenario>, data_dir: Option<&Path>) -> Self {
        let (config, named_dataset) = match scenario.map(|s| &s.settings) {
            Some(Settings::Classifier(c)) => (c.clone(), Some(c.dataset)),
            // Without a scenario the tab starts on a dataset that is there, so `s` trains.
            _ => (
                ClassifierConfig {
                    dataset: lookup::first_present(data_dir),
                    ..ClassifierConfig::default()
                },
                None,
            ),
        };
        let data = DataStatus::probe(config.dataset, data_dir);
        let default_name = default_name(&config);
        Self {
            job: JobState::new(JobKind::Classifier, scenario, &default_name),
            config,
            loss: Series::new(SERIES_CAP),
            train_acc: Series::new(SERIES_CAP),
            test_acc: Series::new(SERIES_CAP),
            epoch_ends: Vec::new(),
            snapshot: None,
            data,
            data_dir: data_dir.map(Path::to_path_buf),
            named_dataset,
        }
    }

    /// The name of a run started now: the scenario's, with the dataset when it was switched, or
    /// after dataset and model when the tab has no scenario (`fashion-cnn`).
    fn run_name(&self) -> String {
        match self.named_dataset {
            Some(named) => run_name(&self.job.scenario, named, self.config.dataset),
            None => default_name(&self.config),
        }
    }

    /// True while the job loads, trains or is paused.
    pub fn is_active(&self) -> bool {
        self.job.is_active()
    }

    fn store(&mut self, p: Param, v: f64) {
        match p {
            Param::Lr => self.config.lr = v,
            Param::BatchSize => self.config.batch_size = v as usize,
            Param::Epochs => self.config.epochs = v as usize,
            _ => {}
        }
    }

    fn cycle_choice(&mut self, row: usize, forward: bool) -> Reaction {
        match row {
            MODEL_ROW => {
                self.config.model = match self.config.model {
                    ModelKind::Cnn => ModelKind::Mlp,
                    ModelKind::Mlp => ModelKind::Cnn,
                };
            }
            DATASET_ROW => {
                self.choose_dataset(self.config.dataset.cycle(forward));
            }
            _ => return Reaction::default(),
        }
        if self.is_active() {
            Reaction::toast(ToastLevel::Info, "applies on restart: press s")
        } else {
            Reaction::default()
        }
    }

    fn rows(&self) -> Vec<PanelRow> {
        vec![
            PanelRow::Live(Param::Lr, self.config.lr),
            PanelRow::Live(Param::BatchSize, self.config.batch_size as f64),
            PanelRow::Live(Param::Epochs, self.config.epochs as f64),
            PanelRow::Choice("model", self.config.model.as_str().into()),
            PanelRow::Choice("data", self.config.dataset.short().into()),
        ]
    }
}

impl JobTab for ClassifierTab {
    fn job(&self) -> &JobState {
        &self.job
    }

    fn job_mut(&mut self) -> &mut JobState {
        &mut self.job
    }

    /// Starts (or restarts) the job with the panel's values, unless the data is missing.
    fn start(&mut self, device: DeviceChoice) -> Reaction {
        if let DataStatus::Missing { hint, .. } = &self.data {
            return Reaction::toast(
                ToastLevel::Warn,
                format!("{} is missing. {hint}", self.config.dataset),
            );
        }
        self.loss = Series::new(SERIES_CAP);
        self.train_acc = Series::new(SERIES_CAP);
        self.test_acc = Series::new(SERIES_CAP);
        self.epoch_ends.clear();
        self.snapshot = None;
        let what = format!(
            "{} on {}: lr {:.1e}, batch {}",
            self.config.model.as_str(),
            self.config.dataset,
            self.config.lr,
            self.config.batch_size
        );
        self.job.start_as(
            self.run_name(),
            &what,
            Settings::Classifier(self.config.clone()),
            self.data_dir.clone(),
            device,
        )
    }

    /// Handles a user action aimed at this tab.
    fn handle(&mut self, action: Action, device: DeviceChoice) -> Reaction {
        match self.job.panel.handle(action, &self.rows()) {
            PanelOutcome::Nothing => return Reaction::default(),
            PanelOutcome::Change(p, v) => {
                self.store(p, v);
                return self.job.live_change(p, v);
            }
            PanelOutcome::Cycle(row, forward) => return self.cycle_choice(row, forward),
            PanelOutcome::Toast(level, text) => return Reaction::toast(level, text),
            PanelOutcome::NotMine => {}
        }
        if let Some(r) = self.job.job_keys(action) {
            return r;
        }
        match action {
            Action::StartRestart => self.start(device),
            Action::UseAlternative => match self.data.clone() {
                DataStatus::Missing {
                    alternative: Some(alt),
                    ..
                } => {
                    self.choose_dataset(alt);
                    Reaction::toast(ToastLevel::Info, format!("using {alt}: press s to start"))
                }
                _ => Reaction::default(),
            },
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
                let x = *step as f64;
                match metric {
                    Metric::TrainLoss => self.loss.push(x, *value),
                    Metric::TrainAccuracy => self.train_acc.push(x, *value),
                    Metric::TestAccuracy => self.test_acc.push(x, *value),
                    _ => {}
                }
            }
            // The job reports progress at the step that ends an epoch, already counting the
            // next one: that step is the boundary.
            JobEvent::Progress(p) => {
                let before = self.job.progress.epoch;
                if before > 0 && p.epoch > before {
                    self.epoch_ends.push(p.step as f64);
                }
                return self.job.on_event(&event);
            }
            JobEvent::Summary(summary) => {
                if let KindSummary::Classifier(s) = &summary.figures {
                    self.job
                        .log(format!("done: test acc {:.4}", s.test_accuracy));
                    self.job.log(format!(
                        "avg {} samples/s",
                        thousands(s.samples_per_sec.round() as u64)
                    ));
                }
            }
            _ => return self.job.on_event(&event),
        }
        None
    }

    /// The screen the bottom line's key hints are for.
    fn hint_context(&self) -> HintContext {
        self.job.hint_context(self.data.has_alternative())
    }

    fn top_bar_status(&self) -> String {
        format!("classifier {}", self.job.status_word())
    }

    /// Accepts the job's latest snapshot.
    fn on_snapshot(&mut self, snapshot: Snapshot) {
        let Snapshot::Classifier(snapshot) = snapshot else {
            return;
        };
        self.snapshot = Some(snapshot);
    }

    fn adopt(&mut self, spec: &JobSpec) {
        if let Settings::Classifier(config) = &spec.settings {
            self.config = config.clone();
            self.job.scenario = spec.scenario.clone();
            self.named_dataset = Some(config.dataset);
            self.data = DataStatus::probe(config.dataset, self.data_dir.as_deref());
        }
    }

    fn dataset(&self) -> Option<DatasetName> {
        Some(self.config.dataset)
    }

    fn choose_dataset(&mut self, dataset: DatasetName) {
        self.config.dataset = dataset;
        self.data = DataStatus::probe(dataset, self.data_dir.as_deref());
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, view: &ChartView) {
        render(self, area, buf, theme, view);
    }
}

/// Draws the tab into `area`, its charts as `view` says.
pub fn render(tab: &ClassifierTab, area: Rect, buf: &mut Buffer, theme: &Theme, view: &ChartView) {
    let right_w = match area.width {
        150.. => 2 * SAMPLE_W + 2,
        110.. => 38,
        _ => 27,
    };
    let [left, center, right] = Layout::horizontal([
        Constraint::Length(24),
        Constraint::Min(20),
        Constraint::Length(right_w),
    ])
    .areas(area);
    render_panel(tab, left, buf, theme);
    if let (None, DataStatus::Missing { hint, alternative }) = (&tab.job.status, &tab.data) {
        let both = Rect {
            width: center.width + right.width,
            ..center
        };
        render_missing_data(both, buf, tab.config.dataset, hint, *alternative, theme);
        return;
    }
    let [loss_area, spark_area, acc_area] = Layout::vertical([
        Constraint::Fill(3),
        Constraint::Length(1),
        Constraint::Fill(2),
    ])
    .areas(center);
    let loss_title = match tab.loss.last() {
        Some(v) => format!("loss {v:.3}"),
        None => "loss".to_string(),
    };
    render_chart(
        loss_area,
        buf,
        &ChartSpec {
            title: &loss_title,
            traces: &[
                Trace::raw("", tab.loss.points(), Color::DarkGray),
                Trace::smoothed("smoothed", tab.loss.points(), Color::Cyan),
            ],
            y_bounds: tab.loss.bounds(),
            empty_hint: "train loss appears here once the job runs",
            x_marks: &tab.epoch_ends,
        },
        view,
        theme,
    );
    let spark = sparkline(
        &tab.loss.tail(spark_area.width as usize),
        spark_area.width.saturating_sub(2) as usize,
        theme,
    );
    buf.set_line(
        spark_area.x + 1,
        spark_area.y,
        &Line::styled(spark, theme.fg(Color::Cyan)),
        spark_area.width,
    );
    let acc_title = match tab.test_acc.last() {
        Some(v) => format!("accuracy · test {:.2}%", v * 100.0),
        None => "accuracy".to_string(),
    };
    render_chart(
        acc_area,
        buf,
        &ChartSpec {
            title: &acc_title,
            traces: &[
                Trace::raw("train", tab.train_acc.points(), Color::Yellow),
                Trace::raw("test", tab.test_acc.points(), Color::Green),
            ],
            y_bounds: Some((0.0, 1.0)),
            empty_hint: "train and test accuracy",
            x_marks: &tab.epoch_ends,
        },
        view,
        theme,
    );
    let confusion_h = 13.min(right.height / 2 + 2);
    let [samples_area, confusion_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(confusion_h)]).areas(right);
    render_samples(tab, samples_area, buf, theme);
    render_confusion(
        confusion_area,
        buf,
        tab.snapshot.as_ref().map(|s| &s.confusion),
        theme,
    );
}

fn render_panel(tab: &ClassifierTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
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
        lines.push(Line::raw(format!("epoch {}/{}", p.epoch, p.epochs)));
        lines.push(Line::raw(gauge_line(
            p.fraction(),
            inner.width as usize,
            theme,
        )));
        lines.push(Line::raw(format!(
            "{} samples/s",
            thousands(p.rate.round() as u64)
        )));
        lines.push(Line::raw(format!(
            "ETA {}",
            p.eta_s.map(format_duration).unwrap_or_else(|| "?".into())
        )));
    }
    panel_finish(inner, buf, lines, &tab.job.log, theme);
}

/// Width of one sample cell: a 14-column image, a gap, 10 columns of text.
const SAMPLE_W: u16 = 25;
/// Height of one sample cell: 7 text rows of image plus a gap.
const SAMPLE_H: u16 = 8;

fn render_samples(tab: &ClassifierTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let title = match &tab.snapshot {
        Some(s) => format!(" test samples · step {} ", s.step),
        None => " test samples ".to_string(),
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(snap) = &tab.snapshot else {
        buf.set_line(
            inner.x,
            inner.y,
            &Line::styled("after the first eval", theme.dim()),
            inner.width,
        );
        return;
    };
    let mode = if theme.ascii || theme.no_color {
        ImageMode::Ascii
    } else {
        ImageMode::HalfBlock
    };
    let cols = (inner.width / SAMPLE_W).max(1);
    let rows = ((inner.height + 1) / SAMPLE_H).max(1);
    for (i, sample) in snap.samples.iter().take((cols * rows) as usize).enumerate() {
        let (cx, cy) = (i as u16 % cols, i as u16 / cols);
        let x = inner.x + cx * SAMPLE_W;
        let y = inner.y + cy * SAMPLE_H;
        if y + 7 > inner.y + inner.height {
            break;
        }
        let (small, w, h) = downsample(&sample.pixels, 28, 28, 2);
        for (r, line) in image_lines(&small, w, h, mode).iter().enumerate() {
            buf.set_line(x, y + r as u16, line, 14);
        }
        let text_w = inner.x + inner.width - (x + 15);
        let names = &snap.class_names;
        let (best, _) = sample.top3[0];
        let ok = best == sample.label;
        let verdict = if ok {
            Span::styled(if theme.ascii { "ok " } else { "✓ " }, theme.good())
        } else {
            Span::styled(if theme.ascii { "no " } else { "✗ " }, theme.error())
        };
        let mut lines = vec![Line::from(vec![
            verdict,
            Span::raw(names[sample.label as usize].to_string()),
        ])];
        for (class, p) in sample.top3 {
            lines.push(Line::raw(format!(
                "{:>3.0}% {}",
                p * 100.0,
                names[class as usize]
            )));
        }
        for (r, line) in lines.iter().enumerate() {
            buf.set_line(x + 15, y + 1 + r as u16, line, text_w);
        }
    }
}

/// The classifier tab's run name without a scenario: what it trains on, then the model.
fn default_name(config: &ClassifierConfig) -> String {
    format!("{}-{}", config.dataset.short(), config.model.as_str())
}
