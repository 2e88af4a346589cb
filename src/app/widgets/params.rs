//! The hyperparameter panel: a list of values with a cursor, and an input line while typing.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::app::theme::Theme;

/// One row of the panel.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRow {
    /// Short name.
    pub label: &'static str,
    /// Value as shown.
    pub value: String,
    /// False when a change only applies on restart (model, dataset).
    pub live: bool,
}

/// Lines for the panel: rows, the cursor on `selected`, and the edit buffer when typing.
pub fn param_lines(
    rows: &[ParamRow],
    selected: usize,
    editing: Option<&str>,
    theme: &Theme,
) -> Vec<Line<'static>> {
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let is_sel = i == selected;
            let cursor = if is_sel { theme.cursor() } else { " " };
            let value = match (is_sel, editing) {
                (true, Some(buf)) => format!("{buf}_"),
                _ => row.value.clone(),
            };
            let mut spans = vec![
                Span::raw(format!("{cursor} ")),
                Span::raw(format!("{:<8} ", row.label)),
            ];
            let style = if is_sel {
                theme.highlight()
            } else {
                ratatui::style::Style::new()
            };
            spans.push(Span::styled(value, style));
            if !row.live {
                spans.push(Span::styled(theme.restart_mark(), theme.dim()));
            }
            Line::from(spans)
        })
        .collect()
}

/// A text gauge `████░░░ 41%` that fits `width` cells.
pub fn gauge_line(fraction: f64, width: usize, theme: &Theme) -> String {
    let bar = width.saturating_sub(5).max(1);
    let filled = ((fraction.clamp(0.0, 1.0) * bar as f64).round() as usize).min(bar);
    let (full, empty) = theme.gauge_cells();
    format!(
        "{}{} {:>3.0}%",
        full.to_string().repeat(filled),
        empty.to_string().repeat(bar - filled),
        fraction * 100.0
    )
}

/// Renders the lines into `area` (helper for panels without their own block).
pub fn render_lines(area: Rect, buf: &mut Buffer, lines: &[Line<'_>]) {
    for (i, line) in lines.iter().enumerate().take(area.height as usize) {
        buf.set_line(area.x, area.y + i as u16, line, area.width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_fills_proportionally() {
        let t = Theme::new(false, true);
        assert_eq!(gauge_line(0.5, 15, &t), "#####.....  50%");
        assert_eq!(gauge_line(1.0, 10, &t), "##### 100%");
    }

    #[test]
    fn cursor_and_edit_buffer_show() {
        let rows = vec![
            ParamRow {
                label: "lr",
                value: "1.0e-3".into(),
                live: true,
            },
            ParamRow {
                label: "model",
                value: "cnn".into(),
                live: false,
            },
        ];
        let t = Theme::new(true, true);
        let lines = param_lines(&rows, 0, Some("3e-"), &t);
        assert_eq!(lines[0].to_string(), "> lr       3e-_");
        assert_eq!(lines[1].to_string(), "  model    cnn *");
    }
}
