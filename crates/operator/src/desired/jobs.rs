//! Backup and restore Jobs, built purely: one run of `openbao-operator backup save` (or
//! `restore`) in a pod labelled `openbao.org/component=backup` (or `restore`), selected by
//! `<cluster>-jobs-network-policy` and never by the server policy, under the ServiceAccount
//! `<cluster>-backup` (or `-restore`) whose projected, audience-bound token logs in to the
//! `backup` (or `restore`) role (see `crate::identity`), with the cluster's CA and the store's
//! credentials mounted read-only, and a deadline.

use std::collections::BTreeMap;

use api::{
    OpenBaoRestore,
    names::{COMPONENT_BACKUP, COMPONENT_RESTORE},
};
use k8s_openapi::{
    api::{
        batch::v1::{Job, JobSpec},
        core::v1::{
            Capabilities, Container, EnvVar, KeyToPath, PodSecurityContext, PodSpec,
            PodTemplateSpec, ProjectedVolumeSource, SeccompProfile, SecretVolumeSource,
            SecurityContext, ServiceAccount, ServiceAccountTokenProjection, Volume, VolumeMount,
            VolumeProjection,
        },
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::Resource;

use super::{ValidatedCluster, meta::object_meta, statefulset::tls_secret_name};
use crate::identity::{AUDIENCE, AUTH_MOUNT, BACKUP_ROLE, RESTORE_ROLE};

/// Where the Job's OpenBao token (projected, audience-bound) is mounted.
pub const TOKEN_DIR: &str = "/var/run/secrets/openbao";
/// Where the cluster's CA certificate is mounted.
pub const CA_DIR: &str = "/etc/openbao/ca";
/// Where `spec.backup.tokenSecretRef` (an OpenBao token, key `token`) is mounted.
pub const TOKEN_SECRET_DIR: &str = "/etc/openbao/backup-token";
/// Where the store's credentials Secret is mounted.
pub const CREDENTIALS_DIR: &str = "/etc/openbao/backup-credentials";
/// The Job's termination message file: the backup command writes the snapshot's manifest (or
/// its error) there, and the operator reads it from the pod's status.
pub const TERMINATION_LOG: &str = "/tmp/termination-log";
/// The variable holding `spec.backup.target` as JSON.
pub const TARGET_ENV: &str = "BACKUP_TARGET";
/// How long one backup may run before Kubernetes ends it.
pub const DEADLINE_SECONDS: i64 = 3600;
/// Lifetime of the projected token (the API server's minimum is 10 minutes).
const TOKEN_SECONDS: i64 = 600;

/// The ServiceAccount of the cluster's backup Jobs, `<cluster>-backup`: no permissions in
/// Kubernetes; its tokens are what OpenBao's `backup` role is bound to.
pub fn backup_service_account(cluster: &ValidatedCluster) -> ServiceAccount {
    ServiceAccount {
        metadata: object_meta(cluster, backup_service_account_name(cluster)),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

/// Whether backup Jobs log in with their ServiceAccount's projected token (the default) rather
/// than a token from `spec.backup.tokenSecretRef`.
pub fn backup_uses_projected_token(cluster: &ValidatedCluster) -> bool {
    cluster
        .spec()
        .backup
        .as_ref()
        .is_some_and(|b| b.token_secret_ref.is_none())
}

/// The image of `cluster`'s backup Jobs: `spec.backup.image` (or upstream's earlier
/// `executorImage`), else `default` (the operator's own).
pub fn backup_image(cluster: &ValidatedCluster, default: &str) -> String {
    cluster
        .spec()
        .backup
        .as_ref()
        .and_then(|b| b.image.clone().or_else(|| b.executor_image.clone()))
        .unwrap_or_else(|| default.to_string())
}

/// `<cluster>-backup`.
pub fn backup_service_account_name(cluster: &ValidatedCluster) -> String {
    format!("{}-{BACKUP_ROLE}", cluster.names().cluster())
}

/// One backup run, `name`, of `cluster` with the operator's `image`; `seal_fingerprint` (the
/// static seal's, when known) is recorded in the snapshot's manifest. `None` when the cluster
/// has no `spec.backup`.
pub fn backup_job(
    cluster: &ValidatedCluster,
    name: &str,
    image: &str,
    seal_fingerprint: Option<&str>,
) -> Option<Job> {
    let backup = cluster.spec().backup.as_ref()?;
    let mut args = vec!["backup".to_string(), "save".to_string()];
    if let Some(print) = seal_fingerprint {
        args.push(format!("--seal-fingerprint={print}"));
    }
    if let Some(retention) = &backup.retention {
        if let Some(count) = retention.max_count {
            args.push(format!("--max-count={count}"));
        }
        if let Some(age) = &retention.max_age {
            args.push(format!("--max-age={age}"));
        }
    }
    Some(openbao_job(
        cluster,
        JobParts {
            component: COMPONENT_BACKUP,
            name,
            image,
            args,
            login: match &backup.token_secret_ref {
                Some(secret) => Login::Token(&secret.name),
                None => Login::Jwt(backup.jwt_auth_role.as_deref().unwrap_or(BACKUP_ROLE)),
            },
            account: backup_service_account_name(cluster),
            target: &backup.target,
            owner: None,
        },
    ))
}

/// Whether the restore Job of `restore` logs in with its ServiceAccount's projected token
/// rather than a token from `spec.tokenSecretRef`.
pub fn restore_uses_projected_token(restore: &OpenBaoRestore) -> bool {
    restore.spec.token_secret_ref.is_none()
}

/// `<cluster>-restore`.
pub fn restore_service_account_name(cluster: &ValidatedCluster) -> String {
    format!("{}-{RESTORE_ROLE}", cluster.names().cluster())
}

/// The ServiceAccount of the cluster's restore Jobs, `<cluster>-restore`: no permissions in
/// Kubernetes; its tokens are what OpenBao's `restore` role is bound to.
pub fn restore_service_account(cluster: &ValidatedCluster) -> ServiceAccount {
    ServiceAccount {
        metadata: object_meta(cluster, restore_service_account_name(cluster)),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

/// The Job that restores `restore`'s snapshot into `cluster`, `name`, from `image`: owned by
/// the OpenBaoRestore. It checks the snapshot (its manifest, `expectedDigest` /
/// `expectedSize`, and that it was sealed with the cluster's `seal_fingerprint` when both are
/// known) before OpenBao is touched.
pub fn restore_job(
    cluster: &ValidatedCluster,
    restore: &OpenBaoRestore,
    name: &str,
    image: &str,
    seal_fingerprint: Option<&str>,
) -> Job {
    let source = &restore.spec.source;
    let mut args = vec![
        "backup".to_string(),
        "restore".to_string(),
        format!("--key={}", source.key),
    ];
    if restore.spec.force {
        args.push("--force".to_string());
    }
    if let Some(digest) = &source.expected_digest {
        args.push(format!(
            "--expected-sha256={}",
            digest.trim_start_matches("sha256:")
        ));
    }
    if let Some(size) = source.expected_size {
        args.push(format!("--expected-size={size}"));
    }
    if let Some(print) = seal_fingerprint {
        args.push(format!("--expected-seal-fingerprint={print}"));
    }
    openbao_job(
        cluster,
        JobParts {
            component: COMPONENT_RESTORE,
            name,
            image,
            args,
            login: match &restore.spec.token_secret_ref {
                Some(secret) => Login::Token(&secret.name),
                None => Login::Jwt(
                    restore
                        .spec
                        .jwt_auth_role
                        .as_deref()
                        .unwrap_or(RESTORE_ROLE),
                ),
            },
            account: restore_service_account_name(cluster),
            target: &source.target,
            owner: restore.controller_owner_ref(&()),
        },
    )
}

/// How a Job logs in to OpenBao.
enum Login<'a> {
    /// A token from this Secret (key `token`): upstream's fallback.
    Token(&'a str),
    /// The pod's projected ServiceAccount token at the operator's JWT mount, under this role.
    Jwt(&'a str),
}

/// What differs between the operator's Jobs.
struct JobParts<'a> {
    component: &'a str,
    name: &'a str,
    image: &'a str,
    /// The subcommand and its own flags; the connection flags are added.
    args: Vec<String>,
    login: Login<'a>,
    account: String,
    target: &'a api::spec::BackupTarget,
    /// The controller owner (the cluster when `None`).
    owner: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
}

/// One run of an `openbao-operator backup` subcommand against `cluster`: a pod labelled
/// `openbao.org/component=<component>` (selected by `<cluster>-jobs-network-policy`, never by
/// the server policy), the cluster's CA certificate and the store's credentials mounted
/// read-only, a termination message, a deadline and no retry.
fn openbao_job(cluster: &ValidatedCluster, parts: JobParts<'_>) -> Job {
    let names = cluster.names();
    let namespace = cluster.namespace();
    let labels = names.job_labels(parts.component);
    let mut args = parts.args;
    args.extend([
        format!(
            "--openbao=https://{}.{namespace}.svc:{}",
            names.client_service(),
            api::names::API_PORT
        ),
        format!("--ca-file={CA_DIR}/ca.crt"),
        format!("--cluster={namespace}/{}", names.cluster()),
        format!("--termination-log={TERMINATION_LOG}"),
    ]);
    let (login, token_dir) = match parts.login {
        Login::Token(secret) => {
            args.push(format!("--token-file={TOKEN_SECRET_DIR}/token"));
            let volume = Volume {
                name: "openbao-token".to_string(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.to_string()),
                    items: Some(vec![KeyToPath {
                        key: "token".to_string(),
                        path: "token".to_string(),
                        mode: Some(0o440),
                        ..KeyToPath::default()
                    }]),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            };
            (volume, TOKEN_SECRET_DIR)
        }
        Login::Jwt(role) => {
            args.push(format!("--jwt-file={TOKEN_DIR}/token"));
            args.push(format!("--role={role}"));
            args.push(format!("--auth-mount={AUTH_MOUNT}"));
            (projected_token_volume(), TOKEN_DIR)
        }
    };
    let mut volumes = vec![
        login,
        Volume {
            name: "ca".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(tls_secret_name(cluster)),
                // The CA certificate only: never the server's key.
                items: Some(vec![KeyToPath {
                    key: "ca.crt".to_string(),
                    path: "ca.crt".to_string(),
                    mode: Some(0o444),
                    ..KeyToPath::default()
                }]),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![mount("openbao-token", token_dir), mount("ca", CA_DIR)];
    if let Some(secret) = &parts.target.credentials_secret_ref {
        args.push(format!("--credentials-dir={CREDENTIALS_DIR}"));
        volumes.push(Volume {
            name: "credentials".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.name.clone()),
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(mount("credentials", CREDENTIALS_DIR));
    }
    let target = serde_json::to_string(parts.target).unwrap_or_default();
    let pod = PodSpec {
        service_account_name: Some(parts.account),
        automount_service_account_token: Some(false),
        restart_policy: Some("Never".to_string()),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(65532),
            run_as_group: Some(65532),
            fs_group: Some(65532),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_string(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        }),
        image_pull_secrets: Some(cluster.spec().image_pull_secrets.clone())
            .filter(|s| !s.is_empty()),
        containers: vec![Container {
            name: parts.component.to_string(),
            image: Some(parts.image.to_string()),
            image_pull_policy: Some("IfNotPresent".to_string()),
            command: Some(vec!["openbao-operator".to_string()]),
            args: Some(args),
            env: Some(vec![EnvVar {
                name: TARGET_ENV.to_string(),
                value: Some(target),
                ..EnvVar::default()
            }]),
            volume_mounts: Some(mounts),
            termination_message_path: Some(TERMINATION_LOG.to_string()),
            termination_message_policy: Some("FallbackToLogsOnError".to_string()),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                read_only_root_filesystem: Some(true),
                run_as_non_root: Some(true),
                privileged: Some(false),
                capabilities: Some(Capabilities {
                    drop: Some(vec!["ALL".to_string()]),
                    add: None,
                }),
                ..SecurityContext::default()
            }),
            ..Container::default()
        }],
        volumes: Some(volumes),
        ..PodSpec::default()
    };
    let mut metadata = ObjectMeta {
        labels: Some(labels.clone()),
        ..object_meta(cluster, parts.name.to_string())
    };
    if let Some(owner) = parts.owner {
        metadata.owner_references = Some(vec![owner]);
    }
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(DEADLINE_SECONDS),
            ttl_seconds_after_finished: Some(86_400),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// The Job's ServiceAccount token for OpenBao: audience `openbao-internal`, ten minutes.
fn projected_token_volume() -> Volume {
    Volume {
        name: "openbao-token".to_string(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![VolumeProjection {
                service_account_token: Some(ServiceAccountTokenProjection {
                    audience: Some(AUDIENCE.to_string()),
                    expiration_seconds: Some(TOKEN_SECONDS),
                    path: "token".to_string(),
                    ..ServiceAccountTokenProjection::default()
                }),
                ..VolumeProjection::default()
            }]),
            ..ProjectedVolumeSource::default()
        }),
        ..Volume::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

/// The labels a backup Job's pods carry (for tests and watchers).
pub fn backup_pod_labels(cluster: &ValidatedCluster) -> BTreeMap<String, String> {
    cluster.names().job_labels(COMPONENT_BACKUP)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(backup: &str) -> ValidatedCluster {
        let manifest = format!(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: bao, namespace: ns}}\nspec:\n  version: \"2.7.2\"\n{backup}"
        );
        ValidatedCluster::new(serde_yaml::from_str(&manifest).expect("manifest")).expect("valid")
    }

    #[test]
    fn a_backup_job_runs_once_under_its_own_account_with_the_job_labels_and_no_server_key() {
        let c = cluster(
            "  backup:\n    schedule: \"0 3 * * *\"\n    target: {endpoint: \"https://s3.example.com\", bucket: snapshots, credentialsSecretRef: {name: s3}}\n    retention: {maxCount: 7, maxAge: 720h}\n",
        );
        let job = backup_job(
            &c,
            "bao-backup-1",
            "ghcr.io/openbao-operator/openbao-operator:0.1.0",
            Some("static:00112233445566778899aabbccddeeff"),
        )
        .expect("a job");
        let spec = job.spec.expect("spec");
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.active_deadline_seconds, Some(DEADLINE_SECONDS));
        let template_labels = spec
            .template
            .metadata
            .and_then(|m| m.labels)
            .expect("labels");
        assert_eq!(
            template_labels
                .get("openbao.org/component")
                .map(String::as_str),
            Some("backup")
        );
        assert!(
            !template_labels.contains_key("app.kubernetes.io/component"),
            "never a server pod"
        );
        let pod = spec.template.spec.expect("pod");
        assert_eq!(pod.service_account_name.as_deref(), Some("bao-backup"));
        assert_eq!(pod.automount_service_account_token, Some(false));
        let args = pod.containers[0].args.clone().expect("args");
        for expected in [
            "--openbao=https://bao.ns.svc:8200",
            "--role=backup",
            "--cluster=ns/bao",
            "--max-count=7",
            "--max-age=720h",
            "--credentials-dir=/etc/openbao/backup-credentials",
            "--seal-fingerprint=static:00112233445566778899aabbccddeeff",
        ] {
            assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
        }
        let ca = pod
            .volumes
            .expect("volumes")
            .into_iter()
            .find(|v| v.name == "ca")
            .and_then(|v| v.secret)
            .expect("the CA volume");
        assert_eq!(
            ca.items
                .expect("items")
                .iter()
                .map(|i| i.key.as_str())
                .collect::<Vec<_>>(),
            ["ca.crt"]
        );
        assert!(backup_job(&cluster(""), "x", "img", None).is_none());
    }
    #[test]
    fn backup_and_restore_job_pods_fall_under_the_jobs_policy_and_never_the_server_policy() {
        use crate::desired::{Facts, network_policy};
        let c = cluster(
            "  backup:\n    schedule: \"0 3 * * *\"\n    target: {endpoint: \"https://s3.example.com\", bucket: snapshots}\n",
        );
        let restore: OpenBaoRestore = serde_json::from_value(serde_json::json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoRestore",
            "metadata": {"name": "r", "namespace": "ns", "uid": "u"},
            "spec": {"cluster": "bao", "source": {
                "target": {"endpoint": "https://s3.example.com", "bucket": "snapshots"},
                "key": "ns/bao/20261202T090507Z.snap"}}
        }))
        .expect("restore");
        let facts = Facts::new("ops".to_string(), None);
        let server = network_policy::cluster_policy(&c, &facts, Some("10.96.0.1/32"));
        let jobs = network_policy::jobs_policy(&c, Some("10.96.0.1/32"));
        let selects = |policy: &k8s_openapi::api::networking::v1::NetworkPolicy,
                       labels: &BTreeMap<String, String>| {
            let selector = policy
                .spec
                .as_ref()
                .and_then(|s| s.pod_selector.clone())
                .unwrap_or_default();
            netpol::label_selector_matches(&selector, labels, "podSelector").expect("valid")
        };
        for job in [
            backup_job(&c, "bao-backup-1", "img", None).expect("backup job"),
            restore_job(&c, &restore, "bao-restore-1", "img", None),
        ] {
            let labels = job
                .spec
                .and_then(|s| s.template.metadata)
                .and_then(|m| m.labels)
                .expect("pod labels");
            assert!(selects(&jobs, &labels), "{labels:?}");
            assert!(!selects(&server, &labels), "{labels:?}");
        }
        // No ingress at all to Job pods.
        assert_eq!(
            jobs.spec.as_ref().and_then(|s| s.ingress.clone()),
            Some(Vec::new())
        );
    }

    #[test]
    fn a_restore_job_restores_the_named_key_under_its_own_account_and_pins_the_digest() {
        let c = cluster(
            "  backup:\n    schedule: \"0 3 * * *\"\n    target: {endpoint: \"https://s3.example.com\", bucket: snapshots}\n",
        );
        let restore: OpenBaoRestore = serde_json::from_value(serde_json::json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoRestore",
            "metadata": {"name": "r", "namespace": "ns", "uid": "u"},
            "spec": {"cluster": "bao", "force": true, "source": {
                "target": {"endpoint": "https://s3.example.com", "bucket": "snapshots",
                           "credentialsSecretRef": {"name": "s3"}},
                "key": "ns/bao/20261202T090507Z.snap",
                "expectedDigest": format!("sha256:{}", "ab".repeat(32)),
                "expectedSize": 4096}}
        }))
        .expect("restore");
        let job = restore_job(&c, &restore, "bao-restore-1", "img", Some("static:ff"));
        let owner = job
            .metadata
            .owner_references
            .clone()
            .and_then(|o| o.into_iter().next())
            .expect("owner");
        assert_eq!(owner.kind, "OpenBaoRestore");
        let pod = job.spec.and_then(|s| s.template.spec).expect("pod");
        assert_eq!(pod.service_account_name.as_deref(), Some("bao-restore"));
        let args = pod.containers[0].args.clone().expect("args");
        for expected in [
            "restore".to_string(),
            "--key=ns/bao/20261202T090507Z.snap".to_string(),
            "--force".to_string(),
            format!("--expected-sha256={}", "ab".repeat(32)),
            "--expected-size=4096".to_string(),
            "--expected-seal-fingerprint=static:ff".to_string(),
            "--role=restore".to_string(),
            "--credentials-dir=/etc/openbao/backup-credentials".to_string(),
        ] {
            assert!(args.contains(&expected), "{expected} in {args:?}");
        }
    }
}
