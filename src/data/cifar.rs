//! CIFAR-10's binary batches (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`): one
//! label byte then 3×32×32 pixel bytes (the red, green and blue planes) per record, with every
//! file's size and label checked.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::idx::{Images, MAX_IDX_PAYLOAD};
use super::{DataError, CLASSES};
use crate::atomic_file::AtomicFile;

/// Channels, rows and columns of a CIFAR-10 image.
pub const SHAPE: (usize, usize, usize) = (3, 32, 32);
/// Bytes of one record: the label and the pixels.
pub const RECORD: usize = 1 + SHAPE.0 * SHAPE.1 * SHAPE.2;
/// The test batch's file name.
pub const TEST_FILE: &str = "test_batch.bin";
/// The class-name file CIFAR-10 ships, one name per line.
pub const META_FILE: &str = "batches.meta.txt";

/// The training batches in `dir` (`data_batch_*.bin`), in the order of their numbers; empty
/// when the folder holds none.
pub fn train_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(u64, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let number = name
                .strip_prefix("data_batch_")?
                .strip_suffix(".bin")?
                .parse()
                .ok()?;
            Some((number, e.path()))
        })
        .filter(|(_, p)| p.is_file())
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// Reads one batch file: its images and labels, refusing a size that is not whole records and
/// a label that is not one of the ten classes.
pub fn read_batch(path: &Path) -> Result<(Images, Vec<u8>), DataError> {
    let corrupt = |what: String| DataError::Corrupt {
        path: path.to_path_buf(),
        what,
    };
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_IDX_PAYLOAD {
        return Err(corrupt(format!(
            "{len} bytes, more than the {} MiB a dataset file may hold",
            MAX_IDX_PAYLOAD >> 20
        )));
    }
    if len == 0 || len % RECORD as u64 != 0 {
        return Err(corrupt(format!(
            "{len} bytes is not a whole number of CIFAR-10 records ({RECORD} bytes each: a label \
             and 3×32×32 pixels)"
        )));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let count = bytes.len() / RECORD;
    let mut pixels = Vec::with_capacity(count * (RECORD - 1));
    let mut labels = Vec::with_capacity(count);
    for (index, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = record[0];
        if usize::from(label) >= CLASSES {
            return Err(corrupt(format!(
                "label {label} of record {index} is not one of the {CLASSES} classes"
            )));
        }
        labels.push(label);
        pixels.extend_from_slice(&record[1..]);
    }
    Ok((Images::from_pixels(pixels, SHAPE), labels))
}

/// Reads batch files one after another into one split.
pub fn read_batches(paths: &[PathBuf]) -> Result<(Images, Vec<u8>), DataError> {
    let mut images = Images::from_pixels(Vec::new(), SHAPE);
    let mut labels = Vec::new();
    for path in paths {
        let (more, more_labels) = read_batch(path)?;
        images.pixels.extend_from_slice(&more.pixels);
        images.count += more.count;
        labels.extend_from_slice(&more_labels);
    }
    Ok((images, labels))
}

/// Writes images of CIFAR's shape and their labels as one batch file (whole or not at all).
pub fn write_batch(path: &Path, images: &Images, labels: &[u8]) -> Result<(), DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    if images.shape() != SHAPE || images.count != labels.len() {
        return Err(DataError::Corrupt {
            path: path.to_path_buf(),
            what: format!(
                "{} images of {:?} with {} labels: a batch holds 3×32×32 images, one label each",
                images.count,
                images.shape(),
                labels.len()
            ),
        });
    }
    let mut file = AtomicFile::create(path).map_err(io)?;
    for (i, &label) in labels.iter().enumerate() {
        file.file().write_all(&[label]).map_err(io)?;
        file.file().write_all(images.image(i)).map_err(io)?;
    }
    file.commit().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(count: usize) -> Images {
        Images {
            pixels: (0..count * (RECORD - 1)).map(|v| (v % 251) as u8).collect(),
            count,
            channels: 3,
            rows: 32,
            cols: 32,
        }
    }

    #[test]
    fn batches_round_trip_and_are_found_in_numeric_order() {
        let dir = tempfile::tempdir().unwrap();
        for (n, count) in [(10, 1), (2, 2), (1, 3)] {
            let labels: Vec<u8> = (0..count).map(|i| i as u8).collect();
            write_batch(
                &dir.path().join(format!("data_batch_{n}.bin")),
                &images(count),
                &labels,
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("data_batch_x.bin"), b"ignored").unwrap();
        let files = train_files(dir.path());
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["data_batch_1.bin", "data_batch_2.bin", "data_batch_10.bin"]
        );
        let (all, labels) = read_batches(&files).unwrap();
        assert_eq!((all.count, labels), (6, vec![0, 1, 2, 0, 1, 0]));
        assert_eq!(all.image(0), images(3).image(0));
        assert_eq!(all.image(3), images(2).image(0));
    }

    #[test]
    fn a_partial_record_and_a_bad_label_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data_batch_1.bin");
        write_batch(&p, &images(2), &[3, 4]).unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.pop();
        std::fs::write(&p, &bytes).unwrap();
        let msg = read_batch(&p).unwrap_err().to_string();
        assert!(
            msg.contains("data_batch_1.bin") && msg.contains("6145 bytes is not a whole number"),
            "{msg}"
        );
        bytes.push(0);
        bytes[RECORD] = 12;
        std::fs::write(&p, &bytes).unwrap();
        let msg = read_batch(&p).unwrap_err().to_string();
        assert!(msg.contains("label 12 of record 1"), "{msg}");
    }
}
