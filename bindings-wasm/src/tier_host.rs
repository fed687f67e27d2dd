//! The wasm host of the core's tiers: JavaScript's clock, `Math.random` epochs,
//! `setTimeout`, and work areas in memory (archives built and opened with SQLite in
//! memory, the same conversion as `convert`).

use std::collections::BTreeMap;

use js_sys::{Function, Promise, Reflect};
use sila_store_core::archive::sqlite::FORMAT_VERSION;
use sila_store_core::entries::{Digest256, Listing, Operation, Progress};
use sila_store_core::ids::{Day, Sha256Hex, TreeId};
use sila_store_core::layout::safe_relative_path;
use sila_store_core::memory::MemoryWorkspace;
use sila_store_core::storage::tiers::{TierHost, WorkArea};
use sila_store_core::store::byte_range;
use sila_store_core::{Error, Result};
use wasm_bindgen::{JsCast, JsValue};

use crate::{convert_source, with_archive, Output};

/// Time, epochs and work areas of a JavaScript host.
#[derive(Clone, Copy, Debug, Default)]
pub struct WasmHost;

#[async_trait::async_trait(?Send)]
impl TierHost for WasmHost {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn new_epoch(&self) -> String {
        sila_store_core::storage::tiers::epoch_of(
            (js_sys::Math::random() * (1u64 << 40) as f64) as u64,
        )
    }

    async fn sleep_ms(&self, ms: u64) {
        let p = Promise::new(&mut |resolve, _| {
            let global = js_sys::global();
            let timer = Reflect::get(&global, &"setTimeout".into())
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok());
            match timer {
                Some(f) => {
                    let _ = f.call2(&global, &resolve, &JsValue::from(ms as f64));
                }
                None => {
                    let _ = resolve.call0(&JsValue::NULL);
                }
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(p).await;
    }

    fn work_area(&self) -> Result<Box<dyn WorkArea>> {
        Ok(Box::new(MemoryWorkArea::default()))
    }
}

/// Plain files and an archive in memory.
#[derive(Default)]
struct MemoryWorkArea {
    plain: BTreeMap<String, Vec<u8>>,
    db: Vec<u8>,
}

impl WorkArea for MemoryWorkArea {
    fn append_plain(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        safe_relative_path(path)?;
        self.plain
            .entry(path.to_string())
            .or_default()
            .extend_from_slice(bytes);
        Ok(())
    }

    fn build_archive(&mut self, progress: &mut dyn FnMut(Progress<'_>)) -> Result<(u64, i64)> {
        let mut ws = MemoryWorkspace {
            files: std::mem::take(&mut self.plain),
        };
        let out = convert_source(&mut ws, "sqlite", progress);
        self.plain = ws.files;
        match out? {
            Output::Bytes(b) => self.db = b,
            Output::Files(_) => return Err(Error::Backend("no archive was built".into())),
        }
        Ok((self.db.len() as u64, FORMAT_VERSION))
    }

    fn append_archive(&mut self, bytes: &[u8]) -> Result<()> {
        self.db.extend_from_slice(bytes);
        Ok(())
    }

    fn read_archive(&mut self, offset: u64, len: u64) -> Result<Vec<u8>> {
        Ok(byte_range(&self.db, offset, len).to_vec())
    }

    fn extract_archive(&mut self, progress: &mut dyn FnMut(Progress<'_>)) -> Result<Listing> {
        let out = with_archive(&self.db, |s| convert_source(s, "plain", progress))?;
        let Output::Files(ws) = out else {
            return Err(Error::Backend("no files were extracted".into()));
        };
        self.plain = ws.files;
        Ok(self
            .plain
            .iter()
            .map(|(p, b)| {
                (
                    p.clone(),
                    Digest256 {
                        size: b.len() as u64,
                        sha256: Sha256Hex::of(b),
                    },
                )
            })
            .collect())
    }

    fn read_plain(&mut self, path: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let b = self
            .plain
            .get(path)
            .ok_or_else(|| Error::NotFound(path.to_string()))?;
        Ok(byte_range(b, offset, len).to_vec())
    }

    fn archive_operations(
        &mut self,
        tree: &TreeId,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Operation>> {
        with_archive(&self.db, |s| s.get_operations(tree, from, to))
    }
}
