//! Telemetry: the Prometheus metrics registry every stage reports into, and (with the manager)
//! the admin server that exposes it.

pub mod metrics;
pub mod server;

pub use metrics::Metrics;
