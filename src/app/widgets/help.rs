//! The `?` overlay: every key, and the formula of each plotted loss.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use crate::app::theme::Theme;
use crate::models::loss::FORMULAS;

/// Every key the dashboard understands, with what it does.
pub const KEYS: [(&str, &str); 17] = [
    ("1-4 / Tab", "switch tab (Shift-Tab: back)"),
    ("↑ ↓ / k j", "select a hyperparameter"),
    ("← → / h l / - +", "change it (learning rates ×/÷ 2)"),
    ("Enter", "type an exact value (Esc cancels)"),
    ("s", "start, or restart with the panel's values"),
    ("space", "pause / resume"),
    ("x", "stop the job"),
    ("c", "write a checkpoint"),
    (
        "u",
        "use the dataset offered when the scenario's is missing",
    ),
    ("e", "GAN: export the sample grid"),
    ("w", "RL: watch the greedy policy"),
    (
        "Enter / Esc",
        "Runs: open curves (marked runs overlaid) / back",
    ),
    ("space / m", "Runs: mark a run for the overlay; ← → metric"),
    ("r / d", "Runs: resume a stopped run / delete it (asks)"),
    ("?", "this help (Esc closes)"),
    ("q", "quit (asks while a job runs)"),
    ("Ctrl-C", "quit at once"),
];

/// Draws the overlay centred in `area`.
pub fn render_help(area: Rect, buf: &mut Buffer, theme: &Theme) {
    let w = area.width.saturating_sub(4).min(72);
    let h = area
        .height
        .saturating_sub(2)
        .min(KEYS.len() as u16 + FORMULAS.len() as u16 + 5);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| Line::from(format!("{k:>16}  {what}")))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled("losses plotted", theme.bold()));
    lines.extend(
        FORMULAS
            .iter()
            .map(|(name, f)| Line::from(format!("{name:>16}  {f}"))),
    );
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" keys · ? or Esc to close "))
        .render(rect, buf);
}
