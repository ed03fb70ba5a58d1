//! [`PostgresStore`]: the [`IdentityStore`] on a PostgreSQL schema.

use std::collections::BTreeSet;

use nhi_core::IdentityId;
use nhi_registry::{IdentityRecord, IdentityStore, Page, RegistryError, next_version};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls, Statement};

use crate::feed::ChangeFeed;
use crate::pg_error;
use crate::schema::{check_schema_name, migrate, quote};

/// A shared, durable [`IdentityStore`] in one PostgreSQL schema.
///
/// Each store holds one connection. Queries from concurrent tasks are pipelined on it,
/// so one store serves a whole process; open more stores for more parallelism. Any
/// number of stores, on any number of nodes, may use the same schema: updates are
/// compare-and-swap on the version column, so none is lost.
///
/// The connection is not re-established: once it is lost, every call fails with
/// [`RegistryError::Backend`], and the host opens a new store.
pub struct PostgresStore {
    client: Client,
    config: Config,
    schema: String,
    sql: Statements,
}

/// The statements every call uses, prepared once per connection.
struct Statements {
    insert: Statement,
    insert_many: Statement,
    get: Statement,
    update: Statement,
    version_of: Statement,
    first_taken: Statement,
    list: Statement,
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
        let config: Config = url
            .parse()
            .map_err(|e| pg_error("reading the connection string", e))?;
        let mut client = connect(&config).await?;
        migrate(&mut client, schema).await?;
        let sql = Statements::prepare(&client, &quote(schema)).await?;
        Ok(Self {
            client,
            config,
            schema: schema.to_owned(),
            sql,
        })
    }

    /// The schema this store works in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The notification channel on which committed changes are announced:
    /// `<schema>.identities`.
    pub fn channel(&self) -> String {
        format!("{}.identities", self.schema)
    }

    /// Opens a [`ChangeFeed`] on its own connection: every insert or update committed
    /// in this schema from now on, by any node, arrives on it.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Backend`] when the connection or `LISTEN` fails.
    pub async fn subscribe(&self) -> Result<ChangeFeed, RegistryError> {
        ChangeFeed::listen(&self.config, self.channel()).await
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration may hold a password: never shown.
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl IdentityStore for PostgresStore {
    async fn insert(&self, record: &IdentityRecord) -> Result<(), RegistryError> {
        let row = Row::of(record)?;
        let inserted = self
            .client
            .execute(
                &self.sql.insert,
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
        let rows = records.iter().map(Row::of).collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let states: Vec<&str> = rows.iter().map(|r| r.state).collect();
        let tenants: Vec<&str> = rows.iter().map(|r| r.tenant.as_str()).collect();
        let environments: Vec<&str> = rows.iter().map(|r| r.environment.as_str()).collect();
        let versions: Vec<i64> = rows.iter().map(|r| r.version).collect();
        let jsons: Vec<&str> = rows.iter().map(|r| r.json.as_str()).collect();

        let result = self
            .client
            .execute(
                &self.sql.insert_many,
                &[&ids, &states, &tenants, &environments, &versions, &jsons],
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                Err(self.first_taken(&ids).await?)
            }
            Err(e) => Err(pg_error(
                &format!("inserting {} identities", records.len()),
                e,
            )),
        }
    }

    async fn get(&self, id: &IdentityId) -> Result<Option<IdentityRecord>, RegistryError> {
        let row = self
            .client
            .query_opt(&self.sql.get, &[&id.as_str()])
            .await
            .map_err(|e| pg_error(&format!("reading identity `{id}`"), e))?;
        row.map(|row| decode(&row)).transpose()
    }

    async fn update(&self, record: &IdentityRecord) -> Result<IdentityRecord, RegistryError> {
        let mut next = record.clone();
        next.version = next_version(record)?;
        let row = Row::of(&next)?;
        let read_version = to_sql_version(record)?;
        let context = || format!("updating identity `{}`", record.id);

        let changed = self
            .client
            .execute(
                &self.sql.update,
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
        let found = self
            .client
            .query_opt(&self.sql.version_of, &[&record.id.as_str()])
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
        let rows = self
            .client
            .query(&self.sql.list, &[&after, &limit])
            .await
            .map_err(|e| pg_error("listing identities", e))?;
        rows.iter().map(decode).collect()
    }
}

impl PostgresStore {
    /// The error for a batch that hit a taken id: the first such id, by id order.
    async fn first_taken(&self, ids: &[&str]) -> Result<RegistryError, RegistryError> {
        let row = self
            .client
            .query_opt(&self.sql.first_taken, &[&ids])
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
}

impl Statements {
    async fn prepare(client: &Client, schema: &str) -> Result<Self, RegistryError> {
        let table = format!("{schema}.identities");
        let prepare = |sql: String| async move {
            client
                .prepare(&sql)
                .await
                .map_err(|e| pg_error("preparing the store's statements", e))
        };
        Ok(Self {
            insert: prepare(format!(
                "INSERT INTO {table} (id, state, tenant, environment, version, record)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING"
            ))
            .await?,
            insert_many: prepare(format!(
                "INSERT INTO {table} (id, state, tenant, environment, version, record)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                      $5::bigint[], $6::text[])"
            ))
            .await?,
            get: prepare(format!("SELECT record FROM {table} WHERE id = $1")).await?,
            update: prepare(format!(
                "UPDATE {table} SET state = $1, tenant = $2, environment = $3, version = $4,
                 record = $5 WHERE id = $6 AND version = $7"
            ))
            .await?,
            version_of: prepare(format!("SELECT version FROM {table} WHERE id = $1")).await?,
            first_taken: prepare(format!(
                "SELECT id FROM {table} WHERE id = ANY($1::text[]) ORDER BY id LIMIT 1"
            ))
            .await?,
            list: prepare(format!(
                "SELECT record FROM {table} WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .await?,
        })
    }
}

/// Opens a connection and drives it on a spawned task until the client is dropped.
pub(crate) async fn connect(config: &Config) -> Result<Client, RegistryError> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| pg_error("connecting to PostgreSQL", e))?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped or the server goes away;
        // either way the client's calls report it.
        let _ended = connection.await;
    });
    Ok(client)
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

/// The column values of one record.
struct Row {
    state: &'static str,
    tenant: String,
    environment: String,
    version: i64,
    json: String,
}

impl Row {
    fn of(record: &IdentityRecord) -> Result<Self, RegistryError> {
        let json = serde_json::to_string(record)
            .map_err(|e| RegistryError::backend(format!("encoding identity `{}`", record.id), e))?;
        Ok(Self {
            state: record.state.as_str(),
            tenant: record.tenant.as_str().to_owned(),
            environment: record.environment.as_str().to_owned(),
            version: to_sql_version(record)?,
            json,
        })
    }
}

/// The record's version as PostgreSQL's `bigint`.
fn to_sql_version(record: &IdentityRecord) -> Result<i64, RegistryError> {
    i64::try_from(record.version).map_err(|e| {
        RegistryError::backend(
            format!(
                "version {} of identity `{}` is too large for PostgreSQL",
                record.version, record.id
            ),
            e,
        )
    })
}

/// Reads a stored record; a row that does not decode is corruption.
fn decode(row: &tokio_postgres::Row) -> Result<IdentityRecord, RegistryError> {
    let json: &str = row
        .try_get(0)
        .map_err(|e| RegistryError::corrupt("a stored identity row has no record", e))?;
    serde_json::from_str(json)
        .map_err(|e| RegistryError::corrupt("a stored identity record does not decode", e))
}
