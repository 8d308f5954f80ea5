//! The page templates: the ones built into the binary, each replaceable by a file of the same
//! name in `pages.templates_dir` (extra files there may be included or extended). Loaded and
//! compiled once when the config is validated, so `check-config` reports a broken template.

use minijinja::Environment;
use std::path::Path;
use std::sync::Arc;

/// Every page the gateway renders, with its built-in text.
const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/pages/base.html")),
    (
        "admin_base.html",
        include_str!("../../templates/pages/admin_base.html"),
    ),
    (
        "admin_message.html",
        include_str!("../../templates/pages/admin_message.html"),
    ),
    (
        "admin_users.html",
        include_str!("../../templates/pages/admin_users.html"),
    ),
    (
        "admin_user.html",
        include_str!("../../templates/pages/admin_user.html"),
    ),
    (
        "admin_keys.html",
        include_str!("../../templates/pages/admin_keys.html"),
    ),
    (
        "admin_apps.html",
        include_str!("../../templates/pages/admin_apps.html"),
    ),
    (
        "admin_audit.html",
        include_str!("../../templates/pages/admin_audit.html"),
    ),
    (
        "admin_event.html",
        include_str!("../../templates/pages/admin_event.html"),
    ),
    (
        "admin_backoffs.html",
        include_str!("../../templates/pages/admin_backoffs.html"),
    ),
    (
        "login.html",
        include_str!("../../templates/pages/login.html"),
    ),
    (
        "account.html",
        include_str!("../../templates/pages/account.html"),
    ),
    (
        "signup.html",
        include_str!("../../templates/pages/signup.html"),
    ),
    (
        "verify.html",
        include_str!("../../templates/pages/verify.html"),
    ),
    (
        "forgot.html",
        include_str!("../../templates/pages/forgot.html"),
    ),
    (
        "reset.html",
        include_str!("../../templates/pages/reset.html"),
    ),
    (
        "magic.html",
        include_str!("../../templates/pages/magic.html"),
    ),
    (
        "magic_request.html",
        include_str!("../../templates/pages/magic_request.html"),
    ),
    ("mfa.html", include_str!("../../templates/pages/mfa.html")),
    (
        "oidc_consent.html",
        include_str!("../../templates/pages/oidc_consent.html"),
    ),
    (
        "oidc_message.html",
        include_str!("../../templates/pages/oidc_message.html"),
    ),
    (
        "mfa_setup.html",
        include_str!("../../templates/pages/mfa_setup.html"),
    ),
    (
        "api_key_created.html",
        include_str!("../../templates/pages/api_key_created.html"),
    ),
    (
        "recovery_codes.html",
        include_str!("../../templates/pages/recovery_codes.html"),
    ),
];

/// The compiled templates, shared by every request.
pub type Templates = Arc<Environment<'static>>;

/// Built-in templates overlaid with the `.html` files of `dir`. Every problem is returned, each
/// naming its file.
pub fn load(dir: Option<&Path>) -> Result<Templates, Vec<String>> {
    let mut env = Environment::new();
    let mut errs = Vec::new();
    for (name, text) in BUILT_IN {
        if let Err(e) = env.add_template(name, text) {
            errs.push(format!("built-in {name}: {e}"));
        }
    }
    if let Some(dir) = dir {
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                for path in entries.flatten().map(|e| e.path()) {
                    overlay(&mut env, &path, &mut errs);
                }
            }
            Err(e) => errs.push(format!("{}: {e}", dir.display())),
        }
    }
    // A page that extends a missing or broken parent only fails when rendered; find it now.
    for (name, _) in BUILT_IN {
        if let Err(e) = env.get_template(name).and_then(|t| {
            t.render(minijinja::context! {})
                .map(|_| ())
                .or_else(|e| match e.kind() {
                    minijinja::ErrorKind::TemplateNotFound | minijinja::ErrorKind::SyntaxError => {
                        Err(e)
                    }
                    _ => Ok(()),
                })
        }) {
            errs.push(format!("{name}: {e}"));
        }
    }
    if errs.is_empty() {
        Ok(Arc::new(env))
    } else {
        Err(errs)
    }
}

fn overlay(env: &mut Environment<'static>, path: &Path, errs: &mut Vec<String>) {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    if !name.ends_with(".html") || !path.is_file() {
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(text) => {
            if let Err(e) = env.add_template_owned(name.to_string(), text) {
                errs.push(format!("{}: {e}", path.display()));
            }
        }
        Err(e) => errs.push(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_compile() {
        assert!(load(None).is_ok());
    }

    #[test]
    fn a_file_in_the_directory_replaces_its_built_in_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("login.html"),
            "{% extends \"base.html\" %}{% block content %}<h1>Welcome to {{ product }}</h1>{% endblock %}",
        )
        .unwrap();
        let env = load(Some(dir.path())).unwrap();
        let html = env
            .get_template("login.html")
            .unwrap()
            .render(minijinja::context! { product => "Acme" })
            .unwrap();
        assert!(html.contains("<h1>Welcome to Acme</h1>"), "{html}");

        std::fs::write(dir.path().join("account.html"), "{% if %}").unwrap();
        let errs = load(Some(dir.path())).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("account.html")), "{errs:?}");
    }
}
