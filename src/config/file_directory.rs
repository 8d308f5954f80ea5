//! The `directory:` section of the config file: a user directory beside the local users.

use super::duration::HumanDuration;
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DirectoryFile {
    pub ldap: Option<LdapFile>,
}

/// An LDAP server (OpenLDAP, FreeIPA, Active Directory): sign-in by bind, groups from it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapFile {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before anything is sent.
    pub start_tls: Option<bool>,
    /// PEM certificates to trust for the server (default: the system's).
    pub ca_file: Option<String>,
    /// The service account that searches (`cn=portcullis,ou=services,dc=example,dc=com`).
    pub bind_dn: String,
    /// Its password: `"${LDAP_BIND_PASSWORD}"` reads the environment (or LDAP_BIND_PASSWORD_FILE).
    pub bind_password: Option<secrecy::SecretString>,
    /// Per operation (default 5s).
    pub timeout: Option<HumanDuration>,
    /// Service-account connections kept open (default 4).
    pub pool_size: Option<usize>,
    /// `openldap` (default) or `active_directory`: presets for the filters and attributes.
    pub implementation: Option<String>,
    pub users: LdapUsersFile,
    pub groups: Option<LdapGroupsFile>,
    /// How often the directory users with live sessions are read again (default 5 minutes).
    pub refresh: Option<HumanDuration>,
    /// A first sign-in may take over the local account with the same email (default false).
    pub link_by_email: Option<bool>,
    /// Role of the local users made by a first sign-in (default `user`).
    pub role: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapUsersFile {
    pub base_dn: String,
    /// With `{login}`: what the person typed, escaped (RFC 4515).
    pub filter: Option<String>,
    #[serde(default)]
    pub attributes: LdapAttributesFile,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LdapAttributesFile {
    /// The entry's stable id (`entryUUID`; `objectGUID` on Active Directory).
    pub id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapGroupsFile {
    pub base_dn: String,
    /// With `{dn}` (the user's entry) and/or `{login}`.
    pub filter: Option<String>,
    pub name_attribute: Option<String>,
}
