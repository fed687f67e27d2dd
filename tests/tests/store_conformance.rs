//! The storage engine's conformance suite (`tests/conformance`), one line per
//! backend. The wasm stores enter the same checks from
//! `bindings-wasm/tests/store_conformance.rs`.

use std::sync::atomic::{AtomicU64, Ordering};

use sila_store_conformance::store_conformance;
use sila_store_core::store::MemoryStore;
use sila_store_native::fs_store::FsStore;
use sila_store_native::object_store_store::ObjectWorkspaceStore;
use sila_store_native::tiers::{NativeHost, TierStore};
use sila_store_tests::tricky_json::{node_available, node_stringify};
use sila_store_tests::TempDir;

/// Node's `JSON.stringify(JSON.parse(text))`, when node runs here.
fn node_oracle(texts: &[String]) -> Option<Vec<Option<String>>> {
    if !node_available() {
        assert!(
            std::env::var_os("SILA_STORE_REQUIRE_ORACLE").is_none(),
            "node is required"
        );
        return None;
    }
    Some(node_stringify(texts))
}

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

fn s3_or_memory() -> (ObjectWorkspaceStore, ()) {
    match std::env::var("SILA_STORE_S3") {
        Ok(url) => object_store(url),
        Err(_) => {
            assert!(
                std::env::var_os("SILA_STORE_REQUIRE_S3").is_none(),
                "SILA_STORE_S3 is required"
            );
            eprintln!("no S3 server (SILA_STORE_S3): the checks run on memory:// instead");
            object_store("memory://s3-missing".into())
        }
    }
}

store_conformance!(
    #[tokio::test]
    memory,
    || (MemoryStore::new(), ()),
    node_oracle,
    tiers: NativeHost
);
store_conformance!(
    #[tokio::test]
    filesystem,
    || {
        let dir = TempDir::new();
        (FsStore::new(dir.join("ws")), dir)
    },
    node_oracle,
    tiers: NativeHost
);
store_conformance!(
    #[tokio::test]
    object_store_memory,
    || object_store("memory://m".into()),
    node_oracle,
    tiers: NativeHost
);
store_conformance!(
    #[tokio::test]
    object_store_file,
    || {
        let dir = TempDir::new();
        let (s, ()) = object_store(format!("file://{}", dir.join("store").display()));
        (s, dir)
    },
    node_oracle,
    tiers: NativeHost
);
store_conformance!(
    #[tokio::test]
    object_store_s3,
    s3_or_memory,
    node_oracle,
    tiers: NativeHost
);
