//! Every object name, label and well-known port the operator uses, defined once.
//!
//! Nothing else formats an object name: builders, the reconciler and tests all ask here, so a
//! rename is one edit and a test can predict every name from the cluster's name alone.

use std::collections::BTreeMap;

/// The operator's field manager for server-side apply and its `managed-by` label value.
pub const MANAGER: &str = "openbao-operator";
/// Maximum length of an OpenBaoCluster name. Derived names must stay within Kubernetes limits:
/// StatefulSet pods carry the label `controller-revision-hash=<name>-<10 chars>` (63 at most),
/// and backup Jobs are named `<name>-backup-<10-digit timestamp>`, a value of the Job pods'
/// `job-name` label (63 at most). 40 leaves room for both with a margin for future suffixes.
pub const MAX_CLUSTER_NAME_LEN: usize = 40;

/// OpenBao's API listener port.
pub const API_PORT: i32 = 8200;
/// OpenBao's cluster (Raft and request forwarding) listener port.
pub const CLUSTER_PORT: i32 = 8201;
/// The Kubernetes API service port.
pub const KUBE_API_SERVICE_PORT: i32 = 443;
/// The Kubernetes API server's port behind the service (post-DNAT).
pub const KUBE_API_ENDPOINT_PORT: i32 = 6443;
/// DNS.
pub const DNS_PORT: i32 = 53;

/// `app.kubernetes.io/name`.
pub const LABEL_NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/instance`.
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
/// `app.kubernetes.io/managed-by`.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// `app.kubernetes.io/component`.
pub const LABEL_APP_COMPONENT: &str = "app.kubernetes.io/component";
/// `openbao.org/cluster`.
pub const LABEL_CLUSTER: &str = "openbao.org/cluster";
/// `openbao.org/component`: `backup` or `restore` on Job pods.
pub const LABEL_COMPONENT: &str = "openbao.org/component";
/// `kubernetes.io/metadata.name`, set by the API server on every namespace.
pub const LABEL_NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";
/// Value of `app.kubernetes.io/name` on OpenBao objects.
pub const APP_NAME: &str = "openbao";
/// Value of `app.kubernetes.io/name` on the operator's pods.
pub const OPERATOR_APP_NAME: &str = "openbao-operator";
/// Value of `app.kubernetes.io/component` on the operator's pods.
pub const OPERATOR_COMPONENT: &str = "controller";
/// Value of `app.kubernetes.io/component` on OpenBao server pods.
pub const SERVER_COMPONENT: &str = "server";
/// `openbao.org/component` value on backup Job pods.
pub const COMPONENT_BACKUP: &str = "backup";
/// `openbao.org/component` value on restore Job pods.
pub const COMPONENT_RESTORE: &str = "restore";
/// Pod-template annotation carrying the hash of everything that must restart pods when it changes.
pub const ANNOTATION_CONFIG_HASH: &str = "openbao.org/config-hash";
/// Annotation on an `OpenBaoCluster` (upstream's): a new value starts one backup Job as soon as
/// none runs, for example `kubectl annotate openbaocluster bao openbao.org/trigger-backup="$(date +%s)" --overwrite`.
pub const ANNOTATION_TRIGGER_BACKUP: &str = "openbao.org/trigger-backup";
/// Annotation on an `OpenBaoCluster` while a long operation holds it, `Restore/<restore name>`:
/// written only by the restore controller; the cluster's reconciler then leaves the StatefulSet
/// as it is and starts no backup, and mirrors it as `status.operationLock`.
pub const ANNOTATION_OPERATION_LOCK: &str = "openbao.org/operation-lock";
/// Annotation on every applied object: the hash of what the operator last applied (so a field
/// removed from the desired object is still seen as drift).
pub const ANNOTATION_APPLIED_HASH: &str = "openbao.org/applied-hash";
/// Annotation on a serving certificate Secret: fingerprint of the names it was issued for.
pub const ANNOTATION_SANS: &str = "openbao.org/sans";
/// Annotation on the server certificate Secret: start of its validity (RFC 3339).
pub const ANNOTATION_NOT_BEFORE: &str = "openbao.org/not-before";
/// Annotation on the server certificate Secret: end of its validity (RFC 3339).
pub const ANNOTATION_NOT_AFTER: &str = "openbao.org/not-after";
/// Annotation on the root-token Secret: `pending` (placeholder), `complete`, or
/// [`INIT_STATE_ROOT_TOKEN_REVOKED`].
pub const ANNOTATION_INIT_STATE: &str = "openbao.org/initialization";
/// [`ANNOTATION_INIT_STATE`] once the operator revoked the root token and removed it from the
/// Secret (the recovery keys stay).
pub const INIT_STATE_ROOT_TOKEN_REVOKED: &str = "root-token-revoked";
/// Annotation on the StatefulSet and pod template while `spec.maintenance.enabled`: `"true"`,
/// for other tooling (upstream's marker).
pub const ANNOTATION_MAINTENANCE: &str = "openbao.org/maintenance";
/// Pod-template annotation carrying `spec.runtime.restartAt`: a new value rolls the pods.
pub const ANNOTATION_RESTART_AT: &str = "openbao.org/restart-at";

/// Data keys of the Secrets the operator writes or reads.
pub mod secret_keys {
    /// CA certificate (CA Secret, server certificate Secret, External TLS Secret).
    pub const CA_CERT: &str = "ca.crt";
    /// CA private key.
    pub const CA_KEY: &str = "ca.key";
    /// Serving certificate.
    pub const TLS_CERT: &str = "tls.crt";
    /// Serving private key.
    pub const TLS_KEY: &str = "tls.key";
    /// The root token in the root-token Secret.
    pub const ROOT_TOKEN: &str = "root-token";
}
/// Paths inside the OpenBao container that users name in the spec (so validation can check
/// that a path they give exists in the pod).
pub mod paths {
    /// Where a seal's credentials Secret is mounted (non-static seals).
    pub const SEAL_CREDENTIALS_DIR: &str = "/etc/bao/seal-creds";
    /// Where `spec.tls.acme.caSecretName` is mounted (its `ca.crt`).
    pub const ACME_CA_DIR: &str = "/etc/bao/acme-ca";
    /// Where `spec.tls.acme.sharedCache` is mounted; OpenBao's ACME cache then lives there.
    pub const ACME_SHARED_CACHE_DIR: &str = "/openbao/acme-cache";
    /// OpenBao's ACME cache without a shared cache: on each pod's own data volume, so a
    /// restarted pod keeps its account and certificate.
    pub const ACME_CACHE_ON_DATA_DIR: &str = "/openbao/data/acme";
    /// Key (and file name) of the private ACME issuer's root in the seal credentials Secret,
    /// upstream's convention next to `spec.configuration.acmeCARoot`.
    pub const ACME_PKI_CA_KEY: &str = "pki-ca.crt";
}

/// The finalizer the operator puts on every OpenBaoCluster.
pub const FINALIZER: &str = "openbao.org/cleanup";
/// Default namespace of the operator.
pub const DEFAULT_OPERATOR_NAMESPACE: &str = "openbao-operator-system";

/// Names of the objects owned by one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterNames {
    cluster: String,
}

impl ClusterNames {
    /// Names for the cluster called `cluster`.
    pub fn new(cluster: impl Into<String>) -> Self {
        Self {
            cluster: cluster.into(),
        }
    }

    /// The cluster's own name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// StatefulSet (and pod name prefix).
    pub fn statefulset(&self) -> String {
        self.cluster.clone()
    }

    /// Pod `ordinal` of the StatefulSet.
    pub fn pod(&self, ordinal: i32) -> String {
        format!("{}-{ordinal}", self.cluster)
    }

    /// Headless Service that gives each pod its DNS name.
    pub fn headless_service(&self) -> String {
        format!("{}-internal", self.cluster)
    }

    /// Client Service.
    pub fn client_service(&self) -> String {
        self.cluster.clone()
    }

    /// ConfigMap holding `config.hcl`.
    pub fn config_map(&self) -> String {
        format!("{}-config", self.cluster)
    }

    /// ServiceAccount of the OpenBao pods.
    pub fn service_account(&self) -> String {
        self.cluster.clone()
    }

    /// Role (and RoleBinding) earlier operator versions made for the pods' reads; the operator
    /// now only removes them (the pods' fixed ClusterRole grants those reads).
    pub fn role(&self) -> String {
        format!("{}-discovery", self.cluster)
    }

    /// PodDisruptionBudget.
    pub fn pdb(&self) -> String {
        self.cluster.clone()
    }

    /// The OpenBao pods' NetworkPolicy.
    pub fn network_policy(&self) -> String {
        format!("{}-network-policy", self.cluster)
    }

    /// The backup/restore Job pods' NetworkPolicy.
    pub fn jobs_network_policy(&self) -> String {
        format!("{}-jobs-network-policy", self.cluster)
    }

    /// HTTPRoute.
    pub fn http_route(&self) -> String {
        self.cluster.clone()
    }

    /// Ingress (`spec.ingress`), named after the cluster as upstream names it.
    pub fn ingress(&self) -> String {
        self.cluster.clone()
    }

    /// BackendTLSPolicy (`spec.gateway.backendTLS`), upstream's name.
    pub fn backend_tls_policy(&self) -> String {
        format!("{}-backend-tls-policy", self.cluster)
    }

    /// ConfigMap publishing the CA certificate (`ca.crt`, public part only) that the
    /// BackendTLSPolicy trusts; upstream's name, the same as the CA Secret's.
    pub fn ca_config_map(&self) -> String {
        format!("{}-tls-ca", self.cluster)
    }

    /// Secret with the operator-managed CA (`ca.crt`, `ca.key`).
    pub fn ca_secret(&self) -> String {
        format!("{}-tls-ca", self.cluster)
    }

    /// Secret with the server certificate (`tls.crt`, `tls.key`, `ca.crt`): written by the
    /// operator in OperatorManaged mode, by the user in External mode (upstream's name).
    pub fn server_tls_secret(&self) -> String {
        format!("{}-tls-server", self.cluster)
    }

    /// The Secret the pods mount for `tls`: `externalSecretName` in External mode when set,
    /// else [`Self::server_tls_secret`].
    pub fn tls_secret(&self, tls: &crate::spec::TlsSpec) -> String {
        match (&tls.mode, &tls.external_secret_name) {
            (crate::spec::TlsMode::External, Some(name)) => name.clone(),
            _ => self.server_tls_secret(),
        }
    }

    /// The ReadWriteMany claim of `spec.auditFileStorage` in ManagedPVC mode (upstream's name).
    pub fn audit_claim(&self) -> String {
        format!("{}-audit", self.cluster)
    }

    /// The ReadWriteMany claim of `spec.tls.acme.sharedCache` in ManagedPVC mode.
    pub fn acme_cache_claim(&self) -> String {
        format!("{}-acme-cache", self.cluster)
    }

    /// Secret with the static unseal key.
    pub fn unseal_key_secret(&self) -> String {
        format!("{}-unseal-key", self.cluster)
    }

    /// Secret with the root token and recovery keys.
    pub fn root_token_secret(&self) -> String {
        format!("{}-root-token", self.cluster)
    }

    /// DNS name of pod `ordinal` inside the cluster (`<pod>.<headless>.<ns>.svc`).
    pub fn pod_dns(&self, ordinal: i32, namespace: &str) -> String {
        format!(
            "{}.{}.{namespace}.svc",
            self.pod(ordinal),
            self.headless_service()
        )
    }

    /// Labels on every object of this cluster (and the selector of its policies).
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (LABEL_NAME.to_string(), APP_NAME.to_string()),
            (LABEL_INSTANCE.to_string(), self.cluster.clone()),
            (LABEL_MANAGED_BY.to_string(), MANAGER.to_string()),
            (LABEL_CLUSTER.to_string(), self.cluster.clone()),
        ])
    }

    /// The subset of labels that identifies this cluster's pods (selectors).
    pub fn selector_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (LABEL_NAME.to_string(), APP_NAME.to_string()),
            (LABEL_INSTANCE.to_string(), self.cluster.clone()),
            (LABEL_CLUSTER.to_string(), self.cluster.clone()),
        ])
    }

    /// Labels of the OpenBao server pods: the cluster's labels plus
    /// `app.kubernetes.io/component=server`, which Service and StatefulSet selectors use so that
    /// they never pick up backup/restore Job pods (equality-based Service selectors cannot say
    /// "not a Job").
    pub fn server_pod_labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.labels();
        labels.insert(
            LABEL_APP_COMPONENT.to_string(),
            SERVER_COMPONENT.to_string(),
        );
        labels
    }

    /// Selector of the server pods for Services and the StatefulSet.
    pub fn server_selector_labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.selector_labels();
        labels.insert(
            LABEL_APP_COMPONENT.to_string(),
            SERVER_COMPONENT.to_string(),
        );
        labels
    }

    /// A backup Job: `<cluster>-backup-<unix seconds>` of the schedule's firing or the manual
    /// trigger it runs for (10 digits until the year 2286).
    pub fn backup_job(&self, unix_seconds: i64) -> String {
        format!("{}-backup-{unix_seconds:010}", self.cluster)
    }

    /// Labels of backup (`COMPONENT_BACKUP`) or restore Job pods.
    pub fn job_labels(&self, component: &str) -> BTreeMap<String, String> {
        let mut labels = self.labels();
        labels.insert(LABEL_COMPONENT.to_string(), component.to_string());
        labels
    }

    /// RoleBinding that grants the pods' ServiceAccount the operator's fixed service-registration
    /// ClusterRole (pod label writes), in the cluster's namespace only.
    pub fn registration_role_binding(&self) -> String {
        format!("{}-registration", self.cluster)
    }
}

/// The kind of an object the operator creates for a cluster, spelt as Kubernetes spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `v1` Service.
    Service,
    /// `v1` ConfigMap.
    ConfigMap,
    /// `v1` ServiceAccount.
    ServiceAccount,
    /// `rbac.authorization.k8s.io/v1` Role.
    Role,
    /// `rbac.authorization.k8s.io/v1` RoleBinding.
    RoleBinding,
    /// `policy/v1` PodDisruptionBudget.
    PodDisruptionBudget,
    /// `networking.k8s.io/v1` NetworkPolicy.
    NetworkPolicy,
    /// `gateway.networking.k8s.io/v1` HTTPRoute.
    HTTPRoute,
    /// `gateway.networking.k8s.io/v1` BackendTLSPolicy.
    BackendTLSPolicy,
    /// `networking.k8s.io/v1` Ingress.
    Ingress,
    /// `v1` Secret.
    Secret,
    /// `v1` PersistentVolumeClaim.
    PersistentVolumeClaim,
}

impl ObjectKind {
    /// The Kubernetes `kind`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::StatefulSet => "StatefulSet",
            Self::Service => "Service",
            Self::ConfigMap => "ConfigMap",
            Self::ServiceAccount => "ServiceAccount",
            Self::Role => "Role",
            Self::RoleBinding => "RoleBinding",
            Self::PodDisruptionBudget => "PodDisruptionBudget",
            Self::NetworkPolicy => "NetworkPolicy",
            Self::HTTPRoute => "HTTPRoute",
            Self::BackendTLSPolicy => "BackendTLSPolicy",
            Self::Ingress => "Ingress",
            Self::Secret => "Secret",
            Self::PersistentVolumeClaim => "PersistentVolumeClaim",
        }
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ClusterNames {
    /// Every `(kind, name)` the operator may create or remove for this cluster in its namespace
    /// (the `<cluster>-discovery` Role and RoleBinding of earlier versions are removed), whatever
    /// the spec: optional objects (the HTTPRoute, the BackendTLSPolicy and its CA ConfigMap, the
    /// Ingress, the operator-managed TLS Secrets, the static unseal key, the audit claim) are
    /// listed too, because a spec can turn them on after the cluster exists.
    ///
    /// Objects Kubernetes derives from these are left out on purpose: pods are
    /// `<statefulset>-<ordinal>` and claims `data-<pod>`, which cannot collide across clusters
    /// because an ordinal is all digits; Endpoints and EndpointSlices follow their Service.
    pub fn derived_objects(&self) -> Vec<(ObjectKind, String)> {
        vec![
            (ObjectKind::StatefulSet, self.statefulset()),
            (ObjectKind::Service, self.client_service()),
            (ObjectKind::Service, self.headless_service()),
            (ObjectKind::ConfigMap, self.config_map()),
            (ObjectKind::ServiceAccount, self.service_account()),
            // Removed when found (earlier versions made them): still the cluster's names.
            (ObjectKind::Role, self.role()),
            (ObjectKind::RoleBinding, self.role()),
            (ObjectKind::RoleBinding, self.registration_role_binding()),
            (ObjectKind::PodDisruptionBudget, self.pdb()),
            (ObjectKind::NetworkPolicy, self.network_policy()),
            (ObjectKind::NetworkPolicy, self.jobs_network_policy()),
            (ObjectKind::HTTPRoute, self.http_route()),
            (ObjectKind::BackendTLSPolicy, self.backend_tls_policy()),
            (ObjectKind::ConfigMap, self.ca_config_map()),
            (ObjectKind::Ingress, self.ingress()),
            (ObjectKind::Secret, self.ca_secret()),
            (ObjectKind::Secret, self.server_tls_secret()),
            (ObjectKind::Secret, self.unseal_key_secret()),
            (ObjectKind::Secret, self.root_token_secret()),
            (ObjectKind::PersistentVolumeClaim, self.audit_claim()),
            (ObjectKind::PersistentVolumeClaim, self.acme_cache_claim()),
        ]
    }
}

/// The `(kind, name)` pairs that clusters `a` and `b` (in one namespace) would both create, in
/// `a`'s order. Two clusters that share one is a security bug, not a cosmetic one: cluster
/// `x`'s Job policy `x-jobs-network-policy` is the main policy of a cluster named `x-jobs`, so
/// each reconcile would overwrite the other's posture.
pub fn collisions(a: &ClusterNames, b: &ClusterNames) -> Vec<(ObjectKind, String)> {
    let theirs: std::collections::BTreeSet<(ObjectKind, String)> =
        b.derived_objects().into_iter().collect();
    a.derived_objects()
        .into_iter()
        .filter(|object| theirs.contains(object))
        .collect()
}

/// `labels` as a Kubernetes equality label selector (`k1=v1,k2=v2`, sorted by key), for list
/// calls and go-discover's `label_selector`.
pub fn selector_string(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Labels on the operator's own pods.
pub fn operator_pod_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), OPERATOR_APP_NAME.to_string()),
        (
            LABEL_APP_COMPONENT.to_string(),
            OPERATOR_COMPONENT.to_string(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_derived_name_of_a_maximal_cluster_name_fits_kubernetes_limits() {
        let name = "a".repeat(MAX_CLUSTER_NAME_LEN);
        let names = ClusterNames::new(&name);
        // Pod names and label values are limited to 63; the StatefulSet's revision label adds 11.
        assert!(names.statefulset().len() + 11 <= 63);
        assert!(names.pod(8).len() <= 63);
        assert!(names.headless_service().len() <= 63);
        assert!(names.client_service().len() <= 63);
        // Backup Jobs: `<name>-backup-<10 digits>` is a label value on their pods.
        assert!(format!("{name}-backup-1234567890").len() <= 63);
        for secret in [
            names.ca_secret(),
            names.server_tls_secret(),
            names.unseal_key_secret(),
            names.root_token_secret(),
            names.jobs_network_policy(),
            names.backend_tls_policy(),
            names.ca_config_map(),
        ] {
            assert!(secret.len() <= 253);
        }
    }

    #[test]
    fn one_cluster_never_derives_the_same_kind_and_name_twice() {
        let objects = ClusterNames::new("x").derived_objects();
        let distinct: std::collections::BTreeSet<_> = objects.iter().collect();
        assert_eq!(distinct.len(), objects.len(), "{objects:?}");
    }

    #[test]
    fn a_cluster_named_after_another_clusters_jobs_policy_or_headless_service_collides() {
        let x = ClusterNames::new("x");
        assert_eq!(
            collisions(&x, &ClusterNames::new("x-jobs")),
            vec![(
                ObjectKind::NetworkPolicy,
                "x-jobs-network-policy".to_string()
            )]
        );
        assert_eq!(
            collisions(&ClusterNames::new("x-internal"), &x),
            vec![(ObjectKind::Service, "x-internal".to_string())]
        );
    }

    #[test]
    fn clusters_whose_names_only_share_a_prefix_do_not_collide() {
        let x = ClusterNames::new("x");
        for other in [
            "y",
            "x-tls",
            "x-config",
            "x-discovery",
            "x-unseal",
            "x-root",
            "x-0",
            "xx",
        ] {
            assert_eq!(collisions(&x, &ClusterNames::new(other)), vec![], "{other}");
            assert_eq!(collisions(&ClusterNames::new(other), &x), vec![], "{other}");
        }
    }
}
