//! Validation rules, one function per rule, each with a comment stating it (serde_derive's
//! `check.rs`). Rules on one literal run while parsing (`lit`); rules that need a whole item
//! (`item`) or a whole server (`server`) run on the model.

pub(crate) mod item;
pub(crate) mod lit;
pub(crate) mod rules;
pub(crate) mod server;
