//! Images as text: Unicode half-blocks (two pixel rows per cell, the pixels' colours as
//! foreground/background) or a plain-ASCII ramp for terminals without them; grey or colour.

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

/// Renders a grey image as lines: `height / 2` lines of `width` cells (an odd last row is
/// padded with black).
pub fn image_lines(
    pixels: &[u8],
    width: usize,
    height: usize,
    mode: ImageMode,
) -> Vec<Line<'static>> {
    let rgb: Vec<[u8; 3]> = pixels.iter().map(|&v| [v; 3]).collect();
    rgb_image_lines(&rgb, width, height, mode)
}

/// Resizes an image of `channels` planes, `height × width` each, to `out_w × out_h` RGB
/// pixels by averaging the source pixels each covers; grey images become grey triples, and the
/// planes after the third (alpha) are left out. A 28×28 grey image halved gives exactly
/// [`downsample`]'s 2×2 averages.
pub fn fit_rgb(
    pixels: &[u8],
    (channels, height, width): (usize, usize, usize),
    out_w: usize,
    out_h: usize,
) -> Vec<[u8; 3]> {
    let plane = height * width;
    let span = |o: usize, n: usize, out: usize| {
        let start = o * n / out;
        start..((o + 1) * n / out).max(start + 1).min(n)
    };
    let mut out = Vec::with_capacity(out_w * out_h);
    for oy in 0..out_h {
        let ys = span(oy, height, out_h);
        for ox in 0..out_w {
            let xs = span(ox, width, out_w);
            let count = (ys.len() * xs.len()).max(1) as u32;
            let mean = |c: usize| {
                let base = c.min(channels.saturating_sub(1)) * plane;
                let sum: u32 = ys
                    .clone()
                    .flat_map(|y| xs.clone().map(move |x| (y, x)))
                    .map(|(y, x)| u32::from(pixels.get(base + y * width + x).copied().unwrap_or(0)))
                    .sum();
                (sum / count) as u8
            };
            out.push(if channels >= 3 {
                [mean(0), mean(1), mean(2)]
            } else {
                let v = mean(0);
                [v, v, v]
            });
        }
    }
    out
}

/// Perceived brightness of a colour (ITU-R BT.601 weights), so the ASCII ramp reads colour
/// images as a grey one would; a grey triple keeps its value.
fn luma([r, g, b]: [u8; 3]) -> u8 {
    ((299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b)) / 1000) as u8
}

/// Renders RGB pixels as lines, like [`image_lines`]: half-blocks in true colour, or the ASCII
/// ramp by brightness.
pub fn rgb_image_lines(
    pixels: &[[u8; 3]],
    width: usize,
    height: usize,
    mode: ImageMode,
) -> Vec<Line<'static>> {
    let px = |x: usize, y: usize| {
        if y < height {
            pixels[y * width + x]
        } else {
            [0; 3]
        }
    };
    (0..height.div_ceil(2))
        .map(|row| {
            let (top, bottom) = (2 * row, 2 * row + 1);
            match mode {
                ImageMode::HalfBlock => Line::from(
                    (0..width)
                        .map(|x| {
                            let ([r, g, b], [r2, g2, b2]) = (px(x, top), px(x, bottom));
                            Span::styled(
                                "▀",
                                Style::new()
                                    .fg(Color::Rgb(r, g, b))
                                    .bg(Color::Rgb(r2, g2, b2)),
                            )
                        })
                        .collect::<Vec<_>>(),
                ),
                ImageMode::Ascii => Line::from(
                    (0..width)
                        .map(|x| {
                            let v = (luma(px(x, top)) as usize + luma(px(x, bottom)) as usize) / 2;
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
    fn fitting_a_grey_28_by_28_image_matches_downsampling_it() {
        let pixels: Vec<u8> = (0..784).map(|p| ((p * 7) % 256) as u8).collect();
        let (small, _, _) = downsample(&pixels, 28, 28, 2);
        let fitted = fit_rgb(&pixels, (1, 28, 28), 14, 14);
        assert_eq!(fitted, small.iter().map(|&v| [v; 3]).collect::<Vec<_>>());
    }

    #[test]
    fn ascii_reads_colour_by_brightness() {
        // Two rows of pure green, pure blue and light grey: green reads far brighter than
        // blue, and a grey triple keeps its level.
        let row = [[0, 255, 0], [0, 0, 255], [200; 3]];
        let pixels: Vec<[u8; 3]> = row.iter().chain(&row).copied().collect();
        let lines = rgb_image_lines(&pixels, 3, 2, ImageMode::Ascii);
        assert_eq!(lines[0].to_string(), "+.#");
    }

    #[test]
    fn colour_planes_become_true_colour_half_blocks() {
        // 3×2×2: a red top row and a blue bottom row, shrunk to one column.
        let pixels = [200, 200, 0, 0, 0, 0, 0, 0, 0, 0, 100, 100];
        let fitted = fit_rgb(&pixels, (3, 2, 2), 1, 2);
        assert_eq!(fitted, [[200, 0, 0], [0, 0, 100]]);
        let lines = rgb_image_lines(&fitted, 1, 2, ImageMode::HalfBlock);
        assert_eq!(lines[0].spans[0].style.fg, Some(Color::Rgb(200, 0, 0)));
        assert_eq!(lines[0].spans[0].style.bg, Some(Color::Rgb(0, 0, 100)));
        // 32×32 pixels onto 14×14 cells.
        let wide: Vec<u8> = (0..3 * 32 * 32).map(|v| (v % 256) as u8).collect();
        assert_eq!(fit_rgb(&wide, (3, 32, 32), 14, 14).len(), 196);
    }

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
