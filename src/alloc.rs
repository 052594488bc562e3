//! The process's allocator (mimalloc) and how it hands freed memory back to the kernel. In the
//! binary, not the library: the library's users choose their own allocator.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (`mi_option_purge_delay` in mimalloc 3's `mimalloc.h`; the
/// `libmimalloc-sys` crate declares the options before and after it but not this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Has mimalloc hand memory that was freed back to the kernel after 10 ms (mimalloc 2's
/// default) instead of a second.
///
/// Why: mimalloc 3 waits a second before it returns freed pages (ten for large blocks, which
/// come from its arenas), and only when the allocator runs again. A run lets go of large tables
/// from one step to the next — the import's batches while it deals the rows to the store's row
/// groups, the grouping's tagging before its passes — and the next step allocates afresh: at a
/// million generated petitions (`minqing run --stage-peaks`, the same binary with
/// `MIMALLOC_PURGE_DELAY` set, runs in turn) the store step's peak fell from 1,235–1,389 to
/// 1,110 MiB, the grouping's from 1,461–1,475 to 1,373 and the run's from 1,530–1,559 to 1,480,
/// in the same time (113 s against 115–124 s). Handing memory back at once (0) saved little
/// more at the peak (1,468–1,472 MiB) and cost 10–17% of the run's time: every freed page was
/// faulted in again.
pub(crate) fn hand_back_freed_memory() {
    // SAFETY: sets one integer option, before any other thread runs; mimalloc reads it at each
    // purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

/// How long freed memory waits before mimalloc hands it back (see [`hand_back_freed_memory`]).
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// While it lives, the thread pool's threads hand back, every [`COLLECT_EVERY`], the memory of
/// theirs that other threads freed. Started by the commands that hold a run's tables
/// (`cli::dispatch`).
///
/// Why: mimalloc gives each thread its own pages, and a block one thread frees in another's
/// page only goes on that page's list of remote frees; the page is handed back when its owner
/// next looks at it, which an idle or busy pool thread may not do for minutes. A run makes its
/// tables on the pool and lets them go on the thread that holds them: the store step deals the
/// imported rows to their row groups on one thread, freeing each batch as it is dealt, and at
/// 10M generated petitions (2 cores, `minqing run --stage-peaks`) the step's peak stood 2.4 GiB
/// above the rows (10,223 MiB; 7,802 with the collector, every 100 ms) because no batch the
/// pool had made was handed back until the pool ran again.
pub(crate) struct Collector {
    stop: Arc<AtomicBool>,
}

/// How often [`Collector`] asks the pool's threads (with mimalloc's 10 ms purge delay, freed
/// pages go back within about 0.1 s; each ask is a visit of each thread's partly used pages).
const COLLECT_EVERY: Duration = Duration::from_millis(100);

impl Collector {
    pub(crate) fn start() -> Collector {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        // A thread of its own: the ask waits for each pool thread to be between two jobs.
        // Without it (no thread could be started) memory goes back later; the run is the same.
        let _ = std::thread::Builder::new()
            .name("minqing-collect".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(COLLECT_EVERY);
                    collect_pool();
                }
            });
        Collector { stop }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Each thread of rayon's global pool (the one the library's stages run on) collects its pages:
/// the blocks other threads freed in them are taken back, pages left empty are freed, and the
/// freed pages past their purge delay go back to the kernel.
fn collect_pool() {
    // SAFETY: `mi_collect` only tidies the calling thread's own heap.
    rayon::broadcast(|_| unsafe { libmimalloc_sys::mi_collect(false) });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number is mimalloc's `purge_delay` (its default is a second), and setting it
    /// takes.
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads and sets an integer option.
        unsafe {
            if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
                assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), 1000);
            }
            hand_back_freed_memory();
            assert_eq!(
                libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY),
                PURGE_DELAY_MS
            );
        }
    }

    /// This process's anonymous resident memory, in MiB.
    #[cfg(target_os = "linux")]
    fn rss_anon_mib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("RssAnon:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            / 1024
    }

    /// A table made on a pool thread and dropped on this one stays resident until the pool
    /// thread collects; with the collector running it goes back to the kernel.
    #[cfg(target_os = "linux")]
    #[test]
    fn memory_a_pool_thread_made_and_another_freed_is_handed_back() {
        // (the purge delay is left as it is: the other test reads its default; handed back
        // after the default second, the table is still back within the wait below)
        const MIB: usize = 256;
        let before = rss_anon_mib();
        let (tx, rx) = std::sync::mpsc::channel();
        // ones, not zeros: every page is written, so resident
        rayon::spawn(move || tx.send(vec![1u8; MIB << 20]).unwrap());
        let table = rx.recv().unwrap();
        assert!(rss_anon_mib() >= before + MIB as u64 / 2);
        drop(table);
        std::thread::sleep(Duration::from_millis(300));
        let held = rss_anon_mib();
        assert!(
            held >= before + MIB as u64 / 2,
            "mimalloc handed the block back by itself ({before} -> {held} MiB): the collector \
             may no longer be needed"
        );
        let collector = Collector::start();
        let handed_back = (0..50).any(|_| {
            std::thread::sleep(COLLECT_EVERY);
            rss_anon_mib() < before + MIB as u64 / 4
        });
        drop(collector);
        assert!(
            handed_back,
            "{before} MiB before, {held} held, {} now",
            rss_anon_mib()
        );
    }
}
