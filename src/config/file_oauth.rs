//! The `oauth:` section of the config file.

use super::duration::HumanDuration;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OAuthFile {
    pub success_url: Option<String>,
    /// Create a local user on first sign-in.
    pub allow_signup: Option<bool>,
    /// Link a first sign-in to an existing account with the same, provider-verified email.
    pub link_by_verified_email: Option<bool>,
    pub code_ttl: Option<HumanDuration>,
    #[serde(default)]
    pub refresh: RefreshFile,
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderFile>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RefreshFile {
    pub cookie: Option<String>,
    /// Sliding lifetime of a refresh token.
    pub ttl: Option<HumanDuration>,
    /// Absolute cap on a session kept alive by refreshing.
    pub absolute: Option<HumanDuration>,
    /// How long after a rotation the old token still yields the same successor.
    pub grace: Option<HumanDuration>,
    pub rotate: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    /// `mock`, `oidc`, `google`, `auth0`, `github`.
    pub kind: String,
    pub client_id: String,
    /// `${ENV_VAR}` is replaced from the environment.
    pub client_secret: Option<secrecy::SecretString>,
    pub issuer: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// Role of users created by their first sign-in here.
    pub role: Option<String>,
    /// Extra access-token claims: `{ value: ... }` or `{ from: provider_claim }`.
    #[serde(default)]
    pub claims: BTreeMap<String, ClaimFile>,
    /// Where the provider says which groups the user is in: `{ from: "/realm_access/roles" }`.
    pub groups: Option<GroupsClaimFile>,
    #[serde(default)]
    pub personas: Vec<PersonaFile>,
    /// GitHub (Enterprise): where to authorize, exchange codes, and read the user.
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    pub api_url: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ClaimFile {
    pub value: Option<serde_json::Value>,
    pub from: Option<String>,
}

/// `groups: { from: ... }`: an RFC 6901 JSON pointer into the ID token's and userinfo's
/// claims (a bare name is a top-level claim), naming a string or a list of strings.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct GroupsClaimFile {
    pub from: String,
}

/// A mock provider's persona. Any other key is a claim of its own, delivered in the ID token
/// and from userinfo (`groups: [eng]`, `realm_access: { roles: [editor] }`), so a provider's
/// claims can be tried locally; hence no `deny_unknown_fields` here.
#[derive(Debug, Deserialize, Clone)]
pub struct PersonaFile {
    pub sub: String,
    pub email: String,
    pub name: String,
    pub picture: Option<String>,
    pub email_verified: Option<bool>,
    #[serde(flatten)]
    pub claims: BTreeMap<String, serde_json::Value>,
}
