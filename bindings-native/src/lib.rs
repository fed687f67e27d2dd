//! Native host of sila-store: the filesystem backend (plain workspace folders, and
//! SQLite and ZIP archives as files), safe conversion between paths, and the
//! `sila-store` command-line tool (`src/bin/sila-store.rs`).
#![deny(missing_docs)]

pub mod ffi;
pub mod ffi_tiers;
pub mod fs;
pub mod fs_store;
pub mod object_store_store;
pub mod tiers;
pub mod workspace;

pub use workspace::{convert, with_source, ConvertOptions, ConvertReport, Format};

uniffi::setup_scaffolding!();
