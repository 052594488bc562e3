//! The fictional world a sample is about: cities, districts and streets, and the concrete
//! objects petitions name (estates, companies, schools, roads, policies …) in the forms people
//! write them, including misspelt and marketing variants of a name.

use super::kinds::ObjKind;
use super::phrases;
use super::rng::{mix, Rng};

pub(super) struct Region {
    pub(super) city: &'static str,
    pub(super) district: &'static str,
    pub(super) street: String,
}

/// A concrete object a petition is about, in the forms people write it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Obj {
    pub(super) full: String,
    pub(super) short: String,
    pub(super) alt: String,
    /// A related organisation or project (developer, employer's client, project …).
    pub(super) c: String,
    /// The property company (estates).
    pub(super) k: String,
    /// A nearby place.
    pub(super) x: String,
    pub(super) region: usize,
}

impl Obj {
    /// The names that identify it (a generic form such as 搅拌站 identifies nothing).
    pub(super) fn names(&self, kind: ObjKind) -> impl Iterator<Item = &str> {
        let generic_alt = matches!(
            kind,
            ObjKind::Plant | ObjKind::Farm | ObjKind::Policy { .. }
        );
        [&self.full, &self.short, &self.alt]
            .into_iter()
            .enumerate()
            .filter(move |(i, s)| !(s.is_empty() || (*i == 2 && generic_alt)))
            .map(|(_, s)| s.as_str())
    }
}

/// Streets per district.
const STREETS: usize = 5;

pub(super) struct World {
    pub(super) regions: Vec<Region>,
    region_w: Vec<u32>,
    estate_pre: Vec<&'static str>,
    estate_suf: Vec<&'static str>,
    firm: Vec<&'static str>,
    place: Vec<&'static str>,
    roads: Vec<&'static str>,
    bus: Vec<u32>,
    /// Name cores of the one-off objects: thousands each, as a real city has.
    estate_cores: Cores,
    firm_cores: Cores,
    place_cores: Cores,
}

/// Two-character name cores mixed from the characters of a list of names (金桂 and 翠湖 give
/// 金湖, 翠桂 …): `n × (n − 1)` distinct cores from `n` characters.
struct Cores(Vec<char>);

impl Cores {
    fn new(words: &[&str], rng: &mut Rng) -> Cores {
        let mut chars: Vec<char> = words
            .iter()
            .filter(|w| w.chars().count() == 2)
            .flat_map(|w| w.chars())
            .collect();
        chars.sort_unstable();
        chars.dedup();
        rng.shuffle(&mut chars);
        Cores(chars)
    }

    fn len(&self) -> usize {
        self.0.len() * (self.0.len() - 1)
    }

    /// Core `j` (distinct cores for distinct `j` modulo `len()`).
    fn get(&self, j: usize) -> String {
        let n = self.0.len();
        let j = j % self.len();
        let a = j % n;
        let b = (a + 1 + j / n) % n;
        [self.0[a], self.0[b]].iter().collect()
    }
}

impl World {
    pub(super) fn new(rng: &mut Rng) -> World {
        let mut place: Vec<&'static str> = phrases::PLACE.to_vec();
        rng.shuffle(&mut place);
        let mut regions = Vec::new();
        let mut region_w = Vec::new();
        let mut p = 0;
        for &(city, district, county) in phrases::DISTRICTS {
            for j in 0..STREETS {
                let name = place[p % place.len()];
                p += 1;
                let street = if county {
                    format!("{name}{}", if j > 0 && j % 2 == 0 { "乡" } else { "镇" })
                } else {
                    format!("{name}街道")
                };
                regions.push(Region {
                    city: phrases::CITIES[city],
                    district,
                    street,
                });
                region_w.push(if county {
                    2
                } else if city == 0 {
                    6
                } else {
                    4
                });
            }
        }
        let mut estate_pre = phrases::ESTATE_PRE.to_vec();
        rng.shuffle(&mut estate_pre);
        let mut estate_suf = phrases::ESTATE_SUF.to_vec();
        rng.shuffle(&mut estate_suf);
        let mut firm = phrases::FIRM.to_vec();
        rng.shuffle(&mut firm);
        let mut place2 = phrases::PLACE.to_vec();
        rng.shuffle(&mut place2);
        let mut roads = phrases::ROADS.to_vec();
        rng.shuffle(&mut roads);
        let mut bus: Vec<u32> = (1..400).collect();
        rng.shuffle(&mut bus);
        let estate_cores = Cores::new(phrases::ESTATE_PRE, rng);
        let firm_cores = Cores::new(phrases::FIRM, rng);
        let place_words: Vec<&str> = phrases::PLACE
            .iter()
            .chain(phrases::ROADS)
            .copied()
            .collect();
        let place_cores = Cores::new(&place_words, rng);
        World {
            regions,
            region_w,
            estate_pre,
            estate_suf,
            firm,
            place: place2,
            roads,
            bus,
            estate_cores,
            firm_cores,
            place_cores,
        }
    }

    /// A region drawn by weight (the main city's districts are busier).
    pub(super) fn region(&self, rng: &mut Rng) -> usize {
        rng.weighted(&self.region_w)
    }

    /// Another street of the same district.
    pub(super) fn region_of_district(&self, region: usize, rng: &mut Rng) -> usize {
        region - region % STREETS + rng.below(STREETS)
    }

    /// Where an object of `kind` number `idx` is, when its name fixes its place (an estate, a
    /// village or an office is in one street; a company or a bus line is not).
    pub(super) fn home(&self, kind: ObjKind, idx: usize) -> Option<usize> {
        let n = self.regions.len();
        match kind {
            ObjKind::Estate => Some((idx * 7 + 3) % n),
            ObjKind::Village => Some((idx * 11 + 5) % n),
            ObjKind::Office => Some(idx % n),
            ObjKind::Policy { district, .. } => Some(if district {
                (idx % (n / STREETS)) * STREETS
            } else {
                // the city's first district: a city-wide policy is the city's
                let city = idx % phrases::CITIES.len();
                let d = phrases::DISTRICTS.iter().position(|d| d.0 == city);
                d.unwrap_or(0) * STREETS
            }),
            _ => None,
        }
    }

    /// Estate number `idx`: (full, short, alt). The large cases' estates have the plain names
    /// (金桂家园, alt 金桂小区); the others a mixed core each.
    fn estate(&self, idx: usize, rng: &mut Rng, anchored: bool) -> (String, String, String) {
        let ns = self.estate_suf.len();
        let (core, suf) = if anchored {
            let np = self.estate_pre.len();
            let suf = self.estate_suf[(idx + idx / np) % ns];
            (self.estate_pre[idx % np].to_string(), suf)
        } else {
            let suf = self.estate_suf[(mix(idx as u64, 0xE57A) % ns as u64) as usize];
            (self.estate_cores.get(idx), suf)
        };
        let short = format!("{core}{suf}");
        let phase = *rng.pick(phrases::PHASES);
        let full = format!("{short}{phase}");
        let alt = if anchored && suf != "小区" {
            format!("{core}小区")
        } else {
            short.clone()
        };
        (full, short, alt)
    }

    fn firm(&self, idx: usize) -> &'static str {
        self.firm[idx % self.firm.len()]
    }

    /// Builds an object of `kind`; `idx` selects its name. Anchored objects (the large cases')
    /// get the plain names of the phrase lists; the others a mixed name core each, distinct for
    /// one type of object for the first thousands of indices; beyond them a place name goes
    /// in front (so a million-row sample's singletons rarely meet by accident).
    pub(super) fn obj(
        &self,
        kind: ObjKind,
        idx: usize,
        region: usize,
        rng: &mut Rng,
        anchored: bool,
    ) -> Obj {
        let space = self.names_of(kind);
        if anchored || idx < space {
            return self.base_obj(kind, idx, region, rng, anchored);
        }
        let lead = self.lead(idx / space - 1);
        let lead = lead.as_str();
        let mut o = self.base_obj(kind, idx % space, region, rng, false);
        for i in 0..2 {
            let form = if i == 0 { &mut o.full } else { &mut o.alt };
            if let Some(p) = form.find(o.short.as_str()) {
                form.insert_str(p, lead);
            }
        }
        o.short.insert_str(0, lead);
        o
    }

    /// The `k`-th place name put in front of a name (a place, then two places' names).
    fn lead(&self, k: usize) -> String {
        let n = self.place.len();
        if k < n {
            self.place[k].to_string()
        } else {
            format!("{}{}", self.place[k % n], self.place[(k / n - 1) % n])
        }
    }

    /// How many distinct one-off names objects of `kind` have before a place name goes in
    /// front (unbounded for bus lines and policies, which are few and never led).
    fn names_of(&self, kind: ObjKind) -> usize {
        let places = self.place_cores.len();
        match kind {
            ObjKind::Estate => self.estate_cores.len(),
            ObjKind::Builder
            | ObjKind::Plant
            | ObjKind::Training
            | ObjKind::Finance
            | ObjKind::Gym
            | ObjKind::Shop(_)
            | ObjKind::Employer
            | ObjKind::Farm => self.firm_cores.len(),
            ObjKind::School
            | ObjKind::College
            | ObjKind::Village
            | ObjKind::Road
            | ObjKind::Hospital
            | ObjKind::Scenic => places,
            ObjKind::Office => self.regions.len() * phrases::OFFICE_TYPES.len(),
            ObjKind::Bus | ObjKind::Policy { .. } | ObjKind::None => usize::MAX,
        }
    }

    fn base_obj(
        &self,
        kind: ObjKind,
        idx: usize,
        region: usize,
        rng: &mut Rng,
        anchored: bool,
    ) -> Obj {
        let r = &self.regions[region];
        let city_short = r.city.trim_end_matches('市');
        // offset names by object type so a builder and a gym of the same index differ
        let off = kind.type_index() * 5;
        // one-off objects of different types start at different cores: a farm, a builder and
        // an employer of one number are three firms, not one firm's three businesses
        let shift = kind.type_index() * 1_009;
        let firm = if anchored {
            self.firm(idx + off).to_string()
        } else {
            self.firm_cores.get(idx + shift)
        };
        let firm = firm.as_str();
        let place = if anchored {
            self.place[(idx + off) % self.place.len()].to_string()
        } else {
            self.place_cores.get(idx + shift)
        };
        let place = place.as_str();
        let road = self.roads[(idx + off) % self.roads.len()];
        // a second, small choice that does not repeat with the core (the type of school …)
        let pick = |n: usize| (mix(idx as u64, off as u64) % n as u64) as usize;
        let near_estate = || {
            let (_, s, _) = self.estate(idx * 7 + 3, &mut Rng::new(idx as u64), false);
            s
        };
        let mut o = Obj {
            region,
            ..Obj::default()
        };
        match kind {
            ObjKind::Estate => {
                let (f, s, a) = self.estate(idx, rng, anchored);
                o.full = f;
                o.short = s;
                o.alt = a;
                o.c = format!("{}置业有限公司", self.firm(idx + 11));
                o.k = format!("{}物业", self.firm(idx + 23));
            }
            ObjKind::Builder => {
                o.full = format!("{city_short}{firm}建筑工程有限公司");
                o.short = format!("{firm}建筑");
                o.alt = format!("{firm}公司");
                o.c = format!("{}项目", near_estate());
            }
            ObjKind::Plant => {
                let t = if idx % 3 == 0 {
                    "商砼站"
                } else {
                    "混凝土搅拌站"
                };
                o.full = format!("{firm}{t}");
                o.short = format!("{firm}搅拌站");
                o.alt = "搅拌站".into();
                o.x = near_estate();
            }
            ObjKind::Bus => {
                let n = self.bus[idx % self.bus.len()];
                o.full = format!("{n}路公交车");
                o.short = format!("{n}路");
                o.alt = format!("{n}路车");
                o.x = format!("{place}片区");
            }
            ObjKind::School => {
                let t = if anchored {
                    phrases::SCHOOL_TYPES[idx % 3]
                } else {
                    phrases::SCHOOL_TYPES[pick(phrases::SCHOOL_TYPES.len())]
                };
                let name = if anchored && idx % 2 == 0 {
                    format!("{road}路")
                } else {
                    place.to_string()
                };
                o.short = format!("{name}{t}");
                o.full = if idx % 2 == 0 {
                    format!("{}{}", r.district, o.short)
                } else {
                    format!("{city_short}{}", o.short)
                };
                o.alt = o.full.clone();
                o.x = near_estate();
            }
            ObjKind::College => {
                let t = ["职业技术学院", "工程职业学院", "信息职业技术学院"][idx % 3];
                o.full = format!("{city_short}{place}{t}");
                o.short = format!("{place}职院");
                o.alt = format!("{place}{t}");
                o.c = format!("{}电子科技有限公司", self.firm(idx + 5));
            }
            ObjKind::Village => {
                o.short = format!("{place}村");
                o.full = format!("{}{}", r.street, o.short);
                o.alt = o.short.clone();
                o.c = match idx % 3 {
                    0 => format!("{road}大道拓宽工程"),
                    1 => format!("{}产业园项目", self.firm(idx + 3)),
                    _ => "高铁新城片区改造".into(),
                };
                o.x = format!("{}养猪场", self.firm(idx + 9));
            }
            ObjKind::Farm => {
                o.full = format!("{firm}生猪养殖场");
                o.short = format!("{firm}养猪场");
                o.alt = "养猪场".into();
                o.x = format!("{place}村");
            }
            ObjKind::Training => {
                let t = ["教育培训学校", "英语培训中心", "艺术培训中心"][idx % 3];
                o.full = format!("{firm}{t}");
                o.short = format!("{firm}教育");
                o.alt = format!("{firm}培训");
            }
            ObjKind::Finance => {
                o.full = format!("{city_short}{firm}投资管理有限公司");
                o.short = format!("{firm}投资");
                o.alt = format!("{firm}理财");
            }
            ObjKind::Gym => {
                o.full = format!("{firm}游泳健身会所");
                o.short = format!("{firm}健身");
                o.alt = o.short.clone();
            }
            ObjKind::Road if anchored => {
                let suffix = if idx % 4 == 0 { "大道" } else { "路" };
                o.short = format!("{road}{suffix}");
                o.full = format!("{road}{suffix}提质改造工程");
                o.alt = format!("{road}{suffix}工地");
                o.x = near_estate();
            }
            ObjKind::Road => {
                let suffix = ["路", "路", "路", "大道", "街"][pick(5)];
                o.short = format!("{place}{suffix}");
                o.full = o.short.clone();
                o.alt = o.short.clone();
                o.x = near_estate();
            }
            ObjKind::Shop(sufs) => {
                let s = sufs[idx % sufs.len()];
                o.full = format!("{firm}{s}");
                o.short = o.full.clone();
                o.alt = o.full.clone();
            }
            ObjKind::Employer => {
                let t = [
                    "商贸有限公司",
                    "餐饮管理有限公司",
                    "电子有限公司",
                    "物流有限公司",
                ][idx % 4];
                o.full = format!("{city_short}{firm}{t}");
                o.short = format!("{firm}公司");
                o.alt = o.short.clone();
            }
            ObjKind::Hospital => {
                let (t, short_t) = phrases::HOSPITAL_TYPES[pick(phrases::HOSPITAL_TYPES.len())];
                o.full = format!("{place}{t}");
                o.short = format!("{place}{short_t}");
                o.alt = o.full.clone();
            }
            ObjKind::Scenic => {
                let (t, short_t) = phrases::SCENIC_TYPES[pick(phrases::SCENIC_TYPES.len())];
                o.full = format!("{place}{t}");
                o.short = format!("{place}{short_t}");
                o.alt = o.full.clone();
            }
            ObjKind::Office => {
                // one of each street's offices: 70 streets × 6 kinds
                let street = self.regions[idx % self.regions.len()]
                    .street
                    .trim_end_matches("街道")
                    .to_string();
                let n = phrases::OFFICE_TYPES.len();
                let t = phrases::OFFICE_TYPES[(idx / self.regions.len()) % n];
                o.full = format!("{street}{t}");
                o.short = o.full.clone();
                o.alt = o.full.clone();
            }
            ObjKind::Policy {
                topic,
                short,
                district,
            } => {
                let authority = if district { r.district } else { r.city };
                o.full = format!("{authority}{topic}");
                o.short = format!("{authority}{short}");
                o.alt = short.to_string();
            }
            ObjKind::None => {}
        }
        o
    }

    /// The object under another name, as petitioners write it: one character misspelt (苑 as
    /// 院), two characters swapped, or an estate's marketing name instead of its registered one.
    /// `None` for objects whose names are not misspelt that way (bus lines, offices, policies).
    pub(super) fn variant(&self, o: &Obj, kind: ObjKind, rng: &mut Rng) -> Option<Obj> {
        let ok = matches!(
            kind,
            ObjKind::Estate
                | ObjKind::Village
                | ObjKind::School
                | ObjKind::Builder
                | ObjKind::Employer
                | ObjKind::Plant
                | ObjKind::Farm
                | ObjKind::Training
                | ObjKind::Finance
                | ObjKind::Gym
                | ObjKind::Shop(_)
                | ObjKind::College
        );
        if !ok || o.short.is_empty() {
            return None;
        }
        if kind == ObjKind::Estate && rng.chance(0.25) {
            let firm = o.c.trim_end_matches("置业有限公司");
            let market = format!("{firm}{}", rng.s(phrases::MARKET_NAMES));
            return Some(Obj {
                full: market.clone(),
                short: market.clone(),
                alt: market,
                ..o.clone()
            });
        }
        let chars: Vec<char> = o.short.chars().collect();
        let mut v = chars.clone();
        // a swap within the name's first word (丽景雅苑 → 景丽雅苑), never across its suffix
        let swappable: Vec<usize> = (0..2.min(chars.len().saturating_sub(2)))
            .filter(|&i| chars[i] != chars[i + 1] && is_han(chars[i]) && is_han(chars[i + 1]))
            .collect();
        let misspellable: Vec<(usize, char)> = chars
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                phrases::MISSPELT
                    .iter()
                    .find(|(a, _)| a == c)
                    .map(|&(_, b)| (i, b))
            })
            .collect();
        let at = if !swappable.is_empty() && (misspellable.is_empty() || rng.chance(0.3)) {
            let i = *rng.pick(&swappable);
            v.swap(i, i + 1);
            i
        } else if !misspellable.is_empty() {
            let (i, b) = *rng.pick(&misspellable);
            v[i] = b;
            i
        } else {
            return None;
        };
        let vshort: String = v.iter().collect();
        // the two characters around the change carry it into the other forms of the name
        let lo = at.min(chars.len().saturating_sub(2));
        let window: String = chars[lo..lo + 2].iter().collect();
        let vwindow: String = v[lo..lo + 2].iter().collect();
        let carry = |s: &str| {
            if s.contains(&o.short) {
                s.replacen(&o.short, &vshort, 1)
            } else {
                s.replacen(&window, &vwindow, 1)
            }
        };
        Some(Obj {
            full: carry(&o.full),
            alt: carry(&o.alt),
            short: vshort,
            ..o.clone()
        })
    }
}

fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}
