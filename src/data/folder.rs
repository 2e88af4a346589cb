//! A dataset the scenario names by path (`[data] path = "…"`): IDX files of any image size
//! with one channel or several, or CIFAR-10's binary batches; class names from an optional
//! `classes.txt`; a test split given or carved off the training set with a fixed seed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::idx;
use super::lookup::existing_file;
use super::{cifar, DataError, Dataset, DatasetName, Split, CLASSES};
use crate::rng::Rng;

/// The file of class names, one per line, in label order.
pub const CLASSES_FILE: &str = "classes.txt";
/// Test fraction carved off a folder that has no test split, unless the scenario says.
pub const DEFAULT_TEST_FRACTION: f64 = 0.1;
/// Longest class name taken: the sample pane has room for about this many letters.
pub const MAX_CLASS_NAME: usize = 24;

/// A scenario's `[data]` table: where the images are and how to split them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    /// The folder holding IDX files or CIFAR-10 batches.
    pub path: PathBuf,
    /// Fraction of the training images held out for testing when the folder has no test split
    /// (0.1 unless given; refused when it has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_fraction: Option<f64>,
    /// Seeds which training images are held out, so a run and its resume test on the same ones.
    #[serde(default)]
    pub split_seed: u64,
}

/// The files a folder's dataset consists of.
#[derive(Debug, Clone, PartialEq)]
enum Layout {
    /// IDX images and labels; the test pair when there is one.
    Idx {
        train: (PathBuf, PathBuf),
        test: Option<(PathBuf, PathBuf)>,
    },
    /// CIFAR-10 batches; the test batch when there is one.
    Cifar {
        train: Vec<PathBuf>,
        test: Option<PathBuf>,
    },
}

impl Layout {
    fn has_test(&self) -> bool {
        match self {
            Layout::Idx { test, .. } => test.is_some(),
            Layout::Cifar { test, .. } => test.is_some(),
        }
    }
}

/// The first of the names given (each raw or `.gz`) present in `dir`.
fn first_file(dir: &Path, stems: &[&str]) -> Option<PathBuf> {
    stems.iter().find_map(|s| existing_file(dir, s))
}

/// Works out what `dir` holds, refusing a folder that is missing, holds neither format, or
/// holds half of a split.
fn layout(dir: &Path) -> Result<Layout, DataError> {
    if !dir.is_dir() {
        let what = if dir.exists() {
            "not a folder"
        } else {
            "no such folder"
        };
        return Err(DataError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, what),
        });
    }
    let images = |split: &str| {
        first_file(
            dir,
            &[
                &format!("{split}-images-idx3-ubyte"),
                &format!("{split}-images-idx4-ubyte"),
            ],
        )
    };
    let labels = |split: &str| first_file(dir, &[&format!("{split}-labels-idx1-ubyte")]);
    let pair = |split: &str| -> Result<Option<(PathBuf, PathBuf)>, DataError> {
        match (images(split), labels(split)) {
            (Some(i), Some(l)) => Ok(Some((i, l))),
            (None, None) => Ok(None),
            (i, _) => Err(DataError::Incomplete {
                name: dir.display().to_string(),
                dir: dir.to_path_buf(),
                missing: vec![if i.is_none() {
                    format!("{split}-images-idx3-ubyte (or idx4)")
                } else {
                    format!("{split}-labels-idx1-ubyte")
                }],
            }),
        }
    };
    if let Some(train) = pair("train")? {
        return Ok(Layout::Idx {
            train,
            test: pair("t10k")?,
        });
    }
    if pair("t10k")?.is_some() {
        return Err(DataError::Incomplete {
            name: dir.display().to_string(),
            dir: dir.to_path_buf(),
            missing: vec!["train-images-idx3-ubyte and train-labels-idx1-ubyte".into()],
        });
    }
    let train = cifar::train_files(dir);
    let test = Some(dir.join(cifar::TEST_FILE)).filter(|p| p.is_file());
    if !train.is_empty() {
        return Ok(Layout::Cifar { train, test });
    }
    Err(DataError::Corrupt {
        path: dir.to_path_buf(),
        what: "holds no dataset: expected IDX files (train-images-idx3-ubyte or idx4, \
               train-labels-idx1-ubyte, optionally t10k-…) or CIFAR-10 binary batches \
               (data_batch_1.bin …, optionally test_batch.bin)"
            .into(),
    })
}

impl DataSource {
    /// `(channels, rows, cols)` of the folder's images, from the headers alone, so a scenario's
    /// layers are checked against the data before anything loads.
    pub fn image_shape(&self) -> Result<(usize, usize, usize), DataError> {
        match layout(&self.path)? {
            Layout::Idx { train, .. } => {
                let (_, c, h, w) = idx::read_image_header(&train.0)?;
                Ok((c, h, w))
            }
            Layout::Cifar { .. } => Ok(cifar::SHAPE),
        }
    }

    /// Reads and checks every file: the images, labels, class names and split.
    pub fn load(&self) -> Result<Dataset, DataError> {
        let dir = &self.path;
        let layout = layout(dir)?;
        if let (true, Some(f)) = (layout.has_test(), self.test_fraction) {
            return Err(DataError::Corrupt {
                path: dir.clone(),
                what: format!(
                    "has its own test split, so data.test_fraction = {f} has nothing to carve: \
                     remove it"
                ),
            });
        }
        let (train, test, train_file) = match layout {
            Layout::Idx { train, test } => {
                let read = |(i, l): &(PathBuf, PathBuf)| -> Result<Split, DataError> {
                    let (images, labels) = idx::read_labelled(i, l, CLASSES)?;
                    Ok(Split { images, labels })
                };
                let test = test.as_ref().map(read).transpose()?;
                (read(&train)?, test, train.0)
            }
            Layout::Cifar { train, test } => {
                let read = |paths: &[PathBuf]| -> Result<Split, DataError> {
                    let (images, labels) = cifar::read_batches(paths)?;
                    Ok(Split { images, labels })
                };
                let test = test.map(|t| read(&[t])).transpose()?;
                (read(&train)?, test, train[0].clone())
            }
        };
        let (train, test) = match test {
            Some(test) => {
                if test.images.shape() != train.images.shape() {
                    return Err(DataError::Corrupt {
                        path: dir.clone(),
                        what: format!(
                            "the test images are {:?} but the training images {:?} \
                             (channels, rows, columns)",
                            test.images.shape(),
                            train.images.shape()
                        ),
                    });
                }
                (train, test)
            }
            None => carve(
                train,
                self.test_fraction.unwrap_or(DEFAULT_TEST_FRACTION),
                self.split_seed,
                &train_file,
            )?,
        };
        if train.is_empty() {
            return Err(DataError::Corrupt {
                path: train_file,
                what: "holds no images".into(),
            });
        }
        let classes = class_names(dir, &train, &test)?;
        Ok(Dataset {
            name: DatasetName::Folder,
            dir: dir.clone(),
            train,
            test,
            classes,
        })
    }
}

/// Splits `train` into a training and a test split, `fraction` of it (at least one image)
/// held out, chosen by `seed`; both keep the file's order.
fn carve(train: Split, fraction: f64, seed: u64, file: &Path) -> Result<(Split, Split), DataError> {
    let n = train.len();
    if n < 2 {
        return Err(DataError::Corrupt {
            path: file.to_path_buf(),
            what: format!(
                "holds {n} image(s) and the folder no test split: at least 2 are needed to \
                 carve one off"
            ),
        });
    }
    let held = ((n as f64 * fraction).round() as usize).clamp(1, n - 1);
    let mut order: Vec<u32> = (0..n as u32).collect();
    Rng::new(seed).shuffle(&mut order);
    let (mut test_ix, mut train_ix) = (order[..held].to_vec(), order[held..].to_vec());
    test_ix.sort_unstable();
    train_ix.sort_unstable();
    let pick = |ix: &[u32]| Split {
        images: train.images.select(ix),
        labels: ix.iter().map(|&i| train.labels[i as usize]).collect(),
    };
    Ok((pick(&train_ix), pick(&test_ix)))
}

/// The class names: `classes.txt`, else CIFAR's `batches.meta.txt`, else the label numbers.
/// A name file must name every label used.
fn class_names(dir: &Path, train: &Split, test: &Split) -> Result<Vec<String>, DataError> {
    let file = [CLASSES_FILE, cifar::META_FILE]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file());
    let Some(file) = file else {
        return Ok((0..CLASSES).map(|c| c.to_string()).collect());
    };
    let corrupt = |what: String| DataError::Corrupt {
        path: file.clone(),
        what,
    };
    let text = std::fs::read_to_string(&file).map_err(|source| DataError::Io {
        path: file.clone(),
        source,
    })?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() > CLASSES {
        return Err(corrupt(format!(
            "names {} classes; at most {CLASSES} are taken",
            names.len()
        )));
    }
    if let Some((i, long)) = names
        .iter()
        .enumerate()
        .find(|(_, n)| n.chars().count() > MAX_CLASS_NAME)
    {
        return Err(corrupt(format!(
            "class {i} ({long:?}) is longer than {MAX_CLASS_NAME} characters"
        )));
    }
    let used = train.labels.iter().chain(&test.labels).max().copied();
    if let Some(top) = used.filter(|&t| usize::from(t) >= names.len()) {
        return Err(corrupt(format!(
            "names {} classes but the labels go up to {top}",
            names.len()
        )));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::{encode_images, encode_labels, write_idx, Images};

    fn colour_images(count: usize, rows: usize, cols: usize) -> Images {
        Images {
            pixels: (0..count * 3 * rows * cols)
                .map(|v| (v % 253) as u8)
                .collect(),
            count,
            channels: 3,
            rows,
            cols,
        }
    }

    fn write_idx_split(dir: &Path, split: &str, images: &Images, labels: &[u8]) {
        let dims = if images.channels == 1 { 3 } else { 4 };
        write_idx(
            &dir.join(format!("{split}-images-idx{dims}-ubyte.gz")),
            &encode_images(images),
        )
        .unwrap();
        write_idx(
            &dir.join(format!("{split}-labels-idx1-ubyte")),
            &encode_labels(labels),
        )
        .unwrap();
    }

    fn source(dir: &Path) -> DataSource {
        DataSource {
            path: dir.to_path_buf(),
            test_fraction: None,
            split_seed: 0,
        }
    }

    #[test]
    fn colour_idx_with_its_own_test_split_and_class_names() {
        let dir = tempfile::tempdir().unwrap();
        let labels: Vec<u8> = (0..6).map(|i| i % 3).collect();
        write_idx_split(dir.path(), "train", &colour_images(6, 5, 7), &labels);
        write_idx_split(dir.path(), "t10k", &colour_images(2, 5, 7), &[2, 0]);
        std::fs::write(dir.path().join(CLASSES_FILE), "cat\ndog\n\nbird\n").unwrap();
        let src = source(dir.path());
        assert_eq!(src.image_shape().unwrap(), (3, 5, 7));
        let ds = src.load().unwrap();
        assert_eq!((ds.train.len(), ds.test.len()), (6, 2));
        assert_eq!(ds.image_shape(), (3, 5, 7));
        assert_eq!(ds.class_names(), ["cat", "dog", "bird"]);
        assert_eq!(ds.train.images.image(1), colour_images(6, 5, 7).image(1));
        // A fraction to carve is refused when the folder has its own test split.
        let msg = DataSource {
            test_fraction: Some(0.2),
            ..src
        }
        .load()
        .unwrap_err()
        .to_string();
        assert!(msg.contains("has its own test split"), "{msg}");
    }

    #[test]
    fn a_missing_test_split_is_carved_the_same_way_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let grey = Images {
            pixels: (0..20 * 9).map(|v| v as u8).collect(),
            count: 20,
            channels: 1,
            rows: 3,
            cols: 3,
        };
        let labels: Vec<u8> = (0..20).map(|i| i % 10).collect();
        write_idx_split(dir.path(), "train", &grey, &labels);
        let src = DataSource {
            test_fraction: Some(0.25),
            ..source(dir.path())
        };
        let a = src.load().unwrap();
        assert_eq!((a.train.len(), a.test.len()), (15, 5));
        let b = src.load().unwrap();
        assert_eq!(a.test.labels, b.test.labels);
        assert_eq!(a.test.images, b.test.images);
        let other = DataSource {
            split_seed: 9,
            ..src.clone()
        }
        .load()
        .unwrap();
        assert_ne!(a.test.images, other.test.images);
        // Every image lands in exactly one split.
        let mut all: Vec<&[u8]> = (0..15)
            .map(|i| a.train.images.image(i))
            .chain((0..5).map(|i| a.test.images.image(i)))
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 20);
        assert_eq!(a.class_names()[7], "7");
    }

    #[test]
    fn cifar_batches_load_with_their_meta_names() {
        let dir = tempfile::tempdir().unwrap();
        let images = colour_images(4, 32, 32);
        cifar::write_batch(&dir.path().join("data_batch_1.bin"), &images, &[0, 1, 2, 9]).unwrap();
        cifar::write_batch(&dir.path().join(cifar::TEST_FILE), &images, &[9, 8, 7, 6]).unwrap();
        let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
        std::fs::write(dir.path().join(cifar::META_FILE), names).unwrap();
        let src = source(dir.path());
        assert_eq!(src.image_shape().unwrap(), (3, 32, 32));
        let ds = src.load().unwrap();
        assert_eq!((ds.train.len(), ds.test.len()), (4, 4));
        assert_eq!(ds.class_names()[9], "truck");
        assert_eq!(ds.test.labels, [9, 8, 7, 6]);
    }

    #[test]
    fn bad_folders_name_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let msg = |src: &DataSource| src.load().unwrap_err().to_string();
        let empty = source(dir.path());
        assert!(msg(&empty).contains("holds no dataset"), "{}", msg(&empty));
        let gone = source(&dir.path().join("nope"));
        assert!(msg(&gone).contains("no such folder"), "{}", msg(&gone));
        std::fs::write(dir.path().join("file"), b"").unwrap();
        let file = source(&dir.path().join("file"));
        assert!(msg(&file).contains("file: not a folder"), "{}", msg(&file));
        // Images without their labels.
        write_idx(
            &dir.path().join("train-images-idx4-ubyte"),
            &encode_images(&colour_images(2, 4, 4)),
        )
        .unwrap();
        assert!(
            msg(&empty).contains("missing train-labels-idx1-ubyte"),
            "{}",
            msg(&empty)
        );
        write_idx(
            &dir.path().join("train-labels-idx1-ubyte"),
            &encode_labels(&[0, 4]),
        )
        .unwrap();
        std::fs::write(dir.path().join(CLASSES_FILE), "a\nb\n").unwrap();
        let text = msg(&empty);
        assert!(
            text.contains("classes.txt")
                && text.contains("names 2 classes but the labels go up to 4"),
            "{text}"
        );
    }
}
