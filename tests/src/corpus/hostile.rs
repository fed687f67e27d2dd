//! Recipes of hostile archives (issue 14): SQLite archives whose rows, schema or
//! journal were changed after writing, ZIP archives whose entries overlap or lie about
//! their size, and either holding a path that is both a file and a folder.
//!
//! | `build`               | what it makes                                                   |
//! |-----------------------|-----------------------------------------------------------------|
//! | `sqlite-sql`          | the tiny SQLite archive changed by `sql` (may edit the schema); |
//! |                       | `format`: its format version (1 unless given)                   |
//! | `sqlite-block-bomb`   | the tiny archive of format 2 with its first ops block replaced  |
//! |                       | by `inflated` deflated zeros (its declared size unchanged)      |
//! | `sqlite-extra-chunks` | `chunks` more chunks of `inflated` zeros (deflated) for `path`  |
//! | `sqlite-utf16`        | the tiny workspace written by this build into a UTF-16 database |
//! | `sqlite-wal`          | the tiny archive in WAL mode; `leftover`: `wal` keeps a `-wal`  |
//! |                       | file of committed changes beside it, `journal` a hot `-journal` |
//! | `zip-plus`            | the tiny ZIP plus `files` (path → text), all in the manifest    |
//! | `zip-overlap`         | the tiny ZIP plus `copies` + 1 entries that share one local     |
//! |                       | entry of `size` zeros (Fifield's "better zip bomb")             |
//! | `zip-cd-overlap`      | `sila.md`'s compressed size grown in the central directory, so  |
//! |                       | its data runs into the next entry                               |
//! | `zip-impossible-size` | an entry of 1000 deflated zeros declaring `declared` bytes      |

use std::fs;
use std::io::{Cursor, Write};
use std::path::Path;

use sila_store_core::archive::zip::{Manifest, ManifestFile, MANIFEST_NAME};
use sila_store_core::ids::Sha256Hex;
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use super::edits::{manifest_json, tiny_files, tiny_sqlite_in_with, tiny_zip_plus, Kind};
use super::recipes::{deflated_zeros, find, write_zeros};
use crate::{tiny_sqlite, TempDir};

/// Builds recipe `kind` (see the table above) at `to`.
pub fn build(kind: &str, r: &serde_json::Value, to: &Path) {
    let num = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("recipe needs {k}"));
    let text = |k: &str| {
        r[k].as_str()
            .unwrap_or_else(|| panic!("recipe needs {k}"))
            .to_string()
    };
    let bytes = match kind {
        "sqlite-sql" => {
            let version = r["format"].as_i64().unwrap_or(1);
            tiny_sqlite_in_with(version, &text("sql"))
        }
        "sqlite-block-bomb" => sqlite_block_bomb(num("inflated")),
        "sqlite-extra-chunks" => sqlite_extra_chunks(&text("path"), num("chunks"), num("inflated")),
        "sqlite-utf16" => sqlite_utf16(),
        "sqlite-wal" => return sqlite_leftover(r["leftover"].as_str(), to),
        "zip-plus" => {
            let extra: Vec<(String, Vec<u8>, Kind)> = r["files"]
                .as_object()
                .expect("files")
                .iter()
                .map(|(p, v)| (p.clone(), v.as_str().expect("text").into(), Kind::File))
                .collect();
            tiny_zip_plus(&extra, None)
        }
        "zip-overlap" => zip_overlap(num("copies"), num("size")),
        "zip-cd-overlap" => zip_cd_overlap(),
        "zip-impossible-size" => zip_impossible_size(num("declared")),
        other => panic!("unknown recipe {other}"),
    };
    fs::write(to, bytes).expect("write case");
}

/// The tiny SQLite archive of format 2 with its first ops block replaced by `inflated`
/// zero bytes, deflated (its declared size unchanged).
fn sqlite_block_bomb(inflated: u64) -> Vec<u8> {
    let t = TempDir::new();
    let p = t.join("w.db");
    fs::write(&p, crate::tiny_sqlite_v2()).expect("write");
    let c = rusqlite::Connection::open(&p).expect("open");
    let n = c
        .execute(
            "UPDATE op_blocks SET deflated = 1, data = ?1 WHERE id = (SELECT min(id) FROM op_blocks)",
            [deflated_zeros(inflated)],
        )
        .expect("update");
    assert_eq!(n, 1);
    drop(c);
    fs::read(&p).expect("read")
}

/// The tiny SQLite archive with `chunks` more chunks of `path`, each `inflated` zeros
/// deflated, after its real ones (its declared size unchanged).
fn sqlite_extra_chunks(path: &str, chunks: u64, inflated: u64) -> Vec<u8> {
    let t = TempDir::new();
    let p = t.join("w.db");
    fs::write(&p, tiny_sqlite()).expect("write");
    let data = deflated_zeros(inflated);
    let c = rusqlite::Connection::open(&p).expect("open");
    c.execute_batch("BEGIN").expect("begin");
    let first: i64 = c
        .query_row(
            "SELECT max(seq) + 1 FROM file_chunks WHERE path = ?1",
            [path],
            |r| r.get(0),
        )
        .expect("chunks of the path");
    for i in 0..chunks as i64 {
        c.execute(
            "INSERT INTO file_chunks(path, seq, deflated, data) VALUES (?1, ?2, 1, ?3)",
            rusqlite::params![path, first + i, data],
        )
        .expect("insert chunk");
    }
    c.execute_batch("COMMIT").expect("commit");
    drop(c);
    fs::read(&p).expect("read")
}

/// The tiny workspace written by this build into a database whose text is UTF-16.
fn sqlite_utf16() -> Vec<u8> {
    use sila_store_core::archive::sqlite::SqliteSink;
    let t = TempDir::new();
    let p = t.join("utf16.db");
    let conn = rusqlite::Connection::open(&p).expect("create SQLite");
    conn.execute_batch("PRAGMA page_size = 512; PRAGMA encoding = 'UTF-16le'")
        .expect("encoding");
    {
        let mut sink = SqliteSink::new(&conn, "plain").expect("SQLite sink");
        sila_store_core::convert::copy_all(&mut crate::tiny_workspace(), &mut sink, &mut |_| {})
            .expect("write SQLite");
    }
    conn.close().map_err(|(_, e)| e).expect("close SQLite");
    fs::read(&p).expect("read SQLite")
}

/// The tiny archive in WAL mode at `to`, and beside it, for `leftover` `wal`, a `-wal`
/// file holding a committed change not yet checkpointed, or for `journal` (the archive
/// back in rollback mode) the `-journal` of a transaction that never finished.
fn sqlite_leftover(leftover: Option<&str>, to: &Path) {
    let t = TempDir::new();
    let p = t.join("w.db");
    fs::write(&p, tiny_sqlite()).expect("write");
    let side = |suffix: &str| {
        let mut s = p.clone().into_os_string();
        s.push(suffix);
        std::path::PathBuf::from(s)
    };
    let beside_to = |suffix: &str| {
        let mut s = to.to_path_buf().into_os_string();
        s.push(suffix);
        std::path::PathBuf::from(s)
    };
    let c = rusqlite::Connection::open(&p).expect("open");
    match leftover {
        Some("journal") => {
            c.execute_batch(
                "PRAGMA journal_mode = DELETE; BEGIN;
                 INSERT INTO meta(key, value) VALUES ('left', 'over');
                 UPDATE file_chunks SET data = data WHERE 1;",
            )
            .expect("open a transaction");
            fs::copy(&p, to).expect("copy database");
            fs::copy(side("-journal"), beside_to("-journal")).expect("copy journal");
            c.execute_batch("ROLLBACK").expect("rollback");
        }
        Some("wal") => {
            c.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 INSERT INTO meta(key, value) VALUES ('left', 'over');",
            )
            .expect("write into the WAL");
            fs::copy(&p, to).expect("copy database");
            fs::copy(side("-wal"), beside_to("-wal")).expect("copy WAL");
        }
        _ => {
            c.execute_batch("PRAGMA journal_mode = WAL").expect("WAL");
            drop(c);
            fs::copy(&p, to).expect("copy database");
        }
    }
}

/// The tiny ZIP plus `space-v1/bomb/0000`, `size` zeros deflated, and `copies` more
/// central-directory entries (`space-v1/bomb/0001`…) pointing at its local entry; the
/// manifest lists them all with their true size and hash.
fn zip_overlap(copies: u64, size: u64) -> Vec<u8> {
    let name = |i: u64| format!("space-v1/bomb/{i:04}");
    let zeros = Sha256Hex::of(&vec![0u8; size as usize]);
    let listed: Vec<(String, u64, Sha256Hex)> = (0..=copies)
        .map(|i| (name(i), size, zeros.clone()))
        .collect();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for (p, b) in tiny_files() {
        w.start_file(p.as_str(), stored).expect("start");
        w.write_all(&b).expect("write");
    }
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    w.start_file(name(0).as_str(), deflated).expect("start");
    write_zeros(&mut w, size);
    w.start_file(MANIFEST_NAME, stored).expect("start");
    w.write_all(&tiny_manifest_plus(&listed)).expect("write");
    let z = w.finish().expect("finish").into_inner();
    // Clone the central-directory record of entry 0 under the other names.
    let eocd = z.len() - 22;
    let cd = u32::from_le_bytes(z[eocd + 16..eocd + 20].try_into().expect("4 bytes")) as usize;
    let at = cd + find(&z[cd..], name(0).as_bytes()).expect("entry 0 in the directory") - 46;
    let name_len = u16::from_le_bytes([z[at + 28], z[at + 29]]) as usize;
    let extra_len = u16::from_le_bytes([z[at + 30], z[at + 31]]) as usize;
    let comment_len = u16::from_le_bytes([z[at + 32], z[at + 33]]) as usize;
    let record = z[at..at + 46 + name_len + extra_len + comment_len].to_vec();
    let mut out = z[..eocd].to_vec();
    for i in 1..=copies {
        let mut r = record.clone();
        let n = name(i);
        r[46..46 + name_len].copy_from_slice(n.as_bytes());
        out.extend_from_slice(&r);
    }
    let mut end = z[eocd..].to_vec();
    let entries = u16::from_le_bytes([end[10], end[11]]) + copies as u16;
    end[8..10].copy_from_slice(&entries.to_le_bytes());
    end[10..12].copy_from_slice(&entries.to_le_bytes());
    let cd_size = u32::from_le_bytes(end[12..16].try_into().expect("4 bytes"))
        + (record.len() as u64 * copies) as u32;
    end[12..16].copy_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&end);
    out
}

/// The tiny ZIP (stored) with `sila.md`'s compressed size grown by 40 bytes in the
/// central directory: its data then runs over the next local header.
fn zip_cd_overlap() -> Vec<u8> {
    let mut z = tiny_zip_plus(&[], None);
    let eocd = z.len() - 22;
    let cd = u32::from_le_bytes(z[eocd + 16..eocd + 20].try_into().expect("4 bytes")) as usize;
    let at = cd + find(&z[cd..], b"sila.md").expect("sila.md in the directory") - 46;
    let size = u32::from_le_bytes(z[at + 20..at + 24].try_into().expect("4 bytes")) + 40;
    z[at + 20..at + 24].copy_from_slice(&size.to_le_bytes());
    z
}

/// The tiny ZIP plus `space-v1/huge`: 1000 zeros deflated, its local header, central
/// directory record and manifest all declaring `declared` bytes (more than deflate can
/// give from so few).
fn zip_impossible_size(declared: u64) -> Vec<u8> {
    let listed = [(
        "space-v1/huge".to_string(),
        declared,
        Sha256Hex::of(&vec![0u8; declared as usize]),
    )];
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for (p, b) in tiny_files() {
        w.start_file(p.as_str(), stored).expect("start");
        w.write_all(&b).expect("write");
    }
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    w.start_file("space-v1/huge", deflated).expect("start");
    w.write_all(&[0u8; 1000]).expect("write");
    w.start_file(MANIFEST_NAME, stored).expect("start");
    w.write_all(&tiny_manifest_plus(&listed)).expect("write");
    let mut z = w.finish().expect("finish").into_inner();
    let fake = u32::try_from(declared).expect("fits").to_le_bytes();
    let real = 1000u32.to_le_bytes();
    let local = find(&z, b"space-v1/huge").expect("local header") - 30;
    assert_eq!(z[local + 22..local + 26], real);
    z[local + 22..local + 26].copy_from_slice(&fake);
    let eocd = z.len() - 22;
    let cd = u32::from_le_bytes(z[eocd + 16..eocd + 20].try_into().expect("4 bytes")) as usize;
    let at = cd + find(&z[cd..], b"space-v1/huge").expect("in the directory") - 46;
    assert_eq!(z[at + 24..at + 28], real);
    z[at + 24..at + 28].copy_from_slice(&fake);
    z
}

/// The manifest of the tiny workspace's files plus `extra` (path, size, hash).
fn tiny_manifest_plus(extra: &[(String, u64, Sha256Hex)]) -> Vec<u8> {
    let mut m: Manifest =
        serde_json::from_slice(&manifest_json(&tiny_files(), 1)).expect("manifest");
    m.files
        .extend(extra.iter().map(|(path, size, sha)| ManifestFile {
            path: path.clone(),
            size: *size,
            sha256: sha.as_str().to_string(),
        }));
    serde_json::to_vec_pretty(&m).expect("manifest")
}
