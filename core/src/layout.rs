//! The plain layout: what each path of a workspace is (SILA-FORMAT.md §1).
//!
//! ```text
//! sila.md                                            EntryKind::SilaMd
//! space-v1/space.json                                EntryKind::SpaceJson
//! space-v1/secrets                                   EntryKind::Secrets
//! space-v1/ops/<t[0..2]>/<t[2..]>/YYYY/MM/DD/<peer>-m.jsonl   OpsFile (Moves)
//!                                           …/<peer>-p.jsonl   OpsFile (Props)
//!                                           …/<peer>.jsonl     OpsFile (Legacy)
//! space-v1/files/static/sha256/<h[0..2]>/<h[2..]>    StaticFile
//! space-v1/files/var/uuid/<u[0..2]>/<u[2..]>         MutableFile
//! anything else (safe relative path)                 Other, carried verbatim
//! ```
//!
//! Paths are relative to the workspace root (the folder holding `space-v1/`), use `/`,
//! and are checked by [`safe_relative_path`] before anything else looks at them.

use alloc::format;
use alloc::string::{String, ToString};

use crate::error::{Error, Result};
use crate::ids::{Day, MutableId, PeerId, Sha256Hex, TreeId};
use crate::ops::OpsFileKind;

/// The folder inside the workspace root that holds the space.
pub const SPACE_DIR: &str = "space-v1";

/// The exact text Sila writes to `sila.md` (no trailing newline).
pub const SILA_MD_TEXT: &str = "# Sila Space\n\nThis directory contains a Sila space. Please do not rename or modify the 'space-v1' folder as you won't be able to open the space from Sila. Sila needs it as is.";

/// The folder (with a trailing `/`) holding every ops file of `tree`:
/// `space-v1/ops/<t[0..2]>/<t[2..]>/`.
pub fn tree_ops_dir(tree: &TreeId) -> String {
    let t = tree.as_str();
    format!("{SPACE_DIR}/ops/{}/{}/", &t[..2], &t[2..])
}

/// Where an ops file sits and what it holds.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct OpsFileKey {
    /// The tree.
    pub tree: TreeId,
    /// The UTC day folder.
    pub day: Day,
    /// The peer that wrote it.
    pub peer: PeerId,
    /// Moves, props or legacy combined.
    pub kind: OpsFileKind,
}

impl OpsFileKey {
    /// The relative path of this ops file.
    pub fn path(&self) -> String {
        let name = match self.kind {
            OpsFileKind::Moves => format!("{}-m.jsonl", self.peer),
            OpsFileKind::Props => format!("{}-p.jsonl", self.peer),
            OpsFileKind::Legacy => format!("{}.jsonl", self.peer),
        };
        format!("{}{}/{name}", tree_ops_dir(&self.tree), self.day.folder())
    }

    /// Parses an ops file name into peer and kind, as Sila's `getOpsFileInfo` does:
    /// `^(.*)-(m|p)\.jsonl$`, else any `*.jsonl` is legacy.
    pub fn parse_file_name(name: &str) -> Result<(PeerId, OpsFileKind)> {
        let stem = name
            .strip_suffix(".jsonl")
            .ok_or_else(|| Error::InvalidId {
                what: "ops file name",
                value: name.to_string(),
                reason: "does not end in .jsonl",
            })?;
        if let Some(peer) = stem.strip_suffix("-m") {
            return Ok((PeerId::new(peer)?, OpsFileKind::Moves));
        }
        if let Some(peer) = stem.strip_suffix("-p") {
            return Ok((PeerId::new(peer)?, OpsFileKind::Props));
        }
        // Sila takes `fileName.split('.')[0]`; we keep only names that give back the
        // same file name, so the path can be rebuilt.
        Ok((PeerId::new(stem)?, OpsFileKind::Legacy))
    }
}

/// What a path of the workspace is.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum EntryKind {
    /// `sila.md` beside `space-v1/`.
    SilaMd,
    /// `space-v1/space.json`.
    SpaceJson,
    /// `space-v1/secrets` (still encrypted).
    Secrets,
    /// An ops file.
    OpsFile(OpsFileKey),
    /// A CAS blob, named by the SHA-256 of its bytes.
    StaticFile(Sha256Hex),
    /// A mutable blob, named by its UUID.
    MutableFile(MutableId),
    /// Anything else, carried verbatim under its path.
    Other(String),
}

impl EntryKind {
    /// Classifies a relative path. Unknown paths become [`EntryKind::Other`]; an
    /// ops file (`*.jsonl` in a day folder) with a bad tree or peer id is an error,
    /// since Sila would read it and we could not rebuild its path.
    pub fn from_path(path: &str) -> Result<Self> {
        safe_relative_path(path)?;
        let parts: alloc::vec::Vec<&str> = path.split('/').collect();
        let kind = match parts.as_slice() {
            ["sila.md"] => EntryKind::SilaMd,
            [SPACE_DIR, "space.json"] => EntryKind::SpaceJson,
            [SPACE_DIR, "secrets"] => EntryKind::Secrets,
            [SPACE_DIR, "ops", t1, t2, y, m, d, name] if name.ends_with(".jsonl") => {
                match Day::from_parts(y, m, d) {
                    Some(day) if t1.len() == 2 => {
                        let tree = TreeId::new(&format!("{t1}{t2}"))?;
                        let (peer, kind) = OpsFileKey::parse_file_name(name)?;
                        EntryKind::OpsFile(OpsFileKey {
                            tree,
                            day,
                            peer,
                            kind,
                        })
                    }
                    _ => EntryKind::Other(path.to_string()),
                }
            }
            [SPACE_DIR, "files", "static", "sha256", h1, h2] if h1.len() == 2 => {
                match Sha256Hex::new(&format!("{h1}{h2}")) {
                    Ok(h) => EntryKind::StaticFile(h),
                    Err(_) => EntryKind::Other(path.to_string()),
                }
            }
            [SPACE_DIR, "files", "var", "uuid", u1, u2] if u1.len() == 2 => {
                match MutableId::new(&format!("{u1}{u2}")) {
                    Ok(u) => EntryKind::MutableFile(u),
                    Err(_) => EntryKind::Other(path.to_string()),
                }
            }
            _ => EntryKind::Other(path.to_string()),
        };
        Ok(kind)
    }

    /// The relative path of this entry.
    pub fn path(&self) -> String {
        match self {
            EntryKind::SilaMd => "sila.md".to_string(),
            EntryKind::SpaceJson => format!("{SPACE_DIR}/space.json"),
            EntryKind::Secrets => format!("{SPACE_DIR}/secrets"),
            EntryKind::OpsFile(k) => k.path(),
            EntryKind::StaticFile(h) => {
                let h = h.as_str();
                format!("{SPACE_DIR}/files/static/sha256/{}/{}", &h[..2], &h[2..])
            }
            EntryKind::MutableFile(u) => {
                let u = u.as_str();
                format!("{SPACE_DIR}/files/var/uuid/{}/{}", &u[..2], &u[2..])
            }
            EntryKind::Other(p) => p.clone(),
        }
    }

    /// Whether the content is text Sila writes (compresses well).
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            EntryKind::SilaMd | EntryKind::SpaceJson | EntryKind::Secrets | EntryKind::OpsFile(_)
        )
    }
}

/// Checks that `path` is a relative path that stays inside the workspace: not empty,
/// not absolute, `/`-separated, no empty, `.` or `..` component, no `\`, `:` in the
/// first component (drive letters) or control characters.
pub fn safe_relative_path(path: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::UnsafePath {
            path: path.to_string(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("empty path");
    }
    if path.starts_with('/') {
        return bad("absolute path");
    }
    if path.contains('\\') {
        return bad("backslash in path");
    }
    if path.chars().any(|c| c.is_control()) {
        return bad("control character in path");
    }
    if path
        .split('/')
        .next()
        .is_some_and(|first| first.contains(':'))
    {
        return bad("drive or scheme prefix");
    }
    for part in path.split('/') {
        match part {
            "" => return bad("empty path component"),
            "." | ".." => return bad("'.' or '..' component"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_paths() {
        for p in [
            "sila.md",
            "space-v1/space.json",
            "space-v1/secrets",
            "space-v1/ops/13/e6fe9fcda64da2bd37cdf89a15a155/2026/11/23/ae58db677b324fa8998f06352c518953-m.jsonl",
            "space-v1/ops/13/e6fe9fcda64da2bd37cdf89a15a155/2026/11/23/ae58db677b324fa8998f06352c518953-p.jsonl",
            "space-v1/ops/13/e6fe9fcda64da2bd37cdf89a15a155/2025/11/20/307fe92cbe1d4d78b890b2cd26a15fdd.jsonl",
            "space-v1/files/static/sha256/d6/4a360188e185016f08ccfb245f54336d8763081b5630fc4e62ff21fb7b1047",
            "space-v1/files/var/uuid/0f/8fad5bd9cb469fa16570867728950e",
            "space-v1/files/static/sha256/d6/not-a-hash",
            "space-v1/ops/13/e6/2026/1/23/x-m.jsonl",
            ".DS_Store",
        ] {
            let k = EntryKind::from_path(p).unwrap();
            assert_eq!(k.path(), p);
        }
        assert!(matches!(
            EntryKind::from_path("space-v1/ops/13/e6fe/2026/11/23/a-b-p.jsonl").unwrap(),
            EntryKind::OpsFile(OpsFileKey {
                kind: OpsFileKind::Props,
                ..
            })
        ));
    }

    #[test]
    fn bad_paths() {
        for p in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a\\b",
            "C:/x",
            "a/./b",
        ] {
            assert!(matches!(
                EntryKind::from_path(p),
                Err(Error::UnsafePath { .. })
            ));
        }
        assert!(matches!(
            EntryKind::from_path("space-v1/ops/13/e6fe/2026/11/23/bad id!-m.jsonl"),
            Err(Error::InvalidId { .. })
        ));
    }
}
