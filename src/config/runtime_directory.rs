//! The validated user directory: filters with their placeholders checked, presets filled in.

use secrecy::SecretString;
use std::path::PathBuf;
use std::time::Duration;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LdapTls {
    /// `ldap://` without StartTLS (a loopback or otherwise private network only).
    None,
    /// `ldap://` upgraded with StartTLS before the first bind.
    StartTls,
    /// `ldaps://`.
    Ldaps,
}

/// Which kind of server the presets are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryKind {
    OpenLdap,
    ActiveDirectory,
}

#[derive(Debug, Clone)]
pub struct Ldap {
    pub url: String,
    pub tls: LdapTls,
    pub ca_file: Option<PathBuf>,
    pub bind_dn: String,
    pub bind_password: SecretString,
    pub timeout: Duration,
    pub pool_size: usize,
    pub kind: DirectoryKind,
    pub users: LdapUsers,
    pub groups: Option<LdapGroups>,
    pub refresh: Duration,
    pub link_by_email: bool,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapUsers {
    pub base_dn: String,
    /// With `{login}`.
    pub filter: String,
    pub id_attribute: String,
    pub email_attribute: String,
    pub name_attribute: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapGroups {
    pub base_dn: String,
    /// With `{dn}` and/or `{login}`.
    pub filter: String,
    pub name_attribute: String,
}

/// The presets of a kind: (users filter, id, email, name attributes, groups filter, group
/// name attribute).
pub struct Preset {
    pub users_filter: &'static str,
    pub id: &'static str,
    pub email: &'static str,
    pub name: &'static str,
    pub groups_filter: &'static str,
    pub group_name: &'static str,
}

impl DirectoryKind {
    pub fn preset(self) -> Preset {
        match self {
            DirectoryKind::OpenLdap => Preset {
                users_filter: "(&(objectClass=inetOrgPerson)(|(uid={login})(mail={login})))",
                id: "entryUUID",
                email: "mail",
                name: "cn",
                groups_filter: "(&(objectClass=groupOfNames)(member={dn}))",
                group_name: "cn",
            },
            // Disabled accounts (userAccountControl bit 2, ACCOUNTDISABLE) are not found; groups
            // are every group the user is in, nested ones too (LDAP_MATCHING_RULE_IN_CHAIN).
            DirectoryKind::ActiveDirectory => Preset {
                users_filter: "(&(objectCategory=person)(objectClass=user)(|(sAMAccountName={login})(userPrincipalName={login})(mail={login}))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
                id: "objectGUID",
                email: "mail",
                name: "displayName",
                groups_filter: "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:={dn}))",
                group_name: "cn",
            },
        }
    }
}
