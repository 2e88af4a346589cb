//! A sweep on a real Slurm: a one-node cluster on this machine (munged, slurmctld, slurmd with a
//! `slurm.conf` written here), a 2×2 sweep submitted as a job array, one task requeued mid-run,
//! and every run finished with each step logged once — the requeued one resumed from the
//! checkpoint it wrote on Slurm's SIGTERM.
//!
//! Needs Debian's `slurm-wlm` and `munge` and root (the daemons run as root); `.ci/run`
//! installs them and runs it with `cargo test --release --test slurm -- --ignored`. It takes
//! about three minutes, two of which Slurm holds a requeued task before it may start again.

use std::path::{Path, PathBuf};

use gradtop::runs::MetricRecord;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The daemons this test started, stopped however it ends.
struct Cluster {
    conf: PathBuf,
    daemons: Vec<Child>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("scancel")
            .arg("--user=root")
            .env("SLURM_CONF", &self.conf)
            .status();
        for daemon in &mut self.daemons {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}

fn run(cmd: &mut Command) -> Output {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e} (is slurm-wlm installed?)"));
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Writes `slurm.conf` for one node named after this host, starts munged (unless running),
/// slurmctld and slurmd, and waits for the node to be idle.
fn start_cluster(root: &Path) -> Cluster {
    let host = text(&run(Command::new("hostname").arg("-s")))
        .trim()
        .to_string();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    for dir in ["state", "spool", "log"] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir");
    }
    let r = root.display();
    let conf = root.join("slurm.conf");
    std::fs::write(
        &conf,
        format!(
            "ClusterName=gradtop\nSlurmctldHost={host}\nSlurmUser=root\nSlurmdUser=root\n\
             AuthType=auth/munge\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
             SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n\
             AccountingStorageType=accounting_storage/none\n\
             JobAcctGatherType=jobacct_gather/none\nJobCompType=jobcomp/none\nMpiDefault=none\n\
             StateSaveLocation={r}/state\nSlurmdSpoolDir={r}/spool\n\
             SlurmctldPidFile={r}/slurmctld.pid\nSlurmdPidFile={r}/slurmd.pid\n\
             SlurmctldLogFile={r}/log/slurmctld.log\nSlurmdLogFile={r}/log/slurmd.log\n\
             ReturnToService=2\n\
             NodeName={host} CPUs={cpus} State=UNKNOWN\n\
             PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n"
        ),
    )
    .expect("write slurm.conf");
    let munged_running = Command::new("pgrep")
        .arg("-x")
        .arg("munged")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !munged_running {
        std::fs::create_dir_all("/run/munge").expect("mkdir /run/munge");
        run(Command::new("chown").args(["munge:munge", "/run/munge"]));
        run(Command::new("runuser").args(["-u", "munge", "--", "/usr/sbin/munged"]));
    }
    let mut cluster = Cluster {
        conf: conf.clone(),
        daemons: Vec::new(),
    };
    for daemon in ["slurmctld", "slurmd"] {
        let child = Command::new(daemon)
            .args(["-D", "-f"])
            .arg(&conf)
            .env("SLURM_CONF", &conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {daemon}: {e} (is slurm-wlm installed?)"));
        cluster.daemons.push(child);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sinfo = Command::new("sinfo")
            .args(["-h", "-o", "%T"])
            .env("SLURM_CONF", &conf)
            .output();
        if sinfo.is_ok_and(|o| text(&o).trim() == "idle") {
            return cluster;
        }
        assert!(
            Instant::now() < deadline,
            "the Slurm node did not become idle; logs in {r}/log"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn gradtop(conf: &Path, runs: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradtop"))
        .args(args)
        .arg("--runs-dir")
        .arg(runs)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("SLURM_CONF", conf)
        .output()
        .expect("the gradtop binary runs")
}

fn sweep_status(conf: &Path, runs: &Path, id: &str) -> serde_json::Value {
    let out = gradtop(conf, runs, &["sweep", "status", id, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status is JSON")
}

fn events(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("event JSON"))
        .collect()
}

fn train_loss_steps(run_dir: &Path) -> Vec<u64> {
    let (records, skipped) =
        gradtop::runs::read_jsonl::<MetricRecord>(&run_dir.join("metrics.jsonl")).expect("metrics");
    assert_eq!(
        skipped,
        0,
        "every line of {} is a metric",
        run_dir.display()
    );
    records
        .into_iter()
        .filter(|m| m.name == "train_loss")
        .map(|m| m.step)
        .collect()
}

#[test]
#[ignore = "needs slurm-wlm, munge and root; .ci/run runs it"]
fn a_sweep_runs_on_slurm_and_a_requeued_task_resumes_its_run() {
    let started = Instant::now();
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data");
    gradtop::data::synthetic::write_dataset(&data.join("mnist"), 3000, 500, 7).expect("data");
    let runs = root.path().join("runs");
    let cluster = start_cluster(&root.path().join("slurm"));
    let conf = cluster.conf.clone();

    let data_arg = data.display().to_string();
    let out = gradtop(
        &conf,
        &runs,
        &[
            "sweep",
            "scenarios/mnist-cnn.toml",
            "--backend",
            "slurm",
            "--grid",
            "lr=1e-3,3e-3",
            "--seeds",
            "1,2",
            "--parallel",
            "2",
            "--steps",
            "1200",
            "--set",
            "epochs=20",
            "--set",
            "eval_every=400",
            "--set",
            "eval_subset=200",
            "--device",
            "cpu",
            "--data-dir",
            &data_arg,
        ],
    );
    let said = text(&out);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("submitted Slurm job"), "{said}");
    let plan: serde_json::Value = {
        let sweeps = std::fs::read_dir(runs.join("sweeps"))
            .expect("sweeps folder")
            .next()
            .expect("one sweep")
            .expect("entry")
            .path();
        serde_json::from_str(&std::fs::read_to_string(sweeps.join("sweep.json")).expect("plan"))
            .expect("plan JSON")
    };
    let id = plan["id"].as_str().expect("id").to_string();
    let job = plan["slurm_job"].as_str().expect("job id").to_string();
    let run_dirs: Vec<PathBuf> = plan["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| runs.join(r["run"].as_str().expect("run name")))
        .collect();
    assert_eq!(run_dirs.len(), 4);

    // Requeue the first task once it has trained a while.
    let first = &run_dirs[0];
    let deadline = Instant::now() + Duration::from_secs(120);
    while train_loss_steps(first).len() < 200 {
        assert!(Instant::now() < deadline, "task 0 never got going");
        std::thread::sleep(Duration::from_millis(200));
    }
    run(Command::new("scontrol")
        .args(["requeue", &format!("{job}_0")])
        .env("SLURM_CONF", &conf));
    // Slurm holds a requeued task for about two minutes before it may start again.
    let deadline = Instant::now() + Duration::from_secs(420);
    loop {
        let status = sweep_status(&conf, &runs, &id);
        let states: Vec<&str> = status["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .map(|r| r["status"].as_str().expect("status"))
            .collect();
        if states.iter().all(|s| *s == "finished") {
            break;
        }
        assert!(
            !states.contains(&"failed"),
            "a run failed: {status}; logs in {}",
            runs.join("sweeps").join(&id).join("logs").display()
        );
        assert!(
            Instant::now() < deadline,
            "the sweep did not finish: {status}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }

    // The requeued run: interrupted with a checkpoint, started again from it, finished.
    let kinds: Vec<(String, serde_json::Value)> = events(first)
        .into_iter()
        .map(|e| (e["kind"].as_str().unwrap_or("").to_string(), e))
        .collect();
    let interrupted = kinds
        .iter()
        .position(|(k, e)| k == "end" && e["status"] == "interrupted")
        .unwrap_or_else(|| panic!("no interrupted end: {kinds:?}"));
    let checkpoint_step = kinds[..interrupted]
        .iter()
        .rev()
        .find(|(k, e)| k == "checkpoint" && e["reason"] == "signal")
        .map(|(_, e)| e["step"].as_u64().expect("step"))
        .expect("a checkpoint on Slurm's SIGTERM");
    let resumed = kinds[interrupted..]
        .iter()
        .find(|(k, _)| k == "start")
        .map(|(_, e)| e["resumed_from"].as_u64())
        .expect("a second start");
    assert_eq!(resumed, Some(checkpoint_step), "{kinds:?}");
    assert!((200..1200).contains(&checkpoint_step), "{checkpoint_step}");
    assert_eq!(
        kinds.last().map(|(k, e)| (k.as_str(), e["status"].clone())),
        Some(("end", serde_json::json!("finished")))
    );
    for dir in &run_dirs {
        assert_eq!(
            train_loss_steps(dir),
            (1..=1200).collect::<Vec<u64>>(),
            "{}: every step logged once",
            dir.display()
        );
    }
    let listed = gradtop(&conf, &runs, &["runs", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("runs JSON");
    assert!(listed
        .as_array()
        .expect("array")
        .iter()
        .all(|r| r["sweep"] == id.as_str() && r["status"] == "finished"));
    drop(cluster);
    eprintln!(
        "the Slurm sweep took {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
