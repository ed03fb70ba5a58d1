//! Keeping a [`CachedStore`] current from a [`ChangeFeed`].

use std::sync::Arc;
use std::time::Duration;

use nhi_registry::{CachedStore, Change};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::feed::ChangeFeed;
use crate::store::PostgresStore;

/// A running task that applies every change from a feed to a cache.
///
/// While it runs, the cache's copies are stale for at most the notification delay.
/// When the feed ends (its connection is lost) the cache's caching is turned off, so
/// reads go to the store; dropping this handle does the same.
pub struct FreshCache {
    cache: Arc<CachedStore>,
    applied: watch::Receiver<Option<Change>>,
    task: JoinHandle<()>,
}

/// The wait before opening a lost feed again, doubled after each failure...
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// ...up to this.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Starts applying `feed` to `cache`; the cache is cleared and caching turned on first,
/// since copies cached before the feed existed may have missed changes. When the feed
/// ends, caching stays off.
pub fn keep_fresh(feed: ChangeFeed, cache: Arc<CachedStore>) -> FreshCache {
    cache.clear();
    cache.set_caching(true);
    let (sender, applied) = watch::channel(None);
    let target = cache.clone();
    let task = tokio::spawn(async move {
        follow(feed, &target, &sender).await;
        target.set_caching(false);
    });
    FreshCache {
        cache,
        applied,
        task,
    }
}

/// Like [`keep_fresh`], but owns the subscription to `store`'s changes and survives
/// losing it: caching is off until the feed is open, turns off when its connection is
/// lost, and comes back (after a cleared cache) once the feed is open again. Opening is
/// retried after 0.1 s, doubling up to 5 s between failures, so the runtime needs its
/// timer enabled; without one the task stops at the first retry and caching stays off.
pub fn keep_fresh_from(store: Arc<PostgresStore>, cache: Arc<CachedStore>) -> FreshCache {
    cache.set_caching(false);
    let (sender, applied) = watch::channel(None);
    let target = cache.clone();
    let task = tokio::spawn(async move {
        let mut delay = FIRST_RETRY;
        loop {
            if let Ok(feed) = store.subscribe().await {
                // Listening already: nothing committed from here on is missed.
                delay = FIRST_RETRY;
                target.clear();
                target.set_caching(true);
                follow(feed, &target, &sender).await;
                target.set_caching(false);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_RETRY);
        }
    });
    FreshCache {
        cache,
        applied,
        task,
    }
}

/// Applies every notice of `feed` to `target` until the feed ends.
async fn follow(
    mut feed: ChangeFeed,
    target: &CachedStore,
    sender: &watch::Sender<Option<Change>>,
) {
    while let Some(notice) = feed.next().await {
        match notice {
            Ok(change) => {
                target.apply(&change);
                sender.send_replace(Some(change));
            }
            // An unreadable notice could have been about anything.
            Err(_) => target.clear(),
        }
    }
}

impl FreshCache {
    /// Waits until the next change has been applied to the cache and returns it;
    /// `None` once the feed has ended.
    ///
    /// Changes arriving faster than they are awaited are not all seen here (only the
    /// latest), but every one of them is applied to the cache.
    pub async fn applied(&mut self) -> Option<Change> {
        self.applied.changed().await.ok()?;
        self.applied.borrow_and_update().clone()
    }

    /// Whether the task is still running (a [`keep_fresh_from`] task runs until
    /// dropped).
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Whether the cache is serving reads from memory, that is, whether a feed is
    /// currently keeping it fresh.
    pub fn is_caching(&self) -> bool {
        self.cache.is_caching()
    }
}

impl Drop for FreshCache {
    fn drop(&mut self) {
        self.task.abort();
        self.cache.set_caching(false);
    }
}

impl std::fmt::Debug for FreshCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshCache")
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}
