//! Colours and glyphs, chosen once from `NO_COLOR` and `--ascii`, so widgets never check the
//! environment themselves.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;

/// How the dashboard draws: colour or not, Unicode or plain ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// No colours at all (`NO_COLOR` set): emphasis by bold/reverse only.
    pub no_color: bool,
    /// Plain ASCII glyphs only (`--ascii`).
    pub ascii: bool,
}

impl Theme {
    /// Colour and Unicode unless told otherwise.
    pub fn new(no_color: bool, ascii: bool) -> Self {
        Self { no_color, ascii }
    }

    /// Reads `NO_COLOR` (any non-empty value disables colour, per no-color.org) and `TERM`: a
    /// terminal that says it can do nothing (`dumb`) gets plain ASCII without colour.
    pub fn from_env(ascii: bool) -> Self {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) || dumb;
        Self::new(no_color, ascii || dumb)
    }

    /// A foreground colour, or plain text without colour.
    pub fn fg(&self, color: Color) -> Style {
        if self.no_color {
            Style::new()
        } else {
            Style::new().fg(color)
        }
    }

    /// The style of the selected row / active tab.
    pub fn highlight(&self) -> Style {
        if self.no_color {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().fg(Color::Black).bg(Color::Cyan)
        }
    }

    /// Dimmed text for hints and secondary values.
    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    /// Bold text.
    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// Warnings and refusals.
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Errors and failures.
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Good news (solved, finished).
    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    /// Chart marker: braille dots, or plain dots under `--ascii`.
    pub fn marker(&self) -> Marker {
        if self.ascii {
            Marker::Dot
        } else {
            Marker::Braille
        }
    }

    /// The cursor glyph in lists.
    pub fn cursor(&self) -> &'static str {
        if self.ascii {
            ">"
        } else {
            "▸"
        }
    }

    /// A filled and an empty gauge cell.
    pub fn gauge_cells(&self) -> (char, char) {
        if self.ascii {
            ('#', '.')
        } else {
            ('█', '░')
        }
    }

    /// Marks a value that applies only on restart.
    pub fn restart_mark(&self) -> &'static str {
        if self.ascii {
            " *"
        } else {
            " ↻"
        }
    }

    /// The middle dot used to separate status items.
    pub fn sep(&self) -> &'static str {
        if self.ascii {
            " | "
        } else {
            " · "
        }
    }
}
