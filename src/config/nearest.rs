//! "Did you mean …?": the known word nearest a misspelt one, for config errors.

/// Edit distance (insertions, deletions, substitutions), case-insensitive.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (
        a.to_lowercase().chars().collect(),
        b.to_lowercase().chars().collect(),
    );
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The candidate nearest `word`, whatever the distance.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates.iter().min_by_key(|c| distance(word, c)).copied()
}

/// The candidate nearest `word` when it is near enough to be a slip (a third of its length,
/// at least two edits).
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let best = closest(word, candidates)?;
    (distance(word, best) <= (word.chars().count() / 3).max(2)).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slips_find_their_word() {
        let keys = ["users", "groups", "networks", "email_domains", "roles"];
        assert_eq!(nearest("grups", &keys), Some("groups"));
        assert_eq!(nearest("Networks", &keys), Some("networks"));
        assert_eq!(nearest("email_domain", &keys), Some("email_domains"));
        assert_eq!(nearest("zzzzzzzz", &keys), None);
        assert_eq!(closest("zzzzzzzz", &keys).map(|_| ()), Some(()));
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
