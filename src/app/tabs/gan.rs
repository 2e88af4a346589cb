//! The GAN tab: both learning rates and the game's knobs, D and G losses, D(x) against
//! D(G(z)), the fixed-noise sample grid and the Fréchet score.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::Line;
use ratatui::widgets::{Block, Widget};

use super::classifier::DataStatus;
use super::panel::{panel_finish, panel_start, render_missing_data, PanelOutcome, PanelRow};
use super::Reaction;
use crate::app::job_tab::{JobState, JobTab, ToastText};
use crate::app::keymap::HintContext;
use crate::app::theme::Theme;
use crate::app::widgets::chart::{render_chart, ChartSpec, ChartView, Trace};
use crate::app::widgets::image::{draw_grid, fit_grid, GridFit, ImageMode};
use crate::app::widgets::params::gauge_line;
use crate::app::widgets::series::Series;
use crate::app::{Action, Effect, ToastLevel};
use crate::data::{lookup, DatasetName};
use crate::device::DeviceChoice;
use crate::format::format_duration;
use crate::jobs::{
    GanSnapshot, JobEvent, JobKind, JobSpec, KindSummary, Metric, Notice, Param, Snapshot,
};
use crate::models::gan::config::{GanConfig, GanModelKind};
use crate::scenario::{run_name, Scenario, Settings};

/// Points kept per chart series.
const SERIES_CAP: usize = 2000;
/// Samples the grid shows at least (4×4).
const MIN_GRID: usize = 16;
/// Side of a generated image in pixels.
const IMAGE_SIDE: usize = 28;
/// Interpolation images worth a strip: the two ends and one between.
const MIN_STRIP: usize = 3;
/// Panel rows holding choices (after the five live rows).
const MODEL_ROW: usize = 5;
const DATASET_ROW: usize = 6;

/// State of the GAN tab.
#[derive(Debug)]
pub struct GanTab {
    /// Status, progress (step = iteration), log, panel cursor: what every job tab has.
    pub job: JobState,
    /// Values for the next start (live ones also go to the running job).
    pub config: GanConfig,
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
    /// The latest warning about the game (D won, collapse), shown under the panel.
    pub warning: Option<String>,
    /// Whether the dataset is present.
    pub data: DataStatus,
    data_dir: Option<PathBuf>,
    /// The dataset the tab's scenario name speaks of (the default scenario's when none was
    /// given), so a run on another is named with it.
    named_dataset: DatasetName,
}

impl GanTab {
    /// The tab for a scenario, or the MLP GAN on MNIST.
    pub fn new(scenario: Option<&Scenario>, data_dir: Option<&Path>) -> Self {
        let config = match scenario.map(|s| &s.settings) {
            Some(Settings::Gan(c)) => c.clone(),
            // Without a scenario the tab starts on a dataset that is there, so `s` trains.
            _ => GanConfig {
                dataset: lookup::first_present(data_dir),
                ..GanConfig::default()
            },
        };
        let named_dataset = match scenario.map(|s| &s.settings) {
            Some(Settings::Gan(c)) => c.dataset,
            _ => GanConfig::default().dataset,
        };
        let data = DataStatus::probe(config.dataset, data_dir);
        Self {
            job: JobState::new(JobKind::Gan, scenario, "gan-mlp"),
            config,
            d_loss: Series::new(SERIES_CAP),
            g_loss: Series::new(SERIES_CAP),
            d_real: Series::new(SERIES_CAP),
            d_fake: Series::new(SERIES_CAP),
            fid: Series::new(SERIES_CAP),
            snapshot: None,
            warning: None,
            data,
            data_dir: data_dir.map(Path::to_path_buf),
            named_dataset,
        }
    }

    /// True while the job loads, trains or is paused.
    pub fn is_active(&self) -> bool {
        self.job.is_active()
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
            PanelRow::Choice("data", c.dataset.short().into()),
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
}

impl JobTab for GanTab {
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
        self.d_loss = Series::new(SERIES_CAP);
        self.g_loss = Series::new(SERIES_CAP);
        self.d_real = Series::new(SERIES_CAP);
        self.d_fake = Series::new(SERIES_CAP);
        self.fid = Series::new(SERIES_CAP);
        self.snapshot = None;
        self.warning = None;
        self.data = DataStatus::probe(self.config.dataset, self.data_dir.as_deref());
        let what = format!(
            "{} GAN on {}",
            self.config.model.as_str(),
            self.config.dataset
        );
        let name = run_name(&self.job.scenario, self.named_dataset, self.config.dataset);
        self.job.start_as(
            name,
            &what,
            Settings::Gan(self.config.clone()),
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
            PanelOutcome::Cycle(row, forward) => {
                match row {
                    MODEL_ROW => {
                        self.config.model = match self.config.model {
                            GanModelKind::Mlp => GanModelKind::Dcgan,
                            GanModelKind::Dcgan => GanModelKind::Mlp,
                        };
                        self.job.scenario = format!("gan-{}", self.config.model.as_str());
                    }
                    DATASET_ROW => {
                        self.choose_dataset(self.config.dataset.cycle(forward));
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
        if let Some(r) = self.job.job_keys(action) {
            return r;
        }
        match action {
            Action::StartRestart => self.start(device),
            Action::Export => match &self.snapshot {
                Some(s) if self.job.status.is_some() => {
                    Reaction::effects(vec![Effect::ExportSamples(s.clone())])
                }
                _ => Reaction::toast(ToastLevel::Info, "no samples yet: press s to start"),
            },
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
                let (x, value) = (*step as f64, *value);
                match metric {
                    Metric::DLoss => self.d_loss.push(x, value),
                    Metric::GLoss => self.g_loss.push(x, value),
                    Metric::DReal => self.d_real.push(x, value),
                    Metric::DFake => self.d_fake.push(x, value),
                    Metric::FidCnn => self.fid.push(x, value),
                    _ => {}
                }
            }
            JobEvent::Summary(summary) => {
                let fid = match &summary.figures {
                    KindSummary::Gan(s) => s.fid_cnn,
                    _ => None,
                };
                self.job.log(match fid {
                    Some(f) => format!("done: fid_cnn {f:.2}"),
                    None => "done".to_string(),
                });
            }
            JobEvent::Notice(Notice::Warning(text)) => {
                self.warning = Some(text.clone());
                return self.job.on_event(&event);
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
        format!("gan {}", self.job.status_word())
    }

    /// Accepts the job's latest sample grid.
    fn on_snapshot(&mut self, snapshot: Snapshot) {
        let Snapshot::Gan(snapshot) = snapshot else {
            return;
        };
        self.snapshot = Some(snapshot);
    }

    fn adopt(&mut self, spec: &JobSpec) {
        if let Settings::Gan(config) = &spec.settings {
            self.config = config.clone();
            self.job.scenario = spec.scenario.clone();
            self.named_dataset = config.dataset;
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
pub fn render(tab: &GanTab, area: Rect, buf: &mut Buffer, theme: &Theme, view: &ChartView) {
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
    if let (None, DataStatus::Missing { hint, alternative }) = (&tab.job.status, &tab.data) {
        let both = Rect {
            width: center.width + right.width,
            ..center
        };
        render_missing_data(both, buf, tab.config.dataset, hint, *alternative, theme);
        return;
    }
    let [loss_area, prob_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(center);
    // Each loss is drawn faint as logged, with its smoothed trend on top, as the classifier's.
    render_chart(
        loss_area,
        buf,
        &ChartSpec {
            title: "loss",
            traces: &[
                Trace::raw("", tab.d_loss.points(), Color::DarkGray),
                Trace::raw("", tab.g_loss.points(), Color::DarkGray),
                Trace::smoothed("D", tab.d_loss.points(), Color::Red),
                Trace::smoothed("G", tab.g_loss.points(), Color::Cyan),
            ],
            // Both losses are non-negative: the axis starts at 0.
            y_bounds: tab
                .d_loss
                .bounds()
                .zip(tab.g_loss.bounds())
                .map(|(d, g)| (0.0, d.1.max(g.1))),
            empty_hint: "D and G losses appear once the job runs",
            x_marks: &[],
        },
        view,
        theme,
    );
    render_chart(
        prob_area,
        buf,
        &ChartSpec {
            title: "D(x) · D(G(z))",
            traces: &[
                Trace::raw("D(x)", tab.d_real.points(), Color::Green),
                Trace::raw("D(G(z))", tab.d_fake.points(), Color::Yellow),
            ],
            y_bounds: Some((0.0, 1.0)),
            empty_hint: "converge towards ~0.5 in a healthy game",
            x_marks: &[],
        },
        view,
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
            let layout = sample_layout(inner, s.strip.len());
            draw_grid(
                layout.grid_area,
                buf,
                &s.samples,
                IMAGE_SIDE,
                layout.grid,
                mode,
            );
            if let Some(strip) = layout.strip {
                let arrow = if theme.ascii { "->" } else { "→" };
                buf.set_line(
                    strip.label.x,
                    strip.label.y,
                    &Line::styled(
                        format!("latent interpolation · sample 1 {arrow} 2"),
                        theme.dim(),
                    ),
                    strip.label.width,
                );
                let images: Vec<Vec<u8>> = strip_picks(s.strip.len(), strip.fit.cols)
                    .into_iter()
                    .filter_map(|i| s.strip.get(i).cloned())
                    .collect();
                draw_grid(strip.images, buf, &images, IMAGE_SIDE, strip.fit, mode);
            }
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

/// Where the sample pane puts the fixed-noise grid and, when it fits, the interpolation strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SampleLayout {
    /// Where the grid starts, and its scale and shape.
    grid_area: Rect,
    grid: GridFit,
    /// The strip under the grid, if any.
    strip: Option<StripLayout>,
}

/// The interpolation strip: a label row, then one row of images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StripLayout {
    label: Rect,
    images: Rect,
    /// Scale and count (`cols`; one row) of the images shown.
    fit: GridFit,
}

/// Splits the pane's `inner` area between the grid and a strip of `strip_len` images. The strip
/// goes under the grid only while the grid still shows [`MIN_GRID`] samples, preferring (in
/// order) a half-size then a quarter-size strip that leaves the grid at its own best scale, then
/// one that makes the grid's images smaller; else the grid has the pane alone.
fn sample_layout(inner: Rect, strip_len: usize) -> SampleLayout {
    let alone = SampleLayout {
        grid_area: inner,
        grid: fit_grid(inner.width, inner.height, IMAGE_SIDE, MIN_GRID),
        strip: None,
    };
    if strip_len < MIN_STRIP {
        return alone;
    }
    let with_strip = |factor: usize| -> Option<SampleLayout> {
        let side = (IMAGE_SIDE / factor) as u16;
        let image_h = side.div_ceil(2);
        let fits = usize::from((inner.width + 1) / (side + 1));
        let count = strip_count(strip_len, fits)?;
        let grid_h = inner.height.checked_sub(1 + image_h)?;
        let grid = fit_grid(inner.width, grid_h, IMAGE_SIDE, MIN_GRID);
        if grid.cols * grid.rows < MIN_GRID {
            return None;
        }
        // The strip follows the grid's last row, so the two read as one picture.
        let grid_rows_h = (grid.rows * (IMAGE_SIDE / grid.factor).div_ceil(2)) as u16;
        let label_y = inner.y + grid_rows_h.min(grid_h);
        Some(SampleLayout {
            grid_area: Rect {
                height: grid_h,
                ..inner
            },
            grid,
            strip: Some(StripLayout {
                label: Rect::new(inner.x, label_y, inner.width, 1),
                images: Rect::new(inner.x, label_y + 1, inner.width, image_h),
                fit: GridFit {
                    factor,
                    cols: count,
                    rows: 1,
                },
            }),
        })
    };
    let keeps_scale = |l: &SampleLayout| l.grid.factor == alone.grid.factor;
    let half = with_strip(2);
    let quarter = with_strip(4);
    half.filter(keeps_scale)
        .or(quarter.filter(keeps_scale))
        .or(half.filter(|l| l.strip.is_some_and(|s| s.fit.cols >= 5)))
        .or(quarter)
        .unwrap_or(alone)
}

/// The most strip images, at most `fits` and at least [`MIN_STRIP`], that divide the strip's
/// `len - 1` steps evenly, so the ones shown are equally spaced in z with both ends kept.
fn strip_count(len: usize, fits: usize) -> Option<usize> {
    (MIN_STRIP..=fits.min(len))
        .rev()
        .find(|k| (len - 1).is_multiple_of(k - 1))
}

/// Indices of `count` equally spaced images of a strip of `len`, both ends included.
fn strip_picks(len: usize, count: usize) -> Vec<usize> {
    if count < 2 || len < 2 {
        return (0..count.min(len)).collect();
    }
    (0..count).map(|i| i * (len - 1) / (count - 1)).collect()
}

fn render_panel(tab: &GanTab, area: Rect, buf: &mut Buffer, theme: &Theme) {
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
    panel_finish(inner, buf, lines, &tab.job.log, theme);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_images_are_equally_spaced_with_both_ends() {
        assert_eq!(strip_count(13, 7), Some(7));
        assert_eq!(strip_count(13, 6), Some(5));
        assert_eq!(strip_count(13, 4), Some(4));
        assert_eq!(strip_count(13, 2), None);
        assert_eq!(strip_picks(13, 5), vec![0, 3, 6, 9, 12]);
        assert_eq!(strip_picks(13, 7), vec![0, 2, 4, 6, 8, 10, 12]);
    }

    #[test]
    fn the_strip_takes_room_only_while_the_grid_keeps_sixteen_samples() {
        // 200×60: the pane inside its border is 86×56; half-size grid and half-size strip.
        let l = sample_layout(Rect::new(0, 0, 86, 56), 13);
        assert_eq!(l.grid.factor, 2);
        let strip = l.strip.expect("a strip at 200×60");
        assert_eq!((strip.fit.factor, strip.fit.cols), (2, 5));
        // Six rows of seven-row images, then the label, then the strip, inside the pane.
        assert_eq!((l.grid.cols, l.grid.rows), (5, 6));
        assert_eq!((strip.label.y, strip.images.y), (42, 43));
        assert!(strip.images.y + strip.images.height <= 56);
        // 120×36: 59×32; the grid must go to quarter size to leave room, 7 quarter images.
        let l = sample_layout(Rect::new(0, 0, 59, 32), 13);
        let strip = l.strip.expect("a strip at 120×36");
        assert_eq!((strip.fit.factor, strip.fit.cols), (4, 7));
        assert!(l.grid.cols * l.grid.rows >= MIN_GRID, "{l:?}");
        // 80×24: 34×20 holds a 4×4 quarter-size grid and nothing more.
        let l = sample_layout(Rect::new(0, 0, 34, 20), 13);
        assert_eq!(l.strip, None);
        assert_eq!(l.grid_area, Rect::new(0, 0, 34, 20));
        // No strip sent (a watched run): the grid has the pane.
        assert_eq!(sample_layout(Rect::new(0, 0, 86, 56), 0).strip, None);
    }
}
