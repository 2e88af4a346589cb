//! `gradtop trace`: the first steps of a run written down exactly — the initial weights, each
//! batch's training-set indices and loss, and at chosen steps every gradient, Adam's moments and
//! the weights — so another framework can replay the same steps from the same start and show,
//! tensor by tensor, where the two part (`bench/parity_torch.py` does it for PyTorch).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use color_eyre::eyre::{self, WrapErr};
use serde_json::json;

use super::UsageError;
use crate::data::{lookup, Dataset, DatasetName};
use crate::jobs::gan::{data_order, next_real_batch};
use crate::models::classifier::ClassifierTrainer;
use crate::models::gan::config::GanModelKind;
use crate::models::gan::trainer::{GanTrainer, DISCRIMINATOR_PREFIX, GENERATOR_PREFIX};
use crate::scenario::{Scenario, Settings};

/// The file that describes a trace: settings, data, per-step indices and losses.
pub const TRACE_FILE: &str = "trace.json";
/// The weights before the first step.
pub const INIT_FILE: &str = "init.safetensors";
/// Most steps a trace records (each dump holds a few copies of the model).
pub const MAX_STEPS: u64 = 10_000;

/// What to trace and where.
#[derive(Debug, Clone)]
pub struct TraceRequest {
    /// Steps (classifier) or iterations (GAN) to take.
    pub steps: u64,
    /// The folder to write (created; must be empty or absent).
    pub out: PathBuf,
    /// Steps after which to write every tensor; the others record indices and losses only.
    pub dump_at: Vec<u64>,
    /// Folder searched first for the dataset.
    pub data_dir: Option<PathBuf>,
}

/// The steps dumped when none are given: dense at the start, where a difference first shows,
/// then spaced out to watch the drift.
pub fn default_dumps(steps: u64) -> Vec<u64> {
    [1, 2, 3, 4, 5, 10, 20, 50, 100, 200, 500, 1000]
        .into_iter()
        .filter(|&s| s <= steps)
        .chain(std::iter::once(steps))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Runs `gradtop trace`: refuses what it cannot trace before writing anything.
pub fn run(scenario: &Scenario, request: &TraceRequest) -> eyre::Result<ExitCode> {
    if request.steps == 0 || request.steps > MAX_STEPS {
        return Err(UsageError(format!(
            "--steps {}: must be in 1..={MAX_STEPS}",
            request.steps
        ))
        .into());
    }
    if let Some(bad) = request
        .dump_at
        .iter()
        .find(|&&s| s == 0 || s > request.steps)
    {
        return Err(UsageError(format!(
            "--dump-at {bad}: must be a step in 1..={}",
            request.steps
        ))
        .into());
    }
    prepare_out(&request.out)?;
    match &scenario.settings {
        Settings::Classifier(config) if !config.layers.is_empty() => Err(UsageError(
            "trace covers the built-in classifiers (model = \"cnn\" or \"mlp\"); the PyTorch \
             replay does not build described layers"
                .into(),
        )
        .into()),
        Settings::Classifier(config) => {
            let dataset = load(config.dataset, request)?;
            trace_classifier(config.clone(), dataset, request)
        }
        Settings::Gan(config) if config.model == GanModelKind::Mlp && config.d_steps == 1 => {
            let dataset = load(config.dataset, request)?;
            trace_gan(config, dataset, request)
        }
        Settings::Gan(_) => Err(UsageError(
            "trace covers the MLP GAN with d_steps = 1 (the DCGAN's batch norm is not traced yet)"
                .into(),
        )
        .into()),
        Settings::Rl(_) => Err(UsageError(
            "trace covers the classifier and the MLP GAN; RL agents are checked against \
             Gymnasium with `gradtop env check`"
                .into(),
        )
        .into()),
    }?;
    println!(
        "trace of {} steps written to {} (replay it: python3 bench/parity_torch.py {})",
        request.steps,
        request.out.display(),
        request.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn prepare_out(out: &Path) -> eyre::Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .wrap_err_with(|| format!("reading {}", out.display()))?
            .next()
            .is_none();
        if !empty {
            return Err(UsageError(format!(
                "--out {}: not an empty folder (a trace never overwrites files)",
                out.display()
            ))
            .into());
        }
    }
    std::fs::create_dir_all(out).wrap_err_with(|| format!("creating {}", out.display()))
}

fn load(name: DatasetName, request: &TraceRequest) -> eyre::Result<Arc<Dataset>> {
    if matches!(name, DatasetName::Digits | DatasetName::Folder) {
        return Err(UsageError(
            "trace needs a dataset another framework can read from files: mnist or fashion-mnist"
                .into(),
        )
        .into());
    }
    Ok(Arc::new(lookup::load(name, request.data_dir.as_deref())?))
}

fn save(path: &Path, tensors: Vec<(String, Tensor)>) -> eyre::Result<()> {
    let map: HashMap<String, Tensor> = tensors.into_iter().collect();
    candle_core::safetensors::save(&map, path)
        .wrap_err_with(|| format!("writing {}", path.display()))
}

fn prefixed(prefix: &str, tensors: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    tensors
        .into_iter()
        .map(|(name, t)| (format!("{prefix}{name}"), t))
        .collect()
}

fn dump_name(step: u64) -> String {
    format!("step-{step:06}.safetensors")
}

fn write_json(out: &Path, value: &serde_json::Value) -> eyre::Result<()> {
    let path = out.join(TRACE_FILE);
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(&path, text).wrap_err_with(|| format!("writing {}", path.display()))
}

fn trace_classifier(
    config: crate::models::classifier::config::ClassifierConfig,
    dataset: Arc<Dataset>,
    request: &TraceRequest,
) -> eyre::Result<()> {
    let mut trainer = ClassifierTrainer::new(config.clone(), Arc::clone(&dataset), Device::Cpu)?;
    save(&request.out.join(INIT_FILE), trainer.checkpoint_tensors()?)?;
    let mut steps = Vec::with_capacity(request.steps as usize);
    for step in 1..=request.steps {
        let (outcome, trace) = trainer.train_step_traced()?;
        steps.push(json!({"step": step, "loss": outcome.loss, "indices": trace.indices}));
        if request.dump_at.contains(&step) {
            let mut tensors = trainer.checkpoint_tensors()?;
            tensors.extend(prefixed("grad.", trace.grads));
            tensors.push(("input.images".into(), trace.images));
            save(&request.out.join(dump_name(step)), tensors)?;
        }
    }
    write_json(
        &request.out,
        &json!({
            "kind": "classifier",
            "model": config.model_name(),
            "dataset": dataset.name.as_str(),
            "data_dir": dataset.dir,
            "pixels": "x / 255",
            "batch_size": config.batch_size,
            "lr": config.lr,
            "beta1": config.beta1,
            "beta2": config.beta2,
            "eps": 1e-8,
            "seed": config.seed,
            "kernels": crate::ops::kernels().as_str(),
            "dumps": request.dump_at,
            "steps": steps,
        }),
    )
}

fn trace_gan(
    config: &crate::models::gan::config::GanConfig,
    dataset: Arc<Dataset>,
    request: &TraceRequest,
) -> eyre::Result<()> {
    let device = Device::Cpu;
    let mut trainer = GanTrainer::new(config, &device, config.seed)?;
    let mut order = data_order(config.seed, dataset.train.len());
    let mut scratch = Vec::new();
    save(&request.out.join(INIT_FILE), trainer.checkpoint_tensors()?)?;
    let mut steps = Vec::with_capacity(request.steps as usize);
    for step in 1..=request.steps {
        let mut indices = Vec::new();
        let (report, trace) = trainer.step_traced(|| {
            let (images, taken) = next_real_batch(
                &dataset,
                &mut order,
                config.batch_size,
                &mut scratch,
                &device,
            )?;
            indices = taken;
            Ok::<_, candle_core::Error>(images)
        })?;
        steps.push(json!({
            "step": step,
            "d_loss": report.d_loss,
            "g_loss": report.g_loss,
            "indices": indices,
        }));
        if request.dump_at.contains(&step) {
            let mut tensors = trainer.checkpoint_tensors()?;
            tensors.extend(prefixed(
                &format!("grad.{DISCRIMINATOR_PREFIX}"),
                trace.d_grads,
            ));
            tensors.extend(prefixed(&format!("grad.{GENERATOR_PREFIX}"), trace.g_grads));
            if let Some(z) = trace.noise.last() {
                tensors.push(("input.noise".into(), z.clone()));
            }
            save(&request.out.join(dump_name(step)), tensors)?;
        } else if let Some(z) = trace.noise.last() {
            // The noise is needed at every step to replay the next one.
            save(
                &request.out.join(format!("noise-{step:06}.safetensors")),
                vec![("input.noise".into(), z.clone())],
            )?;
        }
    }
    write_json(
        &request.out,
        &json!({
            "kind": "gan",
            "model": "mlp",
            "dataset": dataset.name.as_str(),
            "data_dir": dataset.dir,
            "pixels": "x / 127.5 - 1",
            "batch_size": config.batch_size,
            "z_dim": config.z_dim,
            "lr_g": config.lr_g,
            "lr_d": config.lr_d,
            "beta1": config.beta1,
            "beta2": config.beta2,
            "label_smoothing": config.label_smoothing,
            "eps": 1e-8,
            "seed": config.seed,
            "kernels": crate::ops::kernels().as_str(),
            "dumps": request.dump_at,
            "steps": steps,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_dumps_are_dense_first_and_end_at_the_last_step() {
        assert_eq!(default_dumps(1), [1]);
        assert_eq!(default_dumps(7), [1, 2, 3, 4, 5, 7]);
        assert_eq!(default_dumps(100), [1, 2, 3, 4, 5, 10, 20, 50, 100]);
    }
}
