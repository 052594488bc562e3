//! `minqing`: command-line entry point. The work happens in the library; this file turns flags
//! into calls and errors into exit codes (0 ok, 1 failed run, 2 usage error).

mod alloc;
mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before the work allocates: see `sys::use_small_pages` (16% of a run's CPU went to zeroing
    // huge pages).
    minqing::sys::use_small_pages();
    alloc::hand_back_freed_memory();
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
