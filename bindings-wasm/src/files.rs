//! Workspaces in files JavaScript opened ([`JsFile`]): converted file to file, and one
//! blob read from a SQLite archive in place, a page at a time, never the whole archive
//! in memory. Every reading function of the package (`info`, `verify`, `show`, `chat`,
//! `getOperations`…) takes such a file too (`Input::File`); the store ⇄ file paths are
//! `SpaceEngine.exportTo` and `importFrom` (`engine.rs`).

use js_sys::Function;
use sila_store_core::archive::file::convert_file as convert_files;
use sila_store_core::archive::sqlite::{FileDb, SqliteSource};
use sila_store_core::entries::Listing;
use sila_store_core::ids::Sha256Hex;
use sila_store_core::storage::Work;
use sila_store_core::Error;
use wasm_bindgen::prelude::*;

use crate::js_file::JsFile;
use crate::{js_err, progress_fn, to_js, JsResult};

/// A JavaScript file handle as a boxed core file.
pub(crate) fn file_of(
    v: JsValue,
) -> JsResult<Box<dyn sila_store_core::random_access::RandomAccess>> {
    Ok(Box::new(JsFile::new(v).map_err(js_err)?))
}

/// `{files, bytes}` of a listing.
pub(crate) fn summary(listing: &Listing) -> JsResult<JsValue> {
    #[derive(serde::Serialize)]
    struct Summary {
        files: u64,
        bytes: u64,
    }
    to_js(&Summary {
        files: listing.len() as u64,
        bytes: listing.values().map(|d| d.size).sum(),
    })
}

/// `isCancelled()` as the core's question (a throwing or missing one: never).
pub(crate) fn cancelled_fn(f: &Option<Function>) -> impl Fn() -> bool + '_ {
    move || {
        f.as_ref()
            .and_then(|f| f.call0(&JsValue::NULL).ok())
            .is_some_and(|v| v.is_truthy())
    }
}

/// Runs `f` with a [`Work`] of the optional JS callbacks.
pub(crate) async fn with_work<T>(
    on_progress: &Option<Function>,
    is_cancelled: &Option<Function>,
    f: impl AsyncFnOnce(Work<'_>) -> T,
) -> T {
    let mut progress = progress_fn(on_progress);
    let cancelled = cancelled_fn(is_cancelled);
    f(Work {
        progress: &mut progress,
        cancelled: &cancelled,
    })
    .await
}

/// Converts the archive in the file `src` (SQLite or ZIP) to `to` (`"sqlite"` or
/// `"zip"`) in the file `dst`, which must be empty; the result is read back and
/// compared with the source. Synchronous: run it in a worker for big files. Resolves
/// to `{files, bytes}`.
#[wasm_bindgen(js_name = convertFile)]
pub fn convert_file(
    src: JsValue,
    dst: JsValue,
    to: &str,
    on_progress: Option<Function>,
) -> JsResult<JsValue> {
    let mut progress = progress_fn(&on_progress);
    let listing = convert_files(file_of(src)?, file_of(dst)?, to, &mut progress).map_err(js_err)?;
    summary(&listing)
}

/// The bytes of the CAS file `hash` from the SQLite archive in the file `src`, reading
/// only its pages and the index above them; checked against the hash.
#[wasm_bindgen(js_name = getFileFromArchive)]
pub fn get_file_from_archive(src: JsValue, hash: &str) -> JsResult<Vec<u8>> {
    let hash = Sha256Hex::new(hash).map_err(js_err)?;
    let db = FileDb::open(file_of(src)?).map_err(js_err)?;
    let r = db
        .conn()
        .and_then(SqliteSource::new)
        .and_then(|mut s| s.static_file(&hash));
    match db.check(r).map_err(js_err)? {
        Some(bytes) => Ok(bytes),
        None => Err(js_err(Error::NotFound(format!(
            "files/static/{}",
            hash.as_str()
        )))),
    }
}
