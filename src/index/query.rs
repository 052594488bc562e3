//! The search query language and its translation to tantivy queries.
//!
//! ```text
//! query   := clause*                      clauses are ANDed
//! clause  := '-'? term ('OR' term)*       OR binds tighter than AND; a negated term stands alone
//! term    := word | '"' phrase '"' | '“' phrase '”' | field ':' value
//! field   := region | category | channel | status | unit      (`：` accepted for `:`)
//! value   := word | '"' phrase '"'
//! ```
//!
//! A word or phrase matches a document whose title or content contains it as a substring after
//! [folding](crate::tokenize::fold) (case, full-width forms, blanks). Inside a phrase, runs of
//! blanks count as one space. `region:` takes a level name (`A5区`) or a path (`A市/A5区`).

use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query, RegexQuery,
    TermQuery,
};
use tantivy::schema::{Facet, Field, IndexRecordOption};
use tantivy::Term;

use super::Fields;
use crate::error::{Error, Result};
use crate::schema::Channel;
use crate::tokenize::{fold, Tokenizer};

/// A field a `field:value` term can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryField {
    Region,
    Category,
    Channel,
    Status,
    Unit,
}

impl QueryField {
    pub const NAMES: &'static str = "region, category, channel, status, unit";

    fn parse(name: &str) -> Option<QueryField> {
        Some(match name.to_ascii_lowercase().as_str() {
            "region" => QueryField::Region,
            "category" => QueryField::Category,
            "channel" => QueryField::Channel,
            "status" => QueryField::Status,
            "unit" | "responsible_unit" => QueryField::Unit,
            _ => return None,
        })
    }
}

/// One term of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    /// Folded text; `phrase` when it was quoted.
    Text { text: String, phrase: bool },
    /// An exact field value.
    Field { field: QueryField, value: String },
}

/// Terms joined by OR; `negated` clauses exclude.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub negated: bool,
    pub alternatives: Vec<Atom>,
}

enum Item {
    Or(usize),
    Term {
        atom: Atom,
        negated: bool,
        at: usize,
    },
}

fn is_blank(c: char) -> bool {
    c.is_whitespace()
}

fn closing(c: char) -> Option<char> {
    match c {
        '"' => Some('"'),
        '“' => Some('”'),
        '＂' => Some('＂'),
        _ => None,
    }
}

/// Parses a query. Errors name the character position (1-based) of the problem.
pub fn parse_query(query: &str) -> Result<Vec<Clause>> {
    let err = |message: String| Error::Query {
        query: query.to_string(),
        message,
    };
    let chars: Vec<char> = query.chars().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_blank(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let negated = chars[i] == '-' || chars[i] == '－';
        if negated {
            i += 1;
            if i >= chars.len() || is_blank(chars[i]) {
                return Err(err(format!(
                    "`-` at character {} is not followed by a term (write `-word` to exclude a word)",
                    start + 1
                )));
            }
        }
        // A quoted phrase.
        if let Some(close) = closing(chars[i]) {
            let open_at = i;
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == close)
                .map(|p| i + 1 + p)
                .ok_or_else(|| {
                    err(format!(
                        "unbalanced quote: the {} at character {} is never closed",
                        chars[open_at],
                        open_at + 1
                    ))
                })?;
            let inner: String = chars[i + 1..end].iter().collect();
            let text = phrase_text(&inner);
            if text.is_empty() {
                return Err(err(format!("empty phrase at character {}", open_at + 1)));
            }
            items.push(Item::Term {
                atom: Atom::Text { text, phrase: true },
                negated,
                at: start,
            });
            i = end + 1;
            if i < chars.len() && !is_blank(chars[i]) {
                return Err(err(format!(
                    "missing space after the closing quote at character {}",
                    end + 1
                )));
            }
            continue;
        }
        // A bare word, `OR`, or `field:value`.
        let word_start = i;
        while i < chars.len() && !is_blank(chars[i]) && closing(chars[i]).is_none() {
            if chars[i] == ':' || chars[i] == '：' {
                break;
            }
            i += 1;
        }
        let word: String = chars[word_start..i].iter().collect();
        let is_field_syntax = i < chars.len()
            && (chars[i] == ':' || chars[i] == '：')
            && !word.is_empty()
            && word.chars().all(|c| c.is_ascii_alphabetic() || c == '_');
        if is_field_syntax {
            let field = QueryField::parse(&word).ok_or_else(|| {
                err(format!(
                    "unknown field `{word}` at character {} (known fields: {}; quote the text to search for it literally)",
                    word_start + 1,
                    QueryField::NAMES
                ))
            })?;
            i += 1; // the colon
            let value = if i < chars.len() && closing(chars[i]).is_some() {
                let close = closing(chars[i]).unwrap_or('"');
                let open_at = i;
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == close)
                    .map(|p| i + 1 + p)
                    .ok_or_else(|| {
                        err(format!(
                            "unbalanced quote: the {} at character {} is never closed",
                            chars[open_at],
                            open_at + 1
                        ))
                    })?;
                let v: String = chars[i + 1..end].iter().collect();
                i = end + 1;
                v.trim().to_string()
            } else {
                let vs = i;
                while i < chars.len() && !is_blank(chars[i]) {
                    i += 1;
                }
                chars[vs..i].iter().collect()
            };
            if value.is_empty() {
                return Err(err(format!(
                    "`{word}:` at character {} has no value",
                    word_start + 1
                )));
            }
            items.push(Item::Term {
                atom: Atom::Field { field, value },
                negated,
                at: start,
            });
            continue;
        }
        // Not a field: the colon (if any) is part of the word.
        while i < chars.len() && !is_blank(chars[i]) && closing(chars[i]).is_none() {
            i += 1;
        }
        let word: String = chars[word_start..i].iter().collect();
        if word == "OR" && !negated {
            items.push(Item::Or(start));
            continue;
        }
        if word.is_empty() {
            return Err(err(format!(
                "`-` at character {} is not followed by a term",
                start + 1
            )));
        }
        if i < chars.len() && closing(chars[i]).is_some() {
            return Err(err(format!(
                "a quote at character {} starts inside a word; put a space before it",
                i + 1
            )));
        }
        items.push(Item::Term {
            atom: Atom::Text {
                text: fold(&word),
                phrase: false,
            },
            negated,
            at: start,
        });
    }

    let mut clauses: Vec<Clause> = Vec::new();
    let mut pending_or: Option<usize> = None;
    for item in items {
        match item {
            Item::Or(at) => {
                if pending_or.is_some() {
                    return Err(err(format!(
                        "`OR` at character {} follows another `OR`",
                        at + 1
                    )));
                }
                match clauses.last() {
                    None => {
                        return Err(err(format!(
                            "dangling `OR` at character {}: it needs a term on both sides",
                            at + 1
                        )))
                    }
                    Some(c) if c.negated => {
                        return Err(err(format!(
                            "`OR` at character {} follows an excluded (-) term; exclusions cannot be ORed",
                            at + 1
                        )))
                    }
                    _ => pending_or = Some(at),
                }
            }
            Item::Term { atom, negated, at } => {
                if pending_or.take().is_some() {
                    if negated {
                        return Err(err(format!(
                            "excluded term at character {} after `OR`; exclusions cannot be ORed",
                            at + 1
                        )));
                    }
                    if let Some(last) = clauses.last_mut() {
                        last.alternatives.push(atom);
                    }
                } else {
                    clauses.push(Clause {
                        negated,
                        alternatives: vec![atom],
                    });
                }
            }
        }
    }
    if let Some(at) = pending_or {
        return Err(err(format!(
            "dangling `OR` at character {}: it needs a term on both sides",
            at + 1
        )));
    }
    Ok(clauses)
}

/// Folded phrase text: blank runs collapse to one space, ends trimmed.
fn phrase_text(s: &str) -> String {
    let folded = fold(s);
    folded
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Matches documents whose `field` contains `text` (folded) as a substring. See the module docs
/// of [`crate::index`] for why this is exact.
pub(crate) fn substring_query(field: Field, text: &str) -> Result<Box<dyn Query>> {
    let chars: Vec<char> = text.chars().collect();
    let bigram = |i: usize| -> Term {
        let s: String = chars[i..i + 2].iter().collect();
        Term::from_field_text(field, &s)
    };
    Ok(match chars.len() {
        0 => Box::new(EmptyQuery),
        1 => {
            let pattern = format!("{}.?", regex::escape(&chars[0].to_string()));
            Box::new(RegexQuery::from_pattern(&pattern, field)?)
        }
        2 => Box::new(TermQuery::new(bigram(0), IndexRecordOption::WithFreqs)),
        n => {
            let mut offsets: Vec<usize> = (0..n - 1).step_by(2).collect();
            if offsets.last() != Some(&(n - 2)) {
                offsets.push(n - 2);
            }
            Box::new(PhraseQuery::new_with_offset(
                offsets.into_iter().map(|o| (o, bigram(o))).collect(),
            ))
        }
    })
}

/// Title or content contains `text`; title matches weigh double.
pub(crate) fn text_match(f: &Fields, text: &str) -> Result<Box<dyn Query>> {
    Ok(Box::new(BooleanQuery::new(vec![
        (
            Occur::Should,
            Box::new(BoostQuery::new(substring_query(f.title, text)?, 2.0)) as Box<dyn Query>,
        ),
        (Occur::Should, substring_query(f.content, text)?),
    ])))
}

pub(crate) fn exact(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(
        Box::new(TermQuery::new(
            Term::from_field_text(field, value),
            IndexRecordOption::Basic,
        )),
        0.0,
    ))
}

/// A region given as a level name (`A5区`) or a path prefix (`A市/A5区`).
pub(crate) fn region_query(f: &Fields, value: &str) -> Box<dyn Query> {
    let value = value.trim().trim_matches('/');
    if value.contains('/') {
        let facet = Facet::from_path(value.split('/').map(str::trim).filter(|s| !s.is_empty()));
        Box::new(ConstScoreQuery::new(
            Box::new(TermQuery::new(
                Term::from_facet(f.region, &facet),
                IndexRecordOption::Basic,
            )),
            0.0,
        ))
    } else {
        exact(f.region_any, value)
    }
}

/// A channel by code or Chinese name.
pub(crate) fn channel_query(f: &Fields, value: &str, query: &str) -> Result<Box<dyn Query>> {
    let ch = Channel::parse(value).ok_or_else(|| Error::Query {
        query: query.to_string(),
        message: format!(
            "unknown channel `{value}` (one of: {})",
            Channel::ALL
                .iter()
                .map(|c| format!("{}/{}", c.code(), c.zh()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })?;
    Ok(exact(f.channel, ch.code()))
}

pub(crate) fn field_query(
    f: &Fields,
    field: QueryField,
    value: &str,
    query: &str,
) -> Result<Box<dyn Query>> {
    Ok(match field {
        QueryField::Region => region_query(f, value),
        QueryField::Channel => channel_query(f, value, query)?,
        QueryField::Category => exact(f.category, value),
        QueryField::Status => exact(f.status, value),
        QueryField::Unit => exact(f.unit, value),
    })
}

/// The match query of one atom, without ranking extras.
fn atom_match(f: &Fields, atom: &Atom, query: &str) -> Result<Box<dyn Query>> {
    match atom {
        Atom::Text { text, .. } => text_match(f, text),
        Atom::Field { field, value } => field_query(f, *field, value, query),
    }
}

/// An atom as a positive clause: the match, plus a BM25 bonus over the jieba `words` field when
/// the text is (or contains) whole jieba words. The bonus never changes which documents match.
fn atom_ranked(f: &Fields, atom: &Atom, query: &str, tok: &Tokenizer) -> Result<Box<dyn Query>> {
    let m = atom_match(f, atom, query)?;
    let Atom::Text { text, .. } = atom else {
        return Ok(m);
    };
    let words = tok.words(text);
    if words.is_empty() {
        return Ok(m);
    }
    let mut clauses = vec![(Occur::Must, m)];
    for w in words {
        clauses.push((
            Occur::Should,
            Box::new(BoostQuery::new(
                Box::new(TermQuery::new(
                    Term::from_field_text(f.words, &w),
                    IndexRecordOption::WithFreqs,
                )),
                0.5,
            )),
        ));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

/// The tantivy query for parsed clauses (no clauses: `None`, i.e. everything).
pub(crate) fn build_query(
    f: &Fields,
    clauses: &[Clause],
    query: &str,
    tok: &Tokenizer,
) -> Result<Vec<(Occur, Box<dyn Query>)>> {
    let mut out = Vec::new();
    for c in clauses {
        if c.negated {
            for a in &c.alternatives {
                out.push((Occur::MustNot, atom_match(f, a, query)?));
            }
            continue;
        }
        let q: Box<dyn Query> = if c.alternatives.len() == 1 {
            atom_ranked(f, &c.alternatives[0], query, tok)?
        } else {
            let mut alts = Vec::new();
            for a in &c.alternatives {
                alts.push((Occur::Should, atom_ranked(f, a, query, tok)?));
            }
            Box::new(BooleanQuery::new(alts))
        };
        out.push((Occur::Must, q));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str, phrase: bool) -> Atom {
        Atom::Text {
            text: t.into(),
            phrase,
        }
    }

    #[test]
    fn grammar() {
        let q = parse_query("油烟 OR 噪音 -装修 \"小区 物业\" region:A市/A5区 Ｗｉｆｉ").unwrap();
        assert_eq!(q.len(), 5);
        assert_eq!(
            q[0].alternatives,
            vec![text("油烟", false), text("噪音", false)]
        );
        assert!(q[1].negated);
        assert_eq!(q[2].alternatives, vec![text("小区 物业", true)]);
        assert_eq!(
            q[3].alternatives,
            vec![Atom::Field {
                field: QueryField::Region,
                value: "A市/A5区".into()
            }]
        );
        assert_eq!(q[4].alternatives, vec![text("wifi", false)]);
        let q = parse_query("“油烟扰民”  status：\"已办结\" 12:30").unwrap();
        assert_eq!(q[0].alternatives, vec![text("油烟扰民", true)]);
        assert_eq!(
            q[1].alternatives,
            vec![Atom::Field {
                field: QueryField::Status,
                value: "已办结".into()
            }]
        );
        assert_eq!(q[2].alternatives, vec![text("12:30", false)]);
        assert!(parse_query("").unwrap().is_empty());
    }

    #[test]
    fn malformed_queries_point_at_the_problem() {
        let msg = |q: &str| match parse_query(q) {
            Err(Error::Query { message, .. }) => message,
            other => panic!("{q}: {other:?}"),
        };
        assert!(
            msg("小区 \"物业").contains("character 4"),
            "{}",
            msg("小区 \"物业")
        );
        assert!(msg("OR 物业").contains("dangling `OR` at character 1"));
        assert!(msg("物业 OR").contains("dangling `OR` at character 4"));
        assert!(msg("物业 OR OR 小区").contains("follows another"));
        assert!(msg("foo:bar").contains("unknown field `foo`"));
        assert!(msg("region:").contains("no value"));
        assert!(msg("小区 -").contains("not followed"));
        assert!(msg("\"\"").contains("empty phrase"));
        assert!(msg("-小区 OR 物业").contains("cannot be ORed"));
        assert!(msg("小区 OR -物业").contains("cannot be ORed"));
    }
}
