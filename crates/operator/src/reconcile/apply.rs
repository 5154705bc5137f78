//! The apply stage: server-side apply of every desired object with one field manager, in the
//! builders' documented order, skipping objects whose cached live copy already matches (so a
//! no-op reconcile sends no write), and pruning optional objects that are no longer desired.

use std::fmt::Debug;

use api::names;
use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::StatefulSet,
        core::v1::{ConfigMap, Service, ServiceAccount},
        networking::v1::NetworkPolicy,
        policy::v1::PodDisruptionBudget,
        rbac::v1::{Role, RoleBinding},
    },
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
    runtime::reflector::{ObjectRef, Store},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Context, Error};
use crate::build::{ClusterResources, Desired, HTTPRoute, ValidatedCluster};

/// Annotation holding the hash of the object the operator last applied. When a desired field
/// disappears (an annotation removed from the spec, say), the live object still contains the old
/// value and "desired is a subset of live" would hold; the hash tells the two apart.
pub const ANNOTATION_APPLIED_HASH: &str = "openbao.org/applied-hash";

/// Whether every field of `desired` is present in `live` with the same value. Empty lists and
/// maps in `desired` match absent fields (the API server drops them), lists must match element
/// by element (a rule added by hand to a policy is drift).
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(key, dv)| match l.get(key) {
            Some(lv) => is_subset(dv, lv),
            None => is_empty(dv),
        }),
        (Value::Object(d), Value::Null) => d.is_empty(),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (Value::Array(d), Value::Null) => d.is_empty(),
        (d, l) => d == l,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Stamp `object` with the hash of its own content (see [`ANNOTATION_APPLIED_HASH`]).
fn stamp<K: Resource + Serialize>(object: &mut K) {
    let hash = serde_json::to_vec(object)
        .map(|bytes| hex::encode(&Sha256::digest(&bytes)[..12]))
        .unwrap_or_default();
    object
        .meta_mut()
        .annotations
        .get_or_insert_with(Default::default)
        .insert(ANNOTATION_APPLIED_HASH.to_string(), hash);
}

/// Apply `desired` unless `store`'s copy already matches. Returns whether a write was sent.
pub async fn apply_one<K>(
    api: &Api<K>,
    store: Option<&Store<K>>,
    mut desired: K,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    stamp(&mut desired);
    let name = desired.name_any();
    let namespace = desired.namespace().unwrap_or_default();
    if let Some(store) = store
        && let Some(live) = store.get(&ObjectRef::<K>::new(&name).within(&namespace))
    {
        let (Ok(d), Ok(l)) = (serde_json::to_value(&desired), serde_json::to_value(&*live)) else {
            return Err(Error::Serialize(format!(
                "{} {namespace}/{name}",
                K::kind(&())
            )));
        };
        if is_subset(&d, &l) {
            return Ok(false);
        }
    }
    api.patch(
        &name,
        &PatchParams::apply(names::MANAGER).force(),
        &Patch::Apply(&desired),
    )
    .await
    .map_err(|source| Error::Apply {
        kind: K::kind(&()).to_string(),
        name: format!("{namespace}/{name}"),
        source,
    })?;
    Ok(true)
}

/// Apply every desired object in order; returns how many writes were sent.
pub async fn apply_all(
    ctx: &Context,
    cluster: &ValidatedCluster,
    resources: &ClusterResources,
    gateway_api: bool,
) -> Result<usize, Error> {
    let ns = cluster.namespace();
    let client = ctx.client.clone();
    let stores = &ctx.stores;
    let mut writes = 0;
    for object in resources.in_apply_order() {
        let wrote = match object {
            Desired::NetworkPolicy(o) => {
                apply_one(
                    &Api::<NetworkPolicy>::namespaced(client.clone(), ns),
                    Some(&stores.network_policies),
                    o,
                )
                .await?
            }
            Desired::ServiceAccount(o) => {
                apply_one(
                    &Api::<ServiceAccount>::namespaced(client.clone(), ns),
                    Some(&stores.service_accounts),
                    o,
                )
                .await?
            }
            Desired::Role(o) => {
                apply_one(
                    &Api::<Role>::namespaced(client.clone(), ns),
                    Some(&stores.roles),
                    o,
                )
                .await?
            }
            Desired::RoleBinding(o) => {
                apply_one(
                    &Api::<RoleBinding>::namespaced(client.clone(), ns),
                    Some(&stores.role_bindings),
                    o,
                )
                .await?
            }
            Desired::ConfigMap(o) => {
                apply_one(
                    &Api::<ConfigMap>::namespaced(client.clone(), ns),
                    Some(&stores.config_maps),
                    o,
                )
                .await?
            }
            Desired::Service(o) => {
                apply_one(
                    &Api::<Service>::namespaced(client.clone(), ns),
                    Some(&stores.services),
                    o,
                )
                .await?
            }
            Desired::PodDisruptionBudget(o) => {
                apply_one(
                    &Api::<PodDisruptionBudget>::namespaced(client.clone(), ns),
                    Some(&stores.pdbs),
                    o,
                )
                .await?
            }
            Desired::HTTPRoute(o) => {
                if !gateway_api {
                    continue;
                }
                apply_one(
                    &Api::<HTTPRoute>::namespaced(client.clone(), ns),
                    stores.http_routes.as_ref(),
                    o,
                )
                .await?
            }
            Desired::StatefulSet(o) => {
                apply_one(
                    &Api::<StatefulSet>::namespaced(client.clone(), ns),
                    Some(&stores.statefulsets),
                    o,
                )
                .await?
            }
        };
        if wrote {
            writes += 1;
        }
    }
    if resources.http_route.is_none() && gateway_api {
        writes += prune_http_route(ctx, cluster).await?;
    }
    Ok(writes)
}

/// Delete the cluster's HTTPRoute if one exists (the gateway was disabled). Reads first, so a
/// cluster that never had a route causes no write.
async fn prune_http_route(ctx: &Context, cluster: &ValidatedCluster) -> Result<usize, Error> {
    let name = cluster.names().http_route();
    let ns = cluster.namespace();
    let exists = match &ctx.stores.http_routes {
        Some(store) => store
            .get(&ObjectRef::<HTTPRoute>::new(&name).within(ns))
            .is_some_and(|route| {
                route
                    .labels()
                    .get(names::LABEL_MANAGED_BY)
                    .map(String::as_str)
                    == Some(names::MANAGER)
            }),
        None => false,
    };
    if !exists {
        return Ok(0);
    }
    let api = Api::<HTTPRoute>::namespaced(ctx.client.clone(), ns);
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(1),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(0),
        Err(source) => Err(Error::Apply {
            kind: "HTTPRoute".to_string(),
            name: format!("{ns}/{name}"),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_live_object_with_extra_server_fields_is_a_match() {
        let desired = json!({"spec": {"ports": [{"port": 8200}]}, "metadata": {"name": "a"}});
        let live = json!({"spec": {"ports": [{"port": 8200, "protocol": "TCP"}], "clusterIP": "10.0.0.1"},
                          "metadata": {"name": "a", "uid": "x"}});
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn a_changed_value_or_a_list_of_another_length_is_drift() {
        let desired = json!({"spec": {"ingress": [{"ports": [{"port": 8200}]}]}});
        assert!(!is_subset(
            &desired,
            &json!({"spec": {"ingress": [{"ports": [{"port": 8201}]}]}})
        ));
        assert!(!is_subset(
            &desired,
            &json!({"spec": {"ingress": [{"ports": [{"port": 8200}]}, {"ports": []}]}})
        ));
        assert!(!is_subset(&desired, &json!({"spec": {}})));
    }

    #[test]
    fn empty_desired_lists_match_fields_the_api_server_dropped() {
        let desired = json!({"spec": {"ingress": [], "podSelector": {}}});
        assert!(is_subset(&desired, &json!({"spec": {}})));
    }
}
