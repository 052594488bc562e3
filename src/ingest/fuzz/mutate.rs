//! Mutations for the structure-aware fuzzing: byte changes at positions given as fractions of
//! the input's length, hostile text inserted, and hostile attribute and cell values in the XML.

use proptest::prelude::*;

/// One change to a byte string; positions are fractions of its length, so any strategy value
/// applies to any input.
#[derive(Debug, Clone)]
pub(super) enum Mutation {
    /// XOR one byte.
    Flip(prop::sample::Index, u8),
    /// Cut the rest off.
    Truncate(prop::sample::Index),
    /// Copy a stretch (up to 64 bytes) to another place (duplicated rows, cells, tags).
    Splice(prop::sample::Index, u8, prop::sample::Index),
    /// Remove a stretch (up to 64 bytes).
    Delete(prop::sample::Index, u8),
    /// Insert hostile text.
    Insert(prop::sample::Index, usize),
    /// Set the value of the nth `attr="…"` to a hostile value.
    SetAttr(usize, prop::sample::Index, usize),
    /// Set the text of the nth `<v>` or `<t>` element to a hostile value.
    SetText(usize, prop::sample::Index, usize),
}

const ATTRS: &[&str] = &[
    "r",
    "t",
    "s",
    "ref",
    "count",
    "uniqueCount",
    "numFmtId",
    "formatCode",
    "sheetId",
    "r:id",
    "Target",
    "name",
    "spans",
    "xml:space",
    "applyNumberFormat",
];
const ATTR_VALUES: &[&str] = &[
    "A1",
    "B2",
    "XFD1048576",
    "A1048576",
    "A1048577",
    "XFE1",
    "A0",
    "",
    "ZZZZZZZZ1",
    "A99999999999",
    "1A",
    "4294967295",
    "-1",
    "0",
    "s",
    "n",
    "e",
    "b",
    "d",
    "str",
    "inlineStr",
    "1E+308",
    "NaN",
    "A1:XFD1048576",
    "C3:A1",
    "14",
    "22",
    "yyyy-mm-dd",
    "[h]:mm",
    "0.00%",
    "../../../etc/passwd",
    "/xl/worksheets/sheet1.xml",
    "worksheets/sheet9.xml",
    "rId99",
    "信访件",
    "&amp;",
    "1:16384",
];
const TEXT_TAGS: &[&str] = &["<v>", "<t>", "<t xml:space=\"preserve\">", "<f>"];
const TEXT_VALUES: &[&str] = &[
    "99999999999999999999",
    "-1",
    "1e309",
    "-1e309",
    "NaN",
    "inf",
    "4294967295",
    "2958466",
    "2958465.9999999",
    "60",
    "-693594",
    "0.5",
    "",
    "&amp;",
    "&#0;",
    "&#xD800;",
    "&bogus;",
    "&lt;c r=\"A1\"&gt;",
    "_x0000_",
    "_xD800_",
    "=1/0",
    "#DIV/0!",
    "2019-13-45",
    "２０１９年２月３０日",
    "\u{202e}反转",
    "停水停水停水停水停水停水停水停水停水停水停水停水停水停水停水停水",
];
const INSERTS: &[&str] = &[
    "<row r=\"1048576\"><c r=\"XFD1048576\"><v>1</v></c></row>",
    "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>0</v></c></row>",
    "<c r=\"A1\" t=\"s\"><v>999999</v></c>",
    "<c t=\"inlineStr\"><is><t>内联</t></is></c>",
    "<c r=\"B3\" t=\"d\"><v>2019-02-28T11:25:05</v></c>",
    "<c r=\"C3\" t=\"e\"><v>#N/A</v></c>",
    "<si><t>额外</t></si>",
    "<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>",
    "&b;",
    "<![CDATA[<c>]]>",
    "<?xml version=\"1.0\"?>",
    "</sheetData>",
    "<sheetData>",
    "</row>",
    "<mergeCell ref=\"A1:XFD1048576\"/>",
    "\u{0}",
    "\u{FEFF}",
    "\"",
    "<",
];

pub(super) fn mutation() -> impl Strategy<Value = Mutation> {
    use prop::sample::Index;
    prop_oneof![
        (any::<Index>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1u8..64, any::<Index>()).prop_map(|(a, n, b)| Mutation::Splice(a, n, b)),
        (any::<Index>(), 1u8..64).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<Index>(), 0..INSERTS.len()).prop_map(|(a, k)| Mutation::Insert(a, k)),
        (0..ATTRS.len(), any::<Index>(), 0..ATTR_VALUES.len())
            .prop_map(|(a, i, v)| Mutation::SetAttr(a, i, v)),
        (0..TEXT_TAGS.len(), any::<Index>(), 0..TEXT_VALUES.len())
            .prop_map(|(t, i, v)| Mutation::SetText(t, i, v)),
    ]
}

/// Positions in `hay` where `needle` starts.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return Vec::new();
    }
    (0..=hay.len() - needle.len())
        .filter(|&i| &hay[i..i + needle.len()] == needle)
        .collect()
}

pub(super) fn apply(b: &mut Vec<u8>, m: &Mutation) {
    let at = |i: &prop::sample::Index, b: &Vec<u8>| if b.is_empty() { 0 } else { i.index(b.len()) };
    match m {
        Mutation::Flip(i, x) => {
            if !b.is_empty() {
                let k = at(i, b);
                b[k] ^= x;
            }
        }
        Mutation::Truncate(i) => {
            let k = at(i, b);
            b.truncate(k);
        }
        Mutation::Splice(from, n, to) => {
            let f = at(from, b);
            let chunk: Vec<u8> = b[f..(f + *n as usize).min(b.len())].to_vec();
            let t = if b.is_empty() {
                0
            } else {
                to.index(b.len() + 1)
            };
            b.splice(t..t, chunk);
        }
        Mutation::Delete(from, n) => {
            let f = at(from, b);
            let end = (f + *n as usize).min(b.len());
            b.drain(f..end);
        }
        Mutation::Insert(i, k) => {
            let p = if b.is_empty() {
                0
            } else {
                i.index(b.len() + 1)
            };
            b.splice(p..p, INSERTS[*k].bytes());
        }
        Mutation::SetAttr(a, i, v) => {
            let needle = format!(" {}=\"", ATTRS[*a]);
            let hits = find_all(b, needle.as_bytes());
            if let Some(&h) = hits.get(i.index(hits.len().max(1))) {
                let start = h + needle.len();
                let end = b[start..]
                    .iter()
                    .position(|&c| c == b'"')
                    .map_or(b.len(), |e| start + e);
                b.splice(start..end, ATTR_VALUES[*v].bytes());
            }
        }
        Mutation::SetText(t, i, v) => {
            let open = TEXT_TAGS[*t].as_bytes();
            let hits = find_all(b, open);
            if let Some(&h) = hits.get(i.index(hits.len().max(1))) {
                let start = h + open.len();
                let end = b[start..]
                    .iter()
                    .position(|&c| c == b'<')
                    .map_or(b.len(), |e| start + e);
                b.splice(start..end, TEXT_VALUES[*v].bytes());
            }
        }
    }
}
