//! [`ObjectWorkspaceStore`]: a [`WorkspaceStore`] over the `object_store` crate (S3 and
//! S3-compatible services, a local folder, memory), under a key prefix.
//!
//! * Writes are single PUTs (atomic by the service). [`Precondition::IfAbsent`] is
//!   `PutMode::Create`, [`Precondition::IfVersion`] is `PutMode::Update` with the
//!   ETag/version read before (`If-Match`). A local folder has no conditional update:
//!   there the check and the write happen under a lock of this process.
//! * There is no append: the trait's read–merge–conditional-write default is used.
//! * `delete_many` deletes through the store's bulk call (`delete_stream`: S3's
//!   `DeleteObjects`, 1,000 keys a request).

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    UpdateVersion,
};
use sila_store_core::store::{
    check_path, ObjectInfo, Precondition, StoreError, StoreResult, Version, WorkspaceStore,
};

use crate::tiers::{key_lock, TierStore};

/// A prefix of an object store seen as a [`WorkspaceStore`].
#[derive(Clone, Debug)]
pub struct ObjectWorkspaceStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    native_cas: bool,
}

impl ObjectWorkspaceStore {
    /// The objects under `sub` (e.g. `active/<space>/<epoch>`) of a tier store.
    pub fn new(tiers: &TierStore, sub: &str) -> Self {
        let sub = sub.trim_matches('/');
        let prefix = match (tiers.prefix.is_empty(), sub.is_empty()) {
            (true, _) => sub.to_string(),
            (false, true) => tiers.prefix.clone(),
            (false, false) => format!("{}/{sub}", tiers.prefix),
        };
        ObjectWorkspaceStore {
            store: tiers.store.clone(),
            prefix,
            native_cas: tiers.native_cas,
        }
    }

    fn key(&self, path: &str) -> StoreResult<ObjPath> {
        check_path(path)?;
        Ok(if self.prefix.is_empty() {
            ObjPath::from(path)
        } else {
            ObjPath::from(format!("{}/{path}", self.prefix))
        })
    }

    fn relative<'a>(&self, key: &'a str) -> &'a str {
        if self.prefix.is_empty() {
            key
        } else {
            key.strip_prefix(&self.prefix)
                .and_then(|k| k.strip_prefix('/'))
                .unwrap_or(key)
        }
    }
}

fn version(e_tag: Option<String>, v: Option<String>) -> Version {
    Version(format!(
        "{}\n{}",
        e_tag.unwrap_or_default(),
        v.unwrap_or_default()
    ))
}

fn update_version(v: &Version) -> UpdateVersion {
    let (e_tag, version) = v.0.split_once('\n').unwrap_or((&v.0, ""));
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    UpdateVersion {
        e_tag: opt(e_tag),
        version: opt(version),
    }
}

fn err<'a>(op: &'static str, path: &'a str) -> impl FnOnce(object_store::Error) -> StoreError + 'a {
    move |e| match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound(path.to_string()),
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            StoreError::PreconditionFailed(path.to_string())
        }
        e => StoreError::backend(op, path, e),
    }
}

#[async_trait::async_trait]
impl WorkspaceStore for ObjectWorkspaceStore {
    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectInfo>> {
        check_path(prefix)?;
        // Object stores list whole path segments: list the folder, then filter.
        let folder = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let key = if folder.is_empty() {
            (!self.prefix.is_empty()).then(|| ObjPath::from(self.prefix.as_str()))
        } else {
            Some(self.key(folder)?)
        };
        let metas: Vec<_> = self
            .store
            .list(key.as_ref())
            .try_collect()
            .await
            .map_err(err("list", prefix))?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let rel = self.relative(m.location.as_ref()).to_string();
                rel.starts_with(prefix).then_some(ObjectInfo {
                    path: rel,
                    size: Some(m.size),
                })
            })
            .collect())
    }

    async fn read(&self, path: &str) -> StoreResult<Option<(Vec<u8>, Version)>> {
        let key = self.key(path)?;
        match self.store.get(&key).await {
            Ok(r) => {
                let v = version(r.meta.e_tag.clone(), r.meta.version.clone());
                let bytes = r.bytes().await.map_err(err("read", path))?;
                Ok(Some((bytes.to_vec(), v)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(StoreError::backend("read", path, e)),
        }
    }

    async fn read_range(&self, path: &str, offset: u64, len: u64) -> StoreResult<Vec<u8>> {
        let key = self.key(path)?;
        let size = self.store.head(&key).await.map_err(err("read", path))?.size;
        let start = offset.min(size);
        let end = offset.saturating_add(len).min(size);
        if start == end {
            return Ok(Vec::new());
        }
        let opts = GetOptions {
            range: Some(GetRange::Bounded(start..end)),
            ..GetOptions::default()
        };
        let r = self
            .store
            .get_opts(&key, opts)
            .await
            .map_err(err("read", path))?;
        Ok(r.bytes().await.map_err(err("read", path))?.to_vec())
    }

    async fn size(&self, path: &str) -> StoreResult<Option<u64>> {
        let key = self.key(path)?;
        match self.store.head(&key).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(StoreError::backend("stat", path, e)),
        }
    }

    async fn write(
        &self,
        path: &str,
        bytes: Vec<u8>,
        condition: Precondition,
    ) -> StoreResult<Version> {
        let key = self.key(path)?;
        let lock = key_lock(key.as_ref());
        let _guard = lock.lock().await;
        let mode = match &condition {
            Precondition::None => PutMode::Overwrite,
            Precondition::IfAbsent => PutMode::Create,
            Precondition::IfVersion(v) if self.native_cas => PutMode::Update(update_version(v)),
            Precondition::IfVersion(v) => {
                // No conditional update here: check under this process's lock.
                let now = match self.store.head(&key).await {
                    Ok(m) => Some(version(m.e_tag, m.version)),
                    Err(object_store::Error::NotFound { .. }) => None,
                    Err(e) => return Err(StoreError::backend("write", path, e)),
                };
                if now.as_ref() != Some(v) {
                    return Err(StoreError::PreconditionFailed(path.to_string()));
                }
                PutMode::Overwrite
            }
        };
        let r = self
            .store
            .put_opts(&key, PutPayload::from(bytes), PutOptions::from(mode))
            .await
            .map_err(err("write", path))?;
        Ok(version(r.e_tag, r.version))
    }

    async fn delete_many(&self, paths: &[String]) -> StoreResult<()> {
        let keys = paths
            .iter()
            .map(|p| self.key(p))
            .collect::<StoreResult<Vec<_>>>()?;
        let stream = futures::stream::iter(keys.into_iter().map(Ok)).boxed();
        let mut results = self.store.delete_stream(stream);
        while let Some(r) = results.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(StoreError::backend("delete", "", e)),
            }
        }
        Ok(())
    }
}
