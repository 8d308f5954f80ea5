//! Series resolved once and kept, for the metrics counted on every proxied request.
//! `with_label_values` hashes every label and takes the family's lock each time; a request
//! counted three series that way (~1% of a public route's CPU). Here a route's series are
//! looked up the first time a combination is seen and held in slots by label position
//! (`Live` keeps one [`RouteMeters`] per route, so a reload that renames a route starts new
//! slots), and the decision outcomes are held in one static table.

use prometheus::{Histogram, IntCounter};
use std::sync::OnceLock;

/// The `decision` label values (`proxy::Ctx::decision`).
const DECISIONS: [&str; 7] = [
    "forward",
    "deny",
    "redirect",
    "control",
    "options",
    "edge_check",
    "none",
];
use super::{METHOD_LABELS as METHODS, STATUS_CLASSES as CLASSES};

fn position(all: &[&str], label: &str) -> Option<usize> {
    all.iter().position(|l| *l == label)
}

/// `portcullis_proxy_requests_total` and `portcullis_proxy_request_seconds` of one route label.
pub struct RouteMeters {
    route: String,
    seconds: [OnceLock<Histogram>; DECISIONS.len()],
    /// By decision, method and status class.
    requests: Vec<OnceLock<IntCounter>>,
}

impl RouteMeters {
    pub fn new(route: &str) -> Self {
        RouteMeters {
            route: route.to_string(),
            seconds: Default::default(),
            requests: (0..DECISIONS.len() * METHODS.len() * CLASSES.len())
                .map(|_| OnceLock::new())
                .collect(),
        }
    }

    /// The `route` label.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// Counts one request that ended, and its time.
    pub fn finished(&self, decision: &str, method: &http::Method, status: u16, seconds: f64) {
        let m = &super::METRICS;
        let (me, c) = (
            super::method_index(method),
            super::status_class_index(status),
        );
        let labels = [self.route.as_str(), decision, METHODS[me], CLASSES[c]];
        let Some(d) = position(&DECISIONS, decision) else {
            // A label this table does not know is still counted, the slow way.
            m.proxy_requests.with_label_values(&labels).inc();
            m.proxy_seconds
                .with_label_values(&labels[..2])
                .observe(seconds);
            return;
        };
        self.seconds[d]
            .get_or_init(|| m.proxy_seconds.with_label_values(&labels[..2]))
            .observe(seconds);
        self.requests[(d * METHODS.len() + me) * CLASSES.len() + c]
            .get_or_init(|| m.proxy_requests.with_label_values(&labels))
            .inc();
    }
}

/// `Decision::outcome`'s values, and the header timeout's.
const OUTCOMES: [&str; 16] = [
    "allow_public",
    "allow",
    "allow_anonymous",
    "redirect_to_login",
    "server_options",
    "deny_unauthenticated",
    "deny_invalid_token",
    "deny_unavailable",
    "deny_forbidden",
    "deny_step_up",
    "deny_cross_site",
    "deny_rate_limited",
    "deny_no_route",
    "deny_bad_path",
    "deny_headers_too_large",
    "deny_header_timeout",
];

/// Counts one decision under `outcome`.
pub fn auth_decision(outcome: &str) {
    static SLOTS: [OnceLock<IntCounter>; OUTCOMES.len()] =
        [const { OnceLock::new() }; OUTCOMES.len()];
    let family = &super::METRICS.auth_decisions;
    match position(&OUTCOMES, outcome) {
        Some(i) => SLOTS[i]
            .get_or_init(|| family.with_label_values(&[OUTCOMES[i]]))
            .inc(),
        None => family.with_label_values(&[outcome]).inc(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(labels: &[&str; 4]) -> u64 {
        super::super::METRICS
            .proxy_requests
            .with_label_values(labels)
            .get()
    }

    /// One method per `method` label, one status per class.
    fn methods() -> Vec<http::Method> {
        [
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW",
        ]
        .iter()
        .map(|m| m.parse().unwrap())
        .collect()
    }
    const STATUSES: [u16; 5] = [101, 200, 302, 404, 503];

    #[test]
    fn labels_are_the_methods_and_status_classes() {
        let labels: Vec<&str> = methods()
            .iter()
            .map(|m| METHODS[super::super::method_index(m)])
            .collect();
        assert_eq!(labels, METHODS);
        assert_eq!(
            METHODS[super::super::method_index(&http::Method::TRACE)],
            "other"
        );
        for (status, class) in [
            (0, "5xx"),
            (100, "1xx"),
            (199, "1xx"),
            (204, "2xx"),
            (399, "3xx"),
            (400, "4xx"),
            (499, "4xx"),
            (500, "5xx"),
            (999, "5xx"),
        ] {
            assert_eq!(
                CLASSES[super::super::status_class_index(status)],
                class,
                "{status}"
            );
        }
    }

    #[test]
    fn every_combination_lands_in_its_own_series() {
        let meters = RouteMeters::new("resolved-test");
        let mut n = 0;
        for d in DECISIONS.iter().chain(&["unlisted"]) {
            for me in methods() {
                for status in STATUSES {
                    n += 1;
                    for _ in 0..n % 3 + 1 {
                        meters.finished(d, &me, status, 0.001);
                    }
                }
            }
        }
        let mut n = 0;
        for d in DECISIONS.iter().chain(&["unlisted"]) {
            for me in METHODS {
                for c in CLASSES {
                    n += 1;
                    let got = requests(&["resolved-test", d, me, c]);
                    assert_eq!(got, n % 3 + 1, "{d} {me} {c}");
                }
            }
        }
        let seconds = super::super::METRICS
            .proxy_seconds
            .with_label_values(&["resolved-test", "deny"]);
        assert!(seconds.get_sample_count() > 0);
    }

    #[test]
    fn outcomes_count_in_their_series() {
        let family = &super::super::METRICS.auth_decisions;
        for o in OUTCOMES.iter().chain(&["resolved_test_unlisted"]) {
            let before = family.with_label_values(&[o]).get();
            auth_decision(o);
            auth_decision(o);
            // Other tests may count the same outcome meanwhile.
            assert!(family.with_label_values(&[o]).get() >= before + 2, "{o}");
        }
    }
}
