//! Measures how long an RL preset takes to solve CartPole-v1 (20-episode mean return ≥ 475),
//! and the native env's raw throughput.
//!
//! `cargo run --release --example rl_solve -- dqn|ppo fast|cleanrl SEED [MAX_STEPS]`
//! `cargo run --release --example rl_solve -- env`
//! `cargo run --release --example rl_solve -- check FIXTURE.json [ENV]`

use std::time::Instant;

use candle_core::Device;
use gradtop::envs::{CartPole, VecCartPole};
use gradtop::models::rl::{AgentKind, Preset, RlConfig, RlTrainer};
use gradtop::rng::Rng;

fn env_throughput() {
    let n = 20_000_000u64;
    let mut env = CartPole::new(0);
    let mut rng = Rng::new(0);
    let start = Instant::now();
    let mut episodes = 0u64;
    for _ in 0..n {
        let out = env.step_unchecked(rng.next_u64() & 1 == 1);
        if out.done() {
            env.reset_state(None);
            episodes += 1;
        }
    }
    let single = n as f64 / start.elapsed().as_secs_f64();
    let mut v = VecCartPole::cartpole(8, 0).expect("8 envs");
    let m = 2_000_000u64;
    let mut actions = [0usize; 8];
    let start = Instant::now();
    for _ in 0..m {
        for a in &mut actions {
            *a = (rng.next_u64() & 1) as usize;
        }
        v.step(&actions).expect("valid actions");
    }
    let vec8 = 8.0 * m as f64 / start.elapsed().as_secs_f64();
    println!(
        "{{\"single_env_steps_per_sec\": {single:.0}, \"vector8_steps_per_sec\": {vec8:.0}, \"episodes\": {episodes}}}"
    );
}

fn main() {
    // candle sizes its thread use from the host's physical cores, not this process's CPU
    // allowance; on a 2-CPU container that oversubscribes tiny matmuls badly.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        eprintln!(
            "candle would use {} threads; setting RAYON_NUM_THREADS={n}",
            candle_core::utils::get_num_threads()
        );
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("env") {
        env_throughput();
        return;
    }
    if args.first().map(String::as_str) == Some("check") {
        let path = std::path::PathBuf::from(args.get(1).map_or("", String::as_str));
        let env = args.get(2).map_or("cartpole", String::as_str);
        match gradtop::envs::check::check_fixture(&path, env) {
            Ok(report) => {
                print!("{}", gradtop::envs::check::format_report(&report));
                std::process::exit(if report.passed() { 0 } else { 1 });
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    }
    let agent = match args.first().map(String::as_str) {
        Some("ppo") => AgentKind::Ppo,
        _ => AgentKind::Dqn,
    };
    let preset = match args.get(1).map(String::as_str) {
        Some("cleanrl") => Preset::Cleanrl,
        _ => Preset::Fast,
    };
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let max: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(500_000);
    // Further arguments are `key=value` overrides of the agent's section, in TOML syntax.
    let overrides = format!(
        "[{}]\n{}",
        agent.as_str(),
        args.get(4..).unwrap_or(&[]).join("\n")
    );
    let mut cfg: RlConfig = toml::from_str(&overrides).expect("valid overrides");
    cfg.agent = agent;
    cfg.preset = preset;
    cfg.max_env_steps = Some(max);
    let mut t = RlTrainer::new(&cfg, &Device::Cpu, seed).expect("valid config");
    let wall = Instant::now();
    let mut last_print = Instant::now();
    while !t.is_finished() {
        t.step().expect("training step");
        if last_print.elapsed().as_secs_f64() > 5.0 {
            let c = t.counters();
            eprintln!(
                "  {} steps, {} episodes, mean20 {:.1}, {:.0} steps/s",
                c.env_steps,
                c.episodes,
                c.mean_return_20.unwrap_or(0.0),
                c.steps_per_sec
            );
            last_print = Instant::now();
        }
    }
    let c = t.counters();
    println!(
        "{{\"agent\": \"{}\", \"preset\": \"{:?}\", \"seed\": {seed}, \"solved_at_step\": {:?}, \"solved_at_seconds\": {:?}, \"env_steps\": {}, \"episodes\": {}, \"mean_return_20\": {:?}, \"steps_per_sec\": {:.0}, \"wall_s\": {:.2}}}",
        agent.as_str(),
        preset,
        c.solved_at_step,
        c.solved_at_seconds,
        c.env_steps,
        c.episodes,
        c.mean_return_20,
        c.steps_per_sec,
        wall.elapsed().as_secs_f64()
    );
}
