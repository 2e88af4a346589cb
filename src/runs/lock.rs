//! The run lock: a `lock` file holding the writer's pid, so a run is never written by two
//! processes (a second `resume`, or a delete while it trains).
//!
//! Exclusion comes from `flock(2)` on the lock file, which the kernel drops when the holder dies,
//! so two processes racing to take a stale lock cannot both win. The pid in the file names the
//! holder in error messages and lets readers (the Runs tab) tell a live run from a dead one
//! without touching the lock.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::error::{IoContext, Result, RunsError};

/// Name of the lock file inside a run directory.
pub const LOCK_FILE: &str = "lock";

/// How often to retry when the lock file is replaced between opening and locking it.
const ACQUIRE_ATTEMPTS: usize = 5;

/// Exclusive write access to one run directory; released (file removed) on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    // Kept open: closing it would release the flock.
    file: File,
}

impl RunLock {
    /// Takes the lock of `run_dir`, writing this process's pid into `run_dir/lock`.
    ///
    /// Refused with [`RunsError::Locked`] (naming the pid) if another open lock holds it, in this
    /// process or another, or if the file names a different live process. A lock left by a dead
    /// process is taken over.
    pub fn acquire(run_dir: &Path) -> Result<Self> {
        let path = run_dir.join(LOCK_FILE);
        let own_pid = std::process::id();
        for _ in 0..ACQUIRE_ATTEMPTS {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .at("opening lock", &path)?;
            // SAFETY: flock on a file descriptor we own; no memory is passed.
            let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if locked != 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::WouldBlock {
                    let pid = read_pid(&mut file).unwrap_or(0);
                    return Err(RunsError::Locked {
                        run: run_dir.to_path_buf(),
                        pid,
                    });
                }
                return Err(err).at("locking", &path);
            }
            // Another process may have removed (released) the file between our open and flock;
            // then we hold a lock on an orphaned inode and must start over.
            let ours = file.metadata().at("inspecting lock", &path)?;
            match fs::metadata(&path) {
                Ok(current) if current.ino() == ours.ino() && current.dev() == ours.dev() => {}
                _ => continue,
            }
            if let Some(pid) = read_pid(&mut file) {
                if pid != own_pid && process_alive(pid) {
                    return Err(RunsError::Locked {
                        run: run_dir.to_path_buf(),
                        pid,
                    });
                }
            }
            file.set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .and_then(|_| writeln!(file, "{own_pid}"))
                .and_then(|()| file.sync_data())
                .at("writing lock", &path)?;
            return Ok(Self { path, file });
        }
        Err(RunsError::Invalid {
            path,
            what: "the lock file kept changing while taking it".to_string(),
        })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Remove before closing, so nobody sees the file without a live flock behind it;
        // a missing file (run deleted) is fine.
        let _ = fs::remove_file(&self.path);
        let _ = &self.file;
    }
}

/// The pid of the live process holding `run_dir`'s lock, or `None` if there is no lock file or
/// its process is gone (a stale lock). Reads only: never takes or disturbs the lock.
pub fn lock_holder(run_dir: &Path) -> Option<u32> {
    let mut file = File::open(run_dir.join(LOCK_FILE)).ok()?;
    let pid = read_pid(&mut file)?;
    process_alive(pid).then_some(pid)
}

/// Parses the pid stored in a lock file; `None` if empty or not a number.
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Whether a process with this pid exists (`kill(pid, 0)`; EPERM means it exists but is
/// someone else's).
pub fn process_alive(pid: u32) -> bool {
    // pid 0 and negative pids address process groups; never signal those.
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 performs only the existence and permission check, delivering nothing.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_refused_with_the_holder_pid_and_released_on_drop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lock = RunLock::acquire(dir.path()).expect("first acquire");
        let text = fs::read_to_string(lock.path()).expect("lock file");
        assert_eq!(text.trim(), std::process::id().to_string());
        assert_eq!(lock_holder(dir.path()), Some(std::process::id()));
        match RunLock::acquire(dir.path()) {
            Err(RunsError::Locked { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(lock);
        assert!(!dir.path().join(LOCK_FILE).exists());
        assert_eq!(lock_holder(dir.path()), None);
        RunLock::acquire(dir.path()).expect("acquire after release");
    }

    #[test]
    fn lock_of_another_live_process_is_refused_and_message_names_pid() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        fs::write(dir.path().join(LOCK_FILE), format!("{}\n", child.id())).expect("write lock");
        let result = RunLock::acquire(dir.path());
        let _ = child.kill();
        let _ = child.wait();
        match result {
            Err(err @ RunsError::Locked { .. }) => {
                let message = err.to_string();
                assert!(message.contains(&child.id().to_string()), "{message}");
                assert!(message.contains("in use by process"), "{message}");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
    }

    #[test]
    fn stale_lock_of_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let dead_pid = child.id();
        child.wait().expect("reap child");
        fs::write(dir.path().join(LOCK_FILE), format!("{dead_pid}\n")).expect("write lock");
        assert_eq!(lock_holder(dir.path()), None);
        let lock = RunLock::acquire(dir.path()).expect("take over stale lock");
        let text = fs::read_to_string(lock.path()).expect("lock file");
        assert_eq!(text.trim(), std::process::id().to_string());
    }

    #[test]
    fn garbage_lock_file_is_taken_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join(LOCK_FILE), "not a pid").expect("write lock");
        RunLock::acquire(dir.path()).expect("take over unreadable lock");
    }

    #[test]
    fn process_alive_never_treats_group_pids_as_processes() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(0));
        assert!(!process_alive(u32::MAX));
    }
}
