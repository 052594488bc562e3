//! Listing the case groups as readers ask for them: the sort orders and filters that
//! `minqing groups` and the web pages share (built on the grouping's public output types).

use crate::cluster::{Group, Trend};

/// How a list of groups is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Heat, hottest first (the order of `groups.json`).
    #[default]
    Heat,
    /// Petitions, most first.
    Size,
    /// Growth in the latest week, fastest first.
    Growth,
}

impl Sort {
    pub fn code(self) -> &'static str {
        match self {
            Sort::Heat => "heat",
            Sort::Size => "size",
            Sort::Growth => "growth",
        }
    }

    pub fn parse(s: &str) -> Option<Sort> {
        [Sort::Heat, Sort::Size, Sort::Growth]
            .into_iter()
            .find(|x| x.code() == s)
    }
}

/// Petitions in the group's latest active week minus the week before it.
pub fn growth(g: &Group) -> i64 {
    let n = g.weekly.len();
    let last = g.weekly.last().map_or(0, |x| x.1) as i64;
    let prev = if n >= 2 { g.weekly[n - 2].1 as i64 } else { 0 };
    last - prev
}

/// Orders groups; ties by id, so the order is the same on every call.
pub fn sort(groups: &mut [&Group], by: Sort) {
    match by {
        Sort::Heat => groups.sort_by(|x, y| y.heat.total_cmp(&x.heat).then(x.id.cmp(&y.id))),
        Sort::Size => groups.sort_by(|x, y| y.size.cmp(&x.size).then(x.id.cmp(&y.id))),
        Sort::Growth => groups.sort_by(|x, y| growth(y).cmp(&growth(x)).then(x.id.cmp(&y.id))),
    }
}

/// The trend named by its code (`new`, `growing`, `steady`, `fading`).
pub fn parse_trend(s: &str) -> Option<Trend> {
    [Trend::New, Trend::Growing, Trend::Steady, Trend::Fading]
        .into_iter()
        .find(|t| t.code() == s)
}

/// What a list of groups is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub min_size: usize,
    /// A region level name or path prefix some member comes from (as `region:` in a search).
    pub region: Option<String>,
    /// A responsible unit of some member.
    pub unit: Option<String>,
    pub trend: Option<Trend>,
}

impl Filter {
    pub fn admits(&self, g: &Group) -> bool {
        g.size >= self.min_size
            && self.region.as_deref().is_none_or(|r| {
                g.regions
                    .iter()
                    .any(|(path, _)| crate::index::region_path_matches(r, path))
            })
            && self
                .unit
                .as_deref()
                .is_none_or(|u| g.units.iter().any(|(x, _)| x == u))
            && self.trend.is_none_or(|t| g.trend == t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, size: usize, heat: f64, weekly: &[usize]) -> Group {
        let d = chrono::NaiveDate::from_ymd_opt(2019, 1, 7).unwrap();
        Group {
            id: id.into(),
            label: id.into(),
            anchor: None,
            key_terms: vec![],
            size,
            distinct_petitioners: size,
            total_headcount: size as u64,
            first_seen: d.and_hms_opt(0, 0, 0).unwrap(),
            last_seen: d.and_hms_opt(0, 0, 0).unwrap(),
            weeks_active: weekly.len(),
            trend: Trend::Steady,
            regions: vec![("A市/A5区/洞井街道".into(), size)],
            units: vec![("A5区城管局".into(), size)],
            open: 0,
            closed: size,
            heat,
            batch_score: 0.0,
            batch_reasons: vec![],
            representative: String::new(),
            members: vec![],
            weekly: weekly
                .iter()
                .enumerate()
                .map(|(i, n)| (d + chrono::Duration::weeks(i as i64), *n))
                .collect(),
        }
    }

    #[test]
    fn sorts_and_filters() {
        let (a, b, c) = (
            group("G1", 5, 2.0, &[1, 4]),
            group("G2", 9, 3.0, &[5, 4]),
            group("G3", 9, 1.0, &[1, 1, 7]),
        );
        let ids = |by| {
            let mut v = vec![&a, &b, &c];
            sort(&mut v, by);
            v.iter().map(|g| g.id.as_str()).collect::<Vec<_>>()
        };
        assert_eq!(ids(Sort::Heat), ["G2", "G1", "G3"]);
        assert_eq!(ids(Sort::Size), ["G2", "G3", "G1"]);
        assert_eq!(ids(Sort::Growth), ["G3", "G1", "G2"]);
        let f = |region: &str| Filter {
            region: Some(region.into()),
            ..Filter::default()
        };
        assert!(f("A5区").admits(&a));
        assert!(f("A市/A5区").admits(&a));
        assert!(!f("A市/A6区").admits(&a));
        assert!(!f("A5").admits(&a));
        let u = Filter {
            unit: Some("A5区城管局".into()),
            min_size: 6,
            ..Filter::default()
        };
        assert!(!u.admits(&a) && u.admits(&b));
    }
}
