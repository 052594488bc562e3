//! A linear support-vector machine for sparse vectors: one-vs-rest, squared hinge loss, trained
//! by dual coordinate descent (Hsieh et al. 2008, the method of liblinear and of scikit-learn's
//! `LinearSVC`).
//!
//! Hand-written rather than a crate: the Rust learning crates (linfa, smartcore) take dense
//! matrices, and a text model has ~10⁵ features over ~10³ documents, where a dense matrix would
//! be gigabytes; this solver touches only the non-zero features and is ~60 lines.

/// A sparse vector: (feature index, value), indices ascending.
pub type Sparse = Vec<(u32, f32)>;

/// Solver settings.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Stopping tolerance on the projected gradient's spread.
    pub eps: f64,
    pub max_iter: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            eps: 0.1,
            max_iter: 1000,
        }
    }
}

/// Trains one binary problem: `y[i]` true for the positive class; `c_pos` / `c_neg` the costs of
/// the two sides (class weights). Returns the weights, the bias last (a constant feature 1).
pub fn train_binary(
    x: &[Sparse],
    y: &[bool],
    dim: usize,
    c_pos: f64,
    c_neg: f64,
    p: &Params,
) -> Vec<f64> {
    let n = x.len();
    let mut w = vec![0.0f64; dim + 1];
    let mut alpha = vec![0.0f64; n];
    // Squared hinge: the dual has no upper bound and a diagonal 1/(2C) term.
    let diag: Vec<f64> = y
        .iter()
        .map(|&pos| 0.5 / if pos { c_pos } else { c_neg })
        .collect();
    let qd: Vec<f64> = x
        .iter()
        .zip(&diag)
        .map(|(xi, d)| 1.0 + d + xi.iter().map(|&(_, v)| (v as f64).powi(2)).sum::<f64>())
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..p.max_iter {
        // A fixed-seed shuffle: the same data gives the same model.
        for i in (1..n).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            order.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
        for &i in &order {
            let yi = if y[i] { 1.0 } else { -1.0 };
            let dot = w[dim]
                + x[i]
                    .iter()
                    .map(|&(j, v)| w[j as usize] * v as f64)
                    .sum::<f64>();
            let g = yi * dot - 1.0 + diag[i] * alpha[i];
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).max(0.0);
                let d = (alpha[i] - old) * yi;
                for &(j, v) in &x[i] {
                    w[j as usize] += d * v as f64;
                }
                w[dim] += d;
            }
        }
        if pg_max - pg_min <= p.eps {
            break;
        }
    }
    w
}

/// Decision value of `x` under weights `w` (bias last).
pub fn score(w: &[f32], x: &Sparse) -> f64 {
    let bias = *w.last().unwrap_or(&0.0) as f64;
    bias + x
        .iter()
        .filter_map(|&(j, v)| w.get(j as usize).map(|wj| *wj as f64 * v as f64))
        .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two separable clouds on different features are told apart, in both directions.
    #[test]
    fn separates_separable_classes() {
        let x: Vec<Sparse> = (0..20)
            .map(|i| {
                if i % 2 == 0 {
                    vec![(0, 1.0), (2, 0.1 * (i % 3) as f32)]
                } else {
                    vec![(1, 1.0), (2, 0.1 * (i % 3) as f32)]
                }
            })
            .collect();
        let y: Vec<bool> = (0..20).map(|i| i % 2 == 0).collect();
        let w: Vec<f32> = train_binary(&x, &y, 3, 1.0, 1.0, &Params::default())
            .into_iter()
            .map(|v| v as f32)
            .collect();
        for (xi, yi) in x.iter().zip(&y) {
            assert_eq!(score(&w, xi) > 0.0, *yi);
        }
    }
}
