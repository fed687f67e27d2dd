//! A store's workspace exported to one archive file and imported from one
//! ([`SpaceStorage::export_to`], [`SpaceStorage::import_from`]): byte for byte both
//! ways in both formats; nothing replaced (a full file, a stranger in the store); a
//! crash at every store call of an import, each followed by a rerun that completes it;
//! a cancelled import leaves nothing.

use std::cell::Cell;
use std::sync::{Arc, Mutex, PoisonError};

use sila_store_core::random_access::RandomAccess;
use sila_store_core::storage::{SpaceStorage, Work};
use sila_store_core::store::{Precondition, WorkspaceStore};
use sila_store_core::Error;

use super::space_archive::{snapshot, write_space_json};
use super::tiers::Faulty;
use super::{day, incompressible, mv, set, tree, Checked, Ctx, Oracle};

/// A file in memory that the check keeps a handle to.
#[derive(Clone, Default)]
struct SharedFile(Arc<Mutex<Vec<u8>>>);

impl SharedFile {
    fn bytes(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl RandomAccess for SharedFile {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .read_at(buf, offset)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_at(buf, offset)
    }
    fn size(&mut self) -> std::io::Result<u64> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).size()
    }
    fn set_size(&mut self, len: u64) -> std::io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set_size(len)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Work that reports nothing and stops when `cancelled` says so.
macro_rules! quiet {
    ($cancelled:expr) => {
        Work {
            progress: &mut |_| {},
            cancelled: &$cancelled,
        }
    };
}

fn file_of(bytes: &[u8]) -> Box<dyn RandomAccess> {
    Box::new(bytes.to_vec())
}

async fn clear<S: WorkspaceStore>(store: &S) -> Checked {
    let all: Vec<String> = store
        .list("")
        .await
        .ctx("list")?
        .into_iter()
        .map(|o| o.path)
        .collect();
    store.delete_many(&all).await.ctx("clear")
}

/// Export to and import from one archive file, in both formats.
pub async fn space_export_import<S: WorkspaceStore>(store: S, _oracle: Oracle) -> Checked {
    let faulty = Faulty::new(store);
    let engine = SpaceStorage::new(&faulty);
    write_space_json(&faulty).await?;
    engine
        .put_operations(&tree(), &[mv(1, "v1", None)], day("2026-03-20"))
        .await
        .ctx("put")?;
    engine
        .put_operations(
            &tree(),
            &[set(2, "v1", "k", "[1,{\"2\":null}]")],
            day("2026-03-21"),
        )
        .await
        .ctx("put")?;
    engine
        .put_file(incompressible(300_000, 7))
        .await
        .ctx("put_file")?;
    let before = snapshot(&faulty).await?;
    let never = || false;
    for to in ["sqlite", "zip"] {
        let file = SharedFile::default();
        let listing = engine
            .export_to(
                Box::new(file.clone()),
                to,
                Work {
                    progress: &mut |_| {},
                    cancelled: &never,
                },
            )
            .await
            .ctx("export")?;
        ensure_eq!(listing.len(), before.len(), "{to}");
        let archive = file.bytes();
        // A file that is not empty is never written.
        let full = SharedFile::default();
        full.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(b"keep me");
        let r = engine
            .export_to(Box::new(full.clone()), to, quiet!(never))
            .await;
        ensure!(
            matches!(r, Err(Error::AlreadyExists(_))),
            "{to}: export into a full file: {r:?}"
        );
        ensure_eq!(full.bytes(), b"keep me".to_vec());
        // Into the store that holds this very workspace: nothing to write, nothing replaced.
        engine
            .import_from(file_of(&archive), quiet!(never))
            .await
            .ctx("import again")?;
        ensure!(
            snapshot(&faulty).await? == before,
            "{to}: after a repeated import"
        );
        // A file of someone else in the store: refused, nothing changed.
        faulty
            .write("notes.txt", b"mine".to_vec(), Precondition::IfAbsent)
            .await
            .ctx("stranger")?;
        let with_stranger = snapshot(&faulty).await?;
        let r = engine.import_from(file_of(&archive), quiet!(never)).await;
        ensure!(
            matches!(r, Err(Error::AlreadyExists(_))),
            "{to}: import beside a stranger: {r:?}"
        );
        ensure!(
            snapshot(&faulty).await? == with_stranger,
            "{to}: the stranger's store"
        );
        clear(&faulty).await?;
        // A crash at each store call of an import, then a rerun: the same bytes.
        let mut n = 1;
        loop {
            faulty.fail_after(n);
            let r = engine.import_from(file_of(&archive), quiet!(never)).await;
            faulty.fail_after(0);
            let done = r.is_ok();
            if !done {
                engine
                    .import_from(file_of(&archive), quiet!(never))
                    .await
                    .ctx(&format!("{to}: rerun after a crash at call {n}"))?;
            }
            ensure!(
                snapshot(&faulty).await? == before,
                "{to}: files after a crash at call {n}"
            );
            clear(&faulty).await?;
            if done {
                break;
            }
            n += 1;
            ensure!(n < 200, "never finished");
        }
        // Cancelled after two files: nothing is left.
        let asked = Cell::new(0);
        let cancel = || {
            asked.set(asked.get() + 1);
            asked.get() > 2
        };
        let r = engine
            .import_from(
                file_of(&archive),
                Work {
                    progress: &mut |_| {},
                    cancelled: &cancel,
                },
            )
            .await;
        ensure!(
            matches!(r, Err(Error::Cancelled(_))),
            "{to}: cancelled: {r:?}"
        );
        ensure!(
            faulty.list("").await.ctx("list")?.is_empty(),
            "{to}: left after a cancel"
        );
        engine
            .import_from(file_of(&archive), quiet!(never))
            .await
            .ctx("import")?;
        ensure!(
            snapshot(&faulty).await? == before,
            "{to}: files after import"
        );
    }
    // An empty store exports nothing.
    clear(&faulty).await?;
    let r = engine
        .export_to(Box::new(Vec::new()), "zip", quiet!(never))
        .await;
    ensure!(
        matches!(r, Err(Error::NotAWorkspace(_))),
        "empty store: {r:?}"
    );
    // A file that is neither archive is refused before anything is written.
    let r = engine
        .import_from(file_of(b"not an archive at all"), quiet!(never))
        .await;
    ensure!(
        matches!(r, Err(Error::NotAWorkspace(_))),
        "not an archive: {r:?}"
    );
    ensure!(
        faulty.list("").await.ctx("list")?.is_empty(),
        "left after a bad file"
    );
    Ok(())
}
