//! The observed state of an `OpenBaoCluster`, written only by the operator.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of the cluster.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct OpenBaoClusterStatus {
    /// Lifecycle phase: Pending, Provisioning, Initializing, Running, Degraded, Failed or Paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Valid, Ready, Progressing, Degraded, Initialized and related conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Number of pods that are ready (unsealed and serving).
    #[serde(default)]
    pub ready_replicas: i32,
    /// Ready members out of desired replicas, for display ("2/3").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_members: Option<String>,
    /// OpenBao version the pods currently run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    /// Whether the cluster has been initialized (through `sys/init`, keys stored in
    /// `<cluster>-root-token`, or by itself from `spec.selfInit`).
    #[serde(default)]
    pub initialized: bool,
    /// Whether OpenBao initialized itself from `spec.selfInit` (no root token exists).
    #[serde(default)]
    pub self_initialized: bool,
    /// Whether the operator revoked the root token it stored at initialization
    /// (`spec.initialization.revokeRootToken`); it is no longer in `<cluster>-root-token`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub root_token_revoked: bool,
    /// Pod name of the active (leader) member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// Number of Raft peers in the cluster configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raft_peers: Option<i32>,
    /// Per-member health.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberStatus>,
    /// Scheduled and manual backups, while `spec.backup` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupStatus>,
    /// The long operation holding the cluster (a restore), if any: no StatefulSet change and
    /// no backup starts meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_lock: Option<OperationLockStatus>,
    /// The rollout in progress: the server pods are being replaced (a version upgrade, or any
    /// other change of the pod template), one at a time, the active member last. Absent when
    /// every pod runs the current template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeProgress>,
    /// The last proof of the live network posture (see the `PostureVerified` condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posture: Option<PostureStatus>,
}

/// The last proof of the live network posture: the cluster's contract checked against every
/// NetworkPolicy of its namespace and the live labels of its members.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PostureStatus {
    /// Flows evaluated (endpoint pairs times ports).
    pub flows_checked: u32,
    /// Flows that disagree with the contract.
    pub violations: u32,
    /// When the live state last changed and was proven (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified_time: Option<String>,
    /// The policies that widen the posture (or the operator's policy a member escapes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offending_policies: Vec<String>,
}

/// A long operation holding a cluster, under upstream's names.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct OperationLockStatus {
    /// `Restore`.
    pub operation: String,
    /// Who holds it, such as `OpenBaoRestore/restore-1`.
    pub holder: String,
    /// What it means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl OperationLockStatus {
    /// The lock named by an `openbao.org/operation-lock` annotation value
    /// (`<Operation>/<holder name>`).
    pub fn from_annotation(value: &str) -> Self {
        let (operation, holder) = value.split_once('/').unwrap_or((value, ""));
        Self {
            operation: operation.to_string(),
            holder: format!("OpenBao{operation}/{holder}"),
            message: Some(format!(
                "held by OpenBao{operation} {holder}: the StatefulSet is left as it is and no \
                 backup starts until it is released"
            )),
        }
    }
}

/// What the backups of a cluster did, under upstream's names (`currentJob` and
/// `lastBackupSha256` are extensions). Written by the operator from the backup Jobs' outcomes.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// When the last successful backup finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_time: Option<Time>,
    /// Object key of the last successful snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_name: Option<String>,
    /// Size in bytes of the last successful snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_size: Option<i64>,
    /// SHA-256 (hex) of the last successful snapshot, as verified after upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_sha256: Option<String>,
    /// How long the last successful backup took, such as "12s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_duration: Option<String>,
    /// When the last backup Job was started, whatever its outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_time: Option<Time>,
    /// The schedule's firing the last scheduled Job ran for (at most one Job per firing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_scheduled_time: Option<Time>,
    /// The last value of the `openbao.org/trigger-backup` annotation that started a Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_manual_trigger: Option<String>,
    /// The next firing of `spec.backup.schedule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_scheduled_backup: Option<Time>,
    /// Backups that failed in a row since the last success.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_failures: i32,
    /// Reason of the last failure, such as `BackupJobFailed` or `DeadlineExceeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_reason: Option<String>,
    /// What went wrong in the last failure (the Job's own report when it wrote one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_message: Option<String>,
    /// When the last failure was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<Time>,
    /// The backup Job running now (one at a time per cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_job: Option<String>,
}

/// A rollout in progress (upstream's `UpgradeProgress`: `targetVersion`, `fromVersion`,
/// `startedAt`, `completedPods`, `lastStepDownTime`, `failure`; `revision`, `currentMember`,
/// `memberStartedAt` and `message` are extensions). Upstream's `currentPartition` has no
/// meaning here: the operator replaces the pods itself so that the active member goes last.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeProgress {
    /// The version the pods are moving to (`spec.version`).
    pub target_version: String,
    /// The version they ran before (equal to `targetVersion` when only the pod template's
    /// configuration changed).
    pub from_version: String,
    /// When the rollout began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// The StatefulSet revision the pods are moving to.
    #[serde(default)]
    pub revision: String,
    /// Ordinals of the pods replaced and back (unsealed, a voter, caught up) in this rollout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub completed_pods: Vec<i32>,
    /// The pod being replaced now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_member: Option<String>,
    /// When the operator deleted `currentMember` (its timeout counts from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_started_at: Option<Time>,
    /// When the active member was last asked to step down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step_down_time: Option<Time>,
    /// The backup Job taking the snapshot before any pod is replaced
    /// (`spec.upgrade.preUpgradeSnapshot`; upstream's name, from its blue/green status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_upgrade_snapshot_job_name: Option<String>,
    /// The object key of that snapshot once it landed and was verified (an extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_upgrade_snapshot: Option<String>,
    /// What the rollout does or waits for now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Set when the rollout paused: no further pod is touched until the member recovers or
    /// the spec changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<UpgradeFailure>,
}

/// Why a rollout paused.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeFailure {
    /// Low-cardinality reason, such as `MemberNotBack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What happened, naming the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the rollout paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Time>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// Health of one OpenBao pod.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    /// Pod name.
    pub name: String,
    /// Whether the member answered its health endpoint.
    #[serde(default)]
    pub reachable: bool,
    /// Whether the member reports the cluster initialized.
    #[serde(default)]
    pub initialized: bool,
    /// Whether the member is sealed.
    #[serde(default)]
    pub sealed: bool,
    /// active, standby, uninitialized, sealed or unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Whether the member is a Raft voter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voter: Option<bool>,
}

/// Lifecycle phases.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Accepted, nothing created yet (or waiting on a precondition such as a valid spec).
    Pending,
    /// Creating or updating Kubernetes objects; pods are starting.
    Provisioning,
    /// Pods run; the operator is initializing OpenBao.
    Initializing,
    /// Every member is unsealed and one is active.
    Running,
    /// The cluster serves but something needs attention (a member down, a missing dependency).
    Degraded,
    /// The operator cannot make progress without the user (invalid spec, lost keys).
    Failed,
    /// spec.paused is true: the operator changes nothing.
    Paused,
}

impl Phase {
    /// The spelling used in status and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Provisioning => "Provisioning",
            Self::Initializing => "Initializing",
            Self::Running => "Running",
            Self::Degraded => "Degraded",
            Self::Failed => "Failed",
            Self::Paused => "Paused",
        }
    }
}
