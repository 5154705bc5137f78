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

mod autopilot;
mod error;
mod init;
mod members;
mod revoke;

pub use error::OperateError;
pub use init::*;
pub use members::*;
pub use revoke::{Revocation, revoke_root_token};

use super::{Context, critical, publish};
use crate::{desired::ValidatedCluster, telemetry::metrics::CategoryLabel};

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
    /// Whether OpenBao initialized itself from `spec.selfInit`.
    pub self_initialized: bool,
    /// Whether the stored root token is known to be revoked (this pass or an earlier one).
    pub root_token_revoked: bool,
    /// The Initialized condition: (status, reason, message).
    pub condition: Option<(bool, String, String)>,
    /// Every member unsealed, joined, and exactly one active.
    pub ready: bool,
    /// A problem that needs the user (keys lost, data lost, stale keys).
    pub failure: Option<(String, String)>,
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
    let mut pods: Vec<(i32, Member)> = ctx
        .pods_matching(namespace, &names.server_selector_labels())
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .filter_map(|pod| {
            let ordinal = pod_ordinal(pod, &names.statefulset())?;
            let ip: IpAddr = pod.status.as_ref()?.pod_ip.as_ref()?.parse().ok()?;
            let address = SocketAddr::new(ip, names::API_PORT as u16);
            // Each member's certificate names its own pod; in ACME mode every member holds a
            // certificate for the cluster's ACME domain instead, so that name is verified.
            let server_name = if cluster.spec().acme_trust().is_some() {
                crate::desired::config_hcl::acme_server_name(cluster.spec())
            } else {
                names.pod_dns(ordinal, namespace)
            };
            match Member::new(pod.name_any(), address, server_name, ca_pem) {
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

/// The key store's state. Stored keys are never removed by the operator, so while the metadata
/// cache shows the Secret at the version it was last read holding them, they are still there
/// and the body is not read again; any other state is read every time (it is what
/// initialization decides on).
async fn key_state(
    ctx: &Context,
    key: &str,
    namespace: &str,
    store: &SecretKeyStore,
) -> Result<KeyState, OperateError> {
    let cached = ctx.cached_secret_version(namespace, store.name());
    let stored_at = ctx
        .stored_keys_at
        .lock()
        .ok()
        .and_then(|stored| stored.get(key).cloned());
    if cached.is_some() && cached == stored_at {
        return Ok(KeyState::Stored);
    }
    let (state, version) = store.state_at().await?;
    if let Ok(mut stored) = ctx.stored_keys_at.lock() {
        match (state, version) {
            (KeyState::Stored, Some(version)) => stored.insert(key.to_string(), version),
            _ => stored.remove(key),
        };
    }
    Ok(state)
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

    // A self-initialized cluster has no key Secret, and the operator never reads one for it.
    let self_init = crate::desired::self_init::enabled(validated);
    // Until a member answers and while status has never said initialized, nothing depends on
    // the key store (the decision is to wait for the members), so it is not read: a cluster
    // whose pods wait for Kubernetes costs no request per pass.
    let nothing_to_decide = observations.is_empty() && !status_initialized;
    let keys = if self_init || nothing_to_decide {
        KeyState::Absent
    } else {
        key_state(ctx, &key, validated.namespace(), &store).await?
    };
    let mut decision = if self_init {
        decide_self_init(&observations, expected, status_initialized)
    } else {
        decide(&observations, expected, keys, status_initialized)
    };
    if self_init
        && matches!(decision, Decision::Wait(_))
        && let Some(failure) = pod0_failure(ctx, validated)
    {
        // Restarts after the failure only say that an earlier one failed: keep the first
        // message, which names the request.
        decision = Decision::SelfInitFailed(
            reported_self_init_failure(cluster)
                .filter(|_| failure.starts_with(EARLIER_FAILURE))
                .unwrap_or(failure),
        );
    }
    let mut report = OperateReport::default();
    match &decision {
        Decision::Initialize => {
            let Some(pod0) = members.first().filter(|m| m.pod == names.pod(0)) else {
                report.condition = Some((
                    false,
                    reasons::WAITING_FOR_MEMBERS.to_string(),
                    format!("waiting for {}", names.pod(0)),
                ));
                return Ok(report);
            };
            info!(member = %pod0.pod, "initializing OpenBao");
            // From here until the keys are stored they exist only in this process: the work
            // runs to its end even if this pass is dropped (lost Lease, shutdown), and the
            // manager does not exit before it finished.
            let (task_key, task_pod0, task_store) = (key.clone(), pod0.clone(), store.clone());
            let initialized = match critical::run_to_completion(&ctx.critical, async move {
                initialize(&task_key, &task_pod0, &task_store).await
            })
            .await
            {
                Ok(outcome) => outcome,
                Err(join) => Err((OperateError::Interrupted(join.to_string()), None)),
            };
            match initialized {
                Ok(()) => {
                    ctx.metrics
                        .initializations
                        .get_or_create(&label("initialized"))
                        .inc();
                    publish(
                        ctx,
                        cluster,
                        EventType::Normal,
                        reasons::INITIALIZED,
                        "Initialize",
                        format!(
                            "initialized OpenBao through {}; root token and recovery keys stored in Secret {}",
                            pod0.pod,
                            names.root_token_secret()
                        ),
                    )
                    .await;
                    let planned = outcome(&Decision::Initialized, names, false);
                    report.initialized = planned.initialized;
                    report.condition = planned.condition;
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
        Decision::SelfInitialized if !status_initialized => {
            ctx.metrics
                .initializations
                .get_or_create(&label("self_initialized"))
                .inc();
            publish(
                ctx,
                cluster,
                EventType::Normal,
                reasons::SELF_INITIALIZED,
                "Initialize",
                "OpenBao initialized itself from spec.selfInit; no root token exists".to_string(),
            )
            .await;
            let planned = outcome(&decision, names, false);
            report.initialized = planned.initialized;
            report.self_initialized = true;
            report.condition = planned.condition;
        }
        other => {
            let keys_lost_reported = cluster.status.as_ref().is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == types::INITIALIZED && c.reason == reasons::INITIALIZATION_KEYS_LOST
                })
            });
            let planned = outcome(other, names, keys_lost_reported);
            if let Some((type_, reason, note, metric)) = planned.event {
                ctx.metrics
                    .initializations
                    .get_or_create(&label(metric))
                    .inc();
                publish(ctx, cluster, type_, reason, "Initialize", note).await;
            }
            report.initialized = planned.initialized;
            report.self_initialized = *other == Decision::SelfInitialized;
            report.condition = planned.condition;
            report.failure = planned.failure;
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
    let ours = keys == KeyState::Stored
        || matches!(decision, Decision::Initialize | Decision::SelfInitialized);
    let root_token_revoked = cluster
        .status
        .as_ref()
        .is_some_and(|s| s.root_token_revoked);
    report.root_token_revoked = root_token_revoked;
    let raft = match (active, ours) {
        (Some(active), true) => {
            let root_token_readable = !self_init && !root_token_revoked;
            let token = operator_token(ctx, cluster, &key, active, &store, root_token_readable);
            match token.await {
                Some(token) => {
                    // The operator's own login works: the root token is no longer needed.
                    if root_token_readable
                        && keys == KeyState::Stored
                        && validated
                            .spec()
                            .initialization
                            .as_ref()
                            .is_some_and(|i| i.revoke_root_token)
                    {
                        report.root_token_revoked =
                            revoke_stored_root_token(ctx, cluster, active, &store).await;
                    }
                    match raft_facts(active, token.clone()).await {
                        Ok(facts) => {
                            configure_autopilot(ctx, cluster, active, token.clone()).await;
                            Some(
                                remove_departed_peers(
                                    ctx, cluster, validated, active, token, facts,
                                )
                                .await,
                            )
                        }
                        Err(e) => {
                            if matches!(
                                &e,
                                OperateError::OpenBao {
                                    source: bao_client::Error::PermissionDenied { .. },
                                    ..
                                }
                            ) {
                                // A token of an earlier incarnation of the cluster: log in again.
                                ctx.session.forget(&key);
                            }
                            warn!(error = %e, "cannot read the Raft configuration");
                            None
                        }
                    }
                }
                None => None,
            }
        }
        _ => None,
    };
    if report.root_token_revoked
        && let Some((true, reason, message)) = report.condition.as_mut()
        && reason == reasons::INITIALIZED
    {
        *message = format!(
            "initialized; the root token was revoked (spec.initialization.revokeRootToken); the \
             recovery keys are in Secret {}",
            names.root_token_secret()
        );
    }
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

/// The failure status already reports (the text between the condition's fixed parts).
fn reported_self_init_failure(cluster: &OpenBaoCluster) -> Option<String> {
    let condition = cluster.status.as_ref()?.conditions.iter().find(|c| {
        c.type_ == types::INITIALIZED && c.reason == reasons::SELF_INITIALIZATION_FAILED
    })?;
    let failure = condition
        .message
        .strip_prefix(SELF_INIT_FAILED_PREFIX)?
        .split_once(SELF_INIT_FAILED_SUFFIX)?
        .0;
    (!failure.starts_with(EARLIER_FAILURE)).then(|| failure.to_string())
}

/// What pod 0's OpenBao container said when it last stopped, if that was a failed
/// self-initialization (its termination message: the tail of its log, with the pod template's
/// `terminationMessagePolicy: FallbackToLogsOnError`).
fn pod0_failure(ctx: &Context, cluster: &ValidatedCluster) -> Option<String> {
    let names = cluster.names();
    let pod = ctx
        .pods_matching(cluster.namespace(), &names.server_selector_labels())
        .into_iter()
        .find(|p| p.name_any() == names.pod(0))?;
    let status = pod
        .status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == crate::desired::statefulset::CONTAINER)?
        .clone();
    [status.state, status.last_state]
        .into_iter()
        .flatten()
        .filter_map(|s| s.terminated)
        .filter_map(|t| t.message)
        .find_map(|m| self_init_failure(&m))
}

/// The operator's OpenBao token for the cluster: a cached one, or a fresh login with its
/// ServiceAccount token. A cluster initialized through `sys/init` whose login fails (it
/// predates the operator's identity, or the API server's signing keys changed) gets the
/// identity written once with the stored root token, then the login is retried. A
/// self-initialized cluster has no root token, and a revoked one is gone
/// (`root_token_readable` false): a failed login is only reported.
async fn operator_token(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    key: &str,
    active: &Member,
    store: &SecretKeyStore,
    root_token_readable: bool,
) -> Option<bao_client::SecretString> {
    let refused = match ctx.session.token(key, &active.client).await {
        Ok(token) => return Some(token),
        Err(crate::identity::session::IdentityError::Login { source, .. }) => {
            let refused = source.status().is_some_and(|s| (400..500).contains(&s));
            warn!(error = %source, "cannot log in to OpenBao with the operator's identity");
            refused
        }
        Err(e) => {
            warn!(error = %e, "the operator has no identity to log in with");
            false
        }
    };
    if !root_token_readable || !refused {
        return None;
    }
    let root = match store.root_token().await {
        Ok(Some(root)) => root,
        _ => return None,
    };
    let identity = ctx
        .session
        .identity()
        .await
        .inspect_err(|e| warn!(error = %e, "the operator has no identity to configure"))
        .ok()?;
    let jobs = crate::identity::JobSubjects::of(
        &cluster.namespace().unwrap_or_default(),
        &cluster.name_any(),
    );
    if let Err(e) = configure_identity(&active.client.with_token(root), &identity, &jobs).await {
        warn!(error = %e, "cannot configure the operator's identity in OpenBao");
        return None;
    }
    info!("configured the operator's identity in OpenBao with the root token");
    publish(
        ctx,
        cluster,
        EventType::Normal,
        reasons::OPERATOR_IDENTITY_CONFIGURED,
        "Configure",
        format!(
            "wrote the operator's auth method (auth/{}), its policy and role and the backup and \
             restore Jobs' with the root token; the operator uses its own role from now on",
            crate::identity::AUTH_MOUNT
        ),
    )
    .await;
    ctx.session
        .token(key, &active.client)
        .await
        .inspect_err(|e| warn!(error = %e, "cannot log in after configuring the identity"))
        .ok()
}

/// Revoke the stored root token (`spec.initialization.revokeRootToken`) through `active`,
/// reporting it as an Event; whether it is known revoked now. A failure is reported and
/// tried again on the next pass.
async fn revoke_stored_root_token(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    active: &Member,
    store: &SecretKeyStore,
) -> bool {
    match revoke_root_token(&active.pod, &active.client, store).await {
        Ok(outcome @ (Revocation::Revoked | Revocation::AlreadyInvalid)) => {
            info!(secret = store.name(), ?outcome, "revoked the root token");
            publish(
                ctx,
                cluster,
                EventType::Normal,
                reasons::ROOT_TOKEN_REVOKED,
                "Revoke",
                format!(
                    "revoked the root token in OpenBao and removed it from Secret {} \
                     (spec.initialization.revokeRootToken); the recovery keys stay there",
                    store.name()
                ),
            )
            .await;
            true
        }
        Ok(outcome) => {
            tracing::debug!(secret = store.name(), ?outcome, "no root token to revoke");
            outcome.is_revoked()
        }
        Err(e) => {
            warn!(error = %e, "cannot revoke the root token");
            publish(
                ctx,
                cluster,
                EventType::Warning,
                reasons::ROOT_TOKEN_REVOCATION_FAILED,
                "Revoke",
                format!("cannot revoke the root token yet (tried again on the next pass): {e}"),
            )
            .await;
            false
        }
    }
}

/// Write the operator's identity through `client` (which holds the root token): the whole
/// bootstrap when the auth method is missing, else its configuration, policy and role again.
pub async fn configure_identity(
    client: &bao_client::BaoClient,
    identity: &crate::identity::OperatorIdentity,
    jobs: &crate::identity::JobSubjects,
) -> Result<(), bao_client::Error> {
    let mounts = client.auth_mounts().await?;
    let requests = if mounts.contains(crate::identity::AUTH_MOUNT) {
        crate::identity::configure_requests(identity, jobs)
    } else {
        crate::identity::bootstrap_requests(identity, jobs)
    };
    for request in requests {
        client.write(&request.path, request.data).await?;
    }
    Ok(())
}

/// Write `spec.configuration.raft.autopilot` to OpenBao when its values differ (one read per
/// pass while the spec sets autopilot; a write only on a difference). A failure is logged and
/// retried on the next pass: autopilot's own defaults keep the cluster working meanwhile.
async fn configure_autopilot(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    active: &Member,
    token: bao_client::SecretString,
) {
    let Some(spec) = &cluster.spec.configuration.raft.autopilot else {
        return;
    };
    let client = active.client.with_token(token);
    let current = match client.autopilot_configuration().await {
        Ok(current) => current,
        Err(e) => {
            warn!(error = %e, "cannot read the autopilot configuration");
            return;
        }
    };
    let Some(update) = autopilot::update_for(spec, &current) else {
        return;
    };
    match client.set_autopilot_configuration(&update).await {
        Ok(()) => {
            info!("configured autopilot");
            publish(
                ctx,
                cluster,
                EventType::Normal,
                reasons::AUTOPILOT_CONFIGURED,
                "Configure",
                "wrote spec.configuration.raft.autopilot to OpenBao's autopilot configuration"
                    .to_string(),
            )
            .await;
        }
        Err(e) => warn!(error = %e, "cannot write the autopilot configuration"),
    }
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
                    reasons::RAFT_PEER_REMOVED,
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

/// The fixed start of the `SelfInitializationFailed` message.
const SELF_INIT_FAILED_PREFIX: &str = "self-initialization failed: ";
/// What follows the failure in that message.
const SELF_INIT_FAILED_SUFFIX: &str = ". OpenBao never unseals a cluster";

/// What a decision other than [`Decision::Initialize`] means for status and Events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionOutcome {
    /// Whether OpenBao is initialized.
    pub initialized: bool,
    /// The Initialized condition: (status, reason, message).
    pub condition: Option<(bool, String, String)>,
    /// A problem that needs the user.
    pub failure: Option<(String, String)>,
    /// An Event to publish, once: (type, reason, note, initializations metric label).
    pub event: Option<(EventType, &'static str, String, &'static str)>,
}

/// The status and Events of `decision`, without IO. `keys_lost_reported`: status already says
/// the keys were lost (the Event and metric are not repeated on every pass).
pub fn outcome(
    decision: &Decision,
    names: &api::names::ClusterNames,
    keys_lost_reported: bool,
) -> DecisionOutcome {
    let secret = names.root_token_secret();
    let condition =
        |ok: bool, reason: &str, message: String| Some((ok, reason.to_string(), message));
    let mut out = DecisionOutcome {
        initialized: false,
        condition: None,
        failure: None,
        event: None,
    };
    match decision {
        Decision::Initialize | Decision::Initialized => {
            out.initialized = true;
            out.condition = condition(
                true,
                reasons::INITIALIZED,
                format!("initialized; root token and recovery keys are in Secret {secret}"),
            );
        }
        Decision::InitializedExternally => {
            out.initialized = true;
            out.condition = condition(
                true,
                reasons::INITIALIZED_EXTERNALLY,
                format!(
                    "OpenBao was initialized outside the operator; its keys are not in Secret {secret}"
                ),
            );
        }
        Decision::KeysLost => {
            out.initialized = true;
            let message = format!(
                "OpenBao is initialized but its root token and recovery keys were never stored: the operator \
                 stopped between the init response and the write to Secret {secret}. The operator will not \
                 initialize again (that would need the data wiped). If the cluster holds no data yet, delete \
                 the OpenBaoCluster with deletionPolicy DeletePVCs (or delete its PersistentVolumeClaims) and \
                 the Secret {secret}, then recreate it; otherwise keep using tokens issued so far."
            );
            if !keys_lost_reported {
                out.event = Some((
                    EventType::Warning,
                    reasons::INITIALIZATION_KEYS_LOST,
                    message.clone(),
                    "keys_lost",
                ));
            }
            out.condition = condition(false, reasons::INITIALIZATION_KEYS_LOST, message.clone());
            out.failure = Some((reasons::INITIALIZATION_KEYS_LOST.to_string(), message));
        }
        Decision::DataLost => {
            let message = "every member reports uninitialized although this cluster was initialized: its Raft data \
                           is gone; restore the volumes or a snapshot (the operator never initializes over lost data)"
                .to_string();
            out.condition = condition(false, reasons::MEMBERS_LOST_DATA, message.clone());
            out.failure = Some((reasons::MEMBERS_LOST_DATA.to_string(), message));
        }
        Decision::StaleKeys => {
            let message = format!(
                "Secret {secret} holds keys of an earlier cluster while every member is uninitialized; the operator \
                 never overwrites keys: delete or rename that Secret to initialize a new cluster"
            );
            out.condition = condition(false, reasons::STALE_ROOT_TOKEN_SECRET, message.clone());
            out.failure = Some((reasons::STALE_ROOT_TOKEN_SECRET.to_string(), message));
        }
        Decision::Wait(message) => {
            out.condition = condition(false, reasons::WAITING_FOR_MEMBERS, message.clone());
        }
        Decision::SelfInitialized => {
            out.initialized = true;
            out.condition = condition(
                true,
                reasons::SELF_INITIALIZED,
                format!(
                    "initialized itself from spec.selfInit: no root token exists; the operator uses its own \
                     role (auth/{})",
                    crate::identity::AUTH_MOUNT
                ),
            );
        }
        Decision::SelfInitFailed(failure) => {
            let message = format!(
                "{SELF_INIT_FAILED_PREFIX}{failure}{SELF_INIT_FAILED_SUFFIX} whose self-initialization \
                 failed: fix spec.selfInit, then delete the OpenBaoCluster with deletionPolicy \
                 DeletePVCs (or delete its PersistentVolumeClaims) and recreate it"
            );
            out.condition = condition(false, reasons::SELF_INITIALIZATION_FAILED, message.clone());
            out.failure = Some((reasons::SELF_INITIALIZATION_FAILED.to_string(), message));
        }
    }
    out
}

fn label(category: &str) -> CategoryLabel {
    CategoryLabel {
        category: category.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> api::names::ClusterNames {
        api::names::ClusterNames::new("bao")
    }

    #[test]
    fn lost_keys_are_a_failure_reported_by_one_event_and_never_retried() {
        let first = outcome(&Decision::KeysLost, &names(), false);
        assert!(first.initialized, "never initialized again");
        let (type_, reason, note, metric) = first.event.clone().expect("an event");
        assert_eq!(type_, EventType::Warning);
        assert_eq!(reason, reasons::INITIALIZATION_KEYS_LOST);
        assert!(note.contains("bao-root-token"));
        assert_eq!(metric, "keys_lost");
        assert_eq!(
            first.failure.as_ref().map(|f| f.0.as_str()),
            Some(reasons::INITIALIZATION_KEYS_LOST)
        );
        let later = outcome(&Decision::KeysLost, &names(), true);
        assert!(
            later.event.is_none(),
            "the Event is not repeated every pass"
        );
        assert_eq!(later.condition, first.condition);
    }

    #[test]
    fn data_loss_and_stale_keys_fail_with_their_reason_and_name_the_secret_where_it_matters() {
        let data = outcome(&Decision::DataLost, &names(), false);
        assert_eq!(
            data.condition.as_ref().map(|c| (c.0, c.1.as_str())),
            Some((false, reasons::MEMBERS_LOST_DATA))
        );
        assert!(data.failure.is_some() && !data.initialized && data.event.is_none());
        let stale = outcome(&Decision::StaleKeys, &names(), false);
        assert_eq!(
            stale.failure.as_ref().map(|f| f.0.as_str()),
            Some(reasons::STALE_ROOT_TOKEN_SECRET)
        );
        assert!(stale.failure.expect("failure").1.contains("bao-root-token"));
    }

    #[test]
    fn initialized_clusters_say_where_the_keys_are_or_that_none_are_held() {
        let ours = outcome(&Decision::Initialized, &names(), false);
        assert!(ours.initialized && ours.failure.is_none() && ours.event.is_none());
        let (ok, reason, message) = ours.condition.expect("condition");
        assert!(ok && reason == reasons::INITIALIZED && message.contains("bao-root-token"));
        let external = outcome(&Decision::InitializedExternally, &names(), false);
        assert_eq!(
            external.condition.expect("condition").1,
            reasons::INITIALIZED_EXTERNALLY
        );
    }

    #[test]
    fn waiting_is_not_a_failure_and_carries_the_reason_it_waits() {
        let wait = outcome(
            &Decision::Wait("waiting for bao-2".to_string()),
            &names(),
            false,
        );
        assert!(!wait.initialized && wait.failure.is_none());
        let (ok, reason, message) = wait.condition.expect("condition");
        assert!(!ok && reason == reasons::WAITING_FOR_MEMBERS && message == "waiting for bao-2");
    }
}
