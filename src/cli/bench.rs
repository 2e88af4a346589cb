//! Throughput benchmarks: train a model on synthetic data of the real shapes for a fixed number
//! of steps after a warm-up and report samples/s, ms/step and peak RSS (`gradtop bench`).

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarMap};

use crate::device::DeviceChoice;
use crate::models::classifier::config::ModelKind;
use crate::models::classifier::spec::{LayerSpec, Shape};
use crate::models::classifier::{ClassifierError, ClassifierModel};
use crate::models::init::seeded_var_builder;
use crate::ops::adam::{Adam, AdamConfig};
use crate::rng::Rng;
use color_eyre::eyre;

/// One workload's figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BenchResult {
    /// What ran, e.g. `cnn`.
    pub workload: String,
    /// Training samples per second over the measured steps (images for the classifiers and
    /// GANs, env steps for RL and the environment).
    pub samples_per_sec: f64,
    /// The workload's natural rate: samples/s, iterations/s or env steps/s.
    pub rate: f64,
    /// Unit of `rate`.
    pub unit: &'static str,
    /// Mean wall time of one optimisation step, in milliseconds.
    pub ms_per_step: f64,
    /// Peak resident set size of the process so far (VmHWM), in MiB; 0 where unavailable.
    pub peak_rss_mb: f64,
    /// Images per step (classifiers, GANs); absent for RL and the environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// Products' FLOPs per second (see [`crate::models::flops`]); absent where products are
    /// not what a step spends its time on (RL, the environment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gflops: Option<f64>,
    /// `gflops` over the machine's measured float32 gemm peak.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_fraction: Option<f64>,
    /// With `--profile`: the timed steps' ops, slowest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profile: Vec<OpProfile>,
}

/// One op's share of a step, from `gradtop bench --profile`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OpProfile {
    /// The op's name (`fused-linear`, `fused-adam`, …).
    pub op: String,
    /// Calls per step.
    pub calls_per_step: f64,
    /// Milliseconds per step inside it.
    pub ms_per_step: f64,
    /// GFLOP/s of its matrix products; 0 for an op without any.
    pub gflops: f64,
    /// GB/s of its inputs and outputs, each counted once.
    pub gbytes_per_sec: f64,
}

/// Starts the timed part of a benchmark: the warm-up's op totals are dropped.
fn start_profile() {
    crate::ops::profile::take();
}

/// The op totals since [`start_profile`] per step, slowest first.
fn finish_profile(steps: u64) -> Vec<OpProfile> {
    let steps = steps.max(1) as f64;
    let mut rows: Vec<OpProfile> = crate::ops::profile::take()
        .into_iter()
        .map(|(op, t)| {
            let seconds = t.seconds.max(f64::MIN_POSITIVE);
            OpProfile {
                op: op.to_string(),
                calls_per_step: t.calls as f64 / steps,
                ms_per_step: 1e3 * t.seconds / steps,
                gflops: t.flops as f64 / seconds / 1e9,
                gbytes_per_sec: t.bytes as f64 / seconds / 1e9,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.ms_per_step.total_cmp(&a.ms_per_step));
    rows
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
    let kind = match model.to_ascii_lowercase().as_str() {
        "cnn" => ModelKind::Cnn,
        "mlp" => ModelKind::Mlp,
        _ => return Err(ClassifierError::UnknownModel(model.to_string())),
    };
    let input = crate::models::classifier::INPUT;
    bench_described(
        kind.as_str(),
        &kind.layers(),
        input,
        bench,
        device,
        progress,
    )
}

/// [`bench_classifier`] for the network `layers` describe on images of shape `input`, reported
/// as workload `name`.
pub fn bench_described(
    name: &str,
    kind_layers: &[LayerSpec],
    input: Shape,
    bench: &ClassifierBench,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BenchResult, ClassifierError> {
    crate::ops::runtime::retain_freed_memory();
    let mut rng = Rng::new(bench.seed);
    let varmap = VarMap::new();
    let vb = seeded_var_builder(&varmap, Rng::new(rng.next_u64()), DType::F32, device);
    let net = ClassifierModel::from_layers(name, kind_layers, input, vb)?;
    let mut optimizer = Adam::from_varmap(&varmap, AdamConfig::default())?;

    let (c, h, w) = match input {
        Shape::Image { c, h, w } => (c, h, w),
        Shape::Flat(n) => (1, 1, n),
    };
    let pixels: Vec<f32> = (0..bench.batch * c * h * w)
        .map(|_| rng.next_f32())
        .collect();
    let labels: Vec<u32> = (0..bench.batch).map(|_| rng.below(10) as u32).collect();
    let images = Tensor::from_vec(pixels, (bench.batch, c, h, w), device)?;
    let labels = Tensor::from_vec(labels, bench.batch, device)?;

    let total = bench.warmup_steps + bench.steps;
    let mut step = |done: usize| -> candle_core::Result<()> {
        let logits = net.forward_train(&images, done as u64)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
        optimizer.backward_step(&loss)?;
        progress(done, total);
        Ok(())
    };
    for i in 0..bench.warmup_steps {
        step(i + 1)?;
    }
    device.synchronize()?;
    start_profile();
    let start = Instant::now();
    for i in 0..bench.steps {
        step(bench.warmup_steps + i + 1)?;
    }
    device.synchronize()?;
    let seconds = start.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    let layers = crate::models::flops::classifier_layers(kind_layers, net.summary());
    let step_flops = crate::models::flops::classifier_step(&layers, bench.batch);
    Ok(BenchResult {
        workload: net.name().to_string(),
        samples_per_sec: (bench.steps * bench.batch) as f64 / seconds,
        rate: (bench.steps * bench.batch) as f64 / seconds,
        unit: "samples/s",
        ms_per_step: 1e3 * seconds / bench.steps.max(1) as f64,
        peak_rss_mb: peak_rss_mb().unwrap_or(0.0),
        batch: Some(bench.batch),
        gflops: Some(step_flops as f64 * bench.steps as f64 / seconds / 1e9),
        peak_fraction: None,
        profile: finish_profile(bench.steps as u64),
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

/// Trains the MLP GAN or the DCGAN (Adam 2e-4, β1 0.5) on `batch` synthetic "real" images
/// uniform in [−1, 1] for `warmup + iterations` iterations; the rate is iterations/s.
pub fn bench_gan(
    model: crate::models::gan::config::GanModelKind,
    batch: usize,
    warmup: usize,
    iterations: usize,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BenchResult, String> {
    use crate::models::flops;
    use crate::models::gan::config::{GanConfig, GanModelKind};
    use crate::models::gan::trainer::GanTrainer;
    crate::ops::runtime::retain_freed_memory();
    let config = GanConfig {
        model,
        batch_size: batch,
        score_every: 0,
        ..GanConfig::default()
    };
    let mut trainer = GanTrainer::new(&config, device, 0).map_err(|e| e.to_string())?;
    let mut rng = Rng::new(1);
    let n = config.batch_size * 28 * 28;
    let real = Tensor::from_vec(
        (0..n)
            .map(|_| rng.next_f32() * 2.0 - 1.0)
            .collect::<Vec<_>>(),
        (config.batch_size, 1, 28, 28),
        device,
    )
    .map_err(|e| e.to_string())?;
    let total = warmup + iterations;
    let mut start = Instant::now();
    for i in 0..total {
        if i == warmup {
            device.synchronize().map_err(|e| e.to_string())?;
            start_profile();
            start = Instant::now();
        }
        trainer.step(&real).map_err(|e| e.to_string())?;
        progress(i + 1, total);
    }
    device.synchronize().map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    let rate = iterations as f64 / seconds;
    let (g, d): (&[_], &[_]) = match model {
        GanModelKind::Mlp => (&flops::GAN_G, &flops::GAN_D),
        GanModelKind::Dcgan => (&flops::DCGAN_G, &flops::DCGAN_D),
    };
    Ok(BenchResult {
        workload: model.as_str().replace("mlp", "gan"),
        samples_per_sec: rate * config.batch_size as f64,
        rate,
        unit: "it/s",
        ms_per_step: 1e3 * seconds / iterations.max(1) as f64,
        peak_rss_mb: peak_rss_mb().unwrap_or(0.0),
        batch: Some(batch),
        gflops: Some(flops::gan_iteration(g, d, batch) as f64 * rate / 1e9),
        peak_fraction: None,
        profile: finish_profile(iterations as u64),
    })
}

/// Trains an RL agent on CartPole for `env_steps` env steps after a warm-up of `warmup` env
/// steps; the rate is env steps/s of training. DQN uses CleanRL's hyperparameters (so the
/// figure compares with the CleanRL peer) but starts learning after 1,000 steps, so the timed
/// part is all training.
pub fn bench_rl(
    agent: crate::models::rl::config::AgentKind,
    warmup: u64,
    env_steps: u64,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BenchResult, String> {
    use crate::models::rl::config::{AgentKind, Preset, RlConfig};
    use crate::models::rl::trainer::RlTrainer;
    crate::ops::runtime::retain_freed_memory();
    let mut config = RlConfig {
        agent,
        preset: Preset::Cleanrl,
        stop_when_solved: false,
        max_env_steps: Some(warmup + env_steps + 10_000),
        ..RlConfig::default()
    };
    if agent == AgentKind::Dqn {
        config.dqn.learning_starts = Some(1_000);
    }
    let mut trainer = RlTrainer::new(&config, device, 0).map_err(|e| e.to_string())?;
    let total = warmup + env_steps;
    let mut start = Instant::now();
    let mut timed_from = None;
    let mut updates = 0u64;
    loop {
        let done = trainer.counters().env_steps;
        if timed_from.is_none() && done >= warmup {
            timed_from = Some(done);
            start_profile();
            start = Instant::now();
        }
        if done >= total {
            break;
        }
        trainer.step().map_err(|e| e.to_string())?;
        updates += u64::from(timed_from.is_some());
        progress(done.min(total) as usize, total as usize);
    }
    let seconds = start.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    let measured = trainer.counters().env_steps - timed_from.unwrap_or(0);
    let rate = measured as f64 / seconds;
    Ok(BenchResult {
        workload: agent.as_str().to_string(),
        samples_per_sec: rate,
        rate,
        unit: "env steps/s",
        ms_per_step: 1e3 * seconds / updates.max(1) as f64,
        peak_rss_mb: peak_rss_mb().unwrap_or(0.0),
        batch: None,
        gflops: None,
        peak_fraction: None,
        profile: finish_profile(updates),
    })
}

/// Steps CartPole-v1 with random actions: one env, then `num_envs` in a vector env (with
/// auto-reset); the rate is env steps/s.
pub fn bench_env(
    num_envs: usize,
    steps: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<BenchResult>, String> {
    use crate::envs::{CartPole, VecCartPole};
    let mut rng = Rng::new(7);
    let mut env = CartPole::new(0);
    env.reset_state(Some(0));
    let start = Instant::now();
    for i in 0..steps {
        let out = env.step_unchecked(rng.next_u64() & 1 == 1);
        if out.terminated || out.truncated {
            env.reset_state(None);
        }
        if i % 1_000_000 == 0 {
            progress(i as usize, 2 * steps as usize);
        }
    }
    let single = start.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    let mut venv = VecCartPole::cartpole(num_envs, 0).map_err(|e| e.to_string())?;
    venv.reset(Some(0));
    let mut actions = vec![0usize; num_envs];
    let rounds = steps / num_envs as u64;
    let start = Instant::now();
    for i in 0..rounds {
        for a in &mut actions {
            *a = (rng.next_u64() & 1) as usize;
        }
        venv.step(&actions).map_err(|e| e.to_string())?;
        if i % 100_000 == 0 {
            progress((steps + i * num_envs as u64) as usize, 2 * steps as usize);
        }
    }
    let vector = start.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    let result = |workload: String, n: u64, seconds: f64| BenchResult {
        workload,
        samples_per_sec: n as f64 / seconds,
        rate: n as f64 / seconds,
        unit: "env steps/s",
        ms_per_step: 1e3 * seconds / n.max(1) as f64,
        peak_rss_mb: peak_rss_mb().unwrap_or(0.0),
        batch: None,
        gflops: None,
        peak_fraction: None,
        profile: Vec::new(),
    };
    Ok(vec![
        result("env".into(), steps, single),
        result(format!("env×{num_envs}"), rounds * num_envs as u64, vector),
    ])
}

/// Peak resident set size of this process in MiB, from `VmHWM` in /proc/self/status (Linux);
/// `None` elsewhere.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Workloads `gradtop bench` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchWorkload {
    /// The classifier CNN, batch 32.
    Cnn,
    /// The classifier MLP, batch 32.
    Mlp,
    /// The MLP GAN, batch 64.
    Gan,
    /// The DCGAN, batch 64.
    Dcgan,
    /// DQN on CartPole with CleanRL's hyperparameters.
    Dqn,
    /// PPO on CartPole with CleanRL's hyperparameters.
    Ppo,
    /// CartPole itself: one env and an 8-env vector.
    Env,
    /// Everything above.
    All,
}

/// Side of the square matrices whose product measures the gemm peak: large enough that packing
/// and threading overheads vanish (17 GFLOP per product), small enough to take well under a
/// second on a laptop core.
const PEAK_SIDE: usize = 2048;
/// Products timed for the peak; the fastest counts, as a peak should (on a shared host one
/// product in a few is slowed by a neighbour).
const PEAK_REPEATS: usize = 8;

/// Steps scaled to the batch so every batch size trains on about as many images as the
/// default's `steps` at `default_batch` (a batch of 256 takes as long per image, not 8× longer).
fn scaled(steps: usize, default_batch: usize, batch: usize, floor: usize) -> usize {
    (steps * default_batch).div_ceil(batch.max(1)).max(floor)
}

/// A classifier a scenario file describes, benchmarked under the file's name.
#[derive(Debug, Clone)]
pub struct DescribedModel {
    /// The scenario's name (its file stem).
    pub name: String,
    /// Its layers (a built-in model's description when it names one).
    pub layers: Vec<LayerSpec>,
    /// The shape of its images (a `[data]` folder's, else 1×28×28).
    pub input: Shape,
}

/// Reads the classifier of each scenario file, refusing a file that is not a valid classifier
/// scenario.
pub fn described_models(paths: &[std::path::PathBuf]) -> eyre::Result<Vec<DescribedModel>> {
    paths
        .iter()
        .map(|path| {
            let scenario = crate::scenario::load_with_overrides(path, &[])
                .map_err(|e| super::UsageError(e.to_string()))?;
            match scenario.settings {
                crate::scenario::Settings::Classifier(config) => Ok(DescribedModel {
                    name: scenario.name,
                    layers: config.architecture(),
                    input: config
                        .input_shape()
                        .map_err(|e| super::UsageError(e.to_string()))?,
                }),
                _ => Err(super::UsageError(format!(
                    "--scenario {}: bench measures classifier scenarios",
                    path.display()
                ))
                .into()),
            }
        })
        .collect()
}

/// One thing `run` measures.
enum Item<'a> {
    Builtin(BenchWorkload),
    Described(&'a DescribedModel),
}

/// Runs the chosen benchmarks with a progress bar each and prints their figures; `batch`
/// replaces the classifiers' and GANs' default batch (32 and 64). `described` models are
/// measured after `workload` (none when it is `None`).
pub fn run(
    workload: Option<BenchWorkload>,
    described: &[DescribedModel],
    json: bool,
    batch: Option<usize>,
    profile: bool,
    device: DeviceChoice,
) -> eyre::Result<()> {
    use crate::models::gan::config::GanModelKind;
    use crate::models::rl::config::AgentKind;
    use BenchWorkload as W;
    let device = device.open().map_err(super::UsageError)?;
    if let Some(b) = batch.filter(|&b| b == 0 || b > MAX_BENCH_BATCH) {
        return Err(
            super::UsageError(format!("--batch {b}: must be in 1..={MAX_BENCH_BATCH}")).into(),
        );
    }
    let builtin: Vec<W> = match workload {
        Some(W::All) => vec![W::Cnn, W::Mlp, W::Gan, W::Dcgan, W::Dqn, W::Ppo, W::Env],
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let chosen: Vec<Item> = builtin
        .into_iter()
        .map(Item::Builtin)
        .chain(described.iter().map(Item::Described))
        .collect();
    // Only the classifiers and GANs have a batch to set and products to set against the peak.
    let has_products = chosen.iter().any(|w| {
        matches!(
            w,
            Item::Builtin(W::Cnn | W::Mlp | W::Gan | W::Dcgan) | Item::Described(_)
        )
    });
    if batch.is_some() && !has_products {
        return Err(super::UsageError(
            "--batch applies to cnn, mlp, gan and dcgan; RL agents take their batch from their \
             scenario"
                .into(),
        )
        .into());
    }
    crate::ops::profile::set_enabled(profile);
    // The peak is measured once, on the CPU, on the same pool the workloads run on.
    let peak = (has_products && matches!(device, Device::Cpu)).then(|| {
        crate::ops::runtime::in_compute_pool("compute", || {
            crate::ops::gemm_peak_gflops(PEAK_SIDE, PEAK_REPEATS)
        })
    });
    if !json {
        if let Some(peak) = peak {
            println!(
                "float32 gemm peak: {peak:.1} GFLOP/s ({PEAK_SIDE}×{PEAK_SIDE} product, {} threads)",
                rayon::current_num_threads()
            );
        }
        println!(
            "{:<8} {:>6} {:>14} {:<12} {:>10} {:>9} {:>7} {:>10}",
            "workload", "batch", "rate", "unit", "ms/step", "GFLOP/s", "peak", "peak RSS"
        );
    }
    for item in chosen {
        let bar = indicatif::ProgressBar::new(1);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:8} [{bar:30}] {percent:>3}% ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(match &item {
            Item::Builtin(w) => format!("{w:?}").to_lowercase(),
            Item::Described(d) => d.name.clone(),
        });
        let mut progress = |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        };
        let defaults = ClassifierBench::default();
        let classifier = match batch {
            Some(b) => ClassifierBench {
                batch: b,
                warmup_steps: scaled(defaults.warmup_steps, defaults.batch, b, 3),
                steps: scaled(defaults.steps, defaults.batch, b, 20),
                ..defaults
            },
            None => defaults,
        };
        let gan_batch = batch.unwrap_or(GAN_BATCH);
        let w = match item {
            Item::Builtin(w) => w,
            Item::Described(d) => {
                let result = crate::ops::runtime::in_compute_pool("compute", || {
                    bench_described(
                        &d.name,
                        &d.layers,
                        d.input,
                        &classifier,
                        &device,
                        &mut progress,
                    )
                })?;
                bar.finish_and_clear();
                print_result(result, peak, json)?;
                continue;
            }
        };
        let results = crate::ops::runtime::in_compute_pool("compute", || match w {
            W::Cnn => Ok(vec![bench_cnn(&classifier, &device, &mut progress)?]),
            W::Mlp => Ok(vec![bench_mlp(&classifier, &device, &mut progress)?]),
            W::Gan => Ok(vec![bench_gan(
                GanModelKind::Mlp,
                gan_batch,
                scaled(20, GAN_BATCH, gan_batch, 3),
                scaled(300, GAN_BATCH, gan_batch, 20),
                &device,
                &mut progress,
            )
            .map_err(eyre::Report::msg)?]),
            W::Dcgan => Ok(vec![bench_gan(
                GanModelKind::Dcgan,
                gan_batch,
                scaled(5, GAN_BATCH, gan_batch, 2),
                scaled(100, GAN_BATCH, gan_batch, 10),
                &device,
                &mut progress,
            )
            .map_err(eyre::Report::msg)?]),
            W::Dqn => Ok(vec![bench_rl(
                AgentKind::Dqn,
                2_000,
                30_000,
                &device,
                &mut progress,
            )
            .map_err(eyre::Report::msg)?]),
            W::Ppo => Ok(vec![bench_rl(
                AgentKind::Ppo,
                2_048,
                40_960,
                &device,
                &mut progress,
            )
            .map_err(eyre::Report::msg)?]),
            W::Env => bench_env(8, 20_000_000, &mut progress).map_err(eyre::Report::msg),
            W::All => Ok(Vec::new()),
        })?;
        bar.finish_and_clear();
        for r in results {
            print_result(r, peak, json)?;
        }
    }
    Ok(())
}

/// Prints one workload's figures: a JSON object, or a table row (and its profile).
fn print_result(mut r: BenchResult, peak: Option<f64>, json: bool) -> eyre::Result<()> {
    r.peak_fraction = r.gflops.zip(peak).map(|(g, p)| g / p);
    if json {
        let mut value = serde_json::to_value(&r)?;
        if let (Some(peak), Some(obj)) = (peak, value.as_object_mut()) {
            obj.insert("gemm_peak_gflops".into(), serde_json::json!(peak));
        }
        println!("{value}");
    } else {
        let dash = || "—".to_string();
        println!(
            "{:<8} {:>6} {:>14.1} {:<12} {:>10.3} {:>9} {:>7} {:>7.0} MB",
            r.workload,
            r.batch.map_or_else(dash, |b| b.to_string()),
            r.rate,
            r.unit,
            r.ms_per_step,
            r.gflops.map_or_else(dash, |g| format!("{g:.1}")),
            r.peak_fraction
                .map_or_else(dash, |f| format!("{:.0}%", 100.0 * f)),
            r.peak_rss_mb
        );
        print_profile(&r);
    }
    Ok(())
}

/// The `--profile` table under a workload's row: each op's time per step and share of the
/// step, with GFLOP/s for ops that multiply matrices and GB/s for the rest; what no op accounts
/// for is candle's own ops, the autograd graph and the data.
fn print_profile(r: &BenchResult) {
    if r.profile.is_empty() {
        return;
    }
    let share = |ms: f64| 100.0 * ms / r.ms_per_step.max(f64::MIN_POSITIVE);
    println!(
        "    {:<26} {:>7} {:>9} {:>6} {:>9} {:>7}",
        "op", "calls", "ms/step", "share", "GFLOP/s", "GB/s"
    );
    for op in &r.profile {
        let gflops = if op.gflops > 0.0 {
            format!("{:.1}", op.gflops)
        } else {
            "—".into()
        };
        println!(
            "    {:<26} {:>7.1} {:>9.3} {:>5.0}% {:>9} {:>7.1}",
            op.op,
            op.calls_per_step,
            op.ms_per_step,
            share(op.ms_per_step),
            gflops,
            op.gbytes_per_sec
        );
    }
    let rest = r.ms_per_step - r.profile.iter().map(|o| o.ms_per_step).sum::<f64>();
    println!(
        "    {:<26} {:>7} {:>9.3} {:>5.0}%",
        "candle ops, graph, data",
        "",
        rest,
        share(rest)
    );
}

/// The GANs' default batch, as in the PyTorch peers.
const GAN_BATCH: usize = 64;

/// Largest `--batch`: beyond it a step's activations take gigabytes.
pub const MAX_BENCH_BATCH: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_scale_with_the_batch_and_keep_a_floor() {
        assert_eq!(scaled(400, 32, 32, 20), 400);
        assert_eq!(scaled(400, 32, 256, 20), 50);
        assert_eq!(scaled(400, 32, 4096, 20), 20);
        assert_eq!(scaled(100, 64, 7, 10), 915);
    }

    #[test]
    fn a_bad_batch_is_refused_before_anything_runs() {
        let err = run(
            Some(BenchWorkload::Cnn),
            &[],
            true,
            Some(0),
            false,
            DeviceChoice::Cpu,
        )
        .unwrap_err();
        assert!(err.to_string().contains("--batch 0"), "{err}");
        let err = run(
            Some(BenchWorkload::Env),
            &[],
            true,
            Some(64),
            false,
            DeviceChoice::Cpu,
        )
        .unwrap_err();
        assert!(err.to_string().contains("cnn, mlp, gan and dcgan"), "{err}");
    }

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
            assert_eq!(result.batch, Some(8));
            let layers: &[crate::models::flops::Layer] = if model == "cnn" {
                &crate::models::flops::CNN
            } else {
                &crate::models::flops::MLP
            };
            let expected = crate::models::flops::classifier_step(layers, 8) as f64
                / (result.ms_per_step / 1e3)
                / 1e9;
            let gflops = result.gflops.unwrap();
            assert!(
                (gflops - expected).abs() < 1e-6 * expected,
                "{gflops} vs {expected}"
            );
            assert_eq!(calls, (1..=5).map(|d| (d, 5)).collect::<Vec<_>>());
        }
        let err = bench_classifier("vgg", &bench, &Device::Cpu, &mut |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("vgg"));
    }
}
