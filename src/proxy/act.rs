//! Carries out a decision on the live request: the control plane answers, the gateway answers
//! (refusal, redirect, `OPTIONS *`), or the request is prepared for the app — the canonical
//! target, the caller's credentials removed, the identity headers and assertion added.

use super::{control, identity, respond};
use crate::decision::{Decision, Forward};
use crate::live::Live;
use crate::path::target::Target;
use crate::state::State;
use pingora::http::RequestHeader;
use pingora::proxy::Session;
use pingora::{Error, ErrorType};

/// What the proxy does next.
pub enum Next {
    /// The gateway has answered.
    Answered,
    /// Proxy to the app.
    Forward,
}

pub async fn on(
    state: &State,
    api: &control::ControlPlane,
    session: &mut Session,
    client: &crate::request::ClientInfo,
    live: &Live,
    decision: &Decision,
) -> pingora::Result<Next> {
    match decision {
        Decision::Control(target) => {
            set_target(session.req_header_mut(), target)?;
            control::serve(
                session,
                api,
                client.clone(),
                live.body_limit(&target.path),
                live.server.body_timeout,
            )
            .await?;
        }
        Decision::ServerOptions => respond::server_options(session).await?,
        Decision::EdgeCheck(asker) => {
            super::edge::serve(state, session, live, *asker, client.ip).await?
        }
        Decision::Redirect { location, .. } => respond::redirect(session, location).await?,
        Decision::Deny(d) => respond::reject_for(session, &d.reject, d.html).await?,
        Decision::Forward(f) => {
            prepare(state, live, session.req_header_mut(), f)?;
            return Ok(Next::Forward);
        }
    }
    Ok(Next::Answered)
}

/// The request as the app is to get it.
fn prepare(
    state: &State,
    live: &Live,
    req: &mut RequestHeader,
    f: &Forward,
) -> pingora::Result<()> {
    set_target(req, &f.target)?;
    if f.drop_credentials {
        let keys = &state.auth.keys;
        let authenticated = f.identity.is_some();
        identity::drop_credentials(req, &live.cookie.name, |t| {
            authenticated || keys.claims_our_issuer(t) || crate::auth::api_keys::looks_like_key(t)
        });
    }
    if let Some(id) = &f.identity {
        identity::inject(req, &live.identity, id);
        if f.assertion {
            identity::assert(
                req,
                state,
                &live.identity,
                id,
                &live.routes[f.route].upstream,
            );
        }
    }
    Ok(())
}

/// Puts the decided target on the request: its canonical origin-form, and for an
/// absolute-form target its authority as `Host`. Untouched when the client sent that already.
fn set_target(req: &mut RequestHeader, t: &Target) -> pingora::Result<()> {
    if !t.rewritten {
        return Ok(());
    }
    let uri = http::Uri::try_from(t.origin_form())
        .map_err(|e| Error::because(ErrorType::InvalidHTTPHeader, "canonical target", e))?;
    req.set_uri(uri);
    if let Some(authority) = &t.authority {
        req.insert_header(http::header::HOST, authority.as_str())?;
    }
    Ok(())
}
