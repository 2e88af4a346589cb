//! Throughput benchmarks: train a model on synthetic data of the real shapes for a fixed number
//! of steps after a warm-up and report samples/s, ms/step and peak RSS (`gradtop bench`).

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Module, Optimizer, VarMap};

use crate::models::classifier::{ClassifierError, ClassifierModel};
use crate::models::init::seeded_var_builder;
use crate::ops::adam::{Adam, AdamConfig};
use crate::rng::Rng;

/// One workload's figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BenchResult {
    /// What ran, e.g. `cnn`.
    pub workload: String,
    /// Training samples per second over the measured steps.
    pub samples_per_sec: f64,
    /// Mean wall time of one optimisation step, in milliseconds.
    pub ms_per_step: f64,
    /// Peak resident set size of the process so far (VmHWM), in MiB; 0 where unavailable.
    pub peak_rss_mb: f64,
}

/// Shape of a classifier benchmark; the defaults match the PyTorch peer script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassifierBench {
    /// Images per step.
    pub batch: usize,
    /// Untimed steps first (allocator and thread-pool warm-up).
    pub warmup_steps: usize,
    /// Timed steps.
    pub steps: usize,
    /// Seed of the synthetic data and the initial weights.
    pub seed: u64,
}

impl Default for ClassifierBench {
    fn default() -> Self {
        Self {
            batch: 32,
            warmup_steps: 30,
            steps: 400,
            seed: 0,
        }
    }
}

/// Trains the classifier `model` (`"cnn"`/`"mlp"`) with Adam (lr 1e-3) and softmax
/// cross-entropy on one fixed synthetic batch `(batch, 1, 28, 28)` in [0, 1] with labels in
/// 0..10, calling `progress(done, total)` after every step (warm-up included).
pub fn bench_classifier(
    model: &str,
    bench: &ClassifierBench,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BenchResult, ClassifierError> {
    crate::ops::runtime::retain_freed_memory();
    let mut rng = Rng::new(bench.seed);
    let varmap = VarMap::new();
    let vb = seeded_var_builder(&varmap, Rng::new(rng.next_u64()), DType::F32, device);
    let net = ClassifierModel::from_name(model, vb)?;
    let mut optimizer = Adam::from_varmap(&varmap, AdamConfig::default())?;

    let pixels: Vec<f32> = (0..bench.batch * 28 * 28).map(|_| rng.next_f32()).collect();
    let labels: Vec<u32> = (0..bench.batch).map(|_| rng.below(10) as u32).collect();
    let images = Tensor::from_vec(pixels, (bench.batch, 1, 28, 28), device)?;
    let labels = Tensor::from_vec(labels, bench.batch, device)?;

    let total = bench.warmup_steps + bench.steps;
    let mut step = |done: usize| -> candle_core::Result<()> {
        let logits = net.forward(&images)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
        optimizer.backward_step(&loss)?;
        progress(done, total);
        Ok(())
    };
    for i in 0..bench.warmup_steps {
        step(i + 1)?;
    }
    device.synchronize()?;
    let start = Instant::now();
    for i in 0..bench.steps {
        step(bench.warmup_steps + i + 1)?;
    }
    device.synchronize()?;
    let seconds = start.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    Ok(BenchResult {
        workload: net.name().to_string(),
        samples_per_sec: (bench.steps * bench.batch) as f64 / seconds,
        ms_per_step: 1e3 * seconds / bench.steps.max(1) as f64,
        peak_rss_mb: peak_rss_mb().unwrap_or(0.0),
    })
}

/// [`bench_classifier`] for the CNN.
pub fn bench_cnn(
    bench: &ClassifierBench,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BenchResult, ClassifierError> {
    bench_classifier("cnn", bench, device, progress)
}

/// [`bench_classifier`] for the MLP.
pub fn bench_mlp(
    bench: &ClassifierBench,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BenchResult, ClassifierError> {
    bench_classifier("mlp", bench, device, progress)
}

/// Peak resident set size of this process in MiB, from `VmHWM` in /proc/self/status (Linux);
/// `None` elsewhere.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_positive_figures_and_progress_for_each_classifier() {
        let bench = ClassifierBench {
            batch: 8,
            warmup_steps: 2,
            steps: 3,
            seed: 1,
        };
        for model in ["cnn", "mlp"] {
            let mut calls = Vec::new();
            let result =
                bench_classifier(model, &bench, &Device::Cpu, &mut |d, t| calls.push((d, t)))
                    .unwrap();
            assert_eq!(result.workload, model);
            assert!(result.samples_per_sec > 0.0 && result.ms_per_step > 0.0);
            assert!((result.samples_per_sec * result.ms_per_step / 1e3 - 8.0).abs() < 1e-6);
            assert!(result.peak_rss_mb > 1.0, "VmHWM is readable on Linux");
            assert_eq!(calls, (1..=5).map(|d| (d, 5)).collect::<Vec<_>>());
        }
        let err = bench_classifier("vgg", &bench, &Device::Cpu, &mut |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("vgg"));
    }
}
