//! Reading scalars back out of a TensorBoard event file, any writer's, while it may still grow.
//!
//! A [`EventFileTail`] keeps the byte offset of the first record it has not read, so each
//! [`EventFileTail::poll`] reads only what was appended since the last one; a last record still
//! being written is left for the next poll. A damaged record (either checksum wrong, a payload
//! that is not an `Event`) is skipped and reported as a [`SkippedRecord`] naming the file and the
//! offset; after a damaged length the reader looks for the next record start byte by byte. No
//! length read from the file is trusted before it is bounded: a record claiming more than
//! [`MAX_RECORD_BYTES`] is stepped over without being read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use prost::Message;

use super::error::{IoContext, Result};
use super::tfevents::{masked_crc32c, metadata_says_scalar, scalar_of, Event, EventWhat};

/// The name every TensorBoard event file starts with.
pub const EVENT_FILE_PREFIX: &str = "events.out.tfevents.";

/// Largest record read into memory. Scalar events are tens of bytes and an image summary a few
/// MB; a bigger length is either damage or a summary a scalar reader has no use for.
pub const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// `u64` length and the `u32` masked CRC-32C of that length.
const HEADER_BYTES: u64 = 12;
/// The `u32` masked CRC-32C of the payload.
const FOOTER_BYTES: u64 = 4;
/// Read buffer: many small records per system call.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// One scalar point of a TensorBoard run.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarPoint {
    /// The series name (`train/loss`).
    pub tag: String,
    /// The global step; a negative step reads as 0.
    pub step: u64,
    /// Seconds since the Unix epoch when it was written.
    pub wall_time_s: f64,
    /// The value, widened from `f32` when written as one.
    pub value: f64,
}

/// A record that was skipped because it is damaged, and where it sits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: record at byte {offset} skipped: {reason}", path.display())]
pub struct SkippedRecord {
    /// The event file.
    pub path: PathBuf,
    /// Byte offset of the record in the file.
    pub offset: u64,
    /// What is wrong with it, in words.
    pub reason: String,
}

/// What one poll found: the scalar points in file order, the damaged records skipped.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EventsRead {
    /// Scalars of the records read, in file order.
    pub points: Vec<ScalarPoint>,
    /// Damaged records met, in file order.
    pub skipped: Vec<SkippedRecord>,
    /// Wall time of the first event read in this poll (the file's version stamp, usually).
    pub first_wall_time_s: Option<f64>,
}

/// Follows one event file, reading the records appended since the last poll.
#[derive(Debug)]
pub struct EventFileTail {
    path: PathBuf,
    offset: u64,
    identity: Option<(u64, u64)>,
    restarts: u64,
    /// True while looking for a record start after a damaged length (warned once per stretch).
    resyncing: bool,
}

/// Which tags hold scalar tensors, learnt from the plugin metadata of each tag's first event.
pub type TagKinds = HashMap<String, bool>;

impl EventFileTail {
    /// A tail at the start of `path`; the file need not exist yet.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            offset: 0,
            identity: None,
            restarts: 0,
            resyncing: false,
        }
    }

    /// The event file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the file consumed: every whole record before this offset has been read.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How often the file shrank or was replaced and reading started over; a consumer that
    /// keeps points should drop them when this grows.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Reads the whole records appended since the last poll, at most about `max_bytes` of them
    /// (poll again until [`EventFileTail::offset`] stops moving). `tag_kinds` carries what
    /// earlier events said about each tag's plugin, across the files of a run.
    pub fn poll(&mut self, tag_kinds: &mut TagKinds, max_bytes: u64) -> Result<EventsRead> {
        let mut read = EventsRead::default();
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.identity.take().is_some() {
                    self.restart();
                }
                return Ok(read);
            }
            Err(e) => return Err(e).at("opening event file", &self.path),
        };
        let (meta, replaced) = super::tail::check_followed(
            &file,
            &self.path,
            &mut self.identity,
            self.offset,
            "inspecting event file",
        )?;
        if replaced {
            self.restart();
        }
        let len = meta.len();
        if len.saturating_sub(self.offset) < HEADER_BYTES {
            return Ok(read);
        }
        let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
        reader
            .seek(SeekFrom::Start(self.offset))
            .at("reading event file", &self.path)?;
        let start = self.offset;
        while self.offset - start < max_bytes {
            let remaining = len - self.offset;
            if remaining < HEADER_BYTES {
                break;
            }
            let mut header = [0u8; HEADER_BYTES as usize];
            reader
                .read_exact(&mut header)
                .at("reading event file", &self.path)?;
            let (length_bytes, crc_bytes) = header.split_at(8);
            let length = u64::from_le_bytes(length_bytes.try_into().expect("8 bytes split off"));
            let crc = u32::from_le_bytes(crc_bytes.try_into().expect("4 bytes remain"));
            if masked_crc32c(length_bytes) != crc {
                if !self.resyncing {
                    self.resyncing = true;
                    read.skipped.push(self.skipped(
                        "the checksum of its length is wrong; looking for the next record",
                    ));
                }
                // A record may start at any byte after damage: step one byte and look again.
                self.offset += 1;
                reader
                    .seek_relative(1 - HEADER_BYTES as i64)
                    .at("reading event file", &self.path)?;
                continue;
            }
            self.resyncing = false;
            let Some(total) = length.checked_add(HEADER_BYTES + FOOTER_BYTES) else {
                read.skipped
                    .push(self.skipped("its length does not fit in a file"));
                self.resyncing = true;
                self.offset += 1;
                reader
                    .seek_relative(1 - HEADER_BYTES as i64)
                    .at("reading event file", &self.path)?;
                continue;
            };
            if remaining < total {
                // Still being written: read it once whole.
                break;
            }
            if length > MAX_RECORD_BYTES {
                read.skipped.push(self.skipped(&format!(
                    "{length} bytes, more than the {MAX_RECORD_BYTES} read into memory"
                )));
                self.offset += total;
                reader
                    .seek(SeekFrom::Start(self.offset))
                    .at("reading event file", &self.path)?;
                continue;
            }
            // Bounded above: at most MAX_RECORD_BYTES.
            let mut payload = vec![0u8; length as usize];
            let mut footer = [0u8; FOOTER_BYTES as usize];
            reader
                .read_exact(&mut payload)
                .and_then(|()| reader.read_exact(&mut footer))
                .at("reading event file", &self.path)?;
            if masked_crc32c(&payload) != u32::from_le_bytes(footer) {
                read.skipped
                    .push(self.skipped("the checksum of its data is wrong"));
                self.offset += total;
                continue;
            }
            match Event::decode(payload.as_slice()) {
                Ok(event) => collect(event, tag_kinds, &mut read),
                Err(e) => read
                    .skipped
                    .push(self.skipped(&format!("not a TensorBoard event ({e})"))),
            }
            self.offset += total;
        }
        Ok(read)
    }

    fn skipped(&self, reason: &str) -> SkippedRecord {
        SkippedRecord {
            path: self.path.clone(),
            offset: self.offset,
            reason: reason.to_string(),
        }
    }

    fn restart(&mut self) {
        self.offset = 0;
        self.resyncing = false;
        self.restarts += 1;
    }
}

/// Adds the scalars of one event to `read`; every other summary is passed over.
fn collect(event: Event, tag_kinds: &mut TagKinds, read: &mut EventsRead) {
    read.first_wall_time_s.get_or_insert(event.wall_time);
    let Some(EventWhat::Summary(summary)) = event.what else {
        return;
    };
    let step = u64::try_from(event.step).unwrap_or(0);
    for value in summary.value {
        if let Some(is_scalar) = metadata_says_scalar(&value) {
            tag_kinds.insert(value.tag.clone(), is_scalar);
        }
        let tensor_is_scalar = tag_kinds.get(&value.tag).copied().unwrap_or(false);
        if let Some(v) = scalar_of(&value, tensor_is_scalar) {
            read.points.push(ScalarPoint {
                tag: value.tag,
                step,
                wall_time_s: event.wall_time,
                value: v,
            });
        }
    }
}

/// Every scalar of one event file and the damaged records skipped, in file order; a last record
/// still being written is not read.
pub fn read_event_file(path: &Path) -> Result<EventsRead> {
    let mut tail = EventFileTail::new(path);
    let mut tag_kinds = TagKinds::new();
    tail.poll(&mut tag_kinds, u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::tfevents::{
        encode_scalar_event, frame_record, PluginData, Summary, SummaryMetadata, SummaryValue,
        TensorProto, DT_DOUBLE, DT_FLOAT,
    };

    fn scalar_record(step: i64, tag: &str, value: f32) -> Vec<u8> {
        frame_record(&encode_scalar_event(1000.0 + step as f64, step, tag, value))
    }

    fn tensor_event(step: i64, tag: &str, tensor: TensorProto, plugin: Option<&str>) -> Vec<u8> {
        let event = Event {
            wall_time: 2000.0,
            step,
            what: Some(EventWhat::Summary(Summary {
                value: vec![SummaryValue {
                    tag: tag.into(),
                    tensor: Some(tensor),
                    metadata: plugin.map(|name| SummaryMetadata {
                        plugin_data: Some(PluginData {
                            plugin_name: name.into(),
                        }),
                        data_class: 0,
                    }),
                    ..SummaryValue::default()
                }],
            })),
        };
        frame_record(&event.encode_to_vec())
    }

    #[test]
    fn scalar_tensors_count_once_their_tag_is_known_as_scalars() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.out.tfevents.1.host");
        let float = |v: f32| TensorProto {
            dtype: DT_FLOAT,
            float_val: vec![v],
            ..TensorProto::default()
        };
        let double_bytes = TensorProto {
            dtype: DT_DOUBLE,
            tensor_content: 0.75f64.to_le_bytes().to_vec(),
            ..TensorProto::default()
        };
        let text = TensorProto {
            dtype: 7, // DT_STRING
            ..TensorProto::default()
        };
        let mut bytes = Vec::new();
        bytes.extend(tensor_event(0, "loss", float(1.5), Some("scalars")));
        bytes.extend(tensor_event(1, "loss", float(0.5), None));
        bytes.extend(tensor_event(1, "acc", double_bytes, Some("scalars")));
        bytes.extend(tensor_event(1, "notes", text, Some("text")));
        // A float tensor under a plugin that is not the scalars one: not a scalar.
        bytes.extend(tensor_event(2, "hist", float(9.0), Some("histograms")));
        bytes.extend(tensor_event(3, "hist", float(9.0), None));
        std::fs::write(&path, bytes).expect("write");
        let read = read_event_file(&path).expect("read");
        let got: Vec<(&str, u64, f64)> = read
            .points
            .iter()
            .map(|p| (p.tag.as_str(), p.step, p.value))
            .collect();
        assert_eq!(
            got,
            vec![("loss", 0, 1.5), ("loss", 1, 0.5), ("acc", 1, 0.75)]
        );
        assert!(read.skipped.is_empty());
    }

    #[test]
    fn a_length_claiming_gigabytes_is_never_allocated() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.out.tfevents.1.host");
        let huge = (8u64 << 30).to_le_bytes();
        let mut bytes = scalar_record(1, "loss", 0.5);
        bytes.extend_from_slice(&huge);
        bytes.extend_from_slice(&masked_crc32c(&huge).to_le_bytes());
        bytes.extend_from_slice(&[0u8; 100]);
        std::fs::write(&path, &bytes).expect("write");
        let mut tail = EventFileTail::new(&path);
        let read = tail.poll(&mut TagKinds::new(), u64::MAX).expect("read");
        assert_eq!(read.points.len(), 1);
        // It may be a record still being written: wait at its start.
        assert_eq!(tail.offset(), scalar_record(1, "loss", 0.5).len() as u64);
    }

    #[test]
    fn a_damaged_length_is_skipped_to_the_next_record() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.out.tfevents.1.host");
        let records: Vec<Vec<u8>> = (0..3).map(|s| scalar_record(s, "loss", s as f32)).collect();
        let mut bytes = records.concat();
        bytes[records[0].len() + 2] ^= 0x40; // inside the second record's length
        std::fs::write(&path, &bytes).expect("write");
        let read = read_event_file(&path).expect("read");
        let steps: Vec<u64> = read.points.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![0, 2]);
        assert_eq!(read.skipped.len(), 1, "{:?}", read.skipped);
        assert_eq!(read.skipped[0].offset, records[0].len() as u64);
    }
}
