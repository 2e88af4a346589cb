//! Keys become actions here and nowhere else, so every key can be tested without a terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{App, Overlay, TabId};

/// Everything the user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Show a tab.
    GoTab(TabId),
    /// Next tab.
    NextTab,
    /// Previous tab.
    PrevTab,
    /// Cursor up in the panel.
    Up,
    /// Cursor down in the panel.
    Down,
    /// Decrease / previous choice.
    Left,
    /// Increase / next choice.
    Right,
    /// Start typing a value for the selected hyperparameter.
    BeginEdit,
    /// A character typed into the value.
    EditChar(char),
    /// Delete the last typed character.
    EditBackspace,
    /// Apply the typed value.
    EditCommit,
    /// Abandon typing.
    EditCancel,
    /// Start, or restart with the panel's values.
    StartRestart,
    /// Pause or resume.
    PauseResume,
    /// Stop the job.
    Stop,
    /// Write a checkpoint.
    Checkpoint,
    /// Switch to the dataset offered when the scenario's is missing.
    UseAlternative,
    /// Show or hide the key help.
    ToggleHelp,
    /// Close an overlay.
    CloseOverlay,
    /// RL: play one episode of the greedy policy in the viewport.
    PlayGreedy,
    /// GAN: write the sample grid to an image file.
    Export,
    /// Quit, asking first while a job runs.
    Quit,
    /// Quit now (Ctrl-C, or "y" at the question).
    ForceQuit,
    /// Runs: open the highlighted run's curves, or the marked runs overlaid.
    OpenRun,
    /// Runs: mark or unmark the highlighted run for an overlay.
    ToggleMark,
    /// Runs: continue the highlighted stopped run in its tab.
    ResumeRun,
    /// Runs: ask to delete the highlighted run.
    DeleteRun,
    /// Runs: "yes" to the delete question.
    ConfirmDelete,
    /// Runs: leave the chart for the list (in the list: clear the marks).
    Back,
}

/// Maps a key press to an action in the app's current mode (typing, an overlay, normal).
pub fn map_key(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::ForceQuit);
    }
    match app.overlay {
        Overlay::ConfirmQuit => {
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Char('q') => {
                    Some(Action::ForceQuit)
                }
                _ => Some(Action::CloseOverlay),
            }
        }
        Overlay::Help => {
            return match key.code {
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter => {
                    Some(Action::CloseOverlay)
                }
                _ => None,
            }
        }
        Overlay::ConfirmDelete => {
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => Some(Action::ConfirmDelete),
                _ => Some(Action::CloseOverlay),
            }
        }
        Overlay::None => {}
    }
    if app.is_editing() {
        return match key.code {
            KeyCode::Enter => Some(Action::EditCommit),
            KeyCode::Esc => Some(Action::EditCancel),
            KeyCode::Backspace => Some(Action::EditBackspace),
            KeyCode::Char(c) if !c.is_control() => Some(Action::EditChar(c)),
            _ => None,
        };
    }
    if app.tab == TabId::Runs {
        if let Some(action) = runs_key(app, key.code) {
            return Some(action);
        }
    }
    Some(match key.code {
        KeyCode::Char('1') => Action::GoTab(TabId::Classifier),
        KeyCode::Char('2') => Action::GoTab(TabId::Gan),
        KeyCode::Char('3') => Action::GoTab(TabId::Rl),
        KeyCode::Char('4') => Action::GoTab(TabId::Runs),
        KeyCode::Tab => Action::NextTab,
        KeyCode::BackTab => Action::PrevTab,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Left | KeyCode::Char('h') | KeyCode::Char('-') => Action::Left,
        KeyCode::Right | KeyCode::Char('l') | KeyCode::Char('+') | KeyCode::Char('=') => {
            Action::Right
        }
        KeyCode::Enter => Action::BeginEdit,
        KeyCode::Char('s') => Action::StartRestart,
        KeyCode::Char(' ') => Action::PauseResume,
        KeyCode::Char('x') => Action::Stop,
        KeyCode::Char('c') => Action::Checkpoint,
        KeyCode::Char('u') => Action::UseAlternative,
        KeyCode::Char('w') => Action::PlayGreedy,
        KeyCode::Char('e') => Action::Export,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Esc => Action::CloseOverlay,
        KeyCode::Char('q') => Action::Quit,
        _ => return None,
    })
}

/// The Runs tab's own keys; everything else (tabs, arrows, help, quit) is shared.
fn runs_key(app: &App, code: KeyCode) -> Option<Action> {
    let in_chart = app.runs.in_curves();
    Some(match code {
        KeyCode::Enter if in_chart => Action::Back,
        KeyCode::Enter => Action::OpenRun,
        KeyCode::Esc | KeyCode::Backspace => Action::Back,
        KeyCode::Char(' ') | KeyCode::Char('m') if !in_chart => Action::ToggleMark,
        KeyCode::Char('r') if !in_chart => Action::ResumeRun,
        KeyCode::Char('d') if !in_chart => Action::DeleteRun,
        _ => return None,
    })
}
