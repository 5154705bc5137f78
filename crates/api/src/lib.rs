//! The `OpenBaoCluster` API: CRD types, defaults, the names and labels of everything the
//! operator creates, condition vocabulary, and `validate()`. Pure: no IO, no client.
#![forbid(unsafe_code)]

pub mod conditions;
pub mod decode;
pub mod names;
pub mod spec;
pub mod status;
pub mod validate;

pub use spec::*;
pub use status::*;
pub use validate::{FieldError, ValidationErrors, validate};
