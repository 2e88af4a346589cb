//! `gradtop data fetch` and `gradtop score-samples`: getting datasets, and scoring images
//! from any generator with the feature CNN's Fréchet distance.

use std::path::Path;
use std::process::ExitCode;

use color_eyre::eyre;

use super::UsageError;
use crate::data::{self, DatasetName};
use crate::device::DeviceChoice;

/// Downloads `name` (with a progress bar) and verifies its checksums.
pub fn fetch(name: DatasetName, dir: Option<&Path>) -> eyre::Result<ExitCode> {
    let mut bar = crate::progress::FetchBar::new();
    let dir = data::fetch::fetch(name, dir, &mut bar)?;
    bar.done();
    println!("{name} is ready in {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Prints `fid_cnn` of the 28×28 images in `file` against `dataset`'s test set.
pub fn score_samples(
    file: &Path,
    dataset: DatasetName,
    limit: Option<usize>,
    device: DeviceChoice,
    data_dir: Option<&Path>,
) -> eyre::Result<ExitCode> {
    let mut images = data::idx::read_images(file)?;
    if images.shape() != (1, 28, 28) {
        let (c, h, w) = images.shape();
        return Err(UsageError(format!(
            "{}: images are {c}×{h}×{w}, the feature CNN takes grey 28×28",
            file.display(),
        ))
        .into());
    }
    if let Some(n) = limit.filter(|&n| n < images.count) {
        images.pixels.truncate(n * 784);
        images.count = n;
    }
    let device = device.open().map_err(UsageError)?;
    let ds = std::sync::Arc::new(data::lookup::load(dataset, data_dir)?);
    let net = crate::models::feature_cnn::FeatureNet::load_or_train(&ds, &device, &mut |m| {
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
