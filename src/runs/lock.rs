//! The run lock: a `lock` file holding the writer's pid, so a run is never written by two
//! processes (a second `resume`, or a delete while it trains).
//!
//! Exclusion comes from an exclusive file lock (`flock(2)` on Linux, through the standard
//! library's `File::try_lock`) on the lock file, which the kernel drops when the holder dies,
//! so two processes racing to take a stale lock cannot both win. The pid in the file names the
//! holder in error messages and lets readers (the Runs tab) tell a live run from a dead one
//! without touching the lock. A pid counts as the holder only if that process is alive and did
//! not start after the lock was written (on Linux, from `/proc`), so a pid reused after a crash
//! or a reboot does not keep a dead run "running".

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
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
    // Kept open for the flock (closing it releases the lock) and to tell whether the path
    // still names it.
    file: File,
    /// `(dev, inode)` of the run directory when the lock was taken.
    run_identity: (u64, u64),
}

impl RunLock {
    /// Takes the lock of `run_dir`, writing this process's pid into `run_dir/lock`.
    ///
    /// Refused with [`RunsError::Locked`] (naming the pid) if another open lock holds it, in this
    /// process or another, or if the file names a different live process that may have written
    /// it. A lock left by a dead process (crash, `kill -9`, reboot) is taken over.
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
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let pid = read_pid(&mut file).unwrap_or(0);
                    return Err(RunsError::Locked {
                        run: run_dir.to_path_buf(),
                        pid,
                        lock_file: path,
                    });
                }
                Err(std::fs::TryLockError::Error(err)) => return Err(err).at("locking", &path),
            }
            // Another process may have removed (released) the file between our open and flock;
            // then we hold a lock on an orphaned inode and must start over.
            let ours = file.metadata().at("inspecting lock", &path)?;
            match fs::metadata(&path) {
                Ok(current) if current.ino() == ours.ino() && current.dev() == ours.dev() => {}
                _ => continue,
            }
            if let Some(pid) = read_pid(&mut file) {
                if pid != own_pid && may_hold(pid, &ours) {
                    return Err(RunsError::Locked {
                        run: run_dir.to_path_buf(),
                        pid,
                        lock_file: path,
                    });
                }
            }
            file.set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .and_then(|_| writeln!(file, "{own_pid}"))
                .and_then(|()| file.sync_data())
                .at("writing lock", &path)?;
            let run = fs::metadata(run_dir).at("inspecting", run_dir)?;
            return Ok(Self {
                path,
                file,
                run_identity: (run.dev(), run.ino()),
            });
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

    /// Fails when the lock no longer guards the run: the run directory was deleted (or another
    /// folder now has its name), or the lock file was removed or replaced. A writer checks this
    /// before it writes, so a deleted run is never re-created and a run whose lock another
    /// process may have taken is not written by two.
    ///
    /// A missing lock file counts as a deleted run: `rm -rf` removes a folder's files before
    /// the folder, and a lock file goes only with its run.
    pub fn check_held(&self) -> Result<()> {
        let run = self.path.parent().unwrap_or(Path::new("."));
        match fs::metadata(run) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.run_identity => {}
            Ok(_) => {
                return Err(RunsError::RunDeleted {
                    run: run.to_path_buf(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RunsError::RunDeleted {
                    run: run.to_path_buf(),
                })
            }
            Err(e) => return Err(e).at("inspecting", run),
        }
        let ours = self.file.metadata().at("inspecting lock", &self.path)?;
        match fs::metadata(&self.path) {
            Ok(now) if (now.dev(), now.ino()) == (ours.dev(), ours.ino()) => Ok(()),
            Ok(_) => Err(RunsError::Replaced {
                path: self.path.clone(),
                what: "replaced",
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(RunsError::RunDeleted {
                run: run.to_path_buf(),
            }),
            Err(e) => Err(e).at("inspecting lock", &self.path),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Remove before closing, so nobody sees the file without a live flock behind it; a
        // missing file (run deleted) is fine, and a file that is no longer ours (the run was
        // deleted and its name taken again) is left to its owner.
        if self.check_held().is_ok() {
            let _ = fs::remove_file(&self.path);
        }
        // `file` closes after this, releasing the flock.
    }
}

/// The pid of the live process holding `run_dir`'s lock, or `None` if there is no lock file or
/// its process is gone (a stale lock). Reads only: never takes or disturbs the lock.
pub fn lock_holder(run_dir: &Path) -> Option<u32> {
    let mut file = File::open(run_dir.join(LOCK_FILE)).ok()?;
    let pid = read_pid(&mut file)?;
    let meta = file.metadata().ok()?;
    may_hold(pid, &meta).then_some(pid)
}

/// Whether process `pid` may be the one that wrote the lock file with metadata `lock`: alive,
/// and not started after the file was last modified.
fn may_hold(pid: u32, lock: &fs::Metadata) -> bool {
    if !process_alive(pid) {
        return false;
    }
    let written_unix_s = lock
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64());
    match (process_start_unix_s(pid), written_unix_s) {
        (Some(started), Some(written)) => started <= written + START_TIME_SLACK_S,
        _ => true,
    }
}

/// Process start times from `/proc` are only accurate to about a second (boot time is whole
/// seconds), so a process counts as started after the lock only beyond this margin.
const START_TIME_SLACK_S: f64 = 2.0;

/// When process `pid` started, in Unix seconds; `None` where `/proc` does not tell (non-Linux).
fn process_start_unix_s(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; fields after it are plain.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 22, `starttime`, is the 20th after the name (fields 3..).
    let start_ticks: f64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let boot_unix_s: f64 = fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks_per_s <= 0 {
        return None;
    }
    Some(boot_unix_s + start_ticks / ticks_per_s as f64)
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
    fn a_lock_knows_when_its_run_was_deleted_or_taken() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = parent.path().join("run");
        fs::create_dir(&run).expect("run");
        let lock = RunLock::acquire(&run).expect("acquire");
        lock.check_held().expect("held");

        fs::remove_file(lock.path()).expect("rm lock");
        fs::write(lock.path(), b"1\n").expect("another lock file");
        assert!(matches!(
            lock.check_held(),
            Err(RunsError::Replaced {
                what: "replaced",
                ..
            })
        ));

        fs::remove_dir_all(&run).expect("rm -rf");
        fs::create_dir(&run).expect("a new folder of the same name");
        match lock.check_held() {
            Err(RunsError::RunDeleted { run: gone }) => assert_eq!(gone, run),
            other => panic!("expected RunDeleted, got {other:?}"),
        }
        fs::write(run.join(LOCK_FILE), b"1\n").expect("someone else's lock");
        drop(lock);
        assert!(
            run.join(LOCK_FILE).exists(),
            "a lock that is not ours is left alone"
        );
    }

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
    fn a_live_pid_that_started_after_the_lock_was_written_is_not_its_holder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOCK_FILE);
        // This test process started before now; pretend the lock was written long before that,
        // as when a pid is reused after a reboot.
        fs::write(&path, format!("{}\n", std::process::id())).expect("write lock");
        let ancient = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(ancient))
            .expect("set mtime");
        if process_start_unix_s(std::process::id()).is_some() {
            assert_eq!(lock_holder(dir.path()), None);
        }
        let fresh = tempfile::tempdir().expect("temp dir");
        fs::write(
            fresh.path().join(LOCK_FILE),
            format!("{}\n", std::process::id()),
        )
        .expect("write");
        assert_eq!(lock_holder(fresh.path()), Some(std::process::id()));
    }

    /// What the child prints once it holds the lock (the test harness may prefix the line).
    const CHILD_LOCKED_MARK: &str = "child-holds-run-lock";
    /// The child exits on its own after this long, whatever happens to the parent.
    const CHILD_MAX_LIFETIME_S: u64 = 30;

    /// Run in a child process by `lock_held_by_a_child_is_refused_until_it_is_killed`: takes the
    /// lock of `$GRADTOP_LOCK_TEST_DIR`, says so, and waits to be killed.
    #[test]
    #[ignore = "helper process for another test"]
    fn child_holds_lock_until_killed() {
        let Some(dir) = std::env::var_os("GRADTOP_LOCK_TEST_DIR") else {
            return;
        };
        let _lock = RunLock::acquire(Path::new(&dir)).expect("child acquires");
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{CHILD_LOCKED_MARK}")
            .and_then(|()| stdout.flush())
            .expect("report to parent");
        // Watchdog: never outlive a parent that failed to kill us.
        std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(CHILD_MAX_LIFETIME_S));
            std::process::exit(3);
        });
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }

    #[test]
    fn lock_held_by_a_child_is_refused_until_it_is_killed() {
        use std::io::BufRead;
        /// Kills the child however the test ends, so a failure never leaves it waiting.
        struct KillOnDrop(std::process::Child);
        impl Drop for KillOnDrop {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let child = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "runs::lock::tests::child_holds_lock_until_killed",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("GRADTOP_LOCK_TEST_DIR", dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn child");
        let mut child = KillOnDrop(child);
        let child_pid = child.0.id();
        let stdout = child.0.stdout.take().expect("piped stdout");
        let locked = std::io::BufReader::new(stdout)
            .lines()
            .map_while(|line| line.ok())
            .any(|line| line.contains(CHILD_LOCKED_MARK));
        assert!(locked, "child did not take the lock");

        let result = RunLock::acquire(dir.path());
        assert_eq!(lock_holder(dir.path()), Some(child_pid));
        child.0.kill().expect("kill -9 child");
        child.0.wait().expect("reap child");
        match result {
            Err(RunsError::Locked { pid, .. }) => assert_eq!(pid, child_pid),
            other => panic!("expected Locked, got {other:?}"),
        }
        // The child died without removing its lock file: a stale lock, taken over.
        assert!(dir.path().join(LOCK_FILE).exists());
        assert_eq!(lock_holder(dir.path()), None);
        let lock = RunLock::acquire(dir.path()).expect("take over after kill");
        assert_eq!(
            fs::read_to_string(lock.path()).expect("lock").trim(),
            std::process::id().to_string()
        );
    }

    #[test]
    fn process_alive_never_treats_group_pids_as_processes() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(0));
        assert!(!process_alive(u32::MAX));
    }
}
