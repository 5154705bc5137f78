//! The OpenBao StatefulSet: Raft members with stable names and volumes, a restricted security
//! context, health probes against `/v1/sys/health`, and a config hash that rolls pods when the
//! rendered configuration changes.

use std::collections::BTreeMap;

use api::{TlsMode, UnsealType, names};
use k8s_openapi::{
    api::{
        apps::v1::{
            StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
            StatefulSetUpdateStrategy,
        },
        core::v1::{
            Affinity, Capabilities, ConfigMapVolumeSource, Container, EmptyDirVolumeSource,
            EnvFromSource, EnvVar, HTTPGetAction, KeyToPath, PersistentVolumeClaim,
            PersistentVolumeClaimSpec, PodAffinityTerm, PodAntiAffinity, PodSecurityContext,
            PodSpec, PodTemplateSpec, Probe, SeccompProfile, SecretEnvSource, SecretVolumeSource,
            SecurityContext, Volume, VolumeMount, VolumeResourceRequirements,
            WeightedPodAffinityTerm,
        },
    },
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{LabelSelector, ObjectMeta},
        util::intstr::IntOrString,
    },
};

use super::{
    ValidatedCluster,
    config_hcl::{
        self, CONFIG_DIR, CONFIG_FILE, DATA_DIR, SEAL_CREDENTIALS_DIR, TLS_DIR, UNSEAL_DIR,
        UNSEAL_KEY_FILE,
    },
    meta::{container_port, field_env, match_labels, object_meta},
};

/// Name of the OpenBao container.
pub const CONTAINER: &str = "openbao";
/// Name of the data volume claim template (PVCs are `data-<pod>`).
pub const DATA_VOLUME: &str = "data";
/// UID of the `openbao` user in the official image.
pub const RUN_AS_USER: i64 = 100;
/// GID of the `openbao` group in the official image; also the volumes' fsGroup.
pub const RUN_AS_GROUP: i64 = 1000;

/// The StatefulSet for `cluster`, with `config` (the rendered config.hcl) hashed into the pod
/// template so a configuration change rolls the pods.
pub fn statefulset(cluster: &ValidatedCluster, config: &str) -> StatefulSet {
    let spec = cluster.spec();
    let names = cluster.names();
    let mut annotations = BTreeMap::new();
    annotations.insert(
        names::ANNOTATION_CONFIG_HASH.to_string(),
        config_hcl::config_hash(&format!("{config}\n{}", tls_secret_name(cluster))),
    );

    StatefulSet {
        metadata: object_meta(cluster, names.statefulset()),
        spec: StatefulSetSpec {
            replicas: Some(spec.replicas),
            service_name: Some(names.headless_service()),
            pod_management_policy: Some("Parallel".to_string()),
            selector: match_labels(names.server_selector_labels()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: None,
            }),
            // Deletion of claims is the operator's decision (spec.deletionPolicy), never the
            // StatefulSet controller's: scaling down must not destroy a Raft member's data.
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".to_string()),
                    when_scaled: Some("Retain".to_string()),
                },
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(names.server_pod_labels()),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(cluster)),
            },
            volume_claim_templates: Some(vec![data_claim(cluster)]),
            ..StatefulSetSpec::default()
        },
        status: None,
    }
}

/// The Secret mounted at `TLS_DIR`.
pub fn tls_secret_name(cluster: &ValidatedCluster) -> String {
    let tls = &cluster.spec().tls;
    match (tls.mode, &tls.external_secret_name) {
        (TlsMode::External, Some(name)) => name.clone(),
        _ => cluster.names().server_tls_secret(),
    }
}

fn pod_spec(cluster: &ValidatedCluster) -> PodSpec {
    let names = cluster.names();
    let unseal = &cluster.spec().unseal;
    let mut volumes = vec![
        Volume {
            name: "config".to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: names.config_map(),
                items: Some(vec![key_to_path(CONFIG_FILE, 0o444)]),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tls".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(tls_secret_name(cluster)),
                items: Some(vec![
                    key_to_path("tls.crt", 0o444),
                    key_to_path("tls.key", 0o440),
                    key_to_path("ca.crt", 0o444),
                ]),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tmp".to_string(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".to_string()),
                mode: None,
                size_limit: Some(Quantity("64Mi".to_string())),
            }),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![
        mount("config", CONFIG_DIR),
        mount("tls", TLS_DIR),
        VolumeMount {
            name: "tmp".to_string(),
            mount_path: "/tmp".to_string(),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: DATA_VOLUME.to_string(),
            mount_path: DATA_DIR.to_string(),
            ..VolumeMount::default()
        },
    ];
    if unseal.type_ == UnsealType::Static {
        volumes.push(Volume {
            name: "unseal-key".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(names.unseal_key_secret()),
                items: Some(vec![key_to_path(UNSEAL_KEY_FILE, 0o440)]),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(mount("unseal-key", UNSEAL_DIR));
    }
    let mut env_from = Vec::new();
    if let Some(credentials) = &unseal.credentials_secret_ref {
        volumes.push(Volume {
            name: "seal-credentials".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(credentials.name.clone()),
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(mount("seal-credentials", SEAL_CREDENTIALS_DIR));
        env_from.push(EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: credentials.name.clone(),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        });
    }

    PodSpec {
        service_account_name: Some(names.service_account()),
        // OpenBao's Kubernetes service registration and peer discovery use this token.
        automount_service_account_token: Some(true),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(30),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS_USER),
            run_as_group: Some(RUN_AS_GROUP),
            fs_group: Some(RUN_AS_GROUP),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_string(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        }),
        affinity: Some(spread_across_nodes(cluster)),
        containers: vec![container(cluster, mounts, env_from)],
        volumes: Some(volumes),
        ..PodSpec::default()
    }
}

fn container(
    cluster: &ValidatedCluster,
    mounts: Vec<VolumeMount>,
    env_from: Vec<EnvFromSource>,
) -> Container {
    let names = cluster.names();
    let pod_dns = format!(
        "$(BAO_K8S_POD_NAME).{}.{}.svc",
        names.headless_service(),
        cluster.namespace()
    );
    let env = vec![
        field_env("BAO_K8S_POD_NAME", "metadata.name"),
        field_env("BAO_K8S_NAMESPACE", "metadata.namespace"),
        value_env(
            "BAO_API_ADDR",
            format!("https://{pod_dns}:{}", names::API_PORT),
        ),
        value_env(
            "BAO_CLUSTER_ADDR",
            format!("https://{pod_dns}:{}", names::CLUSTER_PORT),
        ),
        value_env("BAO_RAFT_NODE_ID", "$(BAO_K8S_POD_NAME)".to_string()),
        // For `bao` CLI use inside the pod (exec, debugging).
        value_env("BAO_ADDR", format!("https://127.0.0.1:{}", names::API_PORT)),
        value_env("BAO_CACERT", format!("{TLS_DIR}/ca.crt")),
        // The root filesystem is read-only and the image's entrypoint is bypassed.
        value_env("HOME", "/tmp".to_string()),
        value_env("SKIP_SETCAP", "true".to_string()),
    ];
    Container {
        name: CONTAINER.to_string(),
        image: Some(cluster.spec().image()),
        image_pull_policy: Some("IfNotPresent".to_string()),
        command: Some(vec![
            "bao".to_string(),
            "server".to_string(),
            format!("-config={CONFIG_DIR}/{CONFIG_FILE}"),
        ]),
        env: Some(env),
        env_from: if env_from.is_empty() {
            None
        } else {
            Some(env_from)
        },
        ports: Some(vec![
            container_port("api", names::API_PORT),
            container_port("cluster", names::CLUSTER_PORT),
        ]),
        // Ready = initialized, unsealed, and active or standby: only such pods serve and only
        // such pods are offered as join targets by go-discover.
        // Probed every 2 s: readiness gates go-discover's join targets and the Service's
        // endpoints, so a slow probe adds directly to how long a new cluster takes to form.
        readiness_probe: Some(health_probe(
            "/v1/sys/health?standbyok=true&perfstandbyok=true",
            2,
            3,
        )),
        // Alive = the process answers at all, whatever its seal or init state: restarting a
        // sealed or uninitialized server would not help.
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(30),
            ..health_probe(
                "/v1/sys/health?standbyok=true&perfstandbyok=true&uninitcode=204&sealedcode=204",
                10,
                6,
            )
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            privileged: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_string()]),
                add: None,
            }),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_string(),
                localhost_profile: None,
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

fn health_probe(path: &str, period: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::Int(names::API_PORT),
            scheme: Some("HTTPS".to_string()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(3),
        failure_threshold: Some(failure_threshold),
        ..Probe::default()
    }
}

fn spread_across_nodes(cluster: &ValidatedCluster) -> Affinity {
    // Preferred, not required: a single-node development cluster must still schedule.
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(cluster.names().server_selector_labels()),
                            match_expressions: None,
                        }),
                        topology_key: "kubernetes.io/hostname".to_string(),
                        ..PodAffinityTerm::default()
                    },
                },
            ]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

fn data_claim(cluster: &ValidatedCluster) -> PersistentVolumeClaim {
    let storage = &cluster.spec().storage;
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.to_string()),
            labels: Some(cluster.names().labels()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_string()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(storage.size.clone()),
                )])),
                limits: None,
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

/// Secret and ConfigMap files are owned by root with group `fsGroup`; keys are group-readable
/// (0440) so the non-root `openbao` user (in that group) can read them and nobody else can.
fn key_to_path(key: &str, mode: i32) -> KeyToPath {
    KeyToPath {
        key: key.to_string(),
        path: key.to_string(),
        mode: Some(mode),
        user: None,
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

fn value_env(name: &str, value: String) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value),
        value_from: None,
    }
}
