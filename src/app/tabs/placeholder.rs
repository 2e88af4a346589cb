//! Tabs whose jobs are not part of this build say so, with what they will show.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use crate::app::theme::Theme;

/// Draws a bordered note about a tab that is not available yet.
pub fn render_placeholder(
    area: Rect,
    buf: &mut Buffer,
    title: &str,
    lines: &[&str],
    theme: &Theme,
) {
    let mut text = vec![
        Line::styled("Not in this build yet.", theme.warn()),
        Line::raw(""),
    ];
    text.extend(lines.iter().map(|l| Line::raw(l.to_string())));
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .block(Block::bordered().title(format!(" {title} ")))
        .render(area, buf);
}
