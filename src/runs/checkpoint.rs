//! Checkpoints: `checkpoints/step-<N>.safetensors` (every tensor) plus `step-<N>.json` (a sidecar
//! with counters, hyperparameters, RNG state and the tensor file's size and SHA-256).
//!
//! # Whole or absent
//!
//! Each file is written to a hidden temp name, fsynced, and renamed into place; the sidecar is
//! renamed last and the folder fsynced. A checkpoint counts as whole only when its sidecar parses
//! and names the right step, and the tensor file has the recorded size and SHA-256 and parses as
//! safetensors. Temp files, a tensor file without sidecar, a truncated or corrupt file are all
//! ignored by [`latest_whole_checkpoint`].
//!
//! # Tensor names
//!
//! The safetensors file loads in Python with `safetensors.torch.load_file` /
//! `safetensors.numpy.load_file`. Names, by convention of the jobs that write them:
//!
//! * model weights under their `VarBuilder` path, e.g. `conv1.weight` (shape `(32, 1, 3, 3)`),
//!   `conv1.bias`, `fc1.weight` (`(128, 5408)`), `fc2.weight` (`(10, 128)`); a GAN prefixes
//!   `generator.` / `discriminator.`; a DQN has `q.` and `target.q.` networks, PPO `actor.` and
//!   `critic.`;
//! * Adam state as `adam.m.<var>` and `adam.v.<var>` (first and second moments, same shape as the
//!   variable) and its step count as `adam.step` (int64 `(1,)`), with one optimizer per network
//!   prefixed the same way (`adam_g.m.<var>`, `adam_g.step`, `adam_d.…`);
//! * anything else tensor-shaped a job needs to continue exactly (e.g. `replay.obs`), under a
//!   descriptive prefix.
//!
//! Scalars (step, epoch, RNG state words, current hyperparameters) go in the sidecar's `state`,
//! whose shape each job defines with a serde struct.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{IoContext, Rejected, Result, RunsError};
// Temp files are hidden and end in TEMP_SUFFIX, so nothing mistakes them for checkpoints.
use crate::atomic_file::{AtomicFile, TEMP_SUFFIX};

/// Sidecar format version, bumped if the sidecar's own fields change meaning.
const SIDECAR_FORMAT: u32 = 1;
/// Every checkpoint file name starts with this.
const STEP_PREFIX: &str = "step-";
/// Extension of the tensor file.
const TENSORS_EXT: &str = "safetensors";
/// Extension of the sidecar.
const SIDECAR_EXT: &str = "json";

/// The sidecar as written to `step-<N>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sidecar {
    format: u32,
    step: u64,
    tensors_file: String,
    tensors_bytes: u64,
    tensors_sha256: String,
    state: serde_json::Value,
}

/// A whole checkpoint on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The training step it was taken at.
    pub step: u64,
    /// `checkpoints/step-<N>.safetensors`.
    pub tensors_path: PathBuf,
    /// `checkpoints/step-<N>.json`.
    pub sidecar_path: PathBuf,
}

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    /// The training step it was taken at.
    pub step: u64,
    /// Every tensor by name (see the module docs for the naming convention).
    pub tensors: HashMap<String, Tensor>,
    /// The job's own state as written (counters, hyperparameters, RNG state).
    pub state: serde_json::Value,
}

impl Checkpoint {
    /// The sidecar state as the job's own type.
    pub fn state_as<S: DeserializeOwned>(&self) -> std::result::Result<S, serde_json::Error> {
        S::deserialize(&self.state)
    }

    /// Removes and returns a tensor, with an error naming it if absent.
    pub fn take(&mut self, name: &str) -> Result<Tensor> {
        self.tensors.remove(name).ok_or_else(|| RunsError::Invalid {
            path: PathBuf::from(format!("{STEP_PREFIX}{}.{TENSORS_EXT}", self.step)),
            what: format!("checkpoint has no tensor named `{name}`"),
        })
    }
}

fn tensors_name(step: u64) -> String {
    format!("{STEP_PREFIX}{step}.{TENSORS_EXT}")
}

fn sidecar_name(step: u64) -> String {
    format!("{STEP_PREFIX}{step}.{SIDECAR_EXT}")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The name of the first floating-point tensor holding a NaN or an infinity, if any.
fn first_non_finite(tensors: &[(String, Tensor)]) -> Option<String> {
    tensors.iter().find_map(|(name, tensor)| {
        if !tensor.dtype().is_float() {
            return None;
        }
        let values = tensor
            .flatten_all()
            .and_then(|t| t.to_dtype(candle_core::DType::F32))
            .and_then(|t| t.to_vec1::<f32>());
        match values {
            Ok(values) if values.iter().all(|v| v.is_finite()) => None,
            // A tensor that cannot even be read back is no better than a non-finite one.
            _ => Some(name.clone()),
        }
    })
}

/// Writes a checkpoint of `tensors` and `state` at `step` into `checkpoints_dir` (created if
/// missing, inside a run directory that must exist), atomically: afterwards it is whole, or
/// absent — after a crash, or after a write that failed (a full disk), which leaves no temp file.
///
/// Tensors may live on any device; they are copied to the CPU as the file is written. Names
/// must be unique.
pub fn write_checkpoint<S: Serialize + ?Sized>(
    checkpoints_dir: &Path,
    step: u64,
    tensors: &[(String, Tensor)],
    state: &S,
) -> Result<CheckpointInfo> {
    // Only the last level: a run directory deleted while it trained is not re-created.
    match fs::create_dir(checkpoints_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(e).at("creating", checkpoints_dir)
        }
        _ => {}
    }
    let tensors_path = checkpoints_dir.join(tensors_name(step));
    let sidecar_path = checkpoints_dir.join(sidecar_name(step));
    let state = serde_json::to_value(state).map_err(|e| RunsError::Invalid {
        path: sidecar_path.clone(),
        what: format!("checkpoint state cannot be written as JSON: {e}"),
    })?;

    let mut by_name: HashMap<&str, Tensor> = HashMap::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        if by_name.insert(name.as_str(), tensor.clone()).is_some() {
            return Err(RunsError::Invalid {
                path: tensors_path,
                what: format!("two tensors named `{name}`"),
            });
        }
    }
    // A diverged run's weights would make every resume diverge again: such a checkpoint is
    // never written, and the one before it stays the newest.
    if let Some(name) = first_non_finite(tensors) {
        return Err(RunsError::NonFinite {
            path: tensors_path,
            tensor: name,
        });
    }
    // Serialised in memory (the hash needs the bytes anyway), so a failed write is an I/O
    // error naming the checkpoint itself, not a temp file.
    let bytes = safetensors::serialize(&by_name, None).map_err(|e| RunsError::Tensors {
        path: tensors_path.clone(),
        source: e.into(),
    })?;
    let mut tensors_file = AtomicFile::create(&tensors_path).at("creating", &tensors_path)?;
    tensors_file
        .file()
        .write_all(&bytes)
        .at("writing", &tensors_path)?;
    let sidecar = Sidecar {
        format: SIDECAR_FORMAT,
        step,
        tensors_file: tensors_name(step),
        tensors_bytes: bytes.len() as u64,
        tensors_sha256: sha256_hex(&bytes),
        state,
    };
    drop(bytes);
    // The sidecar of an older checkpoint with the same step must not vouch for the new tensors
    // while they are being replaced.
    match fs::remove_file(&sidecar_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).at("removing old sidecar", &sidecar_path)
        }
        _ => {}
    }
    tensors_file
        .commit()
        .at("putting in place", &tensors_path)?;

    let json = serde_json::to_vec_pretty(&sidecar).map_err(|e| RunsError::Invalid {
        path: sidecar_path.clone(),
        what: format!("sidecar cannot be written as JSON: {e}"),
    })?;
    crate::atomic_file::write(&sidecar_path, &json).at("writing", &sidecar_path)?;
    Ok(CheckpointInfo {
        step,
        tensors_path,
        sidecar_path,
    })
}

/// The step of a final (non-temp) checkpoint file name of the given extension.
fn parse_step(file_name: &str, ext: &str) -> Option<u64> {
    let digits = file_name
        .strip_prefix(STEP_PREFIX)?
        .strip_suffix(ext)?
        .strip_suffix('.')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Steps that have a tensor file or a sidecar in `dir`, highest first; a missing folder has none.
fn candidate_steps(dir: &Path) -> Result<Vec<u64>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).at("listing", dir),
    };
    let mut steps = Vec::new();
    for entry in entries {
        let entry = entry.at("listing", dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(step) =
            parse_step(&name, TENSORS_EXT).or_else(|| parse_step(&name, SIDECAR_EXT))
        {
            steps.push(step);
        }
    }
    steps.sort_unstable_by(|a, b| b.cmp(a));
    steps.dedup();
    Ok(steps)
}

/// A checkpoint read and checked whole: where it is, its sidecar and its tensor file's bytes.
type Whole = (CheckpointInfo, Sidecar, Vec<u8>);

/// Reads and checks the checkpoint at `step`; `Err` says why it is not whole.
fn read_whole(dir: &Path, step: u64) -> Result<Whole> {
    let tensors_path = dir.join(tensors_name(step));
    let sidecar_path = dir.join(sidecar_name(step));
    let sidecar_text = fs::read(&sidecar_path).at("reading", &sidecar_path)?;
    let sidecar: Sidecar = serde_json::from_slice(&sidecar_text).map_err(|e| RunsError::Parse {
        path: sidecar_path.clone(),
        line: Some(e.line()),
        message: e.to_string(),
    })?;
    let invalid = |what: String| RunsError::Invalid {
        path: tensors_path.clone(),
        what,
    };
    if sidecar.step != step {
        return Err(invalid(format!("sidecar says step {}", sidecar.step)));
    }
    let bytes = fs::read(&tensors_path).at("reading", &tensors_path)?;
    if bytes.len() as u64 != sidecar.tensors_bytes {
        return Err(invalid(format!(
            "{} bytes, the sidecar recorded {}",
            bytes.len(),
            sidecar.tensors_bytes
        )));
    }
    if sha256_hex(&bytes) != sidecar.tensors_sha256 {
        return Err(invalid("SHA-256 differs from the sidecar's".to_string()));
    }
    candle_core::safetensors::SliceSafetensors::new(&bytes).map_err(|source| {
        RunsError::Tensors {
            path: tensors_path.clone(),
            source,
        }
    })?;
    Ok((
        CheckpointInfo {
            step,
            tensors_path,
            sidecar_path,
        },
        sidecar,
        bytes,
    ))
}

/// Every whole checkpoint in `checkpoints_dir`, highest step first.
pub fn whole_checkpoints(checkpoints_dir: &Path) -> Result<Vec<CheckpointInfo>> {
    Ok(scan_checkpoints(checkpoints_dir)?.whole)
}

/// The whole checkpoint with the highest step, or `None`; partial, temp and corrupt files are
/// passed over.
pub fn latest_whole_checkpoint(checkpoints_dir: &Path) -> Result<Option<CheckpointInfo>> {
    for step in candidate_steps(checkpoints_dir)? {
        if let Ok((info, ..)) = read_whole(checkpoints_dir, step) {
            return Ok(Some(info));
        }
    }
    Ok(None)
}

/// Loads a checkpoint's tensors onto `device` and its sidecar state, re-checking that it is whole.
pub fn load_checkpoint(info: &CheckpointInfo, device: &Device) -> Result<Checkpoint> {
    let dir = info.sidecar_path.parent().unwrap_or_else(|| Path::new("."));
    decode(read_whole(dir, info.step)?, device)
}

/// A checkpoint [`read_whole`] accepted, with its tensors put on `device`.
fn decode((info, sidecar, bytes): Whole, device: &Device) -> Result<Checkpoint> {
    let tensors = candle_core::safetensors::load_buffer(&bytes, device).map_err(|source| {
        RunsError::Tensors {
            path: info.tensors_path.clone(),
            source,
        }
    })?;
    Ok(Checkpoint {
        step: info.step,
        tensors,
        state: sidecar.state,
    })
}

/// What a run's checkpoints folder holds: the whole checkpoints, newest first, and the others.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckpointScan {
    /// Checkpoints that read back whole, highest step first.
    pub whole: Vec<CheckpointInfo>,
    /// Checkpoints that do not, highest step first.
    pub rejected: Vec<Rejected>,
}

/// Reads every checkpoint of `checkpoints_dir` and sorts them into whole and rejected.
pub fn scan_checkpoints(checkpoints_dir: &Path) -> Result<CheckpointScan> {
    let mut scan = CheckpointScan::default();
    for step in candidate_steps(checkpoints_dir)? {
        match read_whole(checkpoints_dir, step) {
            Ok((info, ..)) => scan.whole.push(info),
            Err(e) => scan.rejected.push(rejected(checkpoints_dir, step, &e)),
        }
    }
    Ok(scan)
}

/// Why the checkpoint at `step` is not whole, from [`read_whole`]'s error.
fn rejected(checkpoints_dir: &Path, step: u64, e: &RunsError) -> Rejected {
    let sidecar = checkpoints_dir.join(sidecar_name(step));
    let incomplete = !sidecar.exists();
    let path = match e {
        RunsError::Io { path, .. }
        | RunsError::Invalid { path, .. }
        | RunsError::Parse { path, .. }
        | RunsError::Tensors { path, .. } => path.clone(),
        _ => sidecar,
    };
    let why = match e {
        RunsError::Io { source, .. } => source.to_string(),
        RunsError::Invalid { what, .. } => what.clone(),
        RunsError::Parse { message, .. } => message.clone(),
        other => other.to_string(),
    };
    Rejected {
        step,
        path,
        why,
        incomplete,
    }
}

/// The newest whole checkpoint, read (not yet decoded), and the newer ones passed over; refused
/// when the folder holds checkpoints and every one is damaged: resuming would start the run
/// again and, keeping only the newest checkpoints, delete them. Checkpoints older than the
/// newest whole one are not read.
fn newest_whole(checkpoints_dir: &Path) -> Result<(Option<Whole>, Vec<Rejected>)> {
    let mut skipped = Vec::new();
    for step in candidate_steps(checkpoints_dir)? {
        match read_whole(checkpoints_dir, step) {
            Ok(whole) => return Ok((Some(whole), skipped)),
            Err(e) => skipped.push(rejected(checkpoints_dir, step, &e)),
        }
    }
    if skipped.iter().any(|r| !r.incomplete) {
        return Err(RunsError::NoWholeCheckpoint {
            dir: checkpoints_dir.to_path_buf(),
            rejected: skipped,
        });
    }
    Ok((None, skipped))
}

/// The checkpoint a resume would continue from, as far as it can be judged without loading
/// its tensors: where its sidecar is, its step and the job's state in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumePoint {
    /// The newest whole checkpoint.
    pub info: CheckpointInfo,
    /// Its sidecar's `state`, for the job kind to validate.
    pub state: serde_json::Value,
}

/// Refuses, before anything is written, a run whose checkpoints are all damaged (see
/// [`load_latest_checkpoint`]); otherwise the checkpoint a resume continues from, if any.
pub fn check_resumable(checkpoints_dir: &Path) -> Result<Option<ResumePoint>> {
    let (whole, _) = newest_whole(checkpoints_dir)?;
    Ok(whole.map(|(info, sidecar, _)| ResumePoint {
        info,
        state: sidecar.state,
    }))
}

/// The checkpoint a resume continues from, and the newer ones it had to pass over.
#[derive(Debug)]
pub struct Latest {
    /// The newest whole checkpoint, loaded; `None` when there is none yet.
    pub checkpoint: Option<Checkpoint>,
    /// Newer checkpoints that could not be used, with why.
    pub skipped: Vec<Rejected>,
}

/// Loads the newest whole checkpoint of `checkpoints_dir` onto `device` (the common first step
/// of `resume`), saying which newer ones were passed over; refused when the folder holds
/// checkpoints and every one of them is damaged.
pub fn load_latest_checkpoint(checkpoints_dir: &Path, device: &Device) -> Result<Latest> {
    let (whole, skipped) = newest_whole(checkpoints_dir)?;
    Ok(Latest {
        checkpoint: whole.map(|whole| decode(whole, device)).transpose()?,
        skipped,
    })
}

/// The variables of `varmap` as checkpoint tensors named `<prefix><VarBuilder path>`, sorted by
/// name. The tensors share storage with the variables: write them before the next update.
pub fn varmap_tensors(varmap: &candle_nn::VarMap, prefix: &str) -> Vec<(String, Tensor)> {
    let vars = varmap
        .data()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut tensors: Vec<(String, Tensor)> = vars
        .iter()
        .map(|(name, var)| (format!("{prefix}{name}"), var.as_tensor().clone()))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    tensors
}

/// Sets every variable of `varmap` from the checkpoint tensor `<prefix><name>`, moved to the
/// variable's device. Fails, changing nothing, if a tensor is missing or its shape or dtype
/// differs (a checkpoint of another model); tensors without a variable are ignored.
pub fn restore_varmap(
    varmap: &candle_nn::VarMap,
    tensors: &HashMap<String, Tensor>,
    prefix: &str,
) -> Result<()> {
    let vars = varmap
        .data()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mismatch = |what: String| RunsError::Invalid {
        path: PathBuf::from("checkpoint"),
        what,
    };
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let mut updates = Vec::with_capacity(names.len());
    for name in names {
        let var = &vars[name];
        let key = format!("{prefix}{name}");
        let tensor = tensors.get(&key).ok_or_else(|| {
            mismatch(format!("has no tensor `{key}` for model variable `{name}`"))
        })?;
        if tensor.dims() != var.dims() || tensor.dtype() != var.dtype() {
            return Err(mismatch(format!(
                "tensor `{key}` is {:?} {:?}, the model variable is {:?} {:?}",
                tensor.dtype(),
                tensor.dims(),
                var.dtype(),
                var.dims()
            )));
        }
        let on_device = tensor
            .to_device(var.device())
            .map_err(|source| RunsError::Tensors {
                path: PathBuf::from(&key),
                source,
            })?;
        updates.push((var, on_device, key));
    }
    for (var, tensor, key) in updates {
        var.set(&tensor).map_err(|source| RunsError::Tensors {
            path: PathBuf::from(key),
            source,
        })?;
    }
    Ok(())
}

/// Keeps the `n` newest whole checkpoints (at least 1) and removes older ones, plus leftovers:
/// temp files and incomplete checkpoints older than the newest whole one. Returns how many files
/// were removed. Call it only from the process that holds the run lock, after a write.
pub fn keep_last(checkpoints_dir: &Path, n: usize) -> Result<usize> {
    let whole = whole_checkpoints(checkpoints_dir)?;
    let keep: Vec<u64> = whole.iter().take(n.max(1)).map(|c| c.step).collect();
    let newest = keep.first().copied();
    let mut removed = 0;
    let remove = |path: &Path, removed: &mut usize| -> Result<()> {
        match fs::remove_file(path) {
            Ok(()) => {
                *removed += 1;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).at("removing old checkpoint", path),
        }
    };
    for step in candidate_steps(checkpoints_dir)? {
        let stale = match newest {
            Some(newest) => step < newest && !keep.contains(&step),
            None => false,
        };
        if stale {
            // Sidecar first, so an interrupted prune never leaves a sidecar without tensors.
            remove(&checkpoints_dir.join(sidecar_name(step)), &mut removed)?;
            remove(&checkpoints_dir.join(tensors_name(step)), &mut removed)?;
        }
    }
    for entry in fs::read_dir(checkpoints_dir).at("listing", checkpoints_dir)? {
        let entry = entry.at("listing", checkpoints_dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!(".{STEP_PREFIX}")) && name.ends_with(TEMP_SUFFIX) {
            remove(&entry.path(), &mut removed)?;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct JobState {
        epoch: u32,
        lr: f64,
        rng: [u64; 4],
    }

    #[test]
    fn weights_holding_nan_or_infinity_are_never_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_checkpoint(dir.path(), 10, &sample_tensors(1.0), &10).expect("a finite one");
        for bad in [f32::NAN, f32::INFINITY] {
            let mut tensors = sample_tensors(2.0);
            tensors.push((
                "fc.bias".into(),
                Tensor::new(&[0.5f32, bad], &Device::Cpu).expect("tensor"),
            ));
            let err = write_checkpoint(dir.path(), 20, &tensors, &20).expect_err("refused");
            assert!(
                err.to_string().contains("fc.bias") && err.to_string().contains("not finite"),
                "{err}"
            );
        }
        let scan = scan_checkpoints(dir.path()).expect("scan");
        assert_eq!(
            scan.whole.iter().map(|c| c.step).collect::<Vec<_>>(),
            vec![10]
        );
        assert!(
            scan.rejected.is_empty(),
            "no partial file was left: {scan:?}"
        );
    }

    #[test]
    fn a_scan_tells_an_interrupted_write_from_a_damaged_checkpoint() {
        let dir = tempfile::tempdir().expect("temp dir");
        for step in [10, 20] {
            write_checkpoint(dir.path(), step, &sample_tensors(step as f32), &step).expect("write");
        }
        // Step 20's sidecar was never written: an interrupted write, nothing to refuse.
        fs::remove_file(dir.path().join(sidecar_name(20))).expect("remove");
        let scan = scan_checkpoints(dir.path()).expect("scan");
        assert_eq!(
            scan.whole.iter().map(|c| c.step).collect::<Vec<_>>(),
            vec![10]
        );
        assert!(scan.rejected[0].incomplete && scan.rejected[0].step == 20);
        check_resumable(dir.path()).expect("an older whole checkpoint remains");

        // Step 10's tensors are damaged: no whole checkpoint is left, so resuming is refused
        // with every file and its reason.
        let tensors = dir.path().join(tensors_name(10));
        let mut bytes = fs::read(&tensors).expect("read");
        bytes[40] ^= 1;
        fs::write(&tensors, bytes).expect("write");
        let scan = scan_checkpoints(dir.path()).expect("scan");
        assert!(scan.whole.is_empty());
        let err = check_resumable(dir.path())
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("step-10.safetensors") && err.contains("SHA-256"),
            "{err}"
        );
        assert!(err.contains("step-20"), "{err}");
        let err = load_latest_checkpoint(dir.path(), &Device::Cpu).expect_err("refused");
        assert!(matches!(err, RunsError::NoWholeCheckpoint { .. }), "{err}");
    }

    fn sample_tensors(seed: f32) -> Vec<(String, Tensor)> {
        let device = Device::Cpu;
        let w: Vec<f32> = (0..32 * 9)
            .map(|i| (i as f32 * 0.37 + seed).sin() * 1e-3)
            .collect();
        let conv = Tensor::from_vec(w, (32, 1, 3, 3), &device).expect("tensor");
        let bias = Tensor::from_vec(vec![f32::MIN_POSITIVE, -0.0, 1e30, seed], 4, &device)
            .expect("tensor");
        let moment = Tensor::from_vec(vec![1e-12f64, 2.5], 2, &device).expect("tensor");
        let counts = Tensor::from_vec(vec![7u32, 9], 2, &device).expect("tensor");
        vec![
            ("conv1.weight".into(), conv),
            ("conv1.bias".into(), bias),
            ("adam.v.conv1.bias".into(), moment),
            ("counts".into(), counts),
        ]
    }

    fn bits(t: &Tensor) -> Vec<u8> {
        let t = t.flatten_all().expect("flatten");
        match t.dtype() {
            DType::F32 => t
                .to_vec1::<f32>()
                .expect("f32")
                .iter()
                .flat_map(|v| v.to_bits().to_le_bytes())
                .collect(),
            DType::F64 => t
                .to_vec1::<f64>()
                .expect("f64")
                .iter()
                .flat_map(|v| v.to_bits().to_le_bytes())
                .collect(),
            DType::U32 => t
                .to_vec1::<u32>()
                .expect("u32")
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            other => panic!("unexpected dtype {other:?}"),
        }
    }

    #[test]
    fn round_trip_is_bit_identical_with_state() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tensors = sample_tensors(0.5);
        let state = JobState {
            epoch: 3,
            lr: 1e-3,
            rng: [1, u64::MAX, 3, 4],
        };
        let info = write_checkpoint(dir.path(), 1200, &tensors, &state).expect("write");
        assert_eq!(info.tensors_path, dir.path().join("step-1200.safetensors"));
        let mut loaded = load_checkpoint(&info, &Device::Cpu).expect("load");
        assert_eq!(loaded.step, 1200);
        assert_eq!(loaded.state_as::<JobState>().expect("state"), state);
        assert_eq!(loaded.tensors.len(), tensors.len());
        for (name, original) in &tensors {
            let back = &loaded.tensors[name];
            assert_eq!(back.dims(), original.dims(), "{name}");
            assert_eq!(back.dtype(), original.dtype(), "{name}");
            assert_eq!(bits(back), bits(original), "{name}");
        }
        assert!(loaded.take("conv1.weight").is_ok());
        let missing = loaded.take("fc9.weight").expect_err("absent tensor");
        assert!(missing.to_string().contains("fc9.weight"));
        let leftovers: Vec<String> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(TEMP_SUFFIX))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn duplicate_names_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut tensors = sample_tensors(0.1);
        tensors.push(tensors[0].clone());
        let err = write_checkpoint(dir.path(), 1, &tensors, &()).expect_err("duplicate");
        assert!(err.to_string().contains("conv1.weight"), "{err}");
    }

    #[test]
    fn partial_and_corrupt_checkpoints_are_ignored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = serde_json::json!({"epoch": 1});
        write_checkpoint(dir.path(), 100, &sample_tensors(1.0), &state).expect("write 100");
        let good = fs::read(dir.path().join("step-100.safetensors")).expect("read");

        // A crash while writing tensors for step 400: only a temp file.
        fs::write(
            dir.path().join(".step-400.safetensors.77.tmp"),
            &good[..good.len() / 2],
        )
        .expect("write temp");
        // Crash after renaming the tensors of step 300, before its sidecar.
        fs::write(dir.path().join("step-300.safetensors"), &good).expect("write");
        // Step 200 whole at first, then truncated on disk.
        write_checkpoint(dir.path(), 200, &sample_tensors(2.0), &state).expect("write 200");
        let path_200 = dir.path().join("step-200.safetensors");
        let bytes_200 = fs::read(&path_200).expect("read");
        fs::write(&path_200, &bytes_200[..bytes_200.len() - 10]).expect("truncate");
        // Step 250: sidecar present, tensors same length but bytes flipped.
        write_checkpoint(dir.path(), 250, &sample_tensors(2.5), &state).expect("write 250");
        let path_250 = dir.path().join("step-250.safetensors");
        let mut bytes_250 = fs::read(&path_250).expect("read");
        let last = bytes_250.len() - 1;
        bytes_250[last] ^= 0xff;
        fs::write(&path_250, &bytes_250).expect("corrupt");
        // A sidecar that is cut short.
        fs::write(dir.path().join("step-500.json"), "{\"format\":1,\"st").expect("write");

        let latest = latest_whole_checkpoint(dir.path())
            .expect("scan")
            .expect("one whole checkpoint");
        assert_eq!(latest.step, 100);
        let steps: Vec<u64> = whole_checkpoints(dir.path())
            .expect("scan")
            .iter()
            .map(|c| c.step)
            .collect();
        assert_eq!(steps, vec![100]);
        assert!(load_checkpoint(&latest, &Device::Cpu).is_ok());
        let bad = CheckpointInfo {
            step: 200,
            tensors_path: path_200,
            sidecar_path: dir.path().join("step-200.json"),
        };
        let err = load_checkpoint(&bad, &Device::Cpu).expect_err("truncated");
        assert!(err.to_string().contains("step-200.safetensors"), "{err}");
    }

    #[test]
    fn empty_or_missing_folder_has_no_checkpoint() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(latest_whole_checkpoint(dir.path()).expect("scan"), None);
        assert_eq!(
            latest_whole_checkpoint(&dir.path().join("absent")).expect("scan"),
            None
        );
    }

    #[test]
    fn keep_last_prunes_old_whole_and_stale_partial_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        for step in [10, 20, 30, 40, 50] {
            write_checkpoint(dir.path(), step, &sample_tensors(step as f32), &step).expect("write");
        }
        fs::write(dir.path().join("step-5.safetensors"), b"partial").expect("write");
        fs::write(dir.path().join(".step-60.safetensors.1.tmp"), b"temp").expect("write");
        fs::write(dir.path().join("notes.txt"), b"user file").expect("write");
        // 3 old pairs + partial step 5 + temp file
        assert_eq!(keep_last(dir.path(), 2).expect("prune"), 8);
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                "notes.txt",
                "step-40.json",
                "step-40.safetensors",
                "step-50.json",
                "step-50.safetensors"
            ]
        );
        assert_eq!(keep_last(dir.path(), 0).expect("prune to one"), 2);
        assert_eq!(
            latest_whole_checkpoint(dir.path())
                .expect("scan")
                .map(|c| c.step),
            Some(50)
        );
    }

    #[test]
    fn rewriting_a_step_replaces_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_checkpoint(dir.path(), 7, &sample_tensors(1.0), &1).expect("write");
        let info = write_checkpoint(dir.path(), 7, &sample_tensors(2.0), &2).expect("rewrite");
        let loaded = load_checkpoint(&info, &Device::Cpu).expect("load");
        assert_eq!(loaded.state, serde_json::json!(2));
        assert_eq!(
            bits(&loaded.tensors["conv1.bias"]),
            bits(&sample_tensors(2.0)[1].1)
        );
    }

    #[test]
    fn varmap_round_trip_restores_weights_and_rejects_other_models() {
        use candle_nn::{Init, VarBuilder, VarMap};
        let dir = tempfile::tempdir().expect("temp dir");
        let device = Device::Cpu;
        let trained = VarMap::new();
        let vb = VarBuilder::from_varmap(&trained, DType::F32, &device);
        let w = vb
            .pp("fc1")
            .get_with_hints(
                (4, 3),
                "weight",
                Init::Randn {
                    mean: 0.,
                    stdev: 1.,
                },
            )
            .expect("var");
        let _b = vb
            .pp("fc1")
            .get_with_hints(4, "bias", Init::Const(0.5))
            .expect("var");
        let tensors = varmap_tensors(&trained, "");
        assert_eq!(
            tensors.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            vec!["fc1.bias", "fc1.weight"]
        );
        write_checkpoint(dir.path(), 3, &tensors, &()).expect("write");
        let loaded = load_latest_checkpoint(dir.path(), &device)
            .expect("load")
            .checkpoint
            .expect("present");

        let fresh = VarMap::new();
        let vb = VarBuilder::from_varmap(&fresh, DType::F32, &device);
        let w2 = vb
            .pp("fc1")
            .get_with_hints((4, 3), "weight", Init::Const(0.0))
            .expect("var");
        let _ = vb
            .pp("fc1")
            .get_with_hints(4, "bias", Init::Const(0.0))
            .expect("var");
        restore_varmap(&fresh, &loaded.tensors, "").expect("restore");
        assert_eq!(bits(&w2), bits(&w));

        let other = VarMap::new();
        let vb = VarBuilder::from_varmap(&other, DType::F32, &device);
        let _ = vb
            .pp("fc1")
            .get_with_hints((5, 3), "weight", Init::Const(0.0))
            .expect("var");
        let err = restore_varmap(&other, &loaded.tensors, "").expect_err("shape mismatch");
        assert!(err.to_string().contains("fc1.weight"), "{err}");
        let err = restore_varmap(&fresh, &loaded.tensors, "generator.").expect_err("prefix");
        assert!(err.to_string().contains("generator.fc1.bias"), "{err}");
    }
}
