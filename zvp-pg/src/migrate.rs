//! Schema migrations of the zvp stores that keep their tables in PostgreSQL: a version table per
//! store, and the missing migrations applied in one transaction.

use tokio_postgres::Client;

/// Why a store's schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// PostgreSQL refused a statement, or the connection failed.
    #[error("migrating the schema: {0}")]
    Database(#[from] tokio_postgres::Error),
    /// The schema is newer than this zvp: a newer version migrated it.
    #[error("schema version {found}, newer than this zvp, which knows up to {known}")]
    TooNew {
        /// The version in the table.
        found: i64,
        /// The migrations this zvp has.
        known: usize,
    },
}

/// Applies the `migrations` not yet applied in `schema`, counted in the table
/// `zvp_<store>_version`, in one transaction. It holds the advisory lock every zvp store takes
/// before it creates tables in a schema (`hashtext('zvp-schema:' || schema)`), so instances
/// starting together migrate once and no two race in `CREATE SCHEMA IF NOT EXISTS`.
///
/// `schema` and `store` are names the embedder configures, not user input; they are spliced
/// into the statements, as identifiers cannot be parameters.
///
/// # Errors
///
/// [`MigrateError`]; the transaction is then rolled back.
pub async fn migrate(
    client: &mut Client,
    schema: &str,
    store: &str,
    migrations: &[&str],
) -> Result<(), MigrateError> {
    let table = format!("{schema}.zvp_{store}_version");
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("zvp-schema:{schema}")],
    )
    .await?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {table} (version INTEGER NOT NULL);
         INSERT INTO {table} SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {table});"
    ))
    .await?;
    let version: i32 = tx
        .query_one(&format!("SELECT version FROM {table}"), &[])
        .await?
        .get(0);
    let applied = usize::try_from(version)
        .ok()
        .filter(|v| *v <= migrations.len())
        .ok_or(MigrateError::TooNew {
            found: i64::from(version),
            known: migrations.len(),
        })?;
    for (n, migration) in migrations.iter().enumerate().skip(applied) {
        tx.batch_execute(&format!("SET LOCAL search_path TO {schema}; {migration}"))
            .await?;
        let to = i32::try_from(n + 1).unwrap_or(i32::MAX);
        tx.execute(&format!("UPDATE {table} SET version = $1"), &[&to])
            .await?;
    }
    Ok(tx.commit().await?)
}
