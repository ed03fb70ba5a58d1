//! The on-disk schema and how a file is brought up to it.

use rusqlite::{Connection, TransactionBehavior};

use nhi_registry::RegistryError;

use crate::sql_error;

/// The newest schema this release writes and understands.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// Version 1: one row per identity, the full record as JSON, and the columns that are
/// searched or compared kept beside it.
const SCHEMA_V1: &str = "
    CREATE TABLE identities (
        id      TEXT    PRIMARY KEY NOT NULL,
        state   TEXT    NOT NULL,
        tenant  TEXT    NOT NULL,
        version INTEGER NOT NULL,
        record  TEXT    NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX identities_by_state ON identities (state);
    CREATE INDEX identities_by_tenant ON identities (tenant);
";

/// Brings the database up to [`SCHEMA_VERSION`], refusing files it cannot understand.
///
/// Runs in an immediate transaction, so two processes opening a new file at once do not
/// both create the schema.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), RegistryError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| sql_error("starting the schema check", e))?;

    let found = user_version(&tx)?;
    if found > SCHEMA_VERSION {
        return Err(RegistryError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }

    // Version 0: either a fresh file or somebody else's database.
    let tables: i64 = tx
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| sql_error("reading the schema", e))?;
    if tables > 0 {
        return Err(RegistryError::corrupt(
            "the file is a database without an identity store schema",
            "unexpected tables and no schema version: is it another program's database?",
        ));
    }

    tx.execute_batch(SCHEMA_V1)
        .map_err(|e| sql_error("creating the schema", e))?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| sql_error("recording the schema version", e))?;
    tx.commit()
        .map_err(|e| sql_error("committing the schema", e))
}

/// The schema version recorded in the file (`PRAGMA user_version`).
pub(crate) fn user_version(conn: &Connection) -> Result<u32, RegistryError> {
    let raw: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| sql_error("reading the schema version", e))?;
    u32::try_from(raw)
        .map_err(|e| RegistryError::corrupt(format!("the schema version `{raw}` is not valid"), e))
}
