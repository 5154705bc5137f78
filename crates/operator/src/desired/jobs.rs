//! Backup Jobs, built purely: one run of `openbao-operator backup save` in a pod labelled
//! `openbao.org/component=backup` (selected by `<cluster>-jobs-network-policy`, never by the
//! server policy), under the ServiceAccount `<cluster>-backup` whose projected, audience-bound
//! token logs in to the `backup` role (see `crate::identity`), with the cluster's CA and the
//! store's credentials mounted read-only, and a deadline.

use std::collections::BTreeMap;

use api::names::COMPONENT_BACKUP;
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

use super::{ValidatedCluster, meta::object_meta, statefulset::tls_secret_name};
use crate::identity::{AUDIENCE, AUTH_MOUNT, BACKUP_ROLE};

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

/// One backup run, `name`, of `cluster` with the operator's `image`. `None` when the cluster
/// has no `spec.backup`.
pub fn backup_job(cluster: &ValidatedCluster, name: &str, image: &str) -> Option<Job> {
    let backup = cluster.spec().backup.as_ref()?;
    let names = cluster.names();
    let namespace = cluster.namespace();
    let labels = names.job_labels(COMPONENT_BACKUP);
    let mut args = vec![
        "backup".to_string(),
        "save".to_string(),
        format!(
            "--openbao=https://{}.{namespace}.svc:{}",
            names.client_service(),
            api::names::API_PORT
        ),
        format!("--ca-file={CA_DIR}/ca.crt"),
        format!("--cluster={namespace}/{}", names.cluster()),
        format!("--termination-log={TERMINATION_LOG}"),
    ];
    if let Some(retention) = &backup.retention {
        if let Some(count) = retention.max_count {
            args.push(format!("--max-count={count}"));
        }
        if let Some(age) = &retention.max_age {
            args.push(format!("--max-age={age}"));
        }
    }
    // How the Job logs in: a token from tokenSecretRef (upstream's fallback), or its projected
    // ServiceAccount token at the operator's JWT mount, under jwtAuthRole or the `backup` role
    // the operator wrote.
    let login = match &backup.token_secret_ref {
        Some(secret) => {
            args.push(format!("--token-file={TOKEN_SECRET_DIR}/token"));
            Volume {
                name: "openbao-token".to_string(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.name.clone()),
                    items: Some(vec![KeyToPath {
                        key: "token".to_string(),
                        path: "token".to_string(),
                        mode: Some(0o440),
                        ..KeyToPath::default()
                    }]),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            }
        }
        None => {
            args.push(format!("--jwt-file={TOKEN_DIR}/token"));
            args.push(format!(
                "--role={}",
                backup.jwt_auth_role.as_deref().unwrap_or(BACKUP_ROLE)
            ));
            args.push(format!("--auth-mount={AUTH_MOUNT}"));
            projected_token_volume()
        }
    };
    let token_dir = if backup.token_secret_ref.is_some() {
        TOKEN_SECRET_DIR
    } else {
        TOKEN_DIR
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
    if let Some(secret) = &backup.target.credentials_secret_ref {
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
    let target = serde_json::to_string(&backup.target).unwrap_or_default();
    let pod = PodSpec {
        service_account_name: Some(backup_service_account_name(cluster)),
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
            name: COMPONENT_BACKUP.to_string(),
            image: Some(image.to_string()),
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
    Some(Job {
        metadata: ObjectMeta {
            labels: Some(labels.clone()),
            ..object_meta(cluster, name.to_string())
        },
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
    })
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
        assert!(backup_job(&cluster(""), "x", "img").is_none());
    }
}
