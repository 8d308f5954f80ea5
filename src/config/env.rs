//! Settings from the environment, directly or from a file: `NAME`, else the contents of the
//! file `NAME_FILE` names (how container platforms hand over secrets: Kubernetes and Docker
//! mount them as files, so they never sit in an environment listing).

/// The value of `NAME`, or of the file `NAME_FILE` names (one trailing newline dropped);
/// `Ok(None)` when neither is set, `Err` when the file cannot be read.
pub fn var(name: &str) -> Result<Option<String>, String> {
    if let Some(v) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
        return Ok(Some(v));
    }
    let file_var = format!("{name}_FILE");
    let Some(path) = std::env::var(&file_var).ok().filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{file_var}: cannot read {path}: {e}"))?;
    let value = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text)
        .to_string();
    Ok((!value.is_empty()).then_some(value))
}

/// A setting written `${NAME}`: the value of env NAME, or of the file NAME_FILE names; any
/// other text is itself. Why not, when neither is set.
pub fn expand(v: &str) -> Result<String, String> {
    match v.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        Some(name) => var(name)?
            .ok_or_else(|| format!("environment variable {name} is not set (nor {name}_FILE)")),
        None => Ok(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_or_the_file_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cret value\n").unwrap();
        // Names of this test's own: the environment is shared by the tests of the process.
        std::env::set_var("PORTCULLIS_TEST_ENV_A_FILE", &file);
        assert_eq!(
            var("PORTCULLIS_TEST_ENV_A"),
            Ok(Some("s3cret value".into()))
        );
        std::env::set_var("PORTCULLIS_TEST_ENV_A", "direct");
        assert_eq!(
            var("PORTCULLIS_TEST_ENV_A"),
            Ok(Some("direct".into())),
            "the variable wins"
        );
        std::env::set_var("PORTCULLIS_TEST_ENV_B_FILE", dir.path().join("missing"));
        assert!(var("PORTCULLIS_TEST_ENV_B")
            .unwrap_err()
            .contains("PORTCULLIS_TEST_ENV_B_FILE"));
        assert_eq!(var("PORTCULLIS_TEST_ENV_C"), Ok(None));
    }
}
