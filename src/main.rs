//! `minqing`: command-line entry point. The work happens in the library; this file turns flags
//! into calls and errors into exit codes (0 ok, 1 failed run, 2 usage error).

mod cli;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before the work allocates: see `sys::use_small_pages` (16% of a run's CPU went to zeroing
    // huge pages).
    minqing::sys::use_small_pages();
    hand_back_freed_memory();
    quiet_broken_pipe();
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", cli::chain(&err));
            ExitCode::FAILURE
        }
    }
}

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
fn hand_back_freed_memory() {
    // SAFETY: sets one integer option, before any other thread runs; mimalloc reads it at each
    // purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

/// How long freed memory waits before mimalloc hands it back (see [`hand_back_freed_memory`]).
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// `minqing groups | head` closes stdout early; that is the reader's choice, not a crash, so a
/// print that fails on a closed pipe ends the process quietly instead of panicking. A panic the
/// importer contains (a third-party parser failing on a corrupt file) becomes an error line of its
/// own, so it is not printed here either.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if minqing::ingest::panic_is_contained() {
            return;
        }
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
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
}
