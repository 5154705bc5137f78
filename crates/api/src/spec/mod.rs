//! The `OpenBaoCluster` custom resource: the spec users write, with its defaults and the
//! schema-level rules the API server enforces even when the admission webhook is absent.
//!
//! Field doc comments are user documentation: they become the CRD's `kubectl explain` text.
//!
//! The API is a superset of upstream's published `openbao.org/v1alpha1` (dc-tec/openbao-operator):
//! every upstream field decodes under its upstream name; `validate` refuses what is not built yet
//! by name. `docs/api-compatibility.md` maps each field. This file holds the top level and the
//! core sections; `unseal`, `configuration`, `operations` (backup, restore, upgrade, selfInit)
//! and `workload` (pods beyond the core) hold the rest.

mod configuration;
mod operations;
mod unseal;
mod workload;

pub use configuration::*;
pub use operations::*;
pub use unseal::*;
pub use workload::*;

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        core::v1::{LocalObjectReference, PodSecurityContext, ResourceRequirements},
        networking::v1::{NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer},
    },
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::status::OpenBaoClusterStatus;

/// The image repository used when `spec.image` is not set.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "quay.io/openbao/openbao";

/// Desired state of an OpenBao cluster: a Raft-backed StatefulSet behind a default-deny network
/// posture, managed end to end by the operator.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "openbao.org",
    version = "v1alpha1",
    kind = "OpenBaoCluster",
    plural = "openbaoclusters",
    singular = "openbaocluster",
    shortname = "bao",
    category = "openbao",
    namespaced,
    status = "OpenBaoClusterStatus",
    derive = "PartialEq",
    doc = "An OpenBao cluster (Raft integrated storage, TLS, auto-unseal) run by the openbao-operator behind a default-deny NetworkPolicy.",
    shortname = "baoc",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase", description = "Lifecycle phase"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.readyMembers", description = "Ready members out of desired replicas"),
    printcolumn(name = "Version", type_ = "string", json_path = ".status.currentVersion", description = "OpenBao version the pods run"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("size(self.metadata.name) <= 40").message("metadata.name must be at most 40 characters so that every derived name (pods, services, jobs, labels) stays within Kubernetes limits"),
    validation = Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit"),
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = Rule::new("!has(self.gateway) || !self.gateway.enabled || (has(self.gateway.gatewayRef) && has(self.gateway.hostname))").message("spec.gateway.gatewayRef.name and spec.gateway.hostname are required when spec.gateway.enabled is true"))]
pub struct OpenBaoClusterSpec {
    /// Security profile. Hardened refuses settings unfit for production (operator-generated
    /// TLS, a static unseal key, no self-initialization, fewer than 3 replicas, inline
    /// credentials, debugging endpoints); Development allows them and sets the SecurityRisk
    /// condition. Unset behaves as Development.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,

    /// OpenBao release to run, for example "2.4.1" (semantic version, no leading "v").
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$"))]
    pub version: String,

    /// Container image for the OpenBao pods. Defaults to the official image for `version`
    /// (`quay.io/openbao/openbao:<version>`). Set it to use a mirror or a digest-pinned image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Secrets for pulling the images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,

    /// Number of OpenBao pods (Raft voters). 1 for development, 3 or 5 for production.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 9))]
    pub replicas: i32,

    /// Resource requests and limits of the OpenBao container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Box<ResourceRequirements>>,

    /// Pod security context; replaces the operator's default (non-root, RuntimeDefault seccomp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Box<PodSecurityContext>>,

    /// The pods' ServiceAccount (annotations for workload identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<Box<ServiceAccountSpec>>,

    /// Extra labels and annotations of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_metadata: Option<Box<PodMetadata>>,

    /// Stop reconciling the workload: while true the operator changes nothing about the
    /// StatefulSet, Services, configuration or OpenBao itself, and reports phase Paused. The
    /// security objects (NetworkPolicies, the pods' Role and RoleBindings) are still repaired,
    /// so pausing never leaves the posture open.
    #[serde(default)]
    pub paused: bool,

    /// Maintenance mode marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<Maintenance>,

    /// Runtime requests (rolling restarts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,

    /// Acknowledgement of upstream's break-glass mode (not used here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass_ack: Option<String>,

    /// TLS for the API (8200) and cluster (8201) listeners.
    #[serde(default)]
    pub tls: TlsSpec,

    /// Persistent storage for Raft data.
    #[serde(default)]
    pub storage: StorageSpec,

    /// How OpenBao unseals itself. Defaults to a static key the operator generates once.
    #[serde(default)]
    pub unseal: UnsealSpec,

    /// Network posture: the operator always writes a default-deny NetworkPolicy with the core
    /// flows; the rules here are additive and never remove a core flow.
    #[serde(default)]
    pub network: NetworkSpec,

    /// Expose the cluster through a Gateway API HTTPRoute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewaySpec>,

    /// A managed Ingress to the client Service (see `IngressSpec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Box<IngressSpec>>,

    /// The client Service in front of the OpenBao pods.
    #[serde(default)]
    pub service: ServiceSpec,

    /// Non-voting read replicas (not supported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_replicas: Option<Box<ReadReplicas>>,

    /// Scheduled Raft snapshots to object storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Box<BackupSpec>>,

    /// Settings for restores into this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<Box<ClusterRestoreSpec>>,

    /// How version changes roll out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Box<UpgradeSpec>>,

    /// OpenBao's self-initialization (no root token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_init: Option<Box<SelfInit>>,

    /// What happens to the root token of a cluster initialized through `sys/init` (an
    /// extension: upstream has no equivalent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialization: Option<InitializationSpec>,

    /// PGP-encrypted recovery keys at initialization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_keys: Option<Box<RecoveryKeys>>,

    /// Restore the operator's built-in OpenBao policies after initialization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_policies: Option<bool>,

    /// Audience of the operator's JWT in OpenBao: Shared or Target.
    #[serde(
        default,
        rename = "controllerJWTMode",
        skip_serializing_if = "Option::is_none"
    )]
    pub controller_jwt_mode: Option<ControllerJwtMode>,

    /// What happens to data when the OpenBaoCluster is deleted: Retain (default) keeps the
    /// PersistentVolumeClaims and Secrets, DeletePVCs also deletes the PersistentVolumeClaims,
    /// DeleteAll also deletes the Secrets (unseal key, root token, TLS).
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// OpenBao server settings rendered into config.hcl.
    #[serde(default)]
    pub configuration: Configuration,

    /// Declarative audit devices (`audit` stanzas of config.hcl), added once the cluster is
    /// initialized; OpenBao enables them at unseal and stays sealed if one cannot start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit: Vec<AuditDevice>,

    /// A volume for file audit logs: mounted at mountPath (default /openbao/audit) in every
    /// OpenBao pod, each pod in its own sub-directory; file audit devices write under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_file_storage: Option<Box<SharedVolume>>,

    /// Declarative plugins (`plugin` stanzas of config.hcl): OCI images OpenBao downloads, or
    /// binaries already in the image; a kms plugin serves `unseal.type: kms`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<Plugin>,

    /// OpenBao's telemetry stanza; Prometheus metrics on /v1/sys/metrics are always on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<Box<TelemetryConfiguration>>,

    /// Metrics scraping (ServiceMonitor; not supported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<Box<Observability>>,

    /// The configuration-rendering init container of upstream's pods; this operator renders
    /// configuration without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_container: Option<InitContainer>,

    /// Cosign verification of the OpenBao image (not supported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_verification: Option<Box<ImageVerification>>,

    /// Cosign verification of helper images (not supported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_image_verification: Option<Box<ImageVerification>>,

    /// Opt-in hardening of generated pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_hardening: Option<WorkloadHardening>,
}

/// Security profiles.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Production posture: refuses settings that weaken it.
    Hardened,
    /// Allows development conveniences; the SecurityRisk condition says so.
    Development,
}

impl Profile {
    /// The spelling in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hardened => "Hardened",
            Self::Development => "Development",
        }
    }
}

/// Audience of the operator's JWT.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControllerJwtMode {
    /// The installation's audience.
    Shared,
    /// A per-cluster audience.
    Target,
}

/// Any JSON value, kept as given (`x-kubernetes-preserve-unknown-fields`).
pub(crate) fn any_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

/// Any JSON object, kept as given.
pub(crate) fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

fn default_replicas() -> i32 {
    3
}

/// TLS settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsSpec {
    /// TLS on the listeners. Must be true: every flow of the posture assumes TLS.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// OperatorManaged (default): the operator runs a CA and issues and rotates the server
    /// certificate. External: you provide a Secret with tls.crt, tls.key and ca.crt. ACME:
    /// OpenBao's own ACME client obtains the certificate (spec.tls.acme).
    #[serde(default)]
    pub mode: TlsMode,

    /// ACME settings (mode ACME).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeSpec>,

    /// Name of the Secret (in the cluster's namespace) holding tls.crt, tls.key and ca.crt in
    /// External mode; `<cluster>-tls-server` (upstream's name) when unset. An extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub external_secret_name: Option<String>,

    /// Additional DNS names or IP addresses for the server certificate (OperatorManaged mode).
    #[serde(default, rename = "extraSANs", skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub extra_sans: Vec<String>,

    /// Lifetime of the server certificate; it is renewed when two thirds of it have passed.
    /// A duration such as "720h" (default), "90m" or "168h30m"; at least 1h, at most 8760h.
    #[serde(default = "default_rotation_period")]
    #[schemars(regex(pattern = r"^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$"))]
    pub rotation_period: String,
}

fn default_rotation_period() -> String {
    "720h".to_string()
}

impl Default for TlsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            mode: TlsMode::default(),
            acme: None,
            external_secret_name: None,
            extra_sans: Vec::new(),
            rotation_period: default_rotation_period(),
        }
    }
}

/// Who provides the TLS material.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// The operator generates a CA and server certificates and rotates them.
    #[default]
    OperatorManaged,
    /// The user provides the Secret `<cluster>-tls-server` (or externalSecretName).
    External,
    /// OpenBao obtains certificates through ACME.
    #[serde(rename = "ACME")]
    Acme,
}

/// ACME settings: OpenBao's own ACME client obtains and renews the listener's certificate.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcmeSpec {
    /// ACME directory URL, https (for example
    /// https://acme-v02.api.letsencrypt.org/directory). Reaching it needs an egress rule.
    #[serde(rename = "directoryURL")]
    #[schemars(length(min = 1))]
    pub directory_url: String,
    /// DNS names to obtain certificates for (`tls_acme_domains`); at least one. The first
    /// name ending in `.svc` (else the first name) is the name members and the operator verify
    /// when they connect to a pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub domains: Vec<String>,
    /// A single domain (upstream's earlier spelling of domains; set one of the two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Contact address of the ACME account (`tls_acme_email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 254))]
    pub email: Option<String>,
    /// A volume shared by all pods for OpenBao's ACME cache (account, certificates and
    /// pending challenges), so any pod can answer a validation started by another; required
    /// with more than one replica. Only ExistingPVC (a ReadWriteMany claim) is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_cache: Option<SharedVolume>,
    /// Name of a Secret in the cluster's namespace whose `ca.crt` holds the root
    /// certificate(s) of a private ACME CA. Members (Raft joins) and the operator verify the
    /// certificates OpenBao obtains against it, and OpenBao trusts it for the directory's HTTPS
    /// unless spec.configuration.acmeCARoot is set. Unset: public ACME CAs, verified against
    /// the system roots. An extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub ca_secret_name: Option<String>,
}

impl AcmeSpec {
    /// The domains OpenBao may obtain certificates for: `domains`, or the earlier `domain`.
    pub fn effective_domains(&self) -> Vec<String> {
        if self.domains.is_empty() {
            self.domain.iter().cloned().collect()
        } else {
            self.domains.clone()
        }
    }

    /// The name members and the operator send (SNI) and verify when they reach a pod by its
    /// IP: the first in-cluster (`.svc`) domain, else the first domain.
    pub fn server_name(&self) -> Option<String> {
        let domains = self.effective_domains();
        domains
            .iter()
            .find(|d| d.ends_with(".svc"))
            .or_else(|| domains.first())
            .cloned()
    }
}

/// Where members and the operator find the root that OpenBao's ACME-obtained certificates
/// chain to (ACME mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcmeTrust {
    /// A public ACME CA: the system roots (the OpenBao image's, the operator's).
    SystemRoots,
    /// A private ACME CA: the PEM under `key` of Secret `secret`, mounted in the pods at
    /// `file`.
    Secret {
        /// Secret in the cluster's namespace.
        secret: String,
        /// Data key holding the PEM root(s).
        key: String,
        /// The same file inside the OpenBao container.
        file: String,
    },
}

impl OpenBaoClusterSpec {
    /// In ACME mode, where the issuer's root comes from: `tls.acme.caSecretName` (`ca.crt`),
    /// else upstream's convention (`configuration.acmeCARoot` is a file of the seal
    /// credentials Secret, and `pki-ca.crt` beside it is the issuer's root), else the system
    /// roots. `None` outside ACME mode. Validation makes sure the Secret is mounted.
    pub fn acme_trust(&self) -> Option<AcmeTrust> {
        use crate::names::paths;
        let acme = self
            .tls
            .acme
            .as_ref()
            .filter(|_| self.tls.mode == TlsMode::Acme)?;
        if let Some(secret) = &acme.ca_secret_name {
            return Some(AcmeTrust::Secret {
                secret: secret.clone(),
                key: crate::names::secret_keys::CA_CERT.to_string(),
                file: format!(
                    "{}/{}",
                    paths::ACME_CA_DIR,
                    crate::names::secret_keys::CA_CERT
                ),
            });
        }
        let under_seal_creds = self
            .configuration
            .acme_ca_root
            .as_deref()
            .is_some_and(|root| root.starts_with(&format!("{}/", paths::SEAL_CREDENTIALS_DIR)));
        match (&self.unseal.credentials_secret_ref, under_seal_creds) {
            (Some(credentials), true) if self.unseal.type_ != UnsealType::Static => {
                Some(AcmeTrust::Secret {
                    secret: credentials.name.clone(),
                    key: paths::ACME_PKI_CA_KEY.to_string(),
                    file: format!("{}/{}", paths::SEAL_CREDENTIALS_DIR, paths::ACME_PKI_CA_KEY),
                })
            }
            _ => Some(AcmeTrust::SystemRoots),
        }
    }
}

/// Persistent storage for Raft.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = Rule::new("has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)").message("spec.storage.storageClassName is immutable"))]
pub struct StorageSpec {
    /// Size of each pod's data volume, a Kubernetes quantity such as "10Gi" (default).
    #[serde(default = "default_storage_size")]
    #[schemars(regex(
        pattern = r"^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[kMGTPE]|[eE]\+?[0-9]+)?$"
    ))]
    pub size: String,

    /// StorageClass for the data volumes; the cluster default when unset. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub storage_class_name: Option<String>,
}

fn default_storage_size() -> String {
    "10Gi".to_string()
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            size: default_storage_size(),
            storage_class_name: None,
        }
    }
}

/// A reference to a Secret in the cluster's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the Secret (upstream's earlier form); only the cluster's own is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Network posture settings. The core flows of the posture are always present.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSpec {
    /// Namespace whose pods serve DNS (port 53 UDP and TCP egress). Default kube-system.
    #[serde(default = "default_dns_namespace")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub dns_namespace: String,

    /// Allow ingress on any port from the kube-system namespace, which some CNIs and DNS
    /// health checks need. Default true; set false for the tightest posture.
    #[serde(default = "default_true")]
    pub kube_system_ingress: bool,

    /// CIDR of the Kubernetes API server for the 443 egress rule. When unset the operator uses
    /// the `kubernetes` Service's ClusterIP as a /32 (or /128). Set it when that address cannot
    /// be detected or your CNI needs another range.
    #[serde(
        default,
        rename = "apiServerCIDR",
        skip_serializing_if = "Option::is_none"
    )]
    pub api_server_cidr: Option<String>,

    /// Addresses of the API server endpoints (after the Service's DNAT). Each gets an egress
    /// rule to port 6443 as a /32 (or /128); needed by CNIs that evaluate policy post-DNAT.
    #[serde(
        default,
        rename = "apiServerEndpointIPs",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(length(max = 16))]
    pub api_server_endpoint_ips: Vec<String>,

    /// Addresses of node-local DNS resolvers: each gets an egress rule to port 53 (UDP and TCP)
    /// as a /32 (or /128).
    #[serde(
        default,
        rename = "dnsEndpointIPs",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(length(max = 16))]
    pub dns_endpoint_ips: Vec<String>,

    /// Peers allowed to reach the API port (8200), added as one ingress rule. Additive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_ingress_peers: Vec<NetworkPolicyPeer>,

    /// Additional ingress rules (networking.k8s.io/v1 NetworkPolicyIngressRule), appended after
    /// the core rules. Additive: they cannot remove a core flow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_rules: Vec<NetworkPolicyIngressRule>,

    /// Additional egress rules (networking.k8s.io/v1 NetworkPolicyEgressRule), appended after
    /// the core rules, for example to reach an external KMS. Additive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress_rules: Vec<NetworkPolicyEgressRule>,

    /// What a violation of the live posture does (another NetworkPolicy in the namespace that
    /// opens a flow the contract forbids, or a member the operator's policy no longer selects):
    /// `Report` (default) sets `PostureVerified` False and records an Event; `Block` also sets
    /// the cluster `Degraded`. The operator never edits or deletes a policy it does not own.
    #[serde(default, skip_serializing_if = "PostureViolations::is_default")]
    pub posture_violations: PostureViolations,
}

/// `spec.network.postureViolations`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PostureViolations {
    /// Report in `PostureVerified`, an Event and the `openbao_operator_posture_violations` metric.
    #[default]
    Report,
    /// Report, and set the cluster `Degraded`.
    Block,
}

impl PostureViolations {
    fn is_default(&self) -> bool {
        *self == Self::Report
    }
}

fn default_dns_namespace() -> String {
    "kube-system".to_string()
}

fn default_true() -> bool {
    true
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            dns_namespace: default_dns_namespace(),
            kube_system_ingress: true,
            api_server_cidr: None,
            api_server_endpoint_ips: Vec::new(),
            dns_endpoint_ips: Vec::new(),
            trusted_ingress_peers: Vec::new(),
            ingress_rules: Vec::new(),
            egress_rules: Vec::new(),
            posture_violations: PostureViolations::Report,
        }
    }
}

/// Gateway API exposure.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewaySpec {
    /// Create an HTTPRoute and allow ingress on 8200 from the Gateway's namespace.
    #[serde(default)]
    pub enabled: bool,
    /// The Gateway the HTTPRoute attaches to. Required when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ref: Option<GatewayRef>,
    /// Hostname clients use, for example "bao.example.com". Required when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub hostname: Option<String>,
    /// Path prefix routed to OpenBao. Default "/".
    #[serde(default = "default_path")]
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^/\S*$"))]
    pub path: String,
    /// Listener (sectionName) of the Gateway to attach to; all listeners when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub listener_name: Option<String>,
    /// Annotations of the HTTPRoute.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The BackendTLSPolicy that makes the Gateway speak HTTPS to OpenBao and verify its
    /// certificate. Created whenever the gateway is enabled unless `backendTLS.enabled` is false.
    #[serde(
        default,
        rename = "backendTLS",
        skip_serializing_if = "Option::is_none"
    )]
    pub backend_tls: Option<BackendTls>,
    /// Route TLS through to OpenBao with a TLSRoute (not supported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_passthrough: Option<bool>,
    /// Labels of the Gateway's proxy pods. Required when the Gateway is in the cluster's own
    /// namespace (gatewayRef.namespace unset or equal to it): port 8200 is then opened to those
    /// pods only, never to every pod of the namespace. Ignored when the Gateway is in another
    /// namespace (that whole namespace is admitted). An extension of this operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
}

fn default_path() -> String {
    "/".to_string()
}

/// The Gateway's TLS to OpenBao: a `gateway.networking.k8s.io/v1` BackendTLSPolicy
/// `<cluster>-backend-tls-policy` on the client Service, trusting the CA certificate the operator
/// publishes in the ConfigMap `<cluster>-tls-ca` (key `ca.crt`; public part only).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendTls {
    /// Create the BackendTLSPolicy. Default true; the Hardened profile refuses false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Name the Gateway verifies in OpenBao's certificate. Default
    /// `<cluster>.<namespace>.svc`, the client Service's DNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// A reference to a Gateway API Gateway.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayRef {
    /// Name of the Gateway.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the Gateway; the cluster's namespace when unset. Ingress to 8200 is allowed
    /// from this namespace, or, when it is the cluster's own, only from the pods that
    /// spec.gateway.podSelector selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub namespace: Option<String>,
}

/// The client Service.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    /// Service type: ClusterIP (default), NodePort or LoadBalancer. Exposing the Service outside
    /// the cluster also needs an ingress rule in spec.network.ingressRules.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// Annotations for the client Service (for example for a cloud load balancer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Kubernetes Service types the operator supports for the client Service.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ServiceType {
    /// Reachable inside the cluster only.
    #[default]
    ClusterIP,
    /// Exposed on every node's port.
    NodePort,
    /// Exposed through a cloud load balancer.
    LoadBalancer,
}

impl ServiceType {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterIP => "ClusterIP",
            Self::NodePort => "NodePort",
            Self::LoadBalancer => "LoadBalancer",
        }
    }
}

/// What to delete with the cluster.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    /// Keep PersistentVolumeClaims and Secrets.
    #[default]
    Retain,
    /// Delete PersistentVolumeClaims, keep Secrets.
    DeletePVCs,
    /// Delete PersistentVolumeClaims and Secrets.
    DeleteAll,
}

impl OpenBaoClusterSpec {
    /// The rolling-restart token: `runtime.restartAt`, or upstream's earlier
    /// `maintenance.restartAt`.
    pub fn restart_at(&self) -> Option<&str> {
        self.runtime
            .as_ref()
            .and_then(|r| r.restart_at.as_deref())
            .or_else(|| {
                self.maintenance
                    .as_ref()
                    .and_then(|m| m.restart_at.as_deref())
            })
    }

    /// The container image for the OpenBao pods.
    pub fn image(&self) -> String {
        match &self.image {
            Some(image) => image.clone(),
            None => format!("{DEFAULT_IMAGE_REPOSITORY}:{}", self.version),
        }
    }

    /// The gateway settings when the gateway is enabled.
    pub fn enabled_gateway(&self) -> Option<&GatewaySpec> {
        self.gateway.as_ref().filter(|g| g.enabled)
    }

    /// `spec.ingress` when it is enabled.
    pub fn enabled_ingress(&self) -> Option<&IngressSpec> {
        self.ingress.as_deref().filter(|i| i.enabled)
    }

    /// Whether a BackendTLSPolicy is wanted: the gateway is enabled, does not pass TLS through,
    /// and `backendTLS.enabled` is not false. As upstream, an absent `backendTLS` block means
    /// enabled: OpenBao only serves HTTPS, so a Gateway without the policy cannot reach it.
    pub fn backend_tls_enabled(&self) -> bool {
        self.enabled_gateway().is_some_and(|g| {
            g.tls_passthrough != Some(true)
                && g.backend_tls.as_ref().and_then(|b| b.enabled) != Some(false)
        })
    }
}

impl GatewaySpec {
    /// Whether the Gateway lives in `namespace` (the cluster's): its `gatewayRef.namespace` is
    /// unset or equal to it.
    pub fn shares_namespace(&self, namespace: &str) -> bool {
        self.gateway_ref
            .as_ref()
            .and_then(|r| r.namespace.as_deref())
            .is_none_or(|ns| ns == namespace)
    }
}
