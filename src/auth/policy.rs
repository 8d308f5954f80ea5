//! Password policy after NIST SP 800-63B: length and a blocklist of common passwords, no
//! composition rules. And the one rule for display names, wherever a name is set.

use once_cell::sync::Lazy;
use std::collections::HashSet;

/// Longest password accepted; checked before hashing so huge inputs cost nothing.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Longest display name accepted.
pub const MAX_NAME_CHARS: usize = 200;

/// Why a display name is refused; shown to the person as "name <problem>".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    #[error("must not be empty")]
    Empty,
    #[error("must not contain control characters")]
    Control,
    #[error("must be at most {MAX_NAME_CHARS} characters")]
    TooLong,
}

/// Why a (trimmed) display name is refused. A name goes into headers, mail subjects and
/// pages: no line breaks or other control characters.
pub fn check_name(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.chars().any(char::is_control) {
        return Err(NameProblem::Control);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameProblem::TooLong);
    }
    Ok(())
}

/// Why a password is refused, worded for the person choosing it ("password <problem>").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("must be at least {0} characters long")]
    TooShort(usize),
    #[error("must be at most {MAX_PASSWORD_CHARS} characters long")]
    TooLong,
    #[error("is one of the most commonly used passwords; choose another")]
    Common,
}

/// The 10,000 most common passwords (see `assets/README.md`), lower-cased.
static COMMON: Lazy<HashSet<&'static str>> = Lazy::new(|| {
    include_str!("../../assets/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Whether a password may be chosen.
pub fn check(password: &str, min_chars: usize) -> Result<(), PasswordProblem> {
    let n = password.chars().count();
    if n < min_chars {
        return Err(PasswordProblem::TooShort(min_chars));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    if COMMON.contains(password.to_lowercase().as_str()) {
        return Err(PasswordProblem::Common);
    }
    Ok(())
}

/// Lower-cased, trimmed, and shaped like `local@domain`; `None` otherwise.
pub fn normalize_email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_the_rule_not_composition() {
        assert!(check("short", 8).is_err());
        assert!(check("alllowercaseisfine", 8).is_ok());
        assert!(check(&"x".repeat(129), 8).is_err());
        assert!(check(&"é".repeat(8), 8).is_ok());
        assert!(check("a sentence of words", 12).is_ok());
        assert!(check("elevenchars", 12).is_err());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert_eq!(COMMON.len(), 10_000);
        for p in ["password", "12345678", "PASSWORD1", "baseball", "iloveyou"] {
            let e = check(p, 8).unwrap_err();
            assert!(e.to_string().contains("commonly used"), "{p}: {e}");
        }
    }
}
