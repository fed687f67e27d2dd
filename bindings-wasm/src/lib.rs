//! WebAssembly bindings of sila-store: the codec of the npm package `sila-store`.
//!
//! This crate exports the core's byte-level work to JavaScript: detecting, converting
//! and verifying workspaces held in memory (a SQLite or ZIP archive as a `Uint8Array`,
//! or a plain workspace as an array of `{path, bytes}`), reading ops, parsing ops
//! files, the `secrets` file, and the layout's paths. The stores (OPFS, IndexedDB,
//! Node fs, callbacks) and the seed's `WorkspaceStorage` are JavaScript in the
//! package (`bindings-wasm/npm/`), on top of these functions.
//!
//! Every error reaches JavaScript as an `Error` whose `code` is the core's
//! [`Error::code`] (`HashMismatch`, `UnsupportedVersion`, `UnsafePath`…).
#![deny(missing_docs)]

use std::cell::RefCell;
use std::io::Cursor;

use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use rusqlite::{Connection, MAIN_DB};
use sila_store_core::archive::sniff;
use sila_store_core::archive::sqlite::{SqliteSink, SqliteSource};
use sila_store_core::archive::zip::{ZipSink, ZipSource};
use sila_store_core::convert::{compare, copy_all};
use sila_store_core::entries::{listing, EntrySource, Listing, Progress};
use sila_store_core::ids::{Day, PeerId, Sha256Hex, TreeId};
use sila_store_core::layout::{EntryKind, OpsFileKey};
use sila_store_core::memory::MemoryWorkspace;
use sila_store_core::model::sila_tree_op;
use sila_store_core::ops::{parse_line, OpLine, OpsFileKind, OpsText};
use sila_store_core::reptree::OpKind;
use sila_store_core::secrets::{self, KeyVariant};
use sila_store_core::{inspect, Error, Result};
use wasm_bindgen::prelude::*;

mod dexie;
#[cfg(target_arch = "wasm32")]
mod engine;
#[cfg(target_arch = "wasm32")]
mod files;
mod host_sha256;
#[cfg(target_arch = "wasm32")]
mod js_file;
#[cfg(target_arch = "wasm32")]
mod js_store;
mod model;
#[cfg(target_arch = "wasm32")]
mod tier_host;
#[cfg(target_arch = "wasm32")]
pub use engine::SpaceEngine;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs when the module is instantiated: keeps a panic's message, so the JavaScript
/// wrapper can turn the trap that follows into an `Error` with code `Internal`.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
    }));
}

/// The message of the last Rust panic, if any (and forgets it).
#[wasm_bindgen(js_name = takePanic)]
pub fn take_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.borrow_mut().take())
}

/// The version of sila-store.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Bytes of this module's WebAssembly memory now. It grows and never shrinks, so this
/// is also the most it has held.
#[wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) as f64) * 65536.0
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}

/// A core error as a JavaScript `Error` with a stable `code`.
pub(crate) fn js_err(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("SilaStoreError");
    // Setting a property on a fresh Error cannot fail.
    let _ = Reflect::set(&err, &"code".into(), &e.code().into());
    err.into()
}

pub(crate) type JsResult<T> = std::result::Result<T, JsValue>;

pub(crate) fn to_js<T: serde::Serialize>(v: &T) -> JsResult<JsValue> {
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    v.serialize(&ser)
        .map_err(|e| js_err(Error::InvalidArgument(e.to_string())))
}

/// A workspace handed in from JavaScript: archive bytes, plain files, or an archive
/// file (read in place: big workspaces).
pub(crate) enum Input {
    /// A SQLite archive, opened in memory (read-only).
    Sqlite(Connection),
    /// A ZIP archive's bytes.
    Zip(Vec<u8>),
    /// A plain workspace's files.
    Files(MemoryWorkspace),
    /// An archive in a file JavaScript opened (read in place, a page at a time).
    #[cfg(target_arch = "wasm32")]
    File(JsValue),
}

fn open_sqlite(bytes: &[u8]) -> Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    conn.deserialize_read_exact(MAIN_DB, bytes, bytes.len(), true)?;
    sila_store_core::archive::sqlite::harden(&mut conn)?;
    Ok(conn)
}

/// Runs `f` on an archive held in memory (a SQLite one is copied into SQLite's memory).
fn with_archive<T>(bytes: &[u8], f: impl FnOnce(&mut dyn EntrySource) -> Result<T>) -> Result<T> {
    match sniff(bytes) {
        Some("sqlite") => f(&mut SqliteSource::new(&open_sqlite(bytes)?)?),
        Some(_) => f(&mut ZipSource::new(Cursor::new(bytes))?),
        None => Err(Error::NotAWorkspace(
            "the bytes are neither a SQLite archive nor a ZIP archive".into(),
        )),
    }
}

fn files_from_js(files: &Array) -> Result<MemoryWorkspace> {
    let mut ws = MemoryWorkspace::new();
    for item in files.iter() {
        let path = Reflect::get(&item, &"path".into())
            .ok()
            .and_then(|p| p.as_string())
            .ok_or_else(|| Error::InvalidArgument("every file needs a string `path`".into()))?;
        let bytes = Reflect::get(&item, &"bytes".into())
            .ok()
            .and_then(|b| b.dyn_into::<Uint8Array>().ok())
            .ok_or_else(|| {
                Error::InvalidArgument(format!("{path}: `bytes` must be a Uint8Array"))
            })?;
        if ws.files.contains_key(&path) {
            return Err(Error::DuplicateEntry(path));
        }
        ws.insert(&path, bytes.to_vec());
    }
    Ok(ws)
}

fn files_to_js(ws: &MemoryWorkspace) -> Array {
    ws.files
        .iter()
        .map(|(path, bytes)| {
            let o = Object::new();
            let _ = Reflect::set(&o, &"path".into(), &path.into());
            let _ = Reflect::set(&o, &"bytes".into(), &Uint8Array::from(&bytes[..]));
            JsValue::from(o)
        })
        .collect()
}

impl Input {
    pub(crate) fn from_js(v: &JsValue) -> Result<Input> {
        if let Some(a) = v.dyn_ref::<Uint8Array>() {
            return Input::from_bytes(a.to_vec());
        }
        if let Some(files) = v.dyn_ref::<Array>() {
            return Ok(Input::Files(files_from_js(files)?));
        }
        #[cfg(target_arch = "wasm32")]
        if js_file::JsFile::new(v.clone()).is_ok() {
            return Ok(Input::File(v.clone()));
        }
        Err(Error::InvalidArgument(
            "a workspace is a Uint8Array (SQLite or ZIP archive), an array of {path, bytes} or an archive file (read(buffer, {at}), getSize())"
                .into(),
        ))
    }

    fn from_bytes(bytes: Vec<u8>) -> Result<Input> {
        match sniff(&bytes) {
            Some("sqlite") => Ok(Input::Sqlite(open_sqlite(&bytes)?)),
            Some(_) => Ok(Input::Zip(bytes)),
            None => Err(Error::NotAWorkspace(
                "the bytes are neither a SQLite archive nor a ZIP archive".into(),
            )),
        }
    }

    fn format(&self) -> &'static str {
        match self {
            Input::Sqlite(_) => "sqlite",
            Input::Zip(_) => "zip",
            Input::Files(_) => "plain",
            #[cfg(target_arch = "wasm32")]
            Input::File(v) => js_file::JsFile::new(v.clone())
                .ok()
                .and_then(|mut f| sila_store_core::archive::file::format_of(&mut f).ok())
                .unwrap_or("unknown"),
        }
    }

    pub(crate) fn with<T>(
        &mut self,
        f: impl FnOnce(&mut dyn EntrySource) -> Result<T>,
    ) -> Result<T> {
        match self {
            Input::Sqlite(conn) => f(&mut SqliteSource::new(conn)?),
            Input::Zip(bytes) => f(&mut ZipSource::new(Cursor::new(&bytes[..]))?),
            Input::Files(ws) => f(ws),
            #[cfg(target_arch = "wasm32")]
            Input::File(v) => sila_store_core::archive::file::with_source(
                Box::new(js_file::JsFile::new(v.clone())?),
                f,
            ),
        }
    }
}

/// Calls the optional JS `onProgress({done, total, phase})`; its errors are ignored.
pub(crate) fn progress_fn(cb: &Option<Function>) -> impl FnMut(Progress<'_>) + '_ {
    move |p: Progress<'_>| {
        if let Some(cb) = cb {
            let o = Object::new();
            let _ = Reflect::set(&o, &"done".into(), &(p.done as f64).into());
            let _ = Reflect::set(&o, &"total".into(), &(p.total as f64).into());
            let _ = Reflect::set(&o, &"phase".into(), &p.phase.into());
            let _ = cb.call1(&JsValue::NULL, &o);
        }
    }
}

/// Writes `source` in `to` format and reads the result back: every file must come
/// back byte for byte (sizes and SHA-256), or the conversion fails.
fn convert_source(
    source: &mut dyn EntrySource,
    to: &str,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Output> {
    let (mut out, written) = match to {
        "sqlite" => {
            let conn = Connection::open_in_memory()?;
            let listing = {
                let mut sink = SqliteSink::new(&conn, source.format())?;
                copy_all(source, &mut sink, progress)?
            };
            let mut conn = conn;
            let bytes = conn.serialize(MAIN_DB)?.to_vec();
            (Output::Bytes(bytes), listing)
        }
        "zip" => {
            let mut sink = ZipSink::new(Cursor::new(Vec::new()));
            let listing = copy_all(source, &mut sink, progress)?;
            (Output::Bytes(sink.into_inner()?.into_inner()), listing)
        }
        "plain" => {
            let mut ws = MemoryWorkspace::new();
            let listing = copy_all(source, &mut ws, progress)?;
            (Output::Files(ws), listing)
        }
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown format {other:?} (sqlite, zip or plain)"
            )))
        }
    };
    let back = out.read_back(progress)?;
    compare(&written, &back)?;
    Ok(out)
}

enum Output {
    Bytes(Vec<u8>),
    Files(MemoryWorkspace),
}

impl Output {
    fn read_back(&mut self, progress: &mut dyn FnMut(Progress<'_>)) -> Result<Listing> {
        match self {
            Output::Bytes(b) => with_archive(b, |s| listing(s, progress)),
            Output::Files(ws) => listing(ws, progress),
        }
    }

    fn into_js(self) -> JsValue {
        match self {
            Output::Bytes(b) => Uint8Array::from(&b[..]).into(),
            Output::Files(ws) => files_to_js(&ws).into(),
        }
    }
}

/// `"sqlite"`, `"zip"` or `"plain"` for a workspace, `"unknown"` for bytes that are
/// neither archive.
#[wasm_bindgen(js_name = detectFormat)]
pub fn detect_format(workspace: &JsValue) -> String {
    if let Some(a) = workspace.dyn_ref::<Uint8Array>() {
        let mut head = [0u8; 16];
        let n = (a.length() as usize).min(16);
        a.subarray(0, n as u32).copy_to(&mut head[..n]);
        return sniff(&head[..n]).unwrap_or("unknown").to_string();
    }
    if workspace.is_array() {
        return "plain".to_string();
    }
    match Input::from_js(workspace) {
        Ok(input) => input.format().to_string(),
        Err(_) => "unknown".to_string(),
    }
}

/// Converts a workspace (archive bytes or `{path, bytes}` files) to `to`
/// (`"sqlite"`, `"zip"` → `Uint8Array`; `"plain"` → files). The result is read back
/// and compared with the source, file by file, before it is returned.
#[wasm_bindgen]
pub fn convert(workspace: &JsValue, to: &str, on_progress: Option<Function>) -> JsResult<JsValue> {
    let mut input = Input::from_js(workspace).map_err(js_err)?;
    let mut progress = progress_fn(&on_progress);
    let out = input
        .with(|s| convert_source(s, to, &mut progress))
        .map_err(js_err)?;
    Ok(out.into_js())
}

/// Like [`convert`], but refuses a source that is not in format `from`.
#[wasm_bindgen(js_name = convertFrom)]
pub fn convert_from(
    workspace: &JsValue,
    from: &str,
    to: &str,
    on_progress: Option<Function>,
) -> JsResult<JsValue> {
    let input = Input::from_js(workspace).map_err(js_err)?;
    if input.format() != from {
        return Err(js_err(Error::NotAnArchive {
            format: if from == "zip" { "ZIP" } else { "SQLite" },
            reason: format!("the input is a {} workspace", input.format()),
        }));
    }
    drop(input);
    convert(workspace, to, on_progress)
}

/// Checks everything (container, every file's size and hash, CAS names, UTF-8 ops,
/// `space.json`, references); problems are in the report, never thrown.
#[wasm_bindgen]
pub fn verify(workspace: &JsValue, on_progress: Option<Function>) -> JsResult<JsValue> {
    let mut input = Input::from_js(workspace).map_err(js_err)?;
    let mut progress = progress_fn(&on_progress);
    let report = input
        .with(|s| Ok(inspect::verify(s, &mut progress)))
        .map_err(js_err)?;
    to_js(&report)
}

/// Space id, trees, ops and file counts and sizes.
#[wasm_bindgen]
pub fn info(workspace: &JsValue) -> JsResult<JsValue> {
    let mut input = Input::from_js(workspace).map_err(js_err)?;
    let info = input.with(inspect::info).map_err(js_err)?;
    to_js(&info)
}

/// The ops of `tree_id` in day folders `from..=to` (`YYYY-MM-DD`, both optional), as
/// `{day, peer, fileKind, line}` in days, peer, file kind, line order.
#[wasm_bindgen(js_name = getOperations)]
pub fn get_operations(
    workspace: &JsValue,
    tree_id: &str,
    from: Option<String>,
    to: Option<String>,
) -> JsResult<JsValue> {
    let run = || -> Result<Vec<_>> {
        let tree = TreeId::new(tree_id)?;
        let from = from.as_deref().map(Day::parse).transpose()?;
        let to = to.as_deref().map(Day::parse).transpose()?;
        let mut input = Input::from_js(workspace)?;
        input.with(|s| s.get_operations(&tree, from, to))
    };
    to_js(&run().map_err(js_err)?)
}

/// What a workspace path is: `sila.md`, `space.json`, `secrets`, `ops`, `static`,
/// `mutable` or `other`. Throws `UnsafePath` / `InvalidId` for a path that is not safe.
#[wasm_bindgen(js_name = classifyPath)]
pub fn classify_path(path: &str) -> JsResult<String> {
    let kind = EntryKind::from_path(path).map_err(js_err)?;
    Ok(match kind {
        EntryKind::SilaMd => "sila.md",
        EntryKind::SpaceJson => "space.json",
        EntryKind::Secrets => "secrets",
        EntryKind::OpsFile(_) => "ops",
        EntryKind::StaticFile(_) => "static",
        EntryKind::MutableFile(_) => "mutable",
        EntryKind::Other(_) => "other",
    }
    .to_string())
}

/// Whether an ops line (current format) is kept structured (`true`) or carried raw.
#[wasm_bindgen(js_name = isStructuredOpLine)]
pub fn is_structured_op_line(line: &str) -> bool {
    !matches!(parse_line(line, OpsFileKind::Props), OpLine::Raw(_))
}

/// The path of an ops file: `kind` is `"m"`, `"p"` or `"legacy"`, `day` `YYYY-MM-DD`.
#[wasm_bindgen(js_name = opsFilePath)]
pub fn ops_file_path(tree_id: &str, day: &str, peer_id: &str, kind: &str) -> JsResult<String> {
    let run = || -> Result<String> {
        let key = OpsFileKey {
            tree: TreeId::new(tree_id)?,
            day: Day::parse(day)?,
            peer: PeerId::new(peer_id)?,
            kind: OpsFileKind::parse(kind)
                .ok_or_else(|| Error::InvalidArgument(format!("ops file kind {kind:?}")))?,
        };
        Ok(key.path())
    };
    run().map_err(js_err)
}

/// The UTC day (`YYYY-MM-DD`) of a Unix time in milliseconds.
#[wasm_bindgen(js_name = dayOf)]
pub fn day_of(unix_ms: f64) -> String {
    Day::from_unix_seconds((unix_ms / 1000.0).floor() as i64).to_string()
}

/// The lowercase hex SHA-256 of `bytes`.
#[wasm_bindgen]
pub fn sha256(bytes: &[u8]) -> String {
    Sha256Hex::of(bytes).as_str().to_string()
}

/// The CAS path of a file with this SHA-256 (`space-v1/files/static/sha256/ab/…`).
#[wasm_bindgen(js_name = staticFilePath)]
pub fn static_file_path(hash: &str) -> JsResult<String> {
    let h = Sha256Hex::new(hash).map_err(js_err)?;
    Ok(EntryKind::StaticFile(h).path())
}

/// The ops of an ops file as Sila reads them (skipped lines left out), each
/// `{counter, peerId, targetId, parentId}` (a move; `parentId` may be `null`) or
/// `{counter, peerId, targetId, key, valueJson}` (a property; `valueJson` is the
/// value's JSON text, absent for a deletion). `path` names the file (tree, day, peer,
/// kind); throws `InvalidUtf8` for a file that is not UTF-8.
#[wasm_bindgen(js_name = parseOpsFile)]
pub fn parse_ops_file(path: &str, bytes: &[u8]) -> JsResult<Array> {
    let run = || -> Result<Array> {
        let (_, ops) = ops_of_file(path, bytes)?;
        let out = Array::new();
        for op in ops {
            let o = Object::new();
            let set = |k: &str, v: JsValue| {
                let _ = Reflect::set(&o, &k.into(), &v);
            };
            set("counter", (op.id.counter as f64).into());
            set("peerId", op.id.peer.as_str().into());
            set("targetId", op.target.as_str().into());
            match &op.kind {
                OpKind::Move { parent } => set(
                    "parentId",
                    parent.as_deref().map_or(JsValue::NULL, JsValue::from),
                ),
                OpKind::Set { key, value } => {
                    set("key", key.as_str().into());
                    if let Some(v) = value {
                        set("valueJson", v.as_str().into());
                    }
                }
            }
            out.push(&o);
        }
        Ok(out)
    };
    run().map_err(js_err)
}

/// The ops file `path` (its key) and its ops as Sila reads them (lines it skips left
/// out); `InvalidUtf8` for a file that is not UTF-8.
pub(crate) fn ops_of_file(
    path: &str,
    bytes: &[u8],
) -> Result<(OpsFileKey, Vec<sila_store_core::reptree::TreeOp>)> {
    let EntryKind::OpsFile(key) = EntryKind::from_path(path)? else {
        return Err(Error::InvalidArgument(format!("{path} is not an ops file")));
    };
    let text = OpsText::split(bytes).map_err(|line| Error::InvalidUtf8 {
        path: path.to_string(),
        line,
    })?;
    let ops = text
        .lines
        .iter()
        .filter_map(|l| sila_tree_op(l, key.kind, key.peer.as_str()))
        .collect();
    Ok((key, ops))
}

/// Decrypts a `secrets` file (key A, then B) into `{key: value}`.
#[wasm_bindgen(js_name = decryptSecrets)]
pub fn decrypt_secrets(space_id: &str, file: &[u8]) -> JsResult<JsValue> {
    let (pairs, _) = secrets::decrypt(space_id, file).map_err(js_err)?;
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &k.into(), &v.into());
    }
    Ok(o.into())
}

/// Encrypts `{key: value}` as live Sila writes its `secrets` file (key A) with the
/// 12-byte `iv` (take it from `crypto.getRandomValues`).
#[wasm_bindgen(js_name = encryptSecrets)]
pub fn encrypt_secrets(space_id: &str, secrets: &Object, iv: &[u8]) -> JsResult<String> {
    let iv: [u8; 12] = iv
        .try_into()
        .map_err(|_| js_err(Error::InvalidArgument("the IV must be 12 bytes".into())))?;
    let mut pairs = Vec::new();
    for entry in Object::entries(secrets).iter() {
        let entry = Array::from(&entry);
        let (Some(k), Some(v)) = (entry.get(0).as_string(), entry.get(1).as_string()) else {
            return Err(js_err(Error::InvalidArgument(
                "secrets are {string: string}".into(),
            )));
        };
        pairs.push((k, v));
    }
    secrets::encrypt(space_id, &pairs, iv, KeyVariant::RawSpaceId).map_err(js_err)
}
