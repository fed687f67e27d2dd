//! The storage engine for JavaScript: `SpaceEngine` is the core's
//! [`SpaceStorage`] over a [`JsStore`], so the npm package's `WorkspaceStorage`
//! places, dedups and reads ops, and stores blobs, with the same code as every other
//! host.

use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use sila_store_core::ids::{Day, Sha256Hex, TreeId};
use sila_store_core::ops::wire;
use sila_store_core::storage::{SpaceStorage, StateVector, StorageFormat};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use crate::js_store::JsStore;
use crate::tier_host::WasmHost;
use crate::{js_err, to_js, JsResult};

/// One workspace in a JavaScript store (`list`, `read`, `write`, `remove`, optional
/// `append`, `size`, `readRange`).
#[wasm_bindgen]
pub struct SpaceEngine {
    inner: Rc<SpaceStorage<JsStore>>,
}

fn day_of(s: Option<String>) -> JsResult<Option<Day>> {
    s.as_deref().map(Day::parse).transpose().map_err(js_err)
}

#[wasm_bindgen]
impl SpaceEngine {
    /// The engine over `store`.
    #[wasm_bindgen(constructor)]
    pub fn new(store: JsValue) -> JsResult<SpaceEngine> {
        let store = JsStore::new(store).map_err(|e| js_err(e.into()))?;
        Ok(SpaceEngine {
            inner: Rc::new(SpaceStorage::with_host(store, WasmHost)),
        })
    }

    /// Stores the ops of `treeId` (`opsJson`: `JSON.stringify` of an array of
    /// RepTree ops) not stored yet, on any day, in the day folder `day`
    /// (`YYYY-MM-DD`); transient ops are skipped. Resolves to the lines written
    /// (`{day, peer, fileKind, line}`).
    #[wasm_bindgen(js_name = putOperations)]
    pub fn put_operations(&self, tree_id: String, ops_json: String, day: String) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let tree = TreeId::new(&tree_id).map_err(js_err)?;
            let day = Day::parse(&day).map_err(js_err)?;
            let ops = wire::from_json(&ops_json)
                .and_then(|o| wire::ops_to_store(&o))
                .map_err(js_err)?;
            let written = inner
                .put_operations(&tree, &ops, day)
                .await
                .map_err(js_err)?;
            to_js(&written)
        })
    }

    /// The lines of `treeId` stored in day folders `from..=to` (optional), in
    /// `getOperations` order.
    #[wasm_bindgen(js_name = getOperations)]
    pub fn get_operations(
        &self,
        tree_id: String,
        from: Option<String>,
        to: Option<String>,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let tree = TreeId::new(&tree_id).map_err(js_err)?;
            let ops = inner
                .get_operations(&tree, day_of(from)?, day_of(to)?)
                .await
                .map_err(js_err)?;
            to_js(&ops)
        })
    }

    /// Stores a CAS blob; resolves to its SHA-256.
    #[wasm_bindgen(js_name = putFile)]
    pub fn put_file(&self, bytes: Vec<u8>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let h = inner.put_file(bytes).await.map_err(js_err)?;
            Ok(h.as_str().into())
        })
    }

    /// The bytes of a CAS blob, checked against its hash.
    #[wasm_bindgen(js_name = getFile)]
    pub fn get_file(&self, hash: String) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let h = Sha256Hex::new(&hash).map_err(js_err)?;
            let bytes = inner.get_file(&h).await.map_err(js_err)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// The seed's `syncWorkspace` for one tree: stores the client's ops (`opsJson`, an
    /// array of wire ops) the workspace lacks in the day folder `day`, and resolves to
    /// the ops the client lacks (not sent, not covered by `stateJson`,
    /// `{peerId: [[start, end], …]}`) as a JSON array whose values are the stored text.
    #[wasm_bindgen(js_name = syncWorkspace)]
    pub fn sync_workspace(
        &self,
        tree_id: String,
        ops_json: String,
        state_json: Option<String>,
        day: String,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let tree = TreeId::new(&tree_id).map_err(js_err)?;
            let day = Day::parse(&day).map_err(js_err)?;
            let ops = wire::from_json(&ops_json).map_err(js_err)?;
            let state: Option<StateVector> = state_json
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| {
                    js_err(sila_store_core::Error::InvalidArgument(format!(
                        "state vector: {e}"
                    )))
                })?;
            let missing = inner
                .sync_tree(&tree, &ops, state.as_ref(), day)
                .await
                .map_err(js_err)?;
            Ok(wire::to_json(&missing).map_err(js_err)?.into())
        })
    }

    /// `"sqlite"` (archived in place), `"plain"` or `"empty"`.
    pub fn format(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            Ok(match inner.format().await.map_err(js_err)? {
                Some(StorageFormat::Sqlite) => "sqlite",
                Some(StorageFormat::PlainFiles) => "plain",
                None => "empty",
            }
            .into())
        })
    }

    /// Archives the workspace in place (crash-safe: a rerun finishes the job), calling
    /// `onProgress({phase, done, total})`; resolves to `{action, files, bytes}`.
    pub fn archive(&self, on_progress: Option<js_sys::Function>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut progress = crate::progress_fn(&on_progress);
            to_js(&inner.archive(&mut progress).await.map_err(js_err)?)
        })
    }

    /// Writes the workspace (plain files) as an archive `to` (`"sqlite"` or `"zip"`)
    /// into `file` (a `FileSystemSyncAccessHandle`, a `NodeFile`; it must be empty), a
    /// file at a time, then reads it back. `isCancelled()` is asked before each file.
    /// Resolves to `{files, bytes}`.
    #[wasm_bindgen(js_name = exportTo)]
    pub fn export_to(
        &self,
        file: JsValue,
        to: String,
        on_progress: Option<js_sys::Function>,
        is_cancelled: Option<js_sys::Function>,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let file = crate::files::file_of(file)?;
            let listing = crate::files::with_work(&on_progress, &is_cancelled, async |work| {
                inner.export_to(file, &to, work).await
            })
            .await
            .map_err(js_err)?;
            crate::files::summary(&listing)
        })
    }

    /// Writes the workspace of the archive in `file` (SQLite or ZIP) into the store
    /// as plain files, a file at a time, and reads them back. Nothing in the store is
    /// replaced (it must be empty, or hold what an interrupted import of this archive
    /// wrote); on failure or cancel, what this call wrote is removed. Resolves to
    /// `{files, bytes}`.
    #[wasm_bindgen(js_name = importFrom)]
    pub fn import_from(
        &self,
        file: JsValue,
        on_progress: Option<js_sys::Function>,
        is_cancelled: Option<js_sys::Function>,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let file = crate::files::file_of(file)?;
            let listing = crate::files::with_work(&on_progress, &is_cancelled, async |work| {
                inner.import_from(file, work).await
            })
            .await
            .map_err(js_err)?;
            crate::files::summary(&listing)
        })
    }

    /// Unarchives the workspace (crash-safe: a rerun finishes the job); resolves to
    /// `{action, files, bytes}`.
    pub fn unarchive(&self, on_progress: Option<js_sys::Function>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut progress = crate::progress_fn(&on_progress);
            to_js(&inner.unarchive(&mut progress).await.map_err(js_err)?)
        })
    }
}

/// `JSON.stringify(JSON.parse(text))` by this host's own JSON: the oracle of the
/// conformance suite's value check.
fn js_oracle(texts: &[String]) -> Option<Vec<Option<String>>> {
    Some(
        texts
            .iter()
            .map(|t| {
                let v = js_sys::JSON::parse(t).ok()?;
                js_sys::JSON::stringify(&v).ok().map(String::from)
            })
            .collect(),
    )
}

/// Runs the storage engine's conformance suite (the checks every backend passes:
/// placement, dedup across days, the newline rule, day ranges, blobs, refused
/// batches, 300 tricky values, the store contract) on a store implementation.
/// `makeStore()` gives a fresh, empty store (or a promise of one) for each check.
/// With `tiers`, also the tier checks (archive and unarchive, a crash at every store
/// call and a rerun, two writers and an archiver, sync with state vectors).
/// Resolves to `{passed: string[], failed: {check, message}[]}`.
/// `only` (check names) runs just those checks of the store suite (and no tier checks).
#[wasm_bindgen(js_name = checkStore)]
pub fn check_store(
    make_store: js_sys::Function,
    with_tiers: bool,
    only: Option<Vec<String>>,
) -> Promise {
    future_to_promise(async move {
        let make = || {
            let make_store = make_store.clone();
            async move {
                let v = make_store
                    .call0(&JsValue::NULL)
                    .map_err(|e| format!("{e:?}"))?;
                let v = match v.dyn_into::<Promise>() {
                    Ok(p) => wasm_bindgen_futures::JsFuture::from(p)
                        .await
                        .map_err(|e| format!("{e:?}"))?,
                    Err(v) => v,
                };
                JsStore::new(v).map_err(|e| e.to_string())
            }
        };
        let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|n| n == name));
        let mut results = sila_store_conformance::run_only(&make, js_oracle, &wanted).await;
        if with_tiers && only.is_none() {
            let tiers =
                sila_store_conformance::run_tiers(&make, crate::tier_host::WasmHost, js_oracle)
                    .await;
            results.extend(tiers);
        }
        let passed = js_sys::Array::new();
        let failed = js_sys::Array::new();
        for (check, r) in results {
            match r {
                Ok(()) => {
                    passed.push(&check.into());
                }
                Err(message) => {
                    let o = js_sys::Object::new();
                    js_sys::Reflect::set(&o, &"check".into(), &check.into())?;
                    js_sys::Reflect::set(&o, &"message".into(), &message.into())?;
                    failed.push(&o);
                }
            }
        }
        let out = js_sys::Object::new();
        js_sys::Reflect::set(&out, &"passed".into(), &passed)?;
        js_sys::Reflect::set(&out, &"failed".into(), &failed)?;
        Ok(out.into())
    })
}
