//! The module layering, checked on the source: top-level modules depend one way (no import
//! cycle among them), the control plane's families (`api`, `pages`, `oauth`, `oidc`) depend on shared
//! code only and never on each other, `config` imports nothing but the leaf modules `path` and
//! `redirect`, and `auth` and `store` know nothing of HTTP frameworks. Prints the module graph.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// A file's code without its unit tests (`#[cfg(test)] mod tests` and what follows) and
/// without comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules under `root` (files and directories), each with the sibling modules its code
/// names through `prefix` (`crate::` or `crate::control::`).
fn graph(root: &Path, prefix: &str) -> Graph {
    let mut modules = BTreeSet::new();
    for e in std::fs::read_dir(root).unwrap().flatten() {
        let p = e.path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if (p.is_dir() || p.extension().is_some_and(|x| x == "rs"))
            && !["lib", "main", "mod"].contains(&name.as_str())
        {
            modules.insert(name);
        }
    }
    let mut g = Graph::new();
    for m in &modules {
        let dir = root.join(m);
        let files = if dir.is_dir() {
            rust_files(&dir)
        } else {
            vec![root.join(format!("{m}.rs"))]
        };
        let mut deps = BTreeSet::new();
        for f in files {
            let c = code(&f);
            for other in &modules {
                if other == m {
                    continue;
                }
                let direct = format!("{prefix}{other}::");
                let end = format!("{prefix}{other};");
                // `use crate::{a, b::c}` names several at once.
                let grouped = c.match_indices(&format!("{prefix}{{")).any(|(i, _)| {
                    let inner = &c[i + prefix.len() + 1..];
                    let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                    inner
                        .split(',')
                        .any(|item| item.trim().split("::").next() == Some(other.as_str()))
                });
                if c.contains(&direct) || c.contains(&end) || grouped {
                    deps.insert(other.clone());
                }
            }
        }
        g.insert(m.clone(), deps);
    }
    g
}

/// Every cycle's members (strongly connected components of more than one module).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    // Kosaraju: finish order on the graph, then components on the reversed graph.
    fn visit(g: &Graph, v: &str, seen: &mut BTreeSet<String>, order: &mut Vec<String>) {
        if !seen.insert(v.to_string()) {
            return;
        }
        for w in &g[v] {
            visit(g, w, seen, order);
        }
        order.push(v.to_string());
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for v in g.keys() {
        visit(g, v, &mut seen, &mut order);
    }
    let mut reversed: Graph = g.keys().map(|k| (k.clone(), BTreeSet::new())).collect();
    for (v, ws) in g {
        for w in ws {
            reversed.get_mut(w).unwrap().insert(v.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut out = Vec::new();
    for v in order.iter().rev() {
        let mut component = Vec::new();
        visit(&reversed, v, &mut assigned, &mut component);
        if component.len() > 1 {
            component.sort();
            out.push(component);
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_depend_one_way() {
    let g = graph(&src(), "crate::");
    for (m, deps) in &g {
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        eprintln!("{m:10} -> {}", deps.join(", "));
    }
    assert_eq!(cycles(&g), Vec::<Vec<String>>::new(), "import cycles");
    let allowed_for_config: BTreeSet<String> = ["certs", "groups", "hosts", "path", "redirect"]
        .map(String::from)
        .into();
    assert!(
        g["config"].is_subset(&allowed_for_config),
        "config imports {:?}",
        g["config"]
    );
    for leaf in [
        "groups", "hosts", "path", "request", "metrics", "startup", "whoami",
    ] {
        assert!(g[leaf].is_empty(), "{leaf} imports {:?}", g[leaf]);
    }
}

#[test]
fn the_control_plane_families_share_code_but_not_each_other() {
    let g = graph(&src().join("control"), "crate::control::");
    const FAMILIES: [&str; 4] = ["api", "pages", "oauth", "oidc"];
    for family in FAMILIES {
        let others: Vec<&String> = g[family]
            .iter()
            .filter(|d| FAMILIES.contains(&d.as_str()) && d.as_str() != family)
            .collect();
        assert!(others.is_empty(), "{family} imports {others:?}");
    }
    assert_eq!(cycles(&g), Vec::<Vec<String>>::new());
}

#[test]
fn auth_store_and_accounts_know_nothing_of_http_frameworks() {
    for module in ["auth", "store", "accounts", "config", "decision", "oidc"] {
        for f in rust_files(&src().join(module)) {
            let c = code(&f);
            for framework in ["axum::", "pingora::proxy", "tower::", "hyper::"] {
                assert!(!c.contains(framework), "{} uses {framework}", f.display());
            }
        }
    }
}

#[test]
fn the_check_finds_a_cycle_when_there_is_one() {
    let mut g = Graph::new();
    g.insert("a".into(), ["b".to_string()].into());
    g.insert("b".into(), ["c".to_string()].into());
    g.insert("c".into(), ["a".to_string()].into());
    g.insert("d".into(), ["a".to_string()].into());
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
}
