//! A route's policy, block by block and criterion by criterion, as `explain` shows it: the
//! same judgements the decision makes (`decision::policy::{held, met}`), written out.

use crate::config::{AmrName, AuthRule, Criterion, Route, Window};
use crate::decision::policy::{self, Facts, Who};
use serde::Serialize;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct BlockTrace {
    /// Its `name:`, else `allow[i]` / `deny[i]`.
    pub block: String,
    /// `allow` or `deny`.
    pub kind: &'static str,
    /// `hit`, `miss`, `needs-sign-in` or `needs-second-factor`.
    pub result: &'static str,
    pub criteria: Vec<CriterionTrace>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct CriterionTrace {
    /// The key it is written under (`groups`, `networks`, `not`, …).
    pub criterion: &'static str,
    /// What it asks for.
    pub expects: String,
    /// `hit`, `miss` or `needs-sign-in`.
    pub result: &'static str,
}

/// Every block of the route's policy, judged for `who`.
pub fn blocks(route: &Route, who: Who<'_>, f: &Facts<'_>) -> Vec<BlockTrace> {
    route
        .policy
        .blocks()
        .map(|(deny, b)| BlockTrace {
            block: b.label.clone(),
            kind: if deny { "deny" } else { "allow" },
            result: policy::held(&b.all, who, f).word(),
            criteria: b
                .all
                .iter()
                .map(|c| CriterionTrace {
                    criterion: c.key(),
                    expects: expects(c),
                    result: policy::met(c, who, f).word(),
                })
                .collect(),
        })
        .collect()
}

/// What a criterion asks for, in a few words.
pub fn expects(c: &Criterion) -> String {
    let list = |v: &[String]| v.join(" or ");
    match c {
        Criterion::Users(v) => list(v),
        Criterion::EmailDomains(v) => format!("an address at {}", list(v)),
        Criterion::Roles(v) => format!("role {}", list(v)),
        Criterion::Groups(v) => format!("group {}", list(v)),
        Criterion::Claim {
            pointer, any_of, ..
        } => {
            let values: Vec<String> = any_of.iter().map(|v| v.to_string()).collect();
            format!("claim {pointer} = {}", values.join(" or "))
        }
        Criterion::Scopes(v) => format!("an API key with scope {}", list(v)),
        Criterion::Mfa => "a sign-in with a second factor".into(),
        Criterion::Amr(names) => {
            let words: Vec<&str> = names
                .iter()
                .filter_map(|n| AmrName::ALL.iter().find(|(_, a)| a == n).map(|(w, _)| *w))
                .collect();
            format!("a sign-in by {}", words.join(" or "))
        }
        Criterion::Networks(nets) => {
            let nets: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
            format!("a client in {}", nets.join(", "))
        }
        Criterion::Methods(ms) => {
            let ms: Vec<&str> = ms.iter().map(|m| m.as_str()).collect();
            format!("method {}", ms.join(" or "))
        }
        Criterion::Time(w) => window(w),
        Criterion::Not(inner) => {
            let inner: Vec<String> = inner.iter().map(expects).collect();
            format!("not ({})", inner.join(", and "))
        }
    }
}

fn window(w: &Window) -> String {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let days: Vec<&str> = (0..7)
        .filter(|d| w.days & (1 << d) != 0)
        .map(|d| DAYS[d])
        .collect();
    let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    format!(
        "{} {}-{} {}",
        if days.len() == 7 {
            "every day".to_string()
        } else {
            days.join(",")
        },
        clock(w.from),
        clock(w.to),
        w.tz.iana_name().unwrap_or("UTC")
    )
}

/// What a route requires, in a sentence: its `auth`, then its allow blocks.
pub fn requirement(route: &Route) -> String {
    let base = match route.auth {
        AuthRule::None => "nothing (public)",
        AuthRule::Optional => "nothing; identity is forwarded when a valid token comes",
        AuthRule::Required => "a valid session",
    };
    let allow: Vec<String> = route
        .policy
        .allow
        .iter()
        .map(|b| {
            let all: Vec<String> = b.all.iter().map(expects).collect();
            all.join(", ")
        })
        .collect();
    let mut out = match (route.auth, allow.as_slice()) {
        (_, []) => base.to_string(),
        (AuthRule::Required, [one]) => format!("{base} with {one}"),
        (_, blocks) => format!("{base}; allowed: {}", blocks.join("; or ")),
    };
    if !route.policy.deny.is_empty() {
        let deny: Vec<String> = route
            .policy
            .deny
            .iter()
            .map(|b| {
                let all: Vec<String> = b.all.iter().map(expects).collect();
                all.join(", ")
            })
            .collect();
        out.push_str(&format!("; refused: {}", deny.join("; or ")));
    }
    out
}
