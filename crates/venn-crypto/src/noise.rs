//! Exact discrete Laplace noise for differentially private counts.
//!
//! A released count `c` becomes `c + Z`, where `Z` follows the discrete
//! Laplace (two-sided geometric) distribution of scale `s = 1/ε`:
//!
//! ```text
//! P[Z = z] = (1 − e^{−1/s}) / (1 + e^{−1/s}) · e^{−|z|/s},   z ∈ ℤ
//! ```
//!
//! For a count that one person changes by at most 1 (sensitivity 1), that
//! makes the released value ε-differentially private (Canonne, Kamath and
//! Steinke, *The Discrete Gaussian for Differential Privacy*, NeurIPS 2020,
//! arXiv:2004.00010, §2). How ε adds up over several counts that one person
//! touches is the caller's accounting, not this module's.
//!
//! # Why a library sampler
//! Noise drawn as `round(Laplace(s))` from `f64` arithmetic is not the
//! distribution above: the floating-point tails and rounding leak the true
//! value (Mironov, *On Significance of the Least Significant Bits for
//! Differential Privacy*, CCS 2012). So nothing here touches a float on the
//! sampling path: ε travels as an exact rational `num/den`, and the draw is
//! OpenDP's `sample_discrete_laplace` (after CKS20, on `dashu`
//! arbitrary-precision rationals), a maintained sampler with a written proof.
//!
//! # Randomness
//! OpenDP is built with its default features off, so its `use-openssl`
//! feature is off and its random bits come from `rand` 0.7's `thread_rng()`:
//! ChaCha20 in a thread-local generator seeded, and reseeded every 64 KiB
//! of output, from the operating system (`OsRng`). OpenDP's docs label
//! this path "non-secure" and point to `use-openssl` (OpenSSL's
//! `RAND_priv_bytes`) for a secure one; we judge ChaCha20 keyed from the OS
//! a CSPRNG fit for noise, and leaving OpenSSL out keeps a vendored C build
//! out of Venn. This was chosen deliberately. Unlike the rest of the
//! protocol's randomness, this draw is never seeded from a config option:
//! noise that a test (or a party) can replay protects nobody.
//!
//! # Variable time
//! The sampler loops a random number of times, and longer for larger
//! `|Z|`, so its running time says something about the noise drawn. Draw
//! noise where the peer cannot time it (before results are sent, not
//! interleaved with per-message work it can observe).

use dashu::integer::IBig;
use dashu::rational::RBig;
use thiserror::Error;

/// The fixed denominator [`epsilon_to_rational`] puts an `f64` epsilon
/// over: ε is kept to 6 decimal places, which represents exactly any value a
/// person would write in a policy file (`0.1`, `0.25`, `1`, `2.5`).
pub const EPSILON_DENOMINATOR: u64 = 1_000_000;

/// Largest epsilon [`epsilon_to_rational`] accepts. Beyond this the noise is
/// almost always 0 (for ε = 10^6, `P[Z ≠ 0] ≈ 2·e^{−10^6}`), which a
/// policy should say by turning noise off, not by a huge ε.
pub const MAX_EPSILON: f64 = 1_000_000.0;

/// Why no noise could be drawn. Not `Eq`: [`NoiseError::InvalidEpsilon`]
/// reports the rejected `f64`, which may be NaN.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum NoiseError {
    /// `epsilon_num` was 0: ε = 0 means an infinite scale, so no finite
    /// noise protects the count and none can be drawn.
    #[error("epsilon must be positive, got 0/{den}")]
    ZeroEpsilon {
        /// The denominator given alongside the zero numerator.
        den: u64,
    },
    /// `epsilon_den` was 0: `num/0` is not a number.
    #[error("epsilon denominator must be positive, got {num}/0")]
    ZeroDenominator {
        /// The numerator given alongside the zero denominator.
        num: u64,
    },
    /// An `f64` epsilon that is NaN, infinite, not positive, above
    /// [`MAX_EPSILON`], or so small it rounds to 0 over
    /// [`EPSILON_DENOMINATOR`].
    #[error("epsilon must be a finite number in [1e-6, 1e6], got {epsilon}")]
    InvalidEpsilon {
        /// The rejected value, as given.
        epsilon: f64,
    },
    /// The sample does not fit an `i64`. In practice only with an absurdly
    /// small ε (a scale of 10^18 or more), where the count is lost anyway.
    #[error("noise sample {sample} does not fit in an i64")]
    OutOfRange {
        /// The sample, in decimal.
        sample: String,
    },
    /// OpenDP's sampler failed. With default features off its only failure
    /// is the operating system refusing entropy to `thread_rng()`.
    #[error("discrete Laplace sampler failed: {message}")]
    Sampler {
        /// OpenDP's error variant and message.
        message: String,
    },
}

/// Draws one sample of discrete Laplace noise of scale `1/ε`, with
/// `ε = epsilon_num / epsilon_den` kept exact.
///
/// The scale is the rational `epsilon_den / epsilon_num`; OpenDP samples
/// `Z` with `P[Z = z] ∝ e^{−|z|·epsilon_num/epsilon_den}` exactly (see the
/// module docs). `E[Z] = 0` and `Var[Z] = 2·e^{−1/s} / (1 − e^{−1/s})^2`.
///
/// # Errors
/// [`NoiseError::ZeroEpsilon`] if `epsilon_num == 0`,
/// [`NoiseError::ZeroDenominator`] if `epsilon_den == 0`,
/// [`NoiseError::OutOfRange`] if the sample exceeds `i64`, and
/// [`NoiseError::Sampler`] if the OS gave no entropy.
pub fn discrete_laplace(epsilon_num: u64, epsilon_den: u64) -> Result<i64, NoiseError> {
    if epsilon_den == 0 {
        return Err(NoiseError::ZeroDenominator { num: epsilon_num });
    }
    if epsilon_num == 0 {
        return Err(NoiseError::ZeroEpsilon { den: epsilon_den });
    }
    let scale = RBig::from_parts(IBig::from(epsilon_den), epsilon_num.into());
    let sample = opendp::traits::samplers::sample_discrete_laplace(scale).map_err(|e| NoiseError::Sampler {
        message: match e.message {
            Some(m) => format!("{}: {m}", e.variant),
            None => e.variant.to_string(),
        },
    })?;
    i64::try_from(&sample).map_err(|_| NoiseError::OutOfRange { sample: sample.to_string() })
}

/// Turns an `f64` epsilon read from a policy file into the exact rational
/// `(num, EPSILON_DENOMINATOR)` that [`discrete_laplace`] takes, with
/// `num = round(ε · 10^6)`.
///
/// Any ε with at most 6 decimal places comes out exact (`0.1` gives
/// `(100_000, 1_000_000)`): its `f64` is within 10^-16 relative of the
/// decimal, far less than the half-unit rounding absorbs. More decimals are
/// rounded to the nearest 10^-6, a change in ε of at most 5·10^-7.
///
/// # Errors
/// [`NoiseError::InvalidEpsilon`] if ε is NaN, infinite, not positive,
/// above [`MAX_EPSILON`], or below 5·10^-7 (it would round to 0).
pub fn epsilon_to_rational(epsilon: f64) -> Result<(u64, u64), NoiseError> {
    if !epsilon.is_finite() || epsilon <= 0.0 || epsilon > MAX_EPSILON {
        return Err(NoiseError::InvalidEpsilon { epsilon });
    }
    let scaled = (epsilon * EPSILON_DENOMINATOR as f64).round();
    if scaled < 1.0 {
        return Err(NoiseError::InvalidEpsilon { epsilon });
    }
    // In [1, 10^12] after the checks above, so the cast is exact.
    Ok((scaled as u64, EPSILON_DENOMINATOR))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws at scale 2 (ε = 1/2), where `Var = 2·e^{−1/2} / (1 − e^{−1/2})^2
    /// ≈ 7.8354` and `E[Z^4] ≈ 376.2`. With 20,000 draws the standard
    /// error of the mean is `sqrt(7.8354 / 20,000) ≈ 0.0198` and that of the
    /// sample variance `sqrt((376.2 − 7.8354^2) / 20,000) ≈ 0.125`; the
    /// bounds below are 6 standard errors, so a correct sampler fails them
    /// with probability below 10^-8, and a wrong scale (1 or 3) cannot pass.
    #[test]
    fn moments_match_the_discrete_laplace_at_scale_two() {
        const DRAWS: usize = 20_000;
        let samples: Vec<i64> = (0..DRAWS).map(|_| discrete_laplace(1, 2).unwrap()).collect();
        let n = DRAWS as f64;
        let mean = samples.iter().sum::<i64>() as f64 / n;
        let variance = samples.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let p = (-0.5f64).exp();
        let expected = 2.0 * p / (1.0 - p).powi(2);
        assert!((expected - 7.8354).abs() < 1e-3, "formula: {expected}");
        assert!(mean.abs() < 6.0 * 0.0198, "sample mean {mean}");
        assert!((variance - expected).abs() < 6.0 * 0.125, "sample variance {variance}, expected {expected}");
    }

    #[test]
    fn samples_take_both_signs_and_zero() {
        let samples: Vec<i64> = (0..2_000).map(|_| discrete_laplace(1, 2).unwrap()).collect();
        // P[Z = 0] = (1 − p)/(1 + p) ≈ 0.245 and P[Z > 0] = P[Z < 0] ≈ 0.378,
        // so missing any of the three in 2,000 draws has probability < 10^-240.
        assert!(samples.iter().any(|&x| x > 0));
        assert!(samples.iter().any(|&x| x < 0));
        assert!(samples.contains(&0));
    }

    #[test]
    fn rejects_zero_numerator() {
        assert_eq!(discrete_laplace(0, 5), Err(NoiseError::ZeroEpsilon { den: 5 }));
    }

    #[test]
    fn rejects_zero_denominator() {
        assert_eq!(discrete_laplace(3, 0), Err(NoiseError::ZeroDenominator { num: 3 }));
        assert_eq!(discrete_laplace(0, 0), Err(NoiseError::ZeroDenominator { num: 0 }));
    }

    #[test]
    fn policy_epsilons_convert_exactly() {
        assert_eq!(epsilon_to_rational(0.1), Ok((100_000, EPSILON_DENOMINATOR)));
        assert_eq!(epsilon_to_rational(0.3), Ok((300_000, EPSILON_DENOMINATOR)));
        assert_eq!(epsilon_to_rational(1.0), Ok((1_000_000, EPSILON_DENOMINATOR)));
        assert_eq!(epsilon_to_rational(2.5), Ok((2_500_000, EPSILON_DENOMINATOR)));
        assert_eq!(epsilon_to_rational(0.000_001), Ok((1, EPSILON_DENOMINATOR)));
        assert_eq!(epsilon_to_rational(0.123_456_7), Ok((123_457, EPSILON_DENOMINATOR)));
        assert_eq!(epsilon_to_rational(MAX_EPSILON), Ok((1_000_000_000_000, EPSILON_DENOMINATOR)));
    }

    #[test]
    fn rejects_unusable_float_epsilons() {
        for epsilon in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 4e-7, MAX_EPSILON * 1.5] {
            assert!(
                matches!(epsilon_to_rational(epsilon), Err(NoiseError::InvalidEpsilon { .. })),
                "{epsilon} accepted"
            );
        }
    }

    /// A converted ε draws from the distribution of the exact one: ε = 0.5
    /// becomes 500,000/1,000,000, whose draws have the moments of scale 2
    /// (4,000 draws: the standard error of the sample variance is
    /// `sqrt((376.2 − 7.8354^2) / 4,000) ≈ 0.281`; the bound is 6 of them,
    /// and scales 1 (Var ≈ 1.84) and 3 (Var ≈ 17.8) fall far outside).
    #[test]
    fn converted_epsilon_draws_at_its_scale() {
        let (num, den) = epsilon_to_rational(0.5).unwrap();
        assert_eq!((num, den), (500_000, EPSILON_DENOMINATOR));
        const DRAWS: usize = 4_000;
        let samples: Vec<i64> = (0..DRAWS).map(|_| discrete_laplace(num, den).unwrap()).collect();
        let n = DRAWS as f64;
        let mean = samples.iter().sum::<i64>() as f64 / n;
        let variance = samples.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
        assert!(mean.abs() < 6.0 * (7.8354f64 / n).sqrt(), "sample mean {mean}");
        assert!((variance - 7.8354).abs() < 6.0 * 0.281, "sample variance {variance}");
    }

    /// At the largest ε the noise is 0 but with probability about
    /// `2·e^{−10^6}`: the draw is exactly the count.
    #[test]
    fn largest_converted_epsilon_draws_zero() {
        let (num, den) = epsilon_to_rational(MAX_EPSILON).unwrap();
        for _ in 0..100 {
            assert_eq!(discrete_laplace(num, den), Ok(0));
        }
    }
}
