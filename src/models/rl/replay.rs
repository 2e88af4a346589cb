//! DQN's experience replay: a fixed-capacity ring of transitions sampled uniformly, stored as
//! flat f32 columns so a batch is a few memcpys into tensors.

use crate::rng::Rng;

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
}
