//! [`MemoryStore`]: a [`WorkspaceStore`] in memory, for tests and for hosts that hold a
//! workspace in memory already.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::sync::{Mutex, PoisonError};

use super::{
    byte_range, check_path, ObjectInfo, Precondition, StoreError, StoreResult, Version,
    WorkspaceStore,
};

/// Objects in a map, each with a generation number as its version.
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<String, (Vec<u8>, u64)>>,
    next_generation: core::sync::atomic::AtomicU64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (Vec<u8>, u64)>> {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
impl WorkspaceStore for MemoryStore {
    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectInfo>> {
        check_path(prefix)?;
        Ok(self
            .map()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, (b, _))| ObjectInfo {
                path: k.clone(),
                size: Some(b.len() as u64),
                modified_ms: None,
            })
            .collect())
    }

    async fn read(&self, path: &str) -> StoreResult<Option<(Vec<u8>, Version)>> {
        check_path(path)?;
        Ok(self
            .map()
            .get(path)
            .map(|(b, g)| (b.clone(), Version(g.to_string()))))
    }

    async fn read_range(&self, path: &str, offset: u64, len: u64) -> StoreResult<Vec<u8>> {
        check_path(path)?;
        let map = self.map();
        let (b, _) = map
            .get(path)
            .ok_or_else(|| StoreError::NotFound(path.to_string()))?;
        Ok(byte_range(b, offset, len).to_vec())
    }

    async fn size(&self, path: &str) -> StoreResult<Option<u64>> {
        check_path(path)?;
        Ok(self.map().get(path).map(|(b, _)| b.len() as u64))
    }

    async fn write(
        &self,
        path: &str,
        bytes: Vec<u8>,
        condition: Precondition,
    ) -> StoreResult<Version> {
        check_path(path)?;
        let mut map = self.map();
        let current = map.get(path).map(|(_, g)| Version(g.to_string()));
        let ok = match (&condition, &current) {
            (Precondition::None, _) | (Precondition::IfAbsent, None) => true,
            (Precondition::IfVersion(want), Some(have)) => want == have,
            _ => false,
        };
        if !ok {
            return Err(StoreError::PreconditionFailed(path.to_string()));
        }
        let g = 1 + self
            .next_generation
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        map.insert(path.to_string(), (bytes, g));
        Ok(Version(g.to_string()))
    }

    async fn append(&self, path: &str, bytes: &[u8]) -> StoreResult<()> {
        check_path(path)?;
        let g = 1 + self
            .next_generation
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        let mut map = self.map();
        let slot = map.entry(path.to_string()).or_default();
        slot.0.extend_from_slice(bytes);
        slot.1 = g;
        Ok(())
    }

    async fn delete_many(&self, paths: &[String]) -> StoreResult<()> {
        for p in paths {
            check_path(p)?;
        }
        let mut map = self.map();
        for p in paths {
            map.remove(p);
        }
        Ok(())
    }
}
