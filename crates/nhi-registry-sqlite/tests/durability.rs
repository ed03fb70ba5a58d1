//! What survives a restart, what a foreign or newer file does, and racing handles.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use nhi_core::ManualClock;
use nhi_registry::conformance::{self, START, UPDATES_PER_WRITER, WRITERS, sample_identity};
use nhi_registry::{LifecycleState, Page, Registry, RegistryError};
use nhi_registry_sqlite::SqliteStore;
use rusqlite::Connection;

fn registry(store: SqliteStore) -> Registry {
    Registry::new(Arc::new(store), Arc::new(ManualClock::new(START)))
}

#[tokio::test]
async fn records_survive_closing_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.db");

    let first = registry(SqliteStore::open(&path).unwrap());
    let bot = first
        .provision(sample_identity("release-bot"))
        .await
        .unwrap();
    let moved = first
        .transition(&bot.id, LifecycleState::Suspended)
        .await
        .unwrap();
    drop(first);

    let second = registry(SqliteStore::open(&path).unwrap());
    assert_eq!(second.get(&bot.id).await.unwrap(), moved.after);
    assert_eq!(second.list_all().await.unwrap(), vec![moved.after.clone()]);

    // The reopened store keeps enforcing versions written before the restart.
    match second.store().update(&bot).await {
        Err(RegistryError::VersionConflict {
            expected, found, ..
        }) => {
            assert_eq!((expected, found), (bot.version, moved.after.version));
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn a_file_from_a_newer_release_is_refused_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.db");
    drop(SqliteStore::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 7)
        .unwrap();

    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::SchemaTooNew {
                found: 7,
                supported: 1
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("created by a newer version"),
        "{err}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.db");
    std::fs::write(
        &path,
        b"this is a shopping list, not a database\n".repeat(200),
    )
    .unwrap();

    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, RegistryError::Corrupt { .. }), "{err:?}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the SQLite error is kept"
    );
}

#[tokio::test]
async fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (n INTEGER);")
        .unwrap();

    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, RegistryError::Corrupt { .. }), "{err:?}");
}

#[tokio::test]
async fn a_damaged_record_is_a_typed_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.db");
    let registry = registry(SqliteStore::open(&path).unwrap());
    let bot = registry
        .provision(sample_identity("release-bot"))
        .await
        .unwrap();

    Connection::open(&path)
        .unwrap()
        .execute("UPDATE identities SET record = '{\"id\": 12'", [])
        .unwrap();

    let err = registry.get(&bot.id).await.unwrap_err();
    assert!(matches!(err, RegistryError::Corrupt { .. }), "{err:?}");
    let err = registry.store().list(&Page::first(10)).await.unwrap_err();
    assert!(matches!(err, RegistryError::Corrupt { .. }), "{err:?}");
}

#[tokio::test]
async fn a_missing_directory_is_a_backend_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open(dir.path().join("no/such/dir/identities.db")).unwrap_err();
    assert!(matches!(err, RegistryError::Backend { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.db");
    let one = registry(SqliteStore::open(&path).unwrap());
    let two = registry(SqliteStore::open(&path).unwrap());
    let bot = one.provision(sample_identity("release-bot")).await.unwrap();

    conformance::concurrent_counter(&[one.clone(), two.clone()], &bot.id).await;

    let stored = two.get(&bot.id).await.unwrap();
    let expected = (WRITERS * UPDATES_PER_WRITER).to_string();
    assert_eq!(
        stored.labels.get("counter"),
        Some(&expected),
        "an update was lost"
    );
    assert_eq!(one.get(&bot.id).await.unwrap(), stored);
}

#[tokio::test]
async fn the_schema_is_created_once_and_reopened_without_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.db");
    drop(SqliteStore::open(&path).unwrap());
    drop(SqliteStore::open(&path).unwrap());

    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!((version, mode.as_str()), (1, "wal"));
}
