//! SIGTERM, SIGHUP, SIGINT and SIGQUIT as a flag jobs poll between steps, so a run stopped by
//! `kill`, a dropped SSH connection, Ctrl-C or Ctrl-\\ writes a checkpoint and an `end` event
//! first.
//!
//! The flag is process-wide: once set, every job stops at its next step boundary and records
//! its end as `interrupted`. A second signal while the first is being handled exits at once.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The signals that ask a run to checkpoint and end.
const SIGNALS: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT];

extern "C" fn on_signal(signal: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // The user insists (a second Ctrl-C): leave without waiting for the job.
        // SAFETY: _exit is async-signal-safe and takes no pointers.
        unsafe { libc::_exit(128 + signal) };
    }
    SIGNAL.store(signal, Ordering::SeqCst);
}

/// Routes the stop signals to the flag (headless runs; the dashboard listens through
/// tokio and calls [`request`] itself).
pub fn install_handlers() -> std::io::Result<()> {
    for signal in SIGNALS {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler only
        // touches atomics and _exit, which are async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Marks the process as interrupted (the dashboard does this when a signal arrives).
pub fn request(signal: libc::c_int) {
    SIGNAL.store(signal, Ordering::SeqCst);
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// True once a stop signal has arrived.
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The signal that arrived, if any (for exit status 128 + N).
pub fn signal() -> Option<libc::c_int> {
    requested().then(|| SIGNAL.load(Ordering::SeqCst))
}
