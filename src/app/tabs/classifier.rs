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
use crate::app::job_tab::{JobState, JobTab, ToastText};
use crate::app::keymap::HintContext;
use crate::app::theme::Theme;
use crate::app::widgets::chart::{render_chart, sparkline, ChartSpec, ChartView, Trace};
use crate::app::widgets::confusion::render_confusion;
use crate::app::widgets::params::gauge_line;
use crate::app::widgets::predictions::{full_text_width, render_predictions, PredictionGrid};
use crate::app::widgets::series::Series;
use crate::app::widgets::summary::ModelSummaryView;
use crate::app::{Action, ToastLevel};
use crate::data::{lookup, DatasetName};
use crate::device::DeviceChoice;
use crate::format::{format_duration, thousands};
use crate::jobs::{
    ClassifierSnapshot, JobEvent, JobKind, JobSpec, KindSummary, Metric, Param, Snapshot,
};
use crate::models::classifier::spec;
use crate::scenario::{run_name, ClassifierConfig, ModelKind, Scenario, Settings};

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

    /// Looks for the config's dataset: its `[data]` folder, or its name in the lookup order.
    pub fn of(config: &ClassifierConfig, data_dir: Option<&Path>) -> Self {
        match (&config.data, config.dataset) {
            (Some(source), DatasetName::Folder) if source.path.is_dir() => {
                DataStatus::Found(source.path.clone())
            }
            (Some(source), DatasetName::Folder) => DataStatus::Missing {
                hint: format!(
                    "{} {}: put the images there (IDX files or CIFAR-10 batches, as the \
                     scenario's comments say) and press s, or fix the scenario's [data] path",
                    source.path.display(),
                    if source.path.exists() {
                        "is not a folder"
                    } else {
                        "does not exist"
                    }
                ),
                alternative: None,
            },
            _ => Self::probe(config.dataset, data_dir),
        }
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
    /// The learning rate steps trained at (a schedule's curve, live changes).
    pub lr: Series,
    /// Steps at which an epoch ended, marked on the charts.
    pub epoch_ends: Vec<f64>,
    /// Latest samples and confusion matrix.
    pub snapshot: Option<Arc<ClassifierSnapshot>>,
    /// Whether the dataset is present.
    pub data: DataStatus,
    /// The sample pane shows only test images the model gets wrong (`v`).
    pub misclassified_only: bool,
    data_dir: Option<PathBuf>,
    /// The dataset the scenario's name speaks of, when a scenario or a resumed run named the
    /// tab; none while the tab goes by its default name, which follows dataset and model.
    named_dataset: Option<DatasetName>,
    /// The shape of the images a start would train on (a folder's is read from its headers),
    /// looked up with the data status, not on every frame the model summary is drawn.
    input: Result<spec::Shape, String>,
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
        let data = DataStatus::of(&config, data_dir);
        let input = config.input_shape().map_err(|e| e.to_string());
        let default_name = default_name(&config);
        Self {
            job: JobState::new(JobKind::Classifier, scenario, &default_name),
            config,
            loss: Series::new(SERIES_CAP),
            train_acc: Series::new(SERIES_CAP),
            test_acc: Series::new(SERIES_CAP),
            lr: Series::new(SERIES_CAP),
            epoch_ends: Vec::new(),
            snapshot: None,
            data,
            misclassified_only: false,
            data_dir: data_dir.map(Path::to_path_buf),
            named_dataset,
            input,
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
                if !self.config.layers.is_empty() {
                    return Reaction::toast(
                        ToastLevel::Warn,
                        "the scenario describes its layers: edit its `layers` to change the model",
                    );
                }
                self.config.model = Some(match self.config.model {
                    Some(ModelKind::Mlp) => ModelKind::Cnn,
                    Some(ModelKind::Cnn) | None => ModelKind::Mlp,
                });
            }
            DATASET_ROW => {
                if self.config.dataset == DatasetName::Folder {
                    return Reaction::toast(
                        ToastLevel::Warn,
                        "the scenario reads its own folder: edit its [data] path to change it",
                    );
                }
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

    /// Looks for the config's dataset again, and the shape of its images.
    fn look_for_data(&mut self) {
        self.data = DataStatus::of(&self.config, self.data_dir.as_deref());
        self.input = self.config.input_shape().map_err(|e| e.to_string());
    }

    /// The model summary of the architecture a start would build (`i`).
    pub fn model_summary(&self) -> ModelSummaryView {
        ModelSummaryView {
            model: self.config.model_name().to_string(),
            summary: self.input.clone().and_then(|input| {
                spec::infer(&self.config.architecture(), input, crate::data::CLASSES)
                    .map_err(|e| e.to_string())
            }),
        }
    }

    fn rows(&self) -> Vec<PanelRow> {
        vec![
            PanelRow::Live(Param::Lr, self.config.lr),
            PanelRow::Live(Param::BatchSize, self.config.batch_size as f64),
            PanelRow::Live(Param::Epochs, self.config.epochs as f64),
            PanelRow::Choice("model", self.config.model_name().into()),
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
        // The scenario's folder may have been filled since the tab looked.
        if self.config.dataset == DatasetName::Folder {
            self.look_for_data();
        }
        if let DataStatus::Missing { hint, .. } = &self.data {
            return Reaction::toast(
                ToastLevel::Warn,
                format!("{} is missing. {hint}", self.config.dataset),
            );
        }
        self.loss = Series::new(SERIES_CAP);
        self.train_acc = Series::new(SERIES_CAP);
        self.test_acc = Series::new(SERIES_CAP);
        self.lr = Series::new(SERIES_CAP);
        self.epoch_ends.clear();
        self.snapshot = None;
        let what = format!(
            "{} on {}: lr {:.1e}, batch {}",
            self.config.model_name(),
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
            Action::ToggleMisclassified => {
                self.misclassified_only = !self.misclassified_only;
                Reaction::default()
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
                let x = *step as f64;
                match metric {
                    Metric::TrainLoss => self.loss.push(x, *value),
                    Metric::TrainAccuracy => self.train_acc.push(x, *value),
                    Metric::TestAccuracy => self.test_acc.push(x, *value),
                    Metric::LearningRate => self.lr.push(x, *value),
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
            self.look_for_data();
        }
    }

    fn dataset(&self) -> Option<DatasetName> {
        Some(self.config.dataset)
    }

    fn choose_dataset(&mut self, dataset: DatasetName) {
        // A scenario's folder stays: a choice shared from another tab names a built-in dataset.
        if self.config.dataset == DatasetName::Folder {
            return;
        }
        self.config.dataset = dataset;
        self.look_for_data();
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, view: &ChartView) {
        render(self, area, buf, theme, view);
    }
}

/// Columns of the hyperparameter panel.
const PANEL_W: u16 = 24;
/// Columns the charts keep at least, whatever the sample grid would take.
const CHART_MIN_W: u16 = 28;
/// Columns and rows of the confusion matrix with its border and title.
const CONFUSION_W: u16 = 30;
const CONFUSION_H: u16 = 13;
/// Columns the accuracy chart keeps beside the confusion matrix when the matrix moves under
/// the charts.
const ACC_BESIDE_CONFUSION_W: u16 = 30;

/// Where each pane of the tab goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Panes {
    panel: Rect,
    charts: Rect,
    samples: Rect,
    confusion: Rect,
    /// True when the confusion matrix sits beside the accuracy chart (then `charts` leaves
    /// room for it on the right of its lower part) rather than under the samples.
    confusion_in_charts: bool,
}

/// Splits the tab: the panel on the left, then the charts, then a sample grid as wide as the
/// columns of cells it holds while the charts keep 40% of the rest (and at least
/// [`CHART_MIN_W`]). The confusion matrix goes under the samples, or, where the charts are
/// wide enough, beside the accuracy chart so the samples get the full height.
fn panes(area: Rect, full_text_w: u16) -> Panes {
    let rest = area.width.saturating_sub(PANEL_W);
    let chart_w = CHART_MIN_W.max(rest * 2 / 5);
    // The border takes two columns of the sample pane.
    let grid_room = rest.saturating_sub(chart_w + 2);
    let cols = PredictionGrid::fit(grid_room, 0, full_text_w).cols;
    let grid_w = PredictionGrid::width_for(cols, full_text_w).min(grid_room.max(1));
    let [panel, charts, right] = Layout::horizontal([
        Constraint::Length(PANEL_W),
        Constraint::Min(CHART_MIN_W.min(rest)),
        Constraint::Length((grid_w + 2).max(CONFUSION_W.min(rest / 2))),
    ])
    .areas(area);
    if charts.width >= ACC_BESIDE_CONFUSION_W + CONFUSION_W && charts.height >= 2 * CONFUSION_H {
        let [_, acc] = acc_rows(charts, true);
        let confusion = Rect {
            x: charts.x + charts.width - CONFUSION_W,
            y: acc.y,
            width: CONFUSION_W,
            height: CONFUSION_H.min(acc.height),
        };
        return Panes {
            panel,
            charts,
            samples: right,
            confusion,
            confusion_in_charts: true,
        };
    }
    let confusion_h = CONFUSION_H.min(right.height / 2 + 2);
    let [samples, confusion] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(confusion_h)]).areas(right);
    Panes {
        panel,
        charts,
        samples,
        confusion,
        confusion_in_charts: false,
    }
}

/// The loss chart (with its sparkline under it) and the accuracy chart, top to bottom.
fn acc_rows(charts: Rect, confusion_beside: bool) -> [Rect; 2] {
    // The accuracy chart is 2/5 of the height, and as tall as the confusion matrix beside it.
    let acc_h = if confusion_beside {
        (charts.height * 2 / 5).max(CONFUSION_H)
    } else {
        charts.height * 2 / 5
    };
    Layout::vertical([Constraint::Fill(1), Constraint::Length(acc_h)]).areas(charts)
}

/// Draws the tab into `area`, its charts as `view` says.
pub fn render(tab: &ClassifierTab, area: Rect, buf: &mut Buffer, theme: &Theme, view: &ChartView) {
    let names = match &tab.snapshot {
        Some(s) => s.class_names.clone(),
        None => tab.config.dataset.class_list(),
    };
    let p = panes(area, full_text_width(&names));
    render_panel(tab, p.panel, buf, theme);
    if let (None, DataStatus::Missing { hint, alternative }) = (&tab.job.status, &tab.data) {
        let both = Rect {
            width: area.width.saturating_sub(PANEL_W),
            ..p.charts
        };
        render_missing_data(both, buf, tab.config.dataset, hint, *alternative, theme);
        return;
    }
    let [upper, mut acc_area] = acc_rows(p.charts, p.confusion_in_charts);
    if p.confusion_in_charts {
        acc_area.width -= CONFUSION_W;
    }
    let [loss_area, spark_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(upper);
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
    render_samples(tab, p.samples, buf, theme);
    render_confusion(
        p.confusion,
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
    lines.push(Line::styled(tab.config.optimizer_text(), theme.dim()));
    if let (Some(lr), false) = (tab.lr.last(), tab.config.schedule.is_constant()) {
        let width = inner.width as usize;
        let label = format!("lr {lr:.1e} ");
        let spark = sparkline(
            &tab.lr.tail(width),
            width.saturating_sub(label.chars().count()),
            theme,
        );
        lines.push(Line::from(vec![
            Span::raw(label),
            Span::styled(spark, theme.fg(Color::Magenta)),
        ]));
    }
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

/// The sample pane's title for its mode, the longest of its wordings that fits `width`.
fn samples_title(tab: &ClassifierTab, width: u16) -> String {
    let Some(snap) = &tab.snapshot else {
        return if tab.misclassified_only {
            " misclassified only ".into()
        } else {
            " test samples ".into()
        };
    };
    let candidates = if tab.misclassified_only {
        let (wrong, of) = (snap.wrong(), snap.evaluated);
        vec![
            format!(
                " misclassified only · {} of {} wrong · step {} ",
                thousands(wrong as u64),
                thousands(of as u64),
                snap.step
            ),
            format!(
                " misclassified · {} of {} wrong ",
                thousands(wrong as u64),
                thousands(of as u64)
            ),
            format!(" wrong {wrong}/{of} "),
        ]
    } else {
        vec![
            format!(" test samples · step {} ", snap.step),
            " test samples ".into(),
        ]
    };
    let room = usize::from(width.saturating_sub(2));
    candidates
        .iter()
        .find(|t| Span::raw(t.as_str()).width() <= room)
        .or(candidates.last())
        .cloned()
        .unwrap_or_default()
}

fn render_samples(tab: &ClassifierTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let block = Block::bordered().title(samples_title(tab, area.width));
    let inner = block.inner(area);
    block.render(area, buf);
    let mut note = |text: String| {
        let line = Line::styled(text, theme.dim());
        buf.set_line(inner.x, inner.y, &line, inner.width);
    };
    let Some(snap) = &tab.snapshot else {
        return note("after the first eval".into());
    };
    let shown = if tab.misclassified_only {
        &snap.misclassified
    } else {
        &snap.samples
    };
    if tab.misclassified_only && snap.wrong() == 0 {
        return note(format!(
            "none of {} wrong",
            thousands(snap.evaluated as u64)
        ));
    }
    if tab.misclassified_only && shown.is_empty() {
        // A watched run's files hold the matrix but no images.
        return note(format!(
            "{} wrong; no images here",
            thousands(snap.wrong() as u64)
        ));
    }
    render_predictions(inner, buf, shown, &snap.class_names, theme);
}

/// The classifier tab's run name without a scenario: what it trains on, then the model.
fn default_name(config: &ClassifierConfig) -> String {
    format!("{}-{}", config.dataset.short(), config.model_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tab's area at a terminal size: all but the top bar and the hint line.
    fn body(w: u16, h: u16) -> Rect {
        Rect::new(0, 1, w, h - 2)
    }

    fn grid_at(w: u16, h: u16, dataset: DatasetName) -> PredictionGrid {
        let text = full_text_width(dataset.class_names());
        let p = panes(body(w, h), text);
        let inner = Block::bordered().inner(p.samples);
        PredictionGrid::fit(inner.width, inner.height, text)
    }

    #[test]
    fn the_sample_grid_grows_with_the_terminal() {
        for (w, h, digits, fashion) in [(80, 24, 1, 1), (120, 36, 4, 4), (200, 60, 28, 21)] {
            assert_eq!(
                grid_at(w, h, DatasetName::Mnist).capacity(),
                digits,
                "mnist {w}×{h}"
            );
            assert_eq!(
                grid_at(w, h, DatasetName::FashionMnist).capacity(),
                fashion,
                "fashion {w}×{h}"
            );
        }
        // The job sends enough for the largest of them.
        let most = grid_at(200, 60, DatasetName::Mnist).capacity();
        assert!(crate::jobs::classifier::SAMPLE_COUNT >= most);
    }

    #[test]
    fn panes_tile_the_tab_and_the_charts_keep_their_share() {
        for (w, h) in [(80, 24), (120, 36), (200, 60)] {
            for dataset in DatasetName::ALL {
                let area = body(w, h);
                let p = panes(area, full_text_width(dataset.class_names()));
                assert_eq!(p.panel.width + p.charts.width + p.samples.width, w);
                assert!(p.charts.width >= CHART_MIN_W, "{w}×{h}: {p:?}");
                assert!(p.confusion.width >= 25, "{w}×{h}: {p:?}");
                assert_eq!(p.confusion.height, CONFUSION_H, "{w}×{h}");
                // The matrix sits beside the accuracy chart only at 200×60.
                assert_eq!(p.confusion_in_charts, w == 200, "{w}×{h}");
                assert!(area.contains(p.confusion.as_position()));
            }
        }
    }
}
