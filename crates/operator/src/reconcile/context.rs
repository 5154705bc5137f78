//! What every reconcile shares: how the operator runs, the child caches, the client, the
//! Event recorder, metrics, and the work that must outlive a pass.

use std::sync::Arc;

use k8s_openapi::api::{
    apps::v1::StatefulSet,
    batch::v1::Job,
    core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount},
    networking::v1::{Ingress, NetworkPolicy},
    policy::v1::PodDisruptionBudget,
    rbac::v1::{Role, RoleBinding},
};
use kube::{
    Client, ResourceExt,
    core::PartialObjectMeta,
    runtime::{
        events::Recorder,
        reflector::{ObjectRef, Store},
    },
};

use crate::{
    desired::{BackendTLSPolicy, HTTPRoute},
    telemetry::{Metrics, metrics::CategoryLabel},
};

use super::critical;

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Namespace the operator runs in (peer of the OpenBao ingress rule).
    pub operator_namespace: String,
    /// Only reconcile clusters in this namespace (all namespaces when `None`).
    pub watch_namespace: Option<String>,
    /// The operator's own ServiceAccount (in `operator_namespace`): its identity in OpenBao.
    pub service_account: String,
    /// The image backup and restore Jobs run (the operator's own, unless `spec.backup.image`
    /// names another).
    pub job_image: String,
    /// How often a steady cluster is looked at when nothing wakes it (spread by a jitter).
    pub health_check_interval: std::time::Duration,
    /// How many clusters are reconciled at once (per controller, that is per watched scope).
    pub max_concurrent_reconciles: u16,
}

/// Reflector stores of the children, used to skip writes when nothing drifted. Bodies are
/// cached for the kinds the operator applies; Secrets are watched by metadata only, so no
/// Secret content is ever held in memory beyond a single reconcile (their `resourceVersion`s
/// tell a pass whether what it learnt from a body last time still holds).
#[derive(Clone)]
pub struct Stores {
    /// StatefulSets.
    pub statefulsets: Store<StatefulSet>,
    /// Services.
    pub services: Store<Service>,
    /// ConfigMaps.
    pub config_maps: Store<ConfigMap>,
    /// NetworkPolicies.
    pub network_policies: Store<NetworkPolicy>,
    /// PodDisruptionBudgets.
    pub pdbs: Store<PodDisruptionBudget>,
    /// ServiceAccounts.
    pub service_accounts: Store<ServiceAccount>,
    /// Roles.
    pub roles: Store<Role>,
    /// RoleBindings.
    pub role_bindings: Store<RoleBinding>,
    /// HTTPRoutes, when the Gateway API is installed.
    pub http_routes: Option<Store<HTTPRoute>>,
    /// BackendTLSPolicies, when the Gateway API serves them (`v1`, Gateway API 1.4 and later).
    pub backend_tls_policies: Option<Store<BackendTLSPolicy>>,
    /// Ingresses.
    pub ingresses: Store<Ingress>,
    /// Pods of the clusters' StatefulSets (member addresses, and deletion waits for them).
    pub pods: Store<Pod>,
    /// Backup and restore Jobs (their completion wakes the cluster's reconcile).
    pub jobs: Store<Job>,
    /// Every NetworkPolicy of the watched namespaces, whoever owns it: the posture audit
    /// proves them all (`posture`). Never written to, never compared by the apply stage.
    pub all_network_policies: Store<NetworkPolicy>,
    /// The operator's Secrets (labelled with a cluster), metadata only.
    pub secrets: Store<PartialObjectMeta<Secret>>,
    /// The clusters' PersistentVolumeClaims (labelled with a cluster: the members' data claims
    /// and the claims the operator creates), metadata only.
    pub claims: Store<PartialObjectMeta<PersistentVolumeClaim>>,
}

/// Shared state of every reconcile.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// How the operator runs.
    pub config: Config,
    /// Kubernetes Events.
    pub recorder: Recorder,
    /// Child caches.
    pub stores: Stores,
    /// Whether the Gateway API (HTTPRoute) is served.
    pub gateway_api: bool,
    /// Whether the Gateway API's BackendTLSPolicy (`v1`) is served.
    pub backend_tls_api: bool,
    /// The `kubernetes` Service address, looked up once.
    pub api_server_ip: tokio::sync::OnceCell<Option<std::net::IpAddr>>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Last phase reported per cluster (`namespace/name`), for the clusters-by-phase gauge.
    pub(super) phases: std::sync::Mutex<std::collections::HashMap<String, api::Phase>>,
    /// Work that must finish before the process may exit (initialization and storing its keys).
    pub critical: Arc<critical::CriticalWork>,
    /// Init responses whose keys could not be stored yet (`namespace/name`): held in memory
    /// only, and stored on the next pass.
    pub pending_keys: std::sync::Mutex<std::collections::HashMap<String, bao_client::InitResponse>>,
    /// The operator's identity in OpenBao and its tokens there.
    pub session: crate::identity::session::Session,
    /// The last posture proof of each cluster (`namespace/name`), kept while its inputs stand.
    pub posture: std::sync::Mutex<std::collections::HashMap<String, super::posture::Memo>>,
    /// What the secrets stage last derived for each cluster (`namespace/name`), kept while the
    /// Secrets it read keep their `resourceVersion`s (no key material in it).
    pub secrets_memo: std::sync::Mutex<std::collections::HashMap<String, super::secrets::Memo>>,
    /// Permits for objects applied at once across all clusters
    /// ([`super::apply::GLOBAL_PARALLELISM`]).
    pub write_budget: tokio::sync::Semaphore,
    /// Consecutive passes per cluster (`namespace/name`) that left its status as it was: the
    /// exponent of the backoff while it waits on OpenBao.
    pub unchanged_passes: std::sync::Mutex<std::collections::HashMap<String, u32>>,
    /// The `resourceVersion` of each cluster's key-store Secret (`namespace/name`) when it was
    /// last read holding stored keys: while the cache shows that version, it still does.
    pub stored_keys_at: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl Context {
    /// The `resourceVersion` the metadata cache holds for Secret `namespace/name` (`None`: not
    /// cached, which says nothing about whether it exists: only labelled Secrets are watched).
    pub fn cached_secret_version(&self, namespace: &str, name: &str) -> Option<String> {
        self.stores
            .secrets
            .get(&ObjectRef::new(name).within(namespace))
            .and_then(|meta| meta.metadata.resource_version.clone())
    }

    /// Count a pass over `key` (`namespace/name`) that `changed` its status or not; returns
    /// how many passes in a row changed nothing, this one included.
    pub fn count_unchanged(&self, key: &str, changed: bool) -> u32 {
        let Ok(mut counts) = self.unchanged_passes.lock() else {
            return 0;
        };
        let count = counts.entry(key.to_string()).or_insert(0);
        *count = if changed { 0 } else { count.saturating_add(1) };
        *count
    }

    /// Forget what was kept about `key` (`namespace/name`): the cluster is gone.
    pub fn forget_cluster(&self, key: &str) {
        if let Ok(mut counts) = self.unchanged_passes.lock() {
            counts.remove(key);
        }
        if let Ok(mut memos) = self.secrets_memo.lock() {
            memos.remove(key);
        }
        if let Ok(mut stored) = self.stored_keys_at.lock() {
            stored.remove(key);
        }
    }

    /// Cached pods in `namespace` that carry every label of `selector` (the cache holds only the
    /// clusters' own pods; see `watch`).
    pub fn pods_matching(
        &self,
        namespace: &str,
        selector: &std::collections::BTreeMap<String, String>,
    ) -> Vec<Arc<Pod>> {
        self.stores
            .pods
            .state()
            .into_iter()
            .filter(|pod| pod.namespace().as_deref() == Some(namespace))
            .filter(|pod| selector.iter().all(|(k, v)| pod.labels().get(k) == Some(v)))
            .collect()
    }

    /// Record `cluster`'s phase in the clusters-by-phase gauge (`None`: the cluster is gone).
    pub fn record_phase(&self, key: String, phase: Option<api::Phase>) {
        let Ok(mut phases) = self.phases.lock() else {
            return;
        };
        let gauge = |phase: api::Phase| {
            self.metrics
                .clusters_by_phase
                .get_or_create(&CategoryLabel {
                    category: phase.as_str().to_string(),
                })
        };
        let previous = match phase {
            Some(phase) => phases.insert(key, phase),
            None => phases.remove(&key),
        };
        if previous == phase {
            return;
        }
        if let Some(previous) = previous {
            gauge(previous).dec();
        }
        if let Some(phase) = phase {
            gauge(phase).inc();
        }
    }
}
