//! The authorization request (OpenID Connect Core §3.1.2.1, RFC 6749 §4.1.1, RFC 7636 §4.3),
//! read and judged with no HTTP in it. A request whose client or redirect URI cannot be
//! trusted is answered at the gateway and never redirected anywhere (RFC 6749 §4.1.2.1: no
//! open redirector); every other problem goes back to the client's redirect URI.

use super::error::OAuthError;
use crate::config::{Client, Clients, Scope};
use std::collections::BTreeMap;

/// How the answer travels back (OAuth 2.0 Multiple Response Types §2.1, Form Post Response
/// Mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    FormPost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// No page may be shown: an error if one would be.
    None,
    /// Sign in again, whatever the session.
    Login,
    /// Ask for consent again.
    Consent,
}

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<Scope>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub response_mode: ResponseMode,
    pub prompts: Vec<Prompt>,
    /// Seconds: a sign-in older than this must be made again.
    pub max_age: Option<i64>,
    /// Asked-for `acr` values, most wanted first (`1`: a second factor).
    pub acr_values: Vec<String>,
    pub login_hint: Option<String>,
}

impl AuthRequest {
    pub fn prompt(&self, p: Prompt) -> bool {
        self.prompts.contains(&p)
    }

    /// Whether the request asks for a second factor (`acr_values` naming `1` first).
    pub fn wants_second_factor(&self) -> bool {
        self.acr_values.first().is_some_and(|v| v == "1")
    }
}

/// Where a refused request ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// At the gateway: 400 and a page, no redirect.
    Here(String),
    /// At the client's redirect URI, with `error`, `state` and `iss`.
    There {
        redirect_uri: String,
        mode: ResponseMode,
        state: Option<String>,
        error: OAuthError,
    },
}

const MAX_PARAM: usize = 2048;

/// Judges the parameters of an authorization request (query or form).
pub fn parse(params: &BTreeMap<String, String>, clients: &Clients) -> Result<AuthRequest, Refusal> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if params.values().any(|v| v.len() > MAX_PARAM) {
        return Err(Refusal::Here(
            "A parameter of the request is too long".into(),
        ));
    }
    // First what decides whether a redirect may be trusted.
    let Some(client_id) = get("client_id") else {
        return Err(Refusal::Here(
            "The request names no client (client_id)".into(),
        ));
    };
    let Some(client) = clients.get(client_id) else {
        return Err(Refusal::Here(
            "The client is not registered with this provider".into(),
        ));
    };
    let redirect_uri = match get("redirect_uri") {
        Some(r) if client.redirect_allowed(r) => r.to_string(),
        Some(_) => {
            return Err(Refusal::Here(
                "The redirect_uri is not one registered for this client".into(),
            ))
        }
        // Core §3.1.2.1: REQUIRED.
        None => return Err(Refusal::Here("The request has no redirect_uri".into())),
    };
    if !client.grants.authorization_code {
        return Err(Refusal::Here("This client does not sign users in".into()));
    }
    let mode = match get("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => ResponseMode::Query,
    };
    let state = get("state").map(str::to_string);
    let there = |error: OAuthError| Refusal::There {
        redirect_uri: redirect_uri.clone(),
        mode,
        state: state.clone(),
        error,
    };
    if let Some(m) = get("response_mode").filter(|m| !matches!(*m, "query" | "form_post")) {
        return Err(there(OAuthError::invalid_request(format!(
            "response_mode {m:?} is not supported (query, form_post)"
        ))));
    }
    // Core §6: request objects are not supported.
    if get("request").is_some() {
        return Err(there(OAuthError::new_code(
            "request_not_supported",
            "Request objects are not supported",
        )));
    }
    if get("request_uri").is_some() {
        return Err(there(OAuthError::new_code(
            "request_uri_not_supported",
            "request_uri is not supported",
        )));
    }
    match get("response_type") {
        Some("code") => {}
        None => {
            return Err(there(OAuthError::invalid_request(
                "response_type is missing",
            )))
        }
        // RFC 9700 §2.1.2: no implicit; no hybrid.
        Some(_) => {
            return Err(there(OAuthError::unsupported_response_type(
                "Only the authorization code flow (response_type=code) is supported",
            )))
        }
    }
    let scopes = match scopes(get("scope"), client) {
        Ok(s) => s,
        Err(e) => return Err(there(e)),
    };
    // RFC 7636 §4.4.1: S256 only; required for every client (RFC 9700 §2.1.1).
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, _) => {
            return Err(there(OAuthError::invalid_request(
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            )))
        }
        (Some(_), Some("S256")) => get("code_challenge").unwrap_or_default().to_string(),
        (Some(_), _) => {
            return Err(there(OAuthError::invalid_request(
                "code_challenge_method must be S256 (plain is refused)",
            )))
        }
    };
    // RFC 7636 §4.2: 43 characters of base64url for a SHA-256.
    if code_challenge.len() != 43
        || !code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(there(OAuthError::invalid_request(
            "code_challenge is not a base64url SHA-256 (43 characters)",
        )));
    }
    let mut prompts = Vec::new();
    for p in get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
    {
        prompts.push(match p {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" => Prompt::Consent,
            // Core §3.1.2.1: there is no account chooser; a single account is the session's.
            "select_account" => continue,
            other => {
                return Err(there(OAuthError::invalid_request(format!(
                    "prompt {other:?} is not known"
                ))))
            }
        });
    }
    if prompts.contains(&Prompt::None) && prompts.len() > 1 {
        return Err(there(OAuthError::invalid_request(
            "prompt=none cannot come with another prompt",
        )));
    }
    let max_age = match get("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return Err(there(OAuthError::invalid_request(
                    "max_age is not a number of seconds",
                )))
            }
        },
    };
    Ok(AuthRequest {
        client_id: client_id.to_string(),
        redirect_uri,
        scopes,
        nonce: get("nonce").map(str::to_string),
        state,
        code_challenge,
        response_mode: mode,
        prompts,
        max_age,
        acr_values: get("acr_values")
            .unwrap_or("")
            .split(' ')
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect(),
        login_hint: get("login_hint").map(str::to_string),
    })
}

/// The scopes asked for, each one the client may have; `openid` required (Core §3.1.2.1).
/// Unknown scopes are ignored (RFC 6749 §3.3 lets the server grant fewer).
fn scopes(asked: Option<&str>, client: &Client) -> Result<Vec<Scope>, OAuthError> {
    let words: Vec<&str> = asked
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if !words.contains(&"openid") {
        return Err(OAuthError::invalid_scope("The scope must include openid"));
    }
    let mut out: Vec<Scope> = words
        .iter()
        .filter_map(|w| Scope::parse(w))
        .filter(|s| client.scopes.contains(s))
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

impl OAuthError {
    /// An error code of its own (Core §3.1.2.6 names several).
    pub fn new_code(code: &'static str, description: &str) -> Self {
        OAuthError {
            code,
            description: description.into(),
            status: http::StatusCode::BAD_REQUEST,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients() -> Clients {
        crate::config::from_yaml(
            "oidc_provider:\n  enabled: true\n  clients:\n    app:\n      redirect_uris: [\"https://app.test/cb\"]\n      scopes: [openid, email]\n",
            &Default::default(),
            std::path::Path::new("."),
        )
        .unwrap()
        .oidc_provider
        .unwrap()
        .clients
        .clone()
    }

    fn params(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut p: BTreeMap<String, String> = [
            ("client_id", "app"),
            ("redirect_uri", "https://app.test/cb"),
            ("response_type", "code"),
            ("scope", "openid email profile unknown"),
            ("state", "s"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            if v.is_empty() {
                p.remove(*k);
            } else {
                p.insert(k.to_string(), v.to_string());
            }
        }
        p
    }

    #[test]
    fn a_good_request_is_read_with_the_scopes_the_client_may_have() {
        let r = parse(
            &params(&[("prompt", "login consent"), ("max_age", "60")]),
            &clients(),
        )
        .unwrap();
        assert_eq!(
            r.scopes,
            [Scope::OpenId, Scope::Email],
            "profile is not the client's"
        );
        assert!(r.prompt(Prompt::Login) && r.prompt(Prompt::Consent));
        assert_eq!(r.max_age, Some(60));
    }

    #[test]
    fn an_untrusted_client_or_redirect_is_answered_here() {
        // RFC 6749 §4.1.2.1 and §10.15: never redirect for these.
        for bad in [
            params(&[("client_id", "")]),
            params(&[("client_id", "other")]),
            params(&[("redirect_uri", "")]),
            params(&[("redirect_uri", "https://app.test/cb/")]),
            params(&[("redirect_uri", "https://APP.test/cb")]),
            params(&[("redirect_uri", "https://app.test/cb?x=1")]),
            params(&[("redirect_uri", "https://evil.test/cb")]),
        ] {
            assert!(
                matches!(parse(&bad, &clients()), Err(Refusal::Here(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn other_problems_go_back_to_the_client_with_the_state() {
        let cases: [(&[(&str, &str)], &str); 9] = [
            (&[("response_type", "token")], "unsupported_response_type"),
            (
                &[("response_type", "code id_token")],
                "unsupported_response_type",
            ),
            (&[("scope", "email")], "invalid_scope"),
            (&[("code_challenge", "")], "invalid_request"),
            (&[("code_challenge_method", "plain")], "invalid_request"),
            (&[("code_challenge", "short")], "invalid_request"),
            (&[("prompt", "none login")], "invalid_request"),
            (&[("request", "eyJ...")], "request_not_supported"),
            (&[("max_age", "-1")], "invalid_request"),
        ];
        for (extra, code) in cases {
            match parse(&params(extra), &clients()) {
                Err(Refusal::There { error, state, .. }) => {
                    assert_eq!(error.code, code, "{extra:?}");
                    assert_eq!(state.as_deref(), Some("s"));
                }
                other => panic!("{extra:?}: {other:?}"),
            }
        }
    }
}
