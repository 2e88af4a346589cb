//! Classifiers described layer by layer in a scenario: the shipped ones train and learn headless,
//! and a layer that cannot work is refused before training with its index, shapes and line.

use std::path::Path;
use std::process::{Command, Output};

mod support;
use support::{stderr, summary};

fn gradtop(args: &[&str], data_dir: &Path, runs: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradtop"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--runs-dir")
        .arg(runs)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GRADTOP_DATA")
        .env("HOME", std::env::temp_dir().join("gradtop-test-home"))
        .output()
        .expect("the gradtop binary runs")
}

#[test]
fn the_shipped_described_models_learn_generated_digits_headless() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["mnist", "fashion-mnist"] {
        gradtop::data::synthetic::write_dataset(&dir.path().join(name), 3000, 500, 7).unwrap();
    }
    let runs = dir.path().join("runs");
    for (scenario, steps) in [
        ("scenarios/seed-keras-cnn.toml", "94"),
        ("scenarios/fashion-deep-cnn.toml", "94"),
    ] {
        let out = gradtop(
            &["train", scenario, "--headless", "--json", "--steps", steps],
            dir.path(),
            &runs,
        );
        assert!(out.status.success(), "{scenario}: {}", stderr(&out));
        let summary = summary(&out);
        assert_eq!(summary["model"], "custom", "{summary}");
        let accuracy = summary["test_accuracy"].as_f64().expect("accuracy");
        // Ten generated digit shapes: chance is 0.1.
        assert!(accuracy > 0.6, "{scenario}: test accuracy {accuracy}");
    }
}

#[test]
fn the_seed_model_described_trains_exactly_like_the_built_in_cnn() {
    let dir = tempfile::tempdir().unwrap();
    gradtop::data::synthetic::write_dataset(&dir.path().join("mnist"), 600, 100, 3).unwrap();
    let runs = dir.path().join("runs");
    let mut accuracies = Vec::new();
    for args in [
        vec!["train", "scenarios/seed-keras-cnn.toml"],
        vec!["train", "scenarios/mnist-cnn.toml"],
    ] {
        let mut args = args;
        args.extend(["--headless", "--json", "--steps", "30"]);
        let out = gradtop(&args, dir.path(), &runs);
        assert!(out.status.success(), "{}", stderr(&out));
        let s = summary(&out);
        accuracies.push((s["train_loss"].clone(), s["test_accuracy"].clone()));
    }
    assert_eq!(accuracies[0], accuracies[1]);
}

#[test]
fn a_layer_that_cannot_follow_the_one_before_is_refused_with_its_line_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let cases = [
        (
            "layers = [\n  { type = \"conv2d\", filters = 8, kernel = 3 },\n  { type = \"dense\", units = 10 },\n]\n",
            ":4: layers[1] (dense): dense needs flat input, but its input is the image (8, 26, 26)",
        ),
        (
            "layers = [\n  { type = \"maxpool\", size = 16 },\n  { type = \"maxpool\", size = 2 },\n  { type = \"flatten\" },\n  { type = \"dense\", units = 10 },\n]\n",
            ":4: layers[1] (maxpool): a 2×2 window does not fit its 1×1 input (1, 1, 1): it would leave 0×0",
        ),
        (
            "layers = [\n  { type = \"conv2d\", filters = 8, kernel = 31 },\n  { type = \"flatten\" },\n  { type = \"dense\", units = 10 },\n]\n",
            ":3: layers[0] (conv2d): the 31×31 kernel is larger than its 28×28 input (1, 28, 28)",
        ),
        (
            "[[layers]]\ntype = \"flatten\"\n\n[[layers]]\ntype = \"dense\"\nunits = 7\n",
            ":5: layers[1] (dense): the last layer gives (7), but the dataset has 10 classes",
        ),
        (
            "layers = [\n  { type = \"flatten\" },\n  { type = \"dense\", units = 10, activaton = \"relu\" },\n]\n",
            ":4: layers[1] (dense): unknown field `activaton`",
        ),
        (
            "layers = [\n  { type = \"lstm\", units = 10 },\n]\n",
            ":3: layers[0] (lstm): unknown variant `lstm`",
        ),
    ];
    for (i, (layers, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, format!("kind = \"classifier\"\n{layers}")).unwrap();
        let out = gradtop(
            &["train", path.to_str().unwrap(), "--headless"],
            dir.path(),
            &runs,
        );
        assert_eq!(out.status.code(), Some(2), "{layers}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("bad{i}.toml{needle}")),
            "{needle}\n{}",
            stderr(&out)
        );
    }
    assert!(!runs.exists(), "nothing was started");
}
