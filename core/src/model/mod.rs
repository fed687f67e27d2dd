//! What is inside a workspace: its trees rebuilt as RepTree does ([`crate::reptree`]),
//! and Sila's model on top (SILA-FORMAT.md §5.5, §6): the space's name, its chats
//! and their messages along the main branch, its files, and the references between
//! them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::entries::EntrySource;
use crate::error::Result;
use crate::inspect::Problem;
use crate::layout::EntryKind;
use crate::reptree::{RepTree, Vertex, NULL_VERTEX_ID};
use crate::space::space_id_from_json;

mod trees;
pub use trees::{
    load_tree, load_trees, open_trees, replay_each_tree, sila_tree_op, vertex_list, PropInfo,
    VertexInfo,
};

fn str_prop(v: Vertex<'_>, key: &str) -> Option<String> {
    serde_json::from_str::<String>(v.prop(key)?).ok()
}

fn u64_prop(v: Vertex<'_>, key: &str) -> Option<u64> {
    let n: f64 = serde_json::from_str(v.prop(key)?).ok()?;
    (n >= 0.0).then_some(n as u64)
}

/// A chat of the space: a `threads` entry and, if its ops exist, its tree.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[serde(rename_all = "camelCase")]
pub struct ChatInfo {
    /// The app tree id (`tid`).
    pub tree_id: String,
    /// The `threads` vertex that references it.
    pub thread_vertex: String,
    /// Title (the tree root's `name`, else the `threads` entry's).
    pub title: Option<String>,
    /// Message vertices under `messages`, every branch (what Sila loads; 0 when the
    /// tree has no ops).
    pub messages: u64,
    /// Messages along the main branch (what Sila shows).
    pub main_branch: u64,
    /// Whether the chat's tree has ops in the workspace (Sila loses some; see the
    /// fixtures README).
    pub has_ops: bool,
}

/// A message along a chat's main branch.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[serde(rename_all = "camelCase")]
pub struct MessageInfo {
    /// Vertex id.
    pub id: String,
    /// `user`, `assistant`, `error`, `tool`, `tool-results`.
    pub role: Option<String>,
    /// Markdown text (links to files as `fref:`).
    pub text: Option<String>,
    /// `_c`: when it was created (ISO 8601).
    pub created_at: Option<String>,
    /// Model that wrote it, if any (`modelProvider/modelId`).
    pub model: Option<String>,
    /// Attached files (`files` references, or the legacy `attachments`).
    pub files: Vec<FileRef>,
}

/// A reference from a message to a file vertex.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FileRef {
    /// Tree of the file vertex.
    pub tree: String,
    /// The file vertex.
    pub vertex: String,
}

/// A file vertex (or folder) in a chat's or the space's `assets`, or a files tree.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    /// Tree holding the vertex.
    pub tree_id: String,
    /// The vertex.
    pub vertex: String,
    /// Folder path inside the tree (`assets/sub`), names joined with `/`.
    pub folder: String,
    /// File name.
    pub name: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
    /// Size in bytes, as recorded.
    pub size: Option<u64>,
    /// SHA-256 of a CAS blob.
    pub hash: Option<String>,
    /// UUID of a mutable blob.
    pub mutable_id: Option<String>,
    /// Whether the blob it names is in the workspace.
    pub present: bool,
}

/// The space as Sila shows it.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[serde(rename_all = "camelCase")]
pub struct SpaceSummary {
    /// The id in `space.json`.
    pub space_id: Option<String>,
    /// The space tree root's `name`.
    pub name: Option<String>,
    /// Live chats (children of `threads`) in Sila's order.
    pub chats: Vec<ChatInfo>,
    /// Messages along the main branch of all chats.
    pub messages: u64,
    /// Live file vertices of every tree.
    pub files: Vec<FileInfo>,
    /// Odd references that Sila lives with (a chat without ops, a blob nothing uses).
    pub warnings: Vec<Problem>,
    /// References that are broken: a live file vertex whose blob is missing.
    pub errors: Vec<Problem>,
}

/// A workspace's trees and blobs, loaded once, to ask questions of.
pub struct SpaceModel {
    /// The id in `space.json`.
    pub space_id: Option<String>,
    /// Every tree with ops.
    pub trees: BTreeMap<String, RepTree>,
    /// CAS hashes present.
    pub static_files: BTreeSet<String>,
    /// Mutable ids present (as in the path: 32 hex, case kept).
    pub mutable_files: BTreeSet<String>,
}

impl SpaceModel {
    /// Loads every tree and the list of blobs: each tree from the snapshot the source
    /// keeps of it ([`open_trees`]), else replayed. Every tree is a read-only view
    /// ([`RepTree::is_snapshot`]): a replayed one is frozen as soon as it is rebuilt, so
    /// the model holds the trees' state, not their history.
    pub fn load(source: &mut dyn EntrySource) -> Result<Self> {
        Self::load_with(source, true)
    }

    /// [`SpaceModel::load`] with every tree replayed from its ops ([`load_trees`]),
    /// whatever snapshots the source keeps: what `verify` checks them against.
    pub fn load_replayed(source: &mut dyn EntrySource) -> Result<Self> {
        Self::load_with(source, false)
    }

    fn load_with(source: &mut dyn EntrySource, snapshots: bool) -> Result<Self> {
        let outline = source.outline()?;
        let mut model = SpaceModel {
            space_id: None,
            trees: BTreeMap::new(),
            static_files: BTreeSet::new(),
            mutable_files: BTreeSet::new(),
        };
        for e in &outline.entries {
            match &e.kind {
                EntryKind::StaticFile(h) => {
                    model.static_files.insert(h.as_str().to_string());
                }
                EntryKind::MutableFile(u) => {
                    model.mutable_files.insert(u.as_str().to_ascii_lowercase());
                }
                EntryKind::SpaceJson => {
                    let bytes = source.read_whole(e)?;
                    model.space_id = space_id_from_json(&bytes);
                }
                _ => {}
            }
        }
        model.trees = trees::trees_of_outline(source, outline, snapshots, true)?;
        Ok(model)
    }

    /// The space tree: the one `space.json` names, else the one whose root looks like
    /// a space (has `version`, no `appId`).
    pub fn space_tree(&self) -> Option<(&str, &RepTree)> {
        let looks_like_space = |t: &RepTree| {
            t.root()
                .is_some_and(|r| r.prop("version").is_some() && r.prop("appId").is_none())
        };
        if let Some(id) = &self.space_id {
            if let Some(t) = self.trees.get(id).filter(|t| looks_like_space(t)) {
                return Some((id.as_str(), t));
            }
        }
        self.trees
            .iter()
            .find(|(_, t)| looks_like_space(t))
            .map(|(id, t)| (id.as_str(), t))
    }

    /// The messages of a chat along its main branch (`ChatAppData.messageVertices`):
    /// from `messages`, each step takes the only child, else the child with
    /// `main: true`, else the first child.
    pub fn messages(&self, chat_tree: &str) -> Vec<MessageInfo> {
        self.trees
            .get(chat_tree)
            .map(|t| main_branch(t).into_iter().map(message_info).collect())
            .unwrap_or_default()
    }

    /// Every message vertex under a chat's `messages`, whatever its branch.
    pub fn message_count(&self, chat_tree: &str) -> u64 {
        let Some(tree) = self.trees.get(chat_tree) else {
            return 0;
        };
        let Some(start) = tree.vertex_by_path("messages") else {
            return 0;
        };
        // A vertex is in one children list only (its parent's), and walking down from
        // a vertex never comes back to it: the walk meets each descendant once.
        let mut stack = vec![start];
        let mut n = 0;
        while let Some(v) = stack.pop() {
            for c in v.child_vertices() {
                n += 1;
                stack.push(c);
            }
        }
        n
    }

    /// Live chats: the children of the space tree's `threads`, in Sila's order.
    pub fn chats(&self) -> Vec<ChatInfo> {
        let Some((_, space)) = self.space_tree() else {
            return Vec::new();
        };
        let Some(threads) = space.vertex_by_path("threads") else {
            return Vec::new();
        };
        space
            .children(threads.id())
            .into_iter()
            .filter_map(|v| {
                let tid = str_prop(v, "tid")?;
                let tree = self.trees.get(&tid);
                Some(ChatInfo {
                    title: tree
                        .and_then(|t| t.root())
                        .and_then(|r| str_prop(r, "name"))
                        .or_else(|| str_prop(v, "name")),
                    messages: self.message_count(&tid),
                    main_branch: tree.map_or(0, |t| main_branch(t).len() as u64),
                    has_ops: tree.is_some(),
                    thread_vertex: v.id().to_string(),
                    tree_id: tid,
                })
            })
            .collect()
    }

    /// Live file vertices: under `assets` of the space tree and of every app tree, and
    /// anywhere in a `files` app tree.
    pub fn files(&self) -> Vec<FileInfo> {
        let mut out = Vec::new();
        for (tree_id, tree) in &self.trees {
            let Some(root) = tree.root() else { continue };
            let is_files_app = str_prop(root, "appId").as_deref() == Some("files");
            let start = if is_files_app {
                Some((root, String::new()))
            } else {
                tree.vertex_by_path("assets")
                    .map(|a| (a, "assets".to_string()))
            };
            let Some((start, folder)) = start else {
                continue;
            };
            let mut stack = vec![(start, folder)];
            let mut seen = BTreeSet::new();
            while let Some((v, folder)) = stack.pop() {
                if !seen.insert(v.id()) {
                    continue;
                }
                for c in tree.children(v.id()).into_iter().rev() {
                    if c.prop("mimeType").is_some() || c.prop("hash").is_some() {
                        out.push(self.file_info(tree_id, c, &folder));
                    } else {
                        let name = str_prop(c, "name").unwrap_or_else(|| c.id().to_string());
                        let sub = if folder.ends_with(FOLDER_CUT) {
                            folder.clone()
                        } else if folder.len() + name.len() >= MAX_FOLDER_LEN {
                            format!("{folder}{FOLDER_CUT}")
                        } else if folder.is_empty() {
                            name
                        } else {
                            format!("{folder}/{name}")
                        };
                        stack.push((c, sub));
                    }
                }
            }
        }
        out
    }

    fn file_info(&self, tree_id: &str, v: Vertex<'_>, folder: &str) -> FileInfo {
        let hash = str_prop(v, "hash");
        let mutable_id = str_prop(v, "id");
        // FileResolver uses `hash ?? id`.
        let present = match (&hash, &mutable_id) {
            (Some(h), _) => self.static_files.contains(h),
            (None, Some(u)) => {
                let u: String = u.chars().filter(|c| *c != '-').collect();
                self.mutable_files.contains(&u.to_ascii_lowercase())
            }
            (None, None) => false,
        };
        FileInfo {
            tree_id: tree_id.to_string(),
            vertex: v.id().to_string(),
            folder: folder.to_string(),
            name: str_prop(v, "name"),
            mime_type: str_prop(v, "mimeType"),
            size: u64_prop(v, "size"),
            hash,
            mutable_id,
            present,
        }
    }

    /// The space as Sila shows it, with reference checks.
    pub fn summary(&self) -> SpaceSummary {
        let chats = self.chats();
        let files = self.files();
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        if self.space_tree().is_none() {
            warnings.push(problem(
                "NoSpaceTree",
                None,
                "no tree looks like a space tree (root with `version`, no `appId`)".into(),
            ));
        }
        for c in chats.iter().filter(|c| !c.has_ops) {
            warnings.push(problem("ChatTreeMissing", None, format!(
                "chat {:?} (threads vertex {}) names tree {}, which has no ops; Sila cannot open it",
                c.title.as_deref().unwrap_or(""),
                c.thread_vertex,
                c.tree_id
            )));
        }
        for f in files.iter().filter(|f| !f.present) {
            let what = match (&f.hash, &f.mutable_id) {
                (Some(h), _) => format!("CAS file {h}"),
                (None, Some(u)) => format!("mutable file {u}"),
                (None, None) => "no blob (neither hash nor id)".into(),
            };
            errors.push(problem(
                "MissingBlob",
                None,
                format!(
                    "file {:?} (vertex {} in tree {}) names {what}, which is not in the workspace",
                    f.name.as_deref().unwrap_or(""),
                    f.vertex,
                    f.tree_id
                ),
            ));
        }
        // Blobs nothing references (any vertex of any tree, live or deleted).
        let mut referenced_hashes = BTreeSet::new();
        let mut referenced_ids = BTreeSet::new();
        for tree in self.trees.values() {
            for v in tree.vertices() {
                for key in ["hash", "originalHash"] {
                    if let Some(h) = str_prop(v, key) {
                        referenced_hashes.insert(h);
                    }
                }
                if let Some(u) = str_prop(v, "id") {
                    let u: String = u.chars().filter(|c| *c != '-').collect();
                    referenced_ids.insert(u.to_ascii_lowercase());
                }
            }
        }
        for h in self.static_files.difference(&referenced_hashes) {
            let path = EntryKind::StaticFile(
                crate::ids::Sha256Hex::new(h).unwrap_or_else(|_| crate::ids::Sha256Hex::of(b"")),
            )
            .path();
            warnings.push(problem(
                "UnreferencedBlob",
                Some(path),
                "no vertex of any tree references this CAS file".into(),
            ));
        }
        for u in self.mutable_files.difference(&referenced_ids) {
            warnings.push(problem(
                "UnreferencedBlob",
                None,
                format!("no vertex of any tree references mutable file {u}"),
            ));
        }
        // Message attachments that point nowhere.
        for c in &chats {
            let Some(tree) = self.trees.get(&c.tree_id) else {
                continue;
            };
            for m in main_branch(tree) {
                for r in &message_files(m) {
                    let ok = self
                        .trees
                        .get(&r.tree)
                        .and_then(|t| t.vertex(&r.vertex))
                        .is_some();
                    if !ok {
                        warnings.push(problem("DanglingFileRef", None, format!(
                            "message {} in chat {} attaches vertex {} of tree {}, which does not exist",
                            m.id(), c.tree_id, r.vertex, r.tree
                        )));
                    }
                }
            }
        }
        SpaceSummary {
            space_id: self.space_id.clone(),
            name: self
                .space_tree()
                .and_then(|(_, t)| t.root())
                .and_then(|r| str_prop(r, "name")),
            messages: chats.iter().map(|c| c.messages).sum(),
            chats,
            files,
            warnings,
            errors,
        }
    }
}

fn problem(code: &str, path: Option<String>, message: String) -> Problem {
    Problem {
        code: code.to_string(),
        path,
        message,
    }
}

/// The message vertices of a chat tree along its main branch (see
/// [`SpaceModel::messages`]). A vertex with one child needs no sorting.
fn main_branch(tree: &RepTree) -> Vec<Vertex<'_>> {
    let Some(mut current) = tree.vertex_by_path("messages") else {
        return Vec::new();
    };
    // Each step goes down to a child, so the chain never comes back to a vertex.
    let mut out = Vec::new();
    loop {
        let mut kids = current.child_vertices();
        let next = match (kids.next(), kids.next()) {
            (None, _) => break,
            (Some(one), None) => one,
            _ => {
                let children = tree.children(current.id());
                match children.iter().find(|c| c.prop("main") == Some("true")) {
                    Some(main) => *main,
                    None => children[0],
                }
            }
        };
        out.push(next);
        current = next;
    }
    out
}

/// The files a message attaches: its `files` references, else its `attachments`'
/// files.
fn message_files(v: Vertex<'_>) -> Vec<FileRef> {
    #[derive(serde::Deserialize)]
    struct Ref {
        tree: String,
        vertex: String,
    }
    #[derive(serde::Deserialize)]
    struct Attachment {
        file: Option<Ref>,
    }
    let files: Vec<FileRef> = v
        .prop("files")
        .and_then(|raw| serde_json::from_str::<Vec<Ref>>(raw).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|r| FileRef {
            tree: r.tree,
            vertex: r.vertex,
        })
        .collect();
    if !files.is_empty() {
        return files;
    }
    v.prop("attachments")
        .and_then(|raw| serde_json::from_str::<Vec<Attachment>>(raw).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| a.file)
        .map(|r| FileRef {
            tree: r.tree,
            vertex: r.vertex,
        })
        .collect()
}

fn message_info(v: Vertex<'_>) -> MessageInfo {
    let files = message_files(v);
    let model = match (str_prop(v, "modelProvider"), str_prop(v, "modelId")) {
        (Some(p), Some(m)) => Some(format!("{p}/{m}")),
        (None, Some(m)) => Some(m),
        _ => None,
    };
    MessageInfo {
        id: v.id().to_string(),
        role: str_prop(v, "role"),
        text: str_prop(v, "text"),
        created_at: str_prop(v, "_c"),
        model,
        files,
    }
}

/// Longest folder path [`SpaceModel::files`] spells out: deeper folders end in
/// [`FOLDER_CUT`], so a chain of thousands of nested folders costs no O(depth²).
pub const MAX_FOLDER_LEN: usize = 1024;

/// The end of a folder path cut at [`MAX_FOLDER_LEN`].
pub const FOLDER_CUT: &str = "/…";

/// Whether a vertex is live: reachable from the root without passing the null vertex.
pub fn is_live(tree: &RepTree, id: &str) -> bool {
    let Some(root) = tree.root() else {
        return false;
    };
    let mut cur = tree.vertex(id);
    let mut steps = 0;
    while let Some(v) = cur {
        if v.id() == root.id() {
            return true;
        }
        if v.id() == NULL_VERTEX_ID || steps > tree.vertex_count() {
            return false;
        }
        steps += 1;
        cur = v.parent().and_then(|p| tree.vertex(p));
    }
    false
}
