//! The checks of the fuzz targets: the very file the test suite uses for the inputs
//! kept in `tests/fuzz-crashers/`, so a crash found here is replayed there.

#[path = "../../tests/src/fuzz_checks.rs"]
pub mod checks;
