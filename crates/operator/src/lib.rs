//! The openbao-operator library: pure builders, the posture contract as data, and the CLI.
#![forbid(unsafe_code)]

pub mod build;
pub mod cli;
pub mod controller_posture;
pub mod faults;
pub mod leader;
pub mod pki;
pub mod posture;
pub mod reconcile;
pub mod telemetry;
pub mod webhook;
