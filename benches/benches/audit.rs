//! The audit trail against raw writes of the same bytes.
//!
//! - `audit_memory_append`: `ChainEncoder::append` (serialize, hash-chain, append) of a
//!   typical access decision, beside copying the same line's bytes into a buffer.
//! - `audit_durable_append`: 64 records made durable by 8 writer threads through the
//!   group-commit file sink, beside a single thread writing the same bytes raw with one
//!   fsync per 8 lines (ideal group commit, no overhead) and with one fsync per line.
//! - `audit_verify`: `verify_chain` (strict, full event parse) and `verify_log`
//!   (thorough, every fault) over 20,000 records, beside reading the same file and
//!   hashing each line with SHA-256.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nhi_audit::{
    AuditEvent, AuditSink, ChainEncoder, EventKind, JsonlFileSink, verify_chain, verify_log,
};
use nhi_core::{Action, CorrelationId, CredentialId, IdentityId, Resource, Severity, Timestamp};

fn decision(n: u64) -> AuditEvent {
    AuditEvent::new(
        EventKind::AccessDecided,
        Timestamp::from_unix_secs(1_800_000_000 + n),
        "restart allowed",
    )
    .identity(IdentityId::new("restart-agent").unwrap())
    .credential(CredentialId::new("cred-0001").unwrap())
    .action(Action::new("deployment.restart").unwrap())
    .target("k8s:prod/payments/api".parse::<Resource>().unwrap())
    .severity(Severity::Destructive)
    .decision(
        "allow",
        Some("restart-in-incident".into()),
        "an incident is open",
    )
    .correlation(CorrelationId::new("req-7f3a").unwrap())
}

fn memory_append(c: &mut Criterion) {
    let event = decision(1);
    let mut line = Vec::new();
    ChainEncoder::new().append(&event, &mut line).unwrap();

    let mut group = c.benchmark_group("audit_memory_append");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_copy_same_bytes", |b| {
        let mut buf = Vec::with_capacity(1 << 20);
        b.iter(|| {
            if buf.len() > (1 << 20) - line.len() {
                buf.clear();
            }
            buf.extend_from_slice(std::hint::black_box(&line));
        });
    });
    group.bench_function("part_serde_json_of_the_event", |b| {
        let mut buf = Vec::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, std::hint::black_box(&event)).unwrap();
        });
    });
    group.bench_function("part_sha256_of_the_line", |b| {
        b.iter(|| ring::digest::digest(&ring::digest::SHA256, std::hint::black_box(&line)));
    });
    group.bench_function("nhi_chain_encoder_append", |b| {
        let mut encoder = ChainEncoder::new();
        let mut buf = Vec::with_capacity(1 << 20);
        b.iter(|| {
            if buf.len() > (1 << 20) - 2 * line.len() {
                buf.clear();
            }
            encoder
                .append(std::hint::black_box(&event), &mut buf)
                .unwrap();
        });
    });
    group.finish();
}

const WRITERS: u64 = 8;
const PER_WRITER: u64 = 8;
const RECORDS: u64 = WRITERS * PER_WRITER;

fn durable_append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    let mut encoder = ChainEncoder::new();
    for n in 0..RECORDS {
        let mut line = Vec::new();
        encoder.append(&decision(n), &mut line).unwrap();
        lines.push(line);
    }

    let mut group = c.benchmark_group("audit_durable_append");
    group.throughput(Throughput::Elements(RECORDS));
    group.sample_size(10);

    group.bench_function("raw_write_fsync_per_8_lines", |b| {
        b.iter_custom(|iters| raw_write(&dir, "raw8.jsonl", &lines, iters, 8));
    });
    group.bench_function("raw_write_fsync_per_line", |b| {
        b.iter_custom(|iters| raw_write(&dir, "raw1.jsonl", &lines, iters, 1));
    });
    group.bench_function("nhi_group_commit_8_writers", |b| {
        b.iter_custom(|iters| group_commit(&dir, iters));
    });
    group.finish();
}

/// Writes the lines `iters` times to a fresh file, syncing every `per_sync` lines.
fn raw_write(
    dir: &tempfile::TempDir,
    name: &str,
    lines: &[Vec<u8>],
    iters: u64,
    per_sync: usize,
) -> Duration {
    let path = dir.path().join(name);
    let _ = std::fs::remove_file(&path);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let start = Instant::now();
    for _ in 0..iters {
        for batch in lines.chunks(per_sync) {
            let bytes: Vec<u8> = batch.concat();
            file.write_all(&bytes).unwrap();
            file.sync_data().unwrap();
        }
    }
    start.elapsed()
}

/// Records RECORDS events per iteration from 8 long-lived writer threads, each with
/// its own runtime, through one file sink; only the records are timed.
fn group_commit(dir: &tempfile::TempDir, iters: u64) -> Duration {
    let path = dir.path().join("nhi.jsonl");
    let _ = std::fs::remove_file(&path);
    let opener = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let sink = Arc::new(opener.block_on(JsonlFileSink::open(&path)).unwrap());
    let events: Vec<AuditEvent> = (0..RECORDS).map(decision).collect();
    let start_line = std::sync::Barrier::new(WRITERS as usize + 1);

    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let sink = Arc::clone(&sink);
            let (events, start_line) = (&events, &start_line);
            scope.spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                start_line.wait();
                for _ in 0..iters {
                    for n in 0..PER_WRITER {
                        let event = &events[(w * PER_WRITER + n) as usize];
                        runtime.block_on(sink.record(event)).unwrap();
                    }
                }
            });
        }
        start_line.wait();
        let start = Instant::now();
        // The scope joins every writer before returning.
        start
    })
    .elapsed()
}

const VERIFY_RECORDS: u64 = 20_000;

fn verification(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut encoder = ChainEncoder::new();
    let mut bytes = Vec::new();
    for n in 0..VERIFY_RECORDS {
        encoder.append(&decision(n), &mut bytes).unwrap();
    }
    std::fs::write(&path, &bytes).unwrap();
    let (key, _) = nhi_audit::CheckpointKey::generate().unwrap();
    let checkpoint = key.sign(VERIFY_RECORDS, encoder.head_bytes(), Timestamp::EPOCH);
    let public = key.public_key();

    let mut group = c.benchmark_group("audit_verify");
    group.throughput(Throughput::Elements(VERIFY_RECORDS));
    group.sample_size(10);
    group.bench_function("raw_read_and_sha256_each_line", |b| {
        b.iter(|| {
            let reader = BufReader::new(std::fs::File::open(&path).unwrap());
            let mut count = 0u64;
            for line in reader.split(b'\n') {
                let line = line.unwrap();
                std::hint::black_box(ring::digest::digest(&ring::digest::SHA256, &line));
                count += 1;
            }
            assert_eq!(count, VERIFY_RECORDS);
        });
    });
    group.bench_function("nhi_verify_chain", |b| {
        b.iter(|| assert_eq!(verify_chain(&path).unwrap().records, VERIFY_RECORDS));
    });
    group.bench_function("nhi_verify_log_with_checkpoint", |b| {
        b.iter(|| {
            let report = verify_log(&path, std::slice::from_ref(&checkpoint), &public).unwrap();
            assert!(report.is_intact());
        });
    });
    group.finish();
}

criterion_group!(benches, memory_append, durable_append, verification);
criterion_main!(benches);
