//! Moving a space between the store and a work area, in bounded memory: small objects
//! [`CONCURRENCY`] at a time, large ones in parts of [`PART`] bytes, every byte checked
//! against the index or the archive info.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::sha256::Sha256;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::archive::check_space_json;
use super::{indexed_part, ArchiveInfo, IndexEntry, TierHost, TierMetadata, Tiers};
use super::{CONCURRENCY, PART};
use crate::entries::Listing;
use crate::error::{Error, Result};
use crate::ids::Sha256Hex;
use crate::layout::EntryKind;
use crate::store::{PartSink, PartSource, Precondition, Version, WorkspaceStore};

/// Objects up to this size are read whole, several at once.
const SMALL: u64 = 4 << 20;

fn mismatch(path: &str, expected: &str, actual: &Sha256Hex) -> Error {
    Error::HashMismatch {
        path: path.to_string(),
        expected: expected.to_string(),
        actual: actual.as_str().into(),
    }
}

/// The archive of `area` (`size` bytes) as parts to write.
pub(crate) fn area_archive_parts(
    area: &mut Box<dyn super::WorkArea>,
    size: u64,
) -> impl PartSource + '_ {
    AreaParts {
        area: area.as_mut(),
        plain: None,
        offset: 0,
        size,
    }
}

/// The parts of a file of a work area.
struct AreaParts<'a> {
    area: &'a mut dyn super::WorkArea,
    /// `None`: the archive; else a plain file.
    plain: Option<&'a str>,
    offset: u64,
    size: u64,
}

impl PartSource for AreaParts<'_> {
    fn next_part(&mut self) -> Result<Option<Vec<u8>>> {
        if self.offset >= self.size {
            return Ok(None);
        }
        let len = PART.min(self.size - self.offset);
        let bytes = match self.plain {
            None => self.area.read_archive(self.offset, len)?,
            Some(p) => self.area.read_plain(p, self.offset, len)?,
        };
        if bytes.len() as u64 != len {
            return Err(Error::Corrupt {
                format: "work area",
                reason: "a file shrank while it was uploaded".into(),
            });
        }
        self.offset += len;
        Ok(Some(bytes))
    }
}

impl<S: WorkspaceStore, H: TierHost> Tiers<S, H> {
    /// The object at `key` (the indexed part of an ops file), checked against `e`.
    pub(super) async fn fetch_checked(
        &self,
        key: &str,
        path: &str,
        e: &IndexEntry,
    ) -> Result<Vec<u8>> {
        let b = indexed_part(path, e, self.get_bytes(key).await?);
        if !e.matches(&b) {
            return Err(mismatch(path, &e.sha256, &Sha256Hex::of(&b)));
        }
        Ok(b)
    }

    /// Writes the active files of `meta` into `area`, each checked against the index.
    pub(super) async fn download_active_into(
        &self,
        meta: &TierMetadata,
        area: &mut Box<dyn super::WorkArea>,
    ) -> Result<()> {
        let id = meta.space_id.as_str();
        let (small, large): (Vec<_>, Vec<_>) =
            meta.files.iter().partition(|(_, e)| e.size <= SMALL);
        // Owned jobs: the futures then borrow nothing but `self`.
        let jobs: Vec<(String, String, IndexEntry)> = small
            .into_iter()
            .map(|(p, e)| (Self::active_key(id, &meta.epoch, p), p.clone(), e.clone()))
            .collect();
        let mut fetched = stream::iter(jobs)
            .map(|(key, p, e)| async move {
                let bytes = self.fetch_checked(&key, &p, &e).await?;
                Ok::<_, Error>((p, bytes))
            })
            .buffered(CONCURRENCY);
        while let Some((p, bytes)) = fetched.try_next().await? {
            area.append_plain(&p, &bytes)?;
        }
        for (p, e) in large {
            let key = Self::active_key(id, &meta.epoch, p);
            let got = download_plain(&self.store, &key, p, e.size, area).await?;
            if got.as_str() != e.sha256 {
                return Err(mismatch(p, &e.sha256, &got));
            }
        }
        // What is archived must be the space asked for.
        let space_json = EntryKind::SpaceJson.path();
        if let Some(e) = meta.files.get(&space_json) {
            check_space_json(&area.read_plain(&space_json, 0, e.size)?, id)?;
        }
        Ok(())
    }

    /// Writes the archive `info` of space `id` into `area`, size and hash checked.
    pub(super) async fn download_archive_into(
        &self,
        id: &str,
        info: &ArchiveInfo,
        area: &mut Box<dyn super::WorkArea>,
    ) -> Result<()> {
        let key = Self::archive_key(id, &info.name);
        download_archive(&self.store, &key, info.size, Some(&info.sha256), area).await
    }

    /// Uploads the archive built in `area` (`size` bytes) to `key` and checks it.
    pub(super) async fn upload_archive(
        &self,
        area: &mut Box<dyn super::WorkArea>,
        key: &str,
        size: u64,
    ) -> Result<Sha256Hex> {
        upload_archive(&self.store, area, key, size, Precondition::None).await
    }

    /// Uploads the plain files `files` of `area` under `active/<id>/<epoch>/`.
    pub(super) async fn upload_plain(
        &self,
        area: &mut Box<dyn super::WorkArea>,
        id: &str,
        epoch: &str,
        files: &Listing,
    ) -> Result<BTreeMap<String, Version>> {
        upload_plain(&self.store, area, files, |p| Self::active_key(id, epoch, p)).await
    }
}

/// Writes the archive at `key` (`size` bytes, and this SHA-256 if given) into `area`,
/// in parts; [`Error::NotFound`] if there is none, [`Error::HashMismatch`] if it is not
/// what was expected.
pub(crate) async fn download_archive<S: WorkspaceStore>(
    store: &S,
    key: &str,
    size: u64,
    sha256: Option<&str>,
    area: &mut Box<dyn super::WorkArea>,
) -> Result<()> {
    // One byte more than expected: a longer object shows.
    let mut sink = Hashed::to_area(size, area.as_mut(), None);
    let n = store
        .read_into(key, 0, size.saturating_add(1), &mut sink)
        .await?;
    let got = sink.digest();
    if n != size || sha256.is_some_and(|h| got.as_str() != h) {
        return Err(mismatch(key, sha256.unwrap_or(""), &got));
    }
    Ok(())
}

/// Uploads the archive built in `area` (`size` bytes) to `key` in parts (if
/// `condition` holds), then reads it back: size and SHA-256 must be what was built.
pub(crate) async fn upload_archive<S: WorkspaceStore>(
    store: &S,
    area: &mut Box<dyn super::WorkArea>,
    key: &str,
    size: u64,
    condition: Precondition,
) -> Result<Sha256Hex> {
    let mut parts = AreaParts {
        area: area.as_mut(),
        plain: None,
        offset: 0,
        size,
    };
    store.write_parts(key, &mut parts, condition).await?;
    verify_upload(store, area, key, size).await
}

/// Reads the archive at `key` back: size and SHA-256 must be those of the archive in
/// `area` (`size` bytes); returns the hash.
pub(crate) async fn verify_upload<S: WorkspaceStore>(
    store: &S,
    area: &mut Box<dyn super::WorkArea>,
    key: &str,
    size: u64,
) -> Result<Sha256Hex> {
    let mut local = Sha256::new();
    let mut offset = 0;
    while offset < size {
        let len = PART.min(size - offset);
        local.update(&area.read_archive(offset, len)?);
        offset += len;
    }
    let local = Sha256Hex::from_digest(&local.finalize());
    // What the store gives back, in one read where it streams; one byte more than
    // uploaded, so a longer object shows.
    let mut remote = Hashed::only(size);
    let n = store
        .read_into(key, 0, size.saturating_add(1), &mut remote)
        .await?;
    let remote = remote.digest();
    if n != size || local != remote {
        return Err(mismatch(key, local.as_str(), &remote));
    }
    Ok(local)
}

/// Uploads the plain files `files` of `area`, each to `key_of(path)`: small ones
/// [`CONCURRENCY`] at a time, large ones in parts.
pub(crate) async fn upload_plain<S: WorkspaceStore>(
    store: &S,
    area: &mut Box<dyn super::WorkArea>,
    files: &Listing,
    key_of: impl Fn(&str) -> String,
) -> Result<BTreeMap<String, Version>> {
    let mut versions = BTreeMap::new();
    let (small, large): (Vec<_>, Vec<_>) = files.iter().partition(|(_, d)| d.size <= SMALL);
    for batch in small.chunks(CONCURRENCY) {
        // Owned paths: a borrowed one in the stream's futures makes them not `Send`
        // for every lifetime (a known limit of the compiler's auto-trait check).
        let mut jobs: Vec<(String, String, Vec<u8>)> = Vec::with_capacity(batch.len());
        for (p, d) in batch {
            jobs.push((p.to_string(), key_of(p), area.read_plain(p, 0, d.size)?));
        }
        let written = stream::iter(jobs)
            .map(|(p, key, bytes)| async move {
                let v = store.write(&key, bytes, Precondition::None).await?;
                Ok::<_, Error>((p, v))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        versions.extend(written);
    }
    for (p, d) in large {
        let mut parts = AreaParts {
            area: area.as_mut(),
            plain: Some(p),
            offset: 0,
            size: d.size,
        };
        let v = store
            .write_parts(&key_of(p), &mut parts, Precondition::None)
            .await?;
        versions.insert(p.clone(), v);
    }
    Ok(versions)
}

/// Writes the object at `key` (`size` bytes) into the plain file `path` of `area`, in
/// parts; returns its SHA-256.
pub(crate) async fn download_plain<S: WorkspaceStore>(
    store: &S,
    key: &str,
    path: &str,
    size: u64,
    area: &mut Box<dyn super::WorkArea>,
) -> Result<Sha256Hex> {
    if size == 0 {
        area.append_plain(path, &[])?;
    }
    let mut sink = Hashed::to_area(size, area.as_mut(), Some(path));
    if store.read_into(key, 0, size, &mut sink).await? != size {
        return Err(Error::NotFound(key.to_string()));
    }
    Ok(sink.digest())
}

/// The SHA-256 of the object at `key`, read in parts; `None` if there is none.
pub(crate) async fn hash_object<S: WorkspaceStore>(
    store: &S,
    key: &str,
) -> Result<Option<(u64, Sha256Hex)>> {
    let Some(size) = store.size(key).await? else {
        return Ok(None);
    };
    let mut sink = Hashed::only(size);
    let n = store.read_into(key, 0, size, &mut sink).await?;
    Ok(Some((n, sink.digest())))
}

/// Hashes the bytes of an object as they are read, and hands them to a work area
/// (the archive, or plain file `plain`), up to `limit` bytes; counts them all.
struct Hashed<'a> {
    hash: Sha256,
    taken: u64,
    limit: u64,
    area: Option<&'a mut dyn super::WorkArea>,
    plain: Option<&'a str>,
}

impl<'a> Hashed<'a> {
    /// Hashes only.
    fn only(limit: u64) -> Self {
        Hashed {
            hash: Sha256::new(),
            taken: 0,
            limit,
            area: None,
            plain: None,
        }
    }

    /// Hashes and appends to `area`: its archive, or its plain file `plain`.
    fn to_area(limit: u64, area: &'a mut dyn super::WorkArea, plain: Option<&'a str>) -> Self {
        Hashed {
            area: Some(area),
            plain,
            ..Hashed::only(limit)
        }
    }

    fn digest(self) -> Sha256Hex {
        Sha256Hex::from_digest(&self.hash.finalize())
    }
}

impl PartSink for Hashed<'_> {
    fn take_part(&mut self, bytes: &[u8]) -> Result<()> {
        let room = usize::try_from(self.limit.saturating_sub(self.taken)).unwrap_or(usize::MAX);
        let keep = &bytes[..bytes.len().min(room)];
        self.taken += bytes.len() as u64;
        if keep.is_empty() {
            return Ok(());
        }
        self.hash.update(keep);
        match (self.area.as_deref_mut(), self.plain) {
            (Some(a), Some(p)) => a.append_plain(p, keep),
            (Some(a), None) => a.append_archive(keep),
            (None, _) => Ok(()),
        }
    }
}
