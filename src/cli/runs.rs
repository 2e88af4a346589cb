//! `gradtop runs [--json]`: the Runs tab's list for scripts — gradtop's runs and the TensorBoard
//! runs under the runs folder, newest first.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use color_eyre::eyre::{self, WrapErr};

use crate::runs::{list_runs, RunSummary};

/// Prints the runs under `runs_dir`: a table, or with `json` one JSON array.
pub fn run(runs_dir: &Path, json: bool) -> eyre::Result<ExitCode> {
    let rows = list_runs(runs_dir).wrap_err_with(|| format!("listing {}", runs_dir.display()))?;
    let mut out = std::io::stdout().lock();
    let text = if json {
        let array: Vec<serde_json::Value> = rows.iter().map(run_json).collect();
        format!("{}\n", serde_json::Value::Array(array))
    } else {
        table(&rows)
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .wrap_err("writing to standard output")?;
    Ok(ExitCode::SUCCESS)
}

/// One run as a JSON object: the list's columns, its metrics (a TensorBoard run's tags), where
/// it lives, the sweep it belongs to (`sweep`: the id, or null) and its hyperparameters from
/// `config.toml` (`settings`, each value as written there).
pub fn run_json(run: &RunSummary) -> serde_json::Value {
    serde_json::json!({
        "name": run.name,
        "path": run.path.display().to_string(),
        "kind": run.kind,
        "scenario": run.scenario,
        "dataset": run.dataset,
        "status": run.status.as_str(),
        "steps": run.steps,
        "metrics": run.metrics,
        "best": run.best.as_ref().map(|b| serde_json::json!({
            "name": b.name,
            "value": finite_or_null(b.value),
            "step": b.step,
        })),
        "started": run.started.map(|t| t.display()),
        "updated_unix_s": run.updated_unix_s,
        "pid": run.pid,
        "detail": run.detail,
        "sweep": run.sweep.as_ref().map(|s| s.id.clone()),
        "sweep_index": run.sweep.as_ref().map(|s| s.index),
        "settings": run
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>(),
    })
}

/// JSON has no NaN or infinity: such a figure is `null`.
fn finite_or_null(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// The list as aligned text columns, a header first.
fn table(rows: &[RunSummary]) -> String {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let figure = match &r.best {
                Some(b) => format!("{} {:.4}", b.name, b.value),
                None => r.metrics.join(", "),
            };
            [
                r.name.clone(),
                r.kind.clone().unwrap_or_else(|| "?".into()),
                r.status.as_str().to_string(),
                r.steps.to_string(),
                figure,
            ]
        })
        .collect();
    let header = ["name", "kind", "status", "steps", "best / metrics"].map(String::from);
    let mut rows = vec![header];
    rows.extend(cells);
    crate::format::text_columns(&rows)
}
