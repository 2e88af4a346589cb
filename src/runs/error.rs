//! The one error type of the run-directory layer; every variant names the file it concerns.

use std::path::PathBuf;

/// What went wrong with a run directory, a log, a checkpoint or a lock, and where.
#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    /// A file-system call failed on `path`.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "creating", "reading", "renaming".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying OS error.
        source: std::io::Error,
    },
    /// `path` is not a usable run directory (or checkpoint): `what` says what is missing or wrong.
    #[error("{}: {what}", path.display())]
    Invalid {
        /// The directory or file concerned.
        path: PathBuf,
        /// What is missing or malformed, in words.
        what: String,
    },
    /// A live process holds the run's lock, so the run must not be opened for writing or deleted.
    #[error(
        "run {} is in use by {holder}; stop that process first (if no gradtop process is \
         writing the run, delete {})",
        run.display(),
        lock_file.display()
    )]
    Locked {
        /// The run directory.
        run: PathBuf,
        /// The process that holds the lock.
        holder: Holder,
        /// The lock file naming it.
        lock_file: PathBuf,
    },
    /// A checkpoint would hold NaN or infinite values (the run diverged), so it is not written.
    #[error(
        "{}: not written: tensor `{tensor}` is not finite (the run diverged; lower lr and \
         restart, or resume from the last checkpoint)",
        path.display()
    )]
    NonFinite {
        /// The checkpoint that was not written.
        path: PathBuf,
        /// The first tensor holding NaN or infinity.
        tensor: String,
    },
    /// A run has checkpoints and none of them can be read: resuming would start it again.
    #[error(
        "no checkpoint in {} can be read, so the run cannot continue (nothing was changed):{}",
        dir.display(),
        rejected.iter().map(|r| format!("\n  {r}")).collect::<String>()
    )]
    NoWholeCheckpoint {
        /// The checkpoints folder.
        dir: PathBuf,
        /// Each checkpoint and why it was rejected.
        rejected: Vec<Rejected>,
    },
    /// The run directory a process was writing is gone (deleted while the run trained), so
    /// nothing more is written: writing would re-create it as a fragment of a run.
    #[error("run directory {} was deleted", run.display())]
    RunDeleted {
        /// The run directory.
        run: PathBuf,
    },
    /// A file a process keeps open for writing (a log, the lock) is no longer the file at its
    /// path: it was deleted, or replaced by another file or a folder, so writes would be lost.
    #[error("{} was {what} while the run was writing it", path.display())]
    Replaced {
        /// The file concerned.
        path: PathBuf,
        /// What happened to it: `deleted`, `replaced`.
        what: &'static str,
    },
    /// A line of a JSONL log, a sidecar or a config file did not parse.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        /// The file concerned.
        path: PathBuf,
        /// The 1-based line, where the file is line-oriented.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// candle failed to save or load tensors.
    #[error("checkpoint tensors {}: {source}", path.display())]
    Tensors {
        /// The safetensors file concerned.
        path: PathBuf,
        /// candle's error.
        source: candle_core::Error,
    },
}

/// Result alias for the run-directory layer.
pub type Result<T> = std::result::Result<T, RunsError>;

/// Attaches an action and a path to an `io::Error`, so every I/O failure names its file.
pub(crate) trait IoContext<T> {
    /// Wraps the error as [`RunsError::Io`].
    fn at(self, action: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, action: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| RunsError::Io {
            action,
            path: path.to_path_buf(),
            source,
        })
    }
}

/// A checkpoint that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Its step.
    pub step: u64,
    /// The file at fault (the sidecar, or the tensors it vouches for).
    pub path: PathBuf,
    /// What is wrong, in words.
    pub why: String,
    /// True when its sidecar was never written (the process stopped while writing it): nothing
    /// was lost there, unlike a damaged file.
    pub incomplete: bool,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.why)
    }
}

/// The process holding a run's lock, as far as its lock file tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// The pid written in the lock file; `None` when it names none (a holder that is not
    /// gradtop, or one that has not written it yet).
    pub pid: Option<u32>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "process {pid}"),
            None => write!(f, "a process that wrote no pid in the lock file"),
        }
    }
}
