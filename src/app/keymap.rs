//! Keys become actions here and nowhere else, so every key can be tested without a terminal.
//! One table holds each key with its action, its name in the help and its word on the hint
//! line, so the key handling, the `?` overlay and the hint lines cannot drift apart.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::text::Span;

use super::{App, Overlay, TabId};
use crate::jobs::JobKind;

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
    /// Clear the value being typed (Ctrl-U).
    EditClear,
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
    /// Download the tab's dataset, or MNIST, when it is missing.
    FetchData,
    /// Show or hide the key help.
    ToggleHelp,
    /// Scroll the key help by this many rows (up when negative), for screens it does not fit.
    ScrollHelp(i32),
    /// Open or close the GPU panel.
    ToggleGpu,
    /// Show or hide the classifier's model summary.
    ToggleSummary,
    /// Close an overlay.
    CloseOverlay,
    /// RL: play one episode of the greedy policy in the viewport.
    PlayGreedy,
    /// GAN: write the sample grid to an image file.
    Export,
    /// Classifier: show only the test images the model gets wrong, or all of them again.
    ToggleMisclassified,
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
    /// Runs: leave the chart or the table for the list (in the list: clear the marks, then the
    /// filter).
    Back,
    /// Runs: start typing a filter query that narrows the list.
    BeginFilter,
    /// Runs: sort the list by the next column.
    CycleSort,
    /// Runs: turn the list's order around.
    ReverseSort,
    /// Runs: compare the marked runs in a table of their differing hyperparameters and figures.
    OpenTable,
    /// Runs sweep view: every run of the sweep overlaid in one chart.
    OverlaySweep,
    /// Runs sweep overlay: colour by the next grid key.
    CycleColourKey,
    /// Charts: a log-scale y axis, or back to linear.
    ToggleLogY,
    /// Charts: smooth the trend lines one step more (up to 0.99).
    SmoothMore,
    /// Charts: smooth the trend lines one step less (down to 0, the raw values).
    SmoothLess,
    /// Charts: the recent window, or back to the full history.
    ToggleRecent,
}

/// Where a binding is read: a view's own keys are looked up before the shared ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every tab, unless the Runs view reads the key first.
    All,
    /// The Runs tab's list of runs.
    RunsList,
    /// The Runs tab's chart.
    RunsChart,
    /// The Runs tab's table of marked runs.
    RunsTable,
    /// The Runs tab's sweep view.
    RunsSweep,
}

/// What a job tab's job is doing, which decides the keys its hint line offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPhase {
    /// Never started here.
    Idle,
    /// Never started, and its dataset is missing while another one is on disk (`u` takes it).
    DataMissing,
    /// Loading or training.
    Running,
    /// Held, by the user or by a guard.
    Paused,
    /// Waiting, finished, stopped or failed: it can only be started again.
    Ended,
}

/// Which part of the Runs tab shows, which decides the keys its hint line offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsScreen {
    /// The list, no run marked.
    List,
    /// The list with runs marked for an overlay.
    Marked,
    /// A chart of one run or of the marked runs.
    Chart,
    /// The table comparing the marked runs.
    Table,
    /// A sweep's table of grid points.
    Sweep,
    /// A chart opened from a sweep: one of its runs, or all of them overlaid.
    SweepChart,
}

/// What a tab tells the table about itself so the table can choose its hint line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintContext {
    /// A job tab of this kind with its job in this phase.
    Job(JobKind, JobPhase),
    /// The Runs tab.
    Runs(RunsScreen),
}

/// Screens a hint is offered on, declared next to the key so each key's place on every hint
/// line is written once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// Every screen.
    All,
    /// Every job tab, with its job in one of these phases.
    Jobs(&'static [JobPhase]),
    /// One kind's tab, with its job in one of these phases.
    Kind(JobKind, &'static [JobPhase]),
    /// The Runs tab, showing one of these.
    Runs(&'static [RunsScreen]),
}

impl On {
    /// True if a hint offered here belongs on the `context` screen.
    pub fn covers(self, context: HintContext) -> bool {
        match (self, context) {
            (On::All, _) => true,
            (On::Jobs(phases), HintContext::Job(_, phase)) => phases.contains(&phase),
            (On::Kind(kind, phases), HintContext::Job(k, phase)) => {
                kind == k && phases.contains(&phase)
            }
            (On::Runs(screens), HintContext::Runs(screen)) => screens.contains(&screen),
            _ => false,
        }
    }
}

/// The word a binding goes by on the hint line of some screens (the same key can mean
/// "pause" on one and "resume" on another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    /// What the key does there, in a word or two.
    pub word: &'static str,
    /// Where the hint line says it.
    pub on: &'static [On],
}

/// One row of the key table: the keys, what they ask for, where they are read and how the help
/// and the hint lines name them, written once so those cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// Each key with the action it asks for (a row may hold a pair, such as ↑ and ↓).
    pub keys: &'static [(KeyCode, Action)],
    /// Where the keys are read.
    pub scope: Scope,
    /// The keys as the help lists them.
    pub label: &'static str,
    /// The keys as the hint line shows them.
    pub hint_label: &'static str,
    /// What the keys do, as the help says it.
    pub help: &'static str,
    /// The hint line's words for the keys, by screen; none: only the help lists them.
    pub hints: &'static [Hint],
}

const LIVE: &[JobPhase] = &[JobPhase::Running, JobPhase::Paused];
/// Phases in which a job tab has shown what its job computed (samples, a matrix).
const SAMPLES_SHOWN: &[JobPhase] = &[JobPhase::Running, JobPhase::Paused, JobPhase::Ended];
const RUNS_LIST: &[RunsScreen] = &[RunsScreen::List, RunsScreen::Marked];
/// Every screen that draws charts: each job tab, whatever its job does, and a Runs chart.
const CHARTS: &[On] = &[
    On::Jobs(&[
        JobPhase::Idle,
        JobPhase::DataMissing,
        JobPhase::Running,
        JobPhase::Paused,
        JobPhase::Ended,
    ]),
    On::Runs(&[RunsScreen::Chart, RunsScreen::SweepChart]),
];

/// Every key the dashboard reads outside its modes (typing, a question, the help), in the order
/// the help lists them and the hint lines show them. A hint line has about 79 columns at 80×24,
/// so a screen offers the keys that matter most there (a job tab's own key before the panel's)
/// and the help lists the rest.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[
            (KeyCode::Char('1'), Action::GoTab(TabId::Classifier)),
            (KeyCode::Char('2'), Action::GoTab(TabId::Gan)),
            (KeyCode::Char('3'), Action::GoTab(TabId::Rl)),
            (KeyCode::Char('4'), Action::GoTab(TabId::Runs)),
            (KeyCode::Tab, Action::NextTab),
            (KeyCode::BackTab, Action::PrevTab),
        ],
        scope: Scope::All,
        label: "1-4 / Tab",
        hint_label: "1-4",
        help: "switch tab (Shift-Tab: back)",
        hints: &[],
    },
    Binding {
        keys: &[(KeyCode::Char(' '), Action::PauseResume)],
        scope: Scope::All,
        label: "space",
        hint_label: "space",
        help: "pause / resume the job",
        hints: &[
            Hint {
                word: "pause",
                on: &[On::Jobs(&[JobPhase::Running])],
            },
            Hint {
                word: "resume",
                on: &[On::Jobs(&[JobPhase::Paused])],
            },
        ],
    },
    Binding {
        keys: &[(KeyCode::Char('s'), Action::StartRestart)],
        scope: Scope::All,
        label: "s",
        hint_label: "s",
        help: "start, or restart with the panel's values",
        hints: &[
            Hint {
                word: "start",
                on: &[On::Jobs(&[JobPhase::Idle])],
            },
            Hint {
                word: "restart",
                on: &[On::Jobs(LIVE)],
            },
            Hint {
                word: "start again",
                on: &[On::Jobs(&[JobPhase::Ended])],
            },
        ],
    },
    Binding {
        keys: &[(KeyCode::Char('x'), Action::Stop)],
        scope: Scope::All,
        label: "x",
        hint_label: "x",
        help: "stop the job",
        hints: &[Hint {
            word: "stop",
            on: &[On::Jobs(LIVE)],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('c'), Action::Checkpoint)],
        scope: Scope::All,
        label: "c",
        hint_label: "c",
        help: "write a checkpoint",
        hints: &[Hint {
            word: "save",
            on: &[On::Kind(JobKind::Classifier, LIVE)],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('e'), Action::Export)],
        scope: Scope::All,
        label: "e",
        hint_label: "e",
        help: "GAN: export the sample grid",
        hints: &[Hint {
            word: "export",
            on: &[On::Kind(
                JobKind::Gan,
                &[JobPhase::Running, JobPhase::Paused, JobPhase::Ended],
            )],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('v'), Action::ToggleMisclassified)],
        scope: Scope::All,
        label: "v",
        hint_label: "v",
        help: "classifier: only the misclassified samples, or all",
        hints: &[Hint {
            word: "mistakes",
            on: &[On::Kind(JobKind::Classifier, SAMPLES_SHOWN)],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('w'), Action::PlayGreedy)],
        scope: Scope::All,
        label: "w",
        hint_label: "w",
        help: "RL: play an episode of the greedy policy",
        hints: &[Hint {
            word: "play greedy",
            on: &[On::Kind(JobKind::Rl, LIVE)],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('u'), Action::UseAlternative)],
        scope: Scope::All,
        label: "u",
        hint_label: "u",
        help: "use the dataset found instead of the missing one",
        hints: &[Hint {
            word: "use the dataset found",
            on: &[On::Jobs(&[JobPhase::DataMissing])],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('f'), Action::FetchData)],
        scope: Scope::All,
        label: "f",
        hint_label: "f",
        help: "download the tab's missing dataset, or MNIST",
        hints: &[Hint {
            word: "fetch it",
            on: &[On::Jobs(&[JobPhase::DataMissing])],
        }],
    },
    Binding {
        keys: &[
            (KeyCode::Left, Action::Left),
            (KeyCode::Char('h'), Action::Left),
            (KeyCode::Char('-'), Action::Left),
            (KeyCode::Right, Action::Right),
            (KeyCode::Char('l'), Action::Right),
            (KeyCode::Char('+'), Action::Right),
            (KeyCode::Char('='), Action::Right),
        ],
        scope: Scope::All,
        label: "← → / h l / - +",
        hint_label: "←/→",
        help: "change a value; Runs: metric, columns, sweep seed",
        hints: &[
            Hint {
                word: "change",
                on: &[
                    On::Jobs(&[
                        JobPhase::Idle,
                        JobPhase::DataMissing,
                        JobPhase::Running,
                        JobPhase::Ended,
                    ]),
                    On::Kind(JobKind::Classifier, &[JobPhase::Paused]),
                ],
            },
            Hint {
                word: "metric",
                on: &[On::Runs(&[RunsScreen::Chart, RunsScreen::SweepChart])],
            },
            Hint {
                word: "seed",
                on: &[On::Runs(&[RunsScreen::Sweep])],
            },
            Hint {
                word: "columns",
                on: &[On::Runs(&[RunsScreen::Table])],
            },
        ],
    },
    Binding {
        keys: &[
            (KeyCode::Up, Action::Up),
            (KeyCode::Char('k'), Action::Up),
            (KeyCode::Down, Action::Down),
            (KeyCode::Char('j'), Action::Down),
        ],
        scope: Scope::All,
        label: "↑ ↓ / k j",
        hint_label: "↑/↓",
        help: "select a hyperparameter, or a run",
        hints: &[Hint {
            word: "select",
            on: &[
                On::Jobs(&[JobPhase::Idle, JobPhase::DataMissing]),
                On::Kind(JobKind::Classifier, &[JobPhase::Ended]),
                On::Kind(JobKind::Rl, &[JobPhase::Ended]),
                On::Runs(&[RunsScreen::List, RunsScreen::Sweep]),
            ],
        }],
    },
    Binding {
        keys: &[(KeyCode::Enter, Action::BeginEdit)],
        scope: Scope::All,
        label: "Enter",
        hint_label: "Enter",
        help: "type an exact value (Enter applies, Esc cancels)",
        hints: &[Hint {
            word: "type",
            on: &[
                On::Jobs(&[JobPhase::Idle]),
                On::Kind(JobKind::Classifier, &[JobPhase::Ended]),
            ],
        }],
    },
    Binding {
        keys: &[(KeyCode::Enter, Action::OpenRun)],
        scope: Scope::RunsList,
        label: "Enter",
        hint_label: "Enter",
        help: "Runs: a run's curves, marked overlay, sweep table",
        hints: &[
            Hint {
                word: "curves",
                on: &[On::Runs(&[RunsScreen::List])],
            },
            Hint {
                word: "overlay",
                on: &[On::Runs(&[RunsScreen::Marked])],
            },
        ],
    },
    Binding {
        keys: &[
            (KeyCode::Char(' '), Action::ToggleMark),
            (KeyCode::Char('m'), Action::ToggleMark),
        ],
        scope: Scope::RunsList,
        label: "space / m",
        hint_label: "space",
        help: "Runs: mark a run (or a sweep's runs), or unmark",
        hints: &[Hint {
            word: "mark",
            on: &[On::Runs(RUNS_LIST)],
        }],
    },
    Binding {
        keys: &[
            (KeyCode::Esc, Action::Back),
            (KeyCode::Backspace, Action::Back),
        ],
        scope: Scope::RunsList,
        label: "Esc",
        hint_label: "Esc",
        help: "Runs: clear the marks, then the filter",
        hints: &[Hint {
            word: "unmark all",
            on: &[On::Runs(&[RunsScreen::Marked])],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('r'), Action::ResumeRun)],
        scope: Scope::RunsList,
        label: "r",
        hint_label: "r",
        help: "Runs: continue a stopped run in its tab",
        hints: &[Hint {
            word: "resume",
            on: &[On::Runs(RUNS_LIST)],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('d'), Action::DeleteRun)],
        scope: Scope::RunsList,
        label: "d",
        hint_label: "d",
        help: "Runs: delete a run (asks first)",
        hints: &[Hint {
            word: "delete",
            on: &[On::Runs(RUNS_LIST)],
        }],
    },
    Binding {
        keys: &[
            (KeyCode::Esc, Action::Back),
            (KeyCode::Enter, Action::Back),
            (KeyCode::Backspace, Action::Back),
        ],
        scope: Scope::RunsChart,
        label: "Esc / Enter",
        hint_label: "Esc/Enter",
        help: "Runs chart: back to the list (or to the sweep)",
        hints: &[
            Hint {
                word: "back to the list",
                on: &[On::Runs(&[RunsScreen::Chart])],
            },
            Hint {
                word: "back to the sweep",
                on: &[On::Runs(&[RunsScreen::SweepChart])],
            },
        ],
    },
    Binding {
        keys: &[(KeyCode::Char('b'), Action::CycleColourKey)],
        scope: Scope::RunsChart,
        label: "b",
        hint_label: "b",
        help: "Runs sweep overlay: colour by the next grid key",
        hints: &[Hint {
            word: "colour by",
            on: &[On::Runs(&[RunsScreen::SweepChart])],
        }],
    },
    Binding {
        keys: &[(KeyCode::Enter, Action::OpenRun)],
        scope: Scope::RunsSweep,
        label: "Enter",
        hint_label: "Enter",
        help: "Runs sweep: the run of the point and seed (←/→)",
        hints: &[Hint {
            word: "curves",
            on: &[On::Runs(&[RunsScreen::Sweep])],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('a'), Action::OverlaySweep)],
        scope: Scope::RunsSweep,
        label: "a",
        hint_label: "a",
        help: "Runs sweep: every run overlaid, coloured by a key",
        hints: &[Hint {
            word: "overlay all",
            on: &[On::Runs(&[RunsScreen::Sweep])],
        }],
    },
    Binding {
        keys: &[
            (KeyCode::Esc, Action::Back),
            (KeyCode::Backspace, Action::Back),
        ],
        scope: Scope::RunsSweep,
        label: "Esc",
        hint_label: "Esc",
        help: "Runs sweep: back to the list",
        hints: &[Hint {
            word: "back",
            on: &[On::Runs(&[RunsScreen::Sweep])],
        }],
    },
    Binding {
        keys: &[
            (KeyCode::Esc, Action::Back),
            (KeyCode::Char('t'), Action::Back),
            (KeyCode::Backspace, Action::Back),
        ],
        scope: Scope::RunsTable,
        label: "Esc / t",
        hint_label: "Esc/t",
        help: "Runs table: back to the list",
        hints: &[Hint {
            word: "back to the list",
            on: &[On::Runs(&[RunsScreen::Table])],
        }],
    },
    Binding {
        keys: &[
            (KeyCode::Char('?'), Action::ToggleHelp),
            (KeyCode::Esc, Action::CloseOverlay),
        ],
        scope: Scope::All,
        label: "? / Esc",
        hint_label: "?",
        help: "open / close this help",
        hints: &[Hint {
            word: "help",
            on: &[On::All],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('q'), Action::Quit)],
        scope: Scope::All,
        // Ctrl-C is read before the table in every mode (see `map_key`); it is listed here so
        // the help names it.
        label: "q / Ctrl-C",
        hint_label: "q",
        help: "quit (asks while a job runs); Ctrl-C quits at once",
        hints: &[Hint {
            word: "quit",
            on: &[On::All],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('g'), Action::ToggleGpu)],
        scope: Scope::All,
        label: "g",
        hint_label: "g",
        help: "GPU panel: each GPU's use, memory, heat and power",
        hints: &[Hint {
            word: "gpu",
            on: &[On::All],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('i'), Action::ToggleSummary)],
        scope: Scope::All,
        label: "i",
        hint_label: "i",
        help: "classifier: model summary, its layers and shapes",
        hints: &[Hint {
            word: "model",
            // Offered where the network is being chosen or looked back on; while it trains the
            // line's room goes to the job and chart keys (the key works in every phase).
            on: &[On::Kind(
                JobKind::Classifier,
                &[JobPhase::Idle, JobPhase::DataMissing, JobPhase::Ended],
            )],
        }],
    },
    // The chart keys come after the shared ones, in one row of the help: a hint line shows them
    // where it has room (120 columns).
    Binding {
        keys: &[
            (KeyCode::Char('y'), Action::ToggleLogY),
            (KeyCode::Char('['), Action::SmoothLess),
            (KeyCode::Char(']'), Action::SmoothMore),
            (KeyCode::Char('z'), Action::ToggleRecent),
        ],
        scope: Scope::All,
        label: "y / [ ] / z",
        hint_label: "y [/] z",
        help: "charts: log y, smoothing down / up, recent steps",
        hints: &[Hint {
            word: "chart view",
            on: CHARTS,
        }],
    },
    // The Runs list's comparison keys follow: at 80 columns the list's own key line (above the
    // bottom line) has room for the first of them, and the bottom line keeps help and quit.
    Binding {
        keys: &[(KeyCode::Char('t'), Action::OpenTable)],
        scope: Scope::RunsList,
        label: "t",
        hint_label: "t",
        help: "Runs: table of the marked runs' differing settings",
        hints: &[Hint {
            word: "table",
            on: &[On::Runs(&[RunsScreen::Marked])],
        }],
    },
    Binding {
        keys: &[(KeyCode::Char('/'), Action::BeginFilter)],
        scope: Scope::RunsList,
        label: "/",
        hint_label: "/",
        help: "Runs: filter by words (Enter keeps, Esc clears)",
        hints: &[Hint {
            word: "filter",
            on: &[On::Runs(RUNS_LIST)],
        }],
    },
    Binding {
        keys: &[
            (KeyCode::Char('o'), Action::CycleSort),
            (KeyCode::Char('O'), Action::ReverseSort),
        ],
        scope: Scope::RunsList,
        label: "o / O",
        hint_label: "o",
        help: "Runs: sort by the next column / reverse the order",
        hints: &[Hint {
            word: "sort",
            on: &[On::Runs(RUNS_LIST)],
        }],
    },
];

/// Rows a page key scrolls the help by: most of what shows at 80×24, keeping a row of context.
const HELP_PAGE: i32 = 18;

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
                KeyCode::Up | KeyCode::Char('k') => Some(Action::ScrollHelp(-1)),
                KeyCode::Down | KeyCode::Char('j') => Some(Action::ScrollHelp(1)),
                KeyCode::PageUp => Some(Action::ScrollHelp(-HELP_PAGE)),
                KeyCode::PageDown | KeyCode::Char(' ') => Some(Action::ScrollHelp(HELP_PAGE)),
                KeyCode::Home | KeyCode::Char('g') => Some(Action::ScrollHelp(i32::MIN)),
                KeyCode::End | KeyCode::Char('G') => Some(Action::ScrollHelp(i32::MAX)),
                _ => None,
            }
        }
        Overlay::Gpu => {
            return match key.code {
                KeyCode::Char('g') | KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => {
                    Some(Action::CloseOverlay)
                }
                _ => None,
            }
        }
        Overlay::ModelSummary => {
            return match key.code {
                KeyCode::Char('i') | KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => {
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
        // Control keys are never typed into a value; Ctrl-U clears it, as in a shell.
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        return match key.code {
            KeyCode::Enter => Some(Action::EditCommit),
            KeyCode::Esc => Some(Action::EditCancel),
            KeyCode::Backspace => Some(Action::EditBackspace),
            KeyCode::Char('u') if control => Some(Action::EditClear),
            KeyCode::Char(c) if !c.is_control() && !control => Some(Action::EditChar(c)),
            _ => None,
        };
    }
    let view = match app.tab {
        TabId::Runs if app.runs.in_curves() => Scope::RunsChart,
        TabId::Runs if app.runs.in_table() => Scope::RunsTable,
        TabId::Runs if app.runs.in_sweep() => Scope::RunsSweep,
        TabId::Runs => Scope::RunsList,
        _ => Scope::All,
    };
    table_action(view, key.code).or_else(|| table_action(Scope::All, key.code))
}

/// The action the table gives `code` among the bindings read in `scope`.
fn table_action(scope: Scope, code: KeyCode) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| b.scope == scope)
        .flat_map(|b| b.keys)
        .find(|(key, _)| *key == code)
        .map(|&(_, action)| action)
}

/// The bottom line's key hints for a screen, cut after the last hint that fits in `width`
/// columns so no hint shows half; while `watching` a run, only keys that work on a watched run.
pub fn hint_line(context: HintContext, width: usize, watching: bool) -> String {
    fit_hints(usable(hints(context), context, watching), width)
}

/// The hints of a screen's own keys, without those every screen offers (help, quit): for a
/// panel that sits above the full hint line.
pub fn own_hint_line(context: HintContext, width: usize, watching: bool) -> String {
    let own = hints(context).filter(|(_, hint)| !hint.on.contains(&On::All));
    fit_hints(usable(own, context, watching), width)
}

/// Whether `action` does anything while the dashboard follows a run (`gradtop watch`): moving
/// between tabs, help, quitting, browsing the Runs tab, and steering the watched run through its
/// control file (pause/resume, stop, checkpoint, live hyperparameters); but nothing that starts,
/// restarts, resumes or deletes a run.
pub fn allowed_while_watching(action: Action, on_runs_tab: bool) -> bool {
    steers(action)
        || match action {
            Action::GoTab(_)
            | Action::NextTab
            | Action::PrevTab
            | Action::ToggleHelp
            | Action::ScrollHelp(_)
            | Action::ToggleGpu
            | Action::ToggleSummary
            | Action::CloseOverlay
            | Action::Quit
            | Action::ForceQuit
            | Action::ToggleLogY
            | Action::SmoothMore
            | Action::SmoothLess
            | Action::ToggleRecent => true,
            Action::ResumeRun | Action::DeleteRun | Action::ConfirmDelete => false,
            _ => on_runs_tab,
        }
}

/// Whether `action` steers a watched run (through its control file): it does something only
/// while the run trains or is paused, so its hint shows only then.
fn steers(action: Action) -> bool {
    matches!(
        action,
        Action::PauseResume
            | Action::Stop
            | Action::Checkpoint
            | Action::Up
            | Action::Down
            | Action::Left
            | Action::Right
            | Action::BeginEdit
            | Action::EditChar(_)
            | Action::EditBackspace
            | Action::EditClear
            | Action::EditCommit
            | Action::EditCancel
    )
}

/// The hints whose keys work on this screen: all of them, or while watching a run only those
/// [`allowed_while_watching`], its steering keys only while the run is live.
fn usable<'a>(
    items: impl Iterator<Item = (&'a Binding, &'a Hint)>,
    context: HintContext,
    watching: bool,
) -> impl Iterator<Item = (&'a Binding, &'a Hint)> {
    let on_runs_tab = matches!(context, HintContext::Runs(_));
    let live = matches!(
        context,
        HintContext::Job(_, JobPhase::Running | JobPhase::Paused)
    );
    items.filter(move |(binding, _)| {
        !watching
            || binding.keys.iter().any(|&(_, action)| {
                allowed_while_watching(action, on_runs_tab)
                    && (live || on_runs_tab || !steers(action))
            })
    })
}

/// Each binding offered on the `context` screen with the hint it goes by there, in table order:
/// what the hint lines are made of.
pub fn hints(context: HintContext) -> impl Iterator<Item = (&'static Binding, &'static Hint)> {
    BINDINGS.iter().filter_map(move |binding| {
        binding
            .hints
            .iter()
            .find(|hint| hint.on.iter().any(|on| on.covers(context)))
            .map(|hint| (binding, hint))
    })
}

fn fit_hints<'a>(items: impl Iterator<Item = (&'a Binding, &'a Hint)>, width: usize) -> String {
    const SEP: &str = " · ";
    let mut line = String::new();
    for (binding, hint) in items {
        let sep = if line.is_empty() { "" } else { SEP };
        let longer = format!("{line}{sep}{} {}", binding.hint_label, hint.word);
        if Span::raw(longer.as_str()).width() > width {
            break;
        }
        line = longer;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tabs::runs::{CurvesState, CurvesView, RunsView, SweepView, TableView};
    use crate::app::theme::Theme;
    use crate::app::Options;
    use crate::device::DeviceChoice;
    use std::path::PathBuf;

    const PHASES: [JobPhase; 5] = [
        JobPhase::Idle,
        JobPhase::DataMissing,
        JobPhase::Running,
        JobPhase::Paused,
        JobPhase::Ended,
    ];

    fn app() -> App {
        let options = Options {
            fps: 10,
            ascii: false,
            data_dir: None,
            device: DeviceChoice::Cpu,
            scenario: None,
            runs_dir: PathBuf::from("no-such-runs-dir"),
            watch: None,
            max_steps: None,
        };
        App::new(&options, Theme::new(false, false))
    }

    fn press(app: &App, code: KeyCode) -> Option<Action> {
        map_key(app, KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn every_context() -> Vec<HintContext> {
        let jobs = JobKind::ALL
            .into_iter()
            .flat_map(|kind| PHASES.map(|phase| HintContext::Job(kind, phase)));
        let runs = [
            RunsScreen::List,
            RunsScreen::Marked,
            RunsScreen::Chart,
            RunsScreen::Table,
            RunsScreen::Sweep,
            RunsScreen::SweepChart,
        ]
        .map(HintContext::Runs);
        jobs.chain(runs).collect()
    }

    /// The keys every tab reads, and what they asked for before the table existed.
    fn shared_keys() -> Vec<(KeyCode, Option<Action>)> {
        use KeyCode::Char;
        vec![
            (Char('1'), Some(Action::GoTab(TabId::Classifier))),
            (Char('2'), Some(Action::GoTab(TabId::Gan))),
            (Char('3'), Some(Action::GoTab(TabId::Rl))),
            (Char('4'), Some(Action::GoTab(TabId::Runs))),
            (KeyCode::Tab, Some(Action::NextTab)),
            (KeyCode::BackTab, Some(Action::PrevTab)),
            (KeyCode::Up, Some(Action::Up)),
            (Char('k'), Some(Action::Up)),
            (KeyCode::Down, Some(Action::Down)),
            (Char('j'), Some(Action::Down)),
            (KeyCode::Left, Some(Action::Left)),
            (Char('h'), Some(Action::Left)),
            (Char('-'), Some(Action::Left)),
            (KeyCode::Right, Some(Action::Right)),
            (Char('l'), Some(Action::Right)),
            (Char('+'), Some(Action::Right)),
            (Char('='), Some(Action::Right)),
            (KeyCode::Enter, Some(Action::BeginEdit)),
            (Char('s'), Some(Action::StartRestart)),
            (Char(' '), Some(Action::PauseResume)),
            (Char('x'), Some(Action::Stop)),
            (Char('c'), Some(Action::Checkpoint)),
            (Char('u'), Some(Action::UseAlternative)),
            (Char('w'), Some(Action::PlayGreedy)),
            (Char('e'), Some(Action::Export)),
            (Char('v'), Some(Action::ToggleMisclassified)),
            (Char('?'), Some(Action::ToggleHelp)),
            (KeyCode::Esc, Some(Action::CloseOverlay)),
            (Char('q'), Some(Action::Quit)),
            (Char('g'), Some(Action::ToggleGpu)),
            (Char('y'), Some(Action::ToggleLogY)),
            (Char('['), Some(Action::SmoothLess)),
            (Char(']'), Some(Action::SmoothMore)),
            (Char('z'), Some(Action::ToggleRecent)),
            (Char('m'), None),
            (Char('r'), None),
            (Char('d'), None),
            (Char('/'), None),
            (Char('o'), None),
            (Char('O'), None),
            (Char('t'), None),
            (Char('a'), None),
            (Char('b'), None),
            (KeyCode::Backspace, None),
            (KeyCode::F(1), None),
        ]
    }

    /// `shared_keys` with the keys a Runs view reads first put in.
    fn with_overrides(overrides: &[(KeyCode, Option<Action>)]) -> Vec<(KeyCode, Option<Action>)> {
        let mut keys = shared_keys();
        for (code, action) in overrides {
            match keys.iter_mut().find(|(c, _)| c == code) {
                Some(entry) => entry.1 = *action,
                None => keys.push((*code, *action)),
            }
        }
        keys
    }

    #[test]
    fn every_key_on_every_tab_and_runs_view_asks_for_the_same_action_as_before() {
        let mut app = app();
        for tab in [TabId::Classifier, TabId::Gan, TabId::Rl] {
            app.tab = tab;
            for (code, expected) in shared_keys() {
                assert_eq!(press(&app, code), expected, "{code:?} on {tab:?}");
            }
        }
        app.tab = TabId::Runs;
        let list = with_overrides(&[
            (KeyCode::Enter, Some(Action::OpenRun)),
            (KeyCode::Esc, Some(Action::Back)),
            (KeyCode::Backspace, Some(Action::Back)),
            (KeyCode::Char(' '), Some(Action::ToggleMark)),
            (KeyCode::Char('m'), Some(Action::ToggleMark)),
            (KeyCode::Char('r'), Some(Action::ResumeRun)),
            (KeyCode::Char('d'), Some(Action::DeleteRun)),
            (KeyCode::Char('/'), Some(Action::BeginFilter)),
            (KeyCode::Char('o'), Some(Action::CycleSort)),
            (KeyCode::Char('O'), Some(Action::ReverseSort)),
            (KeyCode::Char('t'), Some(Action::OpenTable)),
        ]);
        for (code, expected) in list {
            assert_eq!(press(&app, code), expected, "{code:?} on the Runs list");
        }
        app.runs.view = RunsView::Curves(CurvesView {
            request: 1,
            runs: Vec::new(),
            state: CurvesState::Loading,
            metric: None,
            reload: None,
            refreshes: 0,
            back: None,
            colour_by: None,
        });
        let chart = with_overrides(&[
            (KeyCode::Enter, Some(Action::Back)),
            (KeyCode::Esc, Some(Action::Back)),
            (KeyCode::Backspace, Some(Action::Back)),
            (KeyCode::Char('b'), Some(Action::CycleColourKey)),
        ]);
        for (code, expected) in chart {
            assert_eq!(press(&app, code), expected, "{code:?} on a Runs chart");
        }
        app.runs.view = RunsView::Table(TableView::default());
        let table = with_overrides(&[
            (KeyCode::Esc, Some(Action::Back)),
            (KeyCode::Char('t'), Some(Action::Back)),
            (KeyCode::Backspace, Some(Action::Back)),
        ]);
        for (code, expected) in table {
            assert_eq!(press(&app, code), expected, "{code:?} on the Runs table");
        }
        app.runs.view = RunsView::Sweep(SweepView::default());
        let sweep = with_overrides(&[
            (KeyCode::Enter, Some(Action::OpenRun)),
            (KeyCode::Esc, Some(Action::Back)),
            (KeyCode::Backspace, Some(Action::Back)),
            (KeyCode::Char('a'), Some(Action::OverlaySweep)),
        ]);
        for (code, expected) in sweep {
            assert_eq!(press(&app, code), expected, "{code:?} on a sweep");
        }
    }

    #[test]
    fn typing_a_runs_filter_reads_keys_as_text() {
        let mut app = app();
        app.tab = TabId::Runs;
        assert_eq!(press(&app, KeyCode::Char('/')), Some(Action::BeginFilter));
        app.runs.filtering = true;
        for c in ['q', 'o', 't', '4', ' ', 'd'] {
            assert_eq!(press(&app, KeyCode::Char(c)), Some(Action::EditChar(c)));
        }
        assert_eq!(press(&app, KeyCode::Enter), Some(Action::EditCommit));
        assert_eq!(press(&app, KeyCode::Esc), Some(Action::EditCancel));
        let ctrl_u = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
        assert_eq!(map_key(&app, ctrl_u), Some(Action::EditClear));
        app.tab = TabId::Classifier;
        assert_eq!(
            press(&app, KeyCode::Char('q')),
            Some(Action::Quit),
            "the Runs tab's typing only"
        );
    }

    #[test]
    fn the_modes_before_the_table_read_their_own_keys() {
        let mut app = app();
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(map_key(&app, release), None);
        assert_eq!(map_key(&app, ctrl_c), Some(Action::ForceQuit));

        app.overlay = Overlay::Help;
        for code in [
            KeyCode::Esc,
            KeyCode::Char('?'),
            KeyCode::Char('q'),
            KeyCode::Enter,
        ] {
            assert_eq!(press(&app, code), Some(Action::CloseOverlay), "{code:?}");
        }
        assert_eq!(press(&app, KeyCode::Char('s')), None);
        assert_eq!(map_key(&app, ctrl_c), Some(Action::ForceQuit));
        assert_eq!(press(&app, KeyCode::Down), Some(Action::ScrollHelp(1)));
        assert_eq!(
            press(&app, KeyCode::Char('k')),
            Some(Action::ScrollHelp(-1))
        );
        // Scrolling stops at the help's last page, as drawn last, and at its top.
        app.help_max_scroll.set(5);
        for rows in [1, HELP_PAGE, i32::MAX] {
            crate::app::update::update(&mut app, Action::ScrollHelp(rows));
        }
        assert_eq!(app.help_scroll, 5);
        crate::app::update::update(&mut app, Action::ScrollHelp(-1));
        assert_eq!(app.help_scroll, 4);
        crate::app::update::update(&mut app, Action::ScrollHelp(i32::MIN));
        assert_eq!(app.help_scroll, 0);

        app.overlay = Overlay::ConfirmQuit;
        for code in ['y', 'Y', 'q'].map(KeyCode::Char) {
            assert_eq!(press(&app, code), Some(Action::ForceQuit), "{code:?}");
        }
        assert_eq!(press(&app, KeyCode::Char('n')), Some(Action::CloseOverlay));

        app.overlay = Overlay::ConfirmDelete;
        for code in ['y', 'Y'].map(KeyCode::Char) {
            assert_eq!(press(&app, code), Some(Action::ConfirmDelete), "{code:?}");
        }
        assert_eq!(press(&app, KeyCode::Char('d')), Some(Action::CloseOverlay));

        app.overlay = Overlay::None;
        app.classifier.job.panel.editing = Some("1e-3".into());
        assert_eq!(press(&app, KeyCode::Enter), Some(Action::EditCommit));
        assert_eq!(press(&app, KeyCode::Esc), Some(Action::EditCancel));
        assert_eq!(press(&app, KeyCode::Backspace), Some(Action::EditBackspace));
        assert_eq!(press(&app, KeyCode::Char('q')), Some(Action::EditChar('q')));
        assert_eq!(press(&app, KeyCode::Up), None);
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(map_key(&app, ctrl('u')), Some(Action::EditClear));
        assert_eq!(map_key(&app, ctrl('k')), None, "no control key is typed in");
        assert_eq!(map_key(&app, ctrl_c), Some(Action::ForceQuit));
    }

    #[test]
    fn no_key_is_bound_twice_where_it_is_read() {
        for scope in [
            Scope::All,
            Scope::RunsList,
            Scope::RunsChart,
            Scope::RunsTable,
            Scope::RunsSweep,
        ] {
            let codes: Vec<KeyCode> = BINDINGS
                .iter()
                .filter(|b| b.scope == scope)
                .flat_map(|b| b.keys.iter().map(|(code, _)| *code))
                .collect();
            for (i, code) in codes.iter().enumerate() {
                assert!(!codes[..i].contains(code), "{code:?} twice in {scope:?}");
            }
        }
    }

    #[test]
    fn every_binding_is_named_and_says_one_word_per_screen() {
        for binding in BINDINGS {
            assert!(!binding.keys.is_empty(), "{binding:?}");
            assert!(!binding.label.is_empty() && !binding.hint_label.is_empty());
            assert!(!binding.help.is_empty(), "{}", binding.label);
            for context in every_context() {
                let words = binding
                    .hints
                    .iter()
                    .filter(|h| h.on.iter().any(|on| on.covers(context)))
                    .count();
                assert!(
                    words <= 1,
                    "{} has {words} words on {context:?}",
                    binding.label
                );
            }
        }
    }

    /// The hint line of each screen as the bottom line of an 80-column terminal shows it.
    fn at_80(context: HintContext) -> String {
        hint_line(context, 79, false)
    }

    #[test]
    fn job_tabs_offer_the_keys_of_their_phase_within_80_columns() {
        use JobKind::{Classifier, Gan, Rl};
        let idle = "s start · ←/→ change · ↑/↓ select · Enter type · ? help · q quit · g gpu";
        let missing = "u use the dataset found · f fetch it · ←/→ change · ↑/↓ select · ? help";
        for kind in [Classifier, Gan, Rl] {
            assert_eq!(at_80(HintContext::Job(kind, JobPhase::Idle)), idle);
        }
        for kind in [Classifier, Gan] {
            assert_eq!(
                at_80(HintContext::Job(kind, JobPhase::DataMissing)),
                missing
            );
        }
        let expected = [
            (
                Classifier,
                JobPhase::Running,
                "space pause · s restart · x stop · c save · v mistakes · ←/→ change · ? help",
            ),
            (
                Classifier,
                JobPhase::Paused,
                "space resume · s restart · x stop · c save · v mistakes · ←/→ change · ? help",
            ),
            (
                Classifier,
                JobPhase::Ended,
                "s start again · v mistakes · ←/→ change · ↑/↓ select · Enter type · ? help",
            ),
            (
                Gan,
                JobPhase::Running,
                "space pause · s restart · x stop · e export · ←/→ change · ? help · q quit",
            ),
            (
                Gan,
                JobPhase::Paused,
                "space resume · s restart · x stop · e export · ? help · q quit · g gpu",
            ),
            (
                Gan,
                JobPhase::Ended,
                "s start again · e export · ←/→ change · ? help · q quit · g gpu",
            ),
            (
                Rl,
                JobPhase::Running,
                "space pause · s restart · x stop · w play greedy · ←/→ change · ? help · q quit",
            ),
            (
                Rl,
                JobPhase::Paused,
                "space resume · s restart · x stop · w play greedy · ? help · q quit · g gpu",
            ),
            (
                Rl,
                JobPhase::Ended,
                "s start again · ←/→ change · ↑/↓ select · ? help · q quit · g gpu",
            ),
        ];
        for (kind, phase, line) in expected {
            assert_eq!(
                at_80(HintContext::Job(kind, phase)),
                line,
                "{kind:?} {phase:?}"
            );
        }
    }

    #[test]
    fn runs_views_offer_their_own_keys_within_80_columns() {
        assert_eq!(
            at_80(HintContext::Runs(RunsScreen::List)),
            "↑/↓ select · Enter curves · space mark · r resume · d delete · ? help · q quit"
        );
        assert_eq!(
            at_80(HintContext::Runs(RunsScreen::Marked)),
            "Enter overlay · space mark · Esc unmark all · r resume · d delete · ? help"
        );
        assert_eq!(
            at_80(HintContext::Runs(RunsScreen::Chart)),
            "←/→ metric · Esc/Enter back to the list · ? help · q quit · g gpu"
        );
        assert_eq!(
            at_80(HintContext::Runs(RunsScreen::Table)),
            "←/→ columns · Esc/t back to the list · ? help · q quit · g gpu"
        );
        assert_eq!(
            at_80(HintContext::Runs(RunsScreen::Sweep)),
            "←/→ seed · ↑/↓ select · Enter curves · a overlay all · Esc back · ? help"
        );
        assert_eq!(
            at_80(HintContext::Runs(RunsScreen::SweepChart)),
            "←/→ metric · Esc/Enter back to the sweep · b colour by · ? help · q quit"
        );
        assert_eq!(
            own_hint_line(HintContext::Runs(RunsScreen::List), 78, false),
            "↑/↓ select · Enter curves · space mark · r resume · d delete · / filter"
        );
        assert_eq!(
            own_hint_line(HintContext::Runs(RunsScreen::Marked), 78, false),
            "Enter overlay · space mark · Esc unmark all · r resume · d delete · t table"
        );
        assert_eq!(
            own_hint_line(HintContext::Runs(RunsScreen::List), 118, false),
            "↑/↓ select · Enter curves · space mark · r resume · d delete · / filter · o sort"
        );
    }

    #[test]
    fn watching_offers_the_steering_keys_only_while_the_run_is_live() {
        for kind in JobKind::ALL {
            for phase in [JobPhase::Idle, JobPhase::DataMissing, JobPhase::Ended] {
                let line = hint_line(HintContext::Job(kind, phase), 200, true);
                // The model summary shows the watched run's network: it changes nothing.
                let summary = if kind == JobKind::Classifier {
                    " · i model"
                } else {
                    ""
                };
                assert_eq!(
                    line,
                    format!("? help · q quit · g gpu{summary} · y [/] z chart view"),
                    "{kind:?} {phase:?}"
                );
            }
            for phase in [JobPhase::Running, JobPhase::Paused] {
                let line = hint_line(HintContext::Job(kind, phase), 200, true);
                let offered = hint_line(HintContext::Job(kind, phase), 200, false);
                for word in ["space ", "x stop"] {
                    assert!(line.contains(word), "{kind:?} {phase:?}: {line}");
                }
                assert!(
                    !line.contains("s restart") && !line.contains("s start"),
                    "{kind:?} {phase:?}: {line}"
                );
                // Every steering hint the live job offers, the watched run offers too.
                for hint in offered.split(" · ").filter(|h| !h.starts_with("s ")) {
                    if !hint.starts_with("w ") && !hint.starts_with("e ") && !hint.starts_with("v ")
                    {
                        assert!(line.contains(hint), "{kind:?} {phase:?}: {hint} in {line}");
                    }
                }
            }
        }
        assert_eq!(
            hint_line(
                HintContext::Job(JobKind::Classifier, JobPhase::Running),
                200,
                true
            ),
            "space pause · x stop · c save · ←/→ change · ? help · q quit · g gpu · y [/] z chart view"
        );
        assert_eq!(
            hint_line(HintContext::Runs(RunsScreen::List), 200, true),
            "↑/↓ select · Enter curves · space mark · ? help · q quit · g gpu · / filter · o sort"
        );
        assert_eq!(
            own_hint_line(HintContext::Runs(RunsScreen::Marked), 200, true),
            "Enter overlay · space mark · Esc unmark all · t table · / filter · o sort"
        );
    }

    #[test]
    fn watching_refuses_what_starts_resumes_or_deletes_a_run_but_steers_it() {
        for action in [
            Action::PauseResume,
            Action::Stop,
            Action::Checkpoint,
            Action::Left,
            Action::EditCommit,
        ] {
            assert!(allowed_while_watching(action, false), "{action:?}");
        }
        for action in [
            Action::StartRestart,
            Action::ResumeRun,
            Action::DeleteRun,
            Action::ConfirmDelete,
            Action::FetchData,
            Action::PlayGreedy,
        ] {
            assert!(!allowed_while_watching(action, false), "{action:?}");
        }
        for action in [Action::ResumeRun, Action::DeleteRun, Action::ConfirmDelete] {
            assert!(!allowed_while_watching(action, true), "{action:?}");
        }
    }

    #[test]
    fn a_narrow_line_is_cut_between_hints_and_a_wide_one_shows_them_all() {
        let running = HintContext::Job(JobKind::Classifier, JobPhase::Running);
        let full = hint_line(running, 200, false);
        assert!(
            full.ends_with("? help · q quit · g gpu · y [/] z chart view"),
            "{full}"
        );
        assert_eq!(
            full,
            format!("{} · q quit · g gpu · y [/] z chart view", at_80(running))
        );
        for context in every_context() {
            let line = at_80(context);
            assert!(Span::raw(line.as_str()).width() <= 79, "{line}");
            assert!(hint_line(context, 200, false).starts_with(&line), "{line}");
            assert!(line.contains("? help"), "{context:?}: {line}");
        }
        assert_eq!(hint_line(running, 10, false), "");
    }

    #[test]
    fn every_offered_key_asks_for_its_action_on_its_screen() {
        let mut app = app();
        for context in every_context() {
            let scope = match context {
                HintContext::Job(kind, _) => {
                    app.tab = TabId::of(kind);
                    Scope::All
                }
                HintContext::Runs(screen) => {
                    app.tab = TabId::Runs;
                    app.runs.view = RunsView::List;
                    if screen == RunsScreen::Table {
                        app.runs.view = RunsView::Table(TableView::default());
                        Scope::RunsTable
                    } else if screen == RunsScreen::Sweep {
                        app.runs.view = RunsView::Sweep(SweepView::default());
                        Scope::RunsSweep
                    } else if matches!(screen, RunsScreen::Chart | RunsScreen::SweepChart) {
                        app.runs.view = RunsView::Curves(CurvesView {
                            request: 1,
                            runs: Vec::new(),
                            state: CurvesState::Loading,
                            metric: None,
                            reload: None,
                            refreshes: 0,
                            back: (screen == RunsScreen::SweepChart).then(SweepView::default),
                            colour_by: None,
                        });
                        Scope::RunsChart
                    } else {
                        Scope::RunsList
                    }
                }
            };
            for (binding, hint) in hints(context) {
                assert!(
                    binding.scope == Scope::All || binding.scope == scope,
                    "{} {} offered where it is not read",
                    binding.hint_label,
                    hint.word
                );
                // The first key is the one the hint names first (`?` of `?`/Esc).
                let (code, action) = binding.keys[0];
                assert_eq!(
                    press(&app, code),
                    Some(action),
                    "{} {} on {context:?}",
                    binding.hint_label,
                    hint.word
                );
            }
        }
    }
}
