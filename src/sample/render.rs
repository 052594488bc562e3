//! Rendering one planned row into an export row: its text from the generator of its text
//! number (a copy renders the copied row's text), then the edits of a repeat, a copy or a
//! prolific poster, then its handling fields from the row's own generator. Rows depend on the
//! plan only, so they render in parallel and in any order.

use std::fmt::Write as _;

use super::kinds::{kind as kind_of, Kind, ObjKind, GROUP_KINDS};
use super::phrases;
use super::plan::{Group, Sample, COPY, HUB, NO_GROUP, REPEAT, VARIANT};
use super::rng::{mix, Rng};
use super::world::{Obj, Region};
use super::{SampleRow, DAY, SINGLETON, SPAN_DAYS};

/// Salt of the rows' own generators (their texts' generators are unsalted).
const ROW_SALT: u64 = 0xA5A5_5A5A_0F0F_F0F0;
/// Tries to find a singleton an object that is no case's object of its kind.
const CLASH_TRIES: usize = 16;

/// A prolific poster's habits.
#[derive(Clone, Copy)]
pub(super) struct Style {
    pub(super) opener: &'static str,
    pub(super) closing: &'static str,
    pub(super) title: &'static str,
}

impl Sample {
    /// Renders row `i` (0-based, in time order).
    pub fn row(&self, i: usize) -> SampleRow {
        let pr = self.rows[i];
        // what the text depends on draws from the text's generator, the rest from the row's
        let mut trng = Rng::new(mix(self.seed, pr.text as u64 + 1));
        let mut rng = Rng::new(mix(self.seed ^ ROW_SALT, i as u64 + 1));
        let channel = pr.channel as usize;
        let day = pr.secs / DAY;
        let owned;
        let group: Option<&Group> = (pr.group != NO_GROUP).then(|| &self.groups[pr.group as usize]);
        let (kind, obj): (&Kind, &Obj) = match group {
            Some(g) => {
                let obj = match &g.variant {
                    Some(v) if pr.flags & VARIANT != 0 => v,
                    _ => &g.obj,
                };
                (&GROUP_KINDS[g.kind], obj)
            }
            None if pr.flags & HUB != 0 => (kind_of(pr.kind), &self.hubs[pr.obj as usize]),
            None => {
                let k = kind_of(pr.kind);
                owned = self.one_off(pr.kind, k, pr.obj as usize, &mut trng);
                (k, &owned)
            }
        };
        let region_idx = match group {
            Some(_) if matches!(kind.obj, ObjKind::Bus | ObjKind::College | ObjKind::Finance) => {
                if trng.chance(0.6) {
                    self.world.region(&mut trng)
                } else {
                    obj.region
                }
            }
            Some(_) if trng.chance(0.12) => self.world.region_of_district(obj.region, &mut trng),
            _ => obj.region,
        };
        let region = &self.world.regions[region_idx];
        let unit_i = match group {
            Some(g) if trng.chance(0.8) => g.unit,
            _ => trng.below(kind.units.len()),
        };
        let mut unit = String::new();
        let year = group
            .map(|g| g.year)
            .unwrap_or_else(|| trng.range(2012, 2018));
        let num = group
            .map(|g| g.num)
            .unwrap_or_else(|| trng.range(kind.num.0, kind.num.1));
        let ctx0 = Ctx {
            kind,
            obj,
            region,
            term: "",
            unit: "",
            num,
            year,
        };
        ctx0.render_into(&mut unit, kind.units[unit_i], &mut trng);
        let term = *trng.pick(kind.terms);
        let ctx = Ctx {
            term,
            unit: &unit,
            ..ctx0
        };

        // headcount
        let headcount = if channel == 1 {
            if group.is_some() && trng.chance(0.35) {
                trng.range(5, 40)
            } else if COLLECTIVE_OK.contains(&kind.key) && trng.chance(0.08) {
                trng.range(5, 12)
            } else {
                trng.range(1, 3)
            }
        } else {
            1
        };
        let style = self.prolific.contains(&pr.pet).then(|| self.style(pr.pet));
        let (mut title, mut content) =
            compose(&ctx, &mut trng, channel, headcount, group.is_some(), style);
        if pr.flags & COPY != 0 && pr.flags & REPEAT == 0 {
            copy_edits(&ctx, &mut rng, &mut title, &mut content);
        }
        if pr.flags & REPEAT != 0 {
            let recorded = matches!(channel, 1 | 3);
            let copied = pr.flags & COPY != 0;
            repeat_edits(&ctx, &mut rng, copied, recorded, &mut title, &mut content);
        }

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
            petitioner: self.petitioner(pr.pet),
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
            truth_group: group
                .map(|g| g.key.clone())
                .unwrap_or_else(|| SINGLETON.to_string()),
        }
    }

    /// A singleton's own object: number `idx` of its kind, unless that names a case of the
    /// same kind (then another, further on).
    pub(super) fn one_off(&self, kind_id: u16, k: &Kind, idx: usize, rng: &mut Rng) -> Obj {
        if k.obj == ObjKind::None {
            return Obj {
                region: self.world.region(rng),
                ..Obj::default()
            };
        }
        let drawn = self.world.region(rng);
        let mut idx = idx;
        let mut o = Obj::default();
        for _ in 0..CLASH_TRIES {
            let region = self.world.home(k.obj, idx).unwrap_or(drawn);
            o = self.world.obj(k.obj, idx, region, rng, false);
            // only a case's kind can clash with a case
            if kind_id as usize >= GROUP_KINDS.len() || !self.is_taken(kind_id, &o, k.obj) {
                break;
            }
            idx += 2 * 7919;
        }
        o
    }

    /// Prolific poster `pet`'s habits (fixed per poster).
    pub(super) fn style(&self, pet: u32) -> Style {
        let h = mix(self.seed, 0x57_11E0 + pet as u64);
        let at = |xs: &[&'static str], shift: u32| xs[((h >> shift) % xs.len() as u64) as usize];
        Style {
            opener: at(phrases::PROLIFIC_OPENERS, 0),
            closing: at(phrases::PROLIFIC_CLOSINGS, 16),
            title: at(phrases::PROLIFIC_TITLES, 32),
        }
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
                h.reply = (*rng.pick(phrases::REJECT_REPLIES)).to_string();
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
        reply.push_str(rng.s(phrases::REPLY_PRE));
        ctx.render_into(&mut reply, rng.s(ctx.kind.replies), rng);
        ctx.render_into(&mut reply, rng.s(phrases::REPLY_POST), rng);
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

pub(super) const CHANNEL_NAMES: [&str; 6] =
    ["来信", "来访", "网上信访", "来电", "网民留言", "评论"];

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
                        phrases::DUR_LONG
                    } else {
                        phrases::DUR_SHORT
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
                "#" => {
                    let _ = write!(out, "{}", rng.range(2, 30));
                }
                // {a|b|c}: one of the wordings, so that two people's texts on one theme differ
                alts if alts.contains('|') => {
                    let k = rng.below(alts.split('|').count());
                    out.push_str(alts.split('|').nth(k).unwrap_or_default());
                }
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

/// Picks `n` distinct items of `xs` in random order (a partial shuffle).
fn pick_n<'a>(rng: &mut Rng, xs: &'a [&'static str], n: usize) -> Vec<&'a str> {
    let mut v: Vec<&'a str> = xs.to_vec();
    let n = n.min(v.len());
    for i in 0..n {
        let j = i + rng.below(v.len() - i);
        v.swap(i, j);
    }
    v.truncate(n);
    v
}

fn third_person(s: &str) -> String {
    s.replace("我们", "他们")
        .replace("本人", "来电人")
        .replace("我家", "其家")
        .replace('我', "其")
}

/// A petition's title and content, in the manner of its channel (and of its writer, for a
/// prolific poster).
fn compose(
    ctx: &Ctx,
    rng: &mut Rng,
    channel: usize,
    headcount: u32,
    grouped: bool,
    style: Option<Style>,
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
    } else if title_roll < (if grouped { 78 } else { 50 }) || !has_obj {
        // (one-off petitions name their object in their own words more often)
        ctx.render(rng.s(k.titles), rng)
    } else {
        ctx.render(rng.s(phrases::GENERIC_TITLES), rng)
    };

    // body
    // message boards are written at length; calls and visits are recorded shorter
    let mode = match channel {
        5 => 0,
        0 => [0, 1, 2, 2][rng.below(4)],
        2 | 4 => match rng.below(100) {
            0..=11 => 0,
            12..=54 => 1,
            _ => 2,
        },
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
            let pre = *rng.pick(phrases::COMMENT_PRE);
            opener.push_str(pre);
        }
    } else {
        let long = mode == 2;
        if rng.chance(if long { 0.8 } else { 0.45 }) {
            let tpl = if channel == 0 {
                rng.pick(phrases::LETTER_OPENERS)
            } else {
                rng.pick(phrases::OPENERS)
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
        // the writer's own circumstances: what makes two people's texts on one theme differ
        let nown = if long {
            rng.range(1, 3) as usize
        } else {
            rng.below(2)
        };
        for own in pick_n(rng, phrases::OWN, nown) {
            let at = 1 + rng.below(body.len());
            body.insert(at, ctx.render(own, rng));
        }
        if long {
            if rng.chance(0.6) {
                body.push(rng.s(phrases::IMPACTS).to_string());
            }
            let nstory = rng.range(1, 3) as usize;
            for st in pick_n(rng, phrases::STORY, nstory) {
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
        for a in pick_n(rng, phrases::ACTIONS, nact) {
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
            body.push((*rng.pick(phrases::DEMANDS)).to_string());
        }
        if rng.chance(if channel == 0 { 0.8 } else { 0.4 }) {
            closing = if channel == 0 && rng.chance(0.4) {
                "此致\n敬礼！".to_string()
            } else {
                (*rng.pick(phrases::CLOSINGS)).to_string()
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
            body = format!("{}{}", rng.pick(phrases::HOTLINE_PRE), third_person(&body));
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
    // a prolific poster opens and closes every petition the same way
    let title = match style {
        Some(s) => {
            opener = ctx.render(s.opener, rng);
            closing = ctx.render(s.closing, rng);
            if title.is_empty() {
                title
            } else {
                s.title.replace("{}", &title)
            }
        }
        None => title,
    };
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
            let (a, b) = *rng.pick(phrases::TYPOS);
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

/// Another petitioner's near-verbatim copy: a lead-in of their own, sometimes a typo or the
/// last sentence left off, sometimes a title of their own.
fn copy_edits(ctx: &Ctx, rng: &mut Rng, title: &mut String, content: &mut String) {
    let lead = rng.s(phrases::COPY_LEADS);
    if !lead.is_empty() {
        content.insert_str(0, lead);
    }
    if rng.chance(0.5) {
        let (a, b) = *rng.pick(phrases::TYPOS);
        if let Some(p) = content.find(a) {
            content.replace_range(p..p + a.len(), b);
        }
    }
    // the last sentence left off, from a text long enough to stay the same text
    if rng.chance(0.3) && content.matches('。').count() >= 4 {
        let body = content.trim_end_matches(['。', '！', '？']);
        if let Some(p) = body.rfind('。') {
            content.truncate(p + '。'.len_utf8());
        }
    }
    if !title.is_empty() && rng.chance(0.4) {
        *title = ctx.render(rng.s(ctx.kind.titles), rng);
    }
}

/// The same petitioner again on the same matter: a reworded title that often says so, and a
/// first line that says so (always, when the text is the earlier one's).
fn repeat_edits(
    ctx: &Ctx,
    rng: &mut Rng,
    copied: bool,
    recorded: bool,
    title: &mut String,
    content: &mut String,
) {
    if !title.is_empty() {
        let base = ctx.render(rng.s(ctx.kind.titles), rng);
        *title = match rng.below(10) {
            0..=3 => format!("{}{base}", rng.s(phrases::REPEAT_TITLE_PRE)),
            4..=6 => format!("{base}{}", rng.s(phrases::REPEAT_TITLE_POST)),
            _ => base,
        };
    }
    if copied || rng.chance(0.5) {
        let lines = if recorded {
            phrases::REPEAT_LINES_RECORDED
        } else {
            phrases::REPEAT_LINES
        };
        content.insert_str(0, rng.s(lines));
    }
}

/// A fake name, mobile and/or 18-digit ID number (valid check digit) embedded in text.
fn pii(rng: &mut Rng) -> String {
    let name = format!(
        "{}{}",
        rng.pick(phrases::SURNAMES),
        rng.pick(phrases::GIVEN)
    );
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
