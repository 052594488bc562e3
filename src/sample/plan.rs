//! The plan of a sample: everything a row's text depends on, decided up front by a cheap
//! sequential pass (`cases::plan`) and put in time order here, so that rows then render
//! independently, in parallel and in any order.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use super::cases;
use super::kinds::{ObjKind, GROUP_KINDS};
use super::rng::{mix, Rng};
use super::world::{Obj, World};
use super::{calendar, GroupInfo, Options, SampleRow, DAY};
use crate::fxhash::FxHasher;

/// A set of `name_key`s (already well mixed, so the fast hasher is enough).
pub(super) type KeySet = HashSet<u64, BuildHasherDefault<FxHasher>>;

/// How a case's petitions came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// A large case: many people over weeks or months.
    Campaign,
    /// One petitioner filing again on the same matter, days or weeks later.
    Repeat,
    /// A text copied nearly verbatim by other petitioners.
    Copy,
    /// Several petitioners, some of them writing the object's name another way.
    Variant,
    /// Several petitioners asking the same change of one named policy decision.
    Policy,
    /// A few neighbours or colleagues, each in their own words.
    Neighbours,
}

impl Origin {
    pub(super) fn name(self) -> &'static str {
        match self {
            Origin::Campaign => "campaign",
            Origin::Repeat => "repeat",
            Origin::Copy => "copy",
            Origin::Variant => "variant",
            Origin::Policy => "policy",
            Origin::Neighbours => "neighbours",
        }
    }
}

/// One truth group (a case).
pub(super) struct Group {
    pub(super) key: String,
    /// Index into [`GROUP_KINDS`].
    pub(super) kind: usize,
    pub(super) obj: Obj,
    /// The object under another name, written by the rows flagged [`VARIANT`].
    pub(super) variant: Option<Obj>,
    pub(super) origin: Origin,
    pub(super) num: u32,
    pub(super) year: u32,
    pub(super) unit: usize,
}

/// A row's place in the plan; its text and fields are rendered from it.
#[derive(Debug, Clone, Copy)]
pub(super) struct PlanRow {
    pub(super) secs: u32,
    /// The truth group, or [`NO_GROUP`].
    pub(super) group: u32,
    /// Whose text this row writes: its own plan number, or the copied row's.
    pub(super) text: u32,
    /// The petitioner's number.
    pub(super) pet: u32,
    /// A singleton's object: its number among its kind's objects, or a hub's (flag [`HUB`]).
    pub(super) obj: u32,
    /// A singleton's kind (see `kinds::kind`).
    pub(super) kind: u16,
    pub(super) channel: u8,
    pub(super) flags: u8,
}

pub(super) const NO_GROUP: u32 = u32::MAX;
/// The petitioner filed on this case before.
pub(super) const REPEAT: u8 = 1;
/// The text is another row's ([`PlanRow::text`]), nearly verbatim.
pub(super) const COPY: u8 = 2;
/// The object is written under its group's variant name.
pub(super) const VARIANT: u8 = 4;
/// A singleton about a hub's object ([`Sample::hubs`]).
pub(super) const HUB: u8 = 8;

/// The full plan of a sample; rows render from it independently.
pub struct Sample {
    pub(super) seed: u64,
    pub(super) world: World,
    pub(super) groups: Vec<Group>,
    /// Objects that carry several cases, for the singletons about them.
    pub(super) hubs: Vec<Obj>,
    pub(super) rows: Vec<PlanRow>,
    pub(super) ids: Vec<u32>,
    pub(super) days: Vec<(u16, u8, u8)>,
    /// `name_key(kind, name)` of every name of every group's object: a singleton of that kind
    /// must not name it.
    taken: KeySet,
    /// The petitioner numbers of the prolific posters.
    pub(super) prolific: std::ops::Range<u32>,
    pet_total: u32,
    pet_mul: u64,
}

impl Sample {
    pub fn new(opts: &Options) -> Sample {
        let mut rng = Rng::new(opts.seed);
        let world = World::new(&mut rng);
        let share = opts.grouped_share.clamp(0.05, 0.49);
        let cases::Cases {
            groups,
            hubs,
            mut rows,
            taken,
            prolific,
            petitioners,
        } = cases::plan(&world, rng, opts.rows, share);
        rows.sort_by_key(|r| r.secs);
        mark_repeats(&mut rows);
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
        let mut pet_mul = 7_919u64 * 104_729;
        while gcd(pet_mul, petitioners as u64) != 1 {
            pet_mul += 2;
        }
        Sample {
            seed: opts.seed,
            world,
            groups,
            hubs,
            rows,
            ids,
            days,
            taken,
            prolific,
            pet_total: petitioners,
            pet_mul,
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// All rows, in order (rendered one by one).
    pub fn iter(&self) -> impl Iterator<Item = SampleRow> + '_ {
        (0..self.len()).map(|i| self.row(i))
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
                    origin: g.origin.name(),
                    size,
                }
            })
            .collect()
    }

    /// Petitioner number `x` as the export writes it (a fixed permutation, so numbers do not
    /// give away who files on which case).
    pub(super) fn petitioner(&self, x: u32) -> String {
        let id = (x as u64 * self.pet_mul + 12_345) % self.pet_total.max(1) as u64;
        format!("P{:06}", id + 1)
    }

    /// Whether an object of kind `kind_id` is a case's object under that kind.
    pub(super) fn is_taken(&self, kind_id: u16, o: &Obj, obj_kind: ObjKind) -> bool {
        o.names(obj_kind)
            .any(|s| self.taken.contains(&name_key(kind_id, s)))
    }
}

/// A hash of a name under a kind (FNV-1a, mixed): stable across platforms and runs.
pub(super) fn name_key(kind_id: u16, name: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h, kind_id as u64)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Flags every row of a case whose petitioner filed on that case before (in time order).
fn mark_repeats(rows: &mut [PlanRow]) {
    let mut seen: Vec<(u32, u32, usize)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.group != NO_GROUP)
        .map(|(i, r)| (r.group, r.pet, i))
        .collect();
    seen.sort_unstable();
    for w in seen.windows(2) {
        if (w[0].0, w[0].1) == (w[1].0, w[1].1) {
            rows[w[1].2].flags |= REPEAT;
        }
    }
}
