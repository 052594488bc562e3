//! Timing, progress and run.json notes, once for every stage: [`Steps::step`] runs one stage's
//! work and [`Summary`] is what each stage's output says when it is done.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{mib, Event, Located, Progress, Read, Stage, Stored};
use crate::charts::Chart;
use crate::classify;
use crate::cluster::{self, Groups};
use crate::error::Result;
use crate::fmt::thousands;
use crate::index::IndexSummary;
use crate::report;
use crate::run_log::{ClusterNote, StageNotes, Timer};
use crate::trends;

/// Runs the stages' steps: each is timed, announced to the terminal and summarised.
pub(super) struct Steps<'p> {
    pub(super) progress: Progress<'p>,
    pub(super) timer: Timer,
    pub(super) notes: StageNotes,
    /// The method note's sentences on inferred values (the brief and run.json carry them).
    pub(super) inferred: Vec<String>,
    /// Measure each stage's peak memory ([`RunOptions::stage_peaks`]).
    pub(super) stage_peaks: bool,
    /// Stage → its peak resident memory in MiB, where the system can say.
    pub(super) peaks: BTreeMap<String, f64>,
}

impl<'p> Steps<'p> {
    pub(super) fn new(progress: Progress<'p>) -> Self {
        Steps {
            progress,
            timer: Timer::default(),
            notes: StageNotes::default(),
            inferred: Vec::new(),
            stage_peaks: false,
            peaks: BTreeMap::new(),
        }
    }

    /// Runs one stage: `Start`, the work, its time, `Done` with its summary line, its notes.
    pub(super) fn step<T: Summary>(
        &mut self,
        stage: Stage,
        work: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        (self.progress)(Event::Start(stage));
        let tracked = self.stage_peaks && crate::sys::reset_stage_peak();
        let t = Instant::now();
        let out = work()?;
        self.timer.add(stage.name(), t);
        if let Some(b) = crate::sys::stage_peak_bytes().filter(|_| tracked) {
            let peak = self.peaks.entry(stage.name().to_string()).or_default();
            *peak = peak.max(mib(b));
        }
        (self.progress)(Event::Done(stage, out.line()));
        out.note(&mut self.notes);
        Ok(out)
    }
}

/// What a stage's output says when the stage is done.
pub(super) trait Summary {
    /// The terminal line.
    fn line(&self) -> String;
    /// Its counts in `run.json`, if it keeps any.
    fn note(&self, _notes: &mut StageNotes) {}
}

impl Summary for Read {
    fn line(&self) -> String {
        format!(
            "{} rows read{}",
            thousands(self.ingested.rows_read()),
            if self.spill.spilled() {
                " (spilled to disk beyond --spill-mb)"
            } else {
                ""
            }
        )
    }
}

impl Summary for Stored {
    fn line(&self) -> String {
        self.counts.line()
    }
}

impl Summary for cluster::Output {
    fn line(&self) -> String {
        format!(
            "{} case groups holding {} of {} petitions ({})",
            thousands(self.groups.groups.len() as u64),
            thousands(grouped_petitions(&self.groups) as u64),
            thousands(self.groups.members.len() as u64),
            how_grouped(&self.mode)
        ) + &self
            .tagged_by_map
            .map(|n| format!("; {} tagged by the Spark map", thousands(n as u64)))
            .unwrap_or_default()
            + &self
                .object_tasks
                .map(|n| format!("; leader passes in {n} object tasks"))
                .unwrap_or_default()
    }

    fn note(&self, notes: &mut StageNotes) {
        let grouped = grouped_petitions(&self.groups);
        notes.cluster = Some(ClusterNote {
            groups: self.groups.groups.len(),
            grouped_petitions: grouped,
            unclustered: self.groups.members.len() - grouped,
            mode: match self.mode {
                cluster::Mode::Incremental { .. } => "incremental",
                cluster::Mode::Full(_) => "full",
            }
            .into(),
            how: how_grouped(&self.mode),
            tagged_by_map: self.tagged_by_map,
            object_tasks: self.object_tasks,
        });
    }
}

/// Petitions in a case group (the members are one per stored petition).
pub fn grouped_petitions(groups: &Groups) -> usize {
    groups
        .members
        .iter()
        .filter(|m| m.group_id != cluster::UNCLUSTERED)
        .count()
}

/// How the grouping went, in the words of the terminal and `run.json`.
fn how_grouped(mode: &cluster::Mode) -> String {
    match mode {
        cluster::Mode::Incremental { new } => format!(
            "{} new petitions grouped onto the last grouping",
            thousands(*new as u64)
        ),
        cluster::Mode::Full(why) => format!("all regrouped: {why}"),
    }
}

impl Summary for classify::Classified {
    fn line(&self) -> String {
        match &self.model {
            None => "no model named ([classify] model): categories as the data gives them".into(),
            Some(_) => {
                let (confident, review) = self.counts();
                format!(
                    "{} petitions without a category: {} predicted, {} left {}",
                    thousands((confident + review) as u64),
                    thousands(confident as u64),
                    thousands(review as u64),
                    classify::NEEDS_REVIEW
                )
            }
        }
    }
}

impl Summary for Located<'_> {
    fn line(&self) -> String {
        let (by, unknown) = self.located.counts(self.records);
        format!(
            "{} petitions without a region: {} to a town or street, {} to a county or district, {} to a city, {} unknown",
            thousands((by.iter().sum::<usize>() + unknown) as u64),
            thousands(by[2] as u64),
            thousands(by[1] as u64),
            thousands(by[0] as u64),
            thousands(unknown as u64)
        )
    }
}

impl Summary for IndexSummary {
    fn line(&self) -> String {
        format!(
            "{} documents ({} added, {} updated, {} deleted, {} unchanged{})",
            thousands(self.docs),
            thousands(self.added),
            thousands(self.updated),
            thousands(self.deleted),
            thousands(self.unchanged),
            if self.rebuilt { ", rebuilt" } else { "" }
        )
    }

    fn note(&self, notes: &mut StageNotes) {
        notes.index = Some(self.clone());
    }
}

impl Summary for trends::Trends {
    fn line(&self) -> String {
        format!("period {}", self.period.label)
    }
}

/// The charts one brief drew.
pub(super) struct Charts(pub(super) Vec<Chart>);

impl Summary for Charts {
    fn line(&self) -> String {
        let n = self.0.len();
        if n == 0 || self.0.iter().any(|c| c.png_path.is_some()) {
            format!("{n} charts (SVG + PNG)")
        } else {
            format!(
                "{n} charts (SVG only: no CJK font found for PNG; name one with [charts] font = \"…\")"
            )
        }
    }
}

impl Summary for report::Written {
    fn line(&self) -> String {
        format!(
            "{}, {} and {}",
            self.html.display(),
            self.markdown.display(),
            self.docx.display()
        )
    }
}
