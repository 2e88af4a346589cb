//! Fast CPU kernels as candle custom ops, used where candle's own CPU kernels are slow.
