//! The backup stage (IO): reads the Job in flight from the cache and, once it ended, what its
//! pod wrote to its termination message; asks [`crate::backup::scheduler`] what to do; starts
//! the next Job and publishes the Events. A failing backup never fails the pass: whatever goes
//! wrong here is recorded in `status.backup` and Events, and the cluster is reconciled as usual.

use std::sync::Arc;

use api::{BackupStatus, OpenBaoCluster, names};
use k8s_openapi::api::{batch::v1::Job, core::v1::Pod};
use kube::{
    Api, ResourceExt,
    api::{ListParams, PostParams},
    runtime::{events::EventType, reflector::ObjectRef},
};
use tracing::warn;

use super::{Context, publish};
use crate::{
    backup::{
        Manifest,
        scheduler::{self, Inputs, JobOutcome, Trigger, from_time},
    },
    desired::{ValidatedCluster, jobs},
};

/// The most of a Job's report kept in status and Events (the kubelet keeps 4 KiB).
const MESSAGE_LIMIT: usize = 1024;

/// Run the stage for `cluster`; `ready` says whether a backup can run now (initialized, one
/// member active); `seal_fingerprint` is the static seal's, recorded with each snapshot.
/// Returns the new `status.backup` (`None` without `spec.backup`).
pub async fn run(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    validated: &ValidatedCluster,
    ready: bool,
    seal_fingerprint: Option<&str>,
) -> Option<BackupStatus> {
    let backup = validated.spec().backup.as_ref()?;
    // Validation refused an unparsable schedule before this stage runs.
    let schedule = api::validate::rules::parse_cron(&backup.schedule).ok()?;
    let previous = cluster.status.as_ref().and_then(|s| s.backup.as_ref());
    let ns = validated.namespace();
    let current = match previous.and_then(|p| p.current_job.as_deref()) {
        None => None,
        Some(job) => match outcome(ctx, ns, job).await {
            Ok(outcome) => Some(outcome),
            Err(e) => {
                warn!(job, error = %e, "cannot read the backup Job; trying again next pass");
                return previous.cloned();
            }
        },
    };
    let names = validated.names();
    let plan = scheduler::plan(&Inputs {
        names,
        schedule: &schedule,
        previous,
        current,
        manual_trigger: cluster
            .annotations()
            .get(names::ANNOTATION_TRIGGER_BACKUP)
            .map(String::as_str),
        ready,
        now: time::OffsetDateTime::now_utc(),
    });
    if plan.start.is_some()
        && let Some(job) = unrecorded_job(ctx, ns, names.cluster(), previous)
    {
        // A Job an earlier pass started whose status write this pass cannot see yet (the cache
        // lags): one at a time, so it is adopted instead of starting another.
        let mut kept = previous.cloned().unwrap_or_default();
        kept.current_job = Some(job.name_any());
        if let Some(value) = job.annotations().get(names::ANNOTATION_TRIGGER_BACKUP) {
            kept.last_handled_manual_trigger = Some(value.clone());
        }
        kept.next_scheduled_backup = plan.status.next_scheduled_backup.clone();
        return Some(kept);
    }
    if let Some(start) = &plan.start {
        let image = jobs::backup_image(validated, &ctx.config.job_image);
        let job =
            jobs::backup_job(validated, &start.job, &image, seal_fingerprint).map(|mut job| {
                // Which trigger the Job runs for, so a pass that adopts it knows.
                if let Trigger::Manual(value) = &start.trigger {
                    job.metadata
                        .annotations
                        .get_or_insert_with(Default::default)
                        .insert(names::ANNOTATION_TRIGGER_BACKUP.to_string(), value.clone());
                }
                job
            });
        let created = match job {
            Some(job) => create(ctx, ns, &job).await,
            None => Ok(()),
        };
        if let Err(e) = created {
            // Nothing started: the firing (or trigger) stays due, and the reason is shown.
            let message = format!("cannot create backup Job {}: {e}", start.job);
            warn!(job = %start.job, error = %e, "cannot create the backup Job");
            publish(
                ctx,
                cluster,
                EventType::Warning,
                scheduler::reasons::FAILED,
                "Backup",
                message.clone(),
            )
            .await;
            let mut kept = previous.cloned().unwrap_or_default();
            kept.next_scheduled_backup = kept
                .next_scheduled_backup
                .or(plan.status.next_scheduled_backup.clone());
            kept.last_failure_reason = Some("BackupJobNotCreated".to_string());
            kept.last_failure_message = Some(message);
            return Some(kept);
        }
        let trigger = match start.trigger {
            Trigger::Scheduled(_) => "scheduled",
            Trigger::Manual(_) => "manual",
        };
        ctx.metrics
            .backup_jobs_started
            .get_or_create(&category(trigger))
            .inc();
    }
    if let Some(succeeded) = plan.recorded {
        let result = if succeeded { "succeeded" } else { "failed" };
        ctx.metrics.backups.get_or_create(&category(result)).inc();
    }
    for notice in &plan.notices {
        let type_ = if notice.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(
            ctx,
            cluster,
            type_,
            notice.reason,
            "Backup",
            notice.message.clone(),
        )
        .await;
    }
    Some(plan.status)
}

/// A backup Job of cluster `cluster` that has not finished and that `previous` does not record
/// as the one in flight.
fn unrecorded_job(
    ctx: &Context,
    ns: &str,
    cluster: &str,
    previous: Option<&BackupStatus>,
) -> Option<Arc<Job>> {
    let prefix = format!("{cluster}-backup-");
    let known = previous.and_then(|p| p.current_job.as_deref());
    ctx.stores.jobs.state().into_iter().find(|job| {
        let name = job.name_any();
        let finished = job
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
            });
        job.namespace().as_deref() == Some(ns)
            && name
                .strip_prefix(&prefix)
                .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
            && Some(name.as_str()) != known
            && !finished
    })
}

fn category(name: &str) -> crate::telemetry::metrics::CategoryLabel {
    crate::telemetry::metrics::CategoryLabel {
        category: name.to_string(),
    }
}

/// Create `job`; one that already exists under this name was created by an earlier pass whose
/// status write was lost, and counts as started.
pub(crate) async fn create(ctx: &Context, ns: &str, job: &Job) -> Result<(), kube::Error> {
    match Api::<Job>::namespaced(ctx.client.clone(), ns)
        .create(&PostParams::default(), job)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// What became of Job `name`.
pub(crate) async fn outcome(
    ctx: &Context,
    ns: &str,
    name: &str,
) -> Result<JobOutcome, kube::Error> {
    let cached = ctx.stores.jobs.get(&ObjectRef::<Job>::new(name).within(ns));
    // Right after creation the cache may not hold the Job yet: ask before calling it gone.
    let job = match cached {
        Some(job) => job,
        None => match Api::<Job>::namespaced(ctx.client.clone(), ns)
            .get_opt(name)
            .await?
        {
            Some(job) => Arc::new(job),
            None => return Ok(JobOutcome::Missing),
        },
    };
    let status = job.status.clone().unwrap_or_default();
    let condition = |type_: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == type_ && c.status == "True")
            .cloned()
    };
    if let Some(complete) = condition("Complete") {
        let report = termination_message(&ctx.client, ns, name).await?;
        let manifest = report
            .as_deref()
            .and_then(|text| serde_json::from_str::<Manifest>(text).ok());
        let finished = status
            .completion_time
            .as_ref()
            .or(complete.last_transition_time.as_ref())
            .and_then(from_time)
            .unwrap_or_else(time::OffsetDateTime::now_utc);
        return Ok(JobOutcome::Succeeded {
            manifest,
            started: status.start_time.as_ref().and_then(from_time),
            finished,
        });
    }
    if let Some(failed) = condition("Failed") {
        let report = termination_message(&ctx.client, ns, name).await?;
        let reason = failed
            .reason
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "BackupJobFailed".to_string());
        let message = report
            .map(|text| text.trim().trim_start_matches("error: ").to_string())
            .filter(|text| !text.is_empty())
            .or(failed.message.clone())
            .unwrap_or_else(|| "the backup Job failed without a report".to_string());
        return Ok(JobOutcome::Failed {
            reason,
            message: truncate(&message),
        });
    }
    Ok(JobOutcome::Running)
}

/// The termination message of Job `name`'s (last) pod, shared with the restore controller: the
/// manifest on success, the error on failure.
pub(crate) async fn termination_message(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Result<Option<String>, kube::Error> {
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}")))
        .await?;
    let mut pods = pods.items;
    pods.sort_by_key(|p| p.metadata.creation_timestamp.clone());
    Ok(pods.iter().rev().find_map(|pod| {
        pod.status
            .as_ref()?
            .container_statuses
            .as_ref()?
            .iter()
            .find_map(|c| c.state.as_ref()?.terminated.as_ref()?.message.clone())
    }))
}

fn truncate(text: &str) -> String {
    if text.len() <= MESSAGE_LIMIT {
        return text.to_string();
    }
    let mut end = MESSAGE_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
