//! `get_pr_state` answers from a bounded LRU cache with per-state lifetimes: an open PR is
//! re-checked after 60 s, a closed or merged one after 300 s (it rarely reopens). 500
//! entries at most; the least recently used goes first.
//!
//! Time comes from a [`Clock`], so tests move it by hand instead of sleeping.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrState {
    Open,
    Closed,
    Merged,
}

impl PrState {
    /// From the REST API's `state` and `merged` fields.
    pub fn from_api(state: &str, merged: bool) -> PrState {
        match (state, merged) {
            (_, true) => PrState::Merged,
            ("open", _) => PrState::Open,
            _ => PrState::Closed,
        }
    }
}

/// A monotonic clock: time since some fixed start.
pub trait Clock: Send + Sync {
    fn now(&self) -> Duration;
}

/// The real clock.
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock tests move by hand.
#[derive(Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// `owner/name` and PR number.
pub type PrKey = (String, u64);

pub const CAPACITY: usize = 500;
pub const TTL_OPEN: Duration = Duration::from_secs(60);
pub const TTL_CLOSED: Duration = Duration::from_secs(300);

struct Entry {
    state: PrState,
    expires: Duration,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<PrKey, Entry>,
    /// `last_used` tick → key, oldest first.
    recency: BTreeMap<u64, PrKey>,
    tick: u64,
}

pub struct PrStateCache<C: Clock = SystemClock> {
    inner: Mutex<Inner>,
    clock: C,
    capacity: usize,
}

impl Default for PrStateCache<SystemClock> {
    fn default() -> Self {
        PrStateCache::new(SystemClock::default(), CAPACITY)
    }
}

impl<C: Clock> PrStateCache<C> {
    pub fn new(clock: C, capacity: usize) -> Self {
        PrStateCache {
            inner: Mutex::new(Inner::default()),
            clock,
            capacity: capacity.max(1),
        }
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that
        // matters for a cache; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached state, if present and not expired; refreshes its recency.
    pub fn get(&self, key: &PrKey) -> Option<PrState> {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(key)?;
        if entry.expires <= now {
            let old = entry.last_used;
            inner.entries.remove(key);
            inner.recency.remove(&old);
            return None;
        }
        let (old, state) = (entry.last_used, entry.state);
        entry.last_used = tick;
        inner.recency.remove(&old);
        inner.recency.insert(tick, key.clone());
        Some(state)
    }

    pub fn insert(&self, key: PrKey, state: PrState) {
        let ttl = match state {
            PrState::Open => TTL_OPEN,
            PrState::Closed | PrState::Merged => TTL_CLOSED,
        };
        let expires = self.clock.now() + ttl;
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(old) = inner.entries.remove(&key) {
            inner.recency.remove(&old.last_used);
        }
        while inner.entries.len() >= self.capacity {
            let Some((_, oldest)) = inner.recency.pop_first() else {
                break;
            };
            inner.entries.remove(&oldest);
        }
        inner.recency.insert(tick, key.clone());
        inner.entries.insert(
            key,
            Entry {
                state,
                expires,
                last_used: tick,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached state, or `fetch` it and remember the answer (errors are not cached).
    pub async fn get_or_fetch<F, E>(&self, key: PrKey, fetch: F) -> Result<PrState, E>
    where
        F: Future<Output = Result<PrState, E>>,
    {
        if let Some(state) = self.get(&key) {
            return Ok(state);
        }
        let state = fetch.await?;
        self.insert(key, state);
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> PrKey {
        ("o/r".to_owned(), n)
    }

    #[test]
    fn open_prs_expire_after_60s_closed_after_300s() {
        let cache = PrStateCache::new(ManualClock::default(), 10);
        cache.insert(key(1), PrState::Open);
        cache.insert(key(2), PrState::Merged);
        cache.insert(key(3), PrState::Closed);
        cache.clock().advance(Duration::from_secs(59));
        assert_eq!(cache.get(&key(1)), Some(PrState::Open));
        cache.clock().advance(Duration::from_secs(1));
        assert_eq!(cache.get(&key(1)), None, "open entries live 60 s");
        assert_eq!(cache.get(&key(2)), Some(PrState::Merged));
        cache.clock().advance(Duration::from_secs(240));
        assert_eq!(cache.get(&key(2)), None, "merged entries live 300 s");
        assert_eq!(cache.get(&key(3)), None);
        assert!(cache.is_empty(), "expired entries are dropped");
    }

    #[test]
    fn evicts_the_least_recently_used() {
        let cache = PrStateCache::new(ManualClock::default(), 3);
        for n in 1..=3 {
            cache.insert(key(n), PrState::Open);
        }
        assert!(cache.get(&key(1)).is_some()); // 1 is now the most recent
        cache.insert(key(4), PrState::Open);
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&key(2)).is_none(), "2 was least recently used");
        assert!(cache.get(&key(1)).is_some());
        assert!(cache.get(&key(3)).is_some());
        assert!(cache.get(&key(4)).is_some());
        cache.insert(key(3), PrState::Closed); // re-insert replaces, no growth
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&key(3)), Some(PrState::Closed));
    }

    #[test]
    fn default_capacity_is_500() {
        let cache = PrStateCache::new(ManualClock::default(), CAPACITY);
        for n in 0..600 {
            cache.insert(key(n), PrState::Open);
        }
        assert_eq!(cache.len(), 500);
        assert!(cache.get(&key(99)).is_none());
        assert!(cache.get(&key(100)).is_some());
    }

    #[test]
    fn get_or_fetch_fetches_once_until_expiry() {
        let cache = PrStateCache::new(ManualClock::default(), 10);
        let calls = std::cell::Cell::new(0);
        // The count goes up only when a fetch is actually awaited.
        let fetch = || async {
            calls.set(calls.get() + 1);
            Ok::<_, ()>(PrState::Open)
        };
        assert_eq!(
            poll_ready(cache.get_or_fetch(key(1), fetch())),
            Ok(PrState::Open)
        );
        assert_eq!(
            poll_ready(cache.get_or_fetch(key(1), fetch())),
            Ok(PrState::Open)
        );
        assert_eq!(calls.get(), 1);
        cache.clock().advance(TTL_OPEN);
        assert_eq!(
            poll_ready(cache.get_or_fetch(key(1), fetch())),
            Ok(PrState::Open)
        );
        assert_eq!(calls.get(), 2);
        let failed: Result<PrState, &str> =
            poll_ready(cache.get_or_fetch(key(9), std::future::ready(Err("boom"))));
        assert_eq!(failed, Err("boom"));
        assert!(cache.get(&key(9)).is_none(), "errors are not cached");
    }

    /// These futures are always ready: poll once.
    fn poll_ready<T>(f: impl Future<Output = T>) -> T {
        let mut f = std::pin::pin!(f);
        let waker = std::task::Waker::noop();
        match f.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("future was not ready"),
        }
    }

    #[test]
    fn state_from_api() {
        assert_eq!(PrState::from_api("open", false), PrState::Open);
        assert_eq!(PrState::from_api("closed", false), PrState::Closed);
        assert_eq!(PrState::from_api("closed", true), PrState::Merged);
    }
}
