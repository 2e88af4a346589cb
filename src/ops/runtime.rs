//! Process-wide CPU settings that training throughput depends on.
//!
//! **Freed memory stays in the heap.**
//! Every candle op allocates its output, so one CNN step allocates and frees a few dozen
//! megabyte-sized buffers. glibc's defaults return such buffers to the kernel (mmap/munmap, heap
//! trimming) and fault them back in on the next step; on the classifier CNN (one thread) that
//! page churn took the backward pass from about 2.9 ms to 6.4 ms per step. Raising the
//! thresholds once at start-up removes it for a few MiB of retained heap.

/// Environment variable sizing candle's element-wise thread pool (read once, at its first use).
pub const CANDLE_THREADS_ENV: &str = "CANDLE_NUM_THREADS";

/// Sets up the process for CPU training: [`retain_freed_memory`], and unless the user set
/// `CANDLE_NUM_THREADS`, runs candle's element-wise ops on the calling thread. candle's
/// element-wise pool waits by spinning; when another process holds a core, the backward pass of
/// the CNN stalls on a descheduled worker (measured: 9–11 ms instead of 4–6 ms per step on the
/// 2-core box with a second job running), while gemm and the kernels in [`crate::ops`] keep
/// using rayon's sleeping pool. Call first thing in `main`, before any thread starts: it
/// changes the environment.
pub fn init_cpu_runtime() {
    if std::env::var_os(CANDLE_THREADS_ENV).is_none() {
        std::env::set_var(CANDLE_THREADS_ENV, "1");
    }
    // With RAYON_NUM_THREADS unset, candle's small matmuls were measured about 2× slower here
    // (DQN: 1,230–2,150 vs 2,880–4,170 env steps/s), so it is pinned to the available cores.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("RAYON_NUM_THREADS", cores.to_string());
    }
    retain_freed_memory();
}

/// Runs `f` on a worker of a compute pool of its own, as many threads as rayon's global pool
/// (`RAYON_NUM_THREADS`), named `{name}-0`, `{name}-1`, …, so the kernels' parallel loops split
/// their work between this worker and the others. Called from an ordinary thread, each parallel
/// region instead woke every worker while the caller slept, one thread more than there are
/// cores, and the switches between them cost more than the small products gained: inside the
/// pool the MLP bench ran 25–40% faster and the CNN bench 8–20%. If the pool cannot start, `f`
/// runs here. Panics in `f` reach the caller.
pub fn in_compute_pool<R: Send>(name: &str, f: impl FnOnce() -> R + Send) -> R {
    let prefix = name.to_string();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name(move |i| format!("{prefix}-{i}"))
        .build();
    match pool {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

/// Largest allocation still served from the heap instead of a fresh mmap, in bytes.
const MMAP_THRESHOLD_BYTES: i32 = 64 << 20;
/// Free space at the top of the heap kept before it is returned to the kernel, in bytes.
const TRIM_THRESHOLD_BYTES: i32 = 128 << 20;

/// Makes glibc keep freed training buffers for reuse (process-wide, idempotent; a no-op on
/// other C libraries). Call once before training; `gradtop bench` does.
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // glibc's <malloc.h> parameter numbers.
            const M_TRIM_THRESHOLD: i32 = -1;
            const M_MMAP_THRESHOLD: i32 = -3;
            extern "C" {
                fn mallopt(param: i32, value: i32) -> i32;
            }
            // SAFETY: mallopt only adjusts allocator tuning parameters; glibc serialises it
            // against concurrent allocations with the arena lock.
            unsafe {
                mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
                mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES);
            }
        });
    }
}
