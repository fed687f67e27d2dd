//! Every archive of the bad-input corpus (`tests/bad-inputs/`) imported into a store
//! through the engine (`SpaceStorage::import_from`, what the npm package's
//! `importFrom` runs on a file): a hostile archive fails with the code `convert` fails
//! with and leaves the store empty; a hostile but valid one imports whole.

use std::fs::File;

use sila_store_core::storage::{SpaceStorage, Work};
use sila_store_core::store::{MemoryStore, WorkspaceStore};
use sila_store_tests::corpus::run::{cases, materialise};
use sila_store_tests::TempDir;

#[test]
fn every_bad_archive_is_refused_by_an_import_and_leaves_the_store_empty() {
    let tmp = TempDir::new();
    let mut failures = Vec::new();
    let mut archives = 0;
    for case in cases() {
        let (path, _) = materialise(&case, tmp.path());
        if !path.is_file() {
            continue; // a plain folder: no archive file to import
        }
        archives += 1;
        let store = MemoryStore::new();
        let engine = SpaceStorage::new(&store);
        let r = futures::executor::block_on(async {
            let file = Box::new(File::open(&path).expect("open case"));
            engine
                .import_from(
                    file,
                    Work {
                        progress: &mut |_| {},
                        cancelled: &|| false,
                    },
                )
                .await
        });
        let left = futures::executor::block_on(store.list(""))
            .expect("list")
            .len();
        match (&r, case.convert.as_str()) {
            (Ok(_), "ok") => {}
            (Err(e), want) if e.code() == want && left == 0 => {}
            _ => failures.push(format!(
                "{}: {:?} (expected {}), {left} files left",
                case.file,
                r.as_ref().map(|l| l.len()).map_err(|e| e.to_string()),
                case.convert
            )),
        }
    }
    assert!(archives >= 40, "only {archives} archive cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
