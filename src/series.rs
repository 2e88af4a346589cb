//! Time series for charts: bounded memory however long a run goes, and smoothing for display.
//!
//! A loose module rather than an app widget so that the run-directory layer can average a run's
//! logged curves down with the same rule the live tabs use.

/// A series of (step, value) points that halves its resolution instead of growing past a cap,
/// so a run of millions of steps still charts in constant memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    points: Vec<(f64, f64)>,
    cap: usize,
    /// How many raw points each stored point averages.
    stride: usize,
    pending: Vec<(f64, f64)>,
}

impl Series {
    /// An empty series that keeps at most `cap` points (at least 16).
    pub fn new(cap: usize) -> Self {
        Self {
            points: Vec::new(),
            cap: cap.max(16),
            stride: 1,
            pending: Vec::new(),
        }
    }

    /// Adds a point; non-finite values are skipped so one NaN does not ruin a chart.
    pub fn push(&mut self, step: f64, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.pending.push((step, value));
        if self.pending.len() < self.stride {
            return;
        }
        let n = self.pending.len() as f64;
        let (s, v) = self
            .pending
            .drain(..)
            .fold((0.0, 0.0), |(s, v), (ps, pv)| (s + ps, v + pv));
        self.points.push((s / n, v / n));
        if self.points.len() >= self.cap {
            self.points = self
                .points
                .chunks(2)
                .map(|c| {
                    let n = c.len() as f64;
                    (
                        c.iter().map(|p| p.0).sum::<f64>() / n,
                        c.iter().map(|p| p.1).sum::<f64>() / n,
                    )
                })
                .collect();
            self.stride *= 2;
        }
    }

    /// The stored points.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// The newest value.
    pub fn last(&self) -> Option<f64> {
        self.pending.last().or(self.points.last()).map(|p| p.1)
    }

    /// True when nothing has been stored.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Exponentially smoothed copy (TensorBoard-style, debiased), for the trend line.
    pub fn smoothed(&self, weight: f64) -> Vec<(f64, f64)> {
        smooth(&self.points, weight)
    }

    /// (min, max) of the values, padded so a flat line is still visible.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        let (lo, hi) = self
            .points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.1), hi.max(p.1))
            });
        if !lo.is_finite() {
            return None;
        }
        let pad = ((hi - lo) * 0.05).max(1e-6);
        // Non-negative series (losses, accuracies) keep a floor of 0.
        let floor = if lo >= 0.0 { 0.0 } else { f64::NEG_INFINITY };
        Some(((lo - pad).max(floor), hi + pad))
    }

    /// The last `n` values, for sparklines.
    pub fn tail(&self, n: usize) -> Vec<f64> {
        let start = self.points.len().saturating_sub(n);
        self.points[start..].iter().map(|p| p.1).collect()
    }
}

/// TensorBoard's smoothing of a curve, so a trend reads the same here as there: an exponential
/// moving average `last = last·w + (1 − w)·y`, divided by `1 − wⁱ` at the i-th point so the
/// start is not pulled towards 0. `weight` is clamped to [0, 0.999]; 0 returns the points as they
/// are. Non-finite values are passed over and keep the average.
pub fn smooth(points: &[(f64, f64)], weight: f64) -> Vec<(f64, f64)> {
    let w = if weight.is_finite() {
        weight.clamp(0.0, 0.999)
    } else {
        0.0
    };
    let mut out = Vec::with_capacity(points.len());
    let mut last = 0.0;
    let mut debias = 1.0;
    for &(x, y) in points {
        if !y.is_finite() {
            continue;
        }
        last = last * w + (1.0 - w) * y;
        // 1 − wⁱ, kept as a running product.
        debias *= w;
        out.push((x, last / (1.0 - debias)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_bounded_and_averages_are_kept() {
        let mut s = Series::new(16);
        for i in 0..1000 {
            s.push(i as f64, 2.0);
        }
        assert!(s.points().len() < 16);
        assert!(s.points().iter().all(|p| p.1 == 2.0));
        let last_step = s.points().last().unwrap().0;
        assert!(last_step > 900.0, "{last_step}");
    }

    #[test]
    fn smoothing_is_debiased_and_nan_is_skipped() {
        let mut s = Series::new(100);
        s.push(0.0, 4.0);
        s.push(1.0, f64::NAN);
        s.push(2.0, 4.0);
        assert_eq!(s.points().len(), 2);
        assert!(s.smoothed(0.9).iter().all(|p| (p.1 - 4.0).abs() < 1e-12));
        assert_eq!(s.last(), Some(4.0));
    }

    #[test]
    fn smoothing_matches_hand_computed_debiased_ema() {
        // w = 0.5 over 1, 2, 4:
        //   i=1: last = 0.5·0 + 0.5·1 = 0.5;     / (1 − 0.5)   = 1
        //   i=2: last = 0.5·0.5 + 0.5·2 = 1.25;  / (1 − 0.25)  = 5/3
        //   i=3: last = 0.5·1.25 + 0.5·4 = 2.625; / (1 − 0.125) = 3
        let points = [(1.0, 1.0), (2.0, 2.0), (3.0, 4.0)];
        let smoothed = smooth(&points, 0.5);
        let expected = [1.0, 5.0 / 3.0, 3.0];
        assert_eq!(smoothed.len(), 3);
        for ((got, point), want) in smoothed.iter().zip(&points).zip(expected) {
            assert_eq!(got.0, point.0, "steps are kept");
            assert!((got.1 - want).abs() < 1e-12, "{got:?} vs {want}");
        }
        // w = 0.9 over 10, 0: the second point is (0.9·1 + 0.1·0) / (1 − 0.81) = 0.9/0.19.
        let two = smooth(&[(0.0, 10.0), (1.0, 0.0)], 0.9);
        assert!((two[0].1 - 10.0).abs() < 1e-12);
        assert!((two[1].1 - 0.9 / 0.19).abs() < 1e-12, "{two:?}");
        // No smoothing leaves the points as they are; NaN is passed over.
        assert_eq!(smooth(&points, 0.0), points.to_vec());
        let with_nan = smooth(&[(0.0, 2.0), (1.0, f64::NAN), (2.0, 2.0)], 0.99);
        assert_eq!(with_nan.len(), 2);
        assert!(
            with_nan.iter().all(|p| (p.1 - 2.0).abs() < 1e-9),
            "{with_nan:?}"
        );
    }
}
