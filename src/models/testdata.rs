//! A tiny separable image task for "learning is tested by learning" tests.

use candle_core::{Device, Tensor};
use candle_nn::{Module, Optimizer, VarMap};

use crate::ops::adam::{Adam, AdamConfig};
use crate::rng::Rng;

/// `(batch, 1, 28, 28)` images in [0, 1] and labels `(batch,)`: class k is a bright 6×6 square at
/// a class-specific place over uniform noise of amplitude 0.3.
pub fn blobs(rng: &mut Rng, batch: usize) -> (Tensor, Tensor) {
    let mut pixels = vec![0f32; batch * 28 * 28];
    let mut labels = Vec::with_capacity(batch);
    for image in pixels.chunks_exact_mut(28 * 28) {
        let class = rng.below(10);
        labels.push(class as u32);
        for p in image.iter_mut() {
            *p = 0.3 * rng.next_f32();
        }
        let (top, left) = (2 + (class / 5) * 12, 1 + (class % 5) * 5);
        for y in top..top + 6 {
            for x in left..left + 6 {
                image[y * 28 + x] = 1.0;
            }
        }
    }
    (
        Tensor::from_vec(pixels, (batch, 1, 28, 28), &Device::Cpu).expect("shape matches"),
        Tensor::from_vec(labels, batch, &Device::Cpu).expect("shape matches"),
    )
}

/// Trains `model` (weights in `varmap`) for `steps` Adam steps of batch 32 on [`blobs`] and
/// returns the accuracy on 256 fresh images.
pub fn train_and_score(model: &dyn Module, varmap: &VarMap, steps: usize) -> f32 {
    let mut rng = Rng::new(99);
    let mut adam = Adam::from_varmap(varmap, AdamConfig::default()).expect("adam");
    for _ in 0..steps {
        let (x, y) = blobs(&mut rng, 32);
        let logits = model.forward(&x).expect("forward");
        let loss = candle_nn::loss::cross_entropy(&logits, &y).expect("loss");
        adam.backward_step(&loss).expect("step");
    }
    let (x, y) = blobs(&mut rng, 256);
    let predicted = model
        .forward(&x)
        .and_then(|l| l.argmax(1))
        .expect("predict");
    let correct: f32 = predicted
        .eq(&y)
        .and_then(|c| c.to_dtype(candle_core::DType::F32))
        .and_then(|c| c.sum_all())
        .and_then(|c| c.to_scalar())
        .expect("count");
    correct / 256.0
}
