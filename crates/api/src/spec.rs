//! The `OpenBaoCluster` custom resource: the spec users write, with its defaults and the
//! schema-level rules the API server enforces even when the admission webhook is absent.
//!
//! Field doc comments are user documentation: they become the CRD's `kubectl explain` text.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::networking::v1::{NetworkPolicyEgressRule, NetworkPolicyIngressRule},
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
    /// OpenBao release to run, for example "2.4.1" (semantic version, no leading "v").
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$"))]
    pub version: String,

    /// Container image for the OpenBao pods. Defaults to the official image for `version`
    /// (`quay.io/openbao/openbao:<version>`). Set it to use a mirror or a digest-pinned image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Number of OpenBao pods (Raft voters). 1 for development, 3 or 5 for production.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 9))]
    pub replicas: i32,

    /// Stop reconciling the workload: while true the operator changes nothing about the
    /// StatefulSet, Services, configuration or OpenBao itself, and reports phase Paused. The
    /// security objects (NetworkPolicies, the pods' Role and RoleBindings) are still repaired,
    /// so pausing never leaves the posture open.
    #[serde(default)]
    pub paused: bool,

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

    /// The client Service in front of the OpenBao pods.
    #[serde(default)]
    pub service: ServiceSpec,

    /// Scheduled Raft snapshots to object storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,

    /// What happens to data when the OpenBaoCluster is deleted: Retain (default) keeps the
    /// PersistentVolumeClaims and Secrets, DeletePVCs also deletes the PersistentVolumeClaims,
    /// DeleteAll also deletes the Secrets (unseal key, root token, TLS).
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// OpenBao server settings rendered into config.hcl.
    #[serde(default)]
    pub configuration: Configuration,
}

fn default_replicas() -> i32 {
    3
}

/// TLS settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = Rule::new("self.mode != 'External' || has(self.externalSecretName)").message("spec.tls.externalSecretName is required when spec.tls.mode is External"))]
pub struct TlsSpec {
    /// OperatorManaged (default): the operator runs a CA and issues and rotates the server
    /// certificate. External: you provide a Secret with tls.crt, tls.key and ca.crt.
    #[serde(default)]
    pub mode: TlsMode,

    /// Name of the Secret (in the cluster's namespace) holding tls.crt, tls.key and ca.crt.
    /// Required when mode is External.
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
            mode: TlsMode::default(),
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
    /// The user provides a Secret named by externalSecretName.
    External,
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

/// Auto-unseal configuration.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(
    validation = Rule::new("self.type == oldSelf.type").message("spec.unseal.type is immutable: changing the seal requires a seal migration"),
    validation = Rule::new("self.type != 'transit' || has(self.transit)").message("spec.unseal.transit is required when spec.unseal.type is transit"),
    validation = Rule::new("self.type != 'awskms' || has(self.awskms)").message("spec.unseal.awskms is required when spec.unseal.type is awskms"),
    validation = Rule::new("self.type != 'gcpckms' || has(self.gcpckms)").message("spec.unseal.gcpckms is required when spec.unseal.type is gcpckms"),
    validation = Rule::new("self.type != 'azurekeyvault' || has(self.azurekeyvault)").message("spec.unseal.azurekeyvault is required when spec.unseal.type is azurekeyvault"),
)]
pub struct UnsealSpec {
    /// static (default): a 32-byte key generated once by the operator and kept in the Secret
    /// `<cluster>-unseal-key`. transit, awskms, gcpckms, azurekeyvault: an external KMS; add an
    /// egress rule for its endpoint in spec.network.egressRules. Immutable.
    #[serde(default, rename = "type")]
    pub type_: UnsealType,

    /// Options for the transit seal (another OpenBao or Vault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit: Option<TransitSeal>,

    /// Options for the AWS KMS seal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awskms: Option<AwsKmsSeal>,

    /// Options for the Google Cloud KMS seal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcpckms: Option<GcpCkmsSeal>,

    /// Options for the Azure Key Vault seal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azurekeyvault: Option<AzureKeyVaultSeal>,

    /// Secret (in the cluster's namespace) with the seal's credentials. Its keys are exposed to
    /// OpenBao as environment variables (for example VAULT_TOKEN for transit, AWS_ACCESS_KEY_ID
    /// and AWS_SECRET_ACCESS_KEY for awskms, AZURE_CLIENT_SECRET for azurekeyvault) and mounted
    /// as files under /etc/bao/seal-credentials (for example credentials.json for gcpckms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
}

/// The kind of seal.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnsealType {
    /// A static key generated by the operator.
    #[default]
    Static,
    /// The transit secrets engine of another OpenBao or Vault.
    Transit,
    /// AWS KMS.
    Awskms,
    /// Google Cloud KMS.
    Gcpckms,
    /// Azure Key Vault.
    Azurekeyvault,
}

impl UnsealType {
    /// The name used in the spec and in OpenBao's `seal "<name>"` stanza.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "static",
            Self::Transit => "transit",
            Self::Awskms => "awskms",
            Self::Gcpckms => "gcpckms",
            Self::Azurekeyvault => "azurekeyvault",
        }
    }
}

/// Transit seal options (see OpenBao's `seal "transit"`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransitSeal {
    /// Address of the OpenBao/Vault server holding the transit key, for example
    /// "https://vault.example.com:8200".
    #[schemars(length(min = 1))]
    pub address: String,
    /// Name of the transit key.
    #[schemars(length(min = 1))]
    pub key_name: String,
    /// Mount path of the transit engine (default "transit/").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
    /// Namespace of the transit mount on the remote server, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of a Secret key (in credentialsSecretRef) holding a CA bundle for the remote server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca_key: Option<String>,
}

/// AWS KMS seal options (see OpenBao's `seal "awskms"`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsKmsSeal {
    /// AWS region of the key, for example "eu-west-1".
    #[schemars(length(min = 1))]
    pub region: String,
    /// KMS key ID or ARN.
    #[schemars(length(min = 1))]
    pub kms_key_id: String,
    /// Custom KMS endpoint (VPC endpoint or compatible service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// Google Cloud KMS seal options (see OpenBao's `seal "gcpckms"`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpCkmsSeal {
    /// GCP project ID.
    #[schemars(length(min = 1))]
    pub project: String,
    /// Location of the key ring, for example "global" or "europe-west1".
    #[schemars(length(min = 1))]
    pub region: String,
    /// Key ring name.
    #[schemars(length(min = 1))]
    pub key_ring: String,
    /// Crypto key name.
    #[schemars(length(min = 1))]
    pub crypto_key: String,
}

/// Azure Key Vault seal options (see OpenBao's `seal "azurekeyvault"`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzureKeyVaultSeal {
    /// Azure AD tenant ID.
    #[schemars(length(min = 1))]
    pub tenant_id: String,
    /// Key Vault name.
    #[schemars(length(min = 1))]
    pub vault_name: String,
    /// Key name.
    #[schemars(length(min = 1))]
    pub key_name: String,
    /// Azure environment (default "AZUREPUBLICCLOUD").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Client ID of the service principal; its secret comes from credentialsSecretRef
    /// (key AZURE_CLIENT_SECRET). Leave unset to use a managed identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// A reference to a Secret in the cluster's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
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

    /// Additional ingress rules (networking.k8s.io/v1 NetworkPolicyIngressRule), appended after
    /// the core rules. Additive: they cannot remove a core flow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_rules: Vec<NetworkPolicyIngressRule>,

    /// Additional egress rules (networking.k8s.io/v1 NetworkPolicyEgressRule), appended after
    /// the core rules, for example to reach an external KMS. Additive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress_rules: Vec<NetworkPolicyEgressRule>,
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
            ingress_rules: Vec::new(),
            egress_rules: Vec::new(),
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

/// Scheduled Raft snapshots.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupSpec {
    /// When to take a snapshot: a standard 5-field cron expression (minute hour day-of-month
    /// month day-of-week) in UTC, for example "0 */6 * * *".
    #[schemars(length(min = 6, max = 128))]
    pub schedule: String,
    /// Where snapshots are stored.
    pub target: BackupTarget,
    /// Which snapshots to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<BackupRetention>,
    /// When set, backup and restore Jobs may only reach DNS, this cluster's OpenBao pods on 8200,
    /// the API server and these destinations (for example your object storage endpoint).
    /// When unset, Job egress is not restricted, because object storage endpoints are arbitrary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_rules: Option<Vec<NetworkPolicyEgressRule>>,
}

/// Object storage for snapshots.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = Rule::new("self.provider == 'filesystem' || has(self.bucket)").message("spec.backup.target.bucket is required unless provider is filesystem"))]
pub struct BackupTarget {
    /// s3 (also S3-compatible stores), gcs, azure or filesystem (a path in the Job's volume).
    pub provider: BackupProvider,
    /// Endpoint URL for S3-compatible stores or Azure, for example "https://s3.eu-west-1.amazonaws.com".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Bucket (s3, gcs) or container (azure) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub bucket: Option<String>,
    /// Prefix for snapshot object names, for example "prod/openbao/".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub path_prefix: Option<String>,
    /// Region (s3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Secret with the store's credentials (for s3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
    /// Use path-style addressing (required by most S3-compatible servers).
    #[serde(default)]
    pub use_path_style: bool,
}

/// Object storage providers.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BackupProvider {
    /// Amazon S3 or an S3-compatible store.
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage.
    Azure,
    /// A filesystem path.
    Filesystem,
}

/// Snapshot retention. Snapshots beyond either limit are deleted after a successful backup.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupRetention {
    /// Keep at most this many snapshots (1 to 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_count: Option<i32>,
    /// Delete snapshots older than this duration, for example "168h".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$"))]
    pub max_age: Option<String>,
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

/// OpenBao server settings.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Configuration {
    /// Serve the web UI on the API listener.
    #[serde(default)]
    pub ui: bool,
    /// Server log level: trace, debug, info (default), warn or error.
    #[serde(default)]
    pub log_level: LogLevel,
    /// Raft tuning.
    #[serde(default)]
    pub raft: RaftConfiguration,
}

impl Default for Configuration {
    fn default() -> Self {
        Self {
            ui: false,
            log_level: LogLevel::Info,
            raft: RaftConfiguration::default(),
        }
    }
}

/// OpenBao log levels.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Most verbose.
    Trace,
    /// Debugging output.
    Debug,
    /// Normal operation.
    #[default]
    Info,
    /// Warnings and errors only.
    Warn,
    /// Errors only.
    Error,
}

impl LogLevel {
    /// The spelling OpenBao expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Raft storage tuning.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RaftConfiguration {
    /// Raft timing multiplier (1 to 10): 1 is the fastest elections and failover, suited to
    /// fast networks and tests; OpenBao's default (unset) is 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub performance_multiplier: Option<i32>,
}

impl OpenBaoClusterSpec {
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
