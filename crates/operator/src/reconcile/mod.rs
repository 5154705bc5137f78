//! The reconciler: one pass turns an `OpenBaoCluster` into live objects through the stages of
//! DESIGN.md section 3, in this order, each in its own module and each returning its own value:
//!
//! ```text
//! validate (pure) -> observe (IO, read-only) -> secrets (IO, planned) -> build (pure)
//!     -> apply (IO, no write when nothing drifted) -> operate (IO, OpenBao itself)
//!     -> backup (IO: the scheduler's Jobs; never fails the pass)
//!     -> status (pure compute, one patch only when it changed)
//! ```
//!
//! Deletion runs `cleanup` under the `openbao.org/cleanup` finalizer, honouring
//! `spec.deletionPolicy`. A paused cluster keeps its security objects repaired and nothing else.
//! Around the driver: `context` (what every pass shares), `error` (what can fail),
//! `events` (Events and the retry policy), `watch` (the controller and its caches).

pub mod apply;
pub mod backup;
pub mod cleanup;
pub mod critical;
pub mod observe;
pub mod operate;
pub mod posture;
pub mod rollout;
pub mod secrets;
pub mod status;
pub mod volumes;

mod context;
mod error;
mod events;
mod watch;

pub use context::{Config, Context, Stores};
pub use error::Error;
pub use events::{error_policy, publish};
pub use watch::{
    UNFILTERED_CACHES_ENV, backend_tls_policy_served, gateway_api_served, run, run_with,
};

use std::sync::Arc;

use api::{OpenBaoCluster, conditions::reasons, names};
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        controller::Action,
        events::EventType,
        finalizer::{self, finalizer},
        reflector::ObjectRef,
    },
};
use tracing::{Instrument, info};

use crate::desired::{self, Facts, ValidatedCluster};

/// Reconcile one cluster (the controller's callback), timed and counted.
pub async fn reconcile(cluster: Arc<OpenBaoCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.metrics.reconciles.inc();
    let started = std::time::Instant::now();
    // Every log line of the pass carries the cluster and namespace through this span.
    let span = tracing::info_span!(
        "reconcile",
        cluster = %cluster.name_any(),
        namespace = %cluster.namespace().unwrap_or_default(),
    );
    let result = reconcile_pass(cluster, &ctx).instrument(span).await;
    ctx.metrics.pass_finished(
        started.elapsed().as_secs_f64(),
        result.as_ref().err().map(Error::category),
    );
    result
}

async fn reconcile_pass(cluster: Arc<OpenBaoCluster>, ctx: &Arc<Context>) -> Result<Action, Error> {
    let ctx = ctx.clone();
    let ns = cluster.namespace().unwrap_or_else(|| "default".to_string());
    let api = Api::<OpenBaoCluster>::namespaced(ctx.client.clone(), &ns);
    // Deletion is an explicit user action and is honoured even while paused.
    if cluster.spec.paused && cluster.metadata.deletion_timestamp.is_none() {
        return paused(&ctx, &api, &cluster).await;
    }
    finalizer(&api, names::FINALIZER, cluster, |event| async {
        match event {
            finalizer::Event::Apply(cluster) => apply_cluster(&ctx, &api, &cluster).await,
            finalizer::Event::Cleanup(cluster) => cleanup::cleanup(&ctx, &cluster).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

async fn paused(
    ctx: &Context,
    api: &Api<OpenBaoCluster>,
    cluster: &OpenBaoCluster,
) -> Result<Action, Error> {
    // Pausing stops the operator from changing the workload, not from keeping the posture: the
    // NetworkPolicies, Role and RoleBinding are still repaired (and watched) while paused.
    if let Ok(validated) = ValidatedCluster::new(cluster.clone()) {
        let facts = Facts::new(
            ctx.config.operator_namespace.clone(),
            observe::api_server_ip(ctx).await,
        );
        let resources = desired::build(&validated, &facts);
        let applied = apply::apply_all(ctx, &validated, &resources, ctx.gateway_api, true).await?;
        if applied.writes > 0 {
            ctx.metrics.apply_writes.inc_by(applied.writes as u64);
            info!(
                writes = applied.writes,
                "repaired security objects while paused"
            );
        }
    }
    let observed = status::Observed {
        paused: true,
        replicas: cluster.spec.replicas,
        ..observe::statefulset_state(ctx, cluster)
    };
    let now = time::OffsetDateTime::now_utc();
    patch_status(ctx, api, cluster, status::compute(cluster, &observed, now)).await?;
    Ok(Action::await_change())
}

/// One pass over a live cluster: the stages of the module doc, each returning its own value;
/// status is computed once, from those values.
async fn apply_cluster(
    ctx: &Context,
    api: &Api<OpenBaoCluster>,
    cluster: &OpenBaoCluster,
) -> Result<Action, Error> {
    // validate (pure); the webhook may be absent, so invalid specs are caught here too.
    let validated = match ValidatedCluster::new(cluster.clone()) {
        Ok(valid) => valid,
        Err(errors) => return invalid(ctx, api, cluster, &errors).await,
    };
    // observe (read-only IO).
    let facts = Facts::new(
        ctx.config.operator_namespace.clone(),
        observe::api_server_ip(ctx).await,
    );
    let workload = observe::statefulset_state(ctx, cluster);
    // secrets (IO): CA, server certificate, unseal key; never regenerated while they exist.
    let secrets = ensure_secrets(ctx, cluster, &validated).await?;
    // build (pure); pods are held back while a Secret they need is missing. The CA certificate
    // (public part) is published for the Gateway's BackendTLSPolicy.
    let facts = facts.with_ca_pem(
        secrets
            .ca_pem
            .as_ref()
            .and_then(|pem| String::from_utf8(pem.clone()).ok()),
    );
    // A cluster that initializes itself is given the operator's identity in its first
    // configuration; without it the pods are held back.
    let (identity, identity_blocking) = if desired::self_init::bootstrapping(&validated) {
        match ctx.session.identity().await {
            Ok(identity) => (Some(identity), None),
            Err(e) => (
                None,
                Some((
                    reasons::OPERATOR_IDENTITY_UNAVAILABLE.to_string(),
                    format!(
                        "spec.selfInit is enabled and OpenBao must be given the operator's identity \
                         before it initializes itself, but: {e}"
                    ),
                )),
            ),
        }
    } else {
        (None, None)
    };
    let identity_blocking = match identity_blocking {
        None if desired::self_init::bootstrapping(&validated) => {
            missing_self_init_secrets(ctx, &validated).await?
        }
        other => other,
    };
    let facts = facts.with_operator_identity(identity);
    let api_server_known = desired::api_server_cidr(&validated, &facts).is_some();
    let mut desired = desired::build(&validated, &facts);
    let blocking = secrets.blocking.clone().or(identity_blocking);
    if blocking.is_some() {
        desired.statefulset = None;
    }
    // A restore holds the cluster: the StatefulSet stays as it is (no scale, no roll).
    let locked = cluster
        .annotations()
        .contains_key(names::ANNOTATION_OPERATION_LOCK);
    if locked {
        desired.statefulset = None;
    }
    // apply (IO; no write when nothing drifted).
    let applied = apply_desired(ctx, cluster, &validated, &desired, &facts).await?;
    // operate (IO): member health, exactly-once initialization, Raft membership.
    let statefulset_in_place =
        applied.statefulset_applied || (locked && workload.statefulset_exists);
    let operated = match (&secrets.ca_pem, statefulset_in_place) {
        (Some(ca_pem), true) => Some(operate::run(ctx, cluster, &validated, ca_pem).await?),
        _ => None,
    };
    // rollout (IO): replace the pods on an old revision, one at a time, the leader last.
    let rollout = match (&operated, &secrets.ca_pem) {
        (Some(report), Some(ca_pem)) if !locked && applied.statefulset_applied => {
            let fresh = applied.statefulset_written;
            let seal = secrets.seal_fingerprint.as_deref();
            Some(rollout::run(ctx, cluster, &validated, report, ca_pem, fresh, seal).await)
        }
        _ => None,
    };
    // backup (IO): start the due Job, record the last one's outcome.
    let backup_ready = !locked
        && operated
            .as_ref()
            .is_some_and(|o| o.initialized && o.leader.is_some());
    let backup = backup::run(
        ctx,
        cluster,
        &validated,
        backup_ready,
        secrets.seal_fingerprint.as_deref(),
    )
    .await;
    // posture (CPU only): prove the live NetworkPolicies of the namespace against the contract.
    let proof = posture::run(ctx, cluster, &validated, &facts);
    // status (pure, one patch when it changed).
    let observed = status::Observed {
        replicas: cluster.spec.replicas,
        blocked: status::blocked(&applied.conflicts, api_server_known, &blocking),
        degraded: [
            status::degraded(cluster, ctx.gateway_api, ctx.backend_tls_api),
            applied.degraded.clone(),
            status::rollout_degraded(rollout.as_ref()),
            posture::degraded(cluster, proof.as_deref())
                .into_iter()
                .collect(),
        ]
        .concat(),
        ingress: status::ingress_readiness(
            cluster,
            ctx.stores
                .ingresses
                .get(&ObjectRef::new(&validated.names().ingress()).within(validated.namespace()))
                .as_deref(),
        ),
        statefulset_exists: workload.statefulset_exists || applied.statefulset_applied,
        lifecycle: operated,
        backup,
        rollout,
        posture: proof.clone(),
        ..workload
    };
    let now = time::OffsetDateTime::now_utc();
    let new_status = status::compute(cluster, &observed, now);
    let rollout_pending = observed
        .rollout
        .as_ref()
        .is_some_and(|r| r.revision_pending);
    let key = format!("{}/{}", validated.namespace(), validated.names().cluster());
    let unchanged = ctx.count_unchanged(&key, cluster.status.as_ref() != Some(&new_status));
    let wait = status::Wait::of(
        &new_status,
        &observed,
        rollout_pending,
        pods_up(ctx, &validated),
    );
    let requeue = status::requeue(
        &new_status,
        wait,
        unchanged,
        secrets.renew_at,
        ctx.config.health_check_interval,
        jitter(),
        now,
    );
    ctx.metrics.requeued(requeue.reason);
    announce_phase(ctx, cluster, &new_status, &observed.blocked).await;
    posture::announce(ctx, cluster, proof.as_deref()).await;
    patch_status(ctx, api, cluster, new_status).await?;
    Ok(Action::requeue(requeue.after))
}

/// The cluster's pods that exist, are not being deleted and have an address (from the cache).
fn pods_up(ctx: &Context, cluster: &ValidatedCluster) -> usize {
    ctx.pods_matching(
        cluster.namespace(),
        &cluster.names().server_selector_labels(),
    )
    .iter()
    .filter(|pod| pod.metadata.deletion_timestamp.is_none())
    .filter(|pod| pod.status.as_ref().is_some_and(|s| s.pod_ip.is_some()))
    .count()
}

/// A sample in -1..=1 that spreads requeues (not for anything secret).
fn jitter() -> f64 {
    let sample = getrandom::u32().unwrap_or(u32::MAX / 2);
    f64::from(sample) / f64::from(u32::MAX) * 2.0 - 1.0
}

/// The cluster's two policies as the cache holds them, when both exist (an update, not the
/// first creation).
fn cached_policies(
    ctx: &Context,
    cluster: &ValidatedCluster,
) -> Option<Vec<k8s_openapi::api::networking::v1::NetworkPolicy>> {
    let names = cluster.names();
    [names.network_policy(), names.jobs_network_policy()]
        .iter()
        .map(|name| {
            ctx.stores
                .network_policies
                .get(&ObjectRef::new(name).within(cluster.namespace()))
                .map(|p| (*p).clone())
        })
        .collect()
}

/// A Normal Event saying which flows a rewrite of the cluster's policies opens and closes (a
/// spec change, or the repair of a policy edited by hand), from the same evaluator as the
/// posture proof. Nothing when the rewrite moves no flow.
async fn announce_policy_change(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    validated: &ValidatedCluster,
    desired: &desired::ClusterResources,
    facts: &Facts,
    before: &[k8s_openapi::api::networking::v1::NetworkPolicy],
) {
    let after = [
        desired.network_policy.clone(),
        desired.jobs_network_policy.clone(),
    ];
    match crate::posture::diff::between(validated, facts, before, &after) {
        Ok(diff) if !diff.is_empty() => {
            publish(
                ctx,
                cluster,
                EventType::Normal,
                reasons::NETWORK_POLICY_UPDATED,
                "Apply",
                format!(
                    "updated the NetworkPolicies; between the posture check's synthetic pods \
                     (named by role) this {}",
                    diff.summary(3)
                ),
            )
            .await;
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot evaluate the policy change"),
    }
}

/// An invalid spec: every field error in status and (once per generation) an Event; then wait
/// for the user to edit the spec (no hot loop).
/// A blocking reason when a Secret key that `spec.selfInit.requests[].dataFrom` names is
/// missing: OpenBao reads those files once, at its first start, and a missing one fails the
/// self-initialization for good.
async fn missing_self_init_secrets(
    ctx: &Context,
    cluster: &ValidatedCluster,
) -> Result<Option<(String, String)>, Error> {
    let api = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(
        ctx.client.clone(),
        cluster.namespace(),
    );
    let mut missing = Vec::new();
    for source in desired::self_init::secret_sources(cluster) {
        let secret = api.get_opt(&source.name).await.map_err(|e| Error::Kube {
            action: format!("read Secret {} (spec.selfInit dataFrom)", source.name),
            source: e,
        })?;
        let present = secret
            .and_then(|s| s.data)
            .is_some_and(|d| d.get(&source.key).is_some_and(|v| !v.0.is_empty()));
        if !present {
            missing.push(format!("{}/{}", source.name, source.key));
        }
    }
    Ok((!missing.is_empty()).then(|| {
        (
            reasons::SELF_INIT_SECRET_MISSING.to_string(),
            format!(
                "spec.selfInit.requests[].dataFrom names Secret keys that do not exist (or are empty): \
                 {}; the pods start once they exist, because OpenBao reads them only at its first start",
                missing.join(", ")
            ),
        )
    }))
}

async fn invalid(
    ctx: &Context,
    api: &Api<OpenBaoCluster>,
    cluster: &OpenBaoCluster,
    errors: &api::ValidationErrors,
) -> Result<Action, Error> {
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let already_reported = cluster.status.as_ref().is_some_and(|s| {
        s.observed_generation == cluster.metadata.generation
            && s.conditions
                .iter()
                .any(|c| c.type_ == api::conditions::types::VALID && c.status == "False")
    });
    if !already_reported {
        publish(
            ctx,
            cluster,
            EventType::Warning,
            reasons::INVALID_SPEC,
            "Validate",
            messages.join("; "),
        )
        .await;
    }
    let observed = status::Observed {
        invalid: messages,
        replicas: cluster.spec.replicas,
        ..observe::statefulset_state(ctx, cluster)
    };
    let now = time::OffsetDateTime::now_utc();
    patch_status(ctx, api, cluster, status::compute(cluster, &observed, now)).await?;
    Ok(Action::await_change())
}

/// The secrets stage, and an Event naming the Secrets it wrote.
async fn ensure_secrets(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    validated: &ValidatedCluster,
) -> Result<secrets::SecretsOutcome, Error> {
    let initialized = cluster.status.as_ref().is_some_and(|s| s.initialized);
    let outcome = secrets::ensure(ctx, validated, initialized).await?;
    if !outcome.written.is_empty() {
        let note = format!("wrote Secrets {}", outcome.written.join(", "));
        publish(
            ctx,
            cluster,
            EventType::Normal,
            reasons::SECRETS_WRITTEN,
            "Secrets",
            note,
        )
        .await;
    }
    Ok(outcome)
}

/// The apply stage, its write count, and an Event (once per message) for objects that belong to
/// someone else.
async fn apply_desired(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    validated: &ValidatedCluster,
    desired: &desired::ClusterResources,
    facts: &Facts,
) -> Result<apply::Applied, Error> {
    let before = cached_policies(ctx, validated);
    let applied = apply::apply_all(ctx, validated, desired, ctx.gateway_api, false).await?;
    if applied.policies_written
        && let Some(before) = before
    {
        announce_policy_change(ctx, cluster, validated, desired, facts, &before).await;
    }
    ctx.metrics.apply_writes.inc_by(applied.writes as u64);
    if applied.writes > 0 {
        info!(writes = applied.writes, "applied");
    }
    if !applied.conflicts.is_empty() {
        let message = status::name_conflict_message(&applied.conflicts);
        let already_reported = cluster.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.reason == reasons::NAME_CONFLICT && c.message == message)
        });
        if !already_reported {
            publish(
                ctx,
                cluster,
                EventType::Warning,
                reasons::NAME_CONFLICT,
                "Apply",
                message,
            )
            .await;
        }
    }
    if !applied.expanded.is_empty() {
        let grown: Vec<String> = applied
            .expanded
            .iter()
            .map(|g| format!("{} from {} to {}", g.template, g.from, g.to))
            .collect();
        publish(
            ctx,
            cluster,
            EventType::Normal,
            reasons::VOLUMES_EXPANDED,
            "Apply",
            format!(
                "expanded the members' volumes ({}) and re-created the StatefulSet with the new \
                 size; its pods kept running",
                grown.join(", ")
            ),
        )
        .await;
    }
    for (reason, message) in &applied.degraded {
        let already_reported = cluster.status.as_ref().is_some_and(|s| {
            s.conditions.iter().any(|c| {
                c.type_ == api::conditions::types::DEGRADED && c.message.contains(message.as_str())
            })
        });
        if !already_reported {
            publish(
                ctx,
                cluster,
                EventType::Warning,
                reason,
                "Apply",
                message.clone(),
            )
            .await;
        }
    }
    Ok(applied)
}

/// An Event when the phase changes (a Warning with the reason when the cluster is blocked).
async fn announce_phase(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    new_status: &api::OpenBaoClusterStatus,
    blocked: &Option<(String, String)>,
) {
    let old_phase = cluster.status.as_ref().and_then(|s| s.phase);
    let Some(phase) = new_status.phase.filter(|p| Some(*p) != old_phase) else {
        return;
    };
    let (type_, note) = match blocked {
        Some((reason, message)) => (
            EventType::Warning,
            format!("phase {}: {reason}: {message}", phase.as_str()),
        ),
        None => (EventType::Normal, format!("phase {}", phase.as_str())),
    };
    publish(ctx, cluster, type_, phase.as_str(), "Reconcile", note).await;
}

/// Patch the status subresource, only when it differs from what the object already carries.
pub async fn patch_status(
    ctx: &Context,
    api: &Api<OpenBaoCluster>,
    cluster: &OpenBaoCluster,
    status: api::OpenBaoClusterStatus,
) -> Result<(), Error> {
    ctx.record_phase(
        format!(
            "{}/{}",
            cluster.namespace().unwrap_or_default(),
            cluster.name_any()
        ),
        status.phase,
    );
    if cluster.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let name = cluster.name_any();
    let patch = serde_json::json!({
        "apiVersion": OpenBaoCluster::api_version(&()),
        "kind": OpenBaoCluster::kind(&()),
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(names::MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::Kube {
        action: format!("patch status of OpenBaoCluster {name}"),
        source,
    })?;
    Ok(())
}
