//! [`JsStore`]: the one [`WorkspaceStore`] of the browser and Node, over a JavaScript
//! object's async methods. Every store of the npm package (`MemoryStore`,
//! `CallbackStore`, `NodeFsStore`, `OpfsStore`, `IndexedDbStore`) is such an object,
//! a thin I/O adapter; what a workspace means is the engine's ([`crate::engine`]).
//!
//! Methods, each returning a value or a promise:
//!
//! | method | required | |
//! |---|---|---|
//! | `list(prefix)` | yes | paths (strings) or `{path, size}`; paths outside `prefix` are filtered out here |
//! | `read(path)` | yes | `Uint8Array`, or `null` when absent |
//! | `write(path, bytes)` | yes | replaces atomically |
//! | `remove(path)` | yes | absent is not an error |
//! | `append(path, bytes)` | no | else read + write (quadratic for one growing file) |
//! | `size(path)` | no | else the length of `read(path)` |
//! | `readRange(path, offset, length)` | no | else a slice of `read(path)` |
//!
//! Versions are the SHA-256 of the content read; preconditions are checked just
//! before the write. JavaScript runs one task at a time, so the check and the write
//! are not interleaved with another call of this page or worker; two tabs on one OPFS
//! folder are not protected from each other (as Sila's own writes are not).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use futures_util::lock::Mutex as AsyncMutex;
use js_sys::{Array, Function, Reflect, Uint8Array};
use sila_store_core::ids::Sha256Hex;
use sila_store_core::store::{
    byte_range, check_path, ObjectInfo, Precondition, StoreError, StoreResult, Version,
    WorkspaceStore,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A store over a JavaScript object's methods.
pub struct JsStore {
    obj: JsValue,
}

impl JsStore {
    /// Wraps `obj`; fails unless it has `list`, `read`, `write` and `remove`.
    pub fn new(obj: JsValue) -> StoreResult<Self> {
        for m in ["list", "read", "write", "remove"] {
            if method(&obj, m).is_none() {
                return Err(StoreError::backend(
                    "open",
                    "",
                    format!("the store has no {m}() method"),
                ));
            }
        }
        Ok(JsStore { obj })
    }

    async fn call(&self, op: &'static str, path: &str, args: &[JsValue]) -> StoreResult<JsValue> {
        let f = method(&self.obj, op)
            .ok_or_else(|| StoreError::backend(op, path, format!("no {op}() method")))?;
        let list = args.iter().collect::<Array>();
        let out = f
            .apply(&self.obj, &list)
            .map_err(|e| js_error(op, path, e))?;
        let out = match out.dyn_into::<js_sys::Promise>() {
            Ok(p) => JsFuture::from(p).await.map_err(|e| js_error(op, path, e))?,
            Err(v) => v,
        };
        Ok(out)
    }

    async fn read_whole(&self, path: &str) -> StoreResult<Option<Vec<u8>>> {
        let v = self.call("read", path, &[path.into()]).await?;
        if v.is_null() || v.is_undefined() {
            return Ok(None);
        }
        let bytes = v
            .dyn_into::<Uint8Array>()
            .map_err(|_| StoreError::backend("read", path, "read() did not give a Uint8Array"))?;
        Ok(Some(bytes.to_vec()))
    }
}

fn method(obj: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(obj, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
}

/// A JavaScript exception as a store error (`NotFound` when its `code` says so).
fn js_error(op: &'static str, path: &str, e: JsValue) -> StoreError {
    let code = Reflect::get(&e, &"code".into())
        .ok()
        .and_then(|c| c.as_string())
        .unwrap_or_default();
    if code == "ENOENT" || code == "NotFound" || code == "NotFoundError" {
        return StoreError::NotFound(path.to_string());
    }
    let msg = js_sys::Error::from(e).message();
    StoreError::backend(op, path, String::from(msg))
}

fn version(bytes: &[u8]) -> Version {
    Version(Sha256Hex::of(bytes).as_str().to_string())
}

#[async_trait::async_trait(?Send)]
impl WorkspaceStore for JsStore {
    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectInfo>> {
        check_path(prefix)?;
        let v = self.call("list", prefix, &[prefix.into()]).await?;
        let arr = v
            .dyn_into::<Array>()
            .map_err(|_| StoreError::backend("list", prefix, "list() did not give an array"))?;
        let mut out = Vec::new();
        for item in arr.iter() {
            let (path, size, modified_ms) = match item.as_string() {
                Some(p) => (p, None, None),
                None => {
                    let p = Reflect::get(&item, &"path".into())
                        .ok()
                        .and_then(|p| p.as_string())
                        .ok_or_else(|| {
                            StoreError::backend("list", prefix, "an item without a path")
                        })?;
                    let size = Reflect::get(&item, &"size".into())
                        .ok()
                        .and_then(|s| s.as_f64())
                        .map(|s| s as u64);
                    let modified = Reflect::get(&item, &"modified".into())
                        .ok()
                        .and_then(|s| s.as_f64())
                        .map(|s| s as u64);
                    (p, size, modified)
                }
            };
            if path.starts_with(prefix) {
                out.push(ObjectInfo {
                    path,
                    size,
                    modified_ms,
                });
            }
        }
        Ok(out)
    }

    async fn read(&self, path: &str) -> StoreResult<Option<(Vec<u8>, Version)>> {
        check_path(path)?;
        // Not while this instance writes the path (OPFS refuses to read a file that a
        // write holds).
        let lock = path_lock(path);
        let _guard = lock.lock().await;
        Ok(self.read_whole(path).await?.map(|b| {
            let v = version(&b);
            (b, v)
        }))
    }

    async fn read_range(&self, path: &str, offset: u64, len: u64) -> StoreResult<Vec<u8>> {
        check_path(path)?;
        let lock = path_lock(path);
        let _guard = lock.lock().await;
        if method(&self.obj, "readRange").is_some() {
            let v = self
                .call(
                    "readRange",
                    path,
                    &[path.into(), (offset as f64).into(), (len as f64).into()],
                )
                .await?;
            return v.dyn_into::<Uint8Array>().map(|b| b.to_vec()).map_err(|_| {
                StoreError::backend("readRange", path, "readRange() did not give a Uint8Array")
            });
        }
        let b = self
            .read_whole(path)
            .await?
            .ok_or_else(|| StoreError::NotFound(path.to_string()))?;
        Ok(byte_range(&b, offset, len).to_vec())
    }

    async fn size(&self, path: &str) -> StoreResult<Option<u64>> {
        check_path(path)?;
        let lock = path_lock(path);
        let _guard = lock.lock().await;
        if method(&self.obj, "size").is_some() {
            let v = self.call("size", path, &[path.into()]).await?;
            return Ok(v.as_f64().map(|s| s as u64));
        }
        Ok(self.read_whole(path).await?.map(|b| b.len() as u64))
    }

    async fn write(
        &self,
        path: &str,
        bytes: Vec<u8>,
        condition: Precondition,
    ) -> StoreResult<Version> {
        check_path(path)?;
        // The check and the write are two JS calls: no other write to the path may
        // come between them (see `path_lock`).
        let lock = path_lock(path);
        let _guard = lock.lock().await;
        let ok = match &condition {
            Precondition::None => true,
            // A store that tells sizes answers without handing the bytes over.
            Precondition::IfAbsent if method(&self.obj, "size").is_some() => self
                .call("size", path, &[path.into()])
                .await?
                .as_f64()
                .is_none(),
            Precondition::IfAbsent => self.read_whole(path).await?.is_none(),
            Precondition::IfVersion(want) => {
                self.read_whole(path).await?.map(|b| version(&b)).as_ref() == Some(want)
            }
        };
        if !ok {
            return Err(StoreError::PreconditionFailed(path.to_string()));
        }
        let v = version(&bytes);
        let arr = Uint8Array::from(bytes.as_slice());
        self.call("write", path, &[path.into(), arr.into()]).await?;
        Ok(v)
    }

    async fn append(&self, path: &str, bytes: &[u8]) -> StoreResult<()> {
        check_path(path)?;
        let lock = path_lock(path);
        let _guard = lock.lock().await;
        if method(&self.obj, "append").is_some() {
            let arr = Uint8Array::from(bytes);
            self.call("append", path, &[path.into(), arr.into()])
                .await?;
            return Ok(());
        }
        let mut current = self.read_whole(path).await?.unwrap_or_default();
        current.extend_from_slice(bytes);
        let arr = Uint8Array::from(current.as_slice());
        self.call("write", path, &[path.into(), arr.into()]).await?;
        Ok(())
    }

    async fn delete_many(&self, paths: &[String]) -> StoreResult<()> {
        for p in paths {
            check_path(p)?;
            let lock = path_lock(p);
            let _guard = lock.lock().await;
            self.call("remove", p, &[p.as_str().into()]).await?;
        }
        Ok(())
    }
}

/// The lock of one path for this wasm instance (reads, writes, appends and removals
/// of a path take turns). A JS store has no conditional write:
/// the engine's if-absent / if-version writes (and appends without an `append`
/// callback) read, compare and write in separate calls, and other tasks of this
/// (single-threaded) instance run at each await between them. Writes to one path take
/// turns under this lock, so two writers of one process never both win. Between
/// processes (two tabs on one OPFS folder), nothing here protects: use one writer.
fn path_lock(path: &str) -> Rc<AsyncMutex<()>> {
    thread_local! {
        static LOCKS: RefCell<HashMap<String, Rc<AsyncMutex<()>>>> = RefCell::new(HashMap::new());
    }
    LOCKS.with(|locks| {
        let mut map = locks.borrow_mut();
        if map.len() > 10_000 {
            map.retain(|_, l| Rc::strong_count(l) > 1);
        }
        Rc::clone(map.entry(path.to_string()).or_default())
    })
}
