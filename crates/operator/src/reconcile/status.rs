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
    /// Pods running the current revision.
    pub updated_replicas: i32,
    /// The version the pods run (the spec's version once every pod is updated).
    pub current_version: Option<String>,
    /// Whether OpenBao reports the cluster initialized (set by the lifecycle stage).
    pub initialized: bool,
    /// What the lifecycle stage found, when it ran.
    pub lifecycle: Option<OperateReport>,
}

fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: Time(Timestamp::now()),
    }
}

/// The status for `cluster` given `observed`. Conditions keep their `lastTransitionTime` when
/// their status did not change, so recomputing an unchanged status yields an equal value.
pub fn compute(cluster: &OpenBaoCluster, observed: &Observed) -> OpenBaoClusterStatus {
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
    let initialized =
        observed.initialized || lifecycle.is_some_and(|l| l.initialized) || old.initialized;
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
        ),
        None => condition(
            types::DEGRADED,
            false,
            reasons::AS_EXPECTED,
            "no problems".to_string(),
            generation,
        ),
    });

    if let Some((ok, reason, message)) = lifecycle.and_then(|l| l.condition.clone()) {
        conditions.push(condition(
            types::INITIALIZED,
            ok,
            &reason,
            message,
            generation,
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
    // Conditions owned by other stages (Initialized, ...) are carried over untouched.
    for previous in &old.conditions {
        if !conditions.iter().any(|c| c.type_ == previous.type_) {
            conditions.push(previous.clone());
        }
    }

    OpenBaoClusterStatus {
        phase: Some(phase),
        observed_generation: generation,
        conditions,
        ready_replicas: observed.ready_replicas,
        ready_members: Some(format!("{}/{}", observed.ready_replicas, observed.replicas)),
        current_version: observed
            .current_version
            .clone()
            .or(old.current_version.clone()),
        initialized,
        leader: match lifecycle {
            Some(l) => l.leader.clone(),
            None => old.leader.clone(),
        },
        raft_peers: lifecycle.map_or(old.raft_peers, |l| l.raft_peers.or(old.raft_peers)),
        members: match lifecycle {
            Some(l) => l.members.clone(),
            None => old.members.clone(),
        },
    }
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

    fn find<'a>(status: &'a OpenBaoClusterStatus, type_: &str) -> &'a Condition {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .expect("condition present")
    }

    #[test]
    fn an_invalid_spec_fails_with_every_error_in_the_valid_condition() {
        let status = compute(
            &cluster(),
            &Observed {
                invalid: vec!["spec.replicas: a".into(), "spec.version: b".into()],
                ..Observed::default()
            },
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
                initialized: true,
                ..Observed::default()
            },
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
                initialized: true,
                ..Observed::default()
            },
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
        let first = compute(&c, &observed);
        c.status = Some(first.clone());
        let second = compute(&c, &observed);
        assert_eq!(first, second);
    }

    #[test]
    fn paused_clusters_say_paused() {
        let status = compute(
            &cluster(),
            &Observed {
                paused: true,
                ..Observed::default()
            },
        );
        assert_eq!(status.phase, Some(Phase::Paused));
        assert_eq!(find(&status, types::READY).reason, reasons::PAUSED);
    }
}
