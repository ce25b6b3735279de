//! Theft suspicion (窃电嫌疑) from a customer's daily consumption.
//!
//! - [`features`]: what an inspector looks at in a year of days, as numbers, with words for each.
//! - [`model`]: a gradient-boosted model over those features (trained and run in Rust), its
//!   explanation per customer (each feature's share of the score), a calibrated threshold and the
//!   inspection-budget view; the default model ships inside the binary.
//! - [`rules`]: the hand-weighted rule score, LOSS-THEFT's fallback and the baseline.
//! - [`logistic`]: a logistic regression on the same features, the second baseline.
//! - [`metrics`]: ROC AUC, PR AUC, precision at k, MAP@k and bootstrap intervals.
//! - [`wide`]: the wide daily CSV form, read as a stream.

pub mod features;
pub mod logistic;
pub mod metrics;
pub mod model;
pub mod rules;
pub mod wide;

use jicha_core::problem::Problem;
use sha2::{Digest, Sha256};

pub use model::{Explained, Model};
pub use rules::{Features, RULE_WEIGHTS, RuleScorer, Scored, Scorer};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum TheftError {
    /// The input is wrong; every problem names its place.
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Input(Vec<Problem>),
    /// Reading or writing a file failed.
    #[error("{problem}: {source}")]
    Io {
        /// Where.
        problem: Box<Problem>,
        /// Why.
        source: std::io::Error,
    },
    /// A model file is not one of ours or is damaged.
    #[error("模型文件无效 / invalid model file {file}: {reason}")]
    Model {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// Training could not run (too few rows, one class only).
    #[error("无法训练 / cannot train: {0}")]
    Training(String),
}

impl TheftError {
    pub(crate) fn io(problem: Problem, source: std::io::Error) -> TheftError {
        TheftError::Io { problem: Box::new(problem), source }
    }
}

/// The fixed split of the theft-2015 evaluation data: a customer is in the test part when the
/// first 8 hex digits of SHA-256 of its id (as text), read as a number, modulo 10 are below 4.
pub fn in_test_split(customer_id: &str) -> bool {
    let digest = Sha256::digest(customer_id.as_bytes());
    let first = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    first % 10 < 4
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_split_follows_the_sha256_rule() {
        // SHA-256("abc") starts ba7816bf = 3128432319; mod 10 = 9: train.
        assert!(!super::in_test_split("abc"));
        // SHA-256("a") starts ca978112 = 3398926610; mod 10 = 0: test.
        assert!(super::in_test_split("a"));
    }
}
