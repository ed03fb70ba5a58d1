//! Turning events into chained record lines, in memory.

use ring::digest::{SHA256, digest};

use crate::chain::MAX_LINE_BYTES;
use crate::error::AuditError;
use crate::event::AuditEvent;
use crate::sink::Receipt;

/// Appends events as hash-chained record lines (the format of the [`chain`](crate::chain)
/// module) to a byte buffer.
///
/// It is the core of the file sink, usable alone to build a chain in memory:
///
/// ```
/// use nhi_audit::{AuditEvent, ChainEncoder, EventKind};
/// use nhi_core::Timestamp;
///
/// let mut encoder = ChainEncoder::new();
/// let mut lines = Vec::new();
/// let event = AuditEvent::new(EventKind::AccessDecided, Timestamp::EPOCH, "allowed");
/// assert_eq!(encoder.append(&event, &mut lines)?.sequence, 1);
/// assert_eq!(encoder.records(), 1);
/// assert!(lines.ends_with(b"}\n"));
/// # Ok::<(), nhi_audit::AuditError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChainEncoder {
    next_seq: u64,
    head: [u8; 32],
}

impl Default for ChainEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainEncoder {
    /// An encoder for a new chain: the first record gets sequence 1 and a zero `prev`.
    pub fn new() -> Self {
        Self {
            next_seq: 1,
            head: [0; 32],
        }
    }

    /// An encoder that continues a chain of `records` records whose last line hashes to
    /// `head`.
    pub(crate) fn resume(records: u64, head: [u8; 32]) -> Self {
        Self {
            next_seq: records.saturating_add(1),
            head,
        }
    }

    /// How many records the chain holds so far.
    pub fn records(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }

    /// The SHA-256 of the last line, as raw bytes (zeros for an empty chain).
    pub fn head_bytes(&self) -> [u8; 32] {
        self.head
    }

    /// The lowercase hex SHA-256 of the last line (64 zeros for an empty chain).
    pub fn head(&self) -> String {
        let mut text = String::with_capacity(64);
        push_hex(&mut text, &self.head);
        text
    }

    /// Appends `event` as the next line (with its `\n`) to `out`.
    ///
    /// # Errors
    ///
    /// [`AuditError::Serialize`] or [`AuditError::EventTooLarge`]; `out` and the chain
    /// are then unchanged.
    pub fn append(&mut self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<Receipt, AuditError> {
        let start = out.len();
        self.write_head(out);
        if let Err(source) = crate::fastjson::write_event(event, out) {
            out.truncate(start);
            return Err(AuditError::Serialize { source });
        }
        self.finish(out, start)
    }

    /// Appends an event already serialized as JSON.
    pub(crate) fn append_json(
        &mut self,
        event_json: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Receipt, AuditError> {
        let start = out.len();
        self.write_head(out);
        out.extend_from_slice(event_json);
        self.finish(out, start)
    }

    /// Writes `{"seq":N,"prev":"<hex>","event":`.
    fn write_head(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"seq\":");
        push_decimal(out, self.next_seq);
        out.extend_from_slice(b",\"prev\":\"");
        let mut hex = [0u8; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(self.head) {
            if let [high, low] = pair {
                *high = hex_digit(byte >> 4);
                *low = hex_digit(byte & 0x0f);
            }
        }
        out.extend_from_slice(&hex);
        out.extend_from_slice(b"\",\"event\":");
    }

    /// Closes the line at `out[start..]`, checks its size and moves the chain on.
    fn finish(&mut self, out: &mut Vec<u8>, start: usize) -> Result<Receipt, AuditError> {
        out.push(b'}');
        let bytes = out.len() - start;
        if bytes > MAX_LINE_BYTES {
            out.truncate(start);
            return Err(AuditError::EventTooLarge {
                bytes,
                limit: MAX_LINE_BYTES,
            });
        }
        self.head = hash_line(out.get(start..).unwrap_or_default());
        out.push(b'\n');

        let sequence = self.next_seq;
        self.next_seq = sequence.saturating_add(1);
        Ok(Receipt { sequence })
    }
}

/// The SHA-256 of a line's bytes (without its `\n`).
pub(crate) fn hash_line(content: &[u8]) -> [u8; 32] {
    let hash = digest(&SHA256, content);
    let mut bytes = [0u8; 32];
    for (to, from) in bytes.iter_mut().zip(hash.as_ref()) {
        *to = *from;
    }
    bytes
}

/// Appends the lowercase hex of `bytes` to `text`.
pub(crate) fn push_hex(text: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            let digit = DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0');
            text.push(char::from(digit));
        }
    }
}

/// The lowercase hex digit of a nibble.
fn hex_digit(nibble: u8) -> u8 {
    if nibble < 10 {
        b'0' + nibble
    } else {
        b'a' + nibble - 10
    }
}

/// Appends `value` in decimal.
fn push_decimal(out: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; 20];
    let mut rest = value;
    let mut used = 0;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        used += 1;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(digits.len() - used..).unwrap_or_default());
}

/// Reads 64 lowercase hex digits into 32 bytes.
pub(crate) fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{line_hash, scan};
    use crate::kind::EventKind;
    use nhi_core::Timestamp;
    use std::path::Path;

    #[test]
    fn encoded_lines_verify_and_heads_agree() {
        let mut encoder = ChainEncoder::new();
        let mut lines = Vec::new();
        for n in 0..5 {
            let event = AuditEvent::new(EventKind::AccessDecided, Timestamp::EPOCH, format!("{n}"));
            encoder.append(&event, &mut lines).unwrap();
        }
        let summary = scan(lines.as_slice(), Path::new("memory"), |_| {}).unwrap();
        assert_eq!(summary.records, 5);
        assert_eq!(summary.head, encoder.head());
        let last = lines[..lines.len() - 1]
            .rsplit(|&b| b == b'\n')
            .next()
            .unwrap();
        assert_eq!(line_hash(last), encoder.head());
        assert_eq!(parse_hex32(&encoder.head()), Some(encoder.head_bytes()));
    }

    #[test]
    fn decimals_are_written_in_full() {
        for value in [0, 7, 10, 1_000_000, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            assert_eq!(out, value.to_string().into_bytes());
        }
    }

    #[test]
    fn an_oversized_event_leaves_the_buffer_and_chain_alone() {
        let mut encoder = ChainEncoder::new();
        let mut lines = b"keep".to_vec();
        let huge = AuditEvent::new(
            EventKind::AccessDecided,
            Timestamp::EPOCH,
            "x".repeat(MAX_LINE_BYTES),
        );
        assert!(encoder.append(&huge, &mut lines).is_err());
        assert_eq!(lines, b"keep");
        assert_eq!(encoder.records(), 0);
        assert_eq!(parse_hex32("zz"), None);
    }
}
