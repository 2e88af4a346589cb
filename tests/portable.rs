//! The path a GPU takes, checked on the CPU: every model trains a few steps with gradtop's fast
//! CPU kernels and again with the portable path (candle's own ops and the plain Adam, what runs
//! on CUDA), from the same seed, and the losses and weights must agree closely. A fallback whose
//! math is wrong (a gradient off by a factor, a missing bias) fails here.

use std::path::PathBuf;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use gradtop::data::{Dataset, DatasetName, Split};
use gradtop::models::classifier::ClassifierTrainer;
use gradtop::models::gan::config::{GanConfig, GanModelKind};
use gradtop::models::gan::trainer::GanTrainer;
use gradtop::models::rl::config::{AgentKind, RlConfig};
use gradtop::models::rl::trainer::{RlRecord, RlTrainer};
use gradtop::ops::{set_thread_kernels, Kernels};
use gradtop::scenario::{ClassifierConfig, ModelKind};

/// Relative difference allowed between the two paths' losses: the same math in another order
/// of float operations, a few steps in.
const LOSS_TOLERANCE: f64 = 2e-3;
/// Absolute difference allowed between the two paths' weights after the steps.
const WEIGHT_TOLERANCE: f32 = 2e-3;

/// Runs `train` with each kind of kernels on this thread; returns (losses, weights) of each.
fn both_ways<T>(train: impl Fn() -> T) -> (T, T) {
    set_thread_kernels(Kernels::Fast);
    let fast = train();
    set_thread_kernels(Kernels::Portable);
    let portable = train();
    set_thread_kernels(Kernels::Fast);
    (fast, portable)
}

fn assert_losses_agree(what: &str, fast: &[f64], portable: &[f64]) {
    assert_eq!(fast.len(), portable.len(), "{what}: loss counts");
    assert!(!fast.is_empty(), "{what}: no losses");
    for (i, (a, b)) in fast.iter().zip(portable).enumerate() {
        let rel = (a - b).abs() / a.abs().max(1e-6);
        assert!(
            rel < LOSS_TOLERANCE,
            "{what}: loss {i}: fast {a}, portable {b} (relative {rel:.2e})"
        );
    }
}

/// Values of each variable of a network, flattened, by name, sorted.
type ByName = Vec<(String, Vec<f32>)>;

/// Every float variable of `varmap`, flattened, by name.
fn weights(varmap: &VarMap) -> ByName {
    let data = varmap.data().lock().expect("the varmap");
    let mut out: Vec<(String, Vec<f32>)> = data
        .iter()
        .map(|(name, var)| {
            let values = var
                .as_tensor()
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .expect("f32 weights");
            (name.clone(), values)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn assert_weights_agree(what: &str, fast: &[(String, Vec<f32>)], portable: &[(String, Vec<f32>)]) {
    assert_eq!(fast.len(), portable.len(), "{what}: variables");
    for ((name, a), (_, b)) in fast.iter().zip(portable) {
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(
            worst < WEIGHT_TOLERANCE,
            "{what}: {name} differs by up to {worst:.2e}"
        );
    }
}

fn dataset() -> Arc<Dataset> {
    let split = |count, seed| {
        let (images, labels) = gradtop::data::synthetic::generate(count, seed);
        Split { images, labels }
    };
    Arc::new(Dataset {
        name: DatasetName::Mnist,
        dir: PathBuf::from("generated"),
        train: split(640, 1),
        test: split(64, 2),
        classes: DatasetName::Mnist.class_list(),
    })
}

fn classifier_both_ways(model: ModelKind) {
    classifier_config_both_ways(
        &format!("{model:?}"),
        ClassifierConfig {
            model: Some(model),
            batch_size: 32,
            ..ClassifierConfig::default()
        },
    );
}

/// Trains `config` eight steps both ways and compares losses and every weight, except those whose
/// names `noise_driven` accepts.
fn classifier_config_both_ways(what: &str, config: ClassifierConfig) {
    classifier_config_both_ways_except(what, config, |_| false)
}

fn classifier_config_both_ways_except(
    what: &str,
    config: ClassifierConfig,
    noise_driven: impl Fn(&str) -> bool,
) {
    let data = dataset();
    let ((fast_losses, fast_weights), (portable_losses, portable_weights)) = both_ways(|| {
        let mut trainer = ClassifierTrainer::new(config.clone(), data.clone(), Device::Cpu)
            .expect("a classifier");
        let losses: Vec<f64> = (0..8)
            .map(|_| trainer.train_step().expect("a step").loss)
            .collect();
        (losses, weights(trainer.varmap()))
    });
    assert_losses_agree(what, &fast_losses, &portable_losses);
    let keep = |w: ByName| -> ByName { w.into_iter().filter(|(n, _)| !noise_driven(n)).collect() };
    assert_weights_agree(what, &keep(fast_weights), &keep(portable_weights));
}

#[test]
fn the_cnn_trains_the_same_on_the_portable_path() {
    classifier_both_ways(ModelKind::Cnn);
}

#[test]
fn the_mlp_trains_the_same_on_the_portable_path() {
    classifier_both_ways(ModelKind::Mlp);
}

#[test]
fn the_described_deep_cnn_trains_the_same_on_the_portable_path() {
    // Every layer type the fast path maps onto its own kernel: conv without activation (fused
    // with its bias), batch norm fused with the ReLU after it, conv + ReLU + max-pool fused, an
    // overlapping pool, dropout, dense layers with each activation.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/fashion-deep-cnn.toml"),
    )
    .expect("the scenario");
    let scenario =
        gradtop::scenario::parse(std::path::Path::new("deep.toml"), &text).expect("a scenario");
    let gradtop::scenario::Settings::Classifier(mut config) = scenario.settings else {
        panic!("a classifier scenario")
    };
    config.dataset = gradtop::data::DatasetName::Mnist;
    config.batch_size = 32;
    // A conv bias straight before batch norm has a true gradient of zero (the norm removes the
    // mean): what reaches it is rounding noise, which Adam scales up to steps of about lr, in a
    // different direction on each path. That bias and the running mean it shifts are left out;
    // the loss shows the network computes the same.
    classifier_config_both_ways_except("fashion-deep-cnn", config.clone(), |name| {
        matches!(
            name,
            "conv1.bias" | "conv2.bias" | "bn1.running_mean" | "bn2.running_mean"
        )
    });
    let extra: Vec<gradtop::models::classifier::spec::LayerSpec> = toml::from_str::<toml::Table>(
        r#"layers = [
          { type = "conv2d", filters = 8, kernel = 3, activation = "relu" },
          { type = "maxpool", size = 2 },
          { type = "conv2d", filters = 8, kernel = 3, padding = "same", activation = "leaky_relu" },
          { type = "maxpool", size = 3, stride = 2 },
          { type = "avgpool", size = 2 },
          { type = "flatten" },
          { type = "dense", units = 32, activation = "tanh" },
          { type = "batchnorm" },
          { type = "dense", units = 16, activation = "gelu" },
          { type = "dense", units = 10, activation = "sigmoid" },
        ]"#,
    )
    .ok()
    .and_then(|t| t.get("layers").cloned())
    .and_then(|l| l.try_into().ok())
    .expect("layers");
    config.layers = extra;
    classifier_config_both_ways("every layer type", config);
}

fn gan_both_ways(model: GanModelKind) {
    let data = dataset();
    let config = GanConfig {
        model,
        batch_size: 16,
        fixed_samples: 16,
        ..GanConfig::default()
    };
    let real = {
        let pixels: Vec<f32> = data.train.images.pixels[..16 * 784]
            .iter()
            .map(|&p| f32::from(p) / 127.5 - 1.0)
            .collect();
        Tensor::from_vec(pixels, (16, 1, 28, 28), &Device::Cpu).expect("a real batch")
    };
    let ((fast_losses, fast_weights), (portable_losses, portable_weights)) = both_ways(|| {
        let mut trainer = GanTrainer::new(&config, &Device::Cpu, 3).expect("a GAN");
        let mut losses = Vec::new();
        for _ in 0..4 {
            let report = trainer.step(&real).expect("a step");
            losses.extend([report.d_loss, report.g_loss]);
        }
        let mut w = weights(trainer.varmap_g());
        w.extend(weights(trainer.varmap_d()));
        (losses, w)
    });
    let what = format!("{model:?} GAN");
    assert_losses_agree(&what, &fast_losses, &portable_losses);
    assert_weights_agree(&what, &fast_weights, &portable_weights);
}

#[test]
fn the_mlp_gan_trains_the_same_on_the_portable_path() {
    gan_both_ways(GanModelKind::Mlp);
}

#[test]
fn the_dcgan_trains_the_same_on_the_portable_path() {
    gan_both_ways(GanModelKind::Dcgan);
}

fn rl_both_ways(agent: AgentKind) {
    let config = RlConfig {
        agent,
        ..RlConfig::default()
    };
    let ((fast_losses, fast_weights), (portable_losses, portable_weights)) = both_ways(|| {
        let mut trainer = RlTrainer::new(&config, &Device::Cpu, 5).expect("an agent");
        let mut losses = Vec::new();
        // The first losses only: later the two paths' rounding may pick other actions, and the
        // runs part ways as any two runs on different hardware would.
        while losses.len() < 3 {
            for record in trainer.step().expect("a step") {
                if let RlRecord::Update {
                    loss: Some(loss), ..
                } = record
                {
                    losses.push(loss);
                }
            }
        }
        losses.truncate(3);
        (losses, weights(trainer.varmap()))
    });
    let what = format!("{agent:?}");
    assert_losses_agree(&what, &fast_losses, &portable_losses);
    let _ = (fast_weights, portable_weights);
}

#[test]
fn dqn_trains_the_same_on_the_portable_path() {
    rl_both_ways(AgentKind::Dqn);
}

#[test]
fn ppo_trains_the_same_on_the_portable_path() {
    rl_both_ways(AgentKind::Ppo);
}

/// The gradient of `loss` for every variable of `varmap`, by name, computed with each kind of
/// kernels on the same weights: Adam hides a gradient off by a constant factor (its update is
/// scale-free), so the gradients themselves are compared.
fn gradients_both_ways(
    varmap: &VarMap,
    loss: impl Fn() -> candle_core::Result<Tensor>,
) -> (ByName, ByName) {
    let grads = || {
        let store = loss().and_then(|l| l.backward()).expect("a backward pass");
        let data = varmap.data().lock().expect("the varmap");
        let mut out: Vec<(String, Vec<f32>)> = data
            .iter()
            .filter_map(|(name, var)| {
                let g = store.get(var.as_tensor())?;
                Some((
                    name.clone(),
                    g.flatten_all().and_then(|g| g.to_vec1()).ok()?,
                ))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    };
    both_ways(grads)
}

/// Asserts that each variable's gradient agrees between the paths, relative to its size.
fn assert_gradients_agree(
    what: &str,
    fast: &[(String, Vec<f32>)],
    portable: &[(String, Vec<f32>)],
) {
    assert!(!fast.is_empty(), "{what}: no gradients");
    assert_eq!(
        fast.iter().map(|g| &g.0).collect::<Vec<_>>(),
        portable.iter().map(|g| &g.0).collect::<Vec<_>>(),
        "{what}: the same variables get gradients"
    );
    // Relative to the largest gradient of the network, as the gradient of a bias that a batch
    // norm follows is zero up to rounding, and relative to itself it would be noise.
    let scale = fast
        .iter()
        .flat_map(|(_, g)| g.iter())
        .map(|x| x.abs())
        .fold(1e-12f32, f32::max);
    for ((name, a), (_, b)) in fast.iter().zip(portable) {
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(
            worst / scale < 1e-3,
            "{what}: gradient of {name} differs by {worst:.2e} (largest of the network {scale:.2e})"
        );
    }
}

/// Generated digits with a blank 4-pixel margin, as MNIST's and Fashion-MNIST's images have:
/// a blank patch convolves to the bias everywhere, so its max-pool windows are ties, which a
/// portable max-pool must route as the fast one does (to the first maximum only).
fn images(count: usize) -> Tensor {
    const MARGIN: usize = 4;
    let (images, _) = gradtop::data::synthetic::generate(count, 9);
    let pixels: Vec<f32> = images
        .pixels
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let (row, col) = ((i % 784) / 28, i % 28);
            let inside = MARGIN..28 - MARGIN;
            let blank = !inside.contains(&row) || !inside.contains(&col);
            if blank {
                0.0
            } else {
                f32::from(p) / 255.0
            }
        })
        .collect();
    Tensor::from_vec(pixels, (count, 1, 28, 28), &Device::Cpu).expect("images")
}

#[test]
fn classifier_gradients_agree_on_the_portable_path() {
    use candle_nn::{Module, VarBuilder};
    for kind in [ModelKind::Cnn, ModelKind::Mlp] {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, candle_core::DType::F32, &Device::Cpu);
        let model = gradtop::models::classifier::ClassifierModel::new(kind, vb).expect("a model");
        let x = images(8);
        let labels = Tensor::new(&[0u32, 1, 2, 3, 4, 5, 6, 7], &Device::Cpu).expect("labels");
        let (fast, portable) = gradients_both_ways(&varmap, || {
            gradtop::models::loss::softmax_cross_entropy(&model.forward(&x)?, &labels)
        });
        assert_gradients_agree(&format!("{kind:?}"), &fast, &portable);
    }
}

#[test]
fn gan_gradients_agree_on_the_portable_path() {
    use candle_nn::{ModuleT, VarBuilder};
    use gradtop::models::gan::networks::{generator_loss, Discriminator, Generator, Params};
    for kind in [GanModelKind::Mlp, GanModelKind::Dcgan] {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, candle_core::DType::F32, &Device::Cpu);
        let generator = Generator::new(kind, 16, vb.pp("g")).expect("a generator");
        let discriminator = Discriminator::new(kind, vb.pp("d")).expect("a discriminator");
        let z = Tensor::randn(0f32, 1.0, (8, 16), &Device::Cpu).expect("noise");
        let (fast, portable) = gradients_both_ways(&varmap, || {
            let fake = generator.forward_t(&z, true)?;
            generator_loss(&discriminator.logits(&fake, Params::Trainable)?)
        });
        assert_gradients_agree(&format!("{kind:?} GAN"), &fast, &portable);
    }
}
