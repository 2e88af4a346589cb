//! Small generated datasets with learnable structure, so tests and demos need no download.

use std::path::Path;

use super::idx::{encode_images, encode_labels, write_idx, Images};
use super::lookup::FILE_STEMS;
use super::DataError;
use crate::rng::Rng;

/// Draws one 28×28 image of class `label`: a class-specific stroke plus noise, so a
/// classifier can learn it but not from a single pixel.
fn draw(label: u8, rng: &mut Rng, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend((0..784).map(|_| (rng.next_f32() * 60.0) as u8));
    let img = &mut out[start..];
    let jitter = |rng: &mut Rng| rng.below(3) as i32 - 1;
    let (dy, dx) = (jitter(rng), jitter(rng));
    let mut put = |y: i32, x: i32| {
        let (y, x) = (y + dy, x + dx);
        if (0..28).contains(&y) && (0..28).contains(&x) {
            img[(y * 28 + x) as usize] = 200 + (x as u8 % 50);
        }
    };
    let l = label as i32;
    match label {
        0..=4 => {
            // Horizontal bars at five heights.
            for x in 4..24 {
                put(4 + l * 5, x);
                put(5 + l * 5, x);
            }
        }
        _ => {
            // Vertical bars at five columns.
            for y in 4..24 {
                put(y, 4 + (l - 5) * 5);
                put(y, 5 + (l - 5) * 5);
            }
        }
    }
}

/// Generates `count` labelled images with balanced classes.
pub fn generate(count: usize, seed: u64) -> (Images, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let mut pixels = Vec::with_capacity(count * 784);
    let mut labels = Vec::with_capacity(count);
    for i in 0..count {
        let label = (i % 10) as u8;
        draw(label, &mut rng, &mut pixels);
        labels.push(label);
    }
    (
        Images {
            pixels,
            count,
            rows: 28,
            cols: 28,
        },
        labels,
    )
}

/// Writes a complete generated dataset (the four IDX files, gzip'd) into `dir`.
pub fn write_dataset(dir: &Path, train: usize, test: usize, seed: u64) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for (i, (count, split_seed)) in [(train, seed), (test, seed ^ 0x5eed)]
        .into_iter()
        .enumerate()
    {
        let (images, labels) = generate(count, split_seed);
        write_idx(
            &dir.join(format!("{}.gz", FILE_STEMS[2 * i])),
            &encode_images(&images),
        )?;
        write_idx(
            &dir.join(format!("{}.gz", FILE_STEMS[2 * i + 1])),
            &encode_labels(&labels),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_dataset_loads_and_is_balanced() {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), 100, 30, 1).unwrap();
        let ds = crate::data::lookup::load_from_dir(crate::data::DatasetName::Mnist, dir.path())
            .unwrap();
        assert_eq!((ds.train.len(), ds.test.len()), (100, 30));
        assert_eq!(ds.train.labels.iter().filter(|&&l| l == 3).count(), 10);
        assert_ne!(ds.train.images.image(0), ds.train.images.image(10));
    }
}
