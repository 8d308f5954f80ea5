//! The user directory beside the local users: an LDAP server (OpenLDAP, FreeIPA, Active
//! Directory) that signs people in by binding as their entry, and says which groups they are
//! in. `accounts` calls it at sign-in (`accounts::directory`), the upkeep to stay true
//! (`tasks::DirectoryRefresh`). Nothing here knows of HTTP or of the store.

pub mod filters;
pub mod ldap;

use async_trait::async_trait;
use secrecy::SecretString;

/// A person as the directory has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's stable id (`entryUUID`, or `objectGUID` as a UUID): survives renames.
    pub id: String,
    pub dn: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// Group names, sorted, without repeats (names outside the group alphabet left out).
    pub groups: Vec<String>,
}

/// What a sign-in against the directory found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// The entry `login` names, and the password bound as it.
    Entry(Entry),
    /// No entry (or more than one) answers to `login`.
    Unknown,
    /// The entry exists and refused the password (or the password is empty: never sent).
    WrongPassword,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirError {
    /// Connecting, TLS, or a timeout: try later (503), never "wrong password".
    #[error("the directory could not be reached: {0}")]
    Unreachable(String),
    /// The service account could not bind: the config's `bind_dn`/`bind_password`.
    #[error("the directory refused the service account: {0}")]
    ServiceAccount(String),
    /// Any other answer than success.
    #[error("the directory answered an error: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Directory: Send + Sync {
    /// Finds the entry `login` names with the service account, then binds as that entry's
    /// DN with `password` (never comparing attributes); its groups on success.
    async fn sign_in(&self, login: &str, password: &SecretString) -> Result<SignIn, DirError>;
    /// The entries of `ids` that the directory still has (and would still sign in), with
    /// their groups; an id missing from the answer is gone or disabled.
    async fn by_ids(&self, ids: &[String]) -> Result<Vec<Entry>, DirError>;
    /// Asks the server something through a service connection (bound now if none is pooled):
    /// `check-config`, and `/healthz` while nobody signs in.
    async fn check(&self) -> Result<(), DirError>;
}
