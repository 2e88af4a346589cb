//! Files replaced whole: written to a temporary file beside the target, synced, then renamed
//! over it, so a reader (or a crash) sees the old version or the new one, never a mix. Every
//! file gradtop rewrites in place goes through here: checkpoints, snapshots for `watch`, the
//! feature CNN cache, downloaded datasets.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A file being written under a temporary name beside its destination; [`AtomicFile::commit`]
/// puts it in place, and dropping it uncommitted removes it.
#[derive(Debug)]
pub struct AtomicFile {
    temp: NamedTempFile,
    path: PathBuf,
}

/// The temporary name of a file on its way to `path`: `.NAME.XXXXXX.tmp`, hidden, and
/// recognisable by the suffix if a crash leaves it behind.
pub const TEMP_SUFFIX: &str = ".tmp";

impl AtomicFile {
    /// Starts writing `path`, in a folder that exists.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(TEMP_SUFFIX)
            .tempfile_in(dir)?;
        Ok(Self {
            temp,
            path: path.to_path_buf(),
        })
    }

    /// The temporary file's path, for writers that take a path (safetensors, candle's VarMap).
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// The temporary file, to write into.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// Syncs the data, renames the file over its destination and syncs the folder, so the
    /// name never points at unwritten data.
    pub fn commit(self) -> std::io::Result<()> {
        self.temp.as_file().sync_all()?;
        let dir = self.path.parent().map(Path::to_path_buf);
        self.temp.persist(&self.path).map_err(|e| e.error)?;
        if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// Replaces `path` with `bytes`, atomically, in a folder that exists. A write that fails (a
/// full disk) leaves the old file and no temp file.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.file().write_all(bytes)?;
    file.commit()
}

/// Replaces `root/relative` with `bytes`, atomically, creating the folders between `root` and
/// the file but never `root` itself: a run directory deleted while its job trains is not
/// re-created by the job's next write, which fails instead.
pub fn write_under(root: &Path, relative: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut dir = root.to_path_buf();
    if let Some(folders) = relative.parent() {
        // One level at a time: each `create_dir` needs its parent, so a missing `root` stops it.
        for part in folders.components() {
            dir.push(part);
            match std::fs::create_dir(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
        }
    }
    write(&root.join(relative), bytes)
}

/// Removes the temporary files an interrupted [`AtomicFile`] left in `dir` and its
/// subfolders (a crash mid-write, or a folder that turned read-only before the temp file could
/// be removed), so they do not pile up across resumes. Only plain files named like ours
/// (`.NAME.XXXXXX.tmp`) are touched; links are never followed. Returns the paths removed.
pub fn remove_leftovers(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            removed.extend(remove_leftovers(&path)?);
        } else if kind.is_file() && is_leftover(&entry.file_name().to_string_lossy()) {
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// Whether `name` is one of [`AtomicFile`]'s temporary names: `.` + target + `.` + random + suffix.
fn is_leftover(name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
        .and_then(|stem| stem.rsplit_once('.'))
        .is_some_and(|(target, random)| !target.is_empty() && !random.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_and_an_uncommitted_one_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sub/latest.json");
        write_under(dir.path(), Path::new("sub/latest.json"), b"first").expect("write");
        write(&path, b"second").expect("rewrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"second");

        let mut pending = AtomicFile::create(&path).expect("create");
        pending.file().write_all(b"half").expect("write");
        let temp = pending.temp_path().to_path_buf();
        assert!(temp
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".latest.json.")));
        assert!(temp.to_string_lossy().ends_with(TEMP_SUFFIX));
        drop(pending);
        assert!(!temp.exists(), "an abandoned write leaves no file");
        assert_eq!(std::fs::read(&path).expect("read"), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_missing_root_is_not_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let gone = dir.path().join("deleted-run");
        let err = write_under(&gone, Path::new("episodes/latest.json"), b"x")
            .expect_err("the root is missing");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
        assert!(!gone.exists(), "the root was re-created");
        let err = write_under(&gone, Path::new("confusion.json"), b"x").expect_err("missing");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
        assert!(!gone.exists(), "the root was re-created");
    }
    #[test]
    fn leftover_temp_files_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sub = dir.path().join("checkpoints");
        std::fs::create_dir(&sub).expect("sub");
        let left = AtomicFile::create(&sub.join("step-1.safetensors")).expect("create");
        let left_path = left.temp_path().to_path_buf();
        // Kept on disk as a crash would leave it.
        left.temp.keep().expect("keep");
        let stale = dir.path().join(".confusion.json.aB3xZ9.tmp");
        std::fs::write(&stale, b"half").expect("stale");
        for keep in ["notes.tmp", ".tmp", "config.toml", "..tmp"] {
            std::fs::write(dir.path().join(keep), b"x").expect("keep");
        }
        std::os::unix::fs::symlink(&stale, dir.path().join(".link.abc.tmp")).expect("link");

        let mut removed = remove_leftovers(dir.path()).expect("sweep");
        removed.sort();
        let mut expected = vec![stale.clone(), left_path];
        expected.sort();
        assert_eq!(removed, expected);
        for keep in ["notes.tmp", ".tmp", "config.toml", "..tmp", ".link.abc.tmp"] {
            assert!(
                dir.path().join(keep).symlink_metadata().is_ok(),
                "{keep} was removed"
            );
        }
    }
}
