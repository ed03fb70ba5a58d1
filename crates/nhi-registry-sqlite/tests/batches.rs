//! Batch inserts are one transaction, and a reader sees committed writes while a
//! writer holds the file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nhi_registry::conformance::record_in_state;
use nhi_registry::{IdentityStore, LifecycleState, RegistryError};
use nhi_registry_sqlite::SqliteStore;
use rusqlite::Connection;

#[tokio::test]
async fn a_batch_with_a_taken_id_stores_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    let taken = record_in_state("batch-b", LifecycleState::Active);
    store.insert(&taken).await.unwrap();

    let batch: Vec<_> = ["batch-a", "batch-b", "batch-c"]
        .iter()
        .map(|id| record_in_state(id, LifecycleState::Active))
        .collect();
    match store.insert_many(&batch).await {
        Err(RegistryError::AlreadyExists { id }) => assert_eq!(id.as_str(), "batch-b"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.get(&batch[0].id).await.unwrap(), None, "rolled back");
    assert_eq!(
        store.get(&batch[2].id).await.unwrap(),
        None,
        "never reached"
    );
}

#[tokio::test]
async fn an_operator_tool_reads_while_a_service_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.db");
    let service = SqliteStore::open(&path).unwrap();
    let record = record_in_state("watched", LifecycleState::Active);
    service.insert(&record).await.unwrap();

    // The service holds an open write transaction; the tool still reads the last
    // committed state instead of waiting.
    let writer = Connection::open(&path).unwrap();
    writer
        .execute_batch("BEGIN IMMEDIATE; UPDATE identities SET state = 'suspended';")
        .unwrap();
    let tool = Connection::open(&path).unwrap();
    let state: String = tool
        .query_row(
            "SELECT state FROM identities WHERE id = 'watched'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(state, "active");
    writer.execute_batch("ROLLBACK").unwrap();
}
