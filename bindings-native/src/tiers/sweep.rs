//! Sweeping: archive every active space idle for long enough. A space that cannot be
//! read (malformed metadata, a listing that fails) or archived is reported in the
//! summary, and the sweep goes on with the others.

use std::collections::BTreeMap;

use futures::StreamExt;
use object_store::ObjectStore;
use serde::Serialize;
use sila_store_core::Result;

use super::{backend, now_ms, Tier, TierMetadata, TierStore};

/// What the store says of one space: its metadata (`None`: active objects without
/// metadata), or why it could not be read.
type SpaceState = Result<Option<TierMetadata>>;

impl TierStore {
    /// Every space the store knows: by metadata, and by active objects without one.
    /// Fails on the first metadata object that cannot be read (see
    /// [`TierStore::sweep`], which reports such spaces and goes on).
    pub async fn spaces(&self) -> Result<BTreeMap<String, Option<TierMetadata>>> {
        self.space_states()
            .await?
            .into_iter()
            .map(|(id, m)| m.map(|m| (id, m)))
            .collect()
    }

    /// Every space the store knows, each with its metadata or the error reading it.
    async fn space_states(&self) -> Result<BTreeMap<String, SpaceState>> {
        let mut out = BTreeMap::new();
        for m in self.list_keys(&self.key("metadata")).await? {
            let name = m.location.filename().unwrap_or_default();
            if let Some(id) = name.strip_suffix(".json") {
                match self.read_metadata(id).await {
                    Ok(Some((meta, _))) => {
                        out.insert(id.to_string(), Ok(Some(meta)));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        out.insert(id.to_string(), Err(e));
                    }
                }
            }
        }
        let active = self
            .store
            .list_with_delimiter(Some(&self.key("active")))
            .await
            .map_err(backend)?;
        for p in active.common_prefixes {
            if let Some(id) = p.filename() {
                out.entry(id.to_string()).or_insert(Ok(None));
            }
        }
        Ok(out)
    }

    /// Archives every active space idle for more than `inactive_days` (last activity
    /// from its metadata, else its newest object), `concurrency` at a time. A space
    /// whose metadata cannot be read, or whose archive fails, is `failed: …` in the
    /// summary; the others are still swept.
    pub async fn sweep(
        &self,
        inactive_days: u64,
        dry_run: bool,
        concurrency: usize,
    ) -> Result<Vec<SweepItem>> {
        let cutoff = now_ms().saturating_sub(inactive_days * 86_400_000);
        let mut candidates = Vec::new();
        let mut items = Vec::new();
        for (id, meta) in self.space_states().await? {
            let meta = match meta {
                Ok(m) => m,
                Err(e) => {
                    items.push(SweepItem::new(&id, &format!("failed: {e}"), None));
                    continue;
                }
            };
            let last = match &meta {
                Some(m) if m.tier == Tier::Archived => {
                    items.push(SweepItem::new(
                        &id,
                        "already archived",
                        Some(m.last_activity_ms),
                    ));
                    continue;
                }
                Some(m) => m.last_activity_ms,
                None => match self.list_keys(&self.key(&format!("active/{id}"))).await {
                    Ok(objects) => objects
                        .iter()
                        .map(|o| o.last_modified.timestamp_millis().max(0) as u64)
                        .max()
                        .unwrap_or(0),
                    Err(e) => {
                        items.push(SweepItem::new(&id, &format!("failed: {e}"), None));
                        continue;
                    }
                },
            };
            if last > cutoff {
                items.push(SweepItem::new(&id, "active (recent)", Some(last)));
            } else if meta.is_none() {
                items.push(SweepItem::new(
                    &id,
                    "skipped: no metadata (push it once to index it)",
                    Some(last),
                ));
            } else if dry_run {
                items.push(SweepItem::new(&id, "would archive", Some(last)));
            } else {
                candidates.push((id, last));
            }
        }
        let done: Vec<SweepItem> =
            futures::stream::iter(candidates.into_iter().map(|(id, last)| async move {
                match self.archive(&id).await {
                    Ok(_) => SweepItem::new(&id, "archived", Some(last)),
                    Err(e) => SweepItem::new(&id, &format!("failed: {e}"), Some(last)),
                }
            }))
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        items.extend(done);
        items.sort_by(|a, b| a.space_id.cmp(&b.space_id));
        Ok(items)
    }
}

/// One line of a sweep's summary.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SweepItem {
    /// The space.
    pub space_id: String,
    /// What happened.
    pub outcome: String,
    /// Its last activity (Unix ms), if known.
    pub last_activity_ms: Option<u64>,
}

impl SweepItem {
    fn new(id: &str, outcome: &str, last: Option<u64>) -> Self {
        SweepItem {
            space_id: id.into(),
            outcome: outcome.into(),
            last_activity_ms: last,
        }
    }
}
