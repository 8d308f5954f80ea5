//! The identity headers: one list, every name derived from `identity_headers.prefix`. The proxy
//! strips the prefix, the forward-auth answers carry every name of the list, and the edge
//! configs (`portcullis edge-config`) are generated from it, so a header added here reaches
//! all three without a second list to keep.

use super::error::ConfigError;
use super::file;
use http::HeaderName;

/// One header the gateway can send an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    UserId,
    Email,
    Name,
    Role,
    /// The user's groups, sorted and comma-joined.
    Groups,
    SessionId,
    /// How the session's sign-in was made (RFC 8176 names, comma-separated).
    Amr,
    /// For an API key: its id, and its scopes (space-separated).
    KeyId,
    Scopes,
    /// The user's picture URL (sent with `identity_headers.picture: true`).
    Picture,
    /// The signed identity assertion (sent to upstreams with `assertion: true`).
    Assertion,
}

impl Field {
    /// Every header, in the order the answers list them.
    pub const ALL: [Field; 11] = [
        Field::UserId,
        Field::Email,
        Field::Name,
        Field::Role,
        Field::Groups,
        Field::SessionId,
        Field::Amr,
        Field::KeyId,
        Field::Scopes,
        Field::Picture,
        Field::Assertion,
    ];

    /// The name after the prefix.
    pub fn suffix(self) -> &'static str {
        match self {
            Field::UserId => "User-Id",
            Field::Email => "Email",
            Field::Name => "Name",
            Field::Role => "Role",
            Field::Groups => "Groups",
            Field::SessionId => "Session-Id",
            Field::Amr => "Amr",
            Field::KeyId => "Key-Id",
            Field::Scopes => "Scopes",
            Field::Picture => "Picture",
            Field::Assertion => "Assertion",
        }
    }
}

pub const DEFAULT_PREFIX: &str = "X-Auth-";

#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    /// Lower-cased prefix; any client header starting with it is removed.
    pub prefix: String,
    /// The prefix as the operator wrote it, for the names edge configs show.
    pub prefix_as_written: String,
    /// Indexed by `Field as usize`.
    names: [HeaderName; Field::ALL.len()],
    pub forward_token: bool,
    /// Whether the user's picture URL is sent (its header is in the list either way, so a
    /// client's copy is replaced at every edge).
    pub picture: bool,
}

impl IdentityHeaders {
    /// The name of one header (lower-case, as HTTP/2 and the `http` crate keep names).
    pub fn name(&self, f: Field) -> &HeaderName {
        &self.names[f as usize]
    }

    /// Every header of the list, with its name.
    pub fn all(&self) -> impl Iterator<Item = (Field, &HeaderName)> {
        Field::ALL.into_iter().map(|f| (f, self.name(f)))
    }

    /// The name as people write it (`X-Auth-User-Id`), for configs and documentation.
    pub fn written(&self, f: Field) -> String {
        format!("{}{}", self.prefix_as_written, f.suffix())
    }

    /// Built from a prefix the caller has checked (see [`from_file`]).
    fn with_prefix(prefix: &str, forward_token: bool, picture: bool) -> Result<Self, ()> {
        if prefix.is_empty() {
            return Err(());
        }
        let mut names = Vec::with_capacity(Field::ALL.len());
        for f in Field::ALL {
            let name = format!("{prefix}{}", f.suffix()).to_ascii_lowercase();
            names.push(HeaderName::from_bytes(name.as_bytes()).map_err(|_| ())?);
        }
        Ok(IdentityHeaders {
            prefix: prefix.to_ascii_lowercase(),
            prefix_as_written: prefix.to_string(),
            names: names.try_into().map_err(|_| ())?,
            forward_token,
            picture,
        })
    }
}

pub(super) fn from_file(
    h: file::IdentityHeadersFile,
    errs: &mut Vec<ConfigError>,
) -> IdentityHeaders {
    let prefix = h.prefix.unwrap_or_else(|| DEFAULT_PREFIX.into());
    let (forward_token, picture) = (h.forward_token.unwrap_or(false), h.picture.unwrap_or(false));
    IdentityHeaders::with_prefix(&prefix, forward_token, picture).unwrap_or_else(|()| {
        errs.push(ConfigError::at(
            "identity_headers.prefix",
            format!("{prefix:?} cannot start an HTTP header name"),
        ));
        // The default prefix is valid, so this ends; the rest of the config is still checked.
        let default = file::IdentityHeadersFile {
            prefix: None,
            forward_token: Some(forward_token),
            picture: Some(picture),
        };
        from_file(default, errs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_comes_from_the_prefix() {
        let mut errs = Vec::new();
        let h = from_file(
            file::IdentityHeadersFile {
                prefix: Some("X-Portcullis-".into()),
                ..Default::default()
            },
            &mut errs,
        );
        assert!(errs.is_empty());
        assert_eq!(h.all().count(), Field::ALL.len());
        for (f, name) in h.all() {
            assert!(name.as_str().starts_with("x-portcullis-"), "{name}");
            assert_eq!(h.written(f).to_ascii_lowercase(), name.as_str());
        }
        assert_eq!(h.name(Field::Assertion), "x-portcullis-assertion");
        assert_eq!(h.written(Field::UserId), "X-Portcullis-User-Id");
    }

    #[test]
    fn a_prefix_that_cannot_start_a_name_is_refused() {
        for bad in ["", "X Auth-", "X-Auth:"] {
            let mut errs = Vec::new();
            let h = from_file(
                file::IdentityHeadersFile {
                    prefix: Some(bad.into()),
                    picture: Some(true),
                    ..Default::default()
                },
                &mut errs,
            );
            assert_eq!(errs.len(), 1, "{bad:?}");
            assert_eq!(h.prefix, "x-auth-");
            assert!(h.picture, "the other settings stay");
        }
    }
}
