//! One row of cells to one [`Record`], or the column and reason it is rejected for.

use chrono::NaiveDateTime;

use super::mapping::{Converted, Plan, Raw};
use super::read_csv::csv_cells;
use super::read_jsonl::json_cells;
use super::{Cell, Options, Source};
use crate::normalize::{self, clean_label, clean_text};
use crate::schema::{self, Channel, Cold, Field, Label, Record, Satisfaction};

/// The read-only half of the mapping: converts rows on the converter thread while the reader
/// goes on reading.
pub(super) struct Converter<'a> {
    pub(super) src: &'a Source,
    pub(super) opts: &'a Options,
    pub(super) file: String,
}

impl Converter<'_> {
    /// One raw row to what it becomes (see [`Converted`]).
    pub(super) fn convert_row(&self, plan: &Plan, row: u64, raw: Raw) -> Converted {
        let cells = match raw {
            Raw::Cells(cells) => cells,
            Raw::Csv(record, encoding) => match csv_cells(&record) {
                (cells, None) => cells,
                (_, Some(i)) => {
                    return Converted::Broken(format!(
                    "column {} is not valid {encoding} text; re-export the file in one encoding",
                    i + 1
                ))
                }
            },
            Raw::Json(line, keys) => match json_cells(&line, &keys) {
                Ok(cells) => cells,
                Err(reason) => return Converted::Broken(reason),
            },
        };
        if cells.iter().all(Cell::is_blank) {
            return Converted::Blank;
        }
        match self.check_and_convert(plan, row, &cells) {
            Ok(r) => Converted::Record(r),
            Err((column, reason)) => Converted::Rejected {
                column,
                reason,
                id: plan
                    .fields
                    .get(&Field::Id)
                    .and_then(|&i| cells.get(i))
                    .map(|c| short(&c.str()))
                    .unwrap_or_default(),
            },
        }
    }

    fn check_and_convert(
        &self,
        plan: &Plan,
        row: u64,
        cells: &[Cell],
    ) -> std::result::Result<Record, (String, String)> {
        let ncols = plan.headers.len();
        if cells.len() > ncols && cells[ncols..].iter().any(|c| !c.is_blank()) {
            return Err((
                format!("#{}", ncols + 1),
                format!(
                    "row has {} fields but the header has {}: a stray separator or an unclosed quote",
                    cells.len(),
                    ncols
                ),
            ));
        }
        self.convert(plan, row, cells)
    }

    fn convert(
        &self,
        plan: &Plan,
        row: u64,
        cells: &[Cell],
    ) -> std::result::Result<Record, (String, String)> {
        let get = |f: Field| -> Option<&Cell> { plan.fields.get(&f).and_then(|&i| cells.get(i)) };
        let col = |f: Field| -> String {
            plan.fields
                .get(&f)
                .map(|&i| plan.headers[i].clone())
                .unwrap_or_else(|| schema::spec(f).name.to_string())
        };
        let err = |f: Field, msg: String| (col(f), msg);
        let max = self.opts.max_cell_bytes;
        for (i, c) in cells.iter().enumerate() {
            if let Cell::Text(s) = c {
                if s.len() > max {
                    return Err((
                        plan.headers.get(i).cloned().unwrap_or_else(|| format!("#{}", i + 1)),
                        format!(
                            "cell is {} bytes, over the {}-byte limit (`[ingest] max_cell_bytes`); shorten it or raise the limit",
                            s.len(),
                            max
                        ),
                    ));
                }
            }
        }
        let text_of = |f: Field| -> Option<String> {
            get(f)
                .map(|c| clean_text(&c.str()))
                .filter(|s| !s.is_empty())
        };
        let label_of = |f: Field| -> Option<String> { get(f).and_then(|c| clean_label(&c.str())) };
        let date_of = |f: Field| -> std::result::Result<Option<NaiveDateTime>, (String, String)> {
            match get(f) {
                None | Some(Cell::Empty) => Ok(None),
                Some(Cell::DateTime(d)) => Ok(Some(*d)),
                Some(Cell::Number(v)) => normalize::excel_serial(*v)
                    .map(Some)
                    .ok_or_else(|| err(f, format!("`{v}` is not a date"))),
                Some(c) => {
                    let t = c.str();
                    if t.trim().is_empty() {
                        return Ok(None);
                    }
                    normalize::parse_datetime(&t).map(Some).ok_or_else(|| {
                        err(
                            f,
                            format!(
                                "`{}` is not a date (accepted: 2019-02-28, 2019/2/28 11:25:05, 2019年2月28日, Excel dates)",
                                short(&t)
                            ),
                        )
                    })
                }
            }
        };
        let count_of = |f: Field| -> std::result::Result<Option<u64>, (String, String)> {
            match get(f) {
                None => Ok(None),
                Some(c) if c.is_blank() => Ok(None),
                Some(c) => normalize::parse_count(&c.str()).map(Some).ok_or_else(|| {
                    err(
                        f,
                        format!("`{}` is not a whole number ≥ 0", short(&c.str())),
                    )
                }),
            }
        };

        let raw_id = label_of(Field::Id).ok_or_else(|| err(Field::Id, "id is empty".into()))?;
        let id = format!("{}{}", self.src.id_prefix.as_deref().unwrap_or(""), raw_id);
        let received_at = date_of(Field::ReceivedAt)?
            .ok_or_else(|| err(Field::ReceivedAt, "received date is empty".into()))?;
        let content = text_of(Field::Content)
            .ok_or_else(|| err(Field::Content, "content is empty after cleaning".into()))?;
        let title = text_of(Field::Title)
            .map(|t| t.replace('\n', " "))
            .unwrap_or_default();
        let channel = match label_of(Field::Channel) {
            Some(c) => Channel::parse(&c).ok_or_else(|| {
                err(
                    Field::Channel,
                    format!(
                        "unknown channel `{}` (来信, 来访, 网上信访, 来电/12345, 留言, 评论)",
                        short(&c)
                    ),
                )
            })?,
            None => plan.channel_default,
        };
        let mut region = [None, None, None];
        if let Some(r) = label_of(Field::Region) {
            region = normalize::parse_region(&r);
        }
        for (k, f) in [Field::Region1, Field::Region2, Field::Region3]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = label_of(f) {
                region[k] = Some(v);
            }
        }
        let headcount = match count_of(Field::Headcount)? {
            None => 1,
            Some(0) => {
                return Err(err(
                    Field::Headcount,
                    "headcount is 0; a petition has at least one person".into(),
                ))
            }
            Some(n) => u32::try_from(n)
                .map_err(|_| err(Field::Headcount, format!("headcount {n} is too large")))?,
        };
        let to_u32 =
            |f: Field, v: Option<u64>| -> std::result::Result<Option<u32>, (String, String)> {
                v.map(|n| u32::try_from(n).map_err(|_| err(f, format!("{n} is too large"))))
                    .transpose()
            };
        let satisfaction = match label_of(Field::Satisfaction) {
            None => None,
            Some(s) => Some(Satisfaction::parse(&s).ok_or_else(|| {
                err(
                    Field::Satisfaction,
                    format!(
                        "unknown rating `{}` (满意, 基本满意, 不满意, 未评价)",
                        short(&s)
                    ),
                )
            })?),
        };
        let bypass = match label_of(Field::Bypass) {
            None => None,
            Some(s) => Some(
                normalize::parse_flag(&s)
                    .ok_or_else(|| err(Field::Bypass, format!("`{}` is not 是/否", short(&s))))?,
            ),
        };
        let extra = if plan.extra.is_empty() {
            None
        } else {
            let mut m = serde_json::Map::new();
            for (i, h) in &plan.extra {
                let v = cells
                    .get(*i)
                    .map(Cell::json)
                    .unwrap_or(serde_json::Value::Null);
                m.insert(h.clone(), v);
            }
            Some(serde_json::Value::Object(m).to_string())
        };
        Ok(Record {
            id: id.into(),
            received_at,
            channel,
            title: title.into(),
            content: content.into(),
            region: region.map(|l| l.map(Label::from)),
            petitioner: label_of(Field::Petitioner).map(Into::into),
            headcount,
            category: label_of(Field::Category).map(Label::from),
            responsible_unit: label_of(Field::ResponsibleUnit).map(Label::from),
            status: label_of(Field::Status).map(Label::from),
            accepted_at: date_of(Field::AcceptedAt)?,
            due_at: date_of(Field::DueAt)?,
            closed_at: date_of(Field::ClosedAt)?,
            satisfaction,
            replied_at: date_of(Field::RepliedAt)?,
            likes: to_u32(Field::Likes, count_of(Field::Likes)?)?,
            dislikes: to_u32(Field::Dislikes, count_of(Field::Dislikes)?)?,
            bypass,
            cold: Cold {
                reply: text_of(Field::Reply).map(Into::into),
                source: format!("{}:{}", self.file, row).into(),
                extra: extra.map(Into::into),
            }
            .boxed(),
        })
    }
}

pub(super) fn short(s: &str) -> String {
    short_to(s, 40)
}

pub(super) fn short_to(s: &str, max_chars: usize) -> String {
    let t: String = s.chars().take(max_chars).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}
