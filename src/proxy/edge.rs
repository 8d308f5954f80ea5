//! Answers an edge proxy's forward-auth check (`api.routes.forward-auth`, `auth-request`,
//! `ext-authz`): the request it describes is decided as if it had come here, and the verdict
//! is written in the form that proxy acts on. Only peers in `server.trusted_proxies` may ask: anyone else could
//! probe the route table or mint identity headers for a request of their choosing.

use super::{identity, respond};
use crate::config::EdgeAsker;
use crate::decision::forwarded::{self, Verdict};
use crate::decision::RequestFacts;
use crate::error::{Reject, Rendered};
use crate::live::Live;
use crate::state::State;
use http::{HeaderName, HeaderValue, StatusCode};
use pingora::proxy::Session;

/// Where `auth_request` finds the sign-in page for a browser (nginx: `$upstream_http_x_auth_redirect`).
pub const SIGN_IN_HEADER: HeaderName = HeaderName::from_static("x-auth-redirect");

pub async fn serve(
    state: &State,
    session: &mut Session,
    live: &Live,
    asker: EdgeAsker,
    client_ip: Option<std::net::IpAddr>,
) -> pingora::Result<()> {
    if !super::client_ip::peer_trusted(super::peer_ip(session), &live.server.trusted_proxies) {
        let no =
            Reject::Forbidden("Forward-auth answers only the proxies in server.trusted_proxies");
        return respond::reject(session, &no).await;
    }
    let req = session.req_header();
    let check = forwarded::Check {
        method: &req.method,
        after_prefix: live
            .config
            .api
            .ext_authz
            .as_deref()
            .and_then(|p| req.raw_path().strip_prefix(p.as_bytes()))
            .and_then(|rest| std::str::from_utf8(rest).ok()),
    };
    let original = match forwarded::original(asker, &req.headers, check) {
        Ok(o) => o,
        Err(why) => {
            return respond::reject(session, &Reject::BadRequest(format!("Forward-auth: {why}")))
                .await
        }
    };
    let facts = RequestFacts {
        method: &original.method,
        raw_target: original.target.as_bytes(),
        host: original.host.as_deref(),
        headers: &req.headers,
        client_ip,
        forwarded: true,
        at: crate::clock::now(),
        count: true,
    };
    let inner = super::decide(state, live, &facts).await;
    super::observe::decided(live, &inner);
    let answer = match forwarded::verdict(live, &original, &inner) {
        Ok(v) => render(state, live, asker, v),
        Err(reject) => refusal(asker, &reject, false),
    };
    respond::write(session, &answer).await
}

fn render(state: &State, live: &Live, asker: EdgeAsker, v: Verdict<'_>) -> Rendered {
    match v {
        Verdict::Allow {
            route,
            identity,
            assertion,
        } => {
            let names = &live.identity;
            let assertion = identity
                .filter(|_| assertion)
                .and_then(|id| identity::assertion(state, id, &live.routes[route].upstream));
            let headers = identity::answer(names, identity, assertion);
            Rendered {
                status: StatusCode::OK,
                headers,
                body: bytes::Bytes::new(),
            }
        }
        Verdict::SignIn { location } => {
            let Ok(at) = HeaderValue::from_str(&location) else {
                return Reject::Internal.render();
            };
            let (status, name) = match asker {
                EdgeAsker::ForwardAuth | EdgeAsker::ExtAuthz => {
                    (StatusCode::FOUND, http::header::LOCATION)
                }
                EdgeAsker::AuthRequest => (StatusCode::UNAUTHORIZED, SIGN_IN_HEADER),
            };
            Rendered {
                status,
                headers: vec![
                    (name, at),
                    (
                        http::header::CACHE_CONTROL,
                        HeaderValue::from_static("no-store"),
                    ),
                ],
                body: bytes::Bytes::new(),
            }
        }
        Verdict::Refuse { reject, html } => refusal(asker, reject, html),
    }
}

fn refusal(asker: EdgeAsker, reject: &Reject, html: bool) -> Rendered {
    let mut r = if html {
        reject.render_html()
    } else {
        reject.render()
    };
    if asker == EdgeAsker::AuthRequest {
        r.status = forwarded::auth_request_status(reject);
    }
    r
}
