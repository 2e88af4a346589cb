//! The classifier's training loop body: model, Adam, data order and evaluation of one run,
//! stepped on demand, checkpointed and restored exactly. No UI, no run files.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use super::config::ClassifierConfig;
use super::ClassifierModel;
use crate::data::batch::{gather, PixelScale};
use crate::data::batch::{EpochOrder, EpochOrderState};
use crate::data::prefetch::{InputStats, Prefetcher};
use crate::data::{Dataset, Split, CLASSES};
use crate::models::init::seeded_var_builder;
use crate::models::loss::softmax_cross_entropy;
use crate::models::named_grads;
use crate::models::optim::TrainOptimizer;
use crate::params::Param;
use crate::rng::Rng;
use crate::runs::{restore_varmap, varmap_tensors, Checkpoint};

/// Examples per forward pass when evaluating.
const EVAL_BATCH: usize = 500;

/// Counts of (true class, predicted class) over a test set.
pub type Confusion = [[u32; CLASSES]; CLASSES];

/// One test image with what the model thinks of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplePrediction {
    /// The image's pixels, channel planes in order.
    pub pixels: Vec<u8>,
    /// `(channels, rows, cols)` of `pixels`.
    pub shape: (usize, usize, usize),
    /// The true class.
    pub label: u8,
    /// The three most probable classes with their probabilities, best first.
    pub top3: [(u8, f32); 3],
}

/// Result of evaluating on a split.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Counts of (true, predicted).
    pub confusion: Confusion,
    /// Examples evaluated.
    pub count: usize,
    /// Indices (into the split, ascending) of the examples predicted wrong, so the UI can show
    /// the model's current mistakes without another pass over the test set.
    pub misclassified: Vec<u32>,
}

/// What one traced step trained on and the gradients it applied.
pub struct StepTrace {
    /// Training-set indices of the batch, in batch order.
    pub indices: Vec<u32>,
    /// The batch as the model saw it, `(batch, 1, 28, 28)` f32.
    pub images: Tensor,
    /// The gradient of every weight, under the weight's checkpoint name.
    pub grads: Vec<(String, Tensor)>,
}

/// The model, optimizer and data order of one classifier run; steps on demand.
pub struct ClassifierTrainer {
    config: ClassifierConfig,
    dataset: Arc<Dataset>,
    device: Device,
    varmap: VarMap,
    model: ClassifierModel,
    optimizer: TrainOptimizer,
    order: EpochOrder,
    input: Prefetcher,
    scratch: Vec<f32>,
    step: u64,
    epoch: usize,
}

/// A classifier checkpoint's sidecar `state`: with the tensors, enough to continue the run
/// exactly where it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierState {
    /// Optimizer steps trained.
    pub step: u64,
    /// Completed epochs.
    pub epoch: usize,
    /// Examples of the current epoch already trained on.
    pub plan_position: usize,
    /// RNG state before the current epoch's shuffle (rebuilds the epoch's order).
    pub epoch_rng: [u64; 4],
    /// RNG state now.
    pub rng: [u64; 4],
    /// True when the tensors include the optimizer's moments (`adam.*`).
    pub optimizer_state: bool,
    /// Hyperparameters in force, including live changes.
    pub config: ClassifierConfig,
}

impl ClassifierState {
    /// Refuses a state that no run could have written at `step` (an edited or damaged
    /// sidecar): its config is checked as a scenario's is, its counters against the config.
    pub fn check(&self, step: u64) -> Result<(), String> {
        self.config.validate().map_err(|e| format!("config.{e}"))?;
        if self.step != step {
            return Err(format!(
                "step = {}: the checkpoint is at step {step}",
                self.step
            ));
        }
        if self.epoch > self.config.epochs {
            return Err(format!(
                "epoch = {}: more than the run's {} epochs",
                self.epoch, self.config.epochs
            ));
        }
        if self.plan_position > crate::data::idx::MAX_IMAGES {
            return Err(format!(
                "plan_position = {}: more images than a training set holds",
                self.plan_position
            ));
        }
        Ok(())
    }
}

/// What one call to [`ClassifierTrainer::train_step`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// Mean loss of the batch.
    pub loss: f64,
    /// Correct predictions in the batch (before the update).
    pub correct: usize,
    /// Batch size.
    pub count: usize,
    /// True when this batch ended an epoch.
    pub epoch_done: bool,
}

impl ClassifierTrainer {
    /// Builds the model with fresh weights from the config's seed.
    pub fn new(
        config: ClassifierConfig,
        dataset: Arc<Dataset>,
        device: Device,
    ) -> candle_core::Result<Self> {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, Rng::new(config.seed), DType::F32, &device);
        let (c, h, w) = dataset.image_shape();
        let model = ClassifierModel::from_layers(
            config.model_name(),
            &config.architecture(),
            super::spec::Shape::Image { c, h, w },
            vb,
        )?;
        // Keras and PyTorch Adam apply no weight decay (candle's AdamW defaults to 0.01); the
        // choice's defaults follow PyTorch's.
        let optimizer = TrainOptimizer::new(
            config.optimizer_choice(),
            config.lr,
            config.beta1,
            config.beta2,
            &varmap,
        )?;
        let order = EpochOrder::new(dataset.train.len(), Rng::new(config.seed ^ 0x0da7a));
        let input = Prefetcher::new(Arc::clone(&dataset), PixelScale::UnitInterval);
        Ok(Self {
            config,
            dataset,
            device,
            varmap,
            model,
            optimizer,
            order,
            input,
            scratch: Vec::new(),
            step: 0,
            epoch: 0,
        })
    }

    /// Trains on the next batch; reshuffles when an epoch ends.
    pub fn train_step(&mut self) -> candle_core::Result<StepOutcome> {
        Ok(self.step_inner(false)?.0)
    }

    /// [`Self::train_step`], also returning what went into the step and the gradients it
    /// applied, so the step can be replayed and checked in another framework.
    pub fn train_step_traced(&mut self) -> candle_core::Result<(StepOutcome, StepTrace)> {
        let (outcome, trace) = self.step_inner(true)?;
        let trace = trace.ok_or_else(|| candle_core::Error::Msg("no step trace kept".into()))?;
        Ok((outcome, trace))
    }

    fn step_inner(&mut self, keep: bool) -> candle_core::Result<(StepOutcome, Option<StepTrace>)> {
        // Before the batch is taken: the plan's length counts this step as still to come.
        let lr = self.scheduled_lr();
        let indices = match self.order.plan_mut().next_indices(self.config.batch_size) {
            Some(ix) => ix.to_vec(),
            None => {
                self.order.reshuffle();
                self.epoch += 1;
                self.order
                    .plan_mut()
                    .next_indices(self.config.batch_size)
                    .map(|ix| ix.to_vec())
                    .unwrap_or_default()
            }
        };
        let batch = self.input.batch(&indices, &self.device)?;
        // The next batch is gathered while this one trains (none across an epoch's end, whose
        // order is drawn only after this step).
        if let Some(next) = self.order.plan().peek(self.config.batch_size) {
            self.input.request(next);
        }
        let dropout_seed = super::sequential::dropout_seed(self.config.seed, self.step);
        let logits = self.model.forward_train(&batch.images, dropout_seed)?;
        let loss = softmax_cross_entropy(&logits, &batch.labels)?;
        let grads = loss.backward()?;
        let trace = if keep {
            Some(StepTrace {
                indices: indices.clone(),
                images: batch.images.clone(),
                grads: named_grads(&self.varmap, &grads)?,
            })
        } else {
            None
        };
        self.optimizer.set_learning_rate(lr);
        self.optimizer.step(&grads)?;
        let predicted = logits.argmax(D::Minus1)?;
        let correct = predicted
            .eq(&batch.labels)?
            .to_dtype(DType::U32)?
            .sum_all()?
            .to_scalar::<u32>()? as usize;
        self.step += 1;
        let epoch_done = self.order.plan().position() >= self.order.plan().len();
        if epoch_done {
            self.order.reshuffle();
            self.epoch += 1;
        }
        let outcome = StepOutcome {
            loss: loss.to_scalar::<f32>()? as f64,
            correct,
            count: indices.len(),
            epoch_done,
        };
        Ok((outcome, trace))
    }

    /// The learning rate the next step trains at: the base rate (`lr`, which a live change
    /// replaces) times the schedule's factor at this step of the planned run. The plan follows
    /// live changes of epochs and batch size.
    pub fn scheduled_lr(&self) -> f64 {
        let total = self.step + self.remaining_steps();
        self.config
            .schedule
            .learning_rate(self.config.lr, self.step, total)
    }

    /// The learning rate the last step trained at (before any step: the first step's).
    pub fn learning_rate(&self) -> f64 {
        self.optimizer.learning_rate()
    }

    /// Everything a checkpoint stores as tensors: the weights under their `VarBuilder` names
    /// (`conv1.weight`, `fc1.bias`, …) and the optimizer's state.
    pub fn checkpoint_tensors(&self) -> candle_core::Result<Vec<(String, Tensor)>> {
        let mut tensors = varmap_tensors(&self.varmap, "");
        tensors.extend(self.optimizer_state()?);
        Ok(tensors)
    }

    /// The optimiser's state for a checkpoint: Adam's `adam.m.<var>`, `adam.v.<var>` and
    /// `adam.step`, or SGD's `sgd.buf.<var>` and `sgd.step`.
    fn optimizer_state(&self) -> candle_core::Result<Vec<(String, Tensor)>> {
        self.optimizer.state_tensors()
    }

    /// Restores what [`Self::optimizer_state`] wrote; false (and the optimiser starts afresh)
    /// for a checkpoint without any optimiser state, an error for one with another optimiser's.
    fn load_optimizer_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
    ) -> candle_core::Result<bool> {
        let any_state = [crate::ops::adam::STEP_TENSOR, crate::ops::sgd::STEP_TENSOR]
            .iter()
            .any(|name| tensors.contains_key(*name));
        if !any_state {
            return Ok(false);
        }
        self.optimizer.load_state_tensors(tensors)?;
        Ok(true)
    }

    /// The counters, RNG state and hyperparameters a checkpoint's sidecar stores.
    pub fn checkpoint_state(&self) -> ClassifierState {
        let order = self.order.state();
        ClassifierState {
            step: self.step,
            epoch: self.epoch,
            plan_position: order.position,
            epoch_rng: order.epoch_rng,
            rng: order.rng,
            optimizer_state: true,
            config: self.config.clone(),
        }
    }

    /// Continues from `checkpoint`: weights, optimizer state (when the checkpoint has it), step
    /// and epoch counters, the epoch's data order and position, the RNG, and the hyperparameters
    /// in force when it was written. Returns whether the optimizer state was restored.
    pub fn restore(&mut self, checkpoint: &Checkpoint) -> Result<bool, String> {
        let state: ClassifierState = checkpoint
            .state_as()
            .map_err(|e| format!("checkpoint at step {}: {e}", checkpoint.step))?;
        state
            .check(checkpoint.step)
            .map_err(|e| format!("checkpoint at step {}: {e}", checkpoint.step))?;
        let images = self.dataset.train.len();
        if state.plan_position > images {
            return Err(format!(
                "checkpoint at step {}: plan_position = {} is past the {images} training images",
                checkpoint.step, state.plan_position
            ));
        }
        restore_varmap(&self.varmap, &checkpoint.tensors, "").map_err(|e| e.to_string())?;
        let optimizer_restored = self
            .load_optimizer_state(&checkpoint.tensors)
            .map_err(|e| crate::models::error_text(&e))?;
        self.config = state.config;
        self.step = state.step;
        self.epoch = state.epoch;
        self.order = EpochOrder::restore(
            self.dataset.train.len(),
            EpochOrderState {
                epoch_rng: state.epoch_rng,
                rng: state.rng,
                position: state.plan_position,
            },
        );
        self.optimizer.set_learning_rate(self.scheduled_lr());
        Ok(optimizer_restored)
    }

    /// Accuracy, loss and confusion matrix on the first `limit` examples of `split`.
    pub fn evaluate(&mut self, split: &Split, limit: usize) -> candle_core::Result<Evaluation> {
        let count = limit.min(split.len());
        let mut confusion = [[0u32; CLASSES]; CLASSES];
        let mut loss_sum = 0.0;
        let mut correct = 0usize;
        let mut misclassified = Vec::new();
        let indices: Vec<u32> = (0..count as u32).collect();
        for chunk in indices.chunks(EVAL_BATCH) {
            let batch = gather(
                split,
                chunk,
                PixelScale::UnitInterval,
                &mut self.scratch,
                &self.device,
            )?;
            let logits = self.model.forward(&batch.images)?;
            loss_sum += softmax_cross_entropy(&logits, &batch.labels)?.to_scalar::<f32>()? as f64
                * chunk.len() as f64;
            let predicted = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
            for (&i, &p) in chunk.iter().zip(&predicted) {
                let truth = split.labels[i as usize] as usize;
                confusion[truth][p as usize] += 1;
                if truth == p as usize {
                    correct += 1;
                } else {
                    misclassified.push(i);
                }
            }
        }
        Ok(Evaluation {
            accuracy: correct as f64 / count.max(1) as f64,
            loss: loss_sum / count.max(1) as f64,
            confusion,
            count,
            misclassified,
        })
    }

    /// Top-3 predictions for the given test images.
    pub fn predict(&mut self, indices: &[u32]) -> candle_core::Result<Vec<SamplePrediction>> {
        let split = &self.dataset.test;
        let batch = gather(
            split,
            indices,
            PixelScale::UnitInterval,
            &mut self.scratch,
            &self.device,
        )?;
        let probs = candle_nn::ops::softmax(&self.model.forward(&batch.images)?, D::Minus1)?
            .to_vec2::<f32>()?;
        Ok(indices
            .iter()
            .zip(probs)
            .map(|(&i, p)| {
                let mut order: Vec<usize> = (0..CLASSES).collect();
                order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
                SamplePrediction {
                    pixels: split.images.image(i as usize).to_vec(),
                    shape: split.images.shape(),
                    label: split.labels[i as usize],
                    top3: [0, 1, 2].map(|k| (order[k] as u8, p[order[k]])),
                }
            })
            .collect())
    }

    /// Steps per epoch at the current batch size.
    pub fn steps_per_epoch(&self) -> u64 {
        self.dataset.train.len().div_ceil(self.config.batch_size) as u64
    }

    /// What obtaining training batches cost the training thread so far.
    pub fn input_stats(&self) -> InputStats {
        self.input.stats()
    }

    /// Steps still to train in the planned epochs.
    pub fn remaining_steps(&self) -> u64 {
        let left_in_epoch = (self.order.plan().len() - self.order.plan().position())
            .div_ceil(self.config.batch_size) as u64;
        let later_epochs = self.config.epochs.saturating_sub(self.epoch + 1) as u64;
        if self.epoch >= self.config.epochs {
            0
        } else {
            left_in_epoch + later_epochs * self.steps_per_epoch()
        }
    }

    /// Completed epochs.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Steps trained.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The current hyperparameters.
    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }

    /// The weights, by name (for checkpoints).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The data being trained on.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// Applies a live hyperparameter change from the next step on, or says why it cannot.
    pub fn set(&mut self, param: Param, value: f64) -> Result<(), String> {
        let value = param.validate(value)?;
        match param {
            Param::Lr => {
                self.config.lr = value;
                self.optimizer.set_learning_rate(self.scheduled_lr());
            }
            Param::BatchSize => self.config.batch_size = value as usize,
            Param::Epochs => {
                let epochs = value as usize;
                if epochs <= self.epoch {
                    return Err(format!(
                        "epochs {epochs}: {} epochs are already done",
                        self.epoch
                    ));
                }
                self.config.epochs = epochs;
            }
            other => return Err(format!("{other} does not apply to a classifier")),
        }
        Ok(())
    }

    /// The value in force of a live hyperparameter; `None` for one a classifier does not have.
    pub fn value(&self, param: Param) -> Option<f64> {
        Some(match param {
            Param::Lr => self.config.lr,
            Param::BatchSize => self.config.batch_size as f64,
            Param::Epochs => self.config.epochs as f64,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::lookup::load_from_dir;
    use crate::data::DatasetName;
    use crate::models::classifier::config::ModelKind;
    use crate::runs::{load_checkpoint, write_checkpoint};

    fn trainer(dataset: &Arc<Dataset>) -> ClassifierTrainer {
        let config = ClassifierConfig {
            model: Some(ModelKind::Mlp),
            batch_size: 16,
            seed: 9,
            ..ClassifierConfig::default()
        };
        ClassifierTrainer::new(config, dataset.clone(), Device::Cpu).expect("trainer")
    }

    fn weights(t: &ClassifierTrainer) -> Vec<(String, Vec<f32>)> {
        varmap_tensors(t.varmap(), "")
            .into_iter()
            .map(|(n, w)| (n, w.flatten_all().and_then(|w| w.to_vec1()).expect("f32")))
            .collect()
    }

    /// 100 training and 20 test images generated from `seed` into `dir`, loaded.
    fn generated_digits(dir: &std::path::Path, seed: u64) -> Arc<Dataset> {
        crate::data::synthetic::write_dataset(&dir.join("mnist"), 100, 20, seed).expect("dataset");
        Arc::new(load_from_dir(DatasetName::Mnist, &dir.join("mnist")).expect("load"))
    }

    /// A small net with every piece of state a resume must bring back: batch norm's running
    /// statistics, dropout masks drawn per step, and the optimiser and schedule `extra` names.
    fn described(dataset: &Arc<Dataset>, extra: &str) -> ClassifierTrainer {
        let text = format!(
            r#"layers = [
                  {{ type = "conv2d", filters = 4, kernel = 3 }},
                  {{ type = "batchnorm" }},
                  {{ type = "relu" }},
                  {{ type = "maxpool", size = 2 }},
                  {{ type = "flatten" }},
                  {{ type = "dropout", rate = 0.3 }},
                  {{ type = "dense", units = 16, activation = "relu" }},
                  {{ type = "dense", units = 10 }},
                ]
                batch_size = 16
                seed = 4
                epochs = 3
                {extra}"#
        );
        let config: ClassifierConfig = toml::from_str(&text).expect("a classifier config");
        config.validate().expect("valid");
        ClassifierTrainer::new(config, dataset.clone(), Device::Cpu).expect("trainer")
    }

    #[test]
    fn a_restored_described_model_with_dropout_and_batch_norm_continues_bit_identically() {
        for extra in [
            "",
            "optimizer = \"adamw\"\n[schedule]\nkind = \"cosine\"\nwarmup_steps = 5",
            "optimizer = \"sgd\"\nlr = 0.05\n[schedule]\nkind = \"step\"\nstep_every = 4\ngamma = 0.5",
        ] {
            restored_continues_bit_identically(extra);
        }
    }

    #[test]
    fn a_live_lr_change_scales_the_schedule_instead_of_replacing_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dataset = generated_digits(dir.path(), 5);
        let extra = "lr = 0.01\n[schedule]\nkind = \"cosine\"\nwarmup_steps = 4";
        let mut trainer = described(&dataset, extra);
        // 100 images / 16 = 7 steps per epoch, 3 epochs: 21 steps, 4 of warm-up.
        assert_eq!(trainer.scheduled_lr(), 0.01 * 1.0 / 4.0);
        for _ in 0..10 {
            trainer.train_step().expect("step");
        }
        let factor = trainer.config().schedule.factor(10, 21);
        assert!(factor < 1.0 && factor > 0.0, "{factor}");
        assert_eq!(trainer.scheduled_lr(), 0.01 * factor);
        trainer.set(Param::Lr, 0.02).expect("lr");
        assert_eq!(trainer.config().lr, 0.02);
        assert_eq!(trainer.scheduled_lr(), 0.02 * factor);
        trainer.train_step().expect("step");
        assert_eq!(trainer.learning_rate(), 0.02 * factor);
    }

    fn restored_continues_bit_identically(extra: &str) {
        let dir = tempfile::tempdir().expect("temp dir");
        let dataset = generated_digits(dir.path(), 5);
        let mut original = described(&dataset, extra);
        for _ in 0..9 {
            original.train_step().expect("step");
        }
        let info = write_checkpoint(
            &dir.path().join("checkpoints"),
            original.step(),
            &original.checkpoint_tensors().expect("tensors"),
            &original.checkpoint_state(),
        )
        .expect("write");
        let checkpoint = load_checkpoint(&info, &Device::Cpu).expect("load");
        let mut restored = described(&dataset, extra);
        restored.train_step().expect("a step to move away");
        let lr_before = original.learning_rate();
        assert!(restored.restore(&checkpoint).expect("restore"));
        assert_eq!(weights(&restored), weights(&original));
        assert_eq!(restored.scheduled_lr(), original.scheduled_lr());
        let mut rates = vec![lr_before];
        for _ in 0..6 {
            let a = original.train_step().expect("step").loss;
            let b = restored.train_step().expect("step").loss;
            assert_eq!(a, b, "{extra}");
            assert_eq!(original.learning_rate(), restored.learning_rate());
            rates.push(original.learning_rate());
        }
        if !extra.is_empty() {
            assert!(rates.windows(2).any(|w| w[0] != w[1]), "{extra}: {rates:?}");
        }
        assert_eq!(weights(&restored), weights(&original));
        let running = weights(&original)
            .into_iter()
            .find(|(n, _)| n == "bn1.running_mean")
            .expect("running mean");
        assert!(
            running.1.iter().any(|&v| v != 0.0),
            "batch norm statistics move"
        );
        let a = original.evaluate(&dataset.test, 20).expect("eval");
        let b = restored.evaluate(&dataset.test, 20).expect("eval");
        assert_eq!(a, b);
    }

    #[test]
    fn a_restored_trainer_continues_with_the_same_weights_counters_and_data_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dataset = generated_digits(dir.path(), 3);
        // 100 examples / 16 = 7 steps per epoch: 9 steps end mid-way through the second epoch.
        let mut original = trainer(&dataset);
        for _ in 0..9 {
            original.train_step().expect("step");
        }
        original.set(Param::Lr, 5e-4).expect("lr");
        let info = write_checkpoint(
            &dir.path().join("checkpoints"),
            original.step(),
            &original.checkpoint_tensors().expect("tensors"),
            &original.checkpoint_state(),
        )
        .expect("write");
        let checkpoint = load_checkpoint(&info, &Device::Cpu).expect("load");

        let mut restored = trainer(&dataset);
        restored
            .train_step()
            .expect("a step to move away from the checkpoint");
        assert!(
            restored.restore(&checkpoint).expect("restore"),
            "Adam's moments are in the checkpoint"
        );
        assert_eq!(weights(&restored), weights(&original));
        assert_eq!(restored.checkpoint_state(), original.checkpoint_state());
        assert_eq!(restored.config().lr, 5e-4);
        assert_eq!(restored.remaining_steps(), original.remaining_steps());
        // The same batches follow: the epoch order and position came back.
        for _ in 0..8 {
            let a = original
                .order
                .plan_mut()
                .next_indices(16)
                .map(<[u32]>::to_vec);
            let b = restored
                .order
                .plan_mut()
                .next_indices(16)
                .map(<[u32]>::to_vec);
            assert_eq!(a, b);
        }
        assert_eq!(original.order.state(), restored.order.state());
        // With weights, moments, data order and RNG restored, training continues identically
        // (both plans were advanced alike above).
        for _ in 0..5 {
            let a = original.train_step().expect("step").loss;
            let b = restored.train_step().expect("step").loss;
            assert_eq!(a, b);
        }
        assert_eq!(weights(&restored), weights(&original));
    }
}
