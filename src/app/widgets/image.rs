//! Greyscale images as text: Unicode half-blocks (two pixel rows per cell, grey levels as
//! foreground/background colours) or a plain-ASCII ramp for terminals without them.

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

/// The ASCII ramp from dark to bright, ten levels.
pub const ASCII_RAMP: &[u8; 10] = b" .:-=+*#%@";

/// How to draw pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageMode {
    /// `▀` with grey foreground (upper pixel) and background (lower pixel).
    HalfBlock,
    /// One character per pixel pair from [`ASCII_RAMP`]; works everywhere, also without colour.
    Ascii,
}

/// Averages `factor × factor` blocks so a 28×28 image fits a 14-wide cell.
pub fn downsample(
    pixels: &[u8],
    width: usize,
    height: usize,
    factor: usize,
) -> (Vec<u8>, usize, usize) {
    let factor = factor.max(1);
    let (w, h) = (width / factor, height / factor);
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0u32;
            for dy in 0..factor {
                for dx in 0..factor {
                    sum += pixels[(y * factor + dy) * width + x * factor + dx] as u32;
                }
            }
            out.push((sum / (factor * factor) as u32) as u8);
        }
    }
    (out, w, h)
}

/// Renders an image as lines: `height / 2` lines of `width` cells (an odd last row is padded
/// with black).
pub fn image_lines(
    pixels: &[u8],
    width: usize,
    height: usize,
    mode: ImageMode,
) -> Vec<Line<'static>> {
    let px = |x: usize, y: usize| if y < height { pixels[y * width + x] } else { 0 };
    (0..height.div_ceil(2))
        .map(|row| {
            let (top, bottom) = (2 * row, 2 * row + 1);
            match mode {
                ImageMode::HalfBlock => Line::from(
                    (0..width)
                        .map(|x| {
                            let (a, b) = (px(x, top), px(x, bottom));
                            Span::styled(
                                "▀",
                                Style::new().fg(Color::Rgb(a, a, a)).bg(Color::Rgb(b, b, b)),
                            )
                        })
                        .collect::<Vec<_>>(),
                ),
                ImageMode::Ascii => Line::from(
                    (0..width)
                        .map(|x| {
                            let v = (px(x, top) as usize + px(x, bottom) as usize) / 2;
                            ASCII_RAMP[v * ASCII_RAMP.len() / 256] as char
                        })
                        .collect::<String>(),
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_of_a_known_image() {
        // 3 wide, 2 tall: black, mid-grey, white columns.
        let pixels = [0, 128, 255, 0, 128, 255];
        let lines = image_lines(&pixels, 3, 2, ImageMode::Ascii);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].to_string(), " +@");
    }

    #[test]
    fn half_blocks_carry_both_pixel_rows() {
        let pixels = [10, 20, 30, 40, 50, 60];
        let lines = image_lines(&pixels, 2, 3, ImageMode::HalfBlock);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].to_string(), "▀▀");
        let first = &lines[0].spans[0];
        assert_eq!(first.style.fg, Some(Color::Rgb(10, 10, 10)));
        assert_eq!(first.style.bg, Some(Color::Rgb(30, 30, 30)));
        // The odd last row pads with black underneath.
        assert_eq!(lines[1].spans[1].style.fg, Some(Color::Rgb(60, 60, 60)));
        assert_eq!(lines[1].spans[1].style.bg, Some(Color::Rgb(0, 0, 0)));
    }

    #[test]
    fn downsample_averages_blocks() {
        let pixels = [0, 100, 200, 255, 0, 100, 200, 255];
        let (out, w, h) = downsample(&pixels, 4, 2, 2);
        assert_eq!((w, h), (2, 1));
        assert_eq!(out, vec![50, 227]);
    }
}

/// Scale and layout of an image grid: each 28×28 image shrinks by `factor` and the grid
/// holds `cols × rows` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridFit {
    /// Downsampling factor (1, 2 or 4).
    pub factor: usize,
    /// Images per row.
    pub cols: usize,
    /// Rows of images.
    pub rows: usize,
}

/// Picks the largest images that still show at least `want` of them in `width × height`
/// cells (one column gap between images), falling back to the smallest scale.
pub fn fit_grid(width: u16, height: u16, side: usize, want: usize) -> GridFit {
    let fit = |factor: usize| {
        let w = side / factor;
        let h = w.div_ceil(2);
        let cols = (width as usize + 1) / (w + 1);
        let rows = height as usize / h;
        GridFit { factor, cols, rows }
    };
    [1, 2, 4]
        .into_iter()
        .map(fit)
        .find(|g| g.cols * g.rows >= want)
        .unwrap_or_else(|| fit(4))
}

/// Draws square greyscale images (`side × side` u8 each) as a grid filling `area`.
pub fn render_image_grid(
    area: ratatui::layout::Rect,
    buf: &mut ratatui::buffer::Buffer,
    images: &[Vec<u8>],
    side: usize,
    want: usize,
    mode: ImageMode,
) {
    let g = fit_grid(area.width, area.height, side, want);
    draw_grid(area, buf, images, side, g, mode);
}

/// Draws images row by row from `area`'s corner at the scale and layout `g` says, so a caller
/// that chose the layout itself (a strip under a grid) draws the same way.
pub fn draw_grid(
    area: ratatui::layout::Rect,
    buf: &mut ratatui::buffer::Buffer,
    images: &[Vec<u8>],
    side: usize,
    g: GridFit,
    mode: ImageMode,
) {
    let w = side / g.factor;
    let h = w.div_ceil(2);
    for (i, img) in images.iter().take(g.cols * g.rows).enumerate() {
        let (cx, cy) = (i % g.cols, i / g.cols);
        let x = area.x + (cx * (w + 1)) as u16;
        let y = area.y + (cy * h) as u16;
        let (small, sw, sh) = downsample(img, side, side, g.factor);
        for (r, line) in image_lines(&small, sw, sh, mode).iter().enumerate() {
            buf.set_line(x, y + r as u16, line, w as u16);
        }
    }
}

#[cfg(test)]
mod grid_tests {
    use super::*;

    #[test]
    fn grid_prefers_big_images_but_shows_enough() {
        // 80×24 dashboard: the sample pane is about 36×20 → quarter-size images, 4×4 or more.
        let g = fit_grid(36, 20, 28, 16);
        assert_eq!(g.factor, 4);
        assert!(g.cols * g.rows >= 16, "{g:?}");
        // A roomy pane gets half-size images.
        let g = fit_grid(60, 30, 28, 16);
        assert_eq!(g.factor, 2);
        assert_eq!((g.cols, g.rows), (4, 4));
    }
}
