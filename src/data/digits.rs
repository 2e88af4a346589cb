//! The built-in dataset: 28×28 digits drawn by gradtop itself, so the first training run works
//! on a machine with no dataset and no network. Each digit is a 5×7 bitmap glyph whose lit
//! cells are joined into strokes, then drawn with a random rotation, shear, scale, shift,
//! stroke width, ink and noise, so the set is hard enough that a CNN beats an MLP on it.

use super::idx::Images;
use super::{Dataset, Split, CLASSES};
use crate::rng::Rng;

/// Training images, as many as MNIST's.
pub const TRAIN_IMAGES: usize = 60_000;
/// Test images, as many as MNIST's.
pub const TEST_IMAGES: usize = 10_000;
/// The seed of the training split; the test split's is derived from it, so the two never share
/// an image.
const SEED: u64 = 0x6469_6769_7473;
/// What the dataset's folder is reported as, since it has none.
pub const BUILT_IN: &str = "built in";

/// The chance that a stroke of the glyph is left out of an image.
const STROKE_DROP: f32 = 0.05;

/// Side of an image, in pixels.
const SIDE: usize = 28;
/// Glyph columns and rows.
const GLYPH_W: usize = 5;
const GLYPH_H: usize = 7;

/// The ten glyphs, `#` lit, row by row.
const GLYPHS: [[&str; GLYPH_H]; CLASSES] = [
    [
        ".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###.",
    ],
    [
        "..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###.",
    ],
    [
        ".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####",
    ],
    [
        "#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###.",
    ],
    [
        "...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#.",
    ],
    [
        "#####", "#....", "####.", "....#", "....#", "#...#", ".###.",
    ],
    [
        "..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###.",
    ],
    [
        "#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#...",
    ],
    [
        ".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###.",
    ],
    [
        ".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##..",
    ],
];

/// A stroke between two glyph cells, as (column, row) pairs.
type Stroke = ((usize, usize), (usize, usize));

/// The strokes of glyph `digit`: lit cells joined to their lit right and lower neighbours, and
/// diagonally where no straight path joins them already, so a 5×7 glyph draws as pen strokes
/// rather than squares.
fn strokes(digit: usize) -> Vec<Stroke> {
    let lit = |c: isize, r: isize| {
        (0..GLYPH_W as isize).contains(&c)
            && (0..GLYPH_H as isize).contains(&r)
            && GLYPHS[digit][r as usize].as_bytes()[c as usize] == b'#'
    };
    let mut out = Vec::new();
    for r in 0..GLYPH_H as isize {
        for c in 0..GLYPH_W as isize {
            if !lit(c, r) {
                continue;
            }
            let here = (c as usize, r as usize);
            for (dc, dr) in [(1, 0), (0, 1)] {
                if lit(c + dc, r + dr) {
                    out.push((here, ((c + dc) as usize, (r + dr) as usize)));
                }
            }
            for dc in [-1, 1] {
                if lit(c + dc, r + 1) && !lit(c + dc, r) && !lit(c, r + 1) {
                    out.push((here, ((c + dc) as usize, (r + 1) as usize)));
                }
            }
            let alone = [
                (-1, 0),
                (1, 0),
                (0, -1),
                (0, 1),
                (-1, -1),
                (1, -1),
                (-1, 1),
                (1, 1),
            ]
            .iter()
            .all(|&(dc, dr)| !lit(c + dc, r + dr));
            if alone {
                out.push((here, here));
            }
        }
    }
    out
}

/// The random draw of one image: where the glyph lands and how it is inked.
struct Style {
    /// Glyph cell coordinates to pixel coordinates: a 2×2 matrix (rows) and an offset.
    m: [[f32; 2]; 2],
    offset: [f32; 2],
    /// Stroke half-width in pixels.
    radius: f32,
    /// Ink strength of the strokes, 0–1.
    ink: f32,
    /// Amplitude of the background noise, 0–1.
    noise: f32,
}

impl Style {
    fn draw(rng: &mut Rng) -> Self {
        // About 3 pixels a cell puts the glyph in a 15×21 box, MNIST's 20-pixel box.
        let cell = 3.0 * rng.uniform(0.8, 1.15) as f32;
        let (sx, sy) = (
            cell * rng.uniform(0.75, 1.25) as f32,
            cell * rng.uniform(0.85, 1.1) as f32,
        );
        let angle = rng.uniform(-0.45, 0.45) as f32;
        let shear = rng.uniform(-0.4, 0.4) as f32;
        let (sin, cos) = angle.sin_cos();
        // Rotation · shear · scale, applied to cell coordinates centred on the glyph.
        let m = [
            [cos * sx, (cos * shear - sin) * sy],
            [sin * sx, (sin * shear + cos) * sy],
        ];
        let centre = SIDE as f32 / 2.0;
        let offset = [
            centre + rng.uniform(-4.5, 4.5) as f32,
            centre + rng.uniform(-3.5, 3.5) as f32,
        ];
        Self {
            m,
            offset,
            radius: rng.uniform(0.7, 1.9) as f32,
            ink: rng.uniform(0.65, 1.0) as f32,
            noise: rng.uniform(0.0, 0.35) as f32,
        }
    }

    /// Where the centre of glyph cell (column, row) lands, with a little of the hand's wobble.
    fn place(&self, (c, r): (usize, usize), wobble: [f32; 2]) -> [f32; 2] {
        let x = c as f32 - (GLYPH_W as f32 - 1.0) / 2.0 + wobble[0];
        let y = r as f32 - (GLYPH_H as f32 - 1.0) / 2.0 + wobble[1];
        [
            self.offset[0] + self.m[0][0] * x + self.m[0][1] * y,
            self.offset[1] + self.m[1][0] * x + self.m[1][1] * y,
        ]
    }
}

/// Squared distance from `p` to the segment `a`–`b`.
fn distance2_to_segment(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let ab = [b[0] - a[0], b[1] - a[1]];
    let ap = [p[0] - a[0], p[1] - a[1]];
    let len2 = ab[0] * ab[0] + ab[1] * ab[1];
    let t = if len2 > 0.0 {
        ((ap[0] * ab[0] + ap[1] * ab[1]) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let d = [ap[0] - t * ab[0], ap[1] - t * ab[1]];
    d[0] * d[0] + d[1] * d[1]
}

/// Draws one image of the glyph made of `strokes` into `out` (28×28 bytes) from `rng`.
fn draw(strokes: &[Stroke], rng: &mut Rng, out: &mut [u8]) {
    let style = Style::draw(rng);
    let mut ink = [0f32; SIDE * SIDE];
    // One wobble per cell, shared by the strokes that meet there, so strokes stay joined.
    let mut wobble = [[0f32; 2]; GLYPH_W * GLYPH_H];
    for w in wobble.iter_mut() {
        *w = [
            rng.uniform(-0.35, 0.35) as f32,
            rng.uniform(-0.35, 0.35) as f32,
        ];
    }
    let at = |cell: (usize, usize)| style.place(cell, wobble[cell.1 * GLYPH_W + cell.0]);
    let mut segments: Vec<([f32; 2], [f32; 2], f32, f32)> = strokes
        .iter()
        // A pen that skips now and then.
        .filter(|_| rng.next_f32() >= STROKE_DROP)
        .map(|&(from, to)| (at(from), at(to), style.radius, style.ink))
        .collect();
    // Stray marks, fainter and thinner than the digit, anywhere in the image.
    for _ in 0..rng.below(3) {
        let a = [
            rng.uniform(2.0, SIDE as f64 - 2.0) as f32,
            rng.uniform(2.0, SIDE as f64 - 2.0) as f32,
        ];
        let (len, dir) = (
            rng.uniform(2.0, 8.0) as f32,
            rng.uniform(0.0, std::f64::consts::TAU) as f32,
        );
        let b = [a[0] + len * dir.cos(), a[1] + len * dir.sin()];
        let ink = style.ink * rng.uniform(0.3, 0.8) as f32;
        segments.push((a, b, rng.uniform(0.4, 1.1) as f32, ink));
    }
    for (a, b, radius, strength) in segments {
        let outer2 = (radius + 0.5) * (radius + 0.5);
        let reach = radius + 1.0;
        let x0 = (a[0].min(b[0]) - reach).floor().max(0.0) as usize;
        let x1 = (a[0].max(b[0]) + reach).ceil().min(SIDE as f32 - 1.0) as usize;
        let y0 = (a[1].min(b[1]) - reach).floor().max(0.0) as usize;
        let y1 = (a[1].max(b[1]) + reach).ceil().min(SIDE as f32 - 1.0) as usize;
        for y in y0..=y1.max(y0) {
            for x in x0..=x1.max(x0) {
                let d2 = distance2_to_segment([x as f32 + 0.5, y as f32 + 0.5], a, b);
                if d2 >= outer2 {
                    continue;
                }
                // Anti-aliased edge one pixel wide.
                let v = (radius + 0.5 - d2.sqrt()).clamp(0.0, 1.0) * strength;
                let cell = &mut ink[y * SIDE + x];
                *cell = cell.max(v);
            }
        }
    }
    for (byte, v) in out.iter_mut().zip(ink) {
        let noise = style.noise * rng.next_f32();
        let value = (v + noise * (1.0 - v)).clamp(0.0, 1.0);
        *byte = (value * 255.0).round() as u8;
    }
}

/// `count` images with balanced, shuffled classes, the same for the same `seed`. Images are
/// drawn on every core, each from its own seed, so the result does not depend on the cores.
pub fn generate(count: usize, seed: u64) -> Split {
    let mut labels: Vec<u8> = (0..count).map(|i| (i % CLASSES) as u8).collect();
    Rng::new(seed).shuffle(&mut labels);
    let glyphs: Vec<Vec<Stroke>> = (0..CLASSES).map(strokes).collect();
    let mut pixels = vec![0u8; count * SIDE * SIDE];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = count.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        for (chunk_index, chunk) in pixels.chunks_mut(per_thread * SIDE * SIDE).enumerate() {
            let labels = &labels;
            let glyphs = &glyphs;
            scope.spawn(move || {
                for (i, image) in chunk.chunks_mut(SIDE * SIDE).enumerate() {
                    let index = chunk_index * per_thread + i;
                    let digit = usize::from(labels[index]);
                    let mut rng =
                        Rng::new(seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                    draw(&glyphs[digit], &mut rng, image);
                }
            });
        }
    });
    Split {
        images: Images {
            pixels,
            count,
            channels: 1,
            rows: SIDE,
            cols: SIDE,
        },
        labels,
    }
}

/// The built-in dataset: 60,000 training and 10,000 test digits from a fixed seed.
pub fn dataset() -> Dataset {
    Dataset {
        name: super::DatasetName::Digits,
        dir: std::path::PathBuf::from(BUILT_IN),
        train: generate(TRAIN_IMAGES, SEED),
        test: generate(TEST_IMAGES, SEED.rotate_left(17) ^ 0x7e57),
        classes: super::DatasetName::Digits.class_list(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_glyph_is_one_connected_set_of_strokes() {
        for (digit, glyph) in GLYPHS.iter().enumerate() {
            let strokes = strokes(digit);
            let mut reached = vec![strokes[0].0];
            let mut grew = true;
            while grew {
                grew = false;
                for &(a, b) in &strokes {
                    for (from, to) in [(a, b), (b, a)] {
                        if reached.contains(&from) && !reached.contains(&to) {
                            reached.push(to);
                            grew = true;
                        }
                    }
                }
            }
            let lit = glyph
                .iter()
                .flat_map(|row| row.bytes())
                .filter(|&b| b == b'#');
            assert_eq!(reached.len(), lit.count(), "digit {digit}");
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_balanced_images_and_another_seed_others() {
        let a = generate(500, 1);
        let b = generate(500, 1);
        let c = generate(500, 2);
        assert_eq!(a.images.pixels, b.images.pixels);
        assert_eq!(a.labels, b.labels);
        assert_ne!(a.images.pixels, c.images.pixels);
        for class in 0..CLASSES as u8 {
            assert_eq!(a.labels.iter().filter(|&&l| l == class).count(), 50);
        }
    }

    #[test]
    fn images_have_ink_background_and_differ_within_a_class() {
        let split = generate(200, 3);
        let first_of = |class: u8, skip: usize| {
            let i = split
                .labels
                .iter()
                .enumerate()
                .filter(|(_, &l)| l == class)
                .nth(skip)
                .map(|(i, _)| i)
                .expect("an image of the class");
            split.images.image(i).to_vec()
        };
        for class in 0..CLASSES as u8 {
            let image = first_of(class, 0);
            let bright = image.iter().filter(|&&p| p > 150).count();
            let dark = image.iter().filter(|&&p| p < 80).count();
            assert!(
                (25..350).contains(&bright),
                "class {class}: {bright} bright pixels"
            );
            assert!(dark > 400, "class {class}: {dark} dark pixels");
            assert_ne!(image, first_of(class, 1), "class {class}");
        }
    }

    #[test]
    fn the_whole_set_has_the_sizes_of_mnist() {
        let data = dataset();
        assert_eq!(
            (data.train.len(), data.test.len()),
            (TRAIN_IMAGES, TEST_IMAGES)
        );
        assert_eq!(data.train.images.pixels.len(), TRAIN_IMAGES * SIDE * SIDE);
    }
}
