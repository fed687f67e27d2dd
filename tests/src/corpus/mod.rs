//! The bad-input corpus (`tests/bad-inputs/`, run by `tests/bad_inputs_corpus.rs`): the
//! runner, the recipes of cases built at test time, and the tools the archive cases
//! are made with.

pub mod edits;
pub mod hostile;
pub mod recipes;
pub mod run;
