//! The operator's Prometheus metrics, registered once and shared by the reconciler, the
//! lifecycle stage and the admission webhook. Names carry the `openbao_operator_` prefix.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Label set with one `category` (error category, outcome, phase, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CategoryLabel {
    /// The category.
    pub category: String,
}

/// Label set of webhook requests.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// The kind admitted: `OpenBaoCluster`, `OpenBaoRestore` or `OpenBaoTenant`.
    pub kind: String,
    /// `CREATE` or `UPDATE`.
    pub operation: String,
    /// `allowed` or `denied`.
    pub result: String,
}

/// Label set of the cache gauge: the Kubernetes kind a store holds.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// `ConfigMap`, `Pod`, `StatefulSet`, ...
    pub kind: String,
}

/// Label set of the requeue counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Why the cluster is looked at again.
    pub reason: String,
}

/// Label set of per-cluster gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    /// The cluster's namespace.
    pub namespace: String,
    /// The cluster's name.
    pub cluster: String,
}

/// Every metric the operator exports.
pub struct Metrics {
    registry: Registry,
    /// Reconcile passes started.
    pub reconciles: Counter,
    /// Failed passes by error category.
    pub reconcile_errors: Family<CategoryLabel, Counter>,
    /// Duration of reconcile passes (seconds).
    pub reconcile_duration: Histogram,
    /// Write requests the apply stage sent.
    pub apply_writes: Counter,
    /// Clusters per phase.
    pub clusters_by_phase: Family<CategoryLabel, Gauge>,
    /// Initialization outcomes (`initialized`, `failed`, `keys_lost`).
    pub initializations: Family<CategoryLabel, Counter>,
    /// Admission webhook requests.
    pub webhook_requests: Family<WebhookLabels, Counter>,
    /// Objects held in the controller's cache, per kind. Only objects an `OpenBaoCluster`
    /// controls (and the pods of its StatefulSet) are cached, so this follows the number of
    /// clusters, whatever else carries the operator's labels.
    pub cached_objects: Family<KindLabel, Gauge>,
    /// Backup Jobs started, by trigger (`scheduled`, `manual`).
    pub backup_jobs_started: Family<CategoryLabel, Counter>,
    /// Backup outcomes recorded (`succeeded`, `failed`).
    pub backups: Family<CategoryLabel, Counter>,
    /// Flows of a cluster's live posture that break its contract (0 when proven).
    pub posture_violations: Family<ClusterLabels, Gauge>,
    /// Passes that asked to be run again after a delay, by reason (`health-check`, `openbao`,
    /// `kubernetes`, `blocked`, `rollout`, `certificate-renewal`, `backup-schedule`, `waiting`,
    /// `error`).
    pub requeues: Family<ReasonLabel, Counter>,
    passes: AtomicU64,
    busy_micros: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("openbao_operator");
        let reconciles = Counter::default();
        registry.register("reconciles", "Reconcile passes started", reconciles.clone());
        let reconcile_errors = Family::<CategoryLabel, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Failed reconcile passes by error category",
            reconcile_errors.clone(),
        );
        let reconcile_duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        registry.register(
            "reconcile_duration_seconds",
            "Duration of reconcile passes",
            reconcile_duration.clone(),
        );
        let apply_writes = Counter::default();
        registry.register(
            "apply_writes",
            "Write requests sent by the apply stage",
            apply_writes.clone(),
        );
        let clusters_by_phase = Family::<CategoryLabel, Gauge>::default();
        registry.register(
            "clusters",
            "OpenBaoClusters by phase",
            clusters_by_phase.clone(),
        );
        let initializations = Family::<CategoryLabel, Counter>::default();
        registry.register(
            "initializations",
            "OpenBao initialization outcomes",
            initializations.clone(),
        );
        let webhook_requests = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhook_requests",
            "Admission webhook requests by operation and result",
            webhook_requests.clone(),
        );
        let cached_objects = Family::<KindLabel, Gauge>::default();
        registry.register(
            "cached_objects",
            "Objects in the controller's cache by kind",
            cached_objects.clone(),
        );
        let backup_jobs_started = Family::<CategoryLabel, Counter>::default();
        registry.register(
            "backup_jobs_started",
            "Backup Jobs started by trigger (scheduled or manual)",
            backup_jobs_started.clone(),
        );
        let backups = Family::<CategoryLabel, Counter>::default();
        registry.register(
            "backups",
            "Backup outcomes recorded (succeeded or failed)",
            backups.clone(),
        );
        let posture_violations = Family::<ClusterLabels, Gauge>::default();
        registry.register(
            "posture_violations",
            "Flows of the cluster's live network posture that break its contract",
            posture_violations.clone(),
        );
        let requeues = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "requeues",
            "Reconcile passes that asked to run again after a delay, by reason",
            requeues.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            apply_writes,
            clusters_by_phase,
            initializations,
            webhook_requests,
            cached_objects,
            backup_jobs_started,
            backups,
            posture_violations,
            requeues,
            passes: AtomicU64::new(0),
            busy_micros: AtomicU64::new(0),
        }
    }

    /// Count a pass that finished (successfully or not) after `seconds`.
    pub fn pass_finished(&self, seconds: f64, error_category: Option<&str>) {
        self.reconcile_duration.observe(seconds);
        self.busy_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        if let Some(category) = error_category {
            self.reconcile_errors
                .get_or_create(&CategoryLabel {
                    category: category.to_string(),
                })
                .inc();
        }
        self.passes.fetch_add(1, Ordering::Relaxed);
    }

    /// Count a requeue for `reason`.
    pub fn requeued(&self, reason: &str) {
        self.requeues
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The cache gauge of `kind` (shared: setting the returned handle sets the metric).
    pub fn cached_objects_of(&self, kind: &str) -> Gauge {
        self.cached_objects
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .clone()
    }

    /// Total seconds spent in reconcile passes since start (for benchmarks).
    pub fn reconcile_duration_sum(&self) -> f64 {
        self.busy_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// Passes finished since start (for tests and benchmarks that wait for a reconcile).
    pub fn passes_finished(&self) -> u64 {
        self.passes.load(Ordering::Relaxed)
    }

    /// The registry in the Prometheus text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
