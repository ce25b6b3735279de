//! Logistic regression on the same features: the linear baseline. Each feature is standardized
//! with the training rows' mean and deviation (a missing value becomes the mean), clipped to
//! +-5 deviations, and the weights are fitted by Newton's method with an L2 penalty.

/// A fitted logistic regression.
#[derive(Debug, Clone)]
pub struct Logistic {
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// Weights, the intercept last.
    pub weights: Vec<f64>,
}

fn standardize(row: &[f64], mean: &[f64], scale: &[f64], out: &mut Vec<f64>) {
    out.clear();
    for ((v, m), s) in row.iter().zip(mean).zip(scale) {
        out.push(if v.is_finite() { ((v - m) / s).clamp(-5.0, 5.0) } else { 0.0 });
    }
    out.push(1.0);
}

/// Solves `a x = b` (a symmetric positive definite, n x n row-major) by Gaussian elimination
/// with partial pivoting.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Vec<f64> {
    for c in 0..n {
        let p = (c..n).max_by(|i, j| a[i * n + c].abs().total_cmp(&a[j * n + c].abs())).unwrap_or(c);
        if p != c {
            for k in 0..n {
                a.swap(c * n + k, p * n + k);
            }
            b.swap(c, p);
        }
        let d = a[c * n + c];
        if d.abs() < 1e-300 {
            continue;
        }
        for r in c + 1..n {
            let f = a[r * n + c] / d;
            if f != 0.0 {
                for k in c..n {
                    a[r * n + k] -= f * a[c * n + k];
                }
                b[r] -= f * b[c];
            }
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r * n + k] * x[k]).sum();
        let d = a[r * n + r];
        x[r] = if d.abs() < 1e-300 { 0.0 } else { (b[r] - s) / d };
    }
    x
}

impl Logistic {
    /// Fits on `rows` (each a feature vector) with labels, penalty `lambda` on the weights (not
    /// the intercept).
    pub fn fit(rows: &[Vec<f64>], labels: &[bool], lambda: f64) -> Logistic {
        let d = rows.first().map_or(0, |r| r.len());
        let mut mean = vec![0.0; d];
        let mut scale = vec![1.0; d];
        for j in 0..d {
            let vals: Vec<f64> = rows.iter().map(|r| r[j]).filter(|v| v.is_finite()).collect();
            if vals.is_empty() {
                continue;
            }
            let m = vals.iter().sum::<f64>() / vals.len() as f64;
            let s = (vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
            mean[j] = m;
            scale[j] = if s > 1e-12 { s } else { 1.0 };
        }
        let x: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                let mut o = Vec::with_capacity(d + 1);
                standardize(r, &mean, &scale, &mut o);
                o
            })
            .collect();
        let n = d + 1;
        let mut w = vec![0.0; n];
        for _ in 0..50 {
            let mut grad = vec![0.0; n];
            let mut hess = vec![0.0; n * n];
            for (xi, &yi) in x.iter().zip(labels) {
                let z: f64 = xi.iter().zip(&w).map(|(a, b)| a * b).sum();
                let p = 1.0 / (1.0 + (-z).exp());
                let g = p - f64::from(u8::from(yi));
                let h = (p * (1.0 - p)).max(1e-9);
                for a in 0..n {
                    grad[a] += g * xi[a];
                    let ha = h * xi[a];
                    for b in a..n {
                        hess[a * n + b] += ha * xi[b];
                    }
                }
            }
            for a in 0..n {
                for b in 0..a {
                    hess[a * n + b] = hess[b * n + a];
                }
                if a < d {
                    grad[a] += lambda * w[a];
                    hess[a * n + a] += lambda;
                }
            }
            let step = solve(hess, grad, n);
            let mut moved = 0.0f64;
            for (wi, s) in w.iter_mut().zip(&step) {
                *wi -= s;
                moved = moved.max(s.abs());
            }
            if moved < 1e-8 {
                break;
            }
        }
        Logistic { mean, scale, weights: w }
    }

    /// For a one-feature fit: (a, b) with probability = sigmoid(a * x + b) on the raw feature.
    pub fn unscaled_line(&self) -> (f64, f64) {
        let a = self.weights[0] / self.scale[0];
        (a, self.weights[1] - a * self.mean[0])
    }

    /// The probability of theft for one feature vector.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let mut x = Vec::with_capacity(row.len() + 1);
        standardize(row, &self.mean, &self.scale, &mut x);
        let z: f64 = x.iter().zip(&self.weights).map(|(a, b)| a * b).sum();
        1.0 / (1.0 + (-z).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_a_linear_class_and_ignores_noise() {
        let rows: Vec<Vec<f64>> =
            (0..200).map(|i| vec![(i as f64) / 100.0 - 1.0, ((i * 37) % 11) as f64, f64::NAN]).collect();
        let labels: Vec<bool> = rows.iter().map(|r| r[0] > 0.0).collect();
        let m = Logistic::fit(&rows, &labels, 1.0);
        assert!(m.predict(&[0.8, 3.0, f64::NAN]) > 0.9);
        assert!(m.predict(&[-0.8, 3.0, 1.0]) < 0.1);
        assert!(m.weights[0] > 10.0 * m.weights[1].abs());
    }
}
