//! The archive formats.

#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "zip")]
pub mod zip;
