//! The openbao-operator library: pure builders, the posture contract as data, and the CLI.
#![forbid(unsafe_code)]

pub mod build;
pub mod cli;
pub mod faults;
pub mod manager;
pub mod pki;
pub mod posture;
pub mod reconcile;
pub mod telemetry;
pub mod webhook;

/// The controller's posture check at its earlier path; it lives in [`posture::controller`].
pub mod controller_posture {
    pub use crate::posture::{Check, Report, controller::*, truth_table};
}
