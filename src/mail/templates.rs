//! Mail bodies (text and HTML) from the templates in `templates/mail/`, auto-escaped in HTML.

use minijinja::{context, Environment};
use once_cell::sync::Lazy;

/// The messages the gateway sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PasswordReset,
    ConfirmEmail,
    AccountExists,
    MagicLink,
    /// To a new address: confirm it before it becomes the account's.
    ConfirmEmailChange,
    /// To the current address: a change was asked for.
    EmailChanging,
    /// A recovery code signed someone in.
    RecoveryCodeUsed,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::PasswordReset => "reset",
            Kind::ConfirmEmail => "confirm",
            Kind::AccountExists => "exists",
            Kind::MagicLink => "magic",
            Kind::ConfirmEmailChange => "email_change",
            Kind::EmailChanging => "email_changing",
            Kind::RecoveryCodeUsed => "recovery_used",
        }
    }

    pub fn subject(self, product: &str) -> String {
        match self {
            Kind::PasswordReset => format!("Reset your {product} password"),
            Kind::ConfirmEmail => format!("Confirm your email for {product}"),
            Kind::AccountExists => format!("You already have a {product} account"),
            Kind::MagicLink => format!("Your {product} sign-in link"),
            Kind::ConfirmEmailChange => format!("Confirm your new email for {product}"),
            Kind::EmailChanging => format!("Your {product} email is about to change"),
            Kind::RecoveryCodeUsed => {
                format!("A recovery code was used for your {product} account")
            }
        }
    }
}

static ENV: Lazy<Environment<'static>> = Lazy::new(|| {
    let mut env = Environment::new();
    let files = [
        ("reset.txt", include_str!("../../templates/mail/reset.txt")),
        (
            "reset.html",
            include_str!("../../templates/mail/reset.html"),
        ),
        (
            "confirm.txt",
            include_str!("../../templates/mail/confirm.txt"),
        ),
        (
            "confirm.html",
            include_str!("../../templates/mail/confirm.html"),
        ),
        (
            "exists.txt",
            include_str!("../../templates/mail/exists.txt"),
        ),
        (
            "exists.html",
            include_str!("../../templates/mail/exists.html"),
        ),
        ("magic.txt", include_str!("../../templates/mail/magic.txt")),
        (
            "email_change.txt",
            include_str!("../../templates/mail/email_change.txt"),
        ),
        (
            "email_change.html",
            include_str!("../../templates/mail/email_change.html"),
        ),
        (
            "email_changing.txt",
            include_str!("../../templates/mail/email_changing.txt"),
        ),
        (
            "email_changing.html",
            include_str!("../../templates/mail/email_changing.html"),
        ),
        (
            "magic.html",
            include_str!("../../templates/mail/magic.html"),
        ),
        (
            "recovery_used.txt",
            include_str!("../../templates/mail/recovery_used.txt"),
        ),
        (
            "recovery_used.html",
            include_str!("../../templates/mail/recovery_used.html"),
        ),
    ];
    for (name, text) in files {
        if let Err(e) = env.add_template(name, text) {
            tracing::error!(template = name, error = %e, "mail template does not parse");
        }
    }
    env
});

/// Text and HTML bodies.
pub fn render(
    kind: Kind,
    product: &str,
    name: &str,
    link: &str,
    ttl: &str,
) -> Result<(String, String), minijinja::Error> {
    let ctx = context! { product, name, link, ttl };
    let text = ENV
        .get_template(&format!("{}.txt", kind.name()))?
        .render(&ctx)?;
    let html = ENV
        .get_template(&format!("{}.html", kind.name()))?
        .render(&ctx)?;
    Ok((text, html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_and_html_is_escaped() {
        for kind in [
            Kind::PasswordReset,
            Kind::ConfirmEmail,
            Kind::AccountExists,
            Kind::MagicLink,
            Kind::ConfirmEmailChange,
            Kind::EmailChanging,
            Kind::RecoveryCodeUsed,
        ] {
            let (text, html) = render(
                kind,
                "Acme",
                "<Ann>",
                "https://id.example/x?token=a&b=c",
                "1 hour",
            )
            .unwrap();
            assert!(text.contains("https://id.example/x?token=a&b=c"), "{text}");
            assert!(html.contains("&lt;Ann&gt;"), "{html}");
            // Entities (also for `/`), which browsers decode in `href`: no raw `&` or `<` gets in.
            assert!(
                html.contains("token=a&amp;b=c") && !html.contains("a&b"),
                "{html}"
            );
        }
    }
}
