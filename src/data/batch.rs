//! Turning u8 images into f32 batches, in a shuffled order reproducible from the seed.

use candle_core::{Device, Tensor};

use super::Split;
use crate::rng::Rng;

/// One mini-batch on the training device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Images, `(batch, channels, rows, cols)` f32 in [0, 1] (or [−1, 1] when asked).
    pub images: Tensor,
    /// Labels, `(batch,)` u32.
    pub labels: Tensor,
}

/// How pixels map to floats: classifiers take [0, 1], GANs [−1, 1] to match a tanh output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelScale {
    /// x / 255.
    UnitInterval,
    /// x / 127.5 − 1.
    Symmetric,
}

impl PixelScale {
    /// `(mul, add)` with `pixel as f32 * mul + add` the scaled value.
    pub fn coefficients(self) -> (f32, f32) {
        match self {
            PixelScale::UnitInterval => (1.0 / 255.0, 0.0),
            PixelScale::Symmetric => (1.0 / 127.5, -1.0),
        }
    }
}

/// The order in which one epoch visits the training set; reshuffled each epoch from the run's RNG.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    order: Vec<u32>,
    cursor: usize,
}

impl BatchPlan {
    /// A fresh shuffled order over `len` examples.
    pub fn shuffled(len: usize, rng: &mut Rng) -> Self {
        let mut order: Vec<u32> = (0..len as u32).collect();
        rng.shuffle(&mut order);
        Self { order, cursor: 0 }
    }

    /// The next `batch_size` indices, or fewer at the end of the epoch, or `None` when it is done.
    pub fn next_indices(&mut self, batch_size: usize) -> Option<&[u32]> {
        if self.cursor >= self.order.len() {
            return None;
        }
        let end = (self.cursor + batch_size).min(self.order.len());
        let slice = &self.order[self.cursor..end];
        self.cursor = end;
        Some(slice)
    }

    /// The indices [`Self::next_indices`] would return next, without handing them out.
    pub fn peek(&self, batch_size: usize) -> Option<&[u32]> {
        let end = (self.cursor + batch_size).min(self.order.len());
        (self.cursor < end).then(|| &self.order[self.cursor..end])
    }

    /// Examples already handed out this epoch.
    pub fn position(&self) -> usize {
        self.cursor
    }

    /// Examples in the epoch.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True for an empty split.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// A run's data order across epochs: the current epoch's [`BatchPlan`], the RNG that shuffles
/// the next one, and the RNG state the current one was drawn from — what a checkpoint needs to
/// rebuild the order exactly.
#[derive(Debug, Clone)]
pub struct EpochOrder {
    plan: BatchPlan,
    rng: Rng,
    /// `rng` as it was before `plan` was shuffled.
    epoch_rng: Rng,
}

/// Where an [`EpochOrder`] stands, in the words a checkpoint's sidecar stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochOrderState {
    /// RNG state before the current epoch's shuffle.
    pub epoch_rng: [u64; 4],
    /// RNG state now.
    pub rng: [u64; 4],
    /// Examples of the current epoch already handed out.
    pub position: usize,
}

impl EpochOrder {
    /// The first epoch's order over `len` examples, shuffled by `rng`.
    pub fn new(len: usize, mut rng: Rng) -> Self {
        let epoch_rng = rng.clone();
        let plan = BatchPlan::shuffled(len, &mut rng);
        Self {
            plan,
            rng,
            epoch_rng,
        }
    }

    /// Rebuilds the order a checkpoint described: the same epoch, the same position, the same
    /// RNG for the epochs after.
    pub fn restore(len: usize, state: EpochOrderState) -> Self {
        let epoch_rng = Rng::from_state(state.epoch_rng);
        let plan = BatchPlan::shuffled(len, &mut epoch_rng.clone());
        let mut order = Self {
            plan,
            rng: Rng::from_state(state.rng),
            epoch_rng,
        };
        if state.position > 0 {
            order.plan.next_indices(state.position);
        }
        order
    }

    /// What a checkpoint stores to rebuild this order.
    pub fn state(&self) -> EpochOrderState {
        EpochOrderState {
            epoch_rng: self.epoch_rng.state(),
            rng: self.rng.state(),
            position: self.plan.position(),
        }
    }

    /// Starts the next epoch's order.
    pub fn reshuffle(&mut self) {
        self.epoch_rng = self.rng.clone();
        self.plan = BatchPlan::shuffled(self.plan.len(), &mut self.rng);
    }

    /// The current epoch.
    pub fn plan(&self) -> &BatchPlan {
        &self.plan
    }

    /// The current epoch, to take batches from.
    pub fn plan_mut(&mut self) -> &mut BatchPlan {
        &mut self.plan
    }

    /// The next `batch_size` indices, always a whole batch: an epoch ends when fewer are left,
    /// and the next one is reshuffled (the GAN's rule, whose batch norm wants equal batches).
    pub fn next_whole_batch(&mut self, batch_size: usize) -> Vec<u32> {
        match self.plan.next_indices(batch_size) {
            Some(ix) if ix.len() == batch_size => ix.to_vec(),
            _ => {
                self.reshuffle();
                self.plan
                    .next_indices(batch_size)
                    .unwrap_or_default()
                    .to_vec()
            }
        }
    }
}

/// Gathers the examples at `indices` into a batch, converting pixels into `scratch` (reused
/// between calls so a step allocates nothing but the tensors).
pub fn gather(
    split: &Split,
    indices: &[u32],
    scale: PixelScale,
    scratch: &mut Vec<f32>,
    device: &Device,
) -> candle_core::Result<Batch> {
    scratch.clear();
    gather_pixels(split, indices, scale, scratch);
    Ok(Batch {
        images: Tensor::from_slice(scratch, batch_shape(split, indices.len()), device)?,
        labels: Tensor::from_vec(gather_labels(split, indices), indices.len(), device)?,
    })
}

/// The shape of a batch of `n` images of `split`: `(n, channels, rows, cols)`.
pub fn batch_shape(split: &Split, n: usize) -> (usize, usize, usize, usize) {
    let (c, h, w) = split.images.shape();
    (n, c, h, w)
}

/// Appends the scaled pixels of the examples at `indices` to `out`, image after image.
pub fn gather_pixels(split: &Split, indices: &[u32], scale: PixelScale, out: &mut Vec<f32>) {
    let (mul, add) = scale.coefficients();
    out.reserve(indices.len() * split.images.image_len());
    for &i in indices {
        out.extend(
            split
                .images
                .image(i as usize)
                .iter()
                .map(|&p| p as f32 * mul + add),
        );
    }
}

/// The labels of the examples at `indices`.
pub fn gather_labels(split: &Split, indices: &[u32]) -> Vec<u32> {
    indices
        .iter()
        .map(|&i| u32::from(split.labels[i as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Images;

    #[test]
    fn an_epoch_order_restored_from_its_state_hands_out_the_same_batches() {
        let mut order = EpochOrder::new(10, Rng::new(3));
        // 10 examples in whole batches of 4: the third batch starts a reshuffled epoch.
        let first: Vec<Vec<u32>> = (0..2).map(|_| order.next_whole_batch(4)).collect();
        let mut seen: Vec<u32> = first.concat();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 8, "no example twice within an epoch");
        order.next_whole_batch(4);
        assert_eq!(order.plan().position(), 4, "a new epoch began");
        let mut copy = EpochOrder::restore(10, order.state());
        assert_eq!(copy.state(), order.state());
        for _ in 0..5 {
            assert_eq!(copy.next_whole_batch(4), order.next_whole_batch(4));
        }
    }

    #[test]
    fn plan_covers_every_example_once_per_epoch() {
        let mut rng = Rng::new(3);
        let mut plan = BatchPlan::shuffled(10, &mut rng);
        let mut seen = Vec::new();
        while let Some(ix) = plan.next_indices(4) {
            seen.extend_from_slice(ix);
        }
        assert_eq!(seen.len(), 10);
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<u32>>());
    }

    #[test]
    fn gather_scales_pixels() {
        let split = Split {
            images: Images {
                pixels: vec![0, 255, 51, 102],
                count: 2,
                channels: 1,
                rows: 1,
                cols: 2,
            },
            labels: vec![4, 7],
        };
        let mut scratch = Vec::new();
        let b = gather(
            &split,
            &[1, 0],
            PixelScale::UnitInterval,
            &mut scratch,
            &Device::Cpu,
        )
        .unwrap();
        let v: Vec<f32> = b.images.flatten_all().unwrap().to_vec1().unwrap();
        for (got, want) in v.iter().zip([0.2, 0.4, 0.0, 1.0]) {
            assert!((got - want).abs() < 1e-6, "{v:?}");
        }
        assert_eq!(b.labels.to_vec1::<u32>().unwrap(), vec![7, 4]);
        let b = gather(
            &split,
            &[0],
            PixelScale::Symmetric,
            &mut scratch,
            &Device::Cpu,
        )
        .unwrap();
        let v: Vec<f32> = b.images.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(v, vec![-1.0, 1.0]);
    }
}
