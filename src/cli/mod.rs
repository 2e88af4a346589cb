//! gradtop's command line: parses arguments, runs one command, reports errors with an exit
//! status scripts can rely on (0 success, 1 the run failed, 2 bad usage or bad input). Each
//! command is thin: it checks what it can, then hands over to the layers below.

pub mod bench;
pub mod data;
pub mod export;
pub mod headless;
pub mod runs;
pub mod shell;
pub mod sweep;
pub mod trace;
pub mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use color_eyre::eyre;

use crate::data::{DataError, DatasetName};
use crate::device::DeviceChoice;
use crate::jobs::resume::{self, ResumeError};
use crate::jobs::{JobSpec, RunTarget};
use crate::scenario;
use bench::BenchWorkload;

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
    /// CPU kernels: fast (gradtop's own), or portable (candle's ops and a plain Adam, the
    /// path a GPU takes): slower, for checking a result against the GPU's math.
    #[arg(long, global = true, default_value = "fast", value_name = "KERNELS", value_parser = parse_kernels)]
    kernels: crate::ops::Kernels,
}

fn parse_kernels(s: &str) -> Result<crate::ops::Kernels, String> {
    s.parse()
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
    /// Continue a stopped, interrupted or crashed run (classifier, GAN or RL) from its newest
    /// checkpoint, headless, appending to its logs.
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
    /// Follow a run in the dashboard (one training headless elsewhere, or a finished one): its
    /// curves, hyperparameter changes, checkpoints and end. A live run you own can be steered
    /// from its tab (pause/resume, stop, checkpoint, live hyperparameters) through its
    /// control.jsonl; a finished run is shown read-only. A TensorBoard log folder
    /// (PyTorch's runs/, Keras' logs/) opens in the Runs tab, each folder of event files a run.
    Watch {
        /// The run directory, or a TensorBoard log folder.
        run_dir: PathBuf,
    },
    /// List the runs in the runs folder, newest first: gradtop's, and TensorBoard runs of other
    /// frameworks found under it.
    Runs {
        /// One JSON array of objects (name, kind, scenario, dataset, status, steps, metrics, …).
        #[arg(long)]
        json: bool,
    },
    /// Train a grid of runs of one scenario — every combination of the --grid values, each
    /// with every seed — on this machine (up to --parallel at once) or as a Slurm job array.
    ///
    /// Each run is an ordinary run directory under the runs folder, made before any starts
    /// (listed as queued), and the sweep is recorded in RUNS/sweeps/ID/. Ctrl-C stops every
    /// run with a checkpoint; the same command again, or `gradtop sweep resume ID`, continues
    /// the unfinished runs and skips the finished ones.
    ///
    /// Example: gradtop sweep scenarios/fashion-cnn.toml --grid lr=1e-3,3e-4,1e-4 --seeds 1,2
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Sweep {
        #[command(subcommand)]
        command: Option<SweepCommand>,
        /// Scenario file, e.g. scenarios/fashion-cnn.toml.
        #[arg(required = true)]
        scenario: Option<PathBuf>,
        /// A scenario key and its values, e.g. --grid lr=1e-3,3e-4 (repeatable: the sweep
        /// trains every combination).
        #[arg(long = "grid", value_name = "KEY=V1,V2,…")]
        grid: Vec<String>,
        /// Seeds, e.g. --seeds 1,2,3: every grid point is trained once with each.
        #[arg(long, value_name = "N,N,…", value_delimiter = ',')]
        seeds: Vec<u64>,
        /// Override a scenario key in every run, e.g. --set epochs=1 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Stop each run after this many training steps.
        #[arg(long, value_name = "N")]
        steps: Option<u64>,
        /// Runs at once (default: one per two CPU cores, one on a GPU).
        #[arg(long, value_name = "N")]
        parallel: Option<usize>,
        /// Where the runs train: local child processes, or a Slurm job array (sbatch).
        #[arg(long, value_enum, default_value = "local")]
        backend: sweep::Backend,
        /// Extra sbatch options for the Slurm backend, e.g. --slurm-args "--partition=gpu
        /// --time=4:00:00".
        #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
        slurm_args: Option<String>,
    },
    /// Export a run's metrics: CSV (to stdout or FILE) and/or TensorBoard event files.
    Export {
        /// The run directory, or a TensorBoard run (a folder of event files).
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
    /// fixed steps after a warm-up): samples/s, iterations/s or env steps/s, ms/step, peak RSS,
    /// and for the classifiers and GANs the GFLOP/s of their products against this machine's
    /// float32 gemm peak, measured first.
    Bench {
        /// What to measure (default: all, or only the `--scenario` models when given).
        #[arg(value_enum)]
        workload: Option<BenchWorkload>,
        /// Also measure the classifier a scenario file describes (its `layers` or `model`),
        /// named after the file; repeatable.
        #[arg(long = "scenario", value_name = "FILE")]
        scenarios: Vec<PathBuf>,
        /// One JSON object per workload instead of a table.
        #[arg(long)]
        json: bool,
        /// Images per step for cnn, mlp, gan and dcgan (default 32 for the classifiers, 64 for
        /// the GANs); steps scale so each run trains on about as many images.
        #[arg(long, value_name = "N")]
        batch: Option<usize>,
        /// Also break each step down by op: time, share of the step, GFLOP/s of the products
        /// and GB/s of the memory-bound ops (Adam, pooling, activations, batch norm).
        #[arg(long)]
        profile: bool,
    },
    /// Record the first steps of a scenario exactly (initial weights, each batch's indices and
    /// loss, and at chosen steps every gradient, Adam's moments and the weights) for replaying
    /// in another framework: `python3 bench/parity_torch.py DIR` checks them against PyTorch.
    /// Runs on the CPU; with `--kernels portable` it traces the path a GPU takes.
    Trace {
        /// Scenario file: a classifier, or the MLP GAN.
        scenario: PathBuf,
        /// Steps (GAN: iterations) to take.
        #[arg(long, value_name = "N", default_value_t = 100)]
        steps: u64,
        /// Folder to write (created; must be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Steps after which every tensor is written, e.g. 1,2,10 (default: 1–5, 10, 20, 50,
        /// 100, …, and the last).
        #[arg(long, value_name = "STEPS", value_delimiter = ',')]
        dump_at: Vec<u64>,
        /// Override a scenario key, e.g. --set seed=3 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Environments: check dynamics against recorded Gymnasium trajectories.
    Env {
        #[command(subcommand)]
        command: EnvCommand,
    },
    /// Print shell completions, e.g. `gradtop completions bash >
    /// ~/.local/share/bash-completion/completions/gradtop`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print gradtop's man page (roff), e.g. `gradtop man | man -l -`.
    Man,
}

#[derive(Debug, Subcommand)]
enum SweepCommand {
    /// Continue a sweep's unfinished runs (queued, interrupted or stopped) on the backend it
    /// was made for; finished and failed runs are left as they are.
    Resume {
        /// The sweep's id (its folder under RUNS/sweeps/).
        id: String,
        /// Extra sbatch options for a Slurm sweep.
        #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
        slurm_args: Option<String>,
    },
    /// Each run of a sweep: its grid values, status (queued, running, finished, failed, …,
    /// with Slurm's queue for a Slurm sweep), steps and headline figure.
    Status {
        /// The sweep's id (its folder under RUNS/sweeps/).
        id: String,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
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
pub struct UsageError(pub String);

/// An error and its causes on one line, each cause once: errors that already quote their source
/// (`reading x: No such file`) are not followed by it again.
fn error_text(err: &eyre::Report) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Runs the command line: installs the error reporter, parses the arguments, runs one command
/// and turns its outcome into the exit status.
pub fn main() -> ExitCode {
    // Before any thread starts: allocator and thread-pool settings the CPU kernels rely on.
    crate::ops::runtime::init_cpu_runtime();
    if let Err(e) = color_eyre::install() {
        eprintln!("gradtop: {e}");
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {}", error_text(&err));
            let bad_input = err.chain().any(|c| {
                c.is::<UsageError>()
                    || c.is::<ResumeError>()
                    || matches!(
                        c.downcast_ref::<crate::runs::ExportError>(),
                        Some(crate::runs::ExportError::Run(_))
                    )
                    || c.is::<scenario::ScenarioError>()
                    || matches!(
                        c.downcast_ref::<DataError>(),
                        Some(
                            DataError::NotFound { .. }
                                | DataError::Incomplete { .. }
                                | DataError::UnknownName(_)
                        )
                    )
            });
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}

/// Opens the dashboard: empty, on a scenario (`train` without `--headless`), or following a
/// run (`watch`).
fn dashboard(
    common: Common,
    runs_dir: PathBuf,
    scenario: Option<scenario::Scenario>,
    watch: Option<PathBuf>,
    max_steps: Option<u64>,
) -> eyre::Result<ExitCode> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return Err(UsageError(
            "the dashboard draws on a terminal and stdout is not one; to train without a \
             screen, use `gradtop train SCENARIO.toml --headless`"
                .into(),
        )
        .into());
    }
    crate::app::run_dashboard(crate::app::Options {
        fps: common.fps,
        ascii: common.ascii,
        data_dir: common.data_dir,
        device: common.device,
        scenario,
        runs_dir,
        watch,
        max_steps,
    })?;
    Ok(train::signal_exit_code().unwrap_or(ExitCode::SUCCESS))
}

fn run(cli: Cli) -> eyre::Result<ExitCode> {
    crate::ops::set_process_kernels(cli.common.kernels);
    let runs_dir = crate::runs::resolve_runs_parent(cli.common.runs_dir.as_deref());
    if runs_dir.exists() && !runs_dir.is_dir() {
        return Err(UsageError(format!(
            "--runs-dir {}: not a folder (runs are written into a folder of run directories)",
            runs_dir.display()
        ))
        .into());
    }
    match cli.command {
        None => dashboard(cli.common, runs_dir, None, None, None),
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
            let scenario = scenario::load_with_overrides(&path, &sets)?;
            if !headless {
                return dashboard(cli.common, runs_dir, Some(scenario), None, steps);
            }
            let spec = JobSpec {
                data_dir: cli.common.data_dir.clone(),
                device: cli.common.device,
                max_steps: steps,
                run: RunTarget::New { parent: runs_dir },
                ..JobSpec::new(&scenario)
            };
            train::run_headless(spec, json)
        }
        Some(Command::Resume {
            run_dir,
            json,
            steps,
        }) => {
            let spec = resume::resume_spec(
                &run_dir,
                cli.common.data_dir.clone(),
                cli.common.device,
                steps,
            )?;
            train::run_headless(spec, json)
        }
        Some(Command::Watch { run_dir }) => {
            let is_run_dir = run_dir.join(crate::runs::dir::CONFIG_FILE).exists();
            if !is_run_dir && !crate::runs::find_tensorboard_runs(&run_dir).is_empty() {
                return dashboard(cli.common, run_dir.clone(), None, Some(run_dir), None);
            }
            let scenario = resume::watch_scenario(&run_dir)?;
            dashboard(cli.common, runs_dir, Some(scenario), Some(run_dir), None)
        }
        Some(Command::Runs { json }) => runs::run(&runs_dir, json),
        Some(Command::Sweep {
            command,
            scenario,
            grid,
            seeds,
            sets,
            steps,
            parallel,
            backend,
            slurm_args,
        }) => {
            let point = sweep::PointOptions {
                device: cli.common.device,
                data_dir: cli.common.data_dir.clone(),
                kernels: cli.common.kernels,
            };
            let split = |args: Option<String>| -> Vec<String> {
                args.map(|a| a.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default()
            };
            match command {
                Some(SweepCommand::Resume { id, slurm_args }) => {
                    sweep::resume(&runs_dir, &id, &point, &split(slurm_args))
                }
                Some(SweepCommand::Status { id, json }) => sweep::status(&runs_dir, &id, json),
                None => {
                    let Some(scenario) = scenario else {
                        return Err(UsageError("sweep needs a scenario file".into()).into());
                    };
                    sweep::run(
                        sweep::SweepRequest {
                            scenario,
                            grid,
                            seeds,
                            sets,
                            steps,
                            parallel,
                            backend,
                            slurm_args: split(slurm_args),
                            point,
                            runs_dir,
                        },
                        std::env::args().collect(),
                    )
                }
            }
        }
        Some(Command::Export {
            run_dir,
            csv,
            tensorboard,
        }) => export::run(&run_dir, csv, tensorboard.as_deref()),
        Some(Command::ScoreSamples {
            file,
            dataset,
            limit,
        }) => data::score_samples(
            &file,
            dataset,
            limit,
            cli.common.device,
            cli.common.data_dir.as_deref(),
        ),
        Some(Command::Bench {
            workload,
            scenarios,
            json,
            batch,
            profile,
        }) => {
            let workload = match (workload, scenarios.is_empty()) {
                (Some(w), _) => Some(w),
                (None, true) => Some(BenchWorkload::All),
                (None, false) => None,
            };
            let described = bench::described_models(&scenarios)?;
            bench::run(
                workload,
                &described,
                json,
                batch,
                profile,
                cli.common.device,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Trace {
            scenario: path,
            steps,
            out,
            dump_at,
            sets,
        }) => {
            if let DeviceChoice::Cuda(_) = cli.common.device {
                return Err(UsageError(
                    "trace runs on the CPU; `--kernels portable` traces the path a GPU takes \
                     (candle's own ops and the plain Adam)"
                        .into(),
                )
                .into());
            }
            let scenario = scenario::load_with_overrides(&path, &sets)?;
            let dump_at = if dump_at.is_empty() {
                trace::default_dumps(steps)
            } else {
                dump_at
            };
            trace::run(
                &scenario,
                &trace::TraceRequest {
                    steps,
                    out,
                    dump_at,
                    data_dir: cli.common.data_dir.clone(),
                },
            )
        }
        Some(Command::Env {
            command: EnvCommand::Check { fixture, env },
        }) => {
            let report = crate::envs::check::check_fixture(&fixture, &env)
                .map_err(|e| UsageError(e.to_string()))?;
            print!("{}", crate::envs::check::format_report(&report));
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Some(Command::Data {
            command: DataCommand::Fetch { name, dir },
        }) => data::fetch(name, dir.as_deref()),
        Some(Command::Completions { shell }) => {
            shell::print(&shell::completions(Cli::command(), shell))
        }
        Some(Command::Man) => shell::print(&shell::man_page(Cli::command())?),
    }
}
