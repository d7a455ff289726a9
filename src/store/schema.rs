//! The store's schema, versioned with `PRAGMA user_version` and applied in order.

use rusqlite::Connection;

/// Migrations, oldest first; migration `i` moves the store from version `i` to `i + 1`.
/// The schema version this build writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

const MIGRATIONS: &[&str] = &[
    // 1: captured requests, with the answer each got (written once it is known). The small
    // columns come first and the blobs last, so listing never reads through a body's pages.
    "CREATE TABLE requests (
        seq           INTEGER PRIMARY KEY,
        id            TEXT NOT NULL UNIQUE,
        received_at   TEXT NOT NULL,
        peer          TEXT,
        method        TEXT NOT NULL,
        path          TEXT NOT NULL,
        size          INTEGER NOT NULL,
        event_type    TEXT,
        sig_status    TEXT NOT NULL,
        sig_profile   TEXT,
        sig_reason    TEXT,
        replay_of     TEXT,
        resp_status   INTEGER,
        fwd_target    TEXT,
        fwd_status    INTEGER,
        fwd_duration_ms REAL,
        fwd_error     TEXT,
        schema_report TEXT,
        headers       BLOB NOT NULL,
        body          BLOB NOT NULL,
        resp_headers  BLOB,
        resp_body     BLOB
    );",
    // 2: deliveries made by trigger and replay.
    "CREATE TABLE deliveries (
        seq           INTEGER PRIMARY KEY,
        id            TEXT NOT NULL UNIQUE,
        kind          TEXT NOT NULL,
        event_type    TEXT,
        target        TEXT NOT NULL,
        status        TEXT NOT NULL,
        attempt_count INTEGER NOT NULL,
        response_status_code INTEGER,
        response_body TEXT,
        error_message TEXT,
        created_at    TEXT NOT NULL,
        request_id    TEXT,
        source_id     TEXT
    );",
    // 3: answers in a table of their own, written once each: recording an answer by updating
    // its request rewrote the whole row, body included, and pages of earlier commits. An
    // answer's schema report, when it has one, replaces the request's; `truncated` marks an
    // answer stored only up to its first bytes.
    "CREATE TABLE answers (
        request_seq   INTEGER PRIMARY KEY,
        status        INTEGER NOT NULL,
        fwd_target    TEXT,
        fwd_status    INTEGER,
        fwd_duration_ms REAL,
        fwd_error     TEXT,
        schema_report TEXT,
        truncated     INTEGER NOT NULL DEFAULT 0,
        headers       BLOB NOT NULL,
        body          BLOB NOT NULL
    );
    INSERT INTO answers (request_seq, status, fwd_target, fwd_status, fwd_duration_ms, fwd_error,
        headers, body)
        SELECT seq, resp_status, fwd_target, fwd_status, fwd_duration_ms, fwd_error,
            COALESCE(resp_headers, X''), COALESCE(resp_body, X'')
        FROM requests WHERE resp_status IS NOT NULL;
    ALTER TABLE requests DROP COLUMN resp_status;
    ALTER TABLE requests DROP COLUMN fwd_target;
    ALTER TABLE requests DROP COLUMN fwd_status;
    ALTER TABLE requests DROP COLUMN fwd_duration_ms;
    ALTER TABLE requests DROP COLUMN fwd_error;
    ALTER TABLE requests DROP COLUMN resp_headers;
    ALTER TABLE requests DROP COLUMN resp_body;",
    // 4: `emulate`: the emulated providers' webhook subscriptions, their deliveries (the
    // state of each, pending retries included) and every attempt. A subscription's secret is
    // kept because the provider keeps it: retries after a restart are signed with it.
    "CREATE TABLE emulator_subscriptions (
        seq           INTEGER PRIMARY KEY,
        provider      TEXT NOT NULL,
        id            TEXT NOT NULL UNIQUE,
        target_url    TEXT NOT NULL,
        events        TEXT NOT NULL,
        is_active     INTEGER NOT NULL,
        secret        TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE TABLE emulator_deliveries (
        seq           INTEGER PRIMARY KEY,
        provider      TEXT NOT NULL,
        id            TEXT NOT NULL UNIQUE,
        subscription  TEXT NOT NULL,
        event_type    TEXT NOT NULL,
        is_test       INTEGER NOT NULL,
        msg_id        TEXT NOT NULL,
        status        TEXT NOT NULL,
        attempts      INTEGER NOT NULL,
        target        TEXT NOT NULL,
        response_status INTEGER,
        response_body TEXT,
        error_message TEXT,
        next_retry_at TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        payload       BLOB NOT NULL
    );
    CREATE INDEX emulator_deliveries_pending ON emulator_deliveries (provider, status);
    CREATE TABLE emulator_attempts (
        seq           INTEGER PRIMARY KEY,
        delivery      TEXT NOT NULL REFERENCES emulator_deliveries (id),
        number        INTEGER NOT NULL,
        attempted_at  TEXT NOT NULL,
        target        TEXT NOT NULL,
        response_status INTEGER,
        error_message TEXT,
        request_id    TEXT
    );",
];

/// Brings the store up to the newest schema, refusing a store written by a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    migrate_with(conn, MIGRATIONS, "the store")
}

/// Applies `migrations` (oldest first, tracked in `PRAGMA user_version`) that `conn` lacks, each
/// in its own transaction; refuses a database (named `what` in the error) from a newer build.
pub(crate) fn migrate_with(
    conn: &mut Connection,
    migrations: &[&str],
    what: &str,
) -> anyhow::Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > migrations.len() {
        anyhow::bail!(
            "{what} has schema version {version}, newer than this webhook-dev understands ({}); upgrade webhook-dev",
            migrations.len()
        );
    }
    for (index, sql) in migrations.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_harmless() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len());
    }

    #[test]
    fn a_newer_store_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", MIGRATIONS.len() + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(err.contains("upgrade webhook-dev"), "{err}");
    }
}
