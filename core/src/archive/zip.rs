//! The ZIP archive, format version 1: one portable file for import and export.
//!
//! ```text
//! sila.md, space-v1/…            the plain layout, same relative paths, regular files only
//!                                text deflated; compressed blobs (images…) stored
//!                                fixed timestamps (1980-01-01) and mode 0644: the same
//!                                workspace always gives the same bytes
//! sila-store-manifest.json       last entry: {"format":"sila-store-zip","version":1,
//!                                "spaceId":…,"writer":…,"files":[{"path","size","sha256"}]}
//! ```
//!
//! Reading refuses: a missing or unknown manifest, a newer version, absolute paths,
//! `..`, backslashes, duplicate names, a path that is both a file and a folder,
//! symlinks, entries not in the manifest (and the reverse), entries whose local headers
//! or data overlap (one kernel of compressed data under many names), a declared size
//! deflate cannot give from the compressed bytes, and any entry whose bytes exceed its
//! manifest size (ZIP bombs): no entry is ever read past its promised size plus one
//! byte, so the output is bounded by the manifest's sizes.

use std::io::{self, Read, Seek, Write};

use serde::{Deserialize, Serialize};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::compress::{worth_deflating, SNIFF_LEN};
use crate::entries::{check_unique, Content, EntryMeta, EntrySink, EntrySource, HashingReader};
use crate::error::{Error, Result};
use crate::ids::Sha256Hex;
use crate::layout::{safe_relative_path, EntryKind};
use crate::space::space_id_from_json;

/// Name of the manifest entry.
pub const MANIFEST_NAME: &str = "sila-store-manifest.json";
/// `format` field of the manifest.
pub const MANIFEST_FORMAT: &str = "sila-store-zip";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: i64 = 1;
/// Largest manifest read (about 2 million files).
pub const MAX_MANIFEST: u64 = 256 << 20;

const FORMAT: &str = "ZIP";
/// Deflate's largest expansion is 1032 to 1 (a run of 258 bytes in one 2-bit code);
/// with some slack.
const MAX_DEFLATE_RATIO: u64 = 1040;

/// The manifest: every file with its size and SHA-256.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// Format version.
    pub version: i64,
    /// The space id from `space.json`, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// Who wrote it.
    #[serde(default)]
    pub writer: String,
    /// Every file of the workspace.
    pub files: Vec<ManifestFile>,
}

/// One file in the manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    /// Relative path.
    pub path: String,
    /// Exact size.
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

impl Manifest {
    /// Parses and checks a manifest.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
            format: FORMAT,
            reason: format!("{MANIFEST_NAME} is not valid: {e}"),
        })?;
        if m.format != MANIFEST_FORMAT {
            return Err(Error::NotAnArchive {
                format: FORMAT,
                reason: format!("manifest format is {:?}", m.format),
            });
        }
        if m.version != FORMAT_VERSION {
            return Err(if m.version > FORMAT_VERSION {
                Error::UnsupportedVersion {
                    format: FORMAT,
                    found: m.version,
                    supported: FORMAT_VERSION,
                }
            } else {
                Error::Corrupt {
                    format: FORMAT,
                    reason: format!("manifest version {}", m.version),
                }
            });
        }
        Ok(m)
    }
}

fn zip_err(e: zip::result::ZipError) -> Error {
    match e {
        zip::result::ZipError::Io(io) => Error::io("ZIP archive", io),
        other => Error::Corrupt {
            format: FORMAT,
            reason: other.to_string(),
        },
    }
}

/// Writes a workspace as a ZIP archive.
pub struct ZipSink<W: Write + Seek> {
    zip: Option<ZipWriter<W>>,
    out: Option<W>,
    files: Vec<ManifestFile>,
    space_id: Option<String>,
}

impl<W: Write + Seek> ZipSink<W> {
    /// Starts an archive in `w`.
    pub fn new(w: W) -> Self {
        ZipSink {
            zip: Some(ZipWriter::new(w)),
            out: None,
            files: Vec::new(),
            space_id: None,
        }
    }

    /// Finishes (if not yet) and gives back the writer.
    pub fn into_inner(mut self) -> Result<W> {
        self.finish()?;
        self.out
            .take()
            .ok_or_else(|| Error::InvalidArgument("ZIP archive already taken".into()))
    }

    fn zip(&mut self) -> Result<&mut ZipWriter<W>> {
        self.zip
            .as_mut()
            .ok_or_else(|| Error::InvalidArgument("ZIP archive already finished".into()))
    }

    fn options(deflate: bool, size: u64) -> SimpleFileOptions {
        SimpleFileOptions::default()
            .compression_method(if deflate {
                CompressionMethod::Deflated
            } else {
                CompressionMethod::Stored
            })
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644)
            .large_file(size >= u64::from(u32::MAX))
    }
}

impl<W: Write + Seek> EntrySink for ZipSink<W> {
    fn put(&mut self, entry: &EntryMeta, content: Content<'_>) -> Result<()> {
        let path = entry.path.as_str();
        let digest = match content {
            Content::Ops { bytes, .. } => {
                let zip = self.zip()?;
                zip.start_file(path, Self::options(true, entry.size))
                    .map_err(zip_err)?;
                zip.write_all(bytes).map_err(|e| Error::io(path, e))?;
                (bytes.len() as u64, Sha256Hex::of(bytes))
            }
            Content::Stream(r) => {
                let mut hashing = HashingReader::new(r);
                let mut head = Vec::with_capacity(SNIFF_LEN.min(entry.size as usize));
                (&mut hashing)
                    .take(SNIFF_LEN as u64)
                    .read_to_end(&mut head)
                    .map_err(|e| Error::io(path, e))?;
                if entry.kind == EntryKind::SpaceJson {
                    self.space_id = space_id_from_json(&head);
                }
                let deflate = entry.kind.is_text() || worth_deflating(&head);
                let zip = self.zip()?;
                zip.start_file(path, Self::options(deflate, entry.size))
                    .map_err(zip_err)?;
                zip.write_all(&head).map_err(|e| Error::io(path, e))?;
                io::copy(&mut hashing, zip).map_err(|e| Error::io(path, e))?;
                let d = hashing.finish();
                (d.size, d.sha256)
            }
        };
        self.files.push(ManifestFile {
            path: path.to_string(),
            size: digest.0,
            sha256: digest.1.as_str().to_string(),
        });
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let Some(mut zip) = self.zip.take() else {
            return Ok(());
        };
        let manifest = Manifest {
            format: MANIFEST_FORMAT.into(),
            version: FORMAT_VERSION,
            space_id: self.space_id.clone(),
            writer: concat!("sila-store ", env!("CARGO_PKG_VERSION")).into(),
            files: std::mem::take(&mut self.files),
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        zip.start_file(MANIFEST_NAME, Self::options(true, json.len() as u64))
            .map_err(zip_err)?;
        zip.write_all(&json)
            .map_err(|e| Error::io(MANIFEST_NAME, e))?;
        let mut w = zip.finish().map_err(zip_err)?;
        w.flush().map_err(|e| Error::io("ZIP archive", e))?;
        self.out = Some(w);
        Ok(())
    }
}

/// Reads a workspace from a ZIP archive written by [`ZipSink`].
pub struct ZipSource<R: Read + Seek> {
    zip: ZipArchive<R>,
    manifest: Manifest,
    /// Zip index of every entry, by path.
    index: std::collections::BTreeMap<String, usize>,
}

impl<R: Read + Seek> ZipSource<R> {
    /// Opens an archive and checks its directory against its manifest.
    pub fn new(r: R) -> Result<Self> {
        let mut zip = ZipArchive::new(r).map_err(|e| match e {
            zip::result::ZipError::InvalidArchive(_) => Error::NotAnArchive {
                format: FORMAT,
                reason: format!("not a readable ZIP file ({e})"),
            },
            other => zip_err(other),
        })?;
        // Every byte belongs to one entry at most: no two entries' local headers and
        // data overlap, nor run into the central directory (the "better zip bomb" makes
        // thousands of entries of one kernel of compressed data).
        if zip.has_overlapping_entries().map_err(zip_err)? {
            return Err(Error::Corrupt {
                format: FORMAT,
                reason: "entries overlap (two entries share compressed data or headers)".into(),
            });
        }
        let manifest = {
            let f = zip.by_name(MANIFEST_NAME).map_err(|e| match e {
                zip::result::ZipError::FileNotFound => Error::NotAnArchive {
                    format: FORMAT,
                    reason: format!("no {MANIFEST_NAME}; not a workspace archive of ours"),
                },
                other => zip_err(other),
            })?;
            // Refused by its declared size before a byte is read (a lying header
            // cannot make the zip crate inflate more than it declares).
            if f.size() > MAX_MANIFEST {
                return Err(Error::SizeMismatch {
                    path: MANIFEST_NAME.into(),
                    expected: MAX_MANIFEST,
                    actual: f.size(),
                });
            }
            let mut bytes = Vec::new();
            ZipEntryReader { inner: f }
                .take(MAX_MANIFEST + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(MANIFEST_NAME, e))?;
            if bytes.len() as u64 > MAX_MANIFEST {
                return Err(Error::SizeMismatch {
                    path: MANIFEST_NAME.into(),
                    expected: MAX_MANIFEST,
                    actual: bytes.len() as u64,
                });
            }
            Manifest::parse(&bytes)?
        };
        // The zip crate keeps one entry per name: ask it whether it dropped any.
        if zip.has_duplicate_names() {
            return Err(Error::DuplicateEntry(
                "a name listed twice in the ZIP central directory".into(),
            ));
        }
        let mut index = std::collections::BTreeMap::new();
        for i in 0..zip.len() {
            let f = zip.by_index_raw(i).map_err(zip_err)?;
            let name = std::str::from_utf8(f.name_raw())
                .map_err(|_| Error::UnsafePath {
                    path: String::from_utf8_lossy(f.name_raw()).into_owned(),
                    reason: "entry name is not UTF-8",
                })?
                .to_string();
            if f.is_symlink() {
                return Err(Error::UnsafePath {
                    path: name,
                    reason: "symbolic link",
                });
            }
            if name == MANIFEST_NAME {
                continue;
            }
            let is_dir = f.is_dir();
            let checked = name.strip_suffix('/').unwrap_or(&name);
            safe_relative_path(checked)?;
            if is_dir {
                continue;
            }
            if index.insert(name.clone(), i).is_some() {
                return Err(Error::DuplicateEntry(name));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for f in &manifest.files {
            if !seen.insert(f.path.as_str()) {
                return Err(Error::DuplicateEntry(f.path.clone()));
            }
            let i = *index.get(&f.path).ok_or_else(|| Error::Corrupt {
                format: FORMAT,
                reason: format!("{} is in the manifest but not in the archive", f.path),
            })?;
            let raw = zip.by_index_raw(i).map_err(zip_err)?;
            let (declared, packed) = (raw.size(), raw.compressed_size());
            if declared != f.size {
                return Err(Error::SizeMismatch {
                    path: f.path.clone(),
                    expected: f.size,
                    actual: declared,
                });
            }
            // What the compressed bytes could possibly give: stored is itself, deflate
            // at most about 1032 to 1. A size beyond it is a lie, refused before reading.
            let possible = match raw.compression() {
                CompressionMethod::Stored => packed,
                _ => packed
                    .saturating_mul(MAX_DEFLATE_RATIO)
                    .saturating_add(1 << 10),
            };
            if declared > possible {
                return Err(Error::Corrupt {
                    format: FORMAT,
                    reason: format!(
                        "{} declares {declared} bytes from {packed} compressed bytes",
                        f.path
                    ),
                });
            }
        }
        if let Some(extra) = index.keys().find(|p| !seen.contains(p.as_str())) {
            return Err(Error::Corrupt {
                format: FORMAT,
                reason: format!("{extra} is in the archive but not in the manifest"),
            });
        }
        Ok(ZipSource {
            zip,
            manifest,
            index,
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
}

impl<R: Read + Seek> EntrySource for ZipSource<R> {
    fn format(&self) -> &'static str {
        "zip"
    }

    fn entries(&mut self) -> Result<Vec<EntryMeta>> {
        let mut out = self
            .manifest
            .files
            .iter()
            .map(|f| EntryMeta::new(&f.path, f.size, Some(Sha256Hex::new(&f.sha256)?)))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        check_unique(&out)?;
        Ok(out)
    }

    fn open<'s>(&'s mut self, entry: &EntryMeta) -> Result<Box<dyn Read + 's>> {
        let i = *self
            .index
            .get(&entry.path)
            .ok_or_else(|| Error::NotFound(entry.path.clone()))?;
        let f = self.zip.by_index(i).map_err(zip_err)?;
        Ok(Box::new(
            ZipEntryReader { inner: f }.take(entry.size.saturating_add(1)),
        ))
    }
}

/// Maps the zip crate's read errors (bad CRC, bad deflate data, which flate2 reports
/// as `InvalidInput`) to `Corrupt`.
struct ZipEntryReader<R: Read> {
    inner: R,
}

impl<R: Read> Read for ZipEntryReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::UnexpectedEof
            ) {
                Error::Corrupt {
                    format: FORMAT,
                    reason: e.to_string(),
                }
                .into_io()
            } else {
                e
            }
        })
    }
}
