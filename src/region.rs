//! region stage: 属地 (city / county-district / town-street) from the place names in a petition's
//! title and content, for the petitions the data gives no region.
//!
//! Names come from four places: the data's own region values (with the paths they sit in), a
//! bundled list of China's divisions down to towns and streets (`data/regions/divisions.tsv`,
//! 国家统计局 2023 via the china-division package; see the file's head for source and licence),
//! the pipeline's city dictionaries (`[tokenize] dicts`: words ending in 区, 县, 市, 街道, 镇, 乡)
//! and anonymised codes such as `A市`, `A6区`, `K3县`, `A9市` (a letter alone names a city; with
//! digits, a district, county or county-level city).
//!
//! A petition's region is its most specific name (a town before a county before a city; the one
//! named most often, the first on a tie; the longest match at each place, so 洞井街道 is not read
//! as 洞井). Its parents come, in this order, from a parent named in the same text, from the
//! corpus (a name written directly after its parent, `A市A2区`, in at least two petitions and
//! for at least 80% of such writings; and the data's own region paths), and from the national
//! list when the name is unique there and the data itself uses the parent's name. Nothing else:
//! a level no source supports stays empty, and a petition naming no place stays unknown.

use std::collections::{BTreeMap, HashMap};

use aho_corasick::{AhoCorasick, MatchKind};
use rayon::prelude::*;
use regex::Regex;

use crate::error::{Error, Result};
use crate::schema::Record;

/// The bundled divisions list.
const DIVISIONS: &str = include_str!("../data/regions/divisions.tsv");

/// Levels of a region path.
pub const LEVELS: [&str; 3] = ["市", "区县", "街道乡镇"];

/// A region path: city, county/district, town/street.
pub type Path3 = [Option<String>; 3];

/// What the region stage reads.
pub struct Input<'a> {
    pub records: &'a [Record],
    /// The pipeline's dictionary files (`[tokenize] dicts`): their place names count.
    pub dicts: &'a [std::path::PathBuf],
}

/// Per record (aligned with the records): the inferred region of a petition without one.
#[derive(Debug, Clone, Default)]
pub struct Located {
    pub places: Vec<Option<Path3>>,
}

impl Located {
    /// Petitions without a region in the data, by the finest level found (市, 区县, 街道乡镇),
    /// and those that stayed unknown.
    pub fn counts(&self, records: &[Record]) -> ([usize; 3], usize) {
        let mut by = [0usize; 3];
        let mut unknown = 0;
        for (r, p) in records.iter().zip(&self.places) {
            if has_region(r) {
                continue;
            }
            match p.as_ref().and_then(|p| p.iter().rposition(Option::is_some)) {
                Some(l) => by[l] += 1,
                None => unknown += 1,
            }
        }
        (by, unknown)
    }
}

fn has_region(r: &Record) -> bool {
    r.region.iter().any(Option::is_some)
}

/// Where a name sits, per source.
#[derive(Debug, Clone, Default)]
struct Entry {
    /// Level 0 city, 1 county, 2 town.
    level: usize,
    /// Parents in the national list, one per division of that name: (city, county).
    national: Vec<[Option<String>; 2]>,
}

/// Every known name, with a matcher over them.
struct Gazetteer {
    names: Vec<String>,
    entries: Vec<Entry>,
    matcher: AhoCorasick,
    codes: Regex,
}

/// A place named in a text.
#[derive(Debug, Clone)]
struct Mention {
    name: String,
    level: usize,
    start: usize,
    end: usize,
}

/// The level a name's ending gives, for dictionary words and anonymised codes.
fn level_of_suffix(name: &str) -> Option<usize> {
    if name.ends_with("街道") || name.ends_with('镇') || name.ends_with('乡') {
        Some(2)
    } else if name.ends_with('区') || name.ends_with('县') || name.ends_with('旗') {
        Some(1)
    } else if name.ends_with('市') {
        Some(0)
    } else {
        None
    }
}

impl Gazetteer {
    fn new(records: &[Record], dicts: &[std::path::PathBuf]) -> Result<Gazetteer> {
        let mut map: BTreeMap<String, Entry> = BTreeMap::new();
        national(&mut map);
        for r in records {
            for (level, name) in r.region.iter().enumerate() {
                if let Some(n) = name.as_deref().filter(|n| n.chars().count() >= 2) {
                    map.entry(n.to_string()).or_insert_with(|| Entry {
                        level,
                        national: Vec::new(),
                    });
                }
            }
        }
        for p in dicts {
            let text = std::fs::read_to_string(p).map_err(Error::io("read dictionary", p))?;
            for word in text.lines().filter_map(|l| l.split_whitespace().next()) {
                if let Some(level) = level_of_suffix(word).filter(|_| word.chars().count() >= 3) {
                    map.entry(word.to_string()).or_insert_with(|| Entry {
                        level,
                        national: Vec::new(),
                    });
                }
            }
        }
        let (names, entries): (Vec<String>, Vec<Entry>) = map.into_iter().unzip();
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&names)
            .map_err(|e| Error::Internal(format!("region names: {e}")))?;
        Ok(Gazetteer {
            names,
            entries,
            matcher,
            codes: Regex::new(r"[A-Z][0-9]{0,2}(?:市|区|县)").expect("valid regex"),
        })
    }

    /// The places named in `text`, in order, longest match at each place.
    fn mentions(&self, text: &str) -> Vec<Mention> {
        let mut out: Vec<Mention> = self
            .matcher
            .find_iter(text)
            .map(|m| {
                let i = m.pattern().as_usize();
                Mention {
                    name: self.names[i].clone(),
                    level: self.entries[i].level,
                    start: m.start(),
                    end: m.end(),
                }
            })
            .collect();
        for m in self.codes.find_iter(text) {
            // `A市` but not the tail of `PA2区` or a word like `CBD区`.
            let before = text[..m.start()].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            let s = m.as_str();
            let digits = s.chars().any(|c| c.is_ascii_digit());
            let level = if s.ends_with('市') && !digits { 0 } else { 1 };
            if !out.iter().any(|o| o.start < m.end() && m.start() < o.end) {
                out.push(Mention {
                    name: s.to_string(),
                    level,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
        out.sort_by_key(|m| m.start);
        out
    }

    fn national(&self, name: &str) -> &[[Option<String>; 2]] {
        self.names
            .binary_search_by(|n| n.as_str().cmp(name))
            .map(|i| self.entries[i].national.as_slice())
            .unwrap_or(&[])
    }
}

/// The bundled national list into `map`: cities, counties and towns of three characters or more
/// (two-character names such as 城区 or 郊区 are everyday words).
fn national(map: &mut BTreeMap<String, Entry>) {
    let mut provinces: HashMap<&str, &str> = HashMap::new();
    let mut cities: HashMap<&str, Option<String>> = HashMap::new();
    for line in DIVISIONS.lines().filter(|l| !l.starts_with('#')) {
        let mut f = line.split('\t');
        let (Some(code), Some(name)) = (f.next(), f.next()) else {
            continue;
        };
        let mut add = |n: &str, level: usize, parents: [Option<String>; 2]| {
            if n.chars().count() >= 3 {
                let e = map.entry(n.to_string()).or_insert_with(|| Entry {
                    level,
                    national: Vec::new(),
                });
                if e.level == level {
                    e.national.push(parents);
                }
            }
        };
        match code.len() {
            2 => {
                provinces.insert(code, name);
                // A municipality (北京市) is a city of the region path.
                if name.ends_with('市') {
                    add(name, 0, [None, None]);
                }
            }
            4 => {
                // 市辖区, 县, 省直辖县级行政区划: no city of that name; a municipality's districts
                // sit under the municipality.
                let city = if name.ends_with('市')
                    || name.ends_with('州')
                    || name.ends_with('盟')
                    || name.ends_with("地区")
                {
                    if name == "市辖区" {
                        provinces
                            .get(&code[..2])
                            .filter(|p| p.ends_with('市'))
                            .map(|p| p.to_string())
                    } else {
                        add(name, 0, [None, None]);
                        Some(name.to_string())
                    }
                } else {
                    provinces
                        .get(&code[..2])
                        .filter(|p| p.ends_with('市'))
                        .map(|p| p.to_string())
                };
                cities.insert(code, city);
            }
            6 => {
                let city = cities.get(&code[..4]).cloned().flatten();
                add(name, 1, [city.clone(), None]);
                for town in f.next().unwrap_or("").split(' ').filter(|t| !t.is_empty()) {
                    add(town, 2, [city.clone(), Some(name.to_string())]);
                }
            }
            _ => {}
        }
    }
}

/// Parent links the corpus itself gives: a name written right after a name of a higher level
/// (`A市A2区`, `A2区洞井街道`), and the data's own region paths.
#[derive(Default)]
struct Links {
    /// (child, parent level) → parent → count.
    seen: HashMap<(String, usize), BTreeMap<String, usize>>,
    /// Names the data itself uses (in its region values or in any text).
    used: std::collections::HashSet<String>,
}

impl Links {
    fn add(&mut self, child: &str, level: usize, parent: &str, n: usize) {
        *self
            .seen
            .entry((child.to_string(), level))
            .or_default()
            .entry(parent.to_string())
            .or_default() += n;
    }

    /// The parent of `child` at `level` the corpus agrees on: seen twice or more and in at least
    /// 80% of the writings.
    fn parent(&self, child: &str, level: usize) -> Option<&str> {
        let m = self.seen.get(&(child.to_string(), level))?;
        let total: usize = m.values().sum();
        let (best, n) = m
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))?;
        (*n >= 2 && *n * 5 >= total * 4).then_some(best.as_str())
    }
}

/// Petitions whose place names are found at once ([`run`]).
const CHUNK: usize = 65_536;

/// The region stage: infers a region for every record without one.
pub fn run(input: Input<'_>) -> Result<Located> {
    let gz = Gazetteer::new(input.records, input.dicts)?;
    let mut places = vec![None; input.records.len()];
    // Only petitions without a region get one inferred: where every petition has its own (an
    // export that fills the column), no text need be read.
    if input.records.par_iter().all(has_region) {
        return Ok(Located { places });
    }
    let mut links = Links::default();
    for r in input.records {
        let levels: Vec<(usize, &str)> = r
            .region
            .iter()
            .enumerate()
            .filter_map(|(l, n)| n.as_deref().map(|n| (l, n)))
            .collect();
        for (l, n) in &levels {
            links.used.insert(n.to_string());
            for (pl, p) in levels.iter().filter(|(pl, _)| pl < l) {
                // The data's own paths count as many adjacent writings.
                links.add(n, *pl, p, 2);
            }
        }
    }
    // Every text's place names teach the links, a chunk at a time; only the petitions without
    // a region keep theirs to be resolved. (Every petition's held at once: the stage's peak
    // stood 1.5 GiB above the one before it at ten million generated petitions, of which a
    // few hundred lack a region.)
    let mut kept: Vec<(usize, Vec<Mention>)> = Vec::new();
    for (c, chunk) in input.records.chunks(CHUNK).enumerate() {
        let mentions: Vec<Vec<Mention>> = chunk
            .par_iter()
            .map(|r| gz.mentions(&format!("{}\n{}", r.title, r.content)))
            .collect();
        for (k, (r, ms)) in chunk.iter().zip(mentions).enumerate() {
            for w in ms.windows(2) {
                if w[0].end == w[1].start && w[0].level < w[1].level {
                    links.add(&w[1].name, w[0].level, &w[0].name, 1);
                }
            }
            for m in &ms {
                if !links.used.contains(&m.name) {
                    links.used.insert(m.name.clone());
                }
            }
            if !has_region(r) {
                kept.push((c * CHUNK + k, ms));
            }
        }
    }
    let resolved: Vec<Option<Path3>> = kept
        .par_iter()
        .map(|(_, ms)| resolve(ms, &links, &gz))
        .collect();
    for ((i, _), place) in kept.iter().zip(resolved) {
        places[*i] = place;
    }
    Ok(Located { places })
}

/// The region path of one petition from its mentions.
fn resolve(ms: &[Mention], links: &Links, gz: &Gazetteer) -> Option<Path3> {
    // The most named place at the finest level named (first on a tie).
    let finest = ms.iter().map(|m| m.level).max()?;
    let pick = |level: usize| -> Option<String> {
        let mut counts: Vec<(&str, usize, usize)> = Vec::new();
        for m in ms.iter().filter(|m| m.level == level) {
            match counts.iter_mut().find(|c| c.0 == m.name) {
                Some(c) => c.1 += 1,
                None => counts.push((&m.name, 1, m.start)),
            }
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.2.cmp(&a.2)))
            .map(|c| c.0.to_string())
    };
    let mut path: Path3 = [None, None, None];
    path[finest] = pick(finest);
    // Fill each parent level from the level below it.
    for level in (0..finest).rev() {
        let child = (level + 1..=finest).find_map(|l| path[l].clone().map(|n| (l, n)));
        let named: Vec<&str> = ms
            .iter()
            .filter(|m| m.level == level)
            .map(|m| m.name.as_str())
            .collect();
        let from_child = child.as_ref().and_then(|(_, c)| {
            let learned = links.parent(c, level);
            let national: Vec<&str> = gz
                .national(c)
                .iter()
                .filter_map(|p| p[level].as_deref())
                .collect();
            // A parent named in the text that the corpus or the national list confirms.
            named
                .iter()
                .find(|n| learned == Some(**n) || national.contains(n))
                .map(|n| n.to_string())
                .or_else(|| learned.map(str::to_string))
                .or_else(|| {
                    // Unique in the national list, and a name this data uses.
                    let all = gz.national(c);
                    (all.len() == 1)
                        .then(|| all[0][level].clone())
                        .flatten()
                        .filter(|p| links.used.contains(p))
                })
        });
        path[level] = from_child.or_else(|| pick(level));
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, title: &str, content: &str) -> Record {
        Record {
            title: title.into(),
            content: content.into(),
            region: [None, None, None],
            ..crate::store::tests::rec(id)
        }
    }

    fn located(records: &[Record]) -> Vec<Option<Path3>> {
        run(Input {
            records,
            dicts: &[],
        })
        .unwrap()
        .places
    }

    fn p(a: Option<&str>, b: Option<&str>, c: Option<&str>) -> Option<Path3> {
        Some([a, b, c].map(|x| x.map(String::from)))
    }

    #[test]
    fn anonymised_codes_and_learned_parents() {
        let rs = vec![
            rec("1", "A市A2区某小区噪音", "位于A市A2区。"),
            rec("2", "投诉", "我住在A市A2区洞井街道。"),
            rec("3", "A2区道路破损", "A2区某路段坑洼。"),
            rec("4", "无地名", "小区物业不作为。"),
            rec("5", "K3县", "K3县某镇。"),
        ];
        let got = located(&rs);
        assert_eq!(got[0], p(Some("A市"), Some("A2区"), None));
        // The town from the national list, its county from the text.
        assert_eq!(got[1], p(Some("A市"), Some("A2区"), Some("洞井街道")));
        // A2区's city learned from the corpus (A市A2区 written twice).
        assert_eq!(got[2], p(Some("A市"), Some("A2区"), None));
        assert_eq!(got[3], None);
        // No city is invented for K3县.
        assert_eq!(got[4], p(None, Some("K3县"), None));
    }

    #[test]
    fn national_names_and_records_with_a_region_are_left_alone() {
        let mut with = rec("1", "岳麓区", "");
        with.region = [Some("X市".into()), None, None];
        let rs = vec![with, rec("2", "反映", "长沙市岳麓区某路段积水。")];
        let got = located(&rs);
        assert_eq!(got[0], None);
        assert_eq!(got[1], p(Some("长沙市"), Some("岳麓区"), None));
    }
}
