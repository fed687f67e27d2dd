#![no_main]
//! Fuzz target `ops_line`: see `tests/src/fuzz_checks.rs` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sila_store_fuzz::checks::ops_line(data));
