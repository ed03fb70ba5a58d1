//! The embedded, durable identity store of nhi: one SQLite file, no server.
//!
//! [`SqliteStore`] implements [`nhi_registry::IdentityStore`]. Each identity is one row
//! holding the full record as JSON, beside indexed columns for the id (primary key), the
//! lifecycle state, the tenant and the optimistic-concurrency version. An update is
//! `UPDATE ... WHERE id = ? AND version = ?`: when no row matches, another writer got
//! there first and the caller gets [`RegistryError::VersionConflict`], so several
//! handles or processes can share one file without losing updates.
//!
//! The file uses SQLite's write-ahead log, so readers do not block the writer, and a
//! busy timeout, so a writer waits for a short lock instead of failing. The schema is
//! versioned with `PRAGMA user_version`; a file written by a newer release is refused
//! with [`RegistryError::SchemaTooNew`] rather than misread, and a file that is not an
//! identity store is refused with [`RegistryError::Corrupt`].
//!
//! # Blocking
//!
//! The connection sits behind a `std::sync::Mutex` and SQLite is called directly from
//! the async methods: the calls are short single statements, and the lock is never held
//! across an `.await`. When another process holds the write lock, a call may block its
//! thread for up to the busy timeout (5 s); hosts with heavy multi-process contention
//! should run several runtime worker threads.
//!
//! ```
//! use std::sync::Arc;
//! use nhi_core::{ManualClock, Timestamp};
//! use nhi_registry::{IdentityStore, Registry, conformance};
//! use nhi_registry_sqlite::SqliteStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("identities.db");
//!
//! let store = Arc::new(SqliteStore::open(&path)?);
//! let registry = Registry::new(store, Arc::new(ManualClock::new(conformance::START)));
//! let bot = registry.provision(conformance::sample_identity("release-bot")).await?;
//! drop(registry);
//!
//! // Another process, later: the record is still there.
//! let reopened = SqliteStore::open(&path)?;
//! assert_eq!(reopened.get(&bot.id).await?, Some(bot));
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod schema;
mod store;

pub use store::SqliteStore;

use nhi_registry::RegistryError;
use rusqlite::ErrorCode;

/// Maps a SQLite error to the registry's error, keeping it as the source.
///
/// A damaged file or one that is not a database is [`RegistryError::Corrupt`]; anything
/// else is [`RegistryError::Backend`].
fn sql_error(context: &str, error: rusqlite::Error) -> RegistryError {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            RegistryError::corrupt(context, error)
        }
        _ => RegistryError::backend(context, error),
    }
}
