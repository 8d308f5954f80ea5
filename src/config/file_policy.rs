//! The file schema of route policies: `allow:` and `deny:` lists of blocks, each block a map of
//! criteria that must all hold. `validate_policy.rs` compiles them.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One block: every criterion given must hold (AND); a list value means any of its items.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct BlockFile {
    /// Names the block in `explain` and in the metrics (default `allow[i]` / `deny[i]`).
    pub name: Option<String>,
    /// Emails (proven addresses only).
    pub users: Option<Words>,
    /// Domains of proven addresses; `*.example.com` for its subdomains.
    pub email_domains: Option<Words>,
    pub roles: Option<Words>,
    pub groups: Option<Words>,
    /// `{ "/json/pointer": value-or-list }` against the access token's claims.
    pub claims: Option<BTreeMap<String, serde_json::Value>>,
    /// API keys holding any of these scopes.
    pub scopes: Option<Words>,
    /// `true`: the session's sign-in used a second factor.
    pub mfa: Option<bool>,
    /// RFC 8176 method names the sign-in used (any of them).
    pub amr: Option<Words>,
    /// CIDR blocks, addresses, or names from the top-level `networks:` map.
    pub networks: Option<Words>,
    pub methods: Option<Words>,
    pub time: Option<TimeFile>,
    /// Holds when the block inside does not.
    pub not: Option<Box<BlockFile>>,
}

/// `time: { days: mon-fri, from: "07:00", to: "19:00", tz: Europe/Berlin }`.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct TimeFile {
    /// Days (`mon`, …, `sun`), ranges (`mon-fri`, `fri-mon`), or a list of either.
    pub days: Option<Words>,
    /// `HH:MM`, inclusive (default 00:00).
    pub from: Option<String>,
    /// `HH:MM`, exclusive (default 24:00); earlier than `from`: the window runs past midnight.
    pub to: Option<String>,
    /// An IANA zone (default UTC).
    pub tz: Option<String>,
}

/// One word or a list of them (`groups: eng` or `groups: [eng, ops]`); numbers and booleans
/// are taken as written (a group called `2024`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Words(pub Vec<String>);

impl<'de> Deserialize<'de> for Words {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Words;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a word or a list of words")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Words, E> {
                Ok(Words(vec![v.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Words, E> {
                Ok(Words(vec![v.to_string()]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Words, E> {
                Ok(Words(vec![v.to_string()]))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Words, E> {
                Ok(Words(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Words, A::Error> {
                let mut out = Vec::new();
                while let Some(w) = seq.next_element::<Word>()? {
                    out.push(w.0);
                }
                Ok(Words(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One item of a [`Words`] list.
struct Word(String);

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Word;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a word")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Word, E> {
                Ok(Word(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Word, E> {
                Ok(Word(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Word, E> {
                Ok(Word(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Word, E> {
                Ok(Word(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}
