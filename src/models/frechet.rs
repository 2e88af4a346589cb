//! Fréchet distance between two sets of feature vectors (the statistic behind FID).
//!
//! Each set is summarised by its mean μ and covariance Σ; the distance between the Gaussians
//! N(μ1, Σ1) and N(μ2, Σ2) is ||μ1 − μ2||² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2}) (Dowson & Landau
//! 1982; Heusel et al. 2017). All arithmetic is f64.

use serde::{Deserialize, Serialize};

/// Sweeps after which the Jacobi solver gives up; it converges quadratically, in well under
/// 20 sweeps for the 128×128 covariances used here.
const MAX_JACOBI_SWEEPS: usize = 100;

/// Why a Fréchet distance could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrechetError {
    /// The feature dimension is 0 or does not divide the data length.
    #[error("feature data of length {len} is not a whole number of {dim}-d vectors")]
    BadShape {
        /// Length of the flat data.
        len: usize,
        /// Requested feature dimension.
        dim: usize,
    },
    /// A covariance needs at least two vectors.
    #[error("need at least 2 feature vectors for a covariance, got {0}")]
    TooFewSamples(usize),
    /// The two sets have different feature dimensions.
    #[error("feature dimensions differ: {0} vs {1}")]
    DimensionMismatch(usize, usize),
    /// A feature or statistic is NaN or infinite.
    #[error("features contain NaN or infinite values")]
    NonFinite,
    /// The eigen solver did not converge (not seen on real covariances).
    #[error("eigendecomposition did not converge in {MAX_JACOBI_SWEEPS} sweeps")]
    NoConvergence,
}

/// Mean and covariance of a set of feature vectors: what the distance needs, so the real-data
/// side can be computed once and cached (it serialises with serde).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// Feature dimension d.
    pub dim: usize,
    /// Number of vectors the statistics came from.
    pub count: usize,
    /// Mean vector, length d.
    pub mean: Vec<f64>,
    /// Unbiased covariance (divisor N − 1, as numpy's `cov`), d×d row-major.
    pub cov: Vec<f64>,
}

impl FeatureStats {
    /// Statistics of `features`, a flat row-major (N, dim) array.
    pub fn from_features(features: &[f32], dim: usize) -> Result<Self, FrechetError> {
        if dim == 0 || !features.len().is_multiple_of(dim) {
            return Err(FrechetError::BadShape {
                len: features.len(),
                dim,
            });
        }
        let count = features.len() / dim;
        if count < 2 {
            return Err(FrechetError::TooFewSamples(count));
        }
        if features.iter().any(|v| !v.is_finite()) {
            return Err(FrechetError::NonFinite);
        }
        let mut mean = vec![0.0f64; dim];
        for row in features.chunks_exact(dim) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        for m in &mut mean {
            *m /= count as f64;
        }
        // Centre first: the textbook E[xxᵀ] − μμᵀ loses precision when |μ| ≫ σ.
        let mut cov = vec![0.0f64; dim * dim];
        let mut centred = vec![0.0f64; dim];
        for row in features.chunks_exact(dim) {
            for ((c, &v), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = v as f64 - m;
            }
            for (i, &ci) in centred.iter().enumerate() {
                let cov_row = &mut cov[i * dim..i * dim + dim];
                for (out, &cj) in cov_row[i..].iter_mut().zip(&centred[i..]) {
                    *out += ci * cj;
                }
            }
        }
        let scale = 1.0 / (count - 1) as f64;
        for i in 0..dim {
            for j in i..dim {
                let v = cov[i * dim + j] * scale;
                cov[i * dim + j] = v;
                cov[j * dim + i] = v;
            }
        }
        Ok(Self {
            dim,
            count,
            mean,
            cov,
        })
    }
}

/// Fréchet distance between two flat (N, dim) feature arrays (N may differ between them).
pub fn frechet_distance(a: &[f32], b: &[f32], dim: usize) -> Result<f64, FrechetError> {
    frechet_distance_stats(
        &FeatureStats::from_features(a, dim)?,
        &FeatureStats::from_features(b, dim)?,
    )
}

/// Fréchet distance between two sets already summarised as [`FeatureStats`].
///
/// tr (Σ1 Σ2)^{1/2} is computed as tr (Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2}: the two matrices are similar,
/// and the second is symmetric positive semi-definite, so both square roots come from
/// symmetric eigendecompositions with tiny negative eigenvalues (round-off) clamped to 0.
pub fn frechet_distance_stats(a: &FeatureStats, b: &FeatureStats) -> Result<f64, FrechetError> {
    if a.dim != b.dim {
        return Err(FrechetError::DimensionMismatch(a.dim, b.dim));
    }
    let n = a.dim;
    let mean_term: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    let trace = |m: &[f64]| (0..n).map(|i| m[i * n + i]).sum::<f64>();
    let sqrt_a = sqrt_psd(&a.cov, n)?;
    let inner = matmul(&matmul(&sqrt_a, &b.cov, n), &sqrt_a, n);
    let (eigenvalues, _) = symmetric_eigen(&symmetrise(inner, n), n)?;
    let trace_sqrt: f64 = eigenvalues.iter().map(|&l| l.max(0.0).sqrt()).sum();
    let distance = mean_term + trace(&a.cov) + trace(&b.cov) - 2.0 * trace_sqrt;
    if !distance.is_finite() {
        return Err(FrechetError::NonFinite);
    }
    // Round-off can leave a distance of identical sets a hair below 0.
    Ok(distance.max(0.0))
}

/// (n×n) · (n×n), row-major.
fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        let out_row = &mut out[i * n..i * n + n];
        for k in 0..n {
            let aik = a[i * n + k];
            if aik == 0.0 {
                continue;
            }
            for (o, &bkj) in out_row.iter_mut().zip(&b[k * n..k * n + n]) {
                *o += aik * bkj;
            }
        }
    }
    out
}

/// Averages a matrix with its transpose, removing the asymmetry round-off adds.
fn symmetrise(mut m: Vec<f64>, n: usize) -> Vec<f64> {
    for i in 0..n {
        for j in i + 1..n {
            let v = 0.5 * (m[i * n + j] + m[j * n + i]);
            m[i * n + j] = v;
            m[j * n + i] = v;
        }
    }
    m
}

/// Principal square root V diag(√max(λ, 0)) Vᵀ of a symmetric PSD matrix.
fn sqrt_psd(m: &[f64], n: usize) -> Result<Vec<f64>, FrechetError> {
    let (values, vectors) = symmetric_eigen(m, n)?;
    let roots: Vec<f64> = values.iter().map(|&l| l.max(0.0).sqrt()).collect();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let v: f64 = (0..n)
                .map(|k| vectors[i * n + k] * roots[k] * vectors[j * n + k])
                .sum();
            out[i * n + j] = v;
            out[j * n + i] = v;
        }
    }
    Ok(out)
}

/// Eigenvalues and eigenvectors (columns of the returned row-major matrix) of a symmetric
/// matrix by the cyclic Jacobi method: slow-ish (O(n³) per sweep) but unconditionally stable
/// and accurate to working precision, which is what a score compared across runs needs.
fn symmetric_eigen(m: &[f64], n: usize) -> Result<(Vec<f64>, Vec<f64>), FrechetError> {
    let mut a = m.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let total: f64 = a.iter().map(|x| x * x).sum();
    if !total.is_finite() {
        return Err(FrechetError::NonFinite);
    }
    // Rotations leave round-off of about ε·||A|| in each entry, so n·ε·||A|| is the floor the
    // off-diagonal norm can reach.
    let tolerance = (n as f64 * f64::EPSILON).powi(2) * total;
    for sweep in 0..MAX_JACOBI_SWEEPS {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        if off <= tolerance {
            let values = (0..n).map(|i| a[i * n + i]).collect();
            return Ok((values, v));
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let app = a[p * n + p];
                let aqq = a[q * n + q];
                // An entry below the diagonals' last bit cannot change them: zero it instead of
                // rotating (Numerical Recipes' `jacobi`, after a few sweeps).
                let small = 100.0 * apq.abs();
                if sweep > 3 && app.abs() + small == app.abs() && aqq.abs() + small == aqq.abs() {
                    a[p * n + q] = 0.0;
                    a[q * n + p] = 0.0;
                    continue;
                }
                // Rotation angle from the stable form of Golub & Van Loan, Alg. 8.4.1.
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    Err(FrechetError::NoConvergence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn stats(mean: Vec<f64>, cov: Vec<f64>) -> FeatureStats {
        FeatureStats {
            dim: mean.len(),
            count: 1000,
            mean,
            cov,
        }
    }

    fn diag(values: &[f64]) -> Vec<f64> {
        let n = values.len();
        let mut m = vec![0.0; n * n];
        for (i, &v) in values.iter().enumerate() {
            m[i * n + i] = v;
        }
        m
    }

    fn transpose(m: &[f64], n: usize) -> Vec<f64> {
        (0..n * n).map(|k| m[(k % n) * n + k / n]).collect()
    }

    /// A rotation in the plane (i, j), for building non-diagonal covariances.
    fn givens(n: usize, i: usize, j: usize, angle: f64) -> Vec<f64> {
        let mut g = diag(&vec![1.0; n]);
        let (s, c) = angle.sin_cos();
        g[i * n + i] = c;
        g[j * n + j] = c;
        g[i * n + j] = -s;
        g[j * n + i] = s;
        g
    }

    #[test]
    fn diagonal_gaussians_match_the_closed_form() -> Result<(), FrechetError> {
        let s1 = [1.0f64, 4.0, 0.25, 9.0];
        let s2 = [2.0, 1.0, 0.25, 16.0];
        let m1 = vec![0.0, 1.0, -2.0, 0.5];
        let m2 = vec![1.0, 1.0, 0.0, 0.5];
        // ||μ1−μ2||² = 1 + 0 + 4 + 0; Σ(σ1 + σ2 − 2√(σ1σ2)).
        let expected = 5.0
            + s1.iter()
                .zip(&s2)
                .map(|(a, b)| a + b - 2.0 * (a * b).sqrt())
                .sum::<f64>();
        let got = frechet_distance_stats(&stats(m1, diag(&s1)), &stats(m2, diag(&s2)))?;
        assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
        Ok(())
    }

    #[test]
    fn rotated_commuting_covariances_match_the_closed_form() -> Result<(), FrechetError> {
        // Σ1 = R diag(a) Rᵀ, Σ2 = R diag(b) Rᵀ share eigenvectors, so
        // tr(Σ1Σ2)^{1/2} = Σ √(a_i b_i) although neither matrix is diagonal.
        let n = 5;
        let r = matmul(&givens(n, 0, 3, 0.7), &givens(n, 1, 4, -1.1), n);
        let r = matmul(&r, &givens(n, 2, 3, 0.3), n);
        let a = [3.0f64, 1.0, 0.5, 2.0, 0.1];
        let b = [1.0, 2.0, 4.0, 0.5, 0.3];
        let rotate = |d: &[f64]| matmul(&matmul(&r, &diag(d), n), &transpose(&r, n), n);
        let expected: f64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| x + y - 2.0 * (x * y).sqrt())
            .sum();
        let got = frechet_distance_stats(
            &stats(vec![0.0; n], rotate(&a)),
            &stats(vec![0.0; n], rotate(&b)),
        )?;
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        Ok(())
    }

    #[test]
    fn non_commuting_2x2_matches_the_formula() -> Result<(), FrechetError> {
        // For 2×2: tr(Σ1Σ2)^{1/2} = √(tr(Σ1Σ2) + 2√(det Σ1 · det Σ2)), since the eigenvalues of
        // Σ1Σ2 are non-negative and (√λ1 + √λ2)² = λ1 + λ2 + 2√(λ1λ2).
        let c1 = [2.0, 0.8, 0.8, 1.0];
        let c2 = [1.0, -0.3, -0.3, 3.0];
        let tr_prod = c1[0] * c2[0] + c1[1] * c2[2] + c1[2] * c2[1] + c1[3] * c2[3];
        let det = |c: &[f64; 4]| c[0] * c[3] - c[1] * c[2];
        let tr_sqrt = (tr_prod + 2.0 * (det(&c1) * det(&c2)).sqrt()).sqrt();
        let mean_term = (1.0f64 - 0.0).powi(2) + (-1.0f64 - 2.0).powi(2);
        let expected = mean_term + (c1[0] + c1[3]) + (c2[0] + c2[3]) - 2.0 * tr_sqrt;
        let got = frechet_distance_stats(
            &stats(vec![1.0, -1.0], c1.to_vec()),
            &stats(vec![0.0, 2.0], c2.to_vec()),
        )?;
        assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
        Ok(())
    }

    #[test]
    fn sampled_gaussians_converge_to_the_closed_form() -> Result<(), FrechetError> {
        let dim = 6;
        let n = 20_000;
        let mut rng = Rng::new(42);
        let sd1 = [1.0f32, 2.0, 0.5, 1.0, 1.5, 1.0];
        let sd2 = [1.0f32, 1.0, 1.0, 3.0, 1.5, 0.5];
        let draw = |rng: &mut Rng, sd: &[f32], shift: f32| -> Vec<f32> {
            (0..n * dim)
                .map(|k| shift + sd[k % dim] * rng.normal())
                .collect()
        };
        let a = draw(&mut rng, &sd1, 0.0);
        let b = draw(&mut rng, &sd2, 0.5);
        let expected = 0.25 * dim as f64
            + sd1
                .iter()
                .zip(&sd2)
                .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                .sum::<f64>();
        let got = frechet_distance(&a, &b, dim)?;
        assert!(
            (got - expected).abs() < 0.05 * expected,
            "{got} vs {expected}"
        );
        // A set against itself: 0 up to round-off.
        assert!(frechet_distance(&a, &a, dim)? < 1e-9);
        Ok(())
    }

    #[test]
    fn covariance_is_unbiased_and_errors_name_the_problem() {
        let s = FeatureStats::from_features(&[1.0, 2.0, 3.0, 6.0], 2).expect("two 2-d vectors");
        assert_eq!(s.mean, vec![2.0, 4.0]);
        // Deviations (−1, −2) and (1, 2), divisor N − 1 = 1.
        assert_eq!(s.cov, vec![2.0, 4.0, 4.0, 8.0]);
        assert_eq!(
            FeatureStats::from_features(&[1.0, 2.0, 3.0], 2),
            Err(FrechetError::BadShape { len: 3, dim: 2 })
        );
        assert_eq!(
            FeatureStats::from_features(&[1.0, 2.0], 2),
            Err(FrechetError::TooFewSamples(1))
        );
        assert_eq!(
            FeatureStats::from_features(&[1.0, f32::NAN, 3.0, 4.0], 2),
            Err(FrechetError::NonFinite)
        );
        let a = stats(vec![0.0], vec![1.0]);
        let b = stats(vec![0.0, 0.0], diag(&[1.0, 1.0]));
        assert_eq!(
            frechet_distance_stats(&a, &b),
            Err(FrechetError::DimensionMismatch(1, 2))
        );
    }

    #[test]
    fn eigen_solver_reconstructs_a_128_dim_covariance() -> Result<(), FrechetError> {
        let dim = 128;
        let mut rng = Rng::new(3);
        let features: Vec<f32> = (0..300 * dim).map(|_| rng.normal()).collect();
        let s = FeatureStats::from_features(&features, dim)?;
        let root = sqrt_psd(&s.cov, dim)?;
        let back = matmul(&root, &root, dim);
        let err = back
            .iter()
            .zip(&s.cov)
            .fold(0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(err < 1e-10, "max |√Σ√Σ − Σ| = {err}");
        Ok(())
    }
}
