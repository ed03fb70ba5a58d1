//! A store outlives its connection: the server ending it is not the end of the store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use nhi_registry::{IdentityStore, LifecycleState, Page, conformance};
use nhi_registry_postgres::PostgresStore;

/// Ends the store's own connection; its last statement named the schema.
async fn terminate_store_connections(url: &str, schema: &str) {
    let ended = common::terminate(url, &format!("%{schema}%")).await;
    assert_eq!(ended, 1, "the store's connection was ended");
}

#[tokio::test]
async fn reads_and_writes_continue_after_the_server_drops_the_connection() {
    let Some(url) =
        common::server("reads_and_writes_continue_after_the_server_drops_the_connection")
    else {
        return;
    };
    let schema = common::unique_schema();
    let store = PostgresStore::open(&url, &schema).await.unwrap();
    let record = conformance::record_in_state("resilient", LifecycleState::Active);
    store.insert(&record).await.unwrap();
    assert!(store.get(&record.id).await.unwrap().is_some());

    terminate_store_connections(&url, &schema).await;
    // The read finds the connection gone and is retried once on a new one.
    assert_eq!(store.get(&record.id).await.unwrap(), Some(record.clone()));

    let stored = store.update(&record).await.unwrap();
    assert_eq!(stored.version, record.version + 1);

    terminate_store_connections(&url, &schema).await;
    let listed = store.list(&Page::first(10)).await.unwrap();
    assert_eq!(listed, vec![stored]);
    common::drop_schema(&url, &schema).await;
}
