//! The archive formats.

#[cfg(all(feature = "sqlite", feature = "zip"))]
pub mod file;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "zip")]
pub mod zip;

/// `"sqlite"`, `"zip"` or `None` from a file's first bytes (16 are enough).
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"SQLite format 3\0") {
        Some("sqlite")
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some("zip")
    } else {
        None
    }
}
