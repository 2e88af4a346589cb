//! Candle models, their trainers and losses, one folder per job kind; no UI and no run files.

pub mod classifier;
pub mod feature_cnn;
pub mod frechet;
pub mod gan;
pub mod init;
pub mod layers;
pub mod loss;
pub mod rl;
#[cfg(test)]
mod testdata;

/// A candle error as one readable line: backtraces (captured when `RUST_BACKTRACE` is set)
/// belong in bug reports, not in a status line.
pub fn error_text(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => error_text(inner),
        candle_core::Error::Context { inner, context } => {
            format!("{context}: {}", error_text(inner))
        }
        other => other.to_string(),
    }
}
