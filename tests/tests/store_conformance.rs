//! The storage engine's conformance suite (`sila_store_tests::conformance`), one line
//! per backend. The wasm stores enter the same checks from `bindings-wasm`.

use std::sync::atomic::{AtomicU64, Ordering};

use sila_store_core::store::MemoryStore;
use sila_store_native::fs_store::FsStore;
use sila_store_native::object_store_store::ObjectWorkspaceStore;
use sila_store_native::tiers::TierStore;
use sila_store_tests::{store_conformance, TempDir};

store_conformance!(memory, || (MemoryStore::new(), ()));
store_conformance!(filesystem, || {
    let dir = TempDir::new();
    (FsStore::new(dir.join("ws")), dir)
});

/// An object store of the tiers (`memory://`, `file://`, or the S3 server the suite
/// starts, `SILA_STORE_S3`), under a prefix of its own per test.
fn object_store(url: String) -> (ObjectWorkspaceStore, ()) {
    static N: AtomicU64 = AtomicU64::new(0);
    let tiers = TierStore::open(&url).expect("store");
    let sub = format!(
        "c{:x}-{}",
        std::process::id() & 0xffff,
        N.fetch_add(1, Ordering::SeqCst)
    );
    (ObjectWorkspaceStore::new(&tiers, &sub), ())
}

store_conformance!(object_store_memory, || super::object_store(
    "memory://m".into()
));
store_conformance!(object_store_file, || {
    let dir = TempDir::new();
    let url = format!("file://{}", dir.join("store").display());
    let (s, ()) = super::object_store(url);
    (s, dir)
});
store_conformance!(object_store_s3, || {
    match std::env::var("SILA_STORE_S3") {
        Ok(url) => super::object_store(url),
        Err(_) => {
            assert!(
                std::env::var_os("SILA_STORE_REQUIRE_S3").is_none(),
                "SILA_STORE_S3 is required"
            );
            eprintln!("no S3 server (SILA_STORE_S3): the checks run on memory:// instead");
            super::object_store("memory://s3-missing".into())
        }
    }
});
