//! Keeps freed memory in the process heap between training steps.
//!
//! Every candle op allocates its output, so one CNN step allocates and frees a few dozen
//! megabyte-sized buffers. glibc's defaults return such buffers to the kernel (mmap/munmap, heap
//! trimming) and fault them back in on the next step; on the classifier CNN (one thread) that
//! page churn took the backward pass from about 2.9 ms to 6.4 ms per step. Raising the
//! thresholds once at start-up removes it for a few MiB of retained heap.

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
