//! A 10×10 confusion matrix as a heat map: rows are true classes, columns predictions.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::image::ASCII_RAMP;
use crate::app::theme::Theme;
use crate::data::CLASSES;

/// Cell text and style for a count, shaded by its share of the true class's row.
fn cell(count: u32, row_total: u32, diagonal: bool, theme: &Theme) -> Span<'static> {
    let share = if row_total == 0 {
        0.0
    } else {
        count as f64 / row_total as f64
    };
    if theme.no_color || theme.ascii {
        let level =
            ((share * (ASCII_RAMP.len() - 1) as f64).round() as usize).min(ASCII_RAMP.len() - 1);
        let c = ASCII_RAMP[level] as char;
        return Span::raw(format!("{c}{c}"));
    }
    let intensity = (share.sqrt() * 255.0) as u8;
    let bg = if diagonal {
        Color::Rgb(0, intensity, intensity / 3)
    } else {
        Color::Rgb(intensity, intensity / 4, 0)
    };
    Span::styled("  ", Style::new().bg(bg))
}

/// Draws the matrix with class digits on both axes and the accuracy in the title.
pub fn render_confusion(
    area: Rect,
    buf: &mut Buffer,
    matrix: Option<&[[u32; CLASSES]; CLASSES]>,
    theme: &Theme,
) {
    let Some(m) = matrix else {
        Paragraph::new(Line::styled("after the first eval", theme.dim()))
            .block(Block::bordered().title(" confusion matrix "))
            .render(area, buf);
        return;
    };
    let total: u32 = m.iter().flatten().sum();
    let correct: u32 = (0..CLASSES).map(|i| m[i][i]).sum();
    let title = format!(
        " confusion · {:.1}% of {total} ",
        100.0 * correct as f64 / total.max(1) as f64
    );
    let mut lines = vec![Line::styled(
        format!(
            "   {}",
            (0..CLASSES).map(|c| format!("{c} ")).collect::<String>()
        ),
        theme.dim(),
    )];
    for (truth, row) in m.iter().enumerate() {
        let row_total: u32 = row.iter().sum();
        let mut spans = vec![Span::styled(format!("{truth}  "), theme.dim())];
        spans.extend(
            row.iter()
                .enumerate()
                .map(|(p, &c)| cell(c, row_total, p == truth, theme)),
        );
        lines.push(Line::from(spans));
    }
    Paragraph::new(lines)
        .block(Block::bordered().title(title))
        .render(area, buf);
}
