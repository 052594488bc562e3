//! The state a grouping keeps for the next week (`groups/state.bin`): its vocabulary and
//! object names, every group's centroid and names, each petition's group, similarity and text
//! fingerprint, the unclustered petitions' vectors; written and read with a bounds-checked
//! codec of its own (a few flat lists: a serialisation crate would add a dependency and a
//! schema for what one file of this program reads back).

use std::collections::BTreeMap;
use std::hash::Hasher;
use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

use crate::cluster::figures::Slot;
use crate::cluster::vectors::{Lexicon, Prepared};
use crate::cluster::{Groups, Options, STATE_FILE};
use crate::error::Result;
use crate::fxhash::FxHasher;
use crate::schema::Record;
use crate::tokenize::Tokenizer;

/// First bytes of the state file; the number is the format version.
pub(super) const MAGIC: &[u8; 8] = b"MQGRP001";

/// What a grouping keeps for the next run (see the module documentation).
pub struct State {
    pub(super) settings: String,
    /// Petitions at the last full grouping, and added incrementally since.
    pub(super) built: u64,
    pub(super) added: u64,
    pub(super) lex: Lexicon,
    pub(super) last_id: u32,
    pub(super) groups: Vec<KeptGroup>,
    /// Sorted by id.
    pub(super) members: Vec<KeptMember>,
    pub(super) loose: Vec<Loose>,
}

pub(super) struct KeptGroup {
    pub(super) id: String,
    pub(super) key: Option<u32>,
    /// Centroid sum, sorted by term.
    pub(super) sum: Vec<(u32, f32)>,
    pub(super) names: BTreeMap<String, u32>,
}

pub(super) struct KeptMember {
    pub(super) id: String,
    pub(super) fingerprint: u64,
    /// Index into `groups`, or [`NO_GROUP`].
    pub(super) group: u32,
    pub(super) similarity: f32,
}

/// An unclustered petition's vector (`member` indexes `members`).
pub(super) struct Loose {
    pub(super) member: u32,
    pub(super) key: Option<u32>,
    pub(super) vec: Vec<(u32, f32)>,
    pub(super) raw: Option<String>,
}

pub(super) const NO_GROUP: u32 = u32::MAX;

/// A petition's text as the grouping reads it, hashed: a change means its vector is stale.
pub(super) fn fingerprint(r: &Record) -> u64 {
    let mut h = FxHasher::default();
    h.write(r.title.as_bytes());
    h.write_u32(0xffff_ffff);
    h.write(r.content.as_bytes());
    for part in r.region.iter().flatten() {
        h.write_u32(0xffff_fffe);
        h.write(part.as_bytes());
    }
    h.finish()
}

/// The settings a state is only valid under.
pub(super) fn settings(opts: &Options, tok: &Tokenizer) -> String {
    let mut o = opts.clone();
    o.regroup_after = Options::default().regroup_after;
    crate::fsutil::sha256_bytes(
        format!(
            "{}\n{o:?}\n{}",
            String::from_utf8_lossy(MAGIC),
            tok.fingerprint()
        )
        .as_bytes(),
    )
}

impl State {
    /// Each petition's [`fingerprint`], for [`State::after_full`].
    pub(in crate::cluster) fn fingerprints(sorted: &[&Record]) -> Vec<u64> {
        sorted.par_iter().map(|r| fingerprint(r)).collect()
    }

    /// The state of a full grouping (`prints`: [`State::fingerprints`] of `sorted`).
    #[allow(clippy::too_many_arguments)]
    pub(in crate::cluster) fn after_full(
        sorted: &[&Record],
        prints: Vec<u64>,
        tok: &Tokenizer,
        opts: &Options,
        prep: Prepared,
        slots: Vec<Slot>,
        groups: &Groups,
        sims: Vec<f32>,
    ) -> State {
        let group = group_of(sorted.len(), &slots);
        let loose = unclustered(&group, &prep);
        let members: Vec<KeptMember> = sorted
            .par_iter()
            .zip(group)
            .zip(&sims)
            .zip(prints)
            .map(|(((r, group), &similarity), fingerprint)| KeptMember {
                id: r.id.to_string(),
                fingerprint,
                group,
                similarity,
            })
            .collect();
        // copied out of the buffers they share with the grouped petitions' (`Packed`)
        let loose = loose
            .into_iter()
            .map(|i| Loose {
                member: i as u32,
                key: prep.docs[i].key,
                vec: prep.docs[i].vec.to_vec(),
                raw: prep.written(i).map(str::to_string),
            })
            .collect();
        State {
            settings: settings(opts, tok),
            built: sorted.len() as u64,
            added: 0,
            groups: slots.into_iter().map(KeptGroup::from).collect(),
            members,
            loose,
            lex: prep.lex,
            last_id: groups.last_id,
        }
    }

    /// Writes the state into `groups_dir` (atomically), streamed: at a million petitions the
    /// file is 150 MB, which an in-memory copy held on top of the state itself.
    pub fn write(&self, groups_dir: &Path) -> Result<()> {
        View {
            settings: &self.settings,
            built: self.built,
            added: self.added,
            last_id: self.last_id,
            lex: &self.lex,
            groups: self
                .groups
                .iter()
                .map(|g| (g.id.as_str(), g.key, g.sum.as_slice(), &g.names))
                .collect(),
            members: Box::new(
                self.members
                    .iter()
                    .map(|m| (m.id.as_str(), m.fingerprint, m.group, m.similarity)),
            ),
            loose: self
                .loose
                .iter()
                .map(|l| (l.member, l.key, l.vec.as_slice(), l.raw.as_deref()))
                .collect(),
        }
        .write(groups_dir)
    }

    /// Writes the state of a full grouping into `groups_dir` straight from its tables: the
    /// bytes [`State::after_full`] and [`State::write`] give, without making the state.
    ///
    /// Why: the state holds each petition's id again and the unclustered petitions' vectors
    /// beside the groups' centroids; made after the groups' tables it was held beside them,
    /// the grouping's peak (9.5 GiB of anonymous memory at 10M generated petitions, ~2.4 GB
    /// of it the state: docs/scale.md, the thirteenth measurement). Written first, it is never
    /// held.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::cluster) fn write_full(
        groups_dir: &Path,
        sorted: &[&Record],
        prints: &[u64],
        tok: &Tokenizer,
        opts: &Options,
        prep: &Prepared,
        slots: &[Slot],
        sims: &[f32],
        last_id: u32,
    ) -> Result<()> {
        let group = group_of(sorted.len(), slots);
        let loose = unclustered(&group, prep)
            .into_iter()
            .map(|i| {
                let d = &prep.docs[i];
                (i as u32, d.key, &d.vec[..], prep.written(i))
            })
            .collect();
        let settings = settings(opts, tok);
        View {
            settings: &settings,
            built: sorted.len() as u64,
            added: 0,
            last_id,
            lex: &prep.lex,
            groups: slots
                .iter()
                .map(|s| (s.id.as_str(), s.cent.key, s.cent.v.as_slice(), &s.names))
                .collect(),
            members: Box::new(
                sorted
                    .iter()
                    .zip(prints)
                    .zip(&group)
                    .zip(sims)
                    .map(|(((r, &p), &g), &s)| (r.id.as_str(), p, g, s)),
            ),
            loose,
        }
        .write(groups_dir)
    }

    /// Reads the state of `groups_dir`: `Ok(None)` when there is none, `Err` (a reason for
    /// the terminal) when it cannot be used.
    pub(super) fn read(groups_dir: &Path) -> std::result::Result<Option<State>, String> {
        let p = groups_dir.join(STATE_FILE);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", p.display())),
        };
        let mut d = Dec { b: &bytes, at: 0 };
        if d.take(MAGIC.len())? != MAGIC {
            return Err(format!(
                "{} is not a grouping state of this version",
                p.display()
            ));
        }
        let settings = d.str()?;
        let built = d.u64()?;
        let added = d.u64()?;
        let last_id = d.u32()?;
        let n = d.len(9)?;
        let (mut vocab, mut idf) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut person, mut proper) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            vocab.push(d.str()?);
            idf.push(d.f32()?);
            let flags = d.u32()?;
            person.push(flags & 1 != 0);
            proper.push(flags & 2 != 0);
        }
        let anchors = d.strs()?;
        let n = d.len(8)?;
        let mut resolve = Vec::with_capacity(n);
        for _ in 0..n {
            resolve.push((d.str()?, d.key()?));
        }
        let mut counted = || -> std::result::Result<Vec<(String, u32)>, String> {
            let n = d.len(8)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push((d.str()?, d.u32()?));
            }
            Ok(v)
        };
        let chosen = counted()?;
        let known = counted()?;
        let n = d.len(8)?;
        let mut object_terms = Vec::with_capacity(n);
        for _ in 0..n {
            object_terms.push((d.u32()?, d.u32()?));
        }
        let n = d.len(16)?;
        let mut groups = Vec::with_capacity(n);
        for _ in 0..n {
            let id = d.str()?;
            let key = d.key()?;
            let sum = d.pairs()?;
            let k = d.len(8)?;
            let mut names = BTreeMap::new();
            for _ in 0..k {
                names.insert(d.str()?, d.u32()?);
            }
            groups.push(KeptGroup {
                id,
                key,
                sum,
                names,
            });
        }
        let n = d.len(20)?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            members.push(KeptMember {
                id: d.str()?,
                fingerprint: d.u64()?,
                group: d.u32()?,
                similarity: d.f32()?,
            });
        }
        let n = d.len(16)?;
        let mut loose = Vec::with_capacity(n);
        for _ in 0..n {
            let member = d.u32()?;
            let key = d.key()?;
            let vec = d.pairs()?;
            let raw = Some(d.str()?).filter(|s| !s.is_empty());
            loose.push(Loose {
                member,
                key,
                vec,
                raw,
            });
        }
        if d.at != bytes.len() {
            return Err(format!("{} has trailing bytes", p.display()));
        }
        // the indices the rest of the code trusts
        let bad_key = |k: &Option<u32>| k.is_some_and(|k| k as usize >= anchors.len());
        let bad_term = |t: u32| t as usize >= vocab.len();
        if resolve.iter().any(|(_, k)| bad_key(k))
            || object_terms
                .iter()
                .any(|(a, t)| *a as usize >= anchors.len() || bad_term(*t))
            || groups
                .iter()
                .any(|g| bad_key(&g.key) || g.sum.iter().any(|(t, _)| bad_term(*t)))
            || members
                .iter()
                .any(|m| m.group != NO_GROUP && m.group as usize >= groups.len())
            || members.windows(2).any(|w| w[0].id >= w[1].id)
            || loose.iter().any(|l| {
                l.member as usize >= members.len()
                    || bad_key(&l.key)
                    || l.vec.iter().any(|(t, _)| bad_term(*t))
            })
        {
            return Err(format!("{} is inconsistent", p.display()));
        }
        Ok(Some(State {
            settings,
            built,
            added,
            lex: Lexicon {
                vocab,
                idf,
                proper,
                person,
                anchors,
                resolve,
                chosen,
                known,
                object_terms,
            },
            last_id,
            groups,
            members,
            loose,
        }))
    }
}

/// The petitions a full grouping leaves out of every group and keeps for later ones (those
/// with a vector): by place in the sorted petitions (`group`: [`group_of`]'s table).
fn unclustered(group: &[u32], prep: &Prepared) -> Vec<usize> {
    (0..group.len())
        .filter(|&i| group[i] == NO_GROUP && !prep.docs[i].vec.is_empty())
        .collect()
}

/// A state as its file lists it, borrowed from a [`State`] or from a full grouping's tables
/// ([`State::write_full`]).
struct View<'a> {
    settings: &'a str,
    built: u64,
    added: u64,
    last_id: u32,
    lex: &'a Lexicon,
    /// Id, object key, centroid sum (sorted by term), names.
    groups: Vec<Kept<'a>>,
    /// Id, fingerprint, group, similarity, sorted by id.
    members: Box<dyn ExactSizeIterator<Item = (&'a str, u64, u32, f32)> + 'a>,
    loose: Vec<LooseRef<'a>>,
}

/// An unclustered petition as the state file lists it: member, object key, vector, the
/// anchor as written (see [`Loose`]).
type LooseRef<'a> = (u32, Option<u32>, &'a [(u32, f32)], Option<&'a str>);

/// A group as the state file lists it (see [`View::groups`]).
type Kept<'a> = (
    &'a str,
    Option<u32>,
    &'a [(u32, f32)],
    &'a BTreeMap<String, u32>,
);

impl View<'_> {
    fn write(mut self, groups_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(groups_dir)
            .map_err(crate::error::Error::io("create folder", groups_dir))?;
        crate::fsutil::write_atomic_with(&groups_dir.join(STATE_FILE), |w| {
            let mut e = Enc::new(w);
            self.encode(&mut e);
            e.finish()
        })
    }

    fn encode(&mut self, e: &mut Enc<'_>) {
        e.bytes(MAGIC);
        e.str(self.settings);
        e.u64(self.built);
        e.u64(self.added);
        e.u32(self.last_id);
        e.len(self.lex.vocab.len());
        for (i, w) in self.lex.vocab.iter().enumerate() {
            e.str(w);
            e.f32(self.lex.idf[i]);
            e.u32(u32::from(self.lex.person[i]) | u32::from(self.lex.proper[i]) << 1);
        }
        e.strs(&self.lex.anchors);
        e.len(self.lex.resolve.len());
        for (n, k) in &self.lex.resolve {
            e.str(n);
            e.key(*k);
        }
        for list in [&self.lex.chosen, &self.lex.known] {
            e.len(list.len());
            for (n, c) in list {
                e.str(n);
                e.u32(*c);
            }
        }
        e.len(self.lex.object_terms.len());
        for (a, t) in &self.lex.object_terms {
            e.u32(*a);
            e.u32(*t);
        }
        e.len(self.groups.len());
        for &(id, key, sum, names) in &self.groups {
            e.str(id);
            e.key(key);
            e.pairs(sum);
            e.len(names.len());
            for (n, c) in names {
                e.str(n);
                e.u32(*c);
            }
        }
        e.len(self.members.len());
        for (id, fingerprint, group, similarity) in &mut self.members {
            e.str(id);
            e.u64(fingerprint);
            e.u32(group);
            e.f32(similarity);
        }
        e.len(self.loose.len());
        for &(member, key, vec, raw) in &self.loose {
            e.u32(member);
            e.key(key);
            e.pairs(vec);
            e.str(raw.unwrap_or(""));
        }
    }
}

/// Each of `n` petitions' index in `slots`, or [`NO_GROUP`].
fn group_of(n: usize, slots: &[Slot]) -> Vec<u32> {
    let mut group = vec![NO_GROUP; n];
    for (s, slot) in slots.iter().enumerate() {
        for &i in &slot.members {
            group[i] = s as u32;
        }
    }
    group
}

impl From<Slot> for KeptGroup {
    fn from(s: Slot) -> Self {
        KeptGroup {
            id: s.id,
            key: s.cent.key,
            sum: s.cent.v,
            names: s.names,
        }
    }
}

/// A petition's (term, weight) pairs.
pub(super) type Weights = Vec<(u32, f32)>;

/// Little-endian encoder of the state file (and of the object partitions' files, `partitions`)
/// over a writer. The first write error is kept and every later
/// write skipped, so the many small writes need no error handling each; [`Enc::finish`] says it.
pub(in crate::cluster) struct Enc<'w> {
    w: std::io::BufWriter<&'w mut dyn Write>,
    failed: Option<std::io::Error>,
}

impl<'w> Enc<'w> {
    pub(in crate::cluster) fn new(w: &'w mut dyn Write) -> Enc<'w> {
        Enc {
            w: std::io::BufWriter::with_capacity(1 << 20, w),
            failed: None,
        }
    }
    pub(in crate::cluster) fn finish(mut self) -> std::io::Result<()> {
        match self.failed.take() {
            Some(e) => Err(e),
            None => self.w.flush(),
        }
    }
    pub(in crate::cluster) fn bytes(&mut self, b: &[u8]) {
        if self.failed.is_none() {
            if let Err(e) = self.w.write_all(b) {
                self.failed = Some(e);
            }
        }
    }
    pub(in crate::cluster) fn u32(&mut self, x: u32) {
        self.bytes(&x.to_le_bytes());
    }
    pub(in crate::cluster) fn u64(&mut self, x: u64) {
        self.bytes(&x.to_le_bytes());
    }
    pub(in crate::cluster) fn f32(&mut self, x: f32) {
        self.bytes(&x.to_le_bytes());
    }
    pub(in crate::cluster) fn len(&mut self, n: usize) {
        self.u32(n as u32);
    }
    pub(in crate::cluster) fn key(&mut self, k: Option<u32>) {
        self.u32(k.unwrap_or(u32::MAX));
    }
    pub(in crate::cluster) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.bytes(s.as_bytes());
    }
    pub(in crate::cluster) fn strs(&mut self, v: &[String]) {
        self.len(v.len());
        for s in v {
            self.str(s);
        }
    }
    pub(in crate::cluster) fn pairs(&mut self, v: &[(u32, f32)]) {
        self.len(v.len());
        for (t, w) in v {
            self.u32(*t);
            self.f32(*w);
        }
    }
}

/// Decoder of the state file; every read is bounds-checked (a damaged file is an error, never
/// a panic or a huge allocation).
pub(in crate::cluster) struct Dec<'a> {
    pub(in crate::cluster) b: &'a [u8],
    pub(in crate::cluster) at: usize,
}

impl<'a> Dec<'a> {
    pub(in crate::cluster) fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or("the grouping state is truncated")?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    pub(in crate::cluster) fn u32(&mut self) -> std::result::Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    pub(in crate::cluster) fn u64(&mut self) -> std::result::Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
    pub(in crate::cluster) fn f32(&mut self) -> std::result::Result<f32, String> {
        Ok(f32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    /// A count of items of at least `min_bytes` each: never more than the bytes left allow.
    pub(in crate::cluster) fn len(
        &mut self,
        min_bytes: usize,
    ) -> std::result::Result<usize, String> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_bytes.max(1)) > self.b.len() - self.at {
            return Err("the grouping state is truncated".into());
        }
        Ok(n)
    }
    pub(in crate::cluster) fn key(&mut self) -> std::result::Result<Option<u32>, String> {
        Ok(Some(self.u32()?).filter(|&k| k != u32::MAX))
    }
    pub(in crate::cluster) fn str(&mut self) -> std::result::Result<String, String> {
        let n = self.len(1)?;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| "the grouping state is damaged".into())
    }
    pub(in crate::cluster) fn strs(&mut self) -> std::result::Result<Vec<String>, String> {
        let n = self.len(4)?;
        (0..n).map(|_| self.str()).collect()
    }
    pub(in crate::cluster) fn pairs(&mut self) -> std::result::Result<Vec<(u32, f32)>, String> {
        let n = self.len(8)?;
        (0..n).map(|_| Ok((self.u32()?, self.f32()?))).collect()
    }
}
