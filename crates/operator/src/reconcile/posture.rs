//! The posture stage: proves a cluster's live network posture (`crate::posture::audit`) from
//! the caches, every NetworkPolicy of its namespace and its members' live labels, and keeps the
//! proof until one of them changes, so a pass over an unchanged namespace costs a hash.

use std::{
    collections::{BTreeMap, hash_map::DefaultHasher},
    hash::{Hash, Hasher},
    sync::Arc,
};

use api::{OpenBaoCluster, conditions::reasons, names};
use kube::{ResourceExt, runtime::events::EventType};

use super::{Context, publish};
use crate::{
    desired::{Facts, ValidatedCluster},
    posture::audit::{self, LiveState},
    telemetry::metrics::ClusterLabels,
};

/// The outcome of the last proof of one cluster's live posture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostureOutcome {
    /// Every flow matched the contract.
    pub verified: bool,
    /// The policies could not be evaluated (an invalid policy); `verified` is false.
    pub unverifiable: bool,
    /// A violation opens something (otherwise they only close flows the contract keeps open).
    pub widened: bool,
    /// Flows evaluated.
    pub flows_checked: usize,
    /// Flows that break the contract.
    pub violations: usize,
    /// The policies that widen the posture.
    pub offending_policies: Vec<String>,
    /// One line for the condition and the Event.
    pub summary: String,
    /// When this live state was proven (RFC 3339).
    pub verified_at: String,
}

/// The memo of one cluster: the fingerprint of the inputs its outcome was proven from.
#[derive(Clone, Debug)]
pub struct Memo {
    fingerprint: u64,
    outcome: Arc<PostureOutcome>,
}

/// Prove `cluster`'s live posture, or return the proof of an unchanged live state. `None` while
/// the watch has not yet seen the operator's own two policies (a fresh cluster): proving then
/// would report the missing core flows as violations.
pub fn run(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    validated: &ValidatedCluster,
    facts: &Facts,
) -> Option<Arc<PostureOutcome>> {
    let namespace = validated.namespace();
    let names = validated.names();
    let mut policies: Vec<_> = ctx
        .stores
        .all_network_policies
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace))
        .collect();
    policies.sort_by_key(|p| p.name_any());
    let own = [names.network_policy(), names.jobs_network_policy()];
    if !own
        .iter()
        .all(|name| policies.iter().any(|p| p.name_any() == *name))
    {
        return None;
    }
    // The cache holds the pods the cluster's StatefulSet controls (see `watch`), whatever other
    // labels were changed by hand: exactly the members whose isolation must be proven.
    let cluster_label = BTreeMap::from([(
        names::LABEL_CLUSTER.to_string(),
        names.cluster().to_string(),
    )]);
    let mut members: Vec<(String, BTreeMap<String, String>)> = ctx
        .pods_matching(namespace, &cluster_label)
        .into_iter()
        .map(|pod| (pod.name_any(), pod.labels().clone()))
        .collect();
    members.sort();

    let mut hasher = DefaultHasher::new();
    cluster.metadata.generation.hash(&mut hasher);
    format!("{:?}", facts.api_server_ip).hash(&mut hasher);
    for policy in &policies {
        policy.name_any().hash(&mut hasher);
        policy.metadata.uid.hash(&mut hasher);
        policy.metadata.resource_version.hash(&mut hasher);
    }
    members.hash(&mut hasher);
    let fingerprint = hasher.finish();
    let key = format!("{namespace}/{}", names.cluster());
    if let Some(memo) = ctx
        .posture
        .lock()
        .ok()
        .and_then(|memos| memos.get(&key).cloned())
        && memo.fingerprint == fingerprint
    {
        return Some(memo.outcome);
    }

    let live = LiveState {
        policies: policies.iter().map(|p| (**p).clone()).collect(),
        members,
    };
    let verified_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let outcome = match audit::audit(validated, facts, &live) {
        Ok(proof) => PostureOutcome {
            verified: proof.verified(),
            unverifiable: false,
            widened: proof.widened(),
            flows_checked: proof.flows_checked(),
            violations: proof.violations().count(),
            offending_policies: proof.offending_policies(),
            summary: proof.summary(),
            verified_at,
        },
        Err(e) => PostureOutcome {
            verified: false,
            unverifiable: true,
            widened: false,
            flows_checked: 0,
            violations: 0,
            offending_policies: Vec::new(),
            summary: format!(
                "the live NetworkPolicies of namespace {namespace} cannot be evaluated: {e}"
            ),
            verified_at,
        },
    };
    ctx.metrics
        .posture_violations
        .get_or_create(&cluster_labels(namespace, names.cluster()))
        .set(i64::try_from(outcome.violations).unwrap_or(i64::MAX));
    let outcome = Arc::new(outcome);
    if let Ok(mut memos) = ctx.posture.lock() {
        memos.insert(
            key,
            Memo {
                fingerprint,
                outcome: outcome.clone(),
            },
        );
    }
    Some(outcome)
}

fn cluster_labels(namespace: &str, cluster: &str) -> ClusterLabels {
    ClusterLabels {
        namespace: namespace.to_string(),
        cluster: cluster.to_string(),
    }
}

/// Forget a deleted cluster's proof and its gauge.
pub fn forget(ctx: &Context, namespace: &str, cluster: &str) {
    if let Ok(mut memos) = ctx.posture.lock() {
        memos.remove(&format!("{namespace}/{cluster}"));
    }
    ctx.metrics
        .posture_violations
        .remove(&cluster_labels(namespace, cluster));
}

/// The Degraded entry of a violation under `spec.network.postureViolations: Block`.
pub fn degraded(
    cluster: &OpenBaoCluster,
    outcome: Option<&PostureOutcome>,
) -> Option<(String, String)> {
    let outcome = outcome.filter(|o| !o.verified)?;
    (cluster.spec.network.posture_violations == api::PostureViolations::Block).then(|| {
        (
            reason(outcome).to_string(),
            format!(
                "spec.network.postureViolations is Block and {}",
                outcome.summary
            ),
        )
    })
}

/// The `PostureVerified` reason of `outcome`.
pub fn reason(outcome: &PostureOutcome) -> &'static str {
    if outcome.verified {
        reasons::POSTURE_HOLDS
    } else if outcome.unverifiable {
        reasons::POSTURE_UNVERIFIABLE
    } else if outcome.widened {
        reasons::POSTURE_WIDENED
    } else {
        reasons::POSTURE_NARROWED
    }
}

/// An Event when the proof flips: a Warning naming the policies when the posture is widened, a
/// Normal one when it holds again. Nothing on the first proof of a cluster that holds.
pub async fn announce(ctx: &Context, cluster: &OpenBaoCluster, outcome: Option<&PostureOutcome>) {
    let Some(outcome) = outcome else { return };
    let before = cluster.status.as_ref().and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == api::conditions::types::POSTURE_VERIFIED)
    });
    let was_verified = before.map(|c| c.status == "True");
    match (was_verified, outcome.verified) {
        (Some(true) | None, false) => {
            publish(
                ctx,
                cluster,
                EventType::Warning,
                reason(outcome),
                "VerifyPosture",
                outcome.summary.clone(),
            )
            .await;
        }
        (Some(false), true) => {
            publish(
                ctx,
                cluster,
                EventType::Normal,
                reasons::POSTURE_HOLDS,
                "VerifyPosture",
                outcome.summary.clone(),
            )
            .await;
        }
        _ => {}
    }
}
