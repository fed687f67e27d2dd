//! WebAssembly bindings of sila-store (the npm package `sila-store`).
//!
//! A stub for now: it builds the `no_std` heart of the core for
//! `wasm32-unknown-unknown` and exports what needs no I/O. The archive formats, the
//! stores (OPFS, IndexedDB, Node fs, callbacks) and the npm package come with the
//! WebAssembly issue.
#![deny(missing_docs)]

use sila_store_core::layout::EntryKind;
use sila_store_core::ops::{parse_line, OpLine, OpsFileKind};
use wasm_bindgen::prelude::*;

/// The version of sila-store.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// What a workspace path is: `sila.md`, `space.json`, `secrets`, `ops`, `static`,
/// `mutable` or `other`. Throws for an unsafe path or an ops file with a bad id.
#[wasm_bindgen(js_name = classifyPath)]
pub fn classify_path(path: &str) -> Result<String, JsError> {
    let kind =
        EntryKind::from_path(path).map_err(|e| JsError::new(&format!("{}: {e}", e.code())))?;
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
