//! What minqing asks of the operating system beyond files: the process's peak memory, for the
//! whole run and per stage, its CPU time, and memory in small pages.

use std::sync::atomic::{AtomicU64, Ordering};

/// The highest `VmHWM` seen before a [`reset_stage_peak`]: the process's peak survives them.
static EARLIER_PEAK: AtomicU64 = AtomicU64::new(0);

/// The `/proc/self/status` fields `names` (all in kB there), in bytes, in that order; None
/// where the file cannot be read (not Linux). A missing field is None in its place.
fn status_bytes<const N: usize>(names: [&str; N]) -> Option<[Option<u64>; N]> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(names.map(|name| {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }))
}

/// Linux's `VmHWM` (peak resident memory since the start or the last reset), in bytes.
fn vm_hwm() -> Option<u64> {
    status_bytes(["VmHWM:"])?[0]
}

/// Resident file-backed and shared memory of this process (`RssFile` + `RssShmem`), in bytes
/// (Linux); None elsewhere. What [`crate::textfile::TextFile::keep_trimmed`] watches.
pub fn resident_file_bytes() -> Option<u64> {
    let [file, shmem] = status_bytes(["RssFile:", "RssShmem:"])?;
    Some(file? + shmem.unwrap_or(0))
}

/// Peak resident memory of this process so far, in bytes (Linux); None elsewhere.
pub fn peak_rss_bytes() -> Option<u64> {
    Some(vm_hwm()?.max(EARLIER_PEAK.load(Ordering::Relaxed)))
}

/// Peak resident memory since the last [`reset_stage_peak`] (or the start), in bytes. The
/// reading also counts toward [`peak_rss_bytes`]: Linux reads `VmHWM` as the larger of a mark
/// it raises only at some points and the present resident size, summed from per-CPU counters
/// read approximately (Linux 6.2 on), so a later `VmHWM` can read a little below an earlier one
/// (CI: the report stage's 133.9 MiB above the run's 133.6), and a run's peak must not be below
/// one of its stages'.
pub fn stage_peak_bytes() -> Option<u64> {
    let now = vm_hwm()?;
    EARLIER_PEAK.fetch_max(now, Ordering::Relaxed);
    Some(now)
}

/// Starts measuring a stage's own peak: Linux (4.0 on) sets `VmHWM` back to the resident memory
/// of the moment when "5" is written to `/proc/self/clear_refs` — the only way to see which
/// stage holds the run's peak (issue 18: where the memory of a 10M run goes). False where the
/// reset is not possible; [`peak_rss_bytes`] stays the whole process's either way.
pub fn reset_stage_peak() -> bool {
    if let Some(now) = vm_hwm() {
        EARLIER_PEAK.fetch_max(now, Ordering::Relaxed);
    }
    cfg!(target_os = "linux") && std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU seconds this process has used so far, all threads, user and system (Linux's process CPU
/// clock); None elsewhere. Beside the wall time it says how many cores a run kept busy, a figure
/// this shared machine's drifting speed moves far less than the wall time itself (issue 18).
pub fn cpu_seconds() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Some(t.tv_sec as f64 + t.tv_nsec as f64 / 1e9)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Asks Linux to back this process's memory with ordinary 4 KiB pages, not transparent huge
/// pages; true when it did. Called first thing in `main`, so every minqing process sets it for
/// itself, the Spark job's `minqing worker`s included. Linux passes the flag on to the programs
/// a process starts: spark-submit and the peer's Python under `minqing bench` run with it too.
///
/// Why: where the kernel's THP setting is `always` (Debian's default, and this project's CI
/// machines), every first touch of fresh memory zeroes a whole 2 MiB page, and the allocator
/// returns freed memory to the kernel (after 10 ms: `alloc.rs`, `hand_back_freed_memory`) only to
/// fault it in again. At 200k generated petitions on 2 cores that zeroing was 16% of all CPU
/// samples (`perf record`: `clear_page_erms` under `do_huge_pmd_anonymous_page`); with 4 KiB
/// pages the run's system time fell from 4.2–11.8 s to 1.2–1.5 s and its peak memory from 0.90
/// to 0.83 GB (fewer half-used huge pages). mimalloc's own switch (`MIMALLOC_ALLOW_THP=0`) does
/// the same but is read from the environment before `main` runs.
pub fn use_small_pages() -> bool {
    #[cfg(target_os = "linux")]
    {
        rustix::thread::disable_transparent_huge_pages(true).is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Gives back the disk `len` bytes of `file` from `offset` take (a hole reads as zeros; the
/// file keeps its size). False where the system or file system cannot: the bytes then stay
/// until the file is closed.
pub fn free_file_range(file: &std::fs::File, offset: u64, len: u64) -> bool {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::FallocateFlags;
        let how = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        rustix::fs::fallocate(file, how, offset, len).is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, offset, len);
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_counts_the_work_of_every_thread() {
        if !cfg!(target_os = "linux") {
            return;
        }
        // Each thread spins until it has used `ms` of its own CPU time: spinning for a wall
        // time failed on a 2-core machine running the other tests beside it (the threads
        // waited for a core and used less CPU than the wall time).
        let spin = |ms: u64| {
            let cpu = || rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
            let ns = |t: rustix::time::Timespec| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64;
            let end = ns(cpu()) + ms * 1_000_000;
            let mut x = 0u64;
            while ns(cpu()) < end {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        };
        let before = super::cpu_seconds().unwrap();
        // two threads busy 150 ms each: at least 0.3 s of CPU, whatever else the process does
        std::thread::scope(|s| {
            s.spawn(|| spin(150));
            s.spawn(|| spin(150));
        });
        let used = super::cpu_seconds().unwrap() - before;
        assert!(used >= 0.29, "{used}");
    }

    #[test]
    fn peak_memory_is_known_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(super::peak_rss_bytes().is_some_and(|b| b > 0));
        }
    }

    #[test]
    fn a_stage_peak_starts_again_and_the_process_peak_stays() {
        if !cfg!(target_os = "linux") {
            return;
        }
        // 256 MiB touched, then let go
        let big = vec![1u8; 256 << 20];
        assert!(big.iter().step_by(4096).all(|&b| b == 1));
        drop(big);
        let whole = super::peak_rss_bytes().unwrap();
        assert!(whole >= 256 << 20, "{whole}");
        if super::reset_stage_peak() {
            assert!(super::stage_peak_bytes().unwrap() < whole);
        }
        assert!(super::peak_rss_bytes().unwrap() >= whole);
    }

    #[test]
    fn the_process_peak_is_never_below_a_stage_peak_read_before_it() {
        // Whatever VmHWM reads later, a stage's reading counts toward the process's peak.
        let stage = super::stage_peak_bytes();
        let whole = super::peak_rss_bytes();
        assert!(whole >= stage, "{whole:?} < {stage:?}");
        if let Some(s) = stage {
            assert!(super::EARLIER_PEAK.load(super::Ordering::Relaxed) >= s);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_asks_for_small_pages() {
        assert!(super::use_small_pages());
        assert!(rustix::thread::transparent_huge_pages_are_disabled().unwrap());
    }
}
