//! `control.jsonl`: the append-only file through which another process steers a live run —
//! `gradtop watch`, a script, `echo … >> control.jsonl`. One command per line:
//!
//! ```text
//! {"id":"12345-1","command":"pause"}
//! {"id":"12345-2","command":"set","param":"lr","value":0.0005}
//! ```
//!
//! [`send_command`] appends a line for the run's owner while the run trains; the job reads the
//! lines added since it opened the run with a [`ControlTail`] and acknowledges each in
//! `events.jsonl` with a `control` event.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::error::{IoContext, Result, RunsError};
use super::list::{run_status, RunStatus};
use crate::params::Param;

/// The control file's name inside a run directory.
pub const CONTROL_FILE: &str = "control.jsonl";
/// Most bytes one [`ControlTail::poll`] reads, so a flood of commands is taken in chunks.
const MAX_READ_BYTES: u64 = 64 * 1024;
/// Characters of a malformed line quoted in its refusal.
const QUOTED_CHARS: usize = 80;
/// Permissions of a control file [`send_command`] creates: only the owner steers a run.
const CONTROL_FILE_MODE: u32 = 0o600;

/// What a line of `control.jsonl` asks the job to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlCommand {
    /// Checkpoint and hold between two steps.
    Pause,
    /// Continue after a pause.
    Resume,
    /// End the run (after a checkpoint), resumable later.
    Stop,
    /// Write a checkpoint now.
    Checkpoint,
    /// Change a live hyperparameter from the next step on.
    Set {
        /// The hyperparameter's scenario key, e.g. `lr`.
        param: String,
        /// The new value.
        value: f64,
    },
}

impl ControlCommand {
    /// The command's name as written in the file and in its acknowledgement.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Stop => "stop",
            Self::Checkpoint => "checkpoint",
            Self::Set { .. } => "set",
        }
    }
}

/// One line of `control.jsonl`: the sender's id and the command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlRecord {
    /// Names the command in its acknowledgement: `<pid>-<counter>` of the sender.
    pub id: String,
    /// What to do.
    #[serde(flatten)]
    pub command: ControlCommand,
}

/// A complete line read from the control file.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlLine {
    /// A command to apply.
    Command(ControlRecord),
    /// A line that is not a command; the job refuses it with `reason`, under its `id` if the
    /// line had one.
    Malformed {
        /// The line's `id`, when it is a JSON object with a string `id`.
        id: Option<String>,
        /// Why, naming the line.
        reason: String,
    },
}

impl ControlLine {
    /// Reads line number `number` (1-based) of the control file.
    fn parse(number: u64, line: &[u8]) -> Self {
        match serde_json::from_slice::<ControlRecord>(line) {
            Ok(record) => ControlLine::Command(record),
            Err(e) => {
                let id = serde_json::from_slice::<serde_json::Value>(line)
                    .ok()
                    .and_then(|v| v.get("id")?.as_str().map(String::from));
                let text = String::from_utf8_lossy(line);
                let mut quoted: String = text.chars().take(QUOTED_CHARS).collect();
                if text.chars().count() > QUOTED_CHARS {
                    quoted.push('…');
                }
                ControlLine::Malformed {
                    id,
                    reason: format!(
                        "line {number} of {CONTROL_FILE} is not a command ({e}): {quoted}"
                    ),
                }
            }
        }
    }
}

/// Reads the lines appended to a run's control file since the job opened the run: the
/// commands already there (a resumed run's old ones) are never replayed, a last line without
/// its newline waits for it, and each look costs one `stat` when nothing was added.
#[derive(Debug)]
pub struct ControlTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    /// `(dev, inode)` of the file read, to notice a replaced file.
    identity: Option<(u64, u64)>,
    /// Complete lines before `offset`, for naming lines in refusals.
    lines: u64,
    /// The file ended inside a line when the tail opened: the rest of that line is old.
    skip_first: bool,
}

impl ControlTail {
    /// A tail at the current end of `run_dir`'s control file (its start if there is none yet).
    pub fn at_end(run_dir: &Path) -> Result<Self> {
        let path = run_dir.join(CONTROL_FILE);
        let mut tail = Self {
            path,
            offset: 0,
            partial: Vec::new(),
            identity: None,
            lines: 0,
            skip_first: false,
        };
        let mut file = match File::open(&tail.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(tail),
            Err(e) => return Err(e).at("opening control file", &tail.path),
        };
        let meta = file.metadata().at("inspecting control file", &tail.path)?;
        // Read once, to number the lines that follow; a control file is a few lines per
        // command sent by hand.
        let mut old = Vec::new();
        (&mut file)
            .take(meta.len())
            .read_to_end(&mut old)
            .at("reading control file", &tail.path)?;
        tail.offset = old.len() as u64;
        tail.lines = old.iter().filter(|&&b| b == b'\n').count() as u64;
        tail.skip_first = old.last().is_some_and(|&b| b != b'\n');
        tail.identity = Some((meta.dev(), meta.ino()));
        Ok(tail)
    }

    /// The lines completed since the last poll, in file order; empty when nothing was added or
    /// there is no control file. A replaced or shortened file is read from its start: its
    /// lines are new.
    pub fn poll(&mut self) -> Result<Vec<ControlLine>> {
        let meta = match fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.identity.take().is_some() {
                    self.restart();
                }
                return Ok(Vec::new());
            }
            Err(e) => return Err(e).at("inspecting control file", &self.path),
        };
        if !meta.is_file() {
            return Err(RunsError::Invalid {
                path: self.path.clone(),
                what: "not a regular file".into(),
            });
        }
        let now = (meta.dev(), meta.ino());
        if self.identity.is_some_and(|known| known != now) || meta.len() < self.offset {
            self.restart();
        }
        self.identity = Some(now);
        if meta.len() == self.offset {
            return Ok(Vec::new());
        }
        let mut fresh = Vec::new();
        let mut file = File::open(&self.path).at("opening control file", &self.path)?;
        file.seek(SeekFrom::Start(self.offset))
            .and_then(|_| (&mut file).take(MAX_READ_BYTES).read_to_end(&mut fresh))
            .at("reading control file", &self.path)?;
        self.offset += fresh.len() as u64;
        self.partial.extend_from_slice(&fresh);
        let Some(last_newline) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        let complete: Vec<u8> = self.partial.drain(..=last_newline).collect();
        let mut out = Vec::new();
        for line in complete[..complete.len() - 1].split(|&b| b == b'\n') {
            self.lines += 1;
            if std::mem::take(&mut self.skip_first) || line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            out.push(ControlLine::parse(self.lines, line));
        }
        Ok(out)
    }

    fn restart(&mut self) {
        self.offset = 0;
        self.partial.clear();
        self.lines = 0;
        self.skip_first = false;
    }
}

/// Why a command was not sent.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The run ended for good: a command for a finished run is refused.
    #[error("run {} has {status}: a command for a finished run is refused", run.display())]
    Ended {
        /// The run directory.
        run: PathBuf,
        /// `finished` or `failed`.
        status: &'static str,
    },
    /// No live process trains the run, so nothing would read the command.
    #[error(
        "run {} is {status}, not training in a live process: no command was sent \
         (gradtop resume RUN_DIR continues it)",
        run.display()
    )]
    NotLive {
        /// The run directory.
        run: PathBuf,
        /// The run's status word.
        status: &'static str,
    },
    /// Another user owns the run; only its owner steers it.
    #[error(
        "run {} belongs to uid {owner}, not to you (uid {euid}): only its owner may steer it",
        run.display()
    )]
    NotOwner {
        /// The run directory.
        run: PathBuf,
        /// The run directory's owner.
        owner: u32,
        /// This process's effective uid.
        euid: u32,
    },
    /// A `set` the job would refuse anyway: an unknown parameter or a value out of range.
    #[error("{0}")]
    BadValue(String),
    /// The run directory or its control file could not be read or written.
    #[error(transparent)]
    Runs(#[from] RunsError),
}

/// Whether a process running as `euid` may steer a run whose directory `owner` owns: only
/// the owner (root included: another user's run is theirs to steer).
pub fn may_steer(owner: u32, euid: u32) -> bool {
    owner == euid
}

/// Numbers this process's commands, so each id is unique among senders.
static SENT: AtomicU64 = AtomicU64::new(0);

/// Appends `command` to the control file of `run_dir` for its job to apply, and returns the
/// command's id (`<pid>-<counter>`), which names its `control` event in `events.jsonl`.
/// Refused when the run is not training or paused in a live process, when this user does not
/// own it, or for a `set` no job would accept.
pub fn send_command(
    run_dir: &Path,
    command: ControlCommand,
) -> std::result::Result<String, ControlError> {
    let run = run_dir.to_path_buf();
    match run_status(run_dir)? {
        RunStatus::Running | RunStatus::Paused => {}
        status @ (RunStatus::Finished | RunStatus::Failed) => {
            return Err(ControlError::Ended {
                run,
                status: status.as_str(),
            })
        }
        status => {
            return Err(ControlError::NotLive {
                run,
                status: status.as_str(),
            })
        }
    }
    let owner = fs::metadata(run_dir)
        .at("inspecting run directory", run_dir)?
        .uid();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if !may_steer(owner, euid) {
        return Err(ControlError::NotOwner { run, owner, euid });
    }
    if let ControlCommand::Set { param, value } = &command {
        let known = Param::from_key(param)
            .ok_or_else(|| ControlError::BadValue(format!("unknown hyperparameter `{param}`")))?;
        known.validate(*value).map_err(ControlError::BadValue)?;
    }
    let id = format!(
        "{}-{}",
        std::process::id(),
        SENT.fetch_add(1, Ordering::Relaxed) + 1
    );
    let record = ControlRecord {
        id: id.clone(),
        command,
    };
    let mut line = serde_json::to_vec(&record).map_err(|e| RunsError::Invalid {
        path: run_dir.join(CONTROL_FILE),
        what: format!("command cannot be written as JSON: {e}"),
    })?;
    line.push(b'\n');
    let path = run_dir.join(CONTROL_FILE);
    // One write of a whole short line to a file opened for appending lands in one piece after
    // whatever other senders appended, so the job never reads two commands interleaved.
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(CONTROL_FILE_MODE)
        .open(&path)
        .and_then(|mut file| file.write_all(&line))
        .at("appending to control file", &path)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::{EndStatus, RunDir, RunEvent, RunLock, RunLogs};

    fn append(dir: &Path, bytes: &[u8]) {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(CONTROL_FILE))
            .and_then(|mut f| f.write_all(bytes))
            .expect("append to the control file");
    }

    fn commands(lines: &[ControlLine]) -> Vec<ControlCommand> {
        lines
            .iter()
            .filter_map(|l| match l {
                ControlLine::Command(r) => Some(r.command.clone()),
                ControlLine::Malformed { .. } => None,
            })
            .collect()
    }

    #[test]
    fn commands_already_in_the_file_are_not_replayed() {
        let dir = tempfile::tempdir().expect("temp dir");
        append(
            dir.path(),
            b"{\"id\":\"1-1\",\"command\":\"stop\"}\n{\"id\":\"1-2\",\"comm",
        );
        let mut tail = ControlTail::at_end(dir.path()).expect("open");
        assert!(tail.poll().expect("poll").is_empty());
        // The end of the old partial line, then a new command.
        append(
            dir.path(),
            b"and\":\"pause\"}\n{\"id\":\"2-1\",\"command\":\"checkpoint\"}\n",
        );
        let lines = tail.poll().expect("poll");
        assert_eq!(
            commands(&lines),
            vec![ControlCommand::Checkpoint],
            "{lines:?}"
        );
        assert_eq!(lines.len(), 1, "{lines:?}");
    }

    #[test]
    fn a_partial_line_waits_for_its_newline() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut tail = ControlTail::at_end(dir.path()).expect("open without a file");
        assert!(tail.poll().expect("no file yet").is_empty());
        append(
            dir.path(),
            b"{\"id\":\"7-1\",\"command\":\"set\",\"param\":\"lr\",",
        );
        assert!(tail.poll().expect("poll").is_empty(), "held back");
        append(dir.path(), b"\"value\":0.0005}\n");
        let lines = tail.poll().expect("poll");
        assert_eq!(
            lines,
            vec![ControlLine::Command(ControlRecord {
                id: "7-1".into(),
                command: ControlCommand::Set {
                    param: "lr".into(),
                    value: 0.0005
                },
            })]
        );
        assert!(tail.poll().expect("poll").is_empty(), "read once");
    }

    #[test]
    fn a_malformed_line_is_named_and_the_next_one_still_reads() {
        let dir = tempfile::tempdir().expect("temp dir");
        append(dir.path(), b"{\"id\":\"1-1\",\"command\":\"stop\"}\n");
        let mut tail = ControlTail::at_end(dir.path()).expect("open");
        append(
            dir.path(),
            b"not json\n{\"id\":\"3-9\",\"command\":\"jump\"}\n{\"id\":\"3-10\",\"command\":\"resume\"}\n",
        );
        let lines = tail.poll().expect("poll");
        assert_eq!(lines.len(), 3, "{lines:?}");
        let ControlLine::Malformed { id: None, reason } = &lines[0] else {
            panic!("{lines:?}")
        };
        assert!(
            reason.starts_with("line 2 of control.jsonl") && reason.ends_with(": not json"),
            "{reason}"
        );
        let ControlLine::Malformed { id, reason } = &lines[1] else {
            panic!("{lines:?}")
        };
        assert_eq!(id.as_deref(), Some("3-9"));
        assert!(reason.starts_with("line 3 of"), "{reason}");
        assert_eq!(commands(&lines), vec![ControlCommand::Resume]);
    }

    #[test]
    fn a_replaced_file_is_read_from_its_start() {
        let dir = tempfile::tempdir().expect("temp dir");
        append(dir.path(), b"{\"id\":\"1-1\",\"command\":\"stop\"}\n");
        let mut tail = ControlTail::at_end(dir.path()).expect("open");
        fs::remove_file(dir.path().join(CONTROL_FILE)).expect("remove");
        assert!(tail.poll().expect("gone").is_empty());
        append(dir.path(), b"{\"id\":\"1-2\",\"command\":\"pause\"}\n");
        assert_eq!(
            commands(&tail.poll().expect("poll")),
            vec![ControlCommand::Pause]
        );
    }

    #[test]
    fn only_the_owner_may_steer() {
        assert!(may_steer(1000, 1000));
        assert!(!may_steer(1000, 1001));
        assert!(
            !may_steer(1000, 0),
            "root does not steer another user's run"
        );
    }

    /// A run directory with a `start` event, and `end` with `status` when given.
    fn run_dir(parent: &Path, end: Option<EndStatus>) -> PathBuf {
        let dir = RunDir::create(parent, "ctl", &toml::Table::new()).expect("create run");
        let mut logs = RunLogs::open(&dir).expect("logs");
        logs.event(0, RunEvent::start_now(None)).expect("start");
        if let Some(status) = end {
            logs.event(
                5,
                RunEvent::End {
                    status,
                    summary: None,
                },
            )
            .expect("end");
        }
        dir.path().to_path_buf()
    }

    #[test]
    fn a_command_for_a_finished_run_is_refused() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = run_dir(parent.path(), Some(EndStatus::Finished));
        let err = send_command(&run, ControlCommand::Pause).expect_err("refused");
        assert!(
            matches!(
                err,
                ControlError::Ended {
                    status: "finished",
                    ..
                }
            ),
            "{err}"
        );
        assert!(!run.join(CONTROL_FILE).exists(), "nothing written");
    }

    #[test]
    fn a_run_no_process_trains_is_refused() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = run_dir(parent.path(), Some(EndStatus::Stopped));
        let err = send_command(&run, ControlCommand::Stop).expect_err("refused");
        assert!(
            matches!(
                err,
                ControlError::NotLive {
                    status: "stopped",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_live_run_gets_one_line_per_command_in_a_private_file() {
        let parent = tempfile::tempdir().expect("temp dir");
        let run = run_dir(parent.path(), None);
        let _lock = RunLock::acquire(&run).expect("lock, as the training process holds it");
        let mut tail = ControlTail::at_end(&run).expect("open");
        let first = send_command(&run, ControlCommand::Checkpoint).expect("sent");
        let second = send_command(
            &run,
            ControlCommand::Set {
                param: "lr".into(),
                value: 0.01,
            },
        )
        .expect("sent");
        assert!(
            first.starts_with(&format!("{}-", std::process::id())),
            "{first}"
        );
        assert_ne!(first, second);
        let lines = tail.poll().expect("poll");
        assert_eq!(
            lines,
            vec![
                ControlLine::Command(ControlRecord {
                    id: first,
                    command: ControlCommand::Checkpoint
                }),
                ControlLine::Command(ControlRecord {
                    id: second,
                    command: ControlCommand::Set {
                        param: "lr".into(),
                        value: 0.01
                    }
                }),
            ]
        );
        let mode = fs::metadata(run.join(CONTROL_FILE)).expect("stat").mode();
        assert_eq!(mode & 0o777, CONTROL_FILE_MODE);
        let err = send_command(
            &run,
            ControlCommand::Set {
                param: "lr".into(),
                value: -1.0,
            },
        )
        .expect_err("refused");
        assert!(err.to_string().contains("lr must be above 0"), "{err}");
    }

    #[test]
    fn another_users_run_is_refused() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // Only root can give a folder away; `only_the_owner_may_steer` covers the rule.
            return;
        }
        let parent = tempfile::tempdir().expect("temp dir");
        let run = run_dir(parent.path(), None);
        let _lock = RunLock::acquire(&run).expect("lock");
        std::os::unix::fs::chown(&run, Some(4242), None).expect("chown");
        let err = send_command(&run, ControlCommand::Pause).expect_err("refused");
        assert!(
            matches!(
                err,
                ControlError::NotOwner {
                    owner: 4242,
                    euid: 0,
                    ..
                }
            ),
            "{err}"
        );
        assert!(!run.join(CONTROL_FILE).exists(), "nothing written");
    }
}
