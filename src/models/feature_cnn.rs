//! The feature CNN behind the GAN's `fid_cnn` score: the classifier CNN trained once per
//! dataset by gradtop itself, cached in the user cache next to fetched data, and used to map
//! images to 128-d features whose Fréchet distance compares generated and real images.

use std::path::PathBuf;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::classifier::ClassifierModel;
use super::frechet::{frechet_distance_stats, FeatureStats};
use crate::atomic_file::AtomicFile;
use crate::data::batch::{gather, PixelScale};
use crate::data::{lookup, Dataset, DatasetName, Images, Split};
use crate::models::classifier::config::{ClassifierConfig, ModelKind};
use crate::models::classifier::ClassifierTrainer;

/// Dimension of the features compared.
pub const FEATURE_DIM: usize = 128;
/// Images per forward pass when extracting features.
const BATCH: usize = 500;

/// Why a score could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// A tensor operation failed.
    #[error("{0}")]
    Candle(String),
    /// The feature cache could not be read or written.
    #[error("{path}: {what}")]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// What went wrong.
        what: String,
    },
    /// The statistics could not be computed.
    #[error("Fréchet distance: {0}")]
    Frechet(String),
}

impl From<candle_core::Error> for ScoreError {
    fn from(e: candle_core::Error) -> Self {
        ScoreError::Candle(crate::models::error_text(&e))
    }
}

/// A trained CNN used only as a feature extractor.
pub struct FeatureNet {
    model: ClassifierModel,
    device: Device,
    /// Test accuracy it reached when it was trained (from the cache's sidecar).
    pub accuracy: f64,
}

/// Where the feature CNN of a dataset is cached.
pub fn cache_path(name: DatasetName) -> Option<PathBuf> {
    lookup::cache_dir(name).map(|d| d.join("feature-cnn.safetensors"))
}

impl FeatureNet {
    /// Loads the cached feature CNN of `dataset`, or trains one (one epoch of the classifier
    /// CNN, seed 0) and caches it. `progress` hears what is happening, including the accuracy.
    pub fn load_or_train(
        dataset: &Arc<Dataset>,
        device: &Device,
        progress: &mut dyn FnMut(String),
    ) -> Result<Self, ScoreError> {
        let path = cache_path(dataset.name).ok_or_else(|| ScoreError::Cache {
            path: PathBuf::from("~/.cache/gradtop"),
            what: "no user cache directory on this system".into(),
        })?;
        let sidecar = path.with_extension("json");
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let model = ClassifierModel::new(ModelKind::Cnn, vb)?;
        let cache_err = |what: String| ScoreError::Cache {
            path: path.clone(),
            what,
        };
        if path.is_file() && sidecar.is_file() {
            let mut vm = varmap;
            vm.load(&path)
                .map_err(|e| cache_err(crate::models::error_text(&e)))?;
            let meta: serde_json::Value = std::fs::read_to_string(&sidecar)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            let accuracy = meta["test_accuracy"].as_f64().unwrap_or(f64::NAN);
            progress(format!(
                "feature CNN for {} loaded from {} (test accuracy {accuracy:.4})",
                dataset.name,
                path.display()
            ));
            return Ok(Self {
                model,
                device: device.clone(),
                accuracy,
            });
        }
        progress(format!(
            "training the feature CNN for {} once (one epoch)…",
            dataset.name
        ));
        let config = ClassifierConfig {
            model: Some(ModelKind::Cnn),
            epochs: 1,
            batch_size: 64,
            seed: 0,
            ..ClassifierConfig::default()
        };
        let mut trainer = ClassifierTrainer::new(config, dataset.clone(), device.clone())?;
        let steps = trainer.steps_per_epoch();
        for _ in 0..steps {
            trainer.train_step()?;
        }
        let eval = trainer.evaluate(&dataset.test, usize::MAX)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| cache_err(e.to_string()))?;
        }
        // Written whole or not at all, so a crash never leaves half a cache.
        let file = AtomicFile::create(&path).map_err(|e| cache_err(e.to_string()))?;
        trainer
            .varmap()
            .save(file.temp_path())
            .map_err(|e| cache_err(crate::models::error_text(&e)))?;
        file.commit().map_err(|e| cache_err(e.to_string()))?;
        let meta = serde_json::json!({
            "dataset": dataset.name.as_str(),
            "test_accuracy": eval.accuracy,
            "steps": steps,
        });
        std::fs::write(&sidecar, meta.to_string()).map_err(|e| cache_err(e.to_string()))?;
        progress(format!(
            "feature CNN for {} trained: test accuracy {:.4} (cached in {})",
            dataset.name,
            eval.accuracy,
            path.display()
        ));
        let mut vm = VarMap::new();
        let model = ClassifierModel::new(
            ModelKind::Cnn,
            VarBuilder::from_varmap(&vm, DType::F32, device),
        )?;
        vm.load(&path)
            .map_err(|e| cache_err(crate::models::error_text(&e)))?;
        Ok(Self {
            model,
            device: device.clone(),
            accuracy: eval.accuracy,
        })
    }

    /// Features `(n × 128)` of 28×28 u8 images, row-major.
    pub fn features(&self, images: &Images) -> Result<Vec<f32>, ScoreError> {
        let split = Split {
            images: images.clone(),
            labels: vec![0; images.count],
        };
        let mut scratch = Vec::new();
        let mut out = Vec::with_capacity(images.count * FEATURE_DIM);
        let indices: Vec<u32> = (0..images.count as u32).collect();
        for chunk in indices.chunks(BATCH) {
            let batch = gather(
                &split,
                chunk,
                PixelScale::UnitInterval,
                &mut scratch,
                &self.device,
            )?;
            let f: Tensor = self.model.features(&batch.images)?;
            out.extend(f.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    /// Mean and covariance of the features of `images`.
    pub fn stats(&self, images: &Images) -> Result<FeatureStats, ScoreError> {
        FeatureStats::from_features(&self.features(images)?, FEATURE_DIM)
            .map_err(|e| ScoreError::Frechet(e.to_string()))
    }

    /// Fréchet distance between the features of `images` and reference statistics.
    pub fn score(&self, images: &Images, reference: &FeatureStats) -> Result<f64, ScoreError> {
        frechet_distance_stats(&self.stats(images)?, reference)
            .map_err(|e| ScoreError::Frechet(e.to_string()))
    }
}

/// Packs generated 28×28 u8 images into an [`Images`] stack.
pub fn images_from(samples: &[Vec<u8>]) -> Images {
    Images {
        pixels: samples.iter().flatten().copied().collect(),
        count: samples.len(),
        channels: 1,
        rows: 28,
        cols: 28,
    }
}
