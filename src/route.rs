//! Suggested lead units: a routing table `category (+ region) → unit`, the way offices route
//! (住建 matters to 住建局, schools to 教育局, …), for case groups and petitions the data gives
//! no unit. The pipeline's own rules (`[[route.rule]]`) come first, then a bundled default for
//! the common categories; with `local = true` a bundled unit is prefixed with the petition's
//! 属地 (its county, else its city): `A2区住房和城乡建设局`. The brief says it is a suggestion.

use serde::{Deserialize, Serialize};

/// `[route]` in a pipeline file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// The office's rules, tried in order before the bundled table.
    pub rule: Vec<Rule>,
    /// Use the bundled table for categories no rule covers.
    pub bundled: bool,
    /// Prefix a bundled unit with the petition's county (else city): units are local.
    pub local: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rule: Vec::new(),
            bundled: true,
            local: true,
        }
    }
}

/// One routing rule: petitions whose category contains `category` (and, when given, whose
/// region names `region` at any level) go to `unit`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub category: String,
    #[serde(default)]
    pub region: Option<String>,
    pub unit: String,
}

/// The bundled table: a word of the category → the unit that usually handles it. Checked in
/// order, so the more specific words come first.
const BUNDLED: &[(&str, &str)] = &[
    ("劳动", "人力资源和社会保障局"),
    ("社会保障", "人力资源和社会保障局"),
    ("社保", "人力资源和社会保障局"),
    ("城乡建设", "住房和城乡建设局"),
    ("住房", "住房和城乡建设局"),
    ("住建", "住房和城乡建设局"),
    ("物业", "住房和城乡建设局"),
    ("教育", "教育局"),
    ("卫生", "卫生健康委员会"),
    ("医疗", "卫生健康委员会"),
    ("交通", "交通运输局"),
    ("商贸", "商务局"),
    ("旅游", "文化旅游广电局"),
    ("环境", "生态环境局"),
    ("环保", "生态环境局"),
    ("农村", "农业农村局"),
    ("农业", "农业农村局"),
    ("国土", "自然资源和规划局"),
    ("自然资源", "自然资源和规划局"),
    ("民政", "民政局"),
    ("政法", "政法委员会"),
    ("公安", "公安局"),
    ("经济管理", "发展和改革局"),
    ("市场监管", "市场监督管理局"),
    ("科技", "科学技术局"),
    ("党务政务", "政府办公室"),
    ("纪检监察", "纪委监委"),
];

impl Options {
    /// The suggested unit for a petition of `category` in `region` (city, county, town), if any
    /// rule covers the category.
    pub fn unit(&self, category: &str, region: &[Option<String>; 3]) -> Option<String> {
        for r in &self.rule {
            let region_ok = r
                .region
                .as_deref()
                .is_none_or(|want| region.iter().flatten().any(|n| n == want));
            if category.contains(r.category.as_str()) && region_ok {
                return Some(r.unit.clone());
            }
        }
        if !self.bundled {
            return None;
        }
        let (_, unit) = BUNDLED.iter().find(|(w, _)| category.contains(w))?;
        let place = if self.local {
            region[1].as_deref().or(region[0].as_deref()).unwrap_or("")
        } else {
            ""
        };
        Some(format!("{place}{unit}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_first_then_the_bundled_table_with_the_place() {
        let mut o = Options::default();
        let r = [Some("A市".to_string()), Some("A2区".to_string()), None];
        assert_eq!(
            o.unit("城乡建设", &r).as_deref(),
            Some("A2区住房和城乡建设局")
        );
        assert_eq!(
            o.unit("劳动和社会保障", &[Some("A市".into()), None, None])
                .as_deref(),
            Some("A市人力资源和社会保障局")
        );
        assert_eq!(
            o.unit("教育文体", &[None, None, None]).as_deref(),
            Some("教育局")
        );
        assert_eq!(o.unit("其他", &r), None);
        o.rule.push(Rule {
            category: "城乡建设".into(),
            region: Some("A2区".into()),
            unit: "A2区住建局".into(),
        });
        assert_eq!(o.unit("城乡建设", &r).as_deref(), Some("A2区住建局"));
        assert_eq!(
            o.unit("城乡建设", &[Some("A市".into()), None, None])
                .as_deref(),
            Some("A市住房和城乡建设局")
        );
        o.bundled = false;
        assert_eq!(o.unit("教育文体", &r), None);
    }
}
