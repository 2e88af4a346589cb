//! The CartPole viewport: track, x-limits, cart and pole drawn on a ratatui `Canvas` for one
//! pose, so an episode replays by drawing its poses one after another.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::{border, Marker};
use ratatui::text::Line;
use ratatui::widgets::canvas::{Canvas, Line as CanvasLine, Rectangle};
use ratatui::widgets::{Block, Widget};

/// Cart position limit of CartPole-v1, m.
pub const X_LIMIT_M: f64 = 2.4;
/// Drawn pole length (the full pole: twice Gymnasium's half-length of 0.5 m), m.
const POLE_M: f64 = 1.0;
/// Drawn cart size, m.
const CART_W_M: f64 = 0.5;
const CART_H_M: f64 = 0.3;
/// Gap between track and cart body (the wheels), m.
const WHEEL_GAP_M: f64 = 0.06;
/// Horizontal world span shown: the limits plus a margin, m.
const X_SPAN_M: f64 = 2.0 * (X_LIMIT_M + 0.35);
/// Lowest y shown (below the track), m.
const Y_MIN_M: f64 = -0.2;
/// Smallest vertical span that still shows the whole upright pole, m.
const MIN_Y_SPAN_M: f64 = 1.5;
/// Largest vertical span: in tall viewports the picture is stretched upwards rather than the
/// pole left as a short stub at the bottom, m.
const MAX_Y_SPAN_M: f64 = 1.9;

/// Border drawn with ASCII only, for `--ascii` terminals.
const ASCII_BORDER: border::Set = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// Draws one CartPole state: cart at `x` m, pole at `theta` rad from vertical (positive leans
/// right, as in Gymnasium), with a title and an optional footer line.
#[derive(Debug, Clone)]
pub struct CartPoleWidget<'a> {
    x: f64,
    theta: f64,
    title: Line<'a>,
    footer: Option<Line<'a>>,
    ascii: bool,
    color: bool,
}

impl<'a> CartPoleWidget<'a> {
    /// A view of the state with cart position `x` (m) and pole angle `theta` (rad).
    pub fn new(x: f64, theta: f64) -> Self {
        Self {
            x,
            theta,
            title: Line::from("CartPole-v1"),
            footer: None,
            ascii: false,
            color: true,
        }
    }

    /// Title on the top border, e.g. `CartPole-v1 · ep 411 · t 187`.
    pub fn title(mut self, title: impl Into<Line<'a>>) -> Self {
        self.title = title.into();
        self
    }

    /// Line on the bottom border, e.g. `return 187 · w: play greedy`.
    pub fn footer(mut self, footer: impl Into<Line<'a>>) -> Self {
        self.footer = Some(footer.into());
        self
    }

    /// Plain-ASCII drawing (`#` points, `+-|` border) for terminals without braille glyphs.
    pub fn ascii(mut self, ascii: bool) -> Self {
        self.ascii = ascii;
        self
    }

    /// Colours on or off (off for `NO_COLOR`).
    pub fn color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    fn paint(&self, c: Color) -> Color {
        if self.color {
            c
        } else {
            Color::Reset
        }
    }
}

impl Widget for CartPoleWidget<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut block = Block::bordered().title(self.title.clone());
        if self.ascii {
            block = block.border_set(ASCII_BORDER);
        }
        if let Some(f) = &self.footer {
            block = block.title_bottom(f.clone());
        }
        let inner = block.inner(area);
        // A cell is about twice as tall as wide: pick the vertical span so one metre looks the
        // same both ways, within the limits that keep the pole whole and readable.
        let y_span = if inner.width == 0 {
            MIN_Y_SPAN_M
        } else {
            (X_SPAN_M * 2.0 * f64::from(inner.height) / f64::from(inner.width))
                .clamp(MIN_Y_SPAN_M, MAX_Y_SPAN_M)
        };
        let x_half = X_SPAN_M / 2.0;
        // Keep the cart on screen even for states past the limits (terminal frames).
        let x = self.x.clamp(-x_half, x_half);
        let theta = if self.theta.is_finite() {
            self.theta
        } else {
            0.0
        };
        let (track, limit, cart, pole) = (
            self.paint(Color::Gray),
            self.paint(Color::Red),
            self.paint(Color::Cyan),
            self.paint(Color::Yellow),
        );
        let pivot_y = WHEEL_GAP_M + CART_H_M;
        let (tip_x, tip_y) = (x + POLE_M * theta.sin(), pivot_y + POLE_M * theta.cos());
        let canvas = Canvas::default()
            .block(block)
            .marker(if self.ascii {
                Marker::Custom('#')
            } else {
                Marker::Braille
            })
            .x_bounds([-x_half, x_half])
            .y_bounds([Y_MIN_M, Y_MIN_M + y_span])
            .paint(move |ctx| {
                ctx.draw(&CanvasLine::new(-x_half, 0.0, x_half, 0.0, track));
                for lx in [-X_LIMIT_M, X_LIMIT_M] {
                    ctx.draw(&CanvasLine::new(lx, Y_MIN_M, lx, 0.45, limit));
                }
                ctx.layer();
                ctx.draw(&Rectangle {
                    x: x - CART_W_M / 2.0,
                    y: WHEEL_GAP_M,
                    width: CART_W_M,
                    height: CART_H_M,
                    color: cart,
                });
                ctx.layer();
                ctx.draw(&CanvasLine::new(x, pivot_y, tip_x, tip_y, pole));
            });
        canvas.render(area, buf);
        if !self.color {
            buf.set_style(area, Style::reset());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn render(w: u16, h: u16, widget: CartPoleWidget<'static>) -> Vec<String> {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| f.render_widget(widget, f.area())).unwrap();
        let buf = term.backend().buffer().clone();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect())
            .collect()
    }

    /// Mean column of drawn cells in the topmost inner row that has any.
    fn pole_tip_column(rows: &[String]) -> f64 {
        for row in &rows[1..rows.len() - 1] {
            let cols: Vec<usize> = row
                .chars()
                .enumerate()
                .filter(|&(i, c)| i > 0 && i + 1 < row.chars().count() && c != ' ')
                .map(|(i, _)| i)
                .collect();
            if !cols.is_empty() {
                return cols.iter().sum::<usize>() as f64 / cols.len() as f64;
            }
        }
        panic!("nothing drawn: {rows:#?}");
    }

    #[test]
    fn pole_leans_the_way_theta_says() {
        let (w, h) = (60, 16);
        let centre = f64::from(w) / 2.0;
        let right = render(w, h, CartPoleWidget::new(0.0, 0.2));
        let left = render(w, h, CartPoleWidget::new(0.0, -0.2));
        let upright = render(w, h, CartPoleWidget::new(0.0, 0.0));
        let (r, l, u) = (
            pole_tip_column(&right),
            pole_tip_column(&left),
            pole_tip_column(&upright),
        );
        assert!(
            r > centre + 1.0,
            "θ>0 tip at column {r}, centre {centre}\n{right:#?}"
        );
        assert!(l < centre - 1.0, "θ<0 tip at column {l}\n{left:#?}");
        assert!((u - centre).abs() <= 1.0, "upright tip at {u}");
        let braille = |c: char| ('\u{2801}'..='\u{28ff}').contains(&c);
        assert!(right.concat().chars().any(braille), "drawn with braille");
    }

    #[test]
    fn cart_moves_with_x_and_titles_show() {
        let (w, h) = (60, 16);
        let rows = render(
            w,
            h,
            CartPoleWidget::new(1.5, 0.0)
                .title("CartPole-v1 · ep 3 · t 17")
                .footer("return 17"),
        );
        assert!(rows[0].contains("ep 3 · t 17"), "{}", rows[0]);
        assert!(rows[h as usize - 1].contains("return 17"));
        let tip = pole_tip_column(&rows);
        // x = 1.5 of a ±2.75 m view: about 77% across.
        let want = 1.0 + (f64::from(w) - 2.0) * (1.5 + 2.75) / 5.5;
        assert!((tip - want).abs() < 2.0, "tip {tip}, want {want}");
    }

    #[test]
    fn ascii_mode_draws_only_ascii() {
        let rows = render(
            40,
            12,
            CartPoleWidget::new(-0.5, 0.1)
                .title("cartpole")
                .ascii(true)
                .color(false),
        );
        let all = rows.concat();
        assert!(all.is_ascii(), "{rows:#?}");
        assert!(all.contains('#'));
        assert!(rows[0].starts_with('+'));
        assert!(pole_tip_column(&rows) > 12.0 && pole_tip_column(&rows) < 20.0);
    }
}
