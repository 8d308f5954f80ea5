//! Request extractors for the control plane: a JSON object body with field-level validation,
//! the caller's identity, and the client's address as the proxy saw it.

use crate::auth::policy::normalize_email;
use crate::auth::require;
use crate::auth::Identity;
use crate::error::Reject;
use crate::request::ClientInfo;
use crate::state::State;
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A JSON object body. Malformed JSON → 400; an empty body reads as `{}` so that missing fields
/// are reported one by one (422).
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = Reject;

    async fn from_request(req: Request, state: &S) -> Result<Self, Reject> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                    Reject::PayloadTooLarge(0)
                } else {
                    Reject::BadRequest("The request body could not be read".into())
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonObject(Map::new()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(JsonObject(m)),
            Ok(_) => Err(Reject::BadRequest(
                "The request body must be a JSON object".into(),
            )),
            Err(e) => Err(Reject::BadRequest(format!(
                "The request body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))),
        }
    }
}

/// Reads fields out of a JSON object, collecting one message per bad field.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    errors: BTreeMap<String, String>,
}

impl<'a> Fields<'a> {
    pub fn new(obj: &'a Map<String, Value>) -> Self {
        Fields {
            obj,
            errors: BTreeMap::new(),
        }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    pub fn opt_string(&mut self, field: &str) -> Option<String> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            // NUL cannot be stored (PostgreSQL text refuses it) and has no use in any field.
            Some(Value::String(s)) if s.contains('\0') => {
                self.error(field, "must not contain NUL characters");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.error(field, "must be a string");
                None
            }
        }
    }

    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.opt_string(field) {
            Some(s) if !s.trim().is_empty() => Some(s),
            Some(_) | None => {
                self.error(field, "is required");
                None
            }
        }
    }

    pub fn email(&mut self, field: &str) -> Option<String> {
        let e = self.string(field)?;
        match normalize_email(&e) {
            Some(e) => Some(e),
            None => {
                self.error(field, "must be a valid email address");
                None
            }
        }
    }

    pub fn opt_bool(&mut self, field: &str) -> Option<bool> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.error(field, "must be true or false");
                None
            }
        }
    }

    /// A list of group names, as a sorted set; `None` when absent (or on a bad value).
    pub fn groups(&mut self, field: &str) -> Option<Vec<String>> {
        let items = match self.obj.get(field) {
            None | Some(Value::Null) => return None,
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.error(field, "must be a list of group names");
                return None;
            }
        };
        let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
        let Some(names) = names else {
            self.error(field, "must be a list of group names");
            return None;
        };
        match crate::groups::normalize(&names) {
            Ok(set) => Some(set),
            Err(why) => {
                self.error(field, why.to_string());
                None
            }
        }
    }

    /// Refuses any field not in `allowed`, naming why for the ones in `forbidden`.
    pub fn only(&mut self, allowed: &[&str], forbidden_here: &[&str]) {
        let keys: Vec<String> = self.obj.keys().cloned().collect();
        for k in keys {
            if forbidden_here.contains(&k.as_str()) {
                self.error(&k, "cannot be changed here");
            } else if !allowed.contains(&k.as_str()) {
                self.error(&k, "is not a known field");
            }
        }
    }

    /// 422 with the field map (the Pruvious contract).
    pub fn finish(self) -> Result<(), Reject> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Reject::Validation(self.errors))
        }
    }

    /// 400 with the field map (the Nuxt Users contract).
    pub fn finish_400(self) -> Result<(), Reject> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Reject::Invalid(self.errors))
        }
    }

    /// A password for a new secret: present and within the policy.
    pub fn new_password(&mut self, field: &str, min_chars: usize) -> Option<String> {
        let p = self.string(field)?;
        match crate::auth::policy::check(&p, min_chars) {
            Ok(()) => Some(p),
            Err(why) => {
                self.error(field, why.to_string());
                None
            }
        }
    }
}

/// The authenticated caller; 401 otherwise.
pub struct Auth(pub Identity);

impl FromRequestParts<Arc<State>> for Auth {
    type Rejection = Reject;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, Reject> {
        let authn = state
            .auth
            .from_headers(
                &parts.headers,
                &state.config().cookie.name,
                crate::store::now(),
            )
            .await;
        let id = require(authn).map_err(Reject::from)?;
        // Whoever this request's audit events are by.
        crate::audit::context::authenticated(&id);
        Ok(Auth(id))
    }
}

/// A `multipart/form-data` body; anything else is our 400, not axum's plain-text rejection.
pub struct Upload(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = Reject;

    async fn from_request(req: Request, state: &S) -> Result<Self, Reject> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Upload)
            .map_err(|_| {
                Reject::BadRequest("The request must be a multipart/form-data upload".into())
            })
    }
}

/// The client as the proxy identified it (set by the bridge); empty in direct tests.
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(
            parts
                .extensions
                .get::<ClientInfo>()
                .cloned()
                .unwrap_or_default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            normalize_email(" Ann@Example.TEST "),
            Some("ann@example.test".into())
        );
        for bad in ["", "ann", "@x", "ann@", "a@b@c", "a b@c.d", "a@.c"] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
