//! Bulky state a job leaves in its run directory for `gradtop watch`: the latest RL episode's
//! frames and the classifier's latest confusion matrix. Each file is replaced whole (written
//! to a temp name, then renamed), so a follower reads the old version or the new one, never a
//! mix; [`FileWatch`] tells a follower when a file was replaced.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data::{DatasetName, CLASSES};

/// The latest finished training episode of an RL run (an
/// [`EpisodeFrames`](crate::models::rl::EpisodeFrames) as JSON).
pub const EPISODE_FILE: &str = "episodes/latest.json";
/// The classifier's latest confusion matrix (a [`ConfusionFile`] as JSON).
pub const CONFUSION_FILE: &str = "confusion.json";
/// Seconds between two writes of the episode file, however often episodes end.
pub const EPISODE_WRITE_INTERVAL_S: f64 = 1.0;

/// What the classifier writes to [`CONFUSION_FILE`] after each evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionFile {
    /// Training step of the evaluation.
    pub step: u64,
    /// The dataset, which names the classes.
    pub dataset: DatasetName,
    /// Test images the evaluation covered.
    pub evaluated: usize,
    /// Counts of (true class, predicted class).
    pub confusion: [[u32; CLASSES]; CLASSES],
    /// The class names, when the dataset's own (a folder's `classes.txt`) are not its name's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_names: Vec<String>,
}

/// Writes `value` as JSON to `run_dir/name` through a temp file and a rename, creating the
/// file's folder inside the run directory if needed (never the run directory itself).
pub fn write_json_atomic<T: Serialize + ?Sized>(
    run_dir: &Path,
    name: &str,
    value: &T,
) -> std::io::Result<()> {
    let json = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    crate::atomic_file::write_under(run_dir, Path::new(name), &json)
}

/// Notices when a file written by [`write_json_atomic`] has been replaced, and reads it then.
#[derive(Debug)]
pub struct FileWatch {
    path: PathBuf,
    seen: Option<(u64, Option<SystemTime>, u64)>,
}

impl FileWatch {
    /// Watches `run_dir/name`; the first [`FileWatch::poll`] reads it if it exists.
    pub fn new(run_dir: &Path, name: &str) -> Self {
        Self {
            path: run_dir.join(name),
            seen: None,
        }
    }

    /// The file's JSON content if it appeared or was replaced since the last call; `None` if it
    /// is unchanged, absent, or does not parse (a file from another version is skipped).
    pub fn poll<T: DeserializeOwned>(&mut self) -> Option<T> {
        serde_json::from_slice(&self.poll_bytes()?).ok()
    }

    /// The file's bytes if it appeared or was replaced since the last call (a writer replaces
    /// it by rename, so each version has a new inode).
    pub fn poll_bytes(&mut self) -> Option<Vec<u8>> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&self.path).ok()?;
        let stamp = (meta.ino(), meta.modified().ok(), meta.len());
        if self.seen == Some(stamp) {
            return None;
        }
        self.seen = Some(stamp);
        std::fs::read(&self.path).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_is_read_once_per_version() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut watch = FileWatch::new(dir.path(), EPISODE_FILE);
        assert_eq!(watch.poll::<Vec<u32>>(), None, "absent");
        write_json_atomic(dir.path(), EPISODE_FILE, &vec![1u32, 2]).expect("write");
        assert_eq!(watch.poll::<Vec<u32>>(), Some(vec![1, 2]));
        assert_eq!(watch.poll::<Vec<u32>>(), None, "unchanged");
        write_json_atomic(dir.path(), EPISODE_FILE, &vec![3u32]).expect("write");
        assert_eq!(watch.poll::<Vec<u32>>(), Some(vec![3]));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("episodes"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("latest.json")]);
        std::fs::write(dir.path().join(EPISODE_FILE), b"{half").expect("write");
        assert_eq!(watch.poll::<Vec<u32>>(), None, "garbage is skipped");
    }
}
