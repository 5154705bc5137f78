//! Day-2 operations in the spec, under upstream's names: `backup` (scheduled snapshots and
//! restore tests), `restore`, `upgrade`, `selfInit` and `recoveryKeys`. The shapes are complete
//! so upstream manifests decode; what is not built yet is refused (or reported) by `validate`.

use std::collections::BTreeMap;

use k8s_openapi::api::{
    core::v1::{LocalObjectReference, ResourceRequirements},
    networking::v1::NetworkPolicyEgressRule,
};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    PodMetadata, SecretRef, ServiceAccountSpec, StorageSpec, TlsSpec, UnsealSpec,
    configuration::{
        AuditDevice, AuditDeviceType, AuditFileOptions, AuditHttpOptions, AuditSocketOptions,
        AuditSyslogOptions, Plugin,
    },
    workload::InitContainer,
};

/// Scheduled Raft snapshots.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupSpec {
    /// When to take a snapshot: a standard 5-field cron expression (minute hour day-of-month
    /// month day-of-week) in UTC, for example "0 */6 * * *".
    #[schemars(length(min = 1, max = 128))]
    pub schedule: String,
    /// Where snapshots are stored.
    pub target: BackupTarget,
    /// OpenBao JWT auth role the backup Job logs in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_auth_role: Option<String>,
    /// Secret holding an OpenBao token for the backup Job, when no JWT role is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretRef>,
    /// Which snapshots to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<BackupRetention>,
    /// Image of the backup Job; the operator's own image by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Upstream's earlier name of `image`; use one of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_image: Option<String>,
    /// Upstream's earlier Kubernetes auth role of the backup Job (now jwtAuthRole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_auth_role: Option<String>,
    /// Periodic restore of the latest snapshot into a disposable cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_test: Option<Box<RestoreTest>>,
    /// When set, backup and restore Jobs may only reach DNS, this cluster's OpenBao pods on 8200,
    /// the API server and these destinations (for example your object storage endpoint).
    /// When unset, Job egress is not restricted, because object storage endpoints are arbitrary.
    /// An extension of this operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_rules: Option<Vec<NetworkPolicyEgressRule>>,
}

/// Object storage for snapshots (shared by backups, restores and restore tests).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(
    validation = Rule::new("self.provider != 's3' || (has(self.endpoint) && size(self.endpoint) > 0)").message("target.endpoint is required when provider is s3"),
    validation = Rule::new("self.provider == 'gcs' || !has(self.gcs)").message("target.gcs is only allowed when provider is gcs"),
    validation = Rule::new("self.provider == 'azure' || !has(self.azure)").message("target.azure is only allowed when provider is azure"),
)]
pub struct BackupTarget {
    /// s3 (default; also S3-compatible stores), gcs or azure.
    #[serde(default)]
    pub provider: BackupProvider,
    /// Endpoint URL, for example "https://s3.eu-west-1.amazonaws.com". Required for s3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Bucket (s3, gcs) or container (azure).
    #[schemars(length(min = 1, max = 255))]
    pub bucket: String,
    /// Prefix for snapshot object names, for example "prod/openbao/".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub path_prefix: Option<String>,
    /// Secret with the store's credentials (s3: accessKeyId and secretAccessKey, optionally
    /// sessionToken and caCert; gcs: credentials.json; azure: accountKey or connectionString).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
    /// Workload identity for the Job (ServiceAccount annotations and pod labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<WorkloadIdentity>,
    /// Multipart upload part size in bytes (default 10485760, at least 5242880).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5242880))]
    pub part_size: Option<i64>,
    /// Parts uploaded in parallel (1 to 10, default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub concurrency: Option<i32>,
    /// Region (s3), "us-east-1" by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// IAM role to assume through web identity (s3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Use path-style addressing (required by most S3-compatible servers).
    #[serde(default)]
    pub use_path_style: bool,
    /// GCS options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<GcsTarget>,
    /// Azure options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureTarget>,
    /// Refused: the store's certificate is always verified (give a private CA as caCert in the
    /// credentials Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

/// Object storage providers.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackupProvider {
    /// Amazon S3 or an S3-compatible store.
    #[default]
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage.
    Azure,
}

impl BackupProvider {
    /// The spelling in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::Gcs => "gcs",
            Self::Azure => "azure",
        }
    }
}

/// Workload identity for backup and restore Jobs.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadIdentity {
    /// Annotations of the Job's ServiceAccount.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_account_annotations: BTreeMap<String, String>,
    /// Labels of the Job's pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
}

/// GCS target options.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcsTarget {
    /// GCP project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// Azure target options.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzureTarget {
    /// Storage account.
    #[schemars(length(min = 1))]
    pub storage_account: String,
    /// Container (the bucket by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// Snapshot retention. Snapshots beyond either limit are deleted after a successful backup.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupRetention {
    /// Keep at most this many snapshots (0 means no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub max_count: Option<i32>,
    /// Delete snapshots older than this duration, for example "168h".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$"))]
    pub max_age: Option<String>,
}

/// A periodic restore of the latest snapshot into a disposable cluster.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreTest {
    /// A 5-field cron schedule (exactly one of schedule and everySuccessfulBackups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub schedule: Option<String>,
    /// Run after every N successful backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub every_successful_backups: Option<i64>,
    /// Namespace the disposable cluster runs in.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// The disposable cluster.
    pub cluster_template: RestoreClusterTemplate,
    /// Storage credentials for the disposable cluster's restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
    /// Seconds to wait after the restore before cleaning up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub cleanup_after_seconds: Option<i32>,
}

/// The cluster a restore creates (restore tests and fresh-target restores).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreClusterTemplate {
    /// OpenBao version of the new cluster.
    #[schemars(length(min = 1))]
    pub version: String,
    /// Image of the new cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Storage of the new cluster.
    pub storage: StorageSpec,
    /// TLS of the new cluster.
    pub tls: TlsSpec,
    /// Seal of the new cluster.
    pub unseal: UnsealSpec,
    /// ServiceAccount of the new cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccountSpec>,
    /// Pod metadata of the new cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_metadata: Option<PodMetadata>,
    /// Plugins of the new cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<Plugin>,
    /// Resources of the new cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Init container of the new cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_container: Option<InitContainer>,
    /// Image pull Secrets of the new cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 2))]
    pub image_pull_secrets: Vec<LocalObjectReference>,
}

/// Settings for restores into this cluster.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterRestoreSpec {
    /// OpenBao JWT auth role restore Jobs log in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_auth_role: Option<String>,
}

/// How version changes roll out.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpgradeSpec {
    /// RollingUpdate (default) or BlueGreen.
    #[serde(default)]
    pub strategy: UpgradeStrategy,
    /// Image of the upgrade Jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// OpenBao JWT auth role upgrade Jobs log in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_auth_role: Option<String>,
    /// Take a snapshot before an upgrade starts (needs spec.backup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_upgrade_snapshot: Option<bool>,
    /// How long a replaced member has to come back (ready, unsealed, a voter, caught up) before
    /// the rollout pauses, as a Go duration (default 10m, at least 10s). An extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_timeout: Option<String>,
    /// One-shot requests (retry, promote, rollback): change a value to act once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<UpgradeRequests>,
    /// Blue/green behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreen>,
    /// Upstream's earlier name of `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_image: Option<String>,
    /// Upstream's earlier Kubernetes auth role of upgrade Jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_auth_role: Option<String>,
    /// Upstream's earlier token Secret of upgrade Jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretRef>,
}

/// Upgrade strategies.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UpgradeStrategy {
    /// Replace pods in place.
    #[default]
    RollingUpdate,
    /// Build a second cluster, then switch.
    BlueGreen,
}

/// One-shot upgrade requests.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpgradeRequests {
    /// Retry a failed rolling upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub retry: Option<String>,
    /// Promote a held blue/green upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub promote: Option<String>,
    /// Roll a blue/green upgrade back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub rollback: Option<String>,
}

/// Blue/green upgrade behaviour.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlueGreen {
    /// Switch and clean up automatically (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promote: Option<bool>,
    /// Consecutive Job failures before aborting (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_job_failures: Option<i32>,
    /// Take a snapshot first (needs spec.backup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_upgrade_snapshot: Option<bool>,
    /// Checks before promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<BlueGreenVerification>,
    /// When to roll back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<AutoRollback>,
}

/// Checks before a blue/green promotion.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlueGreenVerification {
    /// Minimum time the new cluster stays healthy before promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_sync_duration: Option<String>,
    /// A Job that must succeed before promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_promotion_hook: Option<ValidationHook>,
}

/// A validation Job.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidationHook {
    /// Image.
    #[schemars(length(min = 1))]
    pub image: String,
    /// Command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Timeout (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
}

/// Blue/green rollback triggers.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoRollback {
    /// Roll back automatically (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// On Job failure (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_job_failure: Option<bool>,
    /// On validation failure (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_validation_failure: Option<bool>,
}

/// The root token of a cluster the operator initialized through `sys/init` (an extension).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitializationSpec {
    /// Revoke the root token in OpenBao once the operator's own identity works, and remove it
    /// from Secret `<cluster>-root-token` (the recovery keys stay). One way: turning it off
    /// again brings no token back; a person generates a new one from the recovery keys
    /// (`bao operator generate-root`). No effect on a self-initialized cluster, which never
    /// has a root token.
    #[serde(default)]
    pub revoke_root_token: bool,
}

/// OpenBao's own self-initialization (`initialize` stanzas).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfInit {
    /// Initialize through the configuration instead of `sys/init`; no root token exists.
    #[serde(default)]
    pub enabled: bool,
    /// The operator's own JWT auth bootstrap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<SelfInitOidc>,
    /// Requests run at initialization, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub requests: Vec<SelfInitRequest>,
    /// Upstream's earlier name of `oidc.enabled`.
    #[serde(
        default,
        rename = "bootstrapJWTAuth",
        skip_serializing_if = "Option::is_none"
    )]
    pub bootstrap_jwt_auth: Option<bool>,
}

/// The operator's JWT auth bootstrap.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfInitOidc {
    /// Bootstrap the operator's JWT auth.
    #[serde(default)]
    pub enabled: bool,
    /// Issuer (the API server's by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// ServiceAccount that approves policy contents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_approver_ref: Option<NamespacedName>,
    /// Extra ServiceAccount subjects bound to the generated roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_subjects: Option<AdditionalSubjects>,
}

/// A namespaced object name.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespacedName {
    /// Namespace.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// Name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Extra subjects of the generated roles.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdditionalSubjects {
    /// For the operator role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator: Vec<String>,
    /// For the backup role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backup: Vec<String>,
    /// For the restore role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restore: Vec<String>,
    /// For the upgrade role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upgrade: Vec<String>,
}

/// One self-initialization request.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfInitRequest {
    /// Name of the request block (unique).
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z_][A-Za-z0-9_-]*$")
    )]
    pub name: String,
    /// create, read, update, delete, list or patch.
    pub operation: SelfInitOperation,
    /// API path, for example "sys/auth/userpass".
    #[schemars(length(min = 1, max = 256))]
    pub path: String,
    /// HTTP headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    /// A condition (boolean or CEL object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::spec::any_value")]
    pub when: Option<serde_json::Value>,
    /// Typed payload for `sys/audit/*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_device: Option<SelfInitAuditDevice>,
    /// Typed payload for `sys/auth/*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<SelfInitMount>,
    /// Typed payload for `sys/mounts/*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_engine: Option<SelfInitMount>,
    /// Typed payload for `sys/policies/*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<SelfInitPolicy>,
    /// Raw payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::spec::any_object")]
    pub data: Option<serde_json::Value>,
    /// Do not block initialization when this request fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_failure: Option<bool>,
    /// Fields of the request's body whose values come from Secrets in the cluster's namespace
    /// (an extension: upstream keeps secret values out of self-initialization). OpenBao reads
    /// each from a file the pods mount; the Secret must exist when the cluster first starts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data_from: BTreeMap<String, SecretKeySelector>,
}

/// One key of a Secret in the cluster's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeySelector {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._A-Za-z0-9]+$"))]
    pub key: String,
}

/// Self-initialization operations.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SelfInitOperation {
    /// create.
    Create,
    /// read.
    Read,
    /// update.
    Update,
    /// delete.
    Delete,
    /// list.
    List,
    /// patch.
    Patch,
}

/// An audit device to enable through a self-initialization request (the path names it).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfInitAuditDevice {
    /// file, syslog, socket or http.
    #[serde(rename = "type")]
    pub type_: AuditDeviceType,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Options of a file device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_options: Option<AuditFileOptions>,
    /// Options of an http device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_options: Option<AuditHttpOptions>,
    /// Options of a syslog device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syslog_options: Option<AuditSyslogOptions>,
    /// Options of a socket device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_options: Option<AuditSocketOptions>,
}

impl SelfInitAuditDevice {
    /// The same device as a `spec.audit` entry mounted at `path`, so both share one set of
    /// rules and one rendering of options.
    pub fn at_path(&self, path: &str) -> AuditDevice {
        AuditDevice {
            type_: self.type_,
            path: path.to_string(),
            description: self.description.clone(),
            file_options: self.file_options.clone(),
            http_options: self.http_options.clone(),
            syslog_options: self.syslog_options.clone(),
            socket_options: self.socket_options.clone(),
            options: None,
        }
    }
}

/// An auth method or secrets engine to enable.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfInitMount {
    /// Type, for example "userpass" or "kv".
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub type_: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Mount configuration (auth methods).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Mount options (secrets engines).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// A policy to write.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfInitPolicy {
    /// The policy document (HCL).
    #[schemars(length(min = 1))]
    pub policy: String,
}

/// Recovery keys created at initialization for PGP recipients.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoveryKeys {
    /// The first set of recovery keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<RecoveryKeysInitial>,
}

/// Shamir shares of the recovery key, each encrypted to a recipient.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoveryKeysInitial {
    /// Number of shares.
    #[schemars(range(min = 1, max = 255))]
    pub shares: i32,
    /// Shares needed.
    #[schemars(range(min = 1, max = 255))]
    pub threshold: i32,
    /// One recipient per share.
    #[schemars(length(min = 1, max = 255))]
    pub recipients: Vec<RecoveryKeyRecipient>,
}

/// A PGP recipient.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoveryKeyRecipient {
    /// Recipient name.
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    /// Key fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Base64 OpenPGP public key.
    #[schemars(length(min = 1))]
    pub pgp_public_key: String,
}
