//! Opening an archive nobody vouches for: read-only and immutable, with SQLite's limits
//! lowered, a bound on the work of every query, and the schema compared with the one
//! this version writes before any query runs on the tables.

use std::cell::Cell;
use std::path::Path;

use rusqlite::config::DbConfig;
use rusqlite::limits::Limit;
use rusqlite::{Connection, OpenFlags};

use super::{schema_of_version, SqlExt, FORMAT};
use crate::error::{Error, Result};

/// Most bytes of one string, blob or row (`SQLITE_LIMIT_LENGTH`), read or written: an
/// ops line longer than this does not fit in a SQLite archive (writing it fails), and a
/// row claiming more is refused before it is loaded.
pub const MAX_VALUE: i32 = 256 << 20;

/// The limits of a connection to an untrusted archive: room for this version's schema
/// and queries, and no more.
const LIMITS: [(Limit, i32); 11] = [
    (Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE),
    (Limit::SQLITE_LIMIT_SQL_LENGTH, 16 << 10),
    (Limit::SQLITE_LIMIT_COLUMN, 32),
    (Limit::SQLITE_LIMIT_EXPR_DEPTH, 32),
    (Limit::SQLITE_LIMIT_COMPOUND_SELECT, 2),
    (Limit::SQLITE_LIMIT_VDBE_OP, 25_000),
    (Limit::SQLITE_LIMIT_FUNCTION_ARG, 8),
    (Limit::SQLITE_LIMIT_ATTACHED, 0),
    (Limit::SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 64),
    (Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 16),
    (Limit::SQLITE_LIMIT_TRIGGER_DEPTH, 1),
];

/// The progress handler runs every this many virtual machine instructions.
const PROGRESS_PERIOD: i32 = 10_000;
/// Work allowed to one query: a fixed part, plus a part per byte of the file (a query
/// of ours visits each row a bounded number of times, `integrity_check` included, and
/// a row takes at least a few bytes, whatever the page size).
const BASE_WORK: u64 = 50_000_000;
const WORK_PER_BYTE: u64 = 64;

thread_local! {
    /// Progress handler calls since the current query started ([`fresh_query`]).
    static SPENT: Cell<u64> = const { Cell::new(0) };
}

/// Starts the work budget of a new query on this thread.
pub(crate) fn fresh_query() {
    SPENT.with(|s| s.set(0));
}

/// Opens the SQLite archive at `path` as untrusted input: read-only and `immutable=1`
/// (SQLite takes no lock and writes nothing, not even a `-wal` or `-shm` file beside
/// a WAL-mode archive, so reading works in a read-only folder), then [`harden`]ed.
pub fn open_untrusted(path: &Path) -> Result<Connection> {
    check_header(path)?;
    let uri = file_uri(path)?;
    let mut conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .sql()?;
    harden(&mut conn)?;
    Ok(conn)
}

/// Refuses a file that is not empty (an empty one is an empty database) and does not
/// start with a whole SQLite header.
fn check_header(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut head = Vec::with_capacity(100);
    std::fs::File::open(path)
        .and_then(|f| f.take(100).read_to_end(&mut head))
        .map_err(|e| Error::io(path.display().to_string(), e))?;
    check_head(&head)
}

/// Refuses a file whose first bytes (up to 100; none for an empty file) are not a whole
/// SQLite header.
pub(super) fn check_head(head: &[u8]) -> Result<()> {
    if !head.is_empty() && (head.len() < 100 || !head.starts_with(b"SQLite format 3\0")) {
        return Err(Error::NotAnArchive {
            format: FORMAT,
            reason: "the file is not an SQLite database (no whole header)".into(),
        });
    }
    Ok(())
}

/// Lowers the limits of `conn` (string and row length, SQL length, columns, expression
/// depth, VM program size…), turns on SQLite's defensive mode, distrusts the schema
/// (no function with side effects from it), and bounds the work of each query of
/// [`SqliteSource`](super::SqliteSource) by the size of the file: a query that runs
/// longer is interrupted and reported as `Corrupt`. For every connection to an archive
/// that came from elsewhere (a file, an upload), before [`SqliteSource::new`](super::SqliteSource::new).
pub fn harden(conn: &mut Connection) -> Result<()> {
    for (limit, value) in LIMITS {
        conn.set_limit(limit, value).sql()?;
    }
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .sql()?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)
        .sql()?;
    // Page count and size are in the file header: reading them parses no schema.
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .sql()?;
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).sql()?;
    let bytes = u64::try_from(pages.saturating_mul(page_size)).unwrap_or(0);
    let work = BASE_WORK.saturating_add(WORK_PER_BYTE.saturating_mul(bytes));
    let calls = work / PROGRESS_PERIOD as u64;
    fresh_query();
    conn.progress_handler(
        PROGRESS_PERIOD,
        Some(move || {
            SPENT.with(|s| {
                let n = s.get() + 1;
                s.set(n);
                n > calls
            })
        }),
    )
    .sql()?;
    Ok(())
}

/// One object of a schema: type, name, table and SQL text, as in `sqlite_schema`.
type SchemaRow = (String, String, String, Option<String>);

fn schema_of(conn: &Connection) -> Result<Vec<SchemaRow>> {
    fresh_query();
    let mut st = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")
        .sql()?;
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .sql()?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.sql()?);
        if out.len() > 64 {
            break;
        }
    }
    Ok(out)
}

/// Checks that the schema of `conn` is, object for object and character for character,
/// the one of format `version` ([`SCHEMA_V1`](super::SCHEMA_V1),
/// [`SCHEMA_V2`](super::SCHEMA_V2)), and that text is UTF-8: anything else
/// (another table, a view, a trigger, a changed column, a default, an index on an
/// expression) is `Corrupt`, refused before any query touches the tables.
pub(crate) fn check_schema(conn: &Connection, version: i64) -> Result<()> {
    let corrupt = |reason: String| Error::Corrupt {
        format: FORMAT,
        reason,
    };
    let encoding: String = conn.query_row("PRAGMA encoding", [], |r| r.get(0)).sql()?;
    if encoding != "UTF-8" {
        return Err(corrupt(format!("text encoding is {encoding}, not UTF-8")));
    }
    let schema = schema_of_version(version)
        .ok_or_else(|| corrupt(format!("user_version {version} is not a format version")))?;
    let expected = {
        let mem = Connection::open_in_memory().sql()?;
        mem.execute_batch(schema).sql()?;
        schema_of(&mem)?
    };
    let found = schema_of(conn)?;
    if found == expected {
        return Ok(());
    }
    let describe = |r: &SchemaRow| format!("{} {}", r.0, r.1);
    let reason = match found.iter().find(|r| !expected.contains(r)) {
        Some(r) if expected.iter().any(|e| e.0 == r.0 && e.1 == r.1) => {
            format!("{} differs from format {version}'s", describe(r))
        }
        Some(r) => format!("{} is not part of format {version}", describe(r)),
        None => match expected.iter().find(|e| !found.contains(e)) {
            Some(e) => format!("{} is missing", describe(e)),
            None => format!("the schema is not format {version}'s"),
        },
    };
    Err(corrupt(format!("schema: {reason}")))
}

/// `file:` URI of `path`, every byte but unreserved ones and `/` percent-encoded, with
/// `mode=ro&immutable=1`.
fn file_uri(path: &Path) -> Result<String> {
    let abs = std::path::absolute(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(uri_of(abs.as_os_str().as_bytes()))
    }
    #[cfg(not(unix))]
    {
        let text = abs
            .to_str()
            .ok_or_else(|| Error::InvalidArgument(format!("{} is not Unicode", path.display())))?
            .replace('\\', "/");
        Ok(uri_of(text.as_bytes()))
    }
}

fn uri_of(path: &[u8]) -> String {
    let mut uri = String::from("file://");
    if path.first() != Some(&b'/') {
        uri.push('/');
    }
    for &b in path {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    uri
}

#[cfg(test)]
mod tests {
    use super::super::{SqliteSource, APPLICATION_ID, FORMAT_VERSION, SCHEMA_V1, SCHEMA_V2};
    use super::*;

    fn ours_in(version: i64, extra: &str) -> Connection {
        let schema = schema_of_version(version).expect("a version");
        let mut c = Connection::open_in_memory().expect("memory");
        c.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {version};
             {schema} {extra}"
        ))
        .expect("schema");
        harden(&mut c).expect("harden");
        c
    }

    fn ours(extra: &str) -> Connection {
        ours_in(FORMAT_VERSION, extra)
    }

    #[test]
    fn only_our_exact_schema_is_read() {
        assert!(SqliteSource::new(&ours("")).is_ok());
        assert!(SqliteSource::new(&ours_in(1, "")).is_ok());
        for (version, extra) in [
            (2, "CREATE VIEW v AS SELECT 1;"),
            (
                2,
                "CREATE TRIGGER t AFTER INSERT ON meta BEGIN SELECT 1; END;",
            ),
            (2, "CREATE INDEX i ON files(length(hash));"),
            (2, "CREATE TABLE x(y);"),
            (2, "CREATE INDEX i ON op_files(block);"),
            (2, "DROP TABLE spaces;"),
            (2, "DROP TABLE op_blocks;"),
            (1, "DROP INDEX tree_ops_by_clock;"),
            (1, "CREATE VIEW v AS SELECT 1;"),
        ] {
            match SqliteSource::new(&ours_in(version, extra)) {
                Err(Error::Corrupt { reason, .. }) => {
                    assert!(reason.contains("schema"), "{reason}")
                }
                other => panic!("{extra}: {:?}", other.map(|_| ())),
            }
        }
        // Each version's tables under the other's number.
        for (version, schema) in [(1, SCHEMA_V2), (2, SCHEMA_V1)] {
            let mut c = Connection::open_in_memory().expect("memory");
            c.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {version}; {schema}"
            ))
            .expect("schema");
            harden(&mut c).expect("harden");
            assert!(matches!(SqliteSource::new(&c), Err(Error::Corrupt { .. })));
        }
    }

    #[test]
    fn a_query_that_runs_too_long_is_stopped() {
        let c = ours("");
        fresh_query();
        let r: rusqlite::Result<i64> = c.query_row(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n",
            [],
            |r| r.get(0),
        );
        match r.map_err(super::super::sql) {
            Err(Error::Corrupt { reason, .. }) => assert!(reason.contains("work"), "{reason}"),
            other => panic!("{other:?}"),
        }
        // A short statement of ours still runs.
        fresh_query();
        assert!(SqliteSource::new(&c).is_ok());
    }

    #[test]
    fn reading_rows_sorts_nothing() {
        for (c, sql) in [
            (ours_in(1, ""), super::super::source::OPS_ROWS),
            (ours(""), super::super::source::CHUNK_ROW),
            (ours(""), super::super::source::OPS_OF_TREE),
            (ours(""), super::super::blocks::PLACEMENT),
            (ours(""), super::super::blocks::BLOCK_ROW),
        ] {
            let mut st = c
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("plan");
            let nulls = vec![rusqlite::types::Null; st.parameter_count()];
            let plan: Vec<String> = st
                .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
                .expect("plan")
                .collect::<rusqlite::Result<_>>()
                .expect("plan");
            assert!(
                plan.iter()
                    .all(|p| !p.contains("TEMP") && !p.starts_with("SCAN")),
                "{plan:?}"
            );
        }
    }

    #[test]
    fn limits_are_lowered() {
        let c = ours("");
        let long = format!("SELECT '{}'", "x".repeat(20 << 10));
        assert!(c.query_row(&long, [], |r| r.get::<_, String>(0)).is_err());
        let big = format!("SELECT zeroblob({})", MAX_VALUE as i64 + 1);
        assert!(c.query_row(&big, [], |r| r.get::<_, Vec<u8>>(0)).is_err());
    }

    #[test]
    fn uris_escape_every_odd_byte() {
        assert_eq!(
            uri_of(b"/tmp/a b?c#d%e.db"),
            "file:///tmp/a%20b%3Fc%23d%25e.db?mode=ro&immutable=1"
        );
        assert_eq!(uri_of(b"C:/x.db"), "file:///C%3A/x.db?mode=ro&immutable=1");
    }
}
