//! Draws the whole screen from the state: tab bar, the visible tab, the bottom line, overlays.
//! Pure: no I/O, no clock, no channels.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};
use ratatui::Frame;

use super::keymap::hint_line;
use super::tabs::runs;
use super::widgets::help::render_help;
use super::widgets::params::gauge_line;
use super::{App, Overlay, TabId, ToastLevel};
use crate::jobs::JobKind;

/// The smallest terminal the layout is designed for.
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// Draws the app into a frame.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    render_into(app, area, frame.buffer_mut());
}

/// Draws the app into any buffer (what tests call with a `TestBackend`).
pub fn render_into(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let mut msg = format!(
            "gradtop needs a terminal of at least {}×{}; this one is {}×{}. Enlarge it or press q.",
            MIN_SIZE.0, MIN_SIZE.1, area.width, area.height
        );
        if app.overlay == Overlay::ConfirmQuit {
            // The question must be seen wherever q was pressed.
            msg = format!("A job is running. Quit anyway? y quits, any other key stays. {msg}");
        }
        Paragraph::new(msg)
            .wrap(Wrap { trim: true })
            .render(area, buf);
        return;
    }
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_tab_bar(app, top, buf);
    match app.tab.kind() {
        Some(kind) => app.tab(kind).render(body, buf, theme, &app.chart),
        None => runs::render(&app.runs, body, buf, theme, &app.chart),
    }
    render_bottom(app, bottom, buf);
    match app.overlay {
        Overlay::Help => app
            .help_max_scroll
            .set(render_help(area, buf, theme, app.help_scroll)),
        Overlay::Gpu => super::widgets::gpu::render_gpu_panel(&app.gpu, body, buf, theme),
        Overlay::ModelSummary => super::widgets::summary::render_model_summary(
            &app.classifier.model_summary(),
            body,
            buf,
            theme,
        ),
        Overlay::ConfirmQuit => render_confirm(app, body, buf),
        Overlay::ConfirmDelete => runs::render_confirm_delete(&app.runs, body, buf, theme),
        Overlay::None => {}
    }
}

fn render_tab_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let mut spans = vec![Span::styled(" gradtop ", theme.bold()), Span::raw(" ")];
    for (i, tab) in TabId::ALL.iter().enumerate() {
        let label = format!("[{} {}]", i + 1, tab.title());
        let style = if *tab == app.tab {
            theme.highlight()
        } else {
            ratatui::style::Style::new()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    let tabs = Line::from(spans);
    let tabs_w = tabs.width() as u16;
    buf.set_line(area.x, area.y, &tabs, area.width);
    let jobs = app.active_jobs();
    let status = match (jobs, &app.watching) {
        // Following a run or a log folder from the Runs tab: no job of this dashboard's.
        (0, Some(path)) if app.tab == TabId::Runs => format!(
            "watching {}",
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        ),
        (0, _) => app
            .tab(app.tab.kind().unwrap_or(JobKind::Classifier))
            .top_bar_status(),
        (1, _) => "1 job running".to_string(),
        (n, _) => format!("{n} jobs running"),
    };
    let sep = theme.sep();
    // The right side never covers the tabs: on a narrow screen the clock goes first, then
    // the device.
    let device = match app.gpu.compact() {
        Some(gpu) => format!("{}{sep}{gpu}", app.device_label),
        None => app.device_label.clone(),
    };
    let candidates = [
        format!("{device}{sep}{status}{sep}{} ", app.clock),
        format!("{device}{sep}{status} "),
        format!("{}{sep}{status} ", app.device_label),
        format!("{status} "),
    ];
    if let Some(right) = candidates
        .into_iter()
        .find(|r| tabs_w + (r.chars().count() as u16) < area.width)
    {
        let w = right.chars().count() as u16;
        buf.set_string(area.x + area.width - w, area.y, right, theme.dim());
    }
}

fn render_bottom(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let line = if let Some(toast) = &app.toast {
        let style = match toast.level {
            ToastLevel::Info => theme.good(),
            ToastLevel::Warn => theme.warn(),
            ToastLevel::Error => theme.error(),
        };
        Line::styled(format!(" {}", toast.text), style)
    } else if app.overlay == Overlay::ConfirmDelete {
        Line::styled(" y deletes the run · any other key keeps it", theme.warn())
    } else if app.is_editing() && app.tab == TabId::Runs {
        Line::styled(
            " filter: type words to match · Enter keeps the filter · Esc clears it",
            theme.warn(),
        )
    } else if app.is_editing() {
        Line::styled(" type a value · Enter applies · Esc cancels", theme.warn())
    } else if let Some(fetching) = &app.fetching {
        let bar = gauge_line(fetching.fraction(), 24, theme);
        Line::styled(format!(" {bar} · {}", fetching.describe()), theme.good())
    } else {
        let context = match app.tab.kind() {
            Some(kind) => app.tab(kind).hint_context(),
            None => app.runs.hint_context(),
        };
        let width = usize::from(area.width.saturating_sub(1));
        let hints = hint_line(context, width, app.watching.is_some());
        Line::styled(format!(" {hints}"), theme.dim())
    };
    buf.set_line(area.x, area.y, &line, area.width);
}

fn render_confirm(app: &App, area: Rect, buf: &mut Buffer) {
    let (w, h) = (56.min(area.width), 4);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height.saturating_sub(h)) / 2,
        w,
        h,
    );
    Clear.render(rect, buf);
    let n = app.active_jobs();
    Paragraph::new(vec![
        Line::raw(format!(
            "{n} job{} still running.",
            if n == 1 { " is" } else { "s are" }
        )),
        Line::styled(
            "Quit and stop it? y quits, any other key stays.",
            app.theme.warn(),
        ),
    ])
    .wrap(Wrap { trim: true })
    .block(Block::bordered().title(" quit? "))
    .render(rect, buf);
}
