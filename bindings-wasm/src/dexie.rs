//! Sila's IndexedDB rows (the Dexie database of the browser app: `treeOps`, `secrets`)
//! ⇄ the plain layout, for `IndexedDbStore`: the JavaScript side only runs the
//! IndexedDB calls and hands rows in and out; what a row *is* in files is decided here,
//! through the core's one op pipeline.
//!
//! * **Rows → files** ([`rows_to_files`]): rows carry no day folder, so within each
//!   (tree, peer), in counter order, an op goes to the UTC day of the newest `_c`
//!   (creation time) property value seen at or before it, and to the export day while
//!   there is none ([`place_rows`]). Each row becomes the line Sila writes for it: its
//!   value's text is `JSON.stringify(value)` (a deletion, `value: undefined`, is `{}`),
//!   then [`sila_store_core::ops::line_of`]. `sila.md` and `space.json` are Sila's
//!   texts; the `secrets` rows are encrypted as Sila's file is (key A, the IV given).
//! * **Files → rows** ([`file_to_rows`]): the ops of an ops file as Sila reads them, one
//!   row per op, `value` as `JSON.parse` of its text (`undefined` for a deletion: a
//!   line's `[]` or `{}`, as Sila reads it).

use std::collections::BTreeMap;

use js_sys::{Array, Object, Reflect, Uint8Array, JSON};
use sila_store_core::ids::{Day, PeerId, TreeId};
use sila_store_core::layout::{EntryKind, OpsFileKey, SILA_MD_TEXT};
use sila_store_core::ops::line_of;
use sila_store_core::ops::wire::WireOp;
use sila_store_core::reptree::OpKind;
use sila_store_core::secrets::{self, KeyVariant};
use sila_store_core::{Error, Result};
use wasm_bindgen::prelude::*;

use crate::{js_err, JsResult};

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap_or(JsValue::UNDEFINED)
}

fn string_of(o: &JsValue, k: &str) -> Result<String> {
    get(o, k)
        .as_string()
        .ok_or_else(|| Error::InvalidArgument(format!("a treeOps row's {k} is not a string")))
}

/// The UTC day of a `_c` value (an ISO date string or Unix milliseconds), if it is a
/// time: `Date.parse` for strings, as Sila's rows were read.
fn time_of(value: &JsValue) -> Option<f64> {
    let t = match value.as_string() {
        Some(s) => js_sys::Date::parse(&s),
        None => value.as_f64()?,
    };
    t.is_finite().then_some(t)
}

/// Each row with the day it is placed in (see the module docs), grouped by (tree,
/// peer) in first-seen order, each group in counter order.
fn placed(rows: &Array, export_day: Day) -> Result<Vec<(JsValue, Day)>> {
    let mut groups: Vec<Vec<(f64, JsValue)>> = Vec::new();
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    for row in rows.iter() {
        let key = (string_of(&row, "treeId")?, string_of(&row, "peerId")?);
        let clock = get(&row, "clock").as_f64().unwrap_or(f64::NAN);
        let n = groups.len();
        let i = *index.entry(key).or_insert(n);
        if i == n {
            groups.push(Vec::new());
        }
        groups[i].push((clock, row));
    }
    let mut out = Vec::with_capacity(rows.length() as usize);
    for mut group in groups {
        group.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut newest = f64::NEG_INFINITY;
        for (_, row) in group {
            let is_creation = get(&row, "parentId").is_undefined()
                && get(&row, "key").as_string().as_deref() == Some("_c");
            if is_creation {
                if let Some(t) = time_of(&get(&row, "value")) {
                    newest = newest.max(t);
                }
            }
            let day = if newest == f64::NEG_INFINITY {
                export_day
            } else {
                Day::from_unix_seconds((newest / 1000.0).floor() as i64)
            };
            out.push((row, day));
        }
    }
    Ok(out)
}

/// The line Sila writes for a `treeOps` row or a RepTree `VertexOperation` (counter in
/// `clock`, `id.counter` or `counter`), and its ops file kind.
fn line_of_row(row: &JsValue) -> Result<(String, sila_store_core::ops::OpsFileKind)> {
    let id = get(row, "id");
    let counter = [get(&id, "counter"), get(row, "clock"), get(row, "counter")]
        .into_iter()
        .find(|v| !v.is_undefined())
        .unwrap_or(JsValue::UNDEFINED);
    let clock = counter
        .as_f64()
        .filter(|c| c.fract() == 0.0 && *c >= 0.0 && *c <= 9_007_199_254_740_991.0)
        .ok_or_else(|| {
            Error::InvalidArgument(format!("op counter {counter:?} is not a counter"))
        })?;
    // The peer is not part of the line (it names the file).
    let peer = get(&id, "peerId")
        .as_string()
        .or_else(|| get(row, "peerId").as_string())
        .unwrap_or_default();
    let target = string_of(row, "targetId")?;
    let parent = get(row, "parentId");
    let wire = if !parent.is_undefined() {
        let parent = if parent.is_null() {
            None
        } else {
            Some(parent.as_string().ok_or_else(|| {
                Error::InvalidArgument("a treeOps row's parentId is not a string".into())
            })?)
        };
        WireOp::mv(clock as u64, &peer, &target, parent.as_deref())
    } else {
        let key = string_of(row, "key")?;
        let value = get(row, "value");
        let text = if value.is_undefined() {
            None
        } else {
            let t = JSON::stringify(&value)
                .ok()
                .and_then(|s| s.as_string())
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "the value of {target}.{key} (counter {clock}) has no JSON text"
                    ))
                })?;
            Some(t)
        };
        WireOp::set(clock as u64, &peer, &target, &key, text.as_deref())?
    };
    line_of(&wire.to_tree_op()?)
}

/// An ops line exactly as Sila writes it for an op (`{id: {counter, peerId}, targetId,
/// parentId}` or `{…, key, value}`, or a `treeOps` row): `{kind: "m" | "p", line}`; a
/// deletion (`value` undefined) is written `{}`.
#[wasm_bindgen(js_name = opToLine)]
pub fn op_to_line(op: JsValue) -> JsResult<Object> {
    let (line, kind) = line_of_row(&op).map_err(js_err)?;
    let o = Object::new();
    let _ = Reflect::set(&o, &"kind".into(), &kind.as_str().into());
    let _ = Reflect::set(&o, &"line".into(), &line.into());
    Ok(o)
}

/// Each row of `rows` (Sila's `treeOps` rows of one space) with the day
/// (`YYYY-MM-DD`) it is placed in when read as files: `[{row, day}]`.
#[wasm_bindgen(js_name = placeRows)]
pub fn place_rows(rows: Array, export_day: &str) -> JsResult<Array> {
    let run = || -> Result<Array> {
        let out = Array::new();
        for (row, day) in placed(&rows, Day::parse(export_day)?)? {
            let o = Object::new();
            let _ = Reflect::set(&o, &"row".into(), &row);
            let _ = Reflect::set(&o, &"day".into(), &day.to_string().into());
            out.push(&o);
        }
        Ok(out)
    };
    run().map_err(js_err)
}

/// The plain files of one space kept as Sila's rows: `[[path, bytes], …]` with
/// `sila.md`, `space.json`, every ops file (see the module docs) and, if there are
/// `secrets` rows (`{key, value}`), the `secrets` file encrypted with `iv` (12 bytes).
#[wasm_bindgen(js_name = rowsToFiles)]
pub fn rows_to_files(
    space_id: &str,
    rows: Array,
    secret_rows: Array,
    export_day: &str,
    iv: &[u8],
) -> JsResult<Array> {
    let run = || -> Result<Array> {
        // `space.json` as Sila writes it: JSON.stringify({id}).
        let id = Object::new();
        let _ = Reflect::set(&id, &"id".into(), &space_id.into());
        let space_json = JSON::stringify(&id)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| Error::InvalidArgument("space id".into()))?;
        let mut files: Vec<(String, Vec<u8>)> = vec![
            (EntryKind::SilaMd.path(), SILA_MD_TEXT.as_bytes().to_vec()),
            (EntryKind::SpaceJson.path(), space_json.into_bytes()),
        ];
        let mut texts: BTreeMap<String, (usize, String)> = BTreeMap::new();
        for (row, day) in placed(&rows, Day::parse(export_day)?)? {
            let (line, kind) = line_of_row(&row)?;
            let key = OpsFileKey {
                tree: TreeId::new(&string_of(&row, "treeId")?)?,
                day,
                peer: PeerId::new(&string_of(&row, "peerId")?)?,
                kind,
            };
            let n = texts.len();
            let text = &mut texts.entry(key.path()).or_insert((n, String::new())).1;
            text.push_str(&line);
            text.push('\n');
        }
        let mut ops: Vec<(usize, String, String)> =
            texts.into_iter().map(|(p, (i, t))| (i, p, t)).collect();
        ops.sort_by_key(|o| o.0);
        files.extend(ops.into_iter().map(|(_, p, t)| (p, t.into_bytes())));
        if secret_rows.length() > 0 {
            let mut pairs = Vec::new();
            for s in secret_rows.iter() {
                pairs.push((string_of(&s, "key")?, string_of(&s, "value")?));
            }
            let iv: [u8; 12] = iv
                .try_into()
                .map_err(|_| Error::InvalidArgument("the IV must be 12 bytes".into()))?;
            let text = secrets::encrypt(space_id, &pairs, iv, KeyVariant::RawSpaceId)?;
            files.push((EntryKind::Secrets.path(), text.into_bytes()));
        }
        let out = Array::new();
        for (path, bytes) in files {
            out.push(&Array::of2(&path.into(), &Uint8Array::from(&bytes[..])));
        }
        Ok(out)
    };
    run().map_err(js_err)
}

/// The `treeOps` rows of the ops file `path` (its ops as Sila reads them), for the space
/// row `space_ref_id`: `{clock, peerId, treeId, spaceRefId, targetId, parentId}` or
/// `{…, key, value}` (`value` is `JSON.parse` of the op's text, `undefined` for a
/// deletion).
#[wasm_bindgen(js_name = fileToRows)]
pub fn file_to_rows(path: &str, bytes: &[u8], space_ref_id: JsValue) -> JsResult<Array> {
    let run = || -> Result<Array> {
        let (key, ops) = crate::ops_of_file(path, bytes)?;
        let out = Array::new();
        for op in ops {
            let row = Object::new();
            let set = |k: &str, v: &JsValue| {
                let _ = Reflect::set(&row, &k.into(), v);
            };
            set("clock", &(op.id.counter as f64).into());
            set("peerId", &op.id.peer.as_str().into());
            set("treeId", &key.tree.as_str().into());
            set("spaceRefId", &space_ref_id);
            set("targetId", &op.target.as_str().into());
            match &op.kind {
                OpKind::Move { parent } => set(
                    "parentId",
                    &parent.as_deref().map_or(JsValue::NULL, JsValue::from),
                ),
                OpKind::Set { key, value } => {
                    set("key", &key.as_str().into());
                    let v = match value {
                        Some(text) => JSON::parse(text).map_err(|_| {
                            Error::InvalidArgument(format!("{path}: a value is not JSON"))
                        })?,
                        None => JsValue::UNDEFINED,
                    };
                    set("value", &v);
                }
            }
            out.push(&row);
        }
        Ok(out)
    };
    run().map_err(js_err)
}
