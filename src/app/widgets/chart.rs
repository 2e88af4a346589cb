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

/// One line on a chart.
#[derive(Debug, Clone)]
pub struct Trace<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Points (x = step).
    pub points: &'a [(f64, f64)],
    /// Line colour (ignored under NO_COLOR).
    pub color: Color,
}

/// Draws traces in `area` with a bordered title; an empty chart shows `empty_hint` instead.
pub fn render_chart<'a>(
    area: Rect,
    buf: &mut Buffer,
    title: &str,
    traces: &[Trace<'a>],
    y_bounds: Option<(f64, f64)>,
    empty_hint: &str,
    theme: &Theme,
) {
    let mut title_spans = vec![Span::raw(format!(" {title} "))];
    for (i, t) in traces.iter().enumerate() {
        if !t.label.is_empty() {
            let key = legend_key(theme, traces.len(), i);
            title_spans.push(Span::styled(
                format!("{key} {} ", t.label),
                theme.fg(t.color),
            ));
        }
    }
    let block = Block::bordered().title(Line::from(title_spans));
    let all = traces.iter().flat_map(|t| t.points.iter());
    let (x_lo, x_hi) = all
        .clone()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
    if !x_lo.is_finite() {
        Paragraph::new(Line::styled(empty_hint.to_string(), theme.dim()))
            .block(block)
            .render(area, buf);
        return;
    }
    let (y_lo, y_hi) = y_bounds.unwrap_or_else(|| {
        let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
        let pad = ((hi - lo) * 0.05).max(1e-6);
        // Non-negative figures (rates, ε, returns) keep a floor of 0 instead of a negative label.
        let floor = if lo >= 0.0 { 0.0 } else { f64::NEG_INFINITY };
        ((lo - pad).max(floor), hi + pad)
    });
    let x_hi = if x_hi > x_lo { x_hi } else { x_lo + 1.0 };
    let label = |v: f64| Span::styled(format_axis(v), theme.dim());
    let chart = |datasets: Vec<Dataset<'a>>| {
        Chart::new(datasets)
            .block(block.clone())
            .x_axis(
                Axis::default()
                    .bounds([x_lo, x_hi])
                    .labels([label(x_lo), label(x_hi)]),
            )
            .y_axis(
                Axis::default()
                    .bounds([y_lo, y_hi])
                    .labels([label(y_lo), label(y_hi)]),
            )
    };
    if !uses_glyphs(theme, traces.len()) {
        let datasets: Vec<Dataset> = traces
            .iter()
            .map(|t| {
                Dataset::default()
                    .marker(theme.marker())
                    .graph_type(GraphType::Line)
                    .style(theme.fg(t.color))
                    .data(t.points)
            })
            .collect();
        chart(datasets).render(area, buf);
        return;
    }
    // Axes and frame first; then each line, drawn alone into a scratch buffer with the same
    // layout, lends its cells to its own glyph. Later lines win where lines cross.
    chart(Vec::new()).render(area, buf);
    for (i, t) in traces.iter().enumerate() {
        let mut scratch = Buffer::empty(area);
        chart(vec![Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .data(t.points)])
        .render(area, &mut scratch);
        let glyph = trace_glyph(i);
        for y in area.top()..area.bottom() {
            for x in area.left()..area.right() {
                if scratch[(x, y)].symbol() == DOT_SYMBOL {
                    buf[(x, y)].set_char(glyph).set_style(theme.fg(t.color));
                }
            }
        }
    }
}

/// Compact axis labels: `0.25`, `1.2k`, `3.4M`.
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
    } else {
        format!("{v:.2}")
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
    }

    fn draw(theme: &Theme, traces: &[Trace<'_>]) -> String {
        let area = Rect::new(0, 0, 40, 12);
        let mut buf = Buffer::empty(area);
        render_chart(area, &mut buf, "t", traces, None, "empty", theme);
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
            Trace {
                label: "up",
                points: &rising,
                color: trace_color(0),
            },
            Trace {
                label: "down",
                points: &falling,
                color: trace_color(1),
            },
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
        let trace = |points| Trace {
            label: "ε",
            points,
            color: trace_color(0),
        };
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
