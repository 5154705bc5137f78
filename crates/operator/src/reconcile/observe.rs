//! The observe stage (read-only IO): facts about the environment and the cluster's children
//! that later stages need. Reads come from the reflector caches where possible.

use std::net::IpAddr;

use api::OpenBaoCluster;
use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::Service};
use kube::{Api, ResourceExt, runtime::reflector::ObjectRef};
use tracing::{info, warn};

use super::{Context, status::Observed};

/// The Kubernetes API service address (the VIP OpenBao pods reach on 443), looked up once:
/// `KUBERNETES_SERVICE_HOST` when the operator runs in a pod, else the ClusterIP of
/// `default/kubernetes`. `None` when neither is available; nothing wider is ever substituted.
pub async fn api_server_ip(ctx: &Context) -> Option<IpAddr> {
    let lookup = ctx
        .api_server_ip
        .get_or_try_init(|| async {
            if let Some(ip) = std::env::var("KUBERNETES_SERVICE_HOST")
                .ok()
                .and_then(|host| host.parse::<IpAddr>().ok())
            {
                info!(%ip, "API server address from KUBERNETES_SERVICE_HOST");
                return Ok(Some(ip));
            }
            let service = Api::<Service>::namespaced(ctx.client.clone(), "default")
                .get("kubernetes")
                .await?;
            let ip = service
                .spec
                .and_then(|s| s.cluster_ip)
                .and_then(|ip| ip.parse::<IpAddr>().ok());
            info!(ip = ?ip, "API server address from the default/kubernetes Service");
            Ok::<_, kube::Error>(ip)
        })
        .await;
    match lookup {
        Ok(ip) => *ip,
        Err(e) => {
            // Not cached: the next pass tries again.
            warn!(error = %e, "cannot look up the API server address");
            None
        }
    }
}

/// The StatefulSet's view of the cluster's pods, from the cache.
pub fn statefulset_state(ctx: &Context, cluster: &OpenBaoCluster) -> Observed {
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    let Some(sts) = ctx
        .stores
        .statefulsets
        .get(&ObjectRef::<StatefulSet>::new(&name).within(&namespace))
    else {
        return Observed::default();
    };
    let status = sts.status.clone().unwrap_or_default();
    let replicas = sts.spec.replicas.unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    // Under `OnDelete` the StatefulSet never moves `currentRevision`: the pods on the update
    // revision are what counts.
    let observed =
        sts.metadata.generation.is_some() && status.observed_generation >= sts.metadata.generation;
    let current_version =
        (observed && ready > 0 && updated >= replicas).then(|| cluster.spec.version.clone());
    Observed {
        statefulset_exists: true,
        replicas,
        ready_replicas: ready,
        current_version,
        ..Observed::default()
    }
}
