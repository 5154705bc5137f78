//! The `OpenBaoRestore` custom resource (upstream's `openbao.org/v1alpha1` kind, field for field):
//! a one-shot restore of a Raft snapshot from object storage, either in place into an existing
//! OpenBaoCluster or into a fresh cluster built from `spec.clusterTemplate`.
//!
//! The restore machinery is not built yet: the operator accepts these objects, validates them and
//! sets the condition `NotImplemented` ([`crate::conditions::types::NOT_IMPLEMENTED`]).
//!
//! [`validate_restore`] checks every field; [`validate_restore_update`] also refuses any change of
//! the spec, which is immutable. The snapshot target and the cluster template are checked with the
//! very rules of an OpenBaoCluster's `spec.backup.target` and spec (see `cluster_rules`), so a
//! restore never accepts what the cluster it reads from or creates would refuse.

use std::net::IpAddr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::names::{ClusterNames, MAX_CLUSTER_NAME_LEN};
use crate::spec::{
    BackupTarget, OpenBaoCluster, OpenBaoClusterSpec, RestoreClusterTemplate, SecretRef, UnsealType,
};
use crate::validate::{ValidationErrors, key_path, rules};

/// Largest snapshot size accepted in `spec.source.expectedSize` (8 GiB), as upstream.
pub const MAX_SNAPSHOT_SIZE: i64 = 8_589_934_592;
/// Longest `spec.cleanupAfterSeconds` (one day).
pub const MAX_CLEANUP_AFTER_SECONDS: i32 = 86_400;
/// Longest object key in S3, GCS and Azure Blob Storage, in bytes.
pub const MAX_OBJECT_KEY_LEN: usize = 1024;

/// Restore an OpenBao Raft snapshot from object storage. The spec is immutable: create a new
/// OpenBaoRestore for other parameters.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "openbao.org",
    version = "v1alpha1",
    kind = "OpenBaoRestore",
    plural = "openbaorestores",
    singular = "openbaorestore",
    shortname = "obrestore",
    category = "openbao",
    namespaced,
    status = "OpenBaoRestoreStatus",
    derive = "PartialEq",
    doc = "A one-shot restore of an OpenBao Raft snapshot from object storage into an OpenBaoCluster: in place, or into a fresh cluster built from spec.clusterTemplate.",
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".spec.cluster",
        description = "OpenBaoCluster the snapshot is restored into"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Restore phase"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    validation = Rule::new("size(self.metadata.name) <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"),
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(
    validation = Rule::new("self == oldSelf").message("spec is immutable; create a new OpenBaoRestore for changed restore parameters"),
    validation = Rule::new("!has(self.targetLifecycle) || has(self.clusterTemplate)").message("spec.targetLifecycle requires spec.clusterTemplate: it says what happens to the fresh target cluster"),
    validation = Rule::new("!has(self.cleanupAfterSeconds) || (has(self.targetLifecycle) && self.targetLifecycle == 'Disposable')").message("spec.cleanupAfterSeconds requires spec.targetLifecycle Disposable"),
    validation = Rule::new("!has(self.overrideOperationLock) || !self.overrideOperationLock || (has(self.force) && self.force)").message("spec.overrideOperationLock requires spec.force to be true"),
)]
pub struct OpenBaoRestoreSpec {
    /// Name of the OpenBaoCluster in this namespace to restore into. With spec.clusterTemplate
    /// it must be a new name: the operator creates that cluster from the template.
    #[schemars(length(min = 1))]
    pub cluster: String,

    /// Where the snapshot is stored and what it is expected to be.
    pub source: RestoreSource,

    /// OpenBao JWT auth role the restore Job logs in with (it needs update on
    /// sys/storage/raft/snapshot, and on sys/storage/raft/snapshot-force with force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_auth_role: Option<String>,

    /// Secret in this namespace holding an OpenBao token for the restore Job, used when no JWT
    /// role is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretRef>,

    /// Image of the restore Job; the backup image by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Use OpenBao's force-restore endpoint, which skips the checks that the snapshot's seal
    /// matches and that the cluster is initialized and not upgrading. Required with
    /// spec.clusterTemplate and with spec.overrideOperationLock.
    #[serde(default)]
    pub force: bool,

    /// Clear an upgrade or backup holding the cluster's operation lock (break-glass).
    /// Requires spec.force.
    #[serde(default)]
    pub override_operation_lock: bool,

    /// Restore into a fresh single-voter cluster named spec.cluster, created from this
    /// template, instead of an existing cluster. Requires spec.targetLifecycle, spec.force,
    /// spec.source.expectedClusterID and spec.source.expectedVersion equal to the template's
    /// version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_template: Option<RestoreClusterTemplate>,

    /// What happens to the fresh target cluster after the restore: Retain keeps it, Disposable
    /// deletes it after spec.cleanupAfterSeconds. Only with spec.clusterTemplate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_lifecycle: Option<TargetLifecycle>,

    /// Seconds between a successful restore and the deletion of a Disposable target (0 to
    /// 86400; immediately when unset). Only with spec.targetLifecycle Disposable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub cleanup_after_seconds: Option<i32>,
}

/// The snapshot to restore.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreSource {
    /// Object storage holding the snapshot; the same settings as an OpenBaoCluster's
    /// spec.backup.target.
    pub target: BackupTarget,

    /// Full object key of the snapshot, for example "clusters/prod/2025-10-14-120000.snap".
    #[schemars(length(min = 1))]
    pub key: String,

    /// Native cluster ID of the OpenBao cluster the snapshot was taken from. Required with
    /// spec.clusterTemplate.
    #[serde(
        default,
        rename = "expectedClusterID",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 128))]
    pub expected_cluster_id: Option<String>,

    /// OpenBao version the snapshot was taken with, for example "2.7.0". Required with
    /// spec.clusterTemplate, and then equal to spec.clusterTemplate.version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub expected_version: Option<String>,

    /// SHA-256 digest the snapshot's bytes must have, "sha256:" and 64 lowercase hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^sha256:[a-f0-9]{64}$"))]
    pub expected_digest: Option<String>,

    /// Size in bytes the snapshot must have (1 to 8589934592).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 8_589_934_592i64))]
    pub expected_size: Option<i64>,
}

/// What happens to the fresh cluster of spec.clusterTemplate after the restore: Retain keeps
/// it, Disposable deletes it after spec.cleanupAfterSeconds. Only with spec.clusterTemplate.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetLifecycle {
    /// Keep the restored cluster.
    Retain,
    /// Delete the restored cluster after spec.cleanupAfterSeconds.
    Disposable,
}

impl TargetLifecycle {
    /// The spelling in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retain => "Retain",
            Self::Disposable => "Disposable",
        }
    }
}

/// Observed state of a restore, written only by the operator.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct OpenBaoRestoreStatus {
    /// Pending, Validating, Running, Completed, Failed or Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    /// When the restore started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When the restore completed or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Object key of the snapshot that was restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_key: Option<String>,
    /// Size in bytes of the snapshot that was restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_size: Option<i64>,
    /// Human-readable details of the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// NotImplemented (until restores are built) and related conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Phase of the restore: Pending, Validating, Running, Completed, Failed or Unknown.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePhase {
    /// Accepted, not started.
    Pending,
    /// Checking the target cluster and the snapshot.
    Validating,
    /// The restore Job runs.
    Running,
    /// The snapshot was restored.
    Completed,
    /// The restore failed; the message says why.
    Failed,
    /// The operator lost track of the restore's outcome.
    Unknown,
}

impl RestorePhase {
    /// The spelling in status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Validating => "Validating",
            Self::Running => "Running",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Unknown => "Unknown",
        }
    }
}

/// Check every semantic rule of `restore` (metadata and spec). Every error is reported, with
/// its path, the value and what is allowed.
pub fn validate_restore(restore: &OpenBaoRestore) -> Result<(), ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let namespace = restore
        .metadata
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty());
    validate_metadata(restore, &mut errs);
    let spec = &restore.spec;
    validate_cluster_name(&spec.cluster, &mut errs);
    cluster_rules(restore, &mut errs);
    validate_source(&spec.source, namespace, &mut errs);
    if let Some(role) = &spec.jwt_auth_role {
        check_token(
            &mut errs,
            "spec.jwtAuthRole",
            role,
            "an OpenBao JWT auth role name",
        );
    }
    if let Some(secret) = &spec.token_secret_ref {
        check_secret_ref(&mut errs, "spec.tokenSecretRef", secret, namespace);
    }
    if let Some(image) = &spec.image
        && let Err(why) = rules::check_image_reference(image)
    {
        errs.add(
            "spec.image",
            image,
            format!(
                "{why}; must be an image reference [registry/]repository[:tag][@sha256:digest], \
                 such as ghcr.io/example/openbao-backup:1.0.0"
            ),
        );
    }
    if spec.override_operation_lock && !spec.force {
        errs.add(
            "spec.overrideOperationLock",
            true,
            "requires spec.force to be true: clearing another operation's lock is break-glass \
             and only allowed for a forced restore",
        );
    }
    validate_lifecycle(spec, &mut errs);
    if let Some(template) = &spec.cluster_template {
        validate_fresh_target(spec, template, &mut errs);
        validate_template(template, namespace, &mut errs);
    }
    errs.into_result()
}

/// `validate_restore(new)` plus immutability: an OpenBaoRestore's spec cannot change after
/// creation; each changed field is reported.
pub fn validate_restore_update(
    old: &OpenBaoRestore,
    new: &OpenBaoRestore,
) -> Result<(), ValidationErrors> {
    let mut errs = validate_restore(new).err().unwrap_or_default();
    if old.spec != new.spec {
        let (old_spec, new_spec) = (json_of(&old.spec), json_of(&new.spec));
        let mut changed = Vec::new();
        diff(&old_spec, &new_spec, "spec", &mut changed);
        if changed.is_empty() {
            changed.push(("spec".to_string(), Value::Null, new_spec));
        }
        for (path, was, now) in changed {
            errs.add(
                path,
                render(&now),
                format!(
                    "is immutable (it was {}): the spec of an OpenBaoRestore cannot change after \
                     creation; create a new OpenBaoRestore for changed restore parameters",
                    if was.is_null() {
                        "unset".to_string()
                    } else {
                        render(&was)
                    }
                ),
            );
        }
    }
    errs.into_result()
}

fn validate_metadata(restore: &OpenBaoRestore, errs: &mut ValidationErrors) {
    match restore.metadata.name.as_deref() {
        None | Some("") => errs.add(
            "metadata.name",
            "",
            "required: the restore's name, a DNS-1123 label such as \"restore-2025-10-14\"",
        ),
        Some(name) => check_label(errs, "metadata.name", name, "the restore's name"),
    }
    if let Some(namespace) = restore.metadata.namespace.as_deref()
        && !namespace.is_empty()
    {
        check_label(errs, "metadata.namespace", namespace, "a namespace name");
    }
}

/// `spec.cluster` names an OpenBaoCluster, so it follows the rules of a cluster's name.
fn validate_cluster_name(cluster: &str, errs: &mut ValidationErrors) {
    let path = "spec.cluster";
    if cluster.is_empty() {
        errs.add(
            path,
            "",
            "required: the name of the OpenBaoCluster in this namespace to restore into",
        );
    } else if cluster.len() > MAX_CLUSTER_NAME_LEN || !rules::is_dns1035_label_shape(cluster) {
        errs.add(
            path,
            cluster,
            format!(
                "must be the name of an OpenBaoCluster: a DNS-1035 label of at most \
                 {MAX_CLUSTER_NAME_LEN} characters (lowercase letters, digits and '-', starting \
                 with a letter and ending with a letter or digit)"
            ),
        );
    }
}

fn validate_source(source: &RestoreSource, namespace: Option<&str>, errs: &mut ValidationErrors) {
    let p = "spec.source";
    let key = &source.key;
    if key.is_empty() {
        errs.add(
            format!("{p}.key"),
            "",
            "required: the full object key of the snapshot, such as \
             clusters/prod/2025-10-14-120000.snap",
        );
    } else if key.chars().any(char::is_control) {
        errs.add(
            format!("{p}.key"),
            key.escape_debug(),
            "must not contain control characters",
        );
    } else if key.len() > MAX_OBJECT_KEY_LEN {
        errs.add(
            format!("{p}.key"),
            key,
            format!(
                "must be at most {MAX_OBJECT_KEY_LEN} bytes (it has {}), the longest object key \
                 of S3, GCS and Azure Blob Storage",
                key.len()
            ),
        );
    }
    let target = &source.target;
    if let Some(endpoint) = &target.endpoint
        && rules::check_http_url(endpoint).is_ok()
        && let Err(why) = check_object_store_endpoint(endpoint)
    {
        errs.add(format!("{p}.target.endpoint"), endpoint, why);
    }
    if let Some(secret) = &target.credentials_secret_ref {
        check_secret_ref_scope(
            errs,
            &format!("{p}.target.credentialsSecretRef"),
            secret,
            namespace,
        );
    }
    if let Some(id) = &source.expected_cluster_id {
        let path = format!("{p}.expectedClusterID");
        check_token(
            errs,
            &path,
            id,
            "the native cluster ID of the snapshot's cluster",
        );
        if id.len() > 128 {
            errs.add(
                path,
                id,
                format!("must be at most 128 characters (it has {})", id.len()),
            );
        }
    }
    if let Some(version) = &source.expected_version {
        let path = format!("{p}.expectedVersion");
        if version.len() > 64 {
            errs.add(
                path,
                version,
                format!("must be at most 64 characters (it has {})", version.len()),
            );
        } else if let Err(why) = rules::check_semver(version) {
            errs.add(
                path,
                version,
                format!(
                    "{why}; must be the OpenBao version the snapshot was taken with, such as \
                     2.7.0"
                ),
            );
        }
    }
    if let Some(digest) = &source.expected_digest
        && !is_sha256_digest(digest)
    {
        errs.add(
            format!("{p}.expectedDigest"),
            digest,
            "must be \"sha256:\" followed by 64 lowercase hexadecimal digits",
        );
    }
    if let Some(size) = source.expected_size
        && !(1..=MAX_SNAPSHOT_SIZE).contains(&size)
    {
        errs.add(
            format!("{p}.expectedSize"),
            size,
            format!("must be between 1 and {MAX_SNAPSHOT_SIZE} bytes (8Gi)"),
        );
    }
}

fn validate_lifecycle(spec: &OpenBaoRestoreSpec, errs: &mut ValidationErrors) {
    if let Some(lifecycle) = spec.target_lifecycle
        && spec.cluster_template.is_none()
    {
        errs.add(
            "spec.targetLifecycle",
            lifecycle.as_str(),
            "requires spec.clusterTemplate: it says what happens to the fresh cluster a \
             template creates; an in-place restore keeps its cluster",
        );
    }
    if let Some(seconds) = spec.cleanup_after_seconds {
        let path = "spec.cleanupAfterSeconds";
        if !(0..=MAX_CLEANUP_AFTER_SECONDS).contains(&seconds) {
            errs.add(
                path,
                seconds,
                format!("must be between 0 and {MAX_CLEANUP_AFTER_SECONDS} (one day)"),
            );
        }
        if spec.target_lifecycle != Some(TargetLifecycle::Disposable) {
            errs.add(
                path,
                seconds,
                "requires spec.targetLifecycle Disposable: only a disposable target is \
                 deleted after the restore",
            );
        }
    }
}

/// Upstream's rules for a restore into a fresh cluster: it must be forced (the new cluster's
/// seal and identity differ from the snapshot's), the snapshot must be pinned to its source
/// cluster and version, and the Job authenticates through the new cluster's bootstrap, so no
/// token or JWT role of an existing cluster applies.
fn validate_fresh_target(
    spec: &OpenBaoRestoreSpec,
    template: &RestoreClusterTemplate,
    errs: &mut ValidationErrors,
) {
    const WITH: &str = "with spec.clusterTemplate";
    if spec.target_lifecycle.is_none() {
        errs.add(
            "spec.targetLifecycle",
            "",
            format!("required {WITH}: Retain keeps the fresh cluster, Disposable deletes it"),
        );
    }
    if !spec.force {
        errs.add(
            "spec.force",
            false,
            format!(
                "must be true {WITH}: the fresh cluster's seal and cluster ID differ from the \
                 snapshot's, so only a forced restore applies it"
            ),
        );
    }
    if spec.override_operation_lock {
        errs.add(
            "spec.overrideOperationLock",
            true,
            format!("must be false {WITH}: a fresh cluster has no operation lock to override"),
        );
    }
    if spec.source.expected_cluster_id.is_none() {
        errs.add(
            "spec.source.expectedClusterID",
            "",
            format!("required {WITH}: the native cluster ID of the snapshot's cluster"),
        );
    }
    match &spec.source.expected_version {
        None => errs.add(
            "spec.source.expectedVersion",
            "",
            format!(
                "required {WITH}: the OpenBao version the snapshot was taken with, equal to \
                 spec.clusterTemplate.version ({})",
                template.version
            ),
        ),
        Some(version) if *version != template.version => errs.add(
            "spec.source.expectedVersion",
            version,
            format!(
                "must equal spec.clusterTemplate.version ({}): the fresh cluster runs the \
                 version the snapshot was taken with",
                template.version
            ),
        ),
        Some(_) => {}
    }
    if let Some(secret) = &spec.token_secret_ref {
        errs.add(
            "spec.tokenSecretRef",
            &secret.name,
            format!(
                "must not be set {WITH}: the restore Job authenticates to the fresh cluster \
                 through its own bootstrap, not with a stored token"
            ),
        );
    }
    if let Some(role) = &spec.jwt_auth_role {
        errs.add(
            "spec.jwtAuthRole",
            role,
            format!(
                "must not be set {WITH}: the fresh cluster's restore role is created by its \
                 bootstrap"
            ),
        );
    }
}

/// Upstream's rules for the template beyond an OpenBaoCluster's own (those come from
/// [`cluster_rules`], which runs first: a field they already refuse is not reported twice).
fn validate_template(
    template: &RestoreClusterTemplate,
    namespace: Option<&str>,
    errs: &mut ValidationErrors,
) {
    let p = "spec.clusterTemplate";
    let unseal = &template.unseal;
    let kind = unseal.type_;
    match &unseal.credentials_secret_ref {
        None if matches!(kind, UnsealType::Static | UnsealType::Transit) => add_new(
            errs,
            format!("{p}.unseal.credentialsSecretRef"),
            "",
            format!(
                "required when spec.clusterTemplate.unseal.type is {}: {}",
                kind.as_str(),
                if kind == UnsealType::Static {
                    "a Secret holding the static key the snapshot was sealed with, so the \
                     fresh cluster can unseal the restored data"
                } else {
                    "a Secret holding the transit token, so the fresh cluster can unseal"
                }
            ),
        ),
        None => {}
        Some(secret) => check_secret_ref_scope(
            errs,
            &format!("{p}.unseal.credentialsSecretRef"),
            secret,
            namespace,
        ),
    }
    if let Some(transit) = &unseal.transit {
        if transit.token.is_some() {
            add_new(
                errs,
                format!("{p}.unseal.transit.token"),
                "<redacted>",
                "must not be set in a restore template: give the token in \
                 spec.clusterTemplate.unseal.credentialsSecretRef",
            );
        }
        if transit.tls_skip_verify == Some(true) {
            add_new(
                errs,
                format!("{p}.unseal.transit.tlsSkipVerify"),
                true,
                "must not be true in a restore template: the transit server's certificate is \
                 always verified (give its CA in tlsCACert)",
            );
        }
    }
    let kms_plugin = |name: &str| {
        template
            .plugins
            .iter()
            .any(|plugin| plugin.type_ == "kms" && plugin.name == name)
    };
    let built_in = matches!(
        kind,
        UnsealType::Static | UnsealType::Transit | UnsealType::Kmip | UnsealType::Kms
    );
    if !built_in && !kms_plugin(kind.as_str()) {
        add_new(
            errs,
            format!("{p}.unseal.type"),
            kind.as_str(),
            format!(
                "a restore target's seal must be static, transit, kmip or kms, or be provided \
                 by a plugin: OpenBao 2.7 moved the {0} seal out of the server, so add to \
                 spec.clusterTemplate.plugins an entry of type kms named {0}",
                kind.as_str()
            ),
        );
    }
    for (i, plugin) in template.plugins.iter().enumerate() {
        if plugin.type_ != "kms" {
            add_new(
                errs,
                format!("{p}.plugins[{i}].type"),
                &plugin.type_,
                "must be kms: a restore target only takes the plugins its seal needs",
            );
        }
    }
}

/// The OpenBaoCluster fields of [`RestoreClusterTemplate`] (same names, same types).
const TEMPLATE_FIELDS: &[&str] = &[
    "version",
    "image",
    "storage",
    "tls",
    "unseal",
    "serviceAccount",
    "podMetadata",
    "plugins",
    "resources",
    "initContainer",
    "imagePullSecrets",
];

/// Where the cluster rules put errors about the snapshot target, and where they belong here.
const CLUSTER_TARGET_PATH: &str = "spec.backup.target";
const SOURCE_TARGET_PATH: &str = "spec.source.target";

/// Check `spec.source.target` and `spec.clusterTemplate` with the OpenBaoCluster rules: validate
/// the cluster this restore implies (the template projected as upstream does, a single-voter
/// Development cluster, with the snapshot target as its backup target) and keep the errors
/// about those fields, moved to their place in the restore. Errors about anything else of the
/// implied cluster are not the restore's and are dropped.
fn cluster_rules(restore: &OpenBaoRestore, errs: &mut ValidationErrors) {
    let spec = &restore.spec;
    let cluster = match implied_cluster(restore) {
        Ok(cluster) => cluster,
        Err(why) => {
            errs.add(
                "spec",
                "",
                format!("cannot be checked against the OpenBaoCluster rules: {why}"),
            );
            return;
        }
    };
    let Err(found) = crate::validate(&cluster) else {
        return;
    };
    let has_template = spec.cluster_template.is_some();
    for e in found {
        if let Some(rest) = under(&e.path, CLUSTER_TARGET_PATH) {
            errs.add(
                format!("{SOURCE_TARGET_PATH}{rest}"),
                e.value,
                e.message.replace(CLUSTER_TARGET_PATH, SOURCE_TARGET_PATH),
            );
            continue;
        }
        let in_template = TEMPLATE_FIELDS
            .iter()
            .any(|field| under(&e.path, &format!("spec.{field}")).is_some());
        if !has_template || !in_template {
            continue;
        }
        let path = format!("spec.clusterTemplate.{}", &e.path["spec.".len()..]);
        errs.add(path, e.value, rebase_mentions(&e.message));
    }
}

/// The OpenBaoCluster a restore implies: the template's fields (or a placeholder version for
/// an in-place restore, whose cluster already exists), one replica, the Development profile,
/// and the snapshot target as `spec.backup.target`.
fn implied_cluster(restore: &OpenBaoRestore) -> Result<OpenBaoCluster, String> {
    let spec = &restore.spec;
    let mut cluster_spec = match &spec.cluster_template {
        Some(template) => json_of(template),
        None => json!({ "version": "0.0.0" }),
    };
    let Some(fields) = cluster_spec.as_object_mut() else {
        return Err("the template is not an object".to_string());
    };
    fields.insert("replicas".to_string(), json!(1));
    fields.insert("profile".to_string(), json!("Development"));
    fields.insert(
        "backup".to_string(),
        json!({ "schedule": "@daily", "target": json_of(&spec.source.target) }),
    );
    let cluster_spec: OpenBaoClusterSpec =
        serde_json::from_value(cluster_spec).map_err(|e| e.to_string())?;
    let mut cluster = OpenBaoCluster::new(&spec.cluster, cluster_spec);
    cluster.metadata.namespace = restore.metadata.namespace.clone();
    Ok(cluster)
}

/// The rest of `path` when it is `prefix` or a field or item below it.
fn under<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with(['.', '['])).then_some(rest)
}

/// `message` with each mention of a template field as an OpenBaoCluster field
/// (`spec.unseal.type`) rewritten to its place in the restore (`spec.clusterTemplate.unseal.type`).
fn rebase_mentions(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("spec.") {
        let after = &rest[at + "spec.".len()..];
        let field_len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        out.push_str(&rest[..at]);
        if TEMPLATE_FIELDS.contains(&&after[..field_len]) {
            out.push_str("spec.clusterTemplate.");
        } else {
            out.push_str("spec.");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The object store endpoint rules of restores (upstream's) and of backups (this operator
/// applies them to both Jobs), beyond a well-formed http(s) URL: no loopback, link-local or
/// ambiguous numeric host (the Job would reach itself, the node or a cloud metadata service),
/// and plain http only to an in-cluster Service.
pub(crate) fn check_object_store_endpoint(endpoint: &str) -> Result<(), String> {
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return Ok(());
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = match authority.strip_prefix('[') {
        Some(inner) => inner.split(']').next().unwrap_or(inner),
        None => authority.split(':').next().unwrap_or(authority),
    }
    .to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return Err(format!(
            "the host {host:?} is the Job's own pod; give the object store's address"
        ));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let link_local = match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        };
        if ip.is_loopback() || ip.is_unspecified() || link_local {
            return Err(format!(
                "the address {ip} is a loopback, unspecified or link-local address (the Job's \
                 own pod, the node or a cloud metadata service); give the object store's \
                 address"
            ));
        }
    } else if host
        .rsplit('.')
        .next()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x"))
    {
        return Err(format!(
            "the host {host:?} is an ambiguous numeric address: write an IPv4 address as four \
             decimal numbers, such as 10.0.0.1, or use a DNS name"
        ));
    }
    if scheme.eq_ignore_ascii_case("http") && !is_in_cluster_service(&host) {
        return Err(format!(
            "plain http is only allowed to an in-cluster Service \
             (<service>.<namespace>.svc or <service>.<namespace>.svc.cluster.local), not to \
             {host:?}: use https so the snapshot is not read in the clear"
        ));
    }
    Ok(())
}

/// `<service>.<namespace>.svc` or `<service>.<namespace>.svc.cluster.local`.
fn is_in_cluster_service(host: &str) -> bool {
    let Some(name) = host
        .strip_suffix(".svc.cluster.local")
        .or_else(|| host.strip_suffix(".svc"))
    else {
        return false;
    };
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() == 2 && labels.iter().all(|l| rules::is_dns1123_label(l))
}

fn is_sha256_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A reference to a Secret the restore reads: a Secret name, never one of the Secrets the
/// operator keeps for a cluster (keys, tokens, certificates), and the legacy namespace field
/// only naming this namespace.
fn check_secret_ref(
    errs: &mut ValidationErrors,
    path: &str,
    secret: &SecretRef,
    namespace: Option<&str>,
) {
    let name_path = format!("{path}.name");
    if !rules::is_dns1123_subdomain(&secret.name) {
        errs.add(
            name_path,
            &secret.name,
            "must be the name of a Secret in this namespace: a DNS-1123 subdomain (lowercase \
             letters, digits, '-' and '.', starting and ending with a letter or digit, at most \
             253 characters)",
        );
    } else {
        let operator_owned = [
            ClusterNames::new("").root_token_secret(),
            ClusterNames::new("").unseal_key_secret(),
            ClusterNames::new("").ca_secret(),
            ClusterNames::new("").server_tls_secret(),
        ];
        if let Some(suffix) = operator_owned
            .iter()
            .find(|suffix| secret.name.ends_with(suffix.as_str()))
        {
            errs.add(
                name_path,
                &secret.name,
                format!(
                    "must not name a Secret the operator keeps for a cluster (names ending in \
                     {}): the restore Job would read it with the operator's authority; copy \
                     what it needs into a Secret of your own (this name ends in {suffix})",
                    operator_owned.join(", ")
                ),
            );
        }
    }
    if let Some(ns) = &secret.namespace
        && let Some(own) = namespace
        && ns != own
    {
        errs.add(
            format!("{path}.namespace"),
            ns,
            format!(
                "must be {own:?} (this restore's namespace) or unset: Secrets are only read from \
                 the restore's own namespace"
            ),
        );
    }
}

/// [`check_secret_ref`] for Secret references the OpenBaoCluster rules also check (they run
/// first): a field they already refuse is not reported twice.
fn check_secret_ref_scope(
    errs: &mut ValidationErrors,
    path: &str,
    secret: &SecretRef,
    namespace: Option<&str>,
) {
    let mut found = ValidationErrors::default();
    check_secret_ref(&mut found, path, secret, namespace);
    for e in found {
        add_new(errs, e.path, e.value, e.message);
    }
}

/// Record an error unless `path` already has one (from the OpenBaoCluster rules).
fn add_new(
    errs: &mut ValidationErrors,
    path: impl Into<String>,
    value: impl std::fmt::Display,
    message: impl Into<String>,
) {
    let path = path.into();
    if !errs.has_path(&path) {
        errs.add(path, value, message);
    }
}

fn check_label(errs: &mut ValidationErrors, path: &str, value: &str, what: &str) {
    if !rules::is_dns1123_label(value) {
        errs.add(
            path,
            value,
            format!(
                "must be {what}: a DNS-1123 label (lowercase letters, digits and '-', starting \
                 and ending with a letter or digit, at most 63 characters)"
            ),
        );
    }
}

/// A required free-form token (role names, IDs): non-empty, no whitespace or control characters.
fn check_token(errs: &mut ValidationErrors, path: &str, value: &str, what: &str) {
    if value.is_empty() {
        errs.add(path, value, format!("required when set: {what}"));
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errs.add(
            path,
            value.escape_debug(),
            format!("must not contain whitespace or control characters: {what}"),
        );
    }
}

fn json_of<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A JSON value for an error: strings as written, anything else as compact JSON, cut at 200
/// characters.
fn render(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 200 {
        format!("{}...", text.chars().take(200).collect::<String>())
    } else {
        text
    }
}

/// The paths (and old and new values) where `old` and `new` differ: objects are compared key
/// by key, anything else (lists, scalars) as a whole. A missing key is `Null`.
fn diff(old: &Value, new: &Value, path: &str, out: &mut Vec<(String, Value, Value)>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let (x, y) = (
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                );
                diff(x, y, &key_path(path, key), out);
            }
        }
        (a, b) if a != b => out.push((path.to_string(), a.clone(), b.clone())),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_field_mentions_move_under_the_template() {
        assert_eq!(
            rebase_mentions("only allowed when spec.tls.mode is ACME; see spec.network.x"),
            "only allowed when spec.clusterTemplate.tls.mode is ACME; see spec.network.x"
        );
        assert_eq!(
            rebase_mentions("spec.imagePullSecrets and spec.image and spec.imageVerification"),
            "spec.clusterTemplate.imagePullSecrets and spec.clusterTemplate.image and \
             spec.imageVerification"
        );
    }

    #[test]
    fn paths_under_a_prefix_are_fields_or_items_of_it() {
        assert_eq!(under("spec.tls.mode", "spec.tls"), Some(".mode"));
        assert_eq!(under("spec.tls", "spec.tls"), Some(""));
        assert_eq!(under("spec.plugins[0]", "spec.plugins"), Some("[0]"));
        assert_eq!(under("spec.tlsx", "spec.tls"), None);
    }

    #[test]
    fn restore_endpoints_refuse_loopback_link_local_numeric_and_external_http() {
        for ok in [
            "https://s3.amazonaws.com",
            "https://10.0.0.1:9000",
            "http://minio.storage.svc:9000",
            "http://minio.storage.svc.cluster.local",
        ] {
            assert!(check_object_store_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://localhost:9000",
            "https://minio.localhost",
            "https://127.0.0.1",
            "https://[::1]:9000",
            "https://[::ffff:127.0.0.1]",
            "https://169.254.169.254",
            "https://[fe80::1]",
            "https://0.0.0.0",
            "https://2130706433",
            "https://127.1",
            "https://0x7f000001",
            "http://s3.example.com",
            "http://minio.svc",
        ] {
            assert!(check_object_store_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spec_diffs_name_the_deepest_changed_field() {
        let mut out = Vec::new();
        diff(
            &json!({"a": {"b": 1, "c": [1]}, "d": 1}),
            &json!({"a": {"b": 2, "c": [1]}, "e": 1}),
            "spec",
            &mut out,
        );
        let paths: Vec<&str> = out.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(paths, ["spec.a.b", "spec.d", "spec.e"]);
    }
}
