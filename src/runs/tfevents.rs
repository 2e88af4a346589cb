//! A minimal TensorBoard event-file writer: scalar summaries only, hand-encoded.
//!
//! File layout (TensorFlow's TFRecord): each record is `u64 length (LE)`, `u32 masked CRC-32C of
//! the length bytes`, the payload, `u32 masked CRC-32C of the payload`. The payload is an
//! `Event` protobuf: `wall_time` (field 1, double), `step` (field 2, int64), and either
//! `file_version` (field 3, `"brain.Event:2"`, the first record) or `summary` (field 5) holding
//! one `Summary.Value` with `tag` (field 1) and `simple_value` (field 2, float).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::error::{IoContext, Result};

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) lookup table.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC-32C of `bytes`, as TFRecord uses it.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc = CRC32C_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// TFRecord's masked CRC: rotate right by 15 and add a constant, so CRCs of data that itself
/// contains CRCs stay well distributed.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    let crc = crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Protobuf wire types used here.
const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, WIRE_LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The `Event` protobuf carrying one scalar.
pub fn encode_scalar_event(wall_time_s: f64, step: i64, tag: &str, value: f32) -> Vec<u8> {
    let mut summary_value = Vec::with_capacity(tag.len() + 8);
    put_bytes(&mut summary_value, 1, tag.as_bytes());
    put_key(&mut summary_value, 2, WIRE_FIXED32);
    summary_value.extend_from_slice(&value.to_le_bytes());
    let mut summary = Vec::with_capacity(summary_value.len() + 2);
    put_bytes(&mut summary, 1, &summary_value);

    let mut event = Vec::with_capacity(summary.len() + 24);
    put_key(&mut event, 1, WIRE_FIXED64);
    event.extend_from_slice(&wall_time_s.to_le_bytes());
    put_key(&mut event, 2, WIRE_VARINT);
    // int64 is encoded as the two's-complement u64 varint.
    put_varint(&mut event, step as u64);
    put_bytes(&mut event, 5, &summary);
    event
}

/// The first `Event` of every file, naming the format version.
fn encode_file_version_event(wall_time_s: f64) -> Vec<u8> {
    let mut event = Vec::with_capacity(32);
    put_key(&mut event, 1, WIRE_FIXED64);
    event.extend_from_slice(&wall_time_s.to_le_bytes());
    put_bytes(&mut event, 3, b"brain.Event:2");
    event
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
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into our buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name: String = String::from_utf8_lossy(&buf[..len])
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    if rc != 0 || name.is_empty() {
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
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
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
