//! Who files what, when: the planner that decides the cases (truth groups) and how each came
//! about, which objects carry several cases, the singletons and their objects, the prolific
//! posters, and each petition's petitioner, channel and day. Its result is unsorted; `plan`
//! puts it in time order.
//!
//! The cases are of two sorts, as in real petition data. A few dozen *campaigns*: large cases
//! with heavy-tailed sizes and a time shape each (the brief's hot issues). And many *small
//! cases* of two to a handful of petitions, most of them how real small cases arise: one
//! petitioner filing again on the same matter with a reworded title; a text copied nearly
//! verbatim by other petitioners; several people naming the object differently (a misspelt
//! character, two characters swapped, a marketing name); several people asking the same change
//! of one named policy decision; a few neighbours in their own words. Some objects carry two or
//! three cases about different problems plus one-off petitions about still others; a few
//! prolific posters file on many unrelated matters in one habitual style. Every other petition
//! is a singleton about an object no other petition of its kind names, or about a broad theme
//! (a pension, a household registration) in the writer's own situation.

use super::kinds::{
    kind, single_id, Kind, ObjKind, GROUP_KINDS, OBJ_TYPES, SCHEDULED_KINDS, WAGE_KIND,
};
use super::plan::{name_key, Group, KeySet, Origin, PlanRow, COPY, HUB, NO_GROUP, VARIANT};
use super::rng::Rng;
use super::singles::{FLOOD_KIND, SINGLE_KINDS, WAGE1_KIND};
use super::world::{Obj, World};
use super::{DAY, SPAN_DAYS};

/// Share of the grouped rows that are in small cases (the rest are in campaigns). In the
/// hand-labelled real key, four of five cases have two or three petitions.
const SMALL_CASE_SHARE: f64 = 0.4;
/// Share of the small cases about an object that carries other cases too (in the real key,
/// about one case in eight has another matter at its object kept apart).
const HUB_SHARE: f64 = 0.15;
/// Prolific posters: one per this many rows.
const ROWS_PER_PROLIFIC: usize = 700;

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

/// Channels of one-off petitions (few comments: a comment answers somebody else's post).
const BG_CHANNELS: [u32; 6] = [12, 13, 26, 22, 23, 3];
/// Spring Festival 2019 is 2019-02-05; 年关讨薪 spike in the three weeks before.
pub(super) const WAGE_SPIKE: (u32, u32) = (224, 245);
/// A summer rainstorm week (2019-07-08 ..= 2019-07-14).
pub(super) const FLOOD_SPIKE: (u32, u32) = (399, 405);

/// A hub: an object carrying several cases.
struct Hub {
    obj_type: usize,
    /// The group kinds of its cases.
    kinds: Vec<usize>,
    /// How many cases it is to carry.
    room: usize,
}

/// The planner's working state.
struct Planner<'w> {
    rng: Rng,
    world: &'w World,
    n: usize,
    groups: Vec<Group>,
    hubs: Vec<(Hub, Obj)>,
    /// The hubs with room for another case.
    open: Vec<usize>,
    rows: Vec<PlanRow>,
    /// `name_key` of the cases' object names under their kinds.
    taken: KeySet,
    /// `name_key(u16::MAX, short name)` of every case's object.
    shorts: KeySet,
    /// Kinds whose objects ran out of fresh names (a city has only so many policies).
    exhausted: Vec<bool>,
    /// Next object number per object type, for the small cases' objects.
    next_obj: [usize; OBJ_TYPES],
    /// Next one-off object per object type, for the singletons.
    next_one_off: [u32; OBJ_TYPES],
    next_pet: u32,
    /// Background day distribution (cumulative weights).
    cum: Vec<f64>,
}

/// What the planner decided, in plan order.
pub(super) struct Cases {
    pub(super) groups: Vec<Group>,
    /// Objects that carry several cases, for the singletons about them.
    pub(super) hubs: Vec<Obj>,
    pub(super) rows: Vec<PlanRow>,
    pub(super) taken: KeySet,
    /// The petitioner numbers of the prolific posters.
    pub(super) prolific: std::ops::Range<u32>,
    /// How many petitioner numbers there are.
    pub(super) petitioners: u32,
}

/// Plans `n` rows of which about `share` are in cases.
pub(super) fn plan(world: &World, rng: Rng, n: usize, share: f64) -> Cases {
    let grouped_target = (n as f64 * share) as usize;
    let small_target = (grouped_target as f64 * SMALL_CASE_SHARE) as usize;
    let mut p = Planner {
        rng,
        world,
        n,
        groups: Vec::new(),
        hubs: Vec::new(),
        open: Vec::new(),
        rows: Vec::with_capacity(n),
        taken: KeySet::default(),
        shorts: KeySet::default(),
        exhausted: vec![false; GROUP_KINDS.len()],
        next_obj: [0; OBJ_TYPES],
        next_one_off: [0; OBJ_TYPES],
        next_pet: 0,
        cum: background(),
    };
    p.campaigns(grouped_target - small_target);
    p.small_cases(grouped_target);
    p.hub_singletons();
    let n_prolific = if n >= 200 {
        (n / ROWS_PER_PROLIFIC).max(1) as u32
    } else {
        0
    };
    let prolific = p.next_pet..p.next_pet + n_prolific;
    p.next_pet += n_prolific;
    let singles = n.saturating_sub(p.rows.len());
    let single_base = p.next_pet;
    let single_pets = (singles as u32).saturating_mul(4).max(10);
    p.singletons(single_base, single_pets);
    p.prolific(prolific.clone());
    Cases {
        groups: p.groups,
        hubs: p.hubs.into_iter().map(|(_, o)| o).collect(),
        rows: p.rows,
        taken: p.taken,
        prolific,
        petitioners: single_base + single_pets,
    }
}

/// The background day distribution: slow growth, quiet weekends and holidays, and the wage
/// and flood spikes (cumulative weights per day).
fn background() -> Vec<f64> {
    let mut cum = Vec::with_capacity(SPAN_DAYS as usize);
    let mut acc = 0.0f64;
    for d in 0..SPAN_DAYS {
        let mut w = 1.0 + 0.35 * d as f64 / SPAN_DAYS as f64;
        w *= match d % 7 {
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
    cum
}

impl Planner<'_> {
    fn day(&mut self) -> u32 {
        let x = self.rng.f64() * self.cum.last().copied().unwrap_or(0.0);
        self.cum
            .partition_point(|&c| c < x)
            .min(SPAN_DAYS as usize - 1) as u32
    }

    fn pet(&mut self) -> u32 {
        self.next_pet += 1;
        self.next_pet - 1
    }

    fn full(&self) -> bool {
        self.rows.len() >= self.n
    }

    fn push(&mut self, day: u32, channel: u8, group: u32, pet: u32) -> usize {
        let text = self.rows.len() as u32;
        let secs = time_of(day, channel, &mut self.rng);
        self.rows.push(PlanRow {
            secs,
            group,
            text,
            pet,
            obj: 0,
            kind: 0,
            channel,
            flags: 0,
        });
        self.rows.len() - 1
    }

    /// Records a group's object names as taken under its kind.
    fn take(&mut self, kind: usize, o: &Obj) {
        let ok = GROUP_KINDS[kind].obj;
        self.taken
            .extend(o.names(ok).map(|s| name_key(kind as u16, s)));
        self.shorts.insert(name_key(u16::MAX, &o.short));
    }

    fn is_taken(&self, kind: usize, o: &Obj) -> bool {
        let ok = GROUP_KINDS[kind].obj;
        o.names(ok)
            .any(|s| self.taken.contains(&name_key(kind as u16, s)))
    }

    fn add_group(&mut self, kind: usize, obj: Obj, variant: Option<Obj>, origin: Origin) -> u32 {
        self.take(kind, &obj);
        if let Some(v) = &variant {
            self.take(kind, v);
        }
        let k = &GROUP_KINDS[kind];
        let g = Group {
            key: format!("G{:03}", self.groups.len() + 1),
            kind,
            obj,
            variant,
            origin,
            num: self.rng.range(k.num.0, k.num.1),
            year: self.rng.range(2014, 2017),
            unit: self.rng.below(k.units.len()),
        };
        self.groups.push(g);
        (self.groups.len() - 1) as u32
    }

    /// A variant name of `o` that names no other case's object.
    fn variant_of(&mut self, kind: usize, o: &Obj) -> Option<Obj> {
        let v = self
            .world
            .variant(o, GROUP_KINDS[kind].obj, &mut self.rng)?;
        let clash = self.shorts.contains(&name_key(u16::MAX, &v.short));
        (!clash && !self.is_taken(kind, &v)).then_some(v)
    }

    /// The large cases: heavy-tailed sizes, hard negatives by construction (one problem at
    /// several objects; several problems at one estate or village).
    fn campaigns(&mut self, target: usize) {
        // number of groups: 48 at 5k rows, growing slowly with size; never more than rows allow
        let scale = (self.n.max(1) as f64 / 5000.0).max(1.0).ln();
        let g = ((48.0 + 14.0 * scale) as usize).min(target / 3);
        if g == 0 {
            return;
        }
        // heavy-tailed sizes: 3 + extra * ((g-k)/g)^p
        let p = 4.5;
        let extra = target.saturating_sub(3 * g) as f64;
        let w: Vec<f64> = (0..g)
            .map(|k| ((g - k) as f64 / g as f64).powf(p))
            .collect();
        let wsum: f64 = w.iter().sum::<f64>().max(1e-9);
        let mut sizes: Vec<usize> = w
            .iter()
            .map(|wk| 3 + (extra * wk / wsum) as usize)
            .collect();
        self.rng.shuffle(&mut sizes);
        // kinds: a schedule that guarantees hard negatives (same kind at other objects)
        const SCHEDULE: [usize; 26] = [
            0, 0, 0, 1, 5, 6, 7, 8, 5, 2, 3, 10, 1, 9, 4, 11, 12, 13, 14, 15, 16, 17, 18, 19, 7, 10,
        ];
        debug_assert!(SCHEDULE.iter().all(|&k| k < SCHEDULED_KINDS));
        // estates and villages are shared between kinds (same object, different problems)
        let pool_of = |o: ObjKind| {
            let n = (0..g)
                .filter(|i| GROUP_KINDS[SCHEDULE[i % SCHEDULE.len()]].obj == o)
                .count();
            (n * 3 / 5).max(3)
        };
        let estate_pool = pool_of(ObjKind::Estate);
        let village_pool = pool_of(ObjKind::Village);
        let mut used: Vec<(usize, usize)> = Vec::new();
        let mut hub_of: Vec<((usize, usize), usize)> = Vec::new();
        let mut growing = 0;
        for (i, &size) in sizes.iter().enumerate() {
            let kind = SCHEDULE[i % SCHEDULE.len()];
            let k = &GROUP_KINDS[kind];
            let t = k.obj.type_index();
            let pooled = matches!(k.obj, ObjKind::Estate | ObjKind::Village);
            let idx = if pooled {
                let pool = if k.obj == ObjKind::Estate {
                    estate_pool
                } else {
                    village_pool
                };
                let mut e = self.rng.below(pool);
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
                self.next_obj[t] += 1;
                self.next_obj[t] - 1
            };
            used.push((kind, idx));
            let region = self.world.region(&mut self.rng);
            // objects of one name live in one place
            let region = self.world.home(k.obj, idx).unwrap_or(region);
            let obj = self.world.obj(k.obj, idx, region, &mut self.rng, true);
            let variant = if self.rng.chance(0.3) {
                self.variant_of(kind, &obj)
            } else {
                None
            };
            let shape = pick_shape(k.key, size, i, &mut growing, &mut self.rng);
            let gi = self.add_group(kind, obj.clone(), variant, Origin::Campaign);
            if pooled {
                // a pooled estate or village is a hub: its other cases' names are its own
                let key = (t, idx);
                let h = match hub_of.iter().find(|(k2, _)| *k2 == key) {
                    Some(&(_, h)) => h,
                    None => {
                        let hub = Hub {
                            obj_type: t,
                            kinds: Vec::new(),
                            room: 0,
                        };
                        self.hubs.push((hub, obj));
                        self.open.push(self.hubs.len() - 1);
                        hub_of.push((key, self.hubs.len() - 1));
                        self.hubs.len() - 1
                    }
                };
                // room for one small case about yet another problem
                self.hubs[h].0.kinds.push(kind);
                self.hubs[h].0.room = self.hubs[h].0.kinds.len() + 1;
            }
            let pet_pool = ((size * 2) / 5).max(2) as u32;
            let pet_base = self.next_pet;
            self.next_pet += pet_pool;
            let has_variant = self.groups[gi as usize].variant.is_some();
            for _ in 0..size {
                if self.full() {
                    return;
                }
                let day = shape.day(&mut self.rng);
                let ch = self.rng.weighted(&k.channels) as u8;
                let pet = pet_base
                    + if self.rng.chance(0.35) {
                        self.rng.below(pet_pool.min(4) as usize)
                    } else {
                        self.rng.below(pet_pool as usize)
                    } as u32;
                let r = self.push(day, ch, gi, pet);
                if has_variant && self.rng.chance(0.12) {
                    self.rows[r].flags |= VARIANT;
                }
            }
        }
    }

    /// The small cases, until `grouped_target` rows are in groups.
    fn small_cases(&mut self, grouped_target: usize) {
        let policy_kinds: Vec<usize> = (0..GROUP_KINDS.len())
            .filter(|&k| GROUP_KINDS[k].obj.is_policy())
            .collect();
        let other_kinds: Vec<usize> = (0..GROUP_KINDS.len())
            .filter(|&k| !GROUP_KINDS[k].obj.is_policy())
            .collect();
        // consecutive failures to find a fresh object (only when every name is taken)
        let mut fails = 0;
        while self.rows.len() < grouped_target.min(self.n) && fails < 64 {
            const ORIGINS: [(Origin, u32); 5] = [
                (Origin::Repeat, 40),
                (Origin::Copy, 14),
                (Origin::Variant, 12),
                (Origin::Policy, 6),
                (Origin::Neighbours, 28),
            ];
            let w: Vec<u32> = ORIGINS.iter().map(|o| o.1).collect();
            let mut origin = ORIGINS[self.rng.weighted(&w)].0;
            let size = match self.rng.below(100) {
                0..=69 => 2,
                70..=87 => 3,
                88..=95 => 4,
                96..=97 => 5,
                _ => 6 + self.rng.below(2),
            };
            let size = if origin == Origin::Repeat {
                size.min(4)
            } else {
                size
            };
            let mut kind = if origin == Origin::Policy {
                *self.rng.pick(&policy_kinds)
            } else {
                *self.rng.pick(&other_kinds)
            };
            if self.exhausted[kind] && origin == Origin::Policy {
                // a city or district has only so many policies: a neighbours' case instead
                origin = Origin::Neighbours;
                kind = *self.rng.pick(&other_kinds);
            }
            if self.exhausted[kind] {
                fails += 1;
                continue;
            }
            let Some((obj, hub)) = self.case_object(kind) else {
                self.exhausted[kind] = true;
                fails += 1;
                continue;
            };
            fails = 0;
            let mut variant = None;
            if origin == Origin::Variant || (origin == Origin::Copy && self.rng.chance(0.4)) {
                variant = self.variant_of(kind, &obj);
                if variant.is_none() && origin == Origin::Variant {
                    origin = Origin::Neighbours;
                }
            }
            if let Some(h) = hub {
                let hub = &mut self.hubs[h].0;
                hub.kinds.push(kind);
                if hub.kinds.len() >= hub.room {
                    self.open.retain(|&o| o != h);
                }
            }
            let gi = self.add_group(kind, obj, variant, origin);
            self.case_rows(gi, origin, size);
        }
    }

    /// An object for a small case of `kind`: a fresh one, or (for estates, villages, schools
    /// and employers, sometimes) one that carries other cases already.
    fn case_object(&mut self, kind: usize) -> Option<(Obj, Option<usize>)> {
        let ok = GROUP_KINDS[kind].obj;
        let t = ok.type_index();
        let hub_type = matches!(
            ok,
            ObjKind::Estate | ObjKind::Village | ObjKind::School | ObjKind::Employer
        );
        if hub_type && self.rng.chance(HUB_SHARE) {
            let open = self.open.iter().copied().find(|&h| {
                let (hub, o) = &self.hubs[h];
                hub.obj_type == t && !hub.kinds.contains(&kind) && !self.is_taken(kind, o)
            });
            if let Some(h) = open {
                return Some((self.hubs[h].1.clone(), Some(h)));
            }
            let obj = self.fresh_object(kind)?;
            let room = 2 + self.rng.below(2);
            let hub = Hub {
                obj_type: t,
                kinds: Vec::new(),
                room,
            };
            self.hubs.push((hub, obj.clone()));
            self.open.push(self.hubs.len() - 1);
            return Some((obj, Some(self.hubs.len() - 1)));
        }
        Some((self.fresh_object(kind)?, None))
    }

    /// A small case's own object: the next of its type that names no case of this kind.
    fn fresh_object(&mut self, kind: usize) -> Option<Obj> {
        let ok = GROUP_KINDS[kind].obj;
        let t = ok.type_index();
        for _ in 0..8 {
            // small cases' objects are numbered from the far end of the one-off numbers, so
            // that the first singletons of a kind rarely meet them
            let idx = 1 + 2 * self.next_obj[t];
            self.next_obj[t] += 1;
            let region = self.world.region(&mut self.rng);
            let region = self.world.home(ok, idx).unwrap_or(region);
            let o = self.world.obj(ok, idx, region, &mut self.rng, false);
            if !self.is_taken(kind, &o) {
                return Some(o);
            }
        }
        None
    }

    /// The petitions of a small case.
    fn case_rows(&mut self, gi: u32, origin: Origin, size: usize) {
        let k = &GROUP_KINDS[self.groups[gi as usize].kind];
        let has_variant = self.groups[gi as usize].variant.is_some();
        let first_day = self.day();
        let mut day = first_day;
        let one_pet = self.pet();
        let online = |rng: &mut Rng| if rng.chance(0.5) { 2u8 } else { 4u8 };
        let mut first: Option<usize> = None;
        for m in 0..size {
            if self.full() {
                return;
            }
            let (d, pet, ch) = match origin {
                Origin::Repeat => {
                    if m > 0 {
                        day += match self.rng.below(100) {
                            0..=24 => 0,
                            25..=49 => self.rng.range(1, 4),
                            50..=79 => self.rng.range(5, 21),
                            _ => self.rng.range(22, 60),
                        };
                    }
                    let ch = match first {
                        Some(f) if self.rng.chance(0.7) => self.rows[f].channel,
                        _ => self.rng.weighted(&k.channels) as u8,
                    };
                    (day, one_pet, ch)
                }
                Origin::Copy => {
                    let d = if m == 0 {
                        first_day
                    } else if self.rng.chance(0.5) {
                        first_day + self.rng.range(0, 2)
                    } else {
                        first_day + self.rng.range(3, 20)
                    };
                    let ch = match first {
                        Some(f) => self.rows[f].channel,
                        None => online(&mut self.rng),
                    };
                    let pet = if m == 0 { one_pet } else { self.pet() };
                    (d, pet, ch)
                }
                _ => {
                    let d = first_day + if m == 0 { 0 } else { self.rng.range(0, 45) };
                    let pet = if m == 0 { one_pet } else { self.pet() };
                    (d, pet, self.rng.weighted(&k.channels) as u8)
                }
            };
            let r = self.push(d.min(SPAN_DAYS - 1), ch, gi, pet);
            let Some(f) = first else {
                first = Some(r);
                continue;
            };
            let copies = match origin {
                Origin::Copy => true,
                Origin::Repeat => ch == self.rows[f].channel && self.rng.chance(0.45),
                _ => false,
            };
            if copies {
                self.rows[r].text = self.rows[f].text;
                self.rows[r].flags |= COPY;
            }
            let variant = match origin {
                Origin::Variant => m == 1 || self.rng.chance(0.5),
                Origin::Copy => has_variant && self.rng.chance(0.6),
                _ => false,
            };
            if variant && has_variant {
                self.rows[r].flags |= VARIANT;
            }
        }
    }

    /// One or two singletons about other problems at each object that carries cases.
    fn hub_singletons(&mut self) {
        for h in 0..self.hubs.len() {
            let t = self.hubs[h].0.obj_type;
            let mut kinds: Vec<u16> = (0..GROUP_KINDS.len())
                .filter(|&k| {
                    GROUP_KINDS[k].obj.type_index() == t && !self.hubs[h].0.kinds.contains(&k)
                })
                .map(|k| k as u16)
                .chain(
                    (0..SINGLE_KINDS.len())
                        .filter(|&k| SINGLE_KINDS[k].obj.type_index() == t)
                        .map(single_id),
                )
                .collect();
            if kinds.is_empty() {
                continue;
            }
            // distinct kinds: two petitions of one kind about one object would be a case
            self.rng.shuffle(&mut kinds);
            let k = 1 + self.rng.below(2);
            for &kid in kinds.iter().take(k) {
                if self.full() {
                    return;
                }
                let day = self.day();
                let ch = self.rng.weighted(&BG_CHANNELS) as u8;
                let pet = self.pet();
                let r = self.push(day, ch, NO_GROUP, pet);
                let row = &mut self.rows[r];
                row.kind = kid;
                row.obj = h as u32;
                row.flags |= HUB;
            }
        }
    }

    /// The other singletons, up to `n` rows: their kinds (the wage and flood spikes have their
    /// own), objects numbered per kind so that no two of a kind name one object, and writers
    /// drawn from a pool (some write again, about something else).
    fn singletons(&mut self, single_base: u32, single_pets: u32) {
        let other_kinds: Vec<u16> = (0..GROUP_KINDS.len())
            .filter(|&k| !GROUP_KINDS[k].obj.is_policy())
            .map(|k| k as u16)
            .collect();
        let weights: Vec<u32> = SINGLE_KINDS.iter().map(single_weight).collect();
        while !self.full() {
            let day = self.day();
            let in_wage = (WAGE_SPIKE.0..=WAGE_SPIKE.1).contains(&day);
            let in_flood = (FLOOD_SPIKE.0..=FLOOD_SPIKE.1).contains(&day);
            let kid = if in_wage && self.rng.chance(0.45) {
                if self.rng.chance(0.5) {
                    WAGE_KIND as u16
                } else {
                    single_id(WAGE1_KIND)
                }
            } else if in_flood && self.rng.chance(0.4) {
                single_id(FLOOD_KIND)
            } else if self.rng.chance(0.15) {
                *self.rng.pick(&other_kinds)
            } else {
                single_id(self.rng.weighted(&weights))
            };
            let ch = self.rng.weighted(&BG_CHANNELS) as u8;
            let pet = single_base + self.rng.below(single_pets as usize) as u32;
            let r = self.push(day, ch, NO_GROUP, pet);
            self.rows[r].kind = kid;
            self.rows[r].obj = one_off(kid, &mut self.next_one_off);
        }
    }

    /// A few prolific posters: each files on many unrelated matters — mostly singletons (city
    /// suggestions among them), sometimes one petition in each of several large cases — always
    /// online and in a habitual style (`render` gives each poster its opener and closing).
    fn prolific(&mut self, posters: std::ops::Range<u32>) {
        if posters.is_empty() {
            return;
        }
        let singles: Vec<usize> = (0..self.rows.len())
            .filter(|&i| self.rows[i].group == NO_GROUP && self.rows[i].flags & HUB == 0)
            .collect();
        let campaign: Vec<usize> = (0..self.rows.len())
            .filter(|&i| {
                let g = self.rows[i].group;
                g != NO_GROUP && self.groups[g as usize].origin == Origin::Campaign
            })
            .collect();
        let suggestions: Vec<u16> = ["suggest", "citysug"]
            .iter()
            .filter_map(|key| SINGLE_KINDS.iter().position(|k| k.key == *key))
            .map(single_id)
            .collect();
        let mut mine: Vec<bool> = vec![false; self.rows.len()];
        for poster in posters {
            let posts = 4 + self.rng.below(5) + self.rng.below(5);
            let mut cases: Vec<u32> = Vec::new();
            for _ in 0..posts {
                let in_case = !campaign.is_empty() && self.rng.chance(0.3);
                let pool = if in_case { &campaign } else { &singles };
                if pool.is_empty() {
                    break;
                }
                for _ in 0..20 {
                    let r = pool[self.rng.below(pool.len())];
                    let g = self.rows[r].group;
                    if mine[r] || (g != NO_GROUP && cases.contains(&g)) {
                        continue;
                    }
                    mine[r] = true;
                    let row = &mut self.rows[r];
                    row.pet = poster;
                    row.channel = if self.rng.chance(0.6) { 4 } else { 2 };
                    if g != NO_GROUP {
                        cases.push(g);
                    } else if !suggestions.is_empty() && self.rng.chance(0.5) {
                        let kid = suggestions[self.rng.below(suggestions.len())];
                        row.kind = kid;
                        row.obj = one_off(kid, &mut self.next_one_off);
                    }
                    break;
                }
            }
        }
    }
}

/// How often a one-off petition is of single kind `k`, out of about 150: the long tail of a
/// real message board. Everyday trouble at home and on the street is common; questions on
/// broad themes without an object (a pension, a household registration) are a few in a
/// hundred petitions in the real key, and so are shops, scenic spots and offices.
fn single_weight(k: &Kind) -> u32 {
    match k.key {
        "neighbor" | "pothole" | "traffic" | "wage1" | "suggest" => 10,
        "garbage" | "leak" | "light" | "land" | "enroll" | "dance" => 8,
        "bbq" | "medins" | "medical" | "consumer" | "business" => 5,
        "ktv" | "service" | "flood" => 3,
        "tour" => 2,
        _ if k.obj == ObjKind::None => 1,
        _ => 4,
    }
}

/// A singleton's object number for kind `kid`: distinct among all singletons of its type of
/// object (two one-off petitions about one object happen at hubs, on purpose, not by accident
/// here), past the large cases' few estates and villages, and even, where the small cases'
/// are odd.
fn one_off(kid: u16, next: &mut [u32; OBJ_TYPES]) -> u32 {
    let t = kind(kid).obj.type_index();
    next[t] += 1;
    2 * (next[t] + 63)
}

/// A row's registration time: letters and visits on working days and office hours.
fn time_of(day: u32, channel: u8, rng: &mut Rng) -> u32 {
    let mut day = day;
    let wd = day % 7;
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
    day * DAY + t
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
