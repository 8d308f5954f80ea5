//! What the admin console reads beyond one user: users found by text and filters, and every
//! live API key with its owner.

use super::{ApiKeyRow, StoreResult, User};
use async_trait::async_trait;

/// The console's user search; every field narrows it, none given lists everyone.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UserSearch {
    /// Part of the email or name, case-insensitive.
    pub text: Option<String>,
    pub role: Option<String>,
    pub group: Option<String>,
    pub active: Option<bool>,
    /// `user`, `service` or `directory`.
    pub kind: Option<String>,
}

/// A live key and the address of whoever owns it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyListing {
    #[sqlx(flatten)]
    pub key: ApiKeyRow,
    pub owner_email: String,
}

#[async_trait]
pub trait ConsoleStore {
    /// A page of users not deleted that match, by id, and how many match in all.
    async fn search_users(
        &self,
        q: &UserSearch,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<User>, i64)>;
    /// A page of keys neither revoked nor of a deleted user, newest first, and the total.
    async fn all_api_keys(&self, offset: i64, limit: i64) -> StoreResult<(Vec<KeyListing>, i64)>;
}

/// `text` as a LIKE pattern matching it anywhere, its own `%`, `_` and `\` taken literally.
pub fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The WHERE clause of a search and its text arguments in order (`$1`, `$2`, …).
pub fn search_clause(q: &UserSearch) -> (String, Vec<String>) {
    let mut clauses = vec!["deleted_at IS NULL".to_string()];
    let mut args = Vec::new();
    let arg = |v: String, args: &mut Vec<String>| {
        args.push(v);
        format!("${}", args.len())
    };
    if let Some(t) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let n = arg(contains_pattern(t), &mut args);
        clauses.push(format!(
            "(lower(email) LIKE {n} ESCAPE '\\' OR lower(name) LIKE {n} ESCAPE '\\')"
        ));
    }
    if let Some(r) = &q.role {
        clauses.push(format!("role = {}", arg(r.clone(), &mut args)));
    }
    if let Some(k) = &q.kind {
        clauses.push(format!("kind = {}", arg(k.clone(), &mut args)));
    }
    if let Some(g) = &q.group {
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM user_groups ug WHERE ug.user_id = users.id AND ug.name = {})",
            arg(g.clone(), &mut args)
        ));
    }
    match q.active {
        Some(true) => clauses.push("active".into()),
        Some(false) => clauses.push("NOT active".into()),
        None => {}
    }
    (clauses.join(" AND "), args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_in_the_text_are_literal() {
        assert_eq!(contains_pattern("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }

    #[test]
    fn the_clause_numbers_its_arguments_in_order() {
        let q = UserSearch {
            text: Some(" ann ".into()),
            role: Some("admin".into()),
            group: Some("eng".into()),
            active: Some(false),
            kind: None,
        };
        let (sql, args) = search_clause(&q);
        assert_eq!(args, ["%ann%", "admin", "eng"]);
        assert!(
            sql.contains("LIKE $1") && sql.contains("role = $2") && sql.contains("ug.name = $3")
        );
        assert!(sql.ends_with("NOT active"));
        assert_eq!(
            search_clause(&UserSearch::default()).0,
            "deleted_at IS NULL"
        );
    }
}
