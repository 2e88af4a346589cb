//! Health checks for a GAN run: the usual ways one fails, recognised from its step reports and
//! its fixed-noise samples, so the dashboard can say so instead of leaving the user to guess.

use std::fmt;

use serde::Serialize;

/// One training iteration as the dashboard and the logs see it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GanStepReport {
    /// Iterations completed after this one (1 after the first step).
    pub iteration: u64,
    /// Discriminator loss of the iteration's last D update (before that update), nats.
    pub d_loss: f64,
    /// Generator loss of the iteration's G update (before that update), nats.
    pub g_loss: f64,
    /// Mean D(x) over the real batch, a probability.
    pub d_real: f64,
    /// Mean D(G(z)) over the generated batch, a probability.
    pub d_fake: f64,
}

/// Reports a diagnosis looks back over: long enough to average out batch noise.
pub const HEALTH_WINDOW: usize = 200;
/// Mean D loss (nats) under which D separates real from fake almost perfectly: both of its
/// BCE terms are then below ~0.025, i.e. D(x) > 0.975 and D(G(z)) < 0.025 on average.
pub const D_WON_LOSS: f64 = 0.05;
/// Rise in mean G loss (nats) across the window that counts as "climbing" rather than noise.
pub const G_CLIMB: f64 = 0.5;
/// Mean RMS pixel distance (on a 0..1 scale) between fixed-noise samples under which they are
/// "all the same image". Distinct MNIST digits sit around 0.3–0.4 apart. An untrained
/// generator is below it too (measured: MLP 0.056, DCGAN 0.007, whose batch norm has no running
/// statistics yet), which is why [`diagnose`] only judges collapse after a full window.
pub const COLLAPSE_DISTANCE: f64 = 0.03;

/// A failure the user should hear about, with the figures that show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum GanWarning {
    /// A loss became NaN or infinite; the trainer skipped that update, the job should pause.
    NonFinite {
        /// The iteration whose losses were not finite.
        iteration: u64,
        /// Discriminator loss as computed.
        d_loss: f64,
        /// Generator loss as computed (NaN when the D loss already failed).
        g_loss: f64,
    },
    /// D wins outright: its loss is near 0 while G's loss keeps rising, so G learns nothing.
    DiscriminatorWon {
        /// Mean D loss over the last quarter of the window.
        d_loss: f64,
        /// Mean G loss over the first quarter of the window.
        g_loss_before: f64,
        /// Mean G loss over the last quarter of the window.
        g_loss_now: f64,
    },
    /// The fixed-noise samples are nearly identical: G maps every z to the same image.
    SampleCollapse {
        /// Mean RMS pixel distance between pairs of samples, 0..1 scale.
        mean_distance: f64,
    },
}

impl GanWarning {
    /// True for failures that make further steps pointless until the user acts (NaN).
    pub fn should_pause(&self) -> bool {
        matches!(self, Self::NonFinite { .. })
    }
}

impl fmt::Display for GanWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NonFinite {
                iteration,
                d_loss,
                g_loss,
            } => write!(
                f,
                "loss is not finite at iteration {iteration} (D {d_loss}, G {g_loss}): paused, \
                 weights kept from the last good step; lower lr_d/lr_g and resume"
            ),
            Self::DiscriminatorWon {
                d_loss,
                g_loss_before,
                g_loss_now,
            } => write!(
                f,
                "discriminator won: D loss {d_loss:.3}, G loss {g_loss_before:.2} → \
                 {g_loss_now:.2}; try label_smoothing 0.9, a lower lr_d or d_steps 1"
            ),
            Self::SampleCollapse { mean_distance } => write!(
                f,
                "sample collapse: fixed-noise samples nearly identical (mean distance \
                 {mean_distance:.3}); try a lower lr_g or restart"
            ),
        }
    }
}

/// Warns when the report's losses are not finite.
pub fn check_finite(report: &GanStepReport) -> Option<GanWarning> {
    (!report.d_loss.is_finite() || !report.g_loss.is_finite()).then_some(GanWarning::NonFinite {
        iteration: report.iteration,
        d_loss: report.d_loss,
        g_loss: report.g_loss,
    })
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

/// Warns when, over the last [`HEALTH_WINDOW`] reports, D's loss sits near 0 while G's loss
/// climbs. Needs a full window; shorter histories never warn.
pub fn check_discriminator_won(history: &[GanStepReport]) -> Option<GanWarning> {
    if history.len() < HEALTH_WINDOW {
        return None;
    }
    let window = &history[history.len() - HEALTH_WINDOW..];
    let quarter = HEALTH_WINDOW / 4;
    let d_loss = mean(window[HEALTH_WINDOW - quarter..].iter().map(|r| r.d_loss));
    let g_loss_before = mean(window[..quarter].iter().map(|r| r.g_loss));
    let g_loss_now = mean(window[HEALTH_WINDOW - quarter..].iter().map(|r| r.g_loss));
    (d_loss < D_WON_LOSS && g_loss_now > g_loss_before + G_CLIMB).then_some(
        GanWarning::DiscriminatorWon {
            d_loss,
            g_loss_before,
            g_loss_now,
        },
    )
}

/// Mean over all pairs of the RMS pixel difference, on a 0..1 scale; 0 for fewer than two images.
pub fn mean_pairwise_distance(images: &[Vec<u8>]) -> f64 {
    let mut total = 0.0;
    let mut pairs = 0usize;
    for (i, a) in images.iter().enumerate() {
        for b in &images[i + 1..] {
            let len = a.len().min(b.len()).max(1);
            let sq: u64 = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| {
                    let d = x.abs_diff(y) as u64;
                    d * d
                })
                .sum();
            total += (sq as f64 / len as f64).sqrt() / 255.0;
            pairs += 1;
        }
    }
    if pairs == 0 {
        0.0
    } else {
        total / pairs as f64
    }
}

/// Warns when the samples are all nearly the same image.
pub fn check_sample_collapse(images: &[Vec<u8>]) -> Option<GanWarning> {
    if images.len() < 2 {
        return None;
    }
    let mean_distance = mean_pairwise_distance(images);
    (mean_distance < COLLAPSE_DISTANCE).then_some(GanWarning::SampleCollapse { mean_distance })
}

/// The most urgent warning for a run: NaN in the latest report, then D won, then collapse.
///
/// `history` is the run's reports, oldest first (only the last window is read);
/// `fixed_samples` the latest fixed-noise images, if rendered. Collapse is only judged once the
/// history holds a full window, so a generator that has not trained yet is not flagged.
pub fn diagnose(
    history: &[GanStepReport],
    fixed_samples: Option<&[Vec<u8>]>,
) -> Option<GanWarning> {
    if let Some(warning) = history.last().and_then(check_finite) {
        return Some(warning);
    }
    if let Some(warning) = check_discriminator_won(history) {
        return Some(warning);
    }
    if history.len() >= HEALTH_WINDOW {
        return fixed_samples.and_then(check_sample_collapse);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(d: impl Fn(usize) -> f64, g: impl Fn(usize) -> f64) -> Vec<GanStepReport> {
        (0..HEALTH_WINDOW)
            .map(|i| GanStepReport {
                iteration: i as u64 + 1,
                d_loss: d(i),
                g_loss: g(i),
                d_real: 0.5,
                d_fake: 0.5,
            })
            .collect()
    }

    #[test]
    fn healthy_run_gives_no_warning() {
        let h = history(
            |i| 1.2 + 0.1 * (i as f64).sin(),
            |i| 0.9 + 0.1 * (i as f64).cos(),
        );
        assert_eq!(diagnose(&h, None), None);
    }

    #[test]
    fn discriminator_won_needs_low_d_loss_and_climbing_g_loss() {
        let won = history(|i| 0.5 / (1.0 + i as f64), |i| 2.0 + 0.03 * i as f64);
        match diagnose(&won, None) {
            Some(GanWarning::DiscriminatorWon {
                d_loss,
                g_loss_before,
                g_loss_now,
            }) => {
                assert!(d_loss < 0.01, "{d_loss}");
                assert!(
                    g_loss_now - g_loss_before > 4.0,
                    "{g_loss_before} → {g_loss_now}"
                );
            }
            other => panic!("expected DiscriminatorWon, got {other:?}"),
        }
        // Low D loss with a flat G loss is a good D, not a lost game.
        let flat_g = history(|_| 0.01, |_| 3.0);
        assert_eq!(check_discriminator_won(&flat_g), None);
        // Too short a history never warns.
        assert_eq!(check_discriminator_won(&won[..HEALTH_WINDOW - 1]), None);
    }

    #[test]
    fn nan_wins_over_everything_and_pauses() {
        let mut h = history(|_| 0.01, |i| 2.0 + 0.03 * i as f64);
        if let Some(last) = h.last_mut() {
            last.g_loss = f64::NAN;
        }
        let w = diagnose(&h, None).expect("NaN must warn");
        assert!(
            matches!(w, GanWarning::NonFinite { iteration: 200, .. }),
            "{w:?}"
        );
        assert!(w.should_pause());
        assert!(w.to_string().contains("iteration 200"));
    }

    #[test]
    fn collapse_is_measured_on_pixel_distance() {
        let base: Vec<u8> = (0..784).map(|i| (i % 256) as u8).collect();
        let near: Vec<Vec<u8>> = (0..16)
            .map(|k| {
                base.iter()
                    .map(|&p| p.saturating_add(k as u8 % 3))
                    .collect()
            })
            .collect();
        let d = mean_pairwise_distance(&near);
        assert!(d > 0.0 && d < 0.01, "{d}");
        let h = history(|_| 1.0, |_| 1.0);
        assert!(matches!(
            diagnose(&h, Some(&near)),
            Some(GanWarning::SampleCollapse { .. })
        ));
        // Not judged during warm-up.
        assert_eq!(diagnose(&h[..10], Some(&near)), None);
        // Black vs white: distance exactly 1.
        let bw = vec![vec![0u8; 784], vec![255u8; 784]];
        assert!((mean_pairwise_distance(&bw) - 1.0).abs() < 1e-12);
        assert_eq!(check_sample_collapse(&bw), None);
    }
}
