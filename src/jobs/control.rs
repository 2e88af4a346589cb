//! A job's side of its run's `control.jsonl` ([`crate::runs::control`]): the lines other
//! processes append become [`JobCommand`]s that go through the same handling as the UI's, each
//! remembered with its id so the job can acknowledge it.

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use super::protocol::{JobCommand, Param};
use crate::runs::{ControlCommand, ControlLine, ControlTail};

/// Least time between two looks at the control file while training.
pub const CONTROL_INTERVAL: Duration = Duration::from_millis(200);

/// Where a command being applied came from: a line of the control file, by its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlOrigin {
    /// The sender's id of the command.
    pub id: String,
    /// The command's name, as in the file.
    pub command: &'static str,
}

/// What the control file holds next.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A command to apply, and whose it is.
    Command(JobCommand, ControlOrigin),
    /// A line no job can apply (malformed, an unknown parameter, a value out of range): it is
    /// acknowledged refused without reaching the job.
    Refused {
        /// The line's id, when it had one.
        id: Option<String>,
        /// The command's name, when the line named one.
        command: Option<&'static str>,
        /// Why.
        reason: String,
    },
    /// The control file could not be read; the job warns and goes on.
    Unreadable(String),
}

/// The control file of a job's run, read at most every [`CONTROL_INTERVAL`].
#[derive(Debug)]
pub struct ControlInbox {
    tail: ControlTail,
    last_look: Instant,
    queue: VecDeque<ControlLine>,
}

impl ControlInbox {
    /// Follows `run_dir`'s control file from its current end: commands sent before the job
    /// opened the run are not replayed.
    pub fn open(run_dir: &Path) -> Result<Self, String> {
        let tail = ControlTail::at_end(run_dir).map_err(|e| e.to_string())?;
        Ok(Self {
            tail,
            last_look: Instant::now(),
            queue: VecDeque::new(),
        })
    }

    /// The next line read from the file, looking at the file only when none is queued and
    /// [`CONTROL_INTERVAL`] has passed since the last look.
    pub fn receive(&mut self) -> Option<Received> {
        if self.queue.is_empty() && self.last_look.elapsed() >= CONTROL_INTERVAL {
            self.last_look = Instant::now();
            match self.tail.poll() {
                Ok(lines) => self.queue.extend(lines),
                Err(e) => return Some(Received::Unreadable(e.to_string())),
            }
        }
        Some(match self.queue.pop_front()? {
            ControlLine::Command(record) => {
                let origin = ControlOrigin {
                    id: record.id,
                    command: record.command.name(),
                };
                match to_job_command(&record.command) {
                    Ok(command) => Received::Command(command, origin),
                    Err(reason) => Received::Refused {
                        id: Some(origin.id),
                        command: Some(origin.command),
                        reason,
                    },
                }
            }
            ControlLine::Malformed { id, reason } => Received::Refused {
                id,
                command: None,
                reason,
            },
        })
    }
}

/// The job command a control line asks for, or why no job would take it.
fn to_job_command(command: &ControlCommand) -> Result<JobCommand, String> {
    Ok(match command {
        ControlCommand::Pause => JobCommand::Pause,
        ControlCommand::Resume => JobCommand::Resume,
        ControlCommand::Stop => JobCommand::Stop,
        ControlCommand::Checkpoint => JobCommand::Checkpoint,
        ControlCommand::Set { param, value } => {
            let param = Param::from_key(param)
                .ok_or_else(|| format!("unknown hyperparameter `{param}`"))?;
            JobCommand::Set(param, param.validate(*value)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_become_commands_or_refusals_in_file_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut inbox = ControlInbox::open(dir.path()).expect("open");
        std::fs::write(
            dir.path().join(crate::runs::CONTROL_FILE),
            concat!(
                "{\"id\":\"1-1\",\"command\":\"set\",\"param\":\"lr\",\"value\":0.5}\n",
                "{\"id\":\"1-2\",\"command\":\"set\",\"param\":\"speed\",\"value\":2}\n",
                "{\"id\":\"1-3\",\"command\":\"set\",\"param\":\"lr\",\"value\":-1}\n",
                "{\"id\":\"1-4\",\"command\":\"stop\"}\n",
            ),
        )
        .expect("write");
        assert_eq!(inbox.receive(), None, "not looked at before the interval");
        std::thread::sleep(CONTROL_INTERVAL);
        let mut got = Vec::new();
        while let Some(received) = inbox.receive() {
            got.push(received);
        }
        let origin = |id: &str, command| ControlOrigin {
            id: id.into(),
            command,
        };
        assert_eq!(
            got[0],
            Received::Command(JobCommand::Set(Param::Lr, 0.5), origin("1-1", "set"))
        );
        assert!(
            matches!(&got[1], Received::Refused { id: Some(id), command: Some("set"), reason }
                if id == "1-2" && reason.contains("unknown hyperparameter `speed`")),
            "{got:?}"
        );
        assert!(
            matches!(&got[2], Received::Refused { reason, .. } if reason == "lr must be above 0"),
            "{got:?}"
        );
        assert_eq!(
            got[3],
            Received::Command(JobCommand::Stop, origin("1-4", "stop"))
        );
        assert_eq!(got.len(), 4);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(crate::runs::CONTROL_FILE))
            .expect("open");
        file.write_all(b"{\"id\":\"1-5\",\"command\":\"pause\"}\n")
            .expect("append");
        assert_eq!(
            inbox.receive(),
            None,
            "the file is looked at once per interval"
        );
    }
}
