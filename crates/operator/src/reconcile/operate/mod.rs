//! The operate stage: talk to the OpenBao members themselves. This file is the glue between a
//! reconcile pass and OpenBao: it finds the cluster's pods in the cache, builds a client per
//! member, runs the initialization state machine ([`init`]), removes departed Raft peers, and
//! gathers what status reports about the members ([`members`]).

use std::net::{IpAddr, SocketAddr};

use api::{
    MemberStatus, OpenBaoCluster,
    conditions::{reasons, types},
    names,
};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::{Api, ResourceExt, runtime::events::EventType};
use tracing::{info, warn};

mod error;
mod init;
mod members;

pub use error::OperateError;
pub use init::*;
pub use members::*;

use super::{Context, critical, publish};
use crate::{build::ValidatedCluster, telemetry::metrics::CategoryLabel};

/// What the lifecycle stage found, for status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperateReport {
    /// Per-member health.
    pub members: Vec<MemberStatus>,
    /// Pod name of the active member.
    pub leader: Option<String>,
    /// Raft peers in the configuration (known once the root token is stored).
    pub raft_peers: Option<i32>,
    /// Whether OpenBao is initialized.
    pub initialized: bool,
    /// The Initialized condition: (status, reason, message).
    pub condition: Option<(bool, String, String)>,
    /// Every member unsealed, joined, and exactly one active.
    pub ready: bool,
    /// A problem that needs the user (keys lost, data lost, stale keys).
    pub failure: Option<(String, String)>,
}

/// Reasons of the Initialized condition.
pub mod init_reasons {
    /// OpenBao was initialized by the operator and its keys are stored.
    pub const INITIALIZED: &str = "Initialized";
    /// OpenBao was initialized outside the operator; no keys are held.
    pub const INITIALIZED_EXTERNALLY: &str = "InitializedExternally";
    /// Waiting for members before initializing.
    pub const WAITING_FOR_MEMBERS: &str = "WaitingForMembers";
    /// Every member lost its data although the cluster was initialized.
    pub const DATA_LOST: &str = "MembersLostData";
    /// The root-token Secret holds keys of a previous cluster.
    pub const STALE_KEYS: &str = "StaleRootTokenSecret";
}

fn pod_ordinal(pod: &Pod, statefulset: &str) -> Option<i32> {
    pod.name_any()
        .strip_prefix(&format!("{statefulset}-"))?
        .parse()
        .ok()
}

/// The cluster's server pods with an IP, as members, ordered by ordinal.
pub fn members(ctx: &Context, cluster: &ValidatedCluster, ca_pem: &[u8]) -> Vec<Member> {
    let names = cluster.names();
    let namespace = cluster.namespace();
    let selector = names.server_selector_labels();
    let mut pods: Vec<(i32, Member)> = ctx
        .stores
        .pods
        .state()
        .iter()
        .filter(|pod| pod.namespace().as_deref() == Some(namespace))
        .filter(|pod| selector.iter().all(|(k, v)| pod.labels().get(k) == Some(v)))
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .filter_map(|pod| {
            let ordinal = pod_ordinal(pod, &names.statefulset())?;
            let ip: IpAddr = pod.status.as_ref()?.pod_ip.as_ref()?.parse().ok()?;
            let address = SocketAddr::new(ip, names::API_PORT as u16);
            match Member::new(
                pod.name_any(),
                address,
                names.pod_dns(ordinal, namespace),
                ca_pem,
            ) {
                Ok(member) => Some((ordinal, member)),
                Err(e) => {
                    warn!(pod = %pod.name_any(), error = %e, "cannot build an OpenBao client");
                    None
                }
            }
        })
        .collect();
    pods.sort_by_key(|(ordinal, _)| *ordinal);
    pods.into_iter().map(|(_, member)| member).collect()
}

/// Run the lifecycle stage for `cluster`.
pub async fn run(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    validated: &ValidatedCluster,
    ca_pem: &[u8],
) -> Result<OperateReport, OperateError> {
    let names = validated.names();
    let key = format!("{}/{}", validated.namespace(), names.cluster());
    let expected = usize::try_from(cluster.spec.replicas).unwrap_or(0);
    let status_initialized = cluster.status.as_ref().is_some_and(|s| s.initialized);
    let members = members(ctx, validated, ca_pem);
    let observations = observe(&members).await;
    let store = SecretKeyStore::new(
        Api::<Secret>::namespaced(ctx.client.clone(), validated.namespace()),
        names.root_token_secret(),
        names.labels(),
    );

    // Keys from an earlier pass whose storing failed are still in memory: store them first.
    let held = ctx
        .pending_keys
        .lock()
        .ok()
        .and_then(|mut held| held.remove(&key));
    if let Some(response) = held {
        let task_store = store.clone();
        let stored = critical::run_to_completion(&ctx.critical, async move {
            let result = store_with_retries(&task_store, &response).await;
            (result, response)
        })
        .await;
        match stored {
            Ok((Ok(()), _)) => {}
            Ok((Err(e), response)) => {
                if let Ok(mut held) = ctx.pending_keys.lock() {
                    held.insert(key.clone(), response);
                }
                return Err(e);
            }
            Err(join) => return Err(OperateError::Interrupted(join.to_string())),
        }
    }

    let keys = store.state().await?;
    let decision = decide(&observations, expected, keys, status_initialized);
    let mut report = OperateReport::default();
    match &decision {
        Decision::Initialize => {
            let Some(pod0) = members.first().filter(|m| m.pod == names.pod(0)) else {
                report.condition = Some((
                    false,
                    init_reasons::WAITING_FOR_MEMBERS.to_string(),
                    format!("waiting for {}", names.pod(0)),
                ));
                return Ok(report);
            };
            info!(cluster = %key, member = %pod0.pod, "initializing OpenBao");
            // From here until the keys are stored they exist only in this process: the work
            // runs to its end even if this pass is dropped (lost Lease, shutdown), and the
            // manager does not exit before it finished.
            let (task_key, task_pod0, task_store) = (key.clone(), pod0.clone(), store.clone());
            let outcome = match critical::run_to_completion(&ctx.critical, async move {
                initialize(&task_key, &task_pod0, &task_store).await
            })
            .await
            {
                Ok(outcome) => outcome,
                Err(join) => Err((OperateError::Interrupted(join.to_string()), None)),
            };
            match outcome {
                Ok(()) => {
                    ctx.metrics
                        .initializations
                        .get_or_create(&label("initialized"))
                        .inc();
                    publish(
                        ctx,
                        cluster,
                        EventType::Normal,
                        init_reasons::INITIALIZED,
                        "Initialize",
                        format!(
                            "initialized OpenBao through {}; root token and recovery keys stored in Secret {}",
                            pod0.pod,
                            names.root_token_secret()
                        ),
                    )
                    .await;
                    report.initialized = true;
                    report.condition = Some((
                        true,
                        init_reasons::INITIALIZED.to_string(),
                        stored_message(validated),
                    ));
                }
                Err((error, response)) => {
                    ctx.metrics
                        .initializations
                        .get_or_create(&label("failed"))
                        .inc();
                    if let Some(response) = response
                        && let Ok(mut held) = ctx.pending_keys.lock()
                    {
                        held.insert(key.clone(), response);
                    }
                    return Err(error);
                }
            }
        }
        Decision::Initialized => {
            report.initialized = true;
            report.condition = Some((
                true,
                init_reasons::INITIALIZED.to_string(),
                stored_message(validated),
            ));
        }
        Decision::InitializedExternally => {
            report.initialized = true;
            report.condition = Some((
                true,
                init_reasons::INITIALIZED_EXTERNALLY.to_string(),
                format!(
                    "OpenBao was initialized outside the operator; its keys are not in Secret {}",
                    names.root_token_secret()
                ),
            ));
        }
        Decision::KeysLost => {
            report.initialized = true;
            let message = format!(
                "OpenBao is initialized but its root token and recovery keys were never stored: the operator \
                 stopped between the init response and the write to Secret {secret}. The operator will not \
                 initialize again (that would need the data wiped). If the cluster holds no data yet, delete \
                 the OpenBaoCluster with deletionPolicy DeletePVCs (or delete its PersistentVolumeClaims) and \
                 the Secret {secret}, then recreate it; otherwise keep using tokens issued so far.",
                secret = names.root_token_secret()
            );
            let already = cluster.status.as_ref().is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == types::INITIALIZED && c.reason == reasons::INITIALIZATION_KEYS_LOST
                })
            });
            if !already {
                ctx.metrics
                    .initializations
                    .get_or_create(&label("keys_lost"))
                    .inc();
                publish(
                    ctx,
                    cluster,
                    EventType::Warning,
                    reasons::INITIALIZATION_KEYS_LOST,
                    "Initialize",
                    message.clone(),
                )
                .await;
            }
            report.condition = Some((
                false,
                reasons::INITIALIZATION_KEYS_LOST.to_string(),
                message.clone(),
            ));
            report.failure = Some((reasons::INITIALIZATION_KEYS_LOST.to_string(), message));
        }
        Decision::DataLost => {
            let message = "every member reports uninitialized although this cluster was initialized: its Raft data \
                           is gone; restore the volumes or a snapshot (the operator never initializes over lost data)"
                .to_string();
            report.condition = Some((false, init_reasons::DATA_LOST.to_string(), message.clone()));
            report.failure = Some((init_reasons::DATA_LOST.to_string(), message));
        }
        Decision::StaleKeys => {
            let message = format!(
                "Secret {} holds keys of an earlier cluster while every member is uninitialized; the operator \
                 never overwrites keys: delete or rename that Secret to initialize a new cluster",
                names.root_token_secret()
            );
            report.condition = Some((false, init_reasons::STALE_KEYS.to_string(), message.clone()));
            report.failure = Some((init_reasons::STALE_KEYS.to_string(), message));
        }
        Decision::Wait(message) => {
            report.condition = Some((
                false,
                init_reasons::WAITING_FOR_MEMBERS.to_string(),
                message.clone(),
            ));
        }
    }

    // Status: re-read health after an initialization so it reflects the new state.
    let observations = if decision == Decision::Initialize {
        observe(&members).await
    } else {
        observations
    };
    let active = members
        .iter()
        .zip(&observations)
        .find(|(_, o)| o.health.as_ref().is_ok_and(|h| h.is_active()))
        .map(|(m, _)| m);
    report.leader = active.map(|m| m.pod.clone());
    let raft = match (
        active,
        keys == KeyState::Stored || decision == Decision::Initialize,
    ) {
        (Some(active), true) => match store.root_token().await? {
            Some(token) => match raft_facts(active, token.clone()).await {
                Ok(facts) => {
                    Some(remove_departed_peers(ctx, cluster, validated, active, token, facts).await)
                }
                Err(e) => {
                    warn!(cluster = %key, error = %e, "cannot read the Raft configuration");
                    None
                }
            },
            None => None,
        },
        _ => None,
    };
    report.raft_peers = raft
        .as_ref()
        .map(|r: &RaftFacts| i32::try_from(r.peers.len()).unwrap_or(i32::MAX));
    report.members = observations
        .iter()
        .map(|o| member_status(o, raft.as_ref()))
        .collect();
    report.ready = all_ready(&report.members, expected, raft.as_ref());
    Ok(report)
}

/// After a scale-down, the removed pods' Raft peers stay in the configuration and count against
/// quorum. Peers whose ordinal is at or above `spec.replicas` and whose pod is gone are removed
/// explicitly (rather than waiting for autopilot's dead-server cleanup), so membership follows
/// the spec deterministically.
async fn remove_departed_peers(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    validated: &ValidatedCluster,
    active: &Member,
    token: bao_client::SecretString,
    mut facts: RaftFacts,
) -> RaftFacts {
    let names = validated.names();
    let prefix = format!("{}-", names.statefulset());
    let live: Vec<String> = ctx
        .stores
        .pods
        .state()
        .iter()
        .filter(|p| p.namespace().as_deref() == Some(validated.namespace()))
        .map(|p| p.name_any())
        .collect();
    let departed: Vec<String> = facts
        .peers
        .iter()
        .filter(|peer| {
            peer.strip_prefix(&prefix)
                .and_then(|ordinal| ordinal.parse::<i32>().ok())
                .is_some_and(|ordinal| ordinal >= cluster.spec.replicas)
        })
        .filter(|peer| !live.contains(peer))
        .cloned()
        .collect();
    for peer in departed {
        match active
            .client
            .with_token(token.clone())
            .remove_raft_peer(&peer)
            .await
        {
            Ok(()) => {
                info!(peer = %peer, "removed departed Raft peer");
                publish(
                    ctx,
                    cluster,
                    EventType::Normal,
                    "RaftPeerRemoved",
                    "ScaleDown",
                    format!(
                        "removed Raft peer {peer} after scaling down to {} replicas",
                        cluster.spec.replicas
                    ),
                )
                .await;
                facts.peers.retain(|p| p != &peer);
                facts.voters.retain(|p| p != &peer);
            }
            Err(e) => warn!(peer = %peer, error = %e, "cannot remove departed Raft peer"),
        }
    }
    facts
}

fn stored_message(cluster: &ValidatedCluster) -> String {
    format!(
        "initialized; root token and recovery keys are in Secret {}",
        cluster.names().root_token_secret()
    )
}

fn label(category: &str) -> CategoryLabel {
    CategoryLabel {
        category: category.to_string(),
    }
}
