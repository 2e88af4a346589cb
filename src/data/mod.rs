//! Datasets: IDX reading, lookup on disk, download with checksums, and batching.

pub mod batch;
pub mod cifar;
pub mod digits;
pub mod fetch;
pub mod folder;
pub mod idx;
pub mod lookup;
pub mod prefetch;
pub mod synthetic;

use std::path::PathBuf;

pub use batch::{Batch, BatchPlan};
pub use folder::DataSource;
pub use idx::Images;
pub use lookup::{find_dataset, DatasetName};

/// Everything that can go wrong with data; each variant names the file or dataset at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file exists but its contents are not what its format promises.
    #[error("{}: {what}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        what: String,
    },
    /// An image file and its label file disagree on how many examples there are.
    #[error("{} holds {images} images but {} holds {labels} labels", images_path.display(), labels_path.display())]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// Images in it.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// Labels in it.
        labels: usize,
    },
    /// No directory in the lookup order holds the dataset.
    #[error("dataset {name} not found (looked in: {}).\n{hint}", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound {
        /// The dataset's name.
        name: String,
        /// Every directory that was searched, in order.
        searched: Vec<PathBuf>,
        /// The exact command that fixes it.
        hint: String,
    },
    /// A folder the user named holds some of a dataset's four files but not all of them.
    #[error("{}: {name} is incomplete, missing {}", dir.display(), missing.join(", "))]
    Incomplete {
        /// The dataset's name.
        name: String,
        /// The folder.
        dir: PathBuf,
        /// The file names (without `.gz`) it lacks.
        missing: Vec<String>,
    },
    /// An unknown dataset name.
    #[error("unknown dataset {0:?}: expected mnist, fashion-mnist or digits (or a folder given as [data] path)")]
    UnknownName(String),
    /// A dataset gradtop draws itself was asked to be downloaded.
    #[error("{0} is built into gradtop: there is nothing to fetch")]
    BuiltIn(String),
    /// A download failed.
    #[error("download of {url} failed: {what}")]
    Download {
        /// What was fetched.
        url: String,
        /// Why it failed.
        what: String,
    },
    /// A downloaded file did not match its published checksum (the file was deleted).
    #[error("{}: checksum mismatch (expected {expected}, got {actual}); the file was deleted", path.display())]
    Checksum {
        /// The deleted file.
        path: PathBuf,
        /// The published sum.
        expected: String,
        /// The sum of what arrived.
        actual: String,
    },
}

/// A labelled split held in memory as bytes.
#[derive(Debug, Clone)]
pub struct Split {
    /// The images, u8.
    pub images: Images,
    /// One label per image, each below [`CLASSES`].
    pub labels: Vec<u8>,
}

impl Split {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the split holds no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Both splits of a dataset, with where they came from.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Which dataset.
    pub name: DatasetName,
    /// The directory it was loaded from.
    pub dir: PathBuf,
    /// Training split.
    pub train: Split,
    /// Test split.
    pub test: Split,
    /// One name per class, so predictions read as "Sneaker", not "7".
    pub classes: Vec<String>,
}

impl Dataset {
    /// Human-readable class names, so predictions read as "Sneaker", not "7".
    pub fn class_names(&self) -> &[String] {
        &self.classes
    }

    /// `(channels, rows, cols)` of every image, which the model's input follows.
    pub fn image_shape(&self) -> (usize, usize, usize) {
        self.train.images.shape()
    }
}

/// Classes a classifier tells apart: the ten of MNIST, Fashion-MNIST and CIFAR-10; a dataset
/// read from a folder may use fewer (its labels stay below this).
pub const CLASSES: usize = 10;
