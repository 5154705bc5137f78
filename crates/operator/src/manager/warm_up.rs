//! The warm-up: one list of every kind the controller watches, in its scope, before the replica
//! reports its caches synced and runs for the Lease. A list that fails here (the CRD not served
//! yet, RBAC not granting a watch) would keep the controller's caches from ever syncing, so it is
//! retried here, visibly, instead of starting a controller that cannot work.

use std::fmt;

use api::{OpenBaoCluster, OpenBaoRestore, OpenBaoTenant};
use futures::FutureExt;
use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::StatefulSet,
        core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount},
        networking::v1::NetworkPolicy,
        policy::v1::PodDisruptionBudget,
        rbac::v1::{Role, RoleBinding},
    },
};
use kube::{Api, Client, Resource, api::ListParams};
use serde::de::DeserializeOwned;

async fn list_one<K>(client: &Client, namespace: Option<&str>) -> Result<(), String>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + fmt::Debug,
{
    let api: Api<K> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let params = ListParams::default().limit(1);
    // Secrets are only ever watched by metadata: never fetch their bodies, not even one.
    let result = if K::kind(&()) == "Secret" {
        api.list_metadata(&params).await.map(|_| ())
    } else {
        api.list(&params).await.map(|_| ())
    };
    result.map_err(|e| format!("list {}: {e}", K::plural(&())))
}

/// One list of every kind the controllers watch (the cluster controller's and the placeholder
/// controller's OpenBaoRestores and OpenBaoTenants), in their scope: what their caches' first
/// sync needs (the CRDs served, RBAC granting the watches).
pub async fn warm_up(client: &Client, namespace: Option<&str>) -> Result<(), String> {
    let results = futures::future::join_all([
        list_one::<OpenBaoCluster>(client, namespace).boxed(),
        list_one::<OpenBaoRestore>(client, namespace).boxed(),
        list_one::<OpenBaoTenant>(client, namespace).boxed(),
        list_one::<StatefulSet>(client, namespace).boxed(),
        list_one::<Service>(client, namespace).boxed(),
        list_one::<ConfigMap>(client, namespace).boxed(),
        list_one::<NetworkPolicy>(client, namespace).boxed(),
        list_one::<PodDisruptionBudget>(client, namespace).boxed(),
        list_one::<ServiceAccount>(client, namespace).boxed(),
        list_one::<Role>(client, namespace).boxed(),
        list_one::<RoleBinding>(client, namespace).boxed(),
        list_one::<Pod>(client, namespace).boxed(),
        list_one::<Secret>(client, namespace).boxed(),
    ])
    .await;
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}
