//! Keeping a [`CachedStore`] current from a [`ChangeFeed`].

use std::sync::Arc;

use nhi_registry::{CachedStore, Change};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::feed::ChangeFeed;

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

/// Starts applying `feed` to `cache`; the cache is cleared and caching turned on first,
/// since copies cached before the feed existed may have missed changes.
pub fn keep_fresh(mut feed: ChangeFeed, cache: Arc<CachedStore>) -> FreshCache {
    cache.clear();
    cache.set_caching(true);
    let (sender, applied) = watch::channel(None);
    let target = cache.clone();
    let task = tokio::spawn(async move {
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
        target.set_caching(false);
    });
    FreshCache {
        cache,
        applied,
        task,
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

    /// Whether the feed is still running.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
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
