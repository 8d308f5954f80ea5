//! Password policy after NIST SP 800-63B: length only, no composition rules.

/// Longest password accepted; checked before hashing so huge inputs cost nothing.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Why a password is refused, worded for the person choosing it.
pub fn check(password: &str, min_chars: usize) -> Result<(), String> {
    let n = password.chars().count();
    if n < min_chars {
        return Err(format!("must be at least {min_chars} characters long"));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!(
            "must be at most {MAX_PASSWORD_CHARS} characters long"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_the_rule() {
        assert!(check("short", 8).is_err());
        assert!(check("alllowercaseisfine", 8).is_ok());
        assert!(check(&"x".repeat(129), 8).is_err());
        assert!(check(&"é".repeat(8), 8).is_ok());
    }
}
