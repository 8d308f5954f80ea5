//! `portcullis edge-config`: the config an edge proxy needs to ask the gateway about every
//! request, written from the gateway's own settings (identity prefix and header list, check
//! paths, listen address, trusted proxies). The files in `deploy/forward-auth/` are this
//! output for the documented example, so no hand-kept copy of the header list can drift.

mod names;

use crate::config::{Config, EdgeAsker};
use minijinja::Environment;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};

/// The edge proxies a config can be written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Nginx,
    Caddy,
    Traefik,
    Envoy,
}

impl Edge {
    pub const ALL: [Edge; 4] = [Edge::Nginx, Edge::Caddy, Edge::Traefik, Edge::Envoy];

    pub fn name(self) -> &'static str {
        match self {
            Edge::Nginx => "nginx",
            Edge::Caddy => "caddy",
            Edge::Traefik => "traefik",
            Edge::Envoy => "envoy",
        }
    }

    /// The file in `deploy/forward-auth/` that holds this edge's example.
    pub fn shipped_file(self) -> &'static str {
        match self {
            Edge::Nginx => "nginx-auth-request.conf",
            Edge::Caddy => "Caddyfile",
            Edge::Traefik => "traefik-dynamic.yml",
            Edge::Envoy => "envoy.yaml",
        }
    }

    /// The gateway endpoint this edge asks, and its `api.routes` key.
    fn asker(self) -> (EdgeAsker, &'static str) {
        match self {
            Edge::Nginx => (EdgeAsker::AuthRequest, "auth-request"),
            Edge::Caddy | Edge::Traefik => (EdgeAsker::ForwardAuth, "forward-auth"),
            Edge::Envoy => (EdgeAsker::ExtAuthz, "ext-authz"),
        }
    }

    fn template(self) -> (&'static str, &'static str) {
        match self {
            Edge::Nginx => ("nginx", include_str!("../../templates/edge/nginx.conf")),
            Edge::Caddy => ("caddy", include_str!("../../templates/edge/Caddyfile")),
            Edge::Traefik => ("traefik", include_str!("../../templates/edge/traefik.yml")),
            Edge::Envoy => ("envoy", include_str!("../../templates/edge/envoy.yaml")),
        }
    }
}

impl std::str::FromStr for Edge {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Edge::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let known: Vec<_> = Edge::ALL.iter().map(|e| e.name()).collect();
                format!(
                    "{s:?} is not an edge this writes for; known: {}",
                    known.join(", ")
                )
            })
    }
}

/// Where the edge itself listens and where the app behind it is: not the gateway's to know.
#[derive(Debug, Clone)]
pub struct Site {
    pub listen: SocketAddr,
    pub app: String,
}

/// The config text, and what the operator should know that the config cannot say.
#[derive(Debug)]
pub struct Written {
    pub text: String,
    pub warnings: Vec<String>,
}

#[derive(Serialize)]
struct Header {
    /// As people write it: `X-Auth-User-Id`.
    name: String,
    /// Lower-cased with `_` for `-`: nginx's variable spelling.
    snake: String,
}

#[derive(Serialize)]
struct Override {
    /// `X-Http-Method-Override`.
    name: String,
    lower: &'static str,
    /// Go's canonical forms of its spellings (`_` for `-`), for Caddy and Traefik.
    spellings: Vec<String>,
}

#[derive(Serialize)]
struct Context {
    edge: String,
    gateway: String,
    gateway_host: String,
    gateway_port: u16,
    listen: String,
    listen_host: String,
    listen_port: u16,
    app: String,
    app_host: String,
    app_port: u16,
    /// Envoy resolves a name, or takes an address as it is.
    app_is_ip: bool,
    path: String,
    prefix: String,
    prefix_lower: String,
    /// Caddy deletes by a prefix of Go's canonical names, each `-` of the prefix spelt either way.
    canonical_prefixes: Vec<String>,
    /// Traefik's `authResponseHeadersRegex`: the prefix in any case, `-` or `_`.
    prefix_regex: String,
    headers: Vec<Header>,
    overrides: Vec<Override>,
    /// The request headers the decision reads, for edges that send only those listed.
    read_headers: Vec<&'static str>,
    trusted: String,
    origins: String,
}

/// The config for `edge` in front of `site`, asking the gateway that `cfg` describes.
pub fn write(edge: Edge, cfg: &Config, site: &Site) -> Result<Written, String> {
    let (asker, key) = edge.asker();
    let path = cfg
        .api
        .edges()
        .into_iter()
        .find(|(a, _)| *a == asker)
        .and_then(|(_, at)| at.clone())
        .ok_or_else(|| {
            format!(
                "{} asks api.routes.{key}, which is off: set it to true",
                edge.name()
            )
        })?;
    if !cfg.server.listen_plain {
        return Err(
            "server.listen is not set: the edge asks the gateway over plain HTTP \
                    on a private address, so give it one"
                .into(),
        );
    }
    let gateway = reachable(cfg.server.listen);
    let (app_host, app_port) = host_port(&site.app)?;
    let mut warnings = Vec::new();
    if !site.listen.ip().is_unspecified()
        && !cfg
            .server
            .trusted_proxies
            .iter()
            .any(|n| n.contains(&site.listen.ip()))
    {
        warnings.push(format!(
            "server.trusted_proxies does not hold {}: if the edge connects from there, the gateway answers its checks with 403",
            site.listen.ip()
        ));
    }
    let names = &cfg.identity;
    let ctx = Context {
        edge: edge.name().into(),
        gateway: gateway.to_string(),
        gateway_host: gateway.ip().to_string(),
        gateway_port: gateway.port(),
        listen: site.listen.to_string(),
        listen_host: site.listen.ip().to_string(),
        listen_port: site.listen.port(),
        app: site.app.clone(),
        app_is_ip: app_host.parse::<IpAddr>().is_ok(),
        app_host,
        app_port,
        path,
        prefix: names.prefix_as_written.clone(),
        prefix_lower: names.prefix.clone(),
        canonical_prefixes: names::spellings(&names.prefix),
        prefix_regex: names::prefix_regex(&names.prefix),
        headers: names
            .all()
            .map(|(f, n)| Header {
                name: names.written(f),
                snake: n.as_str().replace('-', "_"),
            })
            .collect(),
        overrides: crate::request::OVERRIDES
            .iter()
            .map(|o| Override {
                name: names::spellings(o).swap_remove(0),
                lower: o,
                spellings: names::spellings(o),
            })
            .collect(),
        read_headers: crate::request::READ_BY_THE_DECISION.to_vec(),
        trusted: list(cfg.server.trusted_proxies.iter().map(|n| n.to_string())),
        origins: list(cfg.server.redirect_origins.iter().cloned()),
    };
    let (name, source) = edge.template();
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_template(name, source)
        .and_then(|()| env.get_template(name)?.render(&ctx))
        .map(|text| Written { text, warnings })
        .map_err(|e| format!("the {name} template: {e}"))
}

/// A listener on every interface is asked on loopback (the edge usually shares the host; the
/// comment in each file says to change it otherwise).
fn reachable(at: SocketAddr) -> SocketAddr {
    let ip: IpAddr = match at.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    SocketAddr::new(ip, at.port())
}

fn host_port(addr: &str) -> Result<(String, u16), String> {
    let bad = || format!("--app {addr:?} is not host:port");
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

fn list(items: impl Iterator<Item = String>) -> String {
    let quoted: Vec<String> = items.map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> Config {
        crate::config::from_yaml(yaml, &Default::default(), std::path::Path::new(".")).unwrap()
    }

    const ON: &str = "server: { listen: \"127.0.0.1:8080\", trusted_proxies: [\"127.0.0.1/32\"] }\napi: { routes: { forward-auth: true, auth-request: true, ext-authz: true } }\n";

    fn site() -> Site {
        Site {
            listen: "127.0.0.1:8000".parse().unwrap(),
            app: "127.0.0.1:3000".into(),
        }
    }

    #[test]
    fn every_edge_names_every_header_of_the_list() {
        for prefix in ["X-Auth-", "X-Portcullis-"] {
            let c = cfg(&format!(
                "{ON}identity_headers: {{ prefix: \"{prefix}\" }}\n"
            ));
            for edge in Edge::ALL {
                let w = write(edge, &c, &site()).unwrap();
                assert!(w.warnings.is_empty(), "{:?}", w.warnings);
                // Caddy copies by name and nginx sets by name; Traefik and Envoy copy by
                // prefix, so their files name the prefix instead.
                if matches!(edge, Edge::Nginx | Edge::Caddy) {
                    for (f, _) in c.identity.all() {
                        let name = c.identity.written(f);
                        assert!(w.text.contains(&name), "{edge:?} misses {name}");
                    }
                }
                let lower = prefix.to_ascii_lowercase();
                let strips: Vec<String> = match edge {
                    Edge::Nginx => vec![format!("more_clear_input_headers '{prefix}*';")],
                    Edge::Caddy => names::spellings(&lower)
                        .iter()
                        .map(|p| format!("request_header -{p}*"))
                        .collect(),
                    Edge::Traefik => vec![format!(
                        "authResponseHeadersRegex: \"{}\"",
                        names::prefix_regex(&lower)
                    )],
                    Edge::Envoy => vec![format!("prefix: \"{lower}\"")],
                };
                for line in strips {
                    assert!(
                        w.text.contains(&line),
                        "{edge:?} strips by the prefix: {line}"
                    );
                }
                assert!(w.text.contains("127.0.0.1") && w.text.contains("8080"));
            }
        }
    }

    #[test]
    fn an_endpoint_that_is_off_is_named() {
        let c = cfg("server: { listen: \"127.0.0.1:8080\", trusted_proxies: [\"10.0.0.0/8\"] }\napi: { routes: { forward-auth: true } }\n");
        let e = write(Edge::Nginx, &c, &site()).unwrap_err();
        assert!(e.contains("api.routes.auth-request"), "{e}");
        assert!(write(Edge::Envoy, &c, &site())
            .unwrap_err()
            .contains("api.routes.ext-authz"));
        let w = write(Edge::Caddy, &c, &site()).unwrap();
        assert!(w.warnings[0].contains("127.0.0.1"), "{:?}", w.warnings);
        let mut bad = site();
        bad.app = "nowhere".into();
        assert!(write(Edge::Caddy, &c, &bad).unwrap_err().contains("--app"));
        assert!("haproxy"
            .parse::<Edge>()
            .unwrap_err()
            .contains("known: nginx"));
    }
}
