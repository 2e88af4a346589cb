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
            channels: 1,
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

/// CIFAR-10's class names, which [`write_cifar`] writes as the folder's `classes.txt`.
pub const CIFAR_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Draws one 3×32×32 image of class `label`: a stroke whose place and colour follow the class,
/// on coloured noise.
fn draw_colour(label: u8, rng: &mut Rng, out: &mut Vec<u8>) {
    const SIDE: usize = 32;
    let start = out.len();
    out.extend((0..3 * SIDE * SIDE).map(|_| (rng.next_f32() * 70.0) as u8));
    let img = &mut out[start..];
    let colour = [
        [230, 60, 60],
        [60, 220, 60],
        [70, 90, 240],
        [230, 220, 50],
        [220, 60, 220],
    ][usize::from(label % 5)];
    let shift = rng.below(3) as i32 - 1;
    let l = i32::from(label % 5);
    for a in 4..28 {
        for w in 0..3 {
            let (y, x) = if label < 5 {
                (5 + l * 5 + w + shift, a)
            } else {
                (a, 5 + l * 5 + w + shift)
            };
            if (0..SIDE as i32).contains(&y) {
                for (c, &v) in colour.iter().enumerate() {
                    img[c * SIDE * SIDE + y as usize * SIDE + x as usize] = v;
                }
            }
        }
    }
}

/// Generates `count` labelled colour images of CIFAR-10's shape with balanced classes.
pub fn generate_colour(count: usize, seed: u64) -> (Images, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let (channels, rows, cols) = super::cifar::SHAPE;
    let mut pixels = Vec::with_capacity(count * channels * rows * cols);
    let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
    for &label in &labels {
        draw_colour(label, &mut rng, &mut pixels);
    }
    (Images::from_pixels(pixels, (channels, rows, cols)), labels)
}

/// Writes a generated dataset in CIFAR-10's binary format into `dir`: `train` images in
/// `data_batch_1.bin`, `test` in `test_batch.bin` (none when 0, so a split is carved off),
/// and CIFAR-10's class names in `classes.txt`.
pub fn write_cifar(dir: &Path, train: usize, test: usize, seed: u64) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let (images, labels) = generate_colour(train, seed);
    super::cifar::write_batch(&dir.join("data_batch_1.bin"), &images, &labels)?;
    if test > 0 {
        let (images, labels) = generate_colour(test, seed ^ 0x5eed);
        super::cifar::write_batch(&dir.join(super::cifar::TEST_FILE), &images, &labels)?;
    }
    let names = CIFAR_CLASSES.join("\n") + "\n";
    let path = dir.join(super::folder::CLASSES_FILE);
    std::fs::write(&path, names).map_err(|source| DataError::Io { path, source })
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
