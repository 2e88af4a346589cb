//! The `?` overlay: every key of the key table, and the formula of each plotted loss.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use crate::app::keymap::BINDINGS;
use crate::app::theme::Theme;
use crate::models::loss::FORMULAS;

/// Overlay width at most, in columns (border included).
const MAX_WIDTH: u16 = 72;
/// Columns the key labels are right-aligned in.
const LABEL_WIDTH: usize = 16;

/// Draws the overlay centred in `area` (the whole screen: every key row fits at 80×24).
pub fn render_help(area: Rect, buf: &mut Buffer, theme: &Theme) {
    let mut lines: Vec<Line> = BINDINGS
        .iter()
        .map(|b| Line::from(format!("{:>LABEL_WIDTH$}  {}", b.label, b.help)))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled("losses plotted", theme.bold()));
    lines.extend(
        FORMULAS
            .iter()
            .map(|(name, f)| Line::from(format!("{name:>LABEL_WIDTH$}  {f}"))),
    );
    let w = area.width.saturating_sub(4).min(MAX_WIDTH);
    // Every key row stays in view at 80×24: the margin above and below goes before a key does.
    let h = area.height.min(lines.len() as u16 + 2);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" keys · ? or Esc to close "))
        .render(rect, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_row_fits_one_line_so_the_formulas_stay_in_view() {
        let inner = usize::from(MAX_WIDTH) - 2;
        for (keys, what) in BINDINGS.iter().map(|b| (b.label, b.help)) {
            assert!(keys.chars().count() <= LABEL_WIDTH, "{keys}");
            assert!(
                LABEL_WIDTH + 2 + what.chars().count() <= inner,
                "{keys}: {what:?} wraps"
            );
        }
    }

    /// The overlay drawn over a tab body of `w`×`h` cells, row by row.
    fn drawn(w: u16, h: u16) -> String {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        render_help(area, &mut buf, &Theme::new(false, false));
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn lists_every_key_at_80x24_and_the_formulas_too_at_120x40() {
        // The help covers the whole screen, tab bar and bottom line included.
        for (w, h) in [(80, 24), (120, 40)] {
            let text = drawn(w, h);
            for (keys, what) in BINDINGS.iter().map(|b| (b.label, b.help)) {
                assert!(
                    text.contains(&format!("{keys:>LABEL_WIDTH$}  {what}")),
                    "{keys} missing at {w}×{h}:\n{text}"
                );
            }
        }
        let text = drawn(120, 40);
        for (name, formula) in FORMULAS {
            assert!(text.contains(formula), "{name} missing:\n{text}");
        }
    }
}
