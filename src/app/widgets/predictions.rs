//! A grid of test images, each with its true label and the model's top three guesses: the
//! classifier's sample pane, sized to show as many as the pane holds.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::image::{fit_rgb, rgb_image_lines, ImageMode};
use crate::app::theme::Theme;
use crate::models::classifier::SamplePrediction;

/// Columns of one image: 28 pixels halved (other sizes are resized to it).
pub const IMAGE_W: u16 = 14;
/// Rows of one image: 14 pixel rows, two per half-block cell.
pub const IMAGE_H: u16 = 7;
/// Rows from one cell's top to the next one's: the image and a blank row between cells.
pub const CELL_PITCH_H: u16 = IMAGE_H + 1;
/// Text columns below which a cell's guesses are cut rather than given more room: " 91% " and
/// six letters of the class name (Fashion-MNIST's longest, "Pullover", has eight).
pub const MIN_TEXT_W: u16 = 11;
/// Columns a guess takes before its class name: `" 91% "`.
const PERCENT_W: u16 = 5;

/// How a pane of a given size is divided into prediction cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictionGrid {
    /// Cells per row.
    pub cols: u16,
    /// Rows of cells.
    pub rows: u16,
    /// Text columns right of each image.
    pub text_w: u16,
}

/// Text columns the longest guess of these classes takes (`" 91% Pullover"`).
pub fn full_text_width<S: AsRef<str>>(class_names: &[S]) -> u16 {
    let longest = class_names.iter().map(|n| n.as_ref().chars().count()).max();
    PERCENT_W + longest.unwrap_or(0) as u16
}

impl PredictionGrid {
    /// The grid for a pane of `width × height` cells (inside its border) whose guesses take
    /// `full_text_w` columns uncut: as many cells as fit with at least [`MIN_TEXT_W`] (or the
    /// full width, if less) of text each, the spare columns going to the text. Always at least
    /// one column, so a narrow pane still shows a cut-down cell rather than nothing.
    pub fn fit(width: u16, height: u16, full_text_w: u16) -> Self {
        let min_text = MIN_TEXT_W.min(full_text_w);
        // A cell is image, gap, text; cells are a column apart: `cols * (cell + 1) - 1`.
        let pitch = |text: u16| IMAGE_W + 1 + text + 1;
        let cols = ((width + 1) / pitch(min_text)).max(1);
        let room = ((width + 1) / cols).saturating_sub(IMAGE_W + 2);
        Self {
            cols,
            rows: (height + 1) / CELL_PITCH_H,
            text_w: room.min(full_text_w),
        }
    }

    /// Columns (inside the border) that `cols` uncut cells take: what a layout gives the pane
    /// so that no column is left over.
    pub fn width_for(cols: u16, full_text_w: u16) -> u16 {
        (cols * (IMAGE_W + 1 + full_text_w + 1)).saturating_sub(1)
    }

    /// Cells the grid holds.
    pub fn capacity(&self) -> usize {
        usize::from(self.cols) * usize::from(self.rows)
    }
}

/// Draws as many of `samples` as fit in `area` (inside the pane's border), row by row.
pub fn render_predictions(
    area: Rect,
    buf: &mut Buffer,
    samples: &[SamplePrediction],
    class_names: &[String],
    theme: &Theme,
) {
    let grid = PredictionGrid::fit(area.width, area.height, full_text_width(class_names));
    let mode = if theme.ascii || theme.no_color {
        ImageMode::Ascii
    } else {
        ImageMode::HalfBlock
    };
    let cell_w = IMAGE_W + 1 + grid.text_w;
    for (i, sample) in samples.iter().take(grid.capacity()).enumerate() {
        let (col, row) = (i as u16 % grid.cols, i as u16 / grid.cols);
        let x = area.x + col * (cell_w + 1);
        let y = area.y + row * CELL_PITCH_H;
        let (w, h) = (usize::from(IMAGE_W), 2 * usize::from(IMAGE_H));
        let small = fit_rgb(&sample.pixels, sample.shape, w, h);
        let image_w = IMAGE_W.min(area.width);
        for (r, line) in rgb_image_lines(&small, w, h, mode).iter().enumerate() {
            buf.set_line(x, y + r as u16, line, image_w);
        }
        let text_x = x + IMAGE_W + 1;
        let text_w = (area.x + area.width)
            .saturating_sub(text_x)
            .min(grid.text_w);
        for (r, line) in cell_text(sample, class_names, theme).iter().enumerate() {
            buf.set_line(text_x, y + 1 + r as u16, line, text_w);
        }
    }
}

/// The true label with a verdict mark, then the three guesses with their probabilities.
fn cell_text(
    sample: &SamplePrediction,
    class_names: &[String],
    theme: &Theme,
) -> Vec<Line<'static>> {
    let name = |class: u8| {
        class_names
            .get(usize::from(class))
            .map_or("?", String::as_str)
    };
    let verdict = if sample.top3[0].0 == sample.label {
        Span::styled(if theme.ascii { "ok " } else { "✓ " }, theme.good())
    } else {
        Span::styled(if theme.ascii { "no " } else { "✗ " }, theme.error())
    };
    let mut lines = vec![Line::from(vec![
        verdict,
        Span::raw(name(sample.label).to_string()),
    ])];
    for (class, p) in sample.top3 {
        lines.push(Line::raw(format!("{:>3.0}% {}", p * 100.0, name(class))));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetName;

    #[test]
    fn text_width_follows_the_longest_class_name() {
        assert_eq!(full_text_width(DatasetName::Mnist.class_names()), 6);
        // "Pullover" is eight letters.
        assert_eq!(full_text_width(DatasetName::FashionMnist.class_names()), 13);
    }

    #[test]
    fn a_pane_holds_whole_cells_and_gives_spare_columns_to_the_text() {
        // Digits: 14 + 1 + 6 = 21 columns a cell, one between cells.
        assert_eq!(
            PredictionGrid::fit(43, 19, 6),
            PredictionGrid {
                cols: 2,
                rows: 2,
                text_w: 6
            }
        );
        assert_eq!(PredictionGrid::fit(42, 19, 6).cols, 1);
        // 7 image rows and a gap: 56 rows hold 7 cells down, 55 only 6 (the last needs no gap).
        assert_eq!(PredictionGrid::fit(87, 55, 6).rows, 7);
        assert_eq!(PredictionGrid::fit(87, 54, 6).rows, 6);
        assert_eq!(PredictionGrid::fit(87, 56, 6).capacity(), 28);
        // Fashion guesses are cut to 11 columns before a column of cells is given up, and get
        // the room that is left over otherwise.
        let g = PredictionGrid::fit(56, 19, 13);
        assert_eq!((g.cols, g.text_w), (2, 12));
        let g = PredictionGrid::fit(89, 19, 13);
        assert_eq!((g.cols, g.text_w), (3, 13));
    }

    #[test]
    fn a_narrow_pane_still_shows_one_cut_cell_and_a_flat_one_none() {
        let g = PredictionGrid::fit(20, 7, 16);
        assert_eq!((g.cols, g.rows, g.text_w), (1, 1, 5));
        assert_eq!(PredictionGrid::fit(40, 6, 6).capacity(), 0);
    }

    #[test]
    fn width_for_is_the_narrowest_pane_that_fits_that_many_uncut_cells() {
        for (cols, text) in [(1, 6), (2, 6), (4, 6), (3, 13)] {
            let w = PredictionGrid::width_for(cols, text);
            let g = PredictionGrid::fit(w, 7, text);
            assert_eq!((g.cols, g.text_w), (cols, text), "{cols} × {text}");
            let narrower = PredictionGrid::fit(w - 1, 7, text);
            assert!(
                narrower.cols < cols || narrower.text_w < text,
                "{narrower:?}"
            );
        }
    }
}
