//! The registry's conformance suite, run against SQLite on a file and in memory.

use std::sync::Arc;

use nhi_registry::conformance;
use nhi_registry_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("identities.db")).unwrap();
    conformance::run_all(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_store_conforms() {
    conformance::run_all(Arc::new(SqliteStore::open_in_memory().unwrap())).await;
}
