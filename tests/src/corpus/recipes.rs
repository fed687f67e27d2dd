//! Recipes: cases of the bad-input corpus too big to keep as files (or not storable in
//! git), built at test time from a `*.recipe.json`.

use std::fs;
use std::io::{Cursor, Write};
use std::path::Path;

use sila_store_core::archive::zip::MANIFEST_NAME;
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use super::edits::manifest_json;
use crate::{tiny_sqlite, tiny_workspace, TempDir};

/// Builds the case a recipe (`*.recipe.json`) describes at `to`.
pub fn build_recipe(r: &serde_json::Value, to: &Path) {
    let num = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("recipe needs {k}"));
    match r["build"].as_str().expect("recipe needs build") {
        "plain" => build_plain(r, to),
        "zip-bomb" => fs::write(to, zip_bomb(num("inflated"), num("declared"))).expect("write"),
        "zip-manifest-bomb" => fs::write(to, zip_manifest_bomb(num("inflated"))).expect("write"),
        "sqlite-chunk-bomb" => fs::write(to, sqlite_chunk_bomb(num("inflated"))).expect("write"),
        other => super::hostile::build(other, r, to),
    }
}

/// A folder: the tiny workspace (unless `"base": "none"`), then `files` (text),
/// `hex_files` (bytes), `big_files` (path → parts, each `text` or `hex` repeated
/// `times`), `dirs` (empty folders), `symlinks` (path → target) and `raw_names` (a
/// file whose name is the given bytes, in hex, under `dir`).
pub fn build_plain(r: &serde_json::Value, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    if r["base"].as_str() != Some("none") {
        for (p, b) in &tiny_workspace().files {
            write_at(to, p, b);
        }
    }
    let obj = |k: &str| r[k].as_object().cloned().unwrap_or_default();
    for (p, v) in obj("files") {
        write_at(to, &p, v.as_str().expect("text").as_bytes());
    }
    for (p, v) in obj("hex_files") {
        write_at(to, &p, &unhex(v.as_str().expect("hex")));
    }
    for (p, v) in obj("big_files") {
        let mut b = Vec::new();
        for part in v.as_array().expect("parts") {
            let unit = match (part["text"].as_str(), part["hex"].as_str()) {
                (Some(t), _) => t.as_bytes().to_vec(),
                (None, Some(h)) => unhex(h),
                _ => panic!("a part needs text or hex"),
            };
            // `repeat` copies by doubling: a 200 MB part is built in a few copies, not
            // 200 million pushes of an unoptimised test build.
            let times = usize::try_from(part["times"].as_u64().unwrap_or(1)).expect("times");
            b.extend_from_slice(&unit.repeat(times));
        }
        write_at(to, &p, &b);
    }
    for d in r["dirs"].as_array().cloned().unwrap_or_default() {
        fs::create_dir_all(to.join(d.as_str().expect("dir"))).expect("mkdir");
    }
    for (p, target) in obj("symlinks") {
        let at = to.join(&p);
        fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
        #[cfg(unix)]
        std::os::unix::fs::symlink(target.as_str().expect("target"), &at).expect("symlink");
    }
    for v in r["raw_names"].as_array().cloned().unwrap_or_default() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let dir = to.join(v["dir"].as_str().expect("dir"));
            fs::create_dir_all(&dir).expect("mkdir");
            let name = unhex(v["name_hex"].as_str().expect("name_hex"));
            fs::write(dir.join(std::ffi::OsStr::from_bytes(&name)), b"x").expect("write");
        }
    }
}

/// Writes `bytes` at `root/rel`, creating folders.
pub fn write_at(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, bytes).expect("write");
}

/// Bytes of a hex string.
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Writes `n` zero bytes into the ZIP entry being written, 1 MiB at a time.
pub fn write_zeros(w: &mut zip::ZipWriter<Cursor<Vec<u8>>>, n: u64) {
    let zeros = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len() as u64) as usize;
        w.write_all(&zeros[..k]).expect("write");
        left -= k as u64;
    }
}

/// `inflated` zero bytes deflated as `sila.md`, with the local header, the central
/// directory and the manifest all declaring `declared` bytes.
pub fn zip_bomb(inflated: u64, declared: u64) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(false);
    w.start_file("sila.md", opts).expect("start");
    write_zeros(&mut w, inflated);
    let declared_bytes = vec![0u8; declared as usize];
    let manifest = manifest_json(&[("sila.md".into(), declared_bytes.clone())], 1);
    w.start_file(MANIFEST_NAME, SimpleFileOptions::default())
        .expect("start");
    w.write_all(&manifest).expect("write");
    let mut z = w.finish().expect("finish").into_inner();
    let real = u32::try_from(inflated)
        .expect("fits in a ZIP32 header")
        .to_le_bytes();
    let fake = u32::try_from(declared).expect("small").to_le_bytes();
    // The entry's uncompressed size: local header at 22, central directory header at 24.
    assert_eq!(z[22..26], real);
    z[22..26].copy_from_slice(&fake);
    let cd = find(&z, b"PK\x01\x02").expect("central directory");
    assert_eq!(z[cd + 24..cd + 28], real);
    z[cd + 24..cd + 28].copy_from_slice(&fake);
    z
}

/// A ZIP whose only entry is a manifest of `inflated` spaces (valid JSON whitespace),
/// deflated: the reader must stop at its size limit.
pub fn zip_manifest_bomb(inflated: u64) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file(MANIFEST_NAME, SimpleFileOptions::default().large_file(true))
        .expect("start");
    let spaces = vec![b' '; 1 << 20];
    let mut left = inflated;
    while left > 0 {
        let n = left.min(spaces.len() as u64) as usize;
        w.write_all(&spaces[..n]).expect("write");
        left -= n as u64;
    }
    w.finish().expect("finish").into_inner()
}

/// The tiny SQLite archive with `sila.md`'s one chunk replaced by a deflated run of
/// `inflated` zero bytes (its size in `raw_files` unchanged).
pub fn sqlite_chunk_bomb(inflated: u64) -> Vec<u8> {
    let t = TempDir::new();
    let p = t.join("bomb.db");
    fs::write(&p, tiny_sqlite()).expect("write");
    let data = deflated_zeros(inflated);
    let c = rusqlite::Connection::open(&p).expect("open");
    let n = c
        .execute(
            "UPDATE file_chunks SET deflated = 1, data = ?1 WHERE path = 'sila.md' AND seq = 0",
            [data],
        )
        .expect("update");
    assert_eq!(n, 1);
    drop(c);
    fs::read(&p).expect("read")
}

/// `n` zero bytes, raw-deflated (the compressed data of a deflated ZIP entry).
pub fn deflated_zeros(n: u64) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    w.start_file("zeros", opts).expect("start");
    write_zeros(&mut w, n);
    let z = w.finish().expect("finish").into_inner();
    let mut a = zip::ZipArchive::new(Cursor::new(z)).expect("open");
    let mut f = a.by_index_raw(0).expect("entry");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut out).expect("read");
    out
}

/// Where `needle` first occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
