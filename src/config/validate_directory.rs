//! Validation of `directory.ldap`: the URL and its protection, the filters' placeholders, the
//! presets of the implementation, the service account's password from the environment.

use super::error::ConfigError;
use super::file_directory::{DirectoryFile, LdapFile};
use super::runtime_directory::*;
use std::path::Path;
use std::time::Duration;

pub(super) fn directory(
    f: DirectoryFile,
    base: &Path,
    errs: &mut Vec<ConfigError>,
) -> Option<Ldap> {
    f.ldap.and_then(|l| ldap(l, base, errs))
}

/// Whether a filter's parentheses balance and it is one parenthesised expression.
fn balanced(filter: &str) -> bool {
    let mut depth = 0i32;
    let mut escaped = false;
    for (i, c) in filter.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '(' if !escaped => depth += 1,
            ')' if !escaped => {
                depth -= 1;
                if depth < 0 || (depth == 0 && i + 1 != filter.len()) {
                    return false;
                }
            }
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    depth == 0 && filter.starts_with('(')
}

/// The first `{word}` in `filter` that is not one of `known`: a typo like `{username}` would
/// otherwise reach the server as text and match nobody.
fn unknown_placeholder<'a>(filter: &'a str, known: &[&str]) -> Option<&'a str> {
    let mut rest = filter;
    while let Some(start) = rest.find('{') {
        let after = &rest[start..];
        let end = after.find('}')?;
        let word = &after[..=end];
        if !known.contains(&word) {
            return Some(word);
        }
        rest = &after[end + 1..];
    }
    None
}

fn ldap(l: LdapFile, base: &Path, errs: &mut Vec<ConfigError>) -> Option<Ldap> {
    let before = errs.len();
    let at = |k: &str| format!("directory.ldap.{k}");
    let kind = match l.implementation.as_deref() {
        None | Some("openldap") => DirectoryKind::OpenLdap,
        Some("active_directory") => DirectoryKind::ActiveDirectory,
        Some(other) => {
            errs.push(ConfigError::at(
                at("implementation"),
                format!("{other:?} is not one of openldap, active_directory"),
            ));
            DirectoryKind::OpenLdap
        }
    };
    let preset = kind.preset();
    let start_tls = l.start_tls.unwrap_or(false);
    let tls = match (l.url.split_once("://").map(|(s, _)| s), start_tls) {
        (Some("ldap"), false) => LdapTls::None,
        (Some("ldap"), true) => LdapTls::StartTls,
        (Some("ldaps"), false) => LdapTls::Ldaps,
        (Some("ldaps"), true) => {
            errs.push(ConfigError::at(
                at("start_tls"),
                "an ldaps:// connection is TLS already; start_tls is for ldap://",
            ));
            LdapTls::Ldaps
        }
        _ => {
            errs.push(ConfigError::at(
                at("url"),
                format!("{:?} is not an ldap:// or ldaps:// URL", l.url),
            ));
            LdapTls::None
        }
    };
    let ca_file = l.ca_file.map(|f| base.join(f));
    if let Some(f) = &ca_file {
        use rustls_pki_types::pem::PemObject;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(f)
            .map(|it| it.filter_map(Result::ok).count())
            .unwrap_or(0);
        if certs == 0 {
            errs.push(ConfigError::at(
                at("ca_file"),
                format!("{}: no PEM certificate to trust", f.display()),
            ));
        }
    }
    let bind_password = match l
        .bind_password
        .as_ref()
        .map(|p| super::env::expand(secrecy::ExposeSecret::expose_secret(p)))
    {
        Some(Ok(p)) => secrecy::SecretString::from(p),
        Some(Err(why)) => {
            errs.push(ConfigError::at(at("bind_password"), why));
            secrecy::SecretString::from(String::new())
        }
        None => {
            errs.push(ConfigError::at(
                at("bind_password"),
                "the service account's password is needed (\"${LDAP_BIND_PASSWORD}\" reads the environment)",
            ));
            secrecy::SecretString::from(String::new())
        }
    };
    if l.bind_dn.trim().is_empty() {
        errs.push(ConfigError::at(
            at("bind_dn"),
            "name the service account's DN",
        ));
    }
    let users_filter = l
        .users
        .filter
        .unwrap_or_else(|| preset.users_filter.to_string());
    if !users_filter.contains("{login}") {
        errs.push(ConfigError::at(
            at("users.filter"),
            "must contain {login} (what the person typed, escaped)",
        ));
    }
    if let Some(p) = unknown_placeholder(&users_filter, &["{login}"]) {
        errs.push(ConfigError::at(
            at("users.filter"),
            format!("{p} is no placeholder here; the users filter knows {{login}}"),
        ));
    }
    if !balanced(&users_filter) {
        errs.push(ConfigError::at(
            at("users.filter"),
            "is not one LDAP filter in balanced parentheses",
        ));
    }
    let attrs = l.users.attributes;
    let users = LdapUsers {
        base_dn: l.users.base_dn,
        filter: users_filter,
        id_attribute: attrs.id.unwrap_or_else(|| preset.id.into()),
        email_attribute: attrs.email.unwrap_or_else(|| preset.email.into()),
        name_attribute: attrs.name.unwrap_or_else(|| preset.name.into()),
    };
    let groups = l.groups.map(|g| {
        let filter = g.filter.unwrap_or_else(|| preset.groups_filter.to_string());
        if !(filter.contains("{dn}") || filter.contains("{login}")) {
            errs.push(ConfigError::at(
                at("groups.filter"),
                "must contain {dn} (the user's entry) or {login}",
            ));
        }
        if let Some(p) = unknown_placeholder(&filter, &["{dn}", "{login}"]) {
            errs.push(ConfigError::at(
                at("groups.filter"),
                format!("{p} is no placeholder here; the groups filter knows {{dn}} and {{login}}"),
            ));
        }
        if !balanced(&filter) {
            errs.push(ConfigError::at(
                at("groups.filter"),
                "is not one LDAP filter in balanced parentheses",
            ));
        }
        LdapGroups {
            base_dn: g.base_dn,
            filter,
            name_attribute: g.name_attribute.unwrap_or_else(|| preset.group_name.into()),
        }
    });
    let refresh = l.refresh.map(|d| d.0).unwrap_or(Duration::from_secs(300));
    if refresh < Duration::from_secs(1) {
        errs.push(ConfigError::at(at("refresh"), "must be at least 1s"));
    }
    let pool_size = l.pool_size.unwrap_or(4);
    if !(1..=64).contains(&pool_size) {
        errs.push(ConfigError::at(at("pool_size"), "between 1 and 64"));
    }
    let role = l.role.unwrap_or_else(|| "user".into());
    if role.trim().is_empty() {
        errs.push(ConfigError::at(at("role"), "must not be empty"));
    }
    (errs.len() == before).then(|| Ldap {
        url: l.url,
        tls,
        ca_file,
        bind_dn: l.bind_dn,
        bind_password,
        timeout: l.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(5)),
        pool_size,
        kind,
        users,
        groups,
        refresh,
        link_by_email: l.link_by_email.unwrap_or(false),
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<crate::config::Config, Vec<ConfigError>> {
        crate::config::from_yaml(yaml, &Default::default(), Path::new("."))
    }

    #[test]
    fn presets_fill_what_is_not_written_and_placeholders_are_required() {
        std::env::set_var("PORTCULLIS_TEST_LDAP_PW", "s3cret");
        let c = parse("directory: { ldap: { url: \"ldaps://ad.example.com\", implementation: active_directory, bind_dn: \"cn=svc,dc=example,dc=com\", bind_password: \"${PORTCULLIS_TEST_LDAP_PW}\", users: { base_dn: \"dc=example,dc=com\" }, groups: { base_dn: \"dc=example,dc=com\" } } }").unwrap();
        let l = c.directory.unwrap();
        assert_eq!(
            (l.tls, l.kind),
            (LdapTls::Ldaps, DirectoryKind::ActiveDirectory)
        );
        assert_eq!(l.users.id_attribute, "objectGUID");
        assert!(l
            .users
            .filter
            .contains("userAccountControl:1.2.840.113556.1.4.803:=2"));
        assert!(l
            .groups
            .unwrap()
            .filter
            .contains("member:1.2.840.113556.1.4.1941:={dn}"));
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&l.bind_password),
            "s3cret"
        );
        let errs = parse("directory: { ldap: { url: \"http://x\", start_tls: true, bind_dn: \"\", users: { base_dn: \"dc=x\", filter: \"(uid=alice)\" }, groups: { base_dn: \"dc=x\", filter: \"(member=x\" } } }").unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        for want in [
            "directory.ldap.url",
            "directory.ldap.bind_password",
            "directory.ldap.bind_dn",
            "directory.ldap.users.filter: must contain {login}",
            "directory.ldap.groups.filter: must contain {dn}",
            "directory.ldap.groups.filter: is not one LDAP filter",
        ] {
            assert!(
                text.iter().any(|t| t.starts_with(want)),
                "{want} in {text:#?}"
            );
        }
        // A typo'd placeholder, and a password from a variable that is not set, are named.
        std::env::remove_var("PORTCULLIS_TEST_LDAP_UNSET");
        let errs = parse("directory: { ldap: { url: \"ldap://x\", bind_dn: \"cn=svc\", bind_password: \"${PORTCULLIS_TEST_LDAP_UNSET}\", users: { base_dn: \"dc=x\", filter: \"(&(uid={login})(mail={username}))\" }, groups: { base_dn: \"dc=x\", filter: \"(member={user_dn})\" } } }").unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        for want in [
            "directory.ldap.users.filter: {username} is no placeholder here",
            "directory.ldap.groups.filter: {user_dn} is no placeholder here",
            "directory.ldap.bind_password",
        ] {
            assert!(
                text.iter().any(|t| t.starts_with(want)),
                "{want} in {text:#?}"
            );
        }
        assert!(
            text.iter()
                .any(|t| t.contains("PORTCULLIS_TEST_LDAP_UNSET")),
            "the variable is named: {text:#?}"
        );
    }

    #[test]
    fn placeholders_are_found() {
        assert_eq!(unknown_placeholder("(uid={login})", &["{login}"]), None);
        assert_eq!(
            unknown_placeholder("(a={x})(b={login})", &["{login}"]),
            Some("{x}")
        );
        assert_eq!(unknown_placeholder("(a={login}){", &["{login}"]), None);
    }

    #[test]
    fn filters_balance() {
        assert!(balanced("(uid={login})"));
        assert!(balanced("(&(a=b)(|(c=\\28)(d=e)))"));
        for bad in ["uid=x", "(a=b)(c=d)", "((a=b)", "(a=b))", "(a=\\)"] {
            assert!(!balanced(bad), "{bad}");
        }
    }
}
