//! argon2id hashing off the async threads, bounded in concurrency, with a dummy verify for
//! unknown users so response time does not reveal which emails exist.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed")]
    Failed,
    /// Every hashing thread is busy and the queue is full: refuse now rather than pile up.
    #[error("too many password checks at once")]
    Busy,
}

/// OWASP's argon2id recommendation: m=19456 KiB, t=2, p=1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Password checks waiting per hashing thread before new ones are refused: at ~15 ms each,
/// the last one queued waits about 120 ms on an idle core.
const QUEUED_PER_THREAD: usize = 8;

/// A check that waited this long in the queue is refused (503 with `Retry-After`) instead of
/// run: on a busy host the queue drains slower, and a sign-in answered after seconds is worse
/// than one refused at once. With a hash's own time this keeps a sign-in under a second.
pub const QUEUE_DEADLINE: std::time::Duration = std::time::Duration::from_millis(600);

type Job = Box<dyn FnOnce() + Send>;

/// argon2 on its own threads, at a lower CPU priority than the proxy (nice 10), behind a bounded
/// queue whose checks are refused once they waited past [`QUEUE_DEADLINE`].
/// Each hash takes ~19 MiB and ~15 ms of CPU: a login flood must neither exhaust memory nor
/// take the CPU from requests in flight, and a login beyond the queue gets a fast 503.
pub struct PasswordHasher {
    jobs: std::sync::mpsc::SyncSender<Job>,
    /// One per check running or queued; taken before any other work on a login, so a login
    /// that would not get a place costs nothing but the refusal.
    places: Arc<tokio::sync::Semaphore>,
    dummy_hash: String,
}

/// A place in the hashing queue, held from the start of a password check to its end.
pub struct Place(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl PasswordHasher {
    pub fn new(threads: usize) -> Result<Self, HashError> {
        let threads = threads.max(1);
        let places = threads * (1 + QUEUED_PER_THREAD);
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(places);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("portcullis-argon2-{i}"))
                .spawn(move || {
                    crate::priority::lower(crate::priority::HASHING);
                    // Ends when the hasher (the sending side) is dropped.
                    while let Ok(job) = queue
                        .lock()
                        .map_err(|_| ())
                        .and_then(|q| q.recv().map_err(|_| ()))
                    {
                        job();
                    }
                })
                .map_err(|_| HashError::Failed)?;
        }
        Ok(PasswordHasher {
            jobs,
            places: Arc::new(tokio::sync::Semaphore::new(places)),
            dummy_hash: hash_blocking("portcullis-dummy-password-for-timing")?,
        })
    }

    /// A place for one password check, or `Busy` at once.
    pub fn admit(&self) -> Result<Place, HashError> {
        self.places
            .clone()
            .try_acquire_owned()
            .map(Place)
            .map_err(|_| HashError::Busy)
    }

    /// Runs `f` on a hashing thread; `Busy` at once when the queue is full.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let queued = std::time::Instant::now();
        self.jobs
            .try_send(Box::new(move || {
                // Past the deadline the answer is a refusal, whoever the password was for, so
                // the time still tells nothing about which accounts exist.
                let _ = tx.send(if queued.elapsed() > QUEUE_DEADLINE {
                    Err(HashError::Busy)
                } else {
                    Ok(f())
                });
            }))
            .map_err(|e| match e {
                std::sync::mpsc::TrySendError::Full(_) => HashError::Busy,
                std::sync::mpsc::TrySendError::Disconnected(_) => HashError::Failed,
            })?;
        rx.await.map_err(|_| HashError::Failed)?
    }

    pub async fn hash(&self, password: &SecretString) -> Result<String, HashError> {
        let pw = password.expose_secret().to_string();
        self.run(move || hash_blocking(&pw)).await?
    }

    /// Verifies against `hash`, or against a dummy hash when there is none (unknown user,
    /// OAuth-only account) so both paths cost the same.
    pub async fn verify(
        &self,
        password: &SecretString,
        hash: Option<&str>,
    ) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_string();
        let pw = password.expose_secret().to_string();
        let ok = self.run(move || verify_blocking(&pw, &hash)).await?;
        Ok(ok && known)
    }
}

/// Hashes on the calling thread: for the CLI (the gateway goes through the queue above).
pub fn hash_blocking(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| HashError::Failed)
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_fail() {
        let h = PasswordHasher::new(2).unwrap();
        let pw = SecretString::from("correct horse battery");
        let hash = h.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify(&pw, Some(&hash)).await.unwrap());
        assert!(!h
            .verify(&SecretString::from("wrong"), Some(&hash))
            .await
            .unwrap());
        // The dummy hash's own password must not log anyone in.
        let dummy = SecretString::from("portcullis-dummy-password-for-timing");
        assert!(!h.verify(&dummy, None).await.unwrap());
    }

    #[tokio::test]
    async fn a_check_that_waited_past_the_deadline_is_refused_not_run() {
        use std::time::Duration;
        let h = Arc::new(PasswordHasher::new(1).unwrap());
        // The only hashing thread is held longer than the deadline.
        let hold = {
            let h = h.clone();
            tokio::spawn(async move {
                h.run(|| std::thread::sleep(QUEUE_DEADLINE + Duration::from_millis(200)))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let late = h.verify(&SecretString::from("x"), None).await;
        assert!(matches!(late, Err(HashError::Busy)), "{late:?}");
        assert!(started.elapsed() < QUEUE_DEADLINE + Duration::from_millis(400));
        assert!(hold.await.unwrap().is_ok());
        // Without the wait it runs.
        assert!(h.verify(&SecretString::from("x"), None).await.is_ok());
    }

    #[test]
    fn places_run_out_and_come_back() {
        let h = PasswordHasher::new(1).unwrap();
        let held: Vec<Place> = (0..1 + QUEUED_PER_THREAD)
            .map(|_| h.admit().unwrap())
            .collect();
        assert!(matches!(h.admit(), Err(HashError::Busy)));
        drop(held);
        assert!(h.admit().is_ok());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_instead_of_piling_up() {
        let h = Arc::new(PasswordHasher::new(1).unwrap());
        let pw = SecretString::from("correct horse battery");
        let checks: Vec<_> = (0..40)
            .map(|_| {
                let (h, pw) = (h.clone(), pw.clone());
                tokio::spawn(async move { h.verify(&pw, None).await })
            })
            .collect();
        let mut busy = 0;
        let mut done = 0;
        for c in checks {
            match c.await.unwrap() {
                Ok(false) => done += 1,
                Err(HashError::Busy) => busy += 1,
                other => panic!("{other:?}"),
            }
        }
        // One running plus eight queued (a few more if the thread finished some while the
        // checks were still being submitted); the rest were refused at once.
        assert!(done >= 1 && busy >= 20, "{done} checked, {busy} refused");
        assert_eq!(busy + done, 40);
        assert!(
            h.verify(&pw, None).await.is_ok(),
            "accepts again once drained"
        );
    }
}
