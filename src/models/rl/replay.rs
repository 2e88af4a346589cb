//! DQN's experience replay: a fixed-capacity ring of transitions sampled uniformly, stored as
//! flat f32 columns so a batch is a few memcpys into tensors.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// Where the ring stands, for a checkpoint's sidecar (the contents go in as tensors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayPosition {
    /// Transitions held.
    pub len: usize,
    /// Slot the next transition is written to.
    pub next: usize,
    /// Maximum transitions held.
    pub capacity: usize,
}

/// One sampled minibatch, flat row-major.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayBatch {
    /// `(batch, obs_dim)` observations.
    pub obs: Vec<f32>,
    /// `(batch,)` actions taken.
    pub actions: Vec<u32>,
    /// `(batch,)` rewards.
    pub rewards: Vec<f32>,
    /// `(batch, obs_dim)` next observations (the true final one when an episode ended).
    pub next_obs: Vec<f32>,
    /// `(batch,)` 1.0 where the transition reached a terminal state (no bootstrap), else 0.0.
    pub terminated: Vec<f32>,
}

/// Ring buffer of transitions; the oldest are overwritten once `capacity` is reached.
#[derive(Debug, Clone)]
pub struct ReplayBuffer {
    obs_dim: usize,
    capacity: usize,
    len: usize,
    next: usize,
    obs: Vec<f32>,
    next_obs: Vec<f32>,
    actions: Vec<u32>,
    rewards: Vec<f32>,
    terminated: Vec<f32>,
}

impl ReplayBuffer {
    /// An empty buffer for `capacity` transitions of `obs_dim`-sized observations.
    pub fn new(capacity: usize, obs_dim: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            obs_dim,
            capacity,
            len: 0,
            next: 0,
            obs: vec![0.0; capacity * obs_dim],
            next_obs: vec![0.0; capacity * obs_dim],
            actions: vec![0; capacity],
            rewards: vec![0.0; capacity],
            terminated: vec![0.0; capacity],
        }
    }

    /// Transitions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first push.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum transitions held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Stores a transition, overwriting the oldest when full. Observations are narrowed to f32.
    pub fn push(
        &mut self,
        obs: &[f64],
        action: usize,
        reward: f64,
        next_obs: &[f64],
        terminated: bool,
    ) {
        let d = self.obs_dim;
        let i = self.next;
        for (dst, src) in self.obs[i * d..(i + 1) * d].iter_mut().zip(obs) {
            *dst = *src as f32;
        }
        for (dst, src) in self.next_obs[i * d..(i + 1) * d].iter_mut().zip(next_obs) {
            *dst = *src as f32;
        }
        self.actions[i] = action as u32;
        self.rewards[i] = reward as f32;
        self.terminated[i] = if terminated { 1.0 } else { 0.0 };
        self.next = (self.next + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
    }

    /// Fills `batch` with `batch_size` transitions drawn uniformly with replacement (as SB3 and
    /// CleanRL do). The buffer must not be empty.
    pub fn sample_into(&self, batch_size: usize, rng: &mut Rng, batch: &mut ReplayBatch) {
        debug_assert!(self.len > 0, "sampling an empty replay buffer");
        let d = self.obs_dim;
        batch.obs.clear();
        batch.next_obs.clear();
        batch.actions.clear();
        batch.rewards.clear();
        batch.terminated.clear();
        for _ in 0..batch_size {
            let i = rng.below(self.len);
            batch.obs.extend_from_slice(&self.obs[i * d..(i + 1) * d]);
            batch
                .next_obs
                .extend_from_slice(&self.next_obs[i * d..(i + 1) * d]);
            batch.actions.push(self.actions[i]);
            batch.rewards.push(self.rewards[i]);
            batch.terminated.push(self.terminated[i]);
        }
    }
}

impl ReplayBuffer {
    /// The ring's fill count, write position and capacity.
    pub fn position(&self) -> ReplayPosition {
        ReplayPosition {
            len: self.len,
            next: self.next,
            capacity: self.capacity,
        }
    }

    /// The stored transitions as checkpoint tensors (slots `0..len` in ring order, on the CPU):
    /// `<prefix>obs` and `<prefix>next_obs` `(len, obs_dim)` f32, `<prefix>actions` `(len,)`
    /// u32, `<prefix>rewards` and `<prefix>terminated` `(len,)` f32. Empty for an empty buffer.
    pub fn state_tensors(&self, prefix: &str) -> candle_core::Result<Vec<(String, Tensor)>> {
        let (n, d) = (self.len, self.obs_dim);
        if n == 0 {
            return Ok(Vec::new());
        }
        let cpu = &Device::Cpu;
        Ok(vec![
            (
                format!("{prefix}obs"),
                Tensor::from_slice(&self.obs[..n * d], (n, d), cpu)?,
            ),
            (
                format!("{prefix}next_obs"),
                Tensor::from_slice(&self.next_obs[..n * d], (n, d), cpu)?,
            ),
            (
                format!("{prefix}actions"),
                Tensor::from_slice(&self.actions[..n], n, cpu)?,
            ),
            (
                format!("{prefix}rewards"),
                Tensor::from_slice(&self.rewards[..n], n, cpu)?,
            ),
            (
                format!("{prefix}terminated"),
                Tensor::from_slice(&self.terminated[..n], n, cpu)?,
            ),
        ])
    }

    /// Refills the buffer from [`ReplayBuffer::state_tensors`] output and `position`; the
    /// capacity and observation size must match this buffer's. On error nothing changes.
    pub fn load_state_tensors(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        prefix: &str,
        position: ReplayPosition,
    ) -> candle_core::Result<()> {
        let (n, d) = (position.len, self.obs_dim);
        if position.capacity != self.capacity || n > self.capacity || position.next >= self.capacity
        {
            candle_core::bail!(
                "replay buffer: checkpoint holds {n} of {} slots (next {}), this buffer has {}",
                position.capacity,
                position.next,
                self.capacity
            );
        }
        let get = |name: &str, shape: &[usize]| -> candle_core::Result<Tensor> {
            let key = format!("{prefix}{name}");
            let t = tensors.get(&key).ok_or_else(|| {
                candle_core::Error::Msg(format!("replay buffer: missing `{key}`"))
            })?;
            if t.dims() != shape {
                candle_core::bail!(
                    "replay buffer: `{key}` has shape {:?}, expected {shape:?}",
                    t.dims()
                );
            }
            Ok(t.clone())
        };
        let (obs, next_obs, actions, rewards, terminated) = if n == 0 {
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new())
        } else {
            (
                get("obs", &[n, d])?.flatten_all()?.to_vec1::<f32>()?,
                get("next_obs", &[n, d])?.flatten_all()?.to_vec1::<f32>()?,
                get("actions", &[n])?.to_vec1::<u32>()?,
                get("rewards", &[n])?.to_vec1::<f32>()?,
                get("terminated", &[n])?.to_vec1::<f32>()?,
            )
        };
        self.obs[..n * d].copy_from_slice(&obs);
        self.next_obs[..n * d].copy_from_slice(&next_obs);
        self.actions[..n].copy_from_slice(&actions);
        self.rewards[..n].copy_from_slice(&rewards);
        self.terminated[..n].copy_from_slice(&terminated);
        self.len = n;
        self.next = position.next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_overwrites_oldest_and_samples_only_stored_transitions() {
        let mut b = ReplayBuffer::new(3, 2);
        assert!(b.is_empty());
        for k in 0..5 {
            let o = [k as f64, -(k as f64)];
            let n = [k as f64 + 0.5, 0.0];
            b.push(&o, k % 2, k as f64 * 10.0, &n, k == 4);
        }
        assert_eq!(b.len(), 3);
        let mut rng = Rng::new(0);
        let mut batch = ReplayBatch::default();
        b.sample_into(300, &mut rng, &mut batch);
        assert_eq!(batch.obs.len(), 600);
        let mut seen = [false; 5];
        for j in 0..300 {
            let k = batch.obs[2 * j] as usize;
            assert!(k >= 2, "transition {k} was overwritten");
            seen[k] = true;
            assert_eq!(batch.obs[2 * j + 1], -(k as f32));
            assert_eq!(batch.next_obs[2 * j], k as f32 + 0.5);
            assert_eq!(batch.actions[j], (k % 2) as u32);
            assert_eq!(batch.rewards[j], k as f32 * 10.0);
            assert_eq!(batch.terminated[j], if k == 4 { 1.0 } else { 0.0 });
        }
        assert_eq!(
            seen,
            [false, false, true, true, true],
            "uniform draws hit all three"
        );
    }

    #[test]
    fn state_tensors_round_trip_contents_and_ring_position() {
        let mut b = ReplayBuffer::new(4, 2);
        for k in 0..6 {
            b.push(&[k as f64, 1.0], k % 2, 0.5, &[2.0, k as f64], k == 5);
        }
        let tensors: HashMap<String, Tensor> =
            b.state_tensors("replay.").unwrap().into_iter().collect();
        assert_eq!(tensors["replay.obs"].dims(), &[4, 2]);
        let mut c = ReplayBuffer::new(4, 2);
        c.load_state_tensors(&tensors, "replay.", b.position())
            .unwrap();
        assert_eq!(c.position(), b.position());
        let (mut rb, mut rc) = (Rng::new(3), Rng::new(3));
        let (mut xb, mut xc) = (ReplayBatch::default(), ReplayBatch::default());
        b.sample_into(32, &mut rb, &mut xb);
        c.sample_into(32, &mut rc, &mut xc);
        assert_eq!(xb, xc);
        b.push(&[9.0, 9.0], 1, 1.0, &[9.0, 9.0], false);
        c.push(&[9.0, 9.0], 1, 1.0, &[9.0, 9.0], false);
        assert_eq!(b.obs, c.obs, "the next write lands in the same slot");
        let mut wrong = ReplayBuffer::new(5, 2);
        assert!(wrong
            .load_state_tensors(&tensors, "replay.", b.position())
            .is_err());
        assert!(wrong.is_empty());
    }
}
