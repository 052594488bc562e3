//! The statistics of the brief: 环比/同比 changes, the rising-issue test (module docs of
//! [`super`]) and the Poisson tail it rests on.

use chrono::NaiveDate;

use super::model::{Change, CHANNELS};
use super::Options;
use crate::calendar::Period;
use crate::schema::Channel;

/// Poisson upper tail P(X ≥ k) for mean `lambda`.
pub fn poisson_upper(k: u64, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    // 1 - P(X ≤ k-1), summed in log space-safe form.
    let mut term = (-lambda).exp();
    let mut cdf = term;
    for i in 1..k {
        term *= lambda / i as f64;
        cdf += term;
    }
    (1.0 - cdf).max(0.0)
}

/// Each channel's count in the period with its bases (`weekly` oldest first, the period last);
/// channels with nothing in the period or its bases are left out.
pub(super) fn channel_changes(
    weekly: &[[u64; CHANNELS]],
    year_ago: &[u64; CHANNELS],
    has_prev: bool,
    has_yago: bool,
) -> Vec<(Channel, Change)> {
    let nb = weekly.len();
    Channel::ALL
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ch = Change {
                current: weekly[nb - 1][i],
                previous: (has_prev && nb > 1).then(|| weekly[nb - 2][i]),
                year_ago: has_yago.then_some(year_ago[i]),
            };
            (*c, ch)
        })
        .filter(|(_, ch)| {
            ch.current > 0 || ch.previous.unwrap_or(0) > 0 || ch.year_ago.unwrap_or(0) > 0
        })
        .collect()
}

/// Trailing periods the data fully covers: only they form a baseline.
pub(super) fn covered_periods(period: &Period, data_from: Option<NaiveDate>, b: usize) -> usize {
    (1..=b)
        .filter(|k| data_from.is_some_and(|d| d <= period.shifted(*k as i64).from))
        .count()
}

/// The period's count (`buckets[0]`) with its 环比 and 同比 bases where the data has them.
pub(super) fn change_of(buckets: &[u64], year_ago: u64, has_prev: bool, has_yago: bool) -> Change {
    let bk = |i: usize| buckets.get(i).copied().unwrap_or(0);
    Change {
        current: bk(0),
        previous: has_prev.then(|| bk(1)),
        year_ago: has_yago.then_some(year_ago),
    }
}

/// The rising-issue test (module docs): the mean over the `covered` trailing periods, the
/// Poisson upper tail of the period's count under it, and whether that flags the issue.
pub(super) fn rising_test(buckets: &[u64], covered: usize, opts: &Options) -> (f64, f64, bool) {
    let cur = buckets.first().copied().unwrap_or(0);
    let sum: u64 = (1..=covered)
        .map(|k| buckets.get(k).copied().unwrap_or(0))
        .sum();
    let mean = if covered == 0 {
        0.0
    } else {
        sum as f64 / covered as f64
    };
    let p = poisson_upper(cur, mean.max(opts.min_lambda));
    (
        mean,
        p,
        covered > 0 && cur >= opts.min_count && p < opts.p_threshold,
    )
}
