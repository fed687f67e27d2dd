#![no_main]
//! Fuzz target `reptree_ops`: see `tests/src/fuzz_checks.rs` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sila_store_fuzz::checks::reptree_ops(data));
