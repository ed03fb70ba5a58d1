//! The identity registry at estate scale, each figure beside its anchor.
//!
//! - `memory_get`: a get from a [`MemoryStore`] holding 1,000,000 identities, beside a
//!   plain `HashMap` lookup and clone of the same record (the anchor).
//! - `reconcile_all`: a report-only reconciliation of those 1,000,000 identities.
//! - `sqlite_get`: a get from a SQLite file of 100,000 identities (or
//!   `NHI_BENCH_SQLITE_ESTATE`), beside the raw `SELECT` of the same row without
//!   decoding (the anchor).
//! - `sqlite_bulk_provision`: provisioning 1,000 identities at a time through the
//!   registry (guards included) into that file, beside a raw one-transaction insert of
//!   the same rows (the anchor).
//! - `postgres_propagation` (only when `NHI_TEST_POSTGRES_URL` is set): a suspension
//!   written through one store until a cache on a second connection has applied it.
//!
//! Memory per record and the one-shot 100,000 bulk load are printed as they are
//! measured.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use nhi_core::{IdentityId, ManualClock};
use nhi_registry::conformance::{START, record_in_state, sample_identity};
use nhi_registry::{
    CachedStore, IdentityRecord, IdentityStore, LifecycleState, MemoryStore, ReconcilePolicy,
    Registry,
};
use nhi_registry_postgres::{PostgresStore, keep_fresh};
use nhi_registry_sqlite::SqliteStore;

const ESTATE: usize = 1_000_000;
/// The SQLite estate, 100,000 unless `NHI_BENCH_SQLITE_ESTATE` says otherwise.
fn sqlite_estate() -> usize {
    std::env::var("NHI_BENCH_SQLITE_ESTATE")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}
const BULK_BATCH: usize = 1_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn id_of(n: usize) -> IdentityId {
    format!("agent-{n:07}").parse().unwrap()
}

/// A record as provisioning makes it, with every hundredth one missing its owner so
/// that reconciliation has findings to write down.
fn estate_record(template: &IdentityRecord, n: usize) -> IdentityRecord {
    let mut record = template.clone();
    record.id = id_of(n);
    if n.is_multiple_of(100) {
        record.owner = None;
    }
    record
}

/// The resident set size of this process, in bytes (Linux only; 0 elsewhere).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn memory_store(c: &mut Criterion) {
    let rt = runtime();
    let template = record_in_state("template", LifecycleState::Active);

    let before = resident_bytes();
    let store = Arc::new(MemoryStore::new());
    rt.block_on(async {
        for n in 0..ESTATE {
            store.insert(&estate_record(&template, n)).await.unwrap();
        }
    });
    let after = resident_bytes();
    println!(
        "memory store: {} records, resident set grew {} MiB, {} bytes per record \
         (record JSON is {} bytes)",
        store.len(),
        (after - before) >> 20,
        (after - before) / ESTATE as u64,
        serde_json::to_string(&template).unwrap().len()
    );

    let mut anchor: HashMap<IdentityId, IdentityRecord> = HashMap::new();
    for n in (0..ESTATE).step_by(10) {
        anchor.insert(id_of(n), estate_record(&template, n));
    }

    let mut group = c.benchmark_group("registry_memory");
    let probe = id_of(ESTATE / 2 + 7);
    let anchored = id_of(ESTATE / 2 + 10);
    group.bench_function("hashmap_get_clone_anchor", |b| {
        b.iter(|| black_box(anchor.get(black_box(&anchored)).cloned().unwrap()));
    });
    group.bench_function("memory_get_1m", |b| {
        b.iter(|| black_box(rt.block_on(store.get(black_box(&probe))).unwrap().unwrap()));
    });

    let registry = Registry::new(store.clone(), Arc::new(ManualClock::new(START)));
    let policy = ReconcilePolicy::report_only(Duration::from_secs(365 * 86_400));
    group.sample_size(10);
    group.bench_function("reconcile_report_only_1m", |b| {
        b.iter(|| {
            let report = rt.block_on(registry.reconcile(&policy)).unwrap();
            assert_eq!(report.findings.len(), ESTATE / 100);
            black_box(report)
        });
    });
    group.finish();
}

fn sqlite_store(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identities.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let registry = Registry::new(store.clone(), Arc::new(ManualClock::new(START)));

    let estate = sqlite_estate();
    let requests: Vec<_> = (0..estate)
        .map(|n| sample_identity(id_of(n).as_str()))
        .collect();
    let started = Instant::now();
    rt.block_on(registry.provision_many(requests)).unwrap();
    let took = started.elapsed();
    println!(
        "sqlite bulk provisioning: {estate} identities in {:.2} s, {:.0} per second",
        took.as_secs_f64(),
        estate as f64 / took.as_secs_f64()
    );

    let raw = rusqlite::Connection::open(&path).unwrap();
    let probe = id_of(estate / 2 + 7);
    let mut group = c.benchmark_group("registry_sqlite");
    group.bench_function("raw_select_anchor", |b| {
        let mut statement = raw
            .prepare_cached("SELECT record FROM identities WHERE id = ?1")
            .unwrap();
        b.iter(|| {
            let json: String = statement
                .query_row([probe.as_str()], |row| row.get(0))
                .unwrap();
            black_box(json)
        });
    });
    group.bench_function("sqlite_get", |b| {
        b.iter(|| black_box(rt.block_on(store.get(black_box(&probe))).unwrap().unwrap()));
    });

    group.throughput(Throughput::Elements(BULK_BATCH as u64));
    let mut next = estate;
    group.bench_function("raw_transaction_insert_anchor_1k", |b| {
        b.iter_batched(
            || batch_rows(&mut next),
            |rows| {
                let tx = raw.unchecked_transaction().unwrap();
                {
                    let mut statement = tx
                        .prepare_cached(
                            "INSERT INTO identities (id, state, tenant, version, record)
                             VALUES (?1, 'active', 'acme', 1, ?2)",
                        )
                        .unwrap();
                    for (id, json) in &rows {
                        statement.execute([id.as_str(), json.as_str()]).unwrap();
                    }
                }
                tx.commit().unwrap();
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("provision_many_1k", |b| {
        b.iter_batched(
            || batch_requests(&mut next),
            |requests| rt.block_on(registry.provision_many(requests)).unwrap(),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn batch_requests(next: &mut usize) -> Vec<nhi_registry::NewIdentity> {
    let start = *next;
    *next += BULK_BATCH;
    (start..*next)
        .map(|n| sample_identity(id_of(n).as_str()))
        .collect()
}

fn batch_rows(next: &mut usize) -> Vec<(String, String)> {
    batch_requests(next)
        .into_iter()
        .map(|new| {
            let record = IdentityRecord::from_new(new, LifecycleState::Active, START);
            let json = serde_json::to_string(&record).unwrap();
            (record.id.as_str().to_owned(), json)
        })
        .collect()
}

fn postgres_propagation(c: &mut Criterion) {
    let Ok(url) = std::env::var("NHI_TEST_POSTGRES_URL") else {
        println!("postgres_propagation skipped: NHI_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = runtime();
    let schema = format!("nhi_bench_{}", std::process::id());
    let (writer, cache, mut fresh, id) = rt.block_on(async {
        let writer = PostgresStore::open(&url, &schema).await.unwrap();
        let reader = PostgresStore::open(&url, &schema).await.unwrap();
        let feed = reader.subscribe().await.unwrap();
        let cache = Arc::new(CachedStore::new(Arc::new(reader)));
        let fresh = keep_fresh(feed, cache.clone());
        let record = record_in_state("propagated", LifecycleState::Active);
        writer.insert(&record).await.unwrap();
        (writer, cache, fresh, record.id)
    });

    let mut group = c.benchmark_group("registry_postgres");
    group.bench_function("suspension_reaches_other_cache", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut current = writer.get(&id).await.unwrap().unwrap();
                current.state = match current.state {
                    LifecycleState::Active => LifecycleState::Suspended,
                    _ => LifecycleState::Active,
                };
                let stored = writer.update(&current).await.unwrap();
                loop {
                    let change = fresh.applied().await.unwrap();
                    if change.version == stored.version {
                        break;
                    }
                }
                let seen = cache.get(&id).await.unwrap().unwrap();
                assert_eq!(seen.state, stored.state);
            });
        });
    });
    group.finish();

    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await
            .unwrap();
        drop(client);
        let _ = driver.await;
    });
}

criterion_group!(benches, memory_store, sqlite_store, postgres_propagation);
criterion_main!(benches);
