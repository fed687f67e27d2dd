//! The UniFFI surface (Kotlin, Swift, Python): one `Workspace` object over a path, two
//! free functions, and one error enum. The records (`WorkspaceInfo`, `VerifyReport`,
//! `Operation`, …) are the core's own types, exported by derives in the core.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::executor::block_on;
use sila_store_core::entries::{read_entry, Operation, Progress};
use sila_store_core::ids::{Day, MutableId, Sha256Hex, TreeId};
use sila_store_core::inspect::{self, VerifyReport, WorkspaceInfo};
use sila_store_core::layout::EntryKind;
use sila_store_core::model::{
    load_tree, vertex_list, MessageInfo, SpaceModel, SpaceSummary, VertexInfo,
};
use sila_store_core::ops::wire::WireOp;
use sila_store_core::reptree::TreeOp;
use sila_store_core::storage::SpaceStorage;

use crate::fs_store::FsStore;
use sila_store_core::Error;

use crate::workspace::{self, ConvertOptions, ConvertReport, Format};

/// Everything that can go wrong, one variant per kind of problem a caller handles
/// differently. Each carries the stable `code` of the core error and a message.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum SilaStoreError {
    /// Input that is not what it should be: a malformed id, line, date, archive.
    #[error("{code}: {message}")]
    BadInput {
        /// Stable code (`InvalidId`, `Corrupt`, `NotAnArchive`, …).
        code: String,
        /// What is wrong.
        message: String,
    },
    /// Bytes whose hash or size is not the one promised.
    #[error("{code}: {message}")]
    HashMismatch {
        /// `HashMismatch` or `SizeMismatch`.
        code: String,
        /// What is wrong.
        message: String,
    },
    /// An archive from a newer sila-store.
    #[error("{code}: {message}")]
    UnsupportedVersion {
        /// `UnsupportedVersion`.
        code: String,
        /// What is wrong.
        message: String,
    },
    /// A path that would escape the workspace.
    #[error("{code}: {message}")]
    UnsafePath {
        /// `UnsafePath`.
        code: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing failed.
    #[error("{code}: {message}")]
    Io {
        /// `Io` or `Sqlite`.
        code: String,
        /// What is wrong.
        message: String,
    },
    /// Something asked for does not exist.
    #[error("{code}: {message}")]
    NotFound {
        /// `NotFound`.
        code: String,
        /// What is wrong.
        message: String,
    },
    /// Another writer changed the workspace or space meanwhile; nothing of this call
    /// was kept half-done: run it again.
    #[error("{code}: {message}")]
    Conflict {
        /// `Conflict`.
        code: String,
        /// What changed.
        message: String,
    },
    /// A destination exists and `force` was not given.
    #[error("{code}: {message}")]
    AlreadyExists {
        /// `AlreadyExists`.
        code: String,
        /// What is wrong.
        message: String,
    },
}

impl From<Error> for SilaStoreError {
    fn from(e: Error) -> Self {
        let code = e.code().to_string();
        let message = e.to_string();
        match e {
            Error::HashMismatch { .. } | Error::SizeMismatch { .. } => {
                SilaStoreError::HashMismatch { code, message }
            }
            Error::UnsupportedVersion { .. } => {
                SilaStoreError::UnsupportedVersion { code, message }
            }
            Error::UnsafePath { .. } => SilaStoreError::UnsafePath { code, message },
            Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                SilaStoreError::NotFound { code, message }
            }
            Error::Io { .. } | Error::Sqlite(_) | Error::Backend(_) => {
                SilaStoreError::Io { code, message }
            }
            Error::NotFound(_) => SilaStoreError::NotFound { code, message },
            Error::AlreadyExists(_) => SilaStoreError::AlreadyExists { code, message },
            Error::Conflict(_) => SilaStoreError::Conflict { code, message },
            _ => SilaStoreError::BadInput { code, message },
        }
    }
}

pub(crate) type Result<T, E = SilaStoreError> = std::result::Result<T, E>;

/// Receives progress of long calls (convert, verify). Implement it in the host
/// language; calls come from the thread that runs the operation.
#[uniffi::export(foreign)]
pub trait ProgressListener: Send + Sync {
    /// `done` of `total` bytes in `phase` (`converting`, `verifying`).
    fn on_progress(&self, phase: String, done: u64, total: u64);
}

fn progress_fn(listener: &Option<Arc<dyn ProgressListener>>) -> impl FnMut(Progress<'_>) + '_ {
    move |p: Progress<'_>| {
        if let Some(l) = listener {
            l.on_progress(p.phase.to_string(), p.done, p.total);
        }
    }
}

/// An op to append with [`Workspace::put_operation`].
#[derive(Clone, Debug, uniffi::Enum)]
pub enum OperationInput {
    /// Move `target` under `parent` (`None` = a root); `parent` `"0"` deletes.
    Move {
        /// Lamport counter.
        counter: u64,
        /// Vertex.
        target: String,
        /// New parent.
        parent: Option<String>,
    },
    /// Set property `key` of `target` to `value_json` (JSON text, written as given;
    /// `{}` deletes).
    Set {
        /// Lamport counter.
        counter: u64,
        /// Vertex.
        target: String,
        /// Property.
        key: String,
        /// The value as JSON text, the way `JSON.stringify` writes it.
        value_json: String,
    },
}

/// A workspace at a path: a folder (read and write), a SQLite or ZIP archive (read).
#[derive(uniffi::Object)]
pub struct Workspace {
    path: PathBuf,
    /// The storage engine of a folder, made on the first write.
    engine: Mutex<Option<Arc<SpaceStorage<FsStore>>>>,
}

#[uniffi::export]
impl Workspace {
    /// Opens the workspace at `path`: an existing folder, `*.db`/`*.sqlite` or
    /// `*.zip`. A folder that does not exist yet may be opened to `import_zip` into it.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Self>> {
        let path = PathBuf::from(path);
        if path.exists() {
            Format::detect(&path)?;
        }
        Ok(Arc::new(Workspace {
            path,
            engine: Mutex::new(None),
        }))
    }

    /// `plain`, `sqlite` or `zip`.
    pub fn format(&self) -> Result<String> {
        Ok(Format::detect(&self.path)?.name().to_string())
    }

    /// Space id, name, trees, ops, peers, days, files and sizes.
    pub fn info(&self) -> Result<WorkspaceInfo> {
        Ok(workspace::with_source(&self.path, inspect::info)?)
    }

    /// Checks everything that can be checked; problems are in the report.
    pub fn verify(&self, progress: Option<Arc<dyn ProgressListener>>) -> Result<VerifyReport> {
        let mut f = progress_fn(&progress);
        Ok(workspace::with_source(&self.path, |s| {
            Ok(inspect::verify(s, &mut f))
        })?)
    }

    /// Writes this workspace to `path` in the format its name asks for, verified
    /// before it is moved into place.
    pub fn convert_to(
        &self,
        path: String,
        force: bool,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<ConvertReport> {
        let mut f = progress_fn(&progress);
        Ok(workspace::convert(
            &self.path,
            Path::new(&path),
            ConvertOptions { force },
            &mut f,
        )?)
    }

    /// The ops of a tree stored in day folders `from..=to` (`YYYY-MM-DD`, optional),
    /// as the exact lines Sila wrote.
    pub fn get_operations(
        &self,
        tree_id: String,
        from: Option<String>,
        to: Option<String>,
    ) -> Result<Vec<Operation>> {
        let tree = TreeId::new(&tree_id)?;
        let from = from.as_deref().map(Day::parse).transpose()?;
        let to = to.as_deref().map(Day::parse).transpose()?;
        Ok(workspace::with_source(&self.path, |s| {
            s.get_operations(&tree, from, to)
        })?)
    }

    /// Stores one op of `tree_id` written by `peer_id` as Sila does: the exact line
    /// `JSON.stringify` gives (a `Set` value's JSON text is re-read and written the
    /// way JavaScript writes it), appended to that peer's ops file of `day`
    /// (`YYYY-MM-DD`, default today in UTC), after a newline if the file lacks its
    /// last one. An op already stored (same peer and counter, on any day) is not
    /// written again: `None`. Folders only.
    pub fn put_operation(
        &self,
        tree_id: String,
        peer_id: String,
        op: OperationInput,
        day: Option<String>,
    ) -> Result<Option<Operation>> {
        let tree = TreeId::new(&tree_id)?;
        let day = match day {
            Some(d) => Day::parse(&d)?,
            None => today(),
        };
        let op = tree_op(&peer_id, &op)?;
        let engine = self.engine()?;
        let mut written = block_on(engine.put_operations(&tree, &[op], day))?;
        Ok(written.pop())
    }

    /// The seed's `syncWorkspace` for one tree of this folder: stores the client's ops
    /// (`client_ops_json`, a JSON array of Sila wire ops) the workspace lacks in
    /// today's (UTC) day files, as Sila writes them, and returns the ops the client
    /// lacks (not sent, not covered by `state_vector_json`, `{"peer": [[start, end],
    /// …]}`) as a JSON array whose values are the stored text. Folders only.
    pub fn sync_tree(
        &self,
        tree_id: String,
        client_ops_json: String,
        state_vector_json: Option<String>,
    ) -> Result<String> {
        let tree = TreeId::new(&tree_id)?;
        let ops = sila_store_core::ops::wire::from_json(&client_ops_json)?;
        let state: Option<sila_store_core::storage::StateVector> = state_vector_json
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| Error::InvalidArgument(format!("state vector: {e}")))?;
        let engine = self.engine()?;
        let missing = block_on(engine.sync_tree(&tree, &ops, state.as_ref(), today()))?;
        Ok(sila_store_core::ops::wire::to_json(&missing)?)
    }

    /// Stores `bytes` as a CAS file (`files/static/sha256/…`) and returns its hash.
    /// Writing is atomic and skipped when the file exists. Folders only.
    pub fn put_file(&self, bytes: Vec<u8>) -> Result<String> {
        let engine = self.engine()?;
        Ok(block_on(engine.put_file(bytes))?.as_str().to_string())
    }

    /// The bytes of a file by its SHA-256 (CAS) or its UUID (mutable, with or without
    /// dashes), from any format. CAS bytes are checked against their hash.
    pub fn get_file(&self, id: String) -> Result<Vec<u8>> {
        let kind = if id.len() == 64 {
            EntryKind::StaticFile(Sha256Hex::new(&id)?)
        } else {
            EntryKind::MutableFile(MutableId::from_uuid(&id)?)
        };
        Ok(workspace::with_source(&self.path, |s| {
            read_entry(s, &kind)?.ok_or_else(|| Error::NotFound(kind.path()))
        })?)
    }

    /// The space as Sila shows it: name, chats with message counts, files, and the
    /// reference checks (trees rebuilt exactly as RepTree does).
    pub fn show(&self) -> Result<SpaceSummary> {
        Ok(workspace::with_source(&self.path, |s| {
            Ok(SpaceModel::load(s)?.summary())
        })?)
    }

    /// The messages of a chat (its tree id) along the main branch, as Sila shows them.
    pub fn chat_messages(&self, chat_tree_id: String) -> Result<Vec<MessageInfo>> {
        let model = workspace::with_source(&self.path, SpaceModel::load)?;
        if !model.trees.contains_key(&chat_tree_id) {
            return Err(Error::NotFound(format!("chat tree {chat_tree_id}")).into());
        }
        Ok(model.messages(&chat_tree_id))
    }

    /// Every vertex of a tree, rebuilt as RepTree does, in creation order.
    pub fn tree(&self, tree_id: String) -> Result<Vec<VertexInfo>> {
        let id = TreeId::new(&tree_id)?;
        let t = workspace::with_source(&self.path, |s| load_tree(s, &id))?;
        if t.vertices().is_empty() {
            return Err(Error::NotFound(format!("tree {tree_id} has no ops")).into());
        }
        Ok(vertex_list(&t))
    }

    /// Writes this workspace as a ZIP archive at `path` (must end in `.zip`).
    pub fn export_zip(&self, path: String, force: bool) -> Result<ConvertReport> {
        if Format::for_destination(Path::new(&path)) != Format::Zip {
            return Err(Error::InvalidArgument(format!("{path} does not end in .zip")).into());
        }
        self.convert_to(path, force, None)
    }

    /// Replaces this workspace (a folder) with the contents of the ZIP archive at
    /// `path`, verified before it is moved into place. The folder may not exist yet.
    pub fn import_zip(
        &self,
        path: String,
        progress: Option<Arc<dyn ProgressListener>>,
    ) -> Result<ConvertReport> {
        if Format::for_destination(&self.path) != Format::Plain {
            return Err(Error::InvalidArgument(format!(
                "{} is an archive; import into a folder",
                self.path.display()
            ))
            .into());
        }
        if Format::detect(Path::new(&path))? != Format::Zip {
            return Err(Error::NotAnArchive {
                format: "ZIP",
                reason: format!("{path} is not a ZIP file"),
            }
            .into());
        }
        let mut f = progress_fn(&progress);
        // The folder is replaced: what the engine knew of it is stale.
        *self
            .engine
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        Ok(workspace::convert(
            Path::new(&path),
            &self.path,
            ConvertOptions { force: true },
            &mut f,
        )?)
    }
}

impl Workspace {
    /// The storage engine over this folder (one per root, so its dedup index lives as
    /// long as the object).
    fn engine(&self) -> Result<Arc<SpaceStorage<FsStore>>> {
        let root = self.writable_root()?;
        let mut slot = self
            .engine
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = slot.as_ref().filter(|e| e.store().root() == root) {
            return Ok(e.clone());
        }
        let e = Arc::new(SpaceStorage::new(FsStore::new(root)));
        *slot = Some(e.clone());
        Ok(e)
    }

    fn writable_root(&self) -> Result<PathBuf> {
        match Format::detect(&self.path)? {
            Format::Plain => Ok(crate::fs::PlainSource::open(&self.path)?
                .root()
                .to_path_buf()),
            other => Err(Error::InvalidArgument(format!(
                "{} is a {} archive, which is read-only here: convert it to a folder to write",
                self.path.display(),
                other.name()
            ))
            .into()),
        }
    }
}

/// Today's UTC day.
fn today() -> Day {
    Day::from_unix_seconds((crate::tiers::now_ms() / 1000) as i64)
}

/// The op a host hands over, as the engine takes it (a `Set` value in the text
/// `JSON.stringify` writes for it; `{}` stays a deletion).
fn tree_op(peer: &str, op: &OperationInput) -> Result<TreeOp> {
    let wire = match op {
        OperationInput::Move {
            counter,
            target,
            parent,
        } => WireOp::mv(*counter, peer, target, parent.as_deref()),
        OperationInput::Set {
            counter,
            target,
            key,
            value_json,
        } => WireOp::set(*counter, peer, target, key, Some(value_json))?,
    };
    Ok(wire.to_tree_op()?)
}

/// Converts the workspace at `src` to `dst` (format from the name), verified before
/// it is moved into place; `force` replaces an existing `dst`.
#[uniffi::export]
pub fn convert(src: String, dst: String, force: bool) -> Result<ConvertReport> {
    Ok(workspace::convert(
        Path::new(&src),
        Path::new(&dst),
        ConvertOptions { force },
        &mut |_| {},
    )?)
}

/// Checks the workspace at `path` (any format).
#[uniffi::export]
pub fn verify(path: String) -> Result<VerifyReport> {
    Ok(workspace::with_source(Path::new(&path), |s| {
        Ok(inspect::verify(s, &mut |_| {}))
    })?)
}
