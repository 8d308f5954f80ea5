//! The `oidc_provider:` section of the config file: the gateway as an OpenID provider for apps
//! that speak OpenID Connect. `validate_oidc.rs` turns it into [`super::OidcProvider`].

use super::duration::HumanDuration;
use super::file_policy::BlockFile;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderFile {
    pub enabled: Option<bool>,
    /// Default `server.public_url`.
    pub issuer: Option<String>,
    /// The prefix the endpoints live under (default `/oidc`).
    pub path: Option<String>,
    /// `RS256` (default), `ES256` or `EdDSA`.
    pub signing: Option<String>,
    /// A directory holding the signing keys (PKCS#8 PEM, one file a key; the newest signs):
    /// every replica names the same one. Default `server.data_dir/oidc-keys`.
    pub key_dir: Option<String>,
    #[serde(default)]
    pub lifetimes: LifetimesFile,
    #[serde(default)]
    pub clients: BTreeMap<String, ClientFile>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LifetimesFile {
    pub code: Option<HumanDuration>,
    pub access_token: Option<HumanDuration>,
    pub id_token: Option<HumanDuration>,
    /// Sliding: each use starts it again.
    pub refresh_token: Option<HumanDuration>,
    /// No refresh outlives this from the sign-in.
    pub refresh_absolute: Option<HumanDuration>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ClientFile {
    /// Display name on the consent and account pages (default the client id).
    pub name: Option<String>,
    /// `"${ENV_VAR}"` reads the environment; none (and no `secret_hash`): a public client.
    pub secret: Option<secrecy::SecretString>,
    /// The secret as an argon2 PHC string (`$argon2id$v=19$…`).
    pub secret_hash: Option<String>,
    /// `client_secret_basic` (default with a secret), `client_secret_post`,
    /// `private_key_jwt`, `none` (public clients).
    pub auth_method: Option<String>,
    /// For `private_key_jwt`: the client's public keys, inline or at a URL.
    pub jwks: Option<serde_json::Value>,
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Of `openid profile email groups offline_access` (default `openid profile email`).
    pub scopes: Option<Vec<String>>,
    /// Of `authorization_code` (default), `refresh_token`, `client_credentials`.
    pub grant_types: Option<Vec<String>>,
    /// For `client_credentials`: the user (a service account, by email) the tokens name.
    pub service_account: Option<String>,
    /// `implicit` (default), `explicit`, or `{ remember: "30 days" }`.
    pub consent: Option<ConsentFile>,
    /// `public` (default) or `pairwise`.
    pub subject: Option<String>,
    /// For pairwise subjects: the sector (default the redirect URIs' one host).
    pub sector_identifier: Option<String>,
    /// Who may sign in to this client: the route policy language.
    pub allow: Option<Vec<BlockFile>>,
    pub deny: Option<Vec<BlockFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ConsentFile {
    Word(String),
    Remember(RememberFile),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RememberFile {
    pub remember: HumanDuration,
}
