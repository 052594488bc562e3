//! `minqing`: command-line entry point. The work happens in the library; this file turns flags
//! into calls and errors into exit codes (0 ok, 1 failed run, 2 usage error).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", cli::chain(&err));
            ExitCode::FAILURE
        }
    }
}
