//! Incremental readers of a growing JSONL log, for `gradtop watch` and the Runs tab.
//!
//! A tail remembers its byte offset and keeps an incomplete last line until its newline arrives,
//! so a record is returned exactly once, whole. If the file shrinks or is replaced (a new inode),
//! the tail starts again from the beginning of the new file. Lines that do not parse (a record
//! cut by a crash) are skipped and counted.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::marker::PhantomData;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::error::{IoContext, Result, RunsError};
use super::log::{EventRecord, MetricRecord};

/// Checks a file that is read on from `offset` as it grows: that it is a regular file (a
/// directory opens fine and, on some file systems, reports a length of 0: it would read as
/// empty instead of failing), and whether it was replaced (another file at the path) or cut
/// shorter since the last read, so the reader starts again from its beginning. `identity`
/// (device, inode) is updated to the file read now; `action` names the read in an error.
pub(crate) fn check_followed(
    file: &File,
    path: &Path,
    identity: &mut Option<(u64, u64)>,
    offset: u64,
    action: &'static str,
) -> Result<(std::fs::Metadata, bool)> {
    let meta = file.metadata().at(action, path)?;
    if !meta.is_file() {
        return Err(RunsError::Invalid {
            path: path.to_path_buf(),
            what: "not a regular file".into(),
        });
    }
    let now = (meta.dev(), meta.ino());
    let replaced = identity.is_some_and(|known| known != now) || meta.len() < offset;
    *identity = Some(now);
    Ok((meta, replaced))
}

/// A tail over `metrics.jsonl`.
pub type MetricsTail = JsonlTail<MetricRecord>;
/// A tail over `events.jsonl`.
pub type EventsTail = JsonlTail<EventRecord>;

/// Reads the records appended to a JSONL file since the last [`JsonlTail::poll`].
#[derive(Debug)]
pub struct JsonlTail<T> {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    identity: Option<(u64, u64)>,
    skipped_lines: u64,
    restarts: u64,
    _record: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonlTail<T> {
    /// A tail at the start of `path`; the file need not exist yet.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            offset: 0,
            partial: Vec::new(),
            identity: None,
            skipped_lines: 0,
            restarts: 0,
            _record: PhantomData,
        }
    }

    /// The records completed since the last poll, in file order; empty if nothing new (or the
    /// file does not exist yet).
    pub fn poll(&mut self) -> Result<Vec<T>> {
        self.poll_at_most(u64::MAX)
    }

    /// Like [`JsonlTail::poll`], but reads at most `max_bytes` of the file, so a reader of a
    /// log of many MB holds one chunk at a time; poll again until [`JsonlTail::offset`] and
    /// [`JsonlTail::restarts`] stop moving to reach the end.
    pub fn poll_at_most(&mut self, max_bytes: u64) -> Result<Vec<T>> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.identity.is_some() {
                    self.restart();
                    self.identity = None;
                }
                return Ok(Vec::new());
            }
            Err(e) => return Err(e).at("opening log", &self.path),
        };
        let (meta, replaced) = check_followed(
            &file,
            &self.path,
            &mut self.identity,
            self.offset,
            "inspecting log",
        )?;
        if replaced {
            self.restart();
        }
        if meta.len() == self.offset {
            return Ok(Vec::new());
        }
        let mut fresh = Vec::new();
        file.seek(SeekFrom::Start(self.offset))
            .and_then(|_| (&mut file).take(max_bytes).read_to_end(&mut fresh))
            .at("reading log", &self.path)?;
        self.offset += fresh.len() as u64;
        self.partial.extend_from_slice(&fresh);

        let Some(last_newline) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        let complete: Vec<u8> = self.partial.drain(..=last_newline).collect();
        let mut records = Vec::new();
        for line in complete.split(|&b| b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<T>(line) {
                Ok(record) => records.push(record),
                Err(_) => self.skipped_lines += 1,
            }
        }
        Ok(records)
    }

    /// Lines skipped so far because they did not parse.
    pub fn skipped_lines(&self) -> u64 {
        self.skipped_lines
    }

    /// How often the file shrank or was replaced and reading started over; a consumer that
    /// keeps records should clear them when this grows.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Bytes of the file consumed so far (including a held partial line).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn restart(&mut self) {
        self.offset = 0;
        self.partial.clear();
        self.restarts += 1;
    }
}

/// Every record of a JSONL file and the number of lines skipped as unparseable; a missing file
/// reads as empty. A final line without a newline is not returned (it may be mid-write).
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<(Vec<T>, u64)> {
    let mut tail = JsonlTail::<T>::new(path);
    let records = tail.poll()?;
    Ok((records, tail.skipped_lines()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, OpenOptions};
    use std::io::Write;

    fn append(path: &Path, bytes: &[u8]) {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open for append");
        file.write_all(bytes).expect("append");
    }

    fn line(step: u64, value: f64) -> String {
        format!("{{\"step\":{step},\"t\":{step}.0,\"name\":\"loss\",\"value\":{value}}}\n")
    }

    #[test]
    fn growing_file_with_a_partial_line_yields_each_record_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("metrics.jsonl");
        let mut tail = MetricsTail::new(&path);
        assert!(tail.poll().expect("missing file").is_empty());

        append(&path, line(1, 0.9).as_bytes());
        let second = line(2, 0.8);
        let (head, rest) = second.split_at(17);
        append(&path, head.as_bytes());
        let got = tail.poll().expect("poll");
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].step, got[0].value), (1, 0.9));
        assert!(
            tail.poll().expect("poll").is_empty(),
            "partial line held back"
        );

        append(&path, rest.as_bytes());
        append(&path, line(3, 0.7).as_bytes());
        let got = tail.poll().expect("poll");
        assert_eq!(got.iter().map(|r| r.step).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(got[0].value, 0.8);
        assert_eq!(tail.skipped_lines(), 0);
        assert!(tail.poll().expect("poll").is_empty());
    }

    #[test]
    fn truncation_and_replacement_restart_from_the_top() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("metrics.jsonl");
        append(
            &path,
            format!("{}{}", line(1, 0.5), line(2, 0.4)).as_bytes(),
        );
        let mut tail = MetricsTail::new(&path);
        assert_eq!(tail.poll().expect("poll").len(), 2);

        fs::write(&path, line(7, 0.1)).expect("truncate and rewrite");
        let got = tail.poll().expect("poll");
        assert_eq!(got.iter().map(|r| r.step).collect::<Vec<_>>(), vec![7]);
        assert_eq!(tail.restarts(), 1);

        // Replace by rename (a new inode) with a longer file.
        let other = dir.path().join("new.jsonl");
        fs::write(&other, format!("{}{}", line(8, 0.2), line(9, 0.3))).expect("write");
        fs::rename(&other, &path).expect("rename over");
        let got = tail.poll().expect("poll");
        assert_eq!(got.iter().map(|r| r.step).collect::<Vec<_>>(), vec![8, 9]);
        assert_eq!(tail.restarts(), 2);
    }

    #[test]
    fn bounded_polls_yield_the_same_records_a_chunk_at_a_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("metrics.jsonl");
        let text: String = (1..=20).map(|step| line(step, 0.5)).collect();
        append(&path, text.as_bytes());
        let mut tail = MetricsTail::new(&path);
        let chunk = 25; // shorter than one line: some polls complete no record
        let mut steps = Vec::new();
        let mut polls = 0;
        loop {
            let before = tail.offset();
            let got = tail.poll_at_most(chunk).expect("poll");
            assert!(tail.offset() - before <= chunk, "at most one chunk read");
            steps.extend(got.iter().map(|r| r.step));
            polls += 1;
            if tail.offset() == before {
                break;
            }
        }
        assert_eq!(steps, (1..=20).collect::<Vec<_>>());
        assert!(polls as u64 > text.len() as u64 / chunk, "{polls} polls");
        assert_eq!(tail.offset(), text.len() as u64);
    }

    #[test]
    fn a_directory_in_place_of_the_log_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("metrics.jsonl");
        fs::create_dir(&path).expect("a directory in its place");
        let e = MetricsTail::new(&path).poll().expect_err("not a log");
        assert!(e.to_string().contains("metrics.jsonl"), "{e}");
    }

    #[test]
    fn broken_lines_are_skipped_and_counted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("metrics.jsonl");
        append(
            &path,
            format!("{}{{\"step\":2,\"t\n\n{}", line(1, 0.5), line(3, 0.3)).as_bytes(),
        );
        let (records, skipped) = read_jsonl::<MetricRecord>(&path).expect("read");
        assert_eq!(
            records.iter().map(|r| r.step).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(skipped, 1);
    }
}
