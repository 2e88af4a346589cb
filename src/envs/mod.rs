//! Reinforcement-learning environments: native CartPole-v1 and, behind the `gym-rs` feature, gym-rs.
