//! The storage engine's conformance suite (`sila_store_tests::conformance`), one line
//! per backend. The wasm stores enter the same checks from `bindings-wasm`.

use sila_store_core::store::MemoryStore;
use sila_store_native::fs_store::FsStore;
use sila_store_tests::{store_conformance, TempDir};

store_conformance!(memory, || (MemoryStore::new(), ()));
store_conformance!(filesystem, || {
    let dir = TempDir::new();
    (FsStore::new(dir.join("ws")), dir)
});
