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

/// Draws the overlay centred in `area` (the whole screen), from row `scroll` of its text when
/// the text is taller than the screen, with a title that says there is more and how to reach
/// it. Returns the last row it can scroll to at this size, so scrolling stops where the text
/// ends.
pub fn render_help(area: Rect, buf: &mut Buffer, theme: &Theme, scroll: u16) -> u16 {
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
    let total = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let h = area.height.min(total.saturating_add(2));
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let shown = h.saturating_sub(2);
    let max_scroll = total.saturating_sub(shown);
    let top = scroll.min(max_scroll);
    let title = if max_scroll == 0 {
        " keys · ? or Esc to close ".to_string()
    } else {
        let last = (top + shown).min(total);
        format!(
            " keys {}–{last} of {total} · ↑↓ PgUp PgDn scroll · ? or Esc to close ",
            top + 1
        )
    };
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((top, 0))
        .block(Block::bordered().title(title))
        .render(rect, buf);
    max_scroll
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

    /// The overlay drawn over a screen of `w`×`h` cells from row `scroll`, row by row, and the
    /// last row it can scroll to.
    fn drawn(w: u16, h: u16, scroll: u16) -> (String, u16) {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        let max = render_help(area, &mut buf, &Theme::new(false, false), scroll);
        let text = (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n");
        (text, max)
    }

    /// Every key row and formula, and the rows text the overlay showed while scrolled through
    /// from top to bottom a row at a time at `w`×`h`.
    fn scrolled_through(w: u16, h: u16) -> String {
        let (mut text, max) = drawn(w, h, 0);
        for scroll in 1..=max {
            text.push('\n');
            text.push_str(&drawn(w, h, scroll).0);
        }
        text
    }

    #[test]
    fn every_key_and_formula_can_be_scrolled_to_at_80x24_and_all_show_at_120x60() {
        for (w, h) in [(80, 24), (120, 60)] {
            let text = scrolled_through(w, h);
            for (keys, what) in BINDINGS.iter().map(|b| (b.label, b.help)) {
                assert!(
                    text.contains(&format!("{keys:>LABEL_WIDTH$}  {what}")),
                    "{keys} missing at {w}×{h}:\n{text}"
                );
            }
            for (name, formula) in FORMULAS {
                assert!(text.contains(formula), "{name} missing at {w}×{h}:\n{text}");
            }
        }
        assert_eq!(drawn(120, 60, 0).1, 0, "all of it fits at 120×60");
    }

    #[test]
    fn a_help_taller_than_the_screen_says_so_and_stops_scrolling_at_its_end() {
        let (top, max) = drawn(80, 24, 0);
        assert!(max > 0, "the help no longer needs scrolling at 80×24");
        assert!(top.contains("keys 1–22 of"), "{top}");
        assert!(top.contains("PgDn"), "{top}");
        let (end, _) = drawn(80, 24, u16::MAX);
        assert_eq!(
            end,
            drawn(80, 24, max).0,
            "scrolling past the end shows the end"
        );
        let last = FORMULAS.last().expect("a formula").1;
        assert!(end.contains(last), "{end}");
    }
}
