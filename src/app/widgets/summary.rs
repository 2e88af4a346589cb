//! The classifier's model summary as a centred box over the tab, like Keras' `model.summary()`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::app::theme::Theme;
use crate::models::classifier::spec::Summary;

/// What the summary box shows: the model's name and its layers, or why they cannot be built.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummaryView {
    /// `cnn`, `mlp` or `custom`.
    pub model: String,
    /// The layers with shapes and parameter counts, or the refusal of a layer.
    pub summary: Result<Summary, String>,
}

/// Draws the summary box centred in `area`.
pub fn render_model_summary(view: &ModelSummaryView, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let lines: Vec<Line<'static>> = match &view.summary {
        Ok(summary) => summary
            .lines()
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    Line::styled(l, theme.bold())
                } else {
                    Line::raw(l)
                }
            })
            .collect(),
        Err(why) => vec![Line::styled(why.clone(), theme.error())],
    };
    let width = lines
        .iter()
        .map(|l| l.width() as u16 + 2)
        .max()
        .unwrap_or(20)
        .clamp(30, area.width.max(1));
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .block(Block::bordered().title(format!(" model: {} · i or Esc closes ", view.model)))
        .render(rect, buf);
}
