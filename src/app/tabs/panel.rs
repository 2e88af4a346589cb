//! The hyperparameter panel every job tab has: its rows, cursor and typing, and how it draws,
//! so each tab only says what its values are and where they go.

use crate::app::widgets::params::ParamRow;
use crate::app::{Action, ToastLevel};
use crate::jobs::{JobStatus, Param};

/// A row of a tab's panel as the tab describes it.
#[derive(Debug, Clone, PartialEq)]
pub enum PanelRow {
    /// A number the running job accepts live.
    Live(Param, f64),
    /// A choice that applies on restart: label and shown value.
    Choice(&'static str, String),
}

impl PanelRow {
    /// The row as drawn.
    pub fn view(&self) -> ParamRow {
        match self {
            PanelRow::Live(p, v) => ParamRow {
                label: p.label(),
                value: p.format(*v),
                live: true,
            },
            PanelRow::Choice(label, value) => ParamRow {
                label,
                value: value.clone(),
                live: false,
            },
        }
    }
}

/// What a panel key asks the tab to do.
#[derive(Debug, Clone, PartialEq)]
pub enum PanelOutcome {
    /// Nothing more (cursor moved, a character typed).
    Nothing,
    /// Set a live parameter to a validated value.
    Change(Param, f64),
    /// Move the choice in row `index` forward or back.
    Cycle(usize, bool),
    /// Tell the user something (a refusal, a limit).
    Toast(ToastLevel, String),
    /// The action is not a panel action.
    NotMine,
}

/// Cursor and typing state of a hyperparameter panel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Panel {
    /// The selected row.
    pub selected: usize,
    /// The value being typed, if any.
    pub editing: Option<String>,
}

impl Panel {
    /// Applies a panel action to `rows`; validation happens here, so a tab only ever sees
    /// values its parameters accept.
    pub fn handle(&mut self, action: Action, rows: &[PanelRow]) -> PanelOutcome {
        if rows.is_empty() {
            return PanelOutcome::NotMine;
        }
        self.selected = self.selected.min(rows.len() - 1);
        let row = &rows[self.selected];
        match action {
            Action::Up => self.selected = (self.selected + rows.len() - 1) % rows.len(),
            Action::Down => self.selected = (self.selected + 1) % rows.len(),
            Action::Left | Action::Right => {
                let up = action == Action::Right;
                return match row {
                    PanelRow::Live(p, old) => {
                        let new = p.stepped(*old, up);
                        if new == *old {
                            PanelOutcome::Toast(
                                ToastLevel::Warn,
                                format!("{p} is at its limit ({})", p.format(*old)),
                            )
                        } else {
                            PanelOutcome::Change(*p, new)
                        }
                    }
                    PanelRow::Choice(..) => PanelOutcome::Cycle(self.selected, up),
                };
            }
            Action::BeginEdit => match row {
                PanelRow::Live(p, v) => self.editing = Some(p.format(*v)),
                PanelRow::Choice(..) => {
                    return PanelOutcome::Toast(ToastLevel::Info, "use ←/→ to choose".into())
                }
            },
            Action::EditChar(c) => {
                if let Some(buf) = &mut self.editing {
                    if buf.len() < 24 {
                        buf.push(c);
                    }
                }
            }
            Action::EditBackspace => {
                if let Some(buf) = &mut self.editing {
                    buf.pop();
                }
            }
            Action::EditClear => {
                if let Some(buf) = &mut self.editing {
                    buf.clear();
                }
            }
            Action::EditCancel => self.editing = None,
            Action::EditCommit => {
                let Some(text) = self.editing.take() else {
                    return PanelOutcome::Nothing;
                };
                if let PanelRow::Live(p, _) = row {
                    return match p.parse(&text) {
                        Ok(v) => PanelOutcome::Change(*p, v),
                        Err(reason) => {
                            PanelOutcome::Toast(ToastLevel::Warn, format!("refused: {reason}"))
                        }
                    };
                }
            }
            _ => return PanelOutcome::NotMine,
        }
        PanelOutcome::Nothing
    }
}

/// Appends the newest entries of a tab's event log under an "events" heading, each wrapped to
/// `width` (continuation rows indented), as many whole entries as fit below `lines` in `height`
/// rows; the newest is cut with an ellipsis only when it alone does not fit.
pub fn push_event_log(
    lines: &mut Vec<ratatui::text::Line<'static>>,
    log: &std::collections::VecDeque<String>,
    height: usize,
    width: usize,
    theme: &crate::app::theme::Theme,
) {
    if width < 2 || log.is_empty() {
        return;
    }
    let used: usize = lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    let room = height.saturating_sub(used + 1);
    if room == 0 {
        return;
    }
    let mut shown: Vec<Vec<String>> = Vec::new();
    let mut rows = 0;
    for entry in log.iter().rev() {
        let mut wrapped = wrap_words(entry, width);
        if rows + wrapped.len() > room {
            if shown.is_empty() {
                wrapped.truncate(room);
                if let Some(last) = wrapped.last_mut() {
                    let cut: String = last.chars().take(width - 1).collect();
                    *last = format!("{cut}…");
                }
                shown.push(wrapped);
            }
            break;
        }
        rows += wrapped.len();
        shown.push(wrapped);
    }
    lines.push(ratatui::text::Line::styled("events", theme.dim()));
    lines.extend(
        shown
            .into_iter()
            .rev()
            .flatten()
            .map(|row| ratatui::text::Line::styled(row, theme.dim())),
    );
}

/// Breaks `text` into rows of at most `width` characters at spaces (a word longer than a row is
/// split), indenting every row after the first by one space.
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    let (mut row, mut len, mut has_words) = (String::new(), 0, false);
    for word in text.split_whitespace() {
        let chars: Vec<char> = word.chars().collect();
        let mut rest = &chars[..];
        while !rest.is_empty() {
            let sep = usize::from(has_words);
            if len + sep + rest.len() <= width {
                if has_words {
                    row.push(' ');
                }
                row.extend(rest);
                len += sep + rest.len();
                has_words = true;
                break;
            }
            if !has_words {
                // Even a row of its own is too short for this word: fill the row with its start.
                let take = width - len;
                row.extend(&rest[..take]);
                rest = &rest[take..];
            }
            rows.push(std::mem::replace(&mut row, " ".to_string()));
            (len, has_words) = (1, false);
        }
    }
    if has_words {
        rows.push(row);
    }
    rows
}

/// The panel's status line: what the job is doing, with the reason when paused, failed or
/// refused.
pub fn status_line(
    status: Option<&JobStatus>,
    theme: &crate::app::theme::Theme,
) -> ratatui::text::Line<'static> {
    use ratatui::text::Line;
    match status {
        None => Line::styled("press s to start", theme.good()),
        Some(JobStatus::Ready) => Line::raw("starting…"),
        Some(JobStatus::Loading(what)) => Line::raw(format!("{what}…")),
        Some(JobStatus::Running) => Line::styled("running", theme.good()),
        Some(JobStatus::Paused(r)) => Line::styled(format!("paused: {r}"), theme.warn()),
        Some(JobStatus::Finished) => Line::styled("finished", theme.good()),
        Some(JobStatus::Stopped) => Line::raw("stopped"),
        Some(JobStatus::Failed(r)) => Line::styled(format!("failed: {r}"), theme.error()),
        Some(JobStatus::Refused(r)) => Line::styled(format!("refused: {r}"), theme.warn()),
    }
}

/// Fills `area` with what to do about a missing dataset: the fetch command, and the dataset
/// that is present instead, if any.
pub fn render_missing_data(
    area: ratatui::layout::Rect,
    buf: &mut ratatui::buffer::Buffer,
    wanted: crate::data::DatasetName,
    hint: &str,
    alternative: Option<crate::data::DatasetName>,
    theme: &crate::app::theme::Theme,
) {
    use crate::data::DatasetName;
    use ratatui::text::Line;
    use ratatui::widgets::{Block, Paragraph, Widget, Wrap};
    let title = match wanted {
        DatasetName::Folder => "The scenario's data folder is missing.".to_string(),
        other => format!("Dataset {other} not found."),
    };
    let mut lines = vec![
        Line::styled(title, theme.warn()),
        Line::raw(""),
        Line::raw(hint.to_string()),
    ];
    // A folder is the user's own: there is nothing to download.
    if wanted != DatasetName::Folder {
        lines.push(Line::raw(""));
        lines.push(Line::raw("Or press f to download it here."));
    }
    if let Some(alt) = alternative {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!("{alt} is available: press u to use it."),
            theme.good(),
        ));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(Block::bordered().title(" data "))
        .render(area, buf);
}

/// Draws a tab's panel border and returns its inner area with the first lines: the
/// hyperparameter rows, a blank line and the status line; the tab adds its own figures.
pub fn panel_start(
    area: ratatui::layout::Rect,
    buf: &mut ratatui::buffer::Buffer,
    rows: &[PanelRow],
    panel: &Panel,
    status: Option<&JobStatus>,
    theme: &crate::app::theme::Theme,
) -> (ratatui::layout::Rect, Vec<ratatui::text::Line<'static>>) {
    use ratatui::widgets::{Block, Widget};
    let block = Block::bordered().title(" hyperparameters ");
    let inner = block.inner(area);
    block.render(area, buf);
    let views: Vec<_> = rows.iter().map(PanelRow::view).collect();
    let mut lines = crate::app::widgets::params::param_lines(
        &views,
        panel.selected,
        panel.editing.as_deref(),
        theme,
    );
    lines.push(ratatui::text::Line::raw(""));
    lines.push(status_line(status, theme));
    (inner, lines)
}

/// Adds the event log under a panel's lines and draws them into `inner`.
pub fn panel_finish(
    inner: ratatui::layout::Rect,
    buf: &mut ratatui::buffer::Buffer,
    mut lines: Vec<ratatui::text::Line<'static>>,
    log: &std::collections::VecDeque<String>,
    theme: &crate::app::theme::Theme,
) {
    use ratatui::widgets::{Paragraph, Widget, Wrap};
    push_event_log(
        &mut lines,
        log,
        inner.height as usize,
        inner.width as usize,
        theme,
    );
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_wrap_at_spaces_and_the_newest_whole_ones_are_kept() {
        assert_eq!(
            wrap_words("run directory: /tmp/x/20261129-mnist", 16),
            vec!["run directory:", " /tmp/x/20261129", " -mnist"]
        );
        assert_eq!(wrap_words("a b", 10), vec!["a b"]);
        let log: std::collections::VecDeque<String> = [
            "first entry that is long",
            "second",
            "checkpoint written: runs/x/step-10.safetensors",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let theme = crate::app::theme::Theme::new(true, false);
        let mut lines = vec![ratatui::text::Line::raw("status")];
        push_event_log(&mut lines, &log, 7, 20, &theme);
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(
            text,
            vec![
                "status",
                "events",
                "second",
                "checkpoint written:",
                " runs/x/step-10.safe",
                " tensors",
            ]
        );
        assert!(text.iter().all(|row| row.chars().count() <= 20), "{text:?}");
    }

    fn rows() -> Vec<PanelRow> {
        vec![
            PanelRow::Live(Param::Lr, 1e-3),
            PanelRow::Choice("model", "cnn".into()),
        ]
    }

    #[test]
    fn arrows_step_and_choices_cycle() {
        let mut p = Panel::default();
        assert_eq!(
            p.handle(Action::Right, &rows()),
            PanelOutcome::Change(Param::Lr, 2e-3)
        );
        p.handle(Action::Down, &rows());
        assert_eq!(
            p.handle(Action::Left, &rows()),
            PanelOutcome::Cycle(1, false)
        );
        p.handle(Action::Down, &rows());
        assert_eq!(p.selected, 0);
    }

    #[test]
    fn typing_validates() {
        let mut p = Panel::default();
        p.handle(Action::BeginEdit, &rows());
        assert_eq!(p.editing.as_deref(), Some("1.0e-3"));
        for _ in 0..6 {
            p.handle(Action::EditBackspace, &rows());
        }
        p.handle(Action::EditChar('0'), &rows());
        p.handle(Action::EditClear, &rows());
        assert_eq!(
            p.editing.as_deref(),
            Some(""),
            "Ctrl-U clears what was typed"
        );
        p.handle(Action::EditChar('0'), &rows());
        assert!(matches!(
            p.handle(Action::EditCommit, &rows()),
            PanelOutcome::Toast(ToastLevel::Warn, m) if m.contains("above 0")
        ));
        assert_eq!(p.editing, None);
    }
}
