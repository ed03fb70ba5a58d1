//! [`SqliteStore`]: the [`IdentityStore`] on one SQLite file.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use nhi_core::IdentityId;
use nhi_registry::{
    IdentityRecord, IdentityStore, Page, RegistryError, StoredRecord, next_version,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::schema::migrate;
use crate::sql_error;

/// How long a call waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A durable [`IdentityStore`] in one SQLite file.
///
/// Several `SqliteStore`s, in one process or many, may open the same file; optimistic
/// concurrency keeps their updates from overwriting each other.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file and its schema when missing.
    ///
    /// # Errors
    ///
    /// [`RegistryError::SchemaTooNew`] when a newer release wrote the file,
    /// [`RegistryError::Corrupt`] when it is not an identity store (or not a database at
    /// all), and [`RegistryError::Backend`] when SQLite fails (for example, the directory
    /// does not exist).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RegistryError> {
        let path = path.as_ref();
        let conn = Connection::open(path)
            .map_err(|e| sql_error(&format!("opening `{}`", path.display()), e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| sql_error("setting the busy timeout", e))?;
        conn.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get::<_, String>(0))
            .map_err(|e| sql_error("switching to the write-ahead log", e))?;
        Self::ready(conn)
    }

    /// A store in memory, gone when dropped; for tests and short-lived tools.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Backend`] when SQLite fails.
    pub fn open_in_memory() -> Result<Self, RegistryError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| sql_error("opening an in-memory database", e))?;
        Self::ready(conn)
    }

    /// Brings the schema up to date and wraps the connection.
    fn ready(mut conn: Connection) -> Result<Self, RegistryError> {
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Runs `work` on the connection.
    ///
    /// A panic elsewhere while holding the lock leaves SQLite consistent (every
    /// statement is atomic), so a poisoned lock is simply taken over.
    fn with_conn<T>(&self, work: impl FnOnce(&Connection) -> T) -> T {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        work(&conn)
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl IdentityStore for SqliteStore {
    async fn insert(&self, record: &IdentityRecord) -> Result<(), RegistryError> {
        let row = StoredRecord::encode(record)?;
        let inserted = self.with_conn(|conn| {
            conn.execute(
                "INSERT INTO identities (id, state, tenant, version, record)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
                params![
                    record.id.as_str(),
                    row.state,
                    row.tenant,
                    row.version,
                    row.json
                ],
            )
        });
        match inserted.map_err(|e| sql_error(&format!("inserting identity `{}`", record.id), e))? {
            0 => Err(RegistryError::AlreadyExists {
                id: record.id.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// One transaction for the whole batch: all records are stored or none.
    async fn insert_many(&self, records: &[IdentityRecord]) -> Result<(), RegistryError> {
        let rows = records
            .iter()
            .map(StoredRecord::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let outcome = self.with_conn(|conn| {
            let tx = conn.unchecked_transaction()?;
            let mut taken = None;
            {
                let mut statement = tx.prepare_cached(
                    "INSERT INTO identities (id, state, tenant, version, record)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
                )?;
                for (record, row) in records.iter().zip(&rows) {
                    let inserted = statement.execute(params![
                        record.id.as_str(),
                        row.state,
                        row.tenant,
                        row.version,
                        row.json
                    ])?;
                    if inserted == 0 {
                        taken = Some(record.id.clone());
                        break;
                    }
                }
            }
            // Dropping the transaction without commit rolls the batch back.
            if taken.is_none() {
                tx.commit()?;
            }
            Ok(taken)
        });
        let context = || format!("inserting {} identities", records.len());
        match outcome.map_err(|e| sql_error(&context(), e))? {
            Some(id) => Err(RegistryError::AlreadyExists { id }),
            None => Ok(()),
        }
    }

    async fn get(&self, id: &IdentityId) -> Result<Option<IdentityRecord>, RegistryError> {
        let json: Option<String> = self
            .with_conn(|conn| {
                conn.query_row(
                    "SELECT record FROM identities WHERE id = ?1",
                    [id.as_str()],
                    |row| row.get(0),
                )
                .optional()
            })
            .map_err(|e| sql_error(&format!("reading identity `{id}`"), e))?;
        json.map(|json| StoredRecord::decode(&json)).transpose()
    }

    async fn update(&self, record: &IdentityRecord) -> Result<IdentityRecord, RegistryError> {
        let mut next = record.clone();
        next.version = next_version(record)?;
        let row = StoredRecord::encode(&next)?;
        let read_version = StoredRecord::column_version(record)?;

        let outcome = self.with_conn(|conn| {
            let changed = conn.execute(
                "UPDATE identities SET state = ?1, tenant = ?2, version = ?3, record = ?4
                 WHERE id = ?5 AND version = ?6",
                params![
                    row.state,
                    row.tenant,
                    row.version,
                    row.json,
                    record.id.as_str(),
                    read_version
                ],
            )?;
            if changed > 0 {
                return Ok(None);
            }
            // Nothing matched: tell a missing record from a moved-on version.
            conn.query_row(
                "SELECT version FROM identities WHERE id = ?1",
                [record.id.as_str()],
                |row| row.get::<_, i64>(0),
            )
            .optional()
            .map(Some)
        });

        match outcome.map_err(|e| sql_error(&format!("updating identity `{}`", record.id), e))? {
            None => Ok(next),
            Some(None) => Err(RegistryError::NotFound {
                id: record.id.clone(),
            }),
            Some(Some(found)) => Err(RegistryError::VersionConflict {
                id: record.id.clone(),
                expected: record.version,
                found: u64::try_from(found).unwrap_or_default(),
            }),
        }
    }

    async fn list(&self, page: &Page) -> Result<Vec<IdentityRecord>, RegistryError> {
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        // Ids are ASCII, so SQLite's byte order is the ids' order; "" sorts first.
        let after = page.after.as_ref().map_or("", IdentityId::as_str);

        let rows: Vec<String> = self
            .with_conn(|conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT record FROM identities WHERE id > ?1 ORDER BY id LIMIT ?2",
                )?;
                let rows = statement.query_map(params![after, limit], |row| row.get(0))?;
                rows.collect::<Result<Vec<String>, _>>()
            })
            .map_err(|e| sql_error("listing identities", e))?;
        rows.iter().map(|json| StoredRecord::decode(json)).collect()
    }
}
