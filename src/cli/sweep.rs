//! `gradtop sweep`: a grid of runs of one scenario, on this machine (up to `--parallel` headless
//! runs at once) or as a Slurm job array, each point an ordinary run directory made up front
//! (see [`crate::runs::sweep`]). Every point runs as `gradtop resume DIR`, which starts a queued
//! run or continues an interrupted one from its newest checkpoint, so a stopped sweep, a second
//! `gradtop sweep` with the same arguments and a requeued Slurm task all pick up where they
//! were.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use color_eyre::eyre::{self, WrapErr};

use super::UsageError;
use crate::device::DeviceChoice;
use crate::format::format_duration;
use crate::jobs::interrupt;
use crate::ops::Kernels;
use crate::runs::clock::{unix_now_s, LocalTime};
use crate::runs::dir::{name_without_stamp, sanitize_scenario_name, RunDir};
use crate::runs::sweep::{
    expand, list_sweeps, member_table, sweep_dir, GridAxis, SweepPlan, SweepRun, SEED_KEY,
};
use crate::runs::{summarize_run, RunStatus, RunSummary};
use crate::scenario;

/// Where a sweep's points run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Child processes on this machine.
    Local,
    /// One Slurm job array, submitted with `sbatch`.
    Slurm,
}

impl Backend {
    fn as_str(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Slurm => "slurm",
        }
    }
}

/// Everything `gradtop sweep SCENARIO …` was given.
#[derive(Debug, Clone)]
pub struct SweepRequest {
    /// The scenario file.
    pub scenario: PathBuf,
    /// `--grid key=v1,v2,…`, as typed.
    pub grid: Vec<String>,
    /// `--seeds`.
    pub seeds: Vec<u64>,
    /// `--set`s for every run.
    pub sets: Vec<String>,
    /// `--steps` for every run.
    pub steps: Option<u64>,
    /// `--parallel`, when given.
    pub parallel: Option<usize>,
    /// `--backend`.
    pub backend: Backend,
    /// `--slurm-args`, split on whitespace and passed to `sbatch`.
    pub slurm_args: Vec<String>,
    /// How every point runs: device, data, kernels.
    pub point: PointOptions,
    /// The runs parent.
    pub runs_dir: PathBuf,
}

/// The options passed through to every point's `gradtop resume`.
#[derive(Debug, Clone)]
pub struct PointOptions {
    /// `--device`.
    pub device: DeviceChoice,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--kernels`.
    pub kernels: Kernels,
}

/// How often the local backend looks at its children and redraws its progress line.
const TICK: Duration = Duration::from_millis(200);
/// Seconds between progress lines when stdout is not a terminal.
const LOG_LINE_INTERVAL: Duration = Duration::from_secs(10);
/// The per-point logs inside a sweep's folder.
const LOGS_DIR: &str = "logs";
/// The Slurm batch script inside a sweep's folder.
const SBATCH_FILE: &str = "sweep.sbatch";

/// Parses one `--grid key=v1,v2,…`; an empty key, an empty list or an empty value is refused,
/// naming the key.
pub fn parse_axis(text: &str) -> Result<GridAxis, UsageError> {
    let Some((key, values)) = text.split_once('=') else {
        return Err(UsageError(format!(
            "--grid {text}: expected KEY=V1,V2,… (e.g. --grid lr=1e-3,3e-4)"
        )));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(UsageError(format!("--grid {text}: the key is empty")));
    }
    if key == SEED_KEY {
        return Err(UsageError(format!(
            "--grid {text}: give seeds with --seeds {}",
            values.trim()
        )));
    }
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if values.iter().all(String::is_empty) {
        return Err(UsageError(format!(
            "--grid {key}: the list of values is empty"
        )));
    }
    if values.iter().any(String::is_empty) {
        return Err(UsageError(format!(
            "--grid {key}={}: a value is empty",
            values.join(",")
        )));
    }
    Ok(GridAxis {
        key: key.to_string(),
        values,
    })
}

/// The grid, checked: each axis parses, no key twice, no key that `--set` also sets, and every
/// value one the scenario takes (each checked alone first, so the error names its key, then
/// every combination).
fn checked_grid(request: &SweepRequest) -> eyre::Result<Vec<GridAxis>> {
    if request.grid.is_empty() && request.seeds.is_empty() {
        return Err(UsageError(
            "a sweep needs at least one --grid KEY=V1,V2,… or --seeds 1,2,…".into(),
        )
        .into());
    }
    let mut axes: Vec<GridAxis> = Vec::new();
    for text in &request.grid {
        let axis = parse_axis(text)?;
        if axes.iter().any(|a| a.key == axis.key) {
            return Err(UsageError(format!("--grid {}: the key is given twice", axis.key)).into());
        }
        if request
            .sets
            .iter()
            .any(|s| s.split_once('=').is_some_and(|(k, _)| k.trim() == axis.key))
        {
            return Err(UsageError(format!(
                "--grid {}: --set also sets it; give it in one place",
                axis.key
            ))
            .into());
        }
        axes.push(axis);
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(seed) = request.seeds.iter().find(|s| !seen.insert(**s)) {
        return Err(UsageError(format!("--seeds: seed {seed} is given twice")).into());
    }
    for axis in &axes {
        for value in &axis.values {
            let mut sets = request.sets.clone();
            sets.push(format!("{}={value}", axis.key));
            scenario::load_with_overrides(&request.scenario, &sets)
                .map_err(|e| UsageError(format!("--grid {}={value}: {e}", axis.key)))?;
        }
    }
    Ok(axes)
}

/// What identifies a sweep for "the same command again": the scenario, the grid, the seeds,
/// the sets, the steps and the backend.
fn same_sweep(plan: &SweepPlan, other: &SweepPlan) -> bool {
    plan.scenario == other.scenario
        && plan.grid == other.grid
        && plan.seeds == other.seeds
        && plan.sets == other.sets
        && plan.steps == other.steps
        && plan.backend == other.backend
}

/// Runs `gradtop sweep SCENARIO …`: checks the grid, makes the sweep (or finds the unfinished
/// one these arguments made before), then runs it on the chosen backend.
pub fn run(request: SweepRequest, command: Vec<String>) -> eyre::Result<ExitCode> {
    let grid = checked_grid(&request)?;
    let scenario_path = fs::canonicalize(&request.scenario)
        .wrap_err_with(|| format!("reading {}", request.scenario.display()))?;
    let base = scenario::load_with_overrides(&request.scenario, &request.sets)?;
    let parallel = request
        .parallel
        .unwrap_or_else(|| default_parallel(request.point.device));
    if parallel == 0 {
        return Err(UsageError("--parallel must be at least 1".into()).into());
    }
    let wanted = SweepPlan {
        id: String::new(),
        scenario: scenario_path,
        command,
        grid,
        seeds: request.seeds.clone(),
        sets: request.sets.clone(),
        steps: request.steps,
        device: request.point.device.to_string(),
        backend: request.backend.as_str().into(),
        parallel,
        slurm_job: None,
        created_unix_s: unix_now_s(),
        runs: Vec::new(),
    };
    let existing = list_sweeps(&request.runs_dir)
        .into_iter()
        .rev()
        .find(|p| same_sweep(p, &wanted));
    let plan = match existing {
        Some(mut plan) => {
            let open = open_runs(&request.runs_dir, &plan);
            if open.is_empty() {
                println!(
                    "sweep {} with these arguments has already finished; see `gradtop sweep \
                     status {}` (change the grid or the seeds for a new one)",
                    plan.id, plan.id
                );
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "continuing sweep {}: {} of {} runs to go",
                plan.id,
                open.len(),
                plan.runs.len()
            );
            plan.parallel = parallel;
            plan
        }
        None => make_sweep(&request, wanted, &base.name)?,
    };
    continue_sweep(&request.runs_dir, plan, &request.point, &request.slurm_args)
}

/// Runs `gradtop sweep resume ID`: the sweep's unfinished runs, on the backend it was made for.
pub fn resume(
    runs_dir: &Path,
    id: &str,
    point: &PointOptions,
    slurm_args: &[String],
) -> eyre::Result<ExitCode> {
    let plan = load_plan(runs_dir, id)?;
    if open_runs(runs_dir, &plan).is_empty() {
        println!("sweep {id}: every run has ended; nothing to resume");
        return Ok(ExitCode::SUCCESS);
    }
    continue_sweep(runs_dir, plan, point, slurm_args)
}

fn load_plan(runs_dir: &Path, id: &str) -> eyre::Result<SweepPlan> {
    SweepPlan::load(runs_dir, id).map_err(|e| {
        let known: Vec<String> = list_sweeps(runs_dir).into_iter().map(|p| p.id).collect();
        let hint = if known.is_empty() {
            format!("there are no sweeps under {}", runs_dir.display())
        } else {
            format!("sweeps under {}: {}", runs_dir.display(), known.join(", "))
        };
        UsageError(format!("sweep {id}: {e} ({hint})")).into()
    })
}

fn continue_sweep(
    runs_dir: &Path,
    plan: SweepPlan,
    point: &PointOptions,
    slurm_args: &[String],
) -> eyre::Result<ExitCode> {
    if plan.backend == Backend::Slurm.as_str() {
        submit_slurm(runs_dir, plan, point, slurm_args)
    } else {
        run_local(runs_dir, &plan, point)
    }
}

/// Runs at once when `--parallel` is not given: one per GPU on CUDA, and on the CPU one per two
/// cores, each run's kernels then using its share of the cores.
fn default_parallel(device: DeviceChoice) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match device {
        DeviceChoice::Cuda(_) => 1,
        DeviceChoice::Auto if cfg!(feature = "cuda") => 1,
        _ => (cores / 2).max(1),
    }
}

/// Makes the sweep's folder and every run directory (queued), and writes `sweep.json`.
fn make_sweep(
    request: &SweepRequest,
    mut plan: SweepPlan,
    scenario_name: &str,
) -> eyre::Result<SweepPlan> {
    let mut runs: Vec<SweepRun> = expand(&plan.grid, &plan.seeds)
        .into_iter()
        .enumerate()
        .map(|(index, (values, seed))| SweepRun {
            index,
            values,
            seed,
            run: String::new(),
        })
        .collect();
    // Every combination checked before anything is written.
    let mut configs = Vec::with_capacity(runs.len());
    for run in &runs {
        let sets = plan.run_sets(run);
        let resolved = scenario::load_with_overrides(&request.scenario, &sets).map_err(|e| {
            UsageError(format!(
                "the point {}: {e}",
                sets[plan.sets.len()..].join(" ")
            ))
        })?;
        let settings = toml::to_string(&resolved.settings.to_table())
            .wrap_err("writing the resolved scenario as TOML")?;
        configs.push(settings);
    }
    let started = LocalTime::now();
    let stem = format!(
        "{}-{}",
        started.compact(),
        sanitize_scenario_name(scenario_name)
    );
    let sweeps = request.runs_dir.join(crate::runs::sweep::SWEEPS_DIR);
    fs::create_dir_all(&sweeps).wrap_err_with(|| format!("creating {}", sweeps.display()))?;
    // `create_dir` is atomic: two sweeps made in the same second get distinct ids.
    let mut id = stem.clone();
    for suffix in 2.. {
        match fs::create_dir(sweeps.join(&id)) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && suffix < 1000 => {
                id = format!("{stem}-{suffix}");
            }
            Err(e) => {
                return Err(e).wrap_err_with(|| format!("creating {}", sweeps.join(&id).display()))
            }
        }
    }
    // The runs are named like the sweep, and a `-2` a second sweep of the same second got
    // keeps its runs apart too.
    let run_stem = name_without_stamp(&id).unwrap_or(&id).to_string();
    plan.id = id;
    for (run, settings) in runs.iter_mut().zip(configs) {
        let config = format!("{settings}\n{}", member_table(&plan.id, run));
        let dir = RunDir::create_at(
            &request.runs_dir,
            &format!("{run_stem}-p{:02}", run.index),
            started,
            &config,
        )
        .wrap_err("making the sweep's run directories")?;
        run.run = dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    plan.runs = runs;
    let path = plan.save(&request.runs_dir)?;
    println!(
        "sweep {}: {} runs ({}), recorded in {}",
        plan.id,
        plan.runs.len(),
        grid_text(&plan),
        path.display()
    );
    Ok(plan)
}

/// `lr × 3, batch_size × 2, 2 seeds`.
fn grid_text(plan: &SweepPlan) -> String {
    let mut parts: Vec<String> = plan
        .grid
        .iter()
        .map(|a| format!("{} × {}", a.key, a.values.len()))
        .collect();
    if !plan.seeds.is_empty() {
        parts.push(format!("{} seeds", plan.seeds.len()));
    }
    parts.join(", ")
}

/// A run's grid values and seed as one short label: `lr=1e-3 seed=2`.
pub fn run_label(run: &SweepRun) -> String {
    let mut parts: Vec<String> = run.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if let Some(seed) = run.seed {
        parts.push(format!("seed={seed}"));
    }
    if parts.is_empty() {
        format!("p{:02}", run.index)
    } else {
        parts.join(" ")
    }
}

/// The status of each run of the sweep, from its run directory (`None` when it cannot be read).
fn run_summaries(runs_dir: &Path, plan: &SweepPlan) -> Vec<Option<RunSummary>> {
    plan.runs
        .iter()
        .map(|run| summarize_run(&plan.run_dir(runs_dir, run)).ok())
        .collect()
}

/// Whether a run still has work: queued, or ended early and resumable (a run that failed stays
/// failed: resuming it would fail the same way; `gradtop resume` takes it on purpose).
fn is_open(status: RunStatus) -> bool {
    matches!(
        status,
        RunStatus::Queued | RunStatus::Interrupted | RunStatus::Stopped | RunStatus::Paused
    )
}

/// The indices of the runs that still have work and no process running them.
fn open_runs(runs_dir: &Path, plan: &SweepPlan) -> Vec<usize> {
    open_indices(&run_summaries(runs_dir, plan))
}

/// [`open_runs`] of summaries already read.
fn open_indices(summaries: &[Option<RunSummary>]) -> Vec<usize> {
    summaries
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.as_ref()
                .is_some_and(|s| is_open(s.status) && s.pid.is_none())
        })
        .map(|(i, _)| i)
        .collect()
}

/// The arguments of `gradtop resume` for one run.
fn resume_args(run_dir: &Path, steps: Option<u64>, point: &PointOptions) -> Vec<String> {
    let mut args = vec![
        "resume".to_string(),
        run_dir.display().to_string(),
        "--json".to_string(),
    ];
    if let Some(steps) = steps {
        args.extend(["--steps".into(), steps.to_string()]);
    }
    args.extend(["--device".into(), point.device.to_string()]);
    args.extend(["--kernels".into(), point.kernels.as_str().into()]);
    if let Some(dir) = &point.data_dir {
        args.extend(["--data-dir".into(), absolute(dir).display().to_string()]);
    }
    args
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The latest progress a child reported on its JSON lines.
#[derive(Debug, Clone, Copy, Default)]
struct ChildProgress {
    step: u64,
    total_steps: u64,
    eta_s: Option<f64>,
}

/// One running point.
struct Running {
    index: usize,
    child: Child,
    progress: Arc<Mutex<ChildProgress>>,
    started: Instant,
}

/// How a local sweep's runs stand, for its progress line.
#[derive(Debug, Default)]
struct Tally {
    done: usize,
    failed: usize,
    running: usize,
    queued: usize,
}

/// Runs the sweep's open runs as child processes, `plan.parallel` at once, with one progress
/// line; a stop signal stops every child (each checkpoints) and says how to continue.
fn run_local(runs_dir: &Path, plan: &SweepPlan, point: &PointOptions) -> eyre::Result<ExitCode> {
    interrupt::install_handlers().wrap_err("installing signal handlers")?;
    let exe = std::env::current_exe().wrap_err("finding the gradtop executable")?;
    let logs = sweep_dir(runs_dir, &plan.id).join(LOGS_DIR);
    fs::create_dir_all(&logs).wrap_err_with(|| format!("creating {}", logs.display()))?;
    let summaries = run_summaries(runs_dir, plan);
    let mut queue: std::collections::VecDeque<usize> = open_indices(&summaries).into();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / plan.parallel).max(1);
    let mut tally = Tally {
        done: summaries
            .iter()
            .flatten()
            .filter(|s| s.status == RunStatus::Finished)
            .count(),
        failed: summaries
            .iter()
            .flatten()
            .filter(|s| s.status == RunStatus::Failed)
            .count(),
        ..Tally::default()
    };
    let mut durations: Vec<f64> = Vec::new();
    let mut running: Vec<Running> = Vec::new();
    let tty = std::io::stdout().is_terminal();
    let mut last_line = Instant::now() - LOG_LINE_INTERVAL;
    let sweep_started = Instant::now();
    let mut stopping = false;
    loop {
        if interrupt::requested() && !stopping {
            stopping = true;
            queue.clear();
            for r in &running {
                // One SIGTERM each: the children are in process groups of their own, so a
                // Ctrl-C reached only this process, and a second signal would make a child
                // leave without its checkpoint.
                // SAFETY: kill takes plain integers.
                unsafe { libc::kill(r.child.id() as libc::pid_t, libc::SIGTERM) };
            }
            clear_line(tty);
            println!(
                "stopping: {} running run(s) write a checkpoint and end",
                running.len()
            );
        }
        while !stopping && running.len() < plan.parallel {
            let Some(index) = queue.pop_front() else {
                break;
            };
            let run = &plan.runs[index];
            let dir = plan.run_dir(runs_dir, run);
            let log_path = logs.join(format!("p{index:02}.log"));
            let log = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .wrap_err_with(|| format!("opening {}", log_path.display()))?;
            let mut cmd = Command::new(&exe);
            cmd.args(resume_args(&dir, plan.steps, point))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(log.try_clone().wrap_err("opening the run's log")?)
                .process_group(0);
            if std::env::var_os("RAYON_NUM_THREADS").is_none() {
                cmd.env("RAYON_NUM_THREADS", threads.to_string());
            }
            let mut child = cmd
                .spawn()
                .wrap_err_with(|| format!("starting {}", exe.display()))?;
            let progress = Arc::new(Mutex::new(ChildProgress::default()));
            if let Some(stdout) = child.stdout.take() {
                let progress = Arc::clone(&progress);
                std::thread::spawn(move || follow_child(stdout, log, &progress));
            }
            clear_line(tty);
            println!("p{index:02} {} started: {}", run_label(run), dir.display());
            running.push(Running {
                index,
                child,
                progress,
                started: Instant::now(),
            });
        }
        let mut still = Vec::with_capacity(running.len());
        for mut r in running {
            match r.child.try_wait() {
                Ok(Some(status)) => {
                    let run = &plan.runs[r.index];
                    let summary = summarize_run(&plan.run_dir(runs_dir, run)).ok();
                    let ended = summary.as_ref().map(|s| s.status);
                    let figure = summary
                        .as_ref()
                        .and_then(|s| s.best.as_ref())
                        .map(|b| format!(": {} {:.4}", b.name, b.last))
                        .unwrap_or_default();
                    let word = ended.map_or("ended", RunStatus::as_str);
                    clear_line(tty);
                    println!("p{:02} {} {word}{figure}", r.index, run_label(run));
                    match ended {
                        Some(RunStatus::Finished) => {
                            tally.done += 1;
                            durations.push(r.started.elapsed().as_secs_f64());
                        }
                        Some(RunStatus::Failed) => tally.failed += 1,
                        _ if !status.success() && !stopping => {
                            tally.failed += 1;
                            let log = logs.join(format!("p{:02}.log", r.index));
                            println!("    exit {status}; its output: {}", log.display());
                        }
                        _ => {}
                    }
                }
                Ok(None) => still.push(r),
                Err(e) => return Err(e).wrap_err("waiting for a run"),
            }
        }
        running = still;
        tally.running = running.len();
        tally.queued = queue.len();
        if running.is_empty() && (queue.is_empty() || stopping) {
            break;
        }
        if tty || last_line.elapsed() >= LOG_LINE_INTERVAL {
            last_line = Instant::now();
            let line = progress_line(plan, &tally, &running, &durations, sweep_started);
            if tty {
                print!("\r\x1b[K{line}");
                let _ = std::io::stdout().flush();
            } else {
                println!("{line}");
            }
        }
        std::thread::sleep(TICK);
    }
    clear_line(tty);
    let left = open_runs(runs_dir, plan).len();
    println!(
        "sweep {}: {} finished, {} failed, {} to go in {:.0}s",
        plan.id,
        tally.done,
        tally.failed,
        left,
        sweep_started.elapsed().as_secs_f64()
    );
    if left > 0 {
        println!(
            "continue with `gradtop sweep resume {}` (or the same sweep command again)",
            plan.id
        );
    }
    println!("results: `gradtop sweep status {}`", plan.id);
    if let Some(code) = super::train::signal_exit_code() {
        return Ok(code);
    }
    Ok(if tally.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn clear_line(tty: bool) {
    if tty {
        print!("\r\x1b[K");
    }
}

/// Copies a child's JSON lines into its log and keeps its latest progress.
fn follow_child(
    stdout: std::process::ChildStdout,
    mut log: fs::File,
    progress: &Mutex<ChildProgress>,
) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(log, "{line}");
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if value["event"] == "progress" {
            if let Ok(mut p) = progress.lock() {
                p.step = value["step"].as_u64().unwrap_or(p.step);
                p.total_steps = value["total_steps"].as_u64().unwrap_or(p.total_steps);
                p.eta_s = value["eta_s"].as_f64();
            }
        }
    }
}

/// `sweep …: 2/6 finished, 2 running, 2 queued · ETA 3m 10s`.
fn progress_line(
    plan: &SweepPlan,
    tally: &Tally,
    running: &[Running],
    durations: &[f64],
    started: Instant,
) -> String {
    let progress: Vec<ChildProgress> = running
        .iter()
        .map(|r| r.progress.lock().map(|p| *p).unwrap_or_default())
        .collect();
    let eta = sweep_eta(
        &progress
            .iter()
            .zip(running)
            .map(|(p, r)| (r.started.elapsed().as_secs_f64(), p.eta_s))
            .collect::<Vec<_>>(),
        durations,
        tally.queued,
        plan.parallel,
    );
    let steps: Vec<String> = running
        .iter()
        .zip(&progress)
        .map(|(r, p)| {
            // `--steps` ends a run before its schedule does.
            let total = plan.steps.map_or(p.total_steps, |s| s.min(p.total_steps));
            if total > 0 {
                format!(
                    "p{:02} {:.0}%",
                    r.index,
                    100.0 * p.step as f64 / total as f64
                )
            } else {
                format!("p{:02} starting", r.index)
            }
        })
        .collect();
    format!(
        "sweep {}: {}/{} finished, {} failed, {} running, {} queued [{}] · {} · ETA {}",
        plan.id,
        tally.done,
        plan.runs.len(),
        tally.failed,
        tally.running,
        tally.queued,
        steps.join(", "),
        format_duration(started.elapsed().as_secs_f64()),
        eta.map_or_else(|| "?".into(), format_duration)
    )
}

/// Seconds until the sweep ends: the running runs' own ETAs, then the queued runs
/// `parallel` at a time, each taking as long as the finished ones took (or, before any
/// finished, as long as the running ones are expected to take in all).
fn sweep_eta(
    running: &[(f64, Option<f64>)],
    finished: &[f64],
    queued: usize,
    parallel: usize,
) -> Option<f64> {
    let mut slots: Vec<f64> = running
        .iter()
        .map(|&(_, eta)| eta)
        .collect::<Option<Vec<f64>>>()?;
    let per_run = if finished.is_empty() {
        let totals: Vec<f64> = running
            .iter()
            .filter_map(|&(e, eta)| Some(e + eta?))
            .collect();
        if totals.is_empty() {
            return None;
        }
        totals.iter().sum::<f64>() / totals.len() as f64
    } else {
        finished.iter().sum::<f64>() / finished.len() as f64
    };
    slots.resize(parallel.max(slots.len()), 0.0);
    for _ in 0..queued {
        // The next run starts on the slot that frees first.
        let (i, _) = slots.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1))?;
        slots[i] += per_run;
    }
    slots.into_iter().reduce(f64::max)
}

/// The Slurm batch script that runs the sweep's runs `indices` as one job array.
fn sbatch_script(
    runs_dir: &Path,
    plan: &SweepPlan,
    indices: &[usize],
    point: &PointOptions,
    exe: &Path,
) -> String {
    let folder = absolute(&sweep_dir(runs_dir, &plan.id));
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!("#SBATCH --job-name=gradtop-{}\n", plan.id));
    let list: Vec<String> = indices.iter().map(usize::to_string).collect();
    s.push_str(&format!(
        "#SBATCH --array={}%{}\n",
        list.join(","),
        plan.parallel
    ));
    s.push_str(&format!(
        "#SBATCH --output={}/{LOGS_DIR}/slurm-%A_%a.out\n",
        folder.display()
    ));
    s.push_str("#SBATCH --open-mode=append\n#SBATCH --requeue\n");
    if matches!(point.device, DeviceChoice::Cuda(_)) {
        s.push_str("#SBATCH --gres=gpu:1\n");
    }
    s.push_str(&format!(
        "# gradtop sweep {}: every task runs `gradtop resume` on its own run directory, which\n\
         # starts a queued run or continues it from its newest checkpoint after a requeue.\n",
        plan.id
    ));
    s.push_str("set -u\nRUNS=(\n");
    for run in &plan.runs {
        s.push_str(&format!(
            "  {}\n",
            shell_quote(&absolute(&plan.run_dir(runs_dir, run)).display().to_string())
        ));
    }
    s.push_str(")\n");
    let mut args = resume_args(Path::new("RUN"), plan.steps, point);
    args[1] = "\"${RUNS[$SLURM_ARRAY_TASK_ID]}\"".into();
    let args: Vec<String> = args
        .into_iter()
        .enumerate()
        .map(|(i, a)| if i == 1 { a } else { shell_quote(&a) })
        .collect();
    // `exec`: Slurm's SIGTERM (requeue, preemption, scancel) reaches gradtop itself, which
    // writes a checkpoint and ends `interrupted`.
    s.push_str(&format!(
        "exec {} {}\n",
        shell_quote(&exe.display().to_string()),
        args.join(" ")
    ));
    s
}

/// `text` as one word for bash.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Writes the sweep's batch script for its open runs and submits it with `sbatch`.
fn submit_slurm(
    runs_dir: &Path,
    mut plan: SweepPlan,
    point: &PointOptions,
    slurm_args: &[String],
) -> eyre::Result<ExitCode> {
    let indices = open_runs(runs_dir, &plan);
    let exe = std::env::current_exe().wrap_err("finding the gradtop executable")?;
    let folder = sweep_dir(runs_dir, &plan.id);
    fs::create_dir_all(folder.join(LOGS_DIR))
        .wrap_err_with(|| format!("creating {}", folder.join(LOGS_DIR).display()))?;
    let script = folder.join(SBATCH_FILE);
    crate::atomic_file::write(
        &script,
        sbatch_script(runs_dir, &plan, &indices, point, &exe).as_bytes(),
    )
    .wrap_err_with(|| format!("writing {}", script.display()))?;
    let output = Command::new("sbatch")
        .arg("--parsable")
        .args(slurm_args)
        .arg(&script)
        .output()
        .map_err(|e| {
            UsageError(format!(
                "running sbatch: {e} (the Slurm backend needs Slurm's client commands on \
                 PATH; the batch script is {})",
                script.display()
            ))
        })?;
    if !output.status.success() {
        return Err(eyre::eyre!(
            "sbatch refused {}: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let job = String::from_utf8_lossy(&output.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    plan.slurm_job = Some(job.clone());
    plan.save(runs_dir)?;
    println!(
        "submitted Slurm job {job}: {} task(s), at most {} at once; batch script {}",
        indices.len(),
        plan.parallel,
        script.display()
    );
    println!("follow it with `gradtop sweep status {}`", plan.id);
    Ok(ExitCode::SUCCESS)
}

/// Array task id → Slurm state (`PENDING`, `RUNNING`, …) of the sweep's job, from `squeue`;
/// empty when it has none queued or `squeue` cannot be asked.
fn slurm_states(job: &str) -> BTreeMap<usize, String> {
    let Ok(output) = Command::new("squeue")
        .args(["-h", "-r", "-j", job, "-o", "%K %T"])
        .output()
    else {
        return BTreeMap::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (task, state) = line.trim().split_once(' ')?;
            Some((task.parse().ok()?, state.trim().to_string()))
        })
        .collect()
}

/// One run's row in `gradtop sweep status`.
fn status_word(summary: Option<&RunSummary>, slurm: Option<&String>) -> String {
    let Some(summary) = summary else {
        return "missing".into();
    };
    match (summary.status, slurm.map(String::as_str)) {
        (RunStatus::Running | RunStatus::Paused, _) => summary.status.as_str().into(),
        (
            RunStatus::Queued | RunStatus::Interrupted | RunStatus::Stopped,
            Some("PENDING" | "REQUEUED" | "CONFIGURING"),
        ) => "queued".into(),
        (RunStatus::Queued | RunStatus::Interrupted, Some("RUNNING")) => "running".into(),
        (status, _) => status.as_str().into(),
    }
}

/// Runs `gradtop sweep status ID`: each run's grid values, status, steps and figures, from the
/// run directories (and `squeue` for a Slurm sweep).
pub fn status(runs_dir: &Path, id: &str, json: bool) -> eyre::Result<ExitCode> {
    let plan = load_plan(runs_dir, id)?;
    let summaries = run_summaries(runs_dir, &plan);
    let slurm = plan
        .slurm_job
        .as_deref()
        .map(slurm_states)
        .unwrap_or_default();
    let rows: Vec<serde_json::Value> = plan
        .runs
        .iter()
        .zip(&summaries)
        .map(|(run, summary)| {
            let best = summary.as_ref().and_then(|s| s.best.as_ref());
            serde_json::json!({
                "index": run.index,
                "values": run
                    .values
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect::<serde_json::Map<_, _>>(),
                "seed": run.seed,
                "run": run.run,
                "status": status_word(summary.as_ref(), slurm.get(&run.index)),
                "steps": summary.as_ref().map_or(0, |s| s.steps),
                "metric": best.map(|b| b.name.clone()),
                "best": best.map(|b| b.value).filter(|v| v.is_finite()),
                "last": best.map(|b| b.last).filter(|v| v.is_finite()),
            })
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        let doc = serde_json::json!({
            "id": plan.id,
            "backend": plan.backend,
            "slurm_job": plan.slurm_job,
            "runs": rows,
        });
        writeln!(out, "{doc}").wrap_err("writing to standard output")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        *counts
            .entry(row["status"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let mut text = format!(
        "sweep {} ({}{}): {}\n",
        plan.id,
        plan.backend,
        plan.slurm_job
            .as_deref()
            .map(|j| format!(", Slurm job {j}"))
            .unwrap_or_default(),
        counts.join(", ")
    );
    let header = ["#", "point", "status", "steps", "last", "best", "run"].map(String::from);
    let cells: Vec<[String; 7]> = plan
        .runs
        .iter()
        .zip(&rows)
        .map(|(run, row)| {
            let figure = |key: &str| {
                row[key]
                    .as_f64()
                    .map_or_else(|| "-".into(), |v| format!("{v:.4}"))
            };
            [
                format!("p{:02}", run.index),
                run_label(run),
                row["status"].as_str().unwrap_or("?").to_string(),
                row["steps"].to_string(),
                figure("last"),
                figure("best"),
                run.run.clone(),
            ]
        })
        .collect();
    let mut table = vec![header];
    table.extend(cells);
    text.push_str(&crate::format::text_columns(&table));
    if let Some(metric) = rows.iter().find_map(|r| r["metric"].as_str()) {
        text.push_str(&format!("figures: {metric}\n"));
    }
    out.write_all(text.as_bytes())
        .wrap_err("writing to standard output")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_parse_and_bad_ones_name_the_key() {
        let axis = parse_axis("lr=1e-3, 3e-4").expect("parses");
        assert_eq!(axis.key, "lr");
        assert_eq!(axis.values, vec!["1e-3", "3e-4"]);
        for (text, says) in [
            ("lr=", "--grid lr: the list of values is empty"),
            ("lr=1e-3,,2", "--grid lr=1e-3,,2: a value is empty"),
            ("=1,2", "the key is empty"),
            ("lr", "expected KEY=V1,V2"),
            ("seed=1,2", "--seeds 1,2"),
        ] {
            let e = parse_axis(text).expect_err(text).0;
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn the_eta_fills_free_slots_first() {
        // Two slots: 10 s and 30 s left; two queued runs of 20 s each go to the first slot
        // (10 → 30) and then to either (30 → 50).
        assert_eq!(
            sweep_eta(&[(5.0, Some(10.0)), (5.0, Some(30.0))], &[20.0], 2, 2),
            Some(50.0)
        );
        // Before any run finished, a run is expected to take what the running ones will.
        assert_eq!(sweep_eta(&[(10.0, Some(30.0))], &[], 1, 1), Some(70.0));
        assert_eq!(sweep_eta(&[(10.0, None)], &[], 1, 1), None);
    }

    #[test]
    fn the_batch_script_runs_each_task_on_its_own_run() {
        let plan = SweepPlan {
            id: "20261205-131500-fashion-cnn".into(),
            scenario: "/s/fashion-cnn.toml".into(),
            command: vec![],
            grid: vec![],
            seeds: vec![1, 2],
            sets: vec![],
            steps: Some(50),
            device: "cuda:0".into(),
            backend: "slurm".into(),
            parallel: 2,
            slurm_job: None,
            created_unix_s: 0.0,
            runs: (0..2)
                .map(|i| SweepRun {
                    index: i,
                    values: vec![],
                    seed: Some(i as u64 + 1),
                    run: format!("20261205-131500-fashion-cnn-p0{i}"),
                })
                .collect(),
        };
        let point = PointOptions {
            device: DeviceChoice::Cuda(0),
            data_dir: None,
            kernels: Kernels::Fast,
        };
        let script = sbatch_script(
            Path::new("/shared/runs"),
            &plan,
            &[1],
            &point,
            Path::new("/opt/gradtop"),
        );
        assert!(script.contains("#SBATCH --array=1%2\n"), "{script}");
        assert!(script.contains("#SBATCH --gres=gpu:1\n"), "{script}");
        assert!(script.contains("#SBATCH --requeue\n"), "{script}");
        assert!(
            script.contains("  /shared/runs/20261205-131500-fashion-cnn-p01\n"),
            "{script}"
        );
        assert!(
            script.contains(
                "exec /opt/gradtop resume \"${RUNS[$SLURM_ARRAY_TASK_ID]}\" --json --steps 50 \
                 --device cuda:0 --kernels fast\n"
            ),
            "{script}"
        );
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
