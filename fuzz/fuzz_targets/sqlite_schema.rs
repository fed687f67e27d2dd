#![no_main]
//! Fuzz target `sqlite_schema`: see `tests/src/fuzz_checks.rs` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sila_store_fuzz::checks::sqlite_schema(data));
