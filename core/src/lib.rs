#![doc = include_str!("../README.md")]
//!
//! The heart ([`ids`], [`ops`], [`layout`], [`space`]) is `no_std` + `alloc`; feature
//! `std` adds the entry streams, conversion and verification, `sqlite` and `zip` the
//! archive formats, `secrets` the `secrets` file. The core never opens a file or a
//! socket: hosts hand it connections, readers and writers.
//!
//! Every format is read as a stream of entries ([`entries::EntrySource`]) and written
//! from one ([`entries::EntrySink`]); a conversion is [`convert::copy_all`].
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod error;
pub mod ids;
pub mod json;
pub mod layout;
pub mod ops;
pub mod reptree;
pub mod sha256;
pub mod space;

#[cfg(feature = "std")]
pub mod chat;
#[cfg(any(feature = "sqlite", feature = "zip"))]
pub mod compress;
#[cfg(feature = "std")]
pub mod convert;
#[cfg(feature = "std")]
pub mod entries;
#[cfg(feature = "std")]
pub mod inspect;
#[cfg(feature = "std")]
pub mod memory;
#[cfg(feature = "std")]
pub mod model;
#[cfg(feature = "std")]
pub mod random_access;
#[cfg(feature = "std")]
pub mod storage;
#[cfg(feature = "std")]
pub mod store;

pub mod archive;

#[cfg(feature = "secrets")]
pub mod secrets;

pub use error::{Error, Result};

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();
