//! Humane durations in the config file ("4 hours", "5s", "7 days").

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// A duration written the way an operator would say it. Integers are seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(HumanDuration(Duration::from_secs(s))),
            Raw::Text(t) => parse(&t)
                .map(HumanDuration)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// A duration that does not parse; the message names the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?} ({reason}); write e.g. \"30s\", \"15 minutes\", \"4 hours\", \"7 days\"")]
pub struct DurationError {
    text: String,
    reason: String,
}

/// Parses "4 hours", "90s", "1h 30m".
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    humantime::parse_duration(text.trim()).map_err(|e| DurationError {
        text: text.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_humane_forms() {
        assert_eq!(parse("4 hours"), Ok(Duration::from_secs(4 * 3600)));
        assert_eq!(parse("7 days"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse("soon").is_err());
    }
}
