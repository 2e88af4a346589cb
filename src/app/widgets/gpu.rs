//! The GPU panel (an overlay on `g`) and the top bar's compact GPU figure: each GPU's name,
//! utilisation with its recent history, memory, temperature, power and this process's share.

use std::collections::VecDeque;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use crate::app::theme::Theme;
use crate::gpu::{GpuReading, GpuStatus};

/// Widest the panel grows, border included.
const MAX_WIDTH: u16 = 76;
/// Utilisation readings kept per GPU for the sparkline (one a second).
const HISTORY: usize = 60;

/// What the dashboard knows of the GPUs: the latest status and each GPU's recent utilisation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuView {
    /// The latest status; `None` until the first reading arrives.
    pub status: Option<GpuStatus>,
    /// Utilisation history per GPU index, percent, oldest first.
    pub history: Vec<VecDeque<u32>>,
}

impl GpuView {
    /// Takes a new status, extending each GPU's utilisation history.
    pub fn on_status(&mut self, status: GpuStatus) {
        if let GpuStatus::Present(readings) = &status {
            for r in readings {
                let i = r.index as usize;
                if self.history.len() <= i {
                    self.history.resize_with(i + 1, VecDeque::new);
                }
                let h = &mut self.history[i];
                h.push_back(r.util_percent);
                if h.len() > HISTORY {
                    h.pop_front();
                }
            }
        }
        self.status = Some(status);
    }

    /// The top bar's figure: the busiest GPU's utilisation and memory, e.g. `gpu 45% 3.1/80G`;
    /// nothing without GPUs.
    pub fn compact(&self) -> Option<String> {
        let Some(GpuStatus::Present(readings)) = &self.status else {
            return None;
        };
        let busiest = readings.iter().max_by_key(|r| r.util_percent)?;
        let more = if readings.len() > 1 {
            format!(" ({} GPUs)", readings.len())
        } else {
            String::new()
        };
        Some(format!(
            "gpu {}% {}/{}G{more}",
            busiest.util_percent,
            gib(busiest.mem_used_mib),
            gib(busiest.mem_total_mib)
        ))
    }
}

/// MiB as GiB with one decimal below 100 GiB.
fn gib(mib: u64) -> String {
    let g = mib as f64 / 1024.0;
    if g < 100.0 {
        format!("{g:.1}")
    } else {
        format!("{g:.0}")
    }
}

/// Utilisation history on a fixed 0–100 % scale.
fn util_sparkline(history: &VecDeque<u32>, width: usize, theme: &Theme) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    const ASCII: [char; 8] = ['_', '.', '-', '~', '=', '+', '*', '#'];
    let glyphs = if theme.ascii { &ASCII } else { &BARS };
    let skip = history.len().saturating_sub(width);
    history
        .iter()
        .skip(skip)
        .map(|&u| glyphs[(u.min(100) as usize * 7 + 50) / 100])
        .collect()
}

/// The lines describing one GPU.
fn gpu_lines(r: &GpuReading, history: Option<&VecDeque<u32>>, theme: &Theme) -> Vec<Line<'static>> {
    let sep = theme.sep();
    let mut figures = vec![format!(
        "mem {}/{} GiB",
        gib(r.mem_used_mib),
        gib(r.mem_total_mib)
    )];
    if let Some(t) = r.temperature_c {
        figures.push(format!("{t}°C"));
    }
    if let Some(p) = r.power_w {
        figures.push(format!("{p:.0} W"));
    }
    figures.push(match r.own_mem_mib {
        Some(mib) => format!("gradtop {} GiB", gib(mib)),
        None => "gradtop none".to_string(),
    });
    let spark = history
        .map(|h| util_sparkline(h, 30, theme))
        .unwrap_or_default();
    vec![
        Line::styled(format!("{} {}", r.index, r.name), theme.bold()),
        Line::raw(format!("  util {:>3}% {spark}", r.util_percent)),
        Line::raw(format!("  {}", figures.join(sep))),
    ]
}

/// Draws the GPU panel centred in `area`.
pub fn render_gpu_panel(view: &GpuView, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let lines: Vec<Line<'static>> = match &view.status {
        None => vec![Line::raw("reading the GPUs…")],
        Some(GpuStatus::Absent(why)) => vec![Line::styled(why.clone(), theme.warn())],
        Some(GpuStatus::Present(readings)) if readings.is_empty() => {
            vec![Line::raw("the NVIDIA driver reports no GPU")]
        }
        Some(GpuStatus::Present(readings)) => readings
            .iter()
            .flat_map(|r| gpu_lines(r, view.history.get(r.index as usize), theme))
            .collect(),
    };
    let width = lines
        .iter()
        .map(|l| l.width() as u16 + 2)
        .max()
        .unwrap_or(20)
        .clamp(30, area.width.min(MAX_WIDTH));
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (rows as u16 + 2).min(area.height);
    let rect = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" GPUs · g or Esc closes "))
        .render(rect, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(index: u32, util: u32) -> GpuReading {
        GpuReading {
            index,
            name: "NVIDIA H200".into(),
            util_percent: util,
            mem_used_mib: 3 * 1024 + 100,
            mem_total_mib: 143_771,
            temperature_c: Some(41),
            power_w: Some(118.6),
            own_mem_mib: Some(2900),
        }
    }

    fn text(buf: &Buffer) -> String {
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_panel_shows_each_gpu_from_its_readings() {
        let mut view = GpuView::default();
        for util in [0, 50, 100] {
            view.on_status(GpuStatus::Present(vec![reading(0, util), reading(1, 7)]));
        }
        let theme = Theme::new(true, false);
        let mut buf = Buffer::empty(Rect::new(0, 0, 80, 24));
        render_gpu_panel(&view, buf.area, &mut buf, &theme);
        let screen = text(&buf);
        for needle in [
            "0 NVIDIA H200",
            "1 NVIDIA H200",
            "util 100% ▁▅█",
            "mem 3.1/140 GiB",
            "41°C",
            "119 W",
            "gradtop 2.8 GiB",
        ] {
            assert!(screen.contains(needle), "{needle:?} in\n{screen}");
        }
        assert_eq!(
            view.compact().as_deref(),
            Some("gpu 100% 3.1/140G (2 GPUs)")
        );
    }

    #[test]
    fn without_a_driver_the_panel_says_so_and_the_top_bar_shows_nothing() {
        let mut view = GpuView::default();
        view.on_status(GpuStatus::Absent("no NVIDIA driver found".into()));
        let theme = Theme::new(true, false);
        let mut buf = Buffer::empty(Rect::new(0, 0, 80, 24));
        render_gpu_panel(&view, buf.area, &mut buf, &theme);
        assert!(text(&buf).contains("no NVIDIA driver found"));
        assert_eq!(view.compact(), None);
    }
}
