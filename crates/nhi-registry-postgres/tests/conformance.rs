//! The registry's conformance suite, run against PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use nhi_registry::conformance;
use nhi_registry_postgres::PostgresStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_conforms() {
    let Some(url) = common::server("a_postgres_store_conforms") else {
        return;
    };
    let schema = common::unique_schema();
    let store = PostgresStore::open(&url, &schema).await.unwrap();
    conformance::run_all(Arc::new(store)).await;
    common::drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_on_two_connections_lose_nothing() {
    let Some(url) = common::server("writers_on_two_connections_lose_nothing") else {
        return;
    };
    let schema = common::unique_schema();
    let first = Arc::new(PostgresStore::open(&url, &schema).await.unwrap());
    let second = Arc::new(PostgresStore::open(&url, &schema).await.unwrap());
    let (one, _) = conformance::registry_at_start(first);
    let (two, _) = conformance::registry_at_start(second);

    let record = one
        .provision(conformance::sample_identity("race-two-nodes"))
        .await
        .unwrap();
    conformance::concurrent_counter(&[one.clone(), two], &record.id).await;

    let stored = one.get(&record.id).await.unwrap();
    let expected = conformance::WRITERS * conformance::UPDATES_PER_WRITER;
    assert_eq!(
        stored.labels.get("counter").map(String::as_str),
        Some(expected.to_string().as_str())
    );
    common::drop_schema(&url, &schema).await;
}
