//! A cluster's desired objects, built purely: `(validated cluster, observed facts) -> desired
//! objects`. No client appears in any signature here; the reconciler and the `render` CLI both
//! call [`build`]. The operator's own install (its Deployment, RBAC, policies) is in
//! `crate::install`.
//!
//! Apply order (see [`ClusterResources::in_apply_order`]) puts the NetworkPolicies first so that
//! no OpenBao pod ever runs unprotected, and the StatefulSet last so that everything it mounts
//! or relies on already exists.

pub mod backend_tls;
pub mod config_hcl;
pub mod http_route;
pub mod ingress;
pub mod jobs;
pub mod meta;
pub mod network_policy;
pub mod pdb;
pub mod rbac;
mod seal_hcl;
pub use seal_hcl::unseal_key_secret_name;
pub mod self_init;
pub mod services;
pub mod statefulset;

use std::net::IpAddr;

use api::{OpenBaoCluster, ValidationErrors, names::ClusterNames};
use k8s_openapi::api::{
    apps::v1::StatefulSet,
    core::v1::{ConfigMap, PersistentVolumeClaim, Service, ServiceAccount},
    networking::v1::{Ingress, NetworkPolicy},
    policy::v1::PodDisruptionBudget,
    rbac::v1::RoleBinding,
};
use serde::Serialize;

pub use backend_tls::BackendTLSPolicy;
pub use http_route::HTTPRoute;

/// An `OpenBaoCluster` that passed [`api::validate`]; builders accept only this, so they never
/// re-check user input.
#[derive(Clone, Debug)]
pub struct ValidatedCluster {
    cluster: OpenBaoCluster,
    namespace: String,
    names: ClusterNames,
}

impl ValidatedCluster {
    /// Validate `cluster`; the namespace defaults to `default` as the API server would.
    pub fn new(cluster: OpenBaoCluster) -> Result<Self, ValidationErrors> {
        api::validate(&cluster)?;
        let namespace = cluster
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let names = ClusterNames::new(cluster.metadata.name.clone().unwrap_or_default());
        Ok(Self {
            cluster,
            namespace,
            names,
        })
    }

    /// The cluster object (for its spec and owner references).
    pub fn cluster(&self) -> &OpenBaoCluster {
        &self.cluster
    }

    /// The spec.
    pub fn spec(&self) -> &api::OpenBaoClusterSpec {
        &self.cluster.spec
    }

    /// The namespace everything is created in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Names of every owned object.
    pub fn names(&self) -> &ClusterNames {
        &self.names
    }
}

/// Facts about the environment that the builders need and cannot read from the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Namespace the operator runs in (peer of the operator ingress rule).
    pub operator_namespace: String,
    /// The `kubernetes` Service's ClusterIP, when known. `spec.network.apiServerCIDR` overrides it.
    pub api_server_ip: Option<IpAddr>,
    /// The cluster's CA certificate (PEM, public part only), once the secrets stage has read or
    /// created it: published for the Gateway's BackendTLSPolicy.
    pub ca_pem: Option<String>,
    /// What OpenBao must trust to verify the operator's tokens, when known: a self-initialized
    /// cluster is given it in its `initialize` blocks.
    pub operator_identity: Option<crate::identity::OperatorIdentity>,
}

impl Facts {
    /// Facts for an operator in `operator_namespace` that knows the API server VIP.
    pub fn new(operator_namespace: impl Into<String>, api_server_ip: Option<IpAddr>) -> Self {
        Self {
            operator_namespace: operator_namespace.into(),
            api_server_ip,
            ca_pem: None,
            operator_identity: None,
        }
    }

    /// These facts with the operator's identity known (or not).
    pub fn with_operator_identity(
        mut self,
        identity: Option<crate::identity::OperatorIdentity>,
    ) -> Self {
        self.operator_identity = identity;
        self
    }

    /// These facts with the cluster's CA certificate known.
    pub fn with_ca_pem(mut self, ca_pem: Option<String>) -> Self {
        self.ca_pem = ca_pem;
        self
    }
}

/// The CIDR the API-server egress rule allows: `spec.network.apiServerCIDR`, else the service VIP
/// as a single-address CIDR. `None` means unknown: callers must not create the StatefulSet and
/// must never substitute a wider rule.
pub fn api_server_cidr(cluster: &ValidatedCluster, facts: &Facts) -> Option<String> {
    if let Some(cidr) = &cluster.spec().network.api_server_cidr {
        return Some(cidr.clone());
    }
    facts.api_server_ip.map(|ip| single_address_cidr(&ip))
}

/// `ip` as a /32 (IPv4) or /128 (IPv6) CIDR.
pub fn single_address_cidr(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}/32"),
        IpAddr::V6(v6) => format!("{v6}/128"),
    }
}

/// Everything the operator creates for one cluster (Secrets excepted: their contents are
/// generated at run time by the reconciler). Destructured without `..` in
/// [`ClusterResources::in_apply_order`] so a new field cannot silently skip apply.
#[derive(Clone, Debug)]
pub struct ClusterResources {
    /// Default-deny policy around the OpenBao pods.
    pub network_policy: NetworkPolicy,
    /// Policy around backup/restore Job pods.
    pub jobs_network_policy: NetworkPolicy,
    /// Identity of the OpenBao pods.
    pub service_account: ServiceAccount,
    /// `<cluster>-backup`, the backup Jobs' ServiceAccount, while `spec.backup` logs in with a
    /// projected token.
    pub backup_service_account: Option<ServiceAccount>,
    /// Binds the pods' fixed ClusterRole ([`rbac::SERVER_CLUSTER_ROLE`]) to `service_account`
    /// in this namespace: peer discovery's and service registration's pod reads, and
    /// registration's label writes.
    pub registration_role_binding: RoleBinding,
    /// `config.hcl`.
    pub config_map: ConfigMap,
    /// Per-pod DNS names.
    pub headless_service: Service,
    /// Client entry point.
    pub client_service: Service,
    /// Keeps Raft quorum during voluntary disruptions.
    pub pdb: PodDisruptionBudget,
    /// Present when `spec.gateway.enabled`.
    pub http_route: Option<HTTPRoute>,
    /// The `spec.auditFileStorage` claim, in ManagedPVC mode; created once, never updated.
    pub audit_claim: Option<PersistentVolumeClaim>,
    /// The `spec.tls.acme.sharedCache` claim, in ManagedPVC mode; created once, never updated.
    pub acme_cache_claim: Option<PersistentVolumeClaim>,
    /// Present when the gateway is enabled and `spec.gateway.backendTLS` is not disabled.
    pub backend_tls_policy: Option<BackendTLSPolicy>,
    /// The CA certificate the BackendTLSPolicy trusts; present with the policy once the CA is
    /// known.
    pub ca_config_map: Option<ConfigMap>,
    /// Present when `spec.ingress.enabled`.
    pub ingress: Option<Ingress>,
    /// Absent while the API server address is unknown (the posture cannot be completed).
    pub statefulset: Option<StatefulSet>,
}

/// One desired object, typed, in apply order.
// The list is short-lived and holds each object once; boxing every variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Desired {
    /// A NetworkPolicy.
    NetworkPolicy(NetworkPolicy),
    /// A ServiceAccount.
    ServiceAccount(ServiceAccount),
    /// A RoleBinding.
    RoleBinding(RoleBinding),
    /// A ConfigMap.
    ConfigMap(ConfigMap),
    /// A Service.
    Service(Service),
    /// A PodDisruptionBudget.
    PodDisruptionBudget(PodDisruptionBudget),
    /// A Gateway API HTTPRoute.
    HTTPRoute(HTTPRoute),
    /// A PersistentVolumeClaim the operator creates (the audit volume).
    PersistentVolumeClaim(PersistentVolumeClaim),
    /// A Gateway API BackendTLSPolicy.
    BackendTLSPolicy(BackendTLSPolicy),
    /// An Ingress.
    Ingress(Ingress),
    /// The StatefulSet.
    StatefulSet(StatefulSet),
}

impl Desired {
    /// The apply wave of the object: every object of a wave is applied (in parallel) only after
    /// every object of the waves before it. NetworkPolicies first (no pod ever runs
    /// unprotected); then the independent children (the RoleBinding among them: it names a
    /// ClusterRole installed with the operator, which the operator may `bind`, so the API
    /// server's escalation check waits for nothing this pass creates); then what refers to one
    /// of those (the BackendTLSPolicy to the CA ConfigMap); the StatefulSet last, alone.
    pub fn wave(&self) -> usize {
        match self {
            Self::NetworkPolicy(_) => 0,
            Self::ServiceAccount(_)
            | Self::RoleBinding(_)
            | Self::ConfigMap(_)
            | Self::Service(_)
            | Self::PodDisruptionBudget(_)
            | Self::HTTPRoute(_)
            | Self::PersistentVolumeClaim(_)
            | Self::Ingress(_) => 1,
            Self::BackendTLSPolicy(_) => 2,
            Self::StatefulSet(_) => 3,
        }
    }

    /// The object as JSON (with apiVersion and kind).
    pub fn to_json(&self) -> serde_json::Value {
        fn value<T: Serialize>(object: &T) -> serde_json::Value {
            // Serializing k8s-openapi types into a Value cannot fail: they contain no maps
            // with non-string keys.
            serde_json::to_value(object).unwrap_or(serde_json::Value::Null)
        }
        match self {
            Self::NetworkPolicy(o) => value(o),
            Self::ServiceAccount(o) => value(o),
            Self::RoleBinding(o) => value(o),
            Self::ConfigMap(o) => value(o),
            Self::Service(o) => value(o),
            Self::PodDisruptionBudget(o) => value(o),
            Self::HTTPRoute(o) => value(o),
            Self::PersistentVolumeClaim(o) => value(o),
            Self::BackendTLSPolicy(o) => value(o),
            Self::Ingress(o) => value(o),
            Self::StatefulSet(o) => value(o),
        }
    }
}

impl ClusterResources {
    /// The objects in the order they are applied: NetworkPolicies first (no pod ever runs
    /// unprotected), then identity and RBAC, configuration, Services, the PDB, the CA
    /// ConfigMap before the BackendTLSPolicy that names it, the route, the Ingress and the audit
    /// claim, and the StatefulSet last.
    pub fn in_apply_order(&self) -> Vec<Desired> {
        let Self {
            network_policy,
            jobs_network_policy,
            service_account,
            backup_service_account,
            registration_role_binding,
            config_map,
            headless_service,
            client_service,
            pdb,
            http_route,
            audit_claim,
            acme_cache_claim,
            backend_tls_policy,
            ca_config_map,
            ingress,
            statefulset,
        } = self.clone();
        let mut out = vec![
            Desired::NetworkPolicy(network_policy),
            Desired::NetworkPolicy(jobs_network_policy),
            Desired::ServiceAccount(service_account),
        ];
        out.extend(backup_service_account.map(Desired::ServiceAccount));
        out.extend([
            Desired::RoleBinding(registration_role_binding),
            Desired::ConfigMap(config_map),
            Desired::Service(headless_service),
            Desired::Service(client_service),
            Desired::PodDisruptionBudget(pdb),
        ]);
        out.extend(ca_config_map.map(Desired::ConfigMap));
        out.extend(backend_tls_policy.map(Desired::BackendTLSPolicy));
        out.extend(http_route.map(Desired::HTTPRoute));
        out.extend(ingress.map(Desired::Ingress));
        // Before the StatefulSet that mounts it.
        out.extend(audit_claim.map(Desired::PersistentVolumeClaim));
        out.extend(acme_cache_claim.map(Desired::PersistentVolumeClaim));
        out.extend(statefulset.map(Desired::StatefulSet));
        out
    }

    /// The objects grouped by [`Desired::wave`], waves in order, each wave in apply order.
    pub fn in_waves(&self) -> Vec<Vec<Desired>> {
        let mut waves: Vec<Vec<Desired>> = Vec::new();
        for object in self.in_apply_order() {
            let wave = object.wave();
            if waves.len() <= wave {
                waves.resize_with(wave + 1, Vec::new);
            }
            waves[wave].push(object);
        }
        waves.retain(|wave| !wave.is_empty());
        waves
    }
}

/// Build every desired object for `cluster`.
pub fn build(cluster: &ValidatedCluster, facts: &Facts) -> ClusterResources {
    let api_server = api_server_cidr(cluster, facts);
    let config = config_hcl::render(cluster);
    let self_init = self_init::enabled(cluster)
        .then(|| self_init::render(cluster, facts.operator_identity.as_ref()));
    let config_map = config_hcl::config_map(cluster, &config, self_init);
    // A cluster that initializes itself without the operator's identity would lock the
    // operator out for good: its pods wait until the identity is known.
    let identity_ready = !self_init::bootstrapping(cluster) || facts.operator_identity.is_some();
    ClusterResources {
        network_policy: network_policy::cluster_policy(cluster, facts, api_server.as_deref()),
        jobs_network_policy: network_policy::jobs_policy(cluster, api_server.as_deref()),
        service_account: rbac::service_account(cluster),
        backup_service_account: jobs::backup_uses_projected_token(cluster)
            .then(|| jobs::backup_service_account(cluster)),
        registration_role_binding: rbac::registration_role_binding(cluster),
        config_map,
        headless_service: services::headless(cluster),
        client_service: services::client(cluster),
        pdb: pdb::pod_disruption_budget(cluster),
        http_route: http_route::http_route(cluster),
        audit_claim: statefulset::audit_claim(cluster),
        acme_cache_claim: statefulset::acme_cache_claim(cluster),
        backend_tls_policy: backend_tls::backend_tls_policy(cluster),
        ca_config_map: backend_tls::ca_config_map(cluster, facts),
        ingress: ingress::ingress(cluster),
        statefulset: api_server
            .as_ref()
            .filter(|_| identity_ready)
            .map(|_| statefulset::statefulset(cluster, &config)),
    }
}
