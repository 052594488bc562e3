//! `minqing user …`: the accounts of `minqing serve`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use minqing::index::Scope;
use minqing::serve::users::{self, MIN_PASSWORD_CHARS};
use minqing::serve::{Role, Users};
use minqing::Error;

use super::Term;

#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
    /// Run folder whose accounts these are (default: the bundled sample's, reports/sample/).
    #[arg(long, value_name = "RUN_DIR", global = true)]
    pub out: Option<PathBuf>,
    /// Folder of the accounts and the audit log (default: RUN_DIR/serve/).
    #[arg(long, value_name = "DIR", global = true)]
    pub state: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create an account; prints a random password unless --password-stdin.
    Add {
        name: String,
        /// caseworker (search and read, masked) | analyst (also groups and briefs) | admin
        /// (also accounts, audit log, revealing personal data).
        #[arg(long)]
        role: String,
        /// Limit the account to these responsible units (repeat the flag for several).
        #[arg(long = "unit", value_name = "UNIT")]
        units: Vec<String>,
        /// Limit the account to these regions: a level name (凤城区) or a path (云川市/凤城区).
        #[arg(long = "region", value_name = "REGION")]
        regions: Vec<String>,
        /// Read the password from the first line of stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (random, printed; or --password-stdin); signs the account out.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop an account from signing in.
    Disable { name: String },
    /// Let a disabled account sign in again.
    Enable { name: String },
    /// List the accounts.
    List,
    /// Check that the audit log has not been edited (its hash chain is unbroken).
    AuditVerify,
}

fn password(from_stdin: bool) -> minqing::Result<(String, bool)> {
    if !from_stdin {
        return Ok((users::random_password()?, true));
    }
    if std::io::stdin().is_terminal() {
        eprintln!("password (one line; it is shown as you type):");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(Error::io("read", "stdin"))?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::Usage(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok((pw, false))
}

pub fn user(a: UserArgs, term: &Term) -> minqing::Result<()> {
    let (_, state) = super::serve::locate(a.out.as_deref(), a.state.as_deref())?;
    let mut accounts = Users::load(&state)?;
    match a.command {
        UserCommand::Add {
            name,
            role,
            units,
            regions,
            password_stdin,
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                Error::Usage(format!(
                    "unknown role `{role}` (caseworker, analyst or admin)"
                ))
            })?;
            let (pw, generated) = password(password_stdin)?;
            let scope = Scope { units, regions };
            accounts.add(&name, role, scope, &pw)?;
            accounts.save(&state)?;
            term.note(format!(
                "account `{name}` ({}) added to {}",
                role.zh(),
                Users::path(&state).display()
            ));
            if generated {
                println!("{name}\t{pw}");
            }
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let (pw, generated) = password(password_stdin)?;
            accounts.set_password(&name, &pw)?;
            accounts.save(&state)?;
            term.note(format!(
                "new password for `{name}`; a running server signs its sessions out"
            ));
            if generated {
                println!("{name}\t{pw}");
            }
        }
        UserCommand::Disable { name } => {
            let is_admin = accounts.get(&name).is_some_and(|u| u.role.is_admin());
            if is_admin && accounts.admins_enabled() <= 1 {
                return Err(Error::Usage(format!(
                    "`{name}` is the last enabled administrator; add another first"
                )));
            }
            accounts.set_disabled(&name, true)?;
            accounts.save(&state)?;
            term.note(format!("`{name}` disabled"));
        }
        UserCommand::Enable { name } => {
            accounts.set_disabled(&name, false)?;
            accounts.save(&state)?;
            term.note(format!("`{name}` enabled"));
        }
        UserCommand::List => {
            for u in &accounts.users {
                let scope = |v: &[String]| {
                    if v.is_empty() {
                        "-".to_string()
                    } else {
                        v.join(",")
                    }
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    u.name,
                    u.role.code(),
                    scope(&u.scope.units),
                    scope(&u.scope.regions),
                    if u.disabled { "disabled" } else { "enabled" }
                );
            }
        }
        UserCommand::AuditVerify => {
            let p = state.join(minqing::serve::audit::AUDIT_FILE);
            match minqing::serve::audit::verify(&p)? {
                Ok(n) => println!("{}: {n} events, chain intact", p.display()),
                Err(line) => {
                    return Err(Error::Usage(format!(
                        "`{}` was changed: the chain breaks at line {line} (that line or the one before it was edited or removed)",
                        p.display()
                    )))
                }
            }
        }
    }
    Ok(())
}
