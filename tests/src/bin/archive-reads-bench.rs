//! Reads from a workspace archived in place: a copy of the workspace at SRC goes into
//! a fresh folder, the engine (`SpaceStorage` over `FsStore`) archives it to one
//! SQLite file there, then `get_file` of single blobs and `get_operations` of one tree
//! run against the archive. Each prints the bytes and range reads it took from the
//! store (a counting wrapper), next to the archive's size, which is what every read
//! of an archived workspace cost before range reads (the whole archive fetched into a
//! work area, then extracted).
//!
//! Usage: archive-reads-bench SRC WORK [BLOBS=5]   (WORK must not exist)

use std::path::Path;
use std::time::Instant;

use futures::executor::block_on;
use sila_store_conformance::tiers::Faulty;
use sila_store_core::entries::EntrySource;
use sila_store_core::ids::Sha256Hex;
use sila_store_core::layout::EntryKind;
use sila_store_core::storage::SpaceStorage;
use sila_store_native::fs::PlainSource;
use sila_store_native::fs_store::FsStore;
use sila_store_native::tiers::NativeHost;

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dst = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dst)?;
        } else {
            std::fs::copy(e.path(), dst)?;
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: archive-reads-bench SRC WORK [BLOBS]";
    let src = args.next().ok_or(usage)?;
    let work = args.next().ok_or(usage)?;
    let blobs: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let work = Path::new(&work);
    if work.exists() {
        return Err(format!("{} exists", work.display()).into());
    }
    // The biggest blobs and the tree with the most ops files, from the plain files.
    let entries = PlainSource::open(Path::new(&src))?.entries()?;
    let mut statics: Vec<(u64, Sha256Hex)> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::StaticFile(h) => Some((e.size, h.clone())),
            _ => None,
        })
        .collect();
    statics.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut trees = std::collections::BTreeMap::new();
    for e in &entries {
        if let EntryKind::OpsFile(k) = &e.kind {
            *trees.entry(k.tree.clone()).or_insert(0u64) += 1;
        }
    }
    let (tree, _) = trees
        .iter()
        .max_by_key(|(_, n)| **n)
        .ok_or("no ops files")?;
    let plain_bytes: u64 = entries.iter().map(|e| e.size).sum();
    copy_dir(Path::new(&src), work)?;
    let store = Faulty::new(FsStore::new(work));
    let engine = SpaceStorage::with_host(&store, NativeHost);
    let t0 = Instant::now();
    block_on(engine.archive(&mut |_| {}))?;
    let archive = block_on(engine.archive_size())?.ok_or("no archive")?;
    println!(
        "{{\"figure\":\"archive_in_place\",\"plain_bytes\":{plain_bytes},\"archive_bytes\":{archive},\"files\":{},\"ms\":{}}}",
        entries.len(),
        t0.elapsed().as_millis()
    );
    let report = |what: &str, size: u64, before: (u64, u64), t: Instant| {
        let read = store.bytes_read() - before.0;
        let calls = store.calls() - before.1;
        println!(
            "{{\"figure\":\"archive_read\",\"read\":\"{what}\",\"answer_bytes\":{size},\"bytes_read\":{read},\"store_calls\":{calls},\"archive_bytes\":{archive},\"of_archive\":{:.5},\"ms\":{:.1}}}",
            read as f64 / archive as f64,
            t.elapsed().as_secs_f64() * 1000.0
        );
    };
    for (size, hash) in statics.iter().take(blobs) {
        let before = (store.bytes_read(), store.calls());
        let t = Instant::now();
        let bytes = block_on(engine.get_file(hash))?;
        if bytes.len() as u64 != *size {
            return Err(format!("{hash}: {} bytes, not {size}", bytes.len()).into());
        }
        report("get_file", *size, before, t);
    }
    let before = (store.bytes_read(), store.calls());
    let t = Instant::now();
    let ops = block_on(engine.get_operations(tree, None, None))?;
    let text: u64 = ops.iter().map(|o| o.line.len() as u64 + 1).sum();
    report("get_operations(whole tree)", text, before, t);
    if let Some(day) = ops
        .first()
        .map(|o| sila_store_core::ids::Day::parse(&o.day))
        .transpose()?
    {
        let before = (store.bytes_read(), store.calls());
        let t = Instant::now();
        let one = block_on(engine.get_operations(tree, Some(day), Some(day)))?;
        let text: u64 = one.iter().map(|o| o.line.len() as u64 + 1).sum();
        report("get_operations(one day)", text, before, t);
    }
    Ok(())
}
