//! Validation of route policies: named networks, `allow`/`deny` blocks, and the `auth:`
//! shorthand. Every problem is named with its path (`routes[2].allow[0].networks[1]`).

use super::error::ConfigError;
use super::file::{AuthFile, RolesFile};
use super::file_policy::{BlockFile, TimeFile, Words};
use super::runtime::AuthRule;
use super::runtime_policy::*;
use ipnet::IpNet;
use std::collections::BTreeMap;

pub type Networks = BTreeMap<String, Vec<IpNet>>;

/// The top-level `networks:` map.
pub(super) fn networks(
    file: BTreeMap<String, Vec<String>>,
    errs: &mut Vec<ConfigError>,
) -> Networks {
    let mut out = Networks::new();
    for (name, items) in file {
        let at = format!("networks.{name}");
        if name.is_empty() || name.contains(['/', ':', ' ']) || name.parse::<IpNet>().is_ok() {
            errs.push(ConfigError::at(
                &at,
                "a network's name is a word (not an address)",
            ));
        }
        if items.is_empty() {
            errs.push(ConfigError::at(&at, "list at least one CIDR block"));
        }
        let nets = items
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                cidr(t).or_else(|| {
                    errs.push(ConfigError::at(
                        format!("{at}[{i}]"),
                        format!("{t:?} is not an IP address or CIDR block like \"10.8.0.0/16\""),
                    ));
                    None
                })
            })
            .collect();
        out.insert(name, nets);
    }
    out
}

/// An address or CIDR block; IPv4-mapped IPv6 blocks are read as the IPv4 they map.
fn cidr(text: &str) -> Option<IpNet> {
    let net = text
        .trim()
        .parse::<IpNet>()
        .or_else(|_| text.trim().parse::<std::net::IpAddr>().map(IpNet::from))
        .ok()?;
    Some(net.trunc())
}

/// A route's rule and policy from its `auth`, `allow` and `deny`.
pub(super) fn route_policy(
    at: &dyn Fn(&str) -> String,
    auth: Option<AuthFile>,
    allow: Option<Vec<BlockFile>>,
    deny: Option<Vec<BlockFile>>,
    networks: &Networks,
    errs: &mut Vec<ConfigError>,
) -> (AuthRule, Policy) {
    let mut policy = Policy::default();
    let compile = |list: Vec<BlockFile>, key: &str, errs: &mut Vec<ConfigError>| -> Vec<Block> {
        if list.is_empty() {
            errs.push(ConfigError::at(
                at(key),
                "list at least one block (or leave the key out)",
            ));
        }
        list.into_iter()
            .enumerate()
            .map(|(i, b)| {
                let path = at(&format!("{key}[{i}]"));
                let label = b.name.clone().unwrap_or_else(|| format!("{key}[{i}]"));
                Block {
                    label,
                    all: block(&path, b, networks, false, errs),
                }
            })
            .collect()
    };
    let has_allow = allow.is_some();
    if let Some(list) = allow {
        policy.allow = compile(list, "allow", errs);
    }
    if let Some(list) = deny {
        policy.deny = compile(list, "deny", errs);
    }
    let mut labels = std::collections::BTreeSet::new();
    for (_, b) in policy.blocks() {
        if !labels.insert(b.label.clone()) {
            errs.push(ConfigError::at(
                at("allow"),
                format!("two blocks are named {:?}", b.label),
            ));
        }
    }
    let rule = match auth {
        None if has_allow => AuthRule::Optional,
        None => {
            errs.push(ConfigError::at(
                at("auth"),
                "give auth: none, optional or required (or an allow list)",
            ));
            AuthRule::Required
        }
        Some(AuthFile::Keyword(k)) => match k.as_str() {
            "none" => AuthRule::None,
            "optional" => AuthRule::Optional,
            "required" => AuthRule::Required,
            other => {
                errs.push(ConfigError::at(
                    at("auth"),
                    format!("{other:?} is not one of none, optional, required, {{ roles: [...] }}"),
                ));
                AuthRule::Required
            }
        },
        Some(AuthFile::Roles(r)) => {
            if has_allow {
                errs.push(ConfigError::at(
                    at("auth"),
                    "auth: { roles, mfa, scopes } is shorthand for one allow block: with an allow list, write them there and use auth: required",
                ));
            } else {
                policy.allow = vec![Block {
                    label: "allow[0]".into(),
                    all: shorthand(at, r, errs),
                }];
            }
            AuthRule::Required
        }
    };
    if rule == AuthRule::None {
        for (deny, b) in policy.blocks() {
            if b.about_identity() {
                let key = if deny { "deny" } else { "allow" };
                errs.push(ConfigError::at(
                    at(key),
                    format!(
                        "block {:?} asks who the caller is, but auth: none never looks (use auth: optional or required)",
                        b.label
                    ),
                ));
            }
        }
    }
    (rule, policy)
}

/// `auth: { roles, mfa, scopes }` as the allow block it stands for: a role of the list, a
/// second factor, and every scope listed.
fn shorthand(
    at: &dyn Fn(&str) -> String,
    r: RolesFile,
    errs: &mut Vec<ConfigError>,
) -> Vec<Criterion> {
    let mut all = Vec::new();
    if r.roles.is_empty() && !r.mfa && r.scopes.is_empty()
        || r.roles.iter().any(|x| x.trim().is_empty())
    {
        errs.push(ConfigError::at(
            at("auth.roles"),
            "list at least one non-empty role",
        ));
    }
    if !r.roles.is_empty() {
        all.push(Criterion::Roles(r.roles));
    }
    if r.mfa {
        all.push(Criterion::Mfa);
    }
    if r.scopes
        .iter()
        .any(|s| s.is_empty() || s.contains(char::is_whitespace))
    {
        errs.push(ConfigError::at(
            at("auth.scopes"),
            "each scope is one word without spaces",
        ));
    }
    all.extend(r.scopes.into_iter().map(|s| Criterion::Scopes(vec![s])));
    all
}

/// The claims a token carries for its own checks, which every token passes already.
const TOKEN_MECHANICS: &[&str] = &["iss", "aud", "exp", "iat", "nbf", "jti"];

fn block(
    at: &str,
    b: BlockFile,
    networks: &Networks,
    nested: bool,
    errs: &mut Vec<ConfigError>,
) -> Vec<Criterion> {
    let mut all = Vec::new();
    let here = |k: &str| format!("{at}.{k}");
    if nested && b.name.is_some() {
        errs.push(ConfigError::at(
            here("name"),
            "name the block around the not, not the one inside it",
        ));
    }
    let words = |key: &str, w: Option<Words>, errs: &mut Vec<ConfigError>| -> Option<Vec<String>> {
        let w = w?.0;
        if w.is_empty() {
            errs.push(ConfigError::at(
                here(key),
                "list at least one item (or leave the key out)",
            ));
            return None;
        }
        Some(w)
    };
    if let Some(users) = words("users", b.users, errs) {
        let mut out = Vec::new();
        for (i, u) in users.iter().enumerate() {
            let u = u.trim().to_ascii_lowercase();
            match u.split_once('@') {
                Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@') => out.push(u),
                _ => errs.push(ConfigError::at(
                    format!("{at}.users[{i}]"),
                    format!("{u:?} is not an email address"),
                )),
            }
        }
        all.push(Criterion::Users(out));
    }
    if let Some(domains) = words("email_domains", b.email_domains, errs) {
        let mut out = Vec::new();
        for (i, d) in domains.iter().enumerate() {
            let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
            match crate::hosts::pattern_error(&d) {
                None if d.contains('.') || d.starts_with("*.") => out.push(d),
                why => errs.push(ConfigError::at(
                    format!("{at}.email_domains[{i}]"),
                    format!(
                        "{d:?} is not a domain like \"example.com\" or \"*.example.com\"{}",
                        why.map(|w| format!(": {w}")).unwrap_or_default()
                    ),
                )),
            }
        }
        all.push(Criterion::EmailDomains(out));
    }
    if let Some(roles) = words("roles", b.roles, errs) {
        if roles.iter().any(|r| r.trim().is_empty()) {
            errs.push(ConfigError::at(here("roles"), "a role is a non-empty word"));
        }
        all.push(Criterion::Roles(roles));
    }
    if let Some(mut groups) = words("groups", b.groups, errs) {
        for (i, g) in groups.iter().enumerate() {
            if !crate::groups::valid(g) {
                errs.push(ConfigError::at(
                    format!("{at}.groups[{i}]"),
                    format!("{g:?} cannot be a group (1-64 characters of A-Z a-z 0-9 . _ : @ / -)"),
                ));
            }
        }
        groups.sort();
        groups.dedup();
        all.push(Criterion::Groups(groups));
    }
    if let Some(claims) = b.claims {
        if claims.is_empty() {
            errs.push(ConfigError::at(here("claims"), "name at least one claim"));
        }
        for (ptr, v) in claims {
            let place = format!("{at}.claims.{ptr}");
            let pointer = match super::pointer::parse(&ptr) {
                Ok(p) => p,
                Err(why) => {
                    errs.push(ConfigError::at(&place, why));
                    continue;
                }
            };
            let path = super::pointer::tokens(&pointer);
            if TOKEN_MECHANICS.contains(&path[0].as_str()) {
                errs.push(ConfigError::at(
                    &place,
                    "every token's issuer, audience, times and id are checked already; match the caller's claims (sub, role, or those a provider's `claims:` mapping adds)",
                ));
                continue;
            }
            let any_of = match v {
                serde_json::Value::Array(items) => items,
                one => vec![one],
            };
            if any_of.is_empty()
                || any_of
                    .iter()
                    .any(|x| x.is_null() || x.is_array() || x.is_object())
            {
                errs.push(ConfigError::at(
                    &place,
                    "give a value (a string, number or boolean) or a list of them",
                ));
                continue;
            }
            all.push(Criterion::Claim {
                pointer,
                path,
                any_of,
            });
        }
    }
    if let Some(scopes) = words("scopes", b.scopes, errs) {
        if scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            errs.push(ConfigError::at(
                here("scopes"),
                "each scope is one word without spaces",
            ));
        }
        all.push(Criterion::Scopes(scopes));
    }
    match b.mfa {
        Some(true) => all.push(Criterion::Mfa),
        Some(false) => errs.push(ConfigError::at(
            here("mfa"),
            "mfa: false asks for nothing; leave it out (or write not: { mfa: true })",
        )),
        None => {}
    }
    if let Some(names) = words("amr", b.amr, errs) {
        let mut out = Vec::new();
        for (i, n) in names.iter().enumerate() {
            match AmrName::ALL
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n.trim()))
            {
                Some((_, a)) => out.push(*a),
                None => errs.push(ConfigError::at(
                    format!("{at}.amr[{i}]"),
                    format!(
                        "{n:?} is not a sign-in method the gateway records; use {}",
                        AmrName::ALL.map(|(k, _)| k).join(", ")
                    ),
                )),
            }
        }
        all.push(Criterion::Amr(out));
    }
    if let Some(items) = words("networks", b.networks, errs) {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(named) = networks.get(item.trim()) {
                out.extend(named.iter().copied());
            } else if let Some(net) = cidr(item) {
                out.push(net);
            } else {
                let known: Vec<&str> = networks.keys().map(String::as_str).collect();
                let hint = match super::nearest::nearest(item, &known) {
                    Some(n) => format!("; did you mean {n:?}?"),
                    None if known.is_empty() => " (there is no top-level networks: map)".into(),
                    None => format!("; the named networks are {}", known.join(", ")),
                };
                errs.push(ConfigError::at(
                    format!("{at}.networks[{i}]"),
                    format!("{item:?} is neither a CIDR block nor a name under `networks`{hint}"),
                ));
            }
        }
        all.push(Criterion::Networks(out));
    }
    if let Some(methods) = words("methods", b.methods, errs) {
        let mut out = Vec::new();
        for (i, m) in methods.iter().enumerate() {
            match http::Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes()) {
                Ok(m) => out.push(m),
                Err(_) => errs.push(ConfigError::at(
                    format!("{at}.methods[{i}]"),
                    format!("{m:?} is not an HTTP method"),
                )),
            }
        }
        all.push(Criterion::Methods(out));
    }
    if let Some(t) = b.time {
        if let Some(w) = window(&here("time"), t, errs) {
            all.push(Criterion::Time(w));
        }
    }
    if let Some(inner) = b.not {
        let inner = block(&here("not"), *inner, networks, true, errs);
        all.push(Criterion::Not(inner));
    }
    if all.is_empty() && (b.name.is_some() || !nested) {
        errs.push(ConfigError::at(
            at,
            "an empty block holds for everyone: say what it requires",
        ));
    }
    all
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day(text: &str) -> Option<u8> {
    let t = text.trim().to_ascii_lowercase();
    DAYS.iter()
        .position(|d| t == *d || (t.len() > 3 && t.starts_with(d)))
        .map(|i| i as u8)
}

/// `mon-fri`, `sat`, `fri-mon` (wrapping), or a list of them, as a bit set (bit 0 Monday).
fn days(words: &[String]) -> Result<u8, String> {
    let mut set = 0u8;
    for w in words.iter().flat_map(|w| w.split(',')) {
        let (a, b) = match w.split_once('-') {
            Some((a, b)) => (day(a), day(b)),
            None => (day(w), day(w)),
        };
        let (Some(a), Some(b)) = (a, b) else {
            return Err(format!(
                "{w:?} is not a day (mon, tue, wed, thu, fri, sat, sun) or a range like mon-fri"
            ));
        };
        let mut d = a;
        loop {
            set |= 1 << d;
            if d == b {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    Ok(set)
}

/// `HH:MM` (24:00 allowed as an end) as minutes after midnight.
fn clock(text: &str, end: bool) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(1..=2).contains(&h.len()) || m.len() != 2 || !digits(h) || !digits(m) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let ok = m < 60 && (h < 24 || (end && h == 24 && m == 0));
    ok.then_some(h * 60 + m)
}

fn window(at: &str, t: TimeFile, errs: &mut Vec<ConfigError>) -> Option<Window> {
    let before = errs.len();
    let days = match t.days.map(|d| days(&d.0)).transpose() {
        Ok(d) => d.unwrap_or(0x7f),
        Err(why) => {
            errs.push(ConfigError::at(format!("{at}.days"), why));
            0
        }
    };
    let mut time = |key: &str, v: Option<String>, default: u16, end: bool| match v {
        None => default,
        Some(v) => clock(&v, end).unwrap_or_else(|| {
            errs.push(ConfigError::at(
                format!("{at}.{key}"),
                format!("{v:?} is not a time of day like \"07:00\""),
            ));
            0
        }),
    };
    let from = time("from", t.from, 0, false);
    let to = time("to", t.to, 24 * 60, true);
    if from == to && errs.len() == before {
        errs.push(ConfigError::at(
            at,
            "from and to are the same time: the window would never hold",
        ));
    }
    let zone = t.tz.unwrap_or_else(|| "UTC".into());
    let tz = match jiff::tz::TimeZone::get(&zone) {
        Ok(tz) => Some(tz),
        Err(_) => {
            errs.push(ConfigError::at(
                format!("{at}.tz"),
                format!("{zone:?} is not an IANA time zone like \"Europe/Berlin\""),
            ));
            None
        }
    };
    (errs.len() == before).then_some(Window {
        days,
        from,
        to,
        tz: tz?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_clocks_parse_as_written() {
        let w = |v: &[&str]| days(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(w(&["mon-fri"]), Ok(0b001_1111));
        assert_eq!(w(&["sat", "sun"]), Ok(0b110_0000));
        assert_eq!(w(&["fri-mon"]), Ok(0b111_0001), "a range may wrap the week");
        assert_eq!(w(&["Monday,wed"]), Ok(0b000_0101));
        assert!(w(&["funday"]).is_err());
        assert_eq!(clock("07:00", false), Some(420));
        assert_eq!(clock("24:00", true), Some(1440));
        assert_eq!(clock("24:00", false), None);
        assert_eq!(clock("7:05", false), Some(425));
        for bad in ["25:00", "07:60", "0700", "x:y", "07:000", "7:5", "+7:05"] {
            assert_eq!(clock(bad, true), None, "{bad}");
        }
    }

    /// The paths of every problem in a config with these route lines.
    fn problems(routes: &str) -> Vec<String> {
        let yaml = format!(
            "upstreams: {{ a: {{ addrs: [\"127.0.0.1:1\"] }} }}\nnetworks: {{ office: [\"203.0.113.0/24\"], bad: [\"10.0.0.0/33\"] }}\nroutes:\n{routes}"
        );
        match crate::config::from_yaml(&yaml, &Default::default(), std::path::Path::new(".")) {
            Ok(_) => Vec::new(),
            Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn every_mistake_is_named_with_its_path() {
        let route = |rest: &str| format!("  - {{ path: \"/**\", upstream: a, {rest} }}\n");
        let cases = [
            (route("auth: none, allow: [{ groups: [eng] }]"), "routes[0].allow: block \"allow[0]\" asks who the caller is, but auth: none"),
            (route("auth: none, deny: [{ not: { users: [a@b.c] } }]"), "routes[0].deny: block \"deny[0]\" asks who"),
            (route("auth: { roles: [admin] }, allow: [{ groups: [eng] }]"), "routes[0].auth: auth: { roles, mfa, scopes } is shorthand"),
            (route("allow: [{ networks: [ofice] }]"), "routes[0].allow[0].networks[0]: \"ofice\" is neither a CIDR block nor a name under `networks`; did you mean \"office\"?"),
            (route("allow: [{ networks: [\"10.0.0.0/33\"] }]"), "routes[0].allow[0].networks[0]"),
            (route("allow: [{ time: { tz: Europe/Berln } }]"), "routes[0].allow[0].time.tz: \"Europe/Berln\" is not an IANA time zone"),
            (route("allow: [{ time: { days: mon-fry } }]"), "routes[0].allow[0].time.days"),
            (route("allow: [{ time: { from: \"08:00\", to: \"08:00\" } }]"), "routes[0].allow[0].time: from and to are the same time"),
            (route("allow: [{ amr: [sms] }]"), "routes[0].allow[0].amr[0]: \"sms\" is not a sign-in method"),
            (route("allow: [{ groups: [\"a b\"] }]"), "routes[0].allow[0].groups[0]"),
            (route("allow: [{ claims: { \"/iss\": x } }]"), "routes[0].allow[0].claims./iss: every token's issuer"),
            (route("allow: [{ claims: { \"/x\": { a: 1 } } }]"), "routes[0].allow[0].claims./x: give a value"),
            (route("allow: [{ mfa: false }]"), "routes[0].allow[0].mfa: mfa: false asks for nothing"),
            (route("allow: [{}]"), "routes[0].allow[0]: an empty block holds for everyone"),
            (route("allow: []"), "routes[0].allow: list at least one block"),
            (route("allow: [{ not: { name: x, roles: [a] } }]"), "routes[0].allow[0].not.name"),
            (route("deny: [{ methods: [DELETE] }]"), "routes[0].auth: give auth: none, optional or required"),
            (route("allow: [{ name: a, roles: [x] }, { name: a, roles: [y] }]"), "two blocks are named \"a\""),
            (route("allow: [{ email_domains: [\"*.*.x\"] }]"), "routes[0].allow[0].email_domains[0]"),
            (route("allow: [{ users: [nobody] }]"), "routes[0].allow[0].users[0]"),
            (route("allow: [{ methods: [\"G T\"] }]"), "routes[0].allow[0].methods[0]"),
        ];
        for (yaml, want) in cases {
            let got = problems(&yaml);
            assert!(
                got.iter().any(|p| p.starts_with(want) || p.contains(want)),
                "{yaml}: want {want:?} in {got:#?}"
            );
        }
        // A bad CIDR under `networks:` is named there.
        assert!(problems(&route("auth: none"))
            .iter()
            .any(|p| p.starts_with("networks.bad[0]")));
    }

    #[test]
    fn the_shorthand_is_one_allow_block_and_a_good_policy_loads() {
        let yaml = "upstreams: { a: { addrs: [\"127.0.0.1:1\"] } }\nnetworks: { office: [\"203.0.113.0/24\", \"2001:db8::/32\"], vpn: [\"10.8.0.0/16\"] }\nroutes:\n  - { name: ops, path: \"/ops/**\", upstream: a, auth: { roles: [admin], mfa: true, scopes: [a, b] } }\n  - name: wiki\n    path: \"/wiki/**\"\n    upstream: a\n    auth: optional\n    allow:\n      - { networks: [office] }\n      - { email_domains: [example.com] }\n    deny:\n      - { methods: [DELETE] }\n  - name: billing\n    path: \"/billing/**\"\n    upstream: a\n    allow:\n      - { name: office hours, networks: [vpn], time: { days: mon-fri, from: \"07:00\", to: \"19:00\", tz: Europe/Berlin } }\n";
        let cfg =
            crate::config::from_yaml(yaml, &Default::default(), std::path::Path::new(".")).unwrap();
        let ops = &cfg.routes[0];
        assert_eq!(ops.auth, AuthRule::Required);
        let keys: Vec<&str> = ops.policy.allow[0].all.iter().map(Criterion::key).collect();
        assert_eq!(
            keys,
            ["roles", "mfa", "scopes", "scopes"],
            "every scope of the shorthand is needed"
        );
        let wiki = &cfg.routes[1];
        assert_eq!((wiki.policy.allow.len(), wiki.policy.deny.len()), (2, 1));
        assert_eq!(wiki.policy.deny[0].label, "deny[0]");
        let billing = &cfg.routes[2];
        assert_eq!(
            billing.auth,
            AuthRule::Optional,
            "an allow list without auth: optional"
        );
        assert_eq!(billing.policy.allow[0].label, "office hours");
    }

    #[test]
    fn a_window_past_midnight_belongs_to_the_day_it_starts_on() {
        let w = Window {
            days: 1 << 4, // Friday
            from: 22 * 60,
            to: 6 * 60,
            tz: jiff::tz::TimeZone::UTC,
        };
        // 2026-12-04 is a Friday.
        let at = |d: u32, h: u32| {
            jiff::civil::date(2026, 12, d as i8)
                .at(h as i8, 0, 0, 0)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .unwrap()
                .timestamp()
                .as_second()
        };
        assert!(w.holds(at(4, 23)));
        assert!(w.holds(at(5, 3)), "early Saturday is Friday's night");
        assert!(!w.holds(at(4, 3)), "early Friday is Thursday's night");
        assert!(!w.holds(at(5, 23)));
    }
}
