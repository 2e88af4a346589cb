//! Where datasets live on disk, in the documented lookup order, and loading them.

use std::path::{Path, PathBuf};

use super::{idx, DataError, Dataset, Split, CLASSES};

/// The datasets gradtop knows how to find and fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// LeCun's handwritten digits.
    Mnist,
    /// Zalando's clothing images, a drop-in replacement for MNIST.
    FashionMnist,
    /// Digits drawn by gradtop itself ([`super::digits`]): always present, never fetched.
    Digits,
    /// Images read from a folder the scenario names (`[data] path`), IDX or CIFAR-10 batches.
    Folder,
}

/// Where Debian/Ubuntu's `dataset-fashion-mnist` package installs its files.
pub const DEBIAN_FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The four file stems every IDX dataset has; each may be stored raw or gzip'd.
pub const FILE_STEMS: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

const MNIST_CLASSES: [&str; CLASSES] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
const FASHION_CLASSES: [&str; CLASSES] = [
    "T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot",
];

impl DatasetName {
    /// Every known dataset, in the order they are offered.
    pub const ALL: [DatasetName; 3] = [
        DatasetName::Mnist,
        DatasetName::FashionMnist,
        DatasetName::Digits,
    ];

    /// The name used on the command line, in scenarios and as a directory name.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Digits => "digits",
            DatasetName::Folder => "folder",
        }
    }

    /// The dataset after this one in [`DatasetName::ALL`] (before it when `forward` is false),
    /// wrapping, for the panel's dataset row (a folder's dataset steps onto MNIST).
    pub fn cycle(self, forward: bool) -> Self {
        let all = Self::ALL;
        let n = all.len();
        let i = all.iter().position(|&d| d == self).unwrap_or(0);
        all[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }

    /// The short name the panel shows and default run names use.
    pub fn short(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion",
            DatasetName::Digits => "digits",
            DatasetName::Folder => "folder",
        }
    }

    /// Class names for display (a folder's own come from its `classes.txt`; digits until then).
    pub fn class_names(self) -> &'static [&'static str; CLASSES] {
        match self {
            DatasetName::Mnist | DatasetName::Digits | DatasetName::Folder => &MNIST_CLASSES,
            DatasetName::FashionMnist => &FASHION_CLASSES,
        }
    }

    /// [`DatasetName::class_names`] as owned strings, for a [`Dataset`].
    pub fn class_list(self) -> Vec<String> {
        self.class_names().iter().map(|n| n.to_string()).collect()
    }

    /// The exact command a user runs to get this dataset.
    pub fn fetch_hint(self) -> String {
        match self {
            DatasetName::Mnist => "Get it with: gradtop data fetch mnist".to_string(),
            DatasetName::FashionMnist => "Get it with: sudo apt install dataset-fashion-mnist   (or: gradtop data fetch fashion-mnist)".to_string(),
            DatasetName::Digits => "It is built into gradtop.".to_string(),
            DatasetName::Folder => {
                "Name the folder in the scenario: [data] path = \"…\"".to_string()
            }
        }
    }
}

impl std::fmt::Display for DatasetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DatasetName {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mnist" => Ok(DatasetName::Mnist),
            "fashion-mnist" | "fashion_mnist" | "fashion" => Ok(DatasetName::FashionMnist),
            "digits" => Ok(DatasetName::Digits),
            other => Err(DataError::UnknownName(other.to_string())),
        }
    }
}

/// The user cache directory for a dataset (`~/.cache/gradtop/NAME`), where `data fetch` writes.
pub fn cache_dir(name: DatasetName) -> Option<PathBuf> {
    dirs::cache_dir().map(|c| c.join("gradtop").join(name.as_str()))
}

/// Directories searched for `name`, in order: `--data-dir`, `$GRADTOP_DATA`, `./data/NAME`,
/// the user cache dir, and for Fashion-MNIST the Debian package's directory.
///
/// `--data-dir` and `$GRADTOP_DATA` may point at the dataset itself or at a parent holding
/// `NAME/`; both are tried.
pub fn search_dirs(name: DatasetName, data_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut parent_or_self = |p: PathBuf| {
        dirs.push(p.join(name.as_str()));
        dirs.push(p);
    };
    if let Some(d) = data_dir {
        parent_or_self(d.to_path_buf());
    }
    if let Some(env) = std::env::var_os("GRADTOP_DATA").filter(|v| !v.is_empty()) {
        parent_or_self(PathBuf::from(env));
    }
    dirs.extend(default_dirs(name));
    dirs
}

/// The folders searched whatever the user names: `./data/NAME`, the cache, the Debian package.
fn default_dirs(name: DatasetName) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("data").join(name.as_str())];
    if let Some(c) = cache_dir(name) {
        dirs.push(c);
    }
    if name == DatasetName::FashionMnist {
        dirs.push(PathBuf::from(DEBIAN_FASHION_DIR));
    }
    dirs
}

/// The path of one of the four files in `dir`, preferring the raw file over `.gz`.
pub(crate) fn existing_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    [dir.join(stem), dir.join(format!("{stem}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// The four files of a dataset in `dir`, if all are present.
pub fn files_in(dir: &Path) -> Option<[PathBuf; 4]> {
    let found: Vec<PathBuf> = FILE_STEMS
        .iter()
        .filter_map(|s| existing_file(dir, s))
        .collect();
    found.try_into().ok()
}

/// The first directory in the lookup order that holds all four files, or a `NotFound` error
/// listing where it looked and the command that fixes it. A folder the user named
/// (`--data-dir`, `$GRADTOP_DATA`) that holds part of the dataset is refused, naming what it
/// lacks, rather than passed over for another copy.
pub fn find_dataset(name: DatasetName, data_dir: Option<&Path>) -> Result<PathBuf, DataError> {
    if name == DatasetName::Digits {
        return Ok(PathBuf::from(super::digits::BUILT_IN));
    }
    if name == DatasetName::Folder {
        return Err(DataError::NotFound {
            name: name.to_string(),
            searched: Vec::new(),
            hint: name.fetch_hint(),
        });
    }
    let searched = search_dirs(name, data_dir);
    let named = searched.len() - default_dirs(name).len();
    for dir in &searched[..named] {
        let missing: Vec<String> = FILE_STEMS
            .iter()
            .filter(|s| existing_file(dir, s).is_none())
            .map(|s| s.to_string())
            .collect();
        if !missing.is_empty() && missing.len() < FILE_STEMS.len() {
            return Err(DataError::Incomplete {
                name: name.to_string(),
                dir: dir.clone(),
                missing,
            });
        }
    }
    searched
        .iter()
        .find(|d| files_in(d).is_some())
        .cloned()
        .ok_or_else(|| DataError::NotFound {
            name: name.to_string(),
            searched,
            hint: name.fetch_hint(),
        })
}

/// Loads a dataset from a directory holding its four IDX files, validating all of them (the
/// built-in digits are drawn instead).
pub fn load_from_dir(name: DatasetName, dir: &Path) -> Result<Dataset, DataError> {
    if name == DatasetName::Digits {
        return Ok(super::digits::dataset());
    }
    let [train_images, train_labels, test_images, test_labels] =
        files_in(dir).ok_or_else(|| DataError::NotFound {
            name: name.to_string(),
            searched: vec![dir.to_path_buf()],
            hint: name.fetch_hint(),
        })?;
    let (images, labels) = idx::read_labelled(&train_images, &train_labels, CLASSES)?;
    let train = Split { images, labels };
    let (images, labels) = idx::read_labelled(&test_images, &test_labels, CLASSES)?;
    let test = Split { images, labels };
    for (split, path) in [(&train, &train_images), (&test, &test_images)] {
        if split.images.shape() != (1, 28, 28) {
            let (c, h, w) = split.images.shape();
            return Err(DataError::Corrupt {
                path: path.clone(),
                what: format!(
                    "images are {c}×{h}×{w}, {name} is grey 28×28 (another image size is read \
                     from a folder named in the scenario's [data] path)"
                ),
            });
        }
    }
    Ok(Dataset {
        name,
        dir: dir.to_path_buf(),
        train,
        test,
        classes: name.class_list(),
    })
}

/// Finds and loads a dataset in one call.
pub fn load(name: DatasetName, data_dir: Option<&Path>) -> Result<Dataset, DataError> {
    load_from_dir(name, &find_dataset(name, data_dir)?)
}

/// The first dataset present, in [`DatasetName::ALL`]'s order: MNIST if found, else
/// Fashion-MNIST, else the built-in digits, so a dashboard opened without a scenario can train.
pub fn first_present(data_dir: Option<&Path>) -> DatasetName {
    DatasetName::ALL
        .into_iter()
        .find(|&n| find_dataset(n, data_dir).is_ok())
        .unwrap_or(DatasetName::Digits)
}

/// Another dataset that is present when `wanted` is missing, so the UI can offer it.
pub fn alternative(wanted: DatasetName, data_dir: Option<&Path>) -> Option<DatasetName> {
    DatasetName::ALL
        .into_iter()
        .filter(|&n| n != wanted)
        .find(|&n| find_dataset(n, data_dir).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::{encode_images, encode_labels, write_idx, Images};

    /// Writes a small valid dataset (28×28 images) into `dir`.
    fn write_tiny(dir: &Path, n: usize) {
        std::fs::create_dir_all(dir).unwrap();
        let images = Images {
            pixels: vec![7; n * 784],
            count: n,
            channels: 1,
            rows: 28,
            cols: 28,
        };
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        for (stem, gz) in [(0, true), (1, false), (2, false), (3, true)] {
            let name = format!("{}{}", FILE_STEMS[stem], if gz { ".gz" } else { "" });
            let bytes = if stem % 2 == 0 {
                encode_images(&images)
            } else {
                encode_labels(&labels)
            };
            write_idx(&dir.join(name), &bytes).unwrap();
        }
    }

    #[test]
    fn data_dir_takes_precedence_and_accepts_a_parent() {
        let tmp = tempfile::tempdir().unwrap();
        write_tiny(&tmp.path().join("mnist"), 20);
        let found = find_dataset(DatasetName::Mnist, Some(tmp.path())).unwrap();
        assert_eq!(found, tmp.path().join("mnist"));
        let ds = load(DatasetName::Mnist, Some(&found)).unwrap();
        assert_eq!((ds.train.len(), ds.test.len()), (20, 20));
        assert_eq!(ds.train.labels[13], 3);
    }

    #[test]
    fn missing_dataset_lists_dirs_and_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let err = find_dataset(DatasetName::Mnist, Some(tmp.path())).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("gradtop data fetch mnist"), "{msg}");
        assert!(msg.contains(&tmp.path().display().to_string()), "{msg}");
    }

    #[test]
    fn wrong_image_size_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let images = Images {
            pixels: vec![0; 2 * 9],
            count: 2,
            channels: 1,
            rows: 3,
            cols: 3,
        };
        for (i, stem) in FILE_STEMS.iter().enumerate() {
            let bytes = if i % 2 == 0 {
                encode_images(&images)
            } else {
                encode_labels(&[0, 1])
            };
            write_idx(&tmp.path().join(stem), &bytes).unwrap();
        }
        let msg = load_from_dir(DatasetName::Mnist, tmp.path())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("3×3"), "{msg}");
    }

    #[test]
    fn names_parse_and_print() {
        assert_eq!(
            "fashion-mnist".parse::<DatasetName>().unwrap(),
            DatasetName::FashionMnist
        );
        assert!("cifar".parse::<DatasetName>().is_err());
        assert_eq!(DatasetName::Mnist.to_string(), "mnist");
    }
}
