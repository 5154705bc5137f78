//! The status stage: a pure function from what the pass observed and did to the cluster's
//! status (phase, conditions with `observedGeneration`, replica counts), and a patch that is
//! sent only when the result differs from what is already there.

use crate::reconcile::operate::OperateReport;
use api::{
    OpenBaoCluster, OpenBaoClusterStatus, Phase,
    conditions::{reasons, types},
};
use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};

/// Everything status depends on, gathered by the other stages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// `spec.paused`.
    pub paused: bool,
    /// Validation errors (empty when valid), already formatted with field paths.
    pub invalid: Vec<String>,
    /// A problem that keeps the StatefulSet from being created: (reason, message).
    pub blocked: Option<(String, String)>,
    /// Problems that leave the cluster working but need attention: (reason, message).
    pub degraded: Vec<(String, String)>,
    /// Whether the StatefulSet exists.
    pub statefulset_exists: bool,
    /// Desired replicas.
    pub replicas: i32,
    /// Ready pods according to the StatefulSet.
    pub ready_replicas: i32,
    /// The version the pods run (the spec's version once every pod is updated).
    pub current_version: Option<String>,
    /// What the lifecycle stage found, when it ran.
    pub lifecycle: Option<OperateReport>,
    /// IngressIntegrationReady while `spec.ingress.enabled`: (ready, reason, message).
    pub ingress: Option<(bool, String, String)>,
    /// What the backup stage decided `status.backup` is, when it ran.
    pub backup: Option<api::BackupStatus>,
    /// What the rollout stage decided, when it ran.
    pub rollout: Option<crate::reconcile::rollout::RolloutReport>,
    /// The proof of the live network posture, when the posture stage ran.
    pub posture: Option<std::sync::Arc<crate::reconcile::posture::PostureOutcome>>,
}

/// How long a steady cluster waits for its periodic health check unless told otherwise
/// (`--health-check-interval`); drift and member changes are caught by watches sooner.
pub const DEFAULT_HEALTH_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);
/// How many clusters are reconciled at once unless told otherwise
/// (`--max-concurrent-reconciles`). A pass mostly waits on the API server and OpenBao, so a few
/// at once keep the writes flowing; unbounded, a burst of a thousand new clusters held a
/// thousand passes' desired objects in memory at once (BENCHMARKS.md, Fleet).
pub const DEFAULT_MAX_CONCURRENT_RECONCILES: u16 = 16;
/// The first retry of a wait on OpenBao (initialization, election, joins, unseal, promotion to
/// voter): none of these raises a Kubernetes event.
pub const OPENBAO_BACKOFF_BASE: std::time::Duration = std::time::Duration::from_secs(1);
/// The longest wait between passes over a cluster that waits on OpenBao or is blocked.
pub const CONVERGING_REQUEUE: std::time::Duration = std::time::Duration::from_secs(15);
/// How far a requeue is spread around its nominal delay (a fraction), so clusters that started
/// together do not stay in step.
pub const JITTER: f64 = 0.1;

/// What keeps the StatefulSet from being created, most urgent first: objects that belong to
/// someone else (its pods would run without their policy), an unknown API server address (no
/// egress rule to it can be written), a Secret the pods need.
pub fn blocked(
    conflicts: &[crate::reconcile::apply::NameConflict],
    api_server_known: bool,
    secrets_blocking: &Option<(String, String)>,
) -> Option<(String, String)> {
    if !conflicts.is_empty() {
        return Some((
            reasons::NAME_CONFLICT.to_string(),
            name_conflict_message(conflicts),
        ));
    }
    if !api_server_known {
        return Some((
            reasons::API_SERVER_ADDRESS_UNKNOWN.to_string(),
            "the Kubernetes API server address could not be determined, so the egress rule OpenBao needs \
             cannot be written; set spec.network.apiServerCIDR (no wider rule is ever substituted)"
                .to_string(),
        ));
    }
    secrets_blocking.clone()
}

/// The message of a `NameConflict`: which objects belong to whom, and what to do.
pub fn name_conflict_message(conflicts: &[crate::reconcile::apply::NameConflict]) -> String {
    let list: Vec<String> = conflicts.iter().map(ToString::to_string).collect();
    format!(
        "objects this cluster needs already belong to another owner and were left untouched: {}; \
         the StatefulSet is not created until they are free (the derived names collide: rename one \
         of the clusters)",
        list.join(", ")
    )
}

/// IngressIntegrationReady for `cluster` given its live Ingress (from the cache), or `None` when
/// `spec.ingress` is not enabled. `readinessMode` Created is satisfied once the Ingress exists;
/// LoadBalancerPublished (the default) once its controller has published an address.
pub fn ingress_readiness(
    cluster: &OpenBaoCluster,
    live: Option<&k8s_openapi::api::networking::v1::Ingress>,
) -> Option<(bool, String, String)> {
    let spec = cluster.spec.enabled_ingress()?;
    let Some(live) = live else {
        return Some((
            false,
            reasons::INGRESS_MISSING.to_string(),
            "the Ingress does not exist yet".to_string(),
        ));
    };
    if spec.readiness_mode.unwrap_or_default() == api::IngressReadinessMode::Created {
        return Some((
            true,
            reasons::INGRESS_CREATED.to_string(),
            "the Ingress exists (readinessMode Created)".to_string(),
        ));
    }
    let addresses: Vec<String> = live
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
        .collect();
    Some(if addresses.is_empty() {
        (
            false,
            reasons::LOAD_BALANCER_PENDING.to_string(),
            "the Ingress controller has not published a load balancer address yet \
             (readinessMode LoadBalancerPublished)"
                .to_string(),
        )
    } else {
        (
            true,
            reasons::LOAD_BALANCER_PUBLISHED.to_string(),
            format!("the Ingress is published at {}", addresses.join(", ")),
        )
    })
}

/// Problems that leave the cluster working but need attention.
pub fn degraded(
    cluster: &OpenBaoCluster,
    gateway_api: bool,
    backend_tls_api: bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if cluster.spec.enabled_gateway().is_some() && !gateway_api {
        out.push((
            reasons::GATEWAY_API_MISSING.to_string(),
            "spec.gateway.enabled is true but the Gateway API (gateway.networking.k8s.io/v1 HTTPRoute) is not \
             installed; install its CRDs (the operator picks them up on restart)"
                .to_string(),
        ));
    }
    if cluster.spec.backend_tls_enabled() && gateway_api && !backend_tls_api {
        out.push((
            reasons::BACKEND_TLS_POLICY_API_MISSING.to_string(),
            "spec.gateway.backendTLS: the Gateway needs a BackendTLSPolicy to speak HTTPS to \
             OpenBao, but gateway.networking.k8s.io/v1 BackendTLSPolicy is not installed; install \
             the Gateway API v1.4 (or later) standard CRDs (the operator picks them up on restart) \
             or set spec.gateway.backendTLS.enabled to false"
                .to_string(),
        ));
    }
    out
}

/// The Degraded reason of a paused rollout.
pub fn rollout_degraded(
    rollout: Option<&crate::reconcile::rollout::RolloutReport>,
) -> Vec<(String, String)> {
    rollout
        .and_then(|r| r.progress.as_ref())
        .and_then(|p| p.failure.as_ref())
        .map(|f| {
            (
                reasons::ROLLOUT_PAUSED.to_string(),
                f.message.clone().unwrap_or_default(),
            )
        })
        .into_iter()
        .collect()
}

/// How often a cluster whose pods are being replaced is looked at: a replaced member's return
/// (voting, caught up) raises no Kubernetes event.
pub const ROLLOUT_REQUEUE: std::time::Duration = std::time::Duration::from_secs(3);

/// What a cluster waits for after a pass; it decides when the cluster is looked at again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Pods are being replaced: a replaced member's return (voting, caught up) raises no event.
    Rollout,
    /// Running and steady: only the periodic health check.
    HealthCheck,
    /// Kubernetes (pods to be created, scheduled, started, given an address): the pod and
    /// StatefulSet watches wake the cluster, so no timer but the health check's.
    Kubernetes,
    /// OpenBao (initialization, election, joins, unseal, promotion to voter): no Kubernetes
    /// event says it happened, so retry with a backoff while nothing changes.
    OpenBao,
    /// Held back until something is fixed (a name conflict, a Secret the pods need): the
    /// operator's own objects wake it; the user's unlabelled Secrets do not, so back off.
    Blocked,
}

impl Wait {
    /// What a pass found the cluster waiting for. `pods_up`: the cluster's pods that exist,
    /// are not being deleted and have an address.
    pub fn of(
        status: &OpenBaoClusterStatus,
        observed: &Observed,
        rollout_pending: bool,
        pods_up: usize,
    ) -> Wait {
        let promoting = status.members.iter().any(|m| m.voter == Some(false));
        let wanted = usize::try_from(observed.replicas).unwrap_or(0);
        if status.upgrade.is_some() || (rollout_pending && pods_up > 0) {
            Wait::Rollout
        } else if rollout_pending {
            // No pod to replace: only the StatefulSet controller's report of the new revision
            // is awaited, and that status update is a watch event of an owned object.
            Wait::Kubernetes
        } else if status.phase == Some(Phase::Running) && !promoting {
            Wait::HealthCheck
        } else if observed.blocked.is_some() {
            Wait::Blocked
        } else if pods_up < wanted {
            Wait::Kubernetes
        } else {
            Wait::OpenBao
        }
    }
}

/// When a cluster is looked at again, and why (the `reason` label of
/// `openbao_operator_requeues_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requeue {
    /// Delay until the next pass.
    pub after: std::time::Duration,
    /// `rollout`, `health-check`, `kubernetes`, `openbao`, `blocked`, `certificate-renewal` or
    /// `backup-schedule`.
    pub reason: &'static str,
}

/// When to look at the cluster again: every few seconds during a rollout; for a wait on OpenBao
/// or a block, after a delay that doubles with each pass that changed nothing
/// (`unchanged_passes`), up to [`CONVERGING_REQUEUE`]; otherwise at the health check (a wait on
/// Kubernetes is woken by its watch events). Delays are spread by `jitter` (in -1..=1) times
/// [`JITTER`]; never later than the server certificate's renewal or the next scheduled backup.
pub fn requeue(
    status: &OpenBaoClusterStatus,
    wait: Wait,
    unchanged_passes: u32,
    renew_at: Option<time::OffsetDateTime>,
    health_check: std::time::Duration,
    jitter: f64,
    now: time::OffsetDateTime,
) -> Requeue {
    let backoff = |base: std::time::Duration| {
        base.saturating_mul(1 << unchanged_passes.min(16))
            .min(CONVERGING_REQUEUE)
    };
    let (nominal, reason) = match wait {
        Wait::Rollout => (ROLLOUT_REQUEUE, "rollout"),
        Wait::HealthCheck => (health_check, "health-check"),
        Wait::Kubernetes => (health_check, "kubernetes"),
        Wait::OpenBao => (backoff(OPENBAO_BACKOFF_BASE), "openbao"),
        Wait::Blocked => (backoff(OPENBAO_BACKOFF_BASE), "blocked"),
    };
    let spread = 1.0 + JITTER * jitter.clamp(-1.0, 1.0);
    let mut requeue = Requeue {
        after: nominal.mul_f64(spread),
        reason,
    };
    // Never later than the certificate's renewal or the next scheduled backup (a running
    // backup Job wakes the cluster when it ends).
    let next_backup = status
        .backup
        .as_ref()
        .and_then(|b| b.next_scheduled_backup.as_ref())
        .and_then(crate::backup::scheduler::from_time);
    for (at, reason) in [
        (renew_at, "certificate-renewal"),
        (next_backup, "backup-schedule"),
    ] {
        let Some(at) = at else { continue };
        let until =
            std::time::Duration::from_secs((at - now).whole_seconds().max(1).unsigned_abs());
        if until < requeue.after {
            requeue = Requeue {
                after: until,
                reason,
            };
        }
    }
    requeue
}

/// The condition's transition time: `now` at nanosecond precision (the API server keeps seconds).
fn timestamp(now: time::OffsetDateTime) -> Time {
    let nanos = i32::try_from(now.nanosecond()).unwrap_or(0);
    Time(Timestamp::new(now.unix_timestamp(), nanos).unwrap_or(Timestamp::UNIX_EPOCH))
}

fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: now.clone(),
    }
}

/// The status for `cluster` given `observed`, with `now` as the transition time of conditions
/// that change. Conditions keep their `lastTransitionTime` when their status did not change, so
/// recomputing an unchanged status yields an equal value.
pub fn compute(
    cluster: &OpenBaoCluster,
    observed: &Observed,
    now: time::OffsetDateTime,
) -> OpenBaoClusterStatus {
    let now = &timestamp(now);
    let generation = cluster.metadata.generation;
    let old = cluster.status.clone().unwrap_or_default();
    let mut conditions = Vec::new();

    let valid = observed.invalid.is_empty();
    conditions.push(condition(
        types::VALID,
        valid,
        if valid {
            reasons::SPEC_VALID
        } else {
            reasons::INVALID_SPEC
        },
        if valid {
            "the spec passed validation".to_string()
        } else {
            observed.invalid.join("; ")
        },
        generation,
        now,
    ));

    let lifecycle = observed.lifecycle.as_ref();
    let pods_ready = observed.statefulset_exists
        && observed.replicas > 0
        && observed.ready_replicas >= observed.replicas;
    // With the lifecycle stage's view, ready means every member unsealed, joined and one active.
    let all_ready = match lifecycle {
        Some(report) => pods_ready && report.ready,
        None => pods_ready,
    };
    let initialized = lifecycle.is_some_and(|l| l.initialized) || old.initialized;
    let self_initialized = lifecycle.is_some_and(|l| l.self_initialized) || old.self_initialized;
    let root_token_revoked =
        lifecycle.is_some_and(|l| l.root_token_revoked) || old.root_token_revoked;
    let failure = lifecycle.and_then(|l| l.failure.clone());
    let phase = if observed.paused {
        Phase::Paused
    } else if !valid || failure.is_some() {
        Phase::Failed
    } else if observed.blocked.is_some() || !observed.statefulset_exists {
        Phase::Pending
    } else if all_ready && observed.degraded.is_empty() {
        Phase::Running
    } else if all_ready || old.phase == Some(Phase::Running) || old.phase == Some(Phase::Degraded) {
        Phase::Degraded
    } else if !initialized
        && (observed.ready_replicas > 0
            || lifecycle.is_some_and(|l| l.members.iter().any(|m| m.reachable)))
    {
        Phase::Initializing
    } else {
        Phase::Provisioning
    };

    let ready_message = format!(
        "{}/{} members ready",
        observed.ready_replicas, observed.replicas
    );
    conditions.push(condition(
        types::READY,
        all_ready && !observed.paused,
        if observed.paused {
            reasons::PAUSED
        } else if all_ready {
            reasons::ALL_MEMBERS_READY
        } else {
            reasons::PODS_NOT_READY
        },
        ready_message,
        generation,
        now,
    ));

    let progressing = valid && !observed.paused && observed.blocked.is_none() && !all_ready;
    conditions.push(condition(
        types::PROGRESSING,
        progressing,
        if progressing {
            reasons::RECONCILING
        } else {
            reasons::AS_EXPECTED
        },
        if progressing {
            "creating or updating objects and waiting for pods".to_string()
        } else {
            "nothing in progress".to_string()
        },
        generation,
        now,
    ));

    let mut problems: Vec<(String, String)> = observed.blocked.iter().cloned().collect();
    problems.extend(failure.iter().cloned());
    problems.extend(observed.degraded.iter().cloned());
    conditions.push(match problems.first() {
        Some((reason, _)) => condition(
            types::DEGRADED,
            true,
            reason,
            problems
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            generation,
            now,
        ),
        None => condition(
            types::DEGRADED,
            false,
            reasons::AS_EXPECTED,
            "no problems".to_string(),
            generation,
            now,
        ),
    });

    conditions.push(security_risk(cluster, generation, now));

    if let Some((ok, reason, message)) = observed.ingress.clone() {
        conditions.push(condition(
            types::INGRESS_INTEGRATION_READY,
            ok,
            &reason,
            message,
            generation,
            now,
        ));
    }

    if let Some(posture) = &observed.posture {
        conditions.push(condition(
            types::POSTURE_VERIFIED,
            posture.verified,
            crate::reconcile::posture::reason(posture),
            posture.summary.clone(),
            generation,
            now,
        ));
    }

    if let Some((ok, reason, message)) = lifecycle.and_then(|l| l.condition.clone()) {
        conditions.push(condition(
            types::INITIALIZED,
            ok,
            &reason,
            message,
            generation,
            now,
        ));
    }

    // Keep the transition time of conditions whose status did not change.
    for new in &mut conditions {
        if let Some(previous) = old.conditions.iter().find(|c| c.type_ == new.type_)
            && previous.status == new.status
        {
            new.last_transition_time = previous.last_transition_time.clone();
        }
    }
    // Conditions owned by other stages (Initialized, ...) are carried over untouched; the
    // Ingress condition goes with the Ingress.
    for previous in &old.conditions {
        let gone_ingress = previous.type_ == types::INGRESS_INTEGRATION_READY
            && cluster.spec.enabled_ingress().is_none();
        if !gone_ingress && !conditions.iter().any(|c| c.type_ == previous.type_) {
            conditions.push(previous.clone());
        }
    }

    OpenBaoClusterStatus {
        phase: Some(phase),
        observed_generation: generation,
        conditions,
        ready_replicas: observed.ready_replicas,
        ready_members: Some(format!("{}/{}", observed.ready_replicas, observed.replicas)),
        // The spec's version once every pod runs the current revision and serves.
        current_version: match &observed.rollout {
            Some(r) if r.complete => Some(cluster.spec.version.clone()),
            Some(_) => old.current_version.clone(),
            // Without the rollout's view (a pass that did not reach it) the StatefulSet's
            // counts only name the first version: a later change is the rollout's to confirm.
            None => old
                .current_version
                .clone()
                .or(observed.current_version.clone()),
        },
        initialized,
        self_initialized,
        root_token_revoked,
        leader: match lifecycle {
            Some(l) => l.leader.clone(),
            None => old.leader.clone(),
        },
        raft_peers: lifecycle.map_or(old.raft_peers, |l| l.raft_peers.or(old.raft_peers)),
        members: match lifecycle {
            Some(l) => l.members.clone(),
            None => old.members.clone(),
        },
        operation_lock: cluster
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(api::names::ANNOTATION_OPERATION_LOCK))
            .map(|v| api::OperationLockStatus::from_annotation(v)),
        upgrade: match &observed.rollout {
            Some(r) => r.progress.clone(),
            None => old.upgrade.clone(),
        },
        posture: match &observed.posture {
            Some(p) => Some(api::PostureStatus {
                flows_checked: u32::try_from(p.flows_checked).unwrap_or(u32::MAX),
                violations: u32::try_from(p.violations).unwrap_or(u32::MAX),
                last_verified_time: Some(p.verified_at.clone()),
                offending_policies: p.offending_policies.clone(),
            }),
            None => old.posture.clone(),
        },
        // Kept while spec.backup is set, also by passes that did not run the backup stage.
        backup: cluster
            .spec
            .backup
            .as_ref()
            .and(observed.backup.clone().or(old.backup)),
    }
}

/// `SecurityRisk` (upstream's condition): True on a Development cluster (an unset profile is
/// Development), naming the settings the Hardened profile would refuse; False on Hardened.
fn security_risk(cluster: &OpenBaoCluster, generation: Option<i64>, now: &Time) -> Condition {
    if api::validate::effective_profile(&cluster.spec) == api::Profile::Hardened {
        return condition(
            types::SECURITY_RISK,
            false,
            reasons::HARDENED_PROFILE,
            "the Hardened profile is in use".to_string(),
            generation,
            now,
        );
    }
    let findings = api::validate::hardened_findings(&cluster.spec);
    let mut paths: Vec<&str> = findings.iter().map(|f| f.path.as_str()).collect();
    paths.dedup();
    let listed = if paths.is_empty() {
        String::new()
    } else {
        format!("; the Hardened profile would refuse {}", paths.join(", "))
    };
    condition(
        types::SECURITY_RISK,
        true,
        reasons::DEVELOPMENT_PROFILE,
        format!("the Development profile is in use{listed}"),
        generation,
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> OpenBaoCluster {
        let mut c: OpenBaoCluster = serde_yaml::from_str(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {name: bao, namespace: ns}\nspec: {version: \"2.7.2\"}",
        )
        .expect("parses");
        c.metadata.generation = Some(3);
        c
    }

    /// A fixed instant, `seconds` after an arbitrary start, so results never depend on the clock.
    fn at(seconds: i64) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).expect("valid instant")
    }

    fn find<'a>(status: &'a OpenBaoClusterStatus, type_: &str) -> &'a Condition {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .expect("condition present")
    }

    #[test]
    fn a_name_conflict_outranks_an_unknown_api_server_which_outranks_a_missing_secret() {
        let conflict = crate::reconcile::apply::NameConflict {
            kind: "NetworkPolicy".into(),
            name: "x-jobs-network-policy".into(),
            owner: "OpenBaoCluster/x".into(),
        };
        let secret = Some(("TLSSecretInvalid".to_string(), "missing".to_string()));
        let first = blocked(std::slice::from_ref(&conflict), false, &secret).expect("blocked");
        assert_eq!(first.0, reasons::NAME_CONFLICT);
        assert!(first.1.contains("x-jobs-network-policy") && first.1.contains("OpenBaoCluster/x"));
        assert_eq!(
            blocked(&[], false, &secret).map(|b| b.0),
            Some(reasons::API_SERVER_ADDRESS_UNKNOWN.to_string())
        );
        assert_eq!(blocked(&[], true, &secret), secret);
        assert_eq!(blocked(&[], true, &None), None);
    }

    fn after(status: &OpenBaoClusterStatus, wait: Wait, unchanged: u32) -> std::time::Duration {
        let now = time::OffsetDateTime::now_utc();
        requeue(status, wait, unchanged, None, HEALTH, 0.0, now).after
    }

    const HEALTH: std::time::Duration = std::time::Duration::from_secs(300);

    #[test]
    fn each_wait_is_recognised_from_the_pass() {
        let running = OpenBaoClusterStatus {
            phase: Some(Phase::Running),
            ..OpenBaoClusterStatus::default()
        };
        let three = Observed {
            replicas: 3,
            ..Observed::default()
        };
        assert_eq!(Wait::of(&running, &three, false, 3), Wait::HealthCheck);
        // A rollout in progress, or a StatefulSet whose new revision is not reported yet.
        assert_eq!(Wait::of(&running, &three, true, 3), Wait::Rollout);
        let rolling = OpenBaoClusterStatus {
            upgrade: Some(api::UpgradeProgress::default()),
            ..running.clone()
        };
        assert_eq!(Wait::of(&rolling, &three, false, 3), Wait::Rollout);
        // A member awaiting promotion to voter: Raft raises no Kubernetes event.
        let mut promoting = running.clone();
        promoting.members = vec![api::MemberStatus {
            name: "bao-2".into(),
            voter: Some(false),
            ..api::MemberStatus::default()
        }];
        assert_eq!(Wait::of(&promoting, &three, false, 3), Wait::OpenBao);
        let provisioning = OpenBaoClusterStatus {
            phase: Some(Phase::Provisioning),
            ..OpenBaoClusterStatus::default()
        };
        // Pods still to be scheduled or started: their own events wake the cluster.
        assert_eq!(Wait::of(&provisioning, &three, false, 1), Wait::Kubernetes);
        assert_eq!(Wait::of(&provisioning, &three, false, 3), Wait::OpenBao);
        // A new revision not reported yet while no pod runs: the StatefulSet's status update
        // wakes the cluster, so no 3 s timer (a thousand clusters behind a busy controller
        // manager would otherwise poll every 3 s each).
        assert_eq!(Wait::of(&provisioning, &three, true, 0), Wait::Kubernetes);
        let blocked = Observed {
            blocked: Some(("NameConflict".into(), "taken".into())),
            ..three.clone()
        };
        assert_eq!(Wait::of(&provisioning, &blocked, false, 0), Wait::Blocked);
    }

    #[test]
    fn a_steady_cluster_waits_for_its_health_check_and_a_wait_on_kubernetes_sets_no_short_timer() {
        let running = OpenBaoClusterStatus {
            phase: Some(Phase::Running),
            ..OpenBaoClusterStatus::default()
        };
        assert_eq!(after(&running, Wait::HealthCheck, 0), HEALTH);
        assert_eq!(after(&running, Wait::Kubernetes, 7), HEALTH);
        assert_eq!(after(&running, Wait::Rollout, 7), ROLLOUT_REQUEUE);
    }

    #[test]
    fn a_wait_on_openbao_backs_off_while_nothing_changes_up_to_a_cap() {
        let status = OpenBaoClusterStatus::default();
        let delays: Vec<u64> = (0..7)
            .map(|n| after(&status, Wait::OpenBao, n).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 15, 15, 15]);
        assert_eq!(after(&status, Wait::Blocked, 40), CONVERGING_REQUEUE);
    }

    #[test]
    fn jitter_spreads_a_delay_by_at_most_a_tenth() {
        let status = OpenBaoClusterStatus::default();
        let now = time::OffsetDateTime::now_utc();
        let at = |jitter| {
            requeue(&status, Wait::HealthCheck, 0, None, HEALTH, jitter, now)
                .after
                .as_secs_f64()
        };
        assert!((at(1.0) - 330.0).abs() < 1e-6, "{}", at(1.0));
        assert!((at(-1.0) - 270.0).abs() < 1e-6, "{}", at(-1.0));
        assert_eq!(at(5.0), at(1.0), "out-of-range jitter is clamped");
    }

    #[test]
    fn no_wait_runs_past_the_certificate_renewal_and_says_so() {
        let now = time::OffsetDateTime::now_utc();
        let running = OpenBaoClusterStatus {
            phase: Some(Phase::Running),
            ..OpenBaoClusterStatus::default()
        };
        let soon = now + time::Duration::seconds(42);
        let r = requeue(&running, Wait::HealthCheck, 0, Some(soon), HEALTH, 1.0, now);
        assert_eq!(
            (r.after, r.reason),
            (std::time::Duration::from_secs(42), "certificate-renewal")
        );
        let overdue = now - time::Duration::seconds(5);
        let r = requeue(
            &running,
            Wait::HealthCheck,
            0,
            Some(overdue),
            HEALTH,
            0.0,
            now,
        );
        assert_eq!(r.after, std::time::Duration::from_secs(1));
        let later = now + time::Duration::days(30);
        let r = requeue(
            &running,
            Wait::HealthCheck,
            0,
            Some(later),
            HEALTH,
            0.0,
            now,
        );
        assert_eq!((r.after, r.reason), (HEALTH, "health-check"));
    }

    #[test]
    fn a_gateway_without_the_backend_tls_policy_api_is_degraded_unless_backend_tls_is_off() {
        let mut c = cluster();
        c.spec.gateway =
            Some(serde_json::from_value(serde_json::json!({"enabled": true})).expect("gateway"));
        assert_eq!(
            degraded(&c, true, false).first().map(|d| d.0.as_str()),
            Some(reasons::BACKEND_TLS_POLICY_API_MISSING)
        );
        c.spec.gateway = Some(
            serde_json::from_value(
                serde_json::json!({"enabled": true, "backendTLS": {"enabled": false}}),
            )
            .expect("gateway"),
        );
        assert!(degraded(&c, true, false).is_empty());
    }

    #[test]
    fn the_ingress_condition_follows_the_readiness_mode_and_leaves_with_the_ingress() {
        use k8s_openapi::api::networking::v1::{
            Ingress, IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressStatus,
        };
        let mut c = cluster();
        assert_eq!(ingress_readiness(&c, None), None);
        c.spec.ingress = Some(Box::new(
            serde_json::from_value(serde_json::json!({"enabled": true, "host": "bao.example.com"}))
                .expect("ingress"),
        ));
        let created = Ingress::default();
        let published = Ingress {
            status: Some(IngressStatus {
                load_balancer: Some(IngressLoadBalancerStatus {
                    ingress: Some(vec![IngressLoadBalancerIngress {
                        ip: Some("192.0.2.7".to_string()),
                        ..IngressLoadBalancerIngress::default()
                    }]),
                }),
            }),
            ..Ingress::default()
        };
        let reason = |live: Option<&Ingress>, c: &OpenBaoCluster| {
            ingress_readiness(c, live).map(|(ok, reason, _)| (ok, reason))
        };
        assert_eq!(
            reason(None, &c),
            Some((false, reasons::INGRESS_MISSING.to_string()))
        );
        assert_eq!(
            reason(Some(&created), &c),
            Some((false, reasons::LOAD_BALANCER_PENDING.to_string()))
        );
        assert_eq!(
            reason(Some(&published), &c),
            Some((true, reasons::LOAD_BALANCER_PUBLISHED.to_string()))
        );
        if let Some(ingress) = c.spec.ingress.as_mut() {
            ingress.readiness_mode = Some(api::IngressReadinessMode::Created);
        }
        assert_eq!(
            reason(Some(&created), &c),
            Some((true, reasons::INGRESS_CREATED.to_string()))
        );

        let observed = Observed {
            ingress: ingress_readiness(&c, Some(&created)),
            ..Observed::default()
        };
        let status = compute(&c, &observed, at(0));
        assert_eq!(
            find(&status, types::INGRESS_INTEGRATION_READY).status,
            "True"
        );
        c.status = Some(status);
        c.spec.ingress = None;
        let status = compute(&c, &Observed::default(), at(1));
        assert!(
            !status
                .conditions
                .iter()
                .any(|c| c.type_ == types::INGRESS_INTEGRATION_READY),
            "the condition leaves with the Ingress"
        );
    }

    #[test]
    fn a_gateway_without_the_gateway_api_is_a_degradation_not_a_block() {
        let mut c = cluster();
        assert!(degraded(&c, false, false).is_empty());
        c.spec.gateway =
            Some(serde_json::from_value(serde_json::json!({"enabled": true})).expect("gateway"));
        assert_eq!(
            degraded(&c, false, false).first().map(|d| d.0.as_str()),
            Some(reasons::GATEWAY_API_MISSING)
        );
        assert!(degraded(&c, true, true).is_empty());
    }

    #[test]
    fn an_invalid_spec_fails_with_every_error_in_the_valid_condition() {
        let status = compute(
            &cluster(),
            &Observed {
                invalid: vec!["spec.replicas: a".into(), "spec.version: b".into()],
                ..Observed::default()
            },
            at(0),
        );
        assert_eq!(status.phase, Some(Phase::Failed));
        let valid = find(&status, types::VALID);
        assert_eq!(valid.status, "False");
        assert_eq!(valid.reason, reasons::INVALID_SPEC);
        assert!(valid.message.contains("spec.replicas") && valid.message.contains("spec.version"));
        assert_eq!(valid.observed_generation, Some(3));
    }

    #[test]
    fn all_ready_members_make_the_cluster_running_and_ready() {
        let status = compute(
            &cluster(),
            &Observed {
                statefulset_exists: true,
                replicas: 3,
                ready_replicas: 3,
                ..Observed::default()
            },
            at(0),
        );
        assert_eq!(status.phase, Some(Phase::Running));
        assert_eq!(find(&status, types::READY).status, "True");
        assert_eq!(status.ready_members.as_deref(), Some("3/3"));
    }

    #[test]
    fn a_blocking_problem_keeps_the_cluster_pending_with_a_degraded_reason() {
        let status = compute(
            &cluster(),
            &Observed {
                blocked: Some((
                    reasons::API_SERVER_ADDRESS_UNKNOWN.into(),
                    "set spec.network.apiServerCIDR".into(),
                )),
                replicas: 3,
                ..Observed::default()
            },
            at(0),
        );
        assert_eq!(status.phase, Some(Phase::Pending));
        let degraded = find(&status, types::DEGRADED);
        assert_eq!(degraded.status, "True");
        assert_eq!(degraded.reason, reasons::API_SERVER_ADDRESS_UNKNOWN);
        assert!(degraded.message.contains("apiServerCIDR"));
    }

    #[test]
    fn losing_a_member_after_running_is_degraded_not_provisioning() {
        let mut c = cluster();
        c.status = Some(OpenBaoClusterStatus {
            phase: Some(Phase::Running),
            ..Default::default()
        });
        let status = compute(
            &c,
            &Observed {
                statefulset_exists: true,
                replicas: 3,
                ready_replicas: 2,
                ..Observed::default()
            },
            at(0),
        );
        assert_eq!(status.phase, Some(Phase::Degraded));
    }

    #[test]
    fn recomputing_an_unchanged_status_keeps_transition_times() {
        let observed = Observed {
            statefulset_exists: true,
            replicas: 1,
            ..Observed::default()
        };
        let mut c = cluster();
        let first = compute(&c, &observed, at(0));
        c.status = Some(first.clone());
        let second = compute(&c, &observed, at(600));
        assert_eq!(first, second);
    }

    #[test]
    fn a_condition_that_flips_takes_now_as_its_transition_time() {
        let mut c = cluster();
        let pending = Observed {
            statefulset_exists: true,
            replicas: 1,
            ..Observed::default()
        };
        c.status = Some(compute(&c, &pending, at(0)));
        let ready = Observed {
            ready_replicas: 1,
            ..pending
        };
        let status = compute(&c, &ready, at(90));
        let flipped = find(&status, types::READY);
        assert_eq!(flipped.status, "True");
        assert_eq!(flipped.last_transition_time, timestamp(at(90)));
        let unchanged = find(&status, types::VALID);
        assert_eq!(unchanged.last_transition_time, timestamp(at(0)));
    }

    #[test]
    fn a_cluster_without_a_profile_is_a_security_risk_naming_what_hardened_would_refuse() {
        let status = compute(&cluster(), &Observed::default(), at(0));
        let risk = find(&status, types::SECURITY_RISK);
        assert_eq!(risk.status, "True");
        assert_eq!(risk.reason, reasons::DEVELOPMENT_PROFILE);
        assert!(
            risk.message.contains("spec.unseal.type") && risk.message.contains("spec.tls.mode"),
            "{}",
            risk.message
        );
    }

    #[test]
    fn a_hardened_cluster_is_not_a_security_risk() {
        let mut c = cluster();
        c.spec.profile = Some(api::Profile::Hardened);
        let status = compute(&c, &Observed::default(), at(0));
        let risk = find(&status, types::SECURITY_RISK);
        assert_eq!(risk.status, "False");
        assert_eq!(risk.reason, reasons::HARDENED_PROFILE);
    }

    #[test]
    fn backup_status_is_kept_while_spec_backup_is_set_and_its_next_firing_bounds_the_requeue() {
        let mut c = cluster();
        c.spec.backup = Some(
            serde_json::from_value(serde_json::json!({
                "schedule": "0 3 * * *",
                "target": {"endpoint": "https://s3.example.com", "bucket": "snapshots"}
            }))
            .expect("backup"),
        );
        assert!(
            degraded(&c, true, true).is_empty(),
            "a backup spec is no problem"
        );
        let next = at(120);
        let backup = api::BackupStatus {
            next_scheduled_backup: Some(crate::backup::scheduler::to_time(next)),
            ..api::BackupStatus::default()
        };
        let observed = Observed {
            statefulset_exists: true,
            replicas: 1,
            ready_replicas: 1,
            backup: Some(backup.clone()),
            ..Observed::default()
        };
        let status = compute(&c, &observed, at(0));
        assert_eq!(status.backup.as_ref(), Some(&backup));
        let r = requeue(&status, Wait::HealthCheck, 0, None, HEALTH, 0.0, at(0));
        assert_eq!(
            (r.after, r.reason),
            (std::time::Duration::from_secs(120), "backup-schedule")
        );
        // A pass that did not run the backup stage keeps what the last one recorded...
        c.status = Some(status);
        let kept = compute(
            &c,
            &Observed {
                backup: None,
                ..observed.clone()
            },
            at(1),
        );
        assert_eq!(kept.backup.as_ref(), Some(&backup));
        // ...and removing spec.backup removes it.
        c.spec.backup = None;
        assert_eq!(compute(&c, &observed, at(2)).backup, None);
    }

    #[test]
    fn paused_clusters_say_paused() {
        let status = compute(
            &cluster(),
            &Observed {
                paused: true,
                ..Observed::default()
            },
            at(0),
        );
        assert_eq!(status.phase, Some(Phase::Paused));
        assert_eq!(find(&status, types::READY).reason, reasons::PAUSED);
    }
}
