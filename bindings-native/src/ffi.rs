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
use sila_store_core::storage::{ArchiveReport, SpaceStorage};

use crate::fs_store::FsStore;
use sila_store_core::Error;

use crate::workspace::{self, ConvertOptions, ConvertReport, Format};

/// Declares [`SilaStoreError`] with one variant per stable code of the core's errors.
macro_rules! sila_store_error {
    ($($code:ident: $doc:literal),* $(,)?) => {
        /// Everything that can go wrong: one variant per stable code of the core
        /// (`sila_store_core::Error::code`), each with that `code` and a message, so
        /// a host catches exactly the problem it handles.
        #[derive(Debug, thiserror::Error, uniffi::Error)]
        pub enum SilaStoreError {
            $(
                #[doc = $doc]
                #[error("{code}: {message}")]
                $code {
                    /// The stable code (the variant's name).
                    code: String,
                    /// What is wrong, for a person.
                    message: String,
                },
            )*
        }

        impl SilaStoreError {
            /// The variant of a stable code (`Backend` for a code this build does not
            /// know).
            fn of_code(code: &str, message: String) -> Self {
                match code {
                    $(stringify!($code) => SilaStoreError::$code { code: code.into(), message },)*
                    _ => SilaStoreError::Backend { code: code.into(), message },
                }
            }
        }
    };
}

sila_store_error! {
    InvalidId: "An id (tree, peer, vertex, hash, UUID) that is not well formed.",
    UnsafePath: "A path that would leave the workspace.",
    InvalidUtf8: "An ops line that is not UTF-8.",
    HashMismatch: "Bytes whose SHA-256 is not the one promised.",
    SizeMismatch: "Bytes whose size is not the one declared.",
    UnsupportedVersion: "An archive from a newer sila-store.",
    NotAnArchive: "A file that is not an archive of the format it claims.",
    Corrupt: "An archive that is damaged or holds what this version does not write.",
    NotAWorkspace: "A folder or archive without a workspace in it.",
    DuplicateEntry: "Two entries of an archive with one path.",
    NotFound: "Something asked for that does not exist (a path, a file, a tree).",
    AlreadyExists: "A destination exists and `force` was not given.",
    Conflict: "Another writer changed the workspace meanwhile; nothing of this call was kept half-done: run it again.",
    Cancelled: "The caller cancelled the call; nothing it was writing was kept.",
    Secrets: "The `secrets` file does not decrypt.",
    InvalidArgument: "An argument this call cannot take (an op Sila could not read back, a write to an archive file).",
    Io: "Reading or writing the filesystem failed.",
    Sqlite: "SQLite failed.",
    Backend: "A store (object storage) failed.",
}

impl From<Error> for SilaStoreError {
    fn from(e: Error) -> Self {
        // A path that does not exist is `NotFound`, whichever call found out.
        let code = match &e {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => "NotFound",
            e => e.code(),
        };
        SilaStoreError::of_code(code, e.to_string())
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

    /// `plain`, `sqlite` or `zip`: how the workspace is kept now (a folder archived
    /// in place is `sqlite`).
    pub fn format(&self) -> Result<String> {
        let format = match Format::detect(&self.path)? {
            Format::Plain if workspace::archived_in_place(&self.path).is_some() => Format::Sqlite,
            f => f,
        };
        Ok(format.name().to_string())
    }

    /// Keeps this folder's workspace as one SQLite archive in the folder
    /// (`sila-store-archive.sqlite`), crash-safe: the archive is built and verified,
    /// written, read back, and only then are the plain files deleted; running it again
    /// after a crash finishes the job. Every read works on the archived folder; the
    /// first write unarchives it.
    pub fn archive(&self, progress: Option<Arc<dyn ProgressListener>>) -> Result<ArchiveReport> {
        let mut f = progress_fn(&progress);
        let engine = self.engine()?;
        Ok(block_on(engine.archive(&mut f))?)
    }

    /// Keeps this folder's workspace as plain files again (every file written, read
    /// back by SHA-256, then the archive deleted); crash-safe like `archive`.
    pub fn unarchive(&self, progress: Option<Arc<dyn ProgressListener>>) -> Result<ArchiveReport> {
        let mut f = progress_fn(&progress);
        let engine = self.engine()?;
        Ok(block_on(engine.unarchive(&mut f))?)
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
        if t.vertex_count() == 0 {
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
        let e = Arc::new(SpaceStorage::with_host(
            FsStore::new(root),
            crate::tiers::NativeHost,
        ));
        *slot = Some(e.clone());
        Ok(e)
    }

    fn writable_root(&self) -> Result<PathBuf> {
        match Format::detect(&self.path)? {
            Format::Plain if workspace::archived_in_place(&self.path).is_some() => {
                Ok(self.path.clone())
            }
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
