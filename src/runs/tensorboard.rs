//! TensorBoard log folders as runs, so the curves of a PyTorch, TensorFlow or JAX training show
//! beside gradtop's own: every folder holding `events.out.tfevents.*` files is one run, named as
//! TensorBoard names it, by its path under the folder listed (`keras-fit/train`).
//!
//! Such runs are only read: gradtop never writes, resumes or deletes them.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::dir::CONFIG_FILE;
use super::error::{IoContext, Result};
use super::log::MetricRecord;
use super::tfevents_reader::{
    EventFileTail, ScalarPoint, SkippedRecord, TagKinds, EVENT_FILE_PREFIX,
};

/// The `kind` the Runs tab and `gradtop runs` give a TensorBoard run.
pub const TENSORBOARD_KIND: &str = "tensorboard";

/// Folder levels searched below the listed folder: Keras writes `logs/fit/<time>/train`.
const MAX_SCAN_DEPTH: usize = 6;
/// Most folders looked into per scan, so a runs folder pointed at a home directory stays quick.
const MAX_SCAN_DIRS: usize = 5_000;

/// Whether `name` is a TensorBoard event file's name.
pub fn is_event_file_name(name: &str) -> bool {
    name.starts_with(EVENT_FILE_PREFIX)
}

/// The event files directly in `dir`, in name order (their names start with the time they were
/// created, so this is the order they were written in).
pub fn event_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).at("listing", dir)? {
        let entry = entry.at("listing", dir)?;
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && is_event_file_name(&entry.file_name().to_string_lossy()) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Whether `dir` is a TensorBoard run: a folder with event files and no gradtop `config.toml`.
pub fn is_tensorboard_run(dir: &Path) -> bool {
    !dir.join(CONFIG_FILE).exists() && event_files(dir).is_ok_and(|files| !files.is_empty())
}

/// Every TensorBoard run at or below `parent`, with its name: its path relative to `parent`
/// (`parent` itself, when it holds event files, is named after its own folder). gradtop's run
/// directories and hidden folders are not looked into; symbolic links are not followed, so a
/// loop of links cannot trap the scan.
pub fn find_tensorboard_runs(parent: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![(parent.to_path_buf(), 0usize)];
    let mut visited = 0;
    while let Some((dir, depth)) = stack.pop() {
        visited += 1;
        if visited > MAX_SCAN_DIRS {
            break;
        }
        if dir.join(CONFIG_FILE).exists() {
            continue;
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut holds_events = false;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_file() && is_event_file_name(&name) {
                holds_events = true;
            } else if file_type.is_dir() && !name.starts_with('.') && depth < MAX_SCAN_DEPTH {
                stack.push((entry.path(), depth + 1));
            }
        }
        if holds_events {
            found.push((dir.clone(), run_name(parent, &dir)));
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}

/// TensorBoard's name of the run in `dir`: its path under `parent`, `/`-separated.
fn run_name(parent: &Path, dir: &Path) -> String {
    match dir.strip_prefix(parent) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        _ => dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string()),
    }
}

/// What one poll of a run found.
#[derive(Debug, Default)]
pub struct RunRead {
    /// New scalars, file by file in name order.
    pub points: Vec<ScalarPoint>,
    /// Damaged records skipped.
    pub skipped: Vec<SkippedRecord>,
    /// True when a file shrank, was replaced or vanished: what was read before is void and
    /// reading started over.
    pub restarted: bool,
}

/// One TensorBoard run followed as it grows: each event file of its folder, read on from where
/// the last poll stopped; files that appear (a restarted writer) are picked up.
#[derive(Debug)]
pub struct TensorBoardRun {
    dir: PathBuf,
    files: Vec<(EventFileTail, u64)>,
    tag_kinds: TagKinds,
    start_wall_time_s: Option<f64>,
}

impl TensorBoardRun {
    /// A run over the event files in `dir`, read on the first poll.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            files: Vec::new(),
            tag_kinds: TagKinds::new(),
            start_wall_time_s: None,
        }
    }

    /// The run's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Wall time of the run's first event, once read: the `t = 0` of its records.
    pub fn start_wall_time_s(&self) -> Option<f64> {
        self.start_wall_time_s
    }

    /// When an event file of the run last changed.
    pub fn last_modified(&self) -> Option<SystemTime> {
        self.files
            .iter()
            .filter_map(|(tail, _)| fs::metadata(tail.path()).and_then(|m| m.modified()).ok())
            .max()
    }

    /// Reads what the run's files gained since the last poll, at most about `max_bytes` per
    /// file; poll until [`TensorBoardRun::offset`] stops moving to reach the end.
    pub fn poll(&mut self, max_bytes: u64) -> Result<RunRead> {
        let mut read = RunRead::default();
        let paths = event_files(&self.dir)?;
        let known: Vec<PathBuf> = self
            .files
            .iter()
            .map(|(t, _)| t.path().to_path_buf())
            .collect();
        if known.iter().any(|p| !paths.contains(p)) || !paths.starts_with(&known) {
            // A file vanished, or an older one appeared: read the run again in file order.
            self.files.clear();
            self.tag_kinds.clear();
            self.start_wall_time_s = None;
            read.restarted = !known.is_empty();
        }
        for path in paths.iter().skip(self.files.len()) {
            self.files.push((EventFileTail::new(path), 0));
        }
        for (tail, restarts) in &mut self.files {
            let got = tail.poll(&mut self.tag_kinds, max_bytes)?;
            if tail.restarts() != *restarts {
                *restarts = tail.restarts();
                read.restarted = true;
            }
            if self.start_wall_time_s.is_none() {
                self.start_wall_time_s = got.first_wall_time_s;
            }
            read.points.extend(got.points);
            read.skipped.extend(got.skipped);
        }
        if read.restarted {
            // Points of the earlier reading are void; read everything once more.
            self.files.clear();
            self.tag_kinds.clear();
            self.start_wall_time_s = None;
            let again = self.poll(max_bytes)?;
            return Ok(RunRead {
                restarted: true,
                ..again
            });
        }
        Ok(read)
    }

    /// Total bytes consumed over the run's files.
    pub fn offset(&self) -> u64 {
        self.files.iter().map(|(tail, _)| tail.offset()).sum()
    }

    /// `point` as a record of gradtop's metrics log: `t` in seconds since the run's first event.
    pub fn record(&self, point: ScalarPoint) -> MetricRecord {
        let start = self.start_wall_time_s.unwrap_or(point.wall_time_s);
        MetricRecord {
            step: point.step,
            t: point.wall_time_s - start,
            name: point.tag,
            value: point.value,
        }
    }
}

/// Every scalar of the TensorBoard run in `dir` as metric records, in file order, the Unix time
/// of its first event, and the damaged records skipped.
pub fn read_tensorboard_run(dir: &Path) -> Result<(Vec<MetricRecord>, f64, Vec<SkippedRecord>)> {
    let mut run = TensorBoardRun::new(dir);
    let read = run.poll(u64::MAX)?;
    let start = run.start_wall_time_s().unwrap_or(0.0);
    let records = read.points.into_iter().map(|p| run.record(p)).collect();
    Ok((records, start, read.skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::tfevents::TfEventsWriter;

    #[test]
    fn log_folders_are_found_and_named_as_tensorboard_names_them() {
        let root = tempfile::tempdir().expect("temp dir");
        for sub in ["keras-fit/train", "keras-fit/validation", "Nov30_host"] {
            let mut writer =
                TfEventsWriter::create(&root.path().join(sub), 1_700_000_000.0).expect("writer");
            writer
                .add_scalar("loss", 1, 1_700_000_001.0, 0.5)
                .expect("add");
            writer.flush().expect("flush");
        }
        // A gradtop run with an export inside is gradtop's run, not a TensorBoard one.
        let own = root.path().join("20261129-020000-mnist-cnn");
        fs::create_dir_all(own.join("tb")).expect("mkdir");
        fs::write(own.join(CONFIG_FILE), "kind = \"classifier\"\n").expect("config");
        fs::write(own.join("tb/events.out.tfevents.1.h"), b"").expect("file");
        fs::create_dir_all(root.path().join(".hidden")).expect("mkdir");
        fs::write(root.path().join(".hidden/events.out.tfevents.1.h"), b"").expect("file");

        let names: Vec<String> = find_tensorboard_runs(root.path())
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        assert_eq!(
            names,
            vec!["Nov30_host", "keras-fit/train", "keras-fit/validation"]
        );
        let single = root.path().join("Nov30_host");
        assert_eq!(
            find_tensorboard_runs(&single),
            vec![(single.clone(), "Nov30_host".to_string())]
        );
        assert!(is_tensorboard_run(&single));
        assert!(!is_tensorboard_run(&own));
    }

    #[test]
    fn a_second_file_of_a_run_continues_it() {
        let root = tempfile::tempdir().expect("temp dir");
        let mut first = TfEventsWriter::create(root.path(), 1_700_000_000.0).expect("writer");
        first
            .add_scalar("loss", 1, 1_700_000_001.0, 0.5)
            .expect("add");
        first.flush().expect("flush");
        let mut run = TensorBoardRun::new(root.path());
        assert_eq!(run.poll(u64::MAX).expect("poll").points.len(), 1);
        let path = root.path().join("events.out.tfevents.1700000100.other");
        let mut bytes = Vec::new();
        bytes.extend(crate::runs::tfevents::frame_record(
            &crate::runs::tfevents::encode_scalar_event(1_700_000_101.0, 2, "loss", 0.25),
        ));
        fs::write(&path, bytes).expect("write");
        let read = run.poll(u64::MAX).expect("poll");
        assert!(!read.restarted);
        let steps: Vec<u64> = read.points.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![2]);
        let record = run.record(read.points[0].clone());
        assert_eq!((record.t, record.value), (101.0, 0.25));
    }
}
