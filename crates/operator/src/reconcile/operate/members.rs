//! The members: a client per OpenBao pod (by pod IP, TLS verified against the pod's DNS name, or
//! in ACME mode the cluster's ACME domain), their health, and the Raft facts and readiness
//! status reports.

use std::{net::SocketAddr, time::Duration};

use api::MemberStatus;
use bao_client::{BaoClient, ClientConfig, Health, SecretString};

use super::OperateError;

/// One OpenBao member the operator can talk to.
#[derive(Clone, Debug)]
pub struct Member {
    /// Pod name (also its Raft node id).
    pub pod: String,
    /// Client for the pod's IP, verifying its DNS name (short timeouts: health and reads).
    pub client: BaoClient,
    /// The same connection settings with [`INIT_TIMEOUT`], for `sys/init` only.
    pub(super) init_client: BaoClient,
}

/// How long `sys/init` may take. Initialization waits for a Raft election (about 9 s with
/// OpenBao's default `performance_multiplier`); a client that gives up earlier leaves the cluster
/// initialized with its keys lost, so this is deliberately generous.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(120);

impl Member {
    /// A member reached at `ip:8200`, its certificate verified for `server_name` against `ca_pem`.
    pub fn new(
        pod: impl Into<String>,
        address: SocketAddr,
        server_name: impl Into<String>,
        ca_pem: &[u8],
    ) -> Result<Self, bao_client::Error> {
        let config = ClientConfig::new(address, server_name, ca_pem.to_vec())
            .with_connect_timeout(Duration::from_secs(2))
            .with_request_timeout(Duration::from_secs(5));
        Ok(Self {
            pod: pod.into(),
            client: BaoClient::new(config.clone())?,
            init_client: BaoClient::new(config.with_request_timeout(INIT_TIMEOUT))?,
        })
    }
}

/// What one member said.
#[derive(Debug)]
pub struct Observation {
    /// Pod name.
    pub pod: String,
    /// Its health, or why it could not be asked.
    pub health: Result<Health, bao_client::Error>,
}

impl Observation {
    pub(super) fn initialized(&self) -> bool {
        self.health.as_ref().is_ok_and(|h| h.info().initialized)
    }

    /// Initialized and unsealed (active or a standby).
    pub(super) fn serving(&self) -> bool {
        self.health.as_ref().is_ok_and(|h| {
            h.info().initialized && !matches!(h, Health::Sealed(_) | Health::Uninitialized(_))
        })
    }

    pub(super) fn uninitialized(&self) -> bool {
        matches!(self.health, Ok(Health::Uninitialized(_)))
    }
}

/// Ask every member for its health, concurrently.
pub async fn observe(members: &[Member]) -> Vec<Observation> {
    futures::future::join_all(members.iter().map(|m| async move {
        Observation {
            pod: m.pod.clone(),
            health: m.client.health().await,
        }
    }))
    .await
}

/// Raft facts read with the root token through the active member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftFacts {
    /// Node ids that vote.
    pub voters: Vec<String>,
    /// Every node id in the configuration.
    pub peers: Vec<String>,
}

/// Read the Raft configuration through `member` with `token`.
pub async fn raft_facts(member: &Member, token: SecretString) -> Result<RaftFacts, OperateError> {
    let config = member
        .client
        .with_token(token)
        .raft_configuration()
        .await
        .map_err(|source| OperateError::OpenBao {
            member: member.pod.clone(),
            source,
        })?;
    Ok(RaftFacts {
        voters: config.voters().map(|s| s.node_id.clone()).collect(),
        peers: config.servers.iter().map(|s| s.node_id.clone()).collect(),
    })
}

/// Status of one member from its observation and the Raft facts.
pub fn member_status(observation: &Observation, raft: Option<&RaftFacts>) -> MemberStatus {
    let (reachable, initialized, sealed, role) = match &observation.health {
        Ok(health) => (
            true,
            health.info().initialized,
            matches!(health, Health::Sealed(_)),
            health.label().to_string(),
        ),
        Err(_) => (false, false, false, "unreachable".to_string()),
    };
    MemberStatus {
        name: observation.pod.clone(),
        reachable,
        initialized,
        sealed,
        role: Some(role),
        voter: raft.map(|r| r.voters.contains(&observation.pod)),
    }
}

/// Whether the cluster is fully ready: every one of `expected` members initialized, unsealed
/// and joined (when Raft facts are known), and exactly one active.
pub fn all_ready(statuses: &[MemberStatus], expected: usize, raft: Option<&RaftFacts>) -> bool {
    let serving = statuses
        .iter()
        .filter(|m| m.reachable && m.initialized && !m.sealed)
        .count();
    let active = statuses
        .iter()
        .filter(|m| m.role.as_deref() == Some("active"))
        .count();
    let joined = raft.is_none_or(|r| statuses.iter().all(|m| r.peers.contains(&m.name)));
    serving >= expected && statuses.len() >= expected && active == 1 && joined
}
