// PATCH(portcullis: idle-list-pool): idle upstream connections kept in a plain list per reuse
// key, instead of `pingora_pool`'s pool with a watcher task per released connection.
//
// The watcher cost every proxied request a task spawn, a oneshot channel, an LRU entry with its
// `Notify`, and on reuse a wait for that task to run and give the connection's lock back. Here a
// release is a push under an uncontended lock and a checkout a pop; what the watcher noticed (the
// peer closing, unexpected data, the idle timeout) is noticed at checkout, as the pool already
// checked, and by one sweep a second for the whole list while it holds anything.

use super::{test_reusable_stream, PoolCallback};
use crate::protocols::Stream;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often kept connections are looked at: past their idle timeout, closed by the peer or
/// sending unexpected data, they are closed.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(1);

struct Idle {
    stream: Stream,
    since: Instant,
    timeout: Option<Duration>,
}

impl Idle {
    fn expired(&self, now: Instant) -> bool {
        self.timeout
            .is_some_and(|t| now.saturating_duration_since(self.since) >= t)
    }
}

#[derive(Default)]
struct Lists {
    /// Oldest first: checkout takes the newest (the warmest), the sweep and eviction the oldest.
    by_key: HashMap<u64, VecDeque<Idle>>,
    count: usize,
    sweeping: bool,
}

impl Lists {
    fn pop_oldest(&mut self) -> Option<Idle> {
        let key = *self
            .by_key
            .iter()
            .filter_map(|(k, l)| l.front().map(|i| (k, i.since)))
            .min_by_key(|(_, since)| *since)?
            .0;
        let list = self.by_key.get_mut(&key)?;
        let idle = list.pop_front();
        if list.is_empty() {
            self.by_key.remove(&key);
        }
        self.count -= usize::from(idle.is_some());
        idle
    }

    fn pop_newest(&mut self, key: u64) -> Option<Idle> {
        let list = self.by_key.get_mut(&key)?;
        let idle = list.pop_back();
        if list.is_empty() {
            self.by_key.remove(&key);
        }
        self.count -= usize::from(idle.is_some());
        idle
    }
}

/// Idle connections by reuse key, at most `size` in all (the oldest is closed to make room).
pub(crate) struct IdleList {
    lists: Mutex<Lists>,
    size: usize,
    unexpected_data: Arc<AtomicU64>,
    /// Told how long a connection was idle when it is closed to make room, as the pool's
    /// eviction callback was.
    on_evict: Option<PoolCallback>,
}

impl IdleList {
    pub(crate) fn new(
        size: usize,
        unexpected_data: Arc<AtomicU64>,
        on_evict: Option<PoolCallback>,
    ) -> Arc<Self> {
        Arc::new(IdleList {
            lists: Mutex::new(Lists::default()),
            size,
            unexpected_data,
            on_evict,
        })
    }

    /// Keeps `stream` for reuse under `key`; a sweep is started on the current runtime if none
    /// runs. The caller has checked that the stream is reusable.
    pub(crate) fn put(self: &Arc<Self>, key: u64, stream: Stream, timeout: Option<Duration>) {
        if self.size == 0 {
            return;
        }
        let (evicted, start_sweep) = {
            let mut lists = self.lists.lock();
            let evicted = if lists.count >= self.size {
                lists.pop_oldest()
            } else {
                None
            };
            lists.by_key.entry(key).or_default().push_back(Idle {
                stream,
                since: Instant::now(),
                timeout,
            });
            lists.count += 1;
            let start_sweep = !lists.sweeping;
            lists.sweeping = true;
            (evicted, start_sweep)
        };
        // Closed outside the lock.
        if let Some(idle) = evicted {
            if let Some(callback) = &self.on_evict {
                callback(idle.since.elapsed());
            }
        }
        if start_sweep {
            let list = Arc::downgrade(self);
            pingora_runtime::current_handle().spawn(sweep_while_kept(list));
        }
    }

    /// The newest kept connection under `key` that is within its idle timeout, passes
    /// `matches`, and has neither been closed by the peer nor received data; the others
    /// looked at on the way are closed.
    pub(crate) fn take(&self, key: u64, matches: impl Fn(&Stream) -> bool) -> Option<Stream> {
        let now = Instant::now();
        loop {
            let idle = self.lists.lock().pop_newest(key)?;
            if idle.expired(now) {
                continue;
            }
            let mut stream = idle.stream;
            if matches(&stream) && test_reusable_stream(&mut stream, &self.unexpected_data) {
                return Some(stream);
            }
        }
    }

    /// Closes what is past its timeout, closed by the peer or holding unexpected data. Returns
    /// whether anything is still kept (else the sweep ends, and the next `put` starts one).
    fn sweep(&self, now: Instant) -> bool {
        let mut closed = Vec::new();
        let mut lists = self.lists.lock();
        let unexpected = &self.unexpected_data;
        for list in lists.by_key.values_mut() {
            let mut kept = VecDeque::with_capacity(list.len());
            for mut idle in list.drain(..) {
                if !idle.expired(now) && test_reusable_stream(&mut idle.stream, unexpected) {
                    kept.push_back(idle);
                } else {
                    closed.push(idle);
                }
            }
            *list = kept;
        }
        lists.by_key.retain(|_, l| !l.is_empty());
        lists.count -= closed.len();
        lists.sweeping = lists.count > 0;
        let go_on = lists.sweeping;
        drop(lists);
        drop(closed);
        go_on
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lists.lock().count
    }
}

async fn sweep_while_kept(list: Weak<IdleList>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let Some(list) = list.upgrade() else {
            return;
        };
        if !list.sweep(Instant::now()) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstreams::peer::Peer as _;
    use std::sync::atomic::Ordering;
    use tokio::io::AsyncWriteExt;

    fn list(size: usize) -> Arc<IdleList> {
        IdleList::new(size, Arc::new(AtomicU64::new(0)), None)
    }

    /// A stream for the list and the peer's end of it.
    fn pair() -> (Stream, tokio::io::DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(64);
        (Box::new(ours), theirs)
    }

    fn id(s: &Stream) -> usize {
        // Streams are boxed: the box's address tells them apart.
        &**s as *const _ as *const () as usize
    }

    #[tokio::test]
    async fn the_newest_connection_of_a_key_is_taken_and_other_keys_are_not() {
        let l = list(8);
        let (a, _pa) = pair();
        let (b, _pb) = pair();
        let (c, _pc) = pair();
        let (ia, ib) = (id(&a), id(&b));
        l.put(1, a, None);
        l.put(1, b, None);
        l.put(2, c, None);
        assert_eq!(l.take(1, |_| true).map(|s| id(&s)), Some(ib));
        assert_eq!(l.take(1, |_| true).map(|s| id(&s)), Some(ia));
        assert!(l.take(1, |_| true).is_none());
        assert_eq!(l.len(), 1);
        assert!(l.take(3, |_| true).is_none());
    }

    #[tokio::test]
    async fn closed_or_chatty_or_mismatched_or_expired_connections_are_skipped_and_closed() {
        let l = list(8);
        let unexpected = l.unexpected_data.clone();
        let (good, _keep) = pair();
        let good_id = id(&good);
        l.put(1, good, None);
        let (closed, peer) = pair();
        l.put(1, closed, None);
        drop(peer);
        let (chatty, mut peer) = pair();
        l.put(1, chatty, None);
        peer.write_all(b"surprise").await.unwrap();
        let (expired, _p) = pair();
        l.put(1, expired, Some(Duration::ZERO));
        let (other, _p) = pair();
        let other_id = id(&other);
        l.put(1, other, None);
        // The newest is refused by the caller's own check, then the expired, the chatty and
        // the closed one are passed over: the oldest, good one is handed out.
        assert_eq!(
            l.take(1, |s| id(s) != other_id).map(|s| id(&s)),
            Some(good_id)
        );
        assert_eq!(l.len(), 0);
        assert_eq!(unexpected.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_full_list_closes_its_oldest_connection_and_says_so() {
        let evictions = Arc::new(AtomicU64::new(0));
        let counted = evictions.clone();
        let l = IdleList::new(
            2,
            Arc::new(AtomicU64::new(0)),
            Some(Arc::new(move |_| {
                counted.fetch_add(1, Ordering::Relaxed);
            })),
        );
        let (a, mut peer_a) = pair();
        let (b, _pb) = pair();
        let (c, _pc) = pair();
        let (ib, ic) = (id(&b), id(&c));
        l.put(1, a, None);
        l.put(2, b, None);
        l.put(1, c, None);
        assert_eq!(l.len(), 2);
        assert_eq!(evictions.load(Ordering::Relaxed), 1);
        // The oldest (a) was closed: its peer reads the end.
        let mut buf = [0u8; 1];
        use tokio::io::AsyncReadExt;
        assert_eq!(peer_a.read(&mut buf).await.unwrap(), 0);
        assert_eq!(l.take(1, |_| true).map(|s| id(&s)), Some(ic));
        assert_eq!(l.take(2, |_| true).map(|s| id(&s)), Some(ib));
    }

    #[tokio::test]
    async fn a_sweep_closes_timed_out_and_peer_closed_connections() {
        let l = list(8);
        let now = Instant::now();
        let (short, mut peer_short) = pair();
        l.put(1, short, Some(Duration::from_millis(1500)));
        let (closing, peer_closing) = pair();
        l.put(1, closing, None);
        let (long, _peer_long) = pair();
        l.put(2, long, Some(Duration::from_secs(10)));
        drop(peer_closing);
        assert!(l.sweep(now));
        assert_eq!(l.len(), 2, "only the peer-closed one goes");
        assert!(l.sweep(now + Duration::from_secs(2)));
        assert_eq!(l.len(), 1, "the 1.5 s one is past its timeout");
        let mut buf = [0u8; 1];
        use tokio::io::AsyncReadExt;
        assert_eq!(peer_short.read(&mut buf).await.unwrap(), 0);
        assert!(!l.sweep(now + Duration::from_secs(11)), "nothing kept: the sweep ends");
        assert_eq!(l.len(), 0);
    }

    #[tokio::test]
    async fn a_sweep_runs_on_its_own_while_anything_is_kept_and_then_stops() {
        let l = list(8);
        let (gone, _peer) = pair();
        l.put(1, gone, Some(Duration::from_millis(100)));
        assert!(l.lists.lock().sweeping);
        tokio::time::sleep(SWEEP_EVERY + Duration::from_millis(300)).await;
        assert_eq!(l.len(), 0);
        assert!(!l.lists.lock().sweeping);
        let (again, _peer) = pair();
        l.put(1, again, None);
        assert!(l.lists.lock().sweeping, "the next put starts a sweep again");
    }

    /// PATCH(portcullis: idle-list-pool): a released connection comes back once, at once (no
    /// watcher to wait for), and not after its peer closed it or past its idle timeout.
    #[tokio::test]
    async fn a_released_connection_is_reused_once_and_not_after_its_peer_closed_it() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connector = super::super::TransportConnector::new(None);
        let peer = crate::upstreams::peer::BasicPeer::new(&addr.to_string());
        let stream = connector.new_stream(&peer).await.unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        let fd = stream.id();
        connector.release_stream(stream, peer.reuse_hash(), None);
        let again = connector.reused_stream(&peer).await.expect("reused");
        assert_eq!(again.id(), fd);
        assert!(connector.reused_stream(&peer).await.is_none(), "handed out once");
        connector.release_stream(again, peer.reuse_hash(), None);
        drop(server_side);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(connector.reused_stream(&peer).await.is_none(), "closed by its peer");

        let stream = connector.new_stream(&peer).await.unwrap();
        let (_server_side, _) = listener.accept().await.unwrap();
        connector.release_stream(stream, peer.reuse_hash(), Some(Duration::from_millis(10)));
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(connector.reused_stream(&peer).await.is_none(), "past its idle timeout");
    }
}
