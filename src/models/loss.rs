//! Loss functions, each with its formula, so plotted curves can be explained on screen.
//!
//! The probability-space forms here match the textbook definitions and are what the help
//! overlay shows; training uses the numerically stable logit forms (`softmax_cross_entropy`
//! here, BCE-with-logits in the GAN model).

use candle_core::{Result, Tensor, D};

/// Mean squared error: `(1/n) Σ (y − ŷ)²`.
pub fn mse(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    (pred - target)?.sqr()?.mean_all()
}

/// Cross-entropy of a predicted distribution against a target one: `−Σ y · ln ŷ`.
pub fn cross_entropy(target: &Tensor, pred: &Tensor) -> Result<Tensor> {
    (target * pred.log()?)?.sum_all()?.neg()
}

/// Softmax cross-entropy from logits `(batch, classes)` and class indices `(batch,)` u32:
/// `−(1/B) Σ_b ln softmax(z_b)[y_b]`, computed with log-sum-exp for stability.
pub fn softmax_cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let log_probs = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    log_probs
        .gather(&labels.unsqueeze(1)?, 1)?
        .mean_all()?
        .neg()
}

/// Binary cross-entropy of probabilities `p` against targets `y`:
/// `−(1/n) Σ [y ln p + (1 − y) ln(1 − p)]`.
pub fn binary_cross_entropy(p: &Tensor, y: &Tensor) -> Result<Tensor> {
    let one_minus_y = y.affine(-1.0, 1.0)?;
    let one_minus_p = p.affine(-1.0, 1.0)?;
    ((y * p.log()?)? + (one_minus_y * one_minus_p.log()?)?)?
        .mean_all()?
        .neg()
}

/// The GAN discriminator's loss: `−(1/n) Σ [ln D(x) + ln(1 − D(G(z)))]`.
pub fn discriminator_loss(d_real: &Tensor, d_fake: &Tensor) -> Result<Tensor> {
    (d_real.log()? + d_fake.affine(-1.0, 1.0)?.log()?)?
        .mean_all()?
        .neg()
}

/// The non-saturating GAN generator loss: `−(1/n) Σ ln D(G(z))`.
pub fn generator_loss(d_fake: &Tensor) -> Result<Tensor> {
    d_fake.log()?.mean_all()?.neg()
}

/// Formulas of the plotted losses, shown by the help overlay: (name, formula).
pub const FORMULAS: [(&str, &str); 5] = [
    ("classifier loss", "CE = −(1/B) Σ ln softmax(z)[y]"),
    ("D loss", "−[ln D(x) + ln(1 − D(G(z)))]"),
    ("G loss", "−ln D(G(z))  (non-saturating)"),
    ("DQN loss", "Huber(r + γ max Q'(s',·) − Q(s,a))"),
    ("PPO loss", "−min(ρA, clip(ρ,1±ε)A) + c·(V−R)² − β·H"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(v: &[f32]) -> Tensor {
        Tensor::new(v, &Device::Cpu).unwrap()
    }

    fn scalar(x: Tensor) -> f32 {
        x.to_scalar::<f32>().unwrap()
    }

    #[test]
    fn mse_worked_example() {
        // Squared errors 0.25 + 0.04 + 0.04 + 0.81 + 0.09 = 1.23 over 5 values.
        let y = t(&[3.0, 5.0, 2.0, 7.0, 4.0]);
        let y_hat = t(&[2.5, 4.8, 2.2, 6.1, 3.7]);
        assert!((scalar(mse(&y_hat, &y).unwrap()) - 0.246).abs() < 1e-6);
    }

    #[test]
    fn cross_entropy_worked_example() {
        let y = t(&[1.0, 0.0, 1.0, 0.0, 1.0]);
        let y_hat = t(&[0.6, 0.4, 0.7, 0.3, 0.8]);
        assert!((scalar(cross_entropy(&y, &y_hat).unwrap()) - 1.0906).abs() < 1e-4);
    }

    #[test]
    fn gan_losses_worked_examples() {
        assert!((scalar(generator_loss(&t(&[0.8])).unwrap()) - 0.2231).abs() < 1e-4);
        let d = discriminator_loss(&t(&[0.9]), &t(&[0.1])).unwrap();
        assert!((scalar(d) - 0.2107).abs() < 1e-4);
    }

    #[test]
    fn bce_matches_its_formula() {
        let p = t(&[0.9, 0.2]);
        let y = t(&[1.0, 0.0]);
        let expected = -(0.9f32.ln() + 0.8f32.ln()) / 2.0;
        assert!((scalar(binary_cross_entropy(&p, &y).unwrap()) - expected).abs() < 1e-6);
    }

    #[test]
    fn softmax_cross_entropy_matches_hand_value() {
        // logits [0, ln 3] → softmax [0.25, 0.75]; label 1 → −ln 0.75.
        let logits = Tensor::new(&[[0.0f32, 3f32.ln()]], &Device::Cpu).unwrap();
        let labels = Tensor::new(&[1u32], &Device::Cpu).unwrap();
        let ce = scalar(softmax_cross_entropy(&logits, &labels).unwrap());
        assert!((ce + 0.75f32.ln()).abs() < 1e-6, "{ce}");
    }
}
