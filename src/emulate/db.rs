//! The emulator's own connection to the store, and the cursor pages its lists are read in.

use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rusqlite::Connection;

/// A cheap-to-clone handle on the emulator's tables; queries run on the blocking pool.
#[derive(Clone)]
pub struct EmulatorDb {
    conn: Arc<Mutex<Connection>>,
}

impl EmulatorDb {
    /// Connects to the store in `dir`, which [`crate::store::Store::open`] has created and migrated.
    pub fn open(dir: &Path) -> anyhow::Result<EmulatorDb> {
        Ok(EmulatorDb {
            conn: Arc::new(Mutex::new(crate::store::connect(dir)?)),
        })
    }

    /// Runs `work` on the connection, off the async threads.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let conn = self.conn.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut conn = crate::sync::lock(&conn);
            work(&mut conn)
        })
        .await?;
        Ok(done?)
    }
}

/// Where a page starts: after (older than) or before (newer than) a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// Rows older than this sequence number, newest first.
    Older(i64),
    /// Rows newer than this sequence number (the page before it).
    Newer(i64),
}

impl Cursor {
    /// The opaque text given to clients.
    pub fn encode(&self) -> String {
        let text = match self {
            Cursor::Older(seq) => format!("o{seq}"),
            Cursor::Newer(seq) => format!("n{seq}"),
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    /// Reads a cursor given back by a client; `None` when it is not one of ours.
    pub fn decode(text: &str) -> Option<Cursor> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (kind, seq) = raw.split_at_checked(1)?;
        let seq: i64 = seq.parse().ok()?;
        match kind {
            "o" => Some(Cursor::Older(seq)),
            "n" => Some(Cursor::Newer(seq)),
            _ => None,
        }
    }
}

/// One page of rows, newest first, with the cursors of the pages around it.
#[derive(Debug)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// The cursor of the next (older) page, if there are older rows.
    pub next: Option<Cursor>,
    /// The cursor of the previous (newer) page, if there are newer rows.
    pub previous: Option<Cursor>,
}

/// Reads a page of `table` rows of `provider` (newest first), each turned into a `T` by `read`
/// from the columns `columns`, with the sequence number as the last column.
pub fn page<T>(
    conn: &Connection,
    table: &str,
    columns: &str,
    provider: &str,
    cursor: Option<Cursor>,
    limit: usize,
    read: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
) -> rusqlite::Result<Page<T>> {
    let (condition, order, bound) = match cursor {
        None => ("1", "DESC", i64::MAX),
        Some(Cursor::Older(seq)) => ("seq < ?2", "DESC", seq),
        Some(Cursor::Newer(seq)) => ("seq > ?2", "ASC", seq),
    };
    let sql = format!(
        "SELECT {columns}, seq FROM {table} WHERE provider = ?1 AND ({condition} OR ?2 IS NULL)
         ORDER BY seq {order} LIMIT ?3"
    );
    let bound = cursor.map(|_| bound);
    let mut stmt = conn.prepare(&sql)?;
    let seq_index = columns.split(',').count();
    let mut rows: Vec<(i64, T)> = stmt
        .query_map(rusqlite::params![provider, bound, limit as i64], |row| {
            Ok((row.get(seq_index)?, read(row)?))
        })?
        .collect::<Result<_, _>>()?;
    if order == "ASC" {
        rows.reverse();
    }
    let exists = |comparison: &str, seq: i64| -> rusqlite::Result<bool> {
        conn.query_row(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {table} WHERE provider = ?1 AND seq {comparison} ?2)"
            ),
            rusqlite::params![provider, seq],
            |row| row.get(0),
        )
    };
    let (next, previous) = match (rows.last(), rows.first()) {
        (Some((oldest, _)), Some((newest, _))) => (
            exists("<", *oldest)?.then_some(Cursor::Older(*oldest)),
            exists(">", *newest)?.then_some(Cursor::Newer(*newest)),
        ),
        _ => (None, None),
    };
    Ok(Page {
        items: rows.into_iter().map(|(_, item)| item).collect(),
        next,
        previous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        for cursor in [Cursor::Older(7), Cursor::Newer(12345)] {
            assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
        assert_eq!(Cursor::decode("bm9wZQ"), None);
        assert_eq!(Cursor::decode("%%%"), None);
        assert_eq!(Cursor::decode(""), None);
    }

    #[test]
    fn pages_walk_forward_and_back() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (seq INTEGER PRIMARY KEY, provider TEXT, name TEXT);
             INSERT INTO t (provider, name) VALUES ('a','1'),('a','2'),('b','x'),('a','3'),('a','4'),('a','5');",
        )
        .unwrap();
        let read = |row: &rusqlite::Row| row.get::<_, String>(0);
        let first = page(&conn, "t", "name", "a", None, 2, read).unwrap();
        assert_eq!(first.items, ["5", "4"]);
        assert_eq!(first.previous, None);
        let second = page(&conn, "t", "name", "a", first.next, 2, read).unwrap();
        assert_eq!(second.items, ["3", "2"]);
        let last = page(&conn, "t", "name", "a", second.next, 2, read).unwrap();
        assert_eq!(last.items, ["1"]);
        assert_eq!(last.next, None);
        let back = page(&conn, "t", "name", "a", last.previous, 2, read).unwrap();
        assert_eq!(back.items, ["3", "2"]);
        let top = page(&conn, "t", "name", "a", back.previous, 2, read).unwrap();
        assert_eq!(top.items, ["5", "4"]);
        assert_eq!(top.previous, None);
    }
}
