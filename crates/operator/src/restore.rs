//! The `OpenBaoRestore` controller: restores a snapshot from object storage into an existing
//! cluster through a restore Job, under the cluster's operation lock.
//!
//! One pass, per restore, decided by [`decide`] (pure) from what [`observe`] found:
//!
//! ```text
//! Completed/Failed ............................. release the lock if this restore holds it
//! invalid spec ................................. Failed (every field error)
//! cluster missing / not initialized / no leader  Pending, look again in 15 s
//! cluster locked by another operation .......... Pending (Failed never: it may finish)
//!                                                (spec.overrideOperationLock takes it over)
//! no Job yet ................................... take the lock, create the Job -> Running
//! Job running .................................. Running
//! Job complete ................................. Completed (key, size), release the lock
//! Job failed ................................... Failed (the Job's own error), release the lock
//! ```
//!
//! The lock is the cluster annotation `openbao.org/operation-lock` (`Restore/<restore name>`),
//! written only here; the cluster's reconciler reads it, leaves the StatefulSet as it is and
//! starts no backup while it is held, and mirrors it as `status.operationLock`. The Job verifies
//! the snapshot (its manifest's size and SHA-256, and `spec.source.expectedDigest` /
//! `expectedSize`) before OpenBao is touched; OpenBao itself refuses a snapshot of another
//! cluster unless `spec.force`.

use std::{sync::Arc, time::Duration};

use api::{
    OpenBaoCluster, OpenBaoRestore, OpenBaoRestoreStatus, RestorePhase,
    conditions::{reasons, types},
    names,
};
use futures::{StreamExt, future};
use k8s_openapi::{
    api::{
        batch::v1::Job,
        core::v1::{Secret, ServiceAccount},
    },
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams, PostParams},
    runtime::{Controller, controller::Action, watcher},
};
use sha2::{Digest, Sha256};
use tracing::{debug, info, warn};

use crate::desired::{ValidatedCluster, jobs};

/// How often a waiting restore looks again.
const WAIT: Duration = Duration::from_secs(15);
/// The value of the lock annotation a restore holds.
pub fn lock_value(restore: &str) -> String {
    format!("Restore/{restore}")
}

/// What a pass found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// Validation errors of the restore (empty: valid).
    pub invalid: Option<String>,
    /// The target cluster: `None` when it does not exist.
    pub cluster: Option<ClusterState>,
    /// The restore Job: `None` before it is created.
    pub job: Option<JobState>,
}

/// What the restore needs to know about its cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterState {
    /// Initialized, with an active member.
    pub ready: bool,
    /// The lock annotation's value.
    pub lock: Option<String>,
}

/// The restore Job's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Running.
    Running,
    /// Completed; the manifest it reported.
    Completed(Option<crate::backup::Manifest>),
    /// Failed: what it reported.
    Failed(String),
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing (terminal; the lock is released if still held).
    Done,
    /// Record `phase` with `message`; look again after [`WAIT`].
    Wait(RestorePhase, String),
    /// Take the lock (over whoever holds it when `take_over`) and create the Job.
    Start {
        /// Whether another operation's lock is overridden.
        take_over: Option<String>,
    },
    /// The Job runs.
    Running,
    /// The Job ended: record the outcome and release the lock.
    Finish {
        /// Completed (else Failed).
        completed: bool,
        /// What to say.
        message: String,
        /// Key and size of the restored snapshot.
        snapshot: Option<(String, i64)>,
    },
}

/// The step for `restore` given `observed`.
pub fn decide(restore: &OpenBaoRestore, observed: &Observed) -> Step {
    let phase = restore.status.as_ref().and_then(|s| s.phase);
    if matches!(phase, Some(RestorePhase::Completed | RestorePhase::Failed)) {
        return Step::Done;
    }
    // A Job that exists is followed to its end, whatever else changed.
    match &observed.job {
        Some(JobState::Running) => return Step::Running,
        Some(JobState::Completed(manifest)) => {
            return Step::Finish {
                completed: true,
                message: match manifest {
                    Some(m) => format!(
                        "restored snapshot {} ({} bytes, sha256 {}) into OpenBaoCluster {}",
                        m.key, m.size, m.sha256, restore.spec.cluster
                    ),
                    None => format!(
                        "restored snapshot {} into OpenBaoCluster {}",
                        restore.spec.source.key, restore.spec.cluster
                    ),
                },
                snapshot: manifest
                    .as_ref()
                    .map(|m| (m.key.clone(), i64::try_from(m.size).unwrap_or(i64::MAX))),
            };
        }
        Some(JobState::Failed(why)) => {
            return Step::Finish {
                completed: false,
                message: format!("the restore Job failed: {why}"),
                snapshot: None,
            };
        }
        None => {}
    }
    if let Some(errors) = &observed.invalid {
        return Step::Finish {
            completed: false,
            message: format!("invalid spec: {errors}"),
            snapshot: None,
        };
    }
    if restore.spec.cluster_template.is_some() {
        return Step::Finish {
            completed: false,
            message: "spec.clusterTemplate: not supported yet: restoring into a fresh cluster \
                      built from a template is not built; create the OpenBaoCluster with the \
                      snapshot's seal, then restore into it in place (spec.force)"
                .to_string(),
            snapshot: None,
        };
    }
    let Some(cluster) = &observed.cluster else {
        return Step::Wait(
            RestorePhase::Pending,
            format!(
                "waiting for OpenBaoCluster {} to exist in this namespace",
                restore.spec.cluster
            ),
        );
    };
    if !cluster.ready {
        return Step::Wait(
            RestorePhase::Pending,
            format!(
                "waiting for OpenBaoCluster {} to be initialized with an active member",
                restore.spec.cluster
            ),
        );
    }
    let mine = lock_value(&restore.name_any());
    match cluster.lock.as_deref() {
        None => Step::Start { take_over: None },
        Some(held) if held == mine => Step::Start { take_over: None },
        Some(held) if restore.spec.override_operation_lock => Step::Start {
            take_over: Some(held.to_string()),
        },
        Some(held) => Step::Wait(
            RestorePhase::Pending,
            format!(
                "OpenBaoCluster {} is locked by {held}; the restore starts when it is released \
                 (spec.overrideOperationLock with spec.force takes it over)",
                restore.spec.cluster
            ),
        ),
    }
}

/// The restore Job's name: `<cluster>-restore-<10 hex digits of the restore's UID>`, within
/// the 63 characters of a label value.
pub fn job_name(restore: &OpenBaoRestore) -> String {
    let uid = restore.uid().unwrap_or_else(|| restore.name_any());
    let digest = Sha256::digest(uid.as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("{}-restore-{hex}", restore.spec.cluster)
}

struct Context {
    client: Client,
    job_image: String,
}

fn now() -> Time {
    let now = time::OffsetDateTime::now_utc();
    Time(Timestamp::new(now.unix_timestamp(), 0).unwrap_or(Timestamp::UNIX_EPOCH))
}

async fn observe(
    ctx: &Context,
    restore: &OpenBaoRestore,
    ns: &str,
) -> Result<(Observed, Option<OpenBaoCluster>), kube::Error> {
    let invalid = api::validate_restore(restore).err().map(|e| e.to_string());
    let cluster = Api::<OpenBaoCluster>::namespaced(ctx.client.clone(), ns)
        .get_opt(&restore.spec.cluster)
        .await?;
    let state = cluster.as_ref().map(|c| ClusterState {
        ready: c
            .status
            .as_ref()
            .is_some_and(|s| s.initialized && s.leader.is_some()),
        lock: c
            .annotations()
            .get(names::ANNOTATION_OPERATION_LOCK)
            .cloned(),
    });
    let name = job_name(restore);
    let job = Api::<Job>::namespaced(ctx.client.clone(), ns)
        .get_opt(&name)
        .await?;
    let job = match job {
        None => None,
        Some(job) => Some(job_state(ctx, ns, &name, &job).await?),
    };
    Ok((
        Observed {
            invalid,
            cluster: state,
            job,
        },
        cluster,
    ))
}

async fn job_state(
    ctx: &Context,
    ns: &str,
    name: &str,
    job: &Job,
) -> Result<JobState, kube::Error> {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let is = |type_: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == "True")
            .cloned()
    };
    if is("Complete").is_some() {
        let report = crate::reconcile::backup::termination_message(&ctx.client, ns, name).await?;
        return Ok(JobState::Completed(
            report.and_then(|text| serde_json::from_str(&text).ok()),
        ));
    }
    if let Some(failed) = is("Failed") {
        let report = crate::reconcile::backup::termination_message(&ctx.client, ns, name).await?;
        let why = report
            .map(|text| text.trim().trim_start_matches("error: ").to_string())
            .filter(|t| !t.is_empty())
            .or(failed.message)
            .unwrap_or_else(|| "no report".to_string());
        return Ok(JobState::Failed(why));
    }
    Ok(JobState::Running)
}

/// Set (`Some`) or remove (`None`) the lock annotation on cluster `name`.
async fn set_lock(
    ctx: &Context,
    ns: &str,
    name: &str,
    value: Option<&str>,
) -> Result<(), kube::Error> {
    let patch = serde_json::json!({
        "metadata": {"annotations": {names::ANNOTATION_OPERATION_LOCK: value}}
    });
    Api::<OpenBaoCluster>::namespaced(ctx.client.clone(), ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Release the lock on `cluster` if `restore` holds it.
async fn release(
    ctx: &Context,
    ns: &str,
    restore: &OpenBaoRestore,
    cluster: Option<&OpenBaoCluster>,
) -> Result<(), kube::Error> {
    let mine = lock_value(&restore.name_any());
    if let Some(cluster) = cluster
        && cluster.annotations().get(names::ANNOTATION_OPERATION_LOCK) == Some(&mine)
    {
        set_lock(ctx, ns, &cluster.name_any(), None).await?;
        info!(restore = %restore.name_any(), cluster = %cluster.name_any(), "released the operation lock");
    }
    Ok(())
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
        last_transition_time: now(),
    }
}

/// Write `status` when it differs from what the object carries.
async fn write_status(
    ctx: &Context,
    restore: &OpenBaoRestore,
    ns: &str,
    mut status: OpenBaoRestoreStatus,
) -> Result<(), kube::Error> {
    let old = restore.status.clone().unwrap_or_default();
    // Conditions keep their transition time while their status stays.
    for new in &mut status.conditions {
        if let Some(previous) = old.conditions.iter().find(|c| c.type_ == new.type_)
            && previous.status == new.status
        {
            new.last_transition_time = previous.last_transition_time.clone();
        }
    }
    if old == status {
        return Ok(());
    }
    let patch = serde_json::json!({
        "apiVersion": OpenBaoRestore::api_version(&()),
        "kind": OpenBaoRestore::kind(&()),
        "status": status,
    });
    Api::<OpenBaoRestore>::namespaced(ctx.client.clone(), ns)
        .patch_status(
            &restore.name_any(),
            &PatchParams::apply(names::MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(())
}

async fn reconcile(restore: Arc<OpenBaoRestore>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
    if restore.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = restore.namespace().unwrap_or_default();
    let (observed, cluster) = observe(&ctx, &restore, &ns).await?;
    let step = decide(&restore, &observed);
    let generation = restore.metadata.generation;
    let old = restore.status.clone().unwrap_or_default();
    let valid = condition(
        types::VALID,
        observed.invalid.is_none(),
        if observed.invalid.is_none() {
            reasons::SPEC_VALID
        } else {
            reasons::INVALID_SPEC
        },
        observed
            .invalid
            .clone()
            .unwrap_or_else(|| "the spec passed validation".to_string()),
        generation,
    );
    let mut status = OpenBaoRestoreStatus {
        conditions: vec![valid],
        ..old.clone()
    };
    match step {
        Step::Done => {
            release(&ctx, &ns, &restore, cluster.as_ref()).await?;
            Ok(Action::await_change())
        }
        Step::Wait(phase, message) => {
            status.phase = Some(phase);
            status.message = Some(message);
            write_status(&ctx, &restore, &ns, status).await?;
            Ok(Action::requeue(WAIT))
        }
        Step::Start { take_over } => {
            let Some(cluster) = cluster.as_ref() else {
                return Ok(Action::requeue(WAIT));
            };
            if let Some(previous) = &take_over {
                warn!(restore = %restore.name_any(), %previous, "overriding another operation's lock (spec.overrideOperationLock)");
            }
            set_lock(
                &ctx,
                &ns,
                &cluster.name_any(),
                Some(&lock_value(&restore.name_any())),
            )
            .await?;
            let validated = match ValidatedCluster::new(cluster.clone()) {
                Ok(v) => v,
                Err(errors) => {
                    status.phase = Some(RestorePhase::Failed);
                    status.message = Some(format!(
                        "OpenBaoCluster {} is invalid: {errors}",
                        cluster.name_any()
                    ));
                    status.completion_time = Some(now());
                    write_status(&ctx, &restore, &ns, status).await?;
                    release(&ctx, &ns, &restore, Some(cluster)).await?;
                    return Ok(Action::await_change());
                }
            };
            if jobs::restore_uses_projected_token(&restore) {
                let account = jobs::restore_service_account(&validated);
                match Api::<ServiceAccount>::namespaced(ctx.client.clone(), &ns)
                    .create(&PostParams::default(), &account)
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 409 => {}
                    Err(e) => return Err(e),
                }
            }
            let image = restore
                .spec
                .image
                .clone()
                .unwrap_or_else(|| jobs::backup_image(&validated, &ctx.job_image));
            // The target's seal: a snapshot sealed with another key is refused by the Job.
            let seal_fingerprint = if validated.spec().unseal.type_ == api::UnsealType::Static {
                let key = Api::<Secret>::namespaced(ctx.client.clone(), &ns)
                    .get_opt(&crate::desired::unseal_key_secret_name(&validated))
                    .await?;
                crate::reconcile::secrets::seal_fingerprint(&validated, key.as_ref())
            } else {
                None
            };
            let job = jobs::restore_job(
                &validated,
                &restore,
                &job_name(&restore),
                &image,
                seal_fingerprint.as_deref(),
            );
            match Api::<Job>::namespaced(ctx.client.clone(), &ns)
                .create(&PostParams::default(), &job)
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
            info!(restore = %restore.name_any(), cluster = %cluster.name_any(), job = %job_name(&restore), "started the restore Job");
            status.phase = Some(RestorePhase::Running);
            status.start_time = Some(now());
            status.message = Some(format!(
                "restoring {} into OpenBaoCluster {} (Job {}); the cluster's operation lock is held",
                restore.spec.source.key,
                cluster.name_any(),
                job_name(&restore)
            ));
            write_status(&ctx, &restore, &ns, status).await?;
            Ok(Action::requeue(WAIT))
        }
        Step::Running => {
            status.phase = Some(RestorePhase::Running);
            status.start_time = old.start_time.clone().or_else(|| Some(now()));
            write_status(&ctx, &restore, &ns, status).await?;
            Ok(Action::requeue(WAIT))
        }
        Step::Finish {
            completed,
            message,
            snapshot,
        } => {
            status.phase = Some(if completed {
                RestorePhase::Completed
            } else {
                RestorePhase::Failed
            });
            status.message = Some(message);
            status.completion_time = Some(now());
            if let Some((key, size)) = snapshot {
                status.snapshot_key = Some(key);
                status.snapshot_size = Some(size);
            }
            write_status(&ctx, &restore, &ns, status).await?;
            release(&ctx, &ns, &restore, cluster.as_ref()).await?;
            Ok(Action::await_change())
        }
    }
}

fn error_policy(restore: Arc<OpenBaoRestore>, error: &kube::Error, _: Arc<Context>) -> Action {
    warn!(namespace = ?restore.namespace(), name = %restore.name_any(), %error, "restore pass failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// Run the restore controller (one namespace, or all) until `shutdown` resolves.
pub async fn run(
    client: Client,
    watch_namespace: Option<String>,
    job_image: String,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (restores, jobs_api): (Api<OpenBaoRestore>, Api<Job>) = match &watch_namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let ctx = Arc::new(Context { client, job_image });
    let restore_jobs = watcher::Config::default().labels(&format!(
        "{}={}",
        names::LABEL_COMPONENT,
        names::COMPONENT_RESTORE
    ));
    Controller::new(restores, watcher::Config::default())
        .owns(jobs_api, restore_jobs)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            if let Err(e) = result {
                debug!(error = %e, "restore reconcile error");
            }
            future::ready(())
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restore(extra: serde_json::Value) -> OpenBaoRestore {
        let mut value = serde_json::json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoRestore",
            "metadata": {"name": "restore-1", "namespace": "team", "uid": "u-1"},
            "spec": {
                "cluster": "bao",
                "source": {
                    "target": {"endpoint": "https://s3.example.com", "bucket": "snapshots"},
                    "key": "team/bao/20261202T090507Z.snap"
                }
            }
        });
        if let (Some(spec), Some(extra)) = (value["spec"].as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        serde_json::from_value(value).expect("restore")
    }

    fn ready(lock: Option<&str>) -> Option<ClusterState> {
        Some(ClusterState {
            ready: true,
            lock: lock.map(str::to_string),
        })
    }

    fn observed(cluster: Option<ClusterState>, job: Option<JobState>) -> Observed {
        Observed {
            invalid: None,
            cluster,
            job,
        }
    }

    #[test]
    fn a_restore_waits_for_its_cluster_and_for_another_operations_lock() {
        let r = restore(serde_json::json!({}));
        assert!(matches!(
            decide(&r, &observed(None, None)),
            Step::Wait(RestorePhase::Pending, m) if m.contains("to exist")
        ));
        let unready = Some(ClusterState {
            ready: false,
            lock: None,
        });
        assert!(matches!(
            decide(&r, &observed(unready, None)),
            Step::Wait(RestorePhase::Pending, m) if m.contains("initialized")
        ));
        assert!(matches!(
            decide(&r, &observed(ready(Some("Restore/other")), None)),
            Step::Wait(RestorePhase::Pending, m) if m.contains("locked by Restore/other")
        ));
        assert_eq!(
            decide(&r, &observed(ready(None), None)),
            Step::Start { take_over: None }
        );
        // Its own lock (a pass whose Job creation was lost) is no obstacle.
        assert_eq!(
            decide(&r, &observed(ready(Some("Restore/restore-1")), None)),
            Step::Start { take_over: None }
        );
        let forced = restore(serde_json::json!({"force": true, "overrideOperationLock": true}));
        assert_eq!(
            decide(&forced, &observed(ready(Some("Restore/other")), None)),
            Step::Start {
                take_over: Some("Restore/other".to_string())
            }
        );
    }

    #[test]
    fn a_job_is_followed_to_its_end_and_the_end_is_final() {
        let r = restore(serde_json::json!({}));
        assert_eq!(
            decide(&r, &observed(ready(None), Some(JobState::Running))),
            Step::Running
        );
        let failed = decide(
            &r,
            &observed(
                ready(None),
                Some(JobState::Failed("snapshot x is not intact".into())),
            ),
        );
        assert!(matches!(
            &failed,
            Step::Finish { completed: false, message, .. } if message.contains("not intact")
        ));
        let manifest = crate::backup::Manifest {
            format: 1,
            key: "team/bao/20261202T090507Z.snap".into(),
            size: 2048,
            sha256: "cd".repeat(32),
            started: "2026-12-02T09:05:07Z".into(),
            finished: "2026-12-02T09:05:08Z".into(),
            cluster: "team/bao".into(),
            seal_fingerprint: None,
        };
        assert!(matches!(
            decide(
                &r,
                &observed(ready(None), Some(JobState::Completed(Some(manifest))))
            ),
            Step::Finish {
                completed: true,
                snapshot: Some((_, 2048)),
                ..
            }
        ));
        let mut done = r.clone();
        done.status = Some(OpenBaoRestoreStatus {
            phase: Some(RestorePhase::Completed),
            ..OpenBaoRestoreStatus::default()
        });
        assert_eq!(decide(&done, &observed(None, None)), Step::Done);
    }

    #[test]
    fn an_invalid_spec_or_a_cluster_template_fails_before_anything_starts() {
        let r = restore(serde_json::json!({}));
        let invalid = Observed {
            invalid: Some("spec.source.key: required".into()),
            ..observed(ready(None), None)
        };
        assert!(matches!(
            decide(&r, &invalid),
            Step::Finish { completed: false, message, .. } if message.contains("spec.source.key")
        ));
        let mut templated = r.clone();
        templated.spec.cluster_template =
            Some(serde_json::from_value(serde_json::json!({"version": "2.7.2", "storage": {"size": "1Gi"}, "tls": {"enabled": true}, "unseal": {"type": "static"}})).expect("template"));
        assert!(matches!(
            decide(&templated, &observed(ready(None), None)),
            Step::Finish { completed: false, message, .. } if message.starts_with("spec.clusterTemplate: not supported yet")
        ));
    }

    #[test]
    fn the_job_name_fits_a_label_value_and_is_stable_per_restore() {
        let r = restore(serde_json::json!({}));
        let name = job_name(&r);
        assert!(name.starts_with("bao-restore-") && name.len() == "bao-restore-".len() + 10);
        assert_eq!(name, job_name(&r));
        let long = format!(
            "{}-restore-0123456789",
            "a".repeat(api::names::MAX_CLUSTER_NAME_LEN)
        );
        assert!(long.len() <= 63);
    }
}
