//! A shared identity store for nhi on PostgreSQL, for registries that several nodes use
//! at once.
//!
//! [`PostgresStore`] implements [`nhi_registry::IdentityStore`] inside one PostgreSQL
//! schema, created when missing. Each identity is one row holding the full record as
//! JSON, beside indexed columns for the id, lifecycle state, tenant, environment and
//! the optimistic-concurrency version. An update is `UPDATE ... WHERE id = $1 AND
//! version = $2`: when no row matches, another writer got there first and the caller
//! gets [`RegistryError::VersionConflict`], so any number of nodes can write without
//! losing updates.
//!
//! Migrations are embedded and versioned in the schema's `schema_version` table; a
//! schema migrated by a newer release is refused with [`RegistryError::SchemaTooNew`]
//! rather than misread.
//!
//! Every committed insert or update is announced with `NOTIFY` on the channel
//! `<schema>.identities`; [`PostgresStore::subscribe`] returns a [`ChangeFeed`] of
//! them, and [`keep_fresh`] (or [`keep_fresh_from`], which reopens a lost feed) uses
//! one to keep an [`nhi_registry::CachedStore`] on another node current, so a
//! suspension made anywhere reaches every node's cache.
//!
//! Each store holds one connection, re-established when lost; see [`PostgresStore`].
//!
//! The client is `tokio-postgres` without TLS: run it on a trusted network or through a
//! local TLS-terminating proxy.
//!
//! ```no_run
//! use std::sync::Arc;
//! use nhi_core::SystemClock;
//! use nhi_registry::Registry;
//! use nhi_registry_postgres::PostgresStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PostgresStore::open("postgres://nhi@db.internal/nhi", "registry").await?;
//! let mut feed = store.subscribe().await?;
//! let registry = Registry::new(Arc::new(store), Arc::new(SystemClock));
//!
//! // Elsewhere, another node's writes arrive as they commit.
//! while let Some(Ok(change)) = feed.next().await {
//!     println!("{} is now {} (version {})", change.id, change.state, change.version);
//! }
//! # drop(registry);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod feed;
mod fresh;
mod link;
mod schema;
mod store;

pub use feed::ChangeFeed;
pub use fresh::{FreshCache, keep_fresh, keep_fresh_from};
pub use store::PostgresStore;

use nhi_registry::RegistryError;

/// Maps a PostgreSQL error to the registry's error, keeping it as the source.
fn pg_error(context: &str, error: tokio_postgres::Error) -> RegistryError {
    RegistryError::backend(context, error)
}
