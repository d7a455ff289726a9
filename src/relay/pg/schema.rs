//! The shared queue's tables, created and migrated by whichever relay starts first.

use tokio_postgres::Client;

/// Migrations, oldest first; migration `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // A channel's row orders its queue (next_seq, taken under the row lock by each insert), counts
    // it, and names the listener session that delivers it (owner_*), refreshed while it lives.
    "CREATE TABLE wd_channels (
        name               text PRIMARY KEY,
        opened_at          timestamptz NOT NULL DEFAULT now(),
        next_seq           bigint NOT NULL DEFAULT 0,
        queued             bigint NOT NULL DEFAULT 0,
        queued_bytes       bigint NOT NULL DEFAULT 0,
        owner_instance     text,
        owner_session      bigint,
        owner_peer         text,
        owner_since        timestamptz,
        owner_seen         timestamptz,
        owner_no_takeover  boolean NOT NULL DEFAULT false
    );
    CREATE TABLE wd_queue (
        channel      text NOT NULL REFERENCES wd_channels (name) ON DELETE CASCADE,
        seq          bigint NOT NULL,
        id           text NOT NULL UNIQUE,
        received_at  timestamptz NOT NULL,
        peer         text,
        method       text NOT NULL,
        path         text NOT NULL,
        headers      bytea NOT NULL,
        body         bytea NOT NULL,
        size         bigint NOT NULL,
        awaited      boolean NOT NULL,
        attempts     integer NOT NULL DEFAULT 0,
        PRIMARY KEY (channel, seq)
    );
    CREATE TABLE wd_answers (
        id          text PRIMARY KEY,
        outcome     text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
    );",
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// An arbitrary constant: the advisory lock that serialises migrations between relays starting
/// together.
const MIGRATION_LOCK: i64 = 0x7764_6576_7175_6575;

/// Brings the schema to [`SCHEMA_VERSION`]; refuses a database migrated by a newer build.
pub(crate) async fn migrate(client: &mut Client) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS wd_schema (version integer NOT NULL)")
        .await?;
    let version: i32 = match tx.query_opt("SELECT version FROM wd_schema", &[]).await? {
        Some(row) => row.get(0),
        None => {
            tx.execute("INSERT INTO wd_schema (version) VALUES (0)", &[])
                .await?;
            0
        }
    };
    if version > SCHEMA_VERSION {
        anyhow::bail!(
            "the relay queue database has schema version {version}, newer than this webhook-dev understands ({SCHEMA_VERSION}); upgrade webhook-dev"
        );
    }
    for migration in &MIGRATIONS[version as usize..] {
        tx.batch_execute(migration).await?;
    }
    tx.execute("UPDATE wd_schema SET version = $1", &[&SCHEMA_VERSION])
        .await?;
    tx.commit().await?;
    Ok(())
}
