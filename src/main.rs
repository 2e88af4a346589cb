//! gradtop's command line: parses arguments, runs one command, reports errors with an exit
//! status scripts can rely on (0 success, 1 the run failed, 2 bad usage or bad input).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use color_eyre::eyre::{self, WrapErr};

use gradtop::data::{self, DatasetName};
use gradtop::device::DeviceChoice;
use gradtop::headless::{self, Outcome};
use gradtop::jobs::{self, interrupt, JobSpec, RunTarget};
use gradtop::run_commands::{self, RunCommandError};
use gradtop::scenario;

/// Train and watch neural networks live in the terminal: an image classifier, a GAN and
/// reinforcement-learning agents, on candle.
///
/// Run without a command to open the dashboard. Keys are shown at the bottom of each tab;
/// press ? for all of them.
#[derive(Debug, Parser)]
#[command(name = "gradtop", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    common: Common,
}

/// Options every command accepts.
#[derive(Debug, clap::Args)]
struct Common {
    /// Training device: auto (CUDA if compiled in and present), cpu, cuda or cuda:N.
    #[arg(long, global = true, default_value = "auto", value_parser = parse_device)]
    device: DeviceChoice,
    /// Directory searched first for datasets (then $GRADTOP_DATA, ./data, ~/.cache/gradtop,
    /// /usr/share/datasets).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Most redraws per second of the dashboard.
    #[arg(long, global = true, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=60))]
    fps: u32,
    /// Draw with plain ASCII instead of block and braille glyphs.
    #[arg(long, global = true)]
    ascii: bool,
    /// Folder of run directories (default: $GRADTOP_RUNS, else ./runs).
    #[arg(long, global = true, value_name = "DIR")]
    runs_dir: Option<PathBuf>,
}

fn parse_device(s: &str) -> Result<DeviceChoice, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a scenario: in the dashboard, or headless with progress on stdout.
    Train {
        /// Scenario file, e.g. scenarios/mnist-cnn.toml.
        scenario: PathBuf,
        /// No dashboard: print progress lines, then a summary.
        #[arg(long)]
        headless: bool,
        /// With --headless: one JSON object per line, the last one the run's summary.
        #[arg(long)]
        json: bool,
        /// Override a scenario key, e.g. --set lr=3e-4 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Stop after this many training steps.
        #[arg(long, value_name = "N")]
        steps: Option<u64>,
        /// Seed for weights and data order (same as --set seed=N).
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
    },
    /// Continue a stopped, interrupted or crashed classifier run from its newest checkpoint,
    /// headless, appending to its logs.
    Resume {
        /// The run directory, e.g. runs/20261129-021455-mnist-cnn.
        run_dir: PathBuf,
        /// One JSON object per line, the last one the run's summary.
        #[arg(long)]
        json: bool,
        /// Stop once the run has trained this many steps in all.
        #[arg(long, value_name = "N")]
        steps: Option<u64>,
    },
    /// Follow a run read-only in the dashboard (one training headless elsewhere, or a finished
    /// one): its curves, hyperparameter changes, checkpoints and end.
    Watch {
        /// The run directory.
        run_dir: PathBuf,
    },
    /// Export a run's metrics: CSV (to stdout or FILE) and/or TensorBoard event files.
    Export {
        /// The run directory.
        run_dir: PathBuf,
        /// Write step,t,name,value rows to FILE, or to stdout without FILE.
        #[arg(long, value_name = "FILE", num_args = 0..=1)]
        csv: Option<Option<PathBuf>>,
        /// Write a TensorBoard event file under DIR/<run name>/.
        #[arg(long, value_name = "DIR")]
        tensorboard: Option<PathBuf>,
    },
    /// Datasets: download and verify.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Score 28×28 images in an IDX file (e.g. another framework's GAN samples) with the
    /// Fréchet distance of gradtop's feature CNN against the dataset's test set (fid_cnn).
    ScoreSamples {
        /// IDX image file, raw or .gz.
        file: PathBuf,
        /// Reference dataset: mnist or fashion-mnist.
        #[arg(long)]
        dataset: DatasetName,
        /// Score at most this many images from the file.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Measure training throughput on this machine (synthetic data of the real shapes,
    /// fixed steps after a warm-up): samples/s, iterations/s or env steps/s, ms/step, peak RSS.
    Bench {
        /// What to measure.
        #[arg(value_enum, default_value = "all")]
        workload: BenchWorkload,
        /// One JSON object per workload instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Environments: check dynamics against recorded Gymnasium trajectories.
    Env {
        #[command(subcommand)]
        command: EnvCommand,
    },
}

/// Workloads `gradtop bench` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BenchWorkload {
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

#[derive(Debug, Subcommand)]
enum EnvCommand {
    /// Replay Gymnasium trajectories (set the state, apply the actions, compare every state
    /// and flag); exits 1 if any state differs by more than 1e-12 or any flag differs.
    Check {
        /// Fixture JSON, e.g. tests/fixtures/cartpole_v1_gymnasium.json.
        #[arg(long, value_name = "FILE")]
        fixture: PathBuf,
        /// Environment to check: cartpole, or with the gym-rs feature gym-rs/cartpole.
        #[arg(long, default_value = "cartpole")]
        env: String,
    },
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Download a dataset, show progress, verify checksums (mnist or fashion-mnist).
    Fetch {
        /// mnist or fashion-mnist.
        name: DatasetName,
        /// Where to put it (default: ~/.cache/gradtop/NAME, found automatically).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Errors that mean "the input was wrong" and exit with status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn main() -> ExitCode {
    // Before any thread starts: allocator and thread-pool settings the CPU kernels rely on.
    gradtop::ops::runtime::init_cpu_runtime();
    if let Err(e) = color_eyre::install() {
        eprintln!("gradtop: {e}");
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {err:#}");
            let bad_input = err.chain().any(|c| {
                c.is::<UsageError>()
                    || c.is::<RunCommandError>()
                    || c.is::<scenario::ScenarioError>()
                    || matches!(
                        c.downcast_ref::<data::DataError>(),
                        Some(data::DataError::NotFound { .. } | data::DataError::UnknownName(_))
                    )
            });
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}

/// Exit status of a finished headless run: 0, 1 when it failed, 128 + N after signal N.
fn exit_code(outcome: Outcome) -> ExitCode {
    match outcome {
        Outcome::Success(_) => match interrupt::signal() {
            Some(signal) => ExitCode::from((128 + signal).clamp(0, 255) as u8),
            None => ExitCode::SUCCESS,
        },
        Outcome::Failed(reason) => {
            eprintln!("Error: the run failed: {reason}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> eyre::Result<ExitCode> {
    let runs_dir = gradtop::runs::resolve_runs_parent(cli.common.runs_dir.as_deref());
    match cli.command {
        None => gradtop::app::run_dashboard(gradtop::app::Options {
            fps: cli.common.fps,
            ascii: cli.common.ascii,
            data_dir: cli.common.data_dir,
            device: cli.common.device,
            scenario: None,
            runs_dir,
            watch: None,
            max_steps: None,
        })
        .map(|()| ExitCode::SUCCESS),
        Some(Command::Train {
            scenario: path,
            headless,
            json,
            mut sets,
            steps,
            seed,
        }) => {
            if let Some(seed) = seed {
                sets.push(format!("seed={seed}"));
            }
            let scenario = scenario::load(&path)?.with_overrides(&sets)?;
            if !headless {
                return gradtop::app::run_dashboard(gradtop::app::Options {
                    fps: cli.common.fps,
                    ascii: cli.common.ascii,
                    data_dir: cli.common.data_dir,
                    device: cli.common.device,
                    scenario: Some(scenario),
                    runs_dir,
                    watch: None,
                    max_steps: steps,
                })
                .map(|()| ExitCode::SUCCESS);
            }
            let spec = JobSpec {
                data_dir: cli.common.data_dir.clone(),
                device: cli.common.device,
                max_steps: steps,
                run: RunTarget::New { parent: runs_dir },
                ..JobSpec::new(&scenario)
            };
            run_headless(spec, json)
        }
        Some(Command::Resume {
            run_dir,
            json,
            steps,
        }) => {
            let spec = run_commands::resume_spec(
                &run_dir,
                cli.common.data_dir.clone(),
                cli.common.device,
                steps,
            )?;
            run_headless(spec, json)
        }
        Some(Command::Watch { run_dir }) => {
            let scenario = run_commands::watch_scenario(&run_dir)?;
            gradtop::app::run_dashboard(gradtop::app::Options {
                fps: cli.common.fps,
                ascii: cli.common.ascii,
                data_dir: cli.common.data_dir,
                device: cli.common.device,
                scenario: Some(scenario),
                runs_dir,
                watch: Some(run_dir),
                max_steps: None,
            })
            .map(|()| ExitCode::SUCCESS)
        }
        Some(Command::Export {
            run_dir,
            csv,
            tensorboard,
        }) => {
            if csv.is_none() && tensorboard.is_none() {
                return Err(UsageError(
                    "say what to export: --csv [FILE] and/or --tensorboard DIR".into(),
                )
                .into());
            }
            if let Some(file) = csv {
                let mut stdout = std::io::stdout().lock();
                let count = run_commands::export_csv_to(&run_dir, file.as_deref(), &mut stdout)?;
                if let Some(file) = file {
                    eprintln!("wrote {count} metric records to {}", file.display());
                }
            }
            if let Some(logdir) = tensorboard {
                let path = run_commands::export_tensorboard_to(&run_dir, &logdir)?;
                eprintln!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::ScoreSamples {
            file,
            dataset,
            limit,
        }) => {
            let mut images = data::idx::read_images(&file)?;
            if (images.rows, images.cols) != (28, 28) {
                return Err(UsageError(format!(
                    "{}: images are {}×{}, the feature CNN takes 28×28",
                    file.display(),
                    images.rows,
                    images.cols
                ))
                .into());
            }
            if let Some(n) = limit.filter(|&n| n < images.count) {
                images.pixels.truncate(n * 784);
                images.count = n;
            }
            let device = cli.common.device.open().map_err(UsageError)?;
            let ds =
                std::sync::Arc::new(data::lookup::load(dataset, cli.common.data_dir.as_deref())?);
            let net =
                gradtop::models::feature_cnn::FeatureNet::load_or_train(&ds, &device, &mut |m| {
                    eprintln!("{m}")
                })?;
            let reference = net.stats(&ds.test.images)?;
            let fid = net.score(&images, &reference)?;
            println!(
                "{}",
                serde_json::json!({"file": file.display().to_string(), "images": images.count,
                    "dataset": dataset.as_str(), "fid_cnn": fid,
                    "feature_cnn_accuracy": net.accuracy})
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Bench { workload, json }) => {
            run_bench(workload, json, cli.common.device)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Env {
            command: EnvCommand::Check { fixture, env },
        }) => {
            let report = gradtop::envs::check::check_fixture(&fixture, &env)
                .map_err(|e| UsageError(e.to_string()))?;
            print!("{}", gradtop::envs::check::format_report(&report));
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Some(Command::Data {
            command: DataCommand::Fetch { name, dir },
        }) => {
            let mut bar = gradtop::progress::FetchBar::new();
            let dir = data::fetch::fetch(name, dir.as_deref(), &mut bar)?;
            bar.done();
            println!("{name} is ready in {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs the chosen benchmarks with a progress bar each and prints their figures.
/// Checks what can be checked before a thread starts (the device, the dataset), then runs the
/// job to its end with progress on stdout.
fn run_headless(spec: JobSpec, json: bool) -> eyre::Result<ExitCode> {
    spec.device.open().map_err(UsageError)?;
    if let Some(dataset) = spec.dataset() {
        data::find_dataset(dataset, spec.data_dir.as_deref())?;
    }
    interrupt::install_handlers().wrap_err("installing signal handlers")?;
    let kind = spec.kind();
    let handle = jobs::start(spec).wrap_err("starting the training thread")?;
    let mut stdout = std::io::stdout().lock();
    Ok(exit_code(headless::drive(handle, kind, json, &mut stdout)?))
}

fn run_bench(workload: BenchWorkload, json: bool, device: DeviceChoice) -> eyre::Result<()> {
    use gradtop::bench;
    use gradtop::models::gan::config::GanModelKind;
    use gradtop::models::rl::config::AgentKind;
    use BenchWorkload as W;
    let device = device.open().map_err(UsageError)?;
    let chosen: Vec<W> = match workload {
        W::All => vec![W::Cnn, W::Mlp, W::Gan, W::Dcgan, W::Dqn, W::Ppo, W::Env],
        one => vec![one],
    };
    if !json {
        println!(
            "{:<8} {:>14} {:<12} {:>10} {:>10}",
            "workload", "rate", "unit", "ms/step", "peak RSS"
        );
    }
    for w in chosen {
        let bar = indicatif::ProgressBar::new(1);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:8} [{bar:30}] {percent:>3}% ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(format!("{w:?}").to_lowercase());
        let mut progress = |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        };
        let classifier = bench::ClassifierBench::default();
        let results = gradtop::ops::runtime::in_compute_pool("compute", || match w {
            W::Cnn => Ok(vec![bench::bench_cnn(&classifier, &device, &mut progress)?]),
            W::Mlp => Ok(vec![bench::bench_mlp(&classifier, &device, &mut progress)?]),
            W::Gan => Ok(vec![bench::bench_gan(
                GanModelKind::Mlp,
                20,
                300,
                &device,
                &mut progress,
            )
            .map_err(eyre::Report::msg)?]),
            W::Dcgan => Ok(vec![bench::bench_gan(
                GanModelKind::Dcgan,
                5,
                100,
                &device,
                &mut progress,
            )
            .map_err(eyre::Report::msg)?]),
            W::Dqn => Ok(vec![bench::bench_rl(
                AgentKind::Dqn,
                2_000,
                30_000,
                &device,
                &mut progress,
            )
            .map_err(eyre::Report::msg)?]),
            W::Ppo => Ok(vec![bench::bench_rl(
                AgentKind::Ppo,
                2_048,
                40_960,
                &device,
                &mut progress,
            )
            .map_err(eyre::Report::msg)?]),
            W::Env => bench::bench_env(8, 20_000_000, &mut progress).map_err(eyre::Report::msg),
            W::All => Ok(Vec::new()),
        })?;
        bar.finish_and_clear();
        for r in results {
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "{:<8} {:>14.1} {:<12} {:>10.3} {:>7.0} MB",
                    r.workload, r.rate, r.unit, r.ms_per_step, r.peak_rss_mb
                );
            }
        }
    }
    Ok(())
}
