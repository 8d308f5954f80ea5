//! Recovery codes: ten per set, 60 random bits each (12 base32 characters, shown as
//! `xxxx-xxxx-xxxx`), kept as salted SHA-256 — enough for codes of that entropy, and fast, so
//! checking one costs no hashing queue.

use rand::Rng;

pub const COUNT: usize = 10;
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new set: the codes to show once, and the hashes to store.
pub fn generate(user_id: i64) -> (Vec<String>, Vec<String>) {
    let mut rng = rand::rng();
    let codes: Vec<String> = (0..COUNT)
        .map(|_| {
            let c: String = (0..12)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect();
            format!("{}-{}-{}", &c[..4], &c[4..8], &c[8..])
        })
        .collect();
    let hashes = codes.iter().filter_map(|c| hash(user_id, c)).collect();
    (codes, hashes)
}

/// The stored form of a code as typed (any case, with or without dashes and spaces); `None`
/// when it cannot be a recovery code.
pub fn hash(user_id: i64, code: &str) -> Option<String> {
    let norm: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if norm.len() != 12 || !norm.bytes().all(|b| ALPHABET.contains(&b)) {
        return None;
    }
    Some(crate::auth::one_time::hash(&format!(
        "portcullis-recovery:{user_id}:{norm}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_ten_distinct_codes_hashed_per_user() {
        let (codes, hashes) = generate(1);
        assert_eq!(codes.len(), 10);
        assert_eq!(hashes.len(), 10);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
        let c = &codes[0];
        assert_eq!(c.len(), 14);
        assert_eq!(hash(1, c).as_ref(), Some(&hashes[0]));
        assert_eq!(
            hash(1, &c.to_uppercase().replace('-', " ")),
            Some(hashes[0].clone())
        );
        assert_ne!(hash(2, c), Some(hashes[0].clone()), "salted by user");
        assert_eq!(hash(1, "short"), None);
        assert_eq!(hash(1, "0000-0000-0000"), None, "not in the alphabet");
    }
}
