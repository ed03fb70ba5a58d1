//! [`PostgresStore`]: the [`IdentityStore`] on a PostgreSQL schema.

use std::collections::BTreeSet;

use nhi_core::IdentityId;
use nhi_registry::{
    IdentityRecord, IdentityStore, Page, RegistryError, StoredRecord, next_version,
};
use tokio_postgres::Config;
use tokio_postgres::error::SqlState;

use crate::feed::ChangeFeed;
use crate::link::{Link, Live, connect, connection_lost};
use crate::pg_error;
use crate::schema::{check_schema_name, migrate};

/// The `application_name` the store's connections report, unless the URL sets one.
const APPLICATION_NAME: &str = "nhi-registry";

/// A shared, durable [`IdentityStore`] in one PostgreSQL schema.
///
/// Each store holds one connection. Queries from concurrent tasks are pipelined on it,
/// so one store serves a whole process; open more stores for more parallelism. Any
/// number of stores, on any number of nodes, may use the same schema: updates are
/// compare-and-swap on the version column, so none is lost.
///
/// A lost connection is re-established by the next call. A read that finds the
/// connection lost is retried once on a new one; a write is not (it may have committed
/// before the connection went), so it fails with [`RegistryError::Backend`] and the
/// caller reads again before retrying.
pub struct PostgresStore {
    link: Link,
}

impl PostgresStore {
    /// Connects to `url` (a `postgres://` URL or a `key=value` string; TLS is not
    /// supported) and opens the store in `schema`, creating the schema and its tables
    /// when missing.
    ///
    /// Must be called inside a tokio runtime: the connection is driven by a spawned
    /// task.
    ///
    /// # Errors
    ///
    /// [`RegistryError::SchemaTooNew`] when a newer release migrated the schema,
    /// [`RegistryError::Corrupt`] when the schema holds someone else's tables, and
    /// [`RegistryError::Backend`] when the URL or schema name is not acceptable or the
    /// server cannot be reached.
    pub async fn open(url: &str, schema: &str) -> Result<Self, RegistryError> {
        check_schema_name(schema)?;
        let mut config: Config = url
            .parse()
            .map_err(|e| pg_error("reading the connection string", e))?;
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        let mut client = connect(&config).await?;
        migrate(&mut client, schema).await?;
        Ok(Self {
            link: Link::new(client, config, schema).await?,
        })
    }

    /// The schema this store works in.
    pub fn schema(&self) -> &str {
        self.link.schema()
    }

    /// The notification channel on which committed changes are announced:
    /// `<schema>.identities`.
    pub fn channel(&self) -> String {
        format!("{}.identities", self.link.schema())
    }

    /// Opens a [`ChangeFeed`] on its own connection: every insert or update committed
    /// in this schema from now on, by any node, arrives on it.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Backend`] when the connection or `LISTEN` fails.
    pub async fn subscribe(&self) -> Result<ChangeFeed, RegistryError> {
        ChangeFeed::listen(self.link.config(), self.channel()).await
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration may hold a password: never shown.
        f.debug_struct("PostgresStore")
            .field("schema", &self.link.schema())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl IdentityStore for PostgresStore {
    async fn insert(&self, record: &IdentityRecord) -> Result<(), RegistryError> {
        let row = StoredRecord::encode(record)?;
        let live = self.link.live().await?;
        let inserted = live
            .client
            .execute(
                &live.sql.insert,
                &[
                    &record.id.as_str(),
                    &row.state,
                    &row.tenant,
                    &row.environment,
                    &row.version,
                    &row.json,
                ],
            )
            .await
            .map_err(|e| pg_error(&format!("inserting identity `{}`", record.id), e))?;
        match inserted {
            0 => Err(RegistryError::AlreadyExists {
                id: record.id.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// One statement for the whole batch: all records are stored or none.
    async fn insert_many(&self, records: &[IdentityRecord]) -> Result<(), RegistryError> {
        refuse_repeated_ids(records)?;
        let rows = records
            .iter()
            .map(StoredRecord::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let states: Vec<&str> = rows.iter().map(|r| r.state).collect();
        let tenants: Vec<&str> = rows.iter().map(|r| r.tenant.as_str()).collect();
        let environments: Vec<&str> = rows.iter().map(|r| r.environment.as_str()).collect();
        let versions: Vec<i64> = rows.iter().map(|r| r.version).collect();
        let jsons: Vec<&str> = rows.iter().map(|r| r.json.as_str()).collect();

        let live = self.link.live().await?;
        let result = live
            .client
            .execute(
                &live.sql.insert_many,
                &[&ids, &states, &tenants, &environments, &versions, &jsons],
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                Err(first_taken(&live, &ids).await?)
            }
            Err(e) => Err(pg_error(
                &format!("inserting {} identities", records.len()),
                e,
            )),
        }
    }

    async fn get(&self, id: &IdentityId) -> Result<Option<IdentityRecord>, RegistryError> {
        let live = self.link.live().await?;
        let read = live.client.query_opt(&live.sql.get, &[&id.as_str()]).await;
        let read = match read {
            Err(e) if connection_lost(&e) => {
                let live = self.link.reconnect(&live).await?;
                live.client.query_opt(&live.sql.get, &[&id.as_str()]).await
            }
            other => other,
        };
        let row = read.map_err(|e| pg_error(&format!("reading identity `{id}`"), e))?;
        row.map(|row| decode(&row)).transpose()
    }

    async fn update(&self, record: &IdentityRecord) -> Result<IdentityRecord, RegistryError> {
        let mut next = record.clone();
        next.version = next_version(record)?;
        let row = StoredRecord::encode(&next)?;
        let read_version = StoredRecord::column_version(record)?;
        let context = || format!("updating identity `{}`", record.id);

        let live = self.link.live().await?;
        let changed = live
            .client
            .execute(
                &live.sql.update,
                &[
                    &row.state,
                    &row.tenant,
                    &row.environment,
                    &row.version,
                    &row.json,
                    &record.id.as_str(),
                    &read_version,
                ],
            )
            .await
            .map_err(|e| pg_error(&context(), e))?;
        if changed > 0 {
            return Ok(next);
        }

        // Nothing matched: tell a missing record from a moved-on version.
        let found = live
            .client
            .query_opt(&live.sql.version_of, &[&record.id.as_str()])
            .await
            .and_then(|row| row.map(|row| row.try_get::<_, i64>(0)).transpose())
            .map_err(|e| pg_error(&context(), e))?;
        match found {
            None => Err(RegistryError::NotFound {
                id: record.id.clone(),
            }),
            Some(found) => Err(RegistryError::VersionConflict {
                id: record.id.clone(),
                expected: record.version,
                found: u64::try_from(found).unwrap_or_default(),
            }),
        }
    }

    async fn list(&self, page: &Page) -> Result<Vec<IdentityRecord>, RegistryError> {
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        // Ids are non-empty ASCII, so "" sorts before every one of them.
        let after = page.after.as_ref().map_or("", IdentityId::as_str);
        let live = self.link.live().await?;
        let read = live.client.query(&live.sql.list, &[&after, &limit]).await;
        let read = match read {
            Err(e) if connection_lost(&e) => {
                let live = self.link.reconnect(&live).await?;
                live.client.query(&live.sql.list, &[&after, &limit]).await
            }
            other => other,
        };
        let rows = read.map_err(|e| pg_error("listing identities", e))?;
        rows.iter().map(decode).collect()
    }
}

/// The error for a batch that hit a taken id: the first such id, by id order.
async fn first_taken(live: &Live, ids: &[&str]) -> Result<RegistryError, RegistryError> {
    let row = live
        .client
        .query_opt(&live.sql.first_taken, &[&ids])
        .await
        .map_err(|e| pg_error("finding the taken identity id", e))?;
    let taken: Option<String> = row
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(|e| pg_error("finding the taken identity id", e))?;
    let text = taken.unwrap_or_default();
    let id = text
        .parse()
        .map_err(|e| RegistryError::corrupt(format!("stored id `{text}`"), e))?;
    Ok(RegistryError::AlreadyExists { id })
}

/// A batch naming one id twice would fail half-way in any store; refuse it up front.
fn refuse_repeated_ids(records: &[IdentityRecord]) -> Result<(), RegistryError> {
    let mut seen = BTreeSet::new();
    for record in records {
        if !seen.insert(&record.id) {
            return Err(RegistryError::AlreadyExists {
                id: record.id.clone(),
            });
        }
    }
    Ok(())
}

/// Reads a stored record; a row that does not decode is corruption.
fn decode(row: &tokio_postgres::Row) -> Result<IdentityRecord, RegistryError> {
    let json: &str = row
        .try_get(0)
        .map_err(|e| RegistryError::corrupt("a stored identity row has no record", e))?;
    StoredRecord::decode(json)
}
