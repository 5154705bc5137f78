//! The openbao-operator library: the desired objects of a cluster and of the operator's own
//! install (pure), the posture contract as data, the reconciler, the placeholder controller of
//! the kinds not built yet (OpenBaoRestore, OpenBaoTenant), the manager, and the CLI.
#![forbid(unsafe_code)]

pub mod backup;
pub mod cli;
pub mod desired;
pub mod faults;
pub mod identity;
pub mod install;
pub mod manager;
pub mod pki;
pub mod placeholder;
pub mod posture;
pub mod reconcile;
pub mod restore;
pub mod rollout;
pub mod telemetry;
pub mod webhook;

/// The controller's posture check at its earlier path; it lives in [`posture::controller`].
pub mod controller_posture {
    pub use crate::posture::{Check, Report, controller::*, truth_table};
}
