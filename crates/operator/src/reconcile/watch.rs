//! The controller wiring: one watch per owned kind, filtered to what the operator owns,
//! feeding the caches and waking the reconciler.

use std::sync::Arc;

use api::{OpenBaoCluster, names};
use futures::{StreamExt, future};
use k8s_openapi::{
    api::{
        apps::v1::StatefulSet,
        batch::v1::Job,
        core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount},
        networking::v1::{Ingress, NetworkPolicy},
        policy::v1::PodDisruptionBudget,
        rbac::v1::{Role, RoleBinding},
    },
    apimachinery::pkg::apis::meta::v1::OwnerReference,
};
use kube::{
    Api, Client, Resource, ResourceExt,
    core::{ObjectMeta, PartialObjectMeta},
    runtime::{
        Controller, WatchStreamExt,
        events::{Recorder, Reporter},
        reflector,
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    desired::{BackendTLSPolicy, HTTPRoute},
    telemetry::Metrics,
};

use super::{Config, Context, Stores, critical, error_policy, reconcile};

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

/// What a kind needs to be watched and cached.
trait Cached:
    Resource<DynamicType = ()>
    + Clone
    + std::fmt::Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
}

impl<K> Cached for K where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned
        + Serialize
        + Send
        + Sync
        + 'static
{
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
    K: Cached,
{
    reflect_trimmed(api, belongs, metrics, |_| {})
}

/// Like [`reflect`], with `trim` dropping what the operator never reads from each object
/// before it is cached.
fn reflect_trimmed<K>(
    api: Api<K>,
    belongs: Belongs,
    metrics: &Metrics,
    trim: fn(&mut K),
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Cached,
{
    let (reader, writer) = reflector::store();
    let events = watcher(api, owned_watch_config()).modify(move |o| {
        o.meta_mut().managed_fields = None;
        trim(o);
    });
    let events = only_operator_objects(events, reader.clone(), ownership_filter(belongs));
    let gauge = metrics.cached_objects_of(&K::kind(&()));
    let stream = counted(writer, reader.clone(), events, gauge);
    (reader, stream)
}

/// The reflector writing `events` into the store of `reader`, with the store's size as `gauge`
/// (the `cached_objects` gauge of the kind); yields the touched objects.
fn counted<K>(
    writer: reflector::store::Writer<K>,
    reader: Store<K>,
    events: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    gauge: prometheus_client::metrics::gauge::Gauge,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    // Each watched namespace runs its own controller with its own store: each adds the change
    // of its own size, so the gauge is the total over all of them.
    let mut counted = 0i64;
    reflector(writer, events)
        .inspect(move |_| {
            let now = i64::try_from(reader.len()).unwrap_or(i64::MAX);
            gauge.inc_by(now - counted);
            counted = now;
        })
        .touched_objects()
}

/// What the operator reads from a member pod: its metadata (name, labels, owner, deletion), its
/// address, its conditions and its containers' states. The spec (the whole pod template again)
/// and the rest of the status are dropped before caching.
fn trim_pod(pod: &mut Pod) {
    pod.spec = None;
    if let Some(status) = pod.status.as_mut() {
        status.host_ip = None;
        status.host_ips = None;
        status.pod_ips = None;
        status.init_container_statuses = None;
        status.ephemeral_container_statuses = None;
        status.resource_claim_statuses = None;
        status.qos_class = None;
        for container in status.container_statuses.iter_mut().flatten() {
            container.image_id = String::new();
            container.resources = None;
            container.volume_mounts = None;
            container.allocated_resources = None;
        }
    }
}

/// A Secret belongs in the metadata cache when it names its cluster (every Secret the operator
/// writes does; the server-side filter already asked for the operator's label).
fn names_a_cluster(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .is_some_and(|labels| labels.contains_key(names::LABEL_CLUSTER))
}

/// A metadata-only reflector over the operator's objects of kind `K` that name their cluster
/// (Secrets, claims): the API server sends no bodies (for Secrets: no key material crosses into
/// this cache), and each entry is the name, labels and `resourceVersion` a pass looks at.
fn reflect_labelled_metadata<K>(
    api: Api<PartialObjectMeta<K>>,
    metrics: &Metrics,
) -> (
    Store<PartialObjectMeta<K>>,
    impl futures::Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    PartialObjectMeta<K>: Resource<DynamicType = ()> + Cached,
{
    let (reader, writer) = reflector::store();
    let events = watcher(api, owned_watch_config()).modify(|o| {
        o.metadata.managed_fields = None;
        o.metadata.annotations = None;
    });
    let events = only_operator_objects(events, reader.clone(), ownership_filter(names_a_cluster));
    let stream = counted(
        writer,
        reader.clone(),
        events,
        metrics.cached_objects_of(&K::kind(&())),
    );
    (reader, stream)
}

/// A reflector over every NetworkPolicy (no label filter: the posture audit must see the
/// policies the operator does not own), with managed fields stripped.
fn reflect_every_network_policy(
    api: Api<NetworkPolicy>,
) -> (
    Store<NetworkPolicy>,
    impl futures::Stream<Item = Result<NetworkPolicy, watcher::Error>> + Send + 'static,
) {
    let (reader, writer) = reflector::store();
    let events = watcher(api, watcher::Config::default()).modify(|o| {
        o.meta_mut().managed_fields = None;
    });
    (reader, reflector(writer, events).touched_objects())
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
    gateway_resource_served(client, "httproutes").await
}

/// Whether the API server serves `gateway.networking.k8s.io/v1` BackendTLSPolicies (standard
/// since Gateway API v1.4; earlier releases had it only as `v1alpha3`, which is not used).
pub async fn backend_tls_policy_served(client: &Client) -> bool {
    gateway_resource_served(client, "backendtlspolicies").await
}

async fn gateway_resource_served(client: &Client, plural: &str) -> bool {
    match client
        .list_api_group_resources("gateway.networking.k8s.io/v1")
        .await
    {
        Ok(list) => list.resources.iter().any(|r| r.name == plural),
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
    let backend_tls_api = backend_tls_policy_served(&client).await;

    // Every cached kind needs its bodies: the apply stage compares each desired object with
    // the cached live one, and the lifecycle stage reads the pods' IPs. Secrets and claims,
    // never compared, are watched by metadata (below).
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
    let (pods, pod_stream) =
        reflect_trimmed(api_for::<Pod>(&client, ns), operator_pod, m, trim_pod);
    let (ingresses, ingress_stream) = reflect(api_for::<Ingress>(&client, ns), owned, m);
    let (jobs, job_stream) = reflect(api_for::<Job>(&client, ns), owned, m);
    let (secrets, secret_stream) =
        reflect_labelled_metadata(api_for::<PartialObjectMeta<Secret>>(&client, ns), m);
    let (claims, claim_stream) = reflect_labelled_metadata(
        api_for::<PartialObjectMeta<PersistentVolumeClaim>>(&client, ns),
        m,
    );
    let (all_network_policies, every_np_stream) =
        reflect_every_network_policy(api_for::<NetworkPolicy>(&client, ns));
    let (http_routes, route_stream) = if gateway_api {
        let (store, stream) = reflect(api_for::<HTTPRoute>(&client, ns), owned, m);
        (Some(store), Some(stream))
    } else {
        (None, None)
    };
    let (backend_tls_policies, backend_tls_stream) = if backend_tls_api {
        let (store, stream) = reflect(api_for::<BackendTLSPolicy>(&client, ns), owned, m);
        (Some(store), Some(stream))
    } else {
        (None, None)
    };

    let reporter = Reporter {
        controller: names::MANAGER.to_string(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let session = crate::identity::session::Session::new(
        client.clone(),
        config.operator_namespace.clone(),
        config.service_account.clone(),
    );
    let max_concurrent_reconciles = config.max_concurrent_reconciles;
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
            backend_tls_policies,
            ingresses,
            pods,
            jobs,
            all_network_policies,
            secrets,
            claims,
        },
        gateway_api,
        backend_tls_api,
        api_server_ip: tokio::sync::OnceCell::new(),
        metrics,
        phases: std::sync::Mutex::new(std::collections::HashMap::new()),
        critical,
        pending_keys: std::sync::Mutex::new(std::collections::HashMap::new()),
        session,
        posture: std::sync::Mutex::new(std::collections::HashMap::new()),
        secrets_memo: std::sync::Mutex::new(std::collections::HashMap::new()),
        stored_keys_at: std::sync::Mutex::new(std::collections::HashMap::new()),
        unchanged_passes: std::sync::Mutex::new(std::collections::HashMap::new()),
        write_budget: tokio::sync::Semaphore::new(super::apply::GLOBAL_PARALLELISM),
    });
    // Secrets have no owner reference (they outlive the cluster under deletionPolicy Retain), so
    // they are mapped to their cluster by label, and cached by metadata only: the
    // `resourceVersion`s tell a pass whether it must read a body again.
    let controller = Controller::new(clusters, watcher::Config::default()).with_config(
        kube::runtime::controller::Config::default().concurrency(max_concurrent_reconciles),
    );
    // Any NetworkPolicy change in a namespace re-proves the posture of every cluster there.
    let cluster_store = controller.store();
    let mut controller = controller
        .owns_stream(sts_stream)
        .owns_stream(svc_stream)
        .owns_stream(cm_stream)
        .owns_stream(np_stream)
        .owns_stream(pdb_stream)
        .owns_stream(sa_stream)
        .owns_stream(role_stream)
        .owns_stream(rb_stream)
        .owns_stream(ingress_stream)
        .owns_stream(job_stream)
        .watches_stream(pod_stream, |pod| {
            let cluster = pod.labels().get(names::LABEL_CLUSTER)?.clone();
            Some(ObjectRef::<OpenBaoCluster>::new(&cluster).within(&pod.namespace()?))
        })
        .watches_stream(every_np_stream, move |policy| {
            let namespace = policy.namespace();
            cluster_store
                .state()
                .into_iter()
                .filter(|cluster| cluster.namespace() == namespace)
                .map(|cluster| ObjectRef::from_obj(&*cluster))
                .collect::<Vec<_>>()
        })
        .watches_stream(secret_stream, |secret| {
            let cluster = secret.labels().get(names::LABEL_CLUSTER)?.clone();
            Some(ObjectRef::<OpenBaoCluster>::new(&cluster).within(&secret.namespace()?))
        })
        // A claim the operator created and someone deleted is created again at once.
        .watches_stream(claim_stream, |claim| {
            let cluster = claim.labels().get(names::LABEL_CLUSTER)?.clone();
            Some(ObjectRef::<OpenBaoCluster>::new(&cluster).within(&claim.namespace()?))
        });
    if let Some(stream) = route_stream {
        controller = controller.owns_stream(stream);
    }
    if let Some(stream) = backend_tls_stream {
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
