//! Deterministic sample data: a fictional petition office's export with ground-truth
//! homogeneous-case groups (`truth_group`), used as bundled demo data and as the yardstick for
//! clustering tests.
//!
//! Generation has two phases. A cheap sequential *plan* decides the world (cities, districts,
//! estates, companies …), the groups (problem kind × concrete object, heavy-tailed sizes, a time
//! shape each) and, per row, its group, channel and registration time; rows are sorted by time.
//! Each row's text and handling fields are then *rendered* from its own PRNG seeded by
//! `(seed, row)`, so rows render in parallel and output is byte-identical for a given
//! `(rows, seed)`. Nothing depends on the wall clock or on hash-map order.

mod text;

use std::fmt::Write as _;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;

use crate::error::{Error, Result};
use text::{Kind, ObjKind, GROUP_KINDS, SINGLE_KINDS};

/// The exported columns, in order (all but `truth_group` are aliases of the canonical schema).
pub const HEADERS: [&str; 21] = [
    "信访件编号",
    "登记日期",
    "信访形式",
    "标题",
    "诉求内容",
    "所属地区",
    "信访人",
    "人数",
    "问题分类",
    "责任单位",
    "办理状态",
    "受理日期",
    "办理期限",
    "办结日期",
    "满意度",
    "答复意见",
    "答复时间",
    "点赞数",
    "反对数",
    "是否越级",
    "truth_group",
];

/// The ground-truth column (not part of the canonical schema; ingest keeps it in `extra`).
pub const TRUTH_COLUMN: &str = "truth_group";

/// First day of the data (a Monday).
pub fn start_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, 6, 4).expect("valid date")
}
/// Last day of the data (a Sunday, so the last week is complete).
pub fn end_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2019, 12, 29).expect("valid date")
}
const SPAN_DAYS: u32 = 574; // 82 whole weeks
const EXTRA_DAYS: u32 = 400; // calendar beyond the end for deadlines
const DAY: u32 = 86_400;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub rows: usize,
    pub seed: u64,
    /// Share of rows that belong to a group (the rest are singletons); clamped to 0.05..=0.49.
    pub grouped_share: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rows: 5000,
            seed: 20191229,
            grouped_share: 0.38,
        }
    }
}

/// One ground-truth group.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    pub key: String,
    pub kind: &'static str,
    pub label: &'static str,
    pub category: &'static str,
    pub anchor: String,
    pub size: usize,
}

/// What [`write`] produced.
#[derive(Debug, Clone)]
pub struct Summary {
    pub rows: usize,
    pub groups: usize,
    pub grouped_rows: usize,
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    pub group_info: Vec<GroupInfo>,
}

/// One generated row; `cells()` gives the values in [`HEADERS`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    pub id: String,
    pub received: String,
    pub channel: String,
    pub title: String,
    pub content: String,
    pub region: String,
    pub petitioner: String,
    pub headcount: u32,
    pub category: String,
    pub unit: String,
    pub status: String,
    pub accepted: String,
    pub due: String,
    pub closed: String,
    pub satisfaction: String,
    pub reply: String,
    pub replied: String,
    pub likes: Option<u32>,
    pub dislikes: Option<u32>,
    pub bypass: String,
    pub truth_group: String,
}

impl SampleRow {
    pub fn cells(&self) -> [std::borrow::Cow<'_, str>; 21] {
        use std::borrow::Cow::{Borrowed as B, Owned as O};
        let num = |v: Option<u32>| v.map(|n| O(n.to_string())).unwrap_or(B(""));
        [
            B(&self.id),
            B(&self.received),
            B(&self.channel),
            B(&self.title),
            B(&self.content),
            B(&self.region),
            B(&self.petitioner),
            O(self.headcount.to_string()),
            B(&self.category),
            B(&self.unit),
            B(&self.status),
            B(&self.accepted),
            B(&self.due),
            B(&self.closed),
            B(&self.satisfaction),
            B(&self.reply),
            B(&self.replied),
            num(self.likes),
            num(self.dislikes),
            B(&self.bypass),
            B(&self.truth_group),
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// PRNG

/// SplitMix64: tiny, fast, good enough for sample data, and fully deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(mix(seed, 0x5EED))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32).wrapping_mul(n as u64) >> 32) as usize
    }
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
    /// Inclusive range.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below((hi - lo + 1) as usize) as u32
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    pub fn s(&mut self, xs: &[&'static str]) -> &'static str {
        xs[self.below(xs.len())]
    }
    pub fn weighted(&mut self, w: &[u32]) -> usize {
        let total: u32 = w.iter().sum();
        let mut x = self.below(total.max(1) as usize) as u32;
        for (i, &wi) in w.iter().enumerate() {
            if x < wi {
                return i;
            }
            x -= wi;
        }
        w.len() - 1
    }
    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// World

struct Region {
    city: &'static str,
    district: &'static str,
    street: String,
}

/// A concrete object a petition is about, in the forms people write it.
#[derive(Debug, Clone, Default)]
struct Obj {
    full: String,
    short: String,
    alt: String,
    c: String,
    k: String,
    x: String,
    region: usize,
}

struct World {
    regions: Vec<Region>,
    region_w: Vec<u32>,
    estate_pre: Vec<&'static str>,
    estate_suf: Vec<&'static str>,
    firm: Vec<&'static str>,
    place: Vec<&'static str>,
    roads: Vec<&'static str>,
    bus: Vec<u32>,
}

impl World {
    fn new(rng: &mut Rng) -> World {
        let mut place: Vec<&'static str> = text::PLACE.to_vec();
        rng.shuffle(&mut place);
        let mut regions = Vec::new();
        let mut region_w = Vec::new();
        let mut p = 0;
        for &(city, district, county) in text::DISTRICTS {
            let n = 5;
            for j in 0..n {
                let name = place[p % place.len()];
                p += 1;
                let street = if county {
                    format!(
                        "{name}{}",
                        if j == 0 {
                            "镇"
                        } else if j % 2 == 0 {
                            "乡"
                        } else {
                            "镇"
                        }
                    )
                } else {
                    format!("{name}街道")
                };
                regions.push(Region {
                    city: text::CITIES[city],
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
        let mut estate_pre = text::ESTATE_PRE.to_vec();
        rng.shuffle(&mut estate_pre);
        let mut estate_suf = text::ESTATE_SUF.to_vec();
        rng.shuffle(&mut estate_suf);
        let mut firm = text::FIRM.to_vec();
        rng.shuffle(&mut firm);
        let mut place2 = text::PLACE.to_vec();
        rng.shuffle(&mut place2);
        let mut roads = text::ROADS.to_vec();
        rng.shuffle(&mut roads);
        let mut bus: Vec<u32> = (1..400).collect();
        rng.shuffle(&mut bus);
        World {
            regions,
            region_w,
            estate_pre,
            estate_suf,
            firm,
            place: place2,
            roads,
            bus,
        }
    }

    fn estate(&self, idx: usize, rng: &mut Rng, anchored: bool) -> (String, String, String) {
        let np = self.estate_pre.len();
        let pre = self.estate_pre[idx % np];
        let suf = self.estate_suf[(idx + idx / np) % self.estate_suf.len()];
        let short = format!("{pre}{suf}");
        let phase = *rng.pick(text::PHASES);
        let full = format!("{short}{phase}");
        let alt = if anchored && suf != "小区" {
            format!("{pre}小区")
        } else {
            short.clone()
        };
        (full, short, alt)
    }

    fn firm(&self, idx: usize) -> &'static str {
        self.firm[idx % self.firm.len()]
    }

    fn region_of_district(&self, region: usize, rng: &mut Rng) -> usize {
        // another street of the same district
        let base = region - region % 5;
        base + rng.below(5)
    }

    /// Builds an object of `kind`; `idx` selects its name (small idx = group anchors).
    fn obj(&self, kind: ObjKind, idx: usize, region: usize, rng: &mut Rng, anchored: bool) -> Obj {
        let r = &self.regions[region];
        let city_short = r.city.trim_end_matches('市');
        // offset names by object type so a builder and a gym of the same index differ
        let off = obj_type_index(kind) * 5;
        // one-off objects get a place-name prefix: 48 × 60 distinct names per type
        let firm_owned = if anchored {
            self.firm(idx + off).to_string()
        } else {
            let np = self.firm.len();
            format!(
                "{}{}",
                self.place[(idx / np + off) % self.place.len()],
                self.firm(idx + off)
            )
        };
        let firm = firm_owned.as_str();
        let place = self.place[(idx + off) % self.place.len()];
        let road = self.roads[(idx + off) % self.roads.len()];
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
                let (full, short) = match idx % 3 {
                    0 => (
                        format!("{}{road}路小学", r.district),
                        format!("{road}路小学"),
                    ),
                    1 => (
                        format!("{city_short}{place}实验小学"),
                        format!("{place}实验小学"),
                    ),
                    _ => (format!("{}{place}学校", r.district), format!("{place}学校")),
                };
                o.full = full;
                o.alt = o.full.clone();
                o.short = short;
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
                o.full = format!("{}{place}村", r.street);
                o.short = format!("{place}村");
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
            ObjKind::Road => {
                let suffix = if idx % 4 == 0 { "大道" } else { "路" };
                let dir = if anchored {
                    ""
                } else {
                    ["", "东", "西", "南", "北", "中"][(idx / self.roads.len()) % 6]
                };
                o.short = format!("{road}{dir}{suffix}");
                o.full = if anchored {
                    format!("{road}{suffix}提质改造工程")
                } else {
                    o.short.clone()
                };
                o.alt = if anchored {
                    format!("{road}{suffix}工地")
                } else {
                    o.short.clone()
                };
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
                let (f, s) = match idx % 3 {
                    0 => (
                        format!("{}人民医院", r.district),
                        format!("{}人民医院", r.district),
                    ),
                    1 => (
                        format!("{}第{}人民医院", r.city, ["一", "二", "三", "四"][idx % 4]),
                        "市医院".into(),
                    ),
                    _ => (format!("{firm}骨科医院"), format!("{firm}医院")),
                };
                o.full = f;
                o.short = s;
                o.alt = o.full.clone();
            }
            ObjKind::Scenic => {
                let base = place.trim_end_matches('山');
                o.full = format!("{base}山景区");
                o.short = format!("{base}山");
                o.alt = o.full.clone();
            }
            ObjKind::Office => {
                let f = [
                    format!("{}政务服务中心", r.district),
                    format!("{}派出所", r.street.trim_end_matches("街道")),
                    format!("{}不动产登记大厅", r.district),
                ];
                o.full = f[idx % 3].clone();
                o.short = o.full.clone();
                o.alt = o.full.clone();
            }
            ObjKind::None => {}
        }
        o
    }
}

// ---------------------------------------------------------------------------------------------
// Plan

#[derive(Debug, Clone, Copy)]
enum Shape {
    Steady(u32, u32),
    Burst(u32, u32),
    Growing(u32),
    Waves(u32, u32, [u32; 3]),
}

impl Shape {
    fn day(&self, rng: &mut Rng) -> u32 {
        let d = match *self {
            Shape::Steady(a, b) => a + rng.below((b - a + 1) as usize) as u32,
            Shape::Burst(a, len) => a + (len as f64 * rng.f64().powf(1.6)) as u32,
            Shape::Growing(w) => SPAN_DAYS - 1 - (w as f64 * (1.0 - rng.f64().cbrt())) as u32,
            Shape::Waves(a, b, peaks) => {
                if rng.chance(0.45) {
                    a + rng.below((b - a + 1) as usize) as u32
                } else {
                    rng.pick(&peaks) + (10.0 * rng.f64().powf(1.5)) as u32
                }
            }
        };
        d.min(SPAN_DAYS - 1)
    }
}

struct Group {
    key: String,
    kind: usize,
    obj: Obj,
    size: usize,
    shape: Shape,
    num: u32,
    year: u32,
    pet_base: u32,
    pet_pool: u32,
    unit: usize,
}

#[derive(Debug, Clone, Copy)]
struct PlanRow {
    secs: u32,
    group: u32,
    channel: u8,
}

const NO_GROUP: u32 = u32::MAX;
const BG_CHANNELS: [u32; 6] = [12, 13, 25, 22, 20, 8];
/// Spring Festival 2019 is 2019-02-05; 年关讨薪 spike in the three weeks before.
const WAGE_SPIKE: (u32, u32) = (224, 245);
/// A summer rainstorm week (2019-07-08 ..= 2019-07-14).
const FLOOD_SPIKE: (u32, u32) = (399, 405);

/// The full plan of a sample; rows render from it independently.
pub struct Sample {
    seed: u64,
    world: World,
    groups: Vec<Group>,
    rows: Vec<PlanRow>,
    ids: Vec<u32>,
    days: Vec<(u16, u8, u8)>,
    single_pets: u32,
    pet_total: u32,
    pet_mul: u64,
    n_estates_anchored: usize,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Sample {
    pub fn new(opts: &Options) -> Sample {
        let n = opts.rows;
        let mut rng = Rng::new(opts.seed);
        let world = World::new(&mut rng);
        let share = opts.grouped_share.clamp(0.05, 0.49);
        let grouped_target = (n as f64 * share) as usize;
        // number of groups: 48 at 5k rows, growing slowly with size; never more than rows allow
        let scale = (n.max(1) as f64 / 5000.0).max(1.0).ln();
        let mut g = (48.0 + 14.0 * scale) as usize;
        g = g.min(grouped_target / 3);
        // heavy-tailed sizes: 3 + extra * ((g-k)/g)^p
        let p = 4.5;
        let extra = grouped_target.saturating_sub(3 * g) as f64;
        let w: Vec<f64> = (0..g)
            .map(|k| ((g - k) as f64 / g as f64).powf(p))
            .collect();
        let wsum: f64 = w.iter().sum::<f64>().max(1e-9);
        let mut sizes: Vec<usize> = w
            .iter()
            .map(|wk| 3 + (extra * wk / wsum) as usize)
            .collect();
        rng.shuffle(&mut sizes);
        // kinds: a schedule that guarantees hard negatives (same kind at other objects)
        let schedule: [usize; 26] = [
            0, 0, 0, 1, 5, 6, 7, 8, 5, 2, 3, 10, 1, 9, 4, 11, 12, 13, 14, 15, 16, 17, 18, 19, 7, 10,
        ];
        // estates and villages are shared between kinds (same object, different problems)
        let pool_of = |o: ObjKind| {
            let n = (0..g)
                .filter(|i| GROUP_KINDS[schedule[i % schedule.len()]].obj == o)
                .count();
            (n * 3 / 5).max(3)
        };
        let estate_pool = pool_of(ObjKind::Estate);
        let village_pool = pool_of(ObjKind::Village);
        let mut used: Vec<(usize, usize)> = Vec::new();
        let mut type_counter = [0usize; 32];
        let mut groups = Vec::with_capacity(g);
        let mut pet_next = 0u32;
        let mut growing = 0;
        for (i, &size) in sizes.iter().enumerate() {
            let kind = schedule[i % schedule.len()];
            let k = &GROUP_KINDS[kind];
            let pooled = matches!(k.obj, ObjKind::Estate | ObjKind::Village);
            let idx = if pooled {
                let pool = if k.obj == ObjKind::Estate {
                    estate_pool
                } else {
                    village_pool
                };
                let mut e = rng.below(pool);
                let mut tries = 0;
                while used.contains(&(kind, e)) {
                    tries += 1;
                    e = if tries < pool {
                        (e + 1) % pool
                    } else {
                        pool + tries
                    };
                }
                e
            } else {
                let t = obj_type_index(k.obj);
                type_counter[t] += 1;
                type_counter[t] - 1
            };
            used.push((kind, idx));
            let region = world_region(&world, &mut rng);
            // objects of one name live in one place: derive region from the index for estates
            let region = match k.obj {
                ObjKind::Estate => (idx * 7 + 3) % world.regions.len(),
                ObjKind::Village => (idx * 11 + 5) % world.regions.len(),
                _ => region,
            };
            let obj = world.obj(k.obj, idx, region, &mut rng, true);
            let shape = pick_shape(k.key, size, i, &mut growing, &mut rng);
            let pet_pool = ((size * 2) / 5).max(2) as u32;
            groups.push(Group {
                key: format!("G{:03}", i + 1),
                kind,
                obj,
                size,
                shape,
                num: rng.range(k.num.0, k.num.1),
                year: rng.range(2014, 2017),
                pet_base: pet_next,
                pet_pool,
                unit: rng.below(k.units.len()),
            });
            pet_next += pet_pool;
        }
        let grouped: usize = groups.iter().map(|g| g.size).sum();
        let singles = n.saturating_sub(grouped);
        let grouped_cap = n.min(grouped);

        // background day distribution
        let mut cum = Vec::with_capacity(SPAN_DAYS as usize);
        let mut acc = 0.0f64;
        for d in 0..SPAN_DAYS {
            let wd = d % 7;
            let mut w = 1.0 + 0.35 * d as f64 / SPAN_DAYS as f64;
            w *= match wd {
                5 => 0.5,
                6 => 0.4,
                _ => 1.0,
            };
            if (246..253).contains(&d) {
                w *= 0.35; // Spring Festival holiday
            }
            if (119..126).contains(&d) || (484..491).contains(&d) {
                w *= 0.45; // National Day holidays
            }
            if (WAGE_SPIKE.0..=WAGE_SPIKE.1).contains(&d)
                || (FLOOD_SPIKE.0..=FLOOD_SPIKE.1).contains(&d)
            {
                w *= 1.6;
            }
            acc += w;
            cum.push(acc);
        }
        let mut rows = Vec::with_capacity(n);
        for (gi, grp) in groups.iter().enumerate() {
            let k = &GROUP_KINDS[grp.kind];
            for _ in 0..grp.size {
                if rows.len() >= grouped_cap {
                    break;
                }
                let day = grp.shape.day(&mut rng);
                let ch = rng.weighted(&k.channels) as u8;
                rows.push(plan_row(day, ch, gi as u32, &mut rng));
            }
        }
        for _ in 0..singles {
            let x = rng.f64() * acc;
            let day = cum.partition_point(|&c| c < x).min(SPAN_DAYS as usize - 1) as u32;
            let ch = rng.weighted(&BG_CHANNELS) as u8;
            rows.push(plan_row(day, ch, NO_GROUP, &mut rng));
        }
        rows.sort_by_key(|r| r.secs);
        // per-year running ids
        let days = calendar();
        let mut ids = Vec::with_capacity(rows.len());
        let mut year = 0u16;
        let mut seq = 0u32;
        for r in &rows {
            let y = days[(r.secs / DAY) as usize].0;
            if y != year {
                year = y;
                seq = 0;
            }
            seq += 1;
            ids.push(seq);
        }
        let single_pets = (singles as u32).saturating_mul(3).max(10);
        let pet_total = pet_next + single_pets;
        let mut pet_mul = 7_919u64 * 104_729;
        while gcd(pet_mul, pet_total as u64) != 1 {
            pet_mul += 2;
        }
        Sample {
            seed: opts.seed,
            world,
            groups,
            rows,
            ids,
            days,
            single_pets,
            pet_total,
            pet_mul,
            n_estates_anchored: estate_pool,
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The ground-truth groups, in key order.
    pub fn groups(&self) -> Vec<GroupInfo> {
        let mut counts = vec![0usize; self.groups.len()];
        for r in &self.rows {
            if r.group != NO_GROUP {
                counts[r.group as usize] += 1;
            }
        }
        self.groups
            .iter()
            .zip(counts)
            .map(|(g, size)| {
                let k = &GROUP_KINDS[g.kind];
                GroupInfo {
                    key: g.key.clone(),
                    kind: k.key,
                    label: k.label,
                    category: k.category,
                    anchor: g.obj.full.clone(),
                    size,
                }
            })
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = SampleRow> + '_ {
        (0..self.len()).map(|i| self.row(i))
    }

    fn petitioner(&self, x: u32) -> String {
        let id = (x as u64 * self.pet_mul + 12_345) % self.pet_total.max(1) as u64;
        format!("P{:06}", id + 1)
    }

    fn fmt_dt(&self, secs: u32, style: u8) -> String {
        let (y, m, d) = self.days[(secs / DAY) as usize];
        let t = secs % DAY;
        let (h, mi, s) = (t / 3600, t / 60 % 60, t % 60);
        let mut out = String::with_capacity(20);
        let _ = match style {
            1 => write!(out, "{y}/{m}/{d} {h:02}:{mi:02}:{s:02}"),
            2 => write!(out, "{y}年{m}月{d}日"),
            3 => write!(out, "{y:04}-{m:02}-{d:02}"),
            _ => write!(out, "{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
        };
        out
    }

    /// Renders row `i` (0-based, in time order).
    pub fn row(&self, i: usize) -> SampleRow {
        let pr = self.rows[i];
        let mut rng = Rng::new(mix(self.seed, i as u64 + 1));
        let channel = pr.channel as usize;
        let day = pr.secs / DAY;
        let owned;
        let (kind, obj, group): (&Kind, &Obj, Option<&Group>) = if pr.group != NO_GROUP {
            let g = &self.groups[pr.group as usize];
            (&GROUP_KINDS[g.kind], &g.obj, Some(g))
        } else {
            let in_wage = (WAGE_SPIKE.0..=WAGE_SPIKE.1).contains(&day);
            let in_flood = (FLOOD_SPIKE.0..=FLOOD_SPIKE.1).contains(&day);
            let region = world_region(&self.world, &mut rng);
            let (k, anchored_estate) = if in_wage && rng.chance(0.45) {
                if rng.chance(0.5) {
                    (&GROUP_KINDS[text::WAGE_KIND], false)
                } else {
                    (&SINGLE_KINDS[text::WAGE1_KIND], false)
                }
            } else if in_flood && rng.chance(0.4) {
                (&SINGLE_KINDS[text::FLOOD_KIND], false)
            } else if rng.chance(0.15) {
                (rng.pick(GROUP_KINDS), false)
            } else {
                let k = loop {
                    let k = rng.pick(SINGLE_KINDS);
                    if k.key != "flood" || rng.chance(0.1) {
                        break k;
                    }
                };
                (k, rng.chance(0.2))
            };
            // group kinds as singletons use one-off objects (never a group's anchor)
            let idx = if anchored_estate && k.obj == ObjKind::Estate {
                rng.below(self.n_estates_anchored)
            } else {
                // injective in the row index for the first 2,816 rows of a kind: one-off
                // objects of a 5,000-row sample practically never repeat
                64 + (i as u64 * 7919 % 2816) as usize
            };
            let region = if anchored_estate && k.obj == ObjKind::Estate {
                (idx * 7 + 3) % self.world.regions.len()
            } else {
                region
            };
            let mut o = self.world.obj(k.obj, idx, region, &mut rng, false);
            // a one-off object must never carry the name of a group's anchor of the same kind
            for _ in 0..16 {
                let clash = self.groups.iter().any(|g| {
                    std::ptr::eq(&GROUP_KINDS[g.kind], k)
                        && (g.obj.full == o.full || g.obj.short == o.short || g.obj.alt == o.short)
                });
                if !clash {
                    break;
                }
                o = self
                    .world
                    .obj(k.obj, 64 + rng.below(4000), region, &mut rng, false);
            }
            owned = o;
            (k, &owned, None)
        };
        let region_idx = match group {
            Some(_) if matches!(kind.obj, ObjKind::Bus | ObjKind::College | ObjKind::Finance) => {
                if rng.chance(0.6) {
                    world_region(&self.world, &mut rng)
                } else {
                    obj.region
                }
            }
            Some(_) if rng.chance(0.12) => self.world.region_of_district(obj.region, &mut rng),
            _ => obj.region,
        };
        let region = &self.world.regions[region_idx];
        let unit_i = match group {
            Some(g) if rng.chance(0.8) => g.unit,
            _ => rng.below(kind.units.len()),
        };
        let mut unit = String::new();
        let year = group
            .map(|g| g.year)
            .unwrap_or_else(|| rng.range(2012, 2018));
        let num = group
            .map(|g| g.num)
            .unwrap_or_else(|| rng.range(kind.num.0, kind.num.1));
        let ctx0 = Ctx {
            kind,
            obj,
            region,
            term: "",
            unit: "",
            num,
            year,
        };
        ctx0.render_into(&mut unit, kind.units[unit_i], &mut rng);
        let term = *rng.pick(kind.terms);
        let ctx = Ctx {
            term,
            unit: &unit,
            ..ctx0
        };

        // headcount
        let headcount = if channel == 1 {
            if group.is_some() && rng.chance(0.35) {
                rng.range(5, 40)
            } else if COLLECTIVE_OK.contains(&kind.key) && rng.chance(0.08) {
                rng.range(5, 12)
            } else {
                rng.range(1, 3)
            }
        } else {
            1
        };
        let (title, content) = compose(&ctx, &mut rng, channel, headcount, group.is_some());

        // petitioner
        let pet = match group {
            Some(g) => {
                let k = if rng.chance(0.35) {
                    rng.below(g.pet_pool.min(4) as usize)
                } else {
                    rng.below(g.pet_pool as usize)
                };
                g.pet_base + k as u32
            }
            None => {
                let base = self.pet_total - self.single_pets;
                base + rng.below(self.single_pets as usize) as u32
            }
        };

        // handling
        let h = self.handling(&ctx, &mut rng, pr.secs, channel, group.is_some());
        let (likes, dislikes) = if channel >= 4 {
            let boost = if group.is_some() { 2.5 } else { 1.0 };
            let l = if rng.chance(0.55) {
                0
            } else {
                ((rng.f64() * 4.0 * boost).exp() - 1.0) as u32
            };
            let d = if rng.chance(0.85) {
                0
            } else {
                rng.range(1, 12)
            };
            (Some(l), Some(d))
        } else {
            (None, None)
        };
        let bypass = if channel <= 2 && rng.chance(if group.is_some() { 0.05 } else { 0.015 }) {
            "是"
        } else {
            "否"
        };
        let style = match rng.below(100) {
            0..=84 => 0,
            85..=94 => 1,
            _ => 2,
        };
        let (y, _, _) = self.days[day as usize];
        let channel_name = if channel == 3 && rng.chance(0.25) {
            "12345".to_string()
        } else {
            CHANNEL_NAMES[channel].to_string()
        };
        SampleRow {
            id: format!("XF{y}{:07}", self.ids[i]),
            received: self.fmt_dt(pr.secs, style),
            channel: channel_name,
            title,
            content,
            region: format!("{}/{}/{}", region.city, region.district, region.street),
            petitioner: self.petitioner(pet),
            headcount,
            category: kind.category.to_string(),
            unit,
            status: h.status.to_string(),
            accepted: h.accepted.map(|s| self.fmt_dt(s, 0)).unwrap_or_default(),
            due: h.due.map(|s| self.fmt_dt(s, 3)).unwrap_or_default(),
            closed: h.closed.map(|s| self.fmt_dt(s, 0)).unwrap_or_default(),
            satisfaction: h.satisfaction.to_string(),
            reply: h.reply,
            replied: h.replied.map(|s| self.fmt_dt(s, 0)).unwrap_or_default(),
            likes,
            dislikes,
            bypass: bypass.to_string(),
            truth_group: group.map(|g| g.key.clone()).unwrap_or_default(),
        }
    }

    fn handling(
        &self,
        ctx: &Ctx,
        rng: &mut Rng,
        recv: u32,
        channel: usize,
        grouped: bool,
    ) -> Handling {
        let end = SPAN_DAYS * DAY - 1;
        let mut h = Handling {
            status: "待受理",
            ..Handling::default()
        };
        let recv_day = recv / DAY;
        if recv_day + 5 >= SPAN_DAYS && rng.chance(0.5) {
            return h;
        }
        if rng.chance(0.03) {
            let rep = recv + rng.range(2, 10) * DAY + rng.range(0, 6 * 3600);
            if rep <= end {
                h.status = "不予受理";
                h.reply = (*rng.pick(text::REJECT_REPLIES)).to_string();
                h.replied = Some(rep);
            }
            return h;
        }
        // accept after 1..5 working days
        let mut d = recv_day;
        let mut left = rng.range(1, 5);
        while left > 0 {
            d += 1;
            if d % 7 < 5 {
                left -= 1;
            }
        }
        let acc = d * DAY + rng.range(8 * 3600 + 1800, 17 * 3600 + 1800);
        if acc > end {
            return h;
        }
        h.accepted = Some(acc);
        h.status = "办理中";
        let limit = match channel {
            0..=2 => 60,
            3 => 15,
            _ => 20,
        };
        h.due = Some((d + limit) * DAY);
        let stuck = rng.chance(0.04);
        let dur = if rng.chance(0.1) {
            limit + rng.range(1, 45)
        } else {
            ((limit as f64 * rng.f64().powf(0.7)) as u32).max(1)
        };
        let close = (d + dur) * DAY + rng.range(9 * 3600, 18 * 3600);
        if stuck || close > end {
            return h;
        }
        h.status = "已办结";
        h.closed = Some(close);
        let rep = close.saturating_sub(rng.range(0, 1) * DAY).max(acc);
        h.replied = Some(rep);
        let mut reply = String::new();
        reply.push_str(rng.s(text::REPLY_PRE));
        ctx.render_into(&mut reply, rng.s(ctx.kind.replies), rng);
        ctx.render_into(&mut reply, rng.s(text::REPLY_POST), rng);
        h.reply = reply;
        let w: [u32; 4] = if grouped {
            [30, 25, 30, 15]
        } else {
            [45, 25, 12, 18]
        };
        h.satisfaction = ["满意", "基本满意", "不满意", "未评价"][rng.weighted(&w)];
        h
    }
}

#[derive(Default)]
struct Handling {
    status: &'static str,
    accepted: Option<u32>,
    due: Option<u32>,
    closed: Option<u32>,
    satisfaction: &'static str,
    reply: String,
    replied: Option<u32>,
}

/// Everyday problems that neighbours or co-workers bring as a group visit.
const COLLECTIVE_OK: [&str; 8] = [
    "neighbor", "dance", "bbq", "flood", "land", "garbage", "wage1", "business",
];

const CHANNEL_NAMES: [&str; 6] = ["来信", "来访", "网上信访", "来电", "网民留言", "评论"];

fn obj_type_index(k: ObjKind) -> usize {
    match k {
        ObjKind::Estate => 0,
        ObjKind::Builder => 1,
        ObjKind::Plant => 2,
        ObjKind::Bus => 3,
        ObjKind::School => 4,
        ObjKind::College => 5,
        ObjKind::Village => 6,
        ObjKind::Farm => 7,
        ObjKind::Training => 8,
        ObjKind::Finance => 9,
        ObjKind::Gym => 10,
        ObjKind::Road => 11,
        ObjKind::Shop(_) => 12,
        ObjKind::Employer => 13,
        ObjKind::Hospital => 14,
        ObjKind::Scenic => 15,
        ObjKind::Office => 16,
        ObjKind::None => 17,
    }
}

fn world_region(w: &World, rng: &mut Rng) -> usize {
    rng.weighted(&w.region_w)
}

fn pick_shape(key: &str, size: usize, i: usize, growing: &mut usize, rng: &mut Rng) -> Shape {
    let last = SPAN_DAYS - 1;
    // a few mid-sized groups emerge in the last weeks (what the weekly brief must spot)
    if *growing < 3 && (10..=150).contains(&size) && i % 5 == 2 {
        *growing += 1;
        return Shape::Growing(rng.range(14, 42));
    }
    match key {
        "bus" | "training" | "gym" | "plant" | "roadwork" => {
            Shape::Burst(rng.range(0, last - 30), rng.range(7, 16))
        }
        "zoning" => {
            // summer enrolment announcements: 2018-07 or 2019-07
            let base = if rng.chance(0.5) { 30 } else { 395 };
            Shape::Burst(base + rng.range(0, 20), rng.range(10, 24))
        }
        "wage" => Shape::Waves(
            0,
            last,
            [WAGE_SPIKE.0, WAGE_SPIKE.0 + 10, rng.range(0, last - 10)],
        ),
        "fund" | "demolition" | "intern" => {
            let a = rng.range(0, last / 2);
            Shape::Waves(
                a,
                last,
                [a, rng.range(a, last - 10), rng.range(a, last - 10)],
            )
        }
        _ => {
            let a = rng.range(0, last / 2);
            let b = rng.range((a + 120).min(last), last);
            Shape::Steady(a, b)
        }
    }
}

fn plan_row(day: u32, channel: u8, group: u32, rng: &mut Rng) -> PlanRow {
    let mut day = day;
    let wd = day % 7;
    // letters and visits are registered on working days
    if channel <= 1 && wd >= 5 && rng.chance(0.9) {
        day = if day + (7 - wd) < SPAN_DAYS {
            day + 7 - wd
        } else {
            day - (wd - 4)
        };
    }
    let t = match channel {
        0 | 1 => rng.range(8 * 3600 + 1800, 17 * 3600 + 1800),
        3 => rng.range(7 * 3600, 23 * 3600),
        _ => {
            if rng.chance(0.85) {
                rng.range(7 * 3600, 23 * 3600 + 3599)
            } else {
                rng.range(0, DAY - 1)
            }
        }
    };
    PlanRow {
        secs: day * DAY + t,
        group,
        channel,
    }
}

fn calendar() -> Vec<(u16, u8, u8)> {
    let s = start_date();
    (0..(SPAN_DAYS + EXTRA_DAYS) as u64)
        .map(|i| {
            let d = s + chrono::Days::new(i);
            (d.year() as u16, d.month() as u8, d.day() as u8)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Text

#[derive(Clone, Copy)]
struct Ctx<'a> {
    kind: &'a Kind,
    obj: &'a Obj,
    region: &'a Region,
    term: &'a str,
    unit: &'a str,
    num: u32,
    year: u32,
}

impl Ctx<'_> {
    fn render_into(&self, out: &mut String, tpl: &str, rng: &mut Rng) {
        let mut rest = tpl;
        while let Some(p) = rest.find('{') {
            out.push_str(&rest[..p]);
            let after = &rest[p + 1..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[p..]);
                return;
            };
            match &after[..close] {
                "o" => {
                    let o = self.obj;
                    out.push_str(match rng.below(10) {
                        0..=4 => &o.full,
                        5..=8 => &o.short,
                        _ => &o.alt,
                    })
                }
                "O" => out.push_str(&self.obj.full),
                "c" => out.push_str(&self.obj.c),
                "k" => out.push_str(&self.obj.k),
                "x" => out.push_str(&self.obj.x),
                "t" => {
                    if rng.chance(0.15) {
                        out.push_str(rng.s(self.kind.terms))
                    } else {
                        out.push_str(self.term)
                    }
                }
                "d" => {
                    let list = if self.kind.long_dur {
                        text::DUR_LONG
                    } else {
                        text::DUR_SHORT
                    };
                    out.push_str(rng.s(list))
                }
                "n" => {
                    let n = self.num;
                    let _ = match rng.below(10) {
                        0..=4 => write!(out, "{n}"),
                        5..=6 if n >= 20 => write!(out, "{}多", n / 10 * 10),
                        7 if n >= 20 => write!(out, "近{}", n.div_ceil(10) * 10),
                        8 if n >= 20 => write!(out, "{}余", n / 10 * 10),
                        _ => write!(out, "{n}"),
                    };
                }
                "y" => {
                    let _ = write!(out, "{}", self.year);
                }
                "q" => out.push_str(&self.region.street),
                "z" => out.push_str(self.region.district),
                "m" => out.push_str(self.region.city),
                "u" => out.push_str(self.unit),
                other => {
                    out.push('{');
                    out.push_str(other);
                    out.push('}');
                }
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
    }

    fn render(&self, tpl: &str, rng: &mut Rng) -> String {
        let mut s = String::new();
        self.render_into(&mut s, tpl, rng);
        s
    }
}

/// Picks `n` distinct items of `xs` in random order.
fn pick_n<'a>(rng: &mut Rng, xs: &'a [&'static str], n: usize) -> Vec<&'a str> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    rng.shuffle(&mut idx);
    idx.into_iter().take(n).map(|i| xs[i]).collect()
}

fn third_person(s: &str) -> String {
    s.replace("我们", "他们")
        .replace("本人", "来电人")
        .replace("我家", "其家")
        .replace('我', "其")
}

fn compose(
    ctx: &Ctx,
    rng: &mut Rng,
    channel: usize,
    headcount: u32,
    grouped: bool,
) -> (String, String) {
    let k = ctx.kind;
    let has_obj = !ctx.obj.full.is_empty();
    // title
    let title_roll = rng.below(100);
    let empty_title = match channel {
        5 => title_roll < 60,
        3 => title_roll < 40,
        _ => title_roll < 8,
    };
    let title = if empty_title {
        String::new()
    } else if title_roll < 78 || !has_obj {
        ctx.render(rng.s(k.titles), rng)
    } else {
        ctx.render(rng.s(text::GENERIC_TITLES), rng)
    };

    // body
    let mode = match channel {
        5 => 0,
        0 => [0, 1, 2, 2][rng.below(4)],
        _ => match rng.below(100) {
            0..=19 => 0,
            20..=74 => 1,
            _ => 2,
        },
    };
    let mut parts: Vec<String> = Vec::with_capacity(12);
    let mut opener = String::new();
    let mut closing = String::new();
    if mode == 0 {
        parts.push(ctx.render(rng.s(k.shorts), rng));
        if channel != 5 && rng.chance(0.3) {
            parts.push(ctx.render(rng.s(k.demands), rng));
        }
        if channel == 5 {
            let pre = *rng.pick(text::COMMENT_PRE);
            opener.push_str(pre);
        }
    } else {
        let long = mode == 2;
        if rng.chance(if long { 0.8 } else { 0.45 }) {
            let tpl = if channel == 0 {
                rng.pick(text::LETTER_OPENERS)
            } else {
                rng.pick(text::OPENERS)
            };
            opener = ctx.render(tpl, rng);
        }
        let mut body: Vec<String> = Vec::new();
        let who = if rng.chance(if long { 0.9 } else { 0.55 }) {
            Some(ctx.render(rng.s(k.who), rng))
        } else {
            None
        };
        let nfacts = if long && rng.chance(0.7) { 2 } else { 1 };
        let facts: Vec<String> = pick_n(rng, k.facts, nfacts)
            .into_iter()
            .map(|f| ctx.render(f, rng))
            .collect();
        let ndet = if long {
            rng.range(2, 5) as usize
        } else if rng.chance(0.5) {
            1
        } else {
            0
        };
        let dets: Vec<String> = pick_n(rng, k.details, ndet)
            .into_iter()
            .map(|f| ctx.render(f, rng))
            .collect();
        let mut first = facts[0].clone();
        if let Some(w) = &who {
            if rng.chance(0.85) {
                first = format!("{w}{first}");
            } else {
                body.push(w.trim_end_matches('，').to_string() + "。");
            }
        }
        body.insert(0, first);
        body.extend(facts.into_iter().skip(1));
        body.extend(dets);
        if long {
            if rng.chance(0.6) {
                body.push(rng.s(text::IMPACTS).to_string());
            }
            let nstory = rng.range(1, 3) as usize;
            for st in pick_n(rng, text::STORY, nstory) {
                let at = 1 + rng.below(body.len());
                body.insert(at, ctx.render(st, rng));
            }
        }
        let nact = if long {
            rng.range(1, 2) as usize
        } else if rng.chance(0.35) {
            1
        } else {
            0
        };
        for a in pick_n(rng, text::ACTIONS, nact) {
            let a = if ctx.obj.c.is_empty() {
                a.replace("{c}", "相关单位")
            } else {
                a.to_string()
            };
            body.push(ctx.render(&a, rng));
        }
        let demand = ctx.render(rng.s(k.demands), rng);
        if rng.chance(0.15) {
            body.insert(0, demand);
        } else {
            body.push(demand);
        }
        if long && rng.chance(0.5) {
            body.push((*rng.pick(text::DEMANDS)).to_string());
        }
        if rng.chance(if channel == 0 { 0.8 } else { 0.4 }) {
            closing = if channel == 0 && rng.chance(0.4) {
                "此致\n敬礼！".to_string()
            } else {
                (*rng.pick(text::CLOSINGS)).to_string()
            };
        }
        parts = body;
    }
    let sep = if mode == 2 && channel == 0 && rng.chance(0.5) {
        "\n"
    } else {
        ""
    };
    let n_parts = parts.len();
    for (i, p) in parts.iter_mut().enumerate() {
        if (i + 1 < n_parts || rng.chance(0.5))
            && !p.ends_with(['。', '！', '？', '，', '：', '!', '?'])
        {
            p.push(if p.ends_with(['吗', '么', '办']) || rng.chance(0.15) {
                '？'
            } else {
                '。'
            });
        }
    }
    let mut body = parts.join(sep);
    // channel framing
    match channel {
        3 if rng.chance(0.8) => {
            opener.clear();
            closing.clear();
            body = format!("{}{}", rng.pick(text::HOTLINE_PRE), third_person(&body));
        }
        1 if headcount >= 5 || rng.chance(0.6) => {
            opener.clear();
            closing.clear();
            body = if headcount >= 5 {
                format!(
                    "{}名{}集体来访，反映：{}",
                    headcount,
                    ctx.kind.people,
                    body.replace("我们", "他们")
                        .replace("本人", "其中一人")
                        .replace('我', "他们")
                )
            } else {
                format!("来访人称：{}", third_person(&body))
            };
        }
        4 if rng.chance(0.2) => body.push_str("！！！"),
        _ => {}
    }
    // fake personal data for masking tests
    if channel != 5 && rng.chance(if grouped { 0.03 } else { 0.04 }) {
        body.push_str(&pii(rng));
    }
    let mut content = String::with_capacity(opener.len() + body.len() + closing.len() + 2);
    content.push_str(&opener);
    if !opener.is_empty() && sep == "\n" {
        content.push('\n');
    }
    content.push_str(&body);
    if !closing.is_empty() {
        content.push_str(sep);
        content.push_str(&closing);
    }
    // colloquial typos
    if rng.chance(0.15) {
        for _ in 0..rng.range(1, 2) {
            let (a, b) = *rng.pick(text::TYPOS);
            if let Some(p) = content.find(a) {
                content.replace_range(p..p + a.len(), b);
            }
        }
    }
    if content.is_empty() {
        content = ctx.render(rng.s(k.shorts), rng);
    }
    (title, content)
}

/// A fake name, mobile and/or 18-digit ID number (valid check digit) embedded in text.
fn pii(rng: &mut Rng) -> String {
    let name = format!("{}{}", rng.pick(text::SURNAMES), rng.pick(text::GIVEN));
    let mobile = format!(
        "1{}{}{:08}",
        [3, 5, 7, 8, 9][rng.below(5)],
        rng.below(10),
        rng.below(100_000_000)
    );
    let mut id = format!(
        "43{:04}{}{:02}{:02}{:03}",
        rng.range(100, 9999),
        rng.range(1950, 2000),
        rng.range(1, 12),
        rng.range(1, 28),
        rng.below(1000)
    );
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = id.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    id.push(b"10X98765432"[(sum % 11) as usize] as char);
    match rng.below(4) {
        0 => format!("我叫{name}，联系电话{mobile}。"),
        1 => format!("联系人：{name}，电话：{mobile}，身份证号：{id}。"),
        2 => format!("本人{name}，身份证号码{id}。"),
        _ => format!("我的手机号是{mobile}，有事请联系。"),
    }
}

// ---------------------------------------------------------------------------------------------
// Output

/// All rows of a sample, in order (renders lazily).
pub fn generate(opts: &Options) -> impl Iterator<Item = SampleRow> {
    let s = Sample::new(opts);
    (0..s.len()).map(move |i| s.row(i))
}

fn summary(s: &Sample) -> Summary {
    let info = s.groups();
    Summary {
        rows: s.len(),
        groups: info.iter().filter(|g| g.size > 0).count(),
        grouped_rows: info.iter().map(|g| g.size).sum(),
        first_date: start_date(),
        last_date: end_date(),
        group_info: info,
    }
}

/// Writes the sample as CSV (UTF-8, header row) or XLSX, by the extension of `path`. Atomic.
pub fn write(opts: &Options, path: &Path) -> Result<Summary> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let s = Sample::new(opts);
    match ext.as_str() {
        "csv" => write_csv(&s, path)?,
        "xlsx" => write_xlsx(&s, path)?,
        _ => {
            return Err(Error::Usage(format!(
                "`{}`: the sample is written as .csv or .xlsx",
                path.display()
            )))
        }
    }
    Ok(summary(&s))
}

fn csv_chunk(s: &Sample, from: usize, to: usize) -> std::io::Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity((to - from) * 700));
    for i in from..to {
        let r = s.row(i);
        w.write_record(r.cells().iter().map(|c| c.as_bytes()))?;
    }
    w.into_inner().map_err(|e| e.into_error())
}

fn write_csv(s: &Sample, path: &Path) -> Result<()> {
    const CHUNK: usize = 4096;
    let n = s.len();
    let chunks = n.div_ceil(CHUNK);
    let batch = rayon::current_num_threads().max(1) * 4;
    crate::fsutil::write_atomic_with(path, |out| {
        let mut head = csv::WriterBuilder::new().from_writer(Vec::new());
        head.write_record(HEADERS)?;
        out.write_all(&head.into_inner().map_err(|e| e.into_error())?)?;
        let mut c = 0;
        while c < chunks {
            let hi = (c + batch).min(chunks);
            let bufs: Vec<std::io::Result<Vec<u8>>> = (c..hi)
                .into_par_iter()
                .map(|k| csv_chunk(s, k * CHUNK, ((k + 1) * CHUNK).min(n)))
                .collect();
            for b in bufs {
                out.write_all(&b?)?;
            }
            c = hi;
        }
        Ok(())
    })
}

fn write_xlsx(s: &Sample, path: &Path) -> Result<()> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook};
    if s.len() >= 1_048_576 {
        return Err(Error::Usage(format!(
            "an .xlsx sheet holds at most 1,048,575 data rows; write {} rows as .csv",
            s.len()
        )));
    }
    let mut wb = Workbook::new();
    let created = ExcelDateTime::from_ymd(2020, 1, 1)?.and_hms(0, 0, 0)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let ws = wb.add_worksheet();
    ws.set_name("信访件")?;
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for i in 0..s.len() {
        let r = s.row(i);
        let row = (i + 1) as u32;
        for (c, v) in r.cells().iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            if matches!(c, 7 | 17 | 18) {
                ws.write_number(row, c as u16, v.parse::<f64>().unwrap_or(0.0))?;
            } else {
                ws.write_string(row, c as u16, v.as_ref())?;
            }
        }
    }
    let bytes = wb.save_to_buffer()?;
    crate::fsutil::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests;
