//! Line charts of one or more series with a legend in the title, in braille or ASCII dots.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Widget};

use crate::app::theme::Theme;

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
pub fn render_chart(
    area: Rect,
    buf: &mut Buffer,
    title: &str,
    traces: &[Trace<'_>],
    y_bounds: Option<(f64, f64)>,
    empty_hint: &str,
    theme: &Theme,
) {
    let mut title_spans = vec![Span::raw(format!(" {title} "))];
    for t in traces.iter().filter(|t| !t.label.is_empty()) {
        title_spans.push(Span::styled(format!("── {} ", t.label), theme.fg(t.color)));
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
        (lo - pad, hi + pad)
    });
    let x_hi = if x_hi > x_lo { x_hi } else { x_lo + 1.0 };
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
    let label = |v: f64| Span::styled(format_axis(v), theme.dim());
    Chart::new(datasets)
        .block(block)
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
        .render(area, buf);
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

    #[test]
    fn sparkline_spans_the_range() {
        let t = Theme::new(false, false);
        assert_eq!(sparkline(&[0.0, 1.0, 0.5], 10, &t), "▁█▅");
        assert_eq!(sparkline(&[0.0, 1.0], 2, &Theme::new(true, true)), "_#");
    }
}
