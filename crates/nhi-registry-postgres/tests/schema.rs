//! Opening schemas: creation, reopening, newer versions, foreign schemas, bad names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use nhi_registry::{IdentityStore, LifecycleState, RegistryError, conformance};
use nhi_registry_postgres::PostgresStore;

#[tokio::test]
async fn records_survive_reopening() {
    let Some(url) = common::server("records_survive_reopening") else {
        return;
    };
    let schema = common::unique_schema();
    let record = conformance::record_in_state("durable-bot", LifecycleState::Active);
    {
        let store = PostgresStore::open(&url, &schema).await.unwrap();
        store.insert(&record).await.unwrap();
    }
    let reopened = PostgresStore::open(&url, &schema).await.unwrap();
    assert_eq!(reopened.get(&record.id).await.unwrap(), Some(record));
    common::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn a_schema_from_a_newer_release_is_refused() {
    let Some(url) = common::server("a_schema_from_a_newer_release_is_refused") else {
        return;
    };
    let schema = common::unique_schema();
    drop(PostgresStore::open(&url, &schema).await.unwrap());
    common::execute(
        &url,
        &format!("INSERT INTO \"{schema}\".schema_version (version) VALUES (99)"),
    )
    .await;

    match PostgresStore::open(&url, &schema).await {
        Err(RegistryError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (99, 1));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    common::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn a_schema_holding_other_tables_is_refused() {
    let Some(url) = common::server("a_schema_holding_other_tables_is_refused") else {
        return;
    };
    let schema = common::unique_schema();
    common::execute(
        &url,
        &format!("CREATE SCHEMA \"{schema}\"; CREATE TABLE \"{schema}\".invoices (n int);"),
    )
    .await;
    let err = PostgresStore::open(&url, &schema).await.unwrap_err();
    assert!(matches!(err, RegistryError::Corrupt { .. }), "{err}");
    common::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn hostile_schema_names_and_urls_are_refused_before_connecting() {
    let url = "postgres://nobody@127.0.0.1:1/none";
    for bad in [
        "x\"; DROP SCHEMA public CASCADE; --",
        "",
        "UPPER",
        "pg_temp",
    ] {
        let err = PostgresStore::open(url, bad).await.unwrap_err();
        assert!(err.to_string().contains("schema name"), "{err}");
    }
    let err = PostgresStore::open("not a url ::", "nhi")
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Backend { .. }), "{err}");
}

#[tokio::test]
async fn a_batch_with_a_taken_id_stores_nothing() {
    let Some(url) = common::server("a_batch_with_a_taken_id_stores_nothing") else {
        return;
    };
    let schema = common::unique_schema();
    let store = PostgresStore::open(&url, &schema).await.unwrap();
    let taken = conformance::record_in_state("batch-b", LifecycleState::Active);
    store.insert(&taken).await.unwrap();

    let batch: Vec<_> = ["batch-a", "batch-b", "batch-c"]
        .iter()
        .map(|id| conformance::record_in_state(id, LifecycleState::Active))
        .collect();
    match store.insert_many(&batch).await {
        Err(RegistryError::AlreadyExists { id }) => assert_eq!(id.as_str(), "batch-b"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.get(&batch[0].id).await.unwrap(), None);
    assert_eq!(store.get(&batch[2].id).await.unwrap(), None);
    common::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn the_debug_form_hides_the_connection_string() {
    let Some(url) = common::server("the_debug_form_hides_the_connection_string") else {
        return;
    };
    let schema = common::unique_schema();
    let store = PostgresStore::open(&url, &schema).await.unwrap();
    let shown = format!("{store:?}");
    assert!(
        !shown.contains("127.0.0.1") && !shown.contains("postgres://"),
        "{shown}"
    );
    common::drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once() {
    let Some(url) = common::server("nodes_starting_together_migrate_once") else {
        return;
    };
    let schema = common::unique_schema();
    let mut nodes = Vec::new();
    for _ in 0..4 {
        let (url, schema) = (url.clone(), schema.clone());
        nodes.push(tokio::spawn(async move {
            PostgresStore::open(&url, &schema).await.map(drop)
        }));
    }
    for node in nodes {
        node.await.unwrap().unwrap();
    }

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let rows: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM \"{schema}\".schema_version"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "one migration recorded, not one per node");
    drop(client);
    let _ = driver.await;
    common::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn hostile_text_round_trips_exactly() {
    let Some(url) = common::server("hostile_text_round_trips_exactly") else {
        return;
    };
    let schema = common::unique_schema();
    let store = PostgresStore::open(&url, &schema).await.unwrap();
    let mut record = conformance::record_in_state("hostile-text", LifecycleState::Active);
    for (key, value) in [
        ("nul", "a\u{0}b"),
        ("quote", "'); DROP TABLE identities; --"),
        ("unicode", "grüße 🚀 \u{202e}"),
        ("json", r#"{"state":"active"}"#),
    ] {
        record.labels.insert(key.into(), value.into());
    }
    record.purpose = Some("x".repeat(100_000));
    store.insert(&record).await.unwrap();
    assert_eq!(store.get(&record.id).await.unwrap(), Some(record));
    common::drop_schema(&url, &schema).await;
}
