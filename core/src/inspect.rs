//! `info` and `verify`: one pass over a workspace in any format.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use serde::Serialize;

use crate::entries::{transfer, Content, EntryMeta, EntrySink, EntrySource, Progress};
use crate::error::{Error, Result};
use crate::layout::EntryKind;
use crate::ops::{parse_line, OpLine};
use crate::space::{space_id_from_json, RootProps};

/// A summary of one tree.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[serde(rename_all = "camelCase")]
pub struct TreeInfo {
    /// Tree id.
    pub id: String,
    /// Op lines stored for it.
    pub ops: u64,
    /// Root `appId` (`default-chat`, `files`), none for the space tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Root `name` (space name or chat title).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What is in a workspace.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceInfo {
    /// `plain`, `sqlite` or `zip`.
    pub format: String,
    /// The id in `space.json`.
    pub space_id: Option<String>,
    /// The space tree root's `name`.
    pub space_name: Option<String>,
    /// Trees with ops.
    pub trees: Vec<TreeInfo>,
    /// Ops files.
    pub ops_files: u64,
    /// Op lines in all.
    pub ops: u64,
    /// Move ops.
    pub moves: u64,
    /// Property ops.
    pub props: u64,
    /// Lines kept verbatim (odd spacing, not JSON).
    pub raw_lines: u64,
    /// Distinct peers.
    pub peers: u64,
    /// Distinct day folders, `YYYY-MM-DD`, sorted.
    pub days: Vec<String>,
    /// CAS files and their bytes.
    pub static_files: u64,
    /// Bytes of CAS files.
    pub static_bytes: u64,
    /// Mutable files.
    pub mutable_files: u64,
    /// Bytes of mutable files.
    pub mutable_bytes: u64,
    /// Whether there is a `secrets` file.
    pub has_secrets: bool,
    /// Paths not part of Sila's layout (carried verbatim).
    pub other_files: Vec<String>,
    /// All files.
    pub files: u64,
    /// Bytes of all files.
    pub total_bytes: u64,
}

/// One problem found by `verify`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Problem {
    /// A stable code ([`Error::code`] for errors, a warning name otherwise).
    pub code: String,
    /// The file concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What is wrong, for a person.
    pub message: String,
}

impl Problem {
    fn from_error(e: &Error, path: Option<&str>) -> Self {
        Problem {
            code: e.code().to_string(),
            path: path.map(str::to_string),
            message: e.to_string(),
        }
    }
}

/// The result of `verify`: errors make it fail, warnings do not.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// True when there are no errors.
    pub ok: bool,
    /// Files read and checked.
    pub files_checked: u64,
    /// Bytes read and checked.
    pub bytes_checked: u64,
    /// What makes the workspace wrong.
    pub errors: Vec<Problem>,
    /// What is odd but as Sila may have written it.
    pub warnings: Vec<Problem>,
    /// The summary gathered on the way.
    pub info: WorkspaceInfo,
}

#[derive(Default)]
struct Gather {
    info: WorkspaceInfo,
    peers: BTreeSet<String>,
    days: BTreeSet<String>,
    trees: BTreeMap<String, (u64, RootProps)>,
    space_json: Option<Vec<u8>>,
    secrets: Option<Vec<u8>>,
    warnings: Vec<Problem>,
}

const SMALL: u64 = 16 << 20;

impl EntrySink for Gather {
    fn put(&mut self, entry: &EntryMeta, content: Content<'_>) -> Result<()> {
        match (&entry.kind, content) {
            (EntryKind::OpsFile(key), Content::Ops { text, .. }) => {
                let tree = key.tree.as_str();
                let slot = self.trees.entry(tree.to_string()).or_default();
                for (i, line) in text.lines.iter().enumerate() {
                    slot.0 += 1;
                    match parse_line(line, key.kind) {
                        OpLine::Move { .. } => self.info.moves += 1,
                        OpLine::Prop {
                            counter,
                            target,
                            key: k,
                            value,
                        } => {
                            self.info.props += 1;
                            if target == tree {
                                slot.1.apply(k, value, counter, key.peer.as_str());
                            }
                        }
                        OpLine::Raw(raw) => {
                            self.info.raw_lines += 1;
                            if serde_json::from_str::<serde::de::IgnoredAny>(raw).is_err()
                                && !raw.trim().is_empty()
                            {
                                self.warnings.push(Problem {
                                    code: "InvalidOpLine".into(),
                                    path: Some(entry.path.clone()),
                                    message: format!(
                                        "line {} is not JSON; Sila skips it (kept as is)",
                                        i + 1
                                    ),
                                });
                            }
                        }
                    }
                }
                self.info.ops += text.lines.len() as u64;
                self.info.ops_files += 1;
                self.peers.insert(key.peer.as_str().to_string());
                self.days.insert(key.day.to_string());
            }
            (kind, Content::Stream(r))
                if matches!(kind, EntryKind::SpaceJson | EntryKind::Secrets) =>
            {
                let mut bytes = Vec::new();
                r.take(SMALL)
                    .read_to_end(&mut bytes)
                    .map_err(|e| Error::io(&entry.path, e))?;
                if matches!(kind, EntryKind::SpaceJson) {
                    self.space_json = Some(bytes);
                } else {
                    self.secrets = Some(bytes);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

impl Gather {
    fn count(&mut self, e: &EntryMeta) {
        self.info.files += 1;
        self.info.total_bytes += e.size;
        match &e.kind {
            EntryKind::StaticFile(_) => {
                self.info.static_files += 1;
                self.info.static_bytes += e.size;
            }
            EntryKind::MutableFile(_) => {
                self.info.mutable_files += 1;
                self.info.mutable_bytes += e.size;
            }
            EntryKind::Secrets => self.info.has_secrets = true,
            EntryKind::Other(p) => self.info.other_files.push(p.clone()),
            _ => {}
        }
    }

    fn finish_info(&mut self) {
        self.info.peers = self.peers.len() as u64;
        self.info.days = self.days.iter().cloned().collect();
        self.info.space_id = self.space_json.as_deref().and_then(space_id_from_json);
        self.info.trees = self
            .trees
            .iter()
            .map(|(id, (ops, props))| TreeInfo {
                id: id.clone(),
                ops: *ops,
                app_id: props.string("appId"),
                name: props.string("name"),
            })
            .collect();
        if let Some(id) = &self.info.space_id {
            if let Some((_, props)) = self.trees.get(id) {
                if !props.has("appId") {
                    self.info.space_name = props.string("name");
                }
            }
        }
    }
}

/// What the space tree looks like: a root without `appId` and with `version` (set by
/// `Space.newSpace`).
fn looks_like_space_tree(props: &RootProps) -> bool {
    !props.has("appId") && props.has("version")
}

/// Summarises a workspace: reads its ops files and small files, not its blobs.
pub fn info(source: &mut dyn EntrySource) -> Result<WorkspaceInfo> {
    let mut g = Gather {
        info: WorkspaceInfo {
            format: source.format().to_string(),
            ..Default::default()
        },
        ..Default::default()
    };
    for e in source.entries()? {
        g.count(&e);
        if matches!(
            e.kind,
            EntryKind::OpsFile(_) | EntryKind::SpaceJson | EntryKind::Secrets
        ) {
            transfer(source, &e, Some(&mut g))?;
        }
    }
    g.finish_info();
    Ok(g.info)
}

/// Checks everything that can be checked: the container (integrity, manifest), every
/// byte of every file against its size and hash, that CAS files are named by their
/// hash, that ops files are UTF-8, and that `space.json` names the space tree.
/// Never fails on a problem of the workspace: problems are in the report.
pub fn verify(
    source: &mut dyn EntrySource,
    progress: &mut dyn FnMut(Progress<'_>),
) -> VerifyReport {
    let mut report = VerifyReport::default();
    let mut g = Gather {
        info: WorkspaceInfo {
            format: source.format().to_string(),
            ..Default::default()
        },
        ..Default::default()
    };
    match source.check_container() {
        Ok(problems) => report.errors.extend(problems.into_iter().map(|m| Problem {
            code: "Corrupt".into(),
            path: None,
            message: m,
        })),
        Err(e) => report.errors.push(Problem::from_error(&e, None)),
    }
    let entries = match source.entries() {
        Ok(e) => e,
        Err(e) => {
            report.errors.push(Problem::from_error(&e, None));
            return report;
        }
    };
    let total = entries.iter().map(|e| e.size).sum();
    for e in &entries {
        g.count(e);
        match transfer(source, e, Some(&mut g)) {
            Ok(d) => {
                report.files_checked += 1;
                report.bytes_checked += d.size;
            }
            Err(err) => report.errors.push(Problem::from_error(&err, Some(&e.path))),
        }
        progress(Progress {
            phase: "verifying",
            done: report.bytes_checked,
            total,
        });
    }
    g.finish_info();
    workspace_checks(&mut g, &mut report);
    // References between trees and blobs, once the bytes are known to be sound.
    if report.errors.is_empty() {
        match crate::model::SpaceModel::load_replayed(source) {
            Ok(model) => {
                for (tree, replayed) in &model.trees {
                    let digest = snapshot_digest(replayed);
                    report.errors.extend(snapshot_problem(source, tree, digest));
                }
                let s = model.summary();
                report.errors.extend(s.errors);
                report.warnings.extend(s.warnings);
            }
            Err(e) => {
                report.warnings.push(Problem::from_error(&e, None));
                // Some tree could not be rebuilt (given up): each snapshot is still
                // checked against its own tree, and none may stand for a tree that
                // cannot be rebuilt (no writer stores one).
                let mut rebuilt = Vec::new();
                let replayed = crate::model::replay_each_tree(source, u64::MAX, &mut |tree, t| {
                    rebuilt.push((tree.to_string(), snapshot_digest(&t)));
                    Ok(())
                });
                match replayed {
                    Ok(()) => {
                        for (tree, digest) in rebuilt {
                            report
                                .errors
                                .extend(snapshot_problem(source, &tree, digest));
                        }
                    }
                    Err(e) => report.warnings.push(Problem {
                        code: "SnapshotsUnchecked".into(),
                        path: None,
                        message: format!(
                            "the trees could not be rebuilt ({e}), so their snapshots were not checked"
                        ),
                    }),
                }
            }
        }
    }
    report.warnings.append(&mut g.warnings);
    report.info = g.info;
    report.ok = report.errors.is_empty();
    report
}

/// The SHA-256 of a rebuilt tree's snapshot; `None` for a tree given up.
fn snapshot_digest(t: &crate::reptree::RepTree) -> Option<[u8; 32]> {
    (!t.overloaded()).then(|| crate::sha256::Sha256::digest(&t.snapshot()))
}

/// The snapshot the source keeps of `tree`, if any, against the tree its ops rebuild
/// (`rebuilt`: its snapshot's digest, `None` if it was given up).
fn snapshot_problem(
    source: &mut dyn EntrySource,
    tree: &str,
    rebuilt: Option<[u8; 32]>,
) -> Option<Problem> {
    let id = crate::ids::TreeId::new(tree).ok()?;
    let corrupt = |message: String| Problem {
        code: "Corrupt".into(),
        path: None,
        message,
    };
    match (source.tree_snapshot(&id), rebuilt) {
        (Ok(None), _) => None,
        (Ok(Some(stored)), Some(d)) if crate::sha256::Sha256::digest(&stored) == d => None,
        (Ok(Some(_)), Some(_)) => Some(corrupt(format!(
            "the snapshot of tree {tree} is not the tree its ops rebuild"
        ))),
        (Ok(Some(_)), None) => Some(corrupt(format!(
            "tree {tree} has a snapshot, but its ops cannot be rebuilt to check it"
        ))),
        (Err(e), _) => Some(Problem::from_error(&e, None)),
    }
}

fn workspace_checks(g: &mut Gather, report: &mut VerifyReport) {
    let warn = |code: &str, path: Option<&str>, message: String| Problem {
        code: code.into(),
        path: path.map(str::to_string),
        message,
    };
    if g.info.files == 0 {
        report.errors.push(warn(
            "NotAWorkspace",
            None,
            "the workspace has no files".into(),
        ));
        return;
    }
    let space_trees: Vec<&String> = g
        .trees
        .iter()
        .filter(|(_, (_, p))| looks_like_space_tree(p))
        .map(|(id, _)| id)
        .collect();
    let Some(json) = &g.space_json else {
        report.warnings.push(warn(
            "NoSpaceJson",
            Some("space-v1/space.json"),
            "space-v1/space.json is missing; Sila cannot open the space".into(),
        ));
        return;
    };
    let Some(id) = space_id_from_json(json) else {
        report.warnings.push(warn(
            "BadSpaceJson",
            Some("space-v1/space.json"),
            "space.json is not {\"id\":\"…\"}".into(),
        ));
        return;
    };
    match g.trees.get(&id) {
        None => report.warnings.push(warn(
            "SpaceTreeMissing",
            Some("space-v1/space.json"),
            format!("space.json names {id}, but that tree has no ops"),
        )),
        Some((_, props)) if !looks_like_space_tree(props) => {
            let what = props
                .string("appId")
                .map(|a| format!("an app tree (appId {a:?})"))
                .unwrap_or_else(|| "a tree that is not the space tree".into());
            let actual = match space_trees.as_slice() {
                [one] => format!("; the space tree is {one}"),
                [] => String::new(),
                many => format!(
                    "; space trees found: {}",
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            report.warnings.push(warn(
                "SpaceJsonNamesAppTree",
                Some("space-v1/space.json"),
                format!(
                    "space.json names {id}, which is {what}{actual}; Sila cannot open this space as is (kept unchanged)"
                ),
            ));
        }
        Some(_) => {}
    }
    #[cfg(feature = "secrets")]
    if let Some(secrets) = &g.secrets {
        if let Err(e) = crate::secrets::decrypt(&id, secrets) {
            report.warnings.push(warn(
                "SecretsUnreadable",
                Some("space-v1/secrets"),
                e.to_string(),
            ));
        }
    }
}
