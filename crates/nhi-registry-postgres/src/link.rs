//! The store's connection: opened once, re-established when lost, with its prepared
//! statements.

use std::sync::{Arc, PoisonError, RwLock};

use nhi_registry::RegistryError;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls, Statement};

use crate::pg_error;
use crate::schema::quote;

/// The connection a store uses now, replaced as a whole when it is lost.
pub(crate) struct Link {
    config: Config,
    schema: String,
    live: RwLock<Arc<Live>>,
    // Serializes reconnection so that tasks finding the connection lost together
    // open one new connection, not one each.
    reconnecting: tokio::sync::Mutex<()>,
}

/// One open connection and the statements prepared on it.
pub(crate) struct Live {
    /// The client.
    pub(crate) client: Client,
    /// Its prepared statements.
    pub(crate) sql: Statements,
}

impl Link {
    /// Wraps a connected `client` whose schema is up to date.
    pub(crate) async fn new(
        client: Client,
        config: Config,
        schema: &str,
    ) -> Result<Self, RegistryError> {
        let sql = Statements::prepare(&client, &quote(schema)).await?;
        Ok(Self {
            config,
            schema: schema.to_owned(),
            live: RwLock::new(Arc::new(Live { client, sql })),
            reconnecting: tokio::sync::Mutex::new(()),
        })
    }

    /// The connection settings (they may hold a password: never shown).
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The schema the store works in.
    pub(crate) fn schema(&self) -> &str {
        &self.schema
    }

    /// The current connection, re-established first if it is known to be lost.
    pub(crate) async fn live(&self) -> Result<Arc<Live>, RegistryError> {
        let current = self.current();
        if current.client.is_closed() {
            return self.reconnect(&current).await;
        }
        Ok(current)
    }

    /// Replaces `stale` with a new connection, unless another task already did.
    pub(crate) async fn reconnect(&self, stale: &Arc<Live>) -> Result<Arc<Live>, RegistryError> {
        let _gate = self.reconnecting.lock().await;
        let current = self.current();
        if !Arc::ptr_eq(&current, stale) && !current.client.is_closed() {
            return Ok(current);
        }
        let client = connect(&self.config).await?;
        let sql = Statements::prepare(&client, &quote(&self.schema)).await?;
        let fresh = Arc::new(Live { client, sql });
        *self.live.write().unwrap_or_else(PoisonError::into_inner) = fresh.clone();
        Ok(fresh)
    }

    fn current(&self) -> Arc<Live> {
        self.live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Whether `error` means the connection is gone (rather than the query being wrong), so
/// that a read may be retried on a new connection.
pub(crate) fn connection_lost(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    error.code().is_some_and(|code| {
        code == &SqlState::ADMIN_SHUTDOWN
            || code == &SqlState::CRASH_SHUTDOWN
            || code.code().starts_with("08")
    })
}

/// The statements every call uses, prepared once per connection.
pub(crate) struct Statements {
    pub(crate) insert: Statement,
    pub(crate) insert_many: Statement,
    pub(crate) get: Statement,
    pub(crate) update: Statement,
    pub(crate) version_of: Statement,
    pub(crate) first_taken: Statement,
    pub(crate) list: Statement,
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
