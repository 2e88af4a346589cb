//! Fast CPU kernels as candle custom ops, used where candle's own CPU kernels are slow.

pub mod adam;
pub mod batch_norm;
pub mod bias_act;
pub mod conv2d;
pub mod conv_block;
pub mod conv_transpose;
mod cpu;
pub mod linear;
pub mod maxpool;
pub mod runtime;
#[cfg(test)]
pub(crate) mod testutil;
