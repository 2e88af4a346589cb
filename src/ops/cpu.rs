//! Shared plumbing for the CPU kernels: typed views of candle storage and a safe matrix multiply.

use candle_core::{backend::BackendStorage, bail, CpuStorage, Layout, Result};

/// [`contiguous_f32`] for writing in place: the f32 elements a contiguous layout covers.
pub(crate) fn contiguous_f32_mut<'a>(
    storage: &'a mut CpuStorage,
    layout: &Layout,
    op: &str,
) -> Result<&'a mut [f32]> {
    let dtype = storage.dtype();
    let CpuStorage::F32(data) = storage else {
        bail!("{op}: expected f32 storage, got {dtype:?}")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&mut data[start..end]),
        None => bail!(
            "{op}: expected a contiguous tensor, got strides {:?}",
            layout.stride()
        ),
    }
}

/// The f32 elements a contiguous layout covers, or an error naming `op` when the storage is not
/// f32 or the layout is strided (callers make inputs contiguous before applying an op).
pub(crate) fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        bail!("{op}: expected f32 storage, got {:?}", storage.dtype())
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!(
            "{op}: expected a contiguous tensor, got strides {:?}",
            layout.stride()
        ),
    }
}

/// Runs `f` on the f32 elements of a contiguous CPU tensor in place: backward passes read their
/// saved inputs this way instead of copying them out with `to_vec1`.
pub(crate) fn with_f32<R>(
    t: &candle_core::Tensor,
    op: &str,
    f: impl FnOnce(&[f32]) -> Result<R>,
) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        bail!("{op}: expected a CPU tensor")
    };
    f(contiguous_f32(cpu, layout, op)?)
}

/// Row and column strides of a matrix operand, in elements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Strides {
    pub row: usize,
    pub col: usize,
}

impl Strides {
    /// A row-major matrix with `cols` columns.
    pub(crate) fn row_major(cols: usize) -> Self {
        Self { row: cols, col: 1 }
    }

    /// The transpose of a row-major matrix with `cols` columns (read as `rows`-by-`cols`^T).
    pub(crate) fn transposed(cols_of_stored: usize) -> Self {
        Self {
            row: 1,
            col: cols_of_stored,
        }
    }

    /// One past the largest element offset a `rows`×`cols` matrix with these strides touches.
    fn extent(&self, rows: usize, cols: usize) -> usize {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * self.row + (cols - 1) * self.col + 1
        }
    }
}

/// `dst (m×n) = [dst +] lhs (m×k) · rhs (k×n)` on f32 through the `gemm` crate, the kernel candle
/// itself uses; `accumulate` adds to `dst` instead of overwriting it. `threads > 1` lets gemm
/// split the product across the rayon pool (use 1 when the caller already runs in parallel).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    dst_strides: Strides,
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: Strides,
    rhs: &[f32],
    rhs_strides: Strides,
    threads: usize,
) {
    assert!(
        dst.len() >= dst_strides.extent(m, n)
            && lhs.len() >= lhs_strides.extent(m, k)
            && rhs.len() >= rhs_strides.extent(k, n),
        "matmul operands must cover their ({m}×{k})·({k}×{n}) extents"
    );
    super::profile::count_gemm(m, n, k);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                for c in 0..n {
                    dst[r * dst_strides.row + c * dst_strides.col] = 0.0;
                }
            }
        }
        return;
    }
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the assert above guarantees every index gemm computes from these strides lies
    // inside the three slices, and `dst` is borrowed mutably so it cannot alias `lhs`/`rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_strides.col as isize,
            dst_strides.row as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_strides.col as isize,
            lhs_strides.row as isize,
            rhs.as_ptr(),
            rhs_strides.col as isize,
            rhs_strides.row as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// Threads the kernels may use: rayon's global pool, which gemm (inside candle's matmul too)
/// already uses; `RAYON_NUM_THREADS` sets it for both.
pub(crate) fn threads() -> usize {
    rayon::current_num_threads()
}

/// Products with fewer multiply-adds than this run on the calling thread: for the RL agents'
/// small layers (a 128×120 · 120×84 product is 1.3 M) waking the pool and waiting for it costs
/// more than the second core saves (DQN measured 1.8× faster single-threaded).
pub(crate) const GEMM_PARALLEL_MIN_MACS: usize = 1 << 22;

/// Threads for an `(m×k)·(k×n)` product: 1 below [`GEMM_PARALLEL_MIN_MACS`], else the pool.
pub(crate) fn gemm_threads(m: usize, n: usize, k: usize) -> usize {
    if m.saturating_mul(n).saturating_mul(k) < GEMM_PARALLEL_MIN_MACS {
        1
    } else {
        threads()
    }
}

/// Below this many elements a kernel runs on the calling thread: waking the pool costs more than
/// it saves, and on a busy machine a parallel region can stall on a descheduled worker.
pub(crate) const PARALLEL_MIN_ELEMS: usize = 1 << 15;

/// Calls `f(i)` for every `i` in `0..n_items` on rayon's pool (work-stealing, so uneven items
/// balance and the caller sleeps instead of spinning while it waits).
pub(crate) fn parallel_for(n_items: usize, f: impl Fn(usize) + Sync + Send) {
    use rayon::prelude::*;
    (0..n_items).into_par_iter().for_each(f)
}

/// A mutable slice split into `chunk_len`-sized pieces that different threads may write.
pub(crate) struct ChunkedMut<'a, T> {
    ptr: *mut T,
    len: usize,
    chunk_len: usize,
    _borrow: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: the only access is `chunk`, whose callers promise each index is taken by one thread.
unsafe impl<T: Send> Send for ChunkedMut<'_, T> {}
unsafe impl<T: Send> Sync for ChunkedMut<'_, T> {}

impl<'a, T> ChunkedMut<'a, T> {
    /// `chunk_len` must be positive.
    pub(crate) fn new(data: &'a mut [T], chunk_len: usize) -> Self {
        assert!(chunk_len > 0, "chunks must not be empty");
        Self {
            ptr: data.as_mut_ptr(),
            len: data.len(),
            chunk_len,
            _borrow: std::marker::PhantomData,
        }
    }

    /// Number of chunks (the last may be short).
    pub(crate) fn count(&self) -> usize {
        self.len.div_ceil(self.chunk_len)
    }

    /// Chunk `i`.
    ///
    /// # Safety
    /// No two live references may be to the same chunk: call at most once per `i` per parallel
    /// region.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn chunk(&self, i: usize) -> &mut [T] {
        let start = i * self.chunk_len;
        assert!(start < self.len, "chunk index in range");
        let len = self.chunk_len.min(self.len - start);
        // SAFETY: in bounds by the assert; exclusive by the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}

/// Runs `f(i, chunk_i)` for every `chunk_len`-sized chunk of `data`; in parallel when `work`
/// (elements the whole call touches) reaches [`PARALLEL_MIN_ELEMS`].
pub(crate) fn for_each_chunk_mut<T: Send>(
    data: &mut [T],
    chunk_len: usize,
    work: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if data.is_empty() || chunk_len == 0 {
        return;
    }
    if work < PARALLEL_MIN_ELEMS || threads() == 1 {
        data.chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
        return;
    }
    let chunks = ChunkedMut::new(data, chunk_len);
    // SAFETY: parallel_for hands every index to exactly one call.
    parallel_for(chunks.count(), |i| f(i, unsafe { chunks.chunk(i) }));
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's reusable scratch buffer of at least `len` elements (contents
/// unspecified), so per-image buffers are allocated once per thread, not once per call.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        f(&mut buf[..len])
    })
}

/// 1 where `sign_of > 0`, else `slope`, chosen with bit masks: the activation gradients multiply
/// by it. Written as an `if`, LLVM kept a branch on the sign of noisy activations, which
/// mispredicts about half the time, and the loops ran scalar.
#[inline(always)]
pub(crate) fn side_factor(sign_of: f32, slope: f32) -> f32 {
    let positive = u32::from(sign_of > 0.0).wrapping_neg();
    f32::from_bits((1f32.to_bits() & positive) | (slope.to_bits() & !positive))
}

/// `N` sums of `f(i)` over `0..len` in f64, each with four independent accumulators: with one,
/// every add waits for the previous one (about 4 cycles), which made batch norm's per-channel
/// statistics latency-bound.
#[inline(always)]
pub(crate) fn sums_f64<const N: usize>(len: usize, f: impl Fn(usize) -> [f64; N]) -> [f64; N] {
    let mut lanes = [[0f64; N]; 4];
    let main = len / 4 * 4;
    for i in (0..main).step_by(4) {
        for (l, lane) in lanes.iter_mut().enumerate() {
            for (acc, v) in lane.iter_mut().zip(f(i + l)) {
                *acc += v;
            }
        }
    }
    let mut total = [0f64; N];
    for i in main..len {
        for (acc, v) in total.iter_mut().zip(f(i)) {
            *acc += v;
        }
    }
    for lane in lanes {
        for (acc, v) in total.iter_mut().zip(lane) {
            *acc += v;
        }
    }
    total
}

/// Sum of a slice with eight independent accumulators, so it vectorises.
pub(crate) fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_sums_equal_plain_sums_for_every_tail_length() {
        for len in [0, 1, 3, 4, 5, 8, 11, 196] {
            let xs: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let [s, sq] = sums_f64(len, |i| [f64::from(xs[i]), f64::from(xs[i]).powi(2)]);
            let want: f64 = xs.iter().map(|&v| f64::from(v)).sum();
            let want_sq: f64 = xs.iter().map(|&v| f64::from(v).powi(2)).sum();
            assert!(
                (s - want).abs() < 1e-12 && (sq - want_sq).abs() < 1e-12,
                "len {len}"
            );
            assert!((sum(&xs) as f64 - want).abs() < 1e-4, "len {len}");
        }
    }
}
