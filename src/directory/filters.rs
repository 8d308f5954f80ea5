//! LDAP filters from the config's templates: every value put in is escaped (RFC 4515), so what
//! a person types can only ever be a value, never filter syntax.

use ldap3::ldap_escape;

/// The users filter for `login`.
pub fn user(template: &str, login: &str) -> String {
    template.replace("{login}", &ldap_escape(login))
}

/// The groups filter for the entry `dn` (a DN is a value here: escaped like any other) and the
/// `login` it was found by.
pub fn groups(template: &str, dn: &str, login: &str) -> String {
    template
        .replace("{dn}", &ldap_escape(dn))
        .replace("{login}", &ldap_escape(login))
}

/// The entries with any of `ids` that the users filter still takes (its `{login}` read as
/// "any"), so an entry since disabled (Active Directory's filter excludes those) is not
/// found. `binary`: the id attribute holds bytes (`objectGUID`), compared byte by byte.
pub fn by_ids(template: &str, id_attribute: &str, ids: &[String], binary: bool) -> String {
    let any: String = ids
        .iter()
        .map(|id| {
            let value = if binary {
                guid_value(id)
            } else {
                ldap_escape(id.as_str()).into_owned()
            };
            format!("({id_attribute}={value})")
        })
        .collect();
    format!("(&(|{any}){})", template.replace("{login}", "*"))
}

/// An Active Directory `objectGUID` (as the UUID string [`guid_string`] made) as the filter
/// value of its 16 bytes, each escaped. A string that is no UUID matches nothing.
fn guid_value(id: &str) -> String {
    match uuid::Uuid::parse_str(id) {
        Ok(u) => u
            .to_bytes_le()
            .iter()
            .map(|b| format!("\\{b:02x}"))
            .collect(),
        Err(_) => "\\00".repeat(17),
    }
}

/// An `objectGUID`'s bytes as the UUID it spells (Active Directory stores the first three
/// fields little-endian).
pub fn guid_string(bytes: &[u8]) -> Option<String> {
    uuid::Uuid::from_slice_le(bytes).ok().map(|u| u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DirectoryKind;

    #[test]
    fn what_a_person_types_is_only_ever_a_value() {
        let t = DirectoryKind::OpenLdap.preset().users_filter;
        assert_eq!(
            user(t, "ann"),
            "(&(objectClass=inetOrgPerson)(|(uid=ann)(mail=ann)))"
        );
        for (typed, escaped) in [
            ("*", "\\2a"),
            ("*)(uid=*", "\\2a\\29\\28uid=\\2a"),
            (")(|(uid=*", "\\29\\28|\\28uid=\\2a"),
            ("a\0b", "a\\00b"),
            ("back\\slash", "back\\5cslash"),
            ("zoë", "zoë"),
        ] {
            assert_eq!(
                user("(uid={login})", typed),
                format!("(uid={escaped})"),
                "{typed:?}"
            );
        }
    }

    #[test]
    fn active_directory_presets_find_enabled_people_and_nested_groups() {
        let p = DirectoryKind::ActiveDirectory.preset();
        assert_eq!(
            user(p.users_filter, "ann@corp.example"),
            "(&(objectCategory=person)(objectClass=user)(|(sAMAccountName=ann@corp.example)(userPrincipalName=ann@corp.example)(mail=ann@corp.example))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
        );
        assert_eq!(
            groups(p.groups_filter, "CN=Ann (Ops),OU=People,DC=corp,DC=example", "ann"),
            "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=Ann \\28Ops\\29,OU=People,DC=corp,DC=example))"
        );
        // objectGUID: the bytes, first three fields little-endian, each escaped.
        let id = "01020304-0506-0708-090a-0b0c0d0e0f10";
        let f = by_ids(p.users_filter, p.id, &[id.to_string()], true);
        assert!(
            f.starts_with("(&(|(objectGUID=\\04\\03\\02\\01\\06\\05\\08\\07\\09\\0a\\0b\\0c\\0d\\0e\\0f\\10))(&(objectCategory=person)"),
            "{f}"
        );
        assert!(
            f.contains("(sAMAccountName=*)")
                && f.contains("(!(userAccountControl:1.2.840.113556.1.4.803:=2))"),
            "{f}"
        );
        assert_eq!(
            guid_string(&[4, 3, 2, 1, 6, 5, 8, 7, 9, 10, 11, 12, 13, 14, 15, 16]).as_deref(),
            Some(id)
        );
        assert!(guid_string(&[1, 2, 3]).is_none());
    }

    #[test]
    fn ids_are_escaped_and_joined() {
        let f = by_ids(
            "(&(objectClass=inetOrgPerson)(uid={login}))",
            "entryUUID",
            &["a".into(), "b*".into()],
            false,
        );
        assert_eq!(
            f,
            "(&(|(entryUUID=a)(entryUUID=b\\2a))(&(objectClass=inetOrgPerson)(uid=*)))"
        );
    }
}
