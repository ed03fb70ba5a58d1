//! Shared fixtures: the server URL from the environment and a unique schema per test.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_postgres::NoTls;

/// The server to test against, or `None` (after saying so) when none is configured.
pub fn server(test: &str) -> Option<String> {
    match std::env::var("NHI_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            println!("skipped {test}: NHI_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A schema name no earlier run used.
pub fn unique_schema() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("nhi_test_{}_{nanos}_{n}", std::process::id())
}

/// Runs `sql` on its own connection.
pub async fn execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
    drop(client);
    let _ = driver.await;
}

/// Removes a test schema and everything in it.
pub async fn drop_schema(url: &str, schema: &str) {
    execute(url, &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
}

/// Ends the server connections of stores (application name `nhi-registry`) whose last
/// statement matches `pattern` (SQL `LIKE`); returns how many were ended.
pub async fn terminate(url: &str, pattern: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    let ended: i64 = client
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = 'nhi-registry' AND query LIKE $1
               AND pid <> pg_backend_pid()",
            &[&pattern],
        )
        .await
        .unwrap()
        .get(0);
    drop(client);
    let _ = driver.await;
    ended
}
