//! A store holding one workspace, archived in place ([`SpaceStorage::archive`],
//! [`SpaceStorage::unarchive`]): a crash at every store call of either, each followed
//! by a check that every op and file is still readable and by a rerun that finishes
//! the job; the files come back byte for byte.

use std::collections::BTreeMap;

use sila_store_core::storage::tiers::TierHost;
use sila_store_core::storage::{SpaceStorage, StorageFormat, ARCHIVE_PATH};
use sila_store_core::store::{Precondition, WorkspaceStore};

use super::tiers::{futures_join3, Faulty, Interleaved};
use super::{day, incompressible, lines, mv, set, tree, Checked, Ctx, TREE};

/// Every object of the store, by path.
pub(crate) async fn snapshot<S: WorkspaceStore>(
    store: &S,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut out = BTreeMap::new();
    for o in store.list("").await.ctx("list")? {
        let (b, _) = store.read(&o.path).await.ctx("read")?.ctx(&o.path)?;
        out.insert(o.path, b);
    }
    Ok(out)
}

/// `space-v1/space.json` naming the test tree as the space.
pub(crate) async fn write_space_json<S: WorkspaceStore>(store: &S) -> Checked {
    store
        .write(
            "space-v1/space.json",
            format!("{{\"id\":\"{TREE}\"}}").into_bytes(),
            Precondition::IfAbsent,
        )
        .await
        .ctx("space.json")?;
    Ok(())
}

/// Archive and unarchive in place, with a crash at each of their store calls.
pub async fn space_archive_crash_at_every_call<S: WorkspaceStore, H: TierHost + Clone + 'static>(
    store: S,
    host: H,
) -> Checked {
    let faulty = Faulty::new(store);
    let engine = SpaceStorage::with_host(&faulty, host.clone());
    write_space_json(&faulty).await?;
    for (c, d) in [(1, "2026-03-20"), (2, "2026-03-21")] {
        engine
            .put_operations(&tree(), &[mv(c, &format!("v{c}"), None)], day(d))
            .await
            .ctx("put")?;
    }
    engine
        .put_operations(
            &tree(),
            &[set(3, "v1", "k", "[1,{\"2\":null}]")],
            day("2026-03-21"),
        )
        .await
        .ctx("put")?;
    let blob = incompressible(200_000, 5);
    let hash = engine.put_file(blob.clone()).await.ctx("put_file")?;
    let before = snapshot(&faulty).await?;
    let want = lines(&engine, None, None).await?;
    ensure_eq!(want.len(), 3);
    for archive in [true, false] {
        let mut n = 1;
        loop {
            faulty.fail_after(n);
            let r = if archive {
                engine.archive(&mut |_| {}).await
            } else {
                engine.unarchive(&mut |_| {}).await
            };
            faulty.fail_after(0);
            let done = r.is_ok();
            ensure_eq!(
                lines(&engine, None, None).await?,
                want,
                "ops after a crash at call {n}"
            );
            ensure!(
                engine.get_file(&hash).await.ctx("get_file")? == blob,
                "file after a crash at call {n}"
            );
            if !done {
                let again = if archive {
                    engine.archive(&mut |_| {}).await
                } else {
                    engine.unarchive(&mut |_| {}).await
                };
                again.ctx(&format!("rerun after a crash at call {n}"))?;
            }
            let format = engine.format().await.ctx("format")?;
            if archive {
                ensure_eq!(format, Some(StorageFormat::Sqlite), "after call {n}");
                ensure_eq!(
                    faulty.list("").await.ctx("list")?.len(),
                    1,
                    "only {ARCHIVE_PATH} after call {n}"
                );
                engine.unarchive(&mut |_| {}).await.ctx("reset")?;
            } else {
                ensure_eq!(format, Some(StorageFormat::PlainFiles), "after call {n}");
                ensure!(
                    snapshot(&faulty).await? == before,
                    "files byte for byte after {n}"
                );
                engine.archive(&mut |_| {}).await.ctx("reset")?;
            }
            if done {
                break;
            }
            n += 1;
            ensure!(n < 500, "never finished");
        }
    }
    engine.unarchive(&mut |_| {}).await.ctx("unarchive")?;
    ensure!(
        snapshot(&faulty).await? == before,
        "files byte for byte at the end"
    );
    // A write to an archived workspace unarchives it first.
    engine.archive(&mut |_| {}).await.ctx("archive")?;
    engine
        .put_operations(&tree(), &[mv(9, "v9", None)], day("2026-03-22"))
        .await
        .ctx("put while archived")?;
    ensure_eq!(
        engine.format().await.ctx("format")?,
        Some(StorageFormat::PlainFiles)
    );
    ensure_eq!(lines(&engine, None, None).await?.len(), 4);
    // An archive and writes at once, taking turns at every store call: no op is lost.
    drop(engine);
    let turns = Interleaved(&faulty);
    let engine = SpaceStorage::with_host(&turns, host);
    let writes = async {
        for c in 10..16 {
            engine
                .put_operations(&tree(), &[mv(c, &format!("v{c}"), None)], day("2026-03-22"))
                .await
                .ctx("put during archive")?;
        }
        Ok::<(), String>(())
    };
    let archive = async { engine.archive(&mut |_| {}).await.map(|_| ()) };
    let (w, a, ()) = futures_join3(writes, archive, async {}).await;
    w?;
    match a {
        Ok(()) | Err(sila_store_core::Error::Conflict(_)) => {}
        Err(e) => return Err(format!("archive during writes: {e}")),
    }
    ensure_eq!(
        lines(&engine, None, None).await?.len(),
        10,
        "every op after an archive during writes"
    );
    Ok(())
}

/// Reads from a workspace archived in place fetch only the archive's pages they need:
/// one blob, or one tree's ops of one day, read well under a quarter of the archive;
/// an absent blob is `NotFound` and changes nothing.
pub async fn space_archive_reads_by_range<S: WorkspaceStore, H: TierHost + Clone + 'static>(
    store: S,
    host: H,
) -> Checked {
    let counting = Faulty::new(store);
    let engine = SpaceStorage::with_host(&counting, host);
    write_space_json(&counting).await?;
    for (c, d) in [(1, "2026-03-20"), (2, "2026-03-21"), (3, "2026-03-22")] {
        engine
            .put_operations(&tree(), &[mv(c, &format!("v{c}"), None)], day(d))
            .await
            .ctx("put")?;
    }
    let mut blobs = Vec::new();
    for seed in 0..24 {
        let blob = incompressible(120_000, 100 + seed);
        let hash = engine.put_file(blob.clone()).await.ctx("put_file")?;
        blobs.push((hash, blob));
    }
    let one_day = lines(&engine, Some("2026-03-21"), Some("2026-03-21")).await?;
    ensure_eq!(one_day.len(), 1);
    engine.archive(&mut |_| {}).await.ctx("archive")?;
    let size = engine
        .archive_size()
        .await
        .ctx("archive size")?
        .ctx("an archive")?;
    ensure!(size > 24 * 120_000, "archive of {size} bytes");
    let (hash, blob) = &blobs[13];
    let before = counting.bytes_read();
    ensure!(
        &engine.get_file(hash).await.ctx("get_file")? == blob,
        "the blob from the archive"
    );
    let read = counting.bytes_read() - before;
    ensure!(
        read < size / 4,
        "get_file read {read} of the archive's {size} bytes"
    );
    let before = counting.bytes_read();
    ensure_eq!(
        lines(&engine, Some("2026-03-21"), Some("2026-03-21")).await?,
        one_day
    );
    let read = counting.bytes_read() - before;
    ensure!(
        read < size / 4,
        "get_operations read {read} of the archive's {size} bytes"
    );
    let absent = sila_store_core::ids::Sha256Hex::of(b"absent");
    match engine.get_file(&absent).await {
        Err(sila_store_core::Error::NotFound(_)) => {}
        other => return Err(format!("absent blob: {:?}", other.map(|b| b.len()))),
    }
    ensure_eq!(
        engine.format().await.ctx("format")?,
        Some(StorageFormat::Sqlite),
        "reads leave the workspace archived"
    );
    ensure_eq!(counting.list("").await.ctx("list")?.len(), 1);
    Ok(())
}
