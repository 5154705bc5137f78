//! Deletion under the finalizer, per `spec.deletionPolicy`: Retain keeps PersistentVolumeClaims
//! and Secrets; DeletePVCs deletes the claims; DeleteAll also deletes the Secrets the operator
//! generated. User-provided Secrets (External TLS, seal or backup credentials) are never touched.
//!
//! Order matters for the posture: the StatefulSet is deleted first and the finalizer is held
//! until every pod of the cluster is gone. Only then do the remaining children (NetworkPolicies,
//! Services, RBAC...) go with the cluster through Kubernetes' garbage collector, so no pod ever
//! runs, even for its termination grace period, without its policy.

use api::{DeletionPolicy, OpenBaoCluster, names::ClusterNames};
use k8s_openapi::api::{
    apps::v1::StatefulSet,
    core::v1::{PersistentVolumeClaim, Secret},
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams},
    runtime::{controller::Action, events::EventType},
};
use tracing::info;

use super::{Context, Error, publish};

/// Clean up after `cluster` before its finalizer is removed.
pub async fn cleanup(ctx: &Context, cluster: &OpenBaoCluster) -> Result<Action, Error> {
    let namespace = cluster.namespace().unwrap_or_else(|| "default".to_string());
    let names = ClusterNames::new(cluster.name_any());
    let policy = cluster.spec.deletion_policy;
    let statefulsets = Api::<StatefulSet>::namespaced(ctx.client.clone(), &namespace);
    delete(&statefulsets, &names.statefulset(), "StatefulSet").await?;
    let remaining = remaining_pods(ctx, &namespace, &names);
    if !remaining.is_empty() {
        return Err(Error::Waiting(format!(
            "deleting {}: its policies stay until pods {} are gone",
            names.cluster(),
            remaining.join(", ")
        )));
    }
    // Its OpenBao token is of no use any more (and must not serve a new cluster of that name).
    ctx.session
        .forget(&format!("{namespace}/{}", names.cluster()));
    let mut deleted = Vec::new();
    if matches!(
        policy,
        DeletionPolicy::DeletePVCs | DeletionPolicy::DeleteAll
    ) {
        let selector = api::names::selector_string(&names.selector_labels());
        let pvcs = Api::<PersistentVolumeClaim>::namespaced(ctx.client.clone(), &namespace);
        let list = pvcs
            .list_metadata(&ListParams::default().labels(&selector))
            .await
            .map_err(|source| Error::Kube {
                action: "list PersistentVolumeClaims".to_string(),
                source,
            })?;
        for pvc in list {
            let name = pvc.name_any();
            delete(&pvcs, &name, "PersistentVolumeClaim").await?;
            deleted.push(format!("PersistentVolumeClaim {name}"));
        }
    }
    if policy == DeletionPolicy::DeleteAll {
        let secrets = Api::<Secret>::namespaced(ctx.client.clone(), &namespace);
        for name in [
            names.ca_secret(),
            names.server_tls_secret(),
            names.unseal_key_secret(),
            names.root_token_secret(),
        ] {
            if delete(&secrets, &name, "Secret").await? {
                deleted.push(format!("Secret {name}"));
            }
        }
    }
    info!(?policy, deleted = deleted.len(), "cleaned up");
    let note = if deleted.is_empty() {
        format!("deletionPolicy {policy:?}: volumes and Secrets are kept")
    } else {
        format!("deletionPolicy {policy:?}: deleted {}", deleted.join(", "))
    };
    publish(
        ctx,
        cluster,
        EventType::Normal,
        api::conditions::reasons::DELETED,
        "Cleanup",
        note,
    )
    .await;
    ctx.record_phase(format!("{namespace}/{}", names.cluster()), None);
    super::posture::forget(ctx, &namespace, names.cluster());
    ctx.forget_cluster(&format!("{namespace}/{}", names.cluster()));
    Ok(Action::await_change())
}

/// Pods of the cluster still in the cache (its StatefulSet's pods; Job pods join the cache's
/// filter when Jobs exist), by name.
fn remaining_pods(ctx: &Context, namespace: &str, names: &ClusterNames) -> Vec<String> {
    let mut pods: Vec<String> = ctx
        .pods_matching(namespace, &names.selector_labels())
        .iter()
        .map(|pod| pod.name_any())
        .collect();
    pods.sort();
    pods
}

async fn delete<K>(api: &Api<K>, name: &str, kind: &str) -> Result<bool, Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(source) => Err(Error::Kube {
            action: format!("delete {kind} {name}"),
            source,
        }),
    }
}
