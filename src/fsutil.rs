//! Atomic file output: every file minqing writes goes to a temporary sibling and is renamed into
//! place, so an interrupted run never leaves a half-written file under its final name.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically (temp file in the same folder, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Like [`write_atomic`], but lets the caller stream into the temporary file.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = parent_dir(path);
    fs::create_dir_all(&dir).map_err(Error::io("create folder", &dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".minqing-tmp-")
        .tempfile_in(&dir)
        .map_err(Error::io("create a temporary file in", &dir))?;
    {
        let mut buf = std::io::BufWriter::new(tmp.as_file_mut());
        fill(&mut buf).map_err(Error::io("write", path))?;
        buf.flush().map_err(Error::io("write", path))?;
    }
    tmp.as_file().sync_all().map_err(Error::io("sync", path))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replace", path)(e.error))?;
    Ok(())
}

/// Replaces the folder `dest` by `staged` (a fully written sibling folder) as atomically as the
/// file system allows: the old folder is moved aside, the new one renamed in, then the old removed.
pub fn replace_dir(staged: &Path, dest: &Path) -> Result<()> {
    let old = dest.with_extension("old-minqing");
    if old.exists() {
        fs::remove_dir_all(&old).map_err(Error::io("remove", &old))?;
    }
    if dest.exists() {
        fs::rename(dest, &old).map_err(Error::io("move aside", dest))?;
    }
    fs::rename(staged, dest).map_err(Error::io("rename into place", dest))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(Error::io("remove", &old))?;
    }
    Ok(())
}

/// A fresh staging folder next to `dest`, removed again if it is dropped unused.
pub fn staging_dir(dest: &Path) -> Result<tempfile::TempDir> {
    let dir = parent_dir(dest);
    fs::create_dir_all(&dir).map_err(Error::io("create folder", &dir))?;
    tempfile::Builder::new()
        .prefix(".minqing-stage-")
        .tempdir_in(&dir)
        .map_err(Error::io("create a staging folder in", &dir))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The sub-folders minqing writes in a run folder.
pub const RUN_SUBFOLDERS: [&str; 4] = ["store", "index", "groups", "charts"];

/// Refuses a run folder in which writing would leave it: an output sub-folder that is a symbolic
/// link (its files would land wherever the link points), or a link inside `index/`, where tantivy
/// opens its lock files in place. Links at output *file* names need no check: every file is
/// written to a fresh temporary file and renamed over the name, which replaces the link itself.
/// The run folder itself may be a link: that is where the user sent the outputs.
pub fn check_run_folder(out_dir: &Path) -> Result<()> {
    let is_link = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    let refuse = |p: &Path| {
        let target = fs::read_link(p)
            .map(|t| format!(" (to `{}`)", t.display()))
            .unwrap_or_default();
        Err(Error::Usage(format!(
            "`{}` is a symbolic link{target}; minqing writes only inside the run folder: remove the link or choose another --out",
            p.display()
        )))
    };
    for name in RUN_SUBFOLDERS {
        let p = out_dir.join(name);
        if is_link(&p) {
            return refuse(&p);
        }
    }
    if let Ok(rd) = fs::read_dir(out_dir.join("index")) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_symlink()) {
                return refuse(&e.path());
            }
        }
    }
    Ok(())
}

/// Removes temporary files and staging folders an interrupted earlier run left in `dir` and its
/// direct sub-folders (they never carry a final name, so nothing reads them; this only frees space).
/// Links are not followed: a linked sub-folder is not the run's to sweep.
pub fn remove_stale_temps(dir: &Path) {
    let is_dir = |e: &fs::DirEntry| e.file_type().is_ok_and(|t| t.is_dir());
    let mut dirs = vec![dir.to_path_buf()];
    if let Ok(rd) = fs::read_dir(dir) {
        dirs.extend(rd.flatten().filter(is_dir).map(|e| e.path()));
    }
    for d in dirs {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".minqing-tmp-") || name.starts_with(".minqing-stage-") {
                let p = e.path();
                let _ = if is_dir(&e) {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
            }
        }
    }
}

/// SHA-256 of a file, hex, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let f = fs::File::open(path).map_err(Error::io("open", path))?;
    // a 1 MiB buffer: `io::copy`'s own 8 KiB makes 100,000 reads of an 800 MB export
    let mut f = std::io::BufReader::with_capacity(1 << 20, f);
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(Error::io("read", path))?;
    Ok(hex(&h.finalize()))
}

/// SHA-256 of bytes, hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }
}

/// Neutralises a cell for CSV/XLSX exports opened in a spreadsheet: a cell starting with `=`,
/// `+`, `-`, `@`, tab or CR would be run as a formula, so it gets a leading apostrophe. The store
/// keeps the original text; only exports are neutralised.
pub fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{cell}")),
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod csv_safe_tests {
    #[test]
    fn formulas_neutralised() {
        assert_eq!(super::csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(super::csv_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(super::csv_safe("正常"), "正常");
    }
}
