//! The operator library.
