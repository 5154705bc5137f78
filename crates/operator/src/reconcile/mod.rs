//! The reconciler: one pass turns an `OpenBaoCluster` into live objects through the stages of
//! DESIGN.md section 3, each in its own module:
//!
//! ```text
//! observe (IO, read-only) -> validate (pure) -> secrets (IO) -> build (pure)
//!     -> apply (IO, no write when nothing drifted) -> status (pure + one patch if changed)
//! ```
//!
//! Deletion runs `cleanup` under the `openbao.org/cleanup` finalizer, honouring
//! `spec.deletionPolicy`. A paused cluster is left untouched apart from its status.

pub mod apply;
pub mod cleanup;
pub mod critical;
pub mod observe;
pub mod operate;
pub mod secrets;
pub mod status;

use std::{sync::Arc, time::Duration};

use api::{OpenBaoCluster, conditions::reasons, names};
use futures::{StreamExt, future};
use k8s_openapi::{
    api::{
        apps::v1::StatefulSet,
        core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount},
        networking::v1::NetworkPolicy,
        policy::v1::PodDisruptionBudget,
        rbac::v1::{Role, RoleBinding},
    },
    apimachinery::pkg::apis::meta::v1::OwnerReference,
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams},
    core::{ObjectMeta, PartialObjectMeta},
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        events::{Event, EventType, Recorder, Reporter},
        finalizer::{self, finalizer},
        reflector,
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use tracing::{info, warn};

use crate::{
    build::{self, Facts, HTTPRoute, ValidatedCluster},
    telemetry::{Metrics, metrics::CategoryLabel},
};

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Namespace the operator runs in (peer of the OpenBao ingress rule).
    pub operator_namespace: String,
    /// Only reconcile clusters in this namespace (all namespaces when `None`).
    pub watch_namespace: Option<String>,
}

/// Reflector stores of the children, used to skip writes when nothing drifted. Bodies are
/// cached for the kinds the operator applies; Secrets are watched by metadata only, so no
/// Secret content is ever held in memory beyond a single reconcile.
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
    /// Pods of the clusters' StatefulSets (member addresses, and deletion waits for them).
    pub pods: Store<Pod>,
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
    /// The `kubernetes` Service address, looked up once.
    pub api_server_ip: tokio::sync::OnceCell<Option<std::net::IpAddr>>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Last phase reported per cluster (`namespace/name`), for the clusters-by-phase gauge.
    phases: std::sync::Mutex<std::collections::HashMap<String, api::Phase>>,
    /// Work that must finish before the process may exit (initialization and storing its keys).
    pub critical: Arc<critical::CriticalWork>,
    /// Init responses whose keys could not be stored yet (`namespace/name`): held in memory
    /// only, and stored on the next pass.
    pub pending_keys: std::sync::Mutex<std::collections::HashMap<String, bao_client::InitResponse>>,
}

impl Context {
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

/// Everything that can fail in a pass. The category is the Event reason, the metric label and
/// the requeue delay.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Applying an object failed.
    #[error("apply {kind} {name}: {source}")]
    Apply {
        /// Kind.
        kind: String,
        /// `namespace/name`.
        name: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
    /// Another API call failed.
    #[error("{action}: {source}")]
    Kube {
        /// What was attempted.
        action: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
    /// Key material could not be generated or parsed.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// An object could not be serialized.
    #[error("cannot serialize {0}")]
    Serialize(String),
    /// Something expected was missing.
    #[error("{0}")]
    Missing(String),
    /// Talking to OpenBao or storing its keys failed.
    #[error(transparent)]
    Operate(#[from] operate::OperateError),
    /// Not an error: a step waits for Kubernetes (deletion waits for the pods to be gone before
    /// it releases their policies); retried soon, without a warning Event.
    #[error("waiting: {0}")]
    Waiting(String),
    /// The finalizer helper failed.
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<finalizer::Error<Error>>),
}

impl Error {
    /// Short category for metrics, Events and requeue decisions.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Apply { .. } => "ApplyFailed",
            Error::Kube { .. } => "KubernetesAPIError",
            Error::Pki(_) => "KeyMaterialError",
            Error::Serialize(_) => "InternalError",
            Error::Missing(_) => "MissingObject",
            Error::Operate(e) => e.category(),
            Error::Waiting(_) => "Waiting",
            Error::Finalizer(inner) => match inner.as_ref() {
                finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => {
                    e.category()
                }
                _ => "FinalizerError",
            },
        }
    }

    fn requeue(&self) -> Duration {
        match self {
            // A conflict or a transient API error clears quickly.
            Error::Apply { .. } | Error::Kube { .. } | Error::Finalizer(_) => {
                Duration::from_secs(5)
            }
            Error::Missing(_) | Error::Operate(_) => Duration::from_secs(10),
            Error::Pki(_) | Error::Serialize(_) => Duration::from_secs(60),
            Error::Waiting(_) => Duration::from_secs(2),
        }
    }
}

/// How long a steady cluster waits before it is looked at again (drift is caught by watches
/// sooner; this bounds how late a certificate renewal can be noticed).
const STEADY_REQUEUE: Duration = Duration::from_secs(300);
/// How often a cluster that is still converging is looked at.
const CONVERGING_REQUEUE: Duration = Duration::from_secs(15);

fn object_ref(cluster: &OpenBaoCluster) -> k8s_openapi::api::core::v1::ObjectReference {
    cluster.object_ref(&())
}

/// Publish an Event about `cluster`; failures are logged, never fatal.
pub async fn publish(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(truncate(note, 1000)),
        action: action.to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &object_ref(cluster)).await {
        warn!(error = %e, reason, "cannot publish event");
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// Reconcile one cluster (the controller's callback), timed and counted.
pub async fn reconcile(cluster: Arc<OpenBaoCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.metrics.reconciles.inc();
    let started = std::time::Instant::now();
    let result = reconcile_pass(cluster, &ctx).await;
    ctx.metrics.pass_finished(
        started.elapsed().as_secs_f64(),
        result.as_ref().err().map(Error::category),
    );
    result
}

async fn reconcile_pass(cluster: Arc<OpenBaoCluster>, ctx: &Arc<Context>) -> Result<Action, Error> {
    let ctx = ctx.clone();
    let ns = cluster.namespace().unwrap_or_else(|| "default".to_string());
    let api = Api::<OpenBaoCluster>::namespaced(ctx.client.clone(), &ns);
    // Deletion is an explicit user action and is honoured even while paused.
    if cluster.spec.paused && cluster.metadata.deletion_timestamp.is_none() {
        return paused(&ctx, &api, &cluster).await;
    }
    finalizer(&api, names::FINALIZER, cluster, |event| async {
        match event {
            finalizer::Event::Apply(cluster) => apply_cluster(&ctx, &api, &cluster).await,
            finalizer::Event::Cleanup(cluster) => cleanup::cleanup(&ctx, &cluster).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

async fn paused(
    ctx: &Context,
    api: &Api<OpenBaoCluster>,
    cluster: &OpenBaoCluster,
) -> Result<Action, Error> {
    // Pausing stops the operator from changing the workload, not from keeping the posture: the
    // NetworkPolicies, Role and RoleBinding are still repaired (and watched) while paused.
    if let Ok(validated) = ValidatedCluster::new(cluster.clone()) {
        let facts = Facts::new(
            ctx.config.operator_namespace.clone(),
            observe::api_server_ip(ctx).await,
        );
        let resources = build::build(&validated, &facts);
        let applied = apply::apply_all(ctx, &validated, &resources, ctx.gateway_api, true).await?;
        if applied.writes > 0 {
            ctx.metrics.apply_writes.inc_by(applied.writes as u64);
            info!(cluster = %validated.names().cluster(), namespace = %validated.namespace(), writes = applied.writes, "repaired security objects while paused");
        }
    }
    let observed = status::Observed {
        paused: true,
        replicas: cluster.spec.replicas,
        ..observe::statefulset_state(ctx, cluster)
    };
    patch_status(ctx, api, cluster, status::compute(cluster, &observed)).await?;
    Ok(Action::await_change())
}

async fn apply_cluster(
    ctx: &Context,
    api: &Api<OpenBaoCluster>,
    cluster: &OpenBaoCluster,
) -> Result<Action, Error> {
    // validate (pure); the webhook may be absent, so invalid specs are caught here too.
    let validated = match ValidatedCluster::new(cluster.clone()) {
        Ok(valid) => valid,
        Err(errors) => {
            let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let already_reported = cluster.status.as_ref().is_some_and(|s| {
                s.observed_generation == cluster.metadata.generation
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == api::conditions::types::VALID && c.status == "False")
            });
            if !already_reported {
                publish(
                    ctx,
                    cluster,
                    EventType::Warning,
                    reasons::INVALID_SPEC,
                    "Validate",
                    messages.join("; "),
                )
                .await;
            }
            let observed = status::Observed {
                invalid: messages,
                replicas: cluster.spec.replicas,
                ..observe::statefulset_state(ctx, cluster)
            };
            patch_status(ctx, api, cluster, status::compute(cluster, &observed)).await?;
            // Nothing changes until the user edits the spec: no hot loop.
            return Ok(Action::await_change());
        }
    };

    // observe (read-only IO).
    let api_server_ip = observe::api_server_ip(ctx).await;
    let facts = Facts::new(ctx.config.operator_namespace.clone(), api_server_ip);
    let mut observed = observe::statefulset_state(ctx, cluster);
    observed.replicas = cluster.spec.replicas;
    let initialized = cluster.status.as_ref().is_some_and(|s| s.initialized);

    // secrets (IO): CA, server certificate, unseal key; never regenerated while they exist.
    let secrets = secrets::ensure(ctx, &validated, initialized).await?;
    if !secrets.written.is_empty() {
        let note = format!("wrote Secrets {}", secrets.written.join(", "));
        publish(
            ctx,
            cluster,
            EventType::Normal,
            reasons::SECRETS_WRITTEN,
            "Secrets",
            note,
        )
        .await;
    }

    // build (pure).
    let mut resources = build::build(&validated, &facts);
    if resources.statefulset.is_none() {
        observed.blocked = Some((
            reasons::API_SERVER_ADDRESS_UNKNOWN.to_string(),
            "the Kubernetes API server address could not be determined, so the egress rule OpenBao needs \
             cannot be written; set spec.network.apiServerCIDR (no wider rule is ever substituted)"
                .to_string(),
        ));
    }
    if let Some(blocking) = secrets.blocking.clone() {
        // Pods could not start without this Secret; keep everything else in place.
        resources.statefulset = None;
        observed.blocked.get_or_insert(blocking);
    }
    if cluster.spec.enabled_gateway().is_some() && !ctx.gateway_api {
        observed.degraded.push((
            reasons::GATEWAY_API_MISSING.to_string(),
            "spec.gateway.enabled is true but the Gateway API (gateway.networking.k8s.io/v1 HTTPRoute) is not \
             installed; install its CRDs (the operator picks them up on restart)"
                .to_string(),
        ));
    }

    // apply (IO, skips objects whose cached copy already matches).
    let applied = apply::apply_all(ctx, &validated, &resources, ctx.gateway_api, false).await?;
    ctx.metrics.apply_writes.inc_by(applied.writes as u64);
    if applied.writes > 0 {
        info!(cluster = %validated.names().cluster(), namespace = %validated.namespace(), writes = applied.writes, "applied");
    }
    if !applied.conflicts.is_empty() {
        let message = name_conflict_message(&applied.conflicts);
        let already_reported = cluster.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.reason == reasons::NAME_CONFLICT && c.message == message)
        });
        if !already_reported {
            publish(
                ctx,
                cluster,
                EventType::Warning,
                reasons::NAME_CONFLICT,
                "Apply",
                message.clone(),
            )
            .await;
        }
        // The pods are held back (no StatefulSet) so they never run without their own policy.
        resources.statefulset = None;
        observed.blocked = Some((reasons::NAME_CONFLICT.to_string(), message));
    }
    observed.statefulset_exists |= applied.statefulset_applied;

    // operate (IO): member health, exactly-once initialization, Raft membership.
    if resources.statefulset.is_some()
        && let Some(ca_pem) = &secrets.ca_pem
    {
        observed.lifecycle = Some(operate::run(ctx, cluster, &validated, ca_pem).await?);
    }

    // status (pure compute + one patch when changed).
    let new_status = status::compute(cluster, &observed);
    let old_phase = cluster.status.as_ref().and_then(|s| s.phase);
    if old_phase != new_status.phase
        && let Some(phase) = new_status.phase
    {
        let (type_, note) = match &observed.blocked {
            Some((reason, message)) => (
                EventType::Warning,
                format!("phase {}: {reason}: {message}", phase.as_str()),
            ),
            None => (EventType::Normal, format!("phase {}", phase.as_str())),
        };
        publish(ctx, cluster, type_, phase.as_str(), "Reconcile", note).await;
    }
    // Raft changes (autopilot promoting a joined member to voter) raise no Kubernetes event, so
    // a cluster whose members are not all voters yet is looked at again soon.
    let promoting = new_status.members.iter().any(|m| m.voter == Some(false));
    let steady = new_status.phase == Some(api::Phase::Running) && !promoting;
    patch_status(ctx, api, cluster, new_status).await?;

    let mut requeue = if steady {
        STEADY_REQUEUE
    } else {
        CONVERGING_REQUEUE
    };
    if let Some(renew_at) = secrets.renew_at {
        let until = (renew_at - time::OffsetDateTime::now_utc())
            .whole_seconds()
            .max(1);
        requeue = requeue.min(Duration::from_secs(until.unsigned_abs()));
    }
    Ok(Action::requeue(requeue))
}

/// The message of a `NameConflict`: which objects belong to whom, and what to do.
fn name_conflict_message(conflicts: &[apply::NameConflict]) -> String {
    let list: Vec<String> = conflicts.iter().map(ToString::to_string).collect();
    format!(
        "objects this cluster needs already belong to another owner and were left untouched: {}; \
         the StatefulSet is not created until they are free (the derived names collide: rename one \
         of the clusters)",
        list.join(", ")
    )
}

/// Patch the status subresource, only when it differs from what the object already carries.
pub async fn patch_status(
    ctx: &Context,
    api: &Api<OpenBaoCluster>,
    cluster: &OpenBaoCluster,
    status: api::OpenBaoClusterStatus,
) -> Result<(), Error> {
    ctx.record_phase(
        format!(
            "{}/{}",
            cluster.namespace().unwrap_or_default(),
            cluster.name_any()
        ),
        status.phase,
    );
    if cluster.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let name = cluster.name_any();
    let patch = serde_json::json!({
        "apiVersion": OpenBaoCluster::api_version(&()),
        "kind": OpenBaoCluster::kind(&()),
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(names::MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::Kube {
        action: format!("patch status of OpenBaoCluster {name}"),
        source,
    })?;
    Ok(())
}

/// What happens after a failed pass: an Event, a log line, and a requeue by category.
pub fn error_policy(cluster: Arc<OpenBaoCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    if is_waiting(error) {
        tracing::debug!(cluster = %cluster.name_any(), namespace = ?cluster.namespace(), %error, "waiting");
        return Action::requeue(Duration::from_secs(2));
    }
    warn!(cluster = %cluster.name_any(), namespace = ?cluster.namespace(), category = error.category(), error = %error, "reconcile failed");
    let reason = error.category();
    let note = error.to_string();
    let cluster = cluster.clone();
    let ctx = ctx.clone();
    tokio::spawn(async move {
        publish(
            &ctx,
            &cluster,
            EventType::Warning,
            reason,
            "Reconcile",
            note,
        )
        .await;
    });
    Action::requeue(error.requeue())
}

fn is_waiting(error: &Error) -> bool {
    match error {
        Error::Waiting(_) => true,
        Error::Finalizer(inner) => matches!(
            inner.as_ref(),
            finalizer::Error::CleanupFailed(Error::Waiting(_))
        ),
        _ => false,
    }
}

fn strip<K: Resource>(mut object: K) -> K {
    // Managed fields are the bulk of most objects and the operator never reads them.
    object.meta_mut().managed_fields = None;
    object
}

/// The watches' server-side filter. Anyone who may create an object can give it this label, so
/// it only narrows the traffic; what is cached is decided by [`only_operator_objects`].
fn owned_watch_config() -> watcher::Config {
    watcher::Config::default().labels(&format!("{}={}", names::LABEL_MANAGED_BY, names::MANAGER))
}

/// Which watched objects belong in a cache, judged from their metadata alone.
type Belongs = fn(&ObjectMeta) -> bool;

/// The controller owner reference of `meta`, if any.
fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|owner| owner.controller == Some(true))
}

/// The group of an `apiVersion` (`""` for the core group's `v1`).
fn api_group(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map_or("", |(group, _version)| group)
}

/// An object of an owned kind belongs to the operator when an `OpenBaoCluster` controls it
/// (any version of the `openbao.org` group, so a future API version keeps its children). Every
/// child the operator builds carries that reference; an object that only has the labels does not
/// belong, whoever made it.
fn controlled_by_cluster(meta: &ObjectMeta) -> bool {
    controller_of(meta).is_some_and(|owner| {
        owner.kind == OpenBaoCluster::kind(&())
            && api_group(&owner.api_version) == OpenBaoCluster::group(&())
    })
}

/// A pod belongs to the operator when the StatefulSet named after the cluster in its
/// `openbao.org/cluster` label controls it: the operator only reads its own StatefulSets' pods
/// (member addresses, departed peers, pods that hold up deletion). A pod that only carries the
/// labels is left out, so it can neither pose as a member nor keep a cluster from being deleted.
/// Backup and restore Job pods will be a second accepted controller here (`batch` `Job`).
fn operator_pod(meta: &ObjectMeta) -> bool {
    let Some(cluster) = meta
        .labels
        .as_ref()
        .and_then(|labels| labels.get(names::LABEL_CLUSTER))
    else {
        return false;
    };
    let Some(owner) = controller_of(meta) else {
        return false;
    };
    match (api_group(&owner.api_version), owner.kind.as_str()) {
        ("apps", "StatefulSet") => owner.name == names::ClusterNames::new(cluster).statefulset(),
        _ => false,
    }
}

/// Fault-injection builds only: with this variable set, every object the watches return is
/// cached, as before the ownership filter, so tests and the `foreign_objects` benchmark can show
/// what the filter saves. Other builds ignore it: the filter cannot be turned off in production.
pub const UNFILTERED_CACHES_ENV: &str = "OPENBAO_OPERATOR_UNFILTERED_CACHES";

fn ownership_filter(belongs: Belongs) -> Belongs {
    #[cfg(feature = "fault-injection")]
    if std::env::var_os(UNFILTERED_CACHES_ENV).is_some() {
        return |_| true;
    }
    belongs
}

/// The watch events of objects that `belongs`, for the reflector writing `store`; everything
/// else is dropped here, so it is neither cached nor a reconcile trigger. An object that stops
/// belonging (its owner reference removed by hand) must leave the cache: its update (or delete)
/// becomes a delete of the cached copy, which still names the owner, so that owner is
/// reconciled and restores the reference. A foreign object's delete is dropped like its update.
fn only_operator_objects<K, S>(
    events: S,
    store: Store<K>,
    belongs: Belongs,
) -> impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
{
    events.filter_map(move |event| {
        let kept = match event {
            Ok(watcher::Event::Apply(object) | watcher::Event::Delete(object))
                if !belongs(object.meta()) =>
            {
                store
                    .get(&ObjectRef::from_obj(&object))
                    .map(|cached| Ok(watcher::Event::Delete(K::clone(&cached))))
            }
            // During a re-list the store is rebuilt from the listed objects that belong: one left
            // out here is gone from the cache once the list is done.
            Ok(watcher::Event::InitApply(object)) if !belongs(object.meta()) => None,
            other => Some(other),
        };
        future::ready(kept)
    })
}

/// A reflector over the operator's children of kind `K` (those that `belongs`), returning its
/// store and the stream of touched objects for the controller. Every kind's cache goes through
/// [`only_operator_objects`], and its size is the `cached_objects` gauge of that kind.
fn reflect<K>(
    api: Api<K>,
    belongs: Belongs,
    metrics: &Metrics,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned
        + Serialize
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let events = watcher(api, owned_watch_config()).modify(|o| {
        o.meta_mut().managed_fields = None;
    });
    let events = only_operator_objects(events, reader.clone(), ownership_filter(belongs));
    let gauge = metrics.cached_objects_of(&K::kind(&()));
    let cached = reader.clone();
    // Each watched namespace runs its own controller with its own store: each adds the change
    // of its own size, so the gauge is the total over all of them.
    let mut counted = 0i64;
    let stream = reflector(writer, events)
        .inspect(move |_| {
            let now = i64::try_from(cached.len()).unwrap_or(i64::MAX);
            gauge.inc_by(now - counted);
            counted = now;
        })
        .touched_objects();
    (reader, stream)
}

fn api_for<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Whether the API server serves `gateway.networking.k8s.io/v1` HTTPRoutes.
pub async fn gateway_api_served(client: &Client) -> bool {
    match client
        .list_api_group_resources("gateway.networking.k8s.io/v1")
        .await
    {
        Ok(list) => list.resources.iter().any(|r| r.name == "httproutes"),
        Err(_) => false,
    }
}

/// Run the controller until `shutdown` resolves, reporting into `metrics`.
pub async fn run(
    client: Client,
    config: Config,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    run_with(
        client,
        config,
        metrics,
        critical::CriticalWork::new(),
        shutdown,
    )
    .await;
}

/// Like [`run`], registering work that must outlive the controller (see [`critical`]) in
/// `critical`, so the caller can wait for it before the process exits.
pub async fn run_with(
    client: Client,
    config: Config,
    metrics: Arc<Metrics>,
    critical: Arc<critical::CriticalWork>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let ns = config.watch_namespace.clone();
    let ns = ns.as_deref();
    let clusters = api_for::<OpenBaoCluster>(&client, ns);
    let gateway_api = gateway_api_served(&client).await;

    // Every cached kind needs its bodies: the apply stage compares each desired object with
    // the cached live one, and the lifecycle stage reads the pods' IPs. Only Secrets, a trigger
    // and never compared, are watched by metadata (below).
    let owned = controlled_by_cluster;
    let m = &metrics;
    let (statefulsets, sts_stream) = reflect(api_for::<StatefulSet>(&client, ns), owned, m);
    let (services, svc_stream) = reflect(api_for::<Service>(&client, ns), owned, m);
    let (config_maps, cm_stream) = reflect(api_for::<ConfigMap>(&client, ns), owned, m);
    let (network_policies, np_stream) = reflect(api_for::<NetworkPolicy>(&client, ns), owned, m);
    let (pdbs, pdb_stream) = reflect(api_for::<PodDisruptionBudget>(&client, ns), owned, m);
    let (service_accounts, sa_stream) = reflect(api_for::<ServiceAccount>(&client, ns), owned, m);
    let (roles, role_stream) = reflect(api_for::<Role>(&client, ns), owned, m);
    let (role_bindings, rb_stream) = reflect(api_for::<RoleBinding>(&client, ns), owned, m);
    let (pods, pod_stream) = reflect(api_for::<Pod>(&client, ns), operator_pod, m);
    let (http_routes, route_stream) = if gateway_api {
        let (store, stream) = reflect(api_for::<HTTPRoute>(&client, ns), owned, m);
        (Some(store), Some(stream))
    } else {
        (None, None)
    };

    let reporter = Reporter {
        controller: names::MANAGER.to_string(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(Context {
        client: client.clone(),
        config,
        recorder: Recorder::new(client.clone(), reporter),
        stores: Stores {
            statefulsets,
            services,
            config_maps,
            network_policies,
            pdbs,
            service_accounts,
            roles,
            role_bindings,
            http_routes,
            pods,
        },
        gateway_api,
        api_server_ip: tokio::sync::OnceCell::new(),
        metrics,
        phases: std::sync::Mutex::new(std::collections::HashMap::new()),
        critical,
        pending_keys: std::sync::Mutex::new(std::collections::HashMap::new()),
    });

    // Secrets have no owner reference (they outlive the cluster under deletionPolicy Retain), so
    // they are mapped to their cluster by label, from metadata only.
    let secrets = watcher(
        api_for::<PartialObjectMeta<Secret>>(&client, ns),
        owned_watch_config(),
    )
    .touched_objects()
    .map(|r| r.map(strip::<PartialObjectMeta<Secret>>));

    let mut controller = Controller::new(clusters, watcher::Config::default())
        .owns_stream(sts_stream)
        .owns_stream(svc_stream)
        .owns_stream(cm_stream)
        .owns_stream(np_stream)
        .owns_stream(pdb_stream)
        .owns_stream(sa_stream)
        .owns_stream(role_stream)
        .owns_stream(rb_stream)
        .watches_stream(pod_stream, |pod| {
            let cluster = pod.labels().get(names::LABEL_CLUSTER)?.clone();
            Some(ObjectRef::<OpenBaoCluster>::new(&cluster).within(&pod.namespace()?))
        })
        .watches_stream(secrets, |secret| {
            let cluster = secret.labels().get(names::LABEL_CLUSTER)?.clone();
            Some(ObjectRef::<OpenBaoCluster>::new(&cluster).within(&secret.namespace()?))
        });
    if let Some(stream) = route_stream {
        controller = controller.owns_stream(stream);
    }
    controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            match result {
                Ok((object, _)) => tracing::debug!(cluster = %object.name, namespace = ?object.namespace, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile error"),
            }
            future::ready(())
        })
        .await;
}

#[cfg(test)]
mod cache_filter_tests {
    use std::collections::BTreeMap;

    use futures::{StreamExt, stream};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::{
        core::ObjectMeta,
        runtime::{reflector, watcher::Event},
    };

    use super::*;

    fn owner(api_version: &str, kind: &str, name: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            uid: format!("uid-{name}"),
            controller: Some(controller),
            block_owner_deletion: None,
        }
    }

    fn meta(owners: Vec<OwnerReference>, labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: Some("bao-config".to_string()),
            namespace: Some("ns".to_string()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            owner_references: (!owners.is_empty()).then_some(owners),
            ..ObjectMeta::default()
        }
    }

    fn config_map(owners: Vec<OwnerReference>, data: &str) -> ConfigMap {
        ConfigMap {
            metadata: meta(owners, &[(names::LABEL_MANAGED_BY, names::MANAGER)]),
            data: Some(BTreeMap::from([("k".to_string(), data.to_string())])),
            ..ConfigMap::default()
        }
    }

    fn cluster_owner() -> OwnerReference {
        owner("openbao.org/v1alpha1", "OpenBaoCluster", "bao", true)
    }

    #[test]
    fn only_objects_an_openbao_cluster_controls_belong() {
        assert!(controlled_by_cluster(&meta(vec![cluster_owner()], &[])));
        assert!(controlled_by_cluster(&meta(
            vec![owner("openbao.org/v1", "OpenBaoCluster", "bao", true)],
            &[]
        )));
        for owners in [
            vec![],
            vec![owner(
                "openbao.org/v1alpha1",
                "OpenBaoCluster",
                "bao",
                false,
            )],
            vec![owner("example.com/v1alpha1", "OpenBaoCluster", "bao", true)],
            vec![owner("apps/v1", "StatefulSet", "bao", true)],
        ] {
            assert!(
                !controlled_by_cluster(&meta(owners.clone(), &[])),
                "{owners:?}"
            );
        }
    }

    #[test]
    fn only_pods_of_the_clusters_own_statefulset_belong() {
        let labelled = [(names::LABEL_CLUSTER, "bao")];
        assert!(operator_pod(&meta(
            vec![owner("apps/v1", "StatefulSet", "bao", true)],
            &labelled
        )));
        for (owners, labels) in [
            (vec![], &labelled[..]),
            (
                vec![owner("apps/v1", "StatefulSet", "other", true)],
                &labelled[..],
            ),
            (
                vec![owner("apps/v1", "StatefulSet", "bao", false)],
                &labelled[..],
            ),
            (
                vec![owner("apps/v1", "ReplicaSet", "bao", true)],
                &labelled[..],
            ),
            (
                vec![owner("example.com/v1", "StatefulSet", "bao", true)],
                &labelled[..],
            ),
            (vec![owner("apps/v1", "StatefulSet", "bao", true)], &[][..]),
        ] {
            assert!(
                !operator_pod(&meta(owners.clone(), labels)),
                "{owners:?} {labels:?}"
            );
        }
    }

    /// Runs `events` through the filter into a reflector and returns the events that reach the
    /// controller and the names left in the store.
    async fn run(events: Vec<Event<ConfigMap>>) -> (Vec<String>, Vec<String>) {
        let (reader, writer) = reflector::store::<ConfigMap>();
        let input = stream::iter(events.into_iter().map(Ok));
        let output: Vec<String> = reflector(
            writer,
            only_operator_objects(input, reader.clone(), controlled_by_cluster),
        )
        .map(|event| match event.expect("no error") {
            Event::Apply(o) => format!("apply {}", o.data.unwrap_or_default()["k"]),
            Event::Delete(o) => format!("delete {}", o.data.unwrap_or_default()["k"]),
            Event::Init => "init".to_string(),
            Event::InitApply(o) => format!("init-apply {}", o.data.unwrap_or_default()["k"]),
            Event::InitDone => "init-done".to_string(),
        })
        .collect()
        .await;
        let mut cached: Vec<String> = reader
            .state()
            .iter()
            .map(|o| o.data.clone().unwrap_or_default()["k"].clone())
            .collect();
        cached.sort();
        (output, cached)
    }

    #[tokio::test]
    async fn a_foreign_object_is_neither_cached_nor_passed_on_even_when_deleted() {
        let (output, cached) = run(vec![
            Event::Apply(config_map(vec![], "foreign")),
            Event::Delete(config_map(vec![], "foreign")),
        ])
        .await;
        assert!(output.is_empty(), "{output:?}");
        assert!(cached.is_empty(), "{cached:?}");
    }

    #[tokio::test]
    async fn an_object_whose_owner_reference_is_removed_leaves_the_cache_as_a_delete_naming_its_owner()
     {
        let (reader, writer) = reflector::store::<ConfigMap>();
        let input = stream::iter(
            [
                Event::Apply(config_map(vec![cluster_owner()], "owned")),
                Event::Apply(config_map(vec![], "orphaned")),
            ]
            .map(Ok),
        );
        let output: Vec<Event<ConfigMap>> = reflector(
            writer,
            only_operator_objects(input, reader.clone(), controlled_by_cluster),
        )
        .map(|e| e.expect("no error"))
        .collect()
        .await;
        assert!(reader.is_empty(), "the orphaned object left the cache");
        let Some(Event::Delete(deleted)) = output.last() else {
            panic!("the orphaning update became a delete: {output:?}");
        };
        // The cached copy still names the owner, so the owner is reconciled and repairs it.
        assert_eq!(
            deleted.data.as_ref().map(|d| d["k"].as_str()),
            Some("owned")
        );
        assert!(controlled_by_cluster(&deleted.metadata));
    }

    #[tokio::test]
    async fn a_relist_keeps_only_the_objects_that_belong() {
        let mut other = config_map(vec![cluster_owner()], "other");
        other.metadata.name = Some("other".to_string());
        let (output, cached) = run(vec![
            Event::Init,
            Event::InitApply(config_map(vec![], "foreign")),
            Event::InitApply(other),
            Event::InitDone,
        ])
        .await;
        assert_eq!(output, ["init", "init-apply other", "init-done"]);
        assert_eq!(cached, ["other"]);
    }
}
