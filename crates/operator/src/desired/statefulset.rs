//! The OpenBao StatefulSet: Raft members with stable names and volumes, a restricted security
//! context, health probes against `/v1/sys/health`, and a config hash that rolls pods when the
//! rendered configuration changes. The user's pod settings (pull secrets, resources, pod
//! security context, extra labels and annotations, maintenance and restart requests) are layered
//! under the operator's own: an operator label or annotation always wins.

use std::collections::BTreeMap;

use api::{
    AcmeTrust, SharedVolumeMode, TlsMode, UnsealType,
    names::{self, paths},
};
use k8s_openapi::{
    api::{
        apps::v1::{
            StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
            StatefulSetUpdateStrategy,
        },
        core::v1::{
            Affinity, AppArmorProfile, Capabilities, ConfigMapVolumeSource, Container,
            EmptyDirVolumeSource, EnvFromSource, EnvVar, EnvVarSource, ExecAction, HTTPGetAction,
            KeyToPath, PersistentVolumeClaim, PersistentVolumeClaimSpec,
            PersistentVolumeClaimVolumeSource, PodAffinityTerm, PodAntiAffinity,
            PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ProjectedVolumeSource,
            SeccompProfile, SecretEnvSource, SecretKeySelector, SecretProjection,
            SecretVolumeSource, SecurityContext, TCPSocketAction, Volume, VolumeMount,
            VolumeProjection, VolumeResourceRequirements, WeightedPodAffinityTerm,
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
        self, CONFIG_DIR, CONFIG_FILE, DATA_DIR, PLUGIN_DIR, SEAL_CREDENTIALS_DIR, TLS_DIR,
        UNSEAL_DIR, UNSEAL_KEY_FILE,
    },
    meta::{container_port, field_env, match_labels, object_meta},
};
use crate::install::pod_label_policy::REGISTRATION_LABELS;

/// The volume of `spec.selfInit.requests[].dataFrom`'s Secrets.
const SELF_INIT_SECRETS_VOLUME: &str = "self-init-secrets";
/// Name of the OpenBao container.
pub const CONTAINER: &str = "openbao";
/// Name of the data volume claim template (PVCs are `data-<pod>`).
pub const DATA_VOLUME: &str = "data";
/// Name of the pod-local volume OCI plugins are downloaded into.
pub const PLUGIN_VOLUME: &str = "plugins";
/// Name of the `spec.auditFileStorage` volume.
pub const AUDIT_VOLUME: &str = "audit";
/// UID of the `openbao` user in the official image.
pub const RUN_AS_USER: i64 = 100;
/// GID of the `openbao` group in the official image; also the volumes' fsGroup.
pub const RUN_AS_GROUP: i64 = 1000;

/// The files of the config volume: `config.hcl`, and `self-init.json` for a cluster that
/// initializes itself.
fn config_files(cluster: &ValidatedCluster) -> Vec<KeyToPath> {
    let mut files = vec![key_to_path(CONFIG_FILE, 0o444)];
    if super::self_init::enabled(cluster) {
        files.push(key_to_path(super::self_init::SELF_INIT_FILE, 0o444));
    }
    files
}

/// `bao server` with every configuration file of [`config_files`].
fn server_command(cluster: &ValidatedCluster) -> Vec<String> {
    let mut command = vec!["bao".to_string(), "server".to_string()];
    command.extend(
        config_files(cluster)
            .iter()
            .map(|f| format!("-config={CONFIG_DIR}/{}", f.path)),
    );
    command
}

/// The StatefulSet for `cluster`, with `config` (the rendered config.hcl) hashed into the pod
/// template so a configuration change rolls the pods.
pub fn statefulset(cluster: &ValidatedCluster, config: &str) -> StatefulSet {
    let spec = cluster.spec();
    let names = cluster.names();
    let maintenance = spec.maintenance.as_ref().is_some_and(|m| m.enabled);
    let mut metadata = object_meta(cluster, names.statefulset());
    if maintenance {
        metadata.annotations = Some(BTreeMap::from([(
            names::ANNOTATION_MAINTENANCE.to_string(),
            "true".to_string(),
        )]));
    }

    StatefulSet {
        metadata,
        spec: StatefulSetSpec {
            replicas: Some(super::self_init::replicas(cluster)),
            service_name: Some(names.headless_service()),
            pod_management_policy: Some("Parallel".to_string()),
            selector: match_labels(names.server_selector_labels()),
            // The operator replaces the pods itself (crate::rollout): one at a time, each back
            // and caught up before the next, the active member last.
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".to_string()),
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
                metadata: Some(pod_metadata(cluster, config)),
                spec: Some(pod_spec(cluster)),
            },
            volume_claim_templates: Some(vec![data_claim(cluster)]),
            ..StatefulSetSpec::default()
        },
        status: None,
    }
}

/// The pod template's labels and annotations: the user's `spec.podMetadata` first, then the
/// operator's, which overwrite any user key of the same name. Validation refuses such keys; this
/// is the second line of defence, because selectors, NetworkPolicies and service registration
/// must never depend on user input.
fn pod_metadata(cluster: &ValidatedCluster, config: &str) -> ObjectMeta {
    let spec = cluster.spec();
    let user = spec.pod_metadata.clone().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = user
        .labels
        .into_iter()
        .filter(|(k, _)| !REGISTRATION_LABELS.contains(&k.as_str()))
        .collect();
    labels.extend(cluster.names().server_pod_labels());
    let mut annotations = user.annotations;
    annotations.insert(
        names::ANNOTATION_CONFIG_HASH.to_string(),
        config_hcl::config_hash(&format!("{config}\n{}", tls_secret_name(cluster))),
    );
    if spec.maintenance.as_ref().is_some_and(|m| m.enabled) {
        annotations.insert(
            names::ANNOTATION_MAINTENANCE.to_string(),
            "true".to_string(),
        );
    } else {
        annotations.remove(names::ANNOTATION_MAINTENANCE);
    }
    match spec.runtime.as_ref().and_then(|r| r.restart_at.clone()) {
        Some(at) => {
            annotations.insert(names::ANNOTATION_RESTART_AT.to_string(), at);
        }
        None => {
            annotations.remove(names::ANNOTATION_RESTART_AT);
        }
    }
    ObjectMeta {
        labels: Some(labels),
        annotations: Some(annotations),
        ..ObjectMeta::default()
    }
}

/// The Secret mounted at `TLS_DIR`.
pub fn tls_secret_name(cluster: &ValidatedCluster) -> String {
    cluster.names().tls_secret(&cluster.spec().tls)
}

fn pod_spec(cluster: &ValidatedCluster) -> PodSpec {
    let names = cluster.names();
    let mut volumes = vec![
        Volume {
            name: "config".to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: names.config_map(),
                items: Some(config_files(cluster)),
                ..ConfigMapVolumeSource::default()
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
    // Right after the configuration, where the serving Secret has always been: a pod template
    // that reorders its volumes rolls every pod.
    let tls = tls_wiring(cluster);
    volumes.splice(1..1, tls.volumes);
    mounts.splice(1..1, tls.mounts);
    let seal = seal_wiring(cluster);
    volumes.extend(seal.volumes);
    mounts.extend(seal.mounts);
    if let Some((volume, mount)) = plugin_volume(cluster) {
        volumes.push(volume);
        mounts.push(mount);
    }
    if let Some((volume, mount)) = audit_volume(cluster) {
        volumes.push(volume);
        mounts.push(mount);
    }
    if let Some((volume, mount)) = self_init_secrets_volume(cluster) {
        volumes.push(volume);
        mounts.push(mount);
    }

    PodSpec {
        service_account_name: Some(names.service_account()),
        // OpenBao's Kubernetes service registration and peer discovery use this token.
        automount_service_account_token: Some(true),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(30),
        security_context: Some(pod_security_context(cluster)),
        image_pull_secrets: Some(cluster.spec().image_pull_secrets.clone())
            .filter(|s| !s.is_empty()),
        affinity: Some(spread_across_nodes(cluster)),
        containers: vec![container(cluster, mounts, seal.env_from, seal.env)],
        volumes: Some(volumes),
        ..PodSpec::default()
    }
}

/// `spec.securityContext` or the default below; with `workloadHardening.appArmorEnabled` the
/// container runtime's default AppArmor profile, unless the user's context names a profile.
fn pod_security_context(cluster: &ValidatedCluster) -> PodSecurityContext {
    let spec = cluster.spec();
    let mut context = spec
        .security_context
        .as_deref()
        .cloned()
        .unwrap_or_else(default_pod_security_context);
    let app_armor = spec
        .workload_hardening
        .as_ref()
        .is_some_and(|h| h.app_armor_enabled);
    if app_armor && context.app_armor_profile.is_none() {
        context.app_armor_profile = Some(AppArmorProfile {
            type_: "RuntimeDefault".to_string(),
            localhost_profile: None,
        });
    }
    context
}

/// What the TLS mode adds to the pod: volumes and their mounts.
struct TlsWiring {
    volumes: Vec<Volume>,
    mounts: Vec<VolumeMount>,
}

/// OperatorManaged and External mount the serving Secret at `TLS_DIR`. ACME mounts no serving
/// certificate (OpenBao obtains it): a private ACME CA's root from `tls.acme.caSecretName` at
/// `ACME_CA_DIR`, and the shared ACME cache claim, when set.
fn tls_wiring(cluster: &ValidatedCluster) -> TlsWiring {
    let spec = cluster.spec();
    let mut wiring = TlsWiring {
        volumes: Vec::new(),
        mounts: Vec::new(),
    };
    let Some(acme) = spec
        .tls
        .acme
        .as_ref()
        .filter(|_| spec.tls.mode == TlsMode::Acme)
    else {
        wiring.volumes.push(Volume {
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
        });
        wiring.mounts.push(mount("tls", TLS_DIR));
        return wiring;
    };
    if let Some(secret) = &acme.ca_secret_name {
        wiring.volumes.push(Volume {
            name: "acme-ca".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                items: Some(vec![key_to_path(names::secret_keys::CA_CERT, 0o444)]),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        wiring.mounts.push(mount("acme-ca", paths::ACME_CA_DIR));
    }
    if let Some(claim) = acme.shared_cache.as_ref().and_then(|c| match c.mode {
        SharedVolumeMode::ManagedPVC => Some(cluster.names().acme_cache_claim()),
        SharedVolumeMode::ExistingPVC => c.existing_claim_name.clone(),
    }) {
        wiring.volumes.push(Volume {
            name: "acme-cache".to_string(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim,
                // Unset, not `false`: the API server drops a false `readOnly`, and a field it
                // drops would read as drift and rewrite the StatefulSet on every pass.
                read_only: None,
            }),
            ..Volume::default()
        });
        wiring.mounts.push(VolumeMount {
            name: "acme-cache".to_string(),
            mount_path: paths::ACME_SHARED_CACHE_DIR.to_string(),
            ..VolumeMount::default()
        });
    }
    wiring
}

/// The pod security context when `spec.securityContext` is unset: the official image's
/// `openbao` user and group, non-root, RuntimeDefault seccomp.
fn default_pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_GROUP),
        fs_group: Some(RUN_AS_GROUP),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..PodSecurityContext::default()
    }
}

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_string(),
        localhost_profile: None,
    }
}

/// The OpenBao container's security context. Read-only root filesystem, no privilege
/// escalation, no privileges and no capabilities whatever the spec says. Non-root and the
/// RuntimeDefault seccomp profile are enforced here too unless the user's pod security context
/// chooses otherwise explicitly (`runAsNonRoot: false`, or a seccomp profile): a container
/// setting would silently override the pod's, so it steps aside for an explicit choice.
fn container_security_context(cluster: &ValidatedCluster) -> SecurityContext {
    let pod = cluster.spec().security_context.as_ref();
    let chooses_root = pod.is_some_and(|p| p.run_as_non_root == Some(false));
    let chooses_seccomp = pod.is_some_and(|p| p.seccomp_profile.is_some());
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: (!chooses_root).then_some(true),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_string()]),
            add: None,
        }),
        seccomp_profile: (!chooses_seccomp).then(runtime_default_seccomp),
        ..SecurityContext::default()
    }
}

fn container(
    cluster: &ValidatedCluster,
    mounts: Vec<VolumeMount>,
    env_from: Vec<EnvFromSource>,
    seal_env: Vec<EnvVar>,
) -> Container {
    let names = cluster.names();
    let pod_dns = format!(
        "$(BAO_K8S_POD_NAME).{}.{}.svc",
        names.headless_service(),
        cluster.namespace()
    );
    let mut env = vec![
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
    ];
    // The `bao` CLI in the pod (the ACME readiness probe, exec, debugging) verifies the local
    // listener like any client: its CA, and in ACME mode the ACME domain as server name (the
    // listener obtains and serves certificates only for those names).
    match spec_acme_trust(cluster) {
        None => env.push(value_env("BAO_CACERT", format!("{TLS_DIR}/ca.crt"))),
        Some(trust) => {
            if let AcmeTrust::Secret { file, .. } = trust {
                env.push(value_env("BAO_CACERT", file));
            }
            env.push(value_env(
                "BAO_TLS_SERVER_NAME",
                config_hcl::acme_server_name(cluster.spec()),
            ));
        }
    }
    env.extend([
        // The root filesystem is read-only and the image's entrypoint is bypassed.
        value_env("HOME", "/tmp".to_string()),
        value_env("SKIP_SETCAP", "true".to_string()),
    ]);
    env.extend(seal_env);
    let acme = spec_acme_trust(cluster).is_some();
    Container {
        name: CONTAINER.to_string(),
        image: Some(cluster.spec().image()),
        image_pull_policy: Some("IfNotPresent".to_string()),
        command: Some(server_command(cluster)),
        // A failed self-initialization is only in OpenBao's log: the last lines become the
        // termination message, where the operator reads which request failed.
        termination_message_policy: Some("FallbackToLogsOnError".to_string()),
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
        readiness_probe: Some(if acme {
            acme_readiness_probe()
        } else {
            health_probe("/v1/sys/health?standbyok=true&perfstandbyok=true", 2, 3)
        }),
        // Alive = the process answers at all, whatever its seal or init state: restarting a
        // sealed or uninitialized server would not help.
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(30),
            ..if acme {
                Probe {
                    tcp_socket: Some(TCPSocketAction {
                        port: IntOrString::Int(names::API_PORT),
                        host: None,
                    }),
                    period_seconds: Some(10),
                    timeout_seconds: Some(3),
                    failure_threshold: Some(6),
                    ..Probe::default()
                }
            } else {
                health_probe(
                    "/v1/sys/health?standbyok=true&perfstandbyok=true&uninitcode=204&sealedcode=204",
                    10,
                    6,
                )
            }
        }),
        security_context: Some(container_security_context(cluster)),
        resources: cluster.spec().resources.as_deref().cloned(),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

/// What the seal adds to the pod: the key or credentials volume, its mount, and environment.
struct SealWiring {
    volumes: Vec<Volume>,
    mounts: Vec<VolumeMount>,
    env_from: Vec<EnvFromSource>,
    env: Vec<EnvVar>,
}

/// Well-known keys of the credentials Secret that OpenBao reads under another environment
/// variable name, by seal type: `(Secret key, variable)`. Keys that already are the variable's
/// name (AWS_ACCESS_KEY_ID, AZURE_CLIENT_SECRET, ...) arrive through `envFrom`.
///
/// - transit `token` -> VAULT_TOKEN: the transit seal's token variable in OpenBao's
///   documentation (configuration/seal/transit); OpenBao's API client reads BAO_TOKEN first and
///   falls back to VAULT_TOKEN, and BAO_TOKEN is left alone because the `bao` CLI in the pod
///   would use it against the local server.
/// - pkcs11 `pin` -> BAO_HSM_PIN: the PKCS#11 seal's PIN variable (configuration/seal/pkcs11).
pub const SEAL_SECRET_ENV: [(UnsealType, &str, &str); 2] = [
    (UnsealType::Transit, "token", "VAULT_TOKEN"),
    (UnsealType::Pkcs11, "pin", "BAO_HSM_PIN"),
];

/// The static seal mounts its key Secret (the operator's `<cluster>-unseal-key`, or the user's
/// credentials Secret, entry `key`) at `UNSEAL_DIR`. Every other seal mounts the credentials
/// Secret, if any, at `SEAL_CREDENTIALS_DIR` and exposes it as environment variables: the whole
/// Secret through `envFrom` (keys that are variable names), plus the well-known keys of
/// [`SEAL_SECRET_ENV`] under the names OpenBao reads, optional so a Secret without them still
/// starts the pod.
fn seal_wiring(cluster: &ValidatedCluster) -> SealWiring {
    let unseal = &cluster.spec().unseal;
    let mut wiring = SealWiring {
        volumes: Vec::new(),
        mounts: Vec::new(),
        env_from: Vec::new(),
        env: Vec::new(),
    };
    if unseal.type_ == UnsealType::Static {
        let secret = super::seal_hcl::unseal_key_secret_name(cluster);
        wiring.volumes.push(Volume {
            name: "unseal-key".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret),
                items: Some(vec![key_to_path(UNSEAL_KEY_FILE, 0o440)]),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        wiring.mounts.push(mount("unseal-key", UNSEAL_DIR));
        return wiring;
    }
    let Some(credentials) = &unseal.credentials_secret_ref else {
        return wiring;
    };
    wiring.volumes.push(Volume {
        name: "seal-creds".to_string(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(credentials.name.clone()),
            default_mode: Some(0o440),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    });
    wiring
        .mounts
        .push(mount("seal-creds", SEAL_CREDENTIALS_DIR));
    wiring.env_from.push(EnvFromSource {
        secret_ref: Some(SecretEnvSource {
            name: credentials.name.clone(),
            optional: Some(false),
        }),
        ..EnvFromSource::default()
    });
    for (_, key, variable) in SEAL_SECRET_ENV
        .iter()
        .filter(|(t, _, _)| *t == unseal.type_)
    {
        wiring.env.push(EnvVar {
            name: variable.to_string(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: credentials.name.clone(),
                    key: key.to_string(),
                    optional: Some(true),
                }),
                ..EnvVarSource::default()
            }),
        });
    }
    if let Some(runtime) = unseal
        .pkcs11
        .as_ref()
        .and_then(|h| h.runtime.as_ref())
        .filter(|_| unseal.type_ == UnsealType::Pkcs11)
    {
        wiring
            .env
            .extend(pkcs11_runtime_env(runtime, &credentials.name));
    }
    wiring
}

/// `unseal.pkcs11.runtime` as environment: `env` entries read their key of the credentials
/// Secret, `fileEnv` entries name the key's file in the mounted Secret (libraries that want a
/// configuration file path, such as SOFTHSM2_CONF), `libraryPath` is `LD_LIBRARY_PATH`.
fn pkcs11_runtime_env(runtime: &api::Pkcs11Runtime, secret: &str) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = runtime
        .env
        .iter()
        .map(|var| EnvVar {
            name: var.name.clone(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.to_string(),
                    key: var.secret_key.clone(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
        })
        .collect();
    env.extend(runtime.file_env.iter().map(|var| EnvVar {
        name: var.name.clone(),
        value: Some(format!("{SEAL_CREDENTIALS_DIR}/{}", var.secret_key)),
        value_from: None,
    }));
    env.extend(runtime.library_path.iter().map(|path| EnvVar {
        name: "LD_LIBRARY_PATH".to_string(),
        value: Some(path.clone()),
        value_from: None,
    }));
    env
}

/// OCI plugins are downloaded at start-up into the plugin directory, which must be writable
/// while the root filesystem is read-only: a pod-local volume over /openbao/plugins (a cache,
/// refilled on each start). Without OCI plugins nothing is mounted there, so preinstalled
/// commands in the image's /openbao/plugins stay visible (validation refuses mixing both).
fn plugin_volume(cluster: &ValidatedCluster) -> Option<(Volume, VolumeMount)> {
    let spec = cluster.spec();
    if !spec.plugins.iter().any(|p| p.image.is_some()) {
        return None;
    }
    Some((
        Volume {
            name: PLUGIN_VOLUME.to_string(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: None,
                size_limit: Some(Quantity("1Gi".to_string())),
                ..EmptyDirVolumeSource::default()
            }),
            ..Volume::default()
        },
        VolumeMount {
            name: PLUGIN_VOLUME.to_string(),
            mount_path: PLUGIN_DIR.to_string(),
            ..VolumeMount::default()
        },
    ))
}

/// The Secrets of `spec.selfInit.requests[].dataFrom`, one file per key under
/// `/etc/bao/self-init/<secret>/<key>`, read-only. Optional: the operator checks they exist
/// before a cluster first starts; once it is initialized nobody reads them, and a Secret deleted
/// then must not keep a restarted pod from starting.
fn self_init_secrets_volume(cluster: &ValidatedCluster) -> Option<(Volume, VolumeMount)> {
    let secrets = super::self_init::secret_sources(cluster);
    if secrets.is_empty() {
        return None;
    }
    let mut by_secret: BTreeMap<&str, Vec<KeyToPath>> = BTreeMap::new();
    for source in &secrets {
        by_secret
            .entry(source.name.as_str())
            .or_default()
            .push(key_to_path_as(
                &source.key,
                &format!("{}/{}", source.name, source.key),
                0o440,
            ));
    }
    let sources = by_secret
        .into_iter()
        .map(|(name, items)| VolumeProjection {
            secret: Some(SecretProjection {
                name: name.to_string(),
                items: Some(items),
                optional: Some(true),
            }),
            ..VolumeProjection::default()
        })
        .collect();
    Some((
        Volume {
            name: SELF_INIT_SECRETS_VOLUME.to_string(),
            projected: Some(ProjectedVolumeSource {
                sources: Some(sources),
                ..ProjectedVolumeSource::default()
            }),
            ..Volume::default()
        },
        VolumeMount {
            name: SELF_INIT_SECRETS_VOLUME.to_string(),
            mount_path: super::self_init::SECRETS_DIR.to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
    ))
}

/// `spec.auditFileStorage`: the claim (the operator's `<cluster>-audit` or the user's),
/// writable at its mount path; each pod writes into its own sub-directory named after the pod
/// (upstream's layout), so one rendered file path serves every pod and a collector that mounts
/// the claim finds one directory per pod.
fn audit_volume(cluster: &ValidatedCluster) -> Option<(Volume, VolumeMount)> {
    let storage = cluster.spec().audit_file_storage.as_deref()?;
    let claim = match storage.mode {
        SharedVolumeMode::ManagedPVC => cluster.names().audit_claim(),
        SharedVolumeMode::ExistingPVC => storage.existing_claim_name.clone()?,
    };
    Some((
        Volume {
            name: AUDIT_VOLUME.to_string(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim,
                // Unset, not `false`: the API server drops a false `readOnly`, and a field it
                // drops would read as drift and rewrite the StatefulSet on every pass.
                read_only: None,
            }),
            ..Volume::default()
        },
        VolumeMount {
            name: AUDIT_VOLUME.to_string(),
            mount_path: audit_mount_path(cluster).unwrap_or_default(),
            sub_path_expr: Some("$(BAO_K8S_POD_NAME)".to_string()),
            ..VolumeMount::default()
        },
    ))
}

/// Where the audit volume is mounted, when there is one.
pub fn audit_mount_path(cluster: &ValidatedCluster) -> Option<String> {
    let storage = cluster.spec().audit_file_storage.as_deref()?;
    Some(
        storage
            .mount_path
            .clone()
            .unwrap_or_else(|| api::validate::AUDIT_FILE_STORAGE_MOUNT.to_string()),
    )
}

/// The operator's ReadWriteMany claim for `spec.auditFileStorage` in ManagedPVC mode. It has
/// no owner reference, like the data claims: deleting the cluster must not take the audit
/// trail with it; `spec.deletionPolicy` DeletePVCs and DeleteAll delete it (it carries the
/// cluster's labels).
pub fn audit_claim(cluster: &ValidatedCluster) -> Option<PersistentVolumeClaim> {
    let storage = cluster.spec().audit_file_storage.as_deref()?;
    managed_claim(cluster, storage, cluster.names().audit_claim())
}

/// The operator's ReadWriteMany claim for the ACME cache (`tls.acme.sharedCache` in ManagedPVC
/// mode, ACME mode only): every member reads the account and the certificates the others
/// obtained, so a challenge can be answered by whichever pod the CA reaches. Kept or deleted
/// like the audit claim.
pub fn acme_cache_claim(cluster: &ValidatedCluster) -> Option<PersistentVolumeClaim> {
    let tls = &cluster.spec().tls;
    let cache = tls
        .acme
        .as_ref()
        .filter(|_| tls.mode == TlsMode::Acme)?
        .shared_cache
        .as_ref()?;
    managed_claim(cluster, cache, cluster.names().acme_cache_claim())
}

/// A shared volume's claim when the operator manages it (ManagedPVC): ReadWriteMany, the
/// cluster's labels, no owner reference.
fn managed_claim(
    cluster: &ValidatedCluster,
    storage: &api::SharedVolume,
    name: String,
) -> Option<PersistentVolumeClaim> {
    if storage.mode != SharedVolumeMode::ManagedPVC {
        return None;
    }
    let mut metadata = object_meta(cluster, name);
    metadata.owner_references = None;
    Some(PersistentVolumeClaim {
        metadata,
        spec: Some(PersistentVolumeClaimSpec {
            // Every pod mounts it at once, on whichever node it runs.
            access_modes: Some(vec!["ReadWriteMany".to_string()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(storage.size.clone().unwrap_or_default()),
                )])),
                limits: None,
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    })
}

fn spec_acme_trust(cluster: &ValidatedCluster) -> Option<AcmeTrust> {
    cluster.spec().acme_trust()
}

/// Readiness in ACME mode. The kubelet's HTTPS probe connects by pod IP without a server name,
/// and OpenBao's ACME listener completes a handshake only for a name in `tls_acme_domains`, so
/// the probe is `bao status` in the container (exit 0: initialized, unsealed, active or
/// standby), which sends the ACME domain and verifies the certificate (`BAO_TLS_SERVER_NAME`,
/// `BAO_CACERT`). The first handshake waits for the certificate to be obtained, hence the
/// longer timeout.
fn acme_readiness_probe() -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(vec!["bao".to_string(), "status".to_string()]),
        }),
        period_seconds: Some(2),
        timeout_seconds: Some(10),
        failure_threshold: Some(3),
        ..Probe::default()
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
    key_to_path_as(key, key, mode)
}

fn key_to_path_as(key: &str, path: &str, mode: i32) -> KeyToPath {
    KeyToPath {
        key: key.to_string(),
        path: path.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(extra: &str) -> ValidatedCluster {
        cluster_at("2.7.2", extra)
    }

    /// A cluster at `version`: the cloud and HSM seals are built in only before OpenBao 2.7.
    fn cluster_at(version: &str, extra: &str) -> ValidatedCluster {
        let yaml = format!(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: bao, namespace: team}}\nspec:\n  version: \"{version}\"\n{extra}"
        );
        let cluster: api::OpenBaoCluster = serde_yaml::from_str(&yaml).expect("manifest");
        ValidatedCluster::new(cluster).expect("valid")
    }

    fn build(extra: &str) -> StatefulSet {
        statefulset(&cluster(extra), "config")
    }

    fn pod(s: &StatefulSet) -> &PodSpec {
        s.spec.template.spec.as_ref().expect("pod spec")
    }

    fn template_meta(s: &StatefulSet) -> &ObjectMeta {
        s.spec
            .template
            .metadata
            .as_ref()
            .expect("template metadata")
    }

    fn openbao(s: &StatefulSet) -> &Container {
        pod(s).containers.first().expect("container")
    }

    fn volume<'a>(s: &'a StatefulSet, name: &str) -> Option<&'a Volume> {
        pod(s).volumes.as_ref()?.iter().find(|v| v.name == name)
    }

    fn env<'a>(s: &'a StatefulSet, name: &str) -> Option<&'a EnvVar> {
        openbao(s).env.as_ref()?.iter().find(|e| e.name == name)
    }

    fn secret_of(v: &Volume) -> Option<&str> {
        v.secret.as_ref()?.secret_name.as_deref()
    }

    fn mount_of<'a>(s: &'a StatefulSet, name: &str) -> Option<&'a VolumeMount> {
        openbao(s)
            .volume_mounts
            .as_ref()?
            .iter()
            .find(|m| m.name == name)
    }

    #[test]
    fn no_field_is_rendered_as_a_default_the_api_server_drops() {
        // A dropped field would read as drift on every pass: the StatefulSet rewritten each
        // time, and a rollout that never sees its revision settle.
        let sts = build(
            "  auditFileStorage: {mode: ManagedPVC, size: 64Mi}\n  audit:\n  - {type: file, path: file, fileOptions: {filePath: /openbao/audit/audit.log}}",
        );
        let json = serde_json::to_string(&sts).expect("json");
        assert!(json.contains("persistentVolumeClaim"), "{json}");
        assert!(!json.contains("\"readOnly\":false"), "{json}");
    }

    #[test]
    fn oci_plugins_get_a_writable_pod_local_plugin_directory_and_commands_do_not() {
        let oci = build(
            "  configuration: {plugin: {autoDownload: true}}\n  plugins: [{type: secret, name: x, \
             image: \"registry.example.com/p:v1.0.0@sha256:3f2b6a1c9d8e7f60514a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e\"}]",
        );
        let volume = volume(&oci, PLUGIN_VOLUME).expect("plugin volume");
        assert!(volume.empty_dir.is_some(), "pod-local");
        let mount = mount_of(&oci, PLUGIN_VOLUME).expect("plugin mount");
        assert_eq!(mount.mount_path, PLUGIN_DIR);
        assert_ne!(mount.read_only, Some(true), "OpenBao writes the download");
        assert_eq!(
            openbao(&oci)
                .security_context
                .as_ref()
                .and_then(|c| c.read_only_root_filesystem),
            Some(true),
            "the root filesystem stays read-only"
        );
        let command = build("  plugins: [{type: secret, name: x, command: x, version: v1.0.0}]");
        assert!(
            mount_of(&command, PLUGIN_VOLUME).is_none(),
            "the image's own plugin directory stays visible"
        );
    }

    #[test]
    fn managed_audit_storage_mounts_the_operators_claim_with_one_sub_directory_per_pod() {
        let c = cluster(
            "  auditFileStorage: {mode: ManagedPVC, size: 2Gi, storageClassName: nfs}\n  audit: [{type: file, path: file, fileOptions: {filePath: /openbao/audit/audit.log}}]",
        );
        let s = statefulset(&c, "config");
        let claim = volume(&s, AUDIT_VOLUME)
            .and_then(|v| v.persistent_volume_claim.as_ref())
            .expect("claim volume");
        assert_eq!(claim.claim_name, "bao-audit");
        let mount = mount_of(&s, AUDIT_VOLUME).expect("audit mount");
        assert_eq!(mount.mount_path, "/openbao/audit");
        assert_eq!(mount.sub_path_expr.as_deref(), Some("$(BAO_K8S_POD_NAME)"));
        let pvc = audit_claim(&c).expect("a managed claim");
        let spec = pvc.spec.as_ref().expect("spec");
        assert_eq!(spec.access_modes, Some(vec!["ReadWriteMany".to_string()]));
        assert_eq!(spec.storage_class_name.as_deref(), Some("nfs"));
        assert!(
            pvc.metadata.owner_references.is_none(),
            "kept or deleted per deletionPolicy, never garbage-collected with the cluster"
        );
        assert_eq!(
            pvc.metadata.labels.as_ref(),
            Some(&c.names().labels()),
            "DeletePVCs finds it by the cluster's labels"
        );
    }

    #[test]
    fn a_managed_acme_cache_is_the_operators_shared_claim_mounted_in_every_pod() {
        let c = cluster(
            "  replicas: 3\n  tls: {mode: ACME, acme: {directoryURL: \"https://acme.example.com/d\", domains: [bao.example.com], sharedCache: {mode: ManagedPVC, size: 64Mi}}}",
        );
        let s = statefulset(&c, "config");
        let claim = volume(&s, "acme-cache")
            .and_then(|v| v.persistent_volume_claim.as_ref())
            .expect("cache volume");
        assert_eq!(claim.claim_name, "bao-acme-cache");
        assert_eq!(
            mount_of(&s, "acme-cache").map(|m| m.mount_path.as_str()),
            Some(paths::ACME_SHARED_CACHE_DIR)
        );
        let pvc = acme_cache_claim(&c).expect("a managed claim");
        assert_eq!(pvc.metadata.name.as_deref(), Some("bao-acme-cache"));
        let spec = pvc.spec.as_ref().expect("spec");
        assert_eq!(spec.access_modes, Some(vec!["ReadWriteMany".to_string()]));
        assert!(pvc.metadata.owner_references.is_none());
        assert!(
            audit_claim(&c).is_none(),
            "one claim per shared volume asked for"
        );
    }

    #[test]
    fn an_existing_audit_claim_is_mounted_at_its_mount_path_and_none_is_created() {
        let c = cluster(
            "  auditFileStorage: {mode: ExistingPVC, existingClaimName: shared-audit, mountPath: /var/log/openbao}",
        );
        let s = statefulset(&c, "config");
        let claim = volume(&s, AUDIT_VOLUME)
            .and_then(|v| v.persistent_volume_claim.as_ref())
            .expect("claim volume");
        assert_eq!(claim.claim_name, "shared-audit");
        assert_eq!(
            mount_of(&s, AUDIT_VOLUME).map(|m| m.mount_path.as_str()),
            Some("/var/log/openbao")
        );
        assert!(audit_claim(&c).is_none());
    }

    #[test]
    fn a_static_seal_mounts_the_operators_key_secret() {
        let s = build("");
        let key = volume(&s, "unseal-key").expect("key volume");
        assert_eq!(secret_of(key), Some("bao-unseal-key"));
        assert!(volume(&s, "seal-creds").is_none());
        assert!(openbao(&s).env_from.is_none());
    }

    #[test]
    fn a_static_seal_with_a_users_secret_mounts_that_secret_as_the_key() {
        let s = build("  unseal: {type: static, credentialsSecretRef: {name: restored-key}}");
        let key = volume(&s, "unseal-key").expect("key volume");
        assert_eq!(secret_of(key), Some("restored-key"));
        let items = key
            .secret
            .as_ref()
            .and_then(|v| v.items.as_ref())
            .expect("items");
        assert_eq!(items[0].key, UNSEAL_KEY_FILE);
        assert!(volume(&s, "seal-creds").is_none(), "no credentials mount");
        assert!(openbao(&s).env_from.is_none(), "the key is not an env var");
    }

    #[test]
    fn a_pkcs11_runtime_becomes_secret_backed_environment_and_the_library_path() {
        let s = build(
            "  unseal:\n    type: pkcs11\n    credentialsSecretRef: {name: hsm}\n    pkcs11: {lib: /usr/lib/softhsm/libsofthsm2.so, tokenLabel: bao, keyLabel: k, runtime: {libraryPath: /usr/lib/softhsm, env: [{name: VENDOR_SLOT, secretKey: slot}], fileEnv: [{name: SOFTHSM2_CONF, secretKey: softhsm2.conf}]}}\n  plugins: [{type: kms, name: pkcs11, command: openbao-kms-pkcs11, version: v0.1.0, sha256sum: 3f2b6a1c9d8e7f60514a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e}]",
        );
        let slot = env(&s, "VENDOR_SLOT")
            .and_then(|e| e.value_from.as_ref())
            .and_then(|v| v.secret_key_ref.as_ref())
            .expect("VENDOR_SLOT from the Secret");
        assert_eq!((slot.name.as_str(), slot.key.as_str()), ("hsm", "slot"));
        assert_eq!(
            env(&s, "SOFTHSM2_CONF").and_then(|e| e.value.as_deref()),
            Some(format!("{SEAL_CREDENTIALS_DIR}/softhsm2.conf").as_str()),
            "the file of the mounted credentials Secret"
        );
        assert_eq!(
            env(&s, "LD_LIBRARY_PATH").and_then(|e| e.value.as_deref()),
            Some("/usr/lib/softhsm")
        );
    }

    #[test]
    fn transit_credentials_are_mounted_and_the_token_is_vault_token() {
        let s = build(
            "  unseal:\n    type: transit\n    transit: {address: \"https://bao-transit.infra.svc:8200\", keyName: unseal}\n    credentialsSecretRef: {name: transit-creds}",
        );
        let creds = volume(&s, "seal-creds").expect("credentials volume");
        assert_eq!(secret_of(creds), Some("transit-creds"));
        let mount = openbao(&s)
            .volume_mounts
            .as_ref()
            .and_then(|m| m.iter().find(|m| m.name == "seal-creds"))
            .expect("mount");
        assert_eq!(mount.mount_path, SEAL_CREDENTIALS_DIR);
        assert_eq!(mount.read_only, Some(true));
        let from = openbao(&s).env_from.as_ref().expect("envFrom");
        assert_eq!(
            from[0].secret_ref.as_ref().map(|r| r.name.as_str()),
            Some("transit-creds")
        );
        let token = env(&s, "VAULT_TOKEN")
            .and_then(|e| e.value_from.as_ref())
            .and_then(|v| v.secret_key_ref.as_ref())
            .expect("VAULT_TOKEN");
        assert_eq!(
            (token.name.as_str(), token.key.as_str(), token.optional),
            ("transit-creds", "token", Some(true))
        );
        assert!(env(&s, "BAO_HSM_PIN").is_none());
        assert!(
            env(&s, "BAO_TOKEN").is_none(),
            "the in-pod CLI keeps its own token"
        );
    }

    #[test]
    fn the_pkcs11_pin_comes_from_the_secrets_pin_entry() {
        let s = statefulset(
            &cluster_at(
                "2.6.2",
                "  unseal:\n    type: pkcs11\n    pkcs11: {lib: /usr/lib/libsofthsm2.so, tokenLabel: OpenBao, keyLabel: bao}\n    credentialsSecretRef: {name: hsm}",
            ),
            "config",
        );
        let pin = env(&s, "BAO_HSM_PIN")
            .and_then(|e| e.value_from.as_ref())
            .and_then(|v| v.secret_key_ref.as_ref())
            .expect("BAO_HSM_PIN");
        assert_eq!((pin.key.as_str(), pin.optional), ("pin", Some(true)));
        assert!(env(&s, "VAULT_TOKEN").is_none());
    }

    #[test]
    fn a_kms_seal_without_credentials_mounts_nothing() {
        let s = statefulset(
            &cluster_at(
                "2.6.2",
                "  unseal:\n    type: awskms\n    awskms: {region: eu-west-1, kmsKeyID: alias/bao}",
            ),
            "config",
        );
        assert!(volume(&s, "seal-creds").is_none());
        assert!(volume(&s, "unseal-key").is_none());
        assert!(openbao(&s).env_from.is_none());
    }

    #[test]
    fn pull_secrets_and_resources_reach_the_pod_and_its_container() {
        let s = build(
            "  imagePullSecrets: [{name: regcred}]\n  resources: {requests: {cpu: 250m, memory: 256Mi}, limits: {memory: 512Mi}}",
        );
        let pull = pod(&s).image_pull_secrets.as_ref().expect("pull secrets");
        assert_eq!(pull[0].name, "regcred");
        let resources = openbao(&s).resources.as_ref().expect("resources");
        assert_eq!(
            resources.requests.as_ref().and_then(|r| r.get("cpu")),
            Some(&Quantity("250m".to_string()))
        );
        let plain = build("");
        assert!(pod(&plain).image_pull_secrets.is_none());
        assert!(openbao(&plain).resources.is_none());
    }

    #[test]
    fn app_armor_hardening_gives_the_pods_the_runtime_default_profile_unless_one_is_named() {
        let s = build("  workloadHardening: {appArmorEnabled: true}");
        let profile = pod(&s)
            .security_context
            .as_ref()
            .and_then(|c| c.app_armor_profile.as_ref())
            .expect("an AppArmor profile");
        assert_eq!(profile.type_, "RuntimeDefault");
        let named = build(
            "  workloadHardening: {appArmorEnabled: true}\n  securityContext: {runAsUser: 100, appArmorProfile: {type: Localhost, localhostProfile: bao}}",
        );
        let profile = pod(&named)
            .security_context
            .as_ref()
            .and_then(|c| c.app_armor_profile.as_ref())
            .expect("the user's profile");
        assert_eq!(profile.type_, "Localhost");
        assert!(
            pod(&build(""))
                .security_context
                .as_ref()
                .is_some_and(|c| c.app_armor_profile.is_none()),
            "off by default: AppArmor depends on the node"
        );
    }

    #[test]
    fn a_users_security_context_replaces_the_pods_and_keeps_the_container_hardening() {
        let s = build(
            "  securityContext: {runAsUser: 2000, runAsGroup: 2000, fsGroup: 2000, seccompProfile: {type: Localhost, localhostProfile: bao.json}}",
        );
        let pod_context = pod(&s).security_context.as_ref().expect("pod context");
        assert_eq!(pod_context.run_as_user, Some(2000));
        assert_eq!(pod_context.run_as_non_root, None, "replaced, not merged");
        let c = openbao(&s)
            .security_context
            .as_ref()
            .expect("container context");
        assert_eq!(c.read_only_root_filesystem, Some(true));
        assert_eq!(c.allow_privilege_escalation, Some(false));
        assert_eq!(c.privileged, Some(false));
        assert_eq!(
            c.capabilities.as_ref().and_then(|c| c.drop.clone()),
            Some(vec!["ALL".to_string()])
        );
        assert_eq!(c.run_as_non_root, Some(true), "non-root stays enforced");
        assert!(
            c.seccomp_profile.is_none(),
            "the pod's explicit seccomp profile is not overridden"
        );
    }

    #[test]
    fn the_default_security_context_is_non_root_with_runtime_default_seccomp() {
        let s = build("");
        let pod_context = pod(&s).security_context.as_ref().expect("pod context");
        assert_eq!(pod_context.run_as_user, Some(RUN_AS_USER));
        assert_eq!(pod_context.fs_group, Some(RUN_AS_GROUP));
        let c = openbao(&s)
            .security_context
            .as_ref()
            .expect("container context");
        assert_eq!(c.run_as_non_root, Some(true));
        assert_eq!(
            c.seccomp_profile.as_ref().map(|p| p.type_.as_str()),
            Some("RuntimeDefault")
        );
    }

    #[test]
    fn pod_metadata_is_merged_and_the_operators_keys_always_win() {
        let c = cluster(
            "  podMetadata: {labels: {team: vault}, annotations: {example.com/owner: platform}}",
        );
        let mut unvalidated = c.clone();
        // Keys validation refuses, set behind its back: the builder must still win.
        let user = unvalidated
            .cluster
            .spec
            .pod_metadata
            .get_or_insert_default();
        user.labels
            .insert(names::LABEL_INSTANCE.to_string(), "evil".to_string());
        user.labels
            .insert("openbao-active".to_string(), "true".to_string());
        user.annotations.insert(
            names::ANNOTATION_CONFIG_HASH.to_string(),
            "forged".to_string(),
        );
        for (cluster, forged) in [(&c, false), (&unvalidated, true)] {
            let s = statefulset(cluster, "config");
            let meta = template_meta(&s);
            let labels = meta.labels.as_ref().expect("labels");
            let annotations = meta.annotations.as_ref().expect("annotations");
            assert_eq!(labels.get("team").map(String::as_str), Some("vault"));
            assert_eq!(
                annotations.get("example.com/owner").map(String::as_str),
                Some("platform")
            );
            for (k, v) in cluster.names().server_pod_labels() {
                assert_eq!(labels.get(&k), Some(&v), "{k} (forged: {forged})");
            }
            assert!(!labels.contains_key("openbao-active"));
            assert_ne!(
                annotations
                    .get(names::ANNOTATION_CONFIG_HASH)
                    .map(String::as_str),
                Some("forged")
            );
        }
    }

    #[test]
    fn maintenance_marks_the_statefulset_and_pod_template() {
        let s = build("  maintenance: {enabled: true}");
        let marked = |m: &ObjectMeta| {
            m.annotations
                .as_ref()
                .and_then(|a| a.get(names::ANNOTATION_MAINTENANCE))
                .map(String::as_str)
                == Some("true")
        };
        assert!(marked(&s.metadata));
        assert!(marked(template_meta(&s)));
        let off = build("  maintenance: {enabled: false}");
        assert!(!marked(&off.metadata));
        assert!(!marked(template_meta(&off)));
    }

    #[test]
    fn a_new_restart_at_value_changes_the_pod_template() {
        let at = |s: &StatefulSet| {
            template_meta(s)
                .annotations
                .as_ref()
                .and_then(|a| a.get(names::ANNOTATION_RESTART_AT).cloned())
        };
        let first = build("  runtime: {restartAt: \"2026-08-01T12:00:00Z\"}");
        let second = build("  runtime: {restartAt: \"2026-08-02T12:00:00Z\"}");
        assert_eq!(at(&first).as_deref(), Some("2026-08-01T12:00:00Z"));
        assert_ne!(first.spec, second.spec, "a new value rolls the pods");
        assert_eq!(at(&build("")), None);
    }

    const ACME: &str = "  replicas: 3\n  tls:\n    mode: ACME\n    acme:\n      directoryURL: https://acme.example.com/dir\n      domains: [bao.example.com]\n      caSecretName: acme-root\n      sharedCache: {mode: ExistingPVC, existingClaimName: bao-acme}\n";

    #[test]
    fn an_acme_pod_mounts_no_serving_certificate_but_the_ca_root_and_the_shared_cache() {
        let sts = build(ACME);
        let pod = pod(&sts);
        let volumes = pod.volumes.as_ref().expect("volumes");
        assert!(
            !volumes.iter().any(|v| v.name == "tls"),
            "no serving Secret"
        );
        let ca = volumes
            .iter()
            .find(|v| v.name == "acme-ca")
            .expect("acme-ca");
        assert_eq!(
            ca.secret.as_ref().and_then(|s| s.secret_name.as_deref()),
            Some("acme-root")
        );
        let cache = volumes
            .iter()
            .find(|v| v.name == "acme-cache")
            .expect("cache");
        assert_eq!(
            cache
                .persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.as_str()),
            Some("bao-acme")
        );
        let mounts = pod.containers[0].volume_mounts.as_ref().expect("mounts");
        for (name, path) in [
            ("acme-ca", paths::ACME_CA_DIR),
            ("acme-cache", paths::ACME_SHARED_CACHE_DIR),
        ] {
            assert!(
                mounts
                    .iter()
                    .any(|m| m.name == name && m.mount_path == path),
                "{name}"
            );
        }
        assert!(!mounts.iter().any(|m| m.mount_path == TLS_DIR));
    }

    #[test]
    fn acme_probes_send_the_domain_because_the_listener_refuses_handshakes_without_it() {
        let sts = build(ACME);
        let container = &pod(&sts).containers[0];
        let readiness = container.readiness_probe.as_ref().expect("readiness");
        assert!(
            readiness.http_get.is_none(),
            "the kubelet sends no server name"
        );
        assert_eq!(
            readiness.exec.as_ref().and_then(|e| e.command.clone()),
            Some(vec!["bao".to_string(), "status".to_string()])
        );
        let liveness = container.liveness_probe.as_ref().expect("liveness");
        assert_eq!(
            liveness.tcp_socket.as_ref().map(|t| t.port.clone()),
            Some(IntOrString::Int(names::API_PORT))
        );
        let env = container.env.as_ref().expect("env");
        let value = |name: &str| {
            env.iter()
                .find(|e| e.name == name)
                .and_then(|e| e.value.clone())
        };
        assert_eq!(
            value("BAO_TLS_SERVER_NAME").as_deref(),
            Some("bao.example.com")
        );
        assert_eq!(
            value("BAO_CACERT").as_deref(),
            Some("/etc/bao/acme-ca/ca.crt")
        );
        // A public ACME CA: the image's system roots, so no CA file is named.
        let public = build(&ACME.replace("      caSecretName: acme-root\n", ""));
        let env = pod(&public).containers[0].env.clone().expect("env");
        assert!(!env.iter().any(|e| e.name == "BAO_CACERT"));
        // Other modes keep the HTTPS health probes and the operator's CA.
        let managed = build("");
        let container = &pod(&managed).containers[0];
        assert!(
            container
                .readiness_probe
                .as_ref()
                .and_then(|p| p.http_get.as_ref())
                .is_some()
        );
    }
}
