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
    check_path, read_into_by_ranges, ObjectInfo, PartSink, PartSource, Precondition, StoreError,
    StoreResult, Version, WorkspaceStore,
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
        Self::over(tiers.store.clone(), &tiers.prefix, sub, tiers.native_cas)
    }

    /// The objects under `prefix/sub` of `store`; `native_cas`: whether the store does
    /// conditional updates itself (S3, memory; a local folder does not).
    pub fn over(store: Arc<dyn ObjectStore>, prefix: &str, sub: &str, native_cas: bool) -> Self {
        let (prefix, sub) = (prefix.trim_matches('/'), sub.trim_matches('/'));
        let prefix = match (prefix.is_empty(), sub.is_empty()) {
            (true, _) => sub.to_string(),
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}/{sub}"),
        };
        ObjectWorkspaceStore {
            store,
            prefix,
            native_cas,
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

impl ObjectWorkspaceStore {
    /// One GET of `len` bytes from `offset` (the store clamps the end to the
    /// object's): most reads lie inside the object. `None` when the store refuses
    /// the range (S3 answers 416 for a read at or past the end, or of an empty
    /// object); [`StoreError::NotFound`] when there is no object.
    async fn get_bounded(
        &self,
        key: &ObjPath,
        path: &str,
        offset: u64,
        len: u64,
    ) -> StoreResult<Option<object_store::GetResult>> {
        let opts = GetOptions {
            range: Some(GetRange::Bounded(offset..offset.saturating_add(len))),
            ..GetOptions::default()
        };
        match self.store.get_opts(key, opts).await {
            Ok(r) => Ok(Some(r)),
            Err(e @ object_store::Error::NotFound { .. }) => Err(err("read", path)(e)),
            Err(_) => Ok(None),
        }
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
        // Mapped as the listing streams in: a large listing is held once, as ours.
        self.store
            .list(key.as_ref())
            .try_filter_map(|m| {
                let rel = self.relative(m.location.as_ref()).to_string();
                let info = rel.starts_with(prefix).then(|| ObjectInfo {
                    path: rel,
                    size: Some(m.size),
                    modified_ms: Some(m.last_modified.timestamp_millis().max(0) as u64),
                });
                futures::future::ready(Ok(info))
            })
            .try_collect()
            .await
            .map_err(err("list", prefix))
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
        if len == 0 {
            return Ok(Vec::new());
        }
        if let Some(r) = self.get_bounded(&key, path, offset, len).await? {
            return Ok(r.bytes().await.map_err(err("read", path))?.to_vec());
        }
        // Refused: the size first.
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

    async fn read_into(
        &self,
        path: &str,
        offset: u64,
        len: u64,
        sink: &mut dyn PartSink,
    ) -> sila_store_core::Result<u64> {
        let key = self.key(path)?;
        if len == 0 {
            return Ok(0);
        }
        let Some(r) = self.get_bounded(&key, path, offset, len).await? else {
            // Refused: piece by piece, size first.
            return read_into_by_ranges(self, path, offset, len, sink).await;
        };
        // One GET, its body handed on as it arrives.
        let mut body = r.into_stream();
        let mut n = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(err("read", path))?;
            n += chunk.len() as u64;
            sink.take_part(&chunk)?;
        }
        Ok(n)
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

    async fn write_parts(
        &self,
        path: &str,
        parts: &mut dyn PartSource,
        condition: Precondition,
    ) -> StoreResult<Version> {
        let next = |parts: &mut dyn PartSource| {
            parts
                .next_part()
                .map_err(|e| StoreError::backend("write", path, e.to_string()))
        };
        // A conditional write is one PUT (multipart uploads take no condition).
        let Precondition::None = condition else {
            let mut bytes = Vec::new();
            while let Some(p) = next(parts)? {
                bytes.extend_from_slice(&p);
            }
            return self.write(path, bytes, condition).await;
        };
        let first = next(parts)?.unwrap_or_default();
        let Some(second) = next(parts)? else {
            return self.write(path, first, condition).await;
        };
        // Several parts: a multipart upload, one part in memory at a time.
        let key = self.key(path)?;
        let mut up = self
            .store
            .put_multipart(&key)
            .await
            .map_err(err("write", path))?;
        let mut part = Some(first);
        let mut pending = Some(second);
        let result: StoreResult<()> = async {
            while let Some(p) = part.take() {
                up.put_part(PutPayload::from(p))
                    .await
                    .map_err(err("write", path))?;
                part = match pending.take() {
                    Some(n) => Some(n),
                    None => next(parts)?,
                };
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let _ = up.abort().await;
            return Err(e);
        }
        let r = up.complete().await.map_err(err("write", path))?;
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
