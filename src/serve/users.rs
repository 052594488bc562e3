//! Accounts: `users.json` in the server's state folder, written only by `minqing user …` and the
//! administrator's account page. Passwords are stored as Argon2id hashes (PHC strings with their
//! own random salt); the file is replaced atomically and readable by its owner only.

use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::index::Scope;

/// File name of the accounts inside the state folder.
pub const USERS_FILE: &str = "users.json";

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Searches and reads petitions, personal data masked.
    Caseworker,
    /// Also sees the case groups and the briefs.
    Analyst,
    /// Also manages accounts, reads the audit log and may reveal one petition's personal data.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Caseworker, Role::Analyst, Role::Admin];

    pub fn code(self) -> &'static str {
        match self {
            Role::Caseworker => "caseworker",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Role::Caseworker => "经办人员",
            Role::Analyst => "分析人员",
            Role::Admin => "管理员",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == s.trim() || r.zh() == s.trim())
    }

    /// Case groups and briefs.
    pub fn sees_analysis(self) -> bool {
        self >= Role::Analyst
    }

    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

/// One account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    pub role: Role,
    /// The units and regions this account is limited to (empty: all petitions).
    #[serde(default)]
    pub scope: Scope,
    /// Argon2id PHC string.
    pub password: String,
    #[serde(default)]
    pub disabled: bool,
    pub created: String,
}

/// Every account, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Users {
    pub users: Vec<Account>,
}

/// A random password for a new account or a reset: 16 characters from an alphabet without
/// look-alikes (0/O, 1/l/I), about 90 bits.
pub fn random_password() -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// Fills `buf` from the operating system's random source.
pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Usage(format!("no random numbers from the OS: {e}")))
}

/// An account name: 1–32 letters (any script), digits, `_`, `.` or `-`.
pub fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=32).contains(&n)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "_.-".contains(c))
}

/// The Argon2id hash of a password (argon2's defaults: 19 MiB, 2 passes — OWASP's minimum).
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Usage(format!("salt: {e}")))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::Usage(format!("hashing the password failed: {e}")))?
        .to_string())
}

/// Whether `password` matches the stored hash (a damaged hash never matches).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Shortest password `user add` / `passwd` accept from stdin.
pub const MIN_PASSWORD_CHARS: usize = 10;

impl Users {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(USERS_FILE)
    }

    /// Reads the accounts (no file: none).
    pub fn load(state_dir: &Path) -> Result<Users> {
        let p = Users::path(state_dir);
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::BadInput {
                path: p,
                message: format!("not a minqing accounts file: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Users::default()),
            Err(e) => Err(Error::io("read", p)(e)),
        }
    }

    /// Writes the accounts atomically (the temporary file is created owner-only, and the rename
    /// keeps that mode).
    pub fn save(&self, state_dir: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self)?;
        json.push(b'\n');
        crate::fsutil::write_atomic(&Users::path(state_dir), &json)
    }

    pub fn get(&self, name: &str) -> Option<&Account> {
        self.users.iter().find(|u| u.name == name)
    }

    fn get_mut(&mut self, name: &str) -> Result<&mut Account> {
        self.users
            .iter_mut()
            .find(|u| u.name == name)
            .ok_or_else(|| Error::Usage(format!("no account `{name}`")))
    }

    /// Adds an account with this password.
    pub fn add(&mut self, name: &str, role: Role, scope: Scope, password: &str) -> Result<()> {
        if !valid_name(name) {
            return Err(Error::Usage(format!(
                "`{name}` is not a valid account name (1–32 letters, digits, `_`, `.`, `-`)"
            )));
        }
        if self.get(name).is_some() {
            return Err(Error::Usage(format!("account `{name}` already exists")));
        }
        self.users.push(Account {
            name: name.to_string(),
            role,
            scope,
            password: hash_password(password)?,
            disabled: false,
            created: chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        });
        self.users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    pub fn set_password(&mut self, name: &str, password: &str) -> Result<()> {
        let hash = hash_password(password)?;
        self.get_mut(name)?.password = hash;
        Ok(())
    }

    pub fn set_disabled(&mut self, name: &str, disabled: bool) -> Result<()> {
        self.get_mut(name)?.disabled = disabled;
        Ok(())
    }

    /// Whether an enabled administrator remains (the last one is never disabled).
    pub fn admins_enabled(&self) -> usize {
        self.users
            .iter()
            .filter(|u| u.role.is_admin() && !u.disabled)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_and_verify() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b, "each hash has its own salt");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("correct hors", &a));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn accounts_round_trip_and_refuse_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut u = Users::default();
        u.add(
            "wang",
            Role::Caseworker,
            Scope {
                units: vec!["凤城区城管局".into()],
                regions: vec![],
            },
            "0123456789ab",
        )
        .unwrap();
        assert!(u.add("wang", Role::Admin, Scope::default(), "x").is_err());
        assert!(u.add("a b", Role::Admin, Scope::default(), "x").is_err());
        assert!(u.add("../x", Role::Admin, Scope::default(), "x").is_err());
        u.save(dir.path()).unwrap();
        let back = Users::load(dir.path()).unwrap();
        assert_eq!(back, u);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(Users::path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "accounts file readable by others: {mode:o}"
            );
        }
        assert!(Users::load(&dir.path().join("none"))
            .unwrap()
            .users
            .is_empty());
    }

    #[test]
    fn random_passwords_differ() {
        let a = random_password().unwrap();
        assert_eq!(a.chars().count(), 16);
        assert_ne!(a, random_password().unwrap());
    }
}
