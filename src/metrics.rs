//! Every Prometheus metric in one place, named `portcullis_<area>_<noun>_{total,seconds}`.
//! Labels are bounded: outcomes, route names, endpoint templates, known methods, status
//! classes — never a user, a token or a path a client chose. `docs/grafana/portcullis.json`
//! is built on these; a test checks that every metric it queries exists.

pub mod resolved;

use once_cell::sync::Lazy;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    pub registry: Registry,
    pub auth_decisions: IntCounterVec,
    pub login_attempts: IntCounterVec,
    pub cache_lookups: IntCounterVec,
    pub proxy_requests: IntCounterVec,
    pub proxy_seconds: HistogramVec,
    pub ratelimit_rejections: IntCounterVec,
    pub sessions_revoked: IntCounterVec,
    pub mail: IntCounterVec,
    pub cache_entries: IntGauge,
    pub sessions_active: IntGauge,
    pub auth_failures: IntCounterVec,
    pub api_requests: IntCounterVec,
    pub store_errors: IntCounterVec,
    pub revocation_lag: prometheus::Histogram,
    pub config_reloads: IntCounterVec,
    pub mail_queued: IntGauge,
    pub bad_targets: IntCounterVec,
    pub tunnels_open: IntGauge,
    pub tls_handshake_failures: prometheus::IntCounter,
    pub tunnels_closed: IntCounterVec,
    pub auth_kinds: IntCounterVec,
    pub api_key_rejections: IntCounterVec,
    pub api_key_lookups: IntCounterVec,
    pub policy_decisions: IntCounterVec,
    pub certificate_expires: IntGauge,
    pub database_up: IntGauge,
    pub directory_requests: IntCounterVec,
    pub directory_seconds: HistogramVec,
    pub audit_events: IntCounterVec,
    pub audit_dropped: prometheus::IntCounter,
    pub audit_suppressed: prometheus::IntCounter,
    pub oidc_requests: IntCounterVec,
    pub oidc_logouts: IntCounterVec,
    pub oidc_logout_backlog: IntGauge,
}

fn plain_counter(r: &Registry, name: &str, help: &str) -> prometheus::IntCounter {
    let c = prometheus::IntCounter::new(name, help).unwrap_or_else(|_| unreachable_metric());
    let _ = r.register(Box::new(c.clone()));
    c
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c =
        IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|_| unreachable_metric());
    let _ = r.register(Box::new(c.clone()));
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|_| unreachable_metric());
    let _ = r.register(Box::new(g.clone()));
    g
}

#[allow(clippy::panic)]
fn unreachable_metric() -> ! {
    // Metric names and labels are literals in this file; an invalid one is a programming error
    // caught by the first test run.
    panic!("invalid metric definition")
}

pub static METRICS: Lazy<Metrics> = Lazy::new(|| {
    let r = Registry::new();
    let proxy_seconds = HistogramVec::new(
        HistogramOpts::new(
            "portcullis_proxy_request_seconds",
            "Time from request start to the end of the response, by route and decision",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
        ]),
        &["route", "decision"],
    )
    .unwrap_or_else(|_| unreachable_metric());
    let _ = r.register(Box::new(proxy_seconds.clone()));
    let cache_entries = gauge(
        &r,
        "portcullis_session_cache_entries",
        "Sessions held in the cache",
    );
    let sessions_active = gauge(
        &r,
        "portcullis_sessions_active",
        "Live (not revoked, not expired) sessions held in this instance's cache",
    );
    let revocation_lag = prometheus::Histogram::with_opts(
        HistogramOpts::new(
            "portcullis_revocation_lag_seconds",
            "From a change committed by any instance to this instance's cache applying it",
        )
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0,
        ]),
    )
    .unwrap_or_else(|_| unreachable_metric());
    let _ = r.register(Box::new(revocation_lag.clone()));
    let directory_seconds = HistogramVec::new(
        HistogramOpts::new(
            "portcullis_directory_request_seconds",
            "Time of each request to the user directory (LDAP), by operation",
        )
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]),
        &["operation"],
    )
    .unwrap_or_else(|_| unreachable_metric());
    let _ = r.register(Box::new(directory_seconds.clone()));
    Metrics {
        oidc_requests: counter(
            &r,
            "portcullis_oidc_requests_total",
            "Requests to the OpenID provider by endpoint (authorize, token, userinfo, introspect, revoke, end_session), client (a configured id, or unknown) and outcome (ok, or the OAuth error code)",
            &["endpoint", "client", "outcome"],
        ),
        oidc_logouts: counter(
            &r,
            "portcullis_oidc_backchannel_logouts_total",
            "Back-channel logouts by outcome: delivered, retry (the client did not answer 200/204), failed (given up after the last attempt), nothing (the client has no backchannel_logout_uri)",
            &["outcome"],
        ),
        oidc_logout_backlog: gauge(
            &r,
            "portcullis_oidc_backchannel_queue",
            "Back-channel logouts queued and not yet delivered nor given up on, read by the upkeep",
        ),
        audit_events: counter(
            &r,
            "portcullis_audit_events_total",
            "Audit events of the request path's queue by result: written (in the trail), failed (the store refused the batch)",
            &["result"],
        ),
        audit_dropped: plain_counter(
            &r,
            "portcullis_audit_events_dropped_total",
            "Audit events of the request path (failed sign-ins, denials) dropped because the queue to the store was full: the request never waits for the trail",
        ),
        audit_suppressed: plain_counter(
            &r,
            "portcullis_audit_denials_suppressed_total",
            "authz.denied events not written because the same route and client had one within the second (the next one written says how many)",
        ),
        directory_seconds,
        directory_requests: counter(
            &r,
            "portcullis_directory_requests_total",
            "Requests to the user directory (LDAP) by operation (search, bind_service, bind_user, groups, refresh) and result (ok, unreachable, refused, error)",
            &["operation", "result"],
        ),
        store_errors: counter(
            &r,
            "portcullis_store_errors_total",
            "Database errors by operation",
            &["operation"],
        ),
        revocation_lag,
        sessions_active,
        auth_failures: counter(
            &r,
            "portcullis_auth_failures_total",
            "Requests refused on a protected route, by reason",
            &["reason"],
        ),
        api_requests: counter(
            &r,
            "portcullis_api_requests_total",
            "Requests to the gateway's own endpoints (login, refresh, reset, magic links, ...) by outcome",
            &["endpoint", "outcome"],
        ),
        auth_decisions: counter(
            &r,
            "portcullis_auth_decisions_total",
            "Proxy auth decisions by outcome",
            &["outcome"],
        ),
        login_attempts: counter(
            &r,
            "portcullis_login_attempts_total",
            "Password logins by outcome",
            &["outcome"],
        ),
        cache_lookups: counter(
            &r,
            "portcullis_session_cache_lookups_total",
            "Session cache lookups",
            &["result"],
        ),
        proxy_requests: counter(
            &r,
            "portcullis_proxy_requests_total",
            "Requests by route, decision, method and status class",
            &["route", "decision", "method", "status"],
        ),
        ratelimit_rejections: counter(
            &r,
            "portcullis_ratelimit_rejections_total",
            "Requests refused by a rate limit",
            &["limit"],
        ),
        sessions_revoked: counter(
            &r,
            "portcullis_sessions_revoked_total",
            "Sessions revoked, by cause",
            &["cause"],
        ),
        mail: counter(
            &r,
            "portcullis_mail_messages_total",
            "Outgoing mail by outcome",
            &["outcome"],
        ),
        config_reloads: counter(
            &r,
            "portcullis_config_reloads_total",
            "Config reloads (SIGHUP) by outcome: applied or rejected",
            &["outcome"],
        ),
        mail_queued: gauge(
            &r,
            "portcullis_mail_queued",
            "Messages waiting in the outgoing mail queue",
        ),
        bad_targets: counter(
            &r,
            "portcullis_proxy_bad_targets_total",
            "Request targets refused (400) because a server could read them as another path, by reason",
            &["reason"],
        ),
        tunnels_open: gauge(
            &r,
            "portcullis_tunnels_open",
            "Upgraded connections (WebSockets) open through the gateway",
        ),
        auth_kinds: counter(
            &r,
            "portcullis_authenticated_requests_total",
            "Requests that authenticated, by kind of credential (session, api_key)",
            &["kind"],
        ),
        api_key_rejections: counter(
            &r,
            "portcullis_api_key_rejections_total",
            "API keys refused, by reason (malformed, unknown, expired, revoked, owner_inactive)",
            &["reason"],
        ),
        api_key_lookups: counter(
            &r,
            "portcullis_api_key_cache_lookups_total",
            "API key lookups by prefix: hit (cached), miss (read from the store), absent (a prefix the store lately had no key for)",
            &["result"],
        ),
        database_up: gauge(
            &r,
            "portcullis_database_up",
            "1 when the database answered the last check (each /readyz, and the upkeep every minute), 0 when it did not",
        ),
        certificate_expires: gauge(
            &r,
            "portcullis_tls_certificate_expires_timestamp_seconds",
            "When the first of the TLS listener's certificates expires (its notAfter, Unix seconds), as loaded at start or the last SIGHUP",
        ),
        policy_decisions: counter(
            &r,
            "portcullis_policy_decisions_total",
            "Route policy verdicts (allow, deny, sign_in, step_up), by route and the block that decided (none: no allow block held)",
            &["route", "block", "result"],
        ),
        tunnels_closed: counter(
            &r,
            "portcullis_tunnels_closed_total",
            "Tunnels the gateway closed because their session ended, by reason (revoked, deactivated, expired)",
            &["reason"],
        ),
        tls_handshake_failures: {
            let c = prometheus::IntCounter::new(
                "portcullis_tls_handshake_failures_total",
                "TLS handshakes that failed or timed out (an unknown CA, an old protocol, a scan)",
            )
            .unwrap_or_else(|_| unreachable_metric());
            let _ = r.register(Box::new(c.clone()));
            c
        },
        proxy_seconds,
        cache_entries,
        registry: r,
    }
});

pub fn auth_decision(outcome: &'static str) {
    resolved::auth_decision(outcome);
}

/// Audit events of the request path's queue written or failed.
pub fn audit_events(result: &'static str, n: u64) {
    METRICS.audit_events.with_label_values(&[result]).inc_by(n);
}

/// One request to the user directory, by operation and outcome.
pub fn directory_request(operation: &'static str, result: &'static str, took: std::time::Duration) {
    METRICS
        .directory_requests
        .with_label_values(&[operation, result])
        .inc();
    METRICS
        .directory_seconds
        .with_label_values(&[operation])
        .observe(took.as_secs_f64());
}

/// Whether the database answered the last check.
pub fn database_answered(up: bool) {
    METRICS.database_up.set(i64::from(up));
}

/// The TLS listener's earliest certificate expiry, as just loaded.
pub fn certificate_expires(at: i64) {
    METRICS.certificate_expires.set(at);
}

pub fn login_attempt(outcome: &'static str) {
    METRICS.login_attempts.with_label_values(&[outcome]).inc();
}

pub fn cache_lookup(hit: bool) {
    METRICS
        .cache_lookups
        .with_label_values(&[if hit { "hit" } else { "miss" }])
        .inc();
}

/// One OpenID provider request; `client` is a configured id or `unknown`, so the label stays
/// bounded.
pub fn oidc_request(endpoint: &'static str, client: &str, outcome: &str) {
    METRICS
        .oidc_requests
        .with_label_values(&[endpoint, client, outcome])
        .inc();
}

pub fn oidc_logout(outcome: &crate::oidc::logout::Sent) {
    use crate::oidc::logout::Sent;
    let label = match outcome {
        Sent::Delivered => "delivered",
        Sent::Retry(..) => "retry",
        Sent::GivenUp(_) => "failed",
        Sent::Nothing => "nothing",
    };
    METRICS.oidc_logouts.with_label_values(&[label]).inc();
}

pub fn revoked(cause: &'static str, n: usize) {
    METRICS
        .sessions_revoked
        .with_label_values(&[cause])
        .inc_by(n as u64);
}

/// `n` tunnels closed by the gateway because their session ended.
/// A request authenticated by `kind` (`session`, `api_key`); the two counters are looked up
/// once, not per request.
pub fn auth_kind(kind: &'static str) {
    static SESSION: std::sync::LazyLock<prometheus::IntCounter> =
        std::sync::LazyLock::new(|| METRICS.auth_kinds.with_label_values(&["session"]));
    static KEY: std::sync::LazyLock<prometheus::IntCounter> =
        std::sync::LazyLock::new(|| METRICS.auth_kinds.with_label_values(&["api_key"]));
    match kind {
        "api_key" => KEY.inc(),
        _ => SESSION.inc(),
    }
}

pub fn api_key_rejected(reason: &'static str) {
    METRICS
        .api_key_rejections
        .with_label_values(&[reason])
        .inc();
}

pub fn api_key_lookup(result: &'static str) {
    METRICS.api_key_lookups.with_label_values(&[result]).inc();
}

pub fn tunnels_cut(reason: &'static str, n: usize) {
    METRICS
        .tunnels_closed
        .with_label_values(&[reason])
        .inc_by(n as u64);
}

pub fn db_error(operation: &'static str) {
    METRICS.store_errors.with_label_values(&[operation]).inc();
}

/// A request refused by the rate limit named `limit`.
pub fn rate_limited(limit: &'static str) {
    METRICS
        .ratelimit_rejections
        .with_label_values(&[limit])
        .inc();
}

pub fn config_reload(outcome: &'static str) {
    METRICS.config_reloads.with_label_values(&[outcome]).inc();
}

pub fn mail(outcome: &'static str) {
    METRICS.mail.with_label_values(&[outcome]).inc();
}

/// A request target refused at the boundary, by the reason `BadTarget::label` gives.
pub fn bad_target(reason: &'static str) {
    METRICS.bad_targets.with_label_values(&[reason]).inc();
}

pub fn auth_failure(reason: &'static str) {
    METRICS.auth_failures.with_label_values(&[reason]).inc();
}

/// The policy-verdict counters of one route, made when its config loads and each looked up
/// once, on first use: counting a verdict is one atomic add, no label lookup.
pub struct PolicyCounters {
    route: String,
    /// Block labels; the last is `none`.
    blocks: Vec<String>,
    /// `blocks.len() × POLICY_RESULTS.len()` slots.
    slots: Vec<std::sync::OnceLock<prometheus::IntCounter>>,
}

/// The `result` label values.
pub const POLICY_RESULTS: [&str; 4] = ["allow", "deny", "sign_in", "step_up"];

impl PolicyCounters {
    /// `blocks`: the route's block labels, allow blocks then deny blocks.
    pub fn new(route: &str, blocks: &[&str]) -> Self {
        let mut blocks: Vec<String> = blocks.iter().map(|b| b.to_string()).collect();
        blocks.push("none".into());
        PolicyCounters {
            route: route.to_string(),
            slots: (0..blocks.len() * POLICY_RESULTS.len())
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            blocks,
        }
    }

    /// Counts a verdict (one of [`POLICY_RESULTS`]) of block `block` (an index into the
    /// labels given, `None` for no block).
    pub fn count(&self, block: Option<usize>, result: &str) {
        let b = block
            .filter(|b| *b + 1 < self.blocks.len())
            .unwrap_or(self.blocks.len() - 1);
        let Some(r) = POLICY_RESULTS.iter().position(|x| *x == result) else {
            return;
        };
        if let Some(slot) = self.slots.get(b * POLICY_RESULTS.len() + r) {
            slot.get_or_init(|| {
                METRICS.policy_decisions.with_label_values(&[
                    self.route.as_str(),
                    self.blocks[b].as_str(),
                    POLICY_RESULTS[r],
                ])
            })
            .inc();
        }
    }
}

/// What a status says about an attempt at one of our endpoints.
pub fn outcome(status: u16) -> &'static str {
    match status {
        200..=399 => "success",
        401 | 403 => "refused",
        429 => "rate_limited",
        400..=499 => "invalid",
        _ => "error",
    }
}

/// The `method` label values: the standard methods, everything else `other`.
pub const METHOD_LABELS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
];

/// The method's place in [`METHOD_LABELS`].
pub fn method_index(m: &http::Method) -> usize {
    let other = METHOD_LABELS.len() - 1;
    METHOD_LABELS[..other]
        .iter()
        .position(|l| *l == m.as_str())
        .unwrap_or(other)
}

/// The `status` label values: a status's class.
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The status's place in [`STATUS_CLASSES`] (anything outside 100–499 counts as 5xx).
pub fn status_class_index(status: u16) -> usize {
    match status {
        100..=499 => usize::from(status / 100 - 1),
        _ => 4,
    }
}

/// The Prometheus text exposition of every metric.
pub fn render() -> String {
    // Pingora counts failed handshakes itself (patched: vendor/PATCHES.md); brought up to date
    // at each scrape.
    let failed = pingora::services::listening::DOWNSTREAM_HANDSHAKE_FAILURES
        .load(std::sync::atomic::Ordering::Relaxed);
    let seen = METRICS.tls_handshake_failures.get();
    METRICS
        .tls_handshake_failures
        .inc_by(failed.saturating_sub(seen));
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&METRICS.registry.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}
