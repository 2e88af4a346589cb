//! Writing generated images out: IDX files (the MNIST format, to score with
//! `gradtop score-samples` or to exchange with PyTorch), PGM sample grids (the `e` key), and
//! the run directory's latest fixed-noise grid that `gradtop watch` reads back.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::data::idx::{self, Images};
use crate::data::DataError;
/// Pixels between neighbouring images in a PGM grid.
pub const GRID_GAP_PX: usize = 2;
/// Grey level of the gap, mid-grey so it shows against both black and white backgrounds.
pub const GRID_GAP_GREY: u8 = 128;

/// Why samples could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SampleWriteError {
    /// Creating or writing the file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An image does not have rows × cols pixels.
    #[error("image {index} has {len} pixels, expected {rows}×{cols}")]
    BadImage {
        /// Position of the image in the input.
        index: usize,
        /// Its pixel count.
        len: usize,
        /// Expected rows.
        rows: usize,
        /// Expected columns.
        cols: usize,
    },
    /// Nothing to write, or a zero-sized dimension.
    #[error("nothing to write: {0}")]
    Empty(&'static str),
}

fn check_images(images: &[Vec<u8>], rows: usize, cols: usize) -> Result<(), SampleWriteError> {
    if images.is_empty() {
        return Err(SampleWriteError::Empty("no images"));
    }
    if rows == 0 || cols == 0 {
        return Err(SampleWriteError::Empty("zero-sized image"));
    }
    match images.iter().position(|img| img.len() != rows * cols) {
        Some(index) => Err(SampleWriteError::BadImage {
            index,
            len: images[index].len(),
            rows,
            cols,
        }),
        None => Ok(()),
    }
}

/// The bytes of an IDX3 unsigned-byte file holding `images` (each rows×cols, row-major).
pub fn idx_images_bytes(
    images: &[Vec<u8>],
    rows: usize,
    cols: usize,
) -> Result<Vec<u8>, SampleWriteError> {
    check_images(images, rows, cols)?;
    if u32::try_from(images.len().max(rows).max(cols)).is_err() {
        return Err(SampleWriteError::Empty(
            "dimension exceeds the IDX u32 range",
        ));
    }
    Ok(idx::encode_images(&Images {
        pixels: images.concat(),
        count: images.len(),
        channels: 1,
        rows,
        cols,
    }))
}

/// Writes `images` as an IDX3 file (MNIST's format; gzip when `path` ends in `.gz`), readable
/// by any MNIST loader and by `gradtop score-samples`.
pub fn write_idx_images(
    path: impl AsRef<Path>,
    images: &[Vec<u8>],
    rows: usize,
    cols: usize,
) -> Result<(), SampleWriteError> {
    let path = path.as_ref();
    idx::write_idx(path, &idx_images_bytes(images, rows, cols)?).map_err(|e| match e {
        DataError::Io { path, source } => SampleWriteError::Io { path, source },
        other => SampleWriteError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}

/// A grid of images as one greyscale picture: its width and height in pixels and its pixels,
/// row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridPixels {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Grey levels, `width × height` of them.
    pub pixels: Vec<u8>,
}

/// Tiles `images` of `rows`×`cols` pixels in rows of `grid_cols`, separated by [`GRID_GAP_PX`]
/// pixels of [`GRID_GAP_GREY`]; a short last row is padded with gap grey. What the PGM and the
/// PNG of a sample grid both show.
pub fn grid_pixels(
    images: &[Vec<u8>],
    rows: usize,
    cols: usize,
    grid_cols: usize,
) -> Result<GridPixels, SampleWriteError> {
    check_images(images, rows, cols)?;
    if grid_cols == 0 {
        return Err(SampleWriteError::Empty("zero grid columns"));
    }
    let grid_cols = grid_cols.min(images.len());
    let grid_rows = images.len().div_ceil(grid_cols);
    let width = grid_cols * cols + (grid_cols - 1) * GRID_GAP_PX;
    let height = grid_rows * rows + (grid_rows - 1) * GRID_GAP_PX;
    let mut pixels = vec![GRID_GAP_GREY; width * height];
    for (k, img) in images.iter().enumerate() {
        let top = (k / grid_cols) * (rows + GRID_GAP_PX);
        let left = (k % grid_cols) * (cols + GRID_GAP_PX);
        for (r, src) in img.chunks_exact(cols).enumerate() {
            let start = (top + r) * width + left;
            pixels[start..start + cols].copy_from_slice(src);
        }
    }
    Ok(GridPixels {
        width,
        height,
        pixels,
    })
}

/// The bytes of a binary PGM (P5) of the grid [`grid_pixels`] tiles.
pub fn pgm_grid_bytes(
    images: &[Vec<u8>],
    rows: usize,
    cols: usize,
    grid_cols: usize,
) -> Result<Vec<u8>, SampleWriteError> {
    let grid = grid_pixels(images, rows, cols, grid_cols)?;
    let mut out = format!("P5\n{} {}\n255\n", grid.width, grid.height).into_bytes();
    out.extend_from_slice(&grid.pixels);
    Ok(out)
}

/// The bytes of an 8-bit greyscale PNG of the grid [`grid_pixels`] tiles: what every image
/// viewer and browser opens, where PGM needs a viewer that knows it.
pub fn png_grid_bytes(
    images: &[Vec<u8>],
    rows: usize,
    cols: usize,
    grid_cols: usize,
) -> Result<Vec<u8>, SampleWriteError> {
    let grid = grid_pixels(images, rows, cols, grid_cols)?;
    let too_large = || SampleWriteError::Empty("a grid too large for a PNG");
    let width = u32::try_from(grid.width).map_err(|_| too_large())?;
    let height = u32::try_from(grid.height).map_err(|_| too_large())?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let encoded = encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&grid.pixels));
    encoded.map_err(|e| SampleWriteError::Io {
        path: PathBuf::from("PNG"),
        source: std::io::Error::other(e),
    })?;
    Ok(out)
}

/// Writes a sample grid as an 8-bit greyscale PNG (see [`png_grid_bytes`]).
pub fn write_png_grid(
    path: impl AsRef<Path>,
    images: &[Vec<u8>],
    rows: usize,
    cols: usize,
    grid_cols: usize,
) -> Result<(), SampleWriteError> {
    let path = path.as_ref();
    let bytes = png_grid_bytes(images, rows, cols, grid_cols)?;
    write_bytes(path, &bytes)
}

/// Writes a sample grid as a binary PGM image (see [`pgm_grid_bytes`]).
pub fn write_pgm_grid(
    path: impl AsRef<Path>,
    images: &[Vec<u8>],
    rows: usize,
    cols: usize,
    grid_cols: usize,
) -> Result<(), SampleWriteError> {
    let path = path.as_ref();
    let bytes = pgm_grid_bytes(images, rows, cols, grid_cols)?;
    write_bytes(path, &bytes)
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), SampleWriteError> {
    let io_err = |source| SampleWriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    File::create(path)
        .map_err(io_err)?
        .write_all(bytes)
        .map_err(io_err)
}

/// Where a GAN run keeps its latest fixed-noise grid, relative to the run directory.
pub const LATEST_SAMPLES_FILE: &str = "samples/latest.pgm";
/// First word of the header comment that marks a gradtop sample grid.
const SAMPLES_TAG: &str = "# gradtop-samples";

/// A sample grid as stored in the run directory, with the iteration it was rendered at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleGrid {
    /// The iteration the images belong to.
    pub iteration: u64,
    /// Square images of `side`×`side` pixels, row-major.
    pub images: Vec<Vec<u8>>,
    /// Pixels per image side (28 for MNIST-sized images).
    pub side: usize,
}

impl SampleGrid {
    /// Columns of the tiled image: the grid is as square as the count allows.
    fn columns(count: usize) -> usize {
        (1..=count).find(|c| c * c >= count).unwrap_or(1)
    }

    /// The bytes of the file: a binary PGM (P5) any image viewer opens, tiled as
    /// [`pgm_grid_bytes`] does, whose header comment
    /// `# gradtop-samples iteration=N images=K columns=C side=S` lets a reader cut the tiles
    /// apart again.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SampleWriteError> {
        let columns = Self::columns(self.images.len());
        let pgm = pgm_grid_bytes(&self.images, self.side, self.side, columns)?;
        let comment = format!(
            "{SAMPLES_TAG} iteration={} images={} columns={columns} side={}\n",
            self.iteration,
            self.images.len(),
            self.side
        );
        let mut out = Vec::with_capacity(pgm.len() + comment.len());
        out.extend_from_slice(b"P5\n");
        out.extend_from_slice(comment.as_bytes());
        out.extend_from_slice(&pgm[3..]);
        Ok(out)
    }

    /// Reads what [`Self::to_bytes`] wrote; `None` for anything else (another PGM, a file cut
    /// short), so a reader simply waits for the next whole file.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let rest = bytes.strip_prefix(b"P5\n")?;
        let (comment, rest) = split_line(rest)?;
        let fields = std::str::from_utf8(comment)
            .ok()?
            .strip_prefix(SAMPLES_TAG)?;
        let field = |key: &str| -> Option<u64> {
            fields
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        let iteration = field("iteration")?;
        let count = usize::try_from(field("images")?).ok()?;
        let columns = usize::try_from(field("columns")?).ok()?;
        let side = usize::try_from(field("side")?).ok()?;
        if count == 0 || side == 0 || columns == 0 || columns > count {
            return None;
        }
        let (size, rest) = split_line(rest)?;
        let (maxval, pixels) = split_line(rest)?;
        if maxval != b"255" {
            return None;
        }
        let grid_rows = count.div_ceil(columns);
        let width = columns * side + (columns - 1) * GRID_GAP_PX;
        let height = grid_rows * side + (grid_rows - 1) * GRID_GAP_PX;
        if size != format!("{width} {height}").as_bytes() || pixels.len() != width * height {
            return None;
        }
        let images = (0..count)
            .map(|k| {
                let top = (k / columns) * (side + GRID_GAP_PX);
                let left = (k % columns) * (side + GRID_GAP_PX);
                (0..side)
                    .flat_map(|r| {
                        let start = (top + r) * width + left;
                        pixels[start..start + side].iter().copied()
                    })
                    .collect()
            })
            .collect();
        Some(Self {
            iteration,
            images,
            side,
        })
    }

    /// Writes the grid to `run_dir/`[`LATEST_SAMPLES_FILE`] through a temp file and a rename,
    /// so a reader sees the old file or the new one, never half of one; creates the folder
    /// inside the run directory, never the run directory itself.
    pub fn write_latest(&self, run_dir: &Path) -> Result<(), SampleWriteError> {
        let io = |source| SampleWriteError::Io {
            path: run_dir.join(LATEST_SAMPLES_FILE),
            source,
        };
        let bytes = self.to_bytes()?;
        crate::atomic_file::write_under(run_dir, Path::new(LATEST_SAMPLES_FILE), &bytes).map_err(io)
    }
}

/// The bytes up to the next `\n` and the bytes after it.
fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn images() -> Vec<Vec<u8>> {
        (0..3u8)
            .map(|k| (0..6).map(|p| k * 10 + p).collect())
            .collect()
    }

    #[test]
    fn idx_round_trips_plain_and_gz() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let expected: Vec<u8> = [
            &[0, 0, 8, 3][..],
            &[0, 0, 0, 3],
            &[0, 0, 0, 2],
            &[0, 0, 0, 3],
            &[
                0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25,
            ],
        ]
        .concat();
        let plain = dir.path().join("s.idx");
        write_idx_images(&plain, &images(), 2, 3)?;
        assert_eq!(std::fs::read(&plain)?, expected);
        let gz = dir.path().join("s.idx.gz");
        write_idx_images(&gz, &images(), 2, 3)?;
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(File::open(&gz)?).read_to_end(&mut decoded)?;
        assert_eq!(decoded, expected);
        assert_ne!(std::fs::read(&gz)?, expected, "the .gz file is compressed");
        Ok(())
    }

    #[test]
    fn writers_refuse_bad_images() {
        let err = idx_images_bytes(&[vec![0; 6], vec![0; 5]], 2, 3).expect_err("short image");
        assert!(matches!(
            err,
            SampleWriteError::BadImage {
                index: 1,
                len: 5,
                ..
            }
        ));
        assert!(idx_images_bytes(&[], 2, 3).is_err());
        assert!(pgm_grid_bytes(&images(), 2, 3, 0).is_err());
        let err = write_idx_images("/nonexistent-dir/x.idx", &images(), 2, 3).expect_err("no dir");
        assert!(err.to_string().contains("/nonexistent-dir/x.idx"), "{err}");
    }

    #[test]
    fn pgm_grid_tiles_with_gaps() -> Result<(), Box<dyn std::error::Error>> {
        // Three 2×3 images in a 2-column grid: width 3+2+3 = 8, height 2+2+2 = 6.
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("grid.pgm");
        write_pgm_grid(&path, &images(), 2, 3, 2)?;
        let bytes = std::fs::read(&path)?;
        let header = b"P5\n8 6\n255\n";
        assert_eq!(&bytes[..header.len()], header);
        let px = &bytes[header.len()..];
        assert_eq!(px.len(), 48);
        let g = GRID_GAP_GREY;
        assert_eq!(&px[0..8], &[0, 1, 2, g, g, 10, 11, 12]);
        assert_eq!(&px[8..16], &[3, 4, 5, g, g, 13, 14, 15]);
        assert!(px[16..32].iter().all(|&p| p == g));
        assert_eq!(&px[32..40], &[20, 21, 22, g, g, g, g, g]);
        Ok(())
    }

    #[test]
    fn png_grid_decodes_to_the_pgm_grids_pixels() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("grid.png");
        write_png_grid(&path, &images(), 2, 3, 2)?;
        let decoder = png::Decoder::new(std::io::BufReader::new(File::open(&path)?));
        let mut reader = decoder.read_info()?;
        let mut pixels = vec![0; reader.output_buffer_size().ok_or("no size")?];
        let frame = reader.next_frame(&mut pixels)?;
        assert_eq!((frame.width, frame.height), (8, 6));
        assert_eq!(frame.color_type, png::ColorType::Grayscale);
        assert_eq!(frame.bit_depth, png::BitDepth::Eight);
        let pgm = pgm_grid_bytes(&images(), 2, 3, 2)?;
        assert_eq!(
            &pixels[..frame.buffer_size()],
            &pgm[b"P5\n8 6\n255\n".len()..]
        );
        Ok(())
    }

    #[test]
    fn sample_grid_file_round_trips_and_rejects_other_files(
    ) -> Result<(), Box<dyn std::error::Error>> {
        // Five 3×3 images: 3 columns, 2 rows, the last row padded.
        let grid = SampleGrid {
            iteration: 4200,
            images: (0..5u8).map(|k| vec![k * 20; 9]).collect(),
            side: 3,
        };
        let bytes = grid.to_bytes()?;
        let header = b"P5\n# gradtop-samples iteration=4200 images=5 columns=3 side=3\n13 8\n255\n";
        assert_eq!(&bytes[..header.len()], header);
        assert_eq!(bytes.len(), header.len() + 13 * 8);
        assert_eq!(SampleGrid::parse(&bytes), Some(grid.clone()));
        assert_eq!(
            SampleGrid::parse(&bytes[..bytes.len() - 1]),
            None,
            "cut short"
        );
        let plain = pgm_grid_bytes(&grid.images, 3, 3, 3)?;
        assert_eq!(
            SampleGrid::parse(&plain),
            None,
            "a PGM without the header comment"
        );

        let dir = tempfile::tempdir()?;
        let path = dir.path().join(LATEST_SAMPLES_FILE);
        grid.write_latest(dir.path())?;
        let newer = SampleGrid {
            iteration: 4300,
            ..grid
        };
        newer.write_latest(dir.path())?;
        assert_eq!(SampleGrid::parse(&std::fs::read(&path)?), Some(newer));
        let names: Vec<String> = std::fs::read_dir(path.parent().expect("a parent"))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        assert_eq!(names, vec!["latest.pgm"], "no temp file is left behind");
        Ok(())
    }
}
