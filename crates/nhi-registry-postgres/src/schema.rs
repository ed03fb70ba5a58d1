//! The database schema, its versions, and how a schema is brought up to date.

use nhi_registry::RegistryError;
use tokio_postgres::Client;

use crate::pg_error;

/// The newest schema version this release writes and understands.
pub(crate) const SCHEMA_VERSION: i32 = 1;

/// Every migration, in order: the version it produces and its SQL, where `{schema}`
/// stands for the quoted schema name.
const MIGRATIONS: &[(i32, &str)] = &[(1, SCHEMA_V1)];

/// Version 1: one row per identity holding the full record as JSON text, the columns
/// that are searched or compared beside it, and a trigger announcing every committed
/// insert or update on the channel `<schema>.identities`.
///
/// The id sorts byte-wise (`COLLATE "C"`) so that listing order matches the ids' order
/// everywhere else. The record is kept as text, not `jsonb`, so that every record any
/// other store accepts round-trips exactly.
const SCHEMA_V1: &str = r#"
    CREATE TABLE {schema}.identities (
        id          text   COLLATE "C" PRIMARY KEY,
        state       text   NOT NULL,
        tenant      text   NOT NULL,
        environment text   NOT NULL,
        version     bigint NOT NULL,
        record      text   NOT NULL
    );
    CREATE INDEX identities_by_state ON {schema}.identities (state);
    CREATE INDEX identities_by_tenant ON {schema}.identities (tenant, environment);

    CREATE FUNCTION {schema}.announce_change() RETURNS trigger
    LANGUAGE plpgsql AS $body$
    BEGIN
        PERFORM pg_notify(
            TG_TABLE_SCHEMA || '.identities',
            json_build_object('id', NEW.id, 'version', NEW.version, 'state', NEW.state)::text
        );
        RETURN NULL;
    END
    $body$;
    CREATE TRIGGER identities_announce AFTER INSERT OR UPDATE ON {schema}.identities
        FOR EACH ROW EXECUTE FUNCTION {schema}.announce_change();
"#;

/// Creates the schema when missing and applies every migration it lacks, refusing a
/// schema written by a newer release or one that belongs to something else.
///
/// Runs in one transaction under an advisory lock keyed on the schema name, so nodes
/// starting together do not migrate twice.
pub(crate) async fn migrate(client: &mut Client, schema: &str) -> Result<(), RegistryError> {
    let quoted = quote(schema);
    let tx = client
        .transaction()
        .await
        .map_err(|e| pg_error("starting the schema check", e))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1)::bigint)",
        &[&schema],
    )
    .await
    .map_err(|e| pg_error("locking the schema for migration", e))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {quoted};
         CREATE TABLE IF NOT EXISTS {quoted}.schema_version (
             version    integer     NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .await
    .map_err(|e| pg_error("creating the schema version table", e))?;

    let found: Option<i32> = tx
        .query_one(
            &format!("SELECT max(version) FROM {quoted}.schema_version"),
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| pg_error("reading the schema version", e))?;
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(RegistryError::SchemaTooNew {
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported: SCHEMA_VERSION.unsigned_abs(),
        });
    }
    if found == 0 {
        refuse_foreign_tables(&tx, schema).await?;
    }

    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        tx.batch_execute(&sql.replace("{schema}", &quoted))
            .await
            .map_err(|e| pg_error(&format!("applying schema version {version}"), e))?;
        tx.execute(
            &format!("INSERT INTO {quoted}.schema_version (version) VALUES ($1)"),
            &[version],
        )
        .await
        .map_err(|e| pg_error(&format!("recording schema version {version}"), e))?;
    }
    tx.commit()
        .await
        .map_err(|e| pg_error("committing the schema", e))
}

/// A schema without a version that already holds tables belongs to something else.
async fn refuse_foreign_tables(
    tx: &tokio_postgres::Transaction<'_>,
    schema: &str,
) -> Result<(), RegistryError> {
    let others: i64 = tx
        .query_one(
            "SELECT count(*) FROM information_schema.tables
             WHERE table_schema = $1 AND table_name <> 'schema_version'",
            &[&schema],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| pg_error("inspecting the schema", e))?;
    if others > 0 {
        return Err(RegistryError::corrupt(
            format!("schema `{schema}` holds tables but no identity store version"),
            "it belongs to another program: choose another schema",
        ));
    }
    Ok(())
}

/// The schema name quoted as an SQL identifier; names are checked beforehand to hold
/// only lowercase ASCII letters, digits and underscores.
pub(crate) fn quote(schema: &str) -> String {
    format!("\"{schema}\"")
}

/// The longest schema name accepted, so that `<schema>.identities` fits PostgreSQL's
/// 63-byte limit on channel names.
pub(crate) const MAX_SCHEMA_LEN: usize = 48;

/// Checks that `schema` is a plain lowercase identifier PostgreSQL does not reserve.
pub(crate) fn check_schema_name(schema: &str) -> Result<(), RegistryError> {
    let plain = schema
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let starts_well = schema
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    let reason = if schema.is_empty() || schema.len() > MAX_SCHEMA_LEN {
        "it must be 1 to 48 characters long"
    } else if !plain || !starts_well {
        "use lowercase letters, digits and underscores, starting with a letter"
    } else if schema.starts_with("pg_") || schema == "information_schema" {
        "the name is reserved by PostgreSQL"
    } else {
        return Ok(());
    };
    let shown: String = schema.chars().take(64).collect();
    Err(RegistryError::backend(
        format!("schema name `{shown}` is not acceptable"),
        reason,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for good in ["nhi", "nhi_test_42", "_private", &"a".repeat(48)] {
            assert!(check_schema_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(49);
        for bad in [
            "",
            "Nhi",
            "9lives",
            "nhi-test",
            "nhi\"; DROP TABLE x; --",
            "pg_catalog",
            "information_schema",
            "é",
            &long,
        ] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn migrations_ascend_and_end_at_the_current_version() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(versions.last(), Some(&SCHEMA_VERSION));
    }
}
