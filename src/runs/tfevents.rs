//! A TensorBoard event-file writer: scalar summaries, encoded with `prost` and framed with
//! CRC-32C checksums.
//!
//! File layout (TensorFlow's TFRecord): each record is `u64 length (LE)`, `u32 masked CRC-32C of
//! the length bytes`, the payload, `u32 masked CRC-32C of the payload`. The payload is an
//! `Event` protobuf: `wall_time` (field 1, double), `step` (field 2, int64), and either
//! `file_version` (field 3, `"brain.Event:2"`, the first record) or `summary` (field 5) holding
//! one `Summary.Value` with `tag` (field 1) and `simple_value` (field 2, float).
//!
//! Other writers store a scalar as a tensor instead (TensorFlow 2's `tf.summary`, Keras): the
//! `Summary.Value` then holds `tensor` (field 8, a `TensorProto`) and, on a tag's first event,
//! `metadata` (field 9) naming the `scalars` plugin. [`scalar_of`] reads both forms; the reader
//! of whole files is `tfevents_reader.rs`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use prost::Message;

use super::error::{IoContext, Result};

/// TensorFlow's `Event` (the fields gradtop writes), in `tensorflow/core/util/event.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The global step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event carries.
    #[prost(oneof = "EventWhat", tags = "3, 5")]
    pub what: Option<EventWhat>,
}

/// The `what` of an [`Event`]: the file's version stamp first, summaries after.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum EventWhat {
    /// `"brain.Event:2"`, in the file's first record.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Values logged at this step.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// TensorFlow's `Summary` (`tensorflow/core/framework/summary.proto`): a list of values.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// One `Summary.Value`: a tag and, for a scalar, its `simple_value` or a one-element tensor.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    /// The series name.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// The scalar, as PyTorch, tensorboardX and TensorFlow 1 write it.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
    /// The value as a tensor, as TensorFlow 2 writes every summary.
    #[prost(message, optional, tag = "8")]
    pub tensor: Option<TensorProto>,
    /// Which plugin the value belongs to; often only on a tag's first event.
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
}

/// `SummaryMetadata` (`summary.proto`): says which TensorBoard plugin draws a value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    /// The plugin and its private data.
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
    /// `DataClass`: 1 is a scalar.
    #[prost(int32, tag = "4")]
    pub data_class: i32,
}

/// `SummaryMetadata.PluginData`: the plugin's name (`scalars`, `text`, `images`, …).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginData {
    /// The plugin's name.
    #[prost(string, tag = "1")]
    pub plugin_name: String,
}

/// `TensorProto` (`tensor.proto`), the fields a scalar needs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// `DataType`: [`DT_FLOAT`], [`DT_DOUBLE`], others.
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    /// The shape; no dimensions for a scalar.
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShape>,
    /// The values as raw little-endian bytes, when not in a typed list.
    #[prost(bytes = "vec", tag = "4")]
    pub tensor_content: Vec<u8>,
    /// The values of a `DT_FLOAT` tensor.
    #[prost(float, repeated, tag = "5")]
    pub float_val: Vec<f32>,
    /// The values of a `DT_DOUBLE` tensor.
    #[prost(double, repeated, tag = "6")]
    pub double_val: Vec<f64>,
}

/// `TensorShapeProto`: the dimensions of a tensor.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShape {
    /// One entry per dimension.
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<TensorDim>,
}

/// `TensorShapeProto.Dim`: one dimension's size.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorDim {
    /// Its size; -1 when unknown.
    #[prost(int64, tag = "1")]
    pub size: i64,
}

/// `DataType` of 32-bit floats.
pub const DT_FLOAT: i32 = 1;
/// `DataType` of 64-bit floats.
pub const DT_DOUBLE: i32 = 2;
/// The plugin TensorBoard draws scalar charts with.
pub const SCALARS_PLUGIN: &str = "scalars";
/// `SummaryMetadata.DataClass` of a scalar.
const DATA_CLASS_SCALAR: i32 = 1;

/// Whether a value's metadata marks it as a scalar; `None` when it carries no plugin metadata
/// (a later event of a tag, whose first event said).
pub fn metadata_says_scalar(value: &SummaryValue) -> Option<bool> {
    let metadata = value.metadata.as_ref()?;
    match &metadata.plugin_data {
        Some(plugin) if !plugin.plugin_name.is_empty() => {
            Some(plugin.plugin_name == SCALARS_PLUGIN)
        }
        _ if metadata.data_class != 0 => Some(metadata.data_class == DATA_CLASS_SCALAR),
        _ => None,
    }
}

/// The scalar a value holds: its `simple_value`, or, when `tensor_is_scalar` (its tag belongs to
/// the scalars plugin), its one-element float or double tensor. `None` for anything else (text,
/// images, histograms, a tensor of another type or size).
pub fn scalar_of(value: &SummaryValue, tensor_is_scalar: bool) -> Option<f64> {
    if let Some(v) = value.simple_value {
        return Some(f64::from(v));
    }
    let tensor = value.tensor.as_ref().filter(|_| tensor_is_scalar)?;
    let elements: i64 = tensor
        .tensor_shape
        .as_ref()
        .map_or(1, |s| s.dim.iter().map(|d| d.size).product());
    if elements != 1 {
        return None;
    }
    let content = &tensor.tensor_content;
    match tensor.dtype {
        DT_FLOAT => match tensor.float_val.first() {
            Some(&v) => Some(f64::from(v)),
            None => Some(f64::from(f32::from_le_bytes(
                content.get(..4)?.try_into().ok()?,
            ))),
        },
        DT_DOUBLE => match tensor.double_val.first() {
            Some(&v) => Some(v),
            None => Some(f64::from_le_bytes(content.get(..8)?.try_into().ok()?)),
        },
        _ => None,
    }
}

/// TensorFlow's masked CRC-32C of a record's length and payload: the CRC rotated and offset,
/// so a CRC stored inside CRC'd data does not cancel out.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
        .rotate_right(15)
        .wrapping_add(0xa282_ead8)
}

/// The `Event` payload of one scalar summary.
pub fn encode_scalar_event(wall_time_s: f64, step: i64, tag: &str, value: f32) -> Vec<u8> {
    Event {
        wall_time: wall_time_s,
        step,
        what: Some(EventWhat::Summary(Summary {
            value: vec![SummaryValue {
                tag: tag.to_string(),
                simple_value: Some(value),
                ..SummaryValue::default()
            }],
        })),
    }
    .encode_to_vec()
}

/// The first record of every event file: the format's version stamp.
fn encode_file_version_event(wall_time_s: f64) -> Vec<u8> {
    Event {
        wall_time: wall_time_s,
        step: 0,
        what: Some(EventWhat::FileVersion("brain.Event:2".into())),
    }
    .encode_to_vec()
}

/// One TFRecord: length, masked CRC of the length, payload, masked CRC of the payload.
pub fn frame_record(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u64).to_le_bytes();
    let mut record = Vec::with_capacity(payload.len() + 16);
    record.extend_from_slice(&len);
    record.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    record.extend_from_slice(payload);
    record.extend_from_slice(&masked_crc32c(payload).to_le_bytes());
    record
}

/// Writes scalars to `events.out.tfevents.<unix seconds>.<hostname>` in a folder TensorBoard can
/// open (`tensorboard --logdir <folder>`).
#[derive(Debug)]
pub struct TfEventsWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl TfEventsWriter {
    /// Creates the folder if needed and a new event file in it, stamped `created_unix_s`.
    pub fn create(dir: &Path, created_unix_s: f64) -> Result<Self> {
        std::fs::create_dir_all(dir).at("creating", dir)?;
        let path = dir.join(format!(
            "events.out.tfevents.{}.{}",
            created_unix_s.floor() as i64,
            hostname()
        ));
        let file = File::create(&path).at("creating", &path)?;
        let mut writer = Self {
            path,
            out: BufWriter::new(file),
        };
        writer.write_record(&encode_file_version_event(created_unix_s))?;
        Ok(writer)
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one scalar point of the series `tag`.
    pub fn add_scalar(&mut self, tag: &str, step: u64, wall_time_s: f64, value: f32) -> Result<()> {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        self.write_record(&encode_scalar_event(wall_time_s, step, tag, value))
    }

    /// Writes buffered records to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().at("writing", &self.path)
    }

    fn write_record(&mut self, payload: &[u8]) -> Result<()> {
        self.out
            .write_all(&frame_record(payload))
            .at("writing", &self.path)
    }
}

/// This machine's host name, made safe for a file name; `localhost` if unavailable.
fn hostname() -> String {
    let name: String = gethostname::gethostname()
        .to_string_lossy()
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        // Values from TensorBoard's own `masked_crc32c`.
        assert_eq!(masked_crc32c(b"123456789"), 0xc78a_b0e5);
    }

    #[test]
    fn scalar_record_matches_tensorboards_encoding() {
        // Event(wall_time=1700000000.5, step=42, summary{value{tag:"train_loss",
        // simple_value:0.25}}) as serialised by TensorBoard's protobuf classes.
        let expected_hex = "0900002040fc54d941102a2a130a110a0a747261696e5f6c6f7373150000803e";
        let event = encode_scalar_event(1_700_000_000.5, 42, "train_loss", 0.25);
        let hex: String = event.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected_hex);
        let record = frame_record(&event);
        assert_eq!(record.len(), 8 + 4 + 32 + 4);
        assert_eq!(&record[..8], &32u64.to_le_bytes());
        assert_eq!(&record[8..12], &0x50a9_ed29u32.to_le_bytes());
        assert_eq!(&record[44..], &0xacd4_7a2au32.to_le_bytes());
    }

    #[test]
    fn file_version_event_matches_tensorboards_encoding() {
        let hex: String = encode_file_version_event(1_700_000_000.0)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "0900000040fc54d9411a0d627261696e2e4576656e743a32");
    }

    #[test]
    fn writer_names_the_file_and_frames_every_record() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut writer = TfEventsWriter::create(dir.path(), 1_700_000_000.0).expect("create");
        writer
            .add_scalar("loss", 1, 1_700_000_001.0, 0.5)
            .expect("add");
        writer.flush().expect("flush");
        let name = writer
            .path()
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with("events.out.tfevents.1700000000."),
            "{name}"
        );
        let bytes = std::fs::read(writer.path()).expect("read");
        let mut offset = 0;
        let mut records = 0;
        while offset < bytes.len() {
            let len = u64::from_le_bytes(bytes[offset..offset + 8].try_into().expect("8 bytes"));
            let payload = &bytes[offset + 12..offset + 12 + len as usize];
            let crc = &bytes[offset + 12 + len as usize..offset + 16 + len as usize];
            assert_eq!(crc, masked_crc32c(payload).to_le_bytes());
            offset += 16 + len as usize;
            records += 1;
        }
        assert_eq!(records, 2);
    }
}
