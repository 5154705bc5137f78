//! Typed async client for the OpenBao HTTP API, as the operator uses it.
//!
//! One [`BaoClient`] talks to one server: it connects to a socket address (a pod IP) and
//! verifies the server certificate against a server name (the pod's DNS name) and a given CA
//! bundle, with rustls and the ring provider. It covers health, seal status, initialization,
//! leader, step-down, the Raft peer set and autopilot, peer removal, snapshot save and
//! restore (streamed), JWT login and the writes an identity bootstrap needs, and a small KV v2
//! surface for smoke tests.
//!
//! Secrets (the root token, key shares, client tokens) are [`SecretString`]s, which never
//! print. Requests are traced at `debug` with method, path, status and duration only.
//!
//! ```no_run
//! # async fn demo(ca_pem: Vec<u8>, token: bao_client::SecretString) -> Result<(), bao_client::Error> {
//! use bao_client::{BaoClient, ClientConfig, Health};
//!
//! // Connect to the pod IP, verify the certificate for the pod's DNS name.
//! let address = std::net::SocketAddr::from(([10, 0, 0, 7], 8200));
//! let config = ClientConfig::new(address, "bao-0.bao-internal.ns.svc", ca_pem);
//! let client = BaoClient::new(config)?;
//! match client.health().await? {
//!     Health::Active(info) => println!("active, version {}", info.version),
//!     other => println!("{}", other.label()),
//! }
//! let raft = client.with_token(token).raft_configuration().await?;
//! println!("{} voters", raft.voters().count());
//! # Ok(())
//! # }
//! ```

mod auth;
mod client;
mod duration;
mod error;
mod kv;
mod raft;
mod secret;
mod sys;
mod types;

pub use auth::Login;
pub use client::{BaoClient, ClientConfig, MAX_RESPONSE_BYTES};
pub use error::Error;
pub use secret::SecretString;
pub use types::{
    AutopilotConfiguration, AutopilotConfigurationUpdate, AutopilotServer, AutopilotState, Health,
    HealthInfo, InitRequest, InitResponse, Leader, RaftConfiguration, RaftServer, RestoreMode,
    SealStatus,
};
