//! Fast CPU kernels as candle custom ops, used where candle's own CPU kernels are slow.
//!
//! Every op takes the fast kernel for f32 tensors on the CPU and candle's own ops (the portable
//! path) on any other device. [`Kernels::Portable`] makes the CPU take the portable path too, so
//! the math a GPU runs is the math the CPU tests check.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::Device;

pub mod adam;
pub mod batch_norm;
pub mod bias_act;
pub mod conv2d;
pub mod conv_block;
pub mod conv_transpose;
mod cpu;
pub mod linear;
pub mod maxpool;
pub mod profile;
pub mod runtime;
pub mod sgd;
#[cfg(test)]
pub(crate) mod testutil;

/// Which implementation the ops take on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernels {
    /// gradtop's fast CPU kernels.
    #[default]
    Fast,
    /// The path every other device takes: candle's own ops and the plain Adam.
    Portable,
}

impl std::str::FromStr for Kernels {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fast" => Ok(Kernels::Fast),
            "portable" => Ok(Kernels::Portable),
            other => Err(format!("unknown kernels {other:?}: use fast or portable")),
        }
    }
}

impl Kernels {
    /// The name `--kernels` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Kernels::Fast => "fast",
            Kernels::Portable => "portable",
        }
    }
}

/// The process's choice (`--kernels`), read by every thread that has not chosen for itself.
static PROCESS_PORTABLE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// A thread's own choice, so tests can compare both paths side by side in one process.
    static THREAD_KERNELS: Cell<Option<Kernels>> = const { Cell::new(None) };
}

/// Sets the kernels of the whole process (the `--kernels` option), before any job starts.
pub fn set_process_kernels(kernels: Kernels) {
    PROCESS_PORTABLE.store(kernels == Kernels::Portable, Ordering::Relaxed);
}

/// Sets the kernels of the ops this thread calls, whatever the process chose.
pub fn set_thread_kernels(kernels: Kernels) {
    THREAD_KERNELS.with(|k| k.set(Some(kernels)));
}

/// The kernels in force on this thread.
pub fn kernels() -> Kernels {
    THREAD_KERNELS
        .with(Cell::get)
        .unwrap_or(if PROCESS_PORTABLE.load(Ordering::Relaxed) {
            Kernels::Portable
        } else {
            Kernels::Fast
        })
}

/// True when an op on `device` takes the fast CPU kernel (the caller checks the dtype).
pub(crate) fn fast_on(device: &Device) -> bool {
    matches!(device, Device::Cpu) && kernels() == Kernels::Fast
}

/// Every variable of `varmap` with its name, sorted by name: the order an optimiser keeps them
/// in, so its checkpoint tensors are named and ordered alike from run to run.
pub(crate) fn sorted_vars(
    varmap: &candle_nn::VarMap,
    optimizer: &str,
) -> candle_core::Result<Vec<(String, candle_core::Var)>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg(format!("{optimizer}: VarMap lock poisoned")))?;
    let mut named: Vec<(String, candle_core::Var)> =
        data.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(named)
}

/// The float32 matrix-multiply rate this machine reaches with the kernel every dense layer and
/// convolution calls, on all threads of the current pool: the best of `repeats` products of two
/// `side × side` matrices, in GFLOP/s. It is the ceiling `gradtop bench` measures workloads
/// against.
pub fn gemm_peak_gflops(side: usize, repeats: usize) -> f64 {
    let n = side * side;
    let a: Vec<f32> = (0..n).map(|i| ((i % 17) as f32 - 8.0) * 0.01).collect();
    let b: Vec<f32> = (0..n).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect();
    let mut c = vec![0.0f32; n];
    let strides = cpu::Strides { row: side, col: 1 };
    let mut best = f64::MAX;
    for _ in 0..repeats.max(1) {
        let start = std::time::Instant::now();
        cpu::matmul(
            (side, side, side),
            &mut c,
            strides,
            false,
            &a,
            strides,
            &b,
            strides,
            cpu::threads(),
        );
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::hint::black_box(&c);
    2.0 * (side as f64).powi(3) / best.max(f64::MIN_POSITIVE) / 1e9
}
