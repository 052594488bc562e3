//! A run's petition contents on disk instead of in memory (issue 18, item 1: records are not
//! all held at once).
//!
//! The contents are about half of what a run's records hold (~375 bytes of each ~750-byte record
//! of the generated corpus: 3.5 GiB at ten million rows), and every stage reads them only in
//! passes — tagging, indexing, the store's writer, the grouping's samples. `minqing run`
//! therefore writes each import chunk's contents to one unnamed file in the run folder as it
//! packs them ([`crate::schema::pack_to`]) and its records' [`crate::schema::Text`]s read them
//! through a read-only mapping of that chunk's range ([`Piece`]). The passes read in the
//! store's order, so the store step writes a row group's contents again in that order when the
//! import's order was another or they came back from the store on the heap
//! ([`crate::schema::contents_in_order`]); a piece nobody reads gives its disk back. The
//! replies, source rows and unmapped columns (`schema::Cold`) go to the same file in the
//! import, and are read once, by the store's writer. Pages a
//! pass reads become resident; [`TextFile::keep_trimmed`] hands them back to the page cache whenever the process's
//! file-backed resident memory has grown by more than a budget, so what the texts hold of the
//! process is about that budget at any size. The kernel keeps the file's pages cached while
//! memory allows and reads them from disk again when it does not.
//!
//! The file has no name (`O_TMPFILE`, or created and unlinked at once where that is not
//! supported), so no other process can open it by path, a killed run leaves nothing behind, and
//! its space is free when the run's process ends. It needs the run folder's disk to hold the
//! contents (~0.4 GB per million generated petitions). Titles stay on the heap
//! ([`crate::schema::pack_to`] says why).
//!
//! The grouping's per-petition word lists and term vectors go to the same file
//! ([`TextFile::put_bytes`], `packed::Packed`): ~0.5 KB a petition at their most, which the
//! grouping held on the heap through its passes (and, while it runs, that much more disk).
//! Passes in the petitions' order read them through the mapping, trimmed as the contents are;
//! passes that read them at random (object by object, group by group) read them with `pread`
//! ([`Piece::read_exact_at`], `packed::Packed::read`): a read of the mapping maps the kernel's
//! fault-around (64 KiB) around a vector of ~0.2 KB, faster than the watcher hands pages back
//! (10M generated petitions: the grouping's file pages 0.96–1.56 GB → ≤ 122 MB,
//! docs/scale.md, seventeenth measurement).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::error::{Error, Result};

/// Growth of the process's file-backed resident memory after which the texts' pages are handed
/// back. Small next to a run's other memory (a 1M run holds ~1.5 GiB), large enough that a pass
/// reading texts trims a few times a second at most.
pub const TRIM_BUDGET: u64 = 64 << 20;

/// How often [`TextFile::keep_trimmed`] looks at the resident memory: reading
/// `/proc/self/status` is a few microseconds, and a pass reads at most ~1 GB/s of text on one
/// machine, so the texts' share overshoots the budget by tens of megabytes at most.
const TRIM_EVERY: Duration = Duration::from_millis(10);

/// The longest [`TextFile::keep_trimmed`] waits between two trims.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// Resident file pages above those right after the last trim past which the watcher trims at
/// once, whatever its wait: a bound on what a backed-off wait lets pile up. It did not lower
/// the 10M grouping's file pages on its own (they were large folios: [`WRITE_PIECE`]), and
/// with 64 KiB pieces passes still held up to ~1.2 GB for moments, mapped back faster than a
/// trim lets go (docs/scale.md, fifteenth measurement).
const TRIM_CAP: u64 = 4 * TRIM_BUDGET;

/// The most a put writes at once, each piece ending at a multiple of it in the file. On this
/// project's machines (Linux 6.18, ext4) the page cache keeps a write in folios of up to its
/// size, and a read fault on a mapping mapped the whole folio: a chunk written at once sat in
/// folios of up to 2 MiB, each read of a term vector mapped ~1.4 MB around it, and passes
/// reading them object by object held 1.2–2.1 GB of the file at 10M petitions (docs/scale.md,
/// fifteenth measurement). Written in 64 KiB pieces, a read maps the kernel's fault-around
/// (64 KiB).
const WRITE_PIECE: u64 = 64 << 10;

/// The unnamed file a run's texts are written to, and the mappings of what was written.
pub struct TextFile {
    file: Arc<File>,
    /// The run folder, named in errors (the file itself has no name).
    dir: PathBuf,
    /// Bytes written so far: each [`TextFile::put`] takes the next range.
    end: AtomicU64,
    /// Every mapping still read by someone, to hand their pages back ([`TextFile::trim`]).
    /// Weak: a piece nobody reads any more is dropped, and its range of the file with it.
    pieces: Mutex<Vec<Weak<Piece>>>,
    /// Times the pages were handed back.
    trims: AtomicU64,
}

/// One chunk's texts (or, from [`TextFile::put_bytes`], other plain data), mapped read-only and
/// never rewritten.
pub struct Piece {
    map: memmap2::Mmap,
    /// Written from a `&str` ([`TextFile::put`]): valid UTF-8, readable as text.
    text: bool,
    /// Where the range starts in the file, and the file, whose range is freed when the piece is
    /// dropped.
    offset: u64,
    file: Arc<File>,
}

impl Drop for Piece {
    fn drop(&mut self) {
        // The disk the range took is given back (a run that rewrites its texts in the store's
        // order, `schema::contents_in_order`, would otherwise need twice the room). Only this
        // piece's bytes are zeroed: a neighbour sharing a block keeps its own. Nobody reads
        // the range any more (the piece is going), and a file system without holes keeps the
        // bytes until the run ends, which costs disk only.
        crate::sys::free_file_range(&self.file, self.offset, self.map.len() as u64);
    }
}

impl Piece {
    /// Where the piece starts in its file: texts read in the order of their offsets read the
    /// file forwards.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads `buf.len()` bytes from `at` bytes into the piece with `pread`, not through the
    /// mapping: the read maps nothing into the process (see `packed::Packed::read`).
    pub fn read_exact_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        debug_assert!(at + buf.len() as u64 <= self.map.len() as u64);
        self.file.read_exact_at(buf, self.offset + at)
    }

    /// The text [`TextFile::put`] wrote. Panics on a piece of bytes ([`TextFile::put_bytes`]).
    pub fn as_str(&self) -> &str {
        assert!(self.text, "a piece of bytes is not text");
        // SAFETY: the mapped range holds exactly the bytes `put` wrote from a `&str` (valid
        // UTF-8). The file has no name, so only this process can write to it, and it never
        // writes a range again once it is mapped (`end` hands out every range once).
        unsafe { std::str::from_utf8_unchecked(&self.map) }
    }

    /// The bytes written, starting at an address aligned as [`TextFile::put_bytes`] was asked.
    pub fn as_bytes(&self) -> &[u8] {
        &self.map
    }
}

impl std::fmt::Debug for Piece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Piece({} bytes)", self.map.len())
    }
}

/// When [`TextFile::keep_trimmed`]'s watcher trims, from the process's resident file pages.
#[derive(Debug)]
struct Watch {
    /// The resident file pages when the watcher started.
    start: u64,
    /// The resident file pages right after the last trim (at most the budget above the start:
    /// file pages that are not the texts' would otherwise end the trimming).
    base: u64,
    /// The resident file pages right after the last trim, or less if some went since. Pages
    /// that stay (tantivy's mapped segments) raise it, so they do not end every wait at once.
    floor: u64,
    /// How long after a trim the next may come. A pass reading texts in random order (a sample
    /// of each group's members, the term vectors object by object) maps a neighbourhood of
    /// pages per read, faster than a trim lets go of them; a trim that freed little doubles
    /// the wait (up to [`MAX_WAIT`]), so such a pass costs few trims — until the pages pass
    /// [`TRIM_CAP`] above the floor.
    wait: Duration,
}

impl Watch {
    fn new(start: u64) -> Watch {
        Watch {
            start,
            base: start,
            floor: start,
            wait: TRIM_EVERY,
        }
    }

    /// Whether to trim now, with `now` resident file bytes, `since` the last trim.
    fn due(&mut self, now: u64, since: Duration) -> bool {
        let over_cap = now > self.floor + TRIM_CAP;
        self.floor = self.floor.min(now);
        let due = now > self.base + TRIM_BUDGET && (since >= self.wait || over_cap);
        if !due && now < self.base {
            // Other file pages (tantivy's mapped segments) were let go.
            self.base = now;
        }
        due
    }

    /// After a trim that left `after` resident file bytes.
    fn trimmed(&mut self, after: u64) {
        self.wait = if after > self.base + TRIM_BUDGET / 2 {
            (self.wait * 2).min(MAX_WAIT)
        } else {
            TRIM_EVERY
        };
        self.base = after.min(self.start + TRIM_BUDGET);
        self.floor = after;
    }
}

impl TextFile {
    /// A new, empty text file in `dir` (created if missing).
    pub fn create_in(dir: &Path) -> Result<TextFile> {
        std::fs::create_dir_all(dir).map_err(Error::io("create folder", dir))?;
        let file = tempfile::tempfile_in(dir)
            .map_err(Error::io("create a temporary file for the texts in", dir))?;
        Ok(TextFile {
            file: Arc::new(file),
            dir: dir.to_path_buf(),
            end: AtomicU64::new(0),
            pieces: Mutex::new(Vec::new()),
            trims: AtomicU64::new(0),
        })
    }

    /// Writes `text` at the end of the file and maps it. Several threads may put at once.
    /// `text` must not be empty (a mapping has at least one byte).
    pub fn put(&self, text: &str) -> Result<Arc<Piece>> {
        self.write_and_map(text.as_bytes(), 1, true)
    }

    /// Writes `bytes` at the next offset that is a multiple of `align` (a power of two up to a
    /// page) and maps them: the mapping starts at an address aligned the same way, since a
    /// mapping's page starts at a page of the file. For plain data read back in place, such as
    /// the grouping's term vectors (`packed::Packed`). `bytes` must not be empty.
    pub fn put_bytes(&self, bytes: &[u8], align: usize) -> Result<Arc<Piece>> {
        self.write_and_map(bytes, align, false)
    }

    fn write_and_map(&self, bytes: &[u8], align: usize, text: bool) -> Result<Arc<Piece>> {
        debug_assert!(!bytes.is_empty());
        debug_assert!(align.is_power_of_two() && align <= 4096);
        let (len, pad) = (bytes.len() as u64, align as u64 - 1);
        // a range with room to start at the next multiple of `align` (≤ `pad` bytes unused)
        let at = self
            .end
            .fetch_add(len + pad, Ordering::Relaxed)
            .next_multiple_of(align as u64);
        let write = || -> std::io::Result<()> {
            let mut from = 0;
            while from < bytes.len() {
                let pos = at + from as u64;
                let to = from + ((pos / WRITE_PIECE + 1) * WRITE_PIECE - pos) as usize;
                let to = to.min(bytes.len());
                self.file.write_all_at(&bytes[from..to], pos)?;
                from = to;
            }
            Ok(())
        };
        write().map_err(Error::io(
            "write the run's texts to a temporary file in",
            &self.dir,
        ))?;
        // SAFETY: the range [at, at + len) was written just now and is never written again (see
        // `Piece::as_str`); the file cannot be truncated by anyone else (it has no name).
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(at)
                .len(bytes.len())
                .map(&*self.file)
        }
        .map_err(Error::io("map the run's texts in", &self.dir))?;
        debug_assert_eq!(map.as_ptr() as usize % align, 0);
        let piece = Arc::new(Piece {
            map,
            text,
            offset: at,
            file: self.file.clone(),
        });
        self.lock().push(Arc::downgrade(&piece));
        Ok(piece)
    }

    /// Times [`TextFile::trim`] ran.
    pub fn trims(&self) -> u64 {
        self.trims.load(Ordering::Relaxed)
    }

    /// Bytes written, with the few that aligned [`TextFile::put_bytes`] skipped.
    pub fn len(&self) -> u64 {
        self.end.load(Ordering::Relaxed)
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands every resident page of the texts back to the page cache: the next read of one
    /// maps it again (a minor fault while it is cached, a disk read when it is not).
    pub fn trim(&self) {
        self.trims.fetch_add(1, Ordering::Relaxed);
        let pieces: Vec<Arc<Piece>> = {
            let mut list = self.lock();
            list.retain(|w| w.strong_count() > 0);
            list.iter().filter_map(Weak::upgrade).collect()
        };
        for p in pieces {
            // SAFETY: a shared, read-only mapping of a file: dropping its pages only unmaps
            // them; a later read of the same address maps the same bytes from the file again,
            // so `&str`s other threads hold into it stay valid and unchanged.
            // Failing is harmless (the pages stay resident), so the result is not needed.
            let _ = unsafe { p.map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }

    /// Runs `f` while a watcher thread trims the texts ([`TextFile::trim`]) whenever the
    /// process's file-backed resident memory has grown by [`TRIM_BUDGET`] since the last trim.
    /// Without the watcher a pass over every text would leave all of them resident: the
    /// pages are the page cache's, but they count in the process's resident memory.
    pub fn keep_trimmed<T>(&self, f: impl FnOnce() -> T) -> T {
        let Some(start) = crate::sys::resident_file_bytes() else {
            return f();
        };
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let watcher = s.spawn(|| {
                let mut watch = Watch::new(start);
                let mut last = std::time::Instant::now();
                while !done.load(Ordering::Relaxed) {
                    std::thread::park_timeout(TRIM_EVERY);
                    let now = crate::sys::resident_file_bytes().unwrap_or(watch.base);
                    if watch.due(now, last.elapsed()) {
                        self.trim();
                        watch.trimmed(crate::sys::resident_file_bytes().unwrap_or(now));
                        last = std::time::Instant::now();
                    }
                }
            });
            // Stops the watcher when `f` returns or panics: the scope waits for it either way,
            // and a watcher left running would turn a panic into a hang.
            struct Stop<'a>(&'a AtomicBool, &'a std::thread::Thread);
            impl Drop for Stop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Relaxed);
                    self.1.unpark();
                }
            }
            let _stop = Stop(&done, watcher.thread());
            f()
        })
    }

    /// Bytes of disk the file takes.
    #[cfg(test)]
    fn disk_bytes(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        self.file.metadata().map_or(0, |m| m.blocks() * 512)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Weak<Piece>>> {
        // A thread that panicked while pushing left a whole list: the next one may go on.
        self.pieces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_put_from_several_threads_read_back_after_a_trim() {
        let dir = tempfile::tempdir().unwrap();
        let file = TextFile::create_in(dir.path()).unwrap();
        let texts: Vec<String> = (0..64)
            .map(|i| format!("第{i}件：小区{}", "停车".repeat(i % 7 + 1)))
            .collect();
        let pieces: Vec<Arc<Piece>> = std::thread::scope(|s| {
            let handles: Vec<_> = texts
                .iter()
                .map(|t| s.spawn(|| file.put(t).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        file.trim();
        for (p, t) in pieces.iter().zip(&texts) {
            assert_eq!(p.as_str(), t);
        }
        let total: usize = texts.iter().map(String::len).sum();
        assert_eq!(file.len(), total as u64);
        // Nothing in the run folder: the file has no name.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn bytes_are_put_aligned_and_are_not_text() {
        let dir = tempfile::tempdir().unwrap();
        let file = TextFile::create_in(dir.path()).unwrap();
        file.put("诉").unwrap(); // three bytes
        let p = file.put_bytes(&[1, 2, 3, 4, 5, 6, 7, 8], 8).unwrap();
        assert_eq!(p.offset(), 8);
        assert_eq!(p.as_bytes(), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(p.as_bytes().as_ptr() as usize % 8, 0);
        let read = std::panic::catch_unwind(|| p.as_str().len());
        assert!(read.is_err(), "bytes read as text");
    }

    #[test]
    fn a_piece_nobody_reads_gives_its_disk_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = TextFile::create_in(dir.path()).unwrap();
        let chunk = "信访".repeat(1 << 15); // 192 KiB
        let mut pieces: Vec<Arc<Piece>> = (0..16).map(|_| file.put(&chunk).unwrap()).collect();
        let full = file.disk_bytes();
        // A file system that cannot punch holes keeps the bytes: nothing to see there.
        let probe = tempfile::tempfile_in(dir.path()).unwrap();
        probe.write_all_at(chunk.as_bytes(), 0).unwrap();
        if full < 16 * chunk.len() as u64 || !crate::sys::free_file_range(&probe, 0, 1 << 16) {
            return;
        }
        let kept = pieces.split_off(8);
        drop(pieces);
        assert!(
            file.disk_bytes() <= full - 7 * chunk.len() as u64,
            "{} of {full} bytes still taken",
            file.disk_bytes()
        );
        file.trim();
        for p in &kept {
            assert_eq!(p.as_str(), chunk, "the pieces still read are whole");
        }
        assert_eq!(file.lock().len(), 8, "the list forgot the dropped pieces");
    }

    #[test]
    fn a_panic_while_trimmed_is_a_panic_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let file = TextFile::create_in(dir.path()).unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            file.keep_trimmed(|| panic!("a stage failed"))
        }));
        assert!(caught.is_err());
    }

    #[test]
    fn a_read_maps_a_small_neighbourhood_of_a_large_put() {
        let Some(_) = crate::sys::resident_file_bytes() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let file = TextFile::create_in(dir.path()).unwrap();
        let bytes: Vec<u8> = (0..32u32 << 20).map(|i| (i % 251) as u8).collect();
        let p = file.put_bytes(&bytes, 8).unwrap();
        let before = crate::sys::resident_file_bytes().unwrap();
        let read: u64 = (0..64)
            .map(|i| u64::from(p.as_bytes()[i * (512 << 10) + 12_345]))
            .sum();
        let mapped = crate::sys::resident_file_bytes()
            .unwrap()
            .saturating_sub(before);
        assert!(read > 0);
        // 64 reads, 64 KiB each at most (another test's files may map a little beside them);
        // written at once, the same reads mapped all 32 MiB on Linux 6.18
        assert!(mapped < 16 << 20, "64 reads mapped {mapped} bytes");
    }

    #[test]
    fn a_backed_off_watcher_still_trims_past_the_cap() {
        const MIB: u64 = 1 << 20;
        let mut w = Watch::new(100 * MIB);
        let ms = Duration::from_millis;
        // under the budget: no trim
        assert!(!w.due(150 * MIB, ms(10)));
        // a random pass: every trim frees little, the wait doubles up to a second
        for _ in 0..10 {
            assert!(w.due(w.base + TRIM_BUDGET + MIB, MAX_WAIT));
            w.trimmed(w.base + TRIM_BUDGET);
        }
        assert_eq!(w.wait, MAX_WAIT);
        // above the budget, under the cap, within the wait: the pass goes on
        assert!(!w.due(w.floor + TRIM_CAP, ms(20)));
        // past the cap: at once, whatever the wait
        assert!(w.due(w.floor + TRIM_CAP + MIB, ms(20)));
        // pages that stay (a mapped index of 1 GiB) raise the floor: the cap counts from
        // there, so they alone do not bring a trim each time the watcher looks
        w.trimmed(100 * MIB + 1024 * MIB);
        assert!(!w.due(100 * MIB + 1024 * MIB + TRIM_CAP / 2, ms(20)));
        assert!(w.due(100 * MIB + 1024 * MIB + TRIM_CAP / 2, MAX_WAIT));
        // a trim that freed what was read: the wait is short again
        w.trimmed(w.base);
        assert_eq!(w.wait, TRIM_EVERY);
    }

    #[test]
    fn the_watcher_trims_while_a_pass_reads() {
        let dir = tempfile::tempdir().unwrap();
        let file = TextFile::create_in(dir.path()).unwrap();
        let chunk = "诉求".repeat(1 << 16);
        let pieces: Vec<Arc<Piece>> = (0..2 * (TRIM_BUDGET as usize) / chunk.len() + 8)
            .map(|_| file.put(&chunk).unwrap())
            .collect();
        let read: usize = file.keep_trimmed(|| {
            pieces
                .iter()
                .map(|p| {
                    let n = p.as_str().chars().filter(|&c| c == '诉').count();
                    std::thread::sleep(Duration::from_millis(1));
                    n
                })
                .sum()
        });
        assert_eq!(read, pieces.len() * (1 << 16));
        // Twice the budget was read, in ~270 ms: the watcher saw the growth at least once.
        if crate::sys::resident_file_bytes().is_some() {
            assert!(file.trims() >= 1, "no trim while reading twice the budget");
        }
    }
}
