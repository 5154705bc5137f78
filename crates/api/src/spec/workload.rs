//! The pods' shape beyond the core: ServiceAccount, pod metadata, maintenance and restarts,
//! read replicas, the init container, observability, image verification and hardening, under
//! upstream's names.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference, ResourceRequirements, Toleration, TopologySpreadConstraint,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ServiceType;

/// The OpenBao pods' ServiceAccount.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountSpec {
    /// Name of the ServiceAccount; only the operator's own (`<cluster>`) is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Annotations of the ServiceAccount, for workload identity (for example
    /// `eks.amazonaws.com/role-arn` for an AWS KMS seal).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Extra labels and annotations of the OpenBao pods (the operator's own keys win).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodMetadata {
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Maintenance mode.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Maintenance {
    /// Mark the StatefulSet and pods with `openbao.org/maintenance: "true"` for other tooling.
    #[serde(default)]
    pub enabled: bool,
    /// Upstream's earlier place of `spec.runtime.restartAt`; use one of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub restart_at: Option<String>,
}

/// Runtime requests.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Runtime {
    /// Change to a new value (an RFC 3339 time is customary) to restart the pods, one at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub restart_at: Option<String>,
}

/// The configuration-rendering init container of upstream's pods.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitContainer {
    /// Must be true when set.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Image of the init container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

fn default_true() -> bool {
    true
}

/// A pool of non-voting read replicas (not supported yet).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadReplicas {
    /// Number of read replicas.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub replicas: i32,
    /// A dedicated read Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ReadReplicaService>,
    /// Pod template settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ReadReplicaTemplate>,
    /// Storage of the read replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<ReadReplicaStorage>,
}

/// The read Service.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadReplicaService {
    /// Create it.
    #[serde(default)]
    pub enabled: bool,
    /// Service type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ServiceType>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Read replica pod settings.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadReplicaTemplate {
    /// Labels and annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PodMetadata>,
    /// Resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Scheduling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<Scheduling>,
}

/// Pod scheduling constraints.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scheduling {
    /// Node selector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Topology spread constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
}

/// Read replica storage.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadReplicaStorage {
    /// Size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// StorageClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// Metrics and their scraping.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Observability {
    /// Metrics settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
}

/// Metrics settings.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metrics {
    /// Create a ServiceMonitor (not supported yet); OpenBao's Prometheus metrics are always on.
    #[serde(default)]
    pub enabled: bool,
    /// Active or AllNodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_profile: Option<String>,
    /// A metrics-only listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::spec::any_object")]
    pub metrics_only_listener: Option<serde_json::Value>,
    /// The ServiceMonitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::spec::any_object")]
    pub service_monitor: Option<serde_json::Value>,
}

/// Cosign verification of images (not supported yet).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageVerification {
    /// Verify images before running them.
    #[serde(default)]
    pub enabled: bool,
    /// PEM Cosign public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Keyless issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Keyless subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Keyless issuer pattern.
    #[serde(
        default,
        rename = "issuerRegExp",
        skip_serializing_if = "Option::is_none"
    )]
    pub issuer_regexp: Option<String>,
    /// Keyless subject pattern.
    #[serde(
        default,
        rename = "subjectRegExp",
        skip_serializing_if = "Option::is_none"
    )]
    pub subject_regexp: Option<String>,
    /// Warn or Block (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_policy: Option<String>,
    /// Skip the transparency log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_tlog: Option<bool>,
    /// Registry credentials for verification.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
}

/// Opt-in hardening of generated pods.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadHardening {
    /// Give the pods the container runtime's default AppArmor profile (`appArmorProfile:
    /// RuntimeDefault`), unless `securityContext` names one. Off by default: it needs nodes
    /// with AppArmor.
    #[serde(default)]
    pub app_armor_enabled: bool,
}

/// A managed `networking.k8s.io/v1` Ingress named after the cluster, routing `host` and `path`
/// to the client Service on port 8200.
///
/// OpenBao only serves HTTPS on 8200, so the Ingress controller must speak HTTPS to it: give the
/// controller's annotation for that in `annotations` (for ingress-nginx,
/// `nginx.ingress.kubernetes.io/backend-protocol: HTTPS`). The controller's pods must also be
/// allowed to reach 8200: name them in `spec.network.trustedIngressPeers`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressSpec {
    /// Create the Ingress. While false, the other fields have no effect.
    #[serde(default)]
    pub enabled: bool,
    /// IngressClass of the Ingress (for example "nginx"); the cluster's default class when unset
    /// or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Host clients use, for example "bao.example.com" (a leading "*." wildcard is allowed).
    /// Required when enabled.
    #[serde(default)]
    pub host: String,
    /// Path routed to OpenBao. Default "/".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How the Ingress controller matches `path`. Default Prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_type: Option<IngressPathType>,
    /// TLS Secret the Ingress serves `host` with. When unset, the cluster's own server
    /// certificate Secret is used (its certificate then also names `host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret_name: Option<String>,
    /// Annotations of the Ingress (controller settings such as the backend protocol).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// When the Ingress counts as ready (condition IngressIntegrationReady). Default
    /// LoadBalancerPublished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_mode: Option<IngressReadinessMode>,
}

/// How an Ingress controller matches a path (the Ingress API's `pathType`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IngressPathType {
    /// The path and everything under it.
    #[default]
    Prefix,
    /// The path only.
    Exact,
    /// As the Ingress controller defines.
    ImplementationSpecific,
}

impl IngressPathType {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prefix => "Prefix",
            Self::Exact => "Exact",
            Self::ImplementationSpecific => "ImplementationSpecific",
        }
    }
}

/// When the managed Ingress counts as ready.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IngressReadinessMode {
    /// Once the Ingress exists.
    Created,
    /// Once the Ingress controller has published a load balancer address in its status.
    #[default]
    LoadBalancerPublished,
}

impl IngressSpec {
    /// The path routed to OpenBao: `path`, or "/" when unset or empty.
    pub fn path(&self) -> &str {
        self.path
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("/")
    }

    /// The IngressClass, when one is named (an empty name means the default class, as
    /// upstream).
    pub fn class_name(&self) -> Option<&str> {
        self.class_name.as_deref().filter(|c| !c.is_empty())
    }

    /// The TLS Secret named by `tlsSecretName`, when set and not empty.
    pub fn tls_secret_name(&self) -> Option<&str> {
        self.tls_secret_name.as_deref().filter(|s| !s.is_empty())
    }
}
