//! Building an event: its type, what it acted on, and (from the request's context, unless
//! said otherwise) who did it and from where. Only what is named here goes in: there is no
//! field for a body, a header other than the user agent, a query string or a secret.

use super::context::{self, Caller};
use crate::request::ClientInfo;
use crate::store::NewEvent;
use serde::Serialize;
use serde_json::{Map, Value};

/// This process's name in the events it writes (`instance`): the host name and the listen
/// port, set once at start.
static INSTANCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub fn set_instance(name: String) {
    let _ = INSTANCE.set(name);
}

pub fn instance() -> String {
    INSTANCE.get().cloned().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        format!("{host}/{}", std::process::id())
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    /// The request's caller (or anonymous, or the system outside a request).
    Context,
    System,
}

/// An event being built; [`Event::build`] gives what the store appends.
#[derive(Debug, Clone)]
pub struct Event {
    e: NewEvent,
    actor: Actor,
    changes: Map<String, Value>,
    client: Option<ClientInfo>,
    /// The request's caller taken by [`Event::here`]; made the actor at `build`, once the
    /// target is known (an admin acting on someone else is `admin`).
    caller: Option<Caller>,
}

impl Event {
    /// An event of `kind` that succeeded, happening now.
    pub fn new(kind: &'static str) -> Event {
        Event {
            e: NewEvent {
                id: uuid::Uuid::new_v4().to_string(),
                ts: crate::clock::now_ms(),
                kind: kind.to_string(),
                outcome: "success".into(),
                instance: instance(),
                ..Default::default()
            },
            actor: Actor::Context,
            changes: Map::new(),
            client: None,
            caller: None,
        }
    }

    /// It failed (a refused sign-in, a denied request), because of `reason`.
    pub fn failed(mut self, reason: &str) -> Event {
        self.e.outcome = "failure".into();
        self.e.reason = Some(reason.to_string());
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Event {
        self.e.reason = Some(reason.into());
        self
    }

    /// Done by the system (a task, the CLI), `id` naming which.
    pub fn by_system(mut self, id: &str) -> Event {
        self.actor = Actor::System;
        self.e.actor_id = Some(id.to_string());
        self
    }

    /// Done by `user` themselves (a sign-in: before it, the request had no caller).
    pub fn by_user(mut self, id: i64, email: &str) -> Event {
        self.e.actor_type = "user".into();
        self.e.actor_id = Some(id.to_string());
        self.e.actor_email = Some(email.to_string());
        self
    }

    /// Done with API key `key` of the user with `email` (the proxy's path).
    pub fn by_key(mut self, email: &str, key: &str) -> Event {
        self.e.actor_type = "api_key".into();
        self.e.actor_id = Some(key.to_string());
        self.e.actor_email = Some(email.to_string());
        self
    }

    /// Tried by someone not signed in, giving `email` (a failed sign-in).
    pub fn by_anonymous(mut self, email: Option<&str>) -> Event {
        self.e.actor_type = "anonymous".into();
        self.e.actor_email = email.map(|e| e.chars().take(320).collect());
        self
    }

    pub fn target(mut self, kind: &str, id: impl ToString) -> Event {
        self.e.target_type = Some(kind.to_string());
        self.e.target_id = Some(id.to_string());
        self
    }

    /// The user a `create_user` is about to make (the store puts its id in).
    pub fn new_user_target(mut self) -> Event {
        self.e.target_type = Some("user".into());
        self.e.target_id = None;
        self
    }

    pub fn target_user(self, id: i64) -> Event {
        self.target("user", id)
    }

    /// A field that changed: only ever one of the allow-listed ones the callers name
    /// (name, email, role, active, groups, kind, scopes, …), never a secret.
    pub fn change<F: Serialize, T: Serialize>(mut self, field: &str, from: F, to: T) -> Event {
        let pair = serde_json::json!({ "from": from, "to": to });
        self.changes.insert(field.to_string(), pair);
        self
    }

    /// Where the request came from, outside the control plane's context (the proxy's path).
    pub fn client(mut self, client: &ClientInfo) -> Event {
        self.client = Some(client.clone());
        self
    }

    /// The request, outside the control plane's context.
    pub fn request(mut self, meta: context::RequestMeta) -> Event {
        self.set_request(&meta);
        self
    }

    fn set_request(&mut self, m: &context::RequestMeta) {
        self.e.request_id = m.id.clone();
        self.e.method = m.method.clone();
        self.e.host = m.host.clone();
        self.e.path = m.path.clone();
    }

    /// The same event as another type (one change making several events).
    pub fn with_kind(mut self, kind: &'static str) -> Event {
        self.e.kind = kind.to_string();
        self.e.id = uuid::Uuid::new_v4().to_string();
        self
    }

    pub fn kind(&self) -> &str {
        &self.e.kind
    }

    /// Takes the caller, client and request from the context now, for an event finished in
    /// a task of its own (after the answer), where the request's context is gone.
    pub fn here(mut self) -> Event {
        let Some(ctx) = context::current() else {
            return self;
        };
        if self.e.path.is_none() {
            let meta = ctx.request.clone();
            self.set_request(&meta);
        }
        if self.client.is_none() {
            self.client = Some(ctx.client.clone());
        }
        if self.e.actor_type.is_empty() && self.actor == Actor::Context {
            match ctx.caller() {
                Some(c) => self.caller = Some(c),
                None => self.e.actor_type = "anonymous".into(),
            }
        }
        self
    }

    /// The event as stored: the caller, client and request filled in from the context
    /// where not given.
    pub fn build(mut self) -> NewEvent {
        let ctx = context::current();
        if let Some(ctx) = &ctx {
            if self.e.path.is_none() {
                let meta = ctx.request.clone();
                self.set_request(&meta);
            }
            if self.client.is_none() {
                self.client = Some(ctx.client.clone());
            }
        }
        if let Some(c) = &self.client {
            self.e.client_ip = c.ip.map(|ip| ip.to_string());
            self.e.user_agent = c
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(512).collect());
        }
        if self.e.actor_type.is_empty() {
            let caller = self.caller.take().or_else(|| ctx.and_then(|c| c.caller()));
            match (self.actor, caller) {
                (Actor::Context, Some(caller)) => self.caller(&caller),
                (Actor::Context, None) if self.e.path.is_some() => {
                    self.e.actor_type = "anonymous".into()
                }
                _ => {
                    self.e.actor_type = "system".into();
                }
            }
        }
        if !self.changes.is_empty() {
            self.e.changes = Some(Value::Object(std::mem::take(&mut self.changes)).to_string());
        }
        self.e
    }

    /// The caller as actor: an API key's, an admin's acting on someone else, or a user's own.
    fn caller(&mut self, c: &Caller) {
        let own = self.e.target_type.as_deref() != Some("user")
            || self.e.target_id.as_deref() == Some(c.user_id.to_string().as_str());
        self.e.actor_type = match (&c.key_id, c.role == "admin" && !own) {
            (Some(_), _) => "api_key",
            (None, true) => "admin",
            (None, false) => "user",
        }
        .into();
        self.e.actor_id = Some(match &c.key_id {
            Some(k) => k.clone(),
            None => c.user_id.to_string(),
        });
        self.e.actor_email = Some(c.email.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::context::{scope, set_caller, Ctx, RequestMeta};

    #[tokio::test]
    async fn actors_are_the_callers_own_an_admins_or_the_systems() {
        let e = Event::new(super::super::kinds::USER_CREATED).build();
        assert_eq!(e.actor_type, "system", "outside a request");
        let meta = RequestMeta {
            path: Some("/api/nuxt-users/9".into()),
            ..Default::default()
        };
        let client = ClientInfo {
            ip: Some("192.0.2.7".parse().unwrap()),
            user_agent: Some("curl/8".into()),
        };
        scope(Ctx::new(client, meta), async {
            let anon = Event::new("authn.login.failed").build();
            assert_eq!(anon.actor_type, "anonymous");
            assert_eq!(anon.client_ip.as_deref(), Some("192.0.2.7"));
            set_caller(Caller {
                user_id: 1,
                email: "admin@x.test".into(),
                role: "admin".into(),
                key_id: None,
            });
            let other = Event::new("user.updated")
                .target_user(9)
                .change("name", "A", "B")
                .build();
            assert_eq!(
                (other.actor_type.as_str(), other.actor_id.as_deref()),
                ("admin", Some("1"))
            );
            assert_eq!(
                other.changes.as_deref(),
                Some(r#"{"name":{"from":"A","to":"B"}}"#)
            );
            let own = Event::new("credential.password.changed")
                .target_user(1)
                .build();
            assert_eq!(own.actor_type, "user");
            assert_eq!(own.path.as_deref(), Some("/api/nuxt-users/9"));
            // Taken in the request and finished after it, the target named last: still the
            // admin acting on someone else.
            let later = Event::new("credential.password.reset_requested").here();
            let later = scope(
                Ctx::new(ClientInfo::default(), RequestMeta::default()),
                async { later.target_user(9).build() },
            )
            .await;
            assert_eq!(
                (later.actor_type.as_str(), later.path.as_deref()),
                ("admin", Some("/api/nuxt-users/9"))
            );
            let sys = Event::new("session.revoked").by_system("directory").build();
            assert_eq!(
                (sys.actor_type.as_str(), sys.actor_id.as_deref()),
                ("system", Some("directory"))
            );
        })
        .await;
    }
}
