//! `minqing serve`: the web pages over a run folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use minqing::serve::{users, Role, Users};

use super::Term;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Run folder to serve (default: the bundled sample's, reports/sample/, run first if it
    /// holds no complete run).
    #[arg(long, value_name = "RUN_DIR")]
    pub out: Option<PathBuf>,
    /// Folder of the accounts and the audit log (default: RUN_DIR/serve/).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Address to listen on. Only this machine can connect unless you name another address
    /// (the pages are plain HTTP: put a TLS proxy in front on a network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Seconds between checks of the run folder for a finished run.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub poll: f64,
}

/// The run folder and state folder a `serve` or `user` command works on.
pub fn locate(out: Option<&Path>, state: Option<&Path>) -> minqing::Result<(PathBuf, PathBuf)> {
    let run_dir = match out {
        Some(o) => o.to_path_buf(),
        None => sample_run_dir()?,
    };
    let state = state.map_or_else(
        || minqing::serve::default_state_dir(&run_dir),
        Path::to_path_buf,
    );
    Ok((run_dir, state))
}

/// The bundled sample's run folder (where `minqing run` with no argument writes).
fn sample_run_dir() -> minqing::Result<PathBuf> {
    let p = Path::new(super::data::DEFAULT_PIPELINE);
    if !p.exists() {
        return Err(minqing::Error::Usage(format!(
            "no --out given and `{}` not found: run from the minqing folder or name a run folder with --out",
            super::data::DEFAULT_PIPELINE
        )));
    }
    Ok(minqing::config::PipelineConfig::load(p)?.out_dir(None))
}

pub fn serve(a: ServeArgs, term: &Term) -> minqing::Result<()> {
    let (run_dir, state) = locate(a.out.as_deref(), a.state.as_deref())?;
    if a.out.is_none() && !run_dir.join("run.json").exists() {
        term.note(format!(
            "{} holds no complete run yet: running the bundled sample first …",
            run_dir.display()
        ));
        super::data::run(
            super::data::RunArgs {
                pipeline: None,
                input: Vec::new(),
                out: None,
                fresh: false,
                regroup: false,
                show_personal_data: false,
                tagged: None,
                from_store: false,
                no_index: false,
                object_tasks: None,
                stage_peaks: false,
            },
            term,
        )?;
    }
    if !run_dir.is_dir() {
        return Err(minqing::Error::Usage(format!(
            "`{}` is not a run folder: run `minqing run --out {}` first",
            run_dir.display(),
            run_dir.display()
        )));
    }
    first_admin(&state, &a.addr, term)?;
    if !a.addr.ip().is_loopback() {
        term.note(format!(
            "note: listening on {} — other machines can connect; the pages are plain HTTP, so put a TLS proxy in front",
            a.addr
        ));
    }
    let opts = minqing::serve::Options {
        run_dir: run_dir.clone(),
        state_dir: state.clone(),
        addr: a.addr,
        poll: Duration::from_secs_f64(a.poll.clamp(0.2, 3600.0)),
    };
    minqing::serve::run(&opts, |addr| {
        term.note(format!(
            "serving {} (accounts and audit log in {}); Ctrl-C stops",
            run_dir.display(),
            state.display()
        ));
        // The address on stdout: with `--addr 127.0.0.1:0` a script learns the port here.
        println!("http://{addr}/");
    })
}

/// With no account yet, a server on this machine only gets a first administrator with a random
/// password, printed once; one listening on a network refuses to start without accounts.
fn first_admin(state: &Path, addr: &SocketAddr, term: &Term) -> minqing::Result<()> {
    let mut accounts = Users::load(state)?;
    if !accounts.users.is_empty() {
        return Ok(());
    }
    if !addr.ip().is_loopback() {
        return Err(minqing::Error::Usage(format!(
            "no accounts yet: create an administrator first with `minqing user add NAME --role admin --state {}`",
            state.display()
        )));
    }
    let password = users::random_password()?;
    accounts.add("admin", Role::Admin, Default::default(), &password)?;
    accounts.save(state)?;
    // Shown even with --quiet: without it nobody can sign in.
    eprintln!(
        "created the first administrator: name `admin`, password `{password}` (shown only now; change it with `minqing user passwd admin`, add accounts with `minqing user add`)"
    );
    let _ = term;
    Ok(())
}
