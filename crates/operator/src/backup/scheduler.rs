//! The backup scheduler's decisions, pure: from the previous `status.backup`, the outcome of
//! the Job in flight, the manual trigger annotation and the time, what status to record, which
//! Job (if any) to start and which Events to publish. The reconciler's backup stage does the IO.
//!
//! Rules:
//! - One Job at a time per cluster: nothing starts while `currentJob` runs; its outcome is
//!   recorded once, when it ends (or when it disappeared).
//! - At most one Job per firing of the schedule. Firings missed while the operator was down, the
//!   cluster was not ready or a Job was running collapse into one run, as soon as possible (like
//!   a CronJob with `concurrencyPolicy: Forbid` and no starting deadline).
//! - The first firing counted is the first one after the schedule was first seen: adding
//!   `spec.backup` to an old cluster does not back it up on the spot (use the trigger for that).
//! - A changed schedule takes effect from its next firing after the change.
//! - A manual trigger (a new value of `openbao.org/trigger-backup`) starts one Job as soon as
//!   none runs, and is recorded as handled when that Job starts.

use api::{BackupStatus, names::ClusterNames, validate::rules::CronSchedule};
use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use time::OffsetDateTime;

use super::{Manifest, manifest::parse_rfc3339, schedule::next_run};

/// What became of the Job recorded in `status.backup.currentJob`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// Still running (or not started yet).
    Running,
    /// Completed; `manifest` is what it wrote to its termination message, when readable.
    Succeeded {
        /// The snapshot's manifest.
        manifest: Option<Manifest>,
        /// When the Job started.
        started: Option<OffsetDateTime>,
        /// When it completed.
        finished: OffsetDateTime,
    },
    /// Failed: Kubernetes' reason (`BackoffLimitExceeded`, `DeadlineExceeded`, ...) and what
    /// the Job reported.
    Failed {
        /// Low-cardinality reason.
        reason: String,
        /// What went wrong.
        message: String,
    },
    /// The Job is gone without its outcome having been recorded (deleted by someone).
    Missing,
}

/// Why a Job starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The schedule's firing at this time.
    Scheduled(OffsetDateTime),
    /// A new value of the trigger annotation.
    Manual(String),
}

/// A Job to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Start {
    /// Its name: `<cluster>-backup-<unix seconds>`, of the firing or of the trigger's time.
    pub job: String,
    /// Why it starts.
    pub trigger: Trigger,
}

/// An Event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// A Warning (else Normal).
    pub warning: bool,
    /// The Event's reason.
    pub reason: &'static str,
    /// The Event's note.
    pub message: String,
}

/// What the backup stage does in this pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The new `status.backup`.
    pub status: BackupStatus,
    /// The Job to start, if any.
    pub start: Option<Start>,
    /// Events, in order.
    pub notices: Vec<Notice>,
    /// The outcome just recorded, for metrics: `Some(true)` success, `Some(false)` failure.
    pub recorded: Option<bool>,
}

/// Everything a decision depends on.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// The cluster's names (Job names derive from them).
    pub names: &'a ClusterNames,
    /// `spec.backup.schedule`, parsed.
    pub schedule: &'a CronSchedule,
    /// The previous `status.backup`.
    pub previous: Option<&'a BackupStatus>,
    /// The outcome of `previous.currentJob` (`None` when there is none).
    pub current: Option<JobOutcome>,
    /// The value of the `openbao.org/trigger-backup` annotation.
    pub manual_trigger: Option<&'a str>,
    /// Whether a backup can run now: the cluster is initialized and has an active member.
    pub ready: bool,
    /// The time of the decision.
    pub now: OffsetDateTime,
}

/// Event reasons.
pub mod reasons {
    /// A backup Job started.
    pub const STARTED: &str = "BackupStarted";
    /// A backup landed and was verified.
    pub const SUCCEEDED: &str = "BackupSucceeded";
    /// A backup failed.
    pub const FAILED: &str = "BackupFailed";
    /// Failure reason when the Job vanished before its outcome was recorded.
    pub const JOB_MISSING: &str = "BackupJobMissing";
}

/// The decision for `inputs`.
pub fn plan(inputs: &Inputs<'_>) -> Plan {
    let now = inputs.now;
    let mut status = inputs.previous.cloned().unwrap_or_default();
    let mut notices = Vec::new();
    let mut recorded = None;

    // 1. The Job in flight: keep waiting, or record how it ended.
    if let (Some(job), Some(outcome)) = (status.current_job.clone(), inputs.current.as_ref()) {
        match outcome {
            JobOutcome::Running => {}
            JobOutcome::Succeeded {
                manifest,
                started,
                finished,
            } => {
                let finished = manifest
                    .as_ref()
                    .and_then(|m| parse_rfc3339(&m.finished))
                    .unwrap_or(*finished);
                let started = manifest
                    .as_ref()
                    .and_then(|m| parse_rfc3339(&m.started))
                    .or(*started);
                status.last_backup_time = Some(to_time(finished));
                status.last_backup_name = manifest.as_ref().map(|m| m.key.clone());
                status.last_backup_size =
                    manifest.as_ref().and_then(|m| i64::try_from(m.size).ok());
                status.last_backup_sha256 = manifest.as_ref().map(|m| m.sha256.clone());
                status.last_backup_duration = started.map(|s| {
                    let seconds = (finished - s).whole_seconds().max(0);
                    format!("{seconds}s")
                });
                status.consecutive_failures = 0;
                status.current_job = None;
                recorded = Some(true);
                notices.push(Notice {
                    warning: false,
                    reason: reasons::SUCCEEDED,
                    message: match manifest {
                        Some(m) => format!(
                            "Job {job} stored snapshot {} ({} bytes, sha256 {})",
                            m.key, m.size, m.sha256
                        ),
                        None => format!("Job {job} completed"),
                    },
                });
            }
            JobOutcome::Failed { reason, message } => {
                status.current_job = None;
                record_failure(&mut status, reason, message, now);
                recorded = Some(false);
                notices.push(Notice {
                    warning: true,
                    reason: reasons::FAILED,
                    message: format!("Job {job} failed ({reason}): {message}"),
                });
            }
            JobOutcome::Missing => {
                let message =
                    format!("Job {job} was deleted before it finished; its outcome is unknown");
                status.current_job = None;
                record_failure(&mut status, reasons::JOB_MISSING, &message, now);
                recorded = Some(false);
                notices.push(Notice {
                    warning: true,
                    reason: reasons::FAILED,
                    message,
                });
            }
        }
    }

    // 2. The next firing: the stored one while it is a firing of the current schedule (so one
    //    missed while nothing could run is still due); else the first one from now.
    let stored_next = status
        .next_scheduled_backup
        .as_ref()
        .and_then(from_time)
        .filter(|t| is_firing(inputs.schedule, *t));
    let mut next = stored_next.or_else(|| next_run(inputs.schedule, now));

    // 3. Start a Job when none runs and the cluster can be backed up.
    let mut start = None;
    if status.current_job.is_none() && inputs.ready {
        let manual = inputs
            .manual_trigger
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .filter(|v| status.last_handled_manual_trigger.as_deref() != Some(*v));
        if let Some(token) = manual {
            start = Some(Start {
                job: job_name(inputs.names, now, status.last_attempt_time.as_ref()),
                trigger: Trigger::Manual(token.to_string()),
            });
            status.last_handled_manual_trigger = Some(token.to_string());
        } else if let Some(due) = next.filter(|t| *t <= now) {
            start = Some(Start {
                job: inputs.names.backup_job(due.unix_timestamp()),
                trigger: Trigger::Scheduled(due),
            });
            status.last_attempt_scheduled_time = Some(to_time(due));
            next = next_run(inputs.schedule, now);
        }
    }
    if let Some(start) = &start {
        status.last_attempt_time = Some(to_time(now));
        status.current_job = Some(start.job.clone());
        notices.push(Notice {
            warning: false,
            reason: reasons::STARTED,
            message: match &start.trigger {
                Trigger::Scheduled(at) => format!(
                    "started Job {} for the scheduled backup of {}",
                    start.job,
                    super::manifest::rfc3339(*at)
                ),
                Trigger::Manual(token) => {
                    format!("started Job {} for the manual trigger {token:?}", start.job)
                }
            },
        });
    }
    status.next_scheduled_backup = next.map(to_time);
    Plan {
        status,
        start,
        notices,
        recorded,
    }
}

fn record_failure(status: &mut BackupStatus, reason: &str, message: &str, now: OffsetDateTime) {
    status.consecutive_failures = status.consecutive_failures.saturating_add(1);
    status.last_failure_reason = Some(reason.to_string());
    status.last_failure_message = Some(message.to_string());
    status.last_failure_time = Some(to_time(now));
}

/// A manual Job's name: the trigger's time, one second past the previous attempt's when they
/// would collide (two Jobs never share a name).
fn job_name(names: &ClusterNames, now: OffsetDateTime, last_attempt: Option<&Time>) -> String {
    let mut unix = now.unix_timestamp();
    if let Some(last) = last_attempt {
        unix = unix.max(last.0.as_second() + 1);
    }
    names.backup_job(unix)
}

/// Whether `t` is a firing of `schedule`.
fn is_firing(schedule: &CronSchedule, t: OffsetDateTime) -> bool {
    next_run(schedule, t - time::Duration::minutes(1)) == Some(t)
}

/// `t` as a Kubernetes time (whole seconds, as the API server keeps it).
pub fn to_time(t: OffsetDateTime) -> Time {
    Time(Timestamp::from_second(t.unix_timestamp()).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// A Kubernetes time as `OffsetDateTime`.
pub fn from_time(t: &Time) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t.0.as_second()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::validate::rules::parse_cron;

    // 2026-12-02T09:05:07Z.
    const NOW: i64 = 1_796_202_307;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).expect("time")
    }

    fn decide(
        schedule: &str,
        previous: Option<&BackupStatus>,
        current: Option<JobOutcome>,
        trigger: Option<&str>,
        now: i64,
    ) -> Plan {
        let names = ClusterNames::new("bao");
        let schedule = parse_cron(schedule).expect("schedule");
        plan(&Inputs {
            names: &names,
            schedule: &schedule,
            previous,
            current,
            manual_trigger: trigger,
            ready: true,
            now: at(now),
        })
    }

    #[test]
    fn a_new_schedule_waits_for_its_first_firing_and_then_starts_one_job_named_after_it() {
        let first = decide("*/15 * * * *", None, None, None, NOW);
        assert_eq!(first.start, None, "nothing runs on the spot");
        // 09:15:00.
        let firing = NOW - 307 + 900;
        assert_eq!(
            first.status.next_scheduled_backup,
            Some(to_time(at(firing)))
        );
        let early = decide("*/15 * * * *", Some(&first.status), None, None, firing - 1);
        assert_eq!(early.start, None);
        let due = decide("*/15 * * * *", Some(&first.status), None, None, firing + 3);
        let start = due.start.expect("a job at the firing");
        assert_eq!(start.job, format!("bao-backup-{firing}"));
        assert_eq!(start.trigger, Trigger::Scheduled(at(firing)));
        assert_eq!(due.status.current_job.as_deref(), Some(start.job.as_str()));
        assert_eq!(
            due.status.last_attempt_scheduled_time,
            Some(to_time(at(firing)))
        );
        assert_eq!(
            due.status.next_scheduled_backup,
            Some(to_time(at(firing + 900)))
        );
        assert_eq!(due.notices[0].reason, reasons::STARTED);
    }

    #[test]
    fn nothing_starts_while_a_job_runs_and_missed_firings_collapse_into_one_run() {
        let first = decide("*/15 * * * *", None, None, None, NOW);
        let firing = NOW - 307 + 900;
        let running = decide("*/15 * * * *", Some(&first.status), None, None, firing).status;
        // Three firings pass while the Job runs: nothing else starts.
        let later = firing + 3 * 900 + 5;
        let still = decide(
            "*/15 * * * *",
            Some(&running),
            Some(JobOutcome::Running),
            Some("now"),
            later,
        );
        assert_eq!(still.start, None);
        assert_eq!(
            still.status.last_handled_manual_trigger, None,
            "kept pending"
        );
        // It fails; the manual trigger runs first, then one scheduled run for the missed firings.
        let failed = decide(
            "*/15 * * * *",
            Some(&still.status),
            Some(JobOutcome::Failed {
                reason: "DeadlineExceeded".into(),
                message: "Job was active longer than specified deadline".into(),
            }),
            Some("now"),
            later + 1,
        );
        assert_eq!(failed.recorded, Some(false));
        assert_eq!(failed.status.consecutive_failures, 1);
        assert_eq!(
            failed.status.last_failure_reason.as_deref(),
            Some("DeadlineExceeded")
        );
        let manual = failed.start.clone().expect("the manual run");
        assert_eq!(manual.trigger, Trigger::Manual("now".into()));
        assert_eq!(
            failed.status.last_handled_manual_trigger.as_deref(),
            Some("now")
        );
        let done = decide(
            "*/15 * * * *",
            Some(&failed.status),
            Some(JobOutcome::Succeeded {
                manifest: None,
                started: None,
                finished: at(later + 30),
            }),
            Some("now"),
            later + 40,
        );
        assert_eq!(done.recorded, Some(true));
        assert_eq!(done.status.consecutive_failures, 0);
        let scheduled = done.start.expect("one run for the missed firings");
        assert!(matches!(scheduled.trigger, Trigger::Scheduled(_)));
        assert_eq!(
            done.status.next_scheduled_backup,
            Some(to_time(at(firing + 4 * 900))),
            "the next firing after now, not a backlog"
        );
    }

    #[test]
    fn a_success_records_the_manifest_and_a_missing_job_counts_as_a_failure() {
        let names = ClusterNames::new("bao");
        let running = BackupStatus {
            current_job: Some(names.backup_job(NOW)),
            consecutive_failures: 2,
            next_scheduled_backup: Some(to_time(at(NOW - 307 + 900))),
            ..BackupStatus::default()
        };
        let manifest = Manifest {
            format: 1,
            key: "ns/bao/20261202T090507Z.snap".into(),
            size: 4096,
            sha256: "ab".repeat(32),
            started: "2026-12-02T09:05:07Z".into(),
            finished: "2026-12-02T09:05:19Z".into(),
            cluster: "ns/bao".into(),
            seal_fingerprint: None,
        };
        let done = decide(
            "*/15 * * * *",
            Some(&running),
            Some(JobOutcome::Succeeded {
                manifest: Some(manifest.clone()),
                started: None,
                finished: at(NOW + 60),
            }),
            None,
            NOW + 70,
        );
        let s = &done.status;
        assert_eq!(s.last_backup_name.as_deref(), Some(manifest.key.as_str()));
        assert_eq!(s.last_backup_size, Some(4096));
        assert_eq!(
            s.last_backup_sha256.as_deref(),
            Some(manifest.sha256.as_str())
        );
        assert_eq!(s.last_backup_duration.as_deref(), Some("12s"));
        assert_eq!(s.last_backup_time, Some(to_time(at(NOW + 12))));
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(s.current_job, None);
        assert!(done.notices[0].message.contains(&manifest.sha256));

        let gone = decide(
            "*/15 * * * *",
            Some(&running),
            Some(JobOutcome::Missing),
            None,
            NOW + 70,
        );
        assert_eq!(gone.status.consecutive_failures, 3);
        assert_eq!(
            gone.status.last_failure_reason.as_deref(),
            Some(reasons::JOB_MISSING)
        );
        assert!(gone.notices[0].warning);
    }

    #[test]
    fn a_changed_schedule_counts_from_its_next_firing_and_an_unready_cluster_keeps_the_firing_due()
    {
        let hourly = decide("0 * * * *", None, None, None, NOW);
        assert_eq!(
            hourly.status.next_scheduled_backup,
            Some(to_time(at(NOW - 307 + 3600)))
        );
        // Now daily at 09:15: 10:00 is not one of its firings, so the next is today's 09:15.
        let changed = decide("15 9 * * *", Some(&hourly.status), None, None, NOW + 1);
        assert_eq!(
            changed.status.next_scheduled_backup,
            Some(to_time(at(NOW - 307 + 900)))
        );

        let names = ClusterNames::new("bao");
        let schedule = parse_cron("*/15 * * * *").expect("schedule");
        let first = decide("*/15 * * * *", None, None, None, NOW);
        let unready = plan(&Inputs {
            names: &names,
            schedule: &schedule,
            previous: Some(&first.status),
            current: None,
            manual_trigger: Some("t1"),
            ready: false,
            now: at(NOW + 3600),
        });
        assert_eq!(unready.start, None);
        assert_eq!(
            unready.status.next_scheduled_backup, first.status.next_scheduled_backup,
            "still due once the cluster is ready"
        );
        assert_eq!(unready.status.last_handled_manual_trigger, None);
    }

    #[test]
    fn a_handled_trigger_does_not_run_again_and_manual_job_names_never_repeat() {
        let names = ClusterNames::new("bao");
        let handled = BackupStatus {
            last_handled_manual_trigger: Some("t1".into()),
            last_attempt_time: Some(to_time(at(NOW))),
            ..BackupStatus::default()
        };
        assert_eq!(
            decide("0 3 * * *", Some(&handled), None, Some("t1"), NOW + 5).start,
            None
        );
        let again = decide("0 3 * * *", Some(&handled), None, Some("t2"), NOW)
            .start
            .expect("a new trigger value runs");
        assert_eq!(again.job, names.backup_job(NOW + 1));
        assert_eq!(
            decide("0 3 * * *", Some(&handled), None, Some("  "), NOW + 5).start,
            None,
            "a blank value is no trigger"
        );
    }
}
