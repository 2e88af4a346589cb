//! Line charts of one or more series with a legend in the title, in braille or ASCII dots.
//!
//! Without colour (`NO_COLOR`) several lines on one chart would look alike, and braille is not
//! ASCII: in those cases every line is drawn with its own plain glyph ([`trace_glyph`]) instead.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Widget};

use crate::app::theme::Theme;

/// Line colours for charts of several runs, in the order runs are listed.
pub const TRACE_COLORS: [Color; 8] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::Green,
    Color::LightRed,
    Color::LightBlue,
    Color::White,
    Color::Red,
];

/// Plain glyphs that tell lines apart without colour, in the same order as [`TRACE_COLORS`].
pub const TRACE_GLYPHS: [char; 8] = ['*', 'o', '+', 'x', '#', '@', '%', '&'];

/// What [`Marker::Dot`] draws; the cells holding it are where a line passes.
const DOT_SYMBOL: &str = "•";

/// The colour of the `i`-th line of a multi-run chart (repeats after eight).
pub fn trace_color(i: usize) -> Color {
    TRACE_COLORS[i % TRACE_COLORS.len()]
}

/// The glyph of the `i`-th line when lines are told apart by glyph (repeats after eight).
pub fn trace_glyph(i: usize) -> char {
    TRACE_GLYPHS[i % TRACE_GLYPHS.len()]
}

/// True when a chart of `traces` lines draws each with its own glyph: always under `--ascii`
/// (braille is not ASCII), and under `NO_COLOR` once there is more than one line.
pub fn uses_glyphs(theme: &Theme, traces: usize) -> bool {
    theme.ascii || (theme.no_color && traces > 1)
}

/// How the legend names the `i`-th line: its glyph when glyphs tell lines apart, else a rule
/// in its colour.
pub fn legend_key(theme: &Theme, traces: usize, i: usize) -> String {
    if uses_glyphs(theme, traces) {
        format!("{0}{0}", trace_glyph(i))
    } else {
        "──".to_string()
    }
}

/// The EMA weights `[` and `]` step through, as TensorBoard's smoothing slider offers them.
pub const SMOOTHING_WEIGHTS: [f64; 10] = [0.0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99];

/// The weight charts open with: the trend the classifier's loss has always been drawn with.
const DEFAULT_SMOOTHING: usize = 7;

/// The share of a chart's steps the recent window shows, the newest ones.
pub const RECENT_FRACTION: f64 = 0.2;

/// How every chart is looked at, one setting for all of them (like TensorBoard's global
/// smoothing slider): log-scale y, smoothing strength, full history or the recent window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartView {
    /// Values on a log₁₀ y axis (points at or below 0 are left out).
    pub log_y: bool,
    /// Only the newest [`RECENT_FRACTION`] of the steps, with y fitted to them.
    pub recent: bool,
    /// Index into [`SMOOTHING_WEIGHTS`].
    smoothing: usize,
}

impl Default for ChartView {
    fn default() -> Self {
        Self {
            log_y: false,
            recent: false,
            smoothing: DEFAULT_SMOOTHING,
        }
    }
}

impl ChartView {
    /// The EMA weight smoothed lines are drawn with, in [0, 0.99].
    pub fn smoothing(&self) -> f64 {
        SMOOTHING_WEIGHTS[self.smoothing.min(SMOOTHING_WEIGHTS.len() - 1)]
    }

    /// One step stronger, up to 0.99.
    pub fn smooth_more(&mut self) {
        self.smoothing = (self.smoothing + 1).min(SMOOTHING_WEIGHTS.len() - 1);
    }

    /// One step weaker, down to 0 (the raw values).
    pub fn smooth_less(&mut self) {
        self.smoothing = self.smoothing.saturating_sub(1);
    }

    /// The words a chart's title carries for these settings, so a screen says how it is drawn;
    /// the smoothing only on charts that draw a smoothed line.
    pub fn title_tags(&self, has_smoothed: bool) -> Vec<String> {
        let mut tags = Vec::new();
        if has_smoothed {
            tags.push(format!("smooth {:.2}", self.smoothing()));
        }
        if self.log_y {
            tags.push("log".to_string());
        }
        if self.recent {
            tags.push("recent".to_string());
        }
        tags
    }
}

/// One line on a chart.
#[derive(Debug, Clone)]
pub struct Trace<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Points (x = step).
    pub points: &'a [(f64, f64)],
    /// Line colour (ignored under NO_COLOR).
    pub color: Color,
    /// Drawn through the view's smoothing (the trend line over a faint raw one).
    pub smoothed: bool,
}

impl<'a> Trace<'a> {
    /// A line drawn as its values are.
    pub fn raw(label: &'a str, points: &'a [(f64, f64)], color: Color) -> Self {
        Self {
            label,
            points,
            color,
            smoothed: false,
        }
    }

    /// A line drawn through the view's smoothing.
    pub fn smoothed(label: &'a str, points: &'a [(f64, f64)], color: Color) -> Self {
        Self {
            smoothed: true,
            ..Self::raw(label, points, color)
        }
    }
}

/// What one chart shows, apart from how it is looked at ([`ChartView`]).
#[derive(Debug, Clone, Default)]
pub struct ChartSpec<'a> {
    /// The title, before the view's tags and the legend.
    pub title: &'a str,
    /// The lines, drawn in order (later ones on top).
    pub traces: &'a [Trace<'a>],
    /// A fixed y range for the full linear view (accuracy: 0..1); the log scale and the recent
    /// window fit y to what they show.
    pub y_bounds: Option<(f64, f64)>,
    /// What an empty chart says instead.
    pub empty_hint: &'a str,
    /// Steps marked with a faint vertical line (epoch boundaries).
    pub x_marks: &'a [f64],
}

/// Colour of the vertical marks.
const MARK_COLOR: Color = Color::DarkGray;
/// Glyph of the vertical marks when lines are drawn with glyphs.
const MARK_GLYPH: char = ':';

/// Draws a chart in `area` with a bordered title, as `view` says: smoothed lines through its
/// EMA, then the recent window, then the log scale; an empty chart shows its hint instead.
pub fn render_chart(
    area: Rect,
    buf: &mut Buffer,
    spec: &ChartSpec<'_>,
    view: &ChartView,
    theme: &Theme,
) {
    let traces = spec.traces;
    let has_smoothed = traces.iter().any(|t| t.smoothed);
    let mut title_spans = vec![Span::raw(format!(" {}", spec.title))];
    let tags: Vec<Span> = view
        .title_tags(has_smoothed)
        .into_iter()
        .map(|tag| Span::styled(format!(" · {tag}"), theme.bold()))
        .collect();
    let tags_width: usize = tags.iter().map(Span::width).sum();
    // A narrow chart keeps its name and value on top and says how it is drawn on its bottom
    // border, rather than losing the words off its right edge.
    let tags_fit = title_spans[0].width() + tags_width < usize::from(area.width.saturating_sub(2));
    let mut block = Block::bordered();
    if tags_fit {
        title_spans.extend(tags);
    } else if !tags.is_empty() {
        let mut bottom = tags;
        bottom[0].content = bottom[0]
            .content
            .trim_start_matches(" · ")
            .to_string()
            .into();
        bottom.insert(0, Span::raw(" "));
        block = block.title_bottom(Line::from(bottom).right_aligned());
    }
    title_spans.push(Span::raw(" "));
    for (i, t) in traces.iter().enumerate() {
        if !t.label.is_empty() {
            let key = legend_key(theme, traces.len(), i);
            title_spans.push(Span::styled(
                format!("{key} {} ", t.label),
                theme.fg(t.color),
            ));
        }
    }
    let block = block.title(Line::from(title_spans));
    // Smoothing sees the whole history, so the window's first smoothed point has its past.
    let weight = view.smoothing();
    let mut lines: Vec<Vec<(f64, f64)>> = traces
        .iter()
        .map(|t| {
            if t.smoothed && weight > 0.0 {
                crate::series::smooth(t.points, weight)
            } else {
                t.points.to_vec()
            }
        })
        .collect();
    let (x_first, x_last) = x_range(&lines);
    if !x_first.is_finite() {
        let hint = Line::styled(spec.empty_hint.to_string(), theme.dim());
        Paragraph::new(hint).block(block).render(area, buf);
        return;
    }
    let x_lo = if view.recent {
        x_last - (x_last - x_first) * RECENT_FRACTION
    } else {
        x_first
    };
    for line in &mut lines {
        keep_from(line, x_lo);
        if view.log_y {
            line.retain(|p| p.1 > 0.0 && p.1.is_finite());
            line.iter_mut().for_each(|p| p.1 = p.1.log10());
        }
    }
    let fitted = view.log_y || view.recent;
    let bounds = match spec.y_bounds {
        Some(b) if !fitted => Some(b),
        // A fitted range stays within a fixed one: accuracy never reads above 1.
        Some((lo, hi)) => fit_y(&lines, x_lo, view.log_y).map(|(f_lo, f_hi)| {
            let axis = |v: f64, none: f64| match (view.log_y, v > 0.0) {
                (false, _) => v,
                (true, true) => v.log10(),
                (true, false) => none,
            };
            let (lo, hi) = (axis(lo, f64::NEG_INFINITY), axis(hi, f64::INFINITY));
            let (c_lo, c_hi) = (f_lo.max(lo), f_hi.min(hi));
            if c_lo < c_hi {
                (c_lo, c_hi)
            } else {
                (f_lo, f_hi)
            }
        }),
        None => fit_y(&lines, x_lo, view.log_y),
    };
    let Some((y_lo, y_hi)) = bounds else {
        let hint = Line::styled("no value above 0 to draw on a log scale", theme.dim());
        Paragraph::new(hint).block(block).render(area, buf);
        return;
    };
    let x_hi = if x_last > x_lo { x_last } else { x_lo + 1.0 };
    let marks: Vec<[(f64, f64); 2]> = spec
        .x_marks
        .iter()
        .filter(|&&m| m >= x_lo && m <= x_hi)
        .map(|&m| [(m, y_lo), (m, y_hi)])
        .collect();
    let step_label = |v: f64| Span::styled(format_step(v), theme.dim());
    let y_label = |v: f64| {
        let v = if view.log_y { 10f64.powf(v) } else { v };
        Span::styled(format_axis(v), theme.dim())
    };
    let x_axis = Axis::default()
        .bounds([x_lo, x_hi])
        .labels([step_label(x_lo), step_label(x_hi)]);
    let y_axis = Axis::default()
        .bounds([y_lo, y_hi])
        .labels([y_label(y_lo), y_label(y_hi)]);
    let chart = |datasets| framed(datasets, &block, &x_axis, &y_axis);
    if !uses_glyphs(theme, traces.len()) {
        let mark_sets = marks.iter().map(|m| {
            Dataset::default()
                .marker(theme.marker())
                .graph_type(GraphType::Line)
                .style(theme.fg(MARK_COLOR))
                .data(m)
        });
        let line_sets = traces.iter().zip(&lines).map(|(t, points)| {
            Dataset::default()
                .marker(theme.marker())
                .graph_type(GraphType::Line)
                .style(theme.fg(t.color))
                .data(points)
        });
        chart(mark_sets.chain(line_sets).collect()).render(area, buf);
        return;
    }
    // Axes and frame first; then each line, drawn alone into a scratch buffer with the same
    // layout, lends its cells to its own glyph. Later lines win where lines cross.
    chart(Vec::new()).render(area, buf);
    let mark_glyphs = marks.iter().map(|m| (&m[..], MARK_GLYPH, MARK_COLOR));
    let line_glyphs = traces
        .iter()
        .zip(&lines)
        .enumerate()
        .map(|(i, (t, points))| (points.as_slice(), trace_glyph(i), t.color));
    for (points, glyph, color) in mark_glyphs.chain(line_glyphs) {
        let mut scratch = Buffer::empty(area);
        chart(vec![Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .data(points)])
        .render(area, &mut scratch);
        for y in area.top()..area.bottom() {
            for x in area.left()..area.right() {
                if scratch[(x, y)].symbol() == DOT_SYMBOL {
                    buf[(x, y)].set_char(glyph).set_style(theme.fg(color));
                }
            }
        }
    }
}

/// A chart of `datasets` in the frame and axes every layer of one drawing shares.
fn framed<'d>(
    datasets: Vec<Dataset<'d>>,
    block: &Block<'static>,
    x_axis: &Axis<'static>,
    y_axis: &Axis<'static>,
) -> Chart<'d> {
    Chart::new(datasets)
        .block(block.clone())
        .x_axis(x_axis.clone())
        .y_axis(y_axis.clone())
}

/// The smallest and largest step over all lines (infinite when there is no point).
fn x_range(lines: &[Vec<(f64, f64)>]) -> (f64, f64) {
    lines
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        })
}

/// Drops the points before step `x_lo`, all but the last of them: the segment that crosses
/// into the window is still drawn (the chart clips it at its edge).
fn keep_from(line: &mut Vec<(f64, f64)>, x_lo: f64) {
    let first_inside = line.iter().position(|p| p.0 >= x_lo).unwrap_or(line.len());
    line.drain(..first_inside.saturating_sub(1));
}

/// The y range of the points at or after step `x_lo`, padded so a flat line is still visible;
/// non-negative figures on a linear axis keep a floor of 0 instead of a negative label.
fn fit_y(lines: &[Vec<(f64, f64)>], x_lo: f64, log_y: bool) -> Option<(f64, f64)> {
    let (lo, hi) = lines
        .iter()
        .flatten()
        .filter(|p| p.0 >= x_lo && p.1.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.05).max(if log_y { 1e-3 } else { 1e-6 });
    let floor = if lo >= 0.0 && !log_y {
        0.0
    } else {
        f64::NEG_INFINITY
    };
    Some(((lo - pad).max(floor), hi + pad))
}

/// Step labels for the x axis: whole steps (`0`, `1850`, `42k`, `1.5M`), never `1.00`.
pub fn format_step(v: f64) -> String {
    let v = v.round();
    let a = v.abs();
    if a >= 1e7 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e5 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Compact axis labels: `0.25`, `1.2k`, `3.4M`, and `2e-4` below 0.01 (a log axis reaches
/// there).
pub fn format_axis(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.0e}")
    }
}

/// A one-line sparkline of values using eight block heights (or ASCII levels).
pub fn sparkline(values: &[f64], width: usize, theme: &Theme) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    const ASCII: [char; 8] = ['_', '.', '-', '~', '=', '+', '*', '#'];
    let glyphs = if theme.ascii { &ASCII } else { &BARS };
    let start = values.len().saturating_sub(width);
    let values = &values[start..];
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    values
        .iter()
        .map(|&v| {
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            glyphs[((t * 7.0).round() as usize).min(7)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_are_compact() {
        assert_eq!(format_axis(0.251), "0.25");
        assert_eq!(format_axis(1234.0), "1.2k");
        assert_eq!(format_axis(56_000.0), "56k");
        assert_eq!(format_axis(3_400_000.0), "3.4M");
        assert_eq!(format_axis(0.0002), "2e-4");
    }

    #[test]
    fn step_labels_are_whole_steps() {
        assert_eq!(format_step(1.0), "1");
        assert_eq!(format_step(1.5), "2");
        assert_eq!(format_step(1850.0), "1850");
        assert_eq!(format_step(42_000.0), "42000");
        assert_eq!(format_step(420_000.0), "420k");
        assert_eq!(format_step(15_000_000.0), "15.0M");
    }

    /// The bottom row of a drawn chart, where the x labels are.
    fn x_labels(screen: &str) -> String {
        screen.lines().nth(10).unwrap_or_default().to_string()
    }

    #[test]
    fn the_x_axis_is_labelled_with_whole_steps() {
        let points: Vec<(f64, f64)> = (1..=40).map(|i| (i as f64, 1.0 / i as f64)).collect();
        let screen = draw(
            &Theme::new(false, false),
            &[Trace::raw("", &points, trace_color(0))],
        );
        let labels = x_labels(&screen);
        assert!(labels.contains('1') && labels.contains("40"), "{screen}");
        assert!(
            !labels.contains("1.00") && !labels.contains("40.00"),
            "{screen}"
        );
    }

    #[test]
    fn the_title_says_how_the_chart_is_drawn() {
        let points: Vec<(f64, f64)> = (0..40).map(|i| (i as f64, 1.0 + i as f64)).collect();
        let theme = Theme::new(false, false);
        let raw = [Trace::raw("loss", &points, trace_color(0))];
        let smoothed = [Trace::smoothed("loss", &points, trace_color(0))];
        let plain = draw(&theme, &raw);
        assert!(plain.starts_with("┌ t ── loss"), "{plain}");
        let screen = draw(&theme, &smoothed);
        assert!(screen.starts_with("┌ t · smooth 0.90 ── loss"), "{screen}");
        let mut view = ChartView {
            log_y: true,
            recent: true,
            ..ChartView::default()
        };
        view.smooth_less();
        let screen = draw_view(&theme, &smoothed, &view);
        assert!(
            screen.starts_with("┌ t · smooth 0.85 · log · recent ── loss"),
            "{screen}"
        );
        // The recent window starts at the newest fifth of the steps: 39 − 39/5.
        assert!(x_labels(&screen).contains("31"), "{screen}");
        // Log y labels are the values, not their logarithms: 1 to 40, padded.
        view.recent = false;
        let screen = draw_view(&theme, &raw, &view);
        let y_axis: String = screen.lines().flat_map(|l| l.chars().take(6)).collect();
        assert!(y_axis.contains("0.83") && y_axis.contains("48"), "{screen}");
    }

    #[test]
    fn a_narrow_chart_says_how_it_is_drawn_on_its_bottom_border() {
        let points: Vec<(f64, f64)> = (0..40).map(|i| (i as f64, 1.0 + i as f64)).collect();
        let area = Rect::new(0, 0, 29, 12);
        let mut buf = Buffer::empty(area);
        let traces = [Trace::smoothed("", &points, trace_color(0))];
        let spec = ChartSpec {
            title: "loss 0.112",
            traces: &traces,
            ..ChartSpec::default()
        };
        let view = ChartView {
            log_y: true,
            ..ChartView::default()
        };
        render_chart(area, &mut buf, &spec, &view, &Theme::new(false, false));
        let row = |y: u16| {
            (0..area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        };
        assert!(row(0).starts_with("┌ loss 0.112 ─"), "{}", row(0));
        assert!(row(11).ends_with(" smooth 0.90 · log┘"), "{}", row(11));
    }

    #[test]
    fn smoothing_steps_run_from_0_to_0_99_and_stop_there() {
        let mut view = ChartView::default();
        assert_eq!(view.smoothing(), 0.9);
        for _ in 0..20 {
            view.smooth_more();
        }
        assert_eq!(view.smoothing(), 0.99);
        for _ in 0..20 {
            view.smooth_less();
        }
        assert_eq!(view.smoothing(), 0.0);
    }

    #[test]
    fn a_log_chart_with_nothing_above_zero_says_so() {
        let points = [(0.0, 0.0), (1.0, -1.0)];
        let view = ChartView {
            log_y: true,
            ..ChartView::default()
        };
        let screen = draw_view(
            &Theme::new(false, false),
            &[Trace::raw("", &points, trace_color(0))],
            &view,
        );
        assert!(screen.contains("no value above 0"), "{screen}");
    }

    #[test]
    fn epoch_marks_are_drawn_as_vertical_lines() {
        let flat: Vec<(f64, f64)> = (0..=100).map(|i| (i as f64, 1.0)).collect();
        let area = Rect::new(0, 0, 60, 12);
        let mut buf = Buffer::empty(area);
        let traces = [Trace::raw("", &flat, trace_color(0))];
        let spec = ChartSpec {
            title: "t",
            traces: &traces,
            y_bounds: Some((0.0, 2.0)),
            x_marks: &[50.0],
            ..ChartSpec::default()
        };
        render_chart(
            area,
            &mut buf,
            &spec,
            &ChartView::default(),
            &Theme::new(false, true),
        );
        let marked_rows = (0..area.height)
            .filter(|&y| (0..area.width).any(|x| buf[(x, y)].symbol() == ":"))
            .count();
        assert!(marked_rows >= 6, "{marked_rows} rows carry the mark");
    }

    fn draw(theme: &Theme, traces: &[Trace<'_>]) -> String {
        draw_view(theme, traces, &ChartView::default())
    }

    fn draw_view(theme: &Theme, traces: &[Trace<'_>], view: &ChartView) -> String {
        let area = Rect::new(0, 0, 60, 12);
        let mut buf = Buffer::empty(area);
        let spec = ChartSpec {
            title: "t",
            traces,
            empty_hint: "empty",
            ..ChartSpec::default()
        };
        render_chart(area, &mut buf, &spec, view, theme);
        (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn without_colour_each_line_has_its_own_glyph() {
        let rising: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, i as f64)).collect();
        let falling: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, 19.0 - i as f64)).collect();
        let traces = [
            Trace::raw("up", &rising, trace_color(0)),
            Trace::raw("down", &falling, trace_color(1)),
        ];
        let plain = draw(&Theme::new(true, false), &traces);
        assert!(
            plain.contains("** up") && plain.contains("oo down"),
            "{plain}"
        );
        let body: String = plain.lines().skip(1).collect();
        assert!(body.matches('*').count() >= 10, "{plain}");
        assert!(body.matches('o').count() >= 10, "{plain}");
        assert!(!plain.contains('•'), "{plain}");
        // In colour the lines are braille, told apart by colour.
        let coloured = draw(&Theme::new(false, false), &traces);
        assert!(coloured.contains("── up"), "{coloured}");
        assert!(coloured
            .chars()
            .any(|c| ('\u{2800}'..='\u{28FF}').contains(&c)));
        // Under --ascii even one line is plain ASCII.
        let ascii = draw(&Theme::new(false, true), &traces[..1]);
        let body: String = ascii.lines().skip(1).collect();
        assert!(body.contains('*') && !ascii.contains('•'), "{ascii}");
    }

    #[test]
    fn non_negative_figures_get_no_negative_axis_label() {
        let decay: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, 1.0 - i as f64 / 19.0)).collect();
        let shifted: Vec<(f64, f64)> = decay.iter().map(|&(x, y)| (x, y - 0.5)).collect();
        let trace = |points| Trace::raw("ε", points, trace_color(0));
        let screen = draw(&Theme::new(false, false), &[trace(&decay)]);
        assert!(!screen.contains('-'), "{screen}");
        let screen = draw(&Theme::new(false, false), &[trace(&shifted)]);
        assert!(
            screen.contains("-0."),
            "negative data keeps its range: {screen}"
        );
    }

    #[test]
    fn sparkline_spans_the_range() {
        let t = Theme::new(false, false);
        assert_eq!(sparkline(&[0.0, 1.0, 0.5], 10, &t), "▁█▅");
        assert_eq!(sparkline(&[0.0, 1.0], 2, &Theme::new(true, true)), "_#");
    }
}
