//! IDX files (the MNIST format): reading raw or gzip'd files with every header checked, and writing.

use crate::atomic_file::AtomicFile;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::DataError;

/// Magic number of an IDX file of unsigned bytes with three dimensions (grey images, n×h×w).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with four dimensions (images with channels,
/// n×c×h×w).
pub const CHANNEL_IMAGES_MAGIC: u32 = 0x0000_0804;
/// Most channels an image may have: grey, grey + alpha, RGB, RGBA.
pub const MAX_CHANNELS: usize = 4;
/// Most pixels on an image side: ten times CIFAR's 32, so a wrong header is caught early.
pub const MAX_SIDE: usize = 320;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// A stack of images kept as bytes, so 60k images of 28×28 cost 47 MB, not 188 MB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// Pixels, image by image, channel planes in order, each row-major:
    /// `count * channels * rows * cols` bytes.
    pub pixels: Vec<u8>,
    /// Number of images.
    pub count: usize,
    /// Planes per image: 1 for grey, 3 for RGB.
    pub channels: usize,
    /// Image height in pixels.
    pub rows: usize,
    /// Image width in pixels.
    pub cols: usize,
}

impl Images {
    /// A stack of images of `(channels, rows, cols)` from their pixels, image after image.
    pub fn from_pixels(pixels: Vec<u8>, (channels, rows, cols): (usize, usize, usize)) -> Images {
        let count = pixels.len() / (channels * rows * cols).max(1);
        Images {
            pixels,
            count,
            channels,
            rows,
            cols,
        }
    }

    /// Bytes per image (all channels).
    pub fn image_len(&self) -> usize {
        self.channels * self.rows * self.cols
    }

    /// `(channels, rows, cols)`: the shape one image enters a model with.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.channels, self.rows, self.cols)
    }

    /// The images at `indices`, in that order, as a new stack.
    pub fn select(&self, indices: &[u32]) -> Images {
        let mut pixels = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i as usize));
        }
        Images::from_pixels(pixels, self.shape())
    }

    /// The pixels of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        let len = self.image_len();
        &self.pixels[index * len..(index + 1) * len]
    }
}

/// Most bytes of data one IDX file may hold: ten times the largest file gradtop reads (60,000
/// images of 28×28 are 47 MB), so a header that claims more is refused before anything is read
/// or inflated.
pub const MAX_IDX_PAYLOAD: u64 = 512 << 20;
/// Most images of 28×28 one IDX file may hold under [`MAX_IDX_PAYLOAD`]: the bound on any
/// position in a training set that a checkpoint may claim.
pub const MAX_IMAGES: usize = (MAX_IDX_PAYLOAD / (28 * 28)) as usize;
/// Trailing bytes counted past the payload before the count stops: enough to name the fault
/// without inflating a gzip bomb to its end.
const MAX_TRAILING_COUNT: u64 = 1 << 20;

/// An IDX file opened for reading, gunzipped on the fly when its name ends in `.gz`; reads
/// never hold more than the caller asks for.
struct IdxStream<'a> {
    path: &'a Path,
    gz: bool,
    reader: Box<dyn Read + 'a>,
}

impl<'a> IdxStream<'a> {
    fn open(path: &'a Path) -> Result<Self, DataError> {
        let file = std::fs::File::open(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file = std::io::BufReader::new(file);
        let gz = path.extension().is_some_and(|e| e == "gz");
        let reader: Box<dyn Read> = if gz {
            Box::new(GzDecoder::new(file))
        } else {
            Box::new(file)
        };
        Ok(Self { path, gz, reader })
    }

    /// Reads up to `limit` bytes (fewer only at the end of the data).
    fn read_up_to(&mut self, limit: u64) -> Result<Vec<u8>, DataError> {
        let mut out = Vec::with_capacity(limit.min(MAX_IDX_PAYLOAD) as usize);
        (&mut self.reader)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| self.error(e))?;
        Ok(out)
    }

    /// Counts the bytes left, up to [`MAX_TRAILING_COUNT`], without keeping them.
    fn count_rest(&mut self) -> Result<u64, DataError> {
        std::io::copy(
            &mut (&mut self.reader).take(MAX_TRAILING_COUNT),
            &mut std::io::sink(),
        )
        .map_err(|e| self.error(e))
    }

    fn error(&self, source: std::io::Error) -> DataError {
        if self.gz && source.kind() != std::io::ErrorKind::PermissionDenied {
            DataError::Corrupt {
                path: self.path.to_path_buf(),
                what: format!("not a valid gzip stream ({source})"),
            }
        } else {
            DataError::Io {
                path: self.path.to_path_buf(),
                source,
            }
        }
    }
}

/// Reads an IDX file's magic number and dimensions from `stream`, refusing a magic that is not
/// one of `expected_magic` and a header cut short.
fn read_header(
    stream: &mut IdxStream<'_>,
    expected_magic: &[u32],
) -> Result<Vec<usize>, DataError> {
    let path = stream.path;
    let corrupt = |what: String| DataError::Corrupt {
        path: path.to_path_buf(),
        what,
    };
    let head = stream.read_up_to(4)?;
    let [a, b, c, d] = head[..] else {
        return Err(corrupt(format!(
            "file is {} bytes, too short for an IDX header",
            head.len()
        )));
    };
    let magic = u32::from_be_bytes([a, b, c, d]);
    if !expected_magic.contains(&magic) {
        let expected: Vec<String> = expected_magic
            .iter()
            .map(|m| format!("0x{m:08x}"))
            .collect();
        return Err(corrupt(format!(
            "bad magic number 0x{magic:08x}, expected {} ({})",
            expected.join(" or "),
            if expected_magic.contains(&IMAGES_MAGIC) {
                "an IDX image file"
            } else {
                "an IDX label file"
            }
        )));
    }
    let ndims = (magic & 0xff) as usize;
    let header_len = 4 + 4 * ndims;
    let dim_bytes = stream.read_up_to(4 * ndims as u64)?;
    if dim_bytes.len() < 4 * ndims {
        return Err(corrupt(format!(
            "truncated header: {} bytes, the {ndims} dimensions need {header_len}",
            4 + dim_bytes.len()
        )));
    }
    Ok(dim_bytes
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect())
}

/// Reads an IDX file's header, checks its magic and that its sizes are those of a dataset, and
/// then reads exactly the data it promises: a file that is shorter, or longer, is refused.
fn read_idx(path: &Path, expected_magic: &[u32]) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let corrupt = |what: String| DataError::Corrupt {
        path: path.to_path_buf(),
        what,
    };
    let mut stream = IdxStream::open(path)?;
    let dims = read_header(&mut stream, expected_magic)?;
    let shape = dims
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×");
    let payload = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&p| p <= MAX_IDX_PAYLOAD)
        .ok_or_else(|| {
            corrupt(format!(
                "header promises {shape}, more than the {} MiB a dataset file may hold",
                MAX_IDX_PAYLOAD >> 20
            ))
        })?;
    let data = stream.read_up_to(payload)?;
    if (data.len() as u64) < payload {
        return Err(corrupt(format!(
            "truncated: header promises {shape} ({payload} bytes of data) but the file holds {}",
            data.len()
        )));
    }
    match stream.count_rest()? {
        0 => Ok((dims, data)),
        MAX_TRAILING_COUNT => Err(corrupt(format!(
            "more than {MAX_TRAILING_COUNT} trailing bytes after the {payload} bytes the header \
             promises"
        ))),
        extra => Err(corrupt(format!(
            "{extra} trailing bytes after the {payload} bytes the header promises"
        ))),
    }
}

/// Reads an IDX image file (raw or `.gz`) of grey images (n×h×w) or images with channels
/// (n×c×h×w), validating magic, dimensions and size.
pub fn read_images(path: &Path) -> Result<Images, DataError> {
    let (dims, pixels) = read_idx(path, &IMAGE_MAGICS)?;
    let (count, channels, rows, cols) = image_dims(path, &dims)?;
    Ok(Images {
        pixels,
        count,
        channels,
        rows,
        cols,
    })
}

/// The magic numbers of IDX image files: grey (n×h×w) and with channels (n×c×h×w).
const IMAGE_MAGICS: [u32; 2] = [IMAGES_MAGIC, CHANNEL_IMAGES_MAGIC];

/// `(count, channels, rows, cols)` of an image file's dimensions, refusing shapes no model
/// here takes and more images than [`MAX_IMAGES`].
fn image_dims(path: &Path, dims: &[usize]) -> Result<(usize, usize, usize, usize), DataError> {
    let corrupt = |what: String| DataError::Corrupt {
        path: path.to_path_buf(),
        what,
    };
    let (count, channels, rows, cols) = match *dims {
        [n, h, w] => (n, 1, h, w),
        [n, c, h, w] => (n, c, h, w),
        _ => {
            return Err(corrupt(format!(
                "{} dimensions, expected 3 or 4",
                dims.len()
            )))
        }
    };
    check_image_shape(channels, rows, cols).map_err(corrupt)?;
    if count > MAX_IMAGES {
        return Err(corrupt(format!(
            "{count} images: at most {MAX_IMAGES} are taken"
        )));
    }
    Ok((count, channels, rows, cols))
}

/// Refuses image shapes no model here takes: empty sides, sides over [`MAX_SIDE`], more than
/// [`MAX_CHANNELS`] channels.
pub fn check_image_shape(channels: usize, rows: usize, cols: usize) -> Result<(), String> {
    if rows == 0 || cols == 0 || channels == 0 {
        return Err(format!("images of {channels}×{rows}×{cols} pixels"));
    }
    if rows > MAX_SIDE || cols > MAX_SIDE {
        return Err(format!(
            "images of {rows}×{cols} pixels: at most {MAX_SIDE}×{MAX_SIDE} are taken"
        ));
    }
    if channels > MAX_CHANNELS {
        return Err(format!(
            "images of {channels} channels: at most {MAX_CHANNELS} (grey, RGB, RGBA) are taken"
        ));
    }
    Ok(())
}

/// Reads only the header of an IDX image file: `(count, channels, rows, cols)`, so a scenario
/// can check its layers against the data without loading it.
pub fn read_image_header(path: &Path) -> Result<(usize, usize, usize, usize), DataError> {
    let mut stream = IdxStream::open(path)?;
    let dims = read_header(&mut stream, &IMAGE_MAGICS)?;
    image_dims(path, &dims)
}

/// Reads an IDX label file (raw or `.gz`) and checks every label is below `classes`.
pub fn read_labels(path: &Path, classes: usize) -> Result<Vec<u8>, DataError> {
    let (_, labels) = read_idx(path, &[LABELS_MAGIC])?;
    if let Some((index, &value)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l as usize >= classes)
    {
        return Err(DataError::Corrupt {
            path: path.to_path_buf(),
            what: format!("label {value} at index {index} is not one of the {classes} classes"),
        });
    }
    Ok(labels)
}

/// Reads an image file and its label file and checks that their counts agree.
pub fn read_labelled(
    images_path: &Path,
    labels_path: &Path,
    classes: usize,
) -> Result<(Images, Vec<u8>), DataError> {
    let images = read_images(images_path)?;
    let labels = read_labels(labels_path, classes)?;
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_path: images_path.to_path_buf(),
            images: images.count,
            labels_path: labels_path.to_path_buf(),
            labels: labels.len(),
        });
    }
    Ok((images, labels))
}

/// Encodes images as an IDX file in memory: n×h×w for grey images, n×c×h×w otherwise.
pub fn encode_images(images: &Images) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + images.pixels.len());
    let dims = if images.channels == 1 {
        out.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
        vec![images.count, images.rows, images.cols]
    } else {
        out.extend_from_slice(&CHANNEL_IMAGES_MAGIC.to_be_bytes());
        vec![images.count, images.channels, images.rows, images.cols]
    };
    for d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(&images.pixels);
    out
}

/// Encodes labels as an IDX file in memory.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

/// Writes IDX bytes to `path` (whole or not at all), gzip'd when the name ends in `.gz`.
pub fn write_idx(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let io = |source| DataError::Io {
        path: PathBuf::from(path),
        source,
    };
    let mut file = AtomicFile::create(path).map_err(io)?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        let mut enc = flate2::write::GzEncoder::new(file.file(), flate2::Compression::default());
        enc.write_all(bytes).map_err(io)?;
        enc.finish().map_err(io)?;
    } else {
        file.file().write_all(bytes).map_err(io)?;
    }
    file.commit().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_images() -> Images {
        Images {
            pixels: (0..2 * 3 * 4).map(|v| v as u8).collect(),
            count: 2,
            channels: 1,
            rows: 3,
            cols: 4,
        }
    }

    #[test]
    fn round_trips_raw_and_gz() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["i.idx", "i.idx.gz"] {
            let p = dir.path().join(name);
            write_idx(&p, &encode_images(&tiny_images())).unwrap();
            assert_eq!(read_images(&p).unwrap(), tiny_images());
        }
        let p = dir.path().join("l.gz");
        write_idx(&p, &encode_labels(&[1, 9, 0])).unwrap();
        assert_eq!(read_labels(&p, 10).unwrap(), vec![1, 9, 0]);
    }

    #[test]
    fn bad_magic_is_named_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels-as-images");
        write_idx(&p, &encode_labels(&[1, 2])).unwrap();
        let msg = read_images(&p).unwrap_err().to_string();
        assert!(msg.contains("labels-as-images"), "{msg}");
        assert!(msg.contains("bad magic number 0x00000801"), "{msg}");
    }

    #[test]
    fn truncated_and_trailing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.idx");
        let mut bytes = encode_images(&tiny_images());
        bytes.truncate(bytes.len() - 5);
        write_idx(&p, &bytes).unwrap();
        let msg = read_images(&p).unwrap_err().to_string();
        assert!(msg.contains("truncated") && msg.contains("2×3×4"), "{msg}");
        let mut bytes = encode_images(&tiny_images());
        bytes.push(0);
        write_idx(&p, &bytes).unwrap();
        let msg = read_images(&p).unwrap_err().to_string();
        assert!(msg.contains("1 trailing bytes"), "{msg}");
        write_idx(&p, &[0, 0]).unwrap();
        assert!(read_images(&p)
            .unwrap_err()
            .to_string()
            .contains("too short"));
    }

    #[test]
    fn a_gzip_bomb_is_refused_from_its_header_or_after_its_promised_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bomb.gz");
        // A header that claims 2^31 images is refused before anything else is inflated.
        let mut bytes = IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in [1u32 << 31, 28, 28] {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend(std::iter::repeat_n(0, 1 << 20));
        write_idx(&p, &bytes).unwrap();
        let msg = read_images(&p).unwrap_err().to_string();
        assert!(
            msg.contains("2147483648×28×28, more than the 512 MiB"),
            "{msg}"
        );
        // A modest header followed by far more data stops counting at the cap.
        let mut bytes = encode_images(&tiny_images());
        bytes.extend(std::iter::repeat_n(0, 3 << 20));
        write_idx(&p, &bytes).unwrap();
        let msg = read_images(&p).unwrap_err().to_string();
        assert!(msg.contains("more than 1048576 trailing bytes"), "{msg}");
    }

    #[test]
    fn count_mismatch_and_bad_labels_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (i, l) = (dir.path().join("i"), dir.path().join("l"));
        write_idx(&i, &encode_images(&tiny_images())).unwrap();
        write_idx(&l, &encode_labels(&[1, 2, 3])).unwrap();
        let msg = read_labelled(&i, &l, 10).unwrap_err().to_string();
        assert!(
            msg.contains("2 images") && msg.contains("3 labels"),
            "{msg}"
        );
        write_idx(&l, &encode_labels(&[1, 12])).unwrap();
        let msg = read_labels(&l, 10).unwrap_err().to_string();
        assert!(msg.contains("label 12 at index 1"), "{msg}");
    }

    #[test]
    fn images_with_channels_round_trip_and_odd_shapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rgb.gz");
        let rgb = Images::from_pixels((0..2 * 3 * 5 * 4).map(|v| v as u8).collect(), (3, 5, 4));
        write_idx(&p, &encode_images(&rgb)).unwrap();
        assert_eq!(read_images(&p).unwrap(), rgb);
        assert_eq!(read_image_header(&p).unwrap(), (2, 3, 5, 4));
        for (shape, fault) in [
            ((5, 2, 2), "5 channels"),
            ((1, 2, MAX_SIDE + 1), "at most 320×320"),
        ] {
            let odd = Images::from_pixels(vec![0; shape.0 * shape.1 * shape.2], shape);
            write_idx(&p, &encode_images(&odd)).unwrap();
            let msg = read_images(&p).unwrap_err().to_string();
            assert!(msg.contains(fault) && msg.contains("rgb.gz"), "{msg}");
            let msg = read_image_header(&p).unwrap_err().to_string();
            assert!(msg.contains(fault), "{msg}");
        }
    }

    #[test]
    fn corrupt_gzip_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.gz");
        std::fs::write(&p, b"not gzip at all").unwrap();
        let msg = read_images(&p).unwrap_err().to_string();
        assert!(msg.contains("x.gz") && msg.contains("gzip"), "{msg}");
    }
}
