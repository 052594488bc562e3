//! The audit log: who searched what, opened which petition, exported what, revealed what, and
//! every sign-in and account change. One JSON object per line in `audit.jsonl` in the state
//! folder, opened for appending only; each line carries the SHA-256 of the line before it, so a
//! line edited or removed afterwards breaks the chain ([`verify`] finds where).
//!
//! A request whose event cannot be written is refused (fail closed): an office must not be able
//! to read petitions that the log does not show.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// File name of the log inside the state folder.
pub const AUDIT_FILE: &str = "audit.jsonl";

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at: String,
    pub user: String,
    /// The client's address.
    pub ip: String,
    /// `login`, `login_failed`, `logout`, `search`, `open`, `export`, `reveal`, `group`,
    /// `group_export`, `brief`, `account`, `refused`.
    pub action: String,
    /// What: the query and filters, a petition id, a group id, an export's row count …
    pub detail: serde_json::Value,
    /// SHA-256 (hex) of the previous line; empty for the first.
    pub prev: String,
}

/// The open log.
pub struct AuditLog {
    path: PathBuf,
    inner: Mutex<Tail>,
}

struct Tail {
    file: File,
    last_hash: String,
}

impl AuditLog {
    /// Opens (creating) the log in `state_dir` for appending, picking up the chain where it ends.
    pub fn open(state_dir: &Path) -> Result<AuditLog> {
        let path = state_dir.join(AUDIT_FILE);
        std::fs::create_dir_all(state_dir).map_err(Error::io("create folder", state_dir))?;
        let last_hash = match std::fs::read(&path) {
            Ok(bytes) => bytes
                .split(|b| *b == b'\n')
                .rfind(|l| !l.is_empty())
                .map(crate::fsutil::sha256_bytes)
                .unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io("read", &path)(e)),
        };
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts.open(&path).map_err(Error::io("open", &path))?;
        Ok(AuditLog {
            path,
            inner: Mutex::new(Tail { file, last_hash }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event (one `write` of a whole line, so lines never interleave).
    pub fn record(
        &self,
        user: &str,
        ip: &str,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        let mut tail = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let ev = Event {
            at: chrono::Local::now()
                .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
                .to_string(),
            user: user.to_string(),
            ip: ip.to_string(),
            action: action.to_string(),
            detail,
            prev: tail.last_hash.clone(),
        };
        let line = serde_json::to_string(&ev)?;
        let mut bytes = line.clone().into_bytes();
        bytes.push(b'\n');
        tail.file
            .write_all(&bytes)
            .map_err(Error::io("append to", &self.path))?;
        tail.last_hash = crate::fsutil::sha256_bytes(line.as_bytes());
        Ok(())
    }

    /// The last `n` events, newest first (for the administrator's page).
    pub fn recent(&self, n: usize) -> Result<Vec<Event>> {
        // Under the lock so a half-appended line is never read.
        let _guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let text = std::fs::read_to_string(&self.path).map_err(Error::io("read", &self.path))?;
        Ok(text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str(l).ok())
            .take(n)
            .collect())
    }
}

/// Checks the chain of a log file: `Ok(lines)`, or the 1-based line where it breaks.
pub fn verify(path: &Path) -> Result<std::result::Result<usize, usize>> {
    let text = std::fs::read_to_string(path).map_err(Error::io("read", path))?;
    let mut prev = String::new();
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let ok = serde_json::from_str::<Event>(line).is_ok_and(|e| e.prev == prev);
        if !ok {
            return Ok(Err(i + 1));
        }
        prev = crate::fsutil::sha256_bytes(line.as_bytes());
        n += 1;
    }
    Ok(Ok(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_survives_reopening_and_detects_edits() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        log.record("a", "127.0.0.1", "search", serde_json::json!({"q": "油烟"}))
            .unwrap();
        drop(log);
        let log = AuditLog::open(dir.path()).unwrap();
        log.record("a", "127.0.0.1", "open", serde_json::json!({"id": "X1"}))
            .unwrap();
        log.record("b", "127.0.0.1", "reveal", serde_json::json!({"id": "X1"}))
            .unwrap();
        assert_eq!(verify(log.path()).unwrap(), Ok(3));
        let recent = log.recent(2).unwrap();
        assert_eq!(recent[0].action, "reveal");
        assert_eq!(recent[1].action, "open");

        let text = std::fs::read_to_string(log.path()).unwrap();
        std::fs::write(log.path(), text.replacen("X1", "X2", 1)).unwrap();
        assert_eq!(verify(log.path()).unwrap(), Err(3));
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(log.path(), format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        assert_eq!(verify(log.path()).unwrap(), Err(2));
    }
}
