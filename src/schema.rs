//! The canonical petition record and the column aliases real exports use.
//!
//! Every importer maps its columns onto [`Field`]s through [`ALIASES`] (plus per-source overrides
//! from the pipeline file); every later stage reads only [`Record`]s.

use std::sync::Arc;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// How a petition reached the office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Letter,
    Visit,
    Online,
    Hotline,
    MessageBoard,
    Comment,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Letter,
        Channel::Visit,
        Channel::Online,
        Channel::Hotline,
        Channel::MessageBoard,
        Channel::Comment,
    ];

    /// The stored code (`letter`, `visit`, …).
    pub fn code(self) -> &'static str {
        match self {
            Channel::Letter => "letter",
            Channel::Visit => "visit",
            Channel::Online => "online",
            Channel::Hotline => "hotline",
            Channel::MessageBoard => "message_board",
            Channel::Comment => "comment",
        }
    }

    /// The name petition offices use (来信, 来访, …).
    pub fn zh(self) -> &'static str {
        match self {
            Channel::Letter => "来信",
            Channel::Visit => "来访",
            Channel::Online => "网上信访",
            Channel::Hotline => "来电",
            Channel::MessageBoard => "网民留言",
            Channel::Comment => "评论",
        }
    }

    /// Every code, for messages and help: `letter, visit, online, hotline, message_board,
    /// comment`.
    pub fn codes() -> String {
        Channel::ALL.map(Channel::code).join(", ")
    }

    /// [`Channel::parse`], or the message that names the codes a user may write.
    pub fn parse_named(s: &str) -> Result<Channel, String> {
        Channel::parse(s).ok_or_else(|| format!("unknown channel `{s}` ({})", Channel::codes()))
    }

    /// Parses a code or any of the Chinese names exports use.
    pub fn parse(s: &str) -> Option<Channel> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        Some(match lower.as_str() {
            "letter" | "来信" | "信件" | "书信" | "来信件" => Channel::Letter,
            "visit" | "来访" | "走访" | "上访" | "集体访" | "个人访" => Channel::Visit,
            "online" | "网上信访" | "网信" | "网上投诉" | "网络信访" | "网上" => {
                Channel::Online
            }
            "hotline" | "来电" | "12345" | "电话" | "热线" | "12345热线" | "市长热线" => {
                Channel::Hotline
            }
            "message_board" | "message board" | "留言" | "网民留言" | "留言板" | "领导留言板"
            | "问政" | "网络问政" => Channel::MessageBoard,
            "comment" | "评论" | "网民评论" | "意见征集" => Channel::Comment,
            _ => return None,
        })
    }
}

/// How satisfied the petitioner said they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    Satisfied,
    BasicallySatisfied,
    Dissatisfied,
    NotRated,
}

impl Satisfaction {
    pub fn code(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "satisfied",
            Satisfaction::BasicallySatisfied => "basically_satisfied",
            Satisfaction::Dissatisfied => "dissatisfied",
            Satisfaction::NotRated => "not_rated",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "满意",
            Satisfaction::BasicallySatisfied => "基本满意",
            Satisfaction::Dissatisfied => "不满意",
            Satisfaction::NotRated => "未评价",
        }
    }

    pub fn parse(s: &str) -> Option<Satisfaction> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "satisfied" | "满意" | "非常满意" => Satisfaction::Satisfied,
            "basically_satisfied" | "基本满意" | "比较满意" => {
                Satisfaction::BasicallySatisfied
            }
            "dissatisfied" | "不满意" | "非常不满意" => Satisfaction::Dissatisfied,
            "not_rated" | "未评价" | "未参评" | "" => Satisfaction::NotRated,
            _ => return None,
        })
    }
}

/// People in one visit from which it is a collective visit (集体访).
pub const COLLECTIVE_HEADCOUNT: u32 = 5;

/// Words in a handling status that mean the handling is over (办结, 结案, 已答复, 已回复,
/// 不予受理): a reply on a message board closes it as 办结 closes a letter.
const CLOSED_STATUS_WORDS: [&str; 5] = ["办结", "结案", "已答复", "已回复", "不予受理"];

/// A short id held once per petition (a petitioner's id; the grouping's rows: `cluster::Id`):
/// inline up to 24 bytes, as every id this project has seen is, instead of a heap allocation
/// each — ten million petitions' ids are tens of millions of small strings otherwise.
pub type Id = compact_str::CompactString;

/// One petition or comment, as every stage after ingest sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Unique within the store (after the source's id prefix). Inline up to 24 bytes ([`Id`]).
    pub id: Id,
    pub received_at: NaiveDateTime,
    pub channel: Channel,
    pub title: Text,
    pub content: Text,
    /// Up to three levels: city, county/district, town/street.
    pub region: [Option<Label>; 3],
    pub petitioner: Option<Id>,
    /// People in the visit (≥ 1; [`COLLECTIVE_HEADCOUNT`] or more is a collective visit).
    pub headcount: u32,
    pub category: Option<Label>,
    pub responsible_unit: Option<Label>,
    pub status: Option<Label>,
    pub accepted_at: Option<NaiveDateTime>,
    pub due_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub satisfaction: Option<Satisfaction>,
    pub replied_at: Option<NaiveDateTime>,
    pub likes: Option<u32>,
    pub dislikes: Option<u32>,
    /// Skipped a level of the petition hierarchy (越级访), when the source says so.
    pub bypass: Option<bool>,
    /// The reply, source row and unmapped columns ([`Cold::boxed`]: `None` when all three are
    /// empty). No analysis reads them; the store's writer takes them out of the records a run
    /// holds (`store::Upserted::take_cold`), so they are one pointer of each held record
    /// rather than 72 bytes.
    pub cold: Option<Box<Cold>>,
}

/// What a record carries for the store and the petition page only. [`Text`]s, so that
/// `minqing run` keeps them in its text file too ([`pack_to`]) from the import until the
/// store's writer takes them: at ten million generated petitions ~3.5 GB on the heap.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cold {
    pub reply: Option<Text>,
    /// `file:row` the record came from (row 1 = the header row, as a spreadsheet shows it).
    pub source: Text,
    /// Columns the importer did not map, kept verbatim as a JSON object (nothing is lost).
    /// No pipeline decision reads these (ground-truth columns live here).
    pub extra: Option<Text>,
}

impl Cold {
    /// The record's `cold` field: `None` when all three are empty, so that two records with
    /// the same values compare equal however they were made.
    pub fn boxed(self) -> Option<Box<Cold>> {
        (self != Cold::default()).then(|| Box::new(self))
    }
}

impl Record {
    /// The reply, when there is one.
    pub fn reply(&self) -> Option<&str> {
        self.cold.as_ref().and_then(|c| c.reply.as_deref())
    }

    /// `file:row` the record came from (empty once the store's writer took it).
    pub fn source(&self) -> &str {
        self.cold.as_ref().map_or("", |c| c.source.as_str())
    }

    /// The unmapped columns as a JSON object, when there were any.
    pub fn extra(&self) -> Option<&str> {
        self.cold.as_ref().and_then(|c| c.extra.as_deref())
    }

    /// The reply, source row and unmapped columns, to set one of them.
    pub fn cold_mut(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Default::default)
    }

    /// The title, or the opening of the content when there is none (hotline and visit records
    /// often have no title): what a table row shows to name the petition.
    pub fn headline(&self) -> String {
        if !self.title.trim().is_empty() {
            return self.title.to_string();
        }
        let mut s: String = self.content.chars().take(30).collect();
        if s.len() < self.content.len() {
            s.push('…');
        }
        s
    }

    /// The region as a `/`-joined path of the levels present.
    pub fn region_path(&self) -> String {
        self.region
            .iter()
            .flatten()
            .map(|l| &**l)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Title and content joined, the text every analysis stage reads.
    pub fn text(&self) -> String {
        if self.title.is_empty() {
            self.content.to_string()
        } else {
            format!("{}\n{}", self.title, self.content)
        }
    }

    /// A collective visit: [`COLLECTIVE_HEADCOUNT`] or more people.
    pub fn is_collective(&self) -> bool {
        self.headcount >= COLLECTIVE_HEADCOUNT
    }

    /// Whether its handling is over: it has a closing date, or its status says so.
    pub fn is_closed(&self) -> bool {
        self.closed_at.is_some() || self.has_closed_status()
    }

    /// Whether its handling was over at `end`: closed by then, or a status that says so (a
    /// status carries no date, so it counts whenever it was recorded).
    pub fn is_closed_at(&self, end: NaiveDateTime) -> bool {
        self.closed_at.is_some_and(|c| c <= end) || self.has_closed_status()
    }

    fn has_closed_status(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| CLOSED_STATUS_WORDS.iter().any(|w| s.contains(w)))
    }

    /// Reads one column of the `extra` JSON, e.g. a ground-truth column for `eval`.
    pub fn extra_value(&self, column: &str) -> Option<String> {
        let extra = self.extra()?;
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(extra).ok()?;
        match map.get(column)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            v => Some(v.to_string()),
        }
    }
}

/// A record's title or content: read as a `&str`, and shared — the texts of the records of one
/// import chunk or store slice are one buffer ([`pack`], [`Text::pack_all`]), each record's a
/// range of it.
///
/// Why not one `String` each: a converter makes a record's content beside its reply, source row
/// and unmapped columns, which the store's writer frees once it wrote them, so a million
/// contents kept alone in their allocator pages held ~560 MiB of pages for 359 MiB of text (the
/// generated 1M corpus, RssAnon before and after moving them into one buffer). A buffer of
/// thousands of texts is one allocation that lives and dies whole.
///
/// In `minqing run` the contents' buffers are ranges of a file rather than of the heap
/// ([`crate::textfile`], [`pack_to`]): they are half of what the records hold.
///
/// 16 bytes: the buffer is behind one thin `Arc` (an `Arc<dyn …>` was 16 bytes alone, a
/// record's two texts 48 bytes, ~150 MiB more at ten million petitions).
#[derive(Clone)]
pub struct Text {
    buf: Arc<TextBuf>,
    start: u32,
    /// [`WHOLE`] when the text is the whole buffer (and may be longer than `u32::MAX`).
    len: u32,
}

/// [`Text::len`]'s mark for "the whole buffer".
const WHOLE: u32 = u32::MAX;

/// Where a [`Text`]'s buffer lives.
enum TextBuf {
    /// The heap.
    Heap(Box<str>),
    /// A mapped range of a run's text file.
    File(Arc<crate::textfile::Piece>),
}

impl TextBuf {
    fn text(&self) -> &str {
        match self {
            TextBuf::Heap(s) => s,
            TextBuf::File(p) => p.as_str(),
        }
    }

    /// Where the buffer starts in a run's text file (`None` on the heap).
    fn file_offset(&self) -> Option<u64> {
        match self {
            TextBuf::Heap(_) => None,
            TextBuf::File(p) => Some(p.offset()),
        }
    }
}

impl Text {
    pub fn as_str(&self) -> &str {
        let buf = self.buf.text();
        if self.len == WHOLE {
            buf
        } else {
            let start = self.start as usize;
            &buf[start..start + self.len as usize]
        }
    }

    /// Where the text starts in a run's text file, when it is read from one.
    pub fn file_pos(&self) -> Option<u64> {
        let start = if self.len == WHOLE { 0 } else { self.start };
        self.buf.file_offset().map(|o| o + u64::from(start))
    }

    /// One text per item of `texts`, all in one buffer (several when they pass 4 GiB).
    pub fn pack_all<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<Text> {
        Text::pack_within(texts, WHOLE as usize)
    }

    /// [`Text::pack_all`] into buffers of fewer than `limit` bytes (a longer text alone).
    fn pack_within<'a>(texts: impl Iterator<Item = &'a str>, limit: usize) -> Vec<Text> {
        Text::pack_in(texts, limit, None).expect("the heap is not written to a file")
    }

    /// [`Text::pack_all`], each buffer written to `file` and read from its mapping.
    pub fn pack_to<'a>(
        texts: impl Iterator<Item = &'a str>,
        file: &crate::textfile::TextFile,
    ) -> crate::Result<Vec<Text>> {
        Text::pack_in(texts, WHOLE as usize, Some(file))
    }

    fn pack_in<'a>(
        texts: impl Iterator<Item = &'a str>,
        limit: usize,
        file: Option<&crate::textfile::TextFile>,
    ) -> crate::Result<Vec<Text>> {
        let texts: Vec<&str> = texts.collect();
        let lens: Vec<usize> = texts.iter().map(|t| t.len()).collect();
        let mut out = Vec::with_capacity(texts.len());
        // A buffer's ranges are u32s: fill it while they fit.
        for run in crate::packed::runs(&lens, limit) {
            let these = &texts[run];
            let joined = these.concat();
            if joined.is_empty() {
                // one shared empty buffer, as a run of empty texts always had (a chunk of
                // petitions without titles is 16,384 of them)
                let empty = Text::default();
                out.extend(these.iter().map(|_| empty.clone()));
                continue;
            }
            let buf = Arc::new(match file {
                Some(f) => TextBuf::File(f.put(&joined)?),
                None => TextBuf::Heap(joined.into_boxed_str()),
            });
            if these.len() == 1 {
                out.push(Text {
                    buf,
                    start: 0,
                    len: WHOLE,
                });
                continue;
            }
            let mut start = 0u32;
            for t in these {
                let len = t.len() as u32;
                out.push(Text {
                    buf: buf.clone(),
                    start,
                    len,
                });
                start += len;
            }
        }
        Ok(out)
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::from("")
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text {
            buf: Arc::new(TextBuf::Heap(s.into())),
            start: 0,
            len: WHOLE,
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text {
            buf: Arc::new(TextBuf::Heap(s.into_boxed_str())),
            start: 0,
            len: WHOLE,
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A short value many records repeat (a region level, category, responsible unit, status): one
/// allocation shared by every record of a batch that has it ([`pack`]). Read as a `&str`.
///
/// Held records are most of a run's memory: at a million generated petitions these four kinds of
/// value were ~0.1 GB of small strings and 144 bytes of each 400-byte record, a few hundred
/// distinct values in all.
///
/// An `Arc` of a `Box<str>` rather than an `Arc<str>`: a thin pointer, 8 bytes where an
/// `Arc<str>` is 16 (its length beside the pointer), and `Option<Label>` is 8 too. A record
/// holds six of them: 48 bytes of each, ~460 MiB at ten million petitions, for a second
/// allocation per distinct value (a few hundred) and a second hop on each read.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Label(Arc<Box<str>>);

impl std::ops::Deref for Label {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Label {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Label {
    fn from(s: &str) -> Self {
        Label(Arc::new(s.into()))
    }
}

impl From<String> for Label {
    fn from(s: String) -> Self {
        Label(Arc::new(s.into_boxed_str()))
    }
}

impl std::fmt::Debug for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self.0, f)
    }
}

/// The [`Label`]s seen so far, each once: equal values made from it share one allocation.
/// Fx-hashed: the import looks up every label of every row (a sixth of the thread that files
/// the records hashed them with SipHash).
#[derive(Default)]
pub struct Labels(crate::fxhash::FastSet<Label>);

impl Labels {
    /// The label for `s`, shared with every earlier one of the same value.
    pub fn get(&mut self, s: &str) -> Label {
        if let Some(l) = self.0.get(s) {
            return l.clone();
        }
        let l = Label::from(s);
        self.0.insert(l.clone());
        l
    }

    /// Replaces `l` by the earlier label of its value, if there is one.
    fn share(&mut self, l: &mut Option<Label>) {
        if let Some(v) = l {
            match self.0.get(&**v) {
                Some(s) => *v = s.clone(),
                None => {
                    self.0.insert(v.clone());
                }
            }
        }
    }
}

/// Makes the records' equal [`Label`]s one shared allocation and their titles and contents one
/// buffer ([`Text`]), in chunks on the thread pool (a chunk's distinct values are a few hundred;
/// one set per chunk keeps the threads apart).
pub fn pack(records: &mut [Record]) {
    pack_to(records, None).expect("the heap is not written to a file")
}

/// [`pack`], the contents and the [`Cold`] fields written to `file` ([`crate::textfile`])
/// instead of the heap when given.
pub fn pack_to(
    records: &mut [Record],
    file: Option<&crate::textfile::TextFile>,
) -> crate::Result<()> {
    use rayon::prelude::*;
    records.par_chunks_mut(16_384).try_for_each(|chunk| {
        let mut seen = Labels::default();
        for r in chunk.iter_mut() {
            for l in &mut r.region {
                seen.share(l);
            }
            seen.share(&mut r.category);
            seen.share(&mut r.responsible_unit);
            seen.share(&mut r.status);
        }
        // The titles stay on the heap (a twentieth of the text): the grouping reads them in
        // any order (pair evidence, key terms), and a read of a mapped file maps a whole folio
        // of it, so titles read at random would map every page of the contents beside them.
        let titles = Text::pack_all(chunk.iter().map(|r| r.title.as_str()));
        let contents = chunk.iter().map(|r| r.content.as_str());
        let contents = match file {
            Some(f) => Text::pack_to(contents, f)?,
            None => Text::pack_all(contents),
        };
        for ((r, t), c) in chunk.iter_mut().zip(titles).zip(contents) {
            r.title = t;
            r.content = c;
        }
        match file {
            Some(f) => cold_to(chunk, f),
            None => Ok(()),
        }
    })
}

/// A chunk's replies, source rows and unmapped columns written to `file`, a field at a time
/// (the store's writer reads them a column at a time). Only the heap's are: a `Cold` read
/// back from the file stays where it is.
pub(crate) fn cold_to(chunk: &mut [Record], file: &crate::textfile::TextFile) -> crate::Result<()> {
    type Field = fn(&mut Cold) -> Option<&mut Text>;
    let fields: [Field; 3] = [
        |c| c.reply.as_mut(),
        |c| Some(&mut c.source),
        |c| c.extra.as_mut(),
    ];
    for field in fields {
        let mut these: Vec<&mut Text> = chunk
            .iter_mut()
            .filter_map(|r| r.cold.as_deref_mut().and_then(field))
            .filter(|t| t.file_pos().is_none() && !t.is_empty())
            .collect();
        if these.is_empty() {
            continue;
        }
        let packed = Text::pack_to(these.iter().map(|t| t.as_str()), file)?;
        for (t, p) in these.iter_mut().zip(packed) {
            **t = p;
        }
    }
    Ok(())
}

/// Has the records' contents read from `file` in the records' order: when some are on the heap
/// (rows read back from the store) or the file holds them out of order (an input not sorted
/// by id), they are written to it again, in order. Returns whether they were.
///
/// Why: `minqing run` reads contents in passes in the store's order, and a read of a mapped
/// file maps a whole folio of it ([`crate::textfile`]); contents in the import's order of a
/// shuffled export made every pass map the whole file for a few bytes of each folio. Contents
/// of rows read back from the store were on the heap, so a weekly run held all but its new
/// rows' contents. A piece nobody reads any more gives its disk back
/// ([`crate::textfile::Piece`]).
pub fn contents_in_order(
    records: &mut [Record],
    file: &crate::textfile::TextFile,
) -> crate::Result<bool> {
    if contents_read_forwards(records) {
        return Ok(false);
    }
    use rayon::prelude::*;
    records
        .par_chunks_mut(16_384)
        .try_for_each(|chunk| -> crate::Result<()> {
            let contents = Text::pack_to(chunk.iter().map(|r| r.content.as_str()), file)?;
            for (r, c) in chunk.iter_mut().zip(contents) {
                r.content = c;
            }
            Ok(())
        })?;
    Ok(true)
}

/// Whether the records' non-empty contents are all in a text file and read it forwards apart
/// from a few jumps: an import puts its chunks from several threads, so two neighbouring
/// chunks may be in the file the other way round, a jump per 16,384 rows; a shuffled input
/// jumps at nearly every row. One jump per 256 contents (about 100 KB of text, many folios)
/// is allowed.
fn contents_read_forwards(records: &[Record]) -> bool {
    let mut last = 0u64;
    let (mut texts, mut jumps) = (0usize, 0usize);
    for r in records.iter().filter(|r| !r.content.is_empty()) {
        let Some(at) = r.content.file_pos() else {
            return false;
        };
        texts += 1;
        jumps += usize::from(at < last);
        last = at;
    }
    jumps * 256 <= texts
}

/// A canonical field an input column can map to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Id,
    ReceivedAt,
    Channel,
    Title,
    Content,
    Region,
    Region1,
    Region2,
    Region3,
    Petitioner,
    Headcount,
    Category,
    ResponsibleUnit,
    Status,
    AcceptedAt,
    DueAt,
    ClosedAt,
    Satisfaction,
    Reply,
    RepliedAt,
    Likes,
    Dislikes,
    Bypass,
}

/// What a field is, for `minqing schema` and the README.
pub struct FieldSpec {
    pub field: Field,
    pub name: &'static str,
    pub required: bool,
    pub kind: &'static str,
    pub meaning: &'static str,
    /// Header names accepted for this field (compared after trimming, case-insensitively).
    pub aliases: &'static [&'static str],
}

/// The canonical fields with their accepted aliases, in schema order.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec { field: Field::Id, name: "id", required: true, kind: "text",
        meaning: "petition id, unique within the store (a source's id_prefix is prepended)",
        aliases: &["id", "编号", "留言编号", "信访件编号", "信访编号", "件号", "工单编号", "工单号", "受理编号", "案件编号", "序号"] },
    FieldSpec { field: Field::ReceivedAt, name: "received_at", required: true, kind: "date or datetime",
        meaning: "when the petition was received",
        aliases: &["received_at", "留言时间", "登记日期", "登记时间", "来信日期", "来访日期", "来电时间", "受理时间", "反映时间", "提交时间", "信访日期", "日期", "时间", "评论时间"] },
    FieldSpec { field: Field::Channel, name: "channel", required: false, kind: "letter|visit|online|hotline|message_board|comment",
        meaning: "来信/来访/网上信访/来电(12345)/网民留言/评论; a source may set a default",
        aliases: &["channel", "渠道", "信访形式", "来源渠道", "信访方式", "来源", "反映渠道"] },
    FieldSpec { field: Field::Title, name: "title", required: false, kind: "text",
        meaning: "subject line",
        aliases: &["title", "标题", "留言主题", "主题", "信访事项", "事项", "诉求标题"] },
    FieldSpec { field: Field::Content, name: "content", required: true, kind: "text",
        meaning: "the petition text, non-empty after cleaning",
        aliases: &["content", "内容", "留言详情", "诉求内容", "主要内容", "信访内容", "反映内容", "详情", "来电内容", "评论内容", "问题描述", "正文"] },
    FieldSpec { field: Field::Region, name: "region", required: false, kind: "path",
        meaning: "up to three levels as one path, e.g. `A市/A5区/洞井街道` (also accepts `-`, `>` or spaces)",
        aliases: &["region", "地区", "区域", "所属地区", "问题属地", "属地", "发生地", "行政区划"] },
    FieldSpec { field: Field::Region1, name: "region1", required: false, kind: "text",
        meaning: "region level 1 (city) as its own column",
        aliases: &["region1", "市", "地市", "所属市"] },
    FieldSpec { field: Field::Region2, name: "region2", required: false, kind: "text",
        meaning: "region level 2 (county/district) as its own column",
        aliases: &["region2", "区县", "县区", "县(市、区)", "所属区县"] },
    FieldSpec { field: Field::Region3, name: "region3", required: false, kind: "text",
        meaning: "region level 3 (town/street) as its own column",
        aliases: &["region3", "乡镇街道", "街道", "乡镇", "镇街", "所属街道"] },
    FieldSpec { field: Field::Petitioner, name: "petitioner", required: false, kind: "text",
        meaning: "pseudonymous petitioner id",
        aliases: &["petitioner", "留言用户", "信访人", "用户", "来信人", "来访人", "来电人", "反映人", "网民", "用户id", "用户编号"] },
    FieldSpec { field: Field::Headcount, name: "headcount", required: false, kind: "integer ≥ 1",
        meaning: "people in the visit; 5+ is a collective visit (default 1)",
        aliases: &["headcount", "人数", "来访人数", "人次", "涉及人数"] },
    FieldSpec { field: Field::Category, name: "category", required: false, kind: "text",
        meaning: "problem category",
        aliases: &["category", "一级标签", "一级分类", "问题分类", "分类", "类别", "问题类别", "内容分类", "诉求类别"] },
    FieldSpec { field: Field::ResponsibleUnit, name: "responsible_unit", required: false, kind: "text",
        meaning: "unit handling it",
        aliases: &["responsible_unit", "责任单位", "承办单位", "办理单位", "处理单位", "答复单位", "交办单位"] },
    FieldSpec { field: Field::Status, name: "status", required: false, kind: "text",
        meaning: "handling status (受理中/办理中/已办结/不予受理…)",
        aliases: &["status", "状态", "办理状态", "处理状态", "办结状态"] },
    FieldSpec { field: Field::AcceptedAt, name: "accepted_at", required: false, kind: "date or datetime",
        meaning: "when it was accepted (受理)",
        aliases: &["accepted_at", "受理日期", "受理时间点", "接收时间"] },
    FieldSpec { field: Field::DueAt, name: "due_at", required: false, kind: "date or datetime",
        meaning: "deadline to close",
        aliases: &["due_at", "办理期限", "截止日期", "应办结日期", "期限"] },
    FieldSpec { field: Field::ClosedAt, name: "closed_at", required: false, kind: "date or datetime",
        meaning: "when it was closed (办结)",
        aliases: &["closed_at", "办结日期", "办结时间", "结案日期", "结案时间"] },
    FieldSpec { field: Field::Satisfaction, name: "satisfaction", required: false, kind: "满意|基本满意|不满意|未评价",
        meaning: "petitioner's rating",
        aliases: &["satisfaction", "满意度", "评价", "满意度评价", "评价结果"] },
    FieldSpec { field: Field::Reply, name: "reply", required: false, kind: "text",
        meaning: "the official reply",
        aliases: &["reply", "答复意见", "答复内容", "回复", "回复内容", "办理结果", "处理意见"] },
    FieldSpec { field: Field::RepliedAt, name: "replied_at", required: false, kind: "date or datetime",
        meaning: "when it was replied to",
        aliases: &["replied_at", "答复时间", "回复时间", "答复日期"] },
    FieldSpec { field: Field::Likes, name: "likes", required: false, kind: "integer ≥ 0",
        meaning: "likes on a message board or comment",
        aliases: &["likes", "点赞数", "点赞", "赞同数", "支持数"] },
    FieldSpec { field: Field::Dislikes, name: "dislikes", required: false, kind: "integer ≥ 0",
        meaning: "dislikes on a message board or comment",
        aliases: &["dislikes", "反对数", "反对", "踩"] },
    FieldSpec { field: Field::Bypass, name: "bypass", required: false, kind: "是/否",
        meaning: "skipped a level (越级访)",
        aliases: &["bypass", "是否越级", "越级", "越级访"] },
];

/// The spec of one field.
pub fn spec(field: Field) -> &'static FieldSpec {
    FIELDS
        .iter()
        .find(|s| s.field == field)
        .expect("every field has a spec")
}

/// Finds the field a header names, by alias.
pub fn field_for_header(header: &str) -> Option<Field> {
    let h = header.trim().trim_start_matches('\u{feff}').to_lowercase();
    FIELDS
        .iter()
        .find(|s| s.aliases.iter().any(|a| a.to_lowercase() == h))
        .map(|s| s.field)
}

/// Finds the field a canonical name (as used in pipeline `columns` overrides) names.
pub fn field_by_name(name: &str) -> Option<Field> {
    FIELDS.iter().find(|s| s.name == name).map(|s| s.field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_fields_are_one_pointer_and_empty_ones_none() {
        assert_eq!(std::mem::size_of::<Option<Box<Cold>>>(), 8);
        assert_eq!(Cold::default().boxed(), None);
        let mut r = crate::store::tests::rec("x");
        assert_eq!(r.source(), "a.csv:2");
        r.cold = None;
        assert_eq!((r.reply(), r.source(), r.extra()), (None, "", None));
        r.cold_mut().reply = Some("已答复".into());
        assert_eq!(r.reply(), Some("已答复"));
        // made again from the same values, it is the same record
        let again = Cold {
            reply: Some("已答复".into()),
            ..Cold::default()
        }
        .boxed();
        assert_eq!(r.cold, again);
    }

    #[test]
    fn shared_labels_keep_their_values_and_share_one_allocation() {
        let rec = |unit: &str, status: Option<&str>| {
            let mut r = crate::store::tests::rec("x");
            r.responsible_unit = Some(unit.into());
            r.status = status.map(Into::into);
            r.region = [
                Some("江城市".into()),
                Some(format!("{unit}区").into()),
                None,
            ];
            r
        };
        let mut rs = vec![
            rec("住建局", Some("已办结")),
            rec("住建局", None),
            rec("教育局", Some("已办结")),
        ];
        let before = rs.clone();
        pack(&mut rs);
        assert_eq!(rs, before, "values unchanged");
        let ptr = |l: &Option<Label>| l.as_ref().map(|l| l.0.as_ptr());
        assert_eq!(ptr(&rs[0].responsible_unit), ptr(&rs[1].responsible_unit));
        assert_ne!(ptr(&rs[0].responsible_unit), ptr(&rs[2].responsible_unit));
        assert_eq!(ptr(&rs[0].status), ptr(&rs[2].status));
        assert_eq!(ptr(&rs[0].region[0]), ptr(&rs[2].region[0]));
        assert_eq!(rs[0].region_path(), "江城市/住建局区");
        // the titles of a chunk: one buffer, its contents another
        assert!(Arc::ptr_eq(&rs[0].title.buf, &rs[2].title.buf));
        assert!(Arc::ptr_eq(&rs[0].content.buf, &rs[2].content.buf));
    }

    #[test]
    fn texts_packed_to_a_file_read_as_on_the_heap() {
        let dir = tempfile::tempdir().unwrap();
        let file = crate::textfile::TextFile::create_in(dir.path()).unwrap();
        let mut rs: Vec<Record> = (0..40_000)
            .map(|i| {
                let mut r = crate::store::tests::rec(&format!("{i:05}"));
                r.title = format!("第{i}号").into();
                r.content = if i % 3 == 0 {
                    "".into()
                } else {
                    format!("内容{i}").into()
                };
                if i % 2 == 0 {
                    r.cold_mut().reply = Some(format!("答复{i}").into());
                }
                r
            })
            .collect();
        let before = rs.clone();
        pack_to(&mut rs, Some(&file)).unwrap();
        assert_eq!(rs, before, "values unchanged");
        file.trim();
        assert_eq!(
            rs, before,
            "read back from the file after its pages were let go"
        );
        // the contents and the cold fields are in the file, the titles on the heap
        let cold = |r: &Record| {
            r.reply().unwrap_or("").len() + r.source().len() + r.extra().unwrap_or("").len()
        };
        let written: usize = before.iter().map(|r| r.content.len() + cold(r)).sum();
        assert_eq!(file.len(), written as u64, "every text written once");
        assert!(rs.iter().all(|r| r.title.file_pos().is_none()));
        let sources = rs.iter().map(|r| &r.cold.as_ref().unwrap().source);
        assert!(sources.clone().all(|s| s.file_pos().is_some()));
    }

    #[test]
    fn contents_are_rewritten_in_the_records_order_only_when_out_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = crate::textfile::TextFile::create_in(dir.path()).unwrap();
        let make = |i: usize| {
            let mut r = crate::store::tests::rec(&format!("{i:05}"));
            r.content = if i % 5 == 0 {
                "".into()
            } else {
                format!("第{i}件内容").into()
            };
            r
        };
        // every content in the file, forwards within each chunk of 16,384 (the threads put
        // the chunks in any order)
        let in_order = |rs: &[Record]| {
            let texts = rs.iter().filter(|r| !r.content.is_empty());
            let at: Vec<Option<u64>> = texts.map(|r| r.content.file_pos()).collect();
            let back = at.windows(2).filter(|w| w[1] <= w[0]).count();
            at.iter().all(Option::is_some) && back <= rs.len() / 16_384
        };
        // rows read back from a store: contents on the heap
        let mut rs: Vec<Record> = (0..20_000).map(make).collect();
        let before = rs.clone();
        assert!(contents_in_order(&mut rs, &file).unwrap());
        assert_eq!(rs, before);
        assert!(in_order(&rs));
        // already in the file in order: left as they are
        let written = file.len();
        assert!(!contents_in_order(&mut rs, &file).unwrap());
        assert_eq!(file.len(), written);
        // a shuffled import, then sorted by id as the store sorts it: written again, in order
        let mut shuffled: Vec<Record> = (0..20_000).map(|i| make((i * 7_919) % 20_000)).collect();
        pack_to(&mut shuffled, Some(&file)).unwrap();
        shuffled.sort_by(|a, b| a.id.cmp(&b.id));
        assert!(!in_order(&shuffled));
        assert!(contents_in_order(&mut shuffled, &file).unwrap());
        assert_eq!(shuffled, before);
        assert!(in_order(&shuffled));
        file.trim();
        assert_eq!(shuffled, before, "read back after a trim");
    }

    #[test]
    fn packed_texts_keep_their_values_in_buffers_under_the_limit() {
        let texts = ["信访", "", "小区停车难", "a", "一二三四五六七八九十", "b"];
        let packed = Text::pack_within(texts.iter().copied(), 10);
        let back: Vec<&str> = packed.iter().map(|t| t.as_str()).collect();
        assert_eq!(back, texts);
        // 6 + 0 bytes share a buffer; 15 more would pass 10, so 小区停车难 starts the next;
        // the 30-byte text is alone, whole
        assert!(Arc::ptr_eq(&packed[0].buf, &packed[1].buf));
        assert!(!Arc::ptr_eq(&packed[1].buf, &packed[2].buf));
        assert_eq!(packed[4].len, WHOLE);
        assert_eq!(packed[4].buf.text().len(), 30);
        assert_eq!(packed[5], Text::from("b"));
        assert!(Text::pack_all(std::iter::empty()).is_empty());
    }

    #[test]
    fn aliases_are_unambiguous() {
        let mut seen = std::collections::HashMap::new();
        for s in FIELDS {
            for a in s.aliases {
                if let Some(prev) = seen.insert(a.to_lowercase(), s.name) {
                    panic!("alias `{a}` used by `{prev}` and `{}`", s.name);
                }
            }
        }
    }

    #[test]
    fn real_export_headers_map() {
        assert_eq!(field_for_header("留言编号"), Some(Field::Id));
        assert_eq!(field_for_header(" 留言时间 "), Some(Field::ReceivedAt));
        assert_eq!(field_for_header("\u{feff}编号"), Some(Field::Id));
        assert_eq!(field_for_header("一级标签"), Some(Field::Category));
        assert_eq!(field_for_header("反对数"), Some(Field::Dislikes));
        assert_eq!(field_for_header("模型结果"), None);
    }

    #[test]
    fn closed_is_one_rule() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let mut r = Record {
            received_at: at("2019-08-12 09:00:00"),
            status: None,
            closed_at: None,
            ..crate::store::tests::rec("1")
        };
        assert!(!r.is_closed());
        for status in ["已办结", "已结案", "已答复", "已回复", "不予受理"] {
            r.status = Some(status.into());
            assert!(r.is_closed(), "{status}");
            assert!(r.is_closed_at(at("2019-08-12 10:00:00")), "{status}");
        }
        r.status = Some("办理中".into());
        assert!(!r.is_closed());
        r.closed_at = Some(at("2019-08-20 10:00:00"));
        assert!(r.is_closed());
        assert!(!r.is_closed_at(at("2019-08-18 23:59:59")));
        assert!(r.is_closed_at(at("2019-08-20 10:00:00")));
    }

    #[test]
    fn the_schema_lists_every_channel_code() {
        let spec = spec(Field::Channel);
        assert_eq!(spec.kind, Channel::ALL.map(Channel::code).join("|"));
        assert!(Channel::parse_named("letters")
            .unwrap_err()
            .ends_with("(letter, visit, online, hotline, message_board, comment)"));
    }

    #[test]
    fn channels_parse() {
        assert_eq!(Channel::parse("12345"), Some(Channel::Hotline));
        assert_eq!(Channel::parse("来访"), Some(Channel::Visit));
        assert_eq!(Channel::parse("Message_Board"), Some(Channel::MessageBoard));
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.code()), Some(c));
            assert_eq!(Channel::parse(c.zh()), Some(c));
        }
    }
}
