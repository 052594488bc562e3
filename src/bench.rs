//! The whole-run benchmark's floor: read the text once and segment it once with jieba-rs on all
//! cores — no real pipeline can beat that.
//!
//! `minqing bench` (src/cli/bench.rs) runs the real pipeline in child processes and reports each
//! stage as a multiple of the floor.

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What the floor pass measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Floor {
    pub rows: u64,
    pub text_bytes: u64,
    pub tokens: u64,
    pub read_seconds: f64,
    pub segment_seconds: f64,
    pub seconds: f64,
}

/// Reads the title and content columns of a CSV (header names located by alias) and segments
/// every text once with a bare jieba-rs (default dictionary, HMM on) in parallel.
pub fn floor(csv_path: &Path) -> Result<Floor> {
    let t0 = Instant::now();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(csv_path)
        .map_err(|e| Error::BadInput {
            path: csv_path.to_path_buf(),
            message: e.to_string(),
        })?;
    let headers = rdr.headers()?.clone();
    let col = |f: crate::schema::Field| {
        headers
            .iter()
            .position(|h| crate::schema::field_for_header(h) == Some(f))
    };
    let title = col(crate::schema::Field::Title);
    let content = col(crate::schema::Field::Content).ok_or_else(|| Error::BadInput {
        path: csv_path.to_path_buf(),
        message: "no content column".into(),
    })?;
    let mut texts = Vec::new();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec)? {
        let mut t = title.and_then(|i| rec.get(i)).unwrap_or("").to_string();
        t.push('\n');
        t.push_str(rec.get(content).unwrap_or(""));
        texts.push(t);
    }
    let read_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let jieba = jieba_rs::Jieba::new();
    let tokens: u64 = texts
        .par_iter()
        .map(|t| jieba.cut(t, true).len() as u64)
        .sum();
    let segment_seconds = t1.elapsed().as_secs_f64();
    Ok(Floor {
        rows: texts.len() as u64,
        text_bytes: texts.iter().map(|t| t.len() as u64).sum(),
        tokens,
        read_seconds,
        segment_seconds,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The generator's fingerprint at `seed`: SHA-256 of a 2,000-row sample. `minqing bench` keeps
/// its corpora between runs; one written by another version of the generator must be written
/// again (a stale corpus once made the 1M-row grouping look three times faster than it was).
pub fn generator_fingerprint(seed: u64) -> String {
    let opts = crate::sample::Options {
        rows: 2000,
        seed,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    for row in crate::sample::generate(&opts) {
        for c in row.cells() {
            bytes.extend_from_slice(c.as_bytes());
            bytes.push(0x1f);
        }
        bytes.push(b'\n');
    }
    crate::fsutil::sha256_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_counts_rows_and_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        std::fs::write(&p, "编号,标题,诉求内容\n1,停水,小区停水三天\n2,,噪音扰民\n").unwrap();
        let f = floor(&p).unwrap();
        assert_eq!(f.rows, 2);
        assert!(f.tokens >= 4);
    }

    #[test]
    fn generator_fingerprint_is_stable_and_follows_the_seed() {
        let a = generator_fingerprint(7);
        assert_eq!(a, generator_fingerprint(7));
        assert_eq!(a.len(), 64);
        assert_ne!(a, generator_fingerprint(8));
    }
}
