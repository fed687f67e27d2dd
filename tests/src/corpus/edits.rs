//! Archives changed after writing: the tools the bad-input cases are made with.

use std::fs;
use std::io::{Cursor, Write};

use sila_store_core::archive::zip::{Manifest, ManifestFile, MANIFEST_NAME};
use sila_store_core::ids::Sha256Hex;
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use super::recipes::find;
use crate::{tiny_workspace, TempDir};

/// A manifest of `files` (path, bytes) with format `version`.
pub fn manifest_json(files: &[(String, Vec<u8>)], version: i64) -> Vec<u8> {
    let m = Manifest {
        format: "sila-store-zip".into(),
        version,
        space_id: None,
        writer: "bad-inputs".into(),
        files: files
            .iter()
            .map(|(p, b)| ManifestFile {
                path: p.clone(),
                size: b.len() as u64,
                sha256: Sha256Hex::of(b).as_str().into(),
            })
            .collect(),
    };
    serde_json::to_vec_pretty(&m).expect("manifest")
}

/// How an entry is written.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A symbolic link (the bytes are its target).
    Symlink,
}

/// A ZIP of `entries` (stored) and, if given, a manifest.
pub fn zip_with(entries: &[(String, Vec<u8>, Kind)], manifest: Option<Vec<u8>>) -> Vec<u8> {
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes, kind) in entries {
        match kind {
            Kind::File => {
                w.start_file(name.as_str(), stored).expect("start");
                w.write_all(bytes).expect("write");
            }
            Kind::Symlink => {
                let target = String::from_utf8(bytes.clone()).expect("target");
                w.add_symlink(name.as_str(), target, stored)
                    .expect("symlink");
            }
        }
    }
    if let Some(m) = manifest {
        w.start_file(MANIFEST_NAME, stored).expect("start");
        w.write_all(&m).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

/// The files of [`tiny_workspace`].
pub fn tiny_files() -> Vec<(String, Vec<u8>)> {
    tiny_workspace().files.into_iter().collect()
}

/// The tiny workspace's files plus `extra`, as a ZIP with a manifest listing
/// `listed` (every file, if `None`).
pub fn tiny_zip_plus(
    extra: &[(String, Vec<u8>, Kind)],
    listed: Option<&[(String, Vec<u8>)]>,
) -> Vec<u8> {
    let mut entries: Vec<(String, Vec<u8>, Kind)> = tiny_files()
        .into_iter()
        .map(|(p, b)| (p, b, Kind::File))
        .collect();
    entries.extend_from_slice(extra);
    let all: Vec<(String, Vec<u8>)> = entries
        .iter()
        .map(|(p, b, _)| (p.clone(), b.clone()))
        .collect();
    let manifest = manifest_json(listed.unwrap_or(&all), 1);
    zip_with(&entries, Some(manifest))
}

/// Replaces every occurrence of `from` by `to` (same length): names in the local
/// header and the central directory.
pub fn patch_all(mut bytes: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut n = 0;
    while let Some(i) = find(&bytes, from) {
        bytes[i..i + from.len()].copy_from_slice(to);
        n += 1;
    }
    assert!(n > 0, "nothing to patch");
    bytes
}

/// A copy of the tiny SQLite archive (format 1) changed by `sql`.
pub fn tiny_sqlite_with(sql: &str) -> Vec<u8> {
    tiny_sqlite_in_with(1, sql)
}

/// A copy of the tiny SQLite archive of format `version` changed by `sql`.
pub fn tiny_sqlite_in_with(version: i64, sql: &str) -> Vec<u8> {
    let t = TempDir::new();
    let p = t.join("w.db");
    fs::write(&p, crate::tiny_sqlite_in(version)).expect("write");
    let c = rusqlite::Connection::open(&p).expect("open");
    c.execute_batch(sql).expect("change");
    drop(c);
    fs::read(&p).expect("read")
}

/// Offsets in the tiny ZIP: the first entry's data, the central directory, the end
/// record.
pub fn zip_offsets(z: &[u8]) -> (usize, usize, usize) {
    let name_len = u16::from_le_bytes([z[26], z[27]]) as usize;
    let extra_len = u16::from_le_bytes([z[28], z[29]]) as usize;
    let data = 30 + name_len + extra_len;
    let eocd = z.len() - 22;
    assert_eq!(&z[eocd..eocd + 4], b"PK\x05\x06");
    let cd = u32::from_le_bytes([z[eocd + 16], z[eocd + 17], z[eocd + 18], z[eocd + 19]]) as usize;
    (data, cd, eocd)
}
