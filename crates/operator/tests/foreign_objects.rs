//! Objects that carry the operator's labels but do not belong to an `OpenBaoCluster` (anyone who
//! may create a ConfigMap can label it `app.kubernetes.io/managed-by=openbao-operator`), next to
//! a real cluster on the real API server: the operator keeps reconciling and repairing its own
//! objects, the foreign ones never enter its caches (`openbao_operator_cached_objects`, compared
//! with what the API server holds), an object whose owner reference is removed by hand leaves the
//! cache, and a pod that only looks like a member cannot hold up a cluster's deletion.

mod support;

use std::collections::BTreeMap;

use api::{OpenBaoCluster, Phase, names::ClusterNames};
use k8s_openapi::api::{
    core::v1::{ConfigMap, Container, Pod, PodSpec},
    networking::v1::{NetworkPolicy, NetworkPolicySpec},
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams},
};
use serde::de::DeserializeOwned;
use support::{cluster, create, namespace, present, until};

/// Label that marks this test's foreign objects, so they can be deleted as a set.
const FOREIGN: &str = "test.openbao.org/foreign";
/// Foreign objects per kind: enough that a cache holding them cannot be mistaken for one that
/// holds only the operator's few children.
const FOREIGN_PER_KIND: usize = 40;

/// The labels of `cluster`'s objects, which a tenant can copy onto anything, plus [`FOREIGN`].
fn foreign_meta(name: String, namespace: &str, cluster: &str) -> ObjectMeta {
    let mut labels = ClusterNames::new(cluster).labels();
    labels.insert(FOREIGN.to_string(), "true".to_string());
    ObjectMeta {
        name: Some(name),
        namespace: Some(namespace.to_string()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

async fn create_foreign_objects(client: &Client, ns: &str, cluster: &str) {
    let config_maps = Api::<ConfigMap>::namespaced(client.clone(), ns);
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), ns);
    for i in 0..FOREIGN_PER_KIND {
        let config_map = ConfigMap {
            metadata: foreign_meta(format!("foreign-{i}"), ns, cluster),
            data: Some(BTreeMap::from([(
                "note".to_string(),
                "not yours".to_string(),
            )])),
            ..ConfigMap::default()
        };
        config_maps
            .create(&PostParams::default(), &config_map)
            .await
            .expect("create a foreign ConfigMap");
        // Selects no pod: the policy exists only to carry the labels.
        let policy = NetworkPolicy {
            metadata: foreign_meta(format!("foreign-{i}"), ns, cluster),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                        match_labels: Some(BTreeMap::from([(
                            FOREIGN.to_string(),
                            "true".to_string(),
                        )])),
                        match_expressions: None,
                    },
                ),
                ..NetworkPolicySpec::default()
            }),
        };
        policies
            .create(&PostParams::default(), &policy)
            .await
            .expect("create a foreign NetworkPolicy");
    }
}

/// The operator's cache gauge for `kind`, as `/metrics` exposes it.
fn cached(kind: &str) -> Option<i64> {
    let prefix = format!("openbao_operator_cached_objects{{kind=\"{kind}\"}} ");
    support::METRICS
        .encode()
        .lines()
        .find_map(|line| line.strip_prefix(&prefix)?.trim().parse().ok())
}

fn controlled_by_a_cluster(meta: &ObjectMeta) -> bool {
    meta.owner_references.iter().flatten().any(|owner| {
        owner.controller == Some(true)
            && owner.kind == "OpenBaoCluster"
            && owner.api_version.starts_with("openbao.org/")
    })
}

/// Objects of kind `K` the operator's labelled watch returns, in every namespace: (all of them,
/// those an OpenBaoCluster controls).
async fn labelled_and_owned<K>(client: &Client) -> anyhow::Result<(usize, usize)>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let selector = "app.kubernetes.io/managed-by=openbao-operator";
    let list = Api::<K>::all(client.clone())
        .list_metadata(&ListParams::default().labels(selector))
        .await?;
    let owned = list
        .items
        .iter()
        .filter(|o| controlled_by_a_cluster(&o.metadata))
        .count();
    Ok((list.items.len(), owned))
}

/// Wait until the operator's cache of `K` holds exactly the labelled objects an OpenBaoCluster
/// controls, and return (labelled, cached). Counted over every namespace, so other tests'
/// clusters count too; both sides settle when they do.
async fn cache_holds_only_owned<K>(client: &Client) -> (usize, usize)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let kind = K::kind(&()).to_string();
    until(
        &format!("the {kind} cache to hold only objects a cluster controls"),
        || {
            let kind = kind.clone();
            async move {
                let (labelled, owned) = labelled_and_owned::<K>(client).await?;
                let cached = cached(&kind);
                Ok((cached == Some(owned as i64)).then_some((labelled, owned)))
            }
        },
    )
    .await
}

/// Delete the cluster's ConfigMap and wait for the operator to recreate it. Also a barrier: the
/// operator's ConfigMap watch delivers events in order, so once it has seen this delete it has
/// seen every ConfigMap created before it.
async fn config_map_is_repaired(client: &Client, ns: &str) {
    let configs = Api::<ConfigMap>::namespaced(client.clone(), ns);
    let old = configs
        .get("bao-config")
        .await
        .expect("the cluster's ConfigMap");
    configs
        .delete("bao-config", &DeleteParams::default())
        .await
        .expect("delete the cluster's ConfigMap");
    until("the operator to recreate its ConfigMap", || {
        let configs = configs.clone();
        let uid = old.uid();
        async move {
            Ok(configs
                .get_opt("bao-config")
                .await?
                .filter(|c| c.uid() != uid && controlled_by_a_cluster(&c.metadata)))
        }
    })
    .await;
}

/// Remove the first ingress rule of the cluster's policy and wait for the operator to restore it.
async fn policy_is_repaired(client: &Client, ns: &str) {
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), ns);
    let original = policies
        .get("bao-network-policy")
        .await
        .expect("the cluster's policy")
        .spec
        .and_then(|s| s.ingress);
    policies
        .patch(
            "bao-network-policy",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(
                    serde_json::json!([{"op": "remove", "path": "/spec/ingress/0"}]),
                )
                .expect("patch"),
            ),
        )
        .await
        .expect("edit the policy");
    until("the operator to restore its policy", || {
        let policies = policies.clone();
        let original = original.clone();
        async move {
            let live = policies.get("bao-network-policy").await?;
            Ok((live.spec.and_then(|s| s.ingress) == original).then_some(()))
        }
    })
    .await;
}

async fn phase_is(client: &Client, ns: &str, phase: Phase) {
    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), ns);
    until(&format!("phase {phase:?}"), || {
        let clusters = clusters.clone();
        async move {
            let c = clusters.get("bao").await?;
            let current = c.status.as_ref().is_some_and(|s| {
                s.phase == Some(phase) && s.observed_generation == c.metadata.generation
            });
            Ok(current.then_some(()))
        }
    })
    .await;
}

#[tokio::test]
async fn labelled_objects_without_an_owner_are_not_cached_and_the_cluster_is_still_reconciled() {
    let (ns, client) = namespace("foreign").await;
    let n = ns.name();
    create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    let _: ConfigMap = present(&client, n, "bao-config").await;
    phase_is(&client, n, Phase::Provisioning).await;

    create_foreign_objects(&client, n, "bao").await;

    // The cluster's own objects are still repaired, and the repairs order the watches after
    // every foreign object, so the caches below have seen them all.
    config_map_is_repaired(&client, n).await;
    policy_is_repaired(&client, n).await;
    let (labelled, cached_config_maps) = cache_holds_only_owned::<ConfigMap>(&client).await;
    assert!(
        labelled >= cached_config_maps + FOREIGN_PER_KIND,
        "the API server returns the foreign ConfigMaps to a labelled watch ({labelled} labelled, \
         {cached_config_maps} cached)"
    );
    let (labelled, cached_policies) = cache_holds_only_owned::<NetworkPolicy>(&client).await;
    assert!(
        labelled >= cached_policies + FOREIGN_PER_KIND,
        "the API server returns the foreign policies to a labelled watch ({labelled} labelled, \
         {cached_policies} cached)"
    );

    // A spec change still reaches the cluster's objects.
    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"network": {"kubeSystemIngress": false}}})),
        )
        .await
        .expect("spec change");
    phase_is(&client, n, Phase::Provisioning).await;
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), n);
    until("the spec change to reach the policy", || {
        let policies = policies.clone();
        async move {
            let policy = policies.get("bao-network-policy").await?;
            let kube_system = policy
                .spec
                .and_then(|s| s.ingress)
                .unwrap_or_default()
                .iter()
                .flat_map(|rule| rule.from.iter().flatten())
                .filter_map(|peer| peer.namespace_selector.as_ref()?.match_labels.as_ref())
                .any(|labels| {
                    labels
                        .get("kubernetes.io/metadata.name")
                        .map(String::as_str)
                        == Some("kube-system")
                });
            Ok((!kube_system).then_some(()))
        }
    })
    .await;

    // Deleting the foreign objects (watch events about objects never cached) breaks nothing.
    let foreign = ListParams::default().labels(&format!("{FOREIGN}=true"));
    Api::<ConfigMap>::namespaced(client.clone(), n)
        .delete_collection(&DeleteParams::default(), &foreign)
        .await
        .expect("delete the foreign ConfigMaps");
    policies
        .delete_collection(&DeleteParams::default(), &foreign)
        .await
        .expect("delete the foreign policies");
    config_map_is_repaired(&client, n).await;
    policy_is_repaired(&client, n).await;
    cache_holds_only_owned::<ConfigMap>(&client).await;
    cache_holds_only_owned::<NetworkPolicy>(&client).await;
}

#[tokio::test]
async fn a_child_whose_owner_reference_is_removed_by_hand_leaves_the_cache_and_is_adopted_again() {
    let (ns, client) = namespace("orphaned").await;
    let n = ns.name();
    create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    let _: ConfigMap = present(&client, n, "bao-config").await;
    phase_is(&client, n, Phase::Provisioning).await;
    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
    let pause = |paused: bool| serde_json::json!({"spec": {"paused": paused}});
    // Paused, the operator repairs only the security objects, so the orphaned ConfigMap stays
    // orphaned long enough to look at the cache.
    clusters
        .patch("bao", &PatchParams::default(), &Patch::Merge(pause(true)))
        .await
        .expect("pause");
    phase_is(&client, n, Phase::Paused).await;

    let configs = Api::<ConfigMap>::namespaced(client.clone(), n);
    configs
        .patch(
            "bao-config",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(
                    serde_json::json!([{"op": "remove", "path": "/metadata/ownerReferences"}]),
                )
                .expect("patch"),
            ),
        )
        .await
        .expect("remove the owner reference");
    // Still labelled, so the watch still returns it; no longer controlled, so not cached.
    cache_holds_only_owned::<ConfigMap>(&client).await;

    clusters
        .patch("bao", &PatchParams::default(), &Patch::Merge(pause(false)))
        .await
        .expect("resume");
    until("the operator to put its owner reference back", || {
        let configs = configs.clone();
        async move {
            let live = configs.get("bao-config").await?;
            Ok(controlled_by_a_cluster(&live.metadata).then_some(()))
        }
    })
    .await;
    cache_holds_only_owned::<ConfigMap>(&client).await;
}

#[tokio::test]
async fn a_pod_with_a_clusters_labels_that_its_statefulset_does_not_control_cannot_block_deletion()
{
    let (ns, client) = namespace("foreign-pod").await;
    let n = ns.name();
    create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    phase_is(&client, n, Phase::Provisioning).await;
    // Named like a member and carrying the cluster's labels, made by hand: no controller. (Not
    // `app.kubernetes.io/component=server`: the StatefulSet controller adopts orphans its
    // selector matches, and an adopted pod is the StatefulSet's to delete.)
    let impostor = Pod {
        metadata: ObjectMeta {
            name: Some("bao-7".to_string()),
            namespace: Some(n.to_string()),
            labels: Some(ClusterNames::new("bao").labels()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "impostor".to_string(),
                image: Some("example.com/impostor".to_string()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    let pods = Api::<Pod>::namespaced(client.clone(), n);
    pods.create(&PostParams::default(), &impostor)
        .await
        .expect("create the impostor pod");

    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
    clusters
        .delete("bao", &DeleteParams::default())
        .await
        .expect("delete the cluster");
    until("the cluster's deletion to finish", || {
        let clusters = clusters.clone();
        async move { Ok(clusters.get_opt("bao").await?.is_none().then_some(())) }
    })
    .await;
    let left = pods.get_opt("bao-7").await.expect("get");
    assert!(
        left.is_some_and(|pod| pod.metadata.owner_references.is_none()),
        "the operator leaves a pod it does not own alone, and nothing adopted it"
    );
}
