//! The training input pipeline off the critical path: the next batch's pixels are gathered and
//! converted from u8 to f32 on a thread of their own while the current step computes.
//!
//! The data order stays where it was — in the trainer's [`super::BatchPlan`], which checkpoints
//! save and resumes restore — and the trainer only tells the prefetcher which indices come next.
//! A prefetched batch is used only when its indices are exactly the ones the step asks for (a
//! batch-size change or a restore in between makes them differ); otherwise the step gathers on
//! its own thread, so the prefetcher can change speed but never results.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};

use super::batch::{batch_shape, gather, gather_labels, gather_pixels, Batch, PixelScale};
use super::Dataset;

/// A batch gathered ahead: the indices it is for, its pixels `(n·channels·rows·cols)` and labels `(n,)`.
struct Prepared {
    indices: Vec<u32>,
    pixels: Vec<f32>,
    labels: Vec<u32>,
}

/// Gathers training batches one step ahead on a worker thread.
pub struct Prefetcher {
    dataset: Arc<Dataset>,
    scale: PixelScale,
    requests: Option<SyncSender<Vec<u32>>>,
    ready: Receiver<Prepared>,
    /// A batch was requested and not yet taken (the worker's answer names its indices).
    in_flight: bool,
    worker: Option<JoinHandle<()>>,
    scratch: Vec<f32>,
    stats: InputStats,
}

/// How much the training thread spent on input, so the pipeline's cost is measured, not assumed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InputStats {
    /// Batches served.
    pub batches: u64,
    /// Of those, batches the worker had prepared (the rest were gathered on the training thread).
    pub prefetched: u64,
    /// Time the training thread spent obtaining batches: waiting for the worker or gathering.
    pub wait: Duration,
}

impl InputStats {
    /// Mean training-thread time per batch, in milliseconds.
    pub fn wait_ms_per_batch(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            self.wait.as_secs_f64() * 1e3 / self.batches as f64
        }
    }
}

impl Prefetcher {
    /// Starts the worker for `dataset`'s training split, scaling pixels by `scale`. If the thread
    /// cannot be started, batches are gathered on the caller's thread instead.
    pub fn new(dataset: Arc<Dataset>, scale: PixelScale) -> Self {
        // One batch in flight and one ready is all a step-ahead pipeline needs.
        let (req_tx, req_rx) = mpsc::sync_channel::<Vec<u32>>(1);
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Prepared>(1);
        let worker_data = Arc::clone(&dataset);
        let worker = std::thread::Builder::new()
            .name("gradtop-input".into())
            .spawn(move || worker_loop(&worker_data, scale, &req_rx, &ready_tx))
            .ok();
        Self {
            dataset,
            scale,
            requests: worker.is_some().then_some(req_tx),
            ready: ready_rx,
            in_flight: false,
            worker,
            scratch: Vec::new(),
            stats: InputStats::default(),
        }
    }

    /// Asks the worker to gather `indices` next (ignored while another batch is in flight).
    pub fn request(&mut self, indices: &[u32]) {
        if self.in_flight || indices.is_empty() {
            return;
        }
        if let Some(tx) = &self.requests {
            self.in_flight = tx.send(indices.to_vec()).is_ok();
            if !self.in_flight {
                self.requests = None;
            }
        }
    }

    /// The batch for `indices` on `device`: the prefetched one when it matches, else gathered now.
    pub fn batch(&mut self, indices: &[u32], device: &Device) -> candle_core::Result<Batch> {
        let start = Instant::now();
        let prepared = if std::mem::take(&mut self.in_flight) {
            match self.ready.recv() {
                Ok(p) => Some(p).filter(|p| p.indices == indices),
                Err(_) => {
                    // The worker is gone (it only ends when its channel closes or it panicked).
                    self.requests = None;
                    None
                }
            }
        } else {
            None
        };
        let batch = match prepared {
            Some(p) => {
                self.stats.prefetched += 1;
                let n = p.labels.len();
                Batch {
                    images: Tensor::from_vec(
                        p.pixels,
                        batch_shape(&self.dataset.train, n),
                        device,
                    )?,
                    labels: Tensor::from_vec(p.labels, n, device)?,
                }
            }
            None => gather(
                &self.dataset.train,
                indices,
                self.scale,
                &mut self.scratch,
                device,
            )?,
        };
        self.stats.batches += 1;
        self.stats.wait += start.elapsed();
        Ok(batch)
    }

    /// Input figures since the prefetcher started.
    pub fn stats(&self) -> InputStats {
        self.stats
    }
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        // Closing the request channel ends the worker after the batch it may be gathering; the
        // ready channel is drained so that last send cannot block it.
        self.requests = None;
        while self.ready.try_recv().is_ok() {}
        if let Some(worker) = self.worker.take() {
            if std::mem::take(&mut self.in_flight) {
                let _ = self.ready.recv();
            }
            let _ = worker.join();
        }
    }
}

fn worker_loop(
    dataset: &Dataset,
    scale: PixelScale,
    requests: &Receiver<Vec<u32>>,
    ready: &SyncSender<Prepared>,
) {
    let split = &dataset.train;
    while let Ok(indices) = requests.recv() {
        let mut pixels = Vec::new();
        gather_pixels(split, &indices, scale, &mut pixels);
        let labels = gather_labels(split, &indices);
        let prepared = Prepared {
            indices,
            pixels,
            labels,
        };
        if ready.send(prepared).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DatasetName, Images, Split};

    fn dataset() -> Arc<Dataset> {
        let split = |count: usize, seed: u8| Split {
            images: Images {
                pixels: (0..count * 4)
                    .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
                    .collect(),
                count,
                channels: 1,
                rows: 2,
                cols: 2,
            },
            labels: (0..count).map(|i| (i % 10) as u8).collect(),
        };
        Arc::new(Dataset {
            name: DatasetName::FashionMnist,
            dir: "unused".into(),
            train: split(50, 3),
            test: split(10, 7),
            classes: DatasetName::FashionMnist.class_list(),
        })
    }

    fn values(b: &Batch) -> (Vec<f32>, Vec<u32>) {
        (
            b.images.flatten_all().unwrap().to_vec1().unwrap(),
            b.labels.to_vec1().unwrap(),
        )
    }

    #[test]
    fn prefetched_batches_equal_gathered_ones_and_mismatches_fall_back() {
        let data = dataset();
        for scale in [PixelScale::UnitInterval, PixelScale::Symmetric] {
            let mut p = Prefetcher::new(Arc::clone(&data), scale);
            let mut scratch = Vec::new();
            let want = |ix: &[u32], scratch: &mut Vec<f32>| {
                values(&gather(&data.train, ix, scale, scratch, &Device::Cpu).unwrap())
            };
            let a = [4u32, 9, 0, 31];
            p.request(&a);
            let got = p.batch(&a, &Device::Cpu).unwrap();
            assert_eq!(values(&got), want(&a, &mut scratch));
            assert_eq!(got.images.dims(), &[4, 1, 2, 2]);
            // A request for other indices (say the batch size changed) is not used.
            p.request(&[1, 2, 3]);
            let b = [1u32, 2];
            assert_eq!(
                values(&p.batch(&b, &Device::Cpu).unwrap()),
                want(&b, &mut scratch)
            );
            // No request at all: gathered on the spot.
            assert_eq!(
                values(&p.batch(&a, &Device::Cpu).unwrap()),
                want(&a, &mut scratch)
            );
            let stats = p.stats();
            assert_eq!((stats.batches, stats.prefetched), (3, 1));
            assert!(stats.wait_ms_per_batch() >= 0.0);
        }
    }

    #[test]
    fn dropping_with_a_batch_in_flight_ends_the_worker() {
        let mut p = Prefetcher::new(dataset(), PixelScale::UnitInterval);
        p.request(&[1, 2, 3]);
        drop(p);
    }
}
