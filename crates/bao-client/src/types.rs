//! Request and response bodies of the endpoints the client speaks, as OpenBao 2.x sends them.
//!
//! Response structs default every field (`#[serde(default)]`) so a field that a newer or older
//! server omits does not turn a useful answer into a decode error; fields OpenBao documents as
//! always present still decode strictly by type.

use std::{collections::BTreeMap, fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{duration, secret::SecretString};

/// The node's state as `GET /v1/sys/health` reports it through its status code, with the
/// decoded body. These are states, not errors: a sealed or standby node answered correctly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// 200: initialized, unsealed, the active node.
    Active(HealthInfo),
    /// 429: initialized, unsealed, a standby (forwards requests to the active node).
    Standby(HealthInfo),
    /// 473: a performance standby (serves reads locally).
    PerformanceStandby(HealthInfo),
    /// 472: a disaster-recovery secondary (kept for API compatibility; OpenBao has no DR
    /// replication today).
    DrSecondary(HealthInfo),
    /// 501: storage holds no barrier yet; `PUT /v1/sys/init` is needed.
    Uninitialized(HealthInfo),
    /// 503: initialized but sealed (for a static seal: the key does not decrypt the barrier).
    Sealed(HealthInfo),
}

impl Health {
    /// The decoded body, whatever the state.
    pub fn info(&self) -> &HealthInfo {
        match self {
            Health::Active(info)
            | Health::Standby(info)
            | Health::PerformanceStandby(info)
            | Health::DrSecondary(info)
            | Health::Uninitialized(info)
            | Health::Sealed(info) => info,
        }
    }

    /// A short, stable label (`active`, `standby`, `performance_standby`, `dr_secondary`,
    /// `uninitialized`, `sealed`) for status fields and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Health::Active(_) => "active",
            Health::Standby(_) => "standby",
            Health::PerformanceStandby(_) => "performance_standby",
            Health::DrSecondary(_) => "dr_secondary",
            Health::Uninitialized(_) => "uninitialized",
            Health::Sealed(_) => "sealed",
        }
    }

    /// Whether this node is the active node.
    pub fn is_active(&self) -> bool {
        matches!(self, Health::Active(_))
    }

    /// Whether the node is initialized and unsealed (active or any kind of standby).
    pub fn is_unsealed(&self) -> bool {
        matches!(
            self,
            Health::Active(_)
                | Health::Standby(_)
                | Health::PerformanceStandby(_)
                | Health::DrSecondary(_)
        )
    }
}

/// The body of `GET /v1/sys/health`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct HealthInfo {
    /// Whether the barrier exists.
    pub initialized: bool,
    /// Whether the node is sealed.
    pub sealed: bool,
    /// Whether the node is a standby (also true while sealed).
    pub standby: bool,
    /// Whether the node is a performance standby.
    pub performance_standby: bool,
    /// Replication mode strings (`"disabled"`, `"primary"`, `"unknown"`).
    pub replication_performance_mode: String,
    /// DR replication mode string.
    pub replication_dr_mode: String,
    /// The server's clock, Unix seconds.
    pub server_time_utc: i64,
    /// OpenBao version, e.g. `2.7.2`.
    pub version: String,
    /// Cluster name; absent while sealed.
    pub cluster_name: Option<String>,
    /// Cluster id; absent while sealed.
    pub cluster_id: Option<String>,
    /// Last WAL index, where reported.
    pub last_wal: Option<u64>,
}

/// The body of `GET /v1/sys/seal-status`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct SealStatus {
    /// Seal type: `shamir`, `static`, `transit`, `awskms`, ...
    #[serde(rename = "type")]
    pub seal_type: String,
    /// Whether the barrier exists.
    pub initialized: bool,
    /// Whether the node is sealed.
    pub sealed: bool,
    /// Key shares needed to unseal (or recovery threshold with an auto-unseal seal).
    pub t: u32,
    /// Total key shares (or recovery shares).
    pub n: u32,
    /// Key shares submitted so far in the current unseal attempt.
    pub progress: u32,
    /// Nonce of the current unseal attempt.
    pub nonce: String,
    /// OpenBao version.
    pub version: String,
    /// Build date, where reported.
    pub build_date: Option<String>,
    /// Commit date, where reported (2.x sends this instead of `build_date`).
    pub commit_date: Option<String>,
    /// Whether a seal migration is in progress.
    pub migration: bool,
    /// Cluster name; absent while sealed.
    pub cluster_name: Option<String>,
    /// Cluster id; absent while sealed.
    pub cluster_id: Option<String>,
    /// Whether the seal uses recovery keys (auto-unseal seals such as `static`).
    pub recovery_seal: bool,
    /// Type of the recovery seal (`shamir`).
    pub recovery_seal_type: Option<String>,
    /// Storage backend (`raft`, `inmem`, ...).
    pub storage_type: Option<String>,
}

/// The body of `PUT /v1/sys/init`.
///
/// Use [`InitRequest::recovery`] for auto-unseal seals (static, transit, cloud KMS), which is
/// what the operator runs, and [`InitRequest::shamir`] for a Shamir-sealed server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct InitRequest {
    /// Number of unseal key shares (Shamir seal only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_shares: Option<u32>,
    /// Shares needed to unseal (Shamir seal only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_threshold: Option<u32>,
    /// Number of recovery key shares (auto-unseal seals only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_shares: Option<u32>,
    /// Recovery shares needed for recovery operations (auto-unseal seals only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_threshold: Option<u32>,
}

impl InitRequest {
    /// Initialization of a Shamir-sealed server: `shares` unseal keys, `threshold` to unseal.
    pub fn shamir(shares: u32, threshold: u32) -> Self {
        Self {
            secret_shares: Some(shares),
            secret_threshold: Some(threshold),
            ..Self::default()
        }
    }

    /// Initialization of an auto-unsealed server: `shares` recovery keys, `threshold` for
    /// recovery operations (generate-root, seal migration).
    pub fn recovery(shares: u32, threshold: u32) -> Self {
        Self {
            recovery_shares: Some(shares),
            recovery_threshold: Some(threshold),
            ..Self::default()
        }
    }
}

/// The answer of `PUT /v1/sys/init`: the only time OpenBao hands out these secrets.
///
/// Every field is a [`SecretString`] and `Debug` shows only counts, so the response can be
/// passed around and even logged by mistake without leaking anything.
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct InitResponse {
    /// The initial root token.
    pub root_token: SecretString,
    /// Unseal key shares, hex (Shamir seal).
    pub keys: Vec<SecretString>,
    /// Unseal key shares, base64 (Shamir seal).
    pub keys_base64: Vec<SecretString>,
    /// Recovery key shares, hex (auto-unseal seals).
    pub recovery_keys: Vec<SecretString>,
    /// Recovery key shares, base64 (auto-unseal seals).
    pub recovery_keys_base64: Vec<SecretString>,
}

impl fmt::Debug for InitResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written out rather than derived so that a field added later cannot print a secret:
        // it would simply not appear here until someone decides how to show it.
        f.debug_struct("InitResponse")
            .field("root_token", &"<redacted>")
            .field("keys", &RedactedCount(self.keys.len()))
            .field("keys_base64", &RedactedCount(self.keys_base64.len()))
            .field("recovery_keys", &RedactedCount(self.recovery_keys.len()))
            .field(
                "recovery_keys_base64",
                &RedactedCount(self.recovery_keys_base64.len()),
            )
            .finish()
    }
}

/// Debug output `<N redacted>` for a list of secrets.
struct RedactedCount(usize);

impl fmt::Debug for RedactedCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} redacted>", self.0)
    }
}

/// The body of `GET /v1/sys/leader`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Leader {
    /// Whether HA is enabled (always true with Raft storage).
    pub ha_enabled: bool,
    /// Whether the answering node is the active node.
    pub is_self: bool,
    /// When the active node became active (RFC 3339), where reported.
    pub active_time: Option<String>,
    /// The active node's `api_addr`; empty while no leader is known.
    pub leader_address: String,
    /// The active node's `cluster_addr`.
    pub leader_cluster_address: String,
    /// Whether the answering node is a performance standby.
    pub performance_standby: bool,
    /// Raft index committed on the answering node.
    pub raft_committed_index: u64,
    /// Raft index applied on the answering node.
    pub raft_applied_index: u64,
}

/// `GET /v1/sys/storage/raft/configuration`: the Raft peer set as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct RaftConfiguration {
    /// Every peer, voters and non-voters.
    pub servers: Vec<RaftServer>,
    /// Raft index of this configuration.
    pub index: u64,
}

impl RaftConfiguration {
    /// The peers that vote (a joining node is a non-voter until autopilot promotes it).
    pub fn voters(&self) -> impl Iterator<Item = &RaftServer> {
        self.servers.iter().filter(|server| server.voter)
    }

    /// The current leader, if the configuration names one.
    pub fn leader(&self) -> Option<&RaftServer> {
        self.servers.iter().find(|server| server.leader)
    }
}

/// One peer of [`RaftConfiguration`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct RaftServer {
    /// The node id (`storage "raft" { node_id }`).
    pub node_id: String,
    /// The Raft (cluster) address, `host:8201`.
    pub address: String,
    /// Whether this peer is the leader.
    pub leader: bool,
    /// Whether this peer votes.
    pub voter: bool,
    /// Raft protocol version (a string in OpenBao's JSON).
    pub protocol_version: String,
}

/// `GET /v1/sys/storage/raft/autopilot/state`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct AutopilotState {
    /// Whether every server is healthy.
    pub healthy: bool,
    /// How many voters can fail without losing quorum.
    pub failure_tolerance: u32,
    /// Node id of the leader.
    pub leader: String,
    /// Node ids of the voters.
    pub voters: Vec<String>,
    /// Every server by node id.
    pub servers: BTreeMap<String, AutopilotServer>,
}

/// One server of [`AutopilotState`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct AutopilotServer {
    /// The node id.
    pub id: String,
    /// The node name (same as the id for OpenBao).
    pub name: String,
    /// The Raft address.
    pub address: String,
    /// Serf-style node status: `alive`, `left`, `failed`.
    pub node_status: String,
    /// Raft role: `leader`, `voter`, `non-voter`.
    pub status: String,
    /// Whether autopilot considers the server healthy.
    pub healthy: bool,
    /// Time since the leader last heard from the server.
    #[serde(with = "duration::go_option")]
    pub last_contact: Option<Duration>,
    /// The last Raft term the server reported.
    pub last_term: u64,
    /// The last Raft index the server reported.
    pub last_index: u64,
    /// Since when the server has been stable (RFC 3339).
    pub stable_since: Option<String>,
    /// OpenBao version of the server.
    pub version: String,
    /// The type the node asked to be (`voter`, `non-voter`).
    pub node_type: String,
}

/// `GET /v1/sys/storage/raft/autopilot/configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct AutopilotConfiguration {
    /// Whether dead servers are removed automatically.
    pub cleanup_dead_servers: bool,
    /// How long a server may be unreachable before it counts as dead.
    #[serde(with = "duration::go_option")]
    pub dead_server_last_contact_threshold: Option<Duration>,
    /// How long a server may be out of contact and still count as healthy.
    #[serde(with = "duration::go_option")]
    pub last_contact_threshold: Option<Duration>,
    /// How many log entries a server may trail and still count as healthy.
    pub max_trailing_logs: u64,
    /// Voters that dead-server cleanup never goes below.
    pub min_quorum: u32,
    /// How long a new server must be healthy before it is promoted to voter.
    #[serde(with = "duration::go_option")]
    pub server_stabilization_time: Option<Duration>,
}

/// A partial update for `POST /v1/sys/storage/raft/autopilot/configuration`; unset fields keep
/// their current value on the server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AutopilotConfigurationUpdate {
    /// See [`AutopilotConfiguration::cleanup_dead_servers`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup_dead_servers: Option<bool>,
    /// See [`AutopilotConfiguration::dead_server_last_contact_threshold`].
    #[serde(with = "duration::go_option", skip_serializing_if = "Option::is_none")]
    pub dead_server_last_contact_threshold: Option<Duration>,
    /// See [`AutopilotConfiguration::last_contact_threshold`].
    #[serde(with = "duration::go_option", skip_serializing_if = "Option::is_none")]
    pub last_contact_threshold: Option<Duration>,
    /// See [`AutopilotConfiguration::max_trailing_logs`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_trailing_logs: Option<u64>,
    /// See [`AutopilotConfiguration::min_quorum`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_quorum: Option<u32>,
    /// See [`AutopilotConfiguration::server_stabilization_time`].
    #[serde(with = "duration::go_option", skip_serializing_if = "Option::is_none")]
    pub server_stabilization_time: Option<Duration>,
}

/// How a snapshot is restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreMode {
    /// `POST sys/storage/raft/snapshot`: refuses a snapshot taken from another cluster (one
    /// whose keys differ).
    SameCluster,
    /// `POST sys/storage/raft/snapshot-force`: restores any snapshot, e.g. into a freshly
    /// initialized cluster for disaster recovery. The snapshot must be readable with this
    /// cluster's seal.
    Force,
}

/// The `data` envelope of secret-style responses (`{"request_id": ..., "data": {...}}`).
#[derive(Deserialize)]
pub(crate) struct DataEnvelope<T> {
    pub data: T,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_response_debug_shows_counts_but_no_secret() {
        let response: InitResponse = serde_json::from_str(
            r#"{"keys":[],"keys_base64":[],"recovery_keys":["abcd"],
                "recovery_keys_base64":["q80="],"root_token":"s.ukCepzotmEXqzBdlLsDIo1hS"}"#,
        )
        .expect("decodes");
        let debug = format!("{response:?}");
        assert!(!debug.contains("s.ukCep"), "{debug}");
        assert!(!debug.contains("abcd"), "{debug}");
        assert!(!debug.contains("q80="), "{debug}");
        assert!(debug.contains(r#"root_token: "<redacted>""#), "{debug}");
        assert!(debug.contains("recovery_keys: <1 redacted>"), "{debug}");
        assert_eq!(
            response.root_token.expose_secret(),
            "s.ukCepzotmEXqzBdlLsDIo1hS"
        );
    }

    #[test]
    fn init_requests_send_only_the_fields_of_their_seal_kind() {
        let body = serde_json::to_value(InitRequest::recovery(5, 3)).expect("serializes");
        assert_eq!(
            body,
            serde_json::json!({"recovery_shares": 5, "recovery_threshold": 3})
        );
        let body = serde_json::to_value(InitRequest::shamir(1, 1)).expect("serializes");
        assert_eq!(
            body,
            serde_json::json!({"secret_shares": 1, "secret_threshold": 1})
        );
    }

    #[test]
    fn autopilot_state_decodes_the_shape_openbao_2_7_sends() {
        let state: DataEnvelope<AutopilotState> = serde_json::from_str(
            r#"{"request_id":"x","data":{"failure_tolerance":1,"healthy":true,"leader":"bao-1",
              "servers":{"bao-1":{"id":"bao-1","name":"bao-1","address":"127.0.0.11:8201",
              "node_status":"alive","last_contact":"6.010041776s","last_term":3,"last_index":33,
              "healthy":true,"stable_since":"2026-11-29T02:10:47.365465785Z","status":"leader",
              "version":"2.7.2","node_type":"voter"}},"voters":["bao-1"]}}"#,
        )
        .expect("decodes");
        let server = &state.data.servers["bao-1"];
        assert_eq!(server.last_contact, Some(Duration::new(6, 10_041_776)));
        assert_eq!(state.data.voters, vec!["bao-1".to_owned()]);
    }

    #[test]
    fn autopilot_updates_send_go_durations_and_only_set_fields() {
        let update = AutopilotConfigurationUpdate {
            server_stabilization_time: Some(Duration::from_secs(1)),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(update).expect("serializes"),
            serde_json::json!({"server_stabilization_time": "1s"})
        );
    }
}
