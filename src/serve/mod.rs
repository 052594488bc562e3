//! `minqing serve`: the petition office's own web pages over a run folder — search, a page per
//! petition, the case groups, the briefs and the run's status — for the people who will never
//! open a terminal.
//!
//! Closed by default: it listens on 127.0.0.1 unless told otherwise; every page needs an account
//! (`minqing user add`), and what an account sees depends on its role ([`users::Role`]) and the
//! units or regions it is limited to ([`crate::index::Scope`]); every search, petition opened,
//! export and reveal of personal data is written to an append-only audit log ([`audit`]).
//! Petition text is escaped everywhere (the templates never mark text safe) and a
//! Content-Security-Policy forbids inline script and outside resources ([`app::CSP`]).
//!
//! The pages call the library's own functions — [`crate::index`] search and similar,
//! [`crate::grouplist`], [`crate::pipeline::brief_of`] — over a [`snapshot::Snapshot`] of the last
//! complete run, switched when the next run finishes.
//!
//! ```text
//! app       router, shared state, security headers, errors, the poll that switches snapshots
//! auth      sessions, CSRF, sign-in rate limit, the signed-in reader
//! users     accounts file (Argon2id)          audit     the append-only log
//! snapshot  the run folder as loaded          scope     case groups as a restricted reader sees them
//! view      templates and shared view helpers export    xlsx/csv downloads
//! login, search, petition, groups, briefs, status, admin: one file per page
//! ```

mod admin;
pub mod app;
mod assets;
pub mod audit;
pub mod auth;
mod briefs;
mod export;
mod groups;
mod login;
mod petition;
mod scope;
mod search;
pub mod snapshot;
mod status;
pub mod users;
mod view;

pub use app::{router, run, App, Options};
pub use users::{Role, Users};

/// The state folder of a run folder when none is named: `RUN_DIR/serve/`.
pub fn default_state_dir(run_dir: &std::path::Path) -> std::path::PathBuf {
    run_dir.join("serve")
}

#[cfg(test)]
mod tests;
