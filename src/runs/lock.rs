//! The run lock: a `lock` file holding the writer's pid, so a run is never written by two
//! processes (a second `resume`, or a delete while it trains).
//!
//! The file's exclusive `flock(2)` (through the standard library's `File::try_lock`) alone says
//! whether a process writes the run: the kernel drops it when its holder dies, however it dies,
//! so a lock file nobody holds is stale whatever pid it names, and two processes racing to take
//! it cannot both win. The pid in the file only names the holder in messages.
//!
//! Readers ask with [`lock_holder`], which tries a shared lock for an instant: it never blocks a
//! writer for longer than that, and a writer that meets one retries instead of refusing. The
//! lock file is opened without following a symbolic link or waiting on a pipe, and anything but
//! a plain file there is refused rather than written through.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::error::{Holder, IoContext, Result, RunsError};

/// Name of the lock file inside a run directory.
pub const LOCK_FILE: &str = "lock";

/// How often to try again when the lock file is replaced between opening and locking it, or a
/// reader holds it for an instant.
const ACQUIRE_ATTEMPTS: usize = 8;

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

/// What one try at the flock came to.
enum Attempt {
    /// The exclusive lock is ours.
    Taken,
    /// Another open lock holds it exclusively: a writer.
    Held,
    /// Only shared locks were in the way: readers looking for an instant.
    Probed,
}

impl RunLock {
    /// Takes the lock of `run_dir`, writing this process's pid into `run_dir/lock`.
    ///
    /// Refused with [`RunsError::Locked`] (naming the holder) while another open lock holds it,
    /// in this process or another, and with [`RunsError::Invalid`] when `lock` is not a plain
    /// file (a folder, a symbolic link, a pipe). A lock file nobody holds (its process crashed,
    /// was killed or the machine rebooted) is taken over, whatever pid it names.
    pub fn acquire(run_dir: &Path) -> Result<Self> {
        let path = run_dir.join(LOCK_FILE);
        let own_pid = std::process::id();
        let mut readers_in_the_way = None;
        for _ in 0..ACQUIRE_ATTEMPTS {
            // Our own shared lock from the last try would be in the way of this one.
            readers_in_the_way = None;
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            let mut file = open_plain(&path, &mut options)?;
            match try_exclusive(&file).at("locking", &path)? {
                Attempt::Taken => {}
                Attempt::Held => return Err(locked(run_dir, &path, &mut file)),
                Attempt::Probed => {
                    readers_in_the_way = Some(file);
                    continue;
                }
            }
            // Another process may have removed (released) the file between our open and flock;
            // then we hold a lock on an orphaned inode and must start over.
            let ours = file.metadata().at("inspecting lock", &path)?;
            match fs::symlink_metadata(&path) {
                Ok(current) if current.ino() == ours.ino() && current.dev() == ours.dev() => {}
                _ => continue,
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
        // A shared lock that outlasts every attempt is no reader of ours: someone holds it.
        if let Some(mut file) = readers_in_the_way {
            return Err(locked(run_dir, &path, &mut file));
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

/// The process holding `run_dir`'s lock, or `None` when nobody does (no lock file, or a stale
/// one). Reads only: a shared lock for an instant, never the lock itself.
pub fn lock_holder(run_dir: &Path) -> Option<Holder> {
    let path = run_dir.join(LOCK_FILE);
    let mut file = open_plain(&path, OpenOptions::new().read(true)).ok()?;
    match file.try_lock_shared() {
        // Nobody writes the run; the shared lock goes with the file.
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(Holder {
            pid: read_pid(&mut file),
        }),
        Err(TryLockError::Error(_)) => None,
    }
}

/// Refuses a `lock` in `run_dir` that is not a plain file, which [`RunLock::acquire`] would
/// refuse too; a missing one is fine. Reads only, for checks made before a job starts.
pub fn check_lock_file(run_dir: &Path) -> Result<()> {
    let path = run_dir.join(LOCK_FILE);
    match fs::symlink_metadata(&path) {
        Ok(meta) if !meta.is_file() => Err(not_plain(path)),
        _ => Ok(()),
    }
}

/// Opens the lock file with `options`, without following a symbolic link or waiting for a
/// pipe's writer, and only if it is a plain file: gradtop never writes through, or into,
/// something it did not make.
fn open_plain(path: &Path, options: &mut OpenOptions) -> Result<File> {
    let opened = options
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        // ELOOP: a symbolic link (O_NOFOLLOW); EISDIR: a folder opened for writing.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EISDIR)) => {
            return Err(not_plain(path.to_path_buf()))
        }
        Err(e) => return Err(e).at("opening lock", path),
    };
    if !file.metadata().at("inspecting lock", path)?.is_file() {
        return Err(not_plain(path.to_path_buf()));
    }
    Ok(file)
}

/// The refusal for a lock path that holds something other than a plain file.
fn not_plain(path: PathBuf) -> RunsError {
    let kind = match fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_symlink() => "a symbolic link",
        Ok(meta) if meta.is_dir() => "a folder",
        _ => "a pipe, socket or device",
    };
    RunsError::Invalid {
        what: format!(
            "{kind}, not a lock file; gradtop leaves it as it is: delete it, then try again"
        ),
        path,
    }
}

/// Tries the exclusive flock once; when it is held, tells a writer from readers by trying a
/// shared one (which the next exclusive try converts or the file's closing drops).
fn try_exclusive(file: &File) -> std::io::Result<Attempt> {
    match file.try_lock() {
        Ok(()) => return Ok(Attempt::Taken),
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(e)) => return Err(e),
    }
    match file.try_lock_shared() {
        Ok(()) => Ok(Attempt::Probed),
        Err(TryLockError::WouldBlock) => Ok(Attempt::Held),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// The refusal for a lock another open lock holds, naming its holder.
fn locked(run_dir: &Path, path: &Path, file: &mut File) -> RunsError {
    RunsError::Locked {
        run: run_dir.to_path_buf(),
        holder: Holder {
            pid: read_pid(file),
        },
        lock_file: path.to_path_buf(),
    }
}

/// The most of a lock file read for its pid: a pid and a newline are far shorter, and a huge
/// file there is not gradtop's.
const PID_TEXT_MAX_BYTES: u64 = 64;

/// Parses the pid stored in a lock file; `None` if empty or not a number.
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(PID_TEXT_MAX_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The holder this process is, as the lock file names it.
    fn this_process() -> Holder {
        Holder {
            pid: Some(std::process::id()),
        }
    }

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
        assert_eq!(lock_holder(dir.path()), Some(this_process()));
        match RunLock::acquire(dir.path()) {
            Err(RunsError::Locked { holder, .. }) => assert_eq!(holder, this_process()),
            other => panic!("expected Locked, got {other:?}"),
        }
        // Asking who holds it never got in the holder's way, nor took its place.
        assert_eq!(lock_holder(dir.path()), Some(this_process()));
        drop(lock);
        assert!(!dir.path().join(LOCK_FILE).exists());
        assert_eq!(lock_holder(dir.path()), None);
        RunLock::acquire(dir.path()).expect("acquire after release");
    }

    #[test]
    fn a_lock_file_naming_a_live_process_that_holds_no_lock_is_taken_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        fs::write(dir.path().join(LOCK_FILE), format!("{}\n", child.id())).expect("write lock");
        let holder = lock_holder(dir.path());
        let taken = RunLock::acquire(dir.path());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(holder, None, "a pid alone holds nothing");
        let lock = taken.expect("take over a lock nobody holds");
        assert_eq!(
            fs::read_to_string(lock.path()).expect("lock").trim(),
            std::process::id().to_string()
        );
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
    fn a_flock_without_a_pid_is_refused_and_the_message_says_how_to_clear_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOCK_FILE);
        // Held the way `flock(1)` or another program would hold it: an empty file, locked.
        let foreign = File::create(&path).expect("lock file");
        foreign.try_lock().expect("hold the flock");
        assert_eq!(lock_holder(dir.path()), Some(Holder { pid: None }));
        match RunLock::acquire(dir.path()) {
            Err(err @ RunsError::Locked { .. }) => {
                let message = err.to_string();
                assert!(message.contains("wrote no pid"), "{message}");
                let way_out = format!("delete {}", path.display());
                assert!(message.contains(&way_out), "{message}");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(foreign);
        RunLock::acquire(dir.path()).expect("free once the flock is released");
    }

    #[test]
    fn a_shared_lock_that_stays_refuses_a_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOCK_FILE);
        fs::write(&path, "4242\n").expect("lock file");
        let reader = File::open(&path).expect("open");
        reader.try_lock_shared().expect("shared lock");
        match RunLock::acquire(dir.path()) {
            Err(RunsError::Locked { holder, .. }) => assert_eq!(holder.pid, Some(4242)),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(reader);
        RunLock::acquire(dir.path()).expect("free once the reader is gone");
    }

    #[test]
    fn a_lock_that_is_not_a_plain_file_is_refused_and_never_written_through() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOCK_FILE);
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, "the user's\n").expect("a file");
        let dangling = dir.path().join("absent");
        // A folder, a link to a file of the user's, and a dangling link that creating the lock
        // through it would make real.
        let cases = [
            ("a folder", None),
            ("a symbolic link", Some(&outside)),
            ("a symbolic link", Some(&dangling)),
        ];
        for (kind, link_to) in cases {
            match link_to {
                None => fs::create_dir(&path).expect("mkdir"),
                Some(target) => std::os::unix::fs::symlink(target, &path).expect("symlink"),
            }
            assert_eq!(lock_holder(dir.path()), None, "{kind}");
            for refusal in [
                RunLock::acquire(dir.path()).map(drop),
                check_lock_file(dir.path()),
            ] {
                match refusal {
                    Err(RunsError::Invalid { path: p, what }) => {
                        assert_eq!(p, path);
                        assert!(what.starts_with(kind), "{what}");
                    }
                    other => panic!("{kind}: expected Invalid, got {other:?}"),
                }
            }
            match link_to {
                None => fs::remove_dir(&path).expect("rmdir"),
                Some(_) => fs::remove_file(&path).expect("unlink"),
            }
        }
        assert_eq!(fs::read_to_string(&outside).expect("read"), "the user's\n");
        assert!(
            !dangling.exists(),
            "nothing created through a dangling link"
        );
    }

    #[test]
    fn a_lock_that_is_a_pipe_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOCK_FILE);
        let c_path =
            std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("no NUL in path");
        // SAFETY: mkfifo only reads the NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
        assert_eq!(lock_holder(dir.path()), None);
        match RunLock::acquire(dir.path()) {
            Err(RunsError::Invalid { what, .. }) => assert!(what.starts_with("a pipe")),
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert!(check_lock_file(dir.path()).is_err());
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
        let child_holder = Holder {
            pid: Some(child_pid),
        };
        assert_eq!(lock_holder(dir.path()), Some(child_holder));
        child.0.kill().expect("kill -9 child");
        child.0.wait().expect("reap child");
        match result {
            Err(RunsError::Locked { holder, .. }) => assert_eq!(holder, child_holder),
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
}
