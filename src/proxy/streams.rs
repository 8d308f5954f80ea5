//! At most [`PER_CONNECTION`] auth-API requests at a time on one HTTP/2 connection; the rest
//! wait their turn. A refusal for load is answered after a pause (`control::REFUSAL_PAUSE`) so
//! that a client retrying at once draws one refusal a second per connection; an HTTP/2
//! connection carries up to 100 streams, and without this drew up to 100. HTTP/1.1 needs
//! nothing: its connection carries one request at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Concurrent auth-API requests per HTTP/2 connection (a page's own calls rarely exceed it).
pub const PER_CONNECTION: usize = 4;

type Connection = pingora::protocols::SocketDigest;

/// The connections of one worker (a connection never leaves its worker), by the address of
/// their socket digest, which every stream of a connection shares and which lives exactly as
/// long as it does.
#[derive(Default)]
pub struct Streams {
    map: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    by_connection: HashMap<usize, (Weak<Connection>, Arc<Semaphore>)>,
    /// Sweep dead connections when the table reaches this size.
    sweep_at: usize,
}

impl Streams {
    /// A turn for this request: `None` (no wait) unless it came over HTTP/2.
    pub async fn turn(&self, session: &pingora::proxy::Session) -> Option<OwnedSemaphorePermit> {
        if !session.is_http2() {
            return None;
        }
        let digest = session.digest()?.socket_digest.as_ref()?;
        let places = self.places(digest);
        places.acquire_owned().await.ok()
    }

    fn places(&self, connection: &Arc<Connection>) -> Arc<Semaphore> {
        let key = Arc::as_ptr(connection) as usize;
        let mut t = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((weak, places)) = t.by_connection.get(&key) {
            // The same address may be a later connection's once the first is gone.
            if weak.upgrade().is_some_and(|c| Arc::ptr_eq(&c, connection)) {
                return places.clone();
            }
        }
        if t.by_connection.len() >= t.sweep_at {
            t.by_connection
                .retain(|_, (weak, _)| weak.strong_count() > 0);
            t.sweep_at = (t.by_connection.len() * 2).max(256);
        }
        let places = Arc::new(Semaphore::new(PER_CONNECTION));
        t.by_connection
            .insert(key, (Arc::downgrade(connection), places.clone()));
        places
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_has_its_own_places_and_its_entry_goes_with_it() {
        let s = Streams::default();
        let (a, b) = (
            Arc::new(Connection::from_raw_fd(-1)),
            Arc::new(Connection::from_raw_fd(-1)),
        );
        assert!(
            Arc::ptr_eq(&s.places(&a), &s.places(&a)),
            "one set per connection"
        );
        assert!(!Arc::ptr_eq(&s.places(&a), &s.places(&b)));
        assert_eq!(s.places(&a).available_permits(), PER_CONNECTION);
        drop((a, b));
        // Gone connections are swept once the table is full enough.
        for _ in 0..300 {
            let c = Arc::new(Connection::from_raw_fd(-1));
            s.places(&c);
        }
        let left = s.map.lock().unwrap().by_connection.len();
        assert!(left < 300, "{left} entries kept");
    }
}
