//! Signed checkpoints: the anchor kept outside the log.
//!
//! A hash chain shows edits, deletions and reordering inside a log, but not a removed
//! tail or a rewritten end. A [`Checkpoint`] is the log's size and head hash at one
//! moment, signed with Ed25519 by the writer and handed to a [`CheckpointStore`] that
//! lives somewhere else (another system, another account). The verifier checks the log
//! against every checkpoint: a log shorter than a checkpoint was truncated, a log whose
//! record at a checkpoint's size hashes differently was rewritten.
//!
//! The signed message is `nhi-audit checkpoint v1\n<size>\n<head hex>\n<unix nanos>`.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use nhi_core::Timestamp;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::chain::io_error;
use crate::encoder::push_hex;
use crate::error::AuditError;

/// The writer's Ed25519 key that signs checkpoints and gap records. `Debug` never shows
/// it.
pub struct CheckpointKey {
    pair: Ed25519KeyPair,
}

impl CheckpointKey {
    /// A new random key, returned with its PKCS#8 document so it can be stored.
    ///
    /// # Errors
    ///
    /// [`AuditError::BadCheckpointKey`] when the system's random source fails.
    pub fn generate() -> Result<(Self, Vec<u8>), AuditError> {
        let bad = |e: ring::error::Unspecified| AuditError::BadCheckpointKey {
            reason: e.to_string(),
        };
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(bad)?;
        let key = Self::from_pkcs8(document.as_ref())?;
        Ok((key, document.as_ref().to_vec()))
    }

    /// The key from a stored PKCS#8 document.
    ///
    /// # Errors
    ///
    /// [`AuditError::BadCheckpointKey`] when the document is not an Ed25519 key.
    pub fn from_pkcs8(document: &[u8]) -> Result<Self, AuditError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(document).map_err(|e| {
            AuditError::BadCheckpointKey {
                reason: e.to_string(),
            }
        })?;
        Ok(Self { pair })
    }

    /// The public half, which verifiers need.
    pub fn public_key(&self) -> CheckpointPublicKey {
        CheckpointPublicKey(self.pair.public_key().as_ref().to_vec())
    }

    /// Signs the log's state: `size` records whose last line hashes to `head`.
    pub fn sign(&self, size: u64, head: [u8; 32], time: Timestamp) -> Checkpoint {
        let mut head_hex = String::with_capacity(64);
        push_hex(&mut head_hex, &head);
        let message = checkpoint_message(size, &head_hex, time);
        let mut signature = String::with_capacity(128);
        push_hex(&mut signature, self.pair.sign(&message).as_ref());
        Checkpoint {
            size,
            head: head_hex,
            time,
            signature,
        }
    }

    /// Signs arbitrary bytes (gap records use it).
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> String {
        let mut signature = String::with_capacity(128);
        push_hex(&mut signature, self.pair.sign(message).as_ref());
        signature
    }
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CheckpointKey(<redacted>)")
    }
}

/// The public half of a [`CheckpointKey`]: 32 raw Ed25519 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointPublicKey(pub Vec<u8>);

impl CheckpointPublicKey {
    /// Whether `signature_hex` is this key's signature of `message`.
    pub(crate) fn verifies(&self, message: &[u8], signature_hex: &str) -> bool {
        let Some(signature) = decode_hex(signature_hex) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, &signature)
            .is_ok()
    }
}

/// A signed statement that the log held `size` records whose last line hashes to `head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// How many records the log held.
    pub size: u64,
    /// Lowercase hex SHA-256 of record `size`'s line.
    pub head: String,
    /// When it was signed, from the writer's clock.
    pub time: Timestamp,
    /// Hex Ed25519 signature of the checkpoint message (see the module docs).
    pub signature: String,
}

impl Checkpoint {
    /// Whether the signature is `key`'s.
    pub fn is_signed_by(&self, key: &CheckpointPublicKey) -> bool {
        key.verifies(
            &checkpoint_message(self.size, &self.head, self.time),
            &self.signature,
        )
    }
}

/// Where checkpoints are kept, outside the log they vouch for.
///
/// Calls come from the file sink's writer thread, never from an async task, so an
/// implementation may block.
pub trait CheckpointStore: Send + Sync {
    /// Keeps `checkpoint`.
    ///
    /// # Errors
    ///
    /// [`AuditError::CheckpointStore`] (or [`AuditError::Io`]) when it could not.
    fn publish(&self, checkpoint: &Checkpoint) -> Result<(), AuditError>;

    /// Every checkpoint kept, oldest first.
    ///
    /// # Errors
    ///
    /// As for [`publish`](CheckpointStore::publish).
    fn load(&self) -> Result<Vec<Checkpoint>, AuditError>;
}

/// Checkpoints kept in memory, for tests and hosts that forward them.
#[derive(Debug, Default)]
pub struct MemoryCheckpointStore {
    checkpoints: Mutex<Vec<Checkpoint>>,
}

impl MemoryCheckpointStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CheckpointStore for MemoryCheckpointStore {
    fn publish(&self, checkpoint: &Checkpoint) -> Result<(), AuditError> {
        let mut list = self
            .checkpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        list.push(checkpoint.clone());
        Ok(())
    }

    fn load(&self) -> Result<Vec<Checkpoint>, AuditError> {
        let list = self
            .checkpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(list.clone())
    }
}

/// Checkpoints appended as JSON lines to a file that should live on another volume or
/// system than the log; each is synced before `publish` returns.
#[derive(Debug)]
pub struct FileCheckpointStore {
    path: PathBuf,
    file: Mutex<File>,
}

impl FileCheckpointStore {
    /// Opens (or creates) the checkpoint file at `path`.
    ///
    /// # Errors
    ///
    /// [`AuditError::Io`] when it cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        let path = path.as_ref().to_owned();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(|source| io_error("open", &path, source))?;
        Ok(Self {
            path,
            file: Mutex::new(file),
        })
    }
}

impl CheckpointStore for FileCheckpointStore {
    fn publish(&self, checkpoint: &Checkpoint) -> Result<(), AuditError> {
        let mut line =
            serde_json::to_vec(checkpoint).map_err(|source| AuditError::Serialize { source })?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(|source| io_error("write", &self.path, source))
    }

    fn load(&self) -> Result<Vec<Checkpoint>, AuditError> {
        let file = File::open(&self.path).map_err(|source| io_error("open", &self.path, source))?;
        let mut list = Vec::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|source| io_error("read", &self.path, source))?;
            // A torn last line of the store is not a checkpoint; others must parse.
            match serde_json::from_str(&line) {
                Ok(checkpoint) => list.push(checkpoint),
                Err(_) if line.trim().is_empty() => {}
                Err(source) => {
                    return Err(AuditError::CheckpointStore {
                        source: Box::new(source),
                    });
                }
            }
        }
        Ok(list)
    }
}

/// The bytes a checkpoint signature covers.
fn checkpoint_message(size: u64, head_hex: &str, time: Timestamp) -> Vec<u8> {
    format!(
        "nhi-audit checkpoint v1\n{size}\n{head_hex}\n{}",
        time.unix_nanos()
    )
    .into_bytes()
}

/// Reads hex of any even length.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_only_unchanged_and_with_its_key() {
        let (key, document) = CheckpointKey::generate().unwrap();
        let again = CheckpointKey::from_pkcs8(&document).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        let (other, _) = CheckpointKey::generate().unwrap();

        let checkpoint = key.sign(7, [9; 32], Timestamp::from_unix_secs(5));
        assert!(checkpoint.is_signed_by(&key.public_key()));
        assert!(!checkpoint.is_signed_by(&other.public_key()));
        for forged in [
            Checkpoint {
                size: 8,
                ..checkpoint.clone()
            },
            Checkpoint {
                head: "0".repeat(64),
                ..checkpoint.clone()
            },
            Checkpoint {
                signature: "zz".into(),
                ..checkpoint.clone()
            },
        ] {
            assert!(!forged.is_signed_by(&key.public_key()));
        }
        assert!(CheckpointKey::from_pkcs8(b"not a key").is_err());
        assert!(!format!("{key:?}").contains(&format!("{:?}", document)));
    }

    #[test]
    fn the_file_store_keeps_checkpoints_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.jsonl");
        let (key, _) = CheckpointKey::generate().unwrap();
        let store = FileCheckpointStore::open(&path).unwrap();
        let first = key.sign(1, [1; 32], Timestamp::EPOCH);
        let second = key.sign(2, [2; 32], Timestamp::EPOCH);
        store.publish(&first).unwrap();
        store.publish(&second).unwrap();
        assert_eq!(store.load().unwrap(), vec![first, second]);

        std::fs::write(&path, "garbage\n").unwrap();
        assert!(store.load().is_err());
    }
}
