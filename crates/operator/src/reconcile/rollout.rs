//! The rollout stage (IO): reads which revision each server pod runs (the pod cache) and how
//! each member is doing (the operate stage's report, and autopilot's state while a rollout is
//! under way), asks [`crate::rollout::plan`] for the next step and performs it: delete one pod
//! (the StatefulSet recreates it on the new revision), or ask the active member to step down.

use api::{OpenBaoCluster, UpgradeProgress, conditions::reasons};
use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::Pod};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Preconditions},
    runtime::{events::EventType, reflector::ObjectRef},
};
use tracing::{info, warn};

use super::{Context, operate::OperateReport, publish};
use crate::{
    backup::scheduler::JobOutcome,
    desired::ValidatedCluster,
    rollout::{self, Action, Inputs, Member, SnapshotGate},
};

/// The pod label the StatefulSet controller sets to the revision a pod was created from.
const REVISION_LABEL: &str = "controller-revision-hash";

/// What the stage leaves for status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RolloutReport {
    /// The new `status.upgrade`.
    pub progress: Option<UpgradeProgress>,
    /// Every pod runs the update revision and serves.
    pub complete: bool,
    /// The StatefulSet changed and its controller has not reported the new revision yet: look
    /// again soon (the status update alone may not wake the cluster).
    pub revision_pending: bool,
}

/// Run the stage for `cluster`, after the operate stage reported `report`; `written` says this
/// pass wrote the StatefulSet; `seal_fingerprint` goes with a pre-upgrade snapshot.
pub async fn run(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    validated: &ValidatedCluster,
    report: &OperateReport,
    ca_pem: &[u8],
    written: bool,
    seal_fingerprint: Option<&str>,
) -> RolloutReport {
    let names = validated.names();
    let namespace = validated.namespace();
    let previous = cluster.status.as_ref().and_then(|s| s.upgrade.as_ref());
    // The update revision counts only once the StatefulSet controller has seen the template
    // this pass applied; until then nothing is decided (the watch brings the next pass).
    let revision = if written {
        None
    } else {
        ctx.stores
            .statefulsets
            .get(&ObjectRef::<StatefulSet>::new(&names.statefulset()).within(namespace))
            .and_then(|s| update_revision(&s))
    };
    let pods: Vec<std::sync::Arc<Pod>> = ctx
        .pods_matching(namespace, &names.server_selector_labels())
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let mut members: Vec<Member> = pods
        .iter()
        .filter_map(|pod| {
            let name = pod.name_any();
            let ordinal = name
                .strip_prefix(&format!("{}-", names.statefulset()))?
                .parse()
                .ok()?;
            let status = report.members.iter().find(|m| m.name == name);
            Some(Member {
                ordinal,
                updated: revision.is_some()
                    && pod.labels().get(REVISION_LABEL) == revision.as_ref(),
                serving: pod_ready(pod) && status.is_some_and(|s| s.initialized && !s.sealed),
                voter: status.and_then(|s| s.voter),
                healthy: None,
                leader: report.leader.as_deref() == Some(name.as_str()),
                pod: name,
            })
        })
        .collect();
    // Autopilot's view costs a call: asked only while a rollout is under way.
    // Initialized once is initialized for good: a pass whose members do not all answer (the
    // member being replaced) must not look like a cluster without data.
    let initialized = report.initialized || cluster.status.as_ref().is_some_and(|s| s.initialized);
    let under_way = previous.is_some() || members.iter().any(|m| !m.updated);
    if under_way && initialized && revision.is_some() {
        apply_autopilot(ctx, validated, report, ca_pem, &mut members).await;
    }
    let timeout = validated
        .spec()
        .upgrade
        .as_ref()
        .and_then(|u| u.member_timeout.as_deref())
        .and_then(|t| api::validate::rules::parse_go_duration(t).ok())
        .and_then(|d| time::Duration::try_from(d).ok())
        .unwrap_or(rollout::DEFAULT_MEMBER_TIMEOUT);
    let snapshot = pre_upgrade_snapshot(
        ctx,
        cluster,
        validated,
        revision.as_deref(),
        initialized,
        seal_fingerprint,
    )
    .await;
    let plan = rollout::plan(&Inputs {
        replicas: cluster.spec.replicas,
        members: &members,
        revision: revision.as_deref(),
        version: &cluster.spec.version,
        current_version: cluster
            .status
            .as_ref()
            .and_then(|s| s.current_version.as_deref()),
        previous,
        initialized,
        member_timeout: timeout,
        snapshot: &snapshot.gate,
        now: time::OffsetDateTime::now_utc(),
    });
    announce(ctx, cluster, previous, &plan).await;
    let mut progress = plan.progress;
    if let Some(p) = progress
        .as_mut()
        .filter(|p| p.revision == snapshot.revision)
    {
        p.pre_upgrade_snapshot_job_name = snapshot.job;
        p.pre_upgrade_snapshot = snapshot.key;
    }
    match &plan.action {
        Action::None => {}
        Action::Replace(pod) => replace(ctx, namespace, &pods, pod).await,
        Action::StepDown(pod) => match step_down(ctx, validated, report, ca_pem, pod).await {
            SteppedDown::Asked => {}
            // A failure is asked again after the retry interval.
            SteppedDown::Failed => warn!(member = %pod, "the active member did not step down"),
            SteppedDown::Refused => {
                // The operator's policy predates step-downs (an older bootstrap). Every other
                // member already runs the new revision, so whoever wins the election that the
                // leader's departure starts is upgraded: replace it; writes pause for one
                // election instead of a handover.
                warn!(member = %pod, "step-down refused by the operator's OpenBao policy; replacing the active member");
                replace(ctx, namespace, &pods, pod).await;
                if let Some(p) = progress.as_mut() {
                    p.current_member = Some(pod.clone());
                    p.member_started_at = Some(crate::backup::scheduler::to_time(
                        time::OffsetDateTime::now_utc(),
                    ));
                    p.message = Some(format!(
                        "replacing {pod}, the active member, without a step-down: the operator's \
                         OpenBao policy does not allow sys/step-down (see docs/upgrades.md)"
                    ));
                }
            }
        },
    }
    RolloutReport {
        progress,
        complete: plan.complete,
        revision_pending: revision.is_none(),
    }
}

/// How long a failed pre-upgrade snapshot holds the rollout before another is taken.
pub const PRE_UPGRADE_SNAPSHOT_RETRY: time::Duration = time::Duration::minutes(5);

/// The annotation on a pre-upgrade backup Job: the StatefulSet revision it was taken for.
const ANNOTATION_PRE_UPGRADE_REVISION: &str = "openbao.org/pre-upgrade-revision";

/// Where the pre-upgrade snapshot of the rollout to `revision` stands.
struct PreUpgradeSnapshot {
    gate: SnapshotGate,
    /// The rollout's revision these fields belong to (`status.upgrade.revision`).
    revision: String,
    /// `status.upgrade.preUpgradeSnapshotJobName`.
    job: Option<String>,
    /// `status.upgrade.preUpgradeSnapshot`.
    key: Option<String>,
}

/// Take, or follow, the snapshot `spec.upgrade.preUpgradeSnapshot` asks for before a version
/// change touches its first pod: a backup Job like the scheduled ones (the backup stage adopts
/// it, so no other backup Job runs beside it). A failed snapshot holds the rollout and is taken
/// again after [`PRE_UPGRADE_SNAPSHOT_RETRY`]; nothing is replaced meanwhile.
async fn pre_upgrade_snapshot(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    validated: &ValidatedCluster,
    revision: Option<&str>,
    initialized: bool,
    seal_fingerprint: Option<&str>,
) -> PreUpgradeSnapshot {
    let status = cluster.status.as_ref();
    let previous = status
        .and_then(|s| s.upgrade.as_ref())
        .filter(|p| Some(p.revision.as_str()) == revision);
    let mut out = PreUpgradeSnapshot {
        gate: SnapshotGate::Open,
        revision: revision.unwrap_or_default().to_string(),
        job: previous.and_then(|p| p.pre_upgrade_snapshot_job_name.clone()),
        key: previous.and_then(|p| p.pre_upgrade_snapshot.clone()),
    };
    let spec = validated.spec();
    let asked = spec
        .upgrade
        .as_ref()
        .is_some_and(|u| u.pre_upgrade_snapshot == Some(true));
    let current_version = status.and_then(|s| s.current_version.as_deref());
    let version_change = current_version.is_some_and(|v| v != spec.version);
    let started =
        previous.is_some_and(|p| !p.completed_pods.is_empty() || p.current_member.is_some());
    if revision.is_none()
        || !asked
        || !initialized
        || !version_change
        || started
        || out.key.is_some()
    {
        return out;
    }
    let names = validated.names();
    let namespace = validated.namespace();
    let now = time::OffsetDateTime::now_utc();
    if let Some(job) = out.job.clone() {
        match super::backup::outcome(ctx, namespace, &job).await {
            Ok(JobOutcome::Running) => {
                out.gate = SnapshotGate::Waiting(format!(
                    "taking the pre-upgrade snapshot (Job {job}) before any pod is replaced"
                ));
                return out;
            }
            Ok(JobOutcome::Succeeded { manifest, .. }) => {
                let key = manifest.map_or_else(|| format!("(Job {job})"), |m| m.key);
                publish(
                    ctx,
                    cluster,
                    EventType::Normal,
                    reasons::PRE_UPGRADE_SNAPSHOT_TAKEN,
                    "Rollout",
                    format!("Job {job} stored the pre-upgrade snapshot {key}; the rollout starts"),
                )
                .await;
                out.key = Some(key);
                return out;
            }
            Ok(JobOutcome::Failed { reason, message }) => {
                let failed_at = status
                    .and_then(|s| s.upgrade.as_ref())
                    .and_then(|p| p.failure.as_ref())
                    .and_then(|f| f.at.as_ref())
                    .and_then(crate::backup::scheduler::from_time)
                    .unwrap_or(now);
                if now - failed_at < PRE_UPGRADE_SNAPSHOT_RETRY {
                    out.gate = SnapshotGate::Failed(format!(
                        "the pre-upgrade snapshot failed (Job {job}, {reason}): {message}; no pod \
                         was replaced. Another is taken {} minutes after the failure; fix \
                         spec.backup, or remove spec.upgrade.preUpgradeSnapshot to upgrade \
                         without one",
                        PRE_UPGRADE_SNAPSHOT_RETRY.whole_minutes()
                    ));
                    return out;
                }
            }
            Ok(JobOutcome::Missing) => {}
            Err(e) => {
                out.gate = SnapshotGate::Waiting(format!(
                    "cannot read the pre-upgrade snapshot Job {job} yet: {e}"
                ));
                return out;
            }
        }
    }
    // Start one, once no other backup Job runs (one at a time per cluster).
    if let Some(running) = status
        .and_then(|s| s.backup.as_ref())
        .and_then(|b| b.current_job.as_deref())
    {
        out.gate = SnapshotGate::Waiting(format!(
            "waiting for backup Job {running} to end before the pre-upgrade snapshot"
        ));
        return out;
    }
    let job_name = names.backup_job(now.unix_timestamp());
    let image = crate::desired::jobs::backup_image(validated, &ctx.config.job_image);
    let Some(mut job) =
        crate::desired::jobs::backup_job(validated, &job_name, &image, seal_fingerprint)
    else {
        out.gate = SnapshotGate::Failed(
            "spec.upgrade.preUpgradeSnapshot needs spec.backup; no pod was replaced".to_string(),
        );
        return out;
    };
    job.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(
            ANNOTATION_PRE_UPGRADE_REVISION.to_string(),
            out.revision.clone(),
        );
    match super::backup::create(ctx, namespace, &job).await {
        Ok(()) => {
            info!(job = %job_name, "started the pre-upgrade snapshot");
            publish(
                ctx,
                cluster,
                EventType::Normal,
                crate::backup::scheduler::reasons::STARTED,
                "Rollout",
                format!("started Job {job_name} for the pre-upgrade snapshot"),
            )
            .await;
            out.job = Some(job_name.clone());
            out.gate = SnapshotGate::Waiting(format!(
                "taking the pre-upgrade snapshot (Job {job_name}) before any pod is replaced"
            ));
        }
        Err(e) => {
            warn!(job = %job_name, error = %e, "cannot create the pre-upgrade snapshot Job");
            out.gate = SnapshotGate::Waiting(format!(
                "cannot create the pre-upgrade snapshot Job {job_name} yet: {e}"
            ));
        }
    }
    out
}

/// How a step-down went.
enum SteppedDown {
    /// OpenBao accepted it.
    Asked,
    /// OpenBao's policy refused it (permission denied).
    Refused,
    /// Anything else (no token, unreachable): asked again later.
    Failed,
}

/// The StatefulSet's update revision, when its status describes its current generation.
fn update_revision(statefulset: &StatefulSet) -> Option<String> {
    let status = statefulset.status.as_ref()?;
    let current = statefulset.metadata.generation.is_some()
        && status.observed_generation >= statefulset.metadata.generation;
    current.then(|| status.update_revision.clone()).flatten()
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Fill in each member's health from autopilot (left unknown when the state cannot be read:
/// the rollout then relies on readiness, seal and voting alone).
async fn apply_autopilot(
    ctx: &Context,
    cluster: &ValidatedCluster,
    report: &OperateReport,
    ca_pem: &[u8],
    members: &mut [Member],
) {
    let Some(active) = active_member(ctx, cluster, report, ca_pem) else {
        return;
    };
    let key = session_key(cluster);
    let token = match ctx.session.token(&key, &active.client).await {
        Ok(token) => token,
        Err(e) => {
            warn!(error = %e, "no operator token to read autopilot's state");
            return;
        }
    };
    match active.client.with_token(token).autopilot_state().await {
        Ok(state) => {
            for member in members.iter_mut() {
                member.healthy = Some(state.servers.get(&member.pod).is_some_and(|s| s.healthy));
            }
        }
        Err(e) => warn!(error = %e, "cannot read autopilot's state"),
    }
}

fn session_key(cluster: &ValidatedCluster) -> String {
    format!("{}/{}", cluster.namespace(), cluster.names().cluster())
}

fn active_member(
    ctx: &Context,
    cluster: &ValidatedCluster,
    report: &OperateReport,
    ca_pem: &[u8],
) -> Option<super::operate::Member> {
    let leader = report.leader.as_deref()?;
    super::operate::members(ctx, cluster, ca_pem)
        .into_iter()
        .find(|m| m.pod == leader)
}

/// Delete `pod` (the one this pass observed: a pod recreated meanwhile is left alone).
async fn replace(ctx: &Context, namespace: &str, pods: &[std::sync::Arc<Pod>], pod: &str) {
    let uid = pods
        .iter()
        .find(|p| p.name_any() == pod)
        .and_then(|p| p.uid());
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid,
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match Api::<Pod>::namespaced(ctx.client.clone(), namespace)
        .delete(pod, &params)
        .await
    {
        Ok(_) => info!(member = %pod, "replacing the member with a pod of the new revision"),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(e) => warn!(member = %pod, error = %e, "cannot delete the pod"),
    }
}

/// Ask the active member `pod` to step down with the operator's token.
async fn step_down(
    ctx: &Context,
    cluster: &ValidatedCluster,
    report: &OperateReport,
    ca_pem: &[u8],
    pod: &str,
) -> SteppedDown {
    let Some(active) = active_member(ctx, cluster, report, ca_pem).filter(|m| m.pod == pod) else {
        return SteppedDown::Failed;
    };
    let token = match ctx
        .session
        .token(&session_key(cluster), &active.client)
        .await
    {
        Ok(token) => token,
        Err(e) => {
            warn!(error = %e, "no operator token to ask for a step-down");
            return SteppedDown::Failed;
        }
    };
    match active.client.with_token(token).step_down().await {
        Ok(()) => {
            info!(member = %pod, "asked the active member to step down");
            SteppedDown::Asked
        }
        Err(bao_client::Error::PermissionDenied { .. }) => SteppedDown::Refused,
        Err(e) => {
            warn!(member = %pod, error = %e, "the step-down failed");
            SteppedDown::Failed
        }
    }
}

/// Events when a rollout starts, pauses and completes.
async fn announce(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    previous: Option<&UpgradeProgress>,
    plan: &rollout::Plan,
) {
    let started = plan
        .progress
        .as_ref()
        .filter(|p| previous.is_none_or(|old| old.revision != p.revision));
    if let Some(progress) = started {
        let what = if progress.from_version == progress.target_version {
            format!("the pod template of version {}", progress.target_version)
        } else {
            format!(
                "version {} to {}",
                progress.from_version, progress.target_version
            )
        };
        publish(
            ctx,
            cluster,
            EventType::Normal,
            reasons::ROLLOUT_STARTED,
            "Rollout",
            format!(
                "rolling out {what} (revision {}): one member at a time, the active member last",
                progress.revision
            ),
        )
        .await;
    }
    let paused = plan
        .progress
        .as_ref()
        .and_then(|p| p.failure.as_ref())
        .filter(|_| previous.is_none_or(|old| old.failure.is_none()));
    if let Some(failure) = paused {
        publish(
            ctx,
            cluster,
            EventType::Warning,
            reasons::ROLLOUT_PAUSED,
            "Rollout",
            failure.message.clone().unwrap_or_default(),
        )
        .await;
    }
    if plan.complete
        && let Some(old) = previous
    {
        publish(
            ctx,
            cluster,
            EventType::Normal,
            reasons::ROLLOUT_COMPLETED,
            "Rollout",
            format!(
                "every member runs revision {} (version {})",
                old.revision, cluster.spec.version
            ),
        )
        .await;
    }
}
