//! Opening a log: lock it, verify every segment, cut a torn last line, and write the
//! restart record.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufReader, ErrorKind};
use std::path::Path;

use serde_json::json;

use super::commit::{Engine, Io, State};
use super::{FileSinkOptions, Recovery};
use crate::chain::{ChainSummary, GENESIS_PREV, io_error, scan_from};
use crate::encoder::{ChainEncoder, parse_hex32};
use crate::error::{AuditError, ChainFault};
use crate::event::AuditEvent;
use crate::kind::EventKind;
use crate::segment::later_segments;

/// Opens the log described by `options`; see [`JsonlFileSink::open_with`](super::JsonlFileSink::open_with).
pub(crate) fn open(options: FileSinkOptions) -> Result<(Engine, Recovery), AuditError> {
    let base = options.path.clone();
    let lock = lock_base(&base)?;

    // Verify every segment in order; only the last may end in a torn line.
    let mut segments = vec![(1u32, base.clone())];
    segments.extend(later_segments(&base)?);
    let mut summary = ChainSummary {
        records: 0,
        head: GENESIS_PREV.to_owned(),
    };
    let mut cut_bytes = 0;
    let last = segments.len().saturating_sub(1);
    for (position, (_, path)) in segments.iter().enumerate() {
        match scan_segment(path, summary.clone()) {
            Ok(next) => summary = next,
            Err(AuditError::ChainBroken {
                reason: ChainFault::TornLastLine,
                ..
            }) if position == last => {
                cut_bytes = cut_torn_tail(path)?;
                summary = scan_segment(path, summary)?;
            }
            Err(error) => return Err(error),
        }
    }

    // Continue the chain at the end of the last segment.
    let (segment, path) = segments.last().cloned().unwrap_or((1, base.clone()));
    let segment_bytes = std::fs::metadata(&path)
        .map_err(|source| io_error("read", &path, source))?
        .len();
    let file = OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|source| io_error("open", &path, source))?;
    let head = parse_hex32(&summary.head).unwrap_or([0; 32]);
    let now = options.clock.now();

    let mut state = State::new(
        ChainEncoder::resume(summary.records, head),
        segment,
        segment_bytes,
        now,
    );
    state.rotate_bytes = options.rotate_bytes;
    state.rotate_after = options.rotate_after;
    let io = Io {
        base,
        segment,
        file,
        _lock: lock,
        checkpoints: options.checkpoints,
        durable_seq: summary.records,
        durable_head: head,
        checkpointed_seq: 0,
        checkpointed_at: now,
    };
    let engine = Engine::new(state, io, options.clock.clone());

    // A log that held anything says it was reopened, and what was cut.
    let mut recovery = Recovery {
        records: summary.records,
        cut_bytes,
        restart_seq: None,
    };
    if summary.records > 0 || cut_bytes > 0 {
        let marker = restart_event(now, summary.records, cut_bytes, segment);
        let json =
            serde_json::to_vec(&marker).map_err(|source| AuditError::Serialize { source })?;
        recovery.restart_seq = Some(engine.append(&json)?.sequence);
    }
    Ok((engine, recovery))
}

/// The record written when a non-empty log is reopened.
fn restart_event(
    now: nhi_core::Timestamp,
    records: u64,
    cut_bytes: u64,
    segment: u32,
) -> AuditEvent {
    let message = if cut_bytes > 0 {
        format!("audit log reopened after a crash; cut {cut_bytes} bytes of a torn last record")
    } else {
        "audit log reopened".to_owned()
    };
    AuditEvent::new(EventKind::AuditRestarted, now, message).after(json!({
        "records_before": records,
        "cut_bytes": cut_bytes,
        "segment": segment,
    }))
}

/// Creates the first segment if needed and takes its advisory lock.
fn lock_base(base: &Path) -> Result<File, AuditError> {
    let lock = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(base)
        .map_err(|source| io_error("open", base, source))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(TryLockError::WouldBlock) => Err(AuditError::InUse {
            path: base.to_owned(),
        }),
        // Without file locks on this platform, only the in-process lock guards the chain.
        Err(TryLockError::Error(source)) if source.kind() == ErrorKind::Unsupported => Ok(lock),
        Err(TryLockError::Error(source)) => Err(io_error("lock", base, source)),
    }
}

/// Verifies one segment, continuing `summary`.
fn scan_segment(path: &Path, summary: ChainSummary) -> Result<ChainSummary, AuditError> {
    let file = File::open(path).map_err(|source| io_error("open", path, source))?;
    scan_from(BufReader::new(file), path, summary, |_| {})
}

/// Cuts the file back to its last line end; returns how many bytes were cut.
fn cut_torn_tail(path: &Path) -> Result<u64, AuditError> {
    let bytes = std::fs::read(path).map_err(|source| io_error("read", path, source))?;
    let keep = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |end| end + 1);
    let keep = u64::try_from(keep).unwrap_or(u64::MAX);
    let total = u64::try_from(bytes.len()).unwrap_or(u64::MAX);

    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|source| io_error("open", path, source))?;
    file.set_len(keep)
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error("repair", path, source))?;
    Ok(total.saturating_sub(keep))
}
