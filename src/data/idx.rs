//! IDX files (the MNIST format): reading raw or gzip'd files with every header checked, and writing.

use crate::atomic_file::AtomicFile;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::DataError;

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// A stack of greyscale images kept as bytes, so 60k images cost 47 MB, not 188 MB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// Row-major pixels, `count * rows * cols` bytes.
    pub pixels: Vec<u8>,
    /// Number of images.
    pub count: usize,
    /// Image height in pixels.
    pub rows: usize,
    /// Image width in pixels.
    pub cols: usize,
}

impl Images {
    /// Pixels per image.
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        let len = self.image_len();
        &self.pixels[index * len..(index + 1) * len]
    }
}

/// Reads a whole file, gunzipping it when its name ends in `.gz`.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::with_capacity(raw.len() * 4);
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Corrupt {
                path: path.to_path_buf(),
                what: format!("not a valid gzip stream ({e})"),
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses the magic number and dimensions, and checks the payload has exactly the right size.
fn parse_header(
    path: &Path,
    bytes: &[u8],
    expected_magic: u32,
) -> Result<(Vec<usize>, usize), DataError> {
    let corrupt = |what: String| DataError::Corrupt {
        path: path.to_path_buf(),
        what,
    };
    if bytes.len() < 4 {
        return Err(corrupt(format!(
            "file is {} bytes, too short for an IDX header",
            bytes.len()
        )));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic != expected_magic {
        return Err(corrupt(format!(
            "bad magic number 0x{magic:08x}, expected 0x{expected_magic:08x} ({})",
            if expected_magic == IMAGES_MAGIC {
                "an IDX image file"
            } else {
                "an IDX label file"
            }
        )));
    }
    let ndims = (magic & 0xff) as usize;
    let header_len = 4 + 4 * ndims;
    if bytes.len() < header_len {
        return Err(corrupt(format!(
            "truncated header: {} bytes, the {ndims} dimensions need {header_len}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let payload: usize = dims.iter().product();
    let found = bytes.len() - header_len;
    if found < payload {
        return Err(corrupt(format!(
            "truncated: header promises {} ({payload} bytes of data) but the file holds {found}",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("×")
        )));
    }
    if found > payload {
        return Err(corrupt(format!(
            "{} trailing bytes after the {payload} bytes the header promises",
            found - payload
        )));
    }
    Ok((dims, header_len))
}

/// Reads an IDX image file (raw or `.gz`), validating magic, dimensions and size.
pub fn read_images(path: &Path) -> Result<Images, DataError> {
    let bytes = read_maybe_gz(path)?;
    let (dims, offset) = parse_header(path, &bytes, IMAGES_MAGIC)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(DataError::Corrupt {
            path: path.to_path_buf(),
            what: format!("images of {rows}×{cols} pixels"),
        });
    }
    Ok(Images {
        pixels: bytes[offset..].to_vec(),
        count,
        rows,
        cols,
    })
}

/// Reads an IDX label file (raw or `.gz`) and checks every label is below `classes`.
pub fn read_labels(path: &Path, classes: usize) -> Result<Vec<u8>, DataError> {
    let bytes = read_maybe_gz(path)?;
    let (_, offset) = parse_header(path, &bytes, LABELS_MAGIC)?;
    let labels = bytes[offset..].to_vec();
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

/// Encodes images as an IDX file in memory.
pub fn encode_images(images: &Images) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + images.pixels.len());
    out.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
    for d in [images.count, images.rows, images.cols] {
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
    fn corrupt_gzip_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.gz");
        std::fs::write(&p, b"not gzip at all").unwrap();
        let msg = read_images(&p).unwrap_err().to_string();
        assert!(msg.contains("x.gz") && msg.contains("gzip"), "{msg}");
    }
}
