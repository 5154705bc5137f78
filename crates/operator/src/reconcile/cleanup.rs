//! Deletion under the finalizer, per `spec.deletionPolicy`: Retain keeps PersistentVolumeClaims
//! and Secrets; DeletePVCs deletes the claims; DeleteAll also deletes the Secrets the operator
//! generated. Objects with owner references (StatefulSet, Services, policies...) are removed by
//! Kubernetes' garbage collector. User-provided Secrets (External TLS, seal or backup
//! credentials) are never touched.

use api::{DeletionPolicy, OpenBaoCluster, names::ClusterNames};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
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
    info!(cluster = %names.cluster(), %namespace, ?policy, deleted = deleted.len(), "cleaned up");
    let note = if deleted.is_empty() {
        format!("deletionPolicy {policy:?}: volumes and Secrets are kept")
    } else {
        format!("deletionPolicy {policy:?}: deleted {}", deleted.join(", "))
    };
    publish(ctx, cluster, EventType::Normal, "Deleted", "Cleanup", note).await;
    ctx.record_phase(format!("{namespace}/{}", names.cluster()), None);
    Ok(Action::await_change())
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
