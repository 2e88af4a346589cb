//! Where a training step's time goes, op by op: wall time, calls, the gemm FLOPs done inside
//! each op and the bytes it reads and writes. Off (one relaxed load per op) unless
//! `gradtop bench --profile` turns it on.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use candle_core::{CpuStorage, Layout, Result, Shape};

static ENABLED: AtomicBool = AtomicBool::new(false);
/// FLOPs of every gemm since the process started (counted only while profiling).
static GEMM_FLOPS: AtomicU64 = AtomicU64::new(0);
static TABLE: Mutex<BTreeMap<&'static str, OpTotals>> = Mutex::new(BTreeMap::new());

thread_local! {
    /// True while this thread is inside a timed op: an op built on another op's forward (the
    /// transposed convolution runs the convolution's input gradient) is counted once, as itself.
    static IN_OP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Clears [`IN_OP`] when the timed op ends, even by a panic.
struct InOp;

impl Drop for InOp {
    fn drop(&mut self) {
        IN_OP.with(|c| c.set(false));
    }
}

/// True when ops are timed and this thread is not inside a timed op already.
fn timing() -> bool {
    enabled() && !IN_OP.with(|c| c.get())
}

/// Runs `f` as a timed op and returns how long it took.
fn run_timed<R>(f: impl FnOnce() -> R) -> (R, f64) {
    IN_OP.with(|c| c.set(true));
    let _guard = InOp;
    let start = Instant::now();
    let result = f();
    (result, start.elapsed().as_secs_f64())
}

/// What one op did over a profiled stretch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OpTotals {
    /// Times it ran.
    pub calls: u64,
    /// Wall time inside it, in seconds.
    pub seconds: f64,
    /// FLOPs of the matrix products it made.
    pub flops: u64,
    /// Bytes of its inputs and outputs (each read or written once).
    pub bytes: u64,
}

/// Turns profiling on or off for the whole process.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The totals since the last call, by op name, and starts afresh.
pub fn take() -> Vec<(&'static str, OpTotals)> {
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut *table).into_iter().collect()
}

/// Counts a gemm of `m × k` by `k × n`.
pub(crate) fn count_gemm(m: usize, n: usize, k: usize) {
    if enabled() {
        GEMM_FLOPS.fetch_add(2 * (m * n * k) as u64, Ordering::Relaxed);
    }
}

fn add(name: &'static str, seconds: f64, flops: u64, bytes: u64) {
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let t = table.entry(name).or_default();
    t.calls += 1;
    t.seconds += seconds;
    t.flops += flops;
    t.bytes += bytes;
}

/// Runs a custom op's CPU forward `f`, recording its time, its gemm FLOPs and the bytes of its
/// `inputs` and output when profiling is on.
pub(crate) fn timed(
    name: &'static str,
    inputs: &[&Layout],
    f: impl FnOnce() -> Result<(CpuStorage, Shape)>,
) -> Result<(CpuStorage, Shape)> {
    if !timing() {
        return f();
    }
    let flops_before = GEMM_FLOPS.load(Ordering::Relaxed);
    let (result, seconds) = run_timed(f);
    let flops = GEMM_FLOPS.load(Ordering::Relaxed) - flops_before;
    if let Ok((_, shape)) = &result {
        let elems: usize =
            inputs.iter().map(|l| l.shape().elem_count()).sum::<usize>() + shape.elem_count();
        add(name, seconds, flops, 4 * elems as u64);
    }
    result
}

/// Like [`timed`] for an op whose traffic the caller knows (an in-place update).
pub(crate) fn timed_bytes<R>(name: &'static str, bytes: usize, f: impl FnOnce() -> R) -> R {
    if !timing() {
        return f();
    }
    let (result, seconds) = run_timed(f);
    add(name, seconds, 0, bytes as u64);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_while_enabled_and_take_resets() {
        let layout = Layout::contiguous(Shape::from((2, 3)));
        let run = || {
            timed("test-op", &[&layout], || {
                Ok((CpuStorage::F32(vec![0.0; 4]), Shape::from(4)))
            })
        };
        // Other tests run ops concurrently: only this op's own name is checked.
        set_enabled(true);
        run().unwrap();
        run().unwrap();
        let totals = take();
        set_enabled(false);
        run().unwrap();
        let ours = totals.iter().find(|(n, _)| *n == "test-op").unwrap().1;
        assert_eq!(ours.calls, 2);
        assert_eq!(ours.bytes, 2 * 4 * (6 + 4));
        assert!(!take().iter().any(|(n, _)| *n == "test-op"));
    }
}
